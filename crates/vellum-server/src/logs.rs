//! The logs of a deployment: the default one and those of `[[logs]]`
//! ([`NamedLog`]), each opened by [`open_one`] on its store once its key or
//! signer is known ([`sign_with`]). `run::start` opens them all.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use vellum_log::{Log, LogConfig};
use vellum_note::{Policy, VerifierKey};

use crate::embedded;
use crate::export::ExportOptions;
use crate::grpc::signer::{RemoteSigner, SignerAddr, SignerClientTls};
use crate::grpc::{self};
use crate::run::{ServeError, ServeOptions};
use crate::witness::{WitnessAuth, witnessing_from_policy};

/// A log besides the default one, with its own tree, key (or signer),
/// witnesses and limits. Its data folder is `<data>/logs/<name>/` and its
/// embedded signer's memory `<data>.signers/<name>/` (outside the data
/// folder, as the default log's is: see [`crate::embedded`]).
#[derive(Clone, Debug)]
pub struct NamedLog {
    /// Its name: in the `vellum-log` header of calls, in tile URLs
    /// (`/logs/<name>/`), in token roles (`append@<name>`).
    pub name: String,
    /// What it stores.
    pub kind: LogKind,
    /// The origin of a new log (an existing log keeps its key's name).
    pub origin: Option<String>,
    /// The key file, if not `<data>/logs/<name>/log.key`.
    pub key: Option<PathBuf>,
    /// Its limits and pool settings.
    pub tuning: Tuning,
    /// A signer in another process, instead of the key.
    pub signer: Option<SignerAddr>,
    /// How to reach an `https://` signer (its CA, the log's client
    /// certificate).
    pub signer_tls: SignerClientTls,
    /// The verifier key pinning a remote signer's key.
    pub vkey: Option<VerifierKey>,
    /// Its witnesses and quorum.
    pub witness_policy: Option<Policy>,
    /// The CA of its witnesses' certificates and its tokens for them.
    pub witness_auth: WitnessAuth,
    /// Serve checkpoints that do not meet the witness policy.
    pub publish_below_policy: bool,
    /// How long a witness round waits for the slowest witness.
    pub witness_timeout: Duration,
    /// A static tiles copy of this log.
    pub export: Option<ExportOptions>,
}

impl NamedLog {
    /// A log named `name` of `kind` with every other setting at its
    /// default.
    pub fn new(name: &str, kind: LogKind) -> NamedLog {
        let d = ServeOptions::embedded();
        NamedLog {
            name: name.to_owned(),
            kind,
            origin: None,
            key: None,
            tuning: Tuning::default(),
            signer: None,
            signer_tls: SignerClientTls::default(),
            vkey: None,
            witness_policy: None,
            witness_auth: WitnessAuth::default(),
            publish_below_policy: d.publish_below_policy,
            witness_timeout: d.witness_timeout,
            export: None,
        }
    }
}

/// One log, opened.
pub(crate) struct Opened {
    pub(crate) name: String,
    pub(crate) log: Log,
    pub(crate) vkey: VerifierKey,
    pub(crate) new_key: bool,
    pub(crate) service: grpc::LogService,
    pub(crate) export: Option<ExportOptions>,
}

/// How one log signs: its key in this process, or a signer elsewhere.
pub(crate) enum SignWith {
    /// The key, and whether this start created it.
    Local(vellum_note::SignerKey, bool),
    /// The remote signer and its (checked) key.
    Remote(Arc<RemoteSigner>, VerifierKey),
}

/// Loads (or creates) a log's key, or reaches its remote signer and checks
/// its key against the pinned one and the origin.
pub(crate) async fn sign_with(
    opts: &ServeOptions,
    spec: &NamedLog,
) -> Result<SignWith, ServeError> {
    let layout = opts.layout_of(&spec.name);
    let Some(addr) = &spec.signer else {
        let (key, new_key) =
            embedded::load_or_create_key(&layout, spec.key.as_deref(), spec.origin.as_deref())?;
        return Ok(SignWith::Local(key, new_key));
    };
    if spec.key.is_some() {
        return Err(ServeError::Config(
            "--key and --signer exclude each other: with a remote signer the key lives \
             in the signer's process"
                .into(),
        ));
    }
    let remote = RemoteSigner::new(addr.clone(), &spec.signer_tls).map_err(ServeError::Config)?;
    let reported = remote.vkey().await.map_err(ServeError::Config)?;
    let vkey = match &spec.vkey {
        Some(pinned) if *pinned != reported => {
            return Err(ServeError::Config(format!(
                "the signer at {addr} has key {reported}, not the pinned --vkey {pinned}"
            )));
        }
        Some(pinned) => pinned.clone(),
        None => reported,
    };
    if let Some(o) = &spec.origin
        && o != vkey.name()
    {
        return Err(ServeError::Config(format!(
            "the signer's key is for origin {:?}, not {o:?}",
            vkey.name()
        )));
    }
    Ok(SignWith::Remote(Arc::new(remote), vkey))
}

