//! `vellum token`: a new bearer token for a server's `--auth` file.
//!
//! The token (32 random bytes, base64url) goes to a new file with mode
//! 0600, never overwritten; the line for the token file, which holds only
//! the token's SHA-256, goes to stdout, so that
//! `vellum token --name ingest --roles append --out ingest.token >> tokens`
//! does both.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use base64::Engine;
use vellum_server::access::{AccessPolicy, token_hash_hex};
use vellum_witness::WitnessTokens;

use crate::exit::CmdResult;

const TOKEN_EXIT_HELP: &str = "\
Exit status:
  0  the token file was written and the line printed
  2  invalid name or roles, the token file already exists, or it could not be written";

/// Arguments of `vellum token`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Make a bearer token: token to a file, its --auth line to stdout",
    long_about = "Make a new bearer token for `vellum serve --auth FILE`.\n\n\
        The token is written to --out, a new file with mode 0600 (give it to the \
        client: --token-file, or the VELLUM_TOKEN variable). The line to add to the \
        server's token file, `<roles> <sha256-hex of the token> <name>`, is printed \
        on stdout; the server never stores the token itself.\n\n\
        Roles: append (Append, AppendStream), read (checkpoints, proofs, entries \
        over gRPC), audit (read, and the tlog-tiles HTTP API), admin (everything). \
        A role holds on every log of the server; written role@NAME (e.g. \
        append@tenant-a) it holds on the log NAME only (a server may hold several \
        logs: [[logs]] in its configuration). \
        No role can change or delete an entry: no such call exists.\n\n\
        With --witness, the token is for a witness (`vellum witness --auth FILE`): the \
        line is `<sha256-hex of the token> <name>`, and the log presents the token with \
        `vellum serve --witness-credentials` (a `<witness name> <token>` line).",
    after_help = TOKEN_EXIT_HELP,
)]
pub struct Args {
    /// The token's name, shown in the server's logs (no white space).
    #[arg(long, value_name = "NAME")]
    name: String,

    /// Comma-separated roles: append, read, audit, admin; role@LOG for one
    /// log only (e.g. append@tenant-a,read@tenant-a).
    #[arg(long, value_name = "ROLES", required_unless_present = "witness")]
    roles: Option<String>,

    /// A token for a witness's --auth file instead (no roles: the line is
    /// `<sha256-hex of the token> <name>`); the log sends it with
    /// `vellum serve --witness-credentials`.
    #[arg(long, conflicts_with = "roles")]
    witness: bool,

    /// Where to write the token (a new file, mode 0600).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Runs `vellum token`.
pub fn run(args: Args) -> CmdResult {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("no randomness for a token: {e}"))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    // The server's (or the witness's) own parser decides what a valid line is.
    let line = match &args.roles {
        Some(roles) => {
            let line = format!("{roles} {} {}", token_hash_hex(&token), args.name);
            AccessPolicy::parse(&line).map_err(|e| anyhow!("--roles or --name: {e}"))?;
            line
        }
        None => {
            let line = format!("{} {}", token_hash_hex(&token), args.name);
            WitnessTokens::parse(&line).map_err(|e| anyhow!("--name: {e}"))?;
            line
        }
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    f.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("{line}");
    eprintln!(
        "token written to {}; add the line above to the {}'s --auth file",
        args.out.display(),
        if args.witness { "witness" } else { "server" }
    );
    Ok(())
}
