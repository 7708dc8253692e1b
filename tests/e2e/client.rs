//! A small GraphQL client for the user-facing tests: HTTP with an optional bearer token, and
//! graphql-transport-ws subscriptions with the token in the `connection_init` payload.

use crate::support::{TIMEOUT, TestApp};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A WebSocket connection to `/ws`.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// POSTs a GraphQL request with `authorization` as the raw `Authorization` header.
pub async fn gql_auth(
    app: &TestApp,
    authorization: Option<&str>,
    query: &str,
    vars: Value,
) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": query, "variables": vars }))
        .timeout(TIMEOUT);
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    req.send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("a JSON response")
}

/// POSTs a GraphQL request with an optional bearer token.
pub async fn gql(app: &TestApp, token: Option<&str>, query: &str, vars: Value) -> Value {
    let header = token.map(|t| format!("Bearer {t}"));
    gql_auth(app, header.as_deref(), query, vars).await
}

/// The `extensions.code` of the first error, or `None` when there is none.
pub fn code(v: &Value) -> Option<String> {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_string)
}

/// Registers a user and returns their token.
pub async fn register(app: &TestApp, name: &str) -> String {
    let v = gql(
        app,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { token expiresAt user { id username role } } }",
        json!({ "i": { "username": name, "email": format!("{name}@example.org"), "password": "correct horse battery" } }),
    )
    .await;
    v["data"]["register"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("register {name}: {v}"))
        .to_string()
}

/// Opens `/ws` and sends `connection_init` with `payload`; returns after the ack.
pub async fn ws_connect(app: &TestApp, payload: Value) -> Ws {
    let mut req = app.ws_url.clone().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket connects");
    ws.send(Message::Text(
        json!({"type": "connection_init", "payload": payload})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ack = next_frame(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    ws
}

/// Subscribes to `jobStatus(jobId)` under subscription id `id`.
pub async fn subscribe_job(ws: &mut Ws, id: &str, job_id: &str) {
    ws.send(Message::Text(
        json!({
            "id": id,
            "type": "subscribe",
            "payload": {
                "query": "subscription($id: ID!) { jobStatus(jobId: $id) { jobId status stage done total message } }",
                "variables": { "id": job_id }
            }
        })
        .to_string()
        .into(),
    ))
    .await
    .unwrap();
}

/// The next JSON text frame (pings are skipped), failing after the timeout.
pub async fn next_frame(ws: &mut Ws) -> Value {
    tokio::time::timeout(TIMEOUT * 3, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("JSON frame");
                    if v["type"] != "ping" && v["type"] != "pong" {
                        return v;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("websocket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a frame arrives in time")
}

/// Frames of one subscription until it completes or errors: the `next` payloads, and the
/// final frame (`complete` or `error`).
pub async fn follow(ws: &mut Ws) -> (Vec<Value>, Value) {
    let mut events = Vec::new();
    loop {
        let f = next_frame(ws).await;
        match f["type"].as_str() {
            Some("next") => events.push(f["payload"].clone()),
            _ => return (events, f),
        }
    }
}

/// Creates an admin account directly in the database (as `stix-archive user create --admin`
/// does) and returns a token for it.
pub async fn admin_token(app: &TestApp, name: &str) -> String {
    let row = api::auth::accounts::create(
        &app.state.db,
        name,
        &format!("{name}@example.org"),
        "admin password 123".into(),
        api::auth::Role::Admin,
    )
    .await
    .expect("admin account");
    let (token, _) = app
        .state
        .auth
        .keys
        .issue(row.public_id, &row.role, row.token_version)
        .expect("token");
    token
}
