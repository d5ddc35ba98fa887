//! `vellum signer` and `vellum witness` beyond loopback: they refuse to
//! start without TLS and client authentication (unless --insecure-remote),
//! and with them they serve only the peers that authenticate. Real
//! processes; "beyond loopback" is 0.0.0.0.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use vellum_merkle::{TreeSize, leaf_hash};
use vellum_note::{Checkpoint, CosignerKey, NoteSigner, SignerKey, sign_note};
use vellum_testkit::process::{Daemon, assert_fails, keygen, stderr, stdout, vellum};
use vellum_witness::{BearerToken, ClientOptions, WitnessCallError, WitnessClient};

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as
/// files in `dir` (keys mode 0600): (CA, cert, key, client cert, client key).
fn pki(dir: &Path) -> [PathBuf; 5] {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let issue = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let server = issue(vec!["127.0.0.1".to_owned()]);
    let client = issue(Vec::new());
    let files = ["ca.pem", "tls.pem", "tls.key", "client.pem", "client.key"].map(|n| dir.join(n));
    for (path, text) in files
        .iter()
        .zip([&ca.pem(), &server.0, &server.1, &client.0, &client.1])
    {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    files
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Exit 2 with every one of `needles` in the message.
#[track_caller]
fn refused(out: &std::process::Output, needles: &[&str]) {
    assert_fails(out, 2, needles);
    let err = stderr(out);
    for n in needles {
        assert!(err.contains(n), "stderr should say {n:?}: {err}");
    }
}

#[test]
fn a_signer_beyond_loopback_refuses_to_start_without_mutual_tls() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    keygen(d, "example.com/guarded", false);
    let key = d.join("example.com_guarded.key");
    let journal = d.join("journal");
    let signer = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = vec![
            os("signer"),
            os("--journal"),
            journal.as_os_str(),
            os("--key"),
            key.as_os_str(),
        ];
        args.extend(extra.iter().map(|s| os(s)));
        vellum(args)
    };
    refused(
        &signer(&["--listen", "http://0.0.0.0:0"]),
        &[
            "refusing to serve the signer on http://0.0.0.0:0 without mutual TLS",
            "--tls-client-ca FILE",
            "--insecure-remote",
        ],
    );
    let [ca, cert, tls_key, ..] = pki(d);
    let (cert, tls_key, ca) = (
        cert.to_str().unwrap(),
        tls_key.to_str().unwrap(),
        ca.to_str().unwrap(),
    );
    refused(
        &signer(&[
            "--listen",
            "https://0.0.0.0:0",
            "--tls-cert",
            cert,
            "--tls-key",
            tls_key,
        ]),
        &["without client authentication (--tls-client-ca"],
    );
    // Nothing was opened by the refusals.
    assert!(!journal.exists());
    // With mutual TLS it starts, and says so.
    let up = Daemon::start_ok(
        &[
            "signer",
            "--journal",
            journal.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--listen",
            "https://0.0.0.0:0",
            "--tls-cert",
            cert,
            "--tls-key",
            tls_key,
            "--tls-client-ca",
            ca,
        ]
        .map(os),
    );
    assert!(up.banner.contains("mutual TLS (client CA"), "{}", up.banner);
    up.terminate();
}

/// A witness key, a logs file trusting a new log, and that log's key.
fn witness_files(d: &Path) -> (PathBuf, PathBuf, SignerKey) {
    let log = SignerKey::generate("example.com/witnessed", vellum_note::SigType::Ed25519).unwrap();
    let logs = d.join("logs");
    std::fs::write(&logs, format!("log {}\n", log.verifier())).unwrap();
    keygen(d, "witness.example/guarded", true);
    (d.join("witness.example_guarded.key"), logs, log)
}

#[test]
fn a_witness_beyond_loopback_needs_tls_and_tokens_and_then_serves_only_the_token() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let (wkey, logs, log) = witness_files(d);
    let state = d.join("state");
    let base = [
        os("witness"),
        os("--logs"),
        logs.as_os_str(),
        os("--state"),
        state.as_os_str(),
        os("--key"),
        wkey.as_os_str(),
    ];
    let witness = |extra: &[&OsStr]| vellum(base.iter().copied().chain(extra.iter().copied()));
    refused(
        &witness(&[os("--listen"), os("0.0.0.0:0")]),
        &[
            "refusing to serve the witness on 0.0.0.0:0 without TLS (--tls-cert FILE \
             --tls-key FILE) and authentication (--auth TOKENFILE)",
            "--insecure-remote",
        ],
    );
    assert!(!d.join("state").exists(), "the refusal opened nothing");

    // A token for the log, its hash in the witness's --auth file.
    let out = vellum([
        os("token"),
        os("--witness"),
        os("--name"),
        os("example.com/witnessed"),
        os("--out"),
        d.join("log.token").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(d.join("witness.tokens"), stdout(&out)).unwrap();
    let token = std::fs::read_to_string(d.join("log.token")).unwrap();
    let [ca, cert, tls_key, ..] = pki(d);
    let mut args: Vec<&OsStr> = base.to_vec();
    let tokens = d.join("witness.tokens");
    args.extend([
        os("--listen"),
        os("0.0.0.0:0"),
        os("--tls-cert"),
        cert.as_os_str(),
        os("--tls-key"),
        tls_key.as_os_str(),
        os("--auth"),
        tokens.as_os_str(),
    ]);
    let up = Daemon::start_ok(&args);
    let port = up.field("http").rsplit(':').next().unwrap().to_owned();
    assert!(up.field("http").starts_with("https://"), "{}", up.banner);
    let url = format!("https://127.0.0.1:{port}");

    let cp = Checkpoint::new(
        "example.com/witnessed",
        TreeSize::new(1).unwrap(),
        leaf_hash(b"one"),
    )
    .unwrap();
    let note = sign_note(&cp.to_text(), &[&log as &dyn NoteSigner]).unwrap();
    let wvkey = CosignerKey::new(vellum_signer::keyfile::load_key(&wkey).unwrap())
        .unwrap()
        .verifier();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ask = |token: Option<&str>| {
        let options = ClientOptions {
            ca_pem: Some(std::fs::read(&ca).unwrap()),
            token: token.map(|t| BearerToken::new(t.trim())),
            ..ClientOptions::default()
        };
        let client = WitnessClient::with_options(&url, "w", wvkey.clone(), &options).unwrap();
        rt.block_on(client.add_checkpoint(0, &[], note.as_bytes()))
    };
    for wrong in [None, Some("not-the-token")] {
        match ask(wrong) {
            Err(WitnessCallError::Rejected { status: 401, .. }) => {}
            other => panic!("{wrong:?}: expected a 401, got {other:?}"),
        }
    }
    assert_eq!(
        ask(Some(&token)).unwrap().len(),
        1,
        "the log's token is cosigned"
    );
    // The health check needs no token, only the CA.
    let out = vellum(["health", "witness", &url, "--ca", ca.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("ok: witness witness.example/guarded"),
        "{}",
        stdout(&out)
    );
    up.terminate();

    // --insecure-remote starts it without them, loudly.
    let mut args: Vec<&OsStr> = base.to_vec();
    args.extend([os("--listen"), os("0.0.0.0:0"), os("--insecure-remote")]);
    let up = Daemon::start_ok(&args);
    assert!(
        up.banner.contains("INSECURE (--insecure-remote)"),
        "{}",
        up.banner
    );
    up.terminate();
}
