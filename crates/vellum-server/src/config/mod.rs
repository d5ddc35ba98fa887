//! The configuration of `vellum serve`: one type that a TOML file, the
//! environment and the command line's flags fill, in that order of
//! precedence, and one conversion into [`ServeOptions`].
//!
//! * The file: [`ServeConfig::from_toml`]. Unknown keys are refused
//!   (`deny_unknown_fields`), and every error names the key and its line.
//! * The environment: `VELLUM_<SECTION>_<KEY>` for every key, e.g.
//!   `VELLUM_LIMITS_MAX_CONNECTIONS` for `[limits] max_connections`, or
//!   `VELLUM_DATA` for `data` (see [`ServeConfig::env_var`]). An empty
//!   variable counts as unset.
//! * The flags: the CLI overlays them on what [`ServeConfig::load`] returns.
//!
//! Relative paths are relative to the working directory, as they are for
//! the flags.
//!
//! Sections are shaped for growth: a new subsystem gets its own table (as
//! `[log.witnesses]` has), and a new key needs three things: the field with
//! its default, a value in [`ServeConfig::every_key`] (the compiler insists),
//! and a line in `docs/CONFIG.md` (a test insists).
//!
//! **Secrets.** `vellum config print` shows the effective configuration.
//! Today it holds no secret (key files are paths, tokens live in the
//! `[auth] tokens` file), but a field that ever holds one (a password, an
//! inline token, a key's bytes) must be marked
//! `#[serde(serialize_with = "crate::config::redact")]` so that it is
//! printed as [`REDACTED`].

pub mod duration;
mod sections;

pub use sections::{
    AppendConfig, AuthConfig, ExportConfig, LimitsConfig, ListenConfig, LogSection, PoolConfig,
    QueueConfig, SignerConfig, TlsConfig, WitnessesConfig,
};

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use vellum_note::VerifierKey;

use crate::access::AccessPolicy;
use crate::export::ExportOptions;
use crate::grpc::signer::SignerAddr;
use crate::run::ServeOptions;
use crate::tls::TlsFiles;

/// What a redacted secret is printed as.
pub const REDACTED: &str = "<redacted>";

