//! Admin operations over GraphQL: `ingest(paths)` reads only files under the inbox or the
//! configured import root (`STIX__STORAGE__IMPORT_ROOT`), never an arbitrary file of the
//! server, and queues the previews of new flare files.

use super::accounts::authn;
use super::error::ApiError;
use crate::state::AppState;
use async_graphql::{Context, Object, SimpleObject};
use std::path::{Path, PathBuf};

/// One file of an admin ingest.
#[derive(Debug, Clone, SimpleObject)]
pub struct IngestedFile {
    /// The path given.
    pub path: String,
    /// `new`, `new version`, `already present` or `rejected`.
    pub outcome: String,
    /// Why it was rejected, if it was.
    pub reason: Option<String>,
}

/// The result of an admin ingest.
#[derive(Debug, Clone, SimpleObject)]
pub struct IngestResult {
    /// Per file.
    pub files: Vec<IngestedFile>,
    /// Preview jobs queued (or found already queued or done).
    pub preview_jobs: i32,
}

/// `path`, resolved, if it lies under one of `roots` (symbolic links and `..` resolved).
fn allowed(path: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
    let real = path.canonicalize().ok()?;
    roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .any(|r| real.starts_with(&r))
        .then_some(real)
}

/// Admin mutations.
#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Ingests files or directories under the inbox or the import root (admins only) and
    /// queues the previews of new flare files. Any other path: `BAD_USER_INPUT`, nothing read.
    async fn ingest(
        &self,
        ctx: &Context<'_>,
        paths: Vec<String>,
    ) -> async_graphql::Result<IngestResult> {
        let st = ctx.data::<AppState>()?;
        authn(ctx).admin()?;
        if st.import_roots.is_empty() {
            return Err(ApiError::field(
                "paths",
                "no inbox or import root is configured (STIX__STORAGE__IMPORT_ROOT)",
            )
            .into());
        }
        let mut resolved = Vec::new();
        for p in &paths {
            match allowed(Path::new(p), &st.import_roots) {
                Some(r) => resolved.push(r),
                None => {
                    return Err(ApiError::field(
                        "paths",
                        format!("'{p}' is not an existing path under the inbox or import root"),
                    )
                    .into());
                }
            }
        }
        let (report, jobs) =
            crate::archive::ingest_and_queue(st, &st.preview, &resolved, |_, _, _| {})
                .await
                .map_err(ApiError::Internal)?;
        let files = report
            .outcomes
            .iter()
            .map(|o| {
                let (outcome, reason) = match &o.result {
                    Ok(i) => (
                        match i.status {
                            jobs::ingest::IngestStatus::New => "new",
                            jobs::ingest::IngestStatus::AlreadyPresent => "already present",
                            jobs::ingest::IngestStatus::NewVersion { .. } => "new version",
                        },
                        None,
                    ),
                    Err(r) => ("rejected", Some(format!("{}: {}", r.code, r.reason))),
                };
                IngestedFile {
                    path: o.path.display().to_string(),
                    outcome: outcome.to_string(),
                    reason,
                }
            })
            .collect();
        Ok(IngestResult {
            files,
            preview_jobs: jobs.len() as i32,
        })
    }
}
