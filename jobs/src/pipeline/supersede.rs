//! Which older preview an image replaces. A preview made again (a newer version of the science
//! file, or `reprocess` with another policy or calibration) records, on each older preview of
//! the same slot, that it is superseded by the new one. The old rows and their files stay:
//! a link to them keeps working, and `Image.supersededBy` says where the current one is.
//!
//! A slot is: the same STIX request UID (any version of the file), the same flare, the same
//! algorithm and energy band, and an overlapping time interval.

use crate::kinds::ImageKind;
use crate::store::entities::{image, science_file};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

/// Marks the older previews of `new`'s slot as superseded by `new`; returns how many. Rows
/// already superseded keep their link (each points one step newer), and user images are
/// never superseded.
pub async fn supersede_older<C: ConnectionTrait>(db: &C, new: &image::Model) -> Result<u64, DbErr> {
    if new.kind != ImageKind::Preview.as_str() {
        return Ok(0);
    }
    let Some(file) = science_file::Entity::find_by_id(new.science_file_id)
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let versions: Vec<i64> = science_file::Entity::find()
        .select_only()
        .column(science_file::Column::Id)
        .filter(science_file::Column::RequestUid.eq(file.request_uid))
        .filter(science_file::Column::ProductKind.eq(file.product_kind.clone()))
        .into_tuple()
        .all(db)
        .await?;
    let mut older = image::Entity::update_many()
        .col_expr(image::Column::SupersededById, Expr::value(new.id))
        .filter(image::Column::Id.lt(new.id))
        .filter(image::Column::SupersededById.is_null())
        .filter(image::Column::Kind.eq(ImageKind::Preview.as_str()))
        .filter(image::Column::ScienceFileId.is_in(versions))
        .filter(image::Column::Algorithm.eq(new.algorithm.clone()))
        .filter(image::Column::EnergyLowKev.eq(new.energy_low_kev))
        .filter(image::Column::EnergyHighKev.eq(new.energy_high_kev))
        .filter(image::Column::TimeStart.lt(new.time_end))
        .filter(image::Column::TimeEnd.gt(new.time_start));
    older = match new.flare_id {
        Some(f) => older.filter(image::Column::FlareId.eq(f)),
        None => older.filter(image::Column::FlareId.is_null()),
    };
    Ok(older.exec(db).await?.rows_affected)
}
