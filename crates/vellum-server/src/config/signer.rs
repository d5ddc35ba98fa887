//! The configuration of `vellum signer`, the checkpoint signer in its own
//! process (not `[log.signer]` of `vellum serve`, which is
//! [`SignerConfig`](super::SignerConfig): how a log reaches this process).
//!
//! Keys: `journal`, `key`, `listen`, `insecure_remote`, `[tls]` `cert`,
//! `key`, `client_ca` (docs/CONFIG.md, "`vellum signer`").
//! Variables: `VELLUM_SIGNER_<KEY>` (`VELLUM_SIGNER_JOURNAL`, ...); serve's
//! `VELLUM_SIGNER_STATE` is none of them, and no serve key may start with
//! `signer.` (a test checks both).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use vellum_config::{ConfigError, Layered};

use super::sections::{TlsConfig, display_opt, from_str_opt};
use crate::grpc::signer::SignerAddr;
use crate::tls::TlsFiles;

/// The configuration of `vellum signer`. Every key is optional in a file
/// (the environment or a flag may give it); [`SignerServiceConfig::journal`]
/// and [`SignerServiceConfig::to_serve`] say which ones a run needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignerServiceConfig {
    /// The journal folder (created if missing). Flag `--journal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<PathBuf>,
    /// The log's private key file (mode 0600). Flag `--key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// `unix:/path`, `http://127.0.0.1:PORT` or `https://HOST:PORT`. Flag
    /// `--listen`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "display_opt",
        deserialize_with = "from_str_opt"
    )]
    pub listen: Option<SignerAddr>,
    /// Listen beyond loopback without mutual TLS. Flag `--insecure-remote`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_remote: bool,
    /// `[tls]`: the signer's certificate and key, and the CA of the log's
    /// client certificate (mutual TLS, for an `https://` address). Flags
    /// `--tls-cert`, `--tls-key`, `--tls-client-ca`.
    #[serde(skip_serializing_if = "is_unset")]
    pub tls: TlsConfig,
}

/// Whether no `[tls]` key is set (the table is then not printed).
fn is_unset(t: &TlsConfig) -> bool {
    *t == TlsConfig::default()
}

impl Layered for SignerServiceConfig {
    /// `VELLUM_SIGNER_JOURNAL`, `VELLUM_SIGNER_KEY`, `VELLUM_SIGNER_LISTEN`.
    const ENV_PREFIX: &'static str = "VELLUM_SIGNER_";

    fn every_key() -> SignerServiceConfig {
        SignerServiceConfig {
            journal: Some(PathBuf::from("signer-journal")),
            key: Some(PathBuf::from("log.key")),
            listen: Some(SignerAddr::Tcp("https://127.0.0.1:6966".into())),
            // true: a false one is not printed, and the keys are read off
            // what is printed.
            insecure_remote: true,
            tls: TlsConfig {
                cert: Some(PathBuf::from("signer.pem")),
                key: Some(PathBuf::from("signer-tls.key")),
                client_ca: Some(PathBuf::from("log-ca.pem")),
            },
        }
    }
}

/// What a serving signer needs, all of it given.
#[derive(Clone, Debug, PartialEq)]
pub struct SignerSettings {
    /// The journal folder.
    pub journal: PathBuf,
    /// The private key file.
    pub key: PathBuf,
    /// Where to listen.
    pub listen: SignerAddr,
    /// TLS for an `https://` address: certificate, key, and the CA of the
    /// log's client certificate (required beyond loopback).
    pub tls: Option<TlsFiles>,
    /// Listen beyond loopback without mutual TLS (loudly logged).
    pub insecure_remote: bool,
}

impl SignerSettings {
    /// Checks that the signer may serve where it is asked to: beyond
    /// loopback only over `https://` with a client CA (mutual TLS: only the
    /// log, holding a certificate of that CA, may ask for signatures),
    /// unless [`SignerSettings::insecure_remote`]; then the returned
    /// warning says what is missing.
    ///
    /// Whoever can reach an open signer can have it sign any tree that
    /// extends the last one it signed: a consistency proof is easy to make
    /// for a tree of one's own choosing. So an open signer is a forged log.
    ///
    /// # Errors
    ///
    /// A message naming the address, what is missing and the flags that
    /// add it.
    pub fn check_safety(&self) -> Result<Option<String>, String> {
        let mutual = self.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        if self.listen.is_local() || mutual {
            return Ok(None);
        }
        let missing = if self.listen.is_tls() {
            "client authentication (--tls-client-ca FILE: the CA of the log's client certificate)"
        } else {
            "mutual TLS (an https:// address with --tls-cert FILE --tls-key FILE \
             --tls-client-ca FILE)"
        };
        if !self.insecure_remote {
            return Err(format!(
                "refusing to serve the signer on {} without {missing}: anyone who can reach it \
                 could have it sign a tree of their own that extends the log. Add {missing}, \
                 listen on unix:/path or 127.0.0.1, or pass --insecure-remote to accept the \
                 risk (never in production)",
                self.listen
            ));
        }
        Ok(Some(format!(
            "INSECURE (--insecure-remote): serving the signer on {} without {missing}; anyone \
             on the network can ask it for signatures. Never in production.",
            self.listen
        )))
    }
}

impl SignerServiceConfig {
    /// The journal folder (all that `vellum signer --list` needs).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the key, flag and variable, if unset.
    pub fn journal(&self) -> Result<&PathBuf, ConfigError> {
        Self::required(&self.journal, "journal", "--journal")
    }

    /// Every setting a serving signer needs.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first key missing, with its flag
    /// and variable, or TLS settings that do not fit the address.
    pub fn to_serve(&self) -> Result<SignerSettings, ConfigError> {
        let listen = Self::required(&self.listen, "listen", "--listen")?.clone();
        let t = &self.tls;
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        let tls = match (&t.cert, &t.key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: t.client_ca.clone(),
            }),
            (None, None) if t.client_ca.is_some() => {
                return bad("tls.client_ca (--tls-client-ca) needs tls.cert and tls.key");
            }
            (None, None) => None,
            _ => return bad("tls.cert (--tls-cert) and tls.key (--tls-key) go together"),
        };
        match (&listen, &tls) {
            (SignerAddr::Tcp(_), None) if listen.is_tls() => {
                return bad(
                    "an https:// listen address needs tls.cert (--tls-cert) and tls.key \
                     (--tls-key)",
                );
            }
            (_, Some(_)) if !listen.is_tls() => {
                return bad(
                    "TLS settings (--tls-cert, --tls-key, --tls-client-ca) need an https:// \
                     listen address",
                );
            }
            _ => {}
        }
        Ok(SignerSettings {
            journal: self.journal()?.clone(),
            key: Self::required(&self.key, "key", "--key")?.clone(),
            listen,
            tls,
            insecure_remote: self.insecure_remote,
        })
    }
}
