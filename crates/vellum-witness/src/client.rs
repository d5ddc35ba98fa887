//! The log side of tlog-witness: ask one witness to cosign a checkpoint.
//!
//! The answer is never trusted: a 200 counts only if it carries a
//! cosignature by this witness's key that verifies over exactly the
//! checkpoint sent. Lines by other keys are ignored, as tlog-witness says.
//!
//! One [`WitnessClient`] holds one `reqwest::Client`, so connections are
//! kept alive across calls (tlog-witness asks clients to).

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{StatusCode, Url};
use vellum_merkle::Hash;
use vellum_note::{CosignatureVerifier, Note, NoteSignature, NoteVerifier, parse_signature_lines};

use crate::http::TLOG_SIZE_CONTENT_TYPE;
use crate::request::{AddCheckpointRequest, MAX_PROOF_LINES};

/// Why a witness did not cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessCallError {
    /// 409: the witness's latest cosigned size is `size`; retry from there
    /// (with a proof from `size`), or investigate if it is ahead of the log.
    #[error("the witness's latest cosigned size is {size}, not the old size sent")]
    Conflict {
        /// The witness's latest cosigned size.
        size: u64,
    },
    /// Any other refusal (400, 403, 404, 413, 422, a 409 without a size...):
    /// retrying the same request will not help.
    #[error("the witness refused the checkpoint with status {status}: {body}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The response body (cut to a few KiB).
        body: String,
    },
    /// The witness could not be reached or failed (connection error,
    /// timeout, 5xx): retry later.
    #[error("the witness is unavailable: {0}")]
    Unavailable(String),
    /// A 200 without a valid cosignature by this witness's key on exactly
    /// this checkpoint.
    #[error("the witness's answer holds no valid cosignature of this checkpoint: {0}")]
    BadCosignature(String),
    /// The request could not be formed (too many proof hashes, a checkpoint
    /// that is not a signed note, a bad URL): a bug in the caller.
    #[error("invalid witness request: {0}")]
    InvalidRequest(String),
}

impl WitnessCallError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, WitnessCallError::Unavailable(_))
    }
}

/// A bearer token a witness gave the log (see [`crate::auth`]). Never
/// shown: its `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// Wraps `token`.
    pub fn new(token: impl Into<String>) -> BearerToken {
        BearerToken(token.into())
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Timeouts, limits and credentials of a [`WitnessClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// To establish a connection.
    pub connect_timeout: Duration,
    /// For the whole call, response body included.
    pub timeout: Duration,
    /// Largest response body read.
    pub max_response_size: usize,
    /// PEM CA certificate(s) an `https://` witness's certificate must chain
    /// to, instead of the web PKI roots (a private CA).
    pub ca_pem: Option<Vec<u8>>,
    /// The bearer token to send (`Authorization: Bearer`). Sent only over
    /// `https://` or to a loopback address.
    pub token: Option<BearerToken>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_response_size: 64 * 1024,
            ca_pem: None,
            token: None,
        }
    }
}

/// A client of one witness.
#[derive(Debug, Clone)]
pub struct WitnessClient {
    url: Url,
    name: String,
    verifier: CosignatureVerifier,
    http: reqwest::Client,
    max_response_size: usize,
    token: Option<BearerToken>,
}

impl WitnessClient {
    /// A client of the witness at `url_prefix` (its submission prefix;
    /// `/add-checkpoint` is appended), called `name` in messages, whose
    /// cosignatures `verifier` checks. Default [`ClientOptions`].
    ///
    /// # Errors
    ///
    /// [`WitnessCallError::InvalidRequest`] for a bad URL or an HTTP client
    /// that cannot be built.
    pub fn new(
        url_prefix: &str,
        name: &str,
        verifier: CosignatureVerifier,
    ) -> Result<WitnessClient, WitnessCallError> {
        WitnessClient::with_options(url_prefix, name, verifier, &ClientOptions::default())
    }

