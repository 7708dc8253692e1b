//! Protocol-level behaviour against the real server: graphql-js's standard introspection
//! query (7- and 9-level `ofType`) checked against `schema.graphql`, every limit (body size,
//! depth, complexity, aliases, parse-error size, duplicate subscription ids) and CORS.

use crate::support::{TIMEOUT, spawn_app, spawn_app_with};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const INTROSPECTION_7: &str = include_str!("fixtures/introspection_oftype7.graphql");
const INTROSPECTION_9: &str = include_str!("fixtures/introspection_oftype9.graphql");
const SCHEMA: &str = include_str!("../../schema.graphql");

/// Object, interface and input types of an SDL text with their field names.
fn sdl_fields(sdl: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_description = false;
    for line in sdl.lines() {
        let t = line.trim();
        if t.starts_with("\"\"\"") {
            if !(t.len() > 3 && t.ends_with("\"\"\"")) {
                in_description = !in_description;
            }
            continue;
        }
        if in_description || t.is_empty() || t.starts_with('"') {
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('\t') {
            let words: Vec<&str> = t.split_whitespace().collect();
            current = match words.as_slice() {
                ["type" | "interface" | "input", name, ..] if t.ends_with('{') => {
                    out.insert(name.to_string(), BTreeSet::new());
                    Some(name.to_string())
                }
                _ => None,
            };
            continue;
        }
        if let Some(ty) = &current
            && line.starts_with('\t')
            && !line.starts_with("\t\t")
        {
            let name: String = t
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.get_mut(ty).unwrap().insert(name);
            }
        }
    }
    out
}

#[tokio::test]
async fn standard_introspection_queries_pass_and_match_the_sdl() {
    let app = spawn_app().await;
    let expected = sdl_fields(SCHEMA);
    assert!(expected.contains_key("Query"), "schema.graphql parsed");
    for (name, q) in [("7", INTROSPECTION_7), ("9", INTROSPECTION_9)] {
        let r = app.graphql(q, json!({})).await;
        assert!(r.get("errors").is_none(), "{name}-level form refused: {r}");
        let types = r["data"]["__schema"]["types"].as_array().expect("types");
        let mut got = BTreeMap::new();
        for t in types {
            let tn = t["name"].as_str().unwrap();
            if tn.starts_with("__") {
                continue;
            }
            let fields = t["fields"]
                .as_array()
                .or_else(|| t["inputFields"].as_array());
            if let Some(fs) = fields {
                got.insert(
                    tn.to_string(),
                    fs.iter()
                        .map(|f| f["name"].as_str().unwrap().to_string())
                        .collect::<BTreeSet<_>>(),
                );
            }
        }
        assert_eq!(
            got, expected,
            "introspection ({name} levels) ≠ schema.graphql"
        );
        assert_eq!(r["data"]["__schema"]["queryType"]["name"], "Query");
    }
    app.stop().await;
}

fn code(r: &Value) -> &str {
    r["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn depth_complexity_aliases_and_parse_errors_are_limited_with_codes() {
    let app = spawn_app().await;

    // Depth: 17 levels.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(12),
        "} ".repeat(12)
    );
    let r = app.graphql(&deep, json!({})).await;
    assert_eq!(code(&r), "GRAPHQL_VALIDATION_FAILED", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{r}"
    );

    // Aliases: 200 × images(first: 50).
    let aliases: String = (0..200)
        .map(|i| format!("a{i}: images(first: 50) {{ edges {{ node {{ id }} }} }} "))
        .collect();
    let r = app.graphql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code(&r), "GRAPHQL_VALIDATION_FAILED", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{r}"
    );
    // … while one table page is fine.
    let r = app
        .graphql(
            "{ images(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id kind algorithm energyLowKev energyHighKev timeStart timeEnd peak { xArcsec yArcsec } center { xArcsec yArcsec } totalCounts fitsSha256 } } } }",
            json!({}),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");

    // Complexity: few fields, but a huge fan-out.
    let wide: String = (0..20)
        .map(|i| format!("f{i}: flares(first: 100) {{ edges {{ node {{ id flareId peakTime imageCount }} }} }} "))
        .collect();
    let r = app.graphql(&format!("{{ {wide} }}"), json!({})).await;
    assert_eq!(code(&r), "GRAPHQL_VALIDATION_FAILED", "{r}");

    // Parse errors: coded, and never echo a large query back.
    let garbage = format!("{{ images(first: 5) {{ {} ", "edges ( ".repeat(20_000));
    assert!(garbage.len() > 100_000);
    let r = app.graphql(&garbage, json!({})).await;
    assert_eq!(code(&r), "GRAPHQL_PARSE_FAILED", "{r}");
    let msg = r["errors"][0]["message"].as_str().unwrap();
    assert!(msg.len() <= 1024, "parse error of {} bytes", msg.len());
    let r = app
        .graphql("{ flares(first: 1) { nope } }", json!({}))
        .await;
    assert_eq!(code(&r), "GRAPHQL_VALIDATION_FAILED", "{r}");
    app.stop().await;
}