/// Opens one log of the deployment on its store: its signer, its
/// witnesses, and for an events log its recorder.
pub(crate) async fn open_one(
    opts: &ServeOptions,
    spec: &NamedLog,
    sign: SignWith,
    store: embedded::LogSlot,
) -> Result<Opened, ServeError> {
    let layout = opts.layout_of(&spec.name);
    let export_folder = spec.export.as_ref().map(|e| e.out.as_path());
    let witnessing = match &spec.witness_policy {
        None => None,
        Some(p) => Some(
            witnessing_from_policy(
                p.clone(),
                spec.publish_below_policy,
                spec.witness_timeout,
                &spec.witness_auth,
            )
            .map_err(ServeError::Config)?,
        ),
    };
    let (log, vkey, new_key) = match sign {
        SignWith::Local(key, new_key) => {
            let config = log_config(opts, spec, key.name());
            let (log, vkey) =
                embedded::open_log(&layout, key, config, store, witnessing, export_folder).await?;
            (log, vkey, new_key)
        }
        SignWith::Remote(remote, vkey) => {
            let config = log_config(opts, spec, vkey.name());
            let log = embedded::open_with_signer(
                &layout,
                remote,
                vkey.clone(),
                config,
                store,
                witnessing,
                export_folder,
            )
            .await?;
            (log, vkey, false)
        }
    };
    let mut service = grpc::log::LogService::new(log.clone(), opts.limits.clone());
    if spec.kind == LogKind::Events {
        match crate::events::Recorder::start(log.clone(), &layout.events_index()).await {
            Ok(recorder) => service = service.with_recorder(recorder),
            Err(e) => {
                log.shutdown().await;
                return Err(ServeError::Config(format!("--log-kind events: {e}")));
            }
        }
    }
    Ok(Opened {
        name: spec.name.clone(),
        log,
        vkey,
        new_key,
        service,
        export: spec.export.clone(),
    })
}

/// The log's settings: the defaults for `origin`, with the spec's tuning
/// and its share of the server's self-audit.
///
/// An events log's only writer is its recorder, which batches the events
/// that wait while its previous append commits and has one append in
/// flight: the pool's delay would only add to every round, so it is zero
/// (the pool's entry bound still holds).
fn log_config(opts: &ServeOptions, spec: &NamedLog, origin: &str) -> LogConfig {
    let mut config = LogConfig::new(origin);
    spec.tuning.apply(&mut config);
    // The pace is the server's: its logs share it, so that a server of
    // many logs re-verifies no faster than one of a single log.
    config.self_audit = opts.self_audit.clone();
    let logs = 1 + opts.logs.len() as u64;
    config.self_audit.entries_per_second = opts.self_audit.entries_per_second.div_ceil(logs);
    if spec.kind == LogKind::Events {
        config.pool_max_delay = Duration::ZERO;
    }
    config
}

/// A log of a running server other than the default one.
#[derive(Debug)]
pub struct RunningLog {
    /// Its name.
    pub name: String,
    /// Its origin.
    pub origin: String,
    /// Its verifier key.
    pub vkey: VerifierKey,
    /// Whether this start created its key.
    pub new_key: bool,
    /// The log itself.
    pub log: Log,
}

/// Log settings that a deployment may override; `None` keeps the default.
#[derive(Clone, Debug, Default)]
pub struct Tuning {
    /// See [`LogConfig::pool_max_entries`].
    pub pool_max_entries: Option<usize>,
    /// See [`LogConfig::pool_max_delay`].
    pub pool_max_delay: Option<Duration>,
    /// See [`LogConfig::queue_max_entries`].
    pub queue_max_entries: Option<usize>,
    /// See [`LogConfig::queue_max_bytes`].
    pub queue_max_bytes: Option<usize>,
    /// See [`LogConfig::max_queue_delay`].
    pub max_queue_delay: Option<Duration>,
    /// See [`LogConfig::max_entries_per_call`].
    pub max_entries_per_call: Option<usize>,
    /// See [`LogConfig::max_entry_size`].
    pub max_entry_size: Option<usize>,
    /// See [`LogConfig::checkpoint_interval`].
    pub checkpoint_interval: Option<Duration>,
}

impl Tuning {
    pub(crate) fn apply(&self, c: &mut LogConfig) {
        if let Some(v) = self.pool_max_entries {
            c.pool_max_entries = v;
        }
        if let Some(v) = self.pool_max_delay {
            c.pool_max_delay = v;
        }
        if let Some(v) = self.queue_max_entries {
            c.queue_max_entries = v;
        }
        if let Some(v) = self.queue_max_bytes {
            c.queue_max_bytes = v;
        }
        if let Some(v) = self.max_queue_delay {
            c.max_queue_delay = v;
        }
        if let Some(v) = self.max_entries_per_call {
            c.max_entries_per_call = v;
        }
        if let Some(v) = self.max_entry_size {
            c.max_entry_size = v;
        }
        if let Some(v) = self.checkpoint_interval {
            c.checkpoint_interval = v;
        }
    }
}

/// What a log stores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    /// Opaque entries, appended with `Append` (`vellum append`).
    #[default]
    Raw,
    /// Audit events, recorded with `Record` (`vellum record`); raw appends
    /// are refused.
    Events,
}

impl std::str::FromStr for LogKind {
    type Err = String;
    fn from_str(s: &str) -> Result<LogKind, String> {
        match s {
            "raw" => Ok(LogKind::Raw),
            "events" => Ok(LogKind::Events),
            other => Err(format!("unknown log kind {other:?}: use raw or events")),
        }
    }
}

impl std::fmt::Display for LogKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogKind::Raw => "raw",
            LogKind::Events => "events",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logs_of_a_server_share_the_self_audits_pace() {
        let mut o = ServeOptions::embedded();
        let alone = log_config(&o, &o.default_log(), "x");
        assert_eq!(alone.self_audit.entries_per_second, 5000);
        o.logs = vec![
            NamedLog::new("a", LogKind::Raw),
            NamedLog::new("b", LogKind::Events),
        ];
        let shared = log_config(&o, &o.logs[1], "x");
        assert_eq!(shared.self_audit.entries_per_second, 1667);
        assert_eq!(shared.self_audit.pass_interval, o.self_audit.pass_interval);
        o.self_audit.entries_per_second = 0;
        assert!(!log_config(&o, &o.default_log(), "x").self_audit.is_on());
    }
}
