//! Keyset pagination (never OFFSET): rows ordered by `(time DESC, id DESC)`, continued
//! after the `(time, id)` of the last row seen.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::IntoCondition;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

/// Position after which a page continues: the sort time and id of the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyset {
    /// Sort time of the last row seen.
    pub time: DateTime<Utc>,
    /// Id of the last row seen.
    pub id: i64,
}

/// One page of rows.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows, at most `first`.
    pub rows: Vec<T>,
    /// True when more rows follow.
    pub has_next: bool,
    /// Rows matching the filter, on all pages.
    pub total: u64,
}

/// Runs `select` (already filtered) as one keyset page of at most `first` rows.
pub async fn keyset_page<E, CT, CI>(
    db: &DatabaseConnection,
    select: Select<E>,
    time_col: CT,
    id_col: CI,
    first: u64,
    after: Option<Keyset>,
) -> Result<Page<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
    CT: ColumnTrait,
    CI: ColumnTrait,
{
    let total = select.clone().count(db).await?;
    let mut q = select;
    if let Some(k) = after {
        q = q.filter(
            Condition::any()
                .add(time_col.lt(k.time))
                .add(
                    Condition::all()
                        .add(time_col.eq(k.time))
                        .add(id_col.lt(k.id)),
                )
                .into_condition(),
        );
    }
    let mut rows = q
        .order_by_desc(time_col)
        .order_by_desc(id_col)
        .limit(first + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok(Page {
        rows,
        has_next,
        total,
    })
}

/// The value of a row's sort key: a time, or a number (nulls sort as [`NULL_NUMBER`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortValue {
    /// A timestamp column.
    Time(DateTime<Utc>),
    /// A numeric column.
    Number(f64),
}

/// What a missing number sorts as (below every real count).
pub const NULL_NUMBER: f64 = -1.0;

impl From<SortValue> for sea_orm::Value {
    fn from(v: SortValue) -> Self {
        match v {
            SortValue::Time(t) => t.into(),
            SortValue::Number(x) => x.into(),
        }
    }
}

/// A keyset position: the sort value and id of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Sort value of the row.
    pub value: SortValue,
    /// Row id (the tie-breaker).
    pub id: i64,
}

/// The order of a connection: a sort expression (a column, or `COALESCE(column, -1)` for a
/// nullable number), then the row id, both in `direction`.
#[derive(Debug, Clone)]
pub struct KeysetOrder {
    /// The sort key.
    pub key: sea_orm::sea_query::SimpleExpr,
    /// The row id column.
    pub id: sea_orm::sea_query::SimpleExpr,
    /// True for largest first.
    pub descending: bool,
    /// True when the key is a number (cursors hold a [`SortValue::Number`]), else a time.
    pub numeric: bool,
}

impl KeysetOrder {
    /// Orders by `col` (never null).
    pub fn column(col: impl ColumnTrait, id: impl ColumnTrait, descending: bool) -> Self {
        Self {
            key: sea_orm::sea_query::Expr::col(col.as_column_ref()),
            id: sea_orm::sea_query::Expr::col(id.as_column_ref()),
            descending,
            numeric: false,
        }
    }

    /// Orders by a nullable number column, nulls as [`NULL_NUMBER`].
    pub fn nullable_number(col: impl ColumnTrait, id: impl ColumnTrait, descending: bool) -> Self {
        use sea_orm::sea_query::{Expr, Func};
        Self {
            key: Func::coalesce([Expr::col(col.as_column_ref()), Expr::val(NULL_NUMBER)]).into(),
            id: Expr::col(id.as_column_ref()),
            descending,
            numeric: true,
        }
    }
}

/// Which page: the `first` rows after a position, or the `last` rows before one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PageRequest {
    /// Forward paging.
    Forward {
        /// Page size.
        first: u64,
        /// Continue after this row.
        after: Option<Position>,
    },
    /// Backward paging.
    Backward {
        /// Page size.
        last: u64,
        /// Continue before this row.
        before: Option<Position>,
    },
}

/// One page in display order.
#[derive(Debug, Clone)]
pub struct Window<T> {
    /// The rows, in the connection's order.
    pub rows: Vec<T>,
    /// More rows exist beyond the page in the paging direction.
    pub has_more: bool,
}

/// Runs `select` (already filtered) as one keyset page in `order`, forward or backward.
/// Rows inserted between pages never make a row appear twice or be skipped.
pub async fn keyset_window<E>(
    db: &DatabaseConnection,
    select: Select<E>,
    order: &KeysetOrder,
    request: PageRequest,
) -> Result<Window<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    use sea_orm::sea_query::{Expr, ExprTrait, Order};
    let (size, from, backward) = match request {
        PageRequest::Forward { first, after } => (first, after, false),
        PageRequest::Backward { last, before } => (last, before, true),
    };
    // Walking backward is walking forward in the reversed order.
    let descending = order.descending != backward;
    let mut q = select;
    if let Some(p) = from {
        let v: sea_orm::Value = p.value.into();
        let key = order.key.clone();
        let id = order.id.clone();
        let (beyond, beyond_id) = if descending {
            (key.clone().lt(Expr::val(v.clone())), id.lt(Expr::val(p.id)))
        } else {
            (key.clone().gt(Expr::val(v.clone())), id.gt(Expr::val(p.id)))
        };
        q = q.filter(
            Condition::any()
                .add(beyond)
                .add(Condition::all().add(key.eq(Expr::val(v))).add(beyond_id)),
        );
    }
    let dir = if descending { Order::Desc } else { Order::Asc };
    let mut rows = q
        .order_by(order.key.clone(), dir.clone())
        .order_by(order.id.clone(), dir)
        .limit(size + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    if backward {
        rows.reverse();
    }
    Ok(Window { rows, has_more })
}

/// Rows matching `select` on all pages.
pub async fn count<E>(db: &DatabaseConnection, select: Select<E>) -> Result<u64, DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    select.count(db).await
}
