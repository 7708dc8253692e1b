//! A minimal reader of a FITS file's PRIMARY header cards (80-character ASCII cards in
//! 2880-byte blocks, up to `END`). Used to recognise FITS files cheaply and to keep a few
//! keywords (`DATE-BEG`, observer keys, …) in the archive without going through cfitsio.

use std::io::Read;

/// Bytes of one FITS block.
const BLOCK_BYTES: usize = 2880;
/// Bytes of one header card.
const CARD_BYTES: usize = 80;
/// Largest PRIMARY header read (blocks); real STIX headers use 2–4.
const MAX_HEADER_BLOCKS: usize = 64;

/// Why a PRIMARY header could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Reading the file failed.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with `SIMPLE  =`.
    #[error("not a FITS file (it does not start with 'SIMPLE  =')")]
    NotFits,
    /// The header ends before its `END` card.
    #[error("truncated FITS: the primary header has no END card within {blocks} blocks")]
    NoEnd {
        /// Blocks read.
        blocks: usize,
    },
}

/// A header value.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValue {
    /// A quoted string (trailing blanks removed, `''` unescaped).
    Text(String),
    /// A number.
    Number(f64),
    /// `T` / `F`.
    Flag(bool),
}

impl HeaderValue {
    /// As JSON (non-finite numbers become null).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            HeaderValue::Text(s) => serde_json::Value::String(s.clone()),
            HeaderValue::Number(x) => serde_json::Number::from_f64(*x)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            HeaderValue::Flag(b) => serde_json::Value::Bool(*b),
        }
    }
}

/// The keyword/value cards of a PRIMARY header, in file order.
#[derive(Debug, Clone, Default)]
pub struct PrimaryHeader {
    cards: Vec<(String, HeaderValue)>,
}

impl PrimaryHeader {
    /// Reads the PRIMARY header of a FITS stream.
    pub fn read(mut r: impl Read) -> Result<PrimaryHeader, HeaderError> {
        let mut block = vec![0u8; BLOCK_BYTES];
        let mut cards = Vec::new();
        for blocks in 0..MAX_HEADER_BLOCKS {
            if let Err(e) = r.read_exact(&mut block) {
                return match e.kind() {
                    std::io::ErrorKind::UnexpectedEof if blocks == 0 => Err(HeaderError::NotFits),
                    std::io::ErrorKind::UnexpectedEof => Err(HeaderError::NoEnd { blocks }),
                    _ => Err(HeaderError::Io(e)),
                };
            }
            if blocks == 0 && !block.starts_with(b"SIMPLE  =") {
                return Err(HeaderError::NotFits);
            }
            for card in block.chunks_exact(CARD_BYTES) {
                let text = String::from_utf8_lossy(card);
                let key = text.get(..8).unwrap_or_default().trim_end();
                if key == "END" {
                    return Ok(PrimaryHeader { cards });
                }
                if text.get(8..10) == Some("= ")
                    && let Some(v) = parse_value(text.get(10..).unwrap_or_default())
                {
                    cards.push((key.to_string(), v));
                }
            }
        }
        Err(HeaderError::NoEnd {
            blocks: MAX_HEADER_BLOCKS,
        })
    }

    /// The value of the first card named `key`.
    pub fn get(&self, key: &str) -> Option<&HeaderValue> {
        self.cards.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The text value of `key`, if it is a string.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            HeaderValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses the value field of a card (after `= `); `None` for an empty value.
fn parse_value(field: &str) -> Option<HeaderValue> {
    let field = field.trim_start();
    if let Some(rest) = field.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    break;
                }
            } else {
                out.push(c);
            }
        }
        return Some(HeaderValue::Text(out.trim_end().to_string()));
    }
    let raw = field.split('/').next().unwrap_or_default().trim();
    match raw {
        "" => None,
        "T" => Some(HeaderValue::Flag(true)),
        "F" => Some(HeaderValue::Flag(false)),
        _ => raw
            .replace(['D', 'd'], "E")
            .parse::<f64>()
            .ok()
            .map(HeaderValue::Number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(s: &str) -> String {
        format!("{s:<80}")
    }

    #[test]
    fn reads_cards_until_end() {
        let mut h = String::new();
        h += &card("SIMPLE  =                    T / conforms");
        h += &card("DATE-BEG= '2022-11-09T00:00:58.163' / Start");
        h += &card("NOTE    = 'it''s'");
        h += &card("DSUN_OBS=    89618908751.31683 / [m]");
        h += &card("END");
        let h = format!("{h:<2880}");
        let ph = PrimaryHeader::read(h.as_bytes()).expect("a header");
        assert_eq!(ph.text("DATE-BEG"), Some("2022-11-09T00:00:58.163"));
        assert_eq!(ph.text("NOTE"), Some("it's"));
        assert_eq!(
            ph.get("DSUN_OBS"),
            Some(&HeaderValue::Number(89618908751.31683))
        );
        assert_eq!(ph.get("SIMPLE"), Some(&HeaderValue::Flag(true)));
        assert!(matches!(
            PrimaryHeader::read(&b"hello"[..]),
            Err(HeaderError::NotFits)
        ));
        let no_end = format!("{:<2880}", card("SIMPLE  =                    T"));
        assert!(matches!(
            PrimaryHeader::read(no_end.as_bytes()),
            Err(HeaderError::NoEnd { blocks: 1 })
        ));
    }
}
