//! The archive's connections: flares, science files and images as Relay connections with
//! keyset cursors, forward (`first`/`after`) and backward (`last`/`before`), at most
//! [`MAX_PAGE`] items (more is `BAD_USER_INPUT`), ordered by `orderBy: {field, direction}`,
//! filtered with typed filters. The same page functions serve the nested connections
//! (`ScienceFile.images`, `Flare.images`) and the CSV exports.

use super::AppState;
use super::cursor::KeysetCursor;
use super::enums::{Algorithm, FlareSource, ImageKind, OrderDirection, ProductKind, QualityGrade};
use super::error::ApiError;
use super::scalars::BigInt;
use super::types::{Flare, Image, ScienceFile};
use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, Enum, InputObject, Object};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use jobs::store::entities::{flare, image, science_file};
use jobs::store::pagination::{
    KeysetOrder, NULL_NUMBER, PageRequest, Position, SortValue, keyset_window,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, Iterable, QueryFilter, QuerySelect,
    Select,
};
use std::sync::Arc;

/// Largest page a client may ask for.
pub const MAX_PAGE: i32 = 100;
/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i32 = 20;

/// The complexity weight of a page: the number of items it may return (`first` or `last`,
/// else the default), at least 1. A connection's selection counts once per item, so 200
/// aliases of `images(first: 50)` exceed the limit while one table page does not.
pub fn page_cost(first: Option<i32>, last: Option<i32>) -> usize {
    first.or(last).unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize
}

type CountFn = Arc<dyn Fn() -> BoxFuture<'static, Result<u64, sea_orm::DbErr>> + Send + Sync>;

/// Fields every connection has besides edges and pageInfo. The total is counted only when
/// a client asks for it.
#[derive(Clone)]
pub struct ConnectionTotals {
    count: CountFn,
}

impl ConnectionTotals {
    fn of<E>(db: &DatabaseConnection, select: Select<E>) -> Self
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        let db = db.clone();
        Self {
            count: Arc::new(move || {
                let db = db.clone();
                let q = select.clone();
                Box::pin(async move { jobs::store::pagination::count(&db, q).await })
            }),
        }
    }
}

#[Object]
impl ConnectionTotals {
    /// Items matching the filter, on all pages.
    async fn total_count(&self) -> async_graphql::Result<i64> {
        Ok((self.count)().await.map_err(ApiError::from)? as i64)
    }
}

/// A page of some node type.
pub type Page<T> = Connection<KeysetCursor, T, ConnectionTotals>;

/// The paging arguments of a connection, as given.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// Forward page size.
    pub first: Option<i32>,
    /// Forward cursor.
    pub after: Option<String>,
    /// Backward page size.
    pub last: Option<i32>,
    /// Backward cursor.
    pub before: Option<String>,
}

fn size(name: &str, n: i32) -> Result<u64, ApiError> {
    if !(0..=MAX_PAGE).contains(&n) {
        return Err(ApiError::BadUserInput(format!(
            "{name} must be between 0 and {MAX_PAGE} (the page size limit), got {n}"
        )));
    }
    Ok(n as u64)
}

fn cursor(name: &str, s: &str) -> Result<Position, ApiError> {
    KeysetCursor::decode_cursor(s)
        .map(|c| c.0)
        .map_err(|e| ApiError::BadUserInput(format!("{name}: {e}")))
}

impl PageArgs {
    /// Checks the arguments: sizes within 0..=100, `first`/`after` or `last`/`before`.
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        let backward = self.last.is_some() || self.before.is_some();
        if backward && (self.first.is_some() || self.after.is_some()) {
            return Err(ApiError::BadUserInput(
                "page forward with first/after or backward with last/before, not both".into(),
            ));
        }
        Ok(if backward {
            PageRequest::Backward {
                last: size("last", self.last.unwrap_or(DEFAULT_PAGE))?,
                before: self
                    .before
                    .as_deref()
                    .map(|s| cursor("before", s))
                    .transpose()?,
            }
        } else {
            PageRequest::Forward {
                first: size("first", self.first.unwrap_or(DEFAULT_PAGE))?,
                after: self
                    .after
                    .as_deref()
                    .map(|s| cursor("after", s))
                    .transpose()?,
            }
        })
    }
}

