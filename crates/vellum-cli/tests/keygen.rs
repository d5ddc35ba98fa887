//! `vellum keygen`, run as a process.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use vellum_note::{SigType, SignerKey, VerifierKey};
use vellum_signer::keyfile::load_key;
use vellum_testkit::process::{assert_fails, stderr, stdout, vellum};

/// `vellum keygen <name_flag> <name> --out <path> [--witness]`.
fn keygen(name_flag: &str, name: &str, path: &Path, witness: bool) -> Output {
    let mut args: Vec<OsString> = vec![
        "keygen".into(),
        name_flag.into(),
        name.into(),
        "--out".into(),
        path.into(),
    ];
    if witness {
        args.push("--witness".into());
    }
    vellum(args)
}

/// The vkey on stdout, checking that it is the only line there.
fn printed_vkey(out: &Output) -> VerifierKey {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    let printed = stdout(out);
    let line = printed.strip_suffix('\n').unwrap();
    assert!(!line.contains('\n'), "one line only: {printed:?}");
    VerifierKey::parse(line).unwrap()
}

fn loaded(path: &Path) -> SignerKey {
    load_key(path).unwrap()
}

#[test]
fn writes_a_0600_key_and_prints_its_vkey() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.key");
    let out = keygen("--origin", "example.com/audit", &path, false);
    let vkey = printed_vkey(&out);
    assert_eq!(vkey.name(), "example.com/audit");
    assert_eq!(vkey.sig_type(), SigType::Ed25519);

    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The file holds the matching private key, in the form the signer loads.
    assert_eq!(loaded(&path).verifier(), vkey);
    assert!(!stdout(&out).contains("PRIVATE"), "no secret on stdout");
    assert!(!stderr(&out).contains("PRIVATE+KEY"), "nor on stderr");
}

#[test]
fn witness_keys_are_cosignature_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.key");
    let vkey = printed_vkey(&keygen("--name", "witness.example.org", &path, true));
    assert_eq!(vkey.name(), "witness.example.org");
    assert_eq!(vkey.sig_type(), SigType::CosignatureV1);
    assert_eq!(loaded(&path).verifier(), vkey);
}

#[test]
fn refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.key");
    printed_vkey(&keygen("--origin", "example.com/a", &path, false));
    let before = std::fs::read(&path).unwrap();

    let again = keygen("--origin", "example.com/b", &path, false);
    assert_fails(&again, 2, &["already exists"]);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the key is untouched"
    );
}

#[test]
fn rejects_bad_names_before_creating_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.key");
    for bad in ["example.com/a b", "example.com+log", "", "tab\there"] {
        let out = keygen("--origin", bad, &path, false);
        assert_fails(&out, 2, &["invalid key name"]);
        assert!(!path.exists(), "no file for the bad name {bad:?}");
    }
}

#[test]
fn reports_an_unwritable_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir/log.key");
    let out = keygen("--origin", "example.com/a", &path, false);
    assert_fails(&out, 2, &["missing-dir"]);
}
