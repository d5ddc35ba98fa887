//! Fetching tlog-tiles resources over HTTP: bounded bodies, gzip accepted,
//! transient failures retried, and a partial tile that is gone replaced by
//! the prefix of its full tile (which tlog-tiles allows logs to do).

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use reqwest::{StatusCode, Url};
use vellum_merkle::HASH_LEN;
use vellum_merkle::tiles::{MAX_ENTRY_SIZE, TILE_WIDTH, Tile, TileKind};

use crate::error::AuditError;

/// Attempts per resource before a transient failure is reported.
const ATTEMPTS: u32 = 4;
/// The largest checkpoint accepted (a signed note is at most 1 MiB).
const MAX_CHECKPOINT: usize = vellum_note::note::MAX_NOTE_SIZE;

/// An HTTP client for one log prefix.
#[derive(Debug)]
pub struct Fetcher {
    http: reqwest::Client,
    base: Url,
    bytes: AtomicU64,
    requests: AtomicU64,
}

/// What a GET returned.
enum Got {
    Body(Bytes),
    Status(StatusCode),
}

impl Fetcher {
    /// A client for the log whose tlog-tiles prefix is `url`.
    ///
    /// # Errors
    ///
    /// [`AuditError::Config`] for a URL that is not http(s), or a client
    /// that cannot be built.
    pub fn new(
        url: &str,
        connections: usize,
        token: Option<&str>,
        ca_pem: Option<&[u8]>,
    ) -> Result<Fetcher, AuditError> {
        let mut base =
            Url::parse(url).map_err(|e| AuditError::Config(format!("--url {url}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(AuditError::Config(format!(
                "--url {url}: not an http(s) URL"
            )));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = ca_pem {
            let ca = reqwest::Certificate::from_pem(pem)
                .map_err(|e| AuditError::Config(format!("the CA certificate: {e}")))?;
            builder = builder
                .add_root_certificate(ca)
                .tls_built_in_root_certs(false);
        }
        if let Some(token) = token {
            let host = base.host_str().unwrap_or_default();
            let loopback = host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if base.scheme() != "https" && !loopback {
                return Err(AuditError::Config(format!(
                    "refusing to send a bearer token in clear text to {url}; use https://"
                )));
            }
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                    .map_err(|_| {
                        AuditError::Config("the token cannot be sent in a header".into())
                    })?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        let http = builder
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .user_agent(concat!("vellum-audit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AuditError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Fetcher {
            http,
            base,
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    /// The URL of a path under the prefix.
    pub fn url(&self, path: &str) -> String {
        self.base
            .join(path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{}{path}", self.base))
    }

    /// Bytes received (as sent, before gzip decoding) and requests made.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.requests.load(Ordering::Relaxed),
        )
    }

    /// `<prefix>/checkpoint`.
    ///
    /// # Errors
    ///
    /// [`AuditError::Fetch`], or [`AuditError::Checkpoint`] when the log
    /// does not serve one.
    pub async fn checkpoint(&self) -> Result<Bytes, AuditError> {
        match self.get("checkpoint", MAX_CHECKPOINT).await? {
            Got::Body(b) => Ok(b),
            Got::Status(s) => Err(AuditError::Checkpoint {
                url: self.url("checkpoint"),
                reason: format!("HTTP {s}"),
            }),
        }
    }

    /// A tile or bundle that a checkpoint of `size` requires. A hash tile
    /// must be exactly `32 * width` bytes. A partial tile the log no longer
    /// serves is read from the front of its full tile.
    ///
    /// # Errors
    ///
    /// [`AuditError::Fetch`], [`AuditError::Missing`],
    /// [`AuditError::Malformed`].
    pub async fn tile(&self, tile: Tile, size: u64) -> Result<Bytes, AuditError> {
        let max = match tile.kind() {
            TileKind::Hashes(_) => usize::from(tile.width()) * HASH_LEN,
            TileKind::Entries => usize::from(tile.width()) * (MAX_ENTRY_SIZE + 2),
        };
        let path = tile.path();
        let status = match self.get(&path, max).await? {
            Got::Body(b) => return check_length(tile, &path, b),
            Got::Status(s) => s,
        };
        if status == StatusCode::NOT_FOUND && !tile.is_full() {
            let full = tile.full();
            let full_max = match tile.kind() {
                TileKind::Hashes(_) => TILE_WIDTH as usize * HASH_LEN,
                TileKind::Entries => TILE_WIDTH as usize * (MAX_ENTRY_SIZE + 2),
            };
            if let Got::Body(b) = self.get(&full.path(), full_max).await? {
                let b = check_length(full, &full.path(), b)?;
                return prefix(tile, &full.path(), b);
            }
        }
        Err(AuditError::Missing {
            path,
            status: status.as_u16(),
            size,
        })
    }

    /// GETs `path`, retrying transient failures; a 4xx other than 408 and
    /// 429 is an answer, not a failure.
    async fn get(&self, path: &str, max: usize) -> Result<Got, AuditError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| AuditError::Config(format!("{path}: {e}")))?;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << (2 * attempt))).await;
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            match self.once(url.clone(), max).await {
                Ok(Got::Status(s))
                    if s.is_server_error()
                        || s == StatusCode::REQUEST_TIMEOUT
                        || s == StatusCode::TOO_MANY_REQUESTS =>
                {
                    last = format!("HTTP {s}");
                }
                Ok(got) => return Ok(got),
                Err(Transient(m)) => {
                    tracing::debug!(url = %url, attempt, reason = %m, "retrying");
                    last = m;
                }
                Err(Fatal(e)) => return Err(e),
            }
        }
        Err(AuditError::Fetch {
            url: url.to_string(),
            reason: format!("{last} (after {ATTEMPTS} attempts)"),
        })
    }

    async fn once(&self, url: Url, max: usize) -> Result<Got, Failure> {
        let mut resp = self
            .http
            .get(url.clone())
            .header(ACCEPT_ENCODING, "gzip, identity")
            .send()
            .await
            .map_err(|e| Transient(describe(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Ok(Got::Status(status));
        }
        let gzip = match resp.headers().get(CONTENT_ENCODING).map(|v| v.as_bytes()) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case(b"identity") => false,
            Some(v) if v.eq_ignore_ascii_case(b"gzip") => true,
            Some(v) => {
                return Err(Fatal(AuditError::Malformed {
                    path: url.path().trim_start_matches('/').to_owned(),
                    reason: format!(
                        "served with Content-Encoding {:?}, which was not asked for",
                        String::from_utf8_lossy(v)
                    ),
                }));
            }
        };
        // Compressed bodies are bounded too: a bundle never compresses to
        // more than its raw size plus gzip's framing.
        let wire_max = max + max / 64 + 1024;
        let too_big = || {
            Fatal(AuditError::Malformed {
                path: url.path().trim_start_matches('/').to_owned(),
                reason: format!("larger than the {max} bytes it can be"),
            })
        };
        if resp.content_length().is_some_and(|l| l > wire_max as u64) {
            return Err(too_big());
        }
        let mut body =
            Vec::with_capacity(resp.content_length().unwrap_or(0).min(wire_max as u64) as usize);
        while let Some(chunk) = resp.chunk().await.map_err(|e| Transient(describe(&e)))? {
            if body.len() + chunk.len() > wire_max {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        if !gzip {
            return Ok(Got::Body(Bytes::from(body)));
        }
        let mut out = Vec::with_capacity(body.len() * 3);
        flate2::read::GzDecoder::new(body.as_slice())
            .take(max as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                Fatal(AuditError::Malformed {
                    path: url.path().trim_start_matches('/').to_owned(),
                    reason: format!("bad gzip encoding: {e}"),
                })
            })?;
        if out.len() > max {
            return Err(too_big());
        }
        Ok(Got::Body(Bytes::from(out)))
    }
}

enum Failure {
    Transient(String),
    Fatal(AuditError),
}
use Failure::{Fatal, Transient};

fn check_length(tile: Tile, path: &str, b: Bytes) -> Result<Bytes, AuditError> {
    if let TileKind::Hashes(_) = tile.kind() {
        let expected = usize::from(tile.width()) * HASH_LEN;
        if b.len() != expected {
            return Err(AuditError::Malformed {
                path: path.to_owned(),
                reason: format!(
                    "{} bytes, a tile of width {} is {expected}",
                    b.len(),
                    tile.width()
                ),
            });
        }
    }
    Ok(b)
}

/// The first `tile.width()` items of the full tile `full` (bytes `b`).
fn prefix(tile: Tile, full_path: &str, b: Bytes) -> Result<Bytes, AuditError> {
    match tile.kind() {
        TileKind::Hashes(_) => Ok(b.slice(..usize::from(tile.width()) * HASH_LEN)),
        TileKind::Entries => {
            let mut at = 0;
            for _ in 0..tile.width() {
                let len = b
                    .get(at..at + 2)
                    .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                    .ok_or_else(|| AuditError::Malformed {
                        path: full_path.to_owned(),
                        reason: "truncated entry bundle".into(),
                    })?;
                at += 2 + len;
            }
            if at > b.len() {
                return Err(AuditError::Malformed {
                    path: full_path.to_owned(),
                    reason: "truncated entry bundle".into(),
                });
            }
            Ok(b.slice(..at))
        }
    }
}

/// A reqwest error with its causes (the top level alone is often just
/// "error sending request").
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