/// Runs a filtered query as one keyset page and wraps it as a Relay connection; `key`
/// gives a row's cursor (its sort value and id) in this order.
pub async fn paginate<E, T>(
    db: &DatabaseConnection,
    q: Select<E>,
    order: &KeysetOrder,
    args: &PageArgs,
    key: impl Fn(&E::Model) -> KeysetCursor,
) -> Result<Page<T>, ApiError>
where
    E: EntityTrait,
    E::Model: Sync,
    T: From<E::Model> + async_graphql::OutputType,
{
    let request = args.request()?;
    let from = match request {
        PageRequest::Forward { after, .. } => after,
        PageRequest::Backward { before, .. } => before,
    };
    if let Some(p) = from
        && order.numeric != matches!(p.value, SortValue::Number(_))
    {
        return Err(ApiError::BadUserInput(
            "the cursor belongs to a connection in another order".into(),
        ));
    }
    let totals = ConnectionTotals::of(db, q.clone());
    let window = keyset_window(db, q, order, request).await?;
    let (has_previous, has_next) = match request {
        PageRequest::Forward { after, .. } => (after.is_some(), window.has_more),
        PageRequest::Backward { before, .. } => (window.has_more, before.is_some()),
    };
    let mut conn = Connection::with_additional_fields(has_previous, has_next, totals);
    conn.edges.extend(
        window
            .rows
            .into_iter()
            .map(|m| Edge::new(key(&m), T::from(m))),
    );
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

/// A box on the Sun, helioprojective arcsec as seen from Solar Orbiter (edges inclusive).
#[derive(Debug, Clone, InputObject)]
pub struct LocationBox {
    /// Smallest solar X, arcsec.
    pub x_min_arcsec: f64,
    /// Largest solar X, arcsec.
    pub x_max_arcsec: f64,
    /// Smallest solar Y, arcsec.
    pub y_min_arcsec: f64,
    /// Largest solar Y, arcsec.
    pub y_max_arcsec: f64,
}

/// Flare filter.
#[derive(Debug, Clone, Default, InputObject)]
pub struct FlareFilter {
    /// Flares overlapping this window.
    pub time: Option<TimeWindow>,
    /// At least this many 4–10 keV quick-look peak counts.
    pub min_peak_counts: Option<f64>,
    /// Only flares with (true) or without (false) images in the archive.
    pub has_images: Option<bool>,
    /// At least this GOES class, e.g. `M1.0` or `C` (flares without a class are left out).
    pub goes_class_at_least: Option<String>,
    /// Attenuator inserted (true) or not (false) during the flare.
    pub attenuator_in: Option<bool>,
    /// Flares located inside this box (flares without a location are left out).
    pub location_box: Option<LocationBox>,
    /// Where the flare came from.
    pub source: Option<FlareSource>,
}

/// Science file filter.
#[derive(Debug, Clone, Default, InputObject)]
pub struct ScienceFileFilter {
    /// Files overlapping this window.
    pub time: Option<TimeWindow>,
    /// STIX request unique id.
    pub request_uid: Option<BigInt>,
    /// What the file holds.
    pub product_kind: Option<ProductKind>,
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
    /// Algorithm.
    pub algorithm: Option<Algorithm>,
    /// Images whose band contains this energy (keV).
    pub energy_kev: Option<f64>,
    /// Preview or user image.
    pub kind: Option<ImageKind>,
    /// `true`: only images no newer preview has superseded; `false`: only superseded ones;
    /// absent: both.
    pub current: Option<bool>,
    /// Only images graded at least this well (`FAIR`: GOOD and FAIR); ungraded images are
    /// left out when it is set.
    pub min_quality: Option<QualityGrade>,
}

/// What flares are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Enum)]
pub enum FlareOrderField {
    /// Peak time.
    #[default]
    PeakTime,
    /// 4–10 keV quick-look peak counts (flares without counts sort lowest).
    PeakCounts,
}

/// Order of a flare connection.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct FlareOrder {
    /// Sort key (then the row, for ties).
    #[graphql(default)]
    pub field: FlareOrderField,
    /// Direction (default: largest/newest first).
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// What images are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Enum)]
pub enum ImageOrderField {
    /// Start of the image's interval.
    #[default]
    TimeStart,
}

/// Order of an image connection.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct ImageOrder {
    /// Sort key (then the row, for ties).
    #[graphql(default)]
    pub field: ImageOrderField,
    /// Direction (default: newest first).
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// What science files are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Enum)]
pub enum ScienceFileOrderField {
    /// Observation start.
    #[default]
    ObsStart,
}

/// Order of a science-file connection.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct ScienceFileOrder {
    /// Sort key (then the row, for ties).
    #[graphql(default)]
    pub field: ScienceFileOrderField,
    /// Direction (default: newest first).
    #[graphql(default)]
    pub direction: OrderDirection,
}

