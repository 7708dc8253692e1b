//! The archive in a browser: the pages served at `/`, from assets embedded in the binary at
//! build time (`api/web/app/`: plain ES modules and CSS, uPlot vendored from npm with its
//! licence), so they work offline and need no Node.js to build.
//!
//! Page URLs (each answers the same `index.html`; the script draws the page for the path):
//! `/` (flare list), `/flare/{flareId}`, `/science-file/{uid}`, `/signin`, `/register`,
//! `/jobs`, `/admin/jobs`. Scripts, styles and vendored files are under `/app/`. The pages
//! use only the public API: `POST /graphql`, `/ws`, and the download routes.

use poem::http::{StatusCode, header};
use poem::web::Path;
use poem::{IntoResponse, Request, Response, Route, get, handler};

/// One embedded file: path under `/app/`, content type, bytes, and its ETag.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: u64,
}

/// FNV-1a of `bytes`, computed at compile time: the ETag of an embedded file.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// Declares the embedded files: `asset!("path", "content type")`.
macro_rules! asset {
    ($path:literal, $ct:expr) => {
        Asset {
            path: $path,
            content_type: $ct,
            bytes: include_bytes!(concat!("../web/app/", $path)),
            etag: fnv1a(include_bytes!(concat!("../web/app/", $path))),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file under `/app/` (a test checks this list against the directory).
const ASSETS: &[Asset] = &[
    asset!("app.css", CSS),
    asset!("js/main.js", JS),
    asset!("js/gql.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/imagetable.js", JS),
    asset!("js/lightcurve.js", JS),
    asset!("js/reconstruct.js", JS),
    asset!("js/pages/flares.js", JS),
    asset!("js/pages/flare.js", JS),
    asset!("js/pages/sciencefile.js", JS),
    asset!("js/pages/account.js", JS),
    asset!("js/pages/jobs.js", JS),
    asset!("vendor/uplot/uPlot.esm.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
    asset!("vendor/uplot/LICENSE", TEXT),
    asset!("vendor/README.md", TEXT),
];

/// The one HTML document of every page.
const INDEX: &str = include_str!("../web/app/index.html");
const INDEX_ETAG: u64 = fnv1a(INDEX.as_bytes());

/// The page paths answered with `index.html`.
pub const PAGE_PATHS: &[&str] = &[
    "/",
    "/flare/:flare_id",
    "/science-file/:uid",
    "/signin",
    "/register",
    "/jobs",
    "/admin/jobs",
];

/// A body with its ETag, or 304 when the client already has it. `no-cache`: the browser
/// revalidates (cheaply) so that a new binary's files are picked up at once.
fn cached(req: &Request, content_type: &str, etag: u64, body: &'static [u8]) -> Response {
    let tag = format!("\"{etag:016x}\"");
    let fresh = req
        .header(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let builder = Response::builder()
        .header(header::ETAG, tag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if fresh {
        builder.status(StatusCode::NOT_MODIFIED).finish()
    } else {
        builder.content_type(content_type).body(body)
    }
}

/// A page: `index.html`.
#[handler]
fn page(req: &Request) -> Response {
    cached(
        req,
        "text/html; charset=utf-8",
        INDEX_ETAG,
        INDEX.as_bytes(),
    )
}

/// `GET /app/*path`: an embedded file, or 404.
#[handler]
fn asset(req: &Request, Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => cached(req, a.content_type, a.etag, a.bytes),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Adds the pages and `/app/` to `route`.
pub fn routes(route: Route) -> Route {
    PAGE_PATHS
        .iter()
        .fold(route, |r, p| r.at(*p, get(page)))
        .at("/app/*path", get(asset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path as FsPath, PathBuf};

    fn app_dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/web/app"))
    }

    fn walk(dir: &FsPath, base: &FsPath, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.file_name().is_some_and(|n| n != "index.html") {
                out.push(
                    p.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }

    #[test]
    fn every_file_of_the_app_directory_is_embedded() {
        let mut files = Vec::new();
        walk(&app_dir(), &app_dir(), &mut files);
        files.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        listed.sort();
        assert_eq!(files, listed);
    }

    /// Every URL the page and our scripts load is an embedded file: nothing comes from
    /// another host, nothing is missing.
    #[test]
    fn pages_load_only_embedded_files() {
        let mut refs: Vec<(String, String)> = Vec::new();
        for chunk in INDEX.split(['"', '\'']).filter(|s| s.starts_with("/app/")) {
            refs.push((
                "index.html".into(),
                chunk.trim_start_matches("/app/").into(),
            ));
        }
        for a in ASSETS.iter().filter(|a| a.path.starts_with("js/")) {
            let text = std::str::from_utf8(a.bytes).unwrap();
            assert!(
                !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
                "{} names another host",
                a.path
            );
            let dir = FsPath::new(a.path).parent().unwrap();
            for part in text
                .split("from '")
                .skip(1)
                .chain(text.split("import('").skip(1))
            {
                let spec = part.split('\'').next().unwrap();
                let mut p = dir.to_path_buf();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            p.pop();
                        }
                        s => p.push(s),
                    }
                }
                refs.push((a.path.into(), p.to_string_lossy().replace('\\', "/")));
            }
        }
        assert!(refs.len() > 10, "{refs:?}");
        for (from, target) in refs {
            assert!(
                ASSETS.iter().any(|a| a.path == target),
                "{from} loads {target}, which is not embedded"
            );
        }
    }

    /// The string constants of a script (`const NAME = '…'`, `"…"` or a template literal),
    /// as written (interpolations unresolved).
    fn string_constants(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("const ") {
            rest = &rest[i + "const ".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let Some(value) = rest[name.len()..].trim_start().strip_prefix('=') else {
                continue;
            };
            let value = value.trim_start();
            let Some(quote) = value
                .chars()
                .next()
                .filter(|c| matches!(c, '\'' | '"' | '`'))
            else {
                continue;
            };
            let body = &value[1..];
            let Some(end) = body.find(quote) else {
                continue;
            };
            out.push((name, body[..end].to_string()));
            rest = &body[end + 1..];
        }
        out
    }

    /// `text` with every `${NAME}` replaced by the constant NAME: of the same script first,
    /// else of any script. Anything else interpolated fails: documents must be static.
    fn resolve(
        text: &str,
        own: &[(String, String)],
        all: &[(String, String)],
        from: &str,
    ) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let end = rest[i..].find('}').expect("a closed interpolation") + i;
            let name = &rest[i + 2..end];
            let value = own
                .iter()
                .chain(all)
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .unwrap_or_else(|| {
                    panic!("{from}: a GraphQL document interpolates `{name}`, not a constant")
                });
            out.push_str(&resolve(value, own, all, from));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Every GraphQL document the pages send (the string constants that start with `query`,
    /// `mutation` or `subscription`, with their field-list constants filled in), as
    /// `(script, constant, document)`.
    fn page_documents() -> Vec<(String, String, String)> {
        let scripts: Vec<(&str, Vec<(String, String)>)> = ASSETS
            .iter()
            .filter(|a| a.path.starts_with("js/"))
            .map(|a| {
                let text = std::str::from_utf8(a.bytes).unwrap();
                (a.path, string_constants(text))
            })
            .collect();
        let all: Vec<(String, String)> = scripts.iter().flat_map(|(_, c)| c.clone()).collect();
        let mut docs = Vec::new();
        for (path, consts) in &scripts {
            for (name, body) in consts {
                let first = body.split_whitespace().next().unwrap_or_default();
                if matches!(first, "query" | "mutation" | "subscription") {
                    let doc = resolve(body, consts, &all, &format!("{path} {name}"));
                    docs.push((path.to_string(), name.clone(), doc));
                }
            }
        }
        docs
    }

    /// The pages were written before parts of the API: every query, mutation and subscription
    /// they send must pass the schema's validation (field names, arguments, input object
    /// literals, variable types), checked here against the schema itself.
    #[tokio::test]
    async fn every_document_the_pages_send_is_valid_against_the_schema() {
        use crate::graphql::error_codes::{PARSE_FAILED, VALIDATION_FAILED};
        use futures::StreamExt;
        let schema = crate::graphql::build(None, crate::graphql::Limits::default());
        let docs = page_documents();
        let names: Vec<&str> = docs.iter().map(|(_, n, _)| n.as_str()).collect();
        for want in [
            "THUMBNAIL",
            "FLARE",
            "SUBMIT",
            "STATUS",
            "JOBS",
            "ANIMATION",
        ] {
            assert!(names.contains(&want), "{want} not found among {names:?}");
        }
        assert!(docs.len() >= 17, "{names:?}");
        let mut bad = Vec::new();
        for (path, name, doc) in &docs {
            let request = async_graphql::Request::new(doc.as_str());
            let response = if doc.trim_start().starts_with("subscription") {
                schema
                    .execute_stream(request)
                    .next()
                    .await
                    .expect("a first answer")
            } else {
                schema.execute(request).await
            };
            for e in response.errors {
                let v = serde_json::to_value(&e).unwrap();
                let code = v["extensions"]["code"].as_str().unwrap_or_default();
                if code == VALIDATION_FAILED || code == PARSE_FAILED {
                    bad.push(format!("{path} {name}: {}", e.message));
                }
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn etags_differ_between_files() {
        let mut tags: Vec<u64> = ASSETS.iter().map(|a| a.etag).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }
}
