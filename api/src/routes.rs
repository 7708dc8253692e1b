//! HTTP routes: `POST /graphql`, GraphiQL on `GET /graphql`, subscriptions on `/ws`
//! (graphql-transport-ws), `/healthz`, and the browser pages at `/` (`crate::web`).

use crate::graphql::{AppSchema, AppState};
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_poem::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use poem::http::StatusCode;
use poem::middleware::Tracing;
use poem::web::websocket::WebSocket;
use poem::web::{Data, Html, Json};
use poem::{EndpointExt, IntoResponse, Route, get, handler};
use sea_orm::ConnectionTrait;

#[handler]
async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/ws")
            .title("stix-archive GraphiQL")
            .finish(),
    )
}

#[handler]
async fn graphql(schema: Data<&AppSchema>, req: GraphQLRequest) -> GraphQLResponse {
    schema.execute(req.0).await.into()
}

#[handler]
async fn ws(
    schema: Data<&AppSchema>,
    protocol: GraphQLProtocol,
    websocket: WebSocket,
) -> impl IntoResponse {
    let schema = schema.clone();
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| GraphQLWebSocket::new(stream, schema, protocol).serve())
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

/// The service's routes with the schema and state attached.
pub fn build(schema: AppSchema, state: AppState) -> impl poem::Endpoint + 'static {
    crate::web::routes(Route::new())
        .at("/graphql", get(graphiql).post(graphql))
        .at("/ws", get(ws))
        .at("/healthz", get(healthz))
        .data(schema)
        .data(state)
        .with(Tracing)
}