fn descending(d: OrderDirection) -> bool {
    d == OrderDirection::Desc
}

/// The GOES classes in increasing order of flux.
const GOES_LETTERS: [char; 5] = ['A', 'B', 'C', 'M', 'X'];

/// SQL condition for "GOES class at least `class`" (`M1.0`, `c`, `X2`), from validated parts.
fn goes_at_least(class: &str) -> Result<Condition, ApiError> {
    let bad = || {
        ApiError::BadUserInput(format!(
            "goesClassAtLeast: '{class}' is not a GOES class like M1.0 (letters A, B, C, M, X)"
        ))
    };
    let t = class.trim();
    let mut chars = t.chars();
    let letter = chars.next().ok_or_else(bad)?.to_ascii_uppercase();
    let rank = GOES_LETTERS
        .iter()
        .position(|&l| l == letter)
        .ok_or_else(bad)?;
    let rest = chars.as_str();
    let number: f64 = if rest.is_empty() {
        0.0
    } else {
        rest.parse().map_err(|_| bad())?
    };
    if !(0.0..1000.0).contains(&number) {
        return Err(bad());
    }
    let higher: Vec<String> = GOES_LETTERS[rank + 1..]
        .iter()
        .map(|l| format!("'{l}'"))
        .collect();
    let mut sql = format!(
        "(UPPER(SUBSTR(goes_class, 1, 1)) = '{letter}' AND CAST(SUBSTR(goes_class, 2) AS REAL) >= {number:?})"
    );
    if !higher.is_empty() {
        sql = format!(
            "(goes_class IS NOT NULL AND (UPPER(SUBSTR(goes_class, 1, 1)) IN ({}) OR {sql}))",
            higher.join(", ")
        );
    }
    Ok(Condition::all().add(Expr::cust(sql)))
}

/// A filtered flare query, its order, and the cursor of a row in that order.
pub type FlareQuery = (
    Select<flare::Entity>,
    KeysetOrder,
    fn(&flare::Model) -> KeysetCursor,
);

