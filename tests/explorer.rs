//! The web explorer in headless Chromium, against real processes: `vellum
//! serve --log-kind events --http ...` whose checkpoints a `vellum witness`
//! cosigns, with events recorded by `vellum record`. Chromium loads the
//! page with its state in the URL fragment and prints the DOM once the
//! page has finished (`#status[data-state=done]`); the tests read it:
//!
//! * the checkpoint (origin, size) and the witness's cosignature with its
//!   age;
//! * a resource's history found through `GET /events`;
//! * "verify in this browser" succeeding for a real entry, with the vkey
//!   given in the URL;
//! * the same verification failing, naming the root, when a proxy between
//!   the browser and the log changes one byte of a hash tile (and
//!   succeeding through the same proxy when it changes nothing).
//!
//! Screenshots go to `<target>/explorer-screenshots/` (the path is
//! printed). Chromium is Debian's `chromium`: when it is missing the test
//! installs it with apt-get if it runs as root, and otherwise says why on
//! stderr and passes without checking anything.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tempfile::TempDir;
use vellum_testkit::process::{Daemon, Server, keygen, stderr};

const ORIGIN: &str = "example.com/audit";
const WITNESS: &str = "witness.example.org";

/// The events recorded: (actor, action, resource). permission/doc-7 is
/// at indices 0, 2 and 4.
const EVENTS: &[(&str, &str, &str)] = &[
    ("alice", "permission.grant", "permission/doc-7"),
    ("bob", "document.read", "document/doc-9"),
    ("alice", "permission.revoke", "permission/doc-7"),
    ("carol", "document.update", "document/doc-9"),
    ("alice", "permission.grant", "permission/doc-7"),
];

// ---- Chromium ----

/// Debian's `chromium`, installed first if it is missing and this test
/// may (root, apt-get); `None` (with the reason on stderr) if not.
fn chromium() -> Option<PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            if let Some(p) = on_path("chromium") {
                return Some(p);
            }
            let root = Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
            if !root || on_path("apt-get").is_none() {
                eprintln!(
                    "SKIPPED: the explorer's browser tests need Debian's `chromium`, which is not \
                     installed, and this test cannot install it (it needs root and apt-get); \
                     run `apt-get install chromium`"
                );
                return None;
            }
            eprintln!("installing chromium with apt-get for the explorer's browser tests");
            for args in [
                &["update", "-qq"][..],
                &["install", "-y", "-qq", "chromium"],
            ] {
                let out = Command::new("apt-get")
                    .args(args)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "apt-get {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Some(on_path("chromium").expect("chromium on the PATH after apt-get install"))
        })
        .clone()
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// The page's DOM once it says it is done. Chromium stops after a budget
/// of virtual time; a page still at work then is loaded again with a
/// larger budget.
fn load_dom(chromium: &Path, url: &str) -> String {
    let profile = TempDir::new().unwrap();
    let mut budget = 10_000;
    for _ in 0..5 {
        let out = headless(chromium, profile.path())
            .arg(format!("--virtual-time-budget={budget}"))
            .args(["--dump-dom", url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "chromium --dump-dom {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dom = String::from_utf8(out.stdout).unwrap();
        if dom.contains("data-state=\"done\"") {
            return dom;
        }
        budget *= 2;
    }
    panic!("the explorer at {url} never finished loading");
}

/// A screenshot of the page into `<target>/explorer-screenshots/<name>`.
fn screenshot(chromium: &Path, url: &str, name: &str) -> PathBuf {
    let dir = target_dir().join("explorer-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    let profile = TempDir::new().unwrap();
    let out = headless(chromium, profile.path())
        .args(["--virtual-time-budget=20000", "--window-size=1280,1800"])
        .arg(format!("--screenshot={}", file.display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success() && file.is_file(),
        "chromium --screenshot {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("screenshot: {}", file.display());
    file
}

/// `<target>`: tests run from `<target>/<profile>/deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

// ---- reading the DOM ----

/// The start tag of the element with `id`, and its text up to the next
/// tag.
fn element<'a>(dom: &'a str, id: &str) -> (&'a str, &'a str) {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"));
    let start = dom[..at].rfind('<').unwrap();
    let end = at + dom[at..].find('>').unwrap();
    let text_end = end + dom[end..].find('<').unwrap();
    (&dom[start..=end], &dom[end + 1..text_end])
}

fn text<'a>(dom: &'a str, id: &str) -> &'a str {
    element(dom, id).1
}

/// The part of the page from the element with `id` to the element with
/// `until`.
fn between<'a>(dom: &'a str, id: &str, until: &str) -> &'a str {
    let from = dom.find(&format!("id=\"{id}\"")).unwrap();
    let to = from + dom[from..].find(&format!("id=\"{until}\"")).unwrap();
    &dom[from..to]
}

