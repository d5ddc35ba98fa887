// size: the flags of `vellum serve` are one list, a flag per key of docs/CONFIG.md.
//! `vellum serve`: run a log on its embedded deployment (one data folder,
//! the key beside it), until Ctrl-C or SIGTERM.
//!
//! Wiring only: the flags become a `vellum_server::ServeOptions`; the server
//! does the rest. The banner on stderr names the *bound* address, so that
//! `--listen 127.0.0.1:0` (a free port) can be found by whoever started it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use vellum_server::{Layered, Running, ServeConfig, ServeOptions};

use crate::exit::CmdResult;

/// Exit statuses as this command uses them.
const SERVE_EXIT_HELP: &str = "\
Exit status:
  0  stopped cleanly on Ctrl-C or SIGTERM (queued entries sequenced and signed)
  2  refused to start (unsafe address, bad key or data folder, port in use),
     or the log stopped on a fatal error: restart it (start-up re-checks the
     stored tree against what was signed)";

/// Arguments of `vellum serve`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Run a log: RocksDB in a data folder, gRPC on loopback",
    long_about = "Run a Vellum log until Ctrl-C or SIGTERM.\n\n\
        The data folder holds the store (<data>/log), the private key \
        (<data>/log.key, mode 0600, created on first start unless --key names one) \
        and the public key (<data>/log.vkey). The signer's memory of what it signed \
        lives beside it, in <data>.signer (mode 0700; --signer-state), so that a \
        restored old copy of the data folder is refused at start instead of being \
        signed over. Witnesses (--witness-policy) and a tiles export (--export) are \
        checked at start too. After a restore that was meant, see `vellum recover`; \
        `vellum doctor` reports what in a configuration makes rollbacks possible.\n\n\
        Without TLS (--tls-cert, --tls-key) and authentication (--auth) the \
        log listens on loopback only; --insecure-remote lifts that (never in \
        production).\n\n\
        A banner on stderr gives the origin, the vkey, the bound gRPC address \
        and the data folder. Logs go to stderr, as text or (--log-format json) \
        one JSON object per line; each call is one line (target \
        vellum::request: request id, log, submitter, method, status, \
        duration). Set VELLUM_LOG to a tracing filter (e.g. debug, or \
        info,vellum::request=warn to drop the request lines) to change what \
        is shown; the default is info.\n\n\
        SIGHUP reloads the token file (--auth) and the TLS certificate, key \
        and client CA: new calls and handshakes use them, open connections \
        stay; a file that cannot be used changes nothing and is logged as an \
        error.\n\n\
        Settings may come from a TOML file (--config FILE; see \
        examples/vellum.toml and docs/CONFIG.md) and from environment \
        variables VELLUM_<SECTION>_<KEY> (e.g. VELLUM_LIMITS_MAX_CONNECTIONS); \
        a flag overrides both, the environment overrides the file. \
        `vellum config print` shows the result.\n\n\
        Durations are written with a unit: 500us, 2ms, 10s, 5m.",
    after_help = SERVE_EXIT_HELP,
)]
pub struct Args {
    #[command(flatten)]
    flags: Flags,

    #[command(flatten)]
    log: crate::daemon::LogArgs,
}

/// The flags that describe a serving log (shared with `vellum doctor` and
/// `vellum config print`). Each is optional: a flag given overrides the
/// configuration file (`--config`) and the environment (`VELLUM_...`), see
/// docs/CONFIG.md; one not given leaves them be.
#[derive(Debug, clap::Args)]
pub struct Flags {
    /// A TOML configuration file (see examples/vellum.toml and
    /// docs/CONFIG.md); environment variables and flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The data folder (created if missing) [default: vellum-data]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

    /// The gRPC listen address; port 0 picks a free port [default:
    /// 127.0.0.1:6962]
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// The origin of a new log (e.g. example.com/audit); an existing log keeps
    /// its key's name. Default for a new log: vellum.localhost/<random>.
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,

    /// The private key file, instead of <data>/log.key (must exist, mode 0600).
    #[arg(long, value_name = "KEYFILE")]
    key: Option<PathBuf>,

    /// The embedded signer's memory (its journal of what it signed), instead
    /// of <data>.signer. Never inside the data folder: a restored backup of
    /// the data would rewind it. [env: VELLUM_SIGNER_STATE]
    #[arg(long, value_name = "DIR")]
    signer_state: Option<PathBuf>,

    /// Listen beyond loopback without TLS or authentication: anyone who can
    /// reach the port can append. Never in production.
    #[arg(long)]
    insecure_remote: bool,