#[tokio::test]
async fn request_bodies_over_the_limit_get_413() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let big = json!({ "query": format!("{{ version }} #{}", "x".repeat(300 * 1024)) });
    let r = client
        .post(format!("{}/graphql", app.base))
        .json(&big)
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "PAYLOAD_TOO_LARGE", "{body}");
    // Just under the default limit is parsed.
    let ok = json!({ "query": format!("{{ version }} #{}", "x".repeat(200 * 1024)) });
    let r = client
        .post(format!("{}/graphql", app.base))
        .json(&ok)
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;

    let app = spawn_app_with(&[("STIX__SERVER__BODY_LIMIT_BYTES", "1000")]).await;
    let r = client
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": format!("{{ version }} #{}", "x".repeat(2000)) }))
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = client
        .post(format!("{}/graphql", app.base))
        .body("{not json")
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "BAD_REQUEST", "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_reused_subscription_id_closes_the_socket_with_4409() {
    let app = spawn_app().await;
    let mut req = app.ws_url.clone().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({"type": "connection_init", "payload": {}})))
        .await
        .unwrap();
    let sub = json!({"id": "dup", "type": "subscribe", "payload": {
        "query": "subscription { newImages { id } }"
    }});
    ws.send(send(sub.clone())).await.unwrap();
    ws.send(send(sub)).await.unwrap();
    let close = tokio::time::timeout(TIMEOUT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("socket ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("the server closes the socket");
    let frame = close.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 4409);
    assert!(frame.reason.contains("dup"), "{}", frame.reason);
    app.stop().await;
}

#[tokio::test]
async fn cors_follows_the_configured_origins() {
    let client = reqwest::Client::new();
    let preflight = |base: &str, origin: &str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{base}/graphql"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .timeout(TIMEOUT)
            .send()
    };
    let allow = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    };

    let app = spawn_app().await;
    let r = preflight(&app.base, "https://frontend.example")
        .await
        .unwrap();
    assert_eq!(allow(&r), None, "no CORS by default in serve");
    app.stop().await;

    let app = spawn_app_with(&[(
        "STIX__SERVER__CORS_ORIGINS",
        "https://frontend.example, https://other.example",
    )])
    .await;
    let r = preflight(&app.base, "https://frontend.example")
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(allow(&r).as_deref(), Some("https://frontend.example"));
    let r = preflight(&app.base, "https://evil.example").await.unwrap();
    assert_eq!(allow(&r), None);
    let r = client
        .post(format!("{}/graphql", app.base))
        .header("Origin", "https://other.example")
        .json(&json!({"query": "{ version }"}))
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(allow(&r).as_deref(), Some("https://other.example"));
    app.stop().await;

    let app = spawn_app_with(&[("STIX__SERVER__CORS_ORIGINS", "*")]).await;
    let r = preflight(&app.base, "https://anyone.example")
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert!(allow(&r).is_some());
    app.stop().await;
}
