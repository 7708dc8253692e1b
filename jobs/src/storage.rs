//! Where the archive's files live: ingested L1/aux files, FITS/PNG products and animation
//! GIFs, each named by a path relative to the data directory (the paths the database rows
//! hold). Two backends behind one small interface:
//!
//! - **local** (the default): the data directory is the archive; [`Storage::publish`] does
//!   nothing and [`Storage::local_path`] is the join.
//! - **S3** (`STIX__STORAGE__URL=s3://bucket/prefix`, through `object_store`): the bucket is
//!   the shared truth of several processes on several machines, and each process's data
//!   directory is its working copy. Writers write the file locally as before (atomically
//!   renamed into place), then [`Storage::publish`] uploads it with one `PUT` (object stores
//!   make an object visible only once complete); the database row is written only after
//!   that succeeded. Readers that need a file on disk (cfitsio opens by path) call
//!   [`Storage::local_path`], which downloads a missing file into the data directory (to a
//!   temporary name, then renamed). Files are immutable once written, so a local copy is
//!   never stale. [`Storage::delete`] removes both copies on the cleanup paths after a
//!   failed insert, so that no object is orphaned.
//!
//! Objects are created, never overwritten: `publish` asks for "create only" and accepts an
//! existing object only when it holds the same bytes (a retried upload, or a concurrent
//! ingest of the same file).

use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The file is neither in the data directory nor in the object store.
    #[error("{0} is not in storage")]
    NotFound(String),
    /// The relative path is not a plain relative path.
    #[error("refusing the stored path {0:?}")]
    BadPath(String),
    /// An object of that name already exists with other bytes.
    #[error("{0} already exists in the object store with other content")]
    Conflict(String),
    /// The data directory could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The local path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The object store failed or cannot be reached.
    #[error("object store {url}: {message}")]
    Remote {
        /// `s3://bucket/prefix`.
        url: String,
        /// The cause.
        message: String,
    },
    /// The storage settings are unusable.
    #[error("{0}")]
    Config(String),
}

/// Settings of the S3 backend (see README, `[storage]`). Empty strings mean "not set": the
/// standard `AWS_*` environment variables are then used, through
/// `AmazonS3Builder::from_env()`.
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// Endpoint of an S3-compatible server (MinIO, Ceph, moto, …); empty: AWS.
    pub endpoint: String,
    /// Region; empty: `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: String,
    /// Access key id; empty: `AWS_ACCESS_KEY_ID` (or instance credentials).
    pub access_key_id: String,
    /// Secret access key; empty: `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// Allow `http://` endpoints (local S3-compatible servers).
    pub allow_http: bool,
}

#[derive(Debug)]
struct Remote {
    store: AmazonS3,
    /// Key prefix inside the bucket (may be empty).
    prefix: String,
    /// `s3://bucket/prefix`, for messages.
    url: String,
}

#[derive(Debug)]
struct Inner {
    data_dir: PathBuf,
    remote: Option<Remote>,
}

/// The archive's files: the data directory, and the shared object store when configured.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

impl From<PathBuf> for Storage {
    fn from(data_dir: PathBuf) -> Self {
        Storage::local(data_dir)
    }
}

impl From<&Path> for Storage {
    fn from(data_dir: &Path) -> Self {
        Storage::local(data_dir.to_path_buf())
    }
}

/// `rel` as a path below the data directory, if it is a plain relative path.
pub fn checked_relative(rel: &str) -> Result<&Path, StorageError> {
    let p = Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(StorageError::BadPath(rel.to_string()));
    }
    Ok(p)
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.display().to_string();
    move |source| StorageError::Io { what, path, source }
}

/// Parses `s3://bucket[/prefix]` into the bucket and the prefix (no slashes at its ends).
pub fn parse_s3_url(url: &str) -> Result<(String, String), StorageError> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        StorageError::Config(format!(
            "STIX__STORAGE__URL must be empty (local data directory) or s3://bucket[/prefix], not {url:?}"
        ))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(StorageError::Config(format!(
            "STIX__STORAGE__URL {url:?} names no bucket"
        )));
    }
    let prefix = prefix.trim_matches('/').to_string();
    if prefix.split('/').any(|p| p == "." || p == "..") {
        return Err(StorageError::Config(format!(
            "STIX__STORAGE__URL {url:?}: the prefix may not contain . or .."
        )));
    }
    Ok((bucket.to_string(), prefix))
}

