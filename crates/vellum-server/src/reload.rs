//! Rotation without a restart (`vellum serve` on SIGHUP): the token file
//! and the TLS certificate, key and client CA are read again and swapped
//! in, each on its own and each whole or not at all.
//!
//! * Tokens ([`crate::access::Access::reload`]): every call that starts
//!   after the swap is judged by the new file, on connections already open
//!   too: a removed token is refused at its next call.
//! * TLS ([`crate::tls::ServerTls::reload`]): handshakes after the swap get
//!   the new certificate (and client CA); connections already open keep
//!   the session they have.
//!
//! A file that cannot be used (unreadable, malformed, a key that does not
//! match its certificate, a key readable by others) changes nothing of its
//! part, and is logged at error with the file and the reason; the server
//! goes on with what it had. What changed is logged at info by names,
//! serial numbers, expiry and fingerprints, never by a secret.

use std::sync::Arc;

use crate::access::{Access, AccessError, TokenChange};
use crate::tls::{CertSummary, ServerTls, TlsChange, TlsError};

/// What a server can reload, shared with the listeners it feeds.
#[derive(Clone, Debug, Default)]
pub struct Reloader {
    access: Option<Access>,
    tls: Option<Arc<ServerTls>>,
}

/// What one reload did, part by part; `None`: the server has no such part.
#[derive(Debug)]
pub struct ReloadReport {
    /// The token file: what changed, or why the old one stays.
    /// `Some(Ok(None))`: the tokens were not read from a file.
    pub tokens: Option<Result<Option<TokenChange>, AccessError>>,
    /// The TLS files: what is served now, or why the old material stays.
    pub tls: Option<Result<TlsChange, TlsError>>,
}

impl ReloadReport {
    /// Whether every part that was reloaded could be used.
    pub fn is_ok(&self) -> bool {
        !matches!(self.tokens, Some(Err(_))) && !matches!(self.tls, Some(Err(_)))
    }
}

impl Reloader {
    /// Reloads `access` (its token file) and `tls` (its files).
    pub fn new(access: Option<Access>, tls: Option<Arc<ServerTls>>) -> Reloader {
        Reloader { access, tls }
    }

    /// The certificate served now, with TLS.
    pub fn tls_summary(&self) -> Option<CertSummary> {
        self.tls.as_ref().map(|t| t.summary())
    }

    /// Reads every file again and swaps in each part that can be used.
    pub fn reload(&self) -> ReloadReport {
        ReloadReport {
            tokens: self.access.as_ref().map(Access::reload),
            tls: self.tls.as_ref().map(|t| t.reload()),
        }
    }

    /// [`Reloader::reload`], each outcome logged: at info what changed (or
    /// that nothing did), at error what could not be used and that the
    /// old material stays.
    pub fn reload_and_log(&self) -> ReloadReport {
        let report = self.reload();
        match &report.tokens {
            None => tracing::info!("reload: no token file (--auth) to reload"),
            Some(Ok(None)) => tracing::info!("reload: the tokens were not read from a file"),
            Some(Ok(Some(change))) => tracing::info!(
                added = change.added.len(),
                removed = change.removed.len(),
                changed = change.changed.len(),
                listed = change.listed,
                "{change}"
            ),
            Some(Err(e)) => tracing::error!(
                error = %e,
                "tokens not reloaded, the previous ones stay in force: {e}"
            ),
        }
        match &report.tls {
            None => tracing::info!("reload: no TLS (--tls-cert) to reload"),
            Some(Ok(change)) => tracing::info!(
                subject = %change.cert.subject,
                serial = %change.cert.serial,
                not_after = %change.cert.not_after,
                sha256 = %change.cert.sha256,
                "{change}"
            ),
            Some(Err(e)) => tracing::error!(
                error = %e,
                "TLS not reloaded, the previous certificate stays in use: {e}"
            ),
        }
        report
    }
}
