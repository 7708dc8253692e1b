//! The archive API as an external frontend uses it: global ids and `node(id)`, links both
//! ways, enum filters, ordering, forward and backward keyset paging while rows arrive,
//! light curves against the FITS table, CSV exports and the `newImages` subscription.

use crate::support::{TIMEOUT, TestApp, spawn_app};
use api::archive::{ingest_and_queue, wait_for_jobs};
use api::cli::ingest::DEMO_FILES;
use chrono::{DateTime, Duration, Utc};
use futures::{SinkExt, StreamExt};
use jobs::store::entities::flare;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const M12_FLARE: i64 = 2211111136;
const M12_UID: i64 = 2211116471;
const M12_FILE: &str =
    "l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits";

fn data(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/stix")).join(path)
}

fn errors(r: &Value) -> Option<&Value> {
    r.get("errors")
}

async fn insert_flare(app: &TestApp, flare_id: i64, peak: DateTime<Utc>, counts: Option<f64>) {
    flare::ActiveModel {
        flare_id: Set(flare_id),
        start_time: Set(peak - Duration::minutes(5)),
        peak_time: Set(peak),
        end_time: Set(peak + Duration::minutes(5)),
        peak_counts4_to10_kev: Set(counts),
        source: Set("detected".into()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .expect("insert a flare");
}

/// Pages through `flares` in `order` (forward or backward) with pages of 4, inserting two
/// flares after every page (one newest, one oldest), and returns the flare ids seen.
async fn page_through(
    app: &TestApp,
    backward: bool,
    order: Value,
    next_id: &mut i64,
    t0: DateTime<Utc>,
) -> Vec<i64> {
    let q = if backward {
        "query($c: String, $o: FlareOrder) { flares(last: 4, before: $c, orderBy: $o) { edges { node { flareId } } pageInfo { hasPreviousPage startCursor } } }"
    } else {
        "query($c: String, $o: FlareOrder) { flares(first: 4, after: $c, orderBy: $o) { edges { node { flareId } } pageInfo { hasNextPage endCursor } } }"
    };
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    for _ in 0..100 {
        let r = app.graphql(q, json!({ "c": cursor, "o": order })).await;
        assert!(errors(&r).is_none(), "{r}");
        let conn = &r["data"]["flares"];
        let mut ids: Vec<i64> = conn["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["flareId"].as_i64().unwrap())
            .collect();
        if backward {
            ids.reverse();
        }
        seen.extend(ids);
        // Rows arrive while the client pages: one newer and one older than everything.
        *next_id += 1;
        insert_flare(
            app,
            *next_id,
            t0 + Duration::days(1000 + *next_id),
            Some(1e9),
        )
        .await;
        *next_id += 1;
        insert_flare(app, *next_id, t0 - Duration::days(1000 + *next_id), None).await;
        let more = if backward {
            conn["pageInfo"]["hasPreviousPage"].as_bool().unwrap()
        } else {
            conn["pageInfo"]["hasNextPage"].as_bool().unwrap()
        };
        if !more {
            return seen;
        }
        cursor = if backward {
            conn["pageInfo"]["startCursor"].clone()
        } else {
            conn["pageInfo"]["endCursor"].clone()
        };
    }
    panic!("paging did not end");
}

#[tokio::test]
async fn paging_both_ways_sees_each_row_once_while_rows_are_inserted() {
    let app = spawn_app().await;
    let t0: DateTime<Utc> = "2022-11-11T12:00:00Z".parse().unwrap();
    let mut original = BTreeSet::new();
    for i in 0..18 {
        let fid = 1_000 + i;
        // Some ties in time and in counts, some without counts.
        let peak = t0 + Duration::minutes(i / 3);
        let counts = (i % 4 != 0).then_some((i % 5) as f64 * 100.0);
        insert_flare(&app, fid, peak, counts).await;
        original.insert(fid);
    }
    let mut next_id = 9_000;
    for (backward, order) in [
        (false, json!(null)),
        (true, json!(null)),
        (false, json!({"field": "PEAK_COUNTS", "direction": "DESC"})),
        (true, json!({"field": "PEAK_COUNTS", "direction": "ASC"})),
        (false, json!({"field": "PEAK_TIME", "direction": "ASC"})),
    ] {
        let seen = page_through(&app, backward, order.clone(), &mut next_id, t0).await;
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for id in &seen {
            *counts.entry(*id).or_default() += 1;
        }
        assert!(
            counts.values().all(|&n| n == 1),
            "a row came twice ({order}, backward {backward}): {counts:?}"
        );
        for id in &original {
            assert_eq!(
                counts.get(id),
                Some(&1),
                "row {id} missed ({order}, backward {backward})"
            );
        }
    }
    // The order is what was asked: peak counts descending, nulls last.
    let r = app
        .graphql(
            "{ flares(first: 100, orderBy: {field: PEAK_COUNTS, direction: DESC}) { edges { node { peakCounts { kev410 } } } } }",
            json!({}),
        )
        .await;
    let counts: Vec<f64> = r["data"]["flares"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["peakCounts"]["kev410"].as_f64().unwrap_or(-1.0))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    app.stop().await;
}

#[tokio::test]
async fn enums_and_page_sizes_are_checked_with_codes() {
    let app = spawn_app().await;
    let code = |r: &Value| {
        r["errors"][0]["extensions"]["code"]
            .as_str()
            .map(String::from)
    };
    let r = app
        .graphql(
            "{ images(filter: { algorithm: FOO }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        code(&r).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{r}"
    );
    let r = app
        .graphql(
            "{ images(filter: { algorithm: \"clean\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(code(&r).is_some(), "{r}");
    let r = app
        .graphql(
            "query($a: Algorithm) { images(filter: { algorithm: $a }) { totalCount } }",
            json!({ "a": "FOO" }),
        )
        .await;
    assert!(code(&r).is_some(), "{r}");
    let r = app
        .graphql(
            "query($k: ProductKind) { scienceFiles(filter: { productKind: $k }) { totalCount } }",
            json!({ "k": "FLARE_PIXEL_DATA" }),
        )
        .await;
    assert!(errors(&r).is_none(), "{r}");
    for q in [
        "{ images(first: 101) { totalCount } }",
        "{ flares(last: 1000) { totalCount } }",
    ] {
        let r = app.graphql(q, json!({})).await;
        assert_eq!(code(&r).as_deref(), Some("BAD_USER_INPUT"), "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains("100"));
    }
    let r = app
        .graphql(
            "{ flares(first: 2, before: \"x\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r).as_deref(), Some("BAD_USER_INPUT"), "{r}");
    let r = app
        .graphql(
            "{ flares(filter: { goesClassAtLeast: \"Q9\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r).as_deref(), Some("BAD_USER_INPUT"), "{r}");
    let r = app.graphql("{ node(id: \"%%%\") { id } }", json!({})).await;
    assert_eq!(code(&r).as_deref(), Some("BAD_USER_INPUT"), "{r}");
    app.stop().await;
}

/// Ingests the sample with BP-only previews (fast) and waits for them.
async fn ingest_sample_bp(app: &TestApp) {
    let settings = jobs::pipeline::PipelineSettings {
        algorithms: vec![domain::imaging::Algorithm::Bp],
        ..Default::default()
    };
    let paths: Vec<PathBuf> = DEMO_FILES.iter().map(|f| data(f)).collect();
    let (report, jobs) = ingest_and_queue(&app.state, &settings, &paths, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(report.rejected, 0, "{:?}", report.outcomes);
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    let done = tokio::time::timeout(TIMEOUT * 4, wait_for_jobs(&app.state, &ids))
        .await
        .expect("previews finish in time")
        .unwrap();
    assert!(done.iter().all(|j| j.status == "SUCCEEDED"));
}

/// Every `id` field anywhere in `v`, with its `__typename` when present.
fn collect_ids(v: &Value, out: &mut BTreeSet<(String, String)>) {
    match v {
        Value::Object(m) => {
            if let (Some(Value::String(id)), Some(Value::String(t))) =
                (m.get("id"), m.get("__typename"))
            {
                out.insert((t.clone(), id.clone()));
            }
            m.values().for_each(|x| collect_ids(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_ids(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn ids_links_light_curve_exports_and_live_images_on_the_sample() {
    let app = spawn_app().await;

    // Subscribe to new BP images before anything exists.
    let mut req = app.ws_url.clone().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let text = |v: Value| Message::Text(v.to_string().into());
    ws.send(text(json!({"type": "connection_init", "payload": {}})))
        .await
        .unwrap();
    ws.send(text(json!({"id": "live", "type": "subscribe", "payload": {
        "query": "subscription { newImages(filter: { algorithm: BP }) { id algorithm flare { flareId } } }"
    }})))
    .await
    .unwrap();

    ingest_sample_bp(&app).await;

    // The subscription delivered BP images.
    let first_live = tokio::time::timeout(TIMEOUT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "next" {
                        return v;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("newImages delivers an image");
    let live = &first_live["payload"]["data"]["newImages"];
    assert_eq!(live["algorithm"], "BP", "{first_live}");

    // Global ids from every query resolve with node(id).
    let r = app
        .graphql(
            "{ images(first: 100) { edges { node { __typename id algorithm kind scienceFile { __typename id productKind } backgroundFile { __typename id } flare { __typename id flareId } } } }
               flares(first: 100) { edges { node { __typename id flareId imageCount source scienceFiles { __typename id } } } }
               scienceFiles(first: 100) { edges { node { __typename id requestUid version productKind flares { __typename id } images(first: 3) { edges { node { __typename id } } } } } } }",
            json!({}),
        )
        .await;
    assert!(errors(&r).is_none(), "{r}");
    let mut ids = BTreeSet::new();
    collect_ids(&r, &mut ids);
    assert!(ids.iter().any(|(t, _)| t == "Image"));
    assert!(ids.iter().any(|(t, _)| t == "Flare"));
    assert!(ids.iter().any(|(t, _)| t == "ScienceFile"));
    for (t, id) in &ids {
        assert!(!id.contains(['/', '+', '=']), "{id} is not URL-safe");
        let r = app
            .graphql(
                "query($id: ID!) { node(id: $id) { __typename id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(r["data"]["node"]["id"], json!(id), "{r}");
        assert_eq!(r["data"]["node"]["__typename"], json!(t), "{r}");
    }
    let live_id = live["id"].as_str().unwrap();
    assert!(ids.contains(&("Image".to_string(), live_id.to_string())));

    // Links resolve both ways.
    let images = r["data"]["images"]["edges"].as_array().unwrap();
    assert!(images.iter().all(|e| e["node"]["algorithm"] == "BP"));
    for e in images.iter().take(5) {
        let img = &e["node"];
        let r = app
            .graphql(
                "query($id: ID!) { image(id: $id) { id scienceFile { images(first: 100) { edges { node { id } } } } flare { images(first: 100) { edges { node { id } } } } } }",
                json!({ "id": img["id"] }),
            )
            .await;
        assert!(errors(&r).is_none(), "{r}");
        let back = |path: &Value| {
            path["images"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["node"]["id"] == img["id"])
        };
        assert!(back(&r["data"]["image"]["scienceFile"]), "{r}");
        if !img["flare"].is_null() {
            assert!(back(&r["data"]["image"]["flare"]), "{r}");
        }
    }
    let r = app
        .graphql(
            "query($f: BigInt!, $u: BigInt!) { flare(flareId: $f) { id imageCount location { xArcsec } locationSource scienceFiles { requestUid } images(first: 100) { totalCount } }
               scienceFile(uid: $u) { id version flares { flareId } } scienceFile1: scienceFile(uid: $u, version: 1) { id } }",
            json!({ "f": M12_FLARE, "u": M12_UID }),
        )
        .await;
    assert!(errors(&r).is_none(), "{r}");
    let fl = &r["data"]["flare"];
    assert_eq!(fl["imageCount"], fl["images"]["totalCount"]);
    assert!(fl["imageCount"].as_i64().unwrap() > 0);
    assert!(
        fl["scienceFiles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["requestUid"] == M12_UID)
    );
    assert_eq!(
        r["data"]["scienceFile"]["id"],
        r["data"]["scienceFile1"]["id"]
    );
    assert!(
        r["data"]["scienceFile"]["flares"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["flareId"] == M12_FLARE)
    );
    // Once a flare has images, it has a location, and says where it came from.
    let r = app
        .graphql(
            "{ flares(first: 100) { edges { node { flareId imageCount location { xArcsec yArcsec } locationSource } } } }",
            json!({}),
        )
        .await;
    assert!(errors(&r).is_none(), "{r}");
    for e in r["data"]["flares"]["edges"].as_array().unwrap() {
        let f = &e["node"];
        if f["imageCount"].as_i64().unwrap() > 0 {
            assert!(f["location"]["xArcsec"].is_number(), "{f}");
            assert!(
                f["locationSource"] == "FLARE_LIST" || f["locationSource"] == "STIX_IMAGING",
                "{f}"
            );
        }
    }
    // Flare filters.
    let r = app
        .graphql(
            "{ with: flares(filter: { hasImages: true }) { totalCount } without: flares(filter: { hasImages: false }) { totalCount } all: flares { totalCount } m: flares(filter: { goesClassAtLeast: \"M1\" }) { edges { node { flareId goesClass } } } }",
            json!({}),
        )
        .await;
    assert!(errors(&r).is_none(), "{r}");
    let n = |k: &str| r["data"][k]["totalCount"].as_i64().unwrap();
    assert_eq!(n("with") + n("without"), n("all"));
    assert!(n("with") >= 1);
    for e in r["data"]["m"]["edges"].as_array().unwrap() {
        let c = e["node"]["goesClass"].as_str().unwrap();
        assert!(c.starts_with('M') || c.starts_with('X'), "{c}");
    }

    // Light curve of the M1.2 file against counts summed straight from the FITS table.
    let q = "query($u: BigInt!) { scienceFile(uid: $u) { lightCurve(bands: [{lowKev: 4, highKev: 10}, {lowKev: 16, highKev: 28}]) { timeStart timeEnd liveTimeSeconds bands { lowKev highKev counts countRates correctedRates } } } }";
    let r = app.graphql(q, json!({ "u": M12_UID })).await;
    assert!(errors(&r).is_none(), "{r}");
    let lc = &r["data"]["scienceFile"]["lightCurve"];
    let expected = fits_band_sums(&data(M12_FILE), &[(4.0, 10.0), (16.0, 28.0)]);
    for (b, want) in lc["bands"].as_array().unwrap().iter().zip(&expected) {
        let got: Vec<f64> = b["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{g} vs {w}");
        }
        let rates = b["correctedRates"].as_array().unwrap();
        let raw = b["countRates"].as_array().unwrap();
        for (c, r) in rates.iter().zip(raw) {
            assert!(
                c.as_f64().unwrap() >= r.as_f64().unwrap(),
                "live time ≤ duration"
            );
        }
    }
    // The peak preview window lies on the 4–10 keV peak.
    let b0 = &lc["bands"][0];
    let rates: Vec<f64> = b0["countRates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let ipk = (0..rates.len())
        .max_by(|&a, &b| rates[a].total_cmp(&rates[b]))
        .unwrap();
    let t = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    let (pk0, pk1) = (t(&lc["timeStart"][ipk]), t(&lc["timeEnd"][ipk]));
    let r = app
        .graphql(
            "query($f: BigInt!) { images(first: 100, filter: { flareId: $f, energyKev: 6 }) { edges { node { timeStart timeEnd } } } }",
            json!({ "f": M12_FLARE }),
        )
        .await;
    let windows: Vec<(DateTime<Utc>, DateTime<Utc>)> = r["data"]["images"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (t(&e["node"]["timeStart"]), t(&e["node"]["timeEnd"])))
        .collect();
    assert!(
        windows.iter().any(|(a, b)| *a <= pk1 && *b >= pk0),
        "no preview window on the peak bin {pk0}–{pk1}: {windows:?}"
    );
    // Cached: the second call is fast.
    let started = std::time::Instant::now();
    let r = app.graphql(q, json!({ "u": M12_UID })).await;
    let cached = started.elapsed();
    assert!(errors(&r).is_none());
    assert!(
        cached.as_millis() < 200,
        "cached light curve took {cached:?}"
    );

    // CSV exports: the same rows as the queries, with download URLs built on global ids.
    let csv = reqwest::get(format!(
        "{}/export/images.csv?flareId={M12_FLARE}&algorithm=BP",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    let mut rd = csv::Reader::from_reader(body.as_bytes());
    let header = rd.headers().unwrap().clone();
    let id_col = header.iter().position(|h| h == "id").unwrap();
    let url_col = header.iter().position(|h| h == "fits_url").unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len() as i64, fl["imageCount"].as_i64().unwrap());
    for row in &rows {
        assert!(row[url_col].contains(&format!("/files/images/{}.fits", &row[id_col])));
    }
    let bad = reqwest::get(format!("{}/export/images.csv?algorithm=FOO", app.base))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let flares = reqwest::get(format!("{}/export/flares.csv?hasImages=true", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(flares.lines().count() as i64 - 1, n("with"));
    app.stop().await;
}

/// Counts per time bin in each band, summed over detectors, pixels and the energy groups
/// inside the band, read directly from the L1 FITS table (DATA.counts, ENERGIES).
fn fits_band_sums(path: &std::path::Path, bands: &[(f64, f64)]) -> Vec<Vec<f64>> {
    let mut f = fitsio::FitsFile::open(path).unwrap();
    let energies = f.hdu("ENERGIES").unwrap();
    let lo: Vec<f64> = energies.read_col(&mut f, "e_low").unwrap();
    let hi: Vec<f64> = energies.read_col(&mut f, "e_high").unwrap();
    let data = f.hdu("DATA").unwrap();
    let counts: Vec<f64> = data.read_col(&mut f, "counts").unwrap();
    let times: Vec<f64> = data.read_col(&mut f, "time").unwrap();
    let ne = lo.len();
    // One row per time bin: detectors × pixels (as many as the file has) × energy groups.
    let nt = times.len();
    let per_bin = counts.len() / nt;
    assert_eq!(per_bin % ne, 0);
    bands
        .iter()
        .map(|&(a, b)| {
            // Groups overlapping the band, as the whole-group selection of the archive.
            let groups: Vec<usize> = (0..ne).filter(|&e| hi[e] > a && lo[e] < b).collect();
            (0..nt)
                .map(|t| {
                    counts[t * per_bin..(t + 1) * per_bin]
                        .chunks_exact(ne)
                        .map(|c| groups.iter().map(|&e| c[e]).sum::<f64>())
                        .sum()
                })
                .collect()
        })
        .collect()
}

/// One POST of `body` to `/graphql`, signed in with `token` if given: the `x-stix-cache`
/// header (`hit`, `miss`, or absent when the cache was not consulted) and the JSON answer.
async fn post_graphql(app: &TestApp, body: &Value, token: Option<&str>) -> (Option<String>, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/graphql", app.base))
        .json(body)
        .timeout(TIMEOUT);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("POST /graphql");
    let cache = r
        .headers()
        .get("x-stix-cache")
        .map(|v| v.to_str().unwrap().to_string());
    (cache, r.json().await.expect("a JSON response"))
}

fn flare_ids(v: &Value) -> Vec<i64> {
    v["data"]["flares"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| e["node"]["flareId"].as_i64().unwrap())
        .collect()
}

/// Anonymous answers come from the response cache until the archive changes: a row written
/// behind the API's back (as a separate `ingest` process or a remote worker would) shows within
/// the check interval, through the `archive_generation` triggers; a mutation invalidates at
/// once; a signed-in caller is never served from the cache.
#[tokio::test]
async fn anonymous_answers_are_cached_until_the_archive_changes() {
    let app = spawn_app().await;
    let t0: DateTime<Utc> = "2022-11-11T12:00:00Z".parse().unwrap();
    insert_flare(&app, 500, t0, Some(10.0)).await;
    let q = json!({ "query": "{ flares(first: 50) { edges { node { flareId } } } }" });

    // A miss, then hits with the same answer (the first check of the counter may come
    // between two requests: wait for the hit).
    let (first, answer) = post_graphql(&app, &q, None).await;
    assert_eq!(first.as_deref(), Some("miss"), "{answer}");
    assert_eq!(flare_ids(&answer), vec![500]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (cache, again) = post_graphql(&app, &q, None).await;
        assert_eq!(again, answer, "an unchanged archive answers the same");
        if cache.as_deref() == Some("hit") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never served from the cache"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Written behind the API's back: seen within the check interval (100 ms by default).
    insert_flare(&app, 501, t0 + Duration::hours(1), Some(20.0)).await;
    let written = std::time::Instant::now();
    loop {
        let (_, now) = post_graphql(&app, &q, None).await;
        if flare_ids(&now).contains(&501) {
            break;
        }
        assert!(
            written.elapsed() < std::time::Duration::from_secs(3),
            "a committed row never reached the cached answer: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    eprintln!(
        "an out-of-process write was seen after {:?}",
        written.elapsed()
    );

    // Cached again, then any mutation (here a failed sign-in) invalidates at once.
    loop {
        if post_graphql(&app, &q, None).await.0.as_deref() == Some("hit") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let login = json!({
        "query": "mutation($i: LoginInput!) { login(input: $i) { token } }",
        "variables": { "i": { "username": "nobody", "password": "wrong password" } }
    });
    let (cache, v) = post_graphql(&app, &login, None).await;
    assert!(cache.is_none(), "a mutation is never cached: {v}");
    assert!(v.get("errors").is_some(), "{v}");
    let (cache, _) = post_graphql(&app, &q, None).await;
    assert_eq!(
        cache.as_deref(),
        Some("miss"),
        "a mutation invalidates at once"
    );

    // Signed in: computed for the caller, never from the cache; errors are never kept.
    let token = crate::client::register(&app, "cachereader").await;
    for _ in 0..2 {
        let (cache, v) = post_graphql(&app, &q, Some(&token)).await;
        assert!(cache.is_none(), "signed-in answers are not cached");
        assert_eq!(flare_ids(&v), vec![501, 500]);
    }
    let bad = json!({ "query": "{ flares(first: 500) { edges { node { flareId } } } }" });
    for _ in 0..2 {
        let (cache, v) = post_graphql(&app, &bad, None).await;
        assert!(v.get("errors").is_some(), "{v}");
        assert!(cache.is_none(), "an answer with errors is not kept: {v}");
    }
    app.stop().await;
}
