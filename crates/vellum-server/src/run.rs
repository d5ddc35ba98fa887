//! A whole server: deployment, listeners, shutdown. `vellum serve` is this
//! plus argument parsing; tests start it in-process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vellum_log::{Log, LogConfig, LogState};
use vellum_note::{Policy, VerifierKey};
use vellum_store_rocksdb::StoreOptions;

use crate::access::{Access, AccessPolicy, AccessStats};
use crate::embedded::{self, DeployError, Layout};
use crate::export::{ExportOptions, run_continuous};
use crate::grpc::signer::{RemoteSigner, SignerAddr};
use crate::grpc::{self, GrpcError};
use crate::http::{self, HttpConfig, TileSource};
use crate::limits::Limits;
use crate::net::{self, ConnStats};
use crate::tls::{self, TlsError, TlsFiles};
use crate::witness::witnessing_from_policy;

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
    }
}

/// Everything `vellum serve` needs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The data folder.
    pub data: PathBuf,
    /// The gRPC listen address.
    pub listen: SocketAddr,
    /// The origin for a new log (an existing log keeps its key's name).
    pub origin: Option<String>,
    /// The key file, if not `<data>/log.key`.
    pub key: Option<PathBuf>,
    /// The embedded signer's memory (its journal), if not `<data>.signer`;
    /// never inside the data folder (see [`crate::embedded`]).
    pub signer_state: Option<PathBuf>,
    /// Log limits and pool settings.
    pub tuning: Tuning,
    /// Network limits.
    pub limits: Limits,
    /// RocksDB settings.
    pub store: StoreOptions,
    /// Listen beyond loopback without TLS and authentication. Loudly logged;
    /// never for production.
    pub insecure_remote: bool,
    /// TLS for both listeners; `None`: plaintext (loopback only, unless
    /// [`ServeOptions::insecure_remote`]).
    pub tls: Option<TlsFiles>,
    /// Bearer tokens and their roles (see [`crate::access`]); `None`: every
    /// call is allowed (loopback only, unless
    /// [`ServeOptions::insecure_remote`]).
    pub access: Option<Arc<AccessPolicy>>,
    /// A signer in another process; `None` signs in-process with the key.
    pub signer: Option<SignerAddr>,
    /// The log's verifier key, required to pin a remote signer's key (else it
    /// is read from the signer at start and written to `<data>/log.vkey`).
    pub vkey: Option<VerifierKey>,
    /// Witnesses and quorum: a C2SP tlog-policy whose witnesses have URLs.
    pub witness_policy: Option<Policy>,
    /// Serve checkpoints that do not meet the witness policy.
    pub publish_below_policy: bool,
    /// How long a witness round waits for the slowest witness.
    pub witness_timeout: Duration,
    /// The tlog-tiles HTTP read API's listen address; `None`: no HTTP.
    pub http: Option<SocketAddr>,
    /// Settings of the HTTP read API.
    pub http_config: HttpConfig,
    /// Export tiles to a folder while serving; `None`: no export.
    pub export: Option<ExportOptions>,
    /// What the log stores: opaque entries, or audit events
    /// (docs/EVENTS.md).
    pub kind: LogKind,
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

