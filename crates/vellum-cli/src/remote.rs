//! What the commands that talk to a log share: the server URL, the trust
//! (`--vkey` or `--policy`), the runtime, and how client errors become exit
//! statuses.

use anyhow::{Context, anyhow};
use std::path::PathBuf;

use vellum_client::{
    BearerToken, Client, ClientError, ClientIdentity, ClientOptions, PolicyText, StatusCode, Trust,
    TrustError, UnverifiedClient,
};
use vellum_note::policy::MAX_POLICY_SIZE;
use vellum_note::{Policy, VerifierKey};

use crate::exit::Failure;
use crate::input::{self, Source};

/// The server when neither `--server` nor `VELLUM_SERVER` says otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:6962";

/// The environment variable holding a bearer token.
pub const TOKEN_ENV: &str = "VELLUM_TOKEN";

/// Where the log is and what to trust.
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// The log's gRPC URL.
    #[arg(long, value_name = "URL", env = "VELLUM_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,

    /// The log to use on a server that holds several (`[[logs]]` in its
    /// configuration); default: the server's default log.
    #[arg(long, value_name = "NAME")]
    pub log: Option<String>,

    /// The log's public key (inline or @FILE, e.g. @vellum-data/log.vkey):
    /// checkpoints must be signed by it.
    #[arg(long, value_name = "VKEY", value_parser = input::vkey, conflicts_with = "policy")]
    pub vkey: Option<VerifierKey>,

    /// A C2SP tlog-policy file: checkpoints must be signed by one of its logs
    /// and cosigned to its quorum.
    #[arg(long, value_name = "FILE", value_parser = Source::parse)]
    pub policy: Option<Source>,

    /// PEM certificate of the CA that an https:// server's certificate must
    /// chain to (a private CA); default: the public web PKI roots.
    #[arg(long, value_name = "FILE", help_heading = "TLS and access")]
    pub ca: Option<PathBuf>,

    /// A file holding the bearer token to send (the server's --auth file
    /// lists its SHA-256). Sent only over https:// or to loopback.
    /// Without it, the token is read from the environment variable
    /// VELLUM_TOKEN, if set.
    #[arg(long, value_name = "FILE", help_heading = "TLS and access")]
    pub token_file: Option<PathBuf>,

    /// PEM client certificate for mTLS (with --client-key), instead of a
    /// token.
    #[arg(
        long,
        value_name = "FILE",
        requires = "client_key",
        help_heading = "TLS and access"
    )]
    pub client_cert: Option<PathBuf>,

    /// PEM private key of --client-cert.
    #[arg(
        long,
        value_name = "FILE",
        requires = "client_cert",
        help_heading = "TLS and access"
    )]
    pub client_key: Option<PathBuf>,
}

impl RemoteArgs {
    /// The trust given, if any (see [`load_trust`]).
    ///
    /// # Errors
    ///
    /// The policy file cannot be read or parsed.
    pub fn trust(&self) -> anyhow::Result<Option<Trust>> {
        load_trust(self.vkey.as_ref(), self.policy.as_ref())
    }

    /// Connection options from `--ca`, `--token-file` and `VELLUM_TOKEN`.
    ///
    /// # Errors
    ///
    /// A file cannot be read, or the token is unusable.
    pub fn options(&self) -> Result<ClientOptions, Failure> {
        let mut o = ClientOptions {
            log: self.log.clone(),
            ..ClientOptions::default()
        };
        if let Some(ca) = &self.ca {
            let pem =
                std::fs::read(ca).with_context(|| format!("cannot read --ca {}", ca.display()))?;
            o.ca_pem = Some(pem);
        }
        if let (Some(c), Some(k)) = (&self.client_cert, &self.client_key) {
            let cert = std::fs::read(c)
                .with_context(|| format!("cannot read --client-cert {}", c.display()))?;
            let key = std::fs::read(k)
                .with_context(|| format!("cannot read --client-key {}", k.display()))?;
            o.client_identity = Some(ClientIdentity::from_pem(cert, key));
        }
        // Not a flag's value: a token on the command line is visible to
        // every user of the machine (ps).
        let token = match &self.token_file {
            Some(f) => Some((
                std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read --token-file {}", f.display()))?,
                format!("--token-file {}", f.display()),
            )),
            None => std::env::var(TOKEN_ENV)
                .ok()
                .map(|t| (t, TOKEN_ENV.to_owned())),
        };
        if let Some((t, from)) = token {
            o.token = Some(BearerToken::new(&t).map_err(|e| anyhow!("{from}: {e}"))?);
        }
        Ok(o)
    }

    /// A verifying client.
    ///
    /// # Errors
    ///
    /// As [`failure`].
    pub async fn connect(&self, trust: Trust) -> Result<Client, Failure> {
        Client::connect_with(&self.server, trust, &self.options()?)
            .await
            .map_err(failure)
    }

    /// A client that verifies nothing, for showing what the log serves.
    ///
    /// # Errors
    ///
    /// As [`failure`].
    pub async fn connect_unverified(&self) -> Result<UnverifiedClient, Failure> {
        UnverifiedClient::connect_with(&self.server, &self.options()?)
            .await
            .map_err(failure)
    }
}

/// What `--vkey` and `--policy` mean together, read through
/// [`Trust::load`]: the policy file if given (which must then list the
/// vkey, if given), else the vkey, else nothing.
///
/// # Errors
///
/// The policy file cannot be read or parsed, or does not list the vkey.
pub fn load_trust(
    vkey: Option<&VerifierKey>,
    policy: Option<&Source>,
) -> anyhow::Result<Option<Trust>> {
    let read = match policy {
        Some(file) => Some((file.to_string(), file.read(MAX_POLICY_SIZE)?)),
        None => None,
    };
    let text = read
        .as_ref()
        .map(|(name, bytes)| PolicyText { name, bytes });
    Trust::load(vkey.cloned(), text).map_err(|e| match e {
        TrustError::KeyNotInPolicy { .. } => anyhow!("--vkey {e}"),
        e => anyhow::Error::new(e),
    })
}

/// As [`load_trust`], as the policy a checkpoint must satisfy: a vkey alone
/// is "this log, no quorum".
///
/// # Errors
///
/// As [`load_trust`]; neither was given; the vkey is not a log key.
pub fn load_policy(vkey: Option<&VerifierKey>, policy: Option<&Source>) -> anyhow::Result<Policy> {
    // Each caller's arguments require --vkey or --policy; the message is
    // for a caller that forgets to.
    let trust =
        load_trust(vkey, policy)?.ok_or_else(|| anyhow!("give --vkey, --policy or both"))?;
    trust.policy().context("--vkey is not a log key")
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
        ClientError::Status {
            code: StatusCode::Unauthenticated,
            ..
        } => Failure::Trouble(anyhow!(
            "{e} — give a token with --token-file FILE or VELLUM_TOKEN"
        )),
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
