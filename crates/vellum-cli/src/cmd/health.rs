//! `vellum health`: is a log, a signer or a witness up and answering? One
//! call to its listener, exit 0 or 1: what a container's health check
//! (docker-compose.yml) or a script needs, with no key and no token.
//!
//! Wiring only: the log's gRPC health service (tonic-health, served by
//! `vellum-server`), the signer's `GetSignerState` through the log's own
//! client of it, and the witness's `GET /health`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use vellum_server::grpc::signer::{RemoteSigner, SignerAddr, SignerClientTls};

use crate::cmd::serve::duration;
use crate::exit::{CmdResult, Failure};

const HEALTH_EXIT_HELP: &str = "\
Exit status:
  0  it answered and is serving: one line on stdout says what answered
  1  it did not answer in time, refused the connection, or answered that it
     is not serving (a log that stopped on an error)
  2  usage error (a malformed address, an unreadable --ca)";

/// The gRPC service whose health a log reports (the log's own, not the
/// server's overall status: a log that stopped on an error is NOT_SERVING
/// while its listener still answers).
const LOG_SERVICE: &str = "vellum.v1.Log";

/// Which process answers at the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    /// `vellum serve`: the gRPC health service (grpc.health.v1).
    Log,
    /// `vellum signer`: its state (vellum.v1.Signer/GetSignerState).
    Signer,
    /// `vellum witness`: `GET /health`.
    Witness,
}

/// Arguments of `vellum health`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Check that a log, signer or witness is up and answering (for health checks)",
    long_about = "Check that a log, signer or witness is up and answering: one call, exit 0 \
        or 1, no key or token needed (for container health checks and scripts).\n\n\
        log ADDR: the gRPC health service of `vellum serve` at ADDR (http://HOST:PORT, or \
        https:// with --ca for a private CA); serving means the log is running, not \
        stopped on an error.\n\
        signer ADDR: `vellum signer` at ADDR (unix:/path/to/socket, http://HOST:PORT, or \
        https://HOST:PORT with --ca, and --cert/--key for a signer that wants a client \
        certificate) answers with its public key.\n\
        witness ADDR: `vellum witness` at ADDR (http://HOST:PORT, or https:// with --ca) \
        answers GET /health (no token needed).",
    after_help = HEALTH_EXIT_HELP,
)]
pub struct Args {
    /// What should answer at ADDR.
    #[arg(value_enum)]
    role: Role,

    /// Where it listens (see above).
    #[arg(value_name = "ADDR")]
    addr: String,

    /// PEM certificate of the CA that an https:// log's, signer's or
    /// witness's certificate must chain to (a private CA); default: the
    /// public web PKI roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,

    /// PEM client certificate to present to an https:// signer (mutual
    /// TLS). Needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,

    /// PEM private key of --cert; mode 0600.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,

    /// How long to wait for the answer.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5s")]
    timeout: Duration,
}

/// Runs `vellum health`.
pub fn run(args: Args) -> CmdResult {
    let ca = match &args.ca {
        Some(f) => {
            Some(std::fs::read(f).with_context(|| format!("cannot read --ca {}", f.display()))?)
        }
        None => None,
    };
    if ca.is_some() && !args.addr.starts_with("https://") {
        return Err(anyhow!("--ca is for an https:// address").into());
    }
    if args.cert.is_some() && !(args.role == Role::Signer && args.addr.starts_with("https://")) {
        return Err(anyhow!("--cert and --key are for a signer at an https:// address").into());
    }
    let signer_tls = SignerClientTls {
        ca: args.ca.clone(),
        cert: args.cert.clone(),
        key: args.key.clone(),
    };
    let runtime = crate::remote::runtime()?;
    let answer = runtime.block_on(async {
        let check = async {
            match args.role {
                Role::Log => log(&args.addr, ca).await,
                Role::Signer => signer(&args.addr, &signer_tls).await,
                Role::Witness => witness(&args.addr, ca, args.timeout).await,
            }
        };
        match tokio::time::timeout(args.timeout, check).await {
            Ok(r) => r,
            Err(_) => Err(Check::Down(anyhow!(
                "no answer from {} within {:?}",
                args.addr,
                args.timeout
            ))),
        }
    });
    match answer {
        Ok(what) => {
            println!("ok: {what}");
            Ok(())
        }
        Err(Check::Usage(e)) => Err(Failure::from(e)),
        Err(Check::Down(e)) => Err(Failure::rejected(e)),
    }
}

