//! GraphiQL from the embedded assets in headless Chromium (Debian's `chromium`, driven by
//! playwright-core from `tests/browser/`): it loads with every other host unreachable and
//! runs a query through its UI.

use crate::support::{TIMEOUT, spawn_app};
use std::path::PathBuf;

#[tokio::test]
async fn graphiql_loads_offline_in_chromium_and_runs_a_query() {
    let app = spawn_app().await;
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"));
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in tests/browser (scripts/test.sh does) to install playwright-core"
    );
    let out = tokio::time::timeout(
        TIMEOUT * 2,
        tokio::process::Command::new("node")
            .arg("graphiql.mjs")
            .arg(&app.base)
            .current_dir(&dir)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser run ends in time")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "no result line; stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["offHost"], serde_json::json!([]), "{v}");
    assert_eq!(v["result"]["data"]["flares"]["totalCount"], 0, "{v}");
    assert_eq!(
        v["result"]["data"]["version"],
        domain::SOFTWARE_VERSION,
        "{v}"
    );
    app.stop().await;
}
