//! Running the real `vellum` binary, and the shared vectors.

#![allow(dead_code)] // Each test file uses a part of this module.

pub mod daemon;
pub mod server;

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs `vellum` with `args` and an empty stdin.
pub fn vellum<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    vellum_stdin(args, b"")
}

/// Runs `vellum` with `args`, feeding `stdin`.
pub fn vellum_stdin<I, S>(args: I, stdin: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_vellum"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vellum");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    // The binary may exit before reading stdin (a usage error): ignore EPIPE.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    child.wait_with_output().expect("wait for vellum")
}

/// The shared interoperability vectors, relative to this crate.
pub fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}

/// The vkey of the log that signed the vector checkpoints.
pub fn log_vkey() -> String {
    let text = std::fs::read_to_string(vectors().join("note.json")).expect("read note.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("note.json is JSON");
    json["verifier_key"]
        .as_str()
        .expect("note.json has verifier_key")
        .to_owned()
}

/// One tlog-proof vector: its name, the proof file and the entry file.
#[derive(Debug, Clone)]
pub struct ProofVector {
    pub name: String,
    pub proof: PathBuf,
    pub entry: PathBuf,
}

/// Every `*.tlog-proof` in the vectors, with its `.data` entry.
pub fn proof_vectors() -> Vec<ProofVector> {
    let dir = vectors().join("tlog-proof");
    let mut out: Vec<ProofVector> = std::fs::read_dir(&dir)
        .expect("read the tlog-proof vectors")
        .map(|e| e.expect("list the tlog-proof vectors").path())
        .filter(|p| p.extension() == Some(OsStr::new("tlog-proof")))
        .map(|proof| ProofVector {
            name: proof
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned(),
            entry: proof.with_extension("data"),
            proof,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 5, "expected the tlog-proof vectors in {dir:?}");
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 0, exactly `ok` on stdout.
#[track_caller]
pub fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "expected success; stderr: {}",
        stderr(out)
    );
    assert_eq!(stdout(out), "ok\n");
}

/// Exit `code`, nothing on stdout, one `error: ...` on stderr that mentions
/// one of `needles` (case-insensitively).
#[track_caller]
pub fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}; stdout: {:?}, stderr: {err}",
        stdout(out)
    );
    assert!(
        out.stdout.is_empty(),
        "stdout must be empty: {:?}",
        stdout(out)
    );
    assert!(err.starts_with("error: "), "stderr: {err}");
    let lower = err.to_lowercase();
    assert!(
        needles.iter().any(|n| lower.contains(&n.to_lowercase())),
        "stderr should mention one of {needles:?}: {err}"
    );
}

/// A verdict: exit 1.
#[track_caller]
pub fn assert_rejected(out: &Output, needles: &[&str]) {
    assert_fails(out, 1, needles);
}