impl Storage {
    /// The local backend: files live in `data_dir` only.
    pub fn local(data_dir: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                data_dir,
                remote: None,
            }),
        }
    }

    /// The S3 backend with `data_dir` as this process's working copy. Nothing is contacted
    /// yet (see [`Storage::check`]).
    pub fn s3(data_dir: PathBuf, cfg: &S3Config) -> Result<Self, StorageError> {
        let (bucket, prefix) = parse_s3_url(&cfg.url)?;
        let mut b = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        if !cfg.endpoint.is_empty() {
            b = b.with_endpoint(&cfg.endpoint);
        }
        if !cfg.region.is_empty() {
            b = b.with_region(&cfg.region);
        }
        if !cfg.access_key_id.is_empty() {
            b = b.with_access_key_id(&cfg.access_key_id);
        }
        if !cfg.secret_access_key.is_empty() {
            b = b.with_secret_access_key(&cfg.secret_access_key);
        }
        if cfg.allow_http {
            b = b.with_allow_http(true);
        }
        // A few quick retries: a request stuck for minutes helps nobody (jobs retry on their
        // own; downloads answer 503).
        b = b.with_retry(object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            ..Default::default()
        });
        let store = b.build().map_err(|e| {
            StorageError::Config(format!(
                "S3 storage {}: {e} (see [storage] in README)",
                cfg.url
            ))
        })?;
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        Ok(Self {
            inner: Arc::new(Inner {
                data_dir,
                remote: Some(Remote { store, prefix, url }),
            }),
        })
    }

    /// The data directory (the archive itself on the local backend, the working copy on S3).
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// `s3://bucket/prefix` when the files are shared through an object store.
    pub fn remote_url(&self) -> Option<&str> {
        self.inner.remote.as_ref().map(|r| r.url.as_str())
    }

    /// `local <dir>` or `s3://bucket/prefix (working copy <dir>)`, for logs.
    pub fn describe(&self) -> String {
        match &self.inner.remote {
            None => format!("local {}", self.data_dir().display()),
            Some(r) => format!("{} (working copy {})", r.url, self.data_dir().display()),
        }
    }

    /// `data_dir/rel` without touching anything (the path is checked).
    pub fn join(&self, rel: &str) -> Result<PathBuf, StorageError> {
        Ok(self.data_dir().join(checked_relative(rel)?))
    }

    fn key(r: &Remote, rel: &str) -> ObjectPath {
        let full = if r.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", r.prefix)
        };
        ObjectPath::from(full)
    }

    fn remote_err(r: &Remote, e: impl std::fmt::Display) -> StorageError {
        StorageError::Remote {
            url: r.url.clone(),
            message: e.to_string(),
        }
    }

    /// Makes the file `data_dir/rel` (complete, renamed into place) visible to every process.
    /// Returns whether this call created the object (false on the local backend and when an
    /// object with the same bytes was already there). The caller writes its database row
    /// only after this succeeded.
    pub async fn publish(&self, rel: &str) -> Result<bool, StorageError> {
        let Some(r) = &self.inner.remote else {
            return Ok(false);
        };
        let path = self.join(rel)?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(io("cannot read", &path))?;
        let key = Self::key(r, rel);
        let started = std::time::Instant::now();
        let size = bytes.len();
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match r.store.put_opts(&key, PutPayload::from(bytes), opts).await {
            Ok(_) => {
                tracing::debug!(
                    rel,
                    size,
                    ms = started.elapsed().as_millis() as u64,
                    "published"
                );
                crate::metrics::storage_upload(started.elapsed());
                Ok(true)
            }
            Err(object_store::Error::AlreadyExists { .. }) => {
                // Someone published this name first: fine if it is the same file.
                let ours = {
                    let p = path.clone();
                    tokio::task::spawn_blocking(move || crate::pipeline::render::sha256_file(&p))
                        .await
                        .map_err(|e| Self::remote_err(r, e))?
                        .map_err(io("cannot read", &path))?
                };
                let theirs = r
                    .store
                    .get(&key)
                    .await
                    .map_err(|e| Self::remote_err(r, e))?
                    .bytes()
                    .await
                    .map_err(|e| Self::remote_err(r, e))?;
                if hex::encode(Sha256::digest(&theirs)) == ours {
                    Ok(false)
                } else {
                    Err(StorageError::Conflict(rel.to_string()))
                }
            }
            Err(e) => Err(Self::remote_err(r, e)),
        }
    }

    /// `data_dir/rel` on disk, downloaded from the object store first when it is not there
    /// yet. On the local backend this is the join (whether the file exists or not: readers
    /// report a missing file themselves).
    pub async fn local_path(&self, rel: &str) -> Result<PathBuf, StorageError> {
        let path = self.join(rel)?;
        let Some(r) = &self.inner.remote else {
            return Ok(path);
        };
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(path);
        }
        let key = Self::key(r, rel);
        let got = match r.store.get(&key).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StorageError::NotFound(rel.to_string()));
            }
            Err(e) => return Err(Self::remote_err(r, e)),
        };
        let dir = path.parent().unwrap_or(self.data_dir()).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io("cannot create", &dir))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.{}.fetch", ulid::Ulid::generate()));
        let fetched = async {
            let mut out = tokio::fs::File::create(&tmp)
                .await
                .map_err(io("cannot create", &tmp))?;
            let mut stream = got.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Self::remote_err(r, e))?;
                out.write_all(&chunk)
                    .await
                    .map_err(io("cannot write", &tmp))?;
            }
            out.sync_all().await.map_err(io("cannot flush", &tmp))?;
            drop(out);
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(io("cannot rename into", &path))
        }
        .await;
        if fetched.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        fetched.map(|()| path)
    }

    /// Removes the file from the data directory only (the object, if any, stays).
    pub async fn remove_local(&self, rel: &str) -> Result<(), StorageError> {
        let path = self.join(rel)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("cannot remove", &path)(e)),
        }
    }

    /// Removes the file everywhere: the local copy and the object. Used on the cleanup paths
    /// after a failed insert, for files no row points at. A missing file is not an error.
    pub async fn delete(&self, rel: &str) -> Result<(), StorageError> {
        self.remove_local(rel).await?;
        if let Some(r) = &self.inner.remote {
            match r.store.delete(&Self::key(r, rel)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(Self::remote_err(r, e)),
            }
        }
        Ok(())
    }

    /// [`Storage::delete`] for cleanup paths, where a failure is only logged.
    pub async fn discard(&self, rel: &str) {
        if let Err(e) = self.delete(rel).await {
            tracing::warn!(rel, error = %e, "could not remove a file no row points at");
        }
    }

    /// Readiness: the data directory accepts a write and, on S3, the bucket answers a
    /// listing (reachable, credentials accepted, bucket present).
    pub async fn check(&self) -> Result<(), StorageError> {
        let dir = self.data_dir().to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<(), StorageError> {
            let unwritable = |source| StorageError::Io {
                what: "data directory is not writable:",
                path: dir.display().to_string(),
                source,
            };
            std::fs::create_dir_all(&dir).map_err(unwritable)?;
            let probe = dir.join(format!(".write-probe-{}", std::process::id()));
            std::fs::write(&probe, b"ok").map_err(unwritable)?;
            std::fs::remove_file(&probe).map_err(unwritable)
        })
        .await
        .map_err(|e| StorageError::Config(format!("storage check aborted: {e}")))??;
        if let Some(r) = &self.inner.remote {
            let prefix = (!r.prefix.is_empty()).then(|| ObjectPath::from(r.prefix.as_str()));
            r.store
                .list_with_delimiter(prefix.as_ref())
                .await
                .map_err(|e| Self::remote_err(r, e))?;
        }
        Ok(())
    }

    /// The relative paths of every object under the prefix (tests and operators' checks).
    pub async fn list_objects(&self) -> Result<Vec<String>, StorageError> {
        self.list_objects_under("").await
    }

    /// The relative paths of the objects under `rel_dir` (a `/`-separated directory relative
    /// to the data directory; `""`: all); none on the local backend.
    pub async fn list_objects_under(&self, rel_dir: &str) -> Result<Vec<String>, StorageError> {
        let Some(r) = &self.inner.remote else {
            return Ok(Vec::new());
        };
        let full = [r.prefix.as_str(), rel_dir.trim_matches('/')]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        let prefix = (!full.is_empty()).then(|| ObjectPath::from(full.as_str()));
        let mut out = Vec::new();
        let mut s = r.store.list(prefix.as_ref());
        while let Some(m) = s.next().await {
            let m = m.map_err(|e| Self::remote_err(r, e))?;
            let key = m.location.to_string();
            let rel = if r.prefix.is_empty() {
                key
            } else {
                key.strip_prefix(&format!("{}/", r.prefix))
                    .unwrap_or(&key)
                    .to_string()
            };
            out.push(rel);
        }
        out.sort();
        Ok(out)
    }
}