    /// Sign through an independent signer (`vellum signer`) at ADDR
    /// (unix:/path/to/socket, http://127.0.0.1:PORT, or https://host:port
    /// with --signer-tls-*) instead of holding the key in this process.
    /// --key is then not used.
    #[arg(long, value_name = "ADDR", help_heading = "Signing and witnesses")]
    signer: Option<vellum_server::SignerAddr>,

    /// The log's public key, inline or as @FILE: with --signer, the
    /// signer's key must be this one (else it is taken from the signer at
    /// start and written to <data>/log.vkey).
    #[arg(long, value_name = "VKEY", value_parser = crate::input::vkey, help_heading = "Signing and witnesses")]
    vkey: Option<vellum_note::VerifierKey>,

    /// A C2SP tlog-policy file naming the witnesses (each with its URL,
    /// `witness NAME VKEY URL`) and the quorum: each new checkpoint is sent
    /// to them, and published with the cosignatures that meet the policy.
    #[arg(long, value_name = "FILE", help_heading = "Signing and witnesses")]
    witness_policy: Option<PathBuf>,

    /// Publish only checkpoints that meet the witness policy (the default
    /// publishes the latest signed checkpoint with whatever cosignatures it
    /// got, so that a down witness delays nothing).
    #[arg(long, help_heading = "Signing and witnesses")]
    require_witness_quorum: bool,

    /// How long a witness round waits for the slowest witness [default: 5s]
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Signing and witnesses")]
    witness_timeout: Option<Duration>,

    /// Serve the C2SP tlog-tiles read API (checkpoint, tiles, entry
    /// bundles) over HTTP on ADDR.
    #[arg(long, value_name = "ADDR", help_heading = "Reads and export")]
    http: Option<SocketAddr>,

    /// Keep FOLDER an up-to-date static copy of the tlog-tiles API while
    /// serving (any web server can serve it; see `vellum export`).
    #[arg(long, value_name = "FOLDER", help_heading = "Reads and export")]
    export: Option<PathBuf>,

    /// The least time between two exports [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Reads and export")]
    export_interval: Option<Duration>,

    /// What the log stores: raw entries (`vellum append`) or audit events
    /// (`vellum record`) [default: raw]
    #[arg(long, value_name = "raw|events")]
    log_kind: Option<vellum_server::LogKind>,

    /// A sequencing round starts when this many entries are pooled...
    #[arg(long, value_name = "N", help_heading = "Pool and queue")]
    pool_max_entries: Option<usize>,

    /// ...or when the oldest pooled entry has waited this long.
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Pool and queue")]
    pool_max_delay: Option<Duration>,

    /// Entries accepted but not yet sequenced, at most; past it appends are
    /// refused at once with RESOURCE_EXHAUSTED.
    #[arg(long, value_name = "N", help_heading = "Pool and queue")]
    queue_max_entries: Option<usize>,

    /// Bytes of entries accepted but not yet sequenced, at most.
    #[arg(long, value_name = "BYTES", help_heading = "Pool and queue")]
    queue_max_bytes: Option<usize>,

    /// Refuse appends (RESOURCE_EXHAUSTED) that would wait longer than this
    /// in the queue, judged by the rate the log measures under backlog, so
    /// accepted entries keep their latency under overload [default: 50ms;
    /// 0s turns it off]
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Pool and queue")]
    max_queue_delay: Option<Duration>,

    /// The least time between two checkpoint signatures [default: 0s: as
    /// soon as possible]; a few hundred ms on a server with many logs
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Pool and queue")]
    checkpoint_interval: Option<Duration>,

    /// Entries in one append call, at most.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    max_entries_per_call: Option<usize>,

    /// Bytes of one entry, at most (65535 at most: the tlog-tiles limit).
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    max_entry_size: Option<usize>,

    /// Largest gRPC message received or sent.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    max_message_bytes: Option<usize>,

    /// Concurrent calls (HTTP/2 streams) per connection.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    max_concurrent_streams: Option<u32>,

    /// Open connections, at most.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    max_connections: Option<usize>,

    /// A call that takes longer ends with DEADLINE_EXCEEDED.
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Limits")]
    request_timeout: Option<Duration>,

    /// An AppendStream with no request for this long is closed.
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Limits")]
    stream_idle_timeout: Option<Duration>,

    /// Requests of one AppendStream processed at once.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    stream_max_in_flight: Option<usize>,

