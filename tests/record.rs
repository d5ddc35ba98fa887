//! `vellum record` against `vellum serve --log-kind events`, as processes:
//! the printed entry is the stored one, its proof passes `vellum verify`,
//! the resource chain shows in the entries, an events log refuses raw
//! appends, and an invalid event is refused before anything is sent.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;

use tempfile::TempDir;
use vellum_event::Recorded;
use vellum_merkle::{Hash, leaf_hash};
use vellum_testkit::process::{Server, assert_fails, assert_ok, stderr, stdout, vellum};

fn record(server: &Server, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "record",
        "--actor",
        "alice",
        "--action",
        "permission.grant",
        "--resource",
        "permission/doc-7/editors",
    ];
    args.extend_from_slice(extra);
    server.run(&args)
}

/// The two lines `vellum record` prints: the index (and "duplicate"), the
/// entry.
fn lines(out: &std::process::Output) -> (String, String) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    let text = stdout(out);
    let mut l = text.lines();
    let (a, b) = (l.next().unwrap().to_owned(), l.next().unwrap().to_owned());
    assert_eq!(l.next(), None, "{text}");
    (a, b)
}

#[test]
fn record_prints_the_entry_and_its_proof_verifies() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let server = Server::start_ok(&d.join("data"), &["--log-kind", "events"]);
    let (entry, proof) = (d.join("event.json"), d.join("event.tlog-proof"));
    let out = record(
        &server,
        &[
            "--attr",
            "ip=10.0.0.1",
            "--payload",
            r#"{"after":{"role":"editor"}}"#,
            "--event-id",
            "req-1",
            "--wait",
            "checkpoint",
            "--vkey",
            &server.vkey,
            "--proof",
            proof.to_str().unwrap(),
            "--entry-out",
            entry.to_str().unwrap(),
        ],
    );
    let (index, json) = lines(&out);
    assert_eq!(index, "0");
    assert_eq!(json.as_bytes(), std::fs::read(&entry).unwrap());
    let first = Recorded::parse(json.as_bytes()).unwrap();
    assert_eq!(first.attested().submitter, "anonymous");
    assert_eq!(first.event().attributes()["ip"], "10.0.0.1");
    let verified = vellum([
        "verify".as_ref(),
        "--vkey".as_ref(),
        server.vkey.as_ref(),
        "--entry".as_ref(),
        entry.as_os_str(),
        proof.as_os_str(),
    ]);
    assert_ok(&verified);

    // The retry gets the first recording back.
    let (index, again) = lines(&record(&server, &["--event-id", "req-1"]));
    assert_eq!(
        (index.as_str(), again.as_str()),
        ("0 duplicate", json.as_str())
    );

    // The next event on the resource names the first.
    let (index, next) = lines(&record(&server, &["--outcome", "denied", "--reason", "no"]));
    assert_eq!(index, "1");
    let prev = Recorded::parse(next.as_bytes())
        .unwrap()
        .attested()
        .prev
        .unwrap();
    assert_eq!(
        (prev.index, Hash(prev.leaf_hash)),
        (0, leaf_hash(json.as_bytes()))
    );

    // An events log takes no raw entry.
    let raw = d.join("raw");
    std::fs::write(&raw, "raw bytes").unwrap();
    let out = server.run(&[Path::new("append").as_os_str(), raw.as_os_str()]);
    assert_fails(&out, 2, &["vellum record"]);

    // An invalid event is refused, naming the field, before it is sent.
    let out = server.run(&[
        "record",
        "--actor",
        "alice",
        "--action",
        "Grant",
        "--resource",
        "permission/x",
    ]);
    assert_fails(&out, 2, &["action"]);
    let out = server.run(&[
        "record",
        "--actor",
        "a",
        "--action",
        "a.b",
        "--resource",
        "nokind",
    ]);
    assert_fails(&out, 2, &["KIND/ID"]);
    let (index, _) = lines(&record(&server, &[]));
    assert_eq!(index, "2", "nothing was recorded by the refusals");
}

#[test]
fn a_raw_log_refuses_record_with_a_hint() {
    let dir = TempDir::new().unwrap();
    let server = Server::start_ok(&dir.path().join("data"), &[] as &[&str]);
    assert_fails(&record(&server, &[]), 2, &["--log-kind events"]);
}
