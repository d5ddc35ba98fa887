//! The tables of [`ServeConfig`](super::ServeConfig), one type each, with
//! their defaults (taken from the types they fill, so that a default lives
//! in one place).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use vellum_log::LogConfig;

use super::duration;
use crate::grpc::signer::SignerAddr;
use crate::limits::Limits;
use crate::run::ServeOptions;

/// `[listen]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenConfig {
    /// The gRPC address; port 0 picks a free port. Flag `--listen`.
    pub grpc: SocketAddr,
    /// The tlog-tiles HTTP read API's address. Flag `--http`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<SocketAddr>,
    /// Listen beyond loopback without TLS or authentication. Flag
    /// `--insecure-remote`.
    pub insecure_remote: bool,
}

/// `[tls]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Flag `--tls-cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`. Flag `--tls-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// PEM CA certificate(s) for client certificates. Flag `--tls-client-ca`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ca: Option<PathBuf>,
}

/// `[auth]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The token file (hashes and roles, never tokens). Flag `--auth`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<PathBuf>,
}

/// `[limits]`: see [`Limits`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Flag `--max-message-bytes`.
    pub max_message_bytes: usize,
    /// Flag `--max-concurrent-streams`.
    pub max_concurrent_streams: u32,
    /// Flag `--max-connections`.
    pub max_connections: usize,
    /// Flag `--request-timeout`.
    #[serde(with = "duration::serde_duration")]
    pub request_timeout: Duration,
    /// Flag `--stream-idle-timeout`.
    #[serde(with = "duration::serde_duration")]
    pub stream_idle_timeout: Duration,
    /// Flag `--stream-max-in-flight`.
    pub stream_max_in_flight: usize,
    /// Flag `--idle-timeout`.
    #[serde(with = "duration::serde_duration")]
    pub idle_timeout: Duration,
}

/// `[self_audit]`: every log's background re-verification of its stored
/// tree (`vellum_log::self_audit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelfAuditSection {
    /// Entries verified per second; 0 turns it off. Flag
    /// `--self-audit-entries-per-second`.
    pub entries_per_second: u64,
    /// From the start of one full pass to the start of the next. Flag
    /// `--self-audit-pass-interval`.
    #[serde(with = "duration::serde_duration")]
    pub pass_interval: Duration,
}

impl Default for SelfAuditSection {
    fn default() -> Self {
        let d = ServeOptions::embedded().self_audit;
        SelfAuditSection {
            entries_per_second: d.entries_per_second,
            pass_interval: d.pass_interval,
        }
    }
}

/// `[log]`: the log's settings, one table per part.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// What the log stores: `raw` entries or audit `events`. Flag
    /// `--log-kind`.
    pub kind: crate::run::LogKind,
    /// `[log.pool]`: when a sequencing round starts.
    pub pool: PoolConfig,
    /// `[log.queue]`: what may wait to be sequenced.
    pub queue: QueueConfig,
    /// `[log.append]`: the size of one append.
    pub append: AppendConfig,
    /// `[log.checkpoint]`: how often checkpoints are signed.
    pub checkpoint: CheckpointConfig,
    /// `[log.signer]`: an independent signer.
    pub signer: SignerConfig,
    /// `[log.witnesses]`: witnesses and quorum.
    pub witnesses: WitnessesConfig,
    /// `[log.export]`: a static tiles copy.
    pub export: ExportConfig,
}

/// One `[[logs]]` entry: a log besides the default one. Every table it
/// holds has the default log's keys (`[logs.pool]`, `[logs.witnesses]`,
/// ...) with the same defaults; nothing is inherited from `[log]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamedLogConfig {
    /// Its name: `a-z`, `0-9`, `-`, `_` (required).
    pub name: String,
    /// `raw` or `events`.
    pub kind: crate::run::LogKind,
    /// The origin of a new log (default: a random one, as for the default
    /// log); an existing log keeps its key's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The private key file, if not `<data>/logs/<name>/log.key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// As `[log.pool]`.
    pub pool: PoolConfig,
    /// As `[log.queue]`.
    pub queue: QueueConfig,
    /// As `[log.append]`.
    pub append: AppendConfig,
    /// As `[log.checkpoint]`.
    pub checkpoint: CheckpointConfig,
    /// As `[log.signer]`.
    pub signer: SignerConfig,
    /// As `[log.witnesses]`.
    pub witnesses: WitnessesConfig,
    /// As `[log.export]`.
    pub export: ExportConfig,
}

