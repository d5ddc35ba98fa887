//! `vellum signer --config` and `vellum witness --config` as processes, and
//! `vellum config check --for` / `vellum config print signer|witness`: the
//! examples are valid, a bad key is refused with its line, and flags beat
//! the environment, which beats the file.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use vellum_testkit::process::{self, Daemon, assert_fails, assert_ok, keygen, stderr, stdout};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// `vellum <args>` with `env` set and every other variable of these
/// configurations cleared, so that the test's own environment plays no
/// part.
fn vellum_env(args: &[&OsStr], env: &[(&str, &OsStr)]) -> Output {
    // The kit's command starts without any VELLUM_ variable of ours.
    let mut cmd = process::command();
    cmd.args(args).envs(env.iter().copied());
    process::run(cmd, b"")
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Sends SIGTERM and waits: the exit status is 0 only if the process
/// handled the signal (the shared daemon set-up) and stopped cleanly.
fn terminate(d: Daemon) -> std::process::ExitStatus {
    d.terminate().0
}

#[test]
fn config_check_accepts_the_examples() {
    for (process, file) in [("signer", "signer.toml"), ("witness", "witness.toml")] {
        let path = example(file);
        let out = vellum_env(
            &[
                os("config"),
                os("check"),
                os("--for"),
                os(process),
                path.as_os_str(),
            ],
            &[],
        );
        assert_ok(&out);
    }
    // Each is refused as another process's file: the keys differ.
    let out = vellum_env(
        &[
            os("config"),
            os("check"),
            example("signer.toml").as_os_str(),
        ],
        &[],
    );
    assert_fails(&out, 2, &["journal"]);
    let out = vellum_env(
        &[
            os("config"),
            os("check"),
            os("--for"),
            os("signer"),
            example("witness.toml").as_os_str(),
        ],
        &[],
    );
    // The first key the signer does not have: `logs`, or the witness's
    // `[auth]` table.
    assert_fails(&out, 2, &["logs", "auth"]);
}

#[test]
fn config_check_names_a_bad_key_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "journal = \"j\"\n\nkye = \"log.key\"\n").unwrap();
    let out = vellum_env(
        &[
            os("config"),
            os("check"),
            os("--for"),
            os("signer"),
            path.as_os_str(),
        ],
        &[],
    );
    assert_fails(&out, 2, &["bad.toml:3:"]);
    assert!(stderr(&out).contains("kye"), "{}", stderr(&out));

    std::fs::write(&path, "logs = \"l\"\nstate = \"s\"\nlisten = \"here\"\n").unwrap();
    let out = vellum_env(
        &[
            os("config"),
            os("check"),
            os("--for"),
            os("witness"),
            path.as_os_str(),
        ],
        &[],
    );
    assert_fails(&out, 2, &["bad.toml:3: listen: "]);
}

