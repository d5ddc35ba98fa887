//! Long-running `vellum` processes other than `serve` (witnesses, signers),
//! and keys for them.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{stderr, stdout, vellum};

/// A long-running `vellum` process and the banner it printed on stderr.
pub struct Daemon {
    pub child: Child,
    pub banner: String,
}

impl Daemon {
    /// Starts `vellum <args>` and reads stderr up to the banner's `stop:`
    /// line.
    pub fn start(args: &[&OsStr]) -> Daemon {
        Daemon::start_env(args, &[])
    }

    /// As [`Daemon::start`], with `env` set.
    pub fn start_env(args: &[&OsStr], env: &[(&str, &OsStr)]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vellum"))
            .args(args)
            .envs(env.iter().copied())
            .env("VELLUM_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut banner = String::new();
        while !banner.contains("stop:") {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) => {
                    banner.push_str(&l);
                    banner.push('\n');
                }
                Err(_) => panic!("no banner from vellum {args:?}; stderr so far:\n{banner}"),
            }
        }
        // Keep draining, so that a full pipe never blocks the process.
        std::thread::spawn(move || while lines.recv().is_ok() {});
        Daemon { child, banner }
    }

    /// The value of the banner line `<label>: <value>`.
    pub fn field(&self, label: &str) -> String {
        self.banner
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(&format!("{label}:")))
            .unwrap_or_else(|| panic!("no {label}: in {}", self.banner))
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn keygen(dir: &Path, name: &str, witness: bool) -> String {
    let out_file = dir.join(format!("{}.key", name.replace('/', "_")));
    let mut args = vec![
        OsStr::new("keygen"),
        OsStr::new("--origin"),
        OsStr::new(name),
        OsStr::new("--out"),
        out_file.as_os_str(),
    ];
    if witness {
        args.push(OsStr::new("--witness"));
    }
    let out = vellum(args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}
