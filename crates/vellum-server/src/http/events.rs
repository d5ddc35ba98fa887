//! `GET /events`: an events log's history over HTTP, as JSON, for the web
//! explorer and any other reader without gRPC. It is `Log.ListEvents`:
//! the same query ([`crate::events::Recorder::history`], the events index), the same
//! rules, the same answer (newest first, each event with its inclusion
//! proof against one checkpoint, a cursor for the next page), under the
//! access rule of the tiles (`audit`). docs/EVENTS.md has the parameters.
//!
//! ```text
//! GET /events?resource=permission/doc-7&limit=20
//! {"checkpoint":"<signed note>","events":[{"index":4,"event":{...},
//!  "inclusion_proof":["<base64>",...]}],"next_cursor":"v1.9.3"}
//! ```
//!
//! `event` is the stored entry itself, byte for byte (canonical JSON), so
//! `SHA-256(0x00 ‖ event)` is its leaf hash. Errors are
//! `{"error":"<reason>"}`: `400` for a bad parameter, `404` on a log that
//! is not an events log, `503` before the first checkpoint.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use vellum_event::Timestamp;
use vellum_log::LogError;

use super::Shared;
use crate::events::{Cursor, MAX_PAGE, Page, Query, RecordFailure, Select};

/// Events per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;

fn json(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Each answer is against the latest checkpoint of the moment.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error(status: StatusCode, message: &str) -> Response {
    let mut text = String::from("{\"error\":");
    text.push_str(&quote(message));
    text.push_str("}\n");
    json(status, text)
}

/// `s` as a JSON string.
fn quote(s: &str) -> String {
    // Serialising a str cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

/// `GET /events?...`.
pub(crate) async fn events(State(s): State<Arc<Shared>>, uri: Uri) -> Response {
    let Some(recorder) = s.source.recorder() else {
        return error(
            StatusCode::NOT_FOUND,
            "this log is not an events log (vellum serve --log-kind events): it has no /events",
        );
    };
    let query = match parse(uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(m) => return error(StatusCode::BAD_REQUEST, &m),
    };
    match recorder.history(&query).await {
        Ok(page) => json(StatusCode::OK, render(&page)),
        Err(RecordFailure::Invalid(m)) => error(StatusCode::BAD_REQUEST, &m),
        Err(RecordFailure::Log(LogError::NotSignedYet)) => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the log has not published a checkpoint yet",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "GET /events failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
    }
}

/// The query string's parameters as a history [`Query`].
///
/// # Errors
///
/// A message naming the parameter and what is wrong with it.
pub fn parse(query: &str) -> Result<Query, String> {
    let mut seen: Vec<String> = Vec::new();
    let (mut resource, mut actor, mut action) = ((String::new(), String::new()), "", "");
    let (mut since, mut until, mut cursor) = (None, None, None);
    let mut limit = DEFAULT_LIMIT;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (name, value) in &pairs {
        if seen.contains(name) {
            return Err(format!("{name}: given twice"));
        }
        seen.push(name.clone());
        if value.is_empty() {
            return Err(format!("{name}: empty"));
        }
        let time = |v: &str| Timestamp::parse(v).map_err(|e| format!("{name}: {e}"));
        match name.as_str() {
            "resource" => match value.split_once('/') {
                Some((kind, id)) if !kind.is_empty() && !id.is_empty() => {
                    resource = (kind.to_owned(), id.to_owned());
                }
                _ => return Err(format!("resource: {value:?} is not KIND/ID")),
            },
            "actor" => actor = value,
            "action" => action = value,
            "since" => since = Some(time(value)?),
            "until" => until = Some(time(value)?),
            "limit" => {
                limit = match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                    _ => {
                        return Err(format!(
                            "limit: {value:?} is not a number from 1 to {MAX_PAGE}"
                        ));
                    }
                }
            }
            "cursor" => cursor = Some(Cursor::decode(value).map_err(|e| format!("cursor: {e}"))?),
            _ => {
                return Err(format!(
                    "unknown parameter {name:?} (known: resource, actor, action, since, until, \
                     limit, cursor)"
                ));
            }
        }
    }
    let select = Select::from_fields(
        resource,
        actor.to_owned(),
        action.to_owned(),
        since.is_some() || until.is_some(),
    )?;
    Ok(Query {
        select,
        since,
        until,
        page_size: limit,
        cursor,
    })
}

/// The page as JSON; each event's stored bytes go in as they are (they are
/// canonical JSON: `Recorder::history` parsed each one).
fn render(page: &Page) -> String {
    let mut out = String::from("{\"checkpoint\":");
    out.push_str(&quote(&String::from_utf8_lossy(&page.checkpoint)));
    out.push_str(",\"events\":[");
    for (n, (index, entry, proof)) in page.events.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&format!("{{\"index\":{index},\"event\":"));
        out.push_str(&String::from_utf8_lossy(entry));
        out.push_str(",\"inclusion_proof\":[");
        let hashes: Vec<String> = proof
            .iter()
            .map(|h| format!("\"{}\"", STANDARD.encode(h.as_bytes())))
            .collect();
        out.push_str(&hashes.join(","));
        out.push_str("]}");
    }
    out.push_str("],\"next_cursor\":");
    match page.next {
        Some(c) => out.push_str(&quote(&c.encode())),
        None => out.push_str("null"),
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        let q = parse("resource=permission/doc-7/editors&limit=5").unwrap();
        assert_eq!(
            q.select,
            Select::Resource {
                kind: "permission".into(),
                id: "doc-7/editors".into()
            }
        );
        assert_eq!(q.page_size, 5);
        let q = parse("actor=al%20ice").unwrap();
        assert_eq!(q.select, Select::Actor("al ice".into()));
        assert_eq!(q.page_size, DEFAULT_LIMIT);
        let q = parse("since=2026-01-01T00:00:00Z").unwrap();
        assert_eq!(q.select, Select::Time);
        for (bad, says) in [
            ("", "exactly one of"),
            ("actor=a&action=x.y", "exactly one of"),
            ("actor=a&actor=b", "actor: given twice"),
            ("actor=", "actor: empty"),
            ("resource=doc", "resource: \"doc\" is not KIND/ID"),
            ("resource=/x", "is not KIND/ID"),
            (
                "actor=a&limit=0",
                "limit: \"0\" is not a number from 1 to 1000",
            ),
            ("actor=a&limit=1001", "from 1 to 1000"),
            ("actor=a&since=yesterday", "since: "),
            ("actor=a&cursor=zz", "cursor: "),
            ("who=a", "unknown parameter \"who\""),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
