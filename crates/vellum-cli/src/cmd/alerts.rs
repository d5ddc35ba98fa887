//! `vellum alerts`: the alerts a server recorded about itself, proven.

use std::io::Write;
use std::time::Duration;

use anyhow::anyhow;
use vellum_client::{Client, ClientError, StatusCode, StreamedAlert};
use vellum_event::Recorded;

use crate::exit::{CmdResult, Failure};
use crate::remote::{self, RemoteArgs};

const ALERTS_EXIT_HELP: &str = "\
Exit status:
  0  the alerts were listed (and, with --vkey or --policy, every one proven)
  1  an alert does not verify: its inclusion proof fails, or it is not the
     entry at its index
  2  usage error, no server, a server that records no alerts, or a broken
     stream";

/// How long an alert may wait for a checkpoint that covers it.
const PROOF_WAIT: Duration = Duration::from_secs(60);

/// Arguments of `vellum alerts`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Show the alerts the log recorded about itself (anomalies, integrity signals)",
    long_about = "Show the alerts a server raised (docs/GUARD.md): each one is an audit event \
        in the server's alerts log (action vellum.alert.<kind>, submitter \"vellum\"), so an \
        alert cannot be deleted or hidden without rewriting the log. Lists the alerts recorded \
        from --from on, oldest first; with --follow, stays and prints each new alert as it is \
        recorded. With --vkey or --policy (the alerts log's key), each alert is proven: its \
        inclusion proof against a checkpoint the trust accepts, at the index it was listed at.",
    after_help = ALERTS_EXIT_HELP,
)]
pub struct Args {
    #[command(flatten)]
    remote: RemoteArgs,

    /// The first index of the alerts log to list from.
    #[arg(long, value_name = "INDEX", default_value_t = 0)]
    from: u64,

    /// Keep listening and print new alerts as they are recorded.
    #[arg(long)]
    follow: bool,

    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `vellum alerts`.
pub fn run(args: Args) -> CmdResult {
    let trust = args.remote.trust()?;
    remote::runtime()?.block_on(async {
        let raw = args.remote.connect_unverified().await?;
        let mut stream = raw
            .watch_alerts(args.from, args.follow)
            .await
            .map_err(remote::failure)?;
        if trust.is_none() {
            eprintln!("vellum: not verified: give --vkey or --policy to prove each alert");
        }
        // A verifying client for the alerts log, made at the first alert.
        let mut prover: Option<Client> = None;
        let mut out = std::io::stdout().lock();
        let mut n = 0u64;
        while let Some(a) = stream.next().await.map_err(remote::failure)? {
            let verified = match &trust {
                None => false,
                Some(t) => {
                    if prover.is_none() {
                        let mut opts = args.remote.options()?;
                        opts.log = Some(a.log.clone());
                        prover = Some(
                            Client::connect_with(&args.remote.server, t.clone(), &opts)
                                .await
                                .map_err(remote::failure)?,
                        );
                    }
                    let Some(p) = &prover else { unreachable!() };
                    prove(p, &a).await?;
                    true
                }
            };
            let line = if args.json {
                json_line(&a, verified)
            } else {
                text_line(&a, verified)
            };
            out.write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Failure::Trouble(anyhow!("cannot write to stdout: {e}")))?;
            n += 1;
        }
        eprintln!("vellum: {n} alert(s)");
        Ok(())
    })
}

/// Proves that the alerts log holds `a` at its index, waiting for a
/// checkpoint that covers it.
async fn prove(client: &Client, a: &StreamedAlert) -> CmdResult {
    let deadline = tokio::time::Instant::now() + PROOF_WAIT;
    loop {
        match client.prove_entry(&a.recorded).await {
            Ok(p) if p.index().get() == a.index => return Ok(()),
            Ok(p) => {
                return Err(Failure::rejected(anyhow!(
                    "alert {} ({}) is entry {} of the log, not {}",
                    a.index,
                    a.kind,
                    p.index(),
                    a.index
                )));
            }
            Err(ClientError::Status { code, .. })
                if code == StatusCode::NotFound && tokio::time::Instant::now() < deadline =>
            {
                // Durable, not yet in a checkpoint.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e @ (ClientError::BadProof { .. } | ClientError::BadCheckpoint { .. })) => {
                return Err(Failure::rejected(anyhow!("alert {}: {e}", a.index)));
            }
            Err(e) => return Err(remote::failure(e)),
        }
    }
}

fn json_line(a: &StreamedAlert, verified: bool) -> String {
    // The stored bytes are canonical JSON already: embedded as they are.
    format!(
        "{{\"index\":{},\"kind\":{},\"log\":{},\"verified\":{verified},\"event\":{}}}\n",
        a.index,
        serde_json::Value::from(a.kind.as_str()),
        serde_json::Value::from(a.log.as_str()),
        String::from_utf8_lossy(&a.recorded)
    )
}

fn text_line(a: &StreamedAlert, verified: bool) -> String {
    let (time, subject, evidence) = match Recorded::parse(&a.recorded) {
        Ok(r) => {
            let payload = r.event().payload();
            let field = |k: &str| payload.and_then(|p| p.get(k)).cloned();
            (
                r.attested().received_at.to_string(),
                field("subject")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                field("evidence").map(|v| v.to_string()).unwrap_or_default(),
            )
        }
        Err(e) => (String::new(), String::new(), format!("(unreadable: {e})")),
    };
    let mark = if verified { "proven" } else { "unverified" };
    format!(
        "{:>8}  {time}  {:<24} {subject:<20} {mark:<10} {evidence}\n",
        a.index, a.kind
    )
}
