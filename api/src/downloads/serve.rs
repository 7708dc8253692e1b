//! One HTTP answer for a stored file or a rendered text: `Content-Type`,
//! `Content-Disposition` with the real file name, a strong `ETag` from the SHA-256
//! (`If-None-Match` → 304), single byte ranges (206 / 416) and `HEAD` (poem answers `HEAD`
//! with the `GET` handler and drops the body). Files are streamed from disk, never read whole.

use poem::http::{HeaderMap, StatusCode, header};
use poem::web::headers::{HeaderMapExt, Range};
use poem::{Body, Response};
use std::ops::Bound;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// What a download is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// `application/fits`.
    Fits,
    /// `image/png`.
    Png,
    /// `image/gif`.
    Gif,
    /// `text/x-python`.
    Python,
    /// `text/plain` (the IDL procedure).
    Idl,
    /// `application/zip`.
    Zip,
}

impl ContentKind {
    /// The `Content-Type` value.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Fits => "application/fits",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Python => "text/x-python; charset=utf-8",
            Self::Idl => "text/plain; charset=utf-8",
            Self::Zip => "application/zip",
        }
    }
}

/// Identity of one downloadable representation.
#[derive(Debug, Clone)]
pub struct Entity<'a> {
    /// The file name offered to the client.
    pub file_name: &'a str,
    /// SHA-256 of the bytes, hex (the strong ETag).
    pub sha256: &'a str,
    /// The type.
    pub kind: ContentKind,
}

impl Entity<'_> {
    fn etag(&self) -> String {
        format!("\"{}\"", self.sha256)
    }

    /// True when `If-None-Match` names this entity (or `*`).
    fn not_modified(&self, headers: &HeaderMap) -> bool {
        let etag = self.etag();
        headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag)
    }

    fn base(&self, status: StatusCode) -> poem::ResponseBuilder {
        // Quotes and backslashes cannot appear in our names, but be strict anyway.
        let name: String = self
            .file_name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' && c != '\\' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Response::builder()
            .status(status)
            .header(header::ETAG, self.etag())
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::CACHE_CONTROL, "public, max-age=3600")
            .header(
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            )
    }
}

/// The byte range asked for, resolved against `len`: `Ok(None)` for the whole entity,
/// `Err(())` when the range cannot be satisfied (416).
fn requested_range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(range) = headers.typed_get::<Range>() else {
        return Ok(None);
    };
    let Some((start, end)) = range.satisfiable_ranges(len).next() else {
        return Err(());
    };
    let start = match start {
        Bound::Included(n) => n,
        Bound::Excluded(n) => n + 1,
        Bound::Unbounded => 0,
    };
    let end = match end {
        Bound::Included(n) => n + 1,
        Bound::Excluded(n) => n,
        Bound::Unbounded => len,
    };
    if start >= end || end > len {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn unsatisfiable(len: u64) -> Response {
    Response::builder()
        .status(StatusCode::RANGE_NOT_SATISFIABLE)
        .header(header::CONTENT_RANGE, format!("bytes */{len}"))
        .finish()
}

/// Streams the file at `path` as `entity`; `None` when the file cannot be opened (the caller
/// answers 404 and logs it: a row whose file is gone).
pub async fn file(path: &Path, entity: &Entity<'_>, headers: &HeaderMap) -> Option<Response> {
    if entity.not_modified(headers) {
        return Some(entity.base(StatusCode::NOT_MODIFIED).finish());
    }
    let mut f = tokio::fs::File::open(path).await.ok()?;
    let len = f.metadata().await.ok()?.len();
    let (status, start, end) = match requested_range(headers, len) {
        Ok(None) => (StatusCode::OK, 0, len),
        Ok(Some((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e),
        Err(()) => return Some(unsatisfiable(len)),
    };
    if start > 0 {
        f.seek(std::io::SeekFrom::Start(start)).await.ok()?;
    }
    let mut b = entity
        .base(status)
        .content_type(entity.kind.mime())
        .header(header::CONTENT_LENGTH, end - start);
    if status == StatusCode::PARTIAL_CONTENT {
        b = b.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{len}", end - 1),
        );
    }
    Some(b.body(Body::from_async_read(f.take(end - start))))
}

/// Answers with bytes held in memory (rendered scripts, GIFs) as `entity`.
pub fn bytes(data: Vec<u8>, entity: &Entity<'_>, headers: &HeaderMap) -> Response {
    if entity.not_modified(headers) {
        return entity.base(StatusCode::NOT_MODIFIED).finish();
    }
    let len = data.len() as u64;
    let (status, start, end) = match requested_range(headers, len) {
        Ok(None) => (StatusCode::OK, 0, len),
        Ok(Some((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e),
        Err(()) => return unsatisfiable(len),
    };
    let mut b = entity
        .base(status)
        .content_type(entity.kind.mime())
        .header(header::CONTENT_LENGTH, end - start);
    if status == StatusCode::PARTIAL_CONTENT {
        b = b.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{len}", end - 1),
        );
    }
    let body = if status == StatusCode::PARTIAL_CONTENT {
        data[start as usize..end as usize].to_vec()
    } else {
        data
    };
    b.body(body)
}

/// SHA-256 of `data`, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
