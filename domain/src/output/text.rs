//! Text for the quick-look: the DejaVu Sans font embedded in the binary (`domain/assets/`,
//! licence in `DejaVu-LICENSE.txt`) rasterised with `ab_glyph` into coverage masks. No
//! system font lookup ever happens at run time.

use super::raster::Mask;
use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/DejaVu-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The embedded font, parsed.
pub(crate) struct TextRenderer {
    font: FontRef<'static>,
}

impl TextRenderer {
    /// Parses the embedded font (fails only if the binary was built with a broken asset).
    pub(crate) fn new() -> Result<Self, String> {
        FontRef::try_from_slice(DEJAVU_SANS)
            .map(|font| Self { font })
            .map_err(|e| format!("embedded DejaVu Sans font is unreadable: {e}"))
    }

    /// Width in pixels of `text` at `size_px`.
    pub(crate) fn width(&self, text: &str, size_px: f32) -> f64 {
        let scaled = self.font.as_scaled(PxScale::from(size_px));
        let mut caret = 0.0f32;
        let mut last = None;
        for ch in text.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(prev) = last {
                caret += scaled.kern(prev, id);
            }
            caret += scaled.h_advance(id);
            last = Some(id);
        }
        f64::from(caret)
    }

    /// True when the font has a glyph for every character of `text`.
    #[cfg(test)]
    pub(crate) fn covers(&self, text: &str) -> bool {
        text.chars()
            .all(|c| c.is_whitespace() || self.font.glyph_id(c).0 != 0)
    }

    /// Renders `text` at `size_px` into a mask whose height is the line height
    /// (ascent − descent) and whose top is the ascent line.
    pub(crate) fn render(&self, text: &str, size_px: f32) -> Mask {
        let scaled = self.font.as_scaled(PxScale::from(size_px));
        let ascent = scaled.ascent();
        let height = (ascent - scaled.descent()).ceil().max(1.0) as usize;
        let width = self.width(text, size_px).ceil().max(1.0) as usize + 1;
        let mut alpha = vec![0f32; width * height];
        let mut caret = 0.0f32;
        let mut last = None;
        for ch in text.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(prev) = last {
                caret += scaled.kern(prev, id);
            }
            let glyph = id.with_scale_and_position(size_px, point(caret, ascent));
            caret += scaled.h_advance(id);
            last = Some(id);
            if let Some(outline) = self.font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, c| {
                    let x = b.min.x as i64 + i64::from(gx);
                    let y = b.min.y as i64 + i64::from(gy);
                    if x >= 0 && y >= 0 && (x as usize) < width && (y as usize) < height {
                        let k = y as usize * width + x as usize;
                        alpha[k] = (alpha[k] + c).min(1.0);
                    }
                });
            }
        }
        Mask {
            width,
            height,
            alpha,
        }
    }
}

/// Turns a FITS-style unit (`ct keV-1 s-1 cm-2 arcsec-2`, also `^-1` and `**-1`) into
/// typographic form with superscript exponents (`ct keV⁻¹ s⁻¹ cm⁻² arcsec⁻²`).
pub(crate) fn pretty_unit(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len() + 8);
    for (i, token) in unit.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let token = token.replace("**", "").replace('^', "");
        let split = token
            .find(|c: char| c == '-' || c.is_ascii_digit())
            .filter(|&k| k > 0 && token[k..].chars().all(|c| c == '-' || c.is_ascii_digit()));
        match split {
            Some(k) => {
                out.push_str(&token[..k]);
                out.extend(token[k..].chars().map(superscript));
            }
            None => out.push_str(&token),
        }
    }
    out
}

/// An integer in superscript digits (−3 → "⁻³").
pub(crate) fn superscript_int(v: i32) -> String {
    v.to_string().chars().map(superscript).collect()
}

fn superscript(c: char) -> char {
    match c {
        '-' => '⁻',
        '0' => '⁰',
        '1' => '¹',
        '2' => '²',
        '3' => '³',
        '4' => '⁴',
        '5' => '⁵',
        '6' => '⁶',
        '7' => '⁷',
        '8' => '⁸',
        '9' => '⁹',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_has_the_glyphs_we_print() {
        let t = TextRenderer::new().unwrap();
        assert!(t.covers("Solar X (arcsec) – 4–10 keV ″ ° χ² × ⁻¹²³ UT"));
        let m = t.render("Solar Y", 14.0);
        assert!(m.alpha.iter().filter(|&&a| a > 0.5).count() > 40);
        assert!(t.width("Solar Y", 14.0) > 30.0 && t.width("Solar Y", 14.0) < 80.0);
    }

    #[test]
    fn units_get_superscripts() {
        assert_eq!(
            pretty_unit("ct keV-1 s-1 cm-2 arcsec-2"),
            "ct keV⁻¹ s⁻¹ cm⁻² arcsec⁻²"
        );
        assert_eq!(pretty_unit("counts s^-1"), "counts s⁻¹");
        assert_eq!(pretty_unit("arb"), "arb");
    }
}
