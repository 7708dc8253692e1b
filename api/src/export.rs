//! CSV exports for scripts and spreadsheets: `GET /export/flares.csv` and
//! `GET /export/images.csv` take the filters of the `flares` and `images` queries as query
//! parameters and stream every matching row (keyset pages of [`EXPORT_PAGE`] rows, newest
//! first), with download URLs. An unknown or malformed parameter is HTTP 400.

use crate::graphql::AppState;
use crate::graphql::enums::{Algorithm, FlareSource, ImageKind, LocationSource, QualityGrade};
use crate::graphql::error::ApiError;
use crate::graphql::global_id::{NodeKind, encode};
use crate::graphql::query::{
    FlareFilter, FlareOrder, ImageFilter, ImageOrder, LocationBox, TimeWindow, flare_query,
    image_order, image_query,
};
use crate::graphql::scalars::BigInt;
use chrono::{DateTime, SecondsFormat, Utc};
use jobs::store::entities::{flare, image, science_file};
use jobs::store::pagination::{KeysetOrder, PageRequest, Position, keyset_window};
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Body, IntoResponse, Request, Response, handler};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Select};
use std::collections::{BTreeMap, HashMap};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Rows read per database round trip.
pub const EXPORT_PAGE: u64 = 500;

/// Query parameters of an export.
type Params = BTreeMap<String, String>;

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::BadUserInput(m.into())
}

fn take<T: std::str::FromStr>(p: &mut Params, key: &str) -> Result<Option<T>, ApiError> {
    match p.remove(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| bad(format!("parameter {key}: '{v}' is not valid"))),
    }
}

fn take_time(p: &mut Params, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match p.remove(key) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| bad(format!("parameter {key}: '{v}' is not an RFC 3339 time"))),
    }
}

fn take_enum<T>(
    p: &mut Params,
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    match p.remove(key) {
        None => Ok(None),
        Some(v) => {
            let t = v.trim();
            parse(t)
                .or_else(|| parse(&t.replace('_', "-")))
                .map(Some)
                .ok_or_else(|| bad(format!("parameter {key}: unknown value '{v}'")))
        }
    }
}

fn time_window(p: &mut Params) -> Result<Option<TimeWindow>, ApiError> {
    let from = take_time(p, "from")?;
    let to = take_time(p, "to")?;
    Ok((from.is_some() || to.is_some()).then_some(TimeWindow { from, to }))
}

fn no_leftovers(p: Params) -> Result<(), ApiError> {
    match p.keys().next() {
        Some(k) => Err(bad(format!("unknown parameter {k}"))),
        None => Ok(()),
    }
}

/// The `flares` filter from query parameters (`from`, `to`, `minPeakCounts`, `hasImages`,
/// `goesClassAtLeast`, `attenuatorIn`, `source`, and all four of `xMinArcsec`,
/// `xMaxArcsec`, `yMinArcsec`, `yMaxArcsec` for the location box).
pub fn flare_filter(mut p: Params) -> Result<FlareFilter, ApiError> {
    let time = time_window(&mut p)?;
    let b: [Option<f64>; 4] = [
        take(&mut p, "xMinArcsec")?,
        take(&mut p, "xMaxArcsec")?,
        take(&mut p, "yMinArcsec")?,
        take(&mut p, "yMaxArcsec")?,
    ];
    let location_box = match b {
        [None, None, None, None] => None,
        [Some(x0), Some(x1), Some(y0), Some(y1)] => Some(LocationBox {
            x_min_arcsec: x0,
            x_max_arcsec: x1,
            y_min_arcsec: y0,
            y_max_arcsec: y1,
        }),
        _ => {
            return Err(bad(
                "a location box needs xMinArcsec, xMaxArcsec, yMinArcsec and yMaxArcsec",
            ));
        }
    };
    let f = FlareFilter {
        time,
        min_peak_counts: take(&mut p, "minPeakCounts")?,
        has_images: take(&mut p, "hasImages")?,
        goes_class_at_least: p.remove("goesClassAtLeast"),
        attenuator_in: take(&mut p, "attenuatorIn")?,
        location_box,
        source: take_enum(&mut p, "source", FlareSource::from_db)?,
    };
    no_leftovers(p)?;
    Ok(f)
}

/// The `images` filter from query parameters (`from`, `to`, `flareId`, `requestUid`,
/// `algorithm`, `energyKev`, `kind`, `current`, `minQuality`; enum values as in GraphQL or as stored).
pub fn image_filter(mut p: Params) -> Result<ImageFilter, ApiError> {
    let f = ImageFilter {
        time: time_window(&mut p)?,
        flare_id: take::<i64>(&mut p, "flareId")?.map(BigInt),
        request_uid: take::<i64>(&mut p, "requestUid")?.map(BigInt),
        algorithm: take_enum(&mut p, "algorithm", Algorithm::from_db)?,
        energy_kev: take(&mut p, "energyKev")?,
        kind: take_enum(&mut p, "kind", ImageKind::from_db)?,
        current: take(&mut p, "current")?,
        min_quality: take_enum(&mut p, "minQuality", QualityGrade::from_db)?,
    };
    no_leftovers(p)?;
    Ok(f)
}

