//! The request handlers: parse, check availability, then (and only then)
//! read. See the module docs of [`crate::http`] for the rules.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use vellum_log::reader::read_tile;
use vellum_merkle::tiles::{Tile, TileError, TileKind};
use vellum_store::StoreError;

use super::Shared;

/// `Cache-Control` of every tile and bundle (full or partial).
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of `/checkpoint`.
pub(crate) const CHECKPOINT_CACHE: &str = "no-cache";
/// `Cache-Control` of errors.
const NO_STORE: &str = "no-store";

fn response(
    status: StatusCode,
    content_type: &'static str,
    cache: &'static str,
    body: Body,
) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

fn error(status: StatusCode, message: String) -> Response {
    response(
        status,
        "text/plain; charset=utf-8",
        NO_STORE,
        Body::from(message + "\n"),
    )
}

/// `GET /checkpoint`.
pub(crate) async fn checkpoint(State(s): State<Arc<Shared>>) -> Response {
    match s.source.published() {
        Some(p) => response(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            CHECKPOINT_CACHE,
            Body::from(p.note),
        ),
        // Only in the moment between start and the first signature.
        None => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the log has not published a checkpoint yet".into(),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}

/// Anything that is not `/checkpoint` or under `/tile/`.
pub(crate) async fn not_found(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed: this API is read-only"),
        );
    }
    error(
        StatusCode::NOT_FOUND,
        format!("{} is not a tlog-tiles path", uri.path()),
    )
}

/// `GET /tile/...`.
pub(crate) async fn tile(State(s): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    // The raw path: the router's own extractors would percent-decode it,
    // and a tile has exactly one name.
    let path = uri.path().strip_prefix('/').unwrap_or(uri.path());
    let tile = match Tile::parse(path) {
        Ok(t) => t,
        Err(TileError::OutOfRange(_)) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("{path} is beyond the largest possible tree"),
            );
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let Some(size) = s.source.published().map(|p| p.size) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("{path}: the log has not published a checkpoint yet"),
        );
    };
    if !tile.is_available_in(size) {
        return error(
            StatusCode::NOT_FOUND,
            format!("{path} is not in the tree of the latest checkpoint (size {size})"),
        );
    }
    let gzip = tile.kind() == TileKind::Entries && s.config.gzip_bundles && accepts_gzip(&headers);
    let body = match s.cache.get(&(tile, gzip)) {
        Some(b) => b,
        None => match load(&s, tile, gzip).await {
            Ok(b) => {
                s.cache.insert((tile, gzip), b.clone());
                b
            }
            Err(e) => return e,
        },
    };
    let mut r = response(
        StatusCode::OK,
        "application/octet-stream",
        IMMUTABLE,
        Body::from(body),
    );
    if tile.kind() == TileKind::Entries && s.config.gzip_bundles {
        let h = r.headers_mut();
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if gzip {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    r
}

/// Reads (and compresses) a tile that is known to be in the published tree.
async fn load(s: &Arc<Shared>, tile: Tile, gzip: bool) -> Result<Bytes, Response> {
    let read = {
        let store = s.source.store().clone();
        move || -> Result<Bytes, StoreError> {
            let raw = read_tile(&*store, tile)?;
            Ok(if gzip {
                compress(&raw)
            } else {
                Bytes::from(raw)
            })
        }
    };
    let result = if s.config.blocking_reads {
        tokio::task::spawn_blocking(read)
            .await
            .unwrap_or_else(|e| Err(StoreError::Io(format!("read task: {e}"))))
    } else {
        read()
    };
    result.map_err(|e| {
        // The tile is in the published tree, so the store must have it:
        // any error here is the store's failure, not the client's.
        tracing::error!(tile = %tile, error = %e, "cannot read a published tile");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read {tile}: storage error"),
        )
    })
}

fn compress(raw: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 2 + 64),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    match enc.write_all(raw).and_then(|()| enc.finish()) {
        Ok(v) => Bytes::from(v),
        Err(_) => unreachable!("gzip into a Vec failed"),
    }
}

/// Whether `Accept-Encoding` allows gzip (a `gzip` or `*` coding whose
/// q-value is not 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            if !name.eq_ignore_ascii_case("gzip") && name != "*" {
                return false;
            }
            !parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            })
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&h("gzip")));
        assert!(accepts_gzip(&h("br, gzip;q=0.5, identity")));
        assert!(accepts_gzip(&h("*")));
        assert!(!accepts_gzip(&h("gzip;q=0")));
        assert!(!accepts_gzip(&h("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