#[test]
fn config_print_layers_flags_over_environment_over_file() {
    let dir = tempfile::tempdir().unwrap();
    let signer = dir.path().join("signer.toml");
    std::fs::write(
        &signer,
        "journal = \"file-journal\"\nkey = \"file.key\"\nlisten = \"unix:file.sock\"\n",
    )
    .unwrap();
    let out = vellum_env(
        &[
            os("config"),
            os("print"),
            os("signer"),
            os("--config"),
            signer.as_os_str(),
            os("--listen"),
            os("unix:flag.sock"),
        ],
        &[
            ("VELLUM_SIGNER_KEY", os("env.key")),
            ("VELLUM_SIGNER_LISTEN", os("unix:env.sock")),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("journal = \"file-journal\""), "{printed}");
    assert!(printed.contains("key = \"env.key\""), "{printed}");
    assert!(printed.contains("listen = \"unix:flag.sock\""), "{printed}");

    let witness = dir.path().join("witness.toml");
    std::fs::write(
        &witness,
        "logs = \"file-logs\"\nstate = \"file-state\"\nlisten = \"127.0.0.1:7001\"\n",
    )
    .unwrap();
    let out = vellum_env(
        &[
            os("config"),
            os("print"),
            os("witness"),
            os("--config"),
            witness.as_os_str(),
            os("--state"),
            os("flag-state"),
        ],
        &[
            ("VELLUM_WITNESS_STATE", os("env-state")),
            ("VELLUM_WITNESS_LISTEN", os("127.0.0.1:7002")),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("logs = \"file-logs\""), "{printed}");
    assert!(printed.contains("state = \"flag-state\""), "{printed}");
    assert!(printed.contains("listen = \"127.0.0.1:7002\""), "{printed}");
    // Nothing set: the witness's default address.
    let out = vellum_env(&[os("config"), os("print"), os("witness")], &[]);
    assert_eq!(stdout(&out), "listen = \"127.0.0.1:6965\"\n");
    // A bad variable is named.
    let out = vellum_env(
        &[os("config"), os("print"), os("signer")],
        &[("VELLUM_SIGNER_LISTEN", os("nowhere"))],
    );
    assert_fails(&out, 2, &["VELLUM_SIGNER_LISTEN"]);
}

#[test]
fn a_signer_runs_from_its_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vkey = keygen(d, "example.com/configured", false);
    let key = d.join("example.com_configured.key");
    let journal = d.join("journal");
    let config = d.join("signer.toml");
    // The file's key does not exist: the environment's replaces it. The
    // file's socket is replaced by the flag's.
    std::fs::write(
        &config,
        format!(
            "journal = {:?}\nkey = {:?}\nlisten = \"unix:{}\"\n",
            journal.to_str().unwrap(),
            d.join("no-such.key").to_str().unwrap(),
            d.join("file.sock").display()
        ),
    )
    .unwrap();
    let socket = d.join("flag.sock");
    let listen = format!("unix:{}", socket.display());
    let signer = Daemon::start_env(
        &[
            os("signer"),
            os("--config"),
            config.as_os_str(),
            os("--listen"),
            os(&listen),
        ],
        &[("VELLUM_SIGNER_KEY", key.as_os_str())],
    );
    assert_eq!(signer.field("vkey"), vkey);
    assert_eq!(signer.field("listen"), listen);
    assert_eq!(Path::new(&signer.field("journal")), journal);
    assert_eq!(terminate(signer).code(), Some(0));
    // --list needs only the journal, which the file gives.
    let out = vellum_env(
        &[
            os("signer"),
            os("--config"),
            config.as_os_str(),
            os("--list"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Without a journal anywhere, the error says where to give one.
    let out = vellum_env(&[os("signer"), os("--list")], &[]);
    assert_fails(&out, 2, &["journal is not set"]);
    assert!(
        stderr(&out).contains("VELLUM_SIGNER_JOURNAL"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_witness_runs_from_its_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log_vkey = keygen(d, "example.com/log", false);
    let witness_vkey = keygen(d, "witness.example.org", true);
    let logs = d.join("logs");
    std::fs::write(&logs, format!("log {log_vkey}\n")).unwrap();
    let config = d.join("witness.toml");
    std::fs::write(
        &config,
        format!(
            "logs = {:?}\nstate = {:?}\nkey = {:?}\nlisten = \"127.0.0.1:1\"\n",
            logs.to_str().unwrap(),
            d.join("file-state").to_str().unwrap(),
            d.join("witness.example.org.key").to_str().unwrap(),
        ),
    )
    .unwrap();
    let state = d.join("env-state");
    let witness = Daemon::start_env(
        &[
            os("witness"),
            os("--config"),
            config.as_os_str(),
            os("--listen"),
            os("127.0.0.1:0"),
        ],
        &[("VELLUM_WITNESS_STATE", state.as_os_str())],
    );
    assert_eq!(witness.field("vkey"), witness_vkey);
    let http = witness.field("http");
    assert!(
        http.starts_with("http://127.0.0.1:") && !http.ends_with(":1") && !http.ends_with(":0"),
        "{}",
        witness.banner
    );
    assert_eq!(Path::new(&witness.field("state")), state);
    assert_eq!(terminate(witness).code(), Some(0));
    assert!(state.is_dir() && !d.join("file-state").exists());
    // --list with the same settings: the log, nothing cosigned yet.
    let out = vellum_env(
        &[
            os("witness"),
            os("--config"),
            config.as_os_str(),
            os("--list"),
        ],
        &[("VELLUM_WITNESS_STATE", state.as_os_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "example.com/log 0 -\n");
}

#[test]
fn the_helps_say_where_settings_come_from() {
    for args in [
        ["config", "print", "signer", "--help"],
        ["config", "print", "witness", "--help"],
    ] {
        let out = process::vellum(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = stdout(&out);
        assert!(
            help.contains("Exit status:") && help.contains("--config"),
            "{args:?}: {help}"
        );
    }
    for (command, var) in [
        ("signer", "VELLUM_SIGNER_JOURNAL"),
        ("witness", "VELLUM_WITNESS_LOGS"),
    ] {
        let help = stdout(&process::vellum([command, "--help"]));
        assert!(help.contains("--config") && help.contains(var), "{help}");
    }
    let help = stdout(&process::vellum(["config", "check", "--help"]));
    assert!(help.contains("--for") && help.contains("witness"), "{help}");
}
