//! The query root: the archive's flares, science files and images as Relay connections with
//! keyset cursors (forward pagination with `first`/`after`, `first` capped at 100).

use super::AppState;
use super::cursor::KeysetCursor;
use super::error::ApiError;
use super::scalars::BigInt;
use super::types::{Flare, Image, ScienceFile};
use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use jobs::store::entities::{flare, image, science_file};
use jobs::store::pagination::{Keyset, keyset_page};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

/// Largest page a client may ask for.
pub const MAX_PAGE: i32 = 100;
/// Page size when `first` is not given.
pub const DEFAULT_PAGE: i32 = 20;

/// Fields every connection has besides edges and pageInfo.
#[derive(Debug, Clone, SimpleObject)]
pub struct ConnectionTotals {
    /// Items matching the filter, on all pages.
    pub total_count: i64,
}

/// A page of some node type.
pub type Page<T> = Connection<KeysetCursor, T, ConnectionTotals>;

/// Checks `first` and `after`: `first` defaults to 20 and is capped at 100.
pub(crate) fn page_args(
    first: Option<i32>,
    after: Option<String>,
) -> Result<(u64, Option<Keyset>), ApiError> {
    let first = first.unwrap_or(DEFAULT_PAGE);
    if first < 0 {
        return Err(ApiError::BadUserInput(format!(
            "first must be ≥ 0, got {first}"
        )));
    }
    let after = match after {
        Some(s) => Some(
            KeysetCursor::decode_cursor(&s)
                .map_err(|e| ApiError::BadUserInput(format!("after: {e}")))?
                .0,
        ),
        None => None,
    };
    Ok((first.min(MAX_PAGE) as u64, after))
}

/// Runs a filtered query as one keyset page (`(time DESC, id DESC)`) and wraps it as a Relay
/// connection; `key` gives a row's sort time and id (its cursor).
pub(crate) async fn paginate<E, T>(
    db: &sea_orm::DatabaseConnection,
    q: Select<E>,
    (time_col, id_col): (E::Column, E::Column),
    (first, after): (u64, Option<Keyset>),
    key: impl Fn(&E::Model) -> (DateTime<Utc>, i64),
) -> Result<Page<T>, ApiError>
where
    E: EntityTrait,
    E::Model: Sync,
    T: From<E::Model> + async_graphql::OutputType,
{
    let page = keyset_page(db, q, time_col, id_col, first, after).await?;
    let mut conn = Connection::with_additional_fields(
        after.is_some(),
        page.has_next,
        ConnectionTotals {
            total_count: page.total as i64,
        },
    );
    conn.edges.extend(page.rows.into_iter().map(|m| {
        let (t, id) = key(&m);
        Edge::new(KeysetCursor::new(t, id), T::from(m))
    }));
    Ok(conn)
}

/// Keeps the rows whose `[start_col, end_col]` overlaps the window (after checking it).
fn overlapping<E: EntityTrait>(
    mut q: Select<E>,
    window: Option<&TimeWindow>,
    start_col: E::Column,
    end_col: E::Column,
) -> Result<Select<E>, ApiError> {
    let Some(w) = window else { return Ok(q) };
    w.check()?;
    if let Some(from) = w.from {
        q = q.filter(end_col.gte(from));
    }
    if let Some(to) = w.to {
        q = q.filter(start_col.lte(to));
    }
    Ok(q)
}

/// A time interval filter: items that overlap `[from, to]`.
#[derive(Debug, Clone, Default, InputObject)]
pub struct TimeWindow {
    /// Start (inclusive), UTC.
    pub from: Option<DateTime<Utc>>,
    /// End (inclusive), UTC.
    pub to: Option<DateTime<Utc>>,
}

impl TimeWindow {
    fn check(&self) -> Result<(), ApiError> {
        if let (Some(a), Some(b)) = (self.from, self.to)
            && b < a
        {
            return Err(ApiError::BadUserInput(format!(
                "time window ends ({b}) before it starts ({a})"
            )));
        }
        Ok(())
    }
}

/// Flare filter.
#[derive(Debug, Clone, Default, InputObject)]
pub struct FlareFilter {
    /// Flares overlapping this window.
    pub time: Option<TimeWindow>,
    /// At least this many 4–10 keV quick-look peak counts.
    pub min_peak_counts: Option<f64>,
}

/// Science file filter.
#[derive(Debug, Clone, Default, InputObject)]
pub struct ScienceFileFilter {
    /// Files overlapping this window.
    pub time: Option<TimeWindow>,
    /// STIX request unique id.
    pub request_uid: Option<BigInt>,
    /// `FLARE_PIXEL_DATA`, `BACKGROUND` or `ASPECT`.
    pub product_kind: Option<String>,
}

