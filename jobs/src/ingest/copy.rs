//! Atomic copies into the data directory: the bytes go to a hidden temporary file in the
//! target directory (hashed on the way), are flushed to disk, checked against the checksum
//! taken at classification, and only then renamed to the final name. A crash never leaves a
//! half-written file under a final name.

use super::IngestRejection;
use super::classify::sha256_file;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

/// Where a file was stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredCopy {
    /// Path relative to the data directory, `/`-separated.
    pub relative: String,
    /// True when this call created the file (so a failed registration removes it).
    pub created: bool,
}

fn io_reject(what: &str, path: &Path, e: std::io::Error) -> IngestRejection {
    IngestRejection {
        code: "storage_error",
        reason: format!("cannot {what} {}: {e}", path.display()),
    }
}

/// The names a copy may get, in order: the file's own name, then
/// `<stem>.<first 16 hex of sha256>.<ext>`.
pub(crate) fn candidate_names(file_name: &str, sha256: &str) -> [String; 2] {
    let alt_name = match file_name.split_once('.') {
        Some((stem, ext)) => format!("{stem}.{}.{ext}", &sha256[..16.min(sha256.len())]),
        None => format!("{file_name}.{}", &sha256[..16.min(sha256.len())]),
    };
    [file_name.to_string(), alt_name]
}

/// `rel_dir/name`, `/`-separated (the form the database stores).
pub(crate) fn relative(rel_dir: &Path, name: &str) -> String {
    let mut parts: Vec<String> = rel_dir
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.push(name.to_string());
    parts.join("/")
}

/// Copies `source` (whose SHA-256 is `sha256`) to `data_dir/rel_dir/file_name`. An existing
/// identical file there is reused; a different file of the same name is kept and the copy
/// gets the name `<stem>.<first 16 hex of sha256>.<ext>`.
pub(crate) fn store_copy(
    source: &Path,
    data_dir: &Path,
    rel_dir: &Path,
    file_name: &str,
    sha256: &str,
) -> Result<StoredCopy, IngestRejection> {
    let dir = data_dir.join(rel_dir);
    std::fs::create_dir_all(&dir).map_err(|e| io_reject("create the directory", &dir, e))?;
    let [_, alt_name] = candidate_names(file_name, sha256);
    let rel_str = |name: &str| relative(rel_dir, name);
    for name in [file_name, alt_name.as_str()] {
        let target = dir.join(name);
        if target.exists() {
            let (existing, _) = sha256_file(&target).map_err(|e| io_reject("read", &target, e))?;
            if existing == sha256 {
                return Ok(StoredCopy {
                    relative: rel_str(name),
                    created: false,
                });
            }
            continue;
        }
        copy_atomically(source, &target, sha256)?;
        return Ok(StoredCopy {
            relative: rel_str(name),
            created: true,
        });
    }
    Err(IngestRejection {
        code: "storage_error",
        reason: format!(
            "{} and {alt_name} already exist in {} with other content",
            file_name,
            dir.display()
        ),
    })
}

fn copy_atomically(source: &Path, target: &Path, sha256: &str) -> Result<(), IngestRejection> {
    let name = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.{}.part", ulid::Ulid::generate()));
    let result = (|| {
        let mut src = std::fs::File::open(source).map_err(|e| io_reject("open", source, e))?;
        let mut out = std::fs::File::create(&tmp).map_err(|e| io_reject("create", &tmp, e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = src
                .read(&mut buf)
                .map_err(|e| io_reject("read", source, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| io_reject("write", &tmp, e))?;
        }
        out.sync_all().map_err(|e| io_reject("flush", &tmp, e))?;
        drop(out);
        let copied = hex::encode(h.finalize());
        if copied != sha256 {
            return Err(IngestRejection {
                code: "changed_during_ingest",
                reason: format!(
                    "{} changed while it was being ingested (checksum differs)",
                    source.display()
                ),
            });
        }
        std::fs::rename(&tmp, target).map_err(|e| io_reject("rename into", target, e))?;
        if let Some(dir) = target.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            // Best effort: persist the rename itself.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
