//! The real `vellum` binary as a child process.
//!
//! * [`vellum`] and [`vellum_stdin`] run a one-shot command to its end.
//! * [`Daemon`] is a long-running one (`serve`, `witness`, `signer`): its
//!   stderr is read on a thread for the process's whole life (a full pipe
//!   would block it), and [`Daemon::start`] returns once the banner's
//!   `stop:` line is out, which every long-running command prints last,
//!   after binding its address.
//! * [`Server`] is a `vellum serve` with the address and vkey its banner
//!   gave.
//!
//! The binary is the one this workspace builds ([`bin`]): never a stale
//! one. Every command runs without the caller's
//! `VELLUM_*` environment, so a developer's settings cannot change a test.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use crate::DEADLINE;

/// The `vellum` binary of this workspace.
///
/// `cargo test --workspace` (what `scripts/test` runs) builds it beside the
/// test binaries, and that copy is used. Where it is missing or older than
/// a source file of the workspace (a run of one package after an edit), it
/// is built first with `cargo build -p vellum-cli`, so that no test ever
/// runs a stale binary.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(find_bin)
}

fn find_bin() -> PathBuf {
    // Tests run from <target>/<profile>/deps/<test>: the profile folder is
    // two up, and it is where cargo puts the binary.
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in <target>/<profile>/deps");
    let bin = profile_dir.join("vellum");
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if built.is_some_and(|t| !sources_changed_since(&workspace, t)) {
        return bin;
    }
    let release = profile_dir.file_name() == Some(OsStr::new("release"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", "vellum-cli", "--bin", "vellum"])
        .current_dir(&workspace);
    if release {
        build.arg("--release");
    }
    // Into the folder this test binary was built in, even where
    // CARGO_TARGET_DIR is not set in this process.
    if let Some(target) = profile_dir.parent() {
        build.env("CARGO_TARGET_DIR", target);
    }
    let out = build
        .output()
        .expect("run cargo to build the vellum binary");
    assert!(
        out.status.success(),
        "cargo build -p vellum-cli failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(bin.is_file(), "no vellum binary at {}", bin.display());
    bin
}

/// Whether what the binary is built from changed after `than`: a crate's
/// manifest or a file under its `src/`, the `.proto` files, the lock file.
fn sources_changed_since(workspace: &Path, than: std::time::SystemTime) -> bool {
    let newer = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t > than)
    };
    let Ok(crates) = std::fs::read_dir(workspace.join("crates")) else {
        return true;
    };
    newer(&workspace.join("Cargo.lock"))
        || newer_under(&workspace.join("proto"), &newer)
        || crates.flatten().any(|c| {
            // The kit itself is not in the binary.
            c.file_name() != "vellum-testkit"
                && (newer(&c.path().join("Cargo.toml"))
                    || newer_under(&c.path().join("src"), &newer))
        })
}

/// Whether a file under `dir` is `newer`.
fn newer_under(dir: &Path, newer: &impl Fn(&Path) -> bool) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| match e.file_type() {
        Ok(t) if t.is_dir() => newer_under(&e.path(), newer),
        Ok(_) => newer(&e.path()),
        Err(_) => false,
    })
}

