//! HTTP routes: `POST /graphql`, GraphiQL on `GET /graphql`, subscriptions on `/ws`
//! (graphql-transport-ws), `/healthz`.

use crate::auth::caller::authenticate;
use crate::graphql::AppSchema;
use crate::graphql::accounts::ClientAddr;
use crate::state::AppState;
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

/// The client address of a request (the login rate limit counts per address).
fn client_addr(req: &poem::Request) -> ClientAddr {
    ClientAddr(
        req.remote_addr()
            .as_socket_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    )
}

#[handler]
async fn graphql(
    schema: Data<&AppSchema>,
    state: Data<&AppState>,
    req: &poem::Request,
    gql: GraphQLRequest,
) -> GraphQLResponse {
    let authn = authenticate(
        &state.db,
        &state.auth.keys,
        req.header(poem::http::header::AUTHORIZATION),
    )
    .await;
    let request = gql.0.data(authn).data(client_addr(req));
    schema.execute(request).await.into()
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
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload: serde_json::Value| async move {
                    // Only `{"authorization": "Bearer …"}` in the connection_init payload.
                    let value = payload
                        .get("authorization")
                        .or_else(|| payload.get("Authorization"))
                        .and_then(|v| v.as_str());
                    let authn = authenticate(&state.db, &state.auth.keys, value).await;
                    let mut data = async_graphql::Data::default();
                    data.insert(authn);
                    data.insert(addr);
                    Ok(data)
                })
                .serve()
        })
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
    Route::new()
        .at("/graphql", get(graphiql).post(graphql))
        .at("/ws", get(ws))
        .at("/healthz", get(healthz))
        .data(schema)
        .data(state)
        .with(Tracing)
}
