//! The web explorer: one static page, built into the binary, for an
//! auditor with only a browser (`/explorer/`, and `/logs/<name>/explorer/`
//! for each named log). Plain HTML, CSS and JavaScript modules, no build
//! step, no framework, nothing fetched from elsewhere.
//!
//! The page reads only the public API of its log: `checkpoint` (shown
//! with its signatures and each cosignature's age), the entry bundles
//! (`tile/entries/...`, entries browsed by index, events shown as JSON),
//! `events` (history by resource, actor or action; [`super::events`]).
//! "Verify in this browser" takes the log's vkey from the user, then
//! fetches the checkpoint and the tiles itself and checks, with WebCrypto,
//! the checkpoint's Ed25519 signature and the RFC 6962 inclusion proof of
//! an entry computed from the hash tiles (`verify.js`): the verdict does
//! not rest on the server's word. WebCrypto exists only in a secure
//! context: over HTTPS, or on a loopback address.
//!
//! The page's state is in the URL fragment (`#entry=5&verify=1&vkey=...`,
//! `#resource=KIND/ID`, `#actor=ID`, `#action=...`), so a link shows the
//! same thing to anyone, and the tests drive it without clicks
//! (`tests/explorer.rs`).
//!
//! These files are the same for every server and hold no data, so they
//! are served without the access check; the data the page reads needs the
//! `audit` role like the tiles, and the page sends the token it is given.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

/// The page's files: name, content type, bytes.
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("app.js"),
    ),
    (
        "view.js",
        "text/javascript; charset=utf-8",
        include_str!("view.js"),
    ),
    (
        "verify.js",
        "text/javascript; charset=utf-8",
        include_str!("verify.js"),
    ),
];

/// What the page may load and connect to: itself only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// The explorer's routes, for one log's router (so that nested under
/// `/logs/<name>` they serve that log's page).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/explorer", get(redirect))
        .route("/explorer/", get(|| async { file("index.html") }))
        .route(
            "/explorer/{name}",
            get(|Path(name): Path<String>| async move { file(&name) }),
        )
}

/// Whether `path` is one of the explorer's static files (of the default
/// log or of a named one): the paths served without the access check.
pub fn is_file_path(path: &str) -> bool {
    let rest = match path.strip_prefix("/logs/") {
        Some(r) => match r.split_once('/') {
            Some((name, rest)) if !name.is_empty() => rest,
            _ => return false,
        },
        None => path.strip_prefix('/').unwrap_or(path),
    };
    match rest.strip_prefix("explorer") {
        Some("" | "/") => true,
        Some(f) => f
            .strip_prefix('/')
            .is_some_and(|f| FILES.iter().any(|(n, _, _)| *n == f)),
        None => false,
    }
}

/// `/explorer` to `/explorer/`, so that the page's relative links work.
async fn redirect() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
    // Relative to `.../explorer`: the same path with a slash, under any
    // prefix (`/logs/<name>`).
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("explorer/"));
    r
}

fn file(name: &str) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        let mut r = Response::new(Body::from(format!(
            "{name} is not a file of the explorer\n"
        )));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return r;
    };
    let mut r = Response::new(Body::from(*body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The files change with the binary: revalidate (cheap, and never stale).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::is_file_path;

    #[test]
    fn which_paths_skip_the_access_check() {
        for p in [
            "/explorer",
            "/explorer/",
            "/explorer/app.js",
            "/logs/a/explorer/",
            "/logs/a/explorer/verify.js",
        ] {
            assert!(is_file_path(p), "{p}");
        }
        for p in [
            "/checkpoint",
            "/events",
            "/explorer/secret",
            "/explorerx",
            "/logs/a/checkpoint",
            "/logs//explorer/",
            "/logs/a/tile/explorer/app.js",
            "/tile/explorer/",
        ] {
            assert!(!is_file_path(p), "{p}");
        }
    }
}
