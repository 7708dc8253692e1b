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
