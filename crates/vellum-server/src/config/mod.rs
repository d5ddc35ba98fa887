//! The configuration of `vellum serve`: one type that a TOML file, the
//! environment and the command line's flags fill, in that order of
//! precedence, and one conversion into [`ServeOptions`].
//!
//! The machinery (file, environment, errors naming key and line) is
//! `vellum_config`'s [`Layered`], shared with [`SignerServiceConfig`]
//! (`vellum signer`) and `vellum_witness::WitnessServiceConfig`.
//!
//! * The file: [`Layered::from_toml`]. Unknown keys are refused
//!   (`deny_unknown_fields`), and every error names the key and its line.
//! * The environment: `VELLUM_<SECTION>_<KEY>` for every key, e.g.
//!   `VELLUM_LIMITS_MAX_CONNECTIONS` for `[limits] max_connections`, or
//!   `VELLUM_DATA` for `data` (see [`Layered::env_var`]). An empty
//!   variable counts as unset.
//! * The flags: the CLI overlays them on what [`Layered::load`] returns.
//!
//! Relative paths are relative to the working directory, as they are for
//! the flags.
//!
//! Sections are shaped for growth: a new subsystem gets its own table (as
//! `[log.witnesses]` has), and a new key needs three things: the field with
//! its default, a value in [`Layered::every_key`] (the compiler insists),
//! and a line in `docs/CONFIG.md` (a test insists).
//!
//! **Secrets.** `vellum config print` shows the effective configuration.
//! Today it holds no secret (key files are paths, tokens live in the
//! `[auth] tokens` file), but a field that ever holds one (a password, an
//! inline token, a key's bytes) must be marked
//! `#[serde(serialize_with = "vellum_config::redact")]` so that it is
//! printed as [`REDACTED`].

pub mod duration;
mod guard;
mod sections;
mod signer;

pub use sections::{
    AppendConfig, AuthConfig, CheckpointConfig, ExportConfig, LimitsConfig, ListenConfig,
    LogSection, NamedLogConfig, PoolConfig, QueueConfig, SelfAuditSection, SignerConfig, TlsConfig,
    WitnessesConfig,
};

pub use guard::{GuardConfig, WebhookSection};
pub use signer::{SignerServiceConfig, SignerSettings};
pub use vellum_config::{ConfigError, Layered, REDACTED, redact};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vellum_note::VerifierKey;

use crate::access::AccessPolicy;
use crate::export::ExportOptions;
use crate::grpc::signer::{SignerAddr, SignerClientTls};
use crate::run::{NamedLog, ServeOptions};
use crate::tls::TlsFiles;
use crate::witness::WitnessAuth;

/// Largest vkey file read (`[log.signer] vkey = "@FILE"`): one short line.
const MAX_VKEY_FILE: u64 = 4096;

/// The configuration of `vellum serve`. See `docs/CONFIG.md` for every key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// The data folder (created if missing). Flag `--data`.
    pub data: PathBuf,
    /// The embedded signer's memory, if not `<data>.signer`. Flag
    /// `--signer-state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_state: Option<PathBuf>,
    /// The origin of a new log. Flag `--origin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The private key file, if not `<data>/log.key`. Flag `--key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// `[listen]`: where the log listens.
    pub listen: ListenConfig,
    /// `[tls]`: TLS for both listeners.
    pub tls: TlsConfig,
    /// `[auth]`: who may call.
    pub auth: AuthConfig,
    /// `[limits]`: network limits.
    pub limits: LimitsConfig,
    /// `[log]`: the log's own settings.
    pub log: LogSection,
    /// `[[logs]]`: the logs besides the default one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<NamedLogConfig>,
    /// `[self_audit]`: every log's background re-verification.
    pub self_audit: SelfAuditSection,
    /// `[guard]`: alerts.
    pub guard: GuardConfig,
}

impl Default for ServeConfig {
    fn default() -> Self {
        let o = ServeOptions::embedded();
        ServeConfig {
            data: o.data,
            signer_state: None,
            origin: None,
            key: None,
            listen: ListenConfig::default(),
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            log: LogSection::default(),
            logs: Vec::new(),
            self_audit: SelfAuditSection::default(),
            guard: GuardConfig::default(),
        }
    }
}

impl Layered for ServeConfig {
    /// `VELLUM_<SECTION>_<KEY>`: the first process had the plain prefix.
    /// `vellum signer` and `vellum witness` take `VELLUM_SIGNER_` and
    /// `VELLUM_WITNESS_`, so no key of this type may start `signer.` or
    /// `witness.` (a test checks it).
    const ENV_PREFIX: &'static str = "VELLUM_";

