//! PNG quick-look of a reconstruction, drawn for a physicist: the STIX-frame map resampled
//! (bilinear) onto a north-up helioprojective grid with the same field of view, solar X/Y
//! axes in arcsec with round tick values, a perceptual colormap (`colorous` INFERNO or
//! VIRIDIS) with a colorbar in the map unit, and the title
//! "STIX <algorithm> <band> keV <start>–<end> UTC (at Solar Orbiter)" (the L1 times are UTC at
//! the spacecraft, A.2). The subtitle gives the Earth-time equivalent (`EAR_TDEL`, the extra
//! light time to Earth) when known; a third line names the flare, the background file and the
//! quality grade with its reasons. VIS_FWDFIT images mark each fitted source (a cross at the
//! centre and its FWHM outline); an image whose grade is not GOOD has its peak ringed. The
//! solar limb is drawn when it crosses the field. Text uses the embedded DejaVu Sans (no
//! system fonts).
//!
//! Geometry (`shared/docs/stix-imaging.md` section F): the screen pixel at HPC (x, y) shows the
//! map at the STIX offset `R(−(90° + roll))·(x − x_c, y − y_c)`, (x_c, y_c) the HPC of the map
//! centre; the plot spans x_c ± n·Δ/2 and y_c ± n·Δ/2.

use super::raster::{Canvas, Clip, Rgb};
use super::text::{TextRenderer, pretty_unit, superscript_int};
use super::{OutputError, write_atomically};
use crate::coords::Attitude;
use crate::imaging::{Algorithm, Reconstruction};
use crate::visfile::VisMeta;
use std::io::BufWriter;
use std::path::Path;

/// The colormaps offered (both perceptually uniform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Colormap {
    /// matplotlib's `inferno` (black → red → pale yellow).
    #[default]
    Inferno,
    /// matplotlib's `viridis` (purple → green → yellow).
    Viridis,
}

/// How hard the PNG encoder works: a trade between the time to write a quick-look and its size.
/// Measured on the 35 preview quick-looks of the M1.2 flare (640 × 560 px): `Faster` writes
/// files ≈ 39 % larger (117 kB against 84 kB a file), and a worker runs twice as many 129²
/// CLEAN jobs a second with it (deflate was two thirds of such a job's time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PngCompression {
    /// zlib's balanced level: for images written once and downloaded many times (previews).
    #[default]
    Smaller,
    /// The `fdeflate` fast path: for images someone is waiting for (user reconstructions).
    Faster,
}

/// How to draw the quick-look.
#[derive(Debug, Clone, PartialEq)]
pub struct QuicklookOptions {
    /// Image width in pixels (default 640, at least [`MIN_SIZE_PX`]).
    pub width_px: usize,
    /// Image height in pixels (default 560, at least [`MIN_SIZE_PX`]).
    pub height_px: usize,
    /// Colormap (default INFERNO).
    pub colormap: Colormap,
    /// Draw the solar limb where it crosses the field (needs `rsun_arcsec`; default true).
    pub draw_limb: bool,
    /// The flare the image belongs to, shown on the context line.
    pub flare_id: Option<String>,
    /// The quality assessment, shown on the context line; the peak is ringed when not GOOD.
    pub quality: Option<crate::quality::Quality>,
    /// Encoder effort (default [`PngCompression::Smaller`]); the pixels are the same either way.
    pub png_compression: PngCompression,
}

impl Default for QuicklookOptions {
    fn default() -> Self {
        Self {
            width_px: 640,
            height_px: 560,
            colormap: Colormap::Inferno,
            draw_limb: true,
            flare_id: None,
            quality: None,
            png_compression: PngCompression::Smaller,
        }
    }
}

/// Smallest accepted width and height of a quick-look, pixels.
pub const MIN_SIZE_PX: usize = 320;
/// Largest accepted width and height of a quick-look, pixels.
pub const MAX_SIZE_PX: usize = 8192;