/// `http://host` of the request, for absolute download URLs.
fn base_url(req: &Request) -> String {
    let host = req
        .headers()
        .get(poem::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The download URL of an image's FITS file (its global id in the path).
pub fn image_fits_url(base: &str, public_id: &uuid::Uuid) -> String {
    format!(
        "{base}/files/images/{}.fits",
        encode(NodeKind::Image, &public_id.to_string())
    )
}

/// The download URL of an image's PNG quick-look.
pub fn image_png_url(base: &str, public_id: &uuid::Uuid) -> String {
    format!(
        "{base}/files/images/{}.png",
        encode(NodeKind::Image, &public_id.to_string())
    )
}

/// The GraphQL name of an enum value (`FLARE_LIST`, `BP_UNIFORM`).
fn gql<T: async_graphql::InputType>(v: T) -> String {
    match v.to_value() {
        async_graphql::Value::Enum(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn error_response(e: ApiError) -> Response {
    let status = match e.code() {
        "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    poem::web::Json(serde_json::json!({
        "errors": [{ "message": e.message(), "extensions": { "code": e.code() } }]
    }))
    .with_status(status)
    .into_response()
}

/// Streams `rows` pages of `select` in `order` through `write`, as CSV with `header`.
fn stream_csv<E, W>(
    db: DatabaseConnection,
    select: Select<E>,
    order: KeysetOrder,
    header: &'static [&'static str],
    position: fn(&E::Model) -> Position,
    write: W,
) -> Response
where
    E: EntityTrait,
    E::Model: Sync + Send,
    W: Fn(
            &DatabaseConnection,
            Vec<E::Model>,
        ) -> futures::future::BoxFuture<'static, Result<Vec<Vec<String>>, ApiError>>
        + Send
        + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut head = csv::Writer::from_writer(Vec::new());
        let _ = head.write_record(header);
        match head.into_inner() {
            Ok(bytes) => {
                if tx.send(Ok(bytes)).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
        let mut after: Option<Position> = None;
        loop {
            let page = keyset_window(
                &db,
                select.clone(),
                &order,
                PageRequest::Forward {
                    first: EXPORT_PAGE,
                    after,
                },
            )
            .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!("export: {e}");
                    let _ = tx.send(Err(std::io::Error::other("database error"))).await;
                    return;
                }
            };
            after = page.rows.last().map(position);
            let more = page.has_more;
            let records = match write(&db, page.rows).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("export: {}", e.message());
                    let _ = tx.send(Err(std::io::Error::other("database error"))).await;
                    return;
                }
            };
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            for r in records {
                let _ = w.write_record(&r);
            }
            let chunk = w.into_inner().unwrap_or_default();
            if tx.send(Ok(chunk)).await.is_err() || !more {
                return;
            }
        }
    });
    Response::builder()
        .content_type("text/csv; charset=utf-8")
        .body(Body::from_bytes_stream(ReceiverStream::new(rx)))
}

const FLARE_HEADER: &[&str] = &[
    "id",
    "flare_id",
    "start_time",
    "peak_time",
    "end_time",
    "peak_counts_4_10_kev",
    "goes_class",
    "attenuator_in",
    "location_x_arcsec",
    "location_y_arcsec",
    "location_source",
    "source",
    "image_count",
    "images_csv_url",
];

