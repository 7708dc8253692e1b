//! The archive's pages at `/` (`api::web`): served beside the API, from embedded files.

use crate::support::{TIMEOUT, spawn_app};

/// Every page path answers the one HTML document, the embedded files answer with their types
/// and ETags (304 when unchanged), anything else under `/app/` is 404, and the API routes
/// beside the pages still answer.
#[tokio::test]
async fn pages_and_their_files_are_served_beside_the_api() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", app.base))
            .timeout(TIMEOUT)
            .send()
    };
    for path in [
        "/",
        "/?hasImages=yes&sort=peakCounts",
        "/flare/2211111136",
        "/science-file/2211116471?tab=reconstruct",
        "/signin",
        "/register",
        "/jobs",
        "/admin/jobs",
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
        let body = r.text().await.unwrap();
        assert!(body.contains("/app/js/main.js"), "{path}");
        assert!(
            body.contains("Preview images are made automatically"),
            "{path}"
        );
    }
    for (path, kind) in [
        ("/app/js/main.js", "text/javascript; charset=utf-8"),
        (
            "/app/vendor/uplot/uPlot.esm.js",
            "text/javascript; charset=utf-8",
        ),
        ("/app/app.css", "text/css; charset=utf-8"),
        ("/app/vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], kind, "{path}");
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let again = http
            .get(format!("{}{path}", app.base))
            .header("if-none-match", &etag)
            .timeout(TIMEOUT)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    for path in [
        "/app/nope.js",
        "/app/../Cargo.toml",
        "/app/%2e%2e/Cargo.toml",
        "/app/js/../../src/web.rs",
        "/flare/not-a-number/x",
    ] {
        assert_eq!(get(path).await.unwrap().status(), 404, "{path}");
    }
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let v = app.graphql("{ version }", serde_json::json!({})).await;
    assert_eq!(v["data"]["version"], domain::SOFTWARE_VERSION);
    app.stop().await;
}