    /// As [`WitnessClient::new`], with `options`.
    ///
    /// # Errors
    ///
    /// As [`WitnessClient::new`]; also a CA that is not PEM, or a token
    /// for a witness reached over plain `http://` beyond loopback (it would
    /// travel in the clear).
    pub fn with_options(
        url_prefix: &str,
        name: &str,
        verifier: CosignatureVerifier,
        options: &ClientOptions,
    ) -> Result<WitnessClient, WitnessCallError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            // A witness has no reason to redirect, and following one would
            // turn the POST into a GET somewhere else (and carry the token).
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &options.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                WitnessCallError::InvalidRequest(format!("witness {name}: CA certificates: {e}"))
            })?;
            if certs.is_empty() {
                return Err(WitnessCallError::InvalidRequest(format!(
                    "witness {name}: the CA file holds no PEM certificate"
                )));
            }
            // The private CA only: a public certificate for the witness's
            // name is not what this deployment trusts.
            builder = builder.tls_built_in_root_certs(false);
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| WitnessCallError::InvalidRequest(format!("HTTP client: {e}")))?;
        let url = format!("{}/add-checkpoint", url_prefix.trim_end_matches('/'));
        let url = Url::parse(&url).map_err(|e| {
            WitnessCallError::InvalidRequest(format!("witness URL {url_prefix:?}: {e}"))
        })?;
        if options.token.is_some() && url.scheme() != "https" && !is_loopback(&url) {
            return Err(WitnessCallError::InvalidRequest(format!(
                "refusing to send witness {name}'s token over plain HTTP to {}: use its https:// \
                 URL in the policy",
                url.host_str().unwrap_or("?")
            )));
        }
        Ok(WitnessClient {
            url,
            name: name.to_owned(),
            verifier,
            http,
            max_response_size: options.max_response_size,
            token: options.token.clone(),
        })
    }

    /// The witness's name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `add-checkpoint` URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The witness's key.
    pub fn verifier(&self) -> &CosignatureVerifier {
        &self.verifier
    }

    /// Sends `signed_checkpoint` (a signed note) with the consistency proof
    /// from `old_size`, and returns the witness's verified cosignatures
    /// (lines by other keys dropped), ready for [`Note::add_signatures`].
    ///
    /// # Errors
    ///
    /// [`WitnessCallError::Conflict`] for a 409 with a size,
    /// [`WitnessCallError::Rejected`] for other refusals,
    /// [`WitnessCallError::Unavailable`] for network failures, timeouts and
    /// 5xx, [`WitnessCallError::BadCosignature`] for a 200 without a valid
    /// cosignature, [`WitnessCallError::InvalidRequest`] for a proof longer
    /// than 63 hashes or a checkpoint that is not a signed note.
    pub async fn add_checkpoint(
        &self,
        old_size: u64,
        proof: &[Hash],
        signed_checkpoint: &[u8],
    ) -> Result<Vec<NoteSignature>, WitnessCallError> {
        if proof.len() > MAX_PROOF_LINES {
            return Err(WitnessCallError::InvalidRequest(format!(
                "a consistency proof of {} hashes is longer than the {MAX_PROOF_LINES} tlog-witness allows",
                proof.len()
            )));
        }
        let note = Note::parse(signed_checkpoint).map_err(|e| {
            WitnessCallError::InvalidRequest(format!("the checkpoint is not a signed note: {e}"))
        })?;
        let body = AddCheckpointRequest::encode(old_size, proof, signed_checkpoint);
        let unavailable = |e: reqwest::Error| {
            WitnessCallError::Unavailable(format!("witness {}: {}", self.name, describe(&e)))
        };
        let mut request = self.http.post(self.url.clone()).body(body);
        if let Some(BearerToken(token)) = &self.token {
            // reqwest marks the header sensitive: never logged.
            request = request.bearer_auth(token);
        }
        let mut response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
            let room = self.max_response_size - bytes.len();
            if chunk.len() > room {
                bytes.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();

        if status == StatusCode::OK {
            if truncated {
                return Err(WitnessCallError::BadCosignature(format!(
                    "the response is larger than {} bytes",
                    self.max_response_size
                )));
            }
            return self.check_cosignatures(note.text(), &text);
        }
        if status == StatusCode::CONFLICT
            && content_type.as_deref() == Some(TLOG_SIZE_CONTENT_TYPE)
            && let Some(size) = parse_size_body(&text)
        {
            return Err(WitnessCallError::Conflict { size });
        }
        let body = cut(&text, 4096);
        if status.is_server_error() {
            return Err(WitnessCallError::Unavailable(format!(
                "witness {} answered {status}: {body}",
                self.name
            )));
        }
        Err(WitnessCallError::Rejected {
            status: status.as_u16(),
            body,
        })
    }

    /// The cosignatures by this witness's key in a 200 body, all verified
    /// over `checkpoint_text`; at least one.
    fn check_cosignatures(
        &self,
        checkpoint_text: &str,
        body: &str,
    ) -> Result<Vec<NoteSignature>, WitnessCallError> {
        let lines = parse_signature_lines(body)
            .map_err(|e| WitnessCallError::BadCosignature(format!("unreadable response: {e}")))?;
        let (name, id) = (self.verifier.name(), self.verifier.key_id());
        let mut mine = Vec::new();
        for sig in lines.into_iter().filter(|s| s.is_by(name, id)) {
            if self
                .verifier
                .verify_cosignature(checkpoint_text, sig.signature())
                .is_none()
            {
                return Err(WitnessCallError::BadCosignature(format!(
                    "the cosignature by {name}+{id:08x} does not verify over this checkpoint"
                )));
            }
            if !mine.contains(&sig) {
                mine.push(sig);
            }
        }
        if mine.is_empty() {
            return Err(WitnessCallError::BadCosignature(format!(
                "no signature line by the witness key {name}+{id:08x}"
            )));
        }
        Ok(mine)
    }
}

/// Whether `url`'s host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `<decimal>\n`, no leading zero.
fn parse_size_body(text: &str) -> Option<u64> {
    let digits = text.strip_suffix('\n')?;
    let well_formed = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if well_formed {
        digits.parse().ok()
    } else {
        None
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// A reqwest error with its causes (the top level alone is often just
/// "error sending request").
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        format!("timed out: {e}")
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_bodies() {
        assert_eq!(parse_size_body("0\n"), Some(0));
        assert_eq!(parse_size_body("123\n"), Some(123));
        for bad in ["", "\n", "12", "012\n", "1 \n", "-1\n", "1\n\n"] {
            assert_eq!(parse_size_body(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cut_respects_char_boundaries() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("a\u{2014}b", 2), "a...");
    }
}
