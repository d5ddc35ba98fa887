//! What the commands that talk to a log share: the server URL, the trust
//! (`--vkey` or `--policy`), the runtime, and how client errors become exit
//! statuses.

use anyhow::{Context, anyhow};
use vellum_client::{Client, ClientError, StatusCode, Trust, UnverifiedClient};
use vellum_note::policy::MAX_POLICY_SIZE;
use vellum_note::{Policy, VerifierKey};

use crate::exit::Failure;
use crate::input::{self, Source};

/// The server when neither `--server` nor `VELLUM_SERVER` says otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:6962";

/// Where the log is and what to trust.
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// The log's gRPC URL.
    #[arg(long, value_name = "URL", env = "VELLUM_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,

    /// The log's public key (inline or @FILE, e.g. @vellum-data/log.vkey):
    /// checkpoints must be signed by it.
    #[arg(long, value_name = "VKEY", value_parser = input::vkey, conflicts_with = "policy")]
    pub vkey: Option<VerifierKey>,

    /// A C2SP tlog-policy file: checkpoints must be signed by one of its logs
    /// and cosigned to its quorum.
    #[arg(long, value_name = "FILE", value_parser = Source::parse)]
    pub policy: Option<Source>,
}

impl RemoteArgs {
    /// The trust given, if any.
    ///
    /// # Errors
    ///
    /// The policy file cannot be read or parsed.
    pub fn trust(&self) -> anyhow::Result<Option<Trust>> {
        if let Some(k) = &self.vkey {
            return Ok(Some(Trust::Key(k.clone())));
        }
        let Some(file) = &self.policy else {
            return Ok(None);
        };
        let bytes = file.read(MAX_POLICY_SIZE)?;
        let policy = Policy::parse_bytes(&bytes)
            .with_context(|| format!("{file} is not a valid tlog-policy"))?;
        Ok(Some(Trust::Policy(policy)))
    }

    /// A verifying client.
    ///
    /// # Errors
    ///
    /// As [`failure`].
    pub async fn connect(&self, trust: Trust) -> Result<Client, Failure> {
        Client::connect(&self.server, trust).await.map_err(failure)
    }

    /// A client that verifies nothing, for showing what the log serves.
    ///
    /// # Errors
    ///
    /// As [`failure`].
    pub async fn connect_unverified(&self) -> Result<UnverifiedClient, Failure> {
        UnverifiedClient::connect(&self.server)
            .await
            .map_err(failure)
    }
}

/// A client error as a command failure: what the log signed or sent was
/// checked and is wrong (exit 1), or the command could not do its job
/// (exit 2), with a hint where one helps.
pub fn failure(e: ClientError) -> Failure {
    match &e {
        ClientError::Transport { .. } => {
            Failure::Trouble(anyhow!("{e} — is `vellum serve` running?"))
        }
        ClientError::Status {
            code: StatusCode::Unavailable,
            ..
        } => Failure::Trouble(anyhow!("{e} — is `vellum serve` still running?")),
        _ if e.is_verification_failure() => Failure::rejected(e),
        _ => Failure::Trouble(e.into()),
    }
}

/// A runtime for one command's calls.
///
/// # Errors
///
/// The runtime cannot start (no threads or file descriptors left).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
