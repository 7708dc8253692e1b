//! Submission → SUCCEEDED latency of users' reconstructions, measured as a user sees it
//! (issue #8's benchmark): against a running service, a fresh user submits `--runs`
//! reconstructions of the 2022-11-11 M1.2 peak one after another (each a second later, so
//! none is a duplicate of the one before), follows each over `/ws` with `jobStatus`, and the
//! time from sending the mutation to receiving its SUCCEEDED event is recorded. Prints p50,
//! p99 and max in ms, and one JSON line.
//!
//! ```sh
//! cargo run --release --bin stix-archive -- demo &     # the demo archive on :8000
//! cargo run --release -p api --example submit_latency -- --runs 50 --algorithms CLEAN
//! cargo run --release -p api --example submit_latency -- --runs 20 --algorithms BP,CLEAN,MEM,EM,FWDFIT
//! ```
//! (`--base http://127.0.0.1:8000`, `--size 129` by default.)

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Args {
    base: String,
    runs: usize,
    algorithms: Vec<String>,
    size_px: u32,
}

fn args() -> Args {
    let mut a = Args {
        base: "http://127.0.0.1:8000".into(),
        runs: 50,
        algorithms: vec!["CLEAN".into()],
        size_px: 129,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--base" => a.base = v.trim_end_matches('/').to_string(),
            "--runs" => a.runs = v.parse().expect("--runs N"),
            "--algorithms" => a.algorithms = v.split(',').map(str::to_string).collect(),
            "--size" => a.size_px = v.parse().expect("--size N"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

async fn gql(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    q: &str,
    vars: Value,
) -> Value {
    let mut req = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": q, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("JSON")
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted_ms.len() as f64 - 1.0)).round() as usize;
    sorted_ms[i.min(sorted_ms.len() - 1)]
}

#[tokio::main]
async fn main() {
    let a = args();
    let http = reqwest::Client::new();
    let name = format!("bench{}", chrono::Utc::now().timestamp_millis());
    let v = gql(
        &http,
        &a.base,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { token } }",
        json!({ "i": { "username": name, "email": format!("{name}@example.org"), "password": "benchmark password" } }),
    )
    .await;
    let token = v["data"]["register"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("register: {v}"))
        .to_string();

    let ws_url = format!("{}/ws", a.base.replacen("http", "ws", 1));
    let mut req = ws_url.into_client_request().expect("ws url");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("ws connects");
    let init =
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
    ws.send(Message::Text(init.to_string().into()))
        .await
        .expect("init");

    let start0 = chrono::DateTime::parse_from_rfc3339("2022-11-11T11:36:00Z").expect("time");
    let mut ms = Vec::with_capacity(a.runs);
    for k in 0..a.runs {
        let start = start0 + chrono::Duration::seconds(k as i64);
        let input = json!({
            "scienceFileUid": 2211116471i64,
            "timeRange": { "start": start.to_rfc3339(), "end": (start + chrono::Duration::seconds(60)).to_rfc3339() },
            "energyRange": { "lowKev": 4.0, "highKev": 10.0 },
            "algorithms": a.algorithms,
            "imageSize": a.size_px,
        });
        let t0 = Instant::now();
        let v = gql(
            &http,
            &a.base,
            Some(&token),
            "mutation($i: SubmitReconstructionInput!) { submitReconstruction(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
        let id = v["data"]["submitReconstruction"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("submit {k}: {v}"))
            .to_string();
        let sub_id = k.to_string();
        let sub = json!({
            "id": sub_id,
            "type": "subscribe",
            "payload": {
                "query": "subscription($id: ID!) { jobStatus(jobId: $id) { status message } }",
                "variables": { "id": id }
            }
        });
        ws.send(Message::Text(sub.to_string().into()))
            .await
            .expect("subscribe");
        let status = tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                let Some(Ok(Message::Text(t))) = ws.next().await else {
                    continue;
                };
                let f: Value = serde_json::from_str(&t).expect("frame");
                if f["id"].as_str() != Some(sub_id.as_str()) || f["type"] != "next" {
                    continue;
                }
                let s = f["payload"]["data"]["jobStatus"]["status"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                if matches!(s.as_str(), "SUCCEEDED" | "FAILED" | "CANCELLED") {
                    return (s, f);
                }
            }
        })
        .await
        .expect("the job ends within 120 s");
        let elapsed = t0.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(status.0, "SUCCEEDED", "run {k}: {}", status.1);
        ms.push(elapsed);
    }
    let mut sorted = ms.clone();
    sorted.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&sorted, 50.0),
        percentile(&sorted, 99.0),
        sorted[sorted.len() - 1],
    );
    println!(
        "{} runs of {} at {}²: submit → SUCCEEDED p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        a.runs,
        a.algorithms.join("+"),
        a.size_px
    );
    println!(
        "{}",
        json!({ "runs": a.runs, "algorithms": a.algorithms, "size_px": a.size_px, "p50_ms": p50, "p99_ms": p99, "max_ms": max })
    );
}