// Margins around the plot, pixels: title block, x tick labels + axis label, y tick labels +
// axis label, colorbar + its labels + unit.
const MARGIN_TOP: usize = 66;
const MARGIN_BOTTOM: usize = 52;
const MARGIN_LEFT: usize = 76;
const MARGIN_RIGHT: usize = 122;
const CBAR_GAP: i64 = 14;
const CBAR_WIDTH: i64 = 16;
const TICK_LEN: i64 = 5;

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const TEXT_GREY: Rgb = [70, 70, 70];
const NO_DATA: Rgb = [200, 200, 200];
const LIMB: Rgb = [235, 235, 235];
const MARKER: Rgb = [0, 230, 255];

/// Where the map is drawn in the PNG (the test and the web page use it to relate screen
/// pixels to solar coordinates): the square `[left, left+side) × [top, top+side)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotRect {
    /// First pixel column of the plot.
    pub left_px: usize,
    /// First pixel row of the plot.
    pub top_px: usize,
    /// Side of the square plot, pixels.
    pub side_px: usize,
}

impl QuicklookOptions {
    /// The plot square for this canvas size, or a reason why the size is unusable.
    pub fn plot_rect(&self) -> Result<PlotRect, String> {
        let (w, h) = (self.width_px, self.height_px);
        if !(MIN_SIZE_PX..=MAX_SIZE_PX).contains(&w) || !(MIN_SIZE_PX..=MAX_SIZE_PX).contains(&h) {
            return Err(format!(
                "quick-look size {w}×{h} px is outside {MIN_SIZE_PX}–{MAX_SIZE_PX} px per side"
            ));
        }
        let avail_w = w - MARGIN_LEFT - MARGIN_RIGHT;
        let avail_h = h - MARGIN_TOP - MARGIN_BOTTOM;
        let side = avail_w.min(avail_h);
        Ok(PlotRect {
            left_px: MARGIN_LEFT + (avail_w - side) / 2,
            top_px: MARGIN_TOP + (avail_h - side) / 2,
            side_px: side,
        })
    }
}

