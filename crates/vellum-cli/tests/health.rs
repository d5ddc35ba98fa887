//! `vellum health`, the health check of the docker-compose deployment: exit
//! 0 when a log, a signer or a witness answers, 1 when it does not, 2 for
//! an address it cannot use. Real processes, on loopback and a Unix socket.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use vellum_testkit::process::{
    Daemon, Server, assert_fails, assert_rejected, keygen, stderr, stdout, vellum,
};

fn health(args: &[&str]) -> std::process::Output {
    vellum(std::iter::once("health").chain(args.iter().copied()))
}

/// Exit 0; returns the line it printed.
#[track_caller]
fn healthy(args: &[&str]) -> String {
    let out = health(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A loopback address nothing listens on (bound, then closed).
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr.to_string()
}

#[test]
fn a_log_a_signer_and_a_witness_answer() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let vkey = keygen(d, "example.com/health", false);
    std::fs::write(d.join("logs"), format!("log {vkey}\n")).unwrap();

    let socket = d.join("signer.sock");
    let signer_addr = format!("unix:{}", socket.display());
    let _signer = Daemon::start_ok(&[
        "signer".as_ref(),
        "--journal".as_ref(),
        d.join("journal").as_os_str(),
        "--key".as_ref(),
        d.join("example.com_health.key").as_os_str(),
        "--listen".as_ref(),
        signer_addr.as_ref(),
    ]);
    let said = healthy(&["signer", &signer_addr]);
    assert!(
        said.contains("holds the key of example.com/health"),
        "{said}"
    );

    keygen(d, "witness.example.org", true);
    let witness = Daemon::start_ok(&[
        "witness".as_ref(),
        "--logs".as_ref(),
        d.join("logs").as_os_str(),
        "--state".as_ref(),
        d.join("w-state").as_os_str(),
        "--key".as_ref(),
        d.join("witness.example.org.key").as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    let said = healthy(&["witness", &witness.field("http")]);
    assert!(said.contains("witness witness.example.org at "), "{said}");

    let log = Server::start_ok(&d.join("data"), &["--signer", &signer_addr]);
    let said = healthy(&["log", &log.url]);
    assert_eq!(said, format!("ok: log at {} is serving\n", log.url));
}

#[test]
fn nothing_answering_is_exit_1_and_a_bad_address_exit_2() {
    let dir = TempDir::new().unwrap();
    let nobody = format!("http://{}", closed_port());
    assert_rejected(&health(&["log", &nobody]), &["cannot connect to the log"]);
    assert_rejected(
        &health(&["witness", &nobody]),
        &["cannot reach the witness"],
    );
    let socket = dir.path().join("no.sock");
    assert_rejected(
        &health(&["signer", &format!("unix:{}", socket.display())]),
        &["signer at unix:"],
    );
    assert_fails(
        &health(&["log", "127.0.0.1:1"]),
        2,
        &["expected http://HOST:PORT"],
    );
    assert_fails(&health(&["signer", "tcp:1"]), 2, &["unix:/path/to/socket"]);
    assert_fails(
        &health(&["witness", "127.0.0.1:1"]),
        2,
        &["expected http://HOST:PORT"],
    );
    assert_fails(&health(&["cache", &nobody]), 2, &["invalid value 'cache'"]);
}

#[test]
fn a_log_over_tls_needs_its_ca() {
    let dir = TempDir::new().unwrap();
    let (ca, cert, key) = test_pki(dir.path());
    let log = Server::start_ok(
        &dir.path().join("data"),
        &[
            OsStr::new("--tls-cert"),
            cert.as_os_str(),
            OsStr::new("--tls-key"),
            key.as_os_str(),
        ],
    );
    assert!(log.url.starts_with("https://"), "{}", log.url);
    healthy(&["log", &log.url, "--ca", ca.to_str().unwrap()]);
    // Without the private CA the certificate is not trusted: not healthy.
    assert_rejected(&health(&["log", &log.url]), &["cannot connect to the log"]);
    // --ca is for an https:// log only.
    let plain = format!("http://{}", closed_port());
    assert_fails(
        &health(&["log", &plain, "--ca", ca.to_str().unwrap()]),
        2,
        &["--ca"],
    );
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
