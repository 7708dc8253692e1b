//! The archive's pages in real browsers: Debian's headless Chromium, driven by playwright-core from
//! `tests/browser/` (`archive.mjs`), and the same scenarios in Debian's headless Firefox ESR,
//! driven by puppeteer-core over WebDriver BiDi (`archive.mjs` with `BROWSER_ENGINE=firefox`,
//! through the adapter `firefox.mjs`; the test fails, naming `apt-get install firefox-esr`,
//! when Firefox is missing), against the real server holding the demo sample. With its
//! previews made: the flare list shows the sample's flares (each row a real link, filters in
//! the URL, keyboard navigation, each thumbnail the best-graded 4–10 keV image by the API's
//! grades); three images selected (one by keyboard) make a three-frame GIF; a drag on the M1.2
//! light curve lists exactly the current images of that window; the quality column shows the
//! API's grade and reasons of every image, and "Hide POOR images" lists exactly the API's
//! `minQuality: FAIR` images; dark mode; the M1.2 page's time to interactive (reported, with
//! its requests and bytes). With previews made under `preview-v1`, which images the sample's
//! background-dominated boxes too: POOR images show POOR and "Hide POOR images" hides them.
//! Without previews: a signed-out user sees no form and cannot submit; a user registers, signs
//! in, submits a CLEAN reconstruction, watches it reach SUCCEEDED over `jobStatus` and sees the
//! new image; an API validation error shows next to its field; an administrator sees every
//! job with its owner. Every scenario also fails on a control without a label, a request to
//! another host, a page error, or a GraphQL answer the schema rejected. Screenshots of every
//! page, named by page, go to `target/browser-screenshots/` (`firefox-*.png` from Firefox).

use crate::support::{TIMEOUT, TestApp, spawn_app};
use api::archive::{ingest_and_queue, wait_for_jobs};
use api::cli::ingest::DEMO_FILES;
use jobs::pipeline::{PipelineSettings, SelectionPolicy};
use std::path::PathBuf;

/// Ingests the demo sample, its previews made with `settings`; with `wait`, also waits (on
/// job events) for them.
async fn ingest_demo_sample(app: &TestApp, settings: &PipelineSettings, wait: bool) {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/stix"));
    let paths: Vec<PathBuf> = DEMO_FILES.iter().map(|f| dir.join(f)).collect();
    let (report, jobs) = ingest_and_queue(&app.state, settings, &paths, |_, _, _| {})
        .await
        .expect("the sample ingests");
    assert_eq!(report.rejected, 0, "{:?}", report.outcomes);
    if wait {
        let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        tokio::time::timeout(TIMEOUT * 4, wait_for_jobs(&app.state, &ids))
            .await
            .expect("previews finish in time")
            .expect("previews succeed");
    }
}

/// The scenarios on the demo sample with its previews made.
const ARCHIVE_SCENARIOS: [&str; 6] = [
    "flare_list",
    "animation",
    "drag_window",
    "image_quality",
    "dark_mode",
    "time_to_interactive",
];

/// The scenarios of accounts and reconstructions.
const ACCOUNT_SCENARIOS: [&str; 5] = [
    "signed_out",
    "leave_while_loading",
    "reconstruct",
    "validation",
    "admin_jobs",
];

/// The browsers the scenarios of `tests/browser/archive.mjs` run in.
#[derive(Clone, Copy, Debug)]
enum Browser {
    /// Debian's `chromium`, driven by playwright-core.
    Chromium,
    /// Debian's `firefox-esr`, driven by puppeteer-core over WebDriver BiDi.
    Firefox,
}

/// Runs the `scenarios` of `tests/browser/archive.mjs` against `app` in headless Chromium and
/// fails naming every scenario that did not pass (screenshots in `target/browser-screenshots/`).
async fn run_in_chromium(app: &TestApp, scenarios: &[&str], env: &[(&str, &str)]) {
    run_in_browser(app, Browser::Chromium, scenarios, env).await;
}