/// Draws the quick-look of `rec` and writes it as an RGB8 PNG at `path` (atomically).
pub fn write_quicklook_png(
    path: &Path,
    rec: &Reconstruction,
    meta: &VisMeta,
    opts: &QuicklookOptions,
) -> Result<(), OutputError> {
    let invalid = |reason: String| OutputError::Invalid {
        path: path.display().to_string(),
        reason,
    };
    let canvas = render(rec, meta, opts).map_err(invalid)?;
    let title = title(rec, meta).map_err(invalid)?;
    let context = context_line(meta, opts);
    write_atomically(path, |tmp| {
        let io = |source| OutputError::Io {
            path: path.display().to_string(),
            source,
        };
        let png_err = |source| OutputError::Png {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::create(tmp).map_err(io)?;
        let mut encoder = png::Encoder::new(
            BufWriter::new(file),
            canvas.width as u32,
            canvas.height as u32,
        );
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(match opts.png_compression {
            PngCompression::Smaller => png::Compression::Balanced,
            PngCompression::Faster => png::Compression::Fast,
        });
        encoder
            .add_itxt_chunk("Title".to_string(), title)
            .map_err(png_err)?;
        encoder
            .add_text_chunk("Software".to_string(), crate::SOFTWARE_VERSION.to_string())
            .map_err(png_err)?;
        encoder
            .add_itxt_chunk("Description".to_string(), context.clone())
            .map_err(png_err)?;
        let mut writer = encoder.write_header().map_err(png_err)?;
        writer.write_image_data(&canvas.rgb).map_err(png_err)?;
        writer.finish().map_err(png_err)
    })
}

/// Everything that maps solar coordinates to screen pixels.
struct Frame {
    rect: PlotRect,
    center_hpc: [f64; 2],
    fov_arcsec: f64,
    attitude: Attitude,
}

impl Frame {
    fn x_range(&self) -> [f64; 2] {
        [
            self.center_hpc[0] - self.fov_arcsec / 2.0,
            self.center_hpc[0] + self.fov_arcsec / 2.0,
        ]
    }

    fn y_range(&self) -> [f64; 2] {
        [
            self.center_hpc[1] - self.fov_arcsec / 2.0,
            self.center_hpc[1] + self.fov_arcsec / 2.0,
        ]
    }

    /// Screen position (continuous, pixel (i, j) covers [i, i+1)) of an HPC point.
    fn to_screen(&self, hpc: [f64; 2]) -> [f64; 2] {
        let s = self.rect.side_px as f64 / self.fov_arcsec;
        [
            self.rect.left_px as f64 + (hpc[0] - self.x_range()[0]) * s,
            self.rect.top_px as f64 + (self.y_range()[1] - hpc[1]) * s,
        ]
    }

    fn clip(&self) -> Clip {
        Clip {
            x0: self.rect.left_px as i64,
            y0: self.rect.top_px as i64,
            x1: (self.rect.left_px + self.rect.side_px) as i64,
            y1: (self.rect.top_px + self.rect.side_px) as i64,
        }
    }
}

/// Draws the whole figure.
fn render(rec: &Reconstruction, meta: &VisMeta, opts: &QuicklookOptions) -> Result<Canvas, String> {
    let rect = opts.plot_rect()?;
    let grid = rec.map.grid;
    let (ny, nx) = rec.map.data.dim();
    if grid.n < 2 || ny != grid.n || nx != grid.n {
        return Err(format!(
            "map data is {ny}×{nx} but its grid says {n}×{n} (n must be ≥ 2)",
            n = grid.n
        ));
    }
    if !(grid.pixel_arcsec.is_finite() && grid.pixel_arcsec > 0.0) {
        return Err(format!(
            "pixel size {} arcsec is not a positive finite number",
            grid.pixel_arcsec
        ));
    }
    let attitude = meta.map_wcs.attitude();
    let c = rec.map.center_stix_arcsec;
    if ![attitude.roll_deg, c[0], c[1]]
        .iter()
        .chain(&attitude.pointing_arcsec)
        .all(|v| v.is_finite())
    {
        return Err("non-finite roll, pointing or map centre".to_string());
    }
    let (vmin, vmax) = value_range(&rec.map.data)
        .ok_or_else(|| "the map has no finite pixel value".to_string())?;
    let text = TextRenderer::new()?;
    let frame = Frame {
        rect,
        center_hpc: attitude.stix_to_hpc(c),
        fov_arcsec: grid.n as f64 * grid.pixel_arcsec,
        attitude,
    };
    let lut = colour_table(opts.colormap);
    let mut canvas = Canvas::new(opts.width_px, opts.height_px, WHITE);

    draw_map(&mut canvas, rec, &frame, &lut, vmin, vmax);
    if opts.draw_limb
        && let Some(r) = meta
            .map_wcs
            .rsun_arcsec
            .filter(|r| r.is_finite() && *r > 0.0)
    {
        draw_limb(&mut canvas, &frame, r);
    }
    if let Some(fwd) = &rec.fwdfit {
        draw_sources(&mut canvas, &frame, rec, fwd);
    }
    if opts
        .quality
        .as_ref()
        .is_some_and(|q| q.grade != crate::quality::Grade::Good)
    {
        draw_peak_ring(&mut canvas, &frame, rec);
    }
    draw_axes(&mut canvas, &frame, &text);
    draw_colorbar(&mut canvas, &frame, &text, &lut, vmin, vmax, &rec.map.unit);
    draw_titles(
        &mut canvas,
        &text,
        &title(rec, meta)?,
        &subtitle(rec, meta),
        &context_line(meta, opts),
    );
    Ok(canvas)
}

/// Minimum and maximum of the finite pixels (max > min guaranteed).
fn value_range(data: &ndarray::Array2<f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in data.iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return None;
    }
    if hi <= lo {
        // A flat map: show it at the bottom of a unit-wide scale.
        hi = lo + if lo == 0.0 { 1.0 } else { lo.abs() };
    }
    Some((lo, hi))
}

