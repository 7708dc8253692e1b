//! Prometheus metrics: the process-wide recorder (`metrics` facade +
//! `metrics-exporter-prometheus`), the poem middleware that counts and times every HTTP
//! request, the per-operation GraphQL counters, and the `/metrics` page, which adds the job
//! gauges read from the database on each scrape (`stix_jobs{status}`,
//! `stix_queue_depth{kind}`: the database is shared, so every process reports the same
//! values).
//!
//! Series (histograms in seconds):
//! - `stix_http_requests_total{route,method,status}`, `stix_http_request_duration_seconds{…}`;
//! - `stix_graphql_requests_total{operation,type,status}`,
//!   `stix_graphql_request_duration_seconds{operation,type,status}` (`status` is `OK` or the
//!   first error's `extensions.code`);
//! - `stix_jobs{status}`, `stix_queue_depth{kind}` (gauges from the database);
//! - from `jobs::metrics`: `stix_job_duration_seconds{kind,status}`,
//!   `stix_image_duration_seconds{kind,algorithm}`, `stix_ingest_files_total{outcome}`,
//!   `stix_ingest_rejections_total{reason}`.

use jobs::kinds::{JobKind, JobStatus};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use sea_orm::DatabaseConnection;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Counter of HTTP requests.
pub const HTTP_REQUESTS_TOTAL: &str = "stix_http_requests_total";
/// Histogram of HTTP request latency.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "stix_http_request_duration_seconds";
/// Counter of GraphQL operations.
pub const GRAPHQL_REQUESTS_TOTAL: &str = "stix_graphql_requests_total";
/// Histogram of GraphQL operation latency.
pub const GRAPHQL_REQUEST_DURATION_SECONDS: &str = "stix_graphql_request_duration_seconds";

/// Bucket bounds of request latencies (seconds).
const REQUEST_BUCKETS_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Bucket bounds of job and image durations (seconds).
const WORK_BUCKETS_SECONDS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// First path segments reported as their own `route`; anything else is `other`, so that
/// clients cannot create unbounded label values.
const ROUTES: &[&str] = &[
    "graphql", "ws", "healthz", "readyz", "metrics", "files", "scripts", "export",
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle).
/// If another recorder was installed first, metrics still render, but only ours are kept.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Prefix("stix_http_".into()),
                REQUEST_BUCKETS_SECONDS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Prefix("stix_graphql_".into()),
                    REQUEST_BUCKETS_SECONDS,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), WORK_BUCKETS_SECONDS)
            })
            .expect("static, non-empty bucket lists");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be incomplete");
        }
        handle
    })
}

/// The `route` label of a request path: its first segment when known, else `other`.
pub fn route_label(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    ROUTES
        .iter()
        .find(|r| **r == first)
        .copied()
        .unwrap_or("other")
}

/// Poem middleware counting and timing every request by route, method and status.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpMetrics;

impl<E: Endpoint> Middleware<E> for HttpMetrics {
    type Output = HttpMetricsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        HttpMetricsEndpoint { inner: ep }
    }
}

/// The endpoint wrapped by [`HttpMetrics`].
#[derive(Debug)]
pub struct HttpMetricsEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for HttpMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Self::Output> {
        let route = route_label(req.uri().path());
        let method = req.method().as_str().to_string();
        let started = Instant::now();
        let result = self.inner.call(req).await.map(IntoResponse::into_response);
        let status = match &result {
            Ok(r) => r.status(),
            Err(e) => e.status(),
        };
        let labels = [
            ("route", route.to_string()),
            ("method", method),
            ("status", status.as_u16().to_string()),
        ];
        metrics::counter!(HTTP_REQUESTS_TOTAL, &labels).increment(1);
        metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, &labels)
            .record(started.elapsed().as_secs_f64());
        result
    }
}

/// The operation name and type (`query`, `mutation`, `subscription`) of a GraphQL request:
/// the requested operation name, the name of the document's only operation, `anonymous` for
/// an unnamed one, `unknown` when the request names no operation of the document, `invalid`
/// when it does not parse. Names are truncated to 64 characters; see [`MAX_OPERATION_NAMES`].
pub fn operation_of(req: &async_graphql::Request) -> (String, &'static str) {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let kind_of = |t: OperationType| match t {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
        return ("invalid".to_string(), "unknown");
    };
    let (name, kind) = match (&doc.operations, req.operation_name.as_deref()) {
        (DocumentOperations::Single(op), None) => ("anonymous".to_string(), kind_of(op.node.ty)),
        (DocumentOperations::Multiple(ops), Some(wanted)) => match ops.get(wanted) {
            Some(op) => (wanted.to_string(), kind_of(op.node.ty)),
            None => ("unknown".to_string(), "unknown"),
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.iter().next() {
            Some((n, op)) => (n.to_string(), kind_of(op.node.ty)),
            None => ("unknown".to_string(), "unknown"),
        },
        _ => ("unknown".to_string(), "unknown"),
    };
    (bounded(name), kind)
}