/// `vellum` with no `VELLUM_*` variable of the caller's and `VELLUM_LOG=warn`,
/// stdin from /dev/null, stdout to /dev/null and stderr piped: the start
/// of every [`Daemon`].
pub fn command() -> Command {
    let mut cmd = Command::new(bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VELLUM_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("VELLUM_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `vellum <args>` with an empty stdin, to its end.
pub fn vellum<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    vellum_stdin(args, b"")
}

/// Runs `vellum <args>`, feeding it `stdin`, to its end.
pub fn vellum_stdin<I, S>(args: I, stdin: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = command();
    cmd.args(args);
    run(cmd, stdin)
}

/// Runs a prepared command (from [`command`]) to its end, feeding it
/// `stdin`; stdout and stderr are captured.
pub fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
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

/// The captured stdout, lossily decoded.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The captured stderr, lossily decoded.
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

/// Reads `pipe` line by line on its own thread, for as long as it is
/// open: a full pipe would block the process writing to it.
pub fn line_reader(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

/// A long-running `vellum` process, killed when dropped (a failed test
/// leaves nothing behind).
#[derive(Debug)]
pub struct Daemon {
    /// The process.
    pub child: Child,
    /// Its stderr up to the banner's `stop:` line (empty for
    /// [`Daemon::spawn`]).
    pub banner: String,
    lines: mpsc::Receiver<String>,
}

/// How a start ended.
#[derive(Debug)]
pub enum Started<T> {
    /// Serving, its banner read.
    Up(T),
    /// Exited before its banner was out: its status and stderr.
    Refused(ExitStatus, String),
}

impl<T> Started<T> {
    /// The running process; fails the test if it refused to start.
    #[track_caller]
    pub fn expect_up(self) -> T {
        match self {
            Started::Up(t) => t,
            Started::Refused(status, err) => {
                panic!("vellum refused to start ({status}):\n{err}")
            }
        }
    }
}

impl Daemon {
    /// Starts `cmd` (from [`command`]) without waiting for anything.
    pub fn spawn(mut cmd: Command) -> Daemon {
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("start vellum");
        let lines = line_reader(child.stderr.take().expect("stderr is piped"));
        Daemon {
            child,
            banner: String::new(),
            lines,
        }
    }

    /// Starts `cmd` and reads stderr up to the banner's `stop:` line, or
    /// until the process exits (then [`Started::Refused`] with all it
    /// printed).
    pub fn start(cmd: Command) -> Started<Daemon> {
        let mut d = Daemon::spawn(cmd);
        let deadline = Instant::now() + DEADLINE;
        while !d
            .banner
            .lines()
            .any(|l| l.trim_start().starts_with("stop:"))
        {
            match d.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => {
                    d.banner.push_str(&line);
                    d.banner.push('\n');
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = d.child.try_wait().expect("poll vellum") {
                        // Whatever is left in the pipe, then the verdict.
                        while let Ok(l) = d.lines.recv_timeout(Duration::from_secs(2)) {
                            d.banner.push_str(&l);
                            d.banner.push('\n');
                        }
                        return Started::Refused(status, std::mem::take(&mut d.banner));
                    }
                    assert!(
                        Instant::now() < deadline,
                        "no banner from vellum; stderr so far:\n{}",
                        d.banner
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = d.child.wait().expect("wait for vellum");
                    return Started::Refused(status, std::mem::take(&mut d.banner));
                }
            }
        }
        Started::Up(d)
    }

    /// `vellum <args>` as a daemon (see [`command`]), failing the test if
    /// it does not start.
    #[track_caller]
    pub fn start_ok(args: &[&OsStr]) -> Daemon {
        let mut cmd = command();
        cmd.args(args);
        Daemon::start(cmd).expect_up()
    }

    /// As [`Daemon::start_ok`], with `env` set.
    #[track_caller]
    pub fn start_env(args: &[&OsStr], env: &[(&str, &OsStr)]) -> Daemon {
        let mut cmd = command();
        cmd.args(args).envs(env.iter().copied());
        Daemon::start(cmd).expect_up()
    }

    /// The first word after the banner line `<label>:`.
    #[track_caller]
    pub fn field(&self, label: &str) -> String {
        self.banner
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(&format!("{label}:")))
            .unwrap_or_else(|| panic!("no {label}: in {}", self.banner))
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("{label}: is empty in {}", self.banner))
            .to_owned()
    }

    /// The next line of stderr after the banner, if one comes within
    /// `timeout`.
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// SIGKILL: no clean-up of any kind, as a power cut or the OOM killer.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL vellum");
        self.child.wait().expect("reap vellum");
    }

    /// SIGTERM, then waits for the exit; returns the status and the rest
    /// of stderr.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("poll vellum") {
                break s;
            }
            assert!(Instant::now() < deadline, "vellum did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        // The rest of stderr, up to its end (the reader stops at EOF).
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            rest.push(line);
        }
        (status, rest.join("\n"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `vellum serve` and what its banner said.
#[derive(Debug)]
pub struct Server {
    /// `http://<gRPC address>`, from the banner's `gRPC:` line.
    pub url: String,
    /// The log's vkey, from the banner's `vkey:` line.
    pub vkey: String,
    daemon: Daemon,
}

impl Deref for Server {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}

impl Server {
    /// `vellum serve --data <data> [--listen 127.0.0.1:0] <extra...>`: a
    /// free loopback port unless `extra` has its own `--listen`.
    pub fn command<S: AsRef<OsStr>>(data: &Path, extra: &[S]) -> Command {
        let mut cmd = command();
        cmd.args(["serve".as_ref(), "--data".as_ref(), data.as_os_str()]);
        if !extra.iter().any(|a| a.as_ref() == "--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(extra);
        cmd
    }

    /// Starts `vellum serve` on `data` with `extra` arguments (see
    /// [`Server::command`]) and waits for its banner, or for it to exit.
    pub fn start<S: AsRef<OsStr>>(data: &Path, extra: &[S]) -> Started<Server> {
        Server::start_command(Server::command(data, extra))
    }

    /// As [`Server::start`], failing the test if the server refuses.
    #[track_caller]
    pub fn start_ok<S: AsRef<OsStr>>(data: &Path, extra: &[S]) -> Server {
        Server::start(data, extra).expect_up()
    }

    /// Starts a prepared `vellum serve` command and waits for its banner.
    pub fn start_command(cmd: Command) -> Started<Server> {
        match Daemon::start(cmd) {
            Started::Refused(s, e) => Started::Refused(s, e),
            Started::Up(daemon) => Started::Up(Server {
                url: daemon.field("gRPC"),
                vkey: daemon.field("vkey"),
                daemon,
            }),
        }
    }

    /// Starts `vellum serve` on `data` with `extra` arguments and SIGKILLs
    /// it after `delay`, whatever it is doing by then (opening the store,
    /// the start-up checks, signing the first checkpoint, serving).
    /// Returns how it had exited on its own, if it had.
    pub fn start_and_kill<S: AsRef<OsStr>>(
        data: &Path,
        extra: &[S],
        delay: Duration,
    ) -> Option<ExitStatus> {
        let mut d = Daemon::spawn(Server::command(data, extra));
        std::thread::sleep(delay);
        let exited = d.child.try_wait().expect("poll vellum serve");
        let _ = d.child.kill();
        d.child.wait().expect("reap vellum serve");
        exited
    }

    /// SIGKILL (see [`Daemon::kill`]).
    pub fn kill(self) {
        self.daemon.kill();
    }

    /// SIGTERM and the exit (see [`Daemon::terminate`]).
    pub fn terminate(self) -> (ExitStatus, String) {
        self.daemon.terminate()
    }

    /// Runs `vellum <args> --server <url>` to its end.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let mut all: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
        all.extend([OsStr::new("--server"), OsStr::new(&self.url)]);
        vellum(all)
    }
}

/// `vellum keygen --origin <name> --out <dir>/<name>.key [--witness]`;
/// returns the vkey it printed. `/` in the name becomes `_` in the file's.
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
