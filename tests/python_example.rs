//! `examples/python/` against a live `vellum serve`: the client generated
//! from `proto/` with grpcio-tools records an audit event, fetches its
//! proof and checkpoint, and verifies both in Python (`ok`); with another
//! key of the same name it must fail. Its verification also meets the Go
//! reference vectors (`check_vectors.py`).
//!
//! The virtual environment (python3 -m venv, pip install -r
//! requirements.txt) lives in the target folder, named by the hash of
//! requirements.txt, so that it is made once per set of pins. Where
//! python3, its venv module or the packages cannot be had (no Python, no
//! network to PyPI), the test says why on stderr and passes.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};
use tempfile::TempDir;
use vellum_testkit::process::{self, Server, stderr, stdout, vellum};

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python")
}

/// The target folder this test was built in (`<target>/<profile>/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

/// The venv's python, made (or reused) for the pins of requirements.txt;
/// `Err` says why there can be none here.
fn venv() -> Result<PathBuf, String> {
    let requirements = example_dir().join("requirements.txt");
    let pins = std::fs::read(&requirements).unwrap();
    let hash: String = Sha256::digest(&pins)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = target_dir()
        .join("python-example")
        .join(format!("venv-{hash}"));
    let python = dir.join("bin/python");
    let ready = dir.join(".vellum-ready");
    if ready.exists() {
        return Ok(python);
    }
    let found = Command::new("python3").arg("--version").output();
    match found {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(format!("python3 --version failed: {}", show(&o))),
        Err(e) => return Err(format!("no python3 on this machine: {e}")),
    }
    // A half-made environment (an earlier run stopped) is made again.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!(
            "python3 -m venv failed (on Debian: apt-get install python3-venv): {}",
            show(&out)
        ));
    }
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(&requirements)
        .output()
        .unwrap();
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!(
            "pip install -r examples/python/requirements.txt failed (is PyPI reachable?): {}",
            show(&out)
        ));
    }
    std::fs::write(&ready, &pins).unwrap();
    Ok(python)
}

fn record_and_verify(
    python: &Path,
    generated: &Path,
    server: &Server,
    vkey: &Path,
    token: &Path,
) -> Output {
    Command::new(python)
        .arg(example_dir().join("record_and_verify.py"))
        .arg("--server")
        .arg(&server.url)
        .arg("--vkey")
        .arg(vkey)
        .arg("--token-file")
        .arg(token)
        .arg("--generated")
        .arg(generated)
        .output()
        .unwrap()
}

#[test]
fn the_python_example_records_and_verifies_and_catches_a_wrong_key() {
    let python = match venv() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: the Python example cannot run here: {why}");
            return;
        }
    };
    // The Python verification agrees with Go's on the vectors, and
    // rejects every corruption of them.
    let out = Command::new(&python)
        .arg(example_dir().join("check_vectors.py"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/vectors"))
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "ok\n", "check_vectors.py: {}", show(&out));

    let dir = TempDir::new().unwrap();
    let generated = dir.path().join("generated");
    let out = Command::new(&python)
        .arg(example_dir().join("generate.py"))
        .arg("--out")
        .arg(&generated)
        .output()
        .unwrap();
    assert!(out.status.success(), "generate.py: {}", show(&out));
    assert!(generated.join("vellum/v1/log_pb2_grpc.py").is_file());

    // An events log with access control: the example sends its token.
    let token = dir.path().join("py.token");
    let out = vellum([
        "token".as_ref(),
        "--name".as_ref(),
        "python-example".as_ref(),
        "--roles".as_ref(),
        "append,read".as_ref(),
        "--out".as_ref(),
        token.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, stdout(&out)).unwrap();
    let data = dir.path().join("data");
    let server = Server::start_ok(
        &data,
        &[
            "--log-kind".as_ref(),
            "events".as_ref(),
            "--auth".as_ref(),
            tokens.as_os_str(),
        ],
    );
    let vkey = data.join("log.vkey");

    let out = record_and_verify(&python, &generated, &server, &vkey, &token);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(stdout(&out), "ok\n", "{}", show(&out));
    // Twice: a second event, a larger tree, a longer proof.
    let out = record_and_verify(&python, &generated, &server, &vkey, &token);
    assert_eq!(stdout(&out), "ok\n", "{}", show(&out));

    // Another key with the log's name: the signature does not verify.
    let origin = server.vkey.split('+').next().unwrap().to_owned();
    let other = process::keygen(dir.path(), &origin, false);
    assert_ne!(other, server.vkey);
    let wrong = dir.path().join("wrong.vkey");
    std::fs::write(&wrong, format!("{other}\n")).unwrap();
    let out = record_and_verify(&python, &generated, &server, &wrong, &token);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(stdout(&out).is_empty(), "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: ") && err.contains("no signature by the log's key"),
        "{}",
        show(&out)
    );
    // Without the token the server refuses: could not check (2), not a verdict.
    let out = Command::new(&python)
        .arg(example_dir().join("record_and_verify.py"))
        .args(["--server", &server.url, "--generated"])
        .arg(&generated)
        .arg("--vkey")
        .arg(&vkey)
        .env_remove("VELLUM_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr(&out).contains("UNAUTHENTICATED"), "{}", show(&out));
    let (status, _) = server.terminate();
    assert_eq!(status.code(), Some(0));
}