impl ServeOptions {
    /// The embedded defaults: `./vellum-data`, `127.0.0.1:6962`.
    pub fn embedded() -> ServeOptions {
        ServeOptions {
            data: PathBuf::from("vellum-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 6962)),
            origin: None,
            key: None,
            signer_state: None,
            tuning: Tuning::default(),
            limits: Limits::default(),
            store: StoreOptions::default(),
            insecure_remote: false,
            tls: None,
            access: None,
            signer: None,
            vkey: None,
            witness_policy: None,
            publish_below_policy: true,
            witness_timeout: Duration::from_secs(5),
            http: None,
            http_config: HttpConfig::default(),
            export: None,
            kind: LogKind::Raw,
        }
    }
}

/// Why the server did not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An unsafe configuration was refused.
    #[error("{0}")]
    Unsafe(String),
    /// The deployment could not be opened.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error(transparent)]
    Grpc(#[from] GrpcError),
    /// The HTTP read API failed.
    #[error("HTTP read API: {0}")]
    Http(std::io::Error),
    /// The log stopped on a fatal error; restart the process.
    #[error("the log stopped: {0}")]
    LogFailed(String),
    /// The remote signer or the witness policy cannot be used.
    #[error("{0}")]
    Config(String),
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Counters of a running server's listeners.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections of the gRPC listener.
    pub grpc: Arc<ConnStats>,
    /// Connections of the HTTP listener.
    pub http: Arc<ConnStats>,
    /// Calls refused by the access check (both listeners).
    pub access: Arc<AccessStats>,
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The log's origin.
    pub origin: String,
    /// The log's verifier key.
    pub vkey: VerifierKey,
    /// Where gRPC listens.
    pub grpc_addr: SocketAddr,
    /// Where the tlog-tiles HTTP API listens, if it does.
    pub http_addr: Option<SocketAddr>,
    /// Whether this start created the key (a new log).
    pub new_key: bool,
    /// The log itself.
    pub log: Log,
    /// Connection and denial counters.
    pub stats: Arc<ServerStats>,
    stop: Option<oneshot::Sender<()>>,
    grpc: JoinHandle<Result<(), GrpcError>>,
    http: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    export: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

/// Checks that `opts` is safe to run: a listener beyond loopback needs TLS
/// and authentication, unless [`ServeOptions::insecure_remote`] is set
/// (then a warning is logged for each missing piece).
///
/// # Errors
///
/// [`ServeError::Unsafe`] naming the listener, what is missing and the
/// flags that add it.
pub fn check_safety(opts: &ServeOptions) -> Result<(), ServeError> {
    let mut missing = Vec::new();
    if opts.tls.is_none() {
        missing.push("TLS (--tls-cert FILE --tls-key FILE)");
    }
    if opts.access.is_none() {
        missing.push("authentication (--auth TOKENFILE)");
    }
    let remote: Vec<(&str, SocketAddr)> = [("gRPC", Some(opts.listen)), ("tiles", opts.http)]
        .into_iter()
        .filter_map(|(what, a)| a.map(|a| (what, a)))
        .filter(|(_, a)| !a.ip().is_loopback())
        .collect();
    if remote.is_empty() || missing.is_empty() {
        return Ok(());
    }
    let listeners = remote
        .iter()
        .map(|(what, a)| format!("{what} on {a}"))
        .collect::<Vec<_>>()
        .join(" and ");
    let missing = missing.join(" and ");
    let risk = if remote.iter().any(|(what, _)| *what == "gRPC") {
        "append and read every entry"
    } else {
        "read every entry"
    };
    if !opts.insecure_remote {
        return Err(ServeError::Unsafe(format!(
            "refusing to serve {listeners} without {missing}: anyone who can reach it could \
             {risk}, or read tokens off the network. Add {missing}, listen on 127.0.0.1, or \
             pass --insecure-remote to accept the risk (never in production)"
        )));
    }
    tracing::warn!(
        listeners,
        missing,
        "INSECURE (--insecure-remote): serving beyond loopback without {missing}; anyone on the \
         network can read, and without authentication append. Never in production."
    );
    Ok(())
}

/// Opens the deployment and starts serving.
///
/// # Errors
///
/// [`ServeError`].
pub async fn start(opts: ServeOptions) -> Result<Running, ServeError> {
    check_safety(&opts)?;
    // TLS files are read before anything is opened: a bad key changes
    // nothing.
    let (grpc_tls, http_tls) = match &opts.tls {
        None => (None, None),
        Some(files) => (
            Some(tls::server_config(files, &[b"h2"])?),
            Some(tls::server_config(files, &[b"h2", b"http/1.1"])?),
        ),
    };
    let stats = Arc::new(ServerStats::default());
    let access = opts
        .access
        .clone()
        .map(|p| Access::new(p, stats.access.clone()));
    let layout = Layout {
        data: opts.data.clone(),
        signer_state: opts.signer_state.clone(),
    };
    let export_folder = opts.export.as_ref().map(|e| e.out.as_path());
    let witnessing = match &opts.witness_policy {
        None => None,
        Some(p) => Some(
            witnessing_from_policy(p.clone(), opts.publish_below_policy, opts.witness_timeout)
                .map_err(ServeError::Config)?,
        ),
    };
    let listener = grpc::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.listen,
            source,
        })?;
    let grpc_addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: opts.listen,
        source,
    })?;
    let http_listener = match opts.http {
        None => None,
        Some(addr) => {
            let l = http::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })?;
            let bound = l
                .local_addr()
                .map_err(|source| ServeError::Bind { addr, source })?;
            Some((l, bound))
        }
    };
    let (log, vkey, new_key) = match &opts.signer {
        None => {
            let (key, new_key) =
                embedded::load_or_create_key(&layout, opts.key.as_deref(), opts.origin.as_deref())?;
            let mut config = LogConfig::new(key.name());
            opts.tuning.apply(&mut config);
            let (log, vkey) =
                embedded::open_log(&layout, key, config, &opts.store, witnessing, export_folder)
                    .await?;
            (log, vkey, new_key)
        }
        Some(addr) => {
            if opts.key.is_some() {
                return Err(ServeError::Config(
                    "--key and --signer exclude each other: with a remote signer the key lives \
                     in the signer's process"
                        .into(),
                ));
            }
            let remote = RemoteSigner::new(addr.clone()).map_err(ServeError::Config)?;
            let reported = remote.vkey().await.map_err(ServeError::Config)?;
            let vkey = match &opts.vkey {
                Some(pinned) if *pinned != reported => {
                    return Err(ServeError::Config(format!(
                        "the signer at {addr} has key {reported}, not the pinned --vkey {pinned}"
                    )));
                }
                Some(pinned) => pinned.clone(),
                None => reported,
            };
            if let Some(o) = &opts.origin
                && o != vkey.name()
            {
                return Err(ServeError::Config(format!(
                    "the signer's key is for origin {:?}, not {o:?}",
                    vkey.name()
                )));
            }
            let mut config = LogConfig::new(vkey.name());
            opts.tuning.apply(&mut config);
            let log = embedded::open_with_signer(
                &layout,
                Arc::new(remote),
                vkey.clone(),
                config,
                &opts.store,
                witnessing,
                export_folder,
            )
            .await?;
            (log, vkey, false)
        }
    };
    let origin = vkey.name().to_owned();
    let (stop, stopped) = oneshot::channel::<()>();
    let conns = net::accept(listener, &opts.limits, grpc_tls, stats.grpc.clone());
    let mut service = grpc::log::LogService::new(log.clone(), opts.limits.clone());
    if opts.kind == LogKind::Events {
        let recorder = crate::events::Recorder::start(log.clone(), &layout.events_index())
            .await
            .map_err(|e| ServeError::Config(format!("--log-kind events: {e}")))?;
        service = service.with_recorder(recorder);
    }
    let grpc = tokio::spawn(grpc::serve_conns(
        conns,
        service,
        opts.limits.clone(),
        access.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let http_addr = http_listener.as_ref().map(|(_, a)| *a);
    let http = http_listener.map(|(l, _)| {
        let (stop, stopped) = oneshot::channel::<()>();
        let conns = net::accept(l, &opts.limits, http_tls, stats.http.clone());
        let app = http::router_with_access(
            TileSource::from_log(&log),
            opts.http_config.clone(),
            Some(crate::metrics::router(log.clone(), stats.clone())),
            access.clone(),
        );
        let limits = opts.limits.clone();
        let task = tokio::spawn(async move {
            http::serve_conns(conns, app, &limits, async {
                let _ = stopped.await;
            })
            .await
        });
        (stop, task)
    });
    let export = opts.export.clone().map(|e| {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run_continuous(TileSource::from_log(&log), e, async {
            let _ = stopped.await;
        }));
        (stop, task)
    });
    Ok(Running {
        origin,
        vkey,
        grpc_addr,
        http_addr,
        new_key,
        log,
        stats,
        stop: Some(stop),
        grpc,
        http,
        export,
    })
}

