//! A `vellum serve` child process on a data folder, for tests that stop it
//! cleanly, kill it, or expect it to refuse to start.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `vellum serve` and what its banner said.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub vkey: String,
    lines: mpsc::Receiver<String>,
}

/// How a start ended.
pub enum Started {
    /// Serving.
    Up(Server),
    /// Exited before the banner: its status and stderr.
    Refused(ExitStatus, String),
}

fn spawn(data: &Path, origin: &str) -> (Child, mpsc::Receiver<String>) {
    spawn_with(data, &["--origin".as_ref(), origin.as_ref()])
}

fn spawn_with(data: &Path, extra: &[&OsStr]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vellum"))
        .args(["serve".as_ref(), "--data".as_ref(), data.as_os_str()])
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("VELLUM_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vellum serve");
    // Drain stderr for the server's whole life: a full pipe would block it.
    let (tx, lines) = mpsc::channel();
    let err = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, lines)
}

/// Starts `vellum serve` and SIGKILLs it after `delay`, whatever it is
/// doing by then (opening the store, the start-up checks, signing the
/// first checkpoint, serving). Returns whether it had exited on its own.
pub fn start_and_kill(data: &Path, origin: &str, delay: Duration) -> Option<ExitStatus> {
    let (mut child, _lines) = spawn(data, origin);
    std::thread::sleep(delay);
    let exited = child.try_wait().expect("poll vellum serve");
    let _ = child.kill();
    child.wait().expect("reap vellum serve");
    exited
}

/// Starts `vellum serve --data <data> --listen 127.0.0.1:0 --origin <origin>`
/// and waits for its banner, or for it to exit.
pub fn start(data: &Path, origin: &str) -> Started {
    start_with(data, &["--origin".as_ref(), origin.as_ref()])
}

/// Starts `vellum serve --data <data> --listen 127.0.0.1:0 <extra...>` and
/// waits for its banner, or for it to exit.
pub fn start_with(data: &Path, extra: &[&OsStr]) -> Started {
    let (mut child, lines) = spawn_with(data, extra);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    let (mut url, mut vkey) = (None, None);
    while !seen.contains("  stop:") {
        match lines.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if let Some(rest) = line.trim_start().strip_prefix("gRPC:") {
                    url = Some(rest.trim().to_owned());
                }
                if let Some(rest) = line.trim_start().strip_prefix("vkey:") {
                    vkey = rest.split_whitespace().next().map(str::to_owned);
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(status) = child.try_wait().expect("poll vellum serve") {
                    // Whatever is left in the pipe, then the verdict.
                    while let Ok(l) = lines.recv_timeout(Duration::from_secs(2)) {
                        seen.push_str(&l);
                        seen.push('\n');
                    }
                    return Started::Refused(status, seen);
                }
                assert!(
                    Instant::now() < deadline,
                    "no banner from vellum serve; stderr so far:\n{seen}"
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("wait for vellum serve");
                return Started::Refused(status, seen);
            }
        }
    }
    Started::Up(Server {
        child,
        url: url.expect("the banner names the gRPC address"),
        vkey: vkey.expect("the banner names the vkey"),
        lines,
    })
}

/// Starts the server and fails the test if it refuses.
#[track_caller]
pub fn start_ok(data: &Path, origin: &str) -> Server {
    match start(data, origin) {
        Started::Up(s) => s,
        Started::Refused(status, err) => panic!("vellum serve refused to start ({status}):\n{err}"),
    }
}

/// As [`start_with`], failing the test if the server refuses.
#[track_caller]
pub fn start_ok_with(data: &Path, extra: &[&OsStr]) -> Server {
    match start_with(data, extra) {
        Started::Up(s) => s,
        Started::Refused(status, err) => panic!("vellum serve refused to start ({status}):\n{err}"),
    }
}

impl Server {
    /// SIGKILL: no clean-up of any kind, as a power cut or the OOM killer.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL vellum serve");
        self.child.wait().expect("reap vellum serve");
    }

    /// SIGTERM, then waits for the exit; returns the status and the rest of
    /// stderr.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let status = self.child.wait().expect("wait for vellum serve");
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            rest.push(line);
        }
        (status, rest.join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed test must not leave a server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