/// Runs the `scenarios` of `tests/browser/archive.mjs` against `app` in `browser` and fails
/// naming every scenario that did not pass (screenshots in `target/browser-screenshots/`,
/// prefixed `firefox-` for Firefox).
async fn run_in_browser(app: &TestApp, browser: Browser, scenarios: &[&str], env: &[(&str, &str)]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/browser");
    let (engine, driver) = match browser {
        Browser::Chromium => ("chromium", "playwright-core"),
        Browser::Firefox => ("firefox", "puppeteer-core"),
    };
    assert!(
        dir.join("node_modules").join(driver).is_dir(),
        "run `npm ci` in tests/browser (scripts/test.sh does) to install {driver}"
    );
    if let Browser::Firefox = browser {
        require_firefox();
    }
    let shots = root.join("target/browser-screenshots");
    let out = tokio::time::timeout(
        TIMEOUT * 8,
        tokio::process::Command::new("node")
            .arg("archive.mjs")
            .arg(&app.base)
            .arg(&shots)
            .args(scenarios)
            .env("BROWSER_ENGINE", engine)
            .envs(env.iter().copied())
            .current_dir(&dir)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser run ends in time")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for want in scenarios {
        let r = results
            .iter()
            .find(|r| r["scenario"] == *want)
            .unwrap_or_else(|| {
                panic!(
                    "scenario {want} did not report in {browser:?}; stdout: {stdout}\nstderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert_eq!(r["browser"], engine, "{want} ran in another browser: {r}");
        assert_eq!(
            r["ok"],
            true,
            "{want} failed in {browser:?} (screenshots in {}): {r}",
            shots.display()
        );
    }
}

/// Where Debian's `firefox-esr` package puts Firefox (override with `FIREFOX`).
const FIREFOX: &str = "/usr/bin/firefox-esr";

/// Fails, saying how to install it, when Firefox is missing: the Firefox test is never skipped.
fn require_firefox() {
    let firefox = std::env::var("FIREFOX").unwrap_or_else(|_| FIREFOX.to_owned());
    assert!(
        std::path::Path::new(&firefox).is_file(),
        "Firefox ESR is not installed at {firefox}: `apt-get install firefox-esr` (CI's \
         .ci/run does), or point FIREFOX at a Firefox binary"
    );
}

/// The archive's pages on the demo sample with its previews: the flare list, the animation
/// of three selected images, the window dragged on the M1.2 light curve, image quality, dark
/// mode, and the M1.2 page's time to interactive.
#[tokio::test]
async fn archive_pages_in_chromium() {
    let app = spawn_app().await;
    ingest_demo_sample(&app, &PipelineSettings::default(), true).await;
    run_in_chromium(&app, &ARCHIVE_SCENARIOS, &[]).await;
    app.stop().await;
}

/// Image quality in the browser when some previews are graded POOR: under `preview-v1` (a box
/// needs total counts, the Data Center's rule) the background-dominated boxes of the sample are
/// imaged too and graded down. The quality column shows every grade of the API; "Hide POOR
/// images" hides at least one image and lists exactly the API's `minQuality: FAIR` images;
/// each flare's thumbnail is its best-graded 4–10 keV image.
#[tokio::test]
async fn image_quality_in_chromium() {
    let app = spawn_app().await;
    let settings = PipelineSettings {
        selection_policy: SelectionPolicy::PreviewV1,
        ..PipelineSettings::default()
    };
    ingest_demo_sample(&app, &settings, true).await;
    run_in_chromium(
        &app,
        &["flare_list", "image_quality"],
        &[("EXPECT_POOR", "yes")],
    )
    .await;
    app.stop().await;
}

/// Creates the administrator `root` (on the command-line code path) and returns its password.
async fn create_root_admin(app: &TestApp) -> &'static str {
    let password = "root password 123";
    api::auth::accounts::create(
        &app.state.db,
        "root",
        "root@example.org",
        password.into(),
        api::auth::Role::Admin,
    )
    .await
    .expect("the admin is created");
    password
}

/// Accounts and reconstructions in the browser: a signed-out user sees no form and cannot
/// submit; a user registers, signs in, submits CLEAN, watches it succeed and sees the image;
/// a validation error of the API appears next to its field; an administrator (made on the
/// command-line code path) sees that job among all jobs, with its owner.
#[tokio::test]
async fn reconstruction_in_chromium() {
    let app = spawn_app().await;
    ingest_demo_sample(&app, &PipelineSettings::default(), false).await;
    let password = create_root_admin(&app).await;
    run_in_chromium(
        &app,
        &ACCOUNT_SCENARIOS,
        &[("ADMIN_USER", "root"), ("ADMIN_PASSWORD", password)],
    )
    .await;
    app.stop().await;
}

/// The archive's pages in Firefox (issue 13: "working in current Chromium and Firefox"), the
/// same scenarios as in Chromium, in Debian's Firefox ESR: on the demo sample with its
/// previews, the flare list (real links, filters in the URL, thumbnails), three selected
/// images make a three-frame GIF, a drag on the M1.2 light curve lists exactly the API's
/// images of that window, the quality column and "Hide POOR images", dark mode; a signed-out
/// user sees no form; a user registers, signs in, submits CLEAN, watches it reach SUCCEEDED
/// and sees the image; a validation error appears next to its field; an administrator sees
/// every job; the M1.2 page's time to interactive is reported for Firefox too. Fails (naming
/// `apt-get install firefox-esr`) when Firefox is not installed.
#[tokio::test]
async fn archive_pages_in_firefox() {
    require_firefox();
    let app = spawn_app().await;
    ingest_demo_sample(&app, &PipelineSettings::default(), true).await;
    let password = create_root_admin(&app).await;
    run_in_browser(
        &app,
        Browser::Firefox,
        &[&ARCHIVE_SCENARIOS[..], &ACCOUNT_SCENARIOS[..]].concat(),
        &[("ADMIN_USER", "root"), ("ADMIN_PASSWORD", password)],
    )
    .await;
    app.stop().await;
}
