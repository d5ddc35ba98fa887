//! A whole server: deployment, listeners, shutdown. `vellum serve` is this
//! plus argument parsing; tests start it in-process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vellum_log::{Log, LogState, SelfAuditConfig};
use vellum_note::{Policy, VerifierKey};
use vellum_store_rocksdb::StoreOptions;

use crate::access::{Access, AccessPolicy, AccessStats};
use crate::embedded::{self, Layout};
use crate::export::{ExportOptions, run_continuous};
use crate::grpc::signer::{SignerAddr, SignerClientTls};
use crate::grpc::{self, GrpcError, RequestLogLayer};
use crate::http::{self, HttpConfig, TileSource};
use crate::limits::Limits;
pub use crate::logs::{LogKind, NamedLog, RunningLog, Tuning};
use crate::logs::{Opened, open_one, sign_with};
use crate::net::{self, ConnStats};
use crate::reload::Reloader;
use crate::tls::{self, TlsFiles};
use crate::witness::WitnessAuth;

mod error;
pub use error::ServeError;

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
    /// How to reach an `https://` signer: its CA and the log's client
    /// certificate (mutual TLS).
    pub signer_tls: SignerClientTls,
    /// The log's verifier key, required to pin a remote signer's key (else it
    /// is read from the signer at start and written to `<data>/log.vkey`).
    pub vkey: Option<VerifierKey>,
    /// Witnesses and quorum: a C2SP tlog-policy whose witnesses have URLs.
    pub witness_policy: Option<Policy>,
    /// The CA of the witnesses' certificates and the log's tokens for them.
    pub witness_auth: WitnessAuth,
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
    /// The logs besides the default one (`[[logs]]` in the configuration),
    /// each in `<data>/logs/<name>/`.
    pub logs: Vec<NamedLog>,
    /// The logs' self-audit (its progress in `<data>/self-audit`); the
    /// logs share its pace.
    pub self_audit: SelfAuditConfig,
    /// Alerts and detectors (`[guard]`).
    pub guard: crate::guard::GuardOptions,
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
            signer_tls: SignerClientTls::default(),
            vkey: None,
            witness_policy: None,
            witness_auth: WitnessAuth::default(),
            publish_below_policy: true,
            witness_timeout: Duration::from_secs(5),
            http: None,
            http_config: HttpConfig::default(),
            export: None,
            kind: LogKind::Raw,
            logs: Vec::new(),
            self_audit: SelfAuditConfig::at_default_pace(),
            guard: crate::guard::GuardOptions::default(),
        }
    }

    /// The default log's settings, as a [`NamedLog`] named
    /// [`vellum_proto::DEFAULT_LOG`].
    pub fn default_log(&self) -> NamedLog {
        NamedLog {
            name: vellum_proto::DEFAULT_LOG.to_owned(),
            kind: self.kind,
            origin: self.origin.clone(),
            key: self.key.clone(),
            tuning: self.tuning.clone(),
            signer: self.signer.clone(),
            signer_tls: self.signer_tls.clone(),
            vkey: self.vkey.clone(),
            witness_policy: self.witness_policy.clone(),
            witness_auth: self.witness_auth.clone(),
            publish_below_policy: self.publish_below_policy,
            witness_timeout: self.witness_timeout,
            export: self.export.clone(),
        }
    }

    /// Where the log named `name` keeps its data and its signer's memory.
    pub fn layout_of(&self, name: &str) -> Layout {
        if name == vellum_proto::DEFAULT_LOG {
            return Layout {
                data: self.data.clone(),
                signer_state: self.signer_state.clone(),
            };
        }
        Layout::new(self.data.clone()).named(name)
    }

    /// Checks the logs' names: valid, and each once.
    ///
    /// # Errors
    ///
    /// [`ServeError::Config`] naming the log.
    pub fn check_logs(&self) -> Result<(), ServeError> {
        let mut seen = std::collections::BTreeSet::new();
        for l in &self.logs {
            vellum_proto::check_log_name(&l.name).map_err(ServeError::Config)?;
            if l.name == vellum_proto::DEFAULT_LOG {
                return Err(ServeError::Config(format!(
                    "a log may not be named {:?}: that is the name of the server's default log",
                    l.name
                )));
            }
            if !seen.insert(&l.name) {
                return Err(ServeError::Config(format!(
                    "the log {:?} is declared twice",
                    l.name
                )));
            }
        }
        Ok(())
    }
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
    /// The default log's origin.
    pub origin: String,
    /// The default log's verifier key.
    pub vkey: VerifierKey,
    /// Where gRPC listens.
    pub grpc_addr: SocketAddr,
    /// Where the tlog-tiles HTTP API listens, if it does.
    pub http_addr: Option<SocketAddr>,
    /// Whether this start created the key (a new log).
    pub new_key: bool,
    /// The default log itself.
    pub log: Log,
    /// The other logs ([`ServeOptions::logs`]), in the order declared.
    pub logs: Vec<RunningLog>,
    /// Connection and denial counters.
    pub stats: Arc<ServerStats>,
    /// Reads the token file and the TLS files again (SIGHUP).
    pub reloader: Reloader,
    stop: Option<oneshot::Sender<()>>,
    grpc: JoinHandle<Result<(), GrpcError>>,
    http: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    exports: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
    /// The thread that sequences every log of the database, stopped after them.
    sequencing: vellum_log::Sequencing,
    /// The server's alerts (`None`: the guard is off).
    pub alerts: Option<crate::guard::Alerts>,
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
    opts.check_logs()?;
    // TLS files are read before anything is opened: a bad key changes
    // nothing. Both listeners share the material, which a reload swaps.
    let tls = opts.tls.clone().map(tls::ServerTls::load).transpose()?;
    let (grpc_tls, http_tls) = match &tls {
        None => (None, None),
        Some(t) => (
            Some(t.config(&[b"h2"])?),
            Some(t.config(&[b"h2", b"http/1.1"])?),
        ),
    };
    let stats = Arc::new(ServerStats::default());
    let access = opts
        .access
        .clone()
        .map(|p| Access::new(p, stats.access.clone()));
    let reloader = Reloader::new(access.clone(), tls.map(Arc::new));
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
    let specs: Vec<NamedLog> = std::iter::once(opts.default_log())
        .chain(opts.logs.iter().cloned())
        .collect();
    let named = |name: &str, e: ServeError| {
        if name == vellum_proto::DEFAULT_LOG {
            e
        } else {
            ServeError::Log {
                name: name.to_owned(),
                source: Box::new(e),
            }
        }
    };
    // Keys and signers first: a bad key or an unreachable signer refuses
    // the start before any store is created.
    let mut signing = Vec::with_capacity(specs.len());
    for spec in &specs {
        signing.push(
            sign_with(&opts, spec)
                .await
                .map_err(|e| named(&spec.name, e))?,
        );
    }
    // One database for every log: concurrent commits of several logs
    // share one WAL write and fsync (RocksDB's group commit).
    let names: Vec<String> = opts.logs.iter().map(|l| l.name.clone()).collect();
    let (default_store, named_stores) = embedded::open_stores(
        &opts.layout_of(vellum_proto::DEFAULT_LOG),
        &opts.store,
        &names,
    )?;
    // ...and one sequencing thread: a round takes what every log pooled
    // and commits it with one write.
    let (sequencing, slots) =
        embedded::sequence_together(std::iter::once(default_store).chain(named_stores).collect())?;
    let mut opened: Vec<Opened> = Vec::new();
    for ((spec, sign), slot) in specs.iter().zip(signing).zip(slots) {
        match open_one(&opts, spec, sign, slot).await {
            Ok(o) => opened.push(o),
            Err(e) => {
                abandon(opened, sequencing).await;
                return Err(named(&spec.name, e));
            }
        }
    }
    let data = opts.layout_of(vellum_proto::DEFAULT_LOG).data;
    let alerts = match crate::guard::start(&opts.guard, &data, &mut opened, &stats.access).await {
        Ok(a) => a,
        Err(e) => {
            abandon(opened, sequencing).await;
            return Err(ServeError::Config(e));
        }
    };
    let router = grpc::LogRouter::new(
        opened
            .iter()
            .map(|o| (o.name.clone(), o.service.clone()))
            .collect(),
    );
    let tiles: Vec<(String, TileSource)> = opened
        .iter()
        .map(|o| {
            let source = TileSource::from_log(&o.log).with_recorder(o.service.recorder().cloned());
            (o.name.clone(), source)
        })
        .collect();
    let metric_logs = crate::metrics::logs_of(&opened);
    let exports: Vec<(oneshot::Sender<()>, JoinHandle<()>)> = opened
        .iter()
        .filter_map(|o| {
            let e = o.export.clone()?;
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(run_continuous(TileSource::from_log(&o.log), e, async {
                let _ = stopped.await;
            }));
            Some((stop, task))
        })
        .collect();
    let mut logs: Vec<RunningLog> = opened
        .into_iter()
        .map(|o| RunningLog {
            origin: o.vkey.name().to_owned(),
            name: o.name,
            vkey: o.vkey,
            new_key: o.new_key,
            log: o.log,
        })
        .collect();
    // `open_one` opened the default log first.
    let default = logs.remove(0);
    let (stop, stopped) = oneshot::channel::<()>();
    let conns = net::accept(listener, &opts.limits, grpc_tls, stats.grpc.clone());
    let grpc = tokio::spawn(grpc::serve_conns(
        conns,
        router,
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
            http::logs_router(tiles, &opts.http_config),
            Some(crate::metrics::router(
                metric_logs,
                stats.clone(),
                alerts.as_ref().map(|a| a.stats().clone()),
            )),
            access.clone(),
        )
        .layer(RequestLogLayer::http());
        let limits = opts.limits.clone();
        let task = tokio::spawn(async move {
            http::serve_conns(conns, app, &limits, async {
                let _ = stopped.await;
            })
            .await
        });
        (stop, task)
    });
    Ok(Running {
        origin: default.origin,
        vkey: default.vkey,
        grpc_addr,
        http_addr,
        new_key: default.new_key,
        log: default.log,
        logs,
        stats,
        reloader,
        stop: Some(stop),
        grpc,
        http,
        exports,
        sequencing,
        alerts,
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
        let logs = std::iter::once((vellum_proto::DEFAULT_LOG, &self.log))
            .chain(self.logs.iter().map(|l| (l.name.as_str(), &l.log)));
        let failures = logs.map(|(name, log)| {
            let mut state = log.state();
            let name = name.to_owned();
            Box::pin(async move {
                match state
                    .wait_for(|s| matches!(s, LogState::Failed(_)))
                    .await
                    .as_deref()
                {
                    Ok(LogState::Failed(m)) if name == vellum_proto::DEFAULT_LOG => m.clone(),
                    Ok(LogState::Failed(m)) => format!("log {name:?}: {m}"),
                    // The state's sender went away: the log is gone.
                    _ => format!("log {name:?} ended"),
                }
            })
        });
        let failed = tokio::select! {
            _ = signal => None,
            (m, _, _) = futures::future::select_all(failures) => Some(m),
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
                Some(crate::net::drain("HTTP", &mut task).await)
            }
            None => None,
        };
        let grpc = crate::net::drain("gRPC", &mut self.grpc).await;
        // Alerts raised so far are recorded while the logs still run.
        if let Some(a) = &self.alerts {
            a.stop(Duration::from_secs(2)).await;
        }
        let logs = std::iter::once(&self.log).chain(self.logs.iter().map(|l| &l.log));
        futures::future::join_all(logs.map(Log::shutdown)).await;
        self.sequencing.shutdown().await;
        // After the logs' final checkpoints, so that each folder ends with
        // its log's.
        for (stop, task) in self.exports.drain(..) {
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

/// Shuts down the logs opened so far, when the start fails after them.
async fn abandon(opened: Vec<Opened>, sequencing: vellum_log::Sequencing) {
    for o in opened {
        o.log.shutdown().await;
    }
    sequencing.shutdown().await;
}
