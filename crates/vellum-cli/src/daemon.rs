//! The one set-up of the long-running commands (`vellum serve`, `vellum
//! signer`, `vellum witness`): tracing to stderr (text for people, or one
//! JSON object per line for machines, `--log-format`), a multi-threaded
//! tokio runtime with named threads, and signal handlers installed before
//! the command's body runs, so that a signal sent right after the banner is
//! handled instead of killing the process: SIGTERM and SIGINT stop it
//! cleanly, SIGHUP asks it to reload (`vellum serve`: tokens and TLS; the
//! others have nothing to reload and say so).

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::exit::{CmdResult, Failure};

/// Resolves when the process is asked to stop, with the signal's name
/// (`SIGTERM` or `SIGINT`) for the log line that says so.
pub(crate) type Stop = Pin<Box<dyn Future<Output = &'static str> + Send>>;

/// SIGHUPs, as they arrive.
#[derive(Debug)]
pub(crate) struct Hangup(Signal);

impl Hangup {
    /// Waits for the next SIGHUP.
    pub(crate) async fn recv(&mut self) {
        self.0.recv().await;
    }

    /// Answers every SIGHUP with a line saying that `what` reads its
    /// settings at start only (instead of the default action, which would
    /// end the process).
    pub(crate) fn nothing_to_reload(mut self, what: &'static str) {
        tokio::spawn(async move {
            loop {
                self.recv().await;
                tracing::info!(
                    "SIGHUP: nothing to reload: {what} reads its settings at start only"
                );
            }
        });
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One line of text per event; colours only on a terminal.
    #[default]
    Text,
    /// One JSON object per event and line (`timestamp`, `level`, `target`,
    /// `message` and the event's fields, `span` when inside one).
    Json,
}

/// The logging flags of the long-running commands.
#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    /// How log lines are written to stderr: `text` for people, `json` for
    /// log collectors (one JSON object per line; the banner is one object
    /// with message "serving" and its fields). What is logged is chosen by
    /// VELLUM_LOG (a tracing filter, default info).
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        env = "VELLUM_LOG_FORMAT",
        default_value_t = LogFormat::Text,
        help_heading = "Logging"
    )]
    pub(crate) log_format: LogFormat,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Whether log lines (and so the banner) are JSON.
pub(crate) fn json() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

/// Runs `body` on a new runtime whose threads are named `thread_name`,
/// after tracing is set up in `format` and the signal handlers are
/// installed; `body` gets the [`Stop`] future and the [`Hangup`]s.
///
/// # Errors
///
/// The runtime or a signal handler cannot be set up, or `body`'s error
/// (with JSON logs, also logged as an `error` event: the `error:` line that
/// follows is the command's exit report).
pub(crate) fn run<F, Fut>(thread_name: &str, format: LogFormat, body: F) -> CmdResult
where
    F: FnOnce(Stop, Hangup) -> Fut,
    Fut: Future<Output = CmdResult>,
{
    init_tracing_in(format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(thread_name)
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let stop: Stop = Box::pin(async move {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        });
        body(stop, Hangup(hup)).await
    });
    if let Err(Failure::Rejected(e) | Failure::Trouble(e)) = &result
        && json()
    {
        tracing::error!(error = one_line(e), "stopped on an error");
    }
    result
}

/// The error and its causes as `outer: inner`, a cause whose text is
/// already shown left out (as the `error:` line has them).
fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out = format!("{out}: {text}");
        }
    }
    out
}

/// Logs to stderr as text (see [`init_tracing_in`]).
pub(crate) fn init_tracing() {
    init_tracing_in(LogFormat::Text);
}

/// Logs to stderr in `format`, filtered by `VELLUM_LOG` (default `info`).
/// Text has colours only on a terminal: a log file or a journal gets plain
/// text.
pub(crate) fn init_tracing_in(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("VELLUM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = FORMAT.set(format);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (never in this binary) would only be ignored.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn the_log_format_is_text_unless_asked() {
        // The test process's environment sets no VELLUM_LOG_FORMAT; if it
        // did, this would say so rather than pass by accident.
        assert!(std::env::var_os("VELLUM_LOG_FORMAT").is_none());
        let parse = |a: &[&str]| Cli::try_parse_from(std::iter::once("x").chain(a.iter().copied()));
        assert_eq!(parse(&[]).unwrap().log.log_format, LogFormat::Text);
        assert_eq!(
            parse(&["--log-format", "json"]).unwrap().log.log_format,
            LogFormat::Json
        );
        assert!(parse(&["--log-format", "xml"]).is_err());
    }
}