const LUT_SIZE: usize = 1024;

fn colour_table(map: Colormap) -> Vec<Rgb> {
    let g = match map {
        Colormap::Inferno => colorous::INFERNO,
        Colormap::Viridis => colorous::VIRIDIS,
    };
    (0..LUT_SIZE)
        .map(|i| {
            let c = g.eval_rational(i, LUT_SIZE);
            [c.r, c.g, c.b]
        })
        .collect()
}

fn lut_colour(lut: &[Rgb], t: f64) -> Rgb {
    let k = crate::output::raster::round_non_negative(t.clamp(0.0, 1.0) * (LUT_SIZE - 1) as f64);
    lut[k.min(LUT_SIZE - 1)]
}

/// Resamples the STIX-frame map onto the north-up screen grid (bilinear).
///
/// The hot loop of every quick-look (one pass over ~10⁵ screen pixels): it reads the map as
/// one row-major slice and writes the canvas rows directly, with no per-pixel bounds checks
/// or calls to libm's `floor`/`round` (which x86-64's baseline instruction set lacks).
fn draw_map(
    canvas: &mut Canvas,
    rec: &Reconstruction,
    frame: &Frame,
    lut: &[Rgb],
    lo: f64,
    hi: f64,
) {
    let grid = rec.map.grid;
    let n = grid.n;
    let data = rec.map.data.as_standard_layout();
    let Some(values) = data.as_slice() else {
        return;
    };
    let side = frame.rect.side_px;
    let arcsec_per_px = frame.fov_arcsec / side as f64;
    // Screen offset (east→west, south→north) to STIX offset: R(−θ).
    let (s, c) = (-frame.attitude.rotation_angle_deg())
        .to_radians()
        .sin_cos();
    let last = (n - 1) as f64;
    let half = (n as f64 - 1.0) / 2.0;
    // The part of the plot square inside the canvas (all of it for a valid layout).
    let (left, top) = (frame.rect.left_px, frame.rect.top_px);
    let cols = side.min(canvas.width.saturating_sub(left));
    let rows = side.min(canvas.height.saturating_sub(top));
    // Each column's rotated offsets, computed once rather than once per row.
    let columns: Vec<(f64, f64)> = (0..cols)
        .map(|px| {
            let dx = (px as f64 + 0.5) * arcsec_per_px - frame.fov_arcsec / 2.0;
            (c * dx, s * dx)
        })
        .collect();
    for py in 0..rows {
        let dy = frame.fov_arcsec / 2.0 - (py as f64 + 0.5) * arcsec_per_px;
        let (s_dy, c_dy) = (s * dy, c * dy);
        let start = ((top + py) * canvas.width + left) * 3;
        let row = &mut canvas.rgb[start..start + cols * 3];
        for (&(c_dx, s_dx), pixel) in columns.iter().zip(row.chunks_exact_mut(3)) {
            let fx = (c_dx - s_dy) / grid.pixel_arcsec + half;
            let fy = (s_dx + c_dy) / grid.pixel_arcsec + half;
            // The map covers index −0.5 … n−0.5; beyond the centres we hold the edge value.
            let colour = if fx < -0.5 || fy < -0.5 || fx > last + 0.5 || fy > last + 0.5 {
                NO_DATA
            } else {
                let (fx, fy) = (fx.clamp(0.0, last), fy.clamp(0.0, last));
                // Non-negative, so truncation is the floor.
                let (x0, y0) = ((fx as usize).min(n - 2), (fy as usize).min(n - 2));
                let (tx, ty) = (fx - x0 as f64, fy - y0 as f64);
                let (r0, r1) = (y0 * n + x0, (y0 + 1) * n + x0);
                let v = (1.0 - ty) * ((1.0 - tx) * values[r0] + tx * values[r0 + 1])
                    + ty * ((1.0 - tx) * values[r1] + tx * values[r1 + 1]);
                if v.is_finite() {
                    lut_colour(lut, (v - lo) / (hi - lo))
                } else {
                    NO_DATA
                }
            };
            pixel.copy_from_slice(&colour);
        }
    }
}