/// `[log.pool]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// Flag `--pool-max-entries`.
    pub max_entries: usize,
    /// Flag `--pool-max-delay`.
    #[serde(with = "duration::serde_duration")]
    pub max_delay: Duration,
}

/// `[log.queue]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Flag `--queue-max-entries`.
    pub max_entries: usize,
    /// Flag `--queue-max-bytes`.
    pub max_bytes: usize,
    /// Flag `--max-queue-delay`; `0s` turns it off.
    #[serde(with = "duration::serde_duration")]
    pub max_delay: Duration,
}

/// `[log.append]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppendConfig {
    /// Flag `--max-entries-per-call`.
    pub max_entries_per_call: usize,
    /// Flag `--max-entry-size`.
    pub max_entry_size: usize,
}

/// `[log.checkpoint]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Flag `--checkpoint-interval`; `0s`: sign as soon as possible.
    #[serde(with = "duration::serde_duration")]
    pub interval: Duration,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            interval: log_defaults().checkpoint_interval,
        }
    }
}

/// `[log.signer]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignerConfig {
    /// `unix:/path` or `http://host:port` of `vellum signer`. Flag `--signer`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "display_opt",
        deserialize_with = "from_str_opt"
    )]
    pub remote: Option<SignerAddr>,
    /// The log's vkey, inline or `@FILE`. Flag `--vkey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vkey: Option<String>,
    /// PEM CA certificate(s) of an `https://` signer's certificate
    /// (default: the web PKI roots). Flag `--signer-tls-ca`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate the log presents to an `https://` signer.
    /// Flag `--signer-tls-cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert` (mode 0600). Flag `--signer-tls-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

/// `[log.witnesses]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessesConfig {
    /// A C2SP tlog-policy file. Flag `--witness-policy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PathBuf>,
    /// Publish only checkpoints that meet the policy. Flag
    /// `--require-witness-quorum`.
    pub require_quorum: bool,
    /// How long a round waits for the slowest witness. Flag
    /// `--witness-timeout`.
    #[serde(with = "duration::serde_duration")]
    pub timeout: Duration,
    /// PEM CA certificate(s) of `https://` witnesses' certificates
    /// (default: the web PKI roots). Flag `--witness-tls-ca`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// A file (mode 0600) of `<witness name> <bearer token>` lines: the
    /// token each witness gave this log. Flag `--witness-credentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<PathBuf>,
}

/// `[log.export]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// The folder kept a static tlog-tiles copy. Flag `--export`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<PathBuf>,
    /// The least time between two exports. Flag `--export-interval`.
    #[serde(with = "duration::serde_duration")]
    pub interval: Duration,
}

pub(super) fn display_opt<T: std::fmt::Display, S: Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

pub(super) fn from_str_opt<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
    D: serde::Deserializer<'de>,
{
    let text = String::deserialize(d)?;
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            grpc: ServeOptions::embedded().listen,
            http: None,
            insecure_remote: false,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = Limits::default();
        LimitsConfig {
            max_message_bytes: l.max_message_bytes,
            max_concurrent_streams: l.max_concurrent_streams,
            max_connections: l.max_connections,
            request_timeout: l.request_timeout,
            stream_idle_timeout: l.stream_idle_timeout,
            stream_max_in_flight: l.stream_max_in_flight,
            idle_timeout: l.idle_timeout,
        }
    }
}

/// The log's defaults (the origin plays no part in them).
fn log_defaults() -> LogConfig {
    LogConfig::new("")
}

impl Default for PoolConfig {
    fn default() -> Self {
        let c = log_defaults();
        PoolConfig {
            max_entries: c.pool_max_entries,
            max_delay: c.pool_max_delay,
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        let c = log_defaults();
        QueueConfig {
            max_entries: c.queue_max_entries,
            max_bytes: c.queue_max_bytes,
            max_delay: c.max_queue_delay,
        }
    }
}

impl Default for AppendConfig {
    fn default() -> Self {
        let c = log_defaults();
        AppendConfig {
            max_entries_per_call: c.max_entries_per_call,
            max_entry_size: c.max_entry_size,
        }
    }
}

impl Default for WitnessesConfig {
    fn default() -> Self {
        WitnessesConfig {
            policy: None,
            require_quorum: false,
            timeout: ServeOptions::embedded().witness_timeout,
            tls_ca: None,
            credentials: None,
        }
    }
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            folder: None,
            interval: Duration::from_secs(1),
        }
    }
}