/// Every file under `root`, recursively (absolute paths, in no particular order); nothing when
/// `root` does not exist.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(
            parse_s3_url("s3://b").unwrap(),
            ("b".to_string(), String::new())
        );
        assert_eq!(
            parse_s3_url("s3://b/x/y/").unwrap(),
            ("b".to_string(), "x/y".to_string())
        );
        assert!(parse_s3_url("http://b").is_err());
        assert!(parse_s3_url("s3:///x").is_err());
        assert!(parse_s3_url("s3://b/../x").is_err());
    }

    #[test]
    fn relative_paths_are_checked() {
        assert!(checked_relative("files/a.fits").is_ok());
        assert!(checked_relative("").is_err());
        assert!(checked_relative("/etc/passwd").is_err());
        assert!(checked_relative("files/../../x").is_err());
    }

    #[tokio::test]
    async fn local_backend_is_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::local(dir.path().to_path_buf());
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/b.txt"), b"x").unwrap();
        assert!(!s.publish("a/b.txt").await.unwrap());
        assert_eq!(
            s.local_path("a/b.txt").await.unwrap(),
            dir.path().join("a/b.txt")
        );
        s.check().await.unwrap();
        s.delete("a/b.txt").await.unwrap();
        assert!(!dir.path().join("a/b.txt").exists());
        s.delete("a/b.txt").await.unwrap();
        assert!(s.local_path("../x").await.is_err());
    }
}