fn draw_limb(canvas: &mut Canvas, frame: &Frame, rsun_arcsec: f64) {
    let pts: Vec<[f64; 2]> = (0..=3600)
        .map(|i| {
            let a = (i as f64 / 10.0).to_radians();
            frame.to_screen([rsun_arcsec * a.cos(), rsun_arcsec * a.sin()])
        })
        .collect();
    canvas.polyline(&pts, 1.2, LIMB, frame.clip());
}

/// FWDFIT: a cross at each source centre and its FWHM outline (half-maximum contour).
fn draw_sources(
    canvas: &mut Canvas,
    frame: &Frame,
    rec: &Reconstruction,
    fwd: &crate::imaging::FwdfitExtras,
) {
    let c = rec.map.center_stix_arcsec;
    let theta = frame.attitude.rotation_angle_deg();
    let clip = frame.clip();
    for src in &fwd.sources {
        let centre = frame
            .attitude
            .stix_to_hpc([c[0] + src.offset_arcsec[0], c[1] + src.offset_arcsec[1]]);
        let p = frame.to_screen(centre);
        let arm = 7.0;
        canvas.line([p[0] - arm, p[1]], [p[0] + arm, p[1]], 1.6, MARKER, clip);
        canvas.line([p[0], p[1] - arm], [p[0], p[1] + arm], 1.6, MARKER, clip);
        let [major, minor] = src
            .fwhm_major_minor_arcsec
            .unwrap_or([src.fwhm_arcsec, src.fwhm_arcsec]);
        if !(major.is_finite() && minor.is_finite() && major > 0.0 && minor > 0.0) {
            continue;
        }
        // Major axis angle on the sky: angle in the STIX frame + θ (section E.5).
        let phi = (src.angle_deg.unwrap_or(0.0) + theta).to_radians();
        let (sp, cp) = phi.sin_cos();
        let pts: Vec<[f64; 2]> = (0..=180)
            .map(|i| {
                let t = (i as f64 * 2.0).to_radians();
                let (u, v) = (major / 2.0 * t.cos(), minor / 2.0 * t.sin());
                frame.to_screen([centre[0] + cp * u - sp * v, centre[1] + sp * u + cp * v])
            })
            .collect();
        canvas.polyline(&pts, 1.4, MARKER, clip);
    }
}

/// "Nice" tick values (1, 2, 5 × 10ᵏ steps) inside `[lo, hi]`, about `target` of them.
fn nice_ticks(lo: f64, hi: f64, target: f64) -> (f64, Vec<f64>) {
    let raw = (hi - lo) / target;
    let mag = 10f64.powf(raw.log10().floor());
    // The candidate step closest to the raw one (in ratio).
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .min_by(|a, b| {
            let (da, db) = ((a / raw).ln().abs(), (b / raw).ln().abs());
            da.total_cmp(&db)
        })
        .unwrap_or(mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last)
        .map(|k| k as f64 * step)
        .filter(|v| *v >= lo - 1e-9 * step && *v <= hi + 1e-9 * step)
        .collect();
    (step, ticks)
}

