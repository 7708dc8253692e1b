//! Files read once per process instead of once per job: the pixel data of science and
//! background files and the aspect files, keyed by row id and checksum, a few of each. User
//! submissions are checked against the data and then imaged from the same copy, so a small
//! reconstruction does not read its files twice.

use crate::storage::Storage;
use crate::store::entities::science_file;
use crate::worker::JobFailure;
use domain::aspect::AspectFile;
use domain::l1::PixelData;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// How many files of each kind stay in memory.
pub const CAPACITY: usize = 6;

type Slot<T> = Mutex<VecDeque<((i64, String), Arc<T>)>>;

/// The process's cache of decoded files.
#[derive(Default)]
pub struct FileCache {
    pixel: Slot<PixelData>,
    aspect: Slot<AspectFile>,
}

impl std::fmt::Debug for FileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileCache")
    }
}

fn get<T>(slot: &Slot<T>, key: &(i64, String)) -> Option<Arc<T>> {
    let mut q = slot.lock().unwrap_or_else(|p| p.into_inner());
    let i = q.iter().position(|(k, _)| k == key)?;
    let item = q.remove(i)?;
    let v = item.1.clone();
    q.push_front(item);
    Some(v)
}

fn put<T>(slot: &Slot<T>, key: (i64, String), v: Arc<T>) {
    let mut q = slot.lock().unwrap_or_else(|p| p.into_inner());
    q.retain(|(k, _)| k != &key);
    q.push_front((key, v));
    q.truncate(CAPACITY);
}

fn bad(code: &str, message: String) -> JobFailure {
    JobFailure::BadInput {
        code: code.to_string(),
        message,
    }
}

impl FileCache {
    /// The pixel data of a stored science or background file.
    pub async fn pixel_data(
        &self,
        storage: &Storage,
        row: &science_file::Model,
    ) -> Result<Arc<PixelData>, JobFailure> {
        let key = (row.id, row.sha256.clone());
        if let Some(v) = get(&self.pixel, &key) {
            return Ok(v);
        }
        let v = Arc::new(crate::pipeline::inputs::read_pixel_data(storage, row).await?);
        put(&self.pixel, key, v.clone());
        Ok(v)
    }

    /// A stored aspect file.
    pub async fn aspect_file(
        &self,
        storage: &Storage,
        row: &science_file::Model,
    ) -> Result<Arc<AspectFile>, JobFailure> {
        let key = (row.id, row.sha256.clone());
        if let Some(v) = get(&self.aspect, &key) {
            return Ok(v);
        }
        let path = crate::pipeline::inputs::stored_file(storage, row).await?;
        let name = row.file_name.clone();
        let read = crate::pipeline::inputs::blocking(move || AspectFile::read(&path))
            .await?
            .map_err(|e| bad("BAD_ASPECT_FILE", format!("{name}: {e}")))?;
        let v = Arc::new(read);
        put(&self.aspect, key, v.clone());
        Ok(v)
    }
}
