//! `vellum serve` and the commands that talk to it, as processes: append,
//! prove, checkpoint, consistency, then `vellum verify` offline; a clean
//! stop on SIGTERM and a restart that keeps the entries.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use vellum_note::{SigType, SignerKey};
use vellum_testkit::process::{
    self, Server, assert_fails, assert_ok, line_reader, stderr, stdout, vellum, vellum_stdin,
};

/// `vellum serve` with no arguments but the data folder and a free port.
const NO_ARGS: &[&str] = &[];

/// `vellum keygen` for `origin` into `dir`/log.key; returns the key file
/// and the vkey.
fn keygen(dir: &TempDir, origin: &str) -> (PathBuf, String) {
    let key = dir.path().join("log.key");
    let out = vellum([
        "keygen".as_ref(),
        "--origin".as_ref(),
        origin.as_ref(),
        "--out".as_ref(),
        key.as_os_str(),
    ]);
    (key, assert_success(&out).trim().to_owned())
}

#[track_caller]
fn assert_success(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `vellum verify --vkey <vkey> --entry <entry> <proof>` says ok.
#[track_caller]
fn assert_verifies(vkey: &str, entry: &Path, proof: &Path) {
    let out = vellum([
        "verify".as_ref(),
        "--vkey".as_ref(),
        vkey.as_ref(),
        "--entry".as_ref(),
        entry.as_os_str(),
        proof.as_os_str(),
    ]);
    assert_ok(&out);
}

#[test]
fn serve_append_prove_verify_stop_and_restart() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_ok(&data, NO_ARGS);
    assert!(server.banner.contains("created now"), "{}", server.banner);
    let vkey_file = data.join("log.vkey");
    assert_eq!(
        std::fs::read_to_string(&vkey_file).unwrap().trim(),
        server.vkey
    );
    let vkey = server.vkey.clone();
    let vkey_at = format!("@{}", vkey_file.display());

    // Files, then stdin lines; a duplicate says so.
    let first = write(&dir, "first", b"user=alice action=login");
    assert_eq!(
        assert_success(&server.run(&[OsStr::new("append"), first.as_os_str()])),
        "0\n"
    );
    let out = vellum_stdin(["append", "--server", &server.url], b"line one\nline two\n");
    assert_eq!(assert_success(&out), "1\n2\n");
    let out = server.run(&[OsStr::new("append"), first.as_os_str()]);
    assert_eq!(assert_success(&out), "0 duplicate\n");
    let out = server.run(&["append", "-"]);
    assert_fails(&out, 2, &["nothing to append"]);
    // The server from the environment.
    let out = Command::new(process::bin())
        .args(["checkpoint", "--vkey", &server.vkey])
        .env("VELLUM_SERVER", &server.url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(assert_success(&out).starts_with("vellum.localhost/"));

    // A single entry with a checkpoint wait: stdout is its tlog-proof.
    let second = write(&dir, "second", b"user=bob action=delete resource=db");
    let out = server.run(&[
        "append".as_ref(),
        "--wait".as_ref(),
        "checkpoint".as_ref(),
        "--vkey".as_ref(),
        vkey_at.as_ref(),
        second.as_os_str(),
    ]);
    let proof = write(&dir, "second.tlog-proof", assert_success(&out).as_bytes());
    assert!(stdout(&out).starts_with("c2sp.org/tlog-proof@v1\nindex 3\n"));
    assert_verifies(&vkey, &second, &proof);

    // Several: proofs to a folder, indices on stdout.
    let third = write(&dir, "third", b"3");
    let fourth = write(&dir, "fourth", b"4");
    let proofs = dir.path().join("proofs");
    let out = server.run(&[
        "append".as_ref(),
        "--wait".as_ref(),
        "checkpoint".as_ref(),
        "--vkey".as_ref(),
        vkey.as_ref(),
        "--proof-dir".as_ref(),
        proofs.as_os_str(),
        third.as_os_str(),
        fourth.as_os_str(),
    ]);
    assert_eq!(assert_success(&out), "4\n5\n");
    assert_verifies(&vkey, &third, &proofs.join("4.tlog-proof"));
    assert_verifies(&vkey, &fourth, &proofs.join("5.tlog-proof"));
    // ...but not without the folder, nor unverified.
    let out = server.run(&[
        "append".as_ref(),
        "--wait".as_ref(),
        "checkpoint".as_ref(),
        "--vkey".as_ref(),
        vkey.as_ref(),
        third.as_os_str(),
        fourth.as_os_str(),
    ]);
    assert_fails(&out, 2, &["--proof-dir"]);
    let out = server.run(&["append", "--wait", "checkpoint", "-"]);
    assert_fails(&out, 2, &["--vkey"]);

    // prove, by index and by content; vellum verify accepts both.
    let out = server.run(&["prove", "--vkey", &vkey, "--index", "0"]);
    let by_index = write(&dir, "0.tlog-proof", assert_success(&out).as_bytes());
    assert_verifies(&vkey, &first, &by_index);
    let out = server.run(&[
        "prove".as_ref(),
        "--vkey".as_ref(),
        vkey_at.as_ref(),
        "--entry".as_ref(),
        fourth.as_os_str(),
    ]);
    let by_entry = write(&dir, "4.tlog-proof", assert_success(&out).as_bytes());
    assert_verifies(&vkey, &fourth, &by_entry);
    // Unverified, it is the same proof, with a warning.
    let out = server.run(&["prove", "--index", "0"]);
    assert_eq!(
        std::fs::read_to_string(&by_index).unwrap(),
        assert_success(&out)
    );
    assert!(stderr(&out).contains("NOT verified"), "{}", stderr(&out));
    let out = server.run(&["prove", "--vkey", &vkey, "--index", "99"]);
    assert_fails(&out, 2, &["NOT_FOUND"]);

    // checkpoint: verified with the key, refused with another.
    let out = server.run(&["checkpoint", "--vkey", &vkey]);
    let note = assert_success(&out);
    assert!(note.contains("\n6\n"), "{note}");
    assert!(stderr(&out).contains("verified"), "{}", stderr(&out));
    let saved = write(&dir, "checkpoint-6", note.as_bytes());
    let out = server.run(&["checkpoint"]);
    assert_eq!(assert_success(&out), note);
    assert!(stderr(&out).contains("NOT verified"));
    let origin = note.lines().next().unwrap();
    let impostor = SignerKey::generate(origin, SigType::Ed25519)
        .unwrap()
        .verifier();
    let out = server.run(&["checkpoint", "--vkey", &impostor.to_string()]);
    assert_fails(&out, 1, &["does not verify"]);

    // consistency: from a saved checkpoint (full check), from a size.
    let out = vellum_stdin(
        [
            "append",
            "--server",
            &server.url,
            "--wait",
            "checkpoint",
            "--vkey",
            &vkey,
            "--proof-dir",
        ]
        .into_iter()
        .chain([dir.path().join("more").to_str().unwrap(), "-"]),
        b"five\nsix\nseven\n",
    );
    assert_eq!(assert_success(&out), "6\n7\n8\n");
    let out = server.run(&[
        "consistency".as_ref(),
        "--vkey".as_ref(),
        vkey.as_ref(),
        "--from-checkpoint".as_ref(),
        saved.as_os_str(),
    ]);
    let hashes = assert_success(&out);
    assert!(
        !hashes.is_empty() && hashes.lines().all(|l| l.len() == 44),
        "{hashes}"
    );
    assert!(
        stderr(&out).contains("extends the tree of size 6"),
        "{}",
        stderr(&out)
    );
    let out = server.run(&["consistency", "--vkey", &vkey, "--from", "6"]);
    assert_eq!(assert_success(&out), hashes);
    assert!(
        stderr(&out).contains("the tree of size 6 whose root is"),
        "{}",
        stderr(&out)
    );
    let out = server.run(&["consistency", "--vkey", &vkey, "--from", "4"]);
    assert_fails(&out, 2, &["power of two"]);
    let out = server.run(&["consistency", "--vkey", &vkey, "--from", "2", "--to", "5"]);
    assert_fails(&out, 2, &["only its latest checkpoint"]);
    let out = server.run(&["consistency", "--from", "2", "--to", "5"]);
    assert!(!assert_success(&out).is_empty());
    assert!(stderr(&out).contains("NOT verified"));

    // SIGTERM: a clean stop.
    let (status, rest) = server.terminate();
    assert_eq!(status.code(), Some(0), "stderr: {rest}");
    assert!(rest.contains("stopped cleanly"), "{rest}");

    // A restart on the same data keeps the key and the entries.
    let server = Server::start_ok(&data, NO_ARGS);
    assert_eq!(server.vkey, vkey);
    assert!(server.banner.contains("existing"), "{}", server.banner);
    let out = server.run(&["prove", "--vkey", &vkey, "--index", "0"]);
    let again = write(&dir, "again.tlog-proof", assert_success(&out).as_bytes());
    assert_verifies(&vkey, &first, &again);
    let out = server.run(&["checkpoint", "--vkey", &vkey]);
    assert!(assert_success(&out).contains("\n9\n"));
    let out = server.run(&[OsStr::new("append"), second.as_os_str()]);
    assert_eq!(assert_success(&out), "3 duplicate\n");
    let (status, _) = server.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn serve_refuses_a_non_loopback_address() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let out = vellum([
        "serve".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--listen".as_ref(),
        "0.0.0.0:0".as_ref(),
    ]);
    assert_fails(&out, 2, &["refusing to serve gRPC on 0.0.0.0:0"]);
    for hint in [
        "--insecure-remote",
        "--tls-cert FILE --tls-key FILE",
        "--auth",
    ] {
        assert!(stderr(&out).contains(hint), "{hint}: {}", stderr(&out));
    }
    assert!(!data.exists(), "nothing is created for a refused start");
}

#[test]
fn no_server_is_a_clear_error() {
    // A port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = vellum_stdin(["append", "--server", &url], b"x\n");
    assert_fails(&out, 2, &["connection refused"]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot connect to {url}: connection refused"))
            && err.contains("is `vellum serve` running?"),
        "{err}"
    );
    let out = vellum(["checkpoint", "--server", "127.0.0.1:6962"]);
    assert_fails(&out, 2, &["http://"]);
    let out = vellum(["prove", "--server", &url]);
    assert_fails(&out, 2, &["--index"]);
}

/// `vellum watch --once` against `server`, with `state`.
fn watch(server: &Server, vkey: &str, state: &Path) -> Output {
    server.run(&[
        "watch".as_ref(),
        "--once".as_ref(),
        "--vkey".as_ref(),
        vkey.as_ref(),
        "--state".as_ref(),
        state.as_os_str(),
    ])
}

/// Appends one entry per line of `lines` and waits for a signed checkpoint
/// covering them (proofs to `proofs`).
fn append_lines(server: &Server, vkey: &str, proofs: &Path, lines: &[u8]) {
    let out = vellum_stdin(
        [
            "append",
            "--server",
            &server.url,
            "--wait",
            "checkpoint",
            "--vkey",
            vkey,
            "--proof-dir",
            proofs.to_str().unwrap(),
            "-",
        ],
        lines,
    );
    assert_success(&out);
}

#[test]
fn watch_follows_the_log_and_catches_a_fork_and_a_rollback() {
    let dir = TempDir::new().unwrap();
    let (key, vkey) = keygen(&dir, "example.com/watched");
    let state = dir.path().join("trusted");
    let key_flag = [OsStr::new("--key"), key.as_os_str()];

    // The honest log: first use, then a verified step.
    let honest = Server::start_ok(&dir.path().join("honest"), &key_flag);
    append_lines(&honest, &vkey, &dir.path().join("p1"), b"a\nb\n");
    let out = watch(&honest, &vkey, &state);
    assert!(
        assert_success(&out).starts_with("trusted size 2 root "),
        "{}",
        stdout(&out)
    );
    let trusted_2 = std::fs::read(&state).unwrap();
    append_lines(&honest, &vkey, &dir.path().join("p2"), b"c\nd\ne\n");
    let out = watch(&honest, &vkey, &state);
    assert!(
        assert_success(&out).starts_with("verified size 2 -> 5 root "),
        "{}",
        stdout(&out)
    );
    let out = watch(&honest, &vkey, &state);
    assert_eq!(assert_success(&out), "", "an unchanged log prints nothing");
    let trusted_5 = std::fs::read(&state).unwrap();
    assert_ne!(trusted_2, trusted_5);
    // Another key does not verify: a verdict, the state untouched.
    let other = SignerKey::generate("example.com/watched", SigType::Ed25519)
        .unwrap()
        .verifier()
        .to_string();
    let out = watch(&honest, &other, &dir.path().join("other-state"));
    assert_fails(&out, 1, &["does not verify"]);
    drop(honest);

    // The same key signs another history of the same size: a fork.
    let forked = Server::start_ok(&dir.path().join("forked"), &key_flag);
    append_lines(&forked, &vkey, &dir.path().join("p3"), b"a\nb\nc\nd\nX\n");
    let out = watch(&forked, &vkey, &state);
    assert_fails(&out, 1, &["evidence saved to"]);
    assert_eq!(std::fs::read(&state).unwrap(), trusted_5, "state unchanged");
    let evidence = std::fs::read_to_string(dir.path().join("trusted.evidence")).unwrap();
    let parsed = vellum_client::Evidence::parse(evidence.as_bytes()).unwrap();
    assert_eq!(parsed.kind(), vellum_client::EvidenceKind::SplitView);
    assert_eq!(parsed.trusted_note(), &trusted_5[..]);
    drop(forked);

    // A log behind the trusted state: a rollback; a second evidence file.
    let behind = Server::start_ok(&dir.path().join("behind"), &key_flag);
    append_lines(&behind, &vkey, &dir.path().join("p4"), b"a\nb\nc\n");
    let out = watch(&behind, &vkey, &state);
    assert_fails(&out, 1, &["trusted.evidence.1"]);
    let evidence = std::fs::read_to_string(dir.path().join("trusted.evidence.1")).unwrap();
    let parsed = vellum_client::Evidence::parse(evidence.as_bytes()).unwrap();
    assert_eq!(parsed.kind(), vellum_client::EvidenceKind::Rollback);
    assert_eq!(std::fs::read(&state).unwrap(), trusted_5, "state unchanged");
}

/// A CA and a server certificate for 127.0.0.1, as PEM files in `dir`;
/// returns (CA file, certificate file, key file).
fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use std::os::unix::fs::PermissionsExt;
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let files = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&files.0, ca.pem()).unwrap();
    std::fs::write(&files.1, cert.pem()).unwrap();
    std::fs::write(&files.2, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&files.2, std::fs::Permissions::from_mode(0o600)).unwrap();
    files
}