/// The flares matching `filter`, with the order and cursor function for paging.
pub fn flare_query(filter: &FlareFilter, order: FlareOrder) -> Result<FlareQuery, ApiError> {
    let f = filter;
    let mut q = overlapping(
        flare::Entity::find(),
        f.time.as_ref(),
        flare::Column::StartTime,
        flare::Column::EndTime,
    )?;
    if let Some(c) = f.min_peak_counts {
        q = q.filter(flare::Column::PeakCounts4To10Kev.gte(c));
    }
    if let Some(want) = f.has_images {
        let exists = Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(image::Entity)
                .and_where(
                    Expr::col((image::Entity, image::Column::FlareId))
                        .equals((flare::Entity, flare::Column::Id)),
                )
                .to_owned(),
        );
        q = q.filter(if want { exists } else { exists.not() });
    }
    if let Some(class) = &f.goes_class_at_least {
        q = q.filter(goes_at_least(class)?);
    }
    if let Some(a) = f.attenuator_in {
        q = q.filter(flare::Column::AttenuatorIn.eq(a));
    }
    if let Some(b) = &f.location_box {
        if b.x_min_arcsec > b.x_max_arcsec || b.y_min_arcsec > b.y_max_arcsec {
            return Err(ApiError::BadUserInput(
                "locationBox: each minimum must not exceed its maximum".into(),
            ));
        }
        q = q
            .filter(flare::Column::LocationHpcXArcsec.between(b.x_min_arcsec, b.x_max_arcsec))
            .filter(flare::Column::LocationHpcYArcsec.between(b.y_min_arcsec, b.y_max_arcsec));
    }
    if let Some(s) = f.source {
        q = q.filter(flare::Column::Source.eq(s.db_name()));
    }
    let desc = descending(order.direction);
    Ok(match order.field {
        FlareOrderField::PeakTime => (
            q,
            KeysetOrder::column(flare::Column::PeakTime, flare::Column::Id, desc),
            |m| KeysetCursor::time(m.peak_time, m.id),
        ),
        FlareOrderField::PeakCounts => (
            q,
            KeysetOrder::nullable_number(
                flare::Column::PeakCounts4To10Kev,
                flare::Column::Id,
                desc,
            ),
            |m| KeysetCursor::number(m.peak_counts4_to10_kev.unwrap_or(NULL_NUMBER), m.id),
        ),
    })
}

/// The images matching `filter` that `scope` may see (resolving flare and request ids to rows).
pub fn image_query(
    filter: &ImageFilter,
    scope: crate::auth::ImageScope,
) -> Result<Select<image::Entity>, ApiError> {
    let f = filter;
    // Every column but the selection-policy inputs (≈1 kB of JSON per row that no field
    // shows): reading and parsing them was a large share of a table page's time.
    let columns = image::Entity::find()
        .select_only()
        .columns(image::Column::iter().filter(|c| !matches!(c, image::Column::PolicyInputs)))
        .column_as(Expr::cust("NULL"), "policy_inputs");
    let mut q = overlapping(
        columns,
        f.time.as_ref(),
        image::Column::TimeStart,
        image::Column::TimeEnd,
    )?;
    if let Some(BigInt(fid)) = f.flare_id {
        q = q.filter(
            image::Column::FlareId.in_subquery(
                Query::select()
                    .column(flare::Column::Id)
                    .from(flare::Entity)
                    .and_where(flare::Column::FlareId.eq(fid))
                    .to_owned(),
            ),
        );
    }
    if let Some(BigInt(uid)) = f.request_uid {
        q = q.filter(
            image::Column::ScienceFileId.in_subquery(
                Query::select()
                    .column(science_file::Column::Id)
                    .from(science_file::Entity)
                    .and_where(science_file::Column::RequestUid.eq(uid))
                    .to_owned(),
            ),
        );
    }
    if let Some(a) = f.algorithm {
        q = q.filter(image::Column::Algorithm.eq(a.db_name()));
    }
    if let Some(e) = f.energy_kev {
        q = q
            .filter(image::Column::EnergyLowKev.lte(e))
            .filter(image::Column::EnergyHighKev.gte(e));
    }
    if let Some(k) = f.kind {
        q = q.filter(image::Column::Kind.eq(k.db_name()));
    }
    if let Some(g) = f.min_quality {
        q = q.filter(image::Column::QualityGrade.is_in(g.at_least().iter().copied()));
    }
    if let Some(c) = scope.condition() {
        q = q.filter(c);
    }
    match f.current {
        Some(true) => q = q.filter(image::Column::SupersededById.is_null()),
        Some(false) => q = q.filter(image::Column::SupersededById.is_not_null()),
        None => {}
    }
    Ok(q)
}

/// The key order of images.
pub fn image_order(order: ImageOrder) -> KeysetOrder {
    match order.field {
        ImageOrderField::TimeStart => KeysetOrder::column(
            image::Column::TimeStart,
            image::Column::Id,
            descending(order.direction),
        ),
    }
}

