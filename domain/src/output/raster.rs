//! A minimal RGB8 canvas for the quick-look: filled rectangles, alpha-blended pixels,
//! anti-aliased lines (coverage from the distance to the segment) and glyph masks.

/// An RGB colour.
pub(crate) type Rgb = [u8; 3];

/// An RGB8 image, row-major, top row first.
pub(crate) struct Canvas {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) rgb: Vec<u8>,
}

/// `x.round()` for `x ≥ 0` (half away from zero, exactly), without a call to libm's `round`,
/// which the pixel loops would otherwise make per pixel; NaN gives 0, as `round() as usize`.
#[inline]
pub(crate) fn round_non_negative(x: f64) -> usize {
    let k = x as usize;
    // Exact: below 2⁵², `x − trunc(x)` is the fraction with no rounding.
    if x - k as f64 >= 0.5 { k + 1 } else { k }
}

/// A coverage mask (0..1 per pixel), e.g. rendered text.
pub(crate) struct Mask {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) alpha: Vec<f32>,
}

/// Axis-aligned clip rectangle in pixels, `[x0, x1) × [y0, y1)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clip {
    pub(crate) x0: i64,
    pub(crate) y0: i64,
    pub(crate) x1: i64,
    pub(crate) y1: i64,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub(crate) fn new(width: usize, height: usize, background: Rgb) -> Self {
        let mut rgb = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            rgb.extend_from_slice(&background);
        }
        Self { width, height, rgb }
    }

    /// The whole canvas as a clip rectangle.
    pub(crate) fn full(&self) -> Clip {
        Clip {
            x0: 0,
            y0: 0,
            x1: self.width as i64,
            y1: self.height as i64,
        }
    }

    /// Sets one pixel (ignored outside the canvas).
    pub(crate) fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Blends `c` over one pixel with opacity `a` in [0, 1], inside `clip` only.
    pub(crate) fn blend(&mut self, x: i64, y: i64, c: Rgb, a: f32, clip: Clip) {
        if a <= 0.0 || x < clip.x0 || x >= clip.x1 || y < clip.y0 || y >= clip.y1 {
            return;
        }
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let a = a.min(1.0);
        let i = (y as usize * self.width + x as usize) * 3;
        for (dst, &src) in self.rgb[i..i + 3].iter_mut().zip(&c) {
            let old = f32::from(*dst);
            *dst = round_non_negative(f64::from(old + (f32::from(src) - old) * a)).min(255) as u8;
        }
    }

    /// Fills `[x, x+w) × [y, y+h)`.
    pub(crate) fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    /// 1-px outline of `[x, x+w) × [y, y+h)`.
    pub(crate) fn stroke_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        self.fill_rect(x, y, w, 1, c);
        self.fill_rect(x, y + h - 1, w, 1, c);
        self.fill_rect(x, y, 1, h, c);
        self.fill_rect(x + w - 1, y, 1, h, c);
    }

    /// Anti-aliased line of the given width between two points (pixel (i, j) covers
    /// [i, i+1) × [j, j+1)).
    pub(crate) fn line(&mut self, p0: [f64; 2], p1: [f64; 2], width: f64, c: Rgb, clip: Clip) {
        self.polyline(&[p0, p1], width, c, clip);
    }

    /// Anti-aliased open polyline (close it by repeating the first point). Coverage is
    /// accumulated with `max` over the segments first, so joints are not painted twice.
    pub(crate) fn polyline(&mut self, pts: &[[f64; 2]], width: f64, c: Rgb, clip: Clip) {
        let finite: Vec<[f64; 2]> = pts
            .iter()
            .copied()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .collect();
        if finite.len() < 2 || finite.len() != pts.len() {
            return;
        }
        let half = width / 2.0;
        let pad = half + 1.0;
        let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in &finite {
            xmin = xmin.min(p[0]);
            xmax = xmax.max(p[0]);
            ymin = ymin.min(p[1]);
            ymax = ymax.max(p[1]);
        }
        let xa = ((xmin - pad).floor() as i64).max(clip.x0);
        let xb = ((xmax + pad).ceil() as i64).min(clip.x1);
        let ya = ((ymin - pad).floor() as i64).max(clip.y0);
        let yb = ((ymax + pad).ceil() as i64).min(clip.y1);
        if xa >= xb || ya >= yb {
            return;
        }
        let bw = (xb - xa) as usize;
        let mut cover = vec![0f32; bw * (yb - ya) as usize];
        for seg in finite.windows(2) {
            let (p0, p1) = (seg[0], seg[1]);
            let (dx, dy) = (p1[0] - p0[0], p1[1] - p0[1]);
            let len2 = dx * dx + dy * dy;
            let sxa = ((p0[0].min(p1[0]) - pad).floor() as i64).max(xa);
            let sxb = ((p0[0].max(p1[0]) + pad).ceil() as i64).min(xb);
            let sya = ((p0[1].min(p1[1]) - pad).floor() as i64).max(ya);
            let syb = ((p0[1].max(p1[1]) + pad).ceil() as i64).min(yb);
            for y in sya..syb {
                for x in sxa..sxb {
                    let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                    let t = if len2 > 0.0 {
                        (((px - p0[0]) * dx + (py - p0[1]) * dy) / len2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let d = (px - p0[0] - t * dx).hypot(py - p0[1] - t * dy);
                    let a = (half + 0.5 - d).clamp(0.0, 1.0) as f32;
                    let k = (y - ya) as usize * bw + (x - xa) as usize;
                    cover[k] = cover[k].max(a);
                }
            }
        }
        for (k, &a) in cover.iter().enumerate() {
            if a > 0.0 {
                let (x, y) = (xa + (k % bw) as i64, ya + (k / bw) as i64);
                self.blend(x, y, c, a, clip);
            }
        }
    }

    /// Paints a coverage mask in colour `c` with its top-left corner at `(x, y)`. With
    /// `rotate_ccw` the mask is turned 90° counter-clockwise first (text reading upwards).
    pub(crate) fn draw_mask(&mut self, mask: &Mask, x: i64, y: i64, c: Rgb, rotate_ccw: bool) {
        let clip = self.full();
        for my in 0..mask.height {
            for mx in 0..mask.width {
                let a = mask.alpha[my * mask.width + mx];
                if a <= 0.0 {
                    continue;
                }
                let (dx, dy) = if rotate_ccw {
                    (my as i64, (mask.width - 1 - mx) as i64)
                } else {
                    (mx as i64, my as i64)
                };
                self.blend(x + dx, y + dy, c, a, clip);
            }
        }
    }
}
