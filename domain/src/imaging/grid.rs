//! The image grid of section E: n×n pixels of Δ arcsec, `img[iy][ix]` with x along FITS
//! axis 1, pixel centres at `x_i = (i − (n−1)/2)·Δ` relative to the phase centre.

use ndarray::Array2;

/// Geometry of an n×n map centred on the phase centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageGrid {
    /// Pixels per side.
    pub n: usize,
    /// Pixel size in arcsec.
    pub pixel_arcsec: f64,
}

impl ImageGrid {
    /// Offset of pixel index `i` from the map centre along one axis, arcsec.
    pub fn offset_arcsec(&self, i: usize) -> f64 {
        (i as f64 - (self.n as f64 - 1.0) / 2.0) * self.pixel_arcsec
    }

    /// The pixel offsets along one axis, arcsec.
    pub fn axis_arcsec(&self) -> Vec<f64> {
        (0..self.n).map(|i| self.offset_arcsec(i)).collect()
    }

    /// Fractional pixel index of an offset along one axis (inverse of [`Self::offset_arcsec`]).
    pub fn index_of(&self, offset_arcsec: f64) -> f64 {
        offset_arcsec / self.pixel_arcsec + (self.n as f64 - 1.0) / 2.0
    }
}

/// A reconstructed image in the STIX frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    /// Pixel values `data[[iy, ix]]`.
    pub data: Array2<f64>,
    /// The grid.
    pub grid: ImageGrid,
    /// Phase (map) centre in the STIX frame, arcsec.
    pub center_stix_arcsec: [f64; 2],
    /// Physical unit of the pixel values, FITS `BUNIT` style.
    pub unit: String,
}

impl Map {
    /// Index `(iy, ix)` and value of the largest pixel.
    pub fn peak(&self) -> ((usize, usize), f64) {
        let mut best = ((0, 0), f64::NEG_INFINITY);
        for ((iy, ix), &v) in self.data.indexed_iter() {
            if v > best.1 {
                best = ((iy, ix), v);
            }
        }
        best
    }

    /// Offset of the largest pixel from the map centre, STIX frame, arcsec.
    pub fn peak_offset_arcsec(&self) -> [f64; 2] {
        let ((iy, ix), _) = self.peak();
        [self.grid.offset_arcsec(ix), self.grid.offset_arcsec(iy)]
    }

    /// Flux-weighted centroid offset (positive pixels only) from the map centre, arcsec.
    pub fn centroid_offset_arcsec(&self) -> [f64; 2] {
        self.weighted_centroid(0.0).unwrap_or([0.0, 0.0])
    }

    /// Centroid of the pixels with value > 0 and ≥ `floor`, or `None` when there are none.
    fn weighted_centroid(&self, floor: f64) -> Option<[f64; 2]> {
        let (mut sx, mut sy, mut s) = (0.0, 0.0, 0.0);
        for ((iy, ix), &v) in self.data.indexed_iter() {
            if v > 0.0 && v >= floor {
                sx += v * self.grid.offset_arcsec(ix);
                sy += v * self.grid.offset_arcsec(iy);
                s += v;
            }
        }
        (s > 0.0).then(|| [sx / s, sy / s])
    }

    /// Flux-weighted centroid offset (arcsec, STIX frame) of the pixels at or above
    /// `fraction` of the maximum (0.5: the usual half-maximum centroid, insensitive to
    /// sidelobes and residual noise far from the source).
    pub fn centroid_above_offset_arcsec(&self, fraction: f64) -> [f64; 2] {
        let (_, max) = self.peak();
        self.weighted_centroid(max * fraction)
            .unwrap_or_else(|| self.peak_offset_arcsec())
    }

    /// Flux-weighted centroid offset (arcsec, STIX frame) of the *connected* region around
    /// the peak where the map is at or above `fraction` of the maximum (4-neighbour flood fill
    /// from the peak). Unlike [`Map::centroid_above_offset_arcsec`] it ignores sidelobes and
    /// other sources elsewhere in the map, which on a full-disk map can pull the centroid
    /// far from the flare (issue #11).
    pub fn peak_region_centroid_offset_arcsec(&self, fraction: f64) -> [f64; 2] {
        let ((py, px), max) = self.peak();
        if !(max.is_finite() && max > 0.0) {
            return self.peak_offset_arcsec();
        }
        let floor = max * fraction;
        let (ny, nx) = self.data.dim();
        let mut seen = vec![false; ny * nx];
        let mut stack = vec![(py, px)];
        seen[py * nx + px] = true;
        let (mut sx, mut sy, mut s) = (0.0, 0.0, 0.0);
        while let Some((iy, ix)) = stack.pop() {
            let v = self.data[[iy, ix]];
            sx += v * self.grid.offset_arcsec(ix);
            sy += v * self.grid.offset_arcsec(iy);
            s += v;
            let neighbours = [
                (iy.wrapping_sub(1), ix),
                (iy + 1, ix),
                (iy, ix.wrapping_sub(1)),
                (iy, ix + 1),
            ];
            for (ny_, nx_) in neighbours {
                if ny_ < ny && nx_ < nx && !seen[ny_ * nx + nx_] && self.data[[ny_, nx_]] >= floor {
                    seen[ny_ * nx + nx_] = true;
                    stack.push((ny_, nx_));
                }
            }
        }
        if s > 0.0 {
            [sx / s, sy / s]
        } else {
            self.peak_offset_arcsec()
        }
    }

    /// Total flux of a per-arcsec² map (its integral); `None` for maps in flux units per
    /// beam such as back-projections (E.1), whose integral has no physical meaning.
    pub fn total_flux(&self) -> Option<f64> {
        self.unit.contains("arcsec-2").then(|| self.integrated())
    }

    /// Sum of the pixel values times the pixel area (the total flux of a per-arcsec² map).
    pub fn integrated(&self) -> f64 {
        self.data.sum() * self.grid.pixel_arcsec * self.grid.pixel_arcsec
    }
}
