//! The one set-up of the long-running commands (`vellum serve`, `vellum
//! signer`, `vellum witness`): tracing to stderr, a multi-threaded tokio
//! runtime with named threads, and SIGTERM/SIGINT handlers installed before
//! the command's body runs, so that a signal sent right after the banner
//! stops the process cleanly instead of killing it.

use std::future::Future;
use std::pin::Pin;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::exit::CmdResult;

/// Resolves when the process is asked to stop, with the signal's name
/// (`SIGTERM` or `SIGINT`) for the log line that says so.
pub(crate) type Stop = Pin<Box<dyn Future<Output = &'static str> + Send>>;

/// Runs `body` on a new runtime whose threads are named `thread_name`,
/// after tracing is set up and the signal handlers are installed; `body`
/// gets the [`Stop`] future.
///
/// # Errors
///
/// The runtime or a signal handler cannot be set up, or `body`'s error.
pub(crate) fn run<F, Fut>(thread_name: &str, body: F) -> CmdResult
where
    F: FnOnce(Stop) -> Fut,
    Fut: Future<Output = CmdResult>,
{
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(thread_name)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let stop: Stop = Box::pin(async move {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        });
        body(stop).await
    })
}

/// Logs to stderr, filtered by `VELLUM_LOG` (default `info`). Colours only
/// on a terminal: a log file or a journal gets plain text.
pub(crate) fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("VELLUM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (never in this binary) would only be ignored.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