    /// Entries per second the self-audit re-verifies [default: 5000]; 0: off
    #[arg(long, value_name = "N", help_heading = "Limits")]
    self_audit_entries_per_second: Option<u64>,

    // --- TLS and access (crate::cmd::serve::TlsAccess) ---
    #[command(flatten)]
    tls_access: TlsAccess,

    // --- TLS to the signer and witnesses (crate::cmd::serve_peers) ---
    #[command(flatten)]
    peers: super::serve_peers::PeerTls,
}

/// TLS and access control flags, kept together.
#[derive(Debug, clap::Args)]
struct TlsAccess {
    /// PEM certificate chain (server certificate first): serve gRPC and
    /// HTTP over TLS. Needs --tls-key.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        help_heading = "TLS and access"
    )]
    tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert; mode 0600 (refused if group or others
    /// may read it).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        help_heading = "TLS and access"
    )]
    tls_key: Option<PathBuf>,

    /// Token file: one line per token, `<role>[,<role>...] <sha256-hex of
    /// the token> <name>`; roles append, read, audit (read + tiles HTTP),
    /// admin (all). Every call then needs `Authorization: Bearer <token>`
    /// (gRPC health checks excepted). See `vellum token`.
    #[arg(long, value_name = "FILE", help_heading = "TLS and access")]
    auth: Option<PathBuf>,

    /// PEM certificate(s) of the CA that client certificates must chain to
    /// (mTLS). Clients without a certificate may still use tokens; a
    /// certificate gets roles from a `cert-sha256:<hex>` line of --auth.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        help_heading = "TLS and access"
    )]
    tls_client_ca: Option<PathBuf>,

    /// Close a connection with no traffic either way for this long.
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "TLS and access")]
    idle_timeout: Option<Duration>,
}

impl TlsAccess {
    fn overlay(&self, c: &mut ServeConfig) {
        set_some(&mut c.tls.cert, &self.tls_cert);
        set_some(&mut c.tls.key, &self.tls_key);
        set_some(&mut c.tls.client_ca, &self.tls_client_ca);
        set_some(&mut c.auth.tokens, &self.auth);
        set(&mut c.limits.idle_timeout, self.idle_timeout);
    }
}

impl Flags {
    /// The effective configuration: the `--config` file, the environment
    /// over it, these flags over both.
    pub(crate) fn config(&self) -> anyhow::Result<ServeConfig> {
        let mut c = ServeConfig::load(self.config.as_deref(), |var| std::env::var(var).ok())?;
        self.overlay(&mut c);
        Ok(c)
    }

    /// The server options these flags (and the file and environment under
    /// them) describe.
    pub(crate) fn options(&self) -> anyhow::Result<ServeOptions> {
        Ok(self.config()?.to_options()?)
    }

    /// Writes the flags that were given over `c`.
    fn overlay(&self, c: &mut ServeConfig) {
        set(&mut c.data, self.data.clone());
        set(&mut c.listen.grpc, self.listen);
        set_some(&mut c.origin, &self.origin);
        set_some(&mut c.key, &self.key);
        set_some(&mut c.signer_state, &self.signer_state);
        c.listen.insecure_remote |= self.insecure_remote;
        set_some(&mut c.log.signer.remote, &self.signer);
        if let Some(vkey) = &self.vkey {
            c.log.signer.vkey = Some(vkey.to_string());
        }
        set_some(&mut c.log.witnesses.policy, &self.witness_policy);
        c.log.witnesses.require_quorum |= self.require_witness_quorum;
        set(&mut c.log.witnesses.timeout, self.witness_timeout);
        set_some(&mut c.listen.http, &self.http);
        set_some(&mut c.log.export.folder, &self.export);
        set(&mut c.log.export.interval, self.export_interval);
        let log = &mut c.log;
        set(&mut log.kind, self.log_kind);
        set(&mut log.pool.max_entries, self.pool_max_entries);
        set(&mut log.pool.max_delay, self.pool_max_delay);
        set(&mut log.queue.max_entries, self.queue_max_entries);
        set(&mut log.queue.max_bytes, self.queue_max_bytes);
        set(&mut log.queue.max_delay, self.max_queue_delay);
        set(&mut log.checkpoint.interval, self.checkpoint_interval);
        set(
            &mut log.append.max_entries_per_call,
            self.max_entries_per_call,
        );
        set(&mut log.append.max_entry_size, self.max_entry_size);
        let l = &mut c.limits;
        set(&mut l.max_message_bytes, self.max_message_bytes);
        set(&mut l.max_concurrent_streams, self.max_concurrent_streams);
        set(&mut l.max_connections, self.max_connections);
        set(&mut l.request_timeout, self.request_timeout);
        set(&mut l.stream_idle_timeout, self.stream_idle_timeout);
        set(&mut l.stream_max_in_flight, self.stream_max_in_flight);
        let audit_rate = self.self_audit_entries_per_second;
        set(&mut c.self_audit.entries_per_second, audit_rate);
        self.tls_access.overlay(c);
        self.peers.overlay(c);
    }
}

