//! Admin operations over GraphQL: `ingest(paths)` reads only files under the inbox or the
//! configured import root (`STIX__STORAGE__IMPORT_ROOT`), never an arbitrary file of the
//! server, and queues the previews of new flare files; `reprocess(scienceFileUid)` queues a
//! file's previews again with the current settings, the new images superseding the old.

use super::accounts::authn;
use super::error::ApiError;
use super::reconstruction::ReconstructionJob;
use super::scalars::BigInt;
use crate::state::AppState;
use async_graphql::{Context, Enum, Object, SimpleObject};
use jobs::ingest::ProductKind;
use jobs::store::entities::science_file;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::path::{Path, PathBuf};

/// One file of an admin ingest.
#[derive(Debug, Clone, SimpleObject)]
pub struct IngestedFile {
    /// The path given.
    pub path: String,
    /// What became of it.
    pub outcome: IngestOutcome,
    /// Why it was rejected, if it was.
    pub reason: Option<String>,
}

/// What an ingest did with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum IngestOutcome {
    /// Archived for the first time.
    New,
    /// Archived as a newer version of a file already there.
    NewVersion,
    /// The same bytes were already archived; nothing changed.
    AlreadyPresent,
    /// Refused (see `reason`); nothing was stored.
    Rejected,
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
                            jobs::ingest::IngestStatus::New => IngestOutcome::New,
                            jobs::ingest::IngestStatus::AlreadyPresent => {
                                IngestOutcome::AlreadyPresent
                            }
                            jobs::ingest::IngestStatus::NewVersion { .. } => {
                                IngestOutcome::NewVersion
                            }
                        },
                        None,
                    ),
                    Err(r) => (
                        IngestOutcome::Rejected,
                        Some(format!("{}: {}", r.code, r.reason)),
                    ),
                };
                IngestedFile {
                    path: o.path.display().to_string(),
                    outcome,
                    reason,
                }
            })
            .collect();
        Ok(IngestResult {
            files,
            preview_jobs: jobs.len() as i32,
        })
    }

    /// Queues the previews of the latest version of a flare science file again with the
    /// current policy and calibration settings (admins only). Returns the new preview job;
    /// each image it makes records, on the older preview it replaces, `supersededBy`. Old
    /// images stay downloadable. Boxes already imaged with these settings are not redone.
    async fn reprocess(
        &self,
        ctx: &Context<'_>,
        science_file_uid: BigInt,
    ) -> async_graphql::Result<ReconstructionJob> {
        let st = ctx.data::<AppState>()?;
        authn(ctx).admin()?;
        let file = science_file::Entity::find()
            .filter(science_file::Column::RequestUid.eq(science_file_uid.0))
            .filter(science_file::Column::IsLatest.eq(true))
            .filter(science_file::Column::ProductKind.eq(ProductKind::FlarePixelData.as_str()))
            .one(&st.db)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no flare science file with request UID {}",
                    science_file_uid.0
                ))
            })?;
        let job = jobs::pipeline::submit_reprocess(&st.db, &st.queue, &file, &st.preview)
            .await
            .map_err(|e| match e {
                jobs::submit::SubmitError::Db(d) => ApiError::from(d),
                other => ApiError::Internal(other.to_string()),
            })?;
        Ok(job.into())
    }
}