/// `GET /export/flares.csv`.
#[handler]
pub async fn flares_csv(
    state: Data<&AppState>,
    req: &Request,
    Query(params): Query<Params>,
) -> Response {
    let (select, order, _) =
        match flare_filter(params).and_then(|f| flare_query(&f, FlareOrder::default())) {
            Ok(x) => x,
            Err(e) => return error_response(e),
        };
    let base = base_url(req);
    stream_csv(
        state.db.clone(),
        select,
        order,
        FLARE_HEADER,
        |m: &flare::Model| Position {
            value: jobs::store::pagination::SortValue::Time(m.peak_time),
            id: m.id,
        },
        move |db, rows: Vec<flare::Model>| {
            let db = db.clone();
            let base = base.clone();
            Box::pin(async move {
                let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                let counts: HashMap<i64, i64> = image::Entity::find()
                    .select_only()
                    .column(image::Column::FlareId)
                    .column_as(Expr::col(image::Column::Id).count(), "n")
                    .filter(image::Column::FlareId.is_in(ids))
                    .group_by(image::Column::FlareId)
                    .into_tuple::<(Option<i64>, i64)>()
                    .all(&db)
                    .await?
                    .into_iter()
                    .filter_map(|(f, n)| f.map(|f| (f, n)))
                    .collect();
                Ok(rows
                    .into_iter()
                    .map(|m| {
                        let located =
                            m.location_hpc_x_arcsec.is_some() && m.location_hpc_y_arcsec.is_some();
                        vec![
                            encode(NodeKind::Flare, &m.flare_id.to_string()),
                            m.flare_id.to_string(),
                            time(&m.start_time),
                            time(&m.peak_time),
                            time(&m.end_time),
                            opt(m.peak_counts4_to10_kev),
                            m.goes_class.clone().unwrap_or_default(),
                            opt(m.attenuator_in),
                            opt(m.location_hpc_x_arcsec),
                            opt(m.location_hpc_y_arcsec),
                            if located {
                                m.location_source
                                    .as_deref()
                                    .and_then(LocationSource::from_db)
                                    .map(gql)
                                    .unwrap_or_default()
                            } else {
                                String::new()
                            },
                            FlareSource::from_db(&m.source)
                                .map(gql)
                                .unwrap_or_else(|| m.source.clone()),
                            counts.get(&m.id).copied().unwrap_or(0).to_string(),
                            format!("{base}/export/images.csv?flareId={}", m.flare_id),
                        ]
                    })
                    .collect())
            })
        },
    )
}

const IMAGE_HEADER: &[&str] = &[
    "id",
    "flare_id",
    "request_uid",
    "file_version",
    "kind",
    "algorithm",
    "energy_low_kev",
    "energy_high_kev",
    "time_start",
    "time_end",
    "center_x_arcsec",
    "center_y_arcsec",
    "peak_x_arcsec",
    "peak_y_arcsec",
    "total_counts",
    "background_counts",
    "total_flux",
    "fits_url",
    "png_url",
];

/// `GET /export/images.csv`.
#[handler]
pub async fn images_csv(
    state: Data<&AppState>,
    req: &Request,
    Query(params): Query<Params>,
) -> Response {
    // Other users' reconstructions are left out; a bearer token adds the caller's own.
    let authorization = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let scope = crate::auth::caller::authenticate(&state.db, &state.auth.keys, authorization)
        .await
        .image_scope();
    let select = match image_filter(params).and_then(|f| image_query(&f, scope)) {
        Ok(x) => x,
        Err(e) => return error_response(e),
    };
    let base = base_url(req);
    stream_csv(
        state.db.clone(),
        select,
        image_order(ImageOrder::default()),
        IMAGE_HEADER,
        |m: &image::Model| Position {
            value: jobs::store::pagination::SortValue::Time(m.time_start),
            id: m.id,
        },
        move |db, rows: Vec<image::Model>| {
            let db = db.clone();
            let base = base.clone();
            Box::pin(async move {
                let flare_ids: Vec<i64> = rows.iter().filter_map(|r| r.flare_id).collect();
                let file_ids: Vec<i64> = rows.iter().map(|r| r.science_file_id).collect();
                let flares: HashMap<i64, i64> = flare::Entity::find()
                    .filter(flare::Column::Id.is_in(flare_ids))
                    .all(&db)
                    .await?
                    .into_iter()
                    .map(|f| (f.id, f.flare_id))
                    .collect();
                let files: HashMap<i64, (i64, i32)> = science_file::Entity::find()
                    .filter(science_file::Column::Id.is_in(file_ids))
                    .all(&db)
                    .await?
                    .into_iter()
                    .map(|f| (f.id, (f.request_uid, f.version)))
                    .collect();
                Ok(rows
                    .into_iter()
                    .map(|m| {
                        let file = files.get(&m.science_file_id);
                        vec![
                            encode(NodeKind::Image, &m.public_id.to_string()),
                            opt(m.flare_id.and_then(|f| flares.get(&f))),
                            opt(file.map(|f| f.0)),
                            opt(file.map(|f| f.1)),
                            ImageKind::from_db(&m.kind)
                                .map(gql)
                                .unwrap_or_else(|| m.kind.clone()),
                            Algorithm::from_db(&m.algorithm)
                                .map(gql)
                                .unwrap_or_else(|| m.algorithm.clone()),
                            m.energy_low_kev.to_string(),
                            m.energy_high_kev.to_string(),
                            time(&m.time_start),
                            time(&m.time_end),
                            m.center_hpc_x_arcsec.to_string(),
                            m.center_hpc_y_arcsec.to_string(),
                            opt(m.peak_hpc_x_arcsec),
                            opt(m.peak_hpc_y_arcsec),
                            m.total_counts.to_string(),
                            m.background_counts.to_string(),
                            opt(m.total_flux),
                            image_fits_url(&base, &m.public_id),
                            if m.png_path.is_some() {
                                image_png_url(&base, &m.public_id)
                            } else {
                                String::new()
                            },
                        ]
                    })
                    .collect())
            })
        },
    )
}
