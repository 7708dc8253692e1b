//! Opaque, URL-safe global ids (Relay `Node` ids): base64url without padding of
//! `<TypeName>:<key>`, for example `Image:0f8e…` (the image's public UUID) or
//! `Flare:2211111136`. They contain no `/`, `+` or `=`, so download URLs can embed them.
//! One home for the format: resolvers, `node(id)` and the download routes all use it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The object types that have global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// An image; key: its public UUID.
    Image,
    /// A flare; key: the STIX flare id.
    Flare,
    /// A science file; key: `<request uid>:<version>`.
    ScienceFile,
    /// A reconstruction job; key: its public UUID.
    ReconstructionJob,
    /// A user; key: the public UUID.
    User,
    /// An animation; key: its public UUID.
    Animation,
}

impl NodeKind {
    /// The GraphQL type name, which is also the prefix inside the id.
    pub fn type_name(self) -> &'static str {
        match self {
            Self::Image => "Image",
            Self::Flare => "Flare",
            Self::ScienceFile => "ScienceFile",
            Self::ReconstructionJob => "ReconstructionJob",
            Self::User => "User",
            Self::Animation => "Animation",
        }
    }

    fn from_type_name(s: &str) -> Option<Self> {
        [
            Self::Image,
            Self::Flare,
            Self::ScienceFile,
            Self::ReconstructionJob,
            Self::User,
            Self::Animation,
        ]
        .into_iter()
        .find(|k| k.type_name() == s)
    }
}

/// Encodes the global id of the object of `kind` with `key`.
pub fn encode(kind: NodeKind, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{key}", kind.type_name()))
}

/// Decodes a global id into its kind and key; `None` for anything that is not one of ours.
pub fn decode(id: &str) -> Option<(NodeKind, String)> {
    if id.len() > 512 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, key) = text.split_once(':')?;
    if key.is_empty() {
        return None;
    }
    Some((NodeKind::from_type_name(kind)?, key.to_string()))
}

/// Decodes a global id that must be of `kind`; `None` otherwise.
pub fn decode_as(kind: NodeKind, id: &str) -> Option<String> {
    decode(id).and_then(|(k, key)| (k == kind).then_some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_url_safe() {
        for key in [
            "0f8e2b1c-3d4e-4f50-8a6b-7c8d9e0f1a2b",
            "2211111136",
            "2211110002:2",
            "?>>?",
        ] {
            for kind in [NodeKind::Image, NodeKind::ScienceFile, NodeKind::Flare] {
                let id = encode(kind, key);
                assert!(!id.contains(['/', '+', '=']), "{id}");
                assert_eq!(decode(&id), Some((kind, key.to_string())));
                assert_eq!(decode_as(kind, &id).as_deref(), Some(key));
            }
        }
    }

    #[test]
    fn rejects_foreign_ids() {
        assert_eq!(decode("not base64!"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("Nope:1")), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("Image:")), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("..%2f..")), None);
        let img = encode(NodeKind::Image, "x");
        assert_eq!(decode_as(NodeKind::Flare, &img), None);
    }
}