/// The verdict: its `data-result` and its text.
fn verdict(dom: &str) -> (String, String) {
    let (tag, text) = element(dom, "verdict");
    let result = tag
        .split("data-result=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    (result.to_owned(), text.to_owned())
}

/// `s` for a URL fragment: a vkey's `+`, `/` and `=` escaped.
fn fragment_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- the deployment ----

/// A log that a witness cosigns, with [`EVENTS`] recorded.
struct Deployment {
    _dir: TempDir,
    _witness: Daemon,
    _server: Server,
    vkey: String,
    witness_vkey: String,
    /// `http://<tiles address>/`.
    http: String,
}

async fn deployment() -> Deployment {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let vkey = keygen(d, ORIGIN, false);
    let witness_vkey = keygen(d, WITNESS, true);
    let logs = d.join("witnessed-logs");
    std::fs::write(&logs, format!("log {vkey}\n")).unwrap();
    let witness = Daemon::start_ok(&[
        "witness".as_ref(),
        "--logs".as_ref(),
        logs.as_os_str(),
        "--state".as_ref(),
        d.join("witness-state").as_os_str(),
        "--key".as_ref(),
        d.join(format!("{WITNESS}.key")).as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    let policy = d.join("policy");
    std::fs::write(
        &policy,
        format!(
            "log {vkey}\nwitness w {witness_vkey} {}\nquorum w\n",
            witness.field("http")
        ),
    )
    .unwrap();
    let key = d.join("example.com_audit.key");
    let server = Server::start_ok(
        &d.join("data"),
        &[
            OsStr::new("--key"),
            key.as_os_str(),
            OsStr::new("--log-kind"),
            OsStr::new("events"),
            OsStr::new("--http"),
            OsStr::new("127.0.0.1:0"),
            OsStr::new("--witness-policy"),
            policy.as_os_str(),
            OsStr::new("--require-witness-quorum"),
        ],
    );
    assert_eq!(server.vkey, vkey);
    for (actor, action, resource) in EVENTS {
        let out = server.run(&[
            "record",
            "--actor",
            actor,
            "--action",
            action,
            "--resource",
            resource,
            "--wait",
            "checkpoint",
            "--vkey",
            &vkey,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let http = server.field("tiles");
    // The checkpoint of every event, cosigned.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + vellum_testkit::DEADLINE;
    loop {
        let note = client
            .get(format!("{http}checkpoint"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let size = note.lines().nth(1).unwrap_or_default();
        if size == EVENTS.len().to_string() && note.contains(&format!("\u{2014} {WITNESS} ")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no cosigned checkpoint of size {}: {note}",
            EVENTS.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Deployment {
        _dir: dir,
        _witness: witness,
        _server: server,
        vkey,
        witness_vkey,
        http,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_shows_the_checkpoint_finds_a_resource_and_verifies_an_entry() {
    let Some(chromium) = chromium() else { return };
    let d = deployment().await;
    let page = format!("{}explorer/", d.http);

    // The checkpoint and its witness.
    let dom = tokio::task::spawn_blocking({
        let (c, u) = (chromium.clone(), page.clone());
        move || load_dom(&c, &u)
    })
    .await
    .unwrap();
    assert_eq!(text(&dom, "cp-origin"), ORIGIN);
    assert_eq!(text(&dom, "cp-size"), EVENTS.len().to_string());
    let sigs = between(&dom, "cp-signatures", "verify");
    assert!(
        sigs.contains(&format!("data-name=\"{ORIGIN}\"")),
        "no log signature listed: {sigs}"
    );
    let witness_row = sigs
        .split("<tr")
        .find(|r| r.contains(&format!("data-name=\"{WITNESS}\"")))
        .unwrap_or_else(|| panic!("no cosignature of {WITNESS} listed: {sigs}"));
    assert!(witness_row.contains("cosignature/v1"), "{witness_row}");
    assert!(witness_row.contains(" ago<"), "no age: {witness_row}");
    // The newest entries are listed, as events.
    let entries = between(&dom, "entries-body", "footer");
    assert!(entries.contains("data-index=\"4\""), "{entries}");
    assert!(entries.contains("permission.grant"), "{entries}");

    // A resource's history.
    let url = format!("{page}#resource=permission/doc-7");
    let dom = tokio::task::spawn_blocking({
        let c = chromium.clone();
        move || load_dom(&c, &url)
    })
    .await
    .unwrap();
    let found = between(&dom, "search-results", "entries");
    assert!(text(&dom, "search-count").starts_with("3 events for resource permission/doc-7"));
    let listed: Vec<&str> = found
        .split("class=\"hit\" data-index=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert_eq!(listed, ["4", "2", "0"], "{found}");

    // Verification in the browser, with the log's and the witness's keys.
    let url = format!(
        "{page}#entry=2&verify=1&vkey={}&witness={}",
        fragment_value(&d.vkey),
        fragment_value(&d.witness_vkey)
    );
    let dom = tokio::task::spawn_blocking({
        let (c, u) = (chromium.clone(), url.clone());
        move || load_dom(&c, &u)
    })
    .await
    .unwrap();
    let (result, said) = verdict(&dom);
    assert_eq!(
        result,
        "ok",
        "{said}\n{}",
        between(&dom, "steps", "verdict")
    );
    assert!(
        said.contains(&format!(
            "Entry 2 is in the tree of size {} that {ORIGIN} signed, cosigned by {WITNESS}.",
            EVENTS.len()
        )),
        "{said}"
    );
    let steps = between(&dom, "steps", "verdict");
    assert!(steps.contains("Witness cosignature"), "{steps}");
    assert!(steps.contains("verified with WebCrypto"), "{steps}");
    assert!(!steps.contains("class=\"fail\""), "{steps}");
    // The entry itself is shown, as JSON.
    assert!(text(&dom, "entry-json").contains("\"permission.revoke\""));

    // A wrong key is a failure that says so.
    let other = keygen(d._dir.path(), "other.example/log", false);
    let url = format!("{page}#entry=2&verify=1&vkey={}", fragment_value(&other));
    let dom = tokio::task::spawn_blocking({
        let c = chromium.clone();
        move || load_dom(&c, &url)
    })
    .await
    .unwrap();
    let (result, said) = verdict(&dom);
    assert_eq!(result, "fail", "{said}");
    assert!(
        said.contains("but the key is for \"other.example/log\""),
        "{said}"
    );

    let file = tokio::task::spawn_blocking(move || {
        screenshot(&chromium, &url_of_shot(&page, &d), "verified.png")
    })
    .await
    .unwrap();
    assert!(std::fs::metadata(file).unwrap().len() > 10_000);
}

/// The page as the README shows it: entry 2 verified, doc-7's history.
fn url_of_shot(page: &str, d: &Deployment) -> String {
    format!(
        "{page}#entry=2&verify=1&vkey={}&witness={}&resource=permission/doc-7",
        fragment_value(&d.vkey),
        fragment_value(&d.witness_vkey)
    )
}

// ---- a proxy that changes one byte ----

/// Forwards every request to the log; while `flip` is set, changes one
/// byte of every level-0 hash tile it passes on.
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    flip: AtomicBool,
    flipped: AtomicUsize,
    paths: Mutex<Vec<String>>,
}

/// Which byte: inside the second leaf hash of the tile (entry 1's), which
/// every inclusion proof of entries 0 and 2 to 4 of a 5-entry tree uses.
const FLIP_AT: usize = 32 + 7;

async fn forward(State(p): State<Arc<Proxy>>, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let r = match p
        .http
        .get(format!("{}{}", p.upstream, path.trim_start_matches('/')))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = r.status();
    let content_type = r.headers().get(header::CONTENT_TYPE).cloned();
    let mut body = r.bytes().await.unwrap().to_vec();
    p.paths.lock().unwrap().push(uri.path().to_owned());
    if p.flip.load(Ordering::SeqCst) && uri.path().starts_with("/tile/0/") && body.len() > FLIP_AT {
        body[FLIP_AT] ^= 0x01;
        p.flipped.fetch_add(1, Ordering::SeqCst);
    }
    let mut out = (StatusCode::from_u16(status.as_u16()).unwrap(), body).into_response();
    if let Some(ct) = content_type {
        out.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    out.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    out
}

async fn start_proxy(upstream: &str) -> (Arc<Proxy>, String) {
    let proxy = Arc::new(Proxy {
        upstream: upstream.to_owned(),
        http: reqwest::Client::new(),
        flip: AtomicBool::new(false),
        flipped: AtomicUsize::new(0),
        paths: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (proxy, format!("http://{addr}/"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_fails_when_a_tile_has_one_changed_byte() {
    let Some(chromium) = chromium() else { return };
    let d = deployment().await;
    let (proxy, base) = start_proxy(&d.http).await;
    let url = format!(
        "{base}explorer/#entry=3&verify=1&vkey={}",
        fragment_value(&d.vkey)
    );
    let run = |url: String| {
        let c = chromium.clone();
        tokio::task::spawn_blocking(move || load_dom(&c, &url))
    };

    // Through the proxy, unchanged: verified (the proxy alone changes
    // nothing), and the page read the hash tile through it.
    let dom = run(url.clone()).await.unwrap();
    let (result, said) = verdict(&dom);
    assert_eq!(result, "ok", "{said}");
    assert!(
        proxy
            .paths
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.starts_with("/tile/0/")),
        "the page read no hash tile through the proxy"
    );

    // One byte changed in the hash tile: the root does not come out.
    proxy.flip.store(true, Ordering::SeqCst);
    let dom = run(url.clone()).await.unwrap();
    let (result, said) = verdict(&dom);
    assert!(
        proxy.flipped.load(Ordering::SeqCst) > 0,
        "the proxy changed no tile"
    );
    assert_eq!(result, "fail", "{said}");
    assert!(
        said.contains("leads to root") && said.contains("but the signed checkpoint's root is"),
        "{said}"
    );
    let steps = between(&dom, "steps", "verdict");
    assert!(
        steps.contains("Checkpoint signature"),
        "the signature still verifies: {steps}"
    );
    let shot = format!(
        "{base}explorer/#entry=3&verify=1&vkey={}",
        fragment_value(&d.vkey)
    );
    tokio::task::spawn_blocking(move || screenshot(&chromium, &shot, "tampered-tile.png"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_log_has_its_own_explorer() {
    let Some(chromium) = chromium() else { return };
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let cfg = d.join("vellum.toml");
    std::fs::write(
        &cfg,
        format!(
            "data = {:?}\n\n[[logs]]\nname = \"tenant-a\"\nkind = \"events\"\norigin = \"example.com/tenant-a\"\n",
            d.join("data").to_str().unwrap()
        ),
    )
    .unwrap();
    let server = Server::start_ok(
        &d.join("data"),
        &["--config", cfg.to_str().unwrap(), "--http", "127.0.0.1:0"],
    );
    for (actor, action, resource) in EVENTS {
        let out = server.run(&[
            "record",
            "--log",
            "tenant-a",
            "--actor",
            actor,
            "--action",
            action,
            "--resource",
            resource,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let vkey = std::fs::read_to_string(d.join("data/logs/tenant-a/log.vkey")).unwrap();
    let page = format!("{}logs/tenant-a/explorer/", server.field("tiles"));
    let url = format!(
        "{page}#entry=4&verify=1&vkey={}&actor=carol",
        fragment_value(vkey.trim())
    );
    // The events were recorded durably: the checkpoint of all of them
    // comes a moment later, so load until the page shows it.
    let deadline = Instant::now() + vellum_testkit::DEADLINE;
    let dom = loop {
        let dom = tokio::task::spawn_blocking({
            let (c, u) = (chromium.clone(), url.clone());
            move || load_dom(&c, &u)
        })
        .await
        .unwrap();
        if text(&dom, "cp-size") == EVENTS.len().to_string() {
            break dom;
        }
        assert!(Instant::now() < deadline, "no checkpoint of every event");
    };
    assert_eq!(text(&dom, "cp-origin"), "example.com/tenant-a");
    let (result, said) = verdict(&dom);
    assert_eq!(result, "ok", "{said}");
    let found = between(&dom, "search-results", "entries");
    assert!(
        text(&dom, "search-count").starts_with("1 event for actor carol"),
        "{found}"
    );
    assert!(found.contains("class=\"hit\" data-index=\"3\""), "{found}");
}
