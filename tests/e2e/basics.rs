//! The skeleton over HTTP: health, GraphiQL, empty connections, typed errors, limits.

use crate::support::spawn_app;
use serde_json::json;

#[tokio::test]
async fn health_graphiql_and_empty_archive() {
    let app = spawn_app().await;
    let health: serde_json::Value = reqwest::get(format!("{}/healthz", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");

    let page = reqwest::get(format!("{}/graphql", app.base)).await.unwrap();
    assert!(page.status().is_success());
    assert!(
        page.text().await.unwrap().contains("graphiql"),
        "GET /graphql serves GraphiQL"
    );

    let r = app
        .graphql("{ flares(first: 5) { totalCount } }", json!({}))
        .await;
    assert_eq!(r, json!({ "data": { "flares": { "totalCount": 0 } } }));
    for q in [
        "{ scienceFiles(first: 100) { totalCount edges { cursor } pageInfo { hasNextPage } } }",
        "{ images(first: 100, filter: { algorithm: CLEAN }) { totalCount pageInfo { hasNextPage } } }",
    ] {
        let r = app.graphql(q, json!({})).await;
        assert!(r.get("errors").is_none(), "{r}");
    }
    app.stop().await;
}

#[tokio::test]
async fn errors_are_typed_with_codes() {
    let app = spawn_app().await;
    let r = app
        .graphql(
            "{ flares(first: 5, after: \"not-a-cursor\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    let r = app
        .graphql("{ flares(first: -1) { totalCount } }", json!({}))
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    let r = app
        .graphql("{ flare(flareId: 2211111136) { peakTime } }", json!({}))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND", "{r}");
    let r = app
        .graphql(
            "query($t: DateTime!, $f: DateTime!) { flares(filter: { time: { from: $f, to: $t } }) { totalCount } }",
            json!({ "f": "2022-11-12T00:00:00Z", "t": "2022-11-11T00:00:00Z" }),
        )
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    // Depth limit: a deeply nested introspection query is refused.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(12),
        "} ".repeat(12)
    );
    let r = app.graphql(&deep, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nested too deep"),
        "{r}"
    );
    app.stop().await;
}