impl Running {
    /// Serves until `signal` completes or the log fails, then shuts down:
    /// stops accepting calls, sequences what was queued, signs it, and closes
    /// the store.
    ///
    /// # Errors
    ///
    /// [`ServeError::LogFailed`] if the log stopped on its own (the process
    /// should exit non-zero so that a supervisor restarts it through the
    /// normal start-up checks); [`ServeError::Grpc`] on transport failure.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), ServeError> {
        let mut state = self.log.state();
        let failed = tokio::select! {
            _ = signal => None,
            r = state.wait_for(|s| matches!(s, LogState::Failed(_))) => match r.as_deref() {
                Ok(LogState::Failed(m)) => Some(m.clone()),
                _ => None,
            },
        };
        let grpc = self.shutdown_inner().await;
        if let Some(m) = failed {
            return Err(ServeError::LogFailed(m));
        }
        grpc
    }

    /// Stops the server (as [`Running::run_until`] does on its signal).
    ///
    /// # Errors
    ///
    /// [`ServeError::Grpc`] if the transport had failed.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        self.shutdown_inner().await
    }

    async fn shutdown_inner(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let http = match self.http.take() {
            Some((stop, mut task)) => {
                let _ = stop.send(());
                Some(drain("HTTP", &mut task).await)
            }
            None => None,
        };
        let grpc = drain("gRPC", &mut self.grpc).await;
        self.log.shutdown().await;
        // After the log's final checkpoint, so that the folder ends with it.
        if let Some((stop, task)) = self.export.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        match grpc {
            Ok(r) => r.map_err(ServeError::from)?,
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                return Err(ServeError::Grpc(GrpcError::Io(std::io::Error::other(
                    e.to_string(),
                ))));
            }
        }
        match http {
            Some(Ok(Err(e))) => Err(ServeError::Http(e)),
            Some(Err(e)) if !e.is_cancelled() => {
                Err(ServeError::Http(std::io::Error::other(e.to_string())))
            }
            _ => Ok(()),
        }
    }
}

/// How long a stopping listener waits for its open connections to finish
/// their calls. Idle clients that keep a connection open would otherwise
/// hold the shutdown: tonic's graceful shutdown waits for every connection
/// to close. Acknowledged entries are durable before their answer, so
/// closing a connection loses none.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits for a listener's task up to [`DRAIN_TIMEOUT`], then aborts it
/// (closing the connections still open).
async fn drain<T>(what: &str, task: &mut JoinHandle<T>) -> Result<T, tokio::task::JoinError> {
    match tokio::time::timeout(DRAIN_TIMEOUT, &mut *task).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(
                listener = what,
                "connections still open after {DRAIN_TIMEOUT:?}: closing them"
            );
            task.abort();
            task.await
        }
    }
}