/// `#[serde(serialize_with = "redact")]`: a secret is never printed, only
/// whether it is set.
///
/// # Errors
///
/// The serializer's.
pub fn redact<T, S: Serializer>(_secret: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(REDACTED)
}

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
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not TOML, or a key is unknown or has a bad value.
    #[error("{file}:{line}: {}{message}", key_prefix(key))]
    File {
        /// The file's name, as given.
        file: String,
        /// The line (1-based) of the offending key or value; 0 if unknown.
        line: usize,
        /// The key's dotted path (empty for a syntax error).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("{var} (key {key}): {message}")]
    Env {
        /// The variable.
        var: String,
        /// The key it sets.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The settings do not fit together, or a file they name cannot be used.
    #[error("{0}")]
    Invalid(String),
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() || key == "." {
        String::new()
    } else {
        format!("{key}: ")
    }
}

impl ServeConfig {
    /// Reads a TOML document; `file` names it in errors.
    ///
    /// # Errors
    ///
    /// [`ConfigError::File`] with the line and the key's path.
    pub fn from_toml(file: &str, text: &str) -> Result<ServeConfig, ConfigError> {
        let located = |e: &toml::de::Error, key: String| ConfigError::File {
            file: file.to_owned(),
            line: e.span().map_or(0, |s| line_of(text, s.start)),
            key,
            message: e.message().trim_end().to_owned(),
        };
        let de = toml::de::Deserializer::parse(text).map_err(|e| located(&e, String::new()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            located(e.inner(), key)
        })
    }

    /// The file (if any), then the environment over it: `env` is asked for
    /// each key's variable (see [`ServeConfig::env_var`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError`]: the file cannot be read or holds a bad key or value,
    /// or a variable has a bad value.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ServeConfig, ConfigError> {
        let (mut table, typed) = match file {
            None => (toml::Table::new(), ServeConfig::default()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let typed = ServeConfig::from_toml(&path.display().to_string(), &text)?;
                let table: toml::Table = toml::from_str(&text)
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
                (table, typed)
            }
        };
        let mut from_env = Vec::new();
        for (key, kind) in schema() {
            let var = ServeConfig::env_var(&key);
            let Some(raw) = env(&var).filter(|v| !v.is_empty()) else {
                continue;
            };
            let value = env_value(&raw, &kind).map_err(|message| ConfigError::Env {
                var: var.clone(),
                key: key.clone(),
                message,
            })?;
            insert(&mut table, &key, value);
            from_env.push((key, var));
        }
        if from_env.is_empty() {
            return Ok(typed);
        }
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let var = from_env
                .iter()
                .find(|(k, _)| *k == key)
                .map_or_else(|| ServeConfig::env_var(&key), |(_, v)| v.clone());
            ConfigError::Env {
                var,
                key,
                message: e.inner().message().to_owned(),
            }
        })
    }

    /// The environment variable of a dotted key: `limits.max_connections`
    /// is `VELLUM_LIMITS_MAX_CONNECTIONS`.
    pub fn env_var(key: &str) -> String {
        format!("VELLUM_{}", key.replace('.', "_").to_ascii_uppercase())
    }

    /// Every key this type accepts, dotted (`log.pool.max_entries`), sorted.
    pub fn keys() -> BTreeSet<String> {
        schema().into_iter().map(|(k, _)| k).collect()
    }

    /// A configuration with every key set (every optional one too): the
    /// list of keys and their kinds is read off it. A literal without
    /// `..Default::default()`, so that a new field cannot be left out.
    pub fn every_key() -> ServeConfig {
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
                pool: PoolConfig::default(),
                queue: QueueConfig::default(),
                append: AppendConfig::default(),
                signer: SignerConfig {
                    remote: Some(SignerAddr::Unix(PathBuf::from("signer.sock"))),
                    vkey: Some("@log.vkey".into()),
                },
                witnesses: WitnessesConfig {
                    policy: Some(PathBuf::from("witnesses.policy")),
                    require_quorum: false,
                    timeout: Duration::from_secs(5),
                },
                export: ExportConfig {
                    folder: Some(PathBuf::from("tiles")),
                    interval: Duration::from_secs(1),
                },
            },
        }
    }

    /// The configuration as TOML (what `vellum config print` shows).
    ///
    /// # Errors
    ///
    /// A value TOML cannot hold (a path that is not UTF-8).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

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
        let log = &self.log;
        let t = &mut o.tuning;
        t.pool_max_entries = Some(log.pool.max_entries);
        t.pool_max_delay = Some(log.pool.max_delay);
        t.queue_max_entries = Some(log.queue.max_entries);
        t.queue_max_bytes = Some(log.queue.max_bytes);
        t.max_queue_delay = Some(log.queue.max_delay);
        t.max_entries_per_call = Some(log.append.max_entries_per_call);
        t.max_entry_size = Some(log.append.max_entry_size);
        o.signer = log.signer.remote.clone();
        o.vkey = log.signer.vkey.as_deref().map(read_vkey).transpose()?;
        if let Some(path) = &log.witnesses.policy {
            let policy = crate::witness::read_policy(path).map_err(|e| {
                ConfigError::Invalid(format!("log.witnesses.policy (--witness-policy): {e}"))
            })?;
            o.witness_policy = Some(policy);
        }
        o.publish_below_policy = !log.witnesses.require_quorum;
        o.witness_timeout = log.witnesses.timeout;
        o.export = log.export.folder.clone().map(|out| ExportOptions {
            out,
            interval: log.export.interval,
        });
        Ok(o)
    }
}

/// A vkey inline, or `@FILE` holding one.
fn read_vkey(text: &str) -> Result<VerifierKey, ConfigError> {
    let bad = |m: String| ConfigError::Invalid(format!("log.signer.vkey (--vkey): {m}"));
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

/// Every key with a value of its kind, from [`ServeConfig::every_key`].
fn schema() -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    // Every field serializes (paths in every_key are UTF-8), so the
    // fallback, an empty table, is never taken.
    let table = toml::Table::try_from(ServeConfig::every_key()).unwrap_or_default();
    leaves("", &table, &mut out);
    out
}

fn leaves(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => leaves(&key, t, out),
            other => out.push((key, other.clone())),
        }
    }
}

/// An environment variable's text as a value of the key's kind.
fn env_value(raw: &str, kind: &toml::Value) -> Result<toml::Value, String> {
    match kind {
        toml::Value::Integer(_) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("{raw:?} is not a whole number")),
        toml::Value::Boolean(_) => match raw.trim() {
            "true" | "1" => Ok(toml::Value::Boolean(true)),
            "false" | "0" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("{raw:?} is not true or false")),
        },
        _ => Ok(toml::Value::String(raw.to_owned())),
    }
}

fn insert(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut t = table;
    for p in parts {
        let entry = t
            .entry(p.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        t = next;
    }
    t.insert(last.to_owned(), value);
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests;
