//! The configuration of `vellum signer`, the checkpoint signer in its own
//! process (not `[log.signer]` of `vellum serve`, which is
//! [`SignerConfig`](super::SignerConfig): how a log reaches this process).
//!
//! Keys: `journal`, `key`, `listen` (docs/CONFIG.md, "`vellum signer`").
//! Variables: `VELLUM_SIGNER_<KEY>` (`VELLUM_SIGNER_JOURNAL`, ...); serve's
//! `VELLUM_SIGNER_STATE` is none of them, and no serve key may start with
//! `signer.` (a test checks both).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use vellum_config::{ConfigError, Layered};

use super::sections::{display_opt, from_str_opt};
use crate::grpc::signer::SignerAddr;

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
    /// `unix:/path` or `http://127.0.0.1:PORT`. Flag `--listen`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "display_opt",
        deserialize_with = "from_str_opt"
    )]
    pub listen: Option<SignerAddr>,
}

impl Layered for SignerServiceConfig {
    /// `VELLUM_SIGNER_JOURNAL`, `VELLUM_SIGNER_KEY`, `VELLUM_SIGNER_LISTEN`.
    const ENV_PREFIX: &'static str = "VELLUM_SIGNER_";

    fn every_key() -> SignerServiceConfig {
        SignerServiceConfig {
            journal: Some(PathBuf::from("signer-journal")),
            key: Some(PathBuf::from("log.key")),
            listen: Some(SignerAddr::Unix(PathBuf::from("signer.sock"))),
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
    /// and variable.
    pub fn to_serve(&self) -> Result<SignerSettings, ConfigError> {
        Ok(SignerSettings {
            journal: self.journal()?.clone(),
            key: Self::required(&self.key, "key", "--key")?.clone(),
            listen: Self::required(&self.listen, "listen", "--listen")?.clone(),
        })
    }
}
