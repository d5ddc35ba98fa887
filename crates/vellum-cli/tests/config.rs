//! `vellum serve --config`, `vellum config check` and `vellum config print`
//! as processes: the example file starts the default log, a bad key is
//! refused with its line, and flags beat the environment, which beats the
//! file.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use vellum_testkit::process::{self, Daemon, assert_fails, assert_ok, stdout};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/vellum.toml")
}

/// `vellum <args>` with `env` set and every other `VELLUM_` variable of
/// the configuration cleared, so that the test's own environment plays no
/// part.
fn vellum_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(process::bin());
    cmd.args(args)
        .env_remove("VELLUM_SIGNER_STATE")
        .env_remove("VELLUM_DATA")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Exit 2, nothing on stdout, and an error that says all of `needles`.
#[track_caller]
fn assert_all(out: &Output, needles: &[&str]) {
    assert_fails(out, 2, needles);
    let err = process::stderr(out);
    for n in needles {
        assert!(err.contains(n), "stderr should say {n:?}: {err}");
    }
}

#[test]
fn the_example_file_starts_the_default_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vellum.toml");
    std::fs::copy(example(), &config).unwrap();
    let data = dir.path().join("data");
    // The example's data folder and port, moved by the environment and a
    // flag to a temporary folder and a free port.
    let mut cmd = process::command();
    cmd.args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", "127.0.0.1:0"])
        .env("VELLUM_DATA", &data)
        .current_dir(dir.path());
    // Stopped (killed) when dropped, at the end of this statement.
    let banner = Daemon::start(cmd).expect_up().banner.clone();
    assert!(
        banner.contains("vellum: serving log vellum.localhost/"),
        "{banner}"
    );
    let grpc = banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("gRPC:"))
        .unwrap()
        .trim();
    assert!(grpc.starts_with("http://127.0.0.1:"), "{banner}");
    assert!(
        !grpc.ends_with(":0") && !grpc.ends_with(":6962"),
        "{banner}"
    );
    let shown = banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("data:"))
        .unwrap()
        .trim();
    assert_eq!(Path::new(shown), data, "{banner}");
    assert!(data.join("log.vkey").is_file());
    assert!(data.join("log.key").is_file());
}

#[test]
fn config_check_accepts_the_example() {
    let out = vellum_env(&["config", "check", example().to_str().unwrap()], &[]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "ok\n");
}

#[test]
fn config_check_names_an_unknown_key_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "data = \"d\"\n\n[limits]\nmax_connections = 10\nmax_conections = 11\n",
    )
    .unwrap();
    let out = vellum_env(&["config", "check", path.to_str().unwrap()], &[]);
    assert_all(&out, &["bad.toml:5:", "limits", "max_conections"]);
    // A bad value: the key's full path and its line.
    std::fs::write(&path, "[log.witnesses]\ntimeout = \"5\"\n").unwrap();
    let out = vellum_env(&["config", "check", path.to_str().unwrap()], &[]);
    assert_all(&out, &["bad.toml:2: log.witnesses.timeout: ", "unit"]);
}

#[test]
fn flags_beat_the_environment_which_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vellum.toml");
    std::fs::write(
        &path,
        "data = \"from-file\"\n[limits]\nmax_connections = 3\nrequest_timeout = \"3s\"\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let env = [
        ("VELLUM_LIMITS_MAX_CONNECTIONS", "4"),
        ("VELLUM_LIMITS_REQUEST_TIMEOUT", "4s"),
    ];
    let out = vellum_env(
        &[
            "config",
            "print",
            "--config",
            file,
            "--max-connections",
            "5",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", process::stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("data = \"from-file\""), "{printed}");
    assert!(printed.contains("max_connections = 5"), "{printed}");
    assert!(printed.contains("request_timeout = \"4s\""), "{printed}");
    // What nothing set is printed with its default.
    assert!(printed.contains("grpc = \"127.0.0.1:6962\""), "{printed}");
    assert!(printed.contains("[log.pool]"), "{printed}");
    // The printed configuration is itself a valid file.
    let again = dir.path().join("printed.toml");
    std::fs::write(&again, &printed).unwrap();
    assert_ok(&vellum_env(
        &["config", "check", again.to_str().unwrap()],
        &[],
    ));
    // The environment's signer state, as before the configuration file.
    let out = vellum_env(&["config", "print"], &[("VELLUM_SIGNER_STATE", "mem")]);
    assert!(
        stdout(&out).contains("signer_state = \"mem\""),
        "{}",
        stdout(&out)
    );
    // A bad variable is named.
    let out = vellum_env(
        &["config", "print"],
        &[("VELLUM_LIMITS_MAX_CONNECTIONS", "many")],
    );
    assert_fails(&out, 2, &["VELLUM_LIMITS_MAX_CONNECTIONS"]);
}

#[test]
fn the_self_audit_pace_comes_from_the_file_the_environment_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vellum.toml");
    std::fs::write(
        &path,
        "[self_audit]\nentries_per_second = 100\npass_interval = \"60m\"\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let print = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["config", "print", "--config", file];
        args.extend_from_slice(extra);
        let out = vellum_env(&args, env);
        assert_eq!(out.status.code(), Some(0), "{}", process::stderr(&out));
        stdout(&out)
    };
    let printed = print(&[], &[]);
    assert!(printed.contains("[self_audit]"), "{printed}");
    assert!(printed.contains("entries_per_second = 100"), "{printed}");
    assert!(printed.contains("pass_interval = \"60m\""), "{printed}");
    let env = [("VELLUM_SELF_AUDIT_ENTRIES_PER_SECOND", "200")];
    let printed = print(&[], &env);
    assert!(printed.contains("entries_per_second = 200"), "{printed}");
    let printed = print(&["--self-audit-entries-per-second", "0"], &env);
    assert!(printed.contains("entries_per_second = 0"), "{printed}");
    // Unset, the default pace.
    let out = vellum_env(&["config", "print"], &[]);
    assert!(
        stdout(&out).contains("entries_per_second = 5000"),
        "{}",
        stdout(&out)
    );
}
