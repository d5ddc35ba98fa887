//! Shared by the tlog-tiles tests: a server with HTTP, the vector tree's
//! entries, HTTP GETs, and a static web server nobody here wrote.

#![allow(dead_code)]

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use vellum_log::{Log, Wait};
use vellum_server::Running;
use vellum_server::export::ExportOptions;
use vellum_testkit::TestServer;

/// The origin of the test logs.
pub const ORIGIN: &str = "example.com/vellum-test";
/// The vector tree's size.
pub const VECTOR_SIZE: u64 = 66_536;

/// Leaf `i` of the vector tree (`testdata/vectors/README.md`).
pub fn entry(i: u64) -> Bytes {
    Bytes::from(format!("vellum test entry {i}"))
}

/// `testdata/vectors/tiles`, found from this crate, never by absolute path.
pub fn vectors() -> PathBuf {
    vellum_testkit::vectors::tiles()
}

/// A log in `dir` with gRPC and HTTP on free loopback ports.
pub async fn server(dir: &Path, export: Option<ExportOptions>) -> Running {
    TestServer::builder(dir)
        .http()
        .origin(ORIGIN)
        .with(|o| o.export = export)
        .start()
        .await
        .running
}

/// Appends entries `from..to` in calls of at most `batch`, each waiting for
/// its checkpoint, so that a checkpoint is published at the end of each.
pub async fn append(log: &Log, from: u64, to: u64, batch: u64) {
    let mut i = from;
    while i < to {
        let end = (i + batch).min(to);
        let r = log
            .append((i..end).map(entry).collect(), Wait::Checkpoint)
            .await
            .unwrap();
        assert_eq!(r.results[0].index.get(), i);
        i = end;
    }
    assert_eq!(log.published().unwrap().size.get(), to);
}

/// A GET's status, headers and body.
pub struct Got {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn get(client: &reqwest::Client, url: &str) -> Got {
    let r = client.get(url).send().await.unwrap();
    Got {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap(),
    }
}

/// Every file under `dir`, as paths relative to it.
pub fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// A static web server for a folder: Python's `http.server` (a web server
/// nobody here wrote) if `python3` is installed, else a minimal file server.
pub struct StaticServer {
    pub url: String,
    child: Option<Child>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl StaticServer {
    pub async fn start(dir: &Path) -> StaticServer {
        let python = Command::new("python3")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if python {
            let port = StdListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("python3")
                .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
                .arg(dir)
                .arg(port.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let server = StaticServer {
                url: format!("http://127.0.0.1:{port}/"),
                child: Some(child),
                task: None,
            };
            for _ in 0..200 {
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return server;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("python3 -m http.server did not start on port {port}");
        }
        eprintln!("python3 not found: serving the export with a minimal file server");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let root = dir.to_path_buf();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let root = root.clone();
            async move {
                let rel = uri.path().trim_start_matches('/');
                if rel.split('/').any(|c| c == ".." || c.is_empty()) {
                    return Err(axum::http::StatusCode::BAD_REQUEST);
                }
                tokio::fs::read(root.join(rel))
                    .await
                    .map_err(|_| axum::http::StatusCode::NOT_FOUND)
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StaticServer {
            url,
            child: None,
            task: Some(task),
        }
    }
}
