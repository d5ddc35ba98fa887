//! The whole "no single party" deployment as processes: `vellum signer` (the
//! key in its own process, on a Unix socket), two `vellum witness`es, and
//! `vellum serve --signer ... --witness-policy ...`. An entry appended with
//! `--wait witnessed` comes back with a tlog-proof carrying both witnesses'
//! cosignatures, and `vellum verify --policy` accepts it.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::{Duration, Instant};

use tempfile::TempDir;
use vellum_testkit::process::{Daemon, assert_ok, keygen, stderr, stdout, vellum, vellum_stdin};

#[test]
fn a_log_with_an_independent_signer_and_two_witnesses() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let log_vkey = keygen(d, "example.com/audit", false);
    let logs = d.join("logs");
    std::fs::write(&logs, format!("log {log_vkey}\n")).unwrap();

    // Two witnesses, each with its own key and state.
    let mut witnesses = Vec::new();
    let mut policy = format!("log {log_vkey}\n");
    for i in 0..2 {
        let name = format!("witness{i}.example.org");
        let vkey = keygen(d, &name, true);
        let key = d.join(format!("{name}.key"));
        let state = d.join(format!("w{i}-state"));
        let w = Daemon::start_ok(&[
            "witness".as_ref(),
            "--logs".as_ref(),
            logs.as_os_str(),
            "--state".as_ref(),
            state.as_os_str(),
            "--key".as_ref(),
            key.as_os_str(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
        ]);
        policy.push_str(&format!("witness w{i} {vkey} {}\n", w.field("http")));
        witnesses.push((w, state));
    }
    policy.push_str("group both all w0 w1\nquorum both\n");
    let policy_file = d.join("policy");
    std::fs::write(&policy_file, &policy).unwrap();

    // The signer holds the key; the log never reads it.
    let socket = d.join("signer.sock");
    let signer_addr = format!("unix:{}", socket.display());
    let journal = d.join("signer-journal");
    let signer = Daemon::start_ok(&[
        "signer".as_ref(),
        "--journal".as_ref(),
        journal.as_os_str(),
        "--key".as_ref(),
        d.join("example.com_audit.key").as_os_str(),
        "--listen".as_ref(),
        signer_addr.as_ref(),
    ]);
    assert_eq!(signer.field("vkey"), log_vkey);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "the signer never bound its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let data = d.join("data");
    let log = Daemon::start_ok(&[
        "serve".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--signer".as_ref(),
        signer_addr.as_ref(),
        "--vkey".as_ref(),
        log_vkey.as_ref(),
        "--witness-policy".as_ref(),
        policy_file.as_os_str(),
        "--require-witness-quorum".as_ref(),
    ]);
    assert_eq!(log.field("vkey"), log_vkey);
    assert!(
        !data.join("log.key").exists(),
        "the log must not hold a key"
    );
    let url = log.field("gRPC");

    // Append and wait for a checkpoint that meets the policy.
    let entry = d.join("entry");
    std::fs::write(&entry, b"user=carol action=export table=payroll").unwrap();
    let out = vellum([
        "append".as_ref(),
        "--server".as_ref(),
        url.as_ref(),
        "--wait".as_ref(),
        "witnessed".as_ref(),
        "--policy".as_ref(),
        policy_file.as_os_str(),
        entry.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let proof = stdout(&out);
    assert!(
        proof.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n"),
        "{proof}"
    );
    for i in 0..2 {
        assert!(
            proof.contains(&format!("\u{2014} witness{i}.example.org ")),
            "no cosignature of witness{i}:\n{proof}"
        );
    }
    let proof_file = d.join("entry.tlog-proof");
    std::fs::write(&proof_file, &proof).unwrap();

    // An offline verifier with only the policy accepts it...
    let out = vellum([
        "verify".as_ref(),
        "--policy".as_ref(),
        policy_file.as_os_str(),
        "--entry".as_ref(),
        entry.as_os_str(),
        proof_file.as_os_str(),
    ]);
    assert_ok(&out);
    // ...and refuses it for another entry.
    let other = d.join("other");
    std::fs::write(&other, b"user=carol action=read").unwrap();
    let out = vellum([
        "verify".as_ref(),
        "--policy".as_ref(),
        policy_file.as_os_str(),
        "--entry".as_ref(),
        other.as_os_str(),
        proof_file.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // More entries; each witness remembers the size it cosigned, and the
    // signer's journal holds what it signed.
    let out = vellum_stdin(
        [
            "append",
            "--server",
            &url,
            "--wait",
            "witnessed",
            "--policy",
            policy_file.to_str().unwrap(),
            "--proof-dir",
            d.join("proofs").to_str().unwrap(),
            "-",
        ],
        b"two\nthree\n",
    );
    assert_eq!(stdout(&out), "1\n2\n", "{}", stderr(&out));
    drop(log);
    for (w, state) in witnesses {
        drop(w);
        let out = vellum([
            "witness".as_ref(),
            "--logs".as_ref(),
            logs.as_os_str(),
            "--state".as_ref(),
            state.as_os_str(),
            "--list".as_ref(),
        ]);
        let listed = stdout(&out);
        assert!(listed.starts_with("example.com/audit 3 "), "{listed}");
    }
    drop(signer);
    let out = vellum([
        "signer".as_ref(),
        "--journal".as_ref(),
        journal.as_os_str(),
        "--list".as_ref(),
    ]);
    let listed = stdout(&out);
    assert!(
        listed.lines().any(|l| l.starts_with("signed 3 ")),
        "{listed}"
    );
    assert!(!listed.contains("refused"), "{listed}");
}
