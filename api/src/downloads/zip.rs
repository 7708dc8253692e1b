//! `/files/images.zip?ids=…`: a selection of up to [`super::MAX_ZIP_IMAGES`] image FITS files
//! plus `manifest.csv`, streamed. The archive is written by the `zip` crate in stream mode
//! (data descriptors, no seeking) on a blocking thread into a bounded channel that feeds the
//! response body, so at most a few chunks are ever held in memory, whatever the selection.

use super::{ImageFileCache, MAX_ZIP_IMAGES, bad_request, ids, not_found};
use crate::graphql::AppState;
use crate::graphql::global_id::{NodeKind, encode};
use jobs::store::entities::image;
use poem::http::{StatusCode, header};
use poem::web::{Data, Query};
use poem::{Body, IntoResponse, Response, handler};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::io::Write;
use std::sync::Arc;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Bytes per chunk sent to the client, and chunks in flight.
const CHUNK_BYTES: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

/// `?ids=a,b,c` (global ids or raw UUIDs).
#[derive(Debug, serde::Deserialize)]
pub struct ZipQuery {
    ids: Option<String>,
}

/// A `Write` that hands full chunks to the response body through a bounded channel (blocking
/// when the client is slow).
struct ChannelWriter {
    tx: mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// One entry of the selection, in the order asked.
struct Entry {
    row: image::Model,
    files: Arc<super::ImageFiles>,
    /// The FITS file on this process's disk.
    fits_local: std::path::PathBuf,
}

fn manifest_csv(entries: &[Entry], links: &super::Links) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "file_name",
        "image_id",
        "algorithm",
        "energy_low_kev",
        "energy_high_kev",
        "time_start",
        "time_end",
        "center_hpc_x_arcsec",
        "center_hpc_y_arcsec",
        "fits_sha256",
        "fits_url",
    ])?;
    for e in entries {
        let r = &e.row;
        w.write_record([
            e.files.fits_name.clone(),
            encode(NodeKind::Image, &r.public_id.to_string()),
            r.algorithm.clone(),
            r.energy_low_kev.to_string(),
            r.energy_high_kev.to_string(),
            r.time_start.to_rfc3339(),
            r.time_end.to_rfc3339(),
            r.center_hpc_x_arcsec.to_string(),
            r.center_hpc_y_arcsec.to_string(),
            r.fits_sha256.clone(),
            links.image_fits(&r.public_id),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// Writes the archive; runs on a blocking thread.
fn write_zip(
    manifest: Vec<u8>,
    entries: Vec<Entry>,
    out: ChannelWriter,
) -> zip::result::ZipResult<()> {
    let mut z = zip::ZipWriter::new_stream(out);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    z.start_file("manifest.csv", opts)?;
    z.write_all(&manifest)?;
    for e in &entries {
        z.start_file(e.files.fits_name.as_str(), opts)?;
        let mut f = std::fs::File::open(&e.fits_local)?;
        std::io::copy(&mut f, &mut z)?;
    }
    let mut inner = z.finish()?;
    inner.flush()?;
    Ok(())
}

/// `GET /files/images.zip?ids=…`.
#[handler]
pub async fn images_zip(
    Query(q): Query<ZipQuery>,
    state: Data<&AppState>,
    cache: Data<&ImageFileCache>,
) -> Response {
    let list: Vec<&str> = q
        .ids
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if list.is_empty() {
        return bad_request("ids: give one or more image ids, comma-separated".into());
    }
    if list.len() > MAX_ZIP_IMAGES {
        return bad_request(format!(
            "ids: at most {MAX_ZIP_IMAGES} images per archive, got {}",
            list.len()
        ));
    }
    let mut uuids: Vec<Uuid> = Vec::with_capacity(list.len());
    for id in &list {
        match ids::public_uuid(NodeKind::Image, id) {
            Some(u) if !uuids.contains(&u) => uuids.push(u),
            Some(_) => {}
            None => return not_found(),
        }
    }
    let rows = match image::Entity::find()
        .filter(image::Column::PublicId.is_in(uuids.clone()))
        .all(&state.db)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("zip selection lookup failed: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut entries = Vec::with_capacity(uuids.len());
    for u in &uuids {
        let Some(row) = rows.iter().find(|r| r.public_id == *u) else {
            return not_found();
        };
        let Some(files) = cache.get(&state, *u).await else {
            return not_found();
        };
        // Every file on this disk before the stream starts (fetched from S3 storage when
        // needed), so that a missing one is a 404/503, not a truncated archive.
        let fits_local = match super::local_file(&state, &files.fits_path).await {
            Ok(p) => p,
            Err(r) => return r,
        };
        entries.push(Entry {
            row: row.clone(),
            files,
            fits_local,
        });
    }
    let manifest = match manifest_csv(&entries, &state.links) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("manifest failed: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let err_tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let out = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK_BYTES),
        };
        if let Err(e) = write_zip(manifest, entries, out) {
            tracing::warn!("zip stream stopped: {e}");
            let _ = err_tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let body = Body::from_bytes_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let name = format!(
        "stix-images-{}.zip",
        chrono::Utc::now().format("%Y%m%dT%H%M%S")
    );
    Response::builder()
        .content_type("application/zip")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(body)
}
