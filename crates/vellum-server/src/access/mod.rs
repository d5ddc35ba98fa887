//! Access control: bearer tokens, roles, and the checks in front of the
//! gRPC and HTTP services.
//!
//! # Token file
//!
//! One token per line; `#` starts a comment; blank lines are ignored:
//!
//! ```text
//! # roles            sha256 of the token (64 hex digits)                      name
//! append             5b2a3c...e9 ingest-service
//! read,audit         0d41f1...77 monitor
//! ```
//!
//! The file holds only SHA-256 hashes of tokens (`printf %s "$TOKEN" |
//! sha256sum`, or `vellum token`), never a token, so it is not a secret;
//! a presented token is hashed and compared with every hash in constant
//! time. Names appear in logs; tokens never do.
//!
//! With client certificates (mTLS, `--tls-client-ca`), a line whose second
//! field is `cert-sha256:<64 hex digits>` gives roles to the client
//! certificate with that SHA-256 fingerprint (of its DER encoding,
//! `openssl x509 -in client.pem -outform der | sha256sum`). The TLS
//! handshake has already checked that the certificate chains to the client
//! CA; the fingerprint says which one it is. A call with a bearer token is
//! judged by the token; one without, by the client certificate if any.
//!
//! # Roles
//!
//! A role written alone holds on every log of the server; `role@name`
//! holds on the log named `name` only (a server may hold several logs,
//! `[[logs]]` in its configuration; the default log is named `default`).
//! A token of log `a` is denied on log `b` like any other missing role:
//! `PERMISSION_DENIED`, counted and logged.
//!
//! ```text
//! append@tenant-a,read@tenant-a   3f9c...01 tenant-a-ingest
//! ```
//!
//! | role | may call |
//! |---|---|
//! | `append` | `Append`, `AppendStream` |
//! | `read` | `GetCheckpoint`, `GetInclusionProof`, `GetConsistencyProof`, `GetEntries`, `GetEntryAndProof`, reflection |
//! | `audit` | everything `read` may, and the tlog-tiles HTTP API (`/checkpoint`, `/tile/...`): whole-log access for monitors and mirrors |
//! | `admin` | everything above |
//!
//! gRPC health checking needs no token. A method this table does not know
//! needs `admin`; there is none. **No role, admin included, can change or
//! delete an entry: no such call exists** (`tests/auth.rs` checks the
//! service descriptor).
//!
//! # Answers
//!
//! No token, a malformed header or an unknown token: `UNAUTHENTICATED`
//! (HTTP `401` with `WWW-Authenticate: Bearer`). A known token without the
//! role: `PERMISSION_DENIED` (HTTP `403`). Either way the call never reaches
//! the service (nothing is appended), the denial is counted in
//! [`AccessStats`] and logged at warn with the method and the token's name.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::net::ConnInfo;

mod grants;
mod layers;
mod reload;
pub use grants::{Grants, Roles};
pub use layers::{AccessGate, http_middleware};
pub use reload::TokenChange;

/// A role on the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Append entries.
    Append,
    /// gRPC reads: checkpoints, proofs, entries.
    Read,
    /// `read`, and the tlog-tiles HTTP API.
    Audit,
    /// Every role.
    Admin,
}

impl Role {
    /// The role's name in the token file.
    pub fn name(self) -> &'static str {
        match self {
            Role::Append => "append",
            Role::Read => "read",
            Role::Audit => "audit",
            Role::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s {
            "append" => Some(Role::Append),
            "read" => Some(Role::Read),
            "audit" => Some(Role::Audit),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Role::Append => 1,
            Role::Read => 2,
            Role::Audit => 4,
            Role::Admin => 8,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a call needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing (health checking).
    Nothing,
    /// A token with this role.
    Role(Role),
}

/// Every method of `vellum.v1.Log` and the role it needs. A method missing
/// here needs `admin` (see [`grpc_need`]); `tests/auth.rs` checks that this
/// table lists exactly the methods the service descriptor has.
pub const LOG_METHODS: &[(&str, Role)] = &[
    ("Append", Role::Append),
    ("AppendStream", Role::Append),
    ("GetCheckpoint", Role::Read),
    ("GetInclusionProof", Role::Read),
    ("GetConsistencyProof", Role::Read),
    ("GetEntries", Role::Read),
    ("GetEntryAndProof", Role::Read),
    ("Record", Role::Append),
    ("ListEvents", Role::Read),
    ("WatchAlerts", Role::Audit),
];

/// What the gRPC call at `path` (`/package.Service/Method`) needs.
pub fn grpc_need(path: &str) -> Need {
    if path.starts_with("/grpc.health.v1.Health/") {
        return Need::Nothing;
    }
    if path.starts_with("/grpc.reflection.") {
        return Need::Role(Role::Read);
    }
    if let Some(method) = path.strip_prefix("/vellum.v1.Log/")
        && let Some((_, role)) = LOG_METHODS.iter().find(|(m, _)| *m == method)
    {
        return Need::Role(*role);
    }
    Need::Role(Role::Admin)
}

/// What the tlog-tiles HTTP API needs, for every path.
pub const HTTP_NEED: Role = Role::Audit;

/// Names no token may have: the submitter the log records its own events
/// under, and the one it records calls without authentication under.
pub const RESERVED_NAMES: [&str; 2] = [crate::guard::SUBMITTER, "anonymous"];

/// Who a token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The token's name in the token file.
    pub name: String,
    /// Its roles, on which logs.
    pub roles: Grants,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Credential {
    /// SHA-256 of a bearer token.
    Token([u8; 32]),
    /// SHA-256 of a client certificate's DER.
    Cert([u8; 32]),
}

struct Entry {
    credential: Credential,
    identity: Identity,
}

/// The tokens a server accepts.
pub struct AccessPolicy {
    entries: Vec<Entry>,
    /// The file it was read from ([`AccessPolicy::load`]), read again on
    /// a reload.
    source: Option<PathBuf>,
}

impl fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.identity))
            .finish()
    }
}