    /// A configuration with every key set (every optional one too): the
    /// list of keys and their kinds is read off it. A literal without
    /// `..Default::default()`, so that a new field cannot be left out.
    fn every_key() -> ServeConfig {
        ServeConfig {
            data: PathBuf::from("vellum-data"),
            signer_state: Some(PathBuf::from("vellum-data.signer")),
            origin: Some("example.com/log".into()),
            key: Some(PathBuf::from("log.key")),
            listen: ListenConfig {
                grpc: ServeOptions::embedded().listen,
                http: Some(SocketAddr::from(([127, 0, 0, 1], 6963))),
                insecure_remote: false,
            },
            tls: TlsConfig {
                cert: Some(PathBuf::from("cert.pem")),
                key: Some(PathBuf::from("key.pem")),
                client_ca: Some(PathBuf::from("ca.pem")),
            },
            auth: AuthConfig {
                tokens: Some(PathBuf::from("tokens")),
            },
            limits: LimitsConfig::default(),
            log: LogSection {
                kind: crate::run::LogKind::Events,
                pool: PoolConfig::default(),
                queue: QueueConfig::default(),
                append: AppendConfig::default(),
                checkpoint: CheckpointConfig::default(),
                signer: SignerConfig {
                    remote: Some(SignerAddr::Tcp("https://signer.example:6966".into())),
                    vkey: Some("@log.vkey".into()),
                    tls_ca: Some(PathBuf::from("signer-ca.pem")),
                    tls_cert: Some(PathBuf::from("log-client.pem")),
                    tls_key: Some(PathBuf::from("log-client.key")),
                },
                witnesses: WitnessesConfig {
                    policy: Some(PathBuf::from("witnesses.policy")),
                    require_quorum: false,
                    timeout: Duration::from_secs(5),
                    tls_ca: Some(PathBuf::from("witness-ca.pem")),
                    credentials: Some(PathBuf::from("witness-credentials")),
                },
                export: ExportConfig {
                    folder: Some(PathBuf::from("tiles")),
                    interval: Duration::from_secs(1),
                },
            },
            logs: vec![NamedLogConfig {
                name: "tenant-a".into(),
                kind: crate::run::LogKind::Events,
                ..NamedLogConfig::default()
            }],
            self_audit: SelfAuditSection::default(),
            guard: GuardConfig {
                enabled: true,
                alerts_log: Some("tenant-a".into()),
                detectors: Some(PathBuf::from("detectors.toml")),
                webhook: WebhookSection {
                    url: Some("https://alerts.example.com/hook".into()),
                    ..WebhookSection::default()
                },
            },
        }
    }
}

impl ServeConfig {
    /// Checks what the types cannot: settings that need each other, and an
    /// inline vkey's form. Reads no file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the keys (and their flags).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let tls = &self.tls;
        if tls.cert.is_some() != tls.key.is_some() {
            return Err(ConfigError::Invalid(
                "tls.cert (--tls-cert) and tls.key (--tls-key) go together".into(),
            ));
        }
        if tls.client_ca.is_some() && tls.cert.is_none() {
            return Err(ConfigError::Invalid(
                "tls.client_ca (--tls-client-ca) needs tls.cert and tls.key".into(),
            ));
        }
        if let Some(v) = &self.log.signer.vkey
            && !v.starts_with('@')
        {
            VerifierKey::parse(v).map_err(|e| {
                ConfigError::Invalid(format!("log.signer.vkey (--vkey) is not a vkey: {e}"))
            })?;
        }
        Ok(())
    }

    /// The server options this configuration describes, reading the files
    /// it names (token file, witness policy, a vkey given as `@FILE`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`]: see [`ServeConfig::validate`], or a named
    /// file cannot be read or used.
    pub fn to_options(&self) -> Result<ServeOptions, ConfigError> {
        self.validate()?;
        let mut o = ServeOptions::embedded();
        o.data = self.data.clone();
        o.signer_state = self.signer_state.clone();
        o.origin = self.origin.clone();
        o.kind = self.log.kind;
        o.key = self.key.clone();
        o.listen = self.listen.grpc;
        o.http = self.listen.http;
        o.insecure_remote = self.listen.insecure_remote;
        if let (Some(cert), Some(key)) = (&self.tls.cert, &self.tls.key) {
            o.tls = Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls.client_ca.clone(),
            });
        }
        if let Some(path) = &self.auth.tokens {
            let policy = AccessPolicy::load(path).map_err(|e| {
                ConfigError::Invalid(format!("auth.tokens (--auth) {}: {e}", path.display()))
            })?;
            o.access = Some(Arc::new(policy));
        }
        let l = &self.limits;
        o.limits.max_message_bytes = l.max_message_bytes;
        o.limits.max_concurrent_streams = l.max_concurrent_streams;
        o.limits.max_connections = l.max_connections;
        o.limits.request_timeout = l.request_timeout;
        o.limits.stream_idle_timeout = l.stream_idle_timeout;
        o.limits.stream_max_in_flight = l.stream_max_in_flight;
        o.limits.idle_timeout = l.idle_timeout;
        o.self_audit.entries_per_second = self.self_audit.entries_per_second;
        o.self_audit.pass_interval = self.self_audit.pass_interval;
        let log = &self.log;
        let parts = LogParts {
            key: "log",
            pool: &log.pool,
            queue: &log.queue,
            append: &log.append,
            checkpoint: &log.checkpoint,
            signer: &log.signer,
            witnesses: &log.witnesses,
            export: &log.export,
        };
        let d = parts.to_named(vellum_proto::DEFAULT_LOG, log.kind)?;
        o.tuning = d.tuning;
        o.signer = d.signer;
        o.signer_tls = d.signer_tls;
        o.witness_auth = d.witness_auth;
        o.vkey = d.vkey;
        o.witness_policy = d.witness_policy;
        o.publish_below_policy = d.publish_below_policy;
        o.witness_timeout = d.witness_timeout;
        o.export = d.export;
        for l in &self.logs {
            let key = format!("logs[{}]", l.name);
            let parts = LogParts {
                key: &key,
                pool: &l.pool,
                queue: &l.queue,
                append: &l.append,
                checkpoint: &l.checkpoint,
                signer: &l.signer,
                witnesses: &l.witnesses,
                export: &l.export,
            };
            let mut named = parts.to_named(&l.name, l.kind)?;
            named.origin = l.origin.clone();
            named.key = l.key.clone();
            o.logs.push(named);
        }
        o.check_logs()
            .map_err(|e| ConfigError::Invalid(format!("logs: {e}")))?;
        o.guard = self.guard.to_options().map_err(ConfigError::Invalid)?;
        Ok(o)
    }
}

