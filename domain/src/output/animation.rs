//! Animated GIF of quick-look PNGs: frames in the order given (the caller sorts them by
//! time), each with a label band at the top (time, band, algorithm), one global 256-colour
//! palette (a 6×7×6 colour cube plus four greys, so quantising is a few arithmetic operations
//! per pixel), infinite loop. Frames are decoded, labelled, quantised and LZW-compressed in
//! parallel; only the writing is sequential.

use super::raster::Canvas;
use super::text::TextRenderer;
use super::{OutputError, write_atomically};
use rayon::prelude::*;
use std::path::Path;

/// Height of the label band above each frame, pixels.
pub const LABEL_BAND_PX: usize = 22;

/// One frame: a quick-look PNG and its label.
#[derive(Debug, Clone)]
pub struct GifFrame<'a> {
    /// The PNG (RGB8 or RGBA8, as the quick-look writer makes them).
    pub png: &'a Path,
    /// Text drawn above the frame, e.g. `2022-11-11 11:36:40  4-10 keV  clean`.
    pub label: String,
}

/// The global palette: 6 red × 7 green × 6 blue levels, then four greys.
fn palette() -> Vec<u8> {
    let mut p = Vec::with_capacity(768);
    for r in 0..6u32 {
        for g in 0..7u32 {
            for b in 0..6u32 {
                p.extend_from_slice(&[(r * 51) as u8, (g * 255 / 6) as u8, (b * 51) as u8]);
            }
        }
    }
    for v in [64u8, 128, 192, 224] {
        p.extend_from_slice(&[v, v, v]);
    }
    p
}

#[inline]
fn index_of(r: u8, g: u8, b: u8) -> u8 {
    let ri = (u32::from(r) * 5 + 127) / 255;
    let gi = (u32::from(g) * 6 + 127) / 255;
    let bi = (u32::from(b) * 5 + 127) / 255;
    (ri * 42 + gi * 6 + bi) as u8
}

/// Decodes a PNG into RGB8.
fn read_png(path: &Path) -> Result<(usize, usize, Vec<u8>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        other => {
            return Err(format!(
                "{}: unsupported PNG colour type {other:?}",
                path.display()
            ));
        }
    };
    let mut rgb = Vec::with_capacity(w * h * 3);
    for px in buf[..w * h * channels].chunks_exact(channels) {
        match channels {
            1 | 2 => rgb.extend_from_slice(&[px[0], px[0], px[0]]),
            _ => rgb.extend_from_slice(&px[..3]),
        }
    }
    Ok((w, h, rgb))
}

/// Writes the frames as an animated GIF at `path` (atomically). All frames share the size
/// of the largest PNG (smaller ones are centred on black) plus the label band.
pub fn write_animated_gif(
    path: &Path,
    frames: &[GifFrame<'_>],
    fps: f64,
) -> Result<(), OutputError> {
    let invalid = |reason: String| OutputError::Invalid {
        path: path.display().to_string(),
        reason,
    };
    if frames.is_empty() {
        return Err(invalid("an animation needs at least one frame".into()));
    }
    if !(fps.is_finite() && fps > 0.0 && fps <= 100.0) {
        return Err(invalid(format!("fps must be in (0, 100], got {fps}")));
    }
    let images: Vec<(usize, usize, Vec<u8>)> = frames
        .par_iter()
        .map(|f| read_png(f.png))
        .collect::<Result<_, _>>()
        .map_err(&invalid)?;
    let width = images.iter().map(|i| i.0).max().unwrap_or(1);
    let height = images.iter().map(|i| i.1).max().unwrap_or(1) + LABEL_BAND_PX;
    if width > u16::MAX as usize || height > u16::MAX as usize {
        return Err(invalid(format!(
            "frames of {width}×{height} px are too large for GIF"
        )));
    }
    let text = TextRenderer::new().map_err(&invalid)?;
    let delay_cs = (100.0 / fps).round().clamp(2.0, 65535.0) as u16;
    let pal = palette();
    // Compose, label, quantise and LZW-compress every frame in parallel; only the writing
    // is sequential.
    let encoded: Vec<gif::Frame<'static>> = frames
        .par_iter()
        .zip(images.par_iter())
        .map(|(frame, (w, h, rgb))| {
            let mut canvas = Canvas::new(width, height, [0, 0, 0]);
            let (x0, y0) = (
                (width - w) / 2,
                LABEL_BAND_PX + (height - LABEL_BAND_PX - h) / 2,
            );
            for y in 0..*h {
                let src = &rgb[y * w * 3..(y + 1) * w * 3];
                let start = ((y0 + y) * width + x0) * 3;
                canvas.rgb[start..start + w * 3].copy_from_slice(src);
            }
            let mask = text.render(&frame.label, 14.0);
            canvas.draw_mask(&mask, 6, 3, [255, 255, 255], false);
            let indices: Vec<u8> = canvas
                .rgb
                .chunks_exact(3)
                .map(|p| index_of(p[0], p[1], p[2]))
                .collect();
            let mut f = gif::Frame {
                width: width as u16,
                height: height as u16,
                delay: delay_cs,
                ..gif::Frame::default()
            };
            f.buffer = std::borrow::Cow::Owned(indices);
            f.make_lzw_pre_encoded();
            f
        })
        .collect();
    write_atomically(path, |tmp| {
        let io = |source| OutputError::Io {
            path: path.display().to_string(),
            source,
        };
        let gif_err = |e: gif::EncodingError| invalid(format!("GIF encoder: {e}"));
        let file = std::io::BufWriter::new(std::fs::File::create(tmp).map_err(io)?);
        let mut enc =
            gif::Encoder::new(file, width as u16, height as u16, &pal).map_err(gif_err)?;
        enc.set_repeat(gif::Repeat::Infinite).map_err(gif_err)?;
        for f in &encoded {
            enc.write_lzw_pre_encoded_frame(f).map_err(gif_err)?;
        }
        let mut out = enc.into_inner().map_err(gif_err)?;
        std::io::Write::flush(&mut out).map_err(io)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_indices_hit_the_nearest_cube_colour() {
        let p = palette();
        assert_eq!(p.len(), 768);
        for (r, g, b) in [(0u8, 0u8, 0u8), (255, 255, 255), (255, 0, 0), (12, 200, 90)] {
            let i = index_of(r, g, b) as usize;
            let c = &p[i * 3..i * 3 + 3];
            for (got, want) in c.iter().zip([r, g, b]) {
                assert!(
                    (i32::from(*got) - i32::from(want)).abs() <= 26,
                    "{c:?} vs {r},{g},{b}"
                );
            }
        }
    }
}
