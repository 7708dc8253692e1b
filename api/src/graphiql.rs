//! GraphiQL from assets embedded in the binary (`api/web/graphiql/`, vendored npm builds
//! with their licences): the page at `GET /graphql`, its scripts and styles under
//! `/graphiql/`. Queries go to `POST /graphql`, subscriptions to `/ws`; nothing is loaded
//! from another host, so it works offline.

use poem::http::{StatusCode, header};
use poem::web::Path;
use poem::{IntoResponse, Response, handler};

/// One embedded file: name, content type, bytes.
type Asset = (&'static str, &'static str, &'static [u8]);

/// The files under `/graphiql/`.
const ASSETS: &[Asset] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/graphiql/react-dom.production.min.js"),
    ),
    (
        "graphql-ws.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/graphiql/graphql-ws.min.js"),
    ),
    (
        "start.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/graphiql/start.js"),
    ),
];

/// The GraphiQL page.
const INDEX: &str = include_str!("../web/graphiql/index.html");

/// `GET /graphql`: the GraphiQL page.
#[handler]
pub fn page() -> Response {
    Response::builder()
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(INDEX)
}

/// `GET /graphiql/:file`: an embedded asset (cacheable for a day; names change with versions
/// only through this binary).
#[handler]
pub fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => Response::builder()
            .content_type(*content_type)
            .header(header::CACHE_CONTROL, "public, max-age=86400")
            .body(*bytes),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_embedded_assets() {
        for src in INDEX
            .split("src=\"")
            .skip(1)
            .chain(INDEX.split("href=\"").skip(1))
        {
            let url = src.split('"').next().unwrap();
            let name = url
                .strip_prefix("/graphiql/")
                .expect("served from /graphiql/");
            assert!(
                ASSETS.iter().any(|(n, _, _)| *n == name),
                "{name} not embedded"
            );
        }
        assert!(!INDEX.contains("http"), "no other host");
    }
}