/// Why a token file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The file could not be read.
    #[error("cannot read token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("token file line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file lists no token: nobody could do anything.
    #[error("the token file lists no token")]
    Empty,
}

use vellum_witness::auth::parse_hex32;
/// The SHA-256 of `token` in hex, as the token file holds it: the same
/// form as a witness's token file.
pub use vellum_witness::auth::token_hash_hex;

impl AccessPolicy {
    /// Parses a token file (format in the module docs).
    ///
    /// # Errors
    ///
    /// [`AccessError::Line`] naming the line, or [`AccessError::Empty`].
    pub fn parse(text: &str) -> Result<AccessPolicy, AccessError> {
        let mut entries: Vec<Entry> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |reason: String| AccessError::Line { line, reason };
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let fields: Vec<&str> = content.split_whitespace().collect();
            let [roles, hash, name] = fields[..] else {
                return Err(err(format!(
                    "expected `<role>[,<role>...] <sha256-hex-of-token> <name>`, found {} fields",
                    fields.len()
                )));
            };
            let set = Grants::parse(roles).map_err(err)?;
            let lower = hash.to_ascii_lowercase();
            let credential = match lower.strip_prefix("cert-sha256:") {
                Some(h) => parse_hex32(h).map(Credential::Cert),
                None => parse_hex32(&lower).map(Credential::Token),
            }
            .ok_or_else(|| {
                err(
                    "the second field must be the token's SHA-256 in 64 hex digits \
                     (the file holds hashes, never tokens), or cert-sha256:<64 hex digits> \
                     for a client certificate"
                        .into(),
                )
            })?;
            if entries.iter().any(|e| e.credential == credential) {
                return Err(err("this hash is listed twice".into()));
            }
            if RESERVED_NAMES.contains(&name) {
                return Err(err(format!(
                    "the name {name:?} is reserved: the log records its own events (alerts) \
                     as {:?}, and calls without a token as \"anonymous\"; choose another name",
                    crate::guard::SUBMITTER
                )));
            }
            if entries.iter().any(|e| e.identity.name == name) {
                return Err(err(format!("the name {name:?} is listed twice")));
            }
            entries.push(Entry {
                credential,
                identity: Identity {
                    name: name.to_owned(),
                    roles: set,
                },
            });
        }
        if entries.is_empty() {
            return Err(AccessError::Empty);
        }
        Ok(AccessPolicy {
            entries,
            source: None,
        })
    }

    /// Reads and parses a token file.
    ///
    /// # Errors
    ///
    /// As [`AccessPolicy::parse`], or [`AccessError::Read`].
    pub fn load(path: &Path) -> Result<AccessPolicy, AccessError> {
        let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut policy = AccessPolicy::parse(&text)?;
        policy.source = Some(path.to_owned());
        Ok(policy)
    }

    /// The file this policy was read from, if it was ([`AccessPolicy::load`]).
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// How many tokens are listed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is listed (never true of a parsed file).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The identity of `token`, if it is listed. Every listed hash is
    /// compared, in constant time, whatever matches.
    pub fn authenticate(&self, token: &str) -> Option<&Identity> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for e in &self.entries {
            if let Credential::Token(h) = &e.credential
                && bool::from(h.ct_eq(&presented))
            {
                found = Some(&e.identity);
            }
        }
        found
    }

    /// The identity of the client certificate whose DER has SHA-256
    /// `fingerprint`, if it is listed.
    pub fn authenticate_cert(&self, fingerprint: &[u8; 32]) -> Option<&Identity> {
        self.entries
            .iter()
            .find(|e| e.credential == Credential::Cert(*fingerprint))
            .map(|e| &e.identity)
    }
}

/// Denials, counted, and passed on to the guard's detectors.
#[derive(Debug, Default)]
pub struct AccessStats {
    /// Calls refused for want of a valid token.
    pub unauthenticated: AtomicU64,
    /// Calls refused because the token lacks the role.
    pub permission_denied: AtomicU64,
    /// Where each denial is also sent (the detectors), if anywhere. Never
    /// waits: when the receiver is behind, the denial is counted only.
    pub tap: std::sync::OnceLock<tokio::sync::mpsc::Sender<Refusal>>,
}