/// Writes a flag's value over a setting, if the flag was given.
pub(crate) fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// Writes an optional flag's value over an optional setting, if given.
pub(crate) fn set_some<T: Clone>(field: &mut Option<T>, value: &Option<T>) {
    if value.is_some() {
        field.clone_from(value);
    }
}

/// Runs `vellum serve`.
pub fn run(args: Args) -> CmdResult {
    let format = args.log.log_format;
    crate::daemon::run("vellum", format, |stop, hup| serve(args, stop, hup))
}

async fn serve(args: Args, stop: crate::daemon::Stop, mut hup: crate::daemon::Hangup) -> CmdResult {
    let opts = args.flags.options()?;
    let running = vellum_server::start(opts.clone()).await?;
    banner(&running, &opts);
    // SIGHUP: tokens and TLS read again and swapped in (logged by the
    // reloader); the files are small, read off the async threads.
    let reloader = running.reloader.clone();
    tokio::spawn(async move {
        loop {
            hup.recv().await;
            tracing::info!("SIGHUP: reloading the token file and the TLS files");
            let r = reloader.clone();
            let _ = tokio::task::spawn_blocking(move || r.reload_and_log()).await;
        }
    });
    // What `vellum doctor` would say, once the log is up (the listeners'
    // safety was already enforced by start: not repeated here).
    for f in vellum_server::doctor::doctor(&opts) {
        if f.severity != vellum_server::doctor::Severity::Ok && f.check != "listeners" {
            tracing::warn!(check = f.check, "{}", f.message);
        }
    }
    let stop = async move {
        let name = stop.await;
        tracing::info!(
            signal = name,
            "stopping: no new appends; sequencing and signing what was queued"
        );
    };
    running
        .run_until(stop)
        .await
        .map_err(|e| anyhow::Error::new(e).context("the log stopped on an error (restart it)"))?;
    if crate::daemon::json() {
        tracing::info!("stopped cleanly");
    } else {
        eprintln!("vellum: stopped cleanly");
    }
    Ok(())
}

/// What an operator (or a test) needs to reach and trust the log.
fn banner(running: &Running, opts: &ServeOptions) {
    if crate::daemon::json() {
        return banner_json(running, opts);
    }
    let data = std::path::absolute(&opts.data).unwrap_or_else(|_| opts.data.clone());
    let key = opts.key.clone().unwrap_or_else(|| data.join("log.key"));
    let key_note = if running.new_key {
        "created now: keep it secret, back it up"
    } else {
        "existing"
    };
    eprintln!("vellum: serving log {}", running.origin);
    eprintln!(
        "  vkey:  {} (also in {})",
        running.vkey,
        data.join("log.vkey").display()
    );
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    eprintln!("  gRPC:  {scheme}://{}", running.grpc_addr);
    if let Some(http) = running.http_addr {
        eprintln!("  tiles: {scheme}://{http}/ (checkpoint, tile/...)");
    }
    if let Some(tls) = running.reloader.tls_summary() {
        eprintln!("  tls:   {tls}");
    }
    if let Some(access) = &opts.access {
        eprintln!("  auth:  {} bearer token(s)", access.len());
    }
    if let Some(export) = &opts.export {
        eprintln!("  export: {}", export.out.display());
    }
    if let Some(signer) = &opts.signer {
        eprintln!("  signer: {signer}");
    }
    eprintln!("  data:  {}", data.display());
    if opts.signer.is_none() {
        eprintln!("  key:   {} ({key_note})", key.display());
        let layout = vellum_server::embedded::Layout {
            data: opts.data.clone(),
            signer_state: opts.signer_state.clone(),
        };
        eprintln!("  signer memory: {}", layout.signer().display());
    }
    for l in &running.logs {
        let layout = opts.layout_of(&l.name);
        let new = if l.new_key { ", key created now" } else { "" };
        eprintln!(
            "  log {}: {} ({}{new}) vkey {} data {}",
            l.name,
            l.origin,
            opts.logs
                .iter()
                .find(|n| n.name == l.name)
                .map_or("raw".into(), |n| n.kind.to_string()),
            l.vkey,
            layout.data.display()
        );
        if let Some(http) = running.http_addr {
            eprintln!("    tiles: {scheme}://{http}/logs/{}/", l.name);
        }
    }
    eprintln!("  stop:  Ctrl-C or SIGTERM (SIGHUP reloads tokens and TLS)");
}