/// The tables of one log's settings (`[log]` or a `[[logs]]` entry).
struct LogParts<'a> {
    /// How errors name the table: `log` or `logs[<name>]`.
    key: &'a str,
    pool: &'a PoolConfig,
    queue: &'a QueueConfig,
    append: &'a AppendConfig,
    checkpoint: &'a CheckpointConfig,
    signer: &'a SignerConfig,
    witnesses: &'a WitnessesConfig,
    export: &'a ExportConfig,
}

impl LogParts<'_> {
    /// The log's options, reading the files the tables name.
    fn to_named(&self, name: &str, kind: crate::run::LogKind) -> Result<NamedLog, ConfigError> {
        let key = self.key;
        let mut n = NamedLog::new(name, kind);
        let t = &mut n.tuning;
        t.pool_max_entries = Some(self.pool.max_entries);
        t.pool_max_delay = Some(self.pool.max_delay);
        t.queue_max_entries = Some(self.queue.max_entries);
        t.queue_max_bytes = Some(self.queue.max_bytes);
        t.max_queue_delay = Some(self.queue.max_delay);
        t.max_entries_per_call = Some(self.append.max_entries_per_call);
        t.max_entry_size = Some(self.append.max_entry_size);
        t.checkpoint_interval = Some(self.checkpoint.interval);
        n.signer = self.signer.remote.clone();
        n.signer_tls = SignerClientTls {
            ca: self.signer.tls_ca.clone(),
            cert: self.signer.tls_cert.clone(),
            key: self.signer.tls_key.clone(),
        };
        if n.signer_tls.cert.is_some() != n.signer_tls.key.is_some() {
            return Err(ConfigError::Invalid(format!(
                "{key}.signer.tls_cert (--signer-tls-cert) and {key}.signer.tls_key \
                 (--signer-tls-key) go together"
            )));
        }
        if n.signer_tls.is_set() && !n.signer.as_ref().is_some_and(|a| a.is_tls()) {
            return Err(ConfigError::Invalid(format!(
                "{key}.signer.tls_* (--signer-tls-ca, --signer-tls-cert, --signer-tls-key) need \
                 an https:// {key}.signer.remote (--signer)"
            )));
        }
        n.witness_auth = WitnessAuth {
            ca: self.witnesses.tls_ca.clone(),
            credentials: self.witnesses.credentials.clone(),
        };
        n.vkey = self
            .signer
            .vkey
            .as_deref()
            .map(|v| read_vkey(key, v))
            .transpose()?;
        if let Some(path) = &self.witnesses.policy {
            let policy = crate::witness::read_policy(path).map_err(|e| {
                ConfigError::Invalid(format!("{key}.witnesses.policy (--witness-policy): {e}"))
            })?;
            n.witness_policy = Some(policy);
        }
        n.publish_below_policy = !self.witnesses.require_quorum;
        n.witness_timeout = self.witnesses.timeout;
        n.export = self.export.folder.clone().map(|out| ExportOptions {
            out,
            interval: self.export.interval,
        });
        Ok(n)
    }
}

/// A vkey inline, or `@FILE` holding one, for the table `key`.
fn read_vkey(key: &str, text: &str) -> Result<VerifierKey, ConfigError> {
    let bad = |m: String| ConfigError::Invalid(format!("{key}.signer.vkey (--vkey): {m}"));
    match text.strip_prefix('@') {
        None => VerifierKey::parse(text).map_err(|e| bad(e.to_string())),
        Some(path) => {
            use std::io::Read;
            let mut buf = String::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(MAX_VKEY_FILE).read_to_string(&mut buf))
                .map_err(|e| bad(format!("cannot read {path}: {e}")))?;
            VerifierKey::parse(&buf).map_err(|e| bad(format!("{path} does not hold a vkey: {e}")))
        }
    }
}

#[cfg(test)]
mod tests;