/// Formats a tick value with as many decimals as the step needs and a real minus sign.
fn tick_label(v: f64, step: f64) -> String {
    let decimals = (-(step.log10() - 1e-9).floor()).clamp(0.0, 6.0) as usize;
    // 2.5-type steps need one decimal more than their magnitude.
    let scaled = step * 10f64.powi(decimals as i32);
    let decimals = if (scaled - scaled.round()).abs() > 1e-6 {
        decimals + 1
    } else {
        decimals
    };
    let v = if v.abs() < step * 1e-9 { 0.0 } else { v };
    format!("{v:.decimals$}").replace('-', "\u{2212}")
}

fn draw_axes(canvas: &mut Canvas, frame: &Frame, text: &TextRenderer) {
    let r = frame.rect;
    let (left, top, side) = (r.left_px as i64, r.top_px as i64, r.side_px as i64);
    canvas.stroke_rect(left - 1, top - 1, side + 2, side + 2, BLACK);
    let label_px = 12.0;
    let scale = side as f64 / frame.fov_arcsec;
    let target = (side as f64 / 90.0).clamp(3.0, 8.0);

    let [x0, x1] = frame.x_range();
    let (step, ticks) = nice_ticks(x0, x1, target);
    for v in ticks {
        let x = left + ((v - x0) * scale).floor() as i64;
        canvas.fill_rect(x, top + side + 1, 1, TICK_LEN, BLACK);
        canvas.fill_rect(x, top - 1 - TICK_LEN, 1, TICK_LEN, BLACK);
        let label = tick_label(v, step);
        let m = text.render(&label, label_px);
        canvas.draw_mask(
            &m,
            x - (text.width(&label, label_px) / 2.0).round() as i64,
            top + side + TICK_LEN + 3,
            BLACK,
            false,
        );
    }
    let [y0, y1] = frame.y_range();
    let (step, ticks) = nice_ticks(y0, y1, target);
    for v in ticks {
        let y = top + ((y1 - v) * scale).floor() as i64;
        canvas.fill_rect(left - 1 - TICK_LEN, y, TICK_LEN, 1, BLACK);
        canvas.fill_rect(left + side + 1, y, TICK_LEN, 1, BLACK);
        let label = tick_label(v, step);
        let m = text.render(&label, label_px);
        canvas.draw_mask(
            &m,
            left - TICK_LEN - 5 - text.width(&label, label_px).ceil() as i64,
            y - (m.height / 2) as i64,
            BLACK,
            false,
        );
    }
    let axis_px = 13.0;
    let xl = "Solar X (arcsec)";
    let m = text.render(xl, axis_px);
    canvas.draw_mask(
        &m,
        left + side / 2 - (text.width(xl, axis_px) / 2.0).round() as i64,
        top + side + TICK_LEN + 21,
        BLACK,
        false,
    );
    let yl = "Solar Y (arcsec)";
    let m = text.render(yl, axis_px);
    canvas.draw_mask(
        &m,
        left - 70,
        top + side / 2 - (m.width / 2) as i64,
        BLACK,
        true,
    );
}