#[test]
fn tokens_and_tls_from_the_command_line() {
    let dir = TempDir::new().unwrap();
    let (ca, cert, key) = test_pki(dir.path());
    // Two tokens; the server's file gets only their hashes.
    let mut tokens = String::new();
    for (name, roles) in [("ingest", "append"), ("monitor", "read")] {
        let out_file = dir.path().join(format!("{name}.token"));
        let out = vellum([
            "token".as_ref(),
            "--name".as_ref(),
            name.as_ref(),
            "--roles".as_ref(),
            roles.as_ref(),
            "--out".as_ref(),
            out_file.as_os_str(),
        ]);
        let line = assert_success(&out);
        let token = std::fs::read_to_string(&out_file).unwrap();
        assert!(!line.contains(token.trim()), "the line holds the token");
        assert!(line.starts_with(&format!("{roles} ")), "{line}");
        tokens.push_str(&line);
    }
    let token_file = dir.path().join("tokens");
    std::fs::write(&token_file, &tokens).unwrap();
    // An existing token file is never overwritten; unknown roles are refused.
    let ingest = dir.path().join("ingest.token");
    let out = vellum([
        "token".as_ref(),
        "--name".as_ref(),
        "x".as_ref(),
        "--roles".as_ref(),
        "append".as_ref(),
        "--out".as_ref(),
        ingest.as_os_str(),
    ]);
    assert_fails(&out, 2, &["cannot create"]);
    let out = vellum([
        "token", "--name", "x", "--roles", "write", "--out", "unused",
    ]);
    assert_fails(&out, 2, &["unknown role"]);

    let data = dir.path().join("data");
    let server = Server::start_ok(
        &data,
        &[
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
            "--auth".as_ref(),
            token_file.as_os_str(),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let entry = write(&dir, "entry", b"user=carol action=read");
    let tls = ["--ca".as_ref(), ca.as_os_str()];

    // No token: refused, with the way out named.
    let out = server.run(&[&["append".as_ref(), entry.as_os_str()][..], &tls].concat());
    assert_fails(&out, 2, &["UNAUTHENTICATED", "--token-file"]);
    // The read token cannot append.
    let monitor = dir.path().join("monitor.token");
    let with_monitor = ["--token-file".as_ref(), monitor.as_os_str()];
    let out = server.run(
        &[
            &["append".as_ref(), entry.as_os_str()][..],
            &tls,
            &with_monitor,
        ]
        .concat(),
    );
    assert_fails(&out, 2, &["PERMISSION_DENIED"]);
    // The append token can; the entry gets index 0: nothing was appended before.
    let with_ingest = ["--token-file".as_ref(), ingest.as_os_str()];
    let out = server.run(
        &[
            &["append".as_ref(), entry.as_os_str()][..],
            &tls,
            &with_ingest,
        ]
        .concat(),
    );
    assert_eq!(assert_success(&out), "0\n");
    // A read with the token from the environment.
    let out = Command::new(process::bin())
        .args([
            "checkpoint",
            "--vkey",
            &server.vkey,
            "--server",
            &server.url,
        ])
        .args(tls)
        .env("VELLUM_TOKEN", std::fs::read_to_string(&monitor).unwrap())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // (Its size may still be 0: a durable append returns before the
    // checkpoint that covers it is published.)
    assert!(
        assert_success(&out).starts_with("vellum.localhost/"),
        "{}",
        stdout(&out)
    );
    // Without --ca the private CA is not trusted.
    let out = server.run(&[&["checkpoint".as_ref()][..], &with_monitor].concat());
    assert_fails(&out, 2, &["cannot connect"]);
    let (status, _) = server.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn watch_waits_for_a_log_that_is_not_up_yet() {
    let dir = TempDir::new().unwrap();
    let (key, vkey) = keygen(&dir, "example.com/late");
    // A port that was free a moment ago: nothing listens there yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let state = dir.path().join("trusted");
    let mut watcher = Command::new(process::bin())
        .args(["watch", "--interval", "100ms", "--vkey", &vkey])
        .args(["--server", &format!("http://{listen}")])
        .arg("--state")
        .arg(&state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = line_reader(watcher.stdout.take().unwrap());
    let warnings = line_reader(watcher.stderr.take().unwrap());
    // It tries, fails, says it will try again, and does: two warnings.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut retries = 0;
    while retries < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match warnings.recv_timeout(left) {
            Ok(line) if line.contains("(trying again in 100ms)") => retries += 1,
            Ok(_) => {}
            Err(_) => panic!("vellum watch warned of {retries} retries, not 2, within 60 s"),
        }
    }
    assert!(
        watcher.try_wait().unwrap().is_none(),
        "the watch gave up on a log that is not up yet"
    );
    let server = Server::start_ok(
        &dir.path().join("data"),
        &[
            OsStr::new("--key"),
            key.as_os_str(),
            OsStr::new("--listen"),
            OsStr::new(&listen),
        ],
    );
    append_lines(&server, &vkey, &dir.path().join("p"), b"one\n");
    let line = lines.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(line.starts_with("trusted size "), "{line}");
    let _ = watcher.kill();
    let _ = watcher.wait();
}