/// A refused call, as the detectors see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The token's (or certificate's) name; `None`: unauthenticated.
    pub identity: Option<String>,
    /// The caller's address.
    pub address: Option<std::net::IpAddr>,
}

impl AccessStats {
    /// Counts a denial of `identity` (`None`: unauthenticated) from `peer`.
    fn deny(&self, identity: Option<&str>, peer: Option<&ConnInfo>) {
        let counter = match identity {
            None => &self.unauthenticated,
            Some(_) => &self.permission_denied,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(tap) = self.tap.get() {
            let _ = tap.try_send(Refusal {
                identity: identity.map(str::to_owned),
                address: peer.map(|p| p.remote.ip()),
            });
        }
    }

    /// All denials.
    pub fn denied(&self) -> u64 {
        self.unauthenticated.load(Ordering::Relaxed)
            + self.permission_denied.load(Ordering::Relaxed)
    }
}

/// Why a call was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// No usable credentials.
    Unauthenticated(String),
    /// The credentials lack the role.
    PermissionDenied(String),
}

/// The access check shared by both listeners. Clones share one policy,
/// which [`Access::reload`] replaces for every call that starts after it.
#[derive(Clone, Debug)]
pub struct Access {
    policy: Arc<ArcSwap<AccessPolicy>>,
    stats: Arc<AccessStats>,
}

impl Access {
    /// Checks calls against `policy`, counting denials in `stats`.
    pub fn new(policy: Arc<AccessPolicy>, stats: Arc<AccessStats>) -> Access {
        Access {
            policy: Arc::new(ArcSwap::new(policy)),
            stats,
        }
    }

    /// Decides a call to `what` on the log named `log` needing `need`,
    /// given its headers; counts and logs a denial.
    ///
    /// # Errors
    ///
    /// The [`Denial`].
    pub fn check(
        &self,
        what: &str,
        log: &str,
        need: Need,
        headers: &HeaderMap,
        peer: Option<&ConnInfo>,
    ) -> Result<Option<Identity>, Denial> {
        self.check_noting(what, log, need, headers, peer, None)
    }

    /// As [`Access::check`], and names the caller in `who` (for the
    /// request's log line) as soon as its credentials are known, even if
    /// the call is then denied for want of a role.
    ///
    /// # Errors
    ///
    /// The [`Denial`].
    pub fn check_noting(
        &self,
        what: &str,
        log: &str,
        need: Need,
        headers: &HeaderMap,
        peer: Option<&ConnInfo>,
        who: Option<&crate::grpc::request_log::Submitter>,
    ) -> Result<Option<Identity>, Denial> {
        let Need::Role(role) = need else {
            return Ok(None);
        };
        let policy = self.policy.load();
        let remote = peer.map(|p| p.remote.to_string()).unwrap_or_default();
        let cert = peer.and_then(|p| p.client_cert_sha256.as_ref());
        let identity = match (bearer(headers), cert) {
            (Ok(token), _) => {
                let Some(identity) = policy.authenticate(token) else {
                    self.stats.deny(None, peer);
                    tracing::warn!(method = what, %remote, "denied: unknown token");
                    return Err(Denial::Unauthenticated(
                        "the bearer token is not known to this server".into(),
                    ));
                };
                identity
            }
            (Err(NO_HEADER), Some(fingerprint)) => {
                let Some(identity) = policy.authenticate_cert(fingerprint) else {
                    self.stats.deny(None, peer);
                    tracing::warn!(method = what, %remote, "denied: unknown client certificate");
                    return Err(Denial::Unauthenticated(
                        "the client certificate is not listed in this server's token file".into(),
                    ));
                };
                identity
            }
            (Err(reason), _) => {
                self.stats.deny(None, peer);
                tracing::warn!(method = what, %remote, reason, "denied: unauthenticated");
                return Err(Denial::Unauthenticated(format!(
                    "{what} needs a bearer token (or client certificate) with role {role}: \
                     {reason}"
                )));
            }
        };
        if let Some(who) = who {
            who.set(&identity.name);
        }
        if !identity.roles.allows(log, role) {
            self.stats.deny(Some(&identity.name), peer);
            tracing::warn!(
                method = what,
                log,
                token = identity.name,
                roles = %identity.roles,
                needs = %role,
                %remote,
                "denied: permission"
            );
            return Err(Denial::PermissionDenied(format!(
                "token {:?} has roles [{}]; {what} on log {log:?} needs {role} (on every log, or \
                 {role}@{log})",
                identity.name, identity.roles
            )));
        }
        Ok(Some(identity.clone()))
    }
}

const NO_HEADER: &str = "no authorization header";

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Result<&str, &'static str> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or(NO_HEADER)?;
    if values.next().is_some() {
        return Err("more than one authorization header");
    }
    let value = value
        .to_str()
        .map_err(|_| "the authorization header is not ASCII")?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or("the authorization header is not `Bearer <token>`")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("the authorization scheme is not Bearer");
    }
    let token = token.trim();
    if token.is_empty() {
        return Err("the bearer token is empty");
    }
    Ok(token)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests;