#[allow(clippy::too_many_arguments)]
fn draw_colorbar(
    canvas: &mut Canvas,
    frame: &Frame,
    text: &TextRenderer,
    lut: &[Rgb],
    lo: f64,
    hi: f64,
    unit: &str,
) {
    let r = frame.rect;
    let (top, side) = (r.top_px as i64, r.side_px as i64);
    let x = (r.left_px + r.side_px) as i64 + CBAR_GAP;
    for row in 0..side {
        let t = 1.0 - (row as f64 + 0.5) / side as f64;
        canvas.fill_rect(x, top + row, CBAR_WIDTH, 1, lut_colour(lut, t));
    }
    canvas.stroke_rect(x - 1, top - 1, CBAR_WIDTH + 2, side + 2, BLACK);

    // Large or tiny values: factor a power of ten out into the unit label.
    let max_abs = lo.abs().max(hi.abs());
    let exponent = if max_abs > 0.0 && !(1e-2..1e4).contains(&max_abs) {
        max_abs.log10().floor() as i32
    } else {
        0
    };
    let f = 10f64.powi(exponent);
    let label_px = 12.0;
    let (step, ticks) = nice_ticks(lo / f, hi / f, (side as f64 / 70.0).clamp(3.0, 8.0));
    let mut widest = 0.0f64;
    for v in ticks {
        let y = top + ((hi / f - v) / ((hi - lo) / f) * side as f64).floor() as i64;
        canvas.fill_rect(x + CBAR_WIDTH + 1, y, 4, 1, BLACK);
        let label = tick_label(v, step);
        widest = widest.max(text.width(&label, label_px));
        let m = text.render(&label, label_px);
        canvas.draw_mask(
            &m,
            x + CBAR_WIDTH + 8,
            y - (m.height / 2) as i64,
            BLACK,
            false,
        );
    }
    let unit = pretty_unit(unit);
    let unit = if exponent != 0 {
        format!("10{} {unit}", superscript_int(exponent))
    } else {
        unit
    };
    let unit_px = 12.0;
    let m = text.render(&unit, unit_px);
    canvas.draw_mask(
        &m,
        x + CBAR_WIDTH + 12 + widest.ceil() as i64,
        top + side / 2 - (m.width / 2) as i64,
        BLACK,
        true,
    );
}

/// Rings the map peak (an image that is not GOOD: show the viewer what the figures are about).
fn draw_peak_ring(canvas: &mut Canvas, frame: &Frame, rec: &Reconstruction) {
    let c = rec.map.center_stix_arcsec;
    let d = rec.map.peak_offset_arcsec();
    let p = frame.to_screen(frame.attitude.stix_to_hpc([c[0] + d[0], c[1] + d[1]]));
    let clip = frame.clip();
    let r = 10.0;
    let pts: Vec<[f64; 2]> = (0..=72)
        .map(|i| {
            let t = (i as f64 * 5.0).to_radians();
            [p[0] + r * t.cos(), p[1] + r * t.sin()]
        })
        .collect();
    for w in pts.windows(2) {
        canvas.line(w[0], w[1], 2.0, MARKER, clip);
    }
}

fn draw_titles(
    canvas: &mut Canvas,
    text: &TextRenderer,
    title: &str,
    subtitle: &str,
    context: &str,
) {
    let w = canvas.width as f64;
    let mut size = 15.0f32;
    while size > 9.0 && text.width(title, size) > w - 12.0 {
        size -= 0.5;
    }
    let m = text.render(title, size);
    canvas.draw_mask(
        &m,
        ((w - text.width(title, size)) / 2.0) as i64,
        8,
        BLACK,
        false,
    );
    let mut size = 11.5f32;
    while size > 8.0 && text.width(subtitle, size) > w - 12.0 {
        size -= 0.5;
    }
    let m = text.render(subtitle, size);
    canvas.draw_mask(
        &m,
        ((w - text.width(subtitle, size)) / 2.0) as i64,
        29,
        TEXT_GREY,
        false,
    );
    let mut size = 11.0f32;
    while size > 7.0 && text.width(context, size) > w - 12.0 {
        size -= 0.5;
    }
    let m = text.render(context, size);
    canvas.draw_mask(
        &m,
        ((w - text.width(context, size)) / 2.0) as i64,
        46,
        TEXT_GREY,
        false,
    );
}

/// Third line: flare id, background file, quality grade and reasons.
fn context_line(meta: &VisMeta, opts: &QuicklookOptions) -> String {
    let mut parts = Vec::new();
    if let Some(id) = &opts.flare_id {
        parts.push(format!("flare {id}"));
    }
    parts.push(format!(
        "background: {}",
        meta.background_file.as_deref().unwrap_or("none")
    ));
    if let Some(q) = &opts.quality {
        if q.reasons.is_empty() {
            parts.push(format!("quality {}", q.grade));
        } else {
            parts.push(format!("quality {}: {}", q.grade, q.reasons.join("; ")));
        }
    }
    parts.join(" · ")
}