/// Why a check did not pass: the address cannot be used (exit 2), or the
/// process is not healthy (exit 1).
enum Check {
    Usage(anyhow::Error),
    Down(anyhow::Error),
}

async fn log(addr: &str, ca: Option<Vec<u8>>) -> Result<String, Check> {
    let usage = |e: &dyn std::fmt::Display| Check::Usage(anyhow!("log address {addr}: {e}"));
    if !addr.starts_with("http://") && !addr.starts_with("https://") {
        return Err(usage(&"expected http://HOST:PORT or https://HOST:PORT"));
    }
    let mut endpoint = Endpoint::from_shared(addr.to_owned()).map_err(|e| usage(&e))?;
    if addr.starts_with("https://") {
        let tls = match ca {
            Some(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
            None => ClientTlsConfig::new().with_webpki_roots(),
        };
        endpoint = endpoint.tls_config(tls).map_err(|e| usage(&e))?;
    }
    let channel = endpoint.connect().await.map_err(|e| {
        Check::Down(anyhow!(
            "cannot connect to the log at {addr}: {}",
            chain(&e)
        ))
    })?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: LOG_SERVICE.into(),
        })
        .await
        .map_err(|s| Check::Down(anyhow!("the log at {addr}: {}", s.message())))?
        .into_inner()
        .status;
    if status == ServingStatus::Serving as i32 {
        Ok(format!("log at {addr} is serving"))
    } else {
        let name = ServingStatus::try_from(status)
            .map(|s| s.as_str_name())
            .unwrap_or("an unknown status");
        Err(Check::Down(anyhow!("the log at {addr} is {name}")))
    }
}

async fn signer(addr: &str, tls: &SignerClientTls) -> Result<String, Check> {
    let parsed: SignerAddr = addr.parse().map_err(|e: String| Check::Usage(anyhow!(e)))?;
    let client = RemoteSigner::new(parsed, tls).map_err(|e| Check::Usage(anyhow!(e)))?;
    let vkey = client.vkey().await.map_err(|e| Check::Down(anyhow!(e)))?;
    Ok(format!("signer at {addr} holds the key of {}", vkey.name()))
}

async fn witness(addr: &str, ca: Option<Vec<u8>>, timeout: Duration) -> Result<String, Check> {
    if !addr.starts_with("http://") && !addr.starts_with("https://") {
        return Err(Check::Usage(anyhow!(
            "witness address {addr}: expected http://HOST:PORT or https://HOST:PORT"
        )));
    }
    let url = format!("{}/health", addr.trim_end_matches('/'));
    let mut builder = reqwest::Client::builder().timeout(timeout);
    if let Some(pem) = ca {
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Check::Usage(anyhow!("--ca: {e}")))?;
        builder = builder.tls_built_in_root_certs(false);
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    let client = builder
        .build()
        .map_err(|e| Check::Usage(anyhow!("cannot make an HTTP client: {e}")))?;
    let resp =
        client.get(&url).send().await.map_err(|e| {
            Check::Down(anyhow!("cannot reach the witness at {url}: {}", chain(&e)))
        })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Check::Down(anyhow!(
            "the witness at {url} answered {status}"
        )));
    }
    // The witness answers with its name on the first line.
    let body = resp.text().await.unwrap_or_default();
    let name = body.lines().next().unwrap_or_default();
    Ok(format!("witness {name} at {addr} is serving"))
}

/// An error and its causes on one line (transport errors hide the useful
/// part, e.g. "connection refused", in their sources).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    s
}