/// One page of the images matching `filter` and `extra` that the caller of `ctx` may see
/// (every images connection goes through here).
pub async fn image_page(
    ctx: &Context<'_>,
    filter: Option<ImageFilter>,
    extra: Option<Condition>,
    order: Option<ImageOrder>,
    args: &PageArgs,
) -> async_graphql::Result<Page<Image>> {
    let db = &ctx.data::<AppState>()?.db;
    let scope = super::accounts::authn(ctx).image_scope();
    let mut q = image_query(&filter.unwrap_or_default(), scope)?;
    if let Some(c) = extra {
        q = q.filter(c);
    }
    let order = image_order(order.unwrap_or_default());
    Ok(paginate(db, q, &order, args, |m: &image::Model| {
        KeysetCursor::time(m.time_start, m.id)
    })
    .await?)
}

/// One page of flares matching `filter` and `extra`.
pub async fn flare_page(
    db: &DatabaseConnection,
    filter: Option<FlareFilter>,
    extra: Option<Condition>,
    order: Option<FlareOrder>,
    args: &PageArgs,
) -> Result<Page<Flare>, ApiError> {
    let (mut q, order, key) = flare_query(&filter.unwrap_or_default(), order.unwrap_or_default())?;
    if let Some(c) = extra {
        q = q.filter(c);
    }
    paginate(db, q, &order, args, key).await
}

/// The query root of the archive's connections.
#[derive(Default)]
pub struct QueryRoot;

#[Object(name = "ArchiveQuery")]
impl QueryRoot {
    /// Service version, for clients and health checks.
    async fn version(&self) -> &'static str {
        domain::SOFTWARE_VERSION
    }

    /// Flares, newest peak first unless `orderBy` says otherwise.
    #[graphql(complexity = "page_cost(first, last) * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn flares(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<FlareFilter>,
        order_by: Option<FlareOrder>,
    ) -> async_graphql::Result<Page<Flare>> {
        let st = ctx.data::<AppState>()?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        Ok(flare_page(&st.db, filter, None, order_by, &args).await?)
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

    /// Ingested files, newest observation first unless `orderBy` says otherwise.
    #[graphql(complexity = "page_cost(first, last) * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn science_files(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ScienceFileFilter>,
        order_by: Option<ScienceFileOrder>,
    ) -> async_graphql::Result<Page<ScienceFile>> {
        let st = ctx.data::<AppState>()?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
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
        if let Some(kind) = f.product_kind {
            q = q.filter(science_file::Column::ProductKind.eq(kind.db_name()));
        }
        let order = order_by.unwrap_or_default();
        let order = match order.field {
            ScienceFileOrderField::ObsStart => KeysetOrder::column(
                science_file::Column::ObsStart,
                science_file::Column::Id,
                descending(order.direction),
            ),
        };
        Ok(
            paginate(&st.db, q, &order, &args, |m: &science_file::Model| {
                KeysetCursor::time(m.obs_start, m.id)
            })
            .await?,
        )
    }

    /// Images, newest interval first unless `orderBy` says otherwise.
    #[graphql(complexity = "page_cost(first, last) * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn images(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ImageFilter>,
        order_by: Option<ImageOrder>,
    ) -> async_graphql::Result<Page<Image>> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        image_page(ctx, filter, None, order_by, &args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_arguments_are_checked() {
        let a = PageArgs {
            first: Some(101),
            ..Default::default()
        };
        let e = a.request().unwrap_err();
        assert!(e.message().contains("100"), "{}", e.message());
        let a = PageArgs {
            first: Some(5),
            before: Some("x".into()),
            ..Default::default()
        };
        assert!(a.request().is_err());
        let a = PageArgs {
            last: Some(3),
            ..Default::default()
        };
        assert_eq!(
            a.request().unwrap(),
            PageRequest::Backward {
                last: 3,
                before: None
            }
        );
    }

    #[test]
    fn goes_classes_are_validated() {
        assert!(goes_at_least("M1.0").is_ok());
        assert!(goes_at_least("x").is_ok());
        assert!(goes_at_least("Q1").is_err());
        assert!(goes_at_least("M1; DROP TABLE flares").is_err());
        assert!(goes_at_least("").is_err());
    }
}