/// Display name of an algorithm in the title.
fn algorithm_label(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Bp => "BP (natural)",
        Algorithm::BpUniform => "BP (uniform)",
        Algorithm::Clean => "CLEAN",
        Algorithm::Mem => "MEM_GE",
        Algorithm::Em => "EM",
        Algorithm::Fwdfit => "VIS_FWDFIT",
    }
}

/// A number without trailing zeros (4 → "4", 4.5 → "4.5").
fn short_number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// "STIX <algorithm> <lo>–<hi> keV <start>–<end> UTC (at Solar Orbiter)".
fn title(rec: &Reconstruction, meta: &VisMeta) -> Result<String, String> {
    let tr = meta
        .time_range()
        .map_err(|e| format!("bad time range: {e}"))?;
    let [lo, hi] = meta.energy_range_kev;
    let start = tr.start.format("%Y-%m-%d %H:%M:%S");
    let end = if tr.start.date_naive() == tr.end.date_naive() {
        tr.end.format("%H:%M:%S").to_string()
    } else {
        tr.end.format("%Y-%m-%d %H:%M:%S").to_string()
    };
    Ok(format!(
        "STIX {} {}\u{2013}{} keV {start}\u{2013}{end} UTC (at Solar Orbiter)",
        algorithm_label(rec.algorithm),
        short_number(lo),
        short_number(hi)
    ))
}

/// Second line: the Earth-time equivalent, instrument, grid, roll, pointing source and
/// algorithm facts.
fn subtitle(rec: &Reconstruction, meta: &VisMeta) -> String {
    let g = rec.map.grid;
    let mut s = String::new();
    if let (Some(dt), Ok(tr)) = (meta.earth_time_delta_seconds, meta.time_range()) {
        let shift = chrono::Duration::milliseconds((dt * 1e3).round() as i64);
        s.push_str(&format!(
            "at Earth {}–{} UTC (+{:.0} s) · ",
            (tr.start + shift).format("%H:%M:%S"),
            (tr.end + shift).format("%H:%M:%S"),
            dt
        ));
    }
    s += &format!(
        "Solar Orbiter/STIX · {n}×{n} px of {}″ · roll {}° · pointing: {}",
        short_number(g.pixel_arcsec),
        format!("{:.2}", meta.map_wcs.roll_angle_deg).replace('-', "\u{2212}"),
        meta.map_wcs.pointing_source,
        n = g.n,
    );
    if let Some(clean) = &rec.clean {
        s.push_str(&format!(
            " · beam {}″",
            short_number(clean.beam_fwhm_arcsec)
        ));
    }
    if let Some(fwd) = &rec.fwdfit {
        s.push_str(&format!(
            " · χ² = {:.2} · + centre, ○ FWHM",
            fwd.chi2_reduced
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        let (step, t) = nice_ticks(692.8, 950.8, 5.0);
        assert_eq!(step, 50.0);
        assert_eq!(t, vec![700.0, 750.0, 800.0, 850.0, 900.0, 950.0]);
        let (step, t) = nice_ticks(-1.3, 101.0, 5.0);
        assert_eq!(step, 20.0);
        assert_eq!(t, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let (step, _) = nice_ticks(0.0, 12.0, 5.0);
        assert_eq!(step, 2.5);
        assert_eq!(tick_label(-0.5, 0.5), "\u{2212}0.5");
        assert_eq!(tick_label(2.5, 2.5), "2.5");
        assert_eq!(tick_label(100.0, 25.0), "100");
        assert_eq!(tick_label(0.0, 0.02), "0.00");
    }

    #[test]
    fn rejects_silly_sizes() {
        let o = QuicklookOptions {
            width_px: 10,
            ..QuicklookOptions::default()
        };
        assert!(o.plot_rect().is_err());
        let r = QuicklookOptions::default().plot_rect().unwrap();
        assert!(r.side_px >= 400);
    }
}
