//! Parsing the last path segment of a download (`{id}.{ext}`): ids only, never paths. A
//! segment that is not exactly an id of the right kind (global id or raw UUID) plus one of
//! the allowed extensions is refused, so `..`, encoded slashes and the like all end in 404.

use crate::graphql::global_id::{NodeKind, decode_as};
use uuid::Uuid;

/// Splits `segment` into its id and extension, the extension being one of `allowed`.
pub fn split<'a>(segment: &'a str, allowed: &[&'static str]) -> Option<(&'a str, &'static str)> {
    let (id, ext) = segment.rsplit_once('.')?;
    let ext = allowed.iter().find(|e| **e == ext)?;
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return None;
    }
    Some((id, ext))
}

/// The public UUID behind `id`: a global id of `kind` or the raw UUID itself.
pub fn public_uuid(kind: NodeKind, id: &str) -> Option<Uuid> {
    if let Ok(u) = Uuid::parse_str(id)
        && id.len() == 36
    {
        return Some(u);
    }
    Uuid::parse_str(&decode_as(kind, id)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::global_id::encode;

    #[test]
    fn ids_only() {
        let u = Uuid::new_v4();
        let g = encode(NodeKind::Image, &u.to_string());
        let seg = format!("{g}.fits");
        let (id, ext) = split(&seg, &["fits", "png"]).unwrap();
        assert_eq!((public_uuid(NodeKind::Image, id), ext), (Some(u), "fits"));
        let raw = format!("{u}.png");
        let (id, _) = split(&raw, &["fits", "png"]).unwrap();
        assert_eq!(public_uuid(NodeKind::Image, id), Some(u));
        for bad in [
            "../x.fits",
            "..%2f..%2fetc%2fpasswd",
            "a/b.fits",
            ".fits",
            "x.exe",
            "%2e%2e.fits",
        ] {
            let ok = split(bad, &["fits"]).and_then(|(id, _)| public_uuid(NodeKind::Image, id));
            assert_eq!(ok, None, "{bad}");
        }
        // A global id of another kind is not an image id.
        let flare = encode(NodeKind::Flare, &u.to_string());
        assert_eq!(public_uuid(NodeKind::Image, &flare), None);
    }
}
