//! HTTP routes: `POST /graphql` (body size limit → 413), GraphiQL on `GET /graphql` (assets
//! embedded, under `/graphiql/`),
//! subscriptions on `/ws` (graphql-transport-ws), `/healthz` (liveness), `/readyz` (readiness,
//! see `readiness`), `/metrics` (Prometheus, see `metrics`), CSV exports under `/export/`, the downloads of `crate::downloads`
//! (`/files/…`, `/scripts/…`);
//! CORS when origins are set; every request is counted and timed.
//! The browser pages at `/` and their files under `/app/` (`crate::web`).

use crate::auth::caller::authenticate;
use crate::graphql::AppSchema;
use crate::graphql::accounts::ClientAddr;
use crate::response_cache::ResponseCache;
use crate::state::AppState;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_poem::{GraphQLProtocol, GraphQLResponse};
use poem::error::ReadBodyError;
use poem::http::StatusCode;
use poem::middleware::{Cors, Tracing};
use poem::web::websocket::WebSocket;
use poem::web::{Data, Json};
use poem::{Body, EndpointExt, IntoResponse, Request, Route, get, handler};
use sea_orm::ConnectionTrait;

/// HTTP-level options of the routes (from `[server]`).
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Largest accepted request body, bytes.
    pub body_limit_bytes: usize,
    /// `STIX__SERVER__CORS_ORIGINS`: `*`, a comma-separated list, or none.
    pub cors_origins: Option<String>,
    /// Anonymous answers kept between changes of the archive (off by default).
    pub response_cache: ResponseCache,
}

/// The body limit, as request data.
#[derive(Debug, Clone, Copy)]
struct BodyLimit(usize);

/// A JSON error response in GraphQL's shape, with `extensions.code`.
fn http_error(status: StatusCode, code: &str, message: String) -> poem::Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    Json(body).with_status(status).into_response()
}

fn too_large(limit: usize) -> poem::Response {
    http_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

/// The CORS middleware for `origins`, or `None` when no origin is allowed.
fn cors(origins: Option<&str>) -> Option<Cors> {
    let list: Vec<&str> = origins
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    if list.is_empty() {
        return None;
    }
    let base = Cors::new()
        .allow_methods(["GET", "POST", "OPTIONS"])
        .allow_headers(["content-type", "authorization"])
        .max_age(86400);
    Some(if list.contains(&"*") {
        base
    } else {
        base.allow_origins(list)
    })
}

/// The client address of a request (the login rate limit counts per address).
fn client_addr(req: &poem::Request) -> ClientAddr {
    ClientAddr(
        req.remote_addr()
            .as_socket_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    )
}

/// A JSON answer from bytes, saying whether the response cache served it (`x-stix-cache`).
fn json_bytes(body: bytes::Bytes, cache: &'static str) -> poem::Response {
    poem::Response::builder()
        .content_type("application/json; charset=utf-8")
        .header("x-stix-cache", cache)
        .body(body)
}

#[handler]
async fn graphql(
    schema: Data<&AppSchema>,
    state: Data<&AppState>,
    limit: Data<&BodyLimit>,
    cache: Data<&ResponseCache>,
    req: &Request,
    body: Body,
) -> poem::Response {
    let started = std::time::Instant::now();
    let limit = limit.0.0;
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let bytes = match body.into_bytes_limit(limit).await {
        Ok(b) => b,
        Err(ReadBodyError::PayloadTooLarge) => return too_large(limit),
        Err(e) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("cannot read the request body: {e}"),
            );
        }
    };
    // Anonymous reads may be answered from the cache (see `response_cache`).
    let anonymous = req.header(poem::http::header::AUTHORIZATION).is_none();
    let cache = cache.0;
    if anonymous && let Some(hit) = cache.get(&bytes) {
        crate::metrics::record_graphql(&hit.operation, "query", "ok", started.elapsed());
        return json_bytes(hit.body, "hit");
    }
    let epoch = cache.epoch();
    let request: async_graphql::Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("the body is not a GraphQL request in JSON: {e}"),
            );
        }
    };
    let authn = authenticate(
        &state.db,
        &state.auth.keys,
        req.header(poem::http::header::AUTHORIZATION),
    )
    .await;
    let request = request.data(authn).data(client_addr(req));
    let (operation, kind) = crate::metrics::operation_of(&request);
    let resp = schema.execute(request).await;
    if kind == "mutation" {
        // What the mutation wrote is seen at once by every later read of this process.
        cache.invalidate();
    }
    let status = crate::metrics::status_of(&resp);
    crate::metrics::record_graphql(&operation, kind, &status, started.elapsed());
    let keep = anonymous
        && cache.is_enabled()
        && kind == "query"
        && resp.is_ok()
        && resp.http_headers.is_empty()
        && resp.cache_control.value().is_none();
    if keep && let Ok(json) = serde_json::to_vec(&resp) {
        let json = bytes::Bytes::from(json);
        cache.put(bytes, epoch, json.clone(), operation.into());
        return json_bytes(json, "miss");
    }
    GraphQLResponse::from(resp).into_response()
}

#[handler]
async fn metrics(state: Data<&AppState>) -> poem::Response {
    poem::Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render(&state.db).await)
}

#[handler]
async fn ws(
    schema: Data<&AppSchema>,
    state: Data<&AppState>,
    req: &poem::Request,
    protocol: GraphQLProtocol,
    websocket: WebSocket,
) -> impl IntoResponse {
    let (schema, state, addr) = (schema.clone(), state.clone(), client_addr(req));
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| crate::ws::serve(stream, schema, protocol.0, state, addr))
}

#[handler]
async fn healthz(state: Data<&AppState>) -> poem::Response {
    let db_ok = state.db.execute_unprepared("SELECT 1").await.is_ok();
    let body = serde_json::json!({
        "status": if db_ok { "ok" } else { "degraded" },
        "database": if db_ok { "ok" } else { "unreachable" },
        "version": domain::SOFTWARE_VERSION,
    });
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Json(body).with_status(status).into_response()
}

/// The operations routes alone (`/healthz`, `/readyz`, `/metrics`), served by
/// `stix-archive worker` on `workers.ops_bind`.
pub fn ops(state: AppState) -> impl poem::Endpoint + 'static {
    Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(crate::readiness::readyz))
        .at("/metrics", get(metrics))
        .data(state)
        .with(crate::metrics::HttpMetrics)
}

/// The service's routes with the schema and state attached.
pub fn build(
    schema: AppSchema,
    state: AppState,
    options: &HttpOptions,
) -> poem::endpoint::BoxEndpoint<'static, poem::Response> {
    let route = crate::web::routes(Route::new())
        .at("/graphql", get(crate::graphiql::page).post(graphql))
        .at("/graphiql/:file", get(crate::graphiql::asset))
        .at("/ws", get(ws))
        .at("/healthz", get(healthz))
        .at("/readyz", get(crate::readiness::readyz))
        .at("/metrics", get(metrics))
        .at("/export/flares.csv", get(crate::export::flares_csv))
        .at("/export/images.csv", get(crate::export::images_csv));
    let app = crate::downloads::add_routes(route)
        .data(crate::downloads::ImageFileCache::default())
        .data(schema)
        .data(state)
        .data(BodyLimit(options.body_limit_bytes))
        .data(options.response_cache.clone())
        .with(crate::metrics::HttpMetrics);
    match cors(options.cors_origins.as_deref()) {
        Some(c) => app.with(c).with(Tracing).boxed(),
        None => app.with(Tracing).boxed(),
    }
}
