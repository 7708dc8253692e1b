//! Absolute links to downloads and scripts, built from `STIX__SERVER__PUBLIC_URL` (or, when it
//! is empty, from the bound address). Every URL embeds the object's global id
//! (`graphql::global_id`), never a path.

use crate::graphql::global_id::{NodeKind, encode};
use std::sync::Arc;
use uuid::Uuid;

/// The public base URL of this service, without a trailing slash.
#[derive(Debug, Clone)]
pub struct Links {
    base: Arc<str>,
}

impl Default for Links {
    fn default() -> Self {
        Self::from_base("http://127.0.0.1:8000")
    }
}

impl Links {
    /// Links under `base` (e.g. `https://stix.example.org/archive`).
    pub fn from_base(base: &str) -> Self {
        Self {
            base: Arc::from(base.trim_end_matches('/')),
        }
    }

    /// `public_url` when set, else `http://<bind host>:<port>`: `0.0.0.0` and `[::]` become
    /// loopback, and `port` replaces the port of `bind` (the port actually bound; port 0 in
    /// `bind` means "pick one").
    pub fn from_settings(public_url: &str, bind: &str, port: Option<u16>) -> Self {
        if !public_url.trim().is_empty() {
            return Self::from_base(public_url.trim());
        }
        let (host, bind_port) = bind.rsplit_once(':').unwrap_or((bind, "8000"));
        let host = match host {
            "" | "0.0.0.0" => "127.0.0.1",
            "[::]" => "[::1]",
            h => h,
        };
        let port = port.map(|p| p.to_string()).unwrap_or(bind_port.to_string());
        Self::from_base(&format!("http://{host}:{port}"))
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn image_id(public_id: &Uuid) -> String {
        encode(NodeKind::Image, &public_id.to_string())
    }

    /// `/files/images/{id}.fits`.
    pub fn image_fits(&self, public_id: &Uuid) -> String {
        format!(
            "{}/files/images/{}.fits",
            self.base,
            Self::image_id(public_id)
        )
    }

    /// `/files/images/{id}.png`.
    pub fn image_png(&self, public_id: &Uuid) -> String {
        format!(
            "{}/files/images/{}.png",
            self.base,
            Self::image_id(public_id)
        )
    }

    /// `/scripts/images/{id}.py`.
    pub fn image_python(&self, public_id: &Uuid) -> String {
        format!(
            "{}/scripts/images/{}.py",
            self.base,
            Self::image_id(public_id)
        )
    }

    /// `/scripts/images/{id}.pro`.
    pub fn image_idl(&self, public_id: &Uuid) -> String {
        format!(
            "{}/scripts/images/{}.pro",
            self.base,
            Self::image_id(public_id)
        )
    }

    /// `/files/science/{uid}.fits?version=N` (the version is always given, so the link keeps
    /// pointing at this very file when a newer version arrives).
    pub fn science_file(&self, request_uid: i64, version: i32) -> String {
        format!(
            "{}/files/science/{request_uid}.fits?version={version}",
            self.base
        )
    }

    /// `/files/images.zip?ids=…` for a selection of images.
    pub fn images_zip(&self, public_ids: &[Uuid]) -> String {
        let ids: Vec<String> = public_ids.iter().map(Self::image_id).collect();
        format!("{}/files/images.zip?ids={}", self.base, ids.join(","))
    }

    fn animation_id(public_id: &Uuid) -> String {
        encode(NodeKind::Animation, &public_id.to_string())
    }

    /// `/files/animations/{id}.gif`.
    pub fn animation_gif(&self, public_id: &Uuid) -> String {
        format!(
            "{}/files/animations/{}.gif",
            self.base,
            Self::animation_id(public_id)
        )
    }

    /// `/scripts/animations/{id}.py`.
    pub fn animation_python(&self, public_id: &Uuid) -> String {
        format!(
            "{}/scripts/animations/{}.py",
            self.base,
            Self::animation_id(public_id)
        )
    }

    /// `/scripts/overlays/{base id}.py?contours=a,b&levels=30,50` (the selection is in the
    /// URL, so the link is stable without storing anything).
    pub fn overlay_python(&self, base: &Uuid, contours: &[Uuid], levels_percent: &[f64]) -> String {
        let ids: Vec<String> = contours.iter().map(Self::image_id).collect();
        let levels: Vec<String> = levels_percent.iter().map(|l| l.to_string()).collect();
        format!(
            "{}/scripts/overlays/{}.py?contours={}&levels={}",
            self.base,
            Self::image_id(base),
            ids.join(","),
            levels.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_from_settings() {
        let l = Links::from_settings("", "127.0.0.1:0", Some(41234));
        assert_eq!(l.base(), "http://127.0.0.1:41234");
        let l = Links::from_settings("", "0.0.0.0:8000", None);
        assert_eq!(l.base(), "http://127.0.0.1:8000");
        let l = Links::from_settings("https://stix.example.org/a/", "0.0.0.0:8000", Some(1));
        assert_eq!(l.base(), "https://stix.example.org/a");
        let id = Uuid::nil();
        assert!(
            l.image_fits(&id)
                .starts_with("https://stix.example.org/a/files/images/")
        );
        assert!(l.image_fits(&id).ends_with(".fits"));
    }
}