/// Image filter.
#[derive(Debug, Clone, Default, InputObject)]
pub struct ImageFilter {
    /// Images whose interval overlaps this window.
    pub time: Option<TimeWindow>,
    /// STIX flare id.
    pub flare_id: Option<BigInt>,
    /// STIX request unique id of the science file.
    pub request_uid: Option<BigInt>,
    /// Algorithm name.
    pub algorithm: Option<String>,
    /// Images whose band contains this energy (keV).
    pub energy_kev: Option<f64>,
    /// `PREVIEW` or `USER`.
    pub kind: Option<String>,
}

/// The archive's own queries (merged into `graphql::QueryRoot`).
#[derive(Default)]
pub struct QueryRoot;

#[Object(name = "ArchiveQuery")]
impl QueryRoot {
    /// Service version, for clients and health checks.
    async fn version(&self) -> &'static str {
        domain::SOFTWARE_VERSION
    }

    /// Flares, newest peak first.
    async fn flares(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<FlareFilter>,
    ) -> async_graphql::Result<Page<Flare>> {
        let st = ctx.data::<AppState>()?;
        let (first, after) = page_args(first, after)?;
        let f = filter.unwrap_or_default();
        let mut q = overlapping(
            flare::Entity::find(),
            f.time.as_ref(),
            flare::Column::StartTime,
            flare::Column::EndTime,
        )?;
        if let Some(c) = f.min_peak_counts {
            q = q.filter(flare::Column::PeakCounts4To10Kev.gte(c));
        }
        Ok(paginate(
            &st.db,
            q,
            (flare::Column::PeakTime, flare::Column::Id),
            (first, after),
            |m| (m.peak_time, m.id),
        )
        .await?)
    }

    /// One flare by its STIX flare id.
    async fn flare(&self, ctx: &Context<'_>, flare_id: BigInt) -> async_graphql::Result<Flare> {
        let st = ctx.data::<AppState>()?;
        let m = flare::Entity::find()
            .filter(flare::Column::FlareId.eq(flare_id.0))
            .one(&st.db)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("no flare with id {}", flare_id.0)))?;
        Ok(m.into())
    }

    /// Ingested files, newest observation first.
    async fn science_files(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ScienceFileFilter>,
    ) -> async_graphql::Result<Page<ScienceFile>> {
        let st = ctx.data::<AppState>()?;
        let (first, after) = page_args(first, after)?;
        let f = filter.unwrap_or_default();
        let mut q = overlapping(
            science_file::Entity::find(),
            f.time.as_ref(),
            science_file::Column::ObsStart,
            science_file::Column::ObsEnd,
        )?;
        if let Some(BigInt(uid)) = f.request_uid {
            q = q.filter(science_file::Column::RequestUid.eq(uid));
        }
        if let Some(kind) = &f.product_kind {
            q = q.filter(science_file::Column::ProductKind.eq(kind.to_lowercase()));
        }
        Ok(paginate(
            &st.db,
            q,
            (science_file::Column::ObsStart, science_file::Column::Id),
            (first, after),
            |m| (m.obs_start, m.id),
        )
        .await?)
    }

    /// Images, newest interval first.
    async fn images(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ImageFilter>,
    ) -> async_graphql::Result<Page<Image>> {
        let st = ctx.data::<AppState>()?;
        let (first, after) = page_args(first, after)?;
        let f = filter.unwrap_or_default();
        let mut q = overlapping(
            image::Entity::find(),
            f.time.as_ref(),
            image::Column::TimeStart,
            image::Column::TimeEnd,
        )?;
        if let Some(BigInt(fid)) = f.flare_id {
            let row = flare::Entity::find()
                .filter(flare::Column::FlareId.eq(fid))
                .one(&st.db)
                .await
                .map_err(ApiError::from)?;
            q = q.filter(image::Column::FlareId.eq(row.map(|r| r.id).unwrap_or(-1)));
        }
        if let Some(BigInt(uid)) = f.request_uid {
            let ids: Vec<i64> = science_file::Entity::find()
                .filter(science_file::Column::RequestUid.eq(uid))
                .all(&st.db)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .map(|r| r.id)
                .collect();
            q = q.filter(image::Column::ScienceFileId.is_in(ids));
        }
        if let Some(a) = &f.algorithm {
            q = q.filter(image::Column::Algorithm.eq(a.to_lowercase()));
        }
        if let Some(e) = f.energy_kev {
            q = q
                .filter(image::Column::EnergyLowKev.lte(e))
                .filter(image::Column::EnergyHighKev.gte(e));
        }
        if let Some(k) = &f.kind {
            q = q.filter(image::Column::Kind.eq(k.to_lowercase()));
        }
        Ok(paginate(
            &st.db,
            q,
            (image::Column::TimeStart, image::Column::Id),
            (first, after),
            |m| (m.time_start, m.id),
        )
        .await?)
    }
}
