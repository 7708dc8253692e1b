//! Opaque keyset cursors: base64 of `<time in µs>:<row id>` of the last row of a page.

use async_graphql::connection::CursorType;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jobs::store::pagination::Keyset;

/// A position in a `(time DESC, id DESC)` ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeysetCursor(pub Keyset);

impl KeysetCursor {
    /// The cursor of a row with this sort time and id.
    pub fn new(time: DateTime<Utc>, id: i64) -> Self {
        Self(Keyset { time, id })
    }
}

impl CursorType for KeysetCursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "the cursor is not valid".to_string())?;
        let text = String::from_utf8(bytes).map_err(|_| "the cursor is not valid".to_string())?;
        let (t, id) = text
            .split_once(':')
            .ok_or_else(|| "the cursor is not valid".to_string())?;
        let micros: i64 = t
            .parse()
            .map_err(|_| "the cursor is not valid".to_string())?;
        let id: i64 = id
            .parse()
            .map_err(|_| "the cursor is not valid".to_string())?;
        let time = DateTime::<Utc>::from_timestamp_micros(micros)
            .ok_or_else(|| "the cursor is not valid".to_string())?;
        Ok(Self::new(time, id))
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.0.time.timestamp_micros(), self.0.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let t = DateTime::<Utc>::from_timestamp_micros(1_668_166_616_271_000).unwrap();
        let c = KeysetCursor::new(t, 42);
        assert_eq!(KeysetCursor::decode_cursor(&c.encode_cursor()).unwrap(), c);
        assert!(KeysetCursor::decode_cursor("!!").is_err());
        assert!(KeysetCursor::decode_cursor(&URL_SAFE_NO_PAD.encode("x:y")).is_err());
    }
}
