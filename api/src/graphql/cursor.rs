//! Opaque keyset cursors: base64url of the sort value and row id of a row:
//! `t:<time in µs>:<id>` for time orders, `n:<number>:<id>` for numeric orders (peak counts).
//! Cursors of the first version (`<time in µs>:<id>`) are still read.

use async_graphql::connection::CursorType;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jobs::store::pagination::{Position, SortValue};

/// A position in a keyset ordering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeysetCursor(pub Position);

impl KeysetCursor {
    /// The cursor of a row with this sort time and id.
    pub fn time(time: DateTime<Utc>, id: i64) -> Self {
        Self(Position {
            value: SortValue::Time(time),
            id,
        })
    }

    /// The cursor of a row with this sort number and id.
    pub fn number(x: f64, id: i64) -> Self {
        Self(Position {
            value: SortValue::Number(x),
            id,
        })
    }
}

const INVALID: &str = "the cursor is not valid";

fn parse_time(t: &str) -> Result<DateTime<Utc>, String> {
    let micros: i64 = t.parse().map_err(|_| INVALID.to_string())?;
    DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(|| INVALID.to_string())
}

impl CursorType for KeysetCursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| INVALID.to_string())?;
        let text = String::from_utf8(bytes).map_err(|_| INVALID.to_string())?;
        let parts: Vec<&str> = text.split(':').collect();
        let (value, id) = match parts.as_slice() {
            ["t", t, id] => (SortValue::Time(parse_time(t)?), id),
            ["n", x, id] => {
                let x: f64 = x.parse().map_err(|_| INVALID.to_string())?;
                if !x.is_finite() {
                    return Err(INVALID.to_string());
                }
                (SortValue::Number(x), id)
            }
            [t, id] => (SortValue::Time(parse_time(t)?), id),
            _ => return Err(INVALID.to_string()),
        };
        let id: i64 = id.parse().map_err(|_| INVALID.to_string())?;
        Ok(Self(Position { value, id }))
    }

    fn encode_cursor(&self) -> String {
        let text = match self.0.value {
            SortValue::Time(t) => format!("t:{}:{}", t.timestamp_micros(), self.0.id),
            SortValue::Number(x) => format!("n:{x}:{}", self.0.id),
        };
        URL_SAFE_NO_PAD.encode(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let t = DateTime::<Utc>::from_timestamp_micros(1_668_166_616_271_000).unwrap();
        let c = KeysetCursor::time(t, 42);
        assert_eq!(KeysetCursor::decode_cursor(&c.encode_cursor()).unwrap(), c);
        let n = KeysetCursor::number(12345.5, 7);
        assert_eq!(KeysetCursor::decode_cursor(&n.encode_cursor()).unwrap(), n);
        let old = URL_SAFE_NO_PAD.encode("1668166616271000:42");
        assert_eq!(KeysetCursor::decode_cursor(&old).unwrap(), c);
        assert!(KeysetCursor::decode_cursor("!!").is_err());
        assert!(KeysetCursor::decode_cursor(&URL_SAFE_NO_PAD.encode("x:y")).is_err());
        assert!(KeysetCursor::decode_cursor(&URL_SAFE_NO_PAD.encode("n:NaN:1")).is_err());
    }
}
