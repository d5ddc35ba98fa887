//! `vellum watch --audit-url`: the monitor of the docker-compose deployment
//! in one process. Besides following the checkpoints it audits the whole
//! log from its tiles, once with --once and then every --audit-interval,
//! and a log whose tiles fail the audit stops it with exit 1.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use vellum_testkit::DEADLINE;
use vellum_testkit::process::{Server, command, line_reader, stderr, stdout, vellum, vellum_stdin};

/// A log with the tiles API; returns it and its tiles URL.
fn log_with_tiles(data: &Path) -> (Server, String) {
    let server = Server::start_ok(data, &["--http", "127.0.0.1:0"]);
    let tiles = server.field("tiles");
    (server, tiles)
}

/// Exit 0; returns stdout.
#[track_caller]
fn succeeded(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    stdout(out)
}

/// Appends `lines` and waits for a checkpoint of them (the proofs go to a
/// new folder under `dir`).
fn append(server: &Server, dir: &Path, lines: &[u8]) {
    let proofs = tempfile::tempdir_in(dir).unwrap();
    let out = vellum_stdin(
        [
            "append",
            "--server",
            &server.url,
            "--wait",
            "checkpoint",
            "--vkey",
            &server.vkey,
            "--proof-dir",
            proofs.path().to_str().unwrap(),
            "-",
        ],
        lines,
    );
    succeeded(&out);
}

#[test]
fn once_follows_and_audits_the_log() {
    let dir = TempDir::new().unwrap();
    let (log, tiles) = log_with_tiles(&dir.path().join("data"));
    append(&log, dir.path(), b"a\nb\nc\n");
    let state = dir.path().join("trusted");
    let out = vellum([
        "watch",
        "--once",
        "--server",
        &log.url,
        "--vkey",
        &log.vkey,
        "--state",
        state.to_str().unwrap(),
        "--audit-url",
        &tiles,
    ]);
    let text = succeeded(&out);
    assert!(text.contains("trusted size 3 "), "{text}");
    assert!(
        text.contains("audited size 3 (3 new entries recomputed from the tiles"),
        "{text}"
    );
    // The audit's own state, beside the watch's: the next audit fetches
    // only what is new.
    assert!(dir.path().join("trusted.audit").is_file());
    append(&log, dir.path(), b"d\n");
    let out = vellum([
        "watch",
        "--once",
        "--server",
        &log.url,
        "--vkey",
        &log.vkey,
        "--state",
        state.to_str().unwrap(),
        "--audit-url",
        &tiles,
    ]);
    let text = succeeded(&out);
    assert!(text.contains("audited size 4 (1 new entries"), "{text}");
}

#[test]
fn tiles_of_another_log_fail_the_audit_with_exit_1() {
    let dir = TempDir::new().unwrap();
    let (log, _) = log_with_tiles(&dir.path().join("a"));
    let (other, other_tiles) = log_with_tiles(&dir.path().join("b"));
    append(&log, dir.path(), b"a\n");
    append(&other, dir.path(), b"x\n");
    let out = vellum([
        "watch",
        "--once",
        "--server",
        &log.url,
        "--vkey",
        &log.vkey,
        "--state",
        dir.path().join("trusted").to_str().unwrap(),
        "--audit-url",
        &other_tiles,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("failed the audit"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn audit_flags_need_an_audit_url() {
    let out = vellum(["watch", "--state", "s", "--audit-interval", "1s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--audit-url"), "{}", stderr(&out));
}

#[test]
fn a_running_watch_audits_again_every_interval() {
    let dir = TempDir::new().unwrap();
    let (log, tiles) = log_with_tiles(&dir.path().join("data"));
    append(&log, dir.path(), b"a\n");
    let mut cmd = command();
    cmd.args([
        "watch",
        "--server",
        &log.url,
        "--vkey",
        &log.vkey,
        "--state",
        dir.path().join("trusted").to_str().unwrap(),
        "--interval",
        "50ms",
        "--audit-url",
        &tiles,
        "--audit-interval",
        "50ms",
    ]);
    let mut child = Killed(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lines = line_reader(child.0.stdout.take().unwrap());
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!("no line with {needle:?} from the watch"),
            }
        }
    };
    wait_for("audited size 1 ");
    append(&log, dir.path(), b"b\nc\n");
    // The new entries are audited by a later audit of the same process.
    wait_for("audited size 3 ");
    drop(child);
}

/// A child process killed when dropped, also when the test fails.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
