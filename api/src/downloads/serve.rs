//! One HTTP answer for a stored file or a rendered text: `Content-Type`,
//! `Content-Disposition` with the real file name, a strong `ETag` from the SHA-256
//! (`If-None-Match` → 304), single byte ranges (206 / 416) and `HEAD` (poem answers `HEAD`
//! with the `GET` handler and drops the body). Files are streamed from disk, never read whole.

use poem::http::{HeaderMap, StatusCode, header};
use poem::web::headers::{HeaderMapExt, Range};
use poem::{Body, Response};
use std::ops::Bound;
use std::path::Path;

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

/// Bytes read from a file per step of a download stream (one blocking-pool hop each): a
/// preview FITS file (≈ 70–300 kB) goes out in one or two steps, where tokio's default 4 kB
/// reads took dozens of hops and capped a download at ≈ 800 requests/s.
const CHUNK_BYTES: u64 = 256 * 1024;

/// An open file and how much of it is still to be sent.
struct Reading {
    file: std::fs::File,
    left: u64,
}

/// Reads the next chunk off the async runtime; `None` at the end.
async fn next_chunk(mut r: Reading) -> std::io::Result<Option<(Vec<u8>, Reading)>> {
    if r.left == 0 {
        return Ok(None);
    }
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let want = r.left.min(CHUNK_BYTES) as usize;
        let mut buf = vec![0u8; want];
        r.file.read_exact(&mut buf)?;
        r.left -= want as u64;
        Ok(Some((buf, r)))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Streams the file at `path` as `entity`, in chunks of [`CHUNK_BYTES`]; `None` when the file
/// cannot be opened (the caller answers 404 and logs it: a row whose file is gone).
pub async fn file(path: &Path, entity: &Entity<'_>, headers: &HeaderMap) -> Option<Response> {
    if entity.not_modified(headers) {
        return Some(entity.base(StatusCode::NOT_MODIFIED).finish());
    }
    let owned = path.to_path_buf();
    let (f, len) = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&owned)?;
        let len = f.metadata()?.len();
        Ok::<_, std::io::Error>((f, len))
    })
    .await
    .ok()?
    .ok()?;
    let (status, start, end) = match requested_range(headers, len) {
        Ok(None) => (StatusCode::OK, 0, len),
        Ok(Some((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e),
        Err(()) => return Some(unsatisfiable(len)),
    };
    let mut f = f;
    if start > 0 {
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(start)).ok()?;
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
    let chunks = futures::stream::try_unfold(
        Reading {
            file: f,
            left: end - start,
        },
        next_chunk,
    );
    Some(
        b.body(Body::from_bytes_stream(futures::TryStreamExt::map_ok(
            chunks,
            bytes::Bytes::from,
        ))),
    )
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