/// The banner as log events (`--log-format json`): one `serving` event
/// with the default log's fields, and one per other log.
fn banner_json(running: &Running, opts: &ServeOptions) {
    let data = std::path::absolute(&opts.data).unwrap_or_else(|_| opts.data.clone());
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let grpc = format!("{scheme}://{}", running.grpc_addr);
    let tiles = running.http_addr.map(|a| format!("{scheme}://{a}/"));
    let key = opts.signer.is_none().then(|| {
        opts.key
            .clone()
            .unwrap_or_else(|| data.join("log.key"))
            .display()
            .to_string()
    });
    tracing::info!(
        origin = %running.origin,
        vkey = %running.vkey,
        grpc,
        tiles,
        tls = running.reloader.tls_summary().map(|t| t.to_string()),
        tokens = opts.access.as_ref().map(|a| a.len()),
        export = opts.export.as_ref().map(|e| e.out.display().to_string()),
        signer = opts.signer.as_ref().map(ToString::to_string),
        data = %data.display(),
        key,
        new_key = running.new_key,
        "serving"
    );
    for l in &running.logs {
        tracing::info!(
            log = %l.name,
            origin = %l.origin,
            vkey = %l.vkey,
            new_key = l.new_key,
            data = %opts.layout_of(&l.name).data.display(),
            tiles = running.http_addr.map(|a| format!("{scheme}://{a}/logs/{}/", l.name)),
            "serving log"
        );
    }
}

/// A duration with its unit: `500us`, `2ms`, `10s`, `5m` (the
/// configuration's parser). Used as a clap `value_parser`, so a bad one is
/// a usage error naming the flag.
pub(crate) fn duration(arg: &str) -> Result<Duration, String> {
    vellum_server::config::duration::parse(arg)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        flags: Flags,
    }

    fn flags(args: &[&str]) -> Flags {
        Cli::try_parse_from(std::iter::once("vellum").chain(args.iter().copied()))
            .unwrap()
            .flags
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(duration("2ms").unwrap(), Duration::from_millis(2));
        assert!(duration("10").is_err());
    }

    #[test]
    fn no_flag_keeps_the_configuration() {
        let mut c = ServeConfig::every_key();
        c.listen.insecure_remote = true;
        let before = c.clone();
        flags(&[]).overlay(&mut c);
        assert_eq!(c, before);
    }

    #[test]
    fn a_flag_overrides_the_configuration() {
        let mut c = ServeConfig::every_key();
        flags(&[
            "--data",
            "d",
            "--listen",
            "127.0.0.1:0",
            "--max-connections",
            "3",
            "--max-queue-delay",
            "0s",
            "--idle-timeout",
            "7s",
            "--auth",
            "t",
            "--require-witness-quorum",
            "--export-interval",
            "2m",
            "--checkpoint-interval",
            "250ms",
        ])
        .overlay(&mut c);
        assert_eq!(c.data, PathBuf::from("d"));
        assert_eq!(c.listen.grpc.port(), 0);
        assert_eq!(c.limits.max_connections, 3);
        assert_eq!(c.log.queue.max_delay, Duration::ZERO);
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(7));
        assert_eq!(c.auth.tokens, Some(PathBuf::from("t")));
        assert!(c.log.witnesses.require_quorum);
        assert_eq!(c.log.export.interval, Duration::from_secs(120));
        assert_eq!(c.log.checkpoint.interval, Duration::from_millis(250));
        // What no flag named stays as configured.
        assert_eq!(c.origin, ServeConfig::every_key().origin);
    }

    #[test]
    fn no_flags_no_file_is_the_old_default() {
        let o = flags(&[]).config().unwrap();
        // The environment of a test run sets no VELLUM_ key of the config;
        // if it did, this would say so rather than pass by accident.
        for key in ServeConfig::keys() {
            let var = ServeConfig::env_var(&key);
            assert!(std::env::var_os(&var).is_none(), "{var} is set");
        }
        assert_eq!(o, ServeConfig::default());
        assert_eq!(o.data, PathBuf::from("vellum-data"));
        assert_eq!(o.listen.grpc.to_string(), "127.0.0.1:6962");
    }
}