/// At most this many distinct operation names get their own label value per process; later
/// new names are reported as `other` (names come from clients).
const MAX_OPERATION_NAMES: usize = 256;

fn bounded(name: String) -> String {
    static SEEN: OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> = OnceLock::new();
    let name: String = name.chars().take(64).collect();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(&name) {
        return name;
    }
    if seen.len() >= MAX_OPERATION_NAMES {
        return "other".to_string();
    }
    seen.insert(name.clone());
    name
}

/// The `status` label of a GraphQL response: `OK`, or the first error's `extensions.code`
/// (`ERROR` when it has none).
pub fn status_of(resp: &async_graphql::Response) -> String {
    match resp.errors.first() {
        None => "OK".to_string(),
        Some(e) => e
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .and_then(|v| match v {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "ERROR".to_string()),
    }
}

/// Records one GraphQL operation.
pub fn record_graphql(operation: &str, kind: &str, status: &str, elapsed: Duration) {
    let labels = [
        ("operation", operation.to_string()),
        ("type", kind.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!(GRAPHQL_REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(GRAPHQL_REQUEST_DURATION_SECONDS, &labels).record(elapsed.as_secs_f64());
}

/// Job kinds always reported by `stix_queue_depth` (others appear once they have rows).
const KNOWN_KINDS: [JobKind; 2] = [JobKind::Preview, JobKind::Reconstruction];

/// The Prometheus text page: this process's recorded series, then the job gauges read from
/// `db` now. A database error leaves the gauges out and reports `stix_jobs_scrape_ok 0`.
pub async fn render(db: &DatabaseConnection) -> String {
    let handle = install();
    handle.run_upkeep();
    let mut out = handle.render();
    let counts = jobs::metrics::job_counts(db).await;
    let _ = writeln!(
        out,
        "# HELP stix_jobs_scrape_ok 1 when the job gauges below were read from the database\n\
         # TYPE stix_jobs_scrape_ok gauge\nstix_jobs_scrape_ok {}",
        u8::from(counts.is_ok())
    );
    let Ok(counts) = counts else {
        return out;
    };
    let mut by_status: BTreeMap<String, i64> =
        JobStatus::ALL.iter().map(|s| (s.to_string(), 0)).collect();
    let mut queued_by_kind: BTreeMap<String, i64> =
        KNOWN_KINDS.iter().map(|k| (k.to_string(), 0)).collect();
    for (kind, st, n) in counts {
        *by_status.entry(st.clone()).or_default() += n;
        if st == JobStatus::Queued.as_str() {
            *queued_by_kind.entry(kind).or_default() += n;
        }
    }
    let _ = writeln!(
        out,
        "# HELP stix_jobs Job rows by status (whole database).\n# TYPE stix_jobs gauge"
    );
    for (st, n) in &by_status {
        let _ = writeln!(out, "stix_jobs{{status=\"{}\"}} {n}", escape(st));
    }
    let _ = writeln!(
        out,
        "# HELP stix_queue_depth Queued jobs by kind (whole database).\n# TYPE stix_queue_depth gauge"
    );
    for (kind, n) in &queued_by_kind {
        let _ = writeln!(out, "stix_queue_depth{{kind=\"{}\"}} {n}", escape(kind));
    }
    out
}

/// Escapes a Prometheus label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_and_types() {
        let r = async_graphql::Request::new("query Flares { flares(first: 1) { totalCount } }");
        assert_eq!(operation_of(&r), ("Flares".to_string(), "query"));
        let r = async_graphql::Request::new("{ flares(first: 1) { totalCount } }");
        assert_eq!(operation_of(&r), ("anonymous".to_string(), "query"));
        let r =
            async_graphql::Request::new("query A { a } subscription B { b }").operation_name("B");
        assert_eq!(operation_of(&r), ("B".to_string(), "subscription"));
        let r = async_graphql::Request::new("query A { a } query B { b }").operation_name("C");
        assert_eq!(operation_of(&r), ("unknown".to_string(), "unknown"));
        let r = async_graphql::Request::new("{ not graphql");
        assert_eq!(operation_of(&r), ("invalid".to_string(), "unknown"));
    }

    #[test]
    fn routes_are_bounded() {
        assert_eq!(route_label("/graphql"), "graphql");
        assert_eq!(route_label("/files/abc/x.fits"), "files");
        assert_eq!(route_label("/wp-admin/../x"), "other");
        assert_eq!(route_label("/"), "other");
    }
}
