//! Several logs in one `vellum serve`, declared in its configuration file
//! and reached with `--log NAME`: `vellum record` and `vellum history`
//! work on a named events log with that log's key, the default log keeps
//! taking raw appends, a token of one log is refused on another, and the
//! banner names every log (and a piped log has no colour escapes).

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;

use tempfile::TempDir;
use vellum_event::Recorded;
use vellum_testkit::process::{Server, assert_fails, stderr, stdout, vellum};

fn config(dir: &Path, tokens: Option<&Path>) -> std::path::PathBuf {
    let auth = tokens
        .map(|t| format!("[auth]\ntokens = {:?}\n", t.to_str().unwrap()))
        .unwrap_or_default();
    let text = format!(
        "data = {:?}\n{auth}\n[[logs]]\nname = \"tenant-a\"\nkind = \"events\"\norigin = \"example.com/tenant-a\"\n\n[[logs]]\nname = \"tenant-b\"\nkind = \"events\"\n",
        dir.join("data").to_str().unwrap()
    );
    let path = dir.join("vellum.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Exit 0; what it printed.
#[track_caller]
fn ok(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    stdout(out)
}

fn record(server: &Server, log: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "record",
        "--log",
        log,
        "--actor",
        "alice",
        "--action",
        "document.update",
        "--resource",
        "document/doc-1",
    ];
    args.extend_from_slice(extra);
    server.run(&args)
}

#[test]
fn record_and_history_on_a_named_log() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let cfg = config(d, None);
    let server = Server::start_ok(&d.join("data"), &["--config", cfg.to_str().unwrap()]);
    let banner = &server.banner;
    assert!(
        banner.contains("log tenant-a: example.com/tenant-a"),
        "{banner}"
    );
    assert!(banner.contains("log tenant-b:"), "{banner}");
    let vkey_a = format!("@{}", d.join("data/logs/tenant-a/log.vkey").display());
    let vkey_b = format!("@{}", d.join("data/logs/tenant-b/log.vkey").display());

    for n in 0..3 {
        let payload = format!(r#"{{"n":{n}}}"#);
        let text = ok(&record(&server, "tenant-a", &["--payload", &payload]));
        assert!(text.starts_with(&format!("{n}\n")), "{text}");
        let json = text.lines().nth(1).unwrap();
        assert!(Recorded::parse(json.as_bytes()).is_ok());
    }
    // The default log is raw, as ever.
    let raw = d.join("raw.bin");
    std::fs::write(&raw, b"a raw entry").unwrap();
    assert_eq!(ok(&server.run(&["append", raw.to_str().unwrap()])), "0\n");

    let history = |log: &str, vkey: &str| {
        server.run(&[
            "history",
            "--log",
            log,
            "--resource",
            "document/doc-1",
            "--vkey",
            vkey,
            "--json",
        ])
    };
    let text = ok(&history("tenant-a", &vkey_a));
    assert_eq!(text.lines().count(), 3, "{text}");
    // b holds nothing of a's.
    assert_eq!(ok(&history("tenant-b", &vkey_b)), "");
    // a's answers checked against b's key: refused (exit 1).
    assert_fails(
        &history("tenant-a", &vkey_b),
        1,
        &["checkpoint", "signature", "key"],
    );
    // A log the server does not hold.
    let out = record(&server, "tenant-c", &[]);
    assert_fails(&out, 2, &["tenant-c"]);
    assert!(
        stderr(&out).contains("tenant-a, tenant-b"),
        "{}",
        stderr(&out)
    );

    // stderr is a pipe here: its log lines carry no colour escapes.
    let (status, rest) = server.terminate();
    assert!(status.success(), "{rest}");
    assert!(
        rest.contains(" WARN "),
        "no log line after the banner: {rest}"
    );
    assert!(
        !rest.contains('\x1b'),
        "colour escapes in a piped log: {rest:?}"
    );
}

#[test]
fn a_token_of_one_log_cannot_record_on_another() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let tokens = d.join("tokens");
    let token_a = d.join("a.token");
    let out = vellum([
        "token".as_ref(),
        "--name".as_ref(),
        "ingest-a".as_ref(),
        "--roles".as_ref(),
        "append@tenant-a,read@tenant-a".as_ref(),
        "--out".as_ref(),
        token_a.as_os_str(),
    ]);
    std::fs::write(&tokens, ok(&out)).unwrap();
    let cfg = config(d, Some(&tokens));
    let server = Server::start_ok(&d.join("data"), &["--config", cfg.to_str().unwrap()]);
    let with_token = ["--token-file", token_a.to_str().unwrap()];
    let text = ok(&record(&server, "tenant-a", &with_token));
    let json = text.lines().nth(1).unwrap().to_owned();
    assert_eq!(
        Recorded::parse(json.as_bytes())
            .unwrap()
            .attested()
            .submitter,
        "ingest-a"
    );
    let out = record(&server, "tenant-b", &with_token);
    assert_fails(&out, 2, &["tenant-b", "append"]);
}
