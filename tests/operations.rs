//! What an operator runs into, with the real `vellum serve`: its logs as
//! JSON lines (`--log-format json`: every line parses, request lines name
//! the log, the request id and the submitter, no token ever appears), and
//! rotation without a restart (SIGHUP: a new token file holds from the next
//! call, on open connections too; a new TLS certificate and client CA from
//! the next handshake, open connections stay; a bad file changes nothing
//! and is logged as an error).

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::Value;
use tempfile::TempDir;
use tonic::transport::Channel;
use vellum_proto::v1 as pb;
use vellum_proto::v1::log_client::LogClient;
use vellum_server::access::token_hash_hex;
use vellum_testkit::DEADLINE;
use vellum_testkit::process::{Daemon, Server};

/// `vellum serve --log-format json` (and `extra`), every line of its
/// stderr kept.
struct JsonServer {
    daemon: Daemon,
    lines: Vec<String>,
    /// The banner event's fields.
    banner: Value,
}

impl JsonServer {
    fn start(data: &Path, extra: &[&OsStr]) -> JsonServer {
        let mut args: Vec<&OsStr> = vec!["--log-format".as_ref(), "json".as_ref()];
        args.extend_from_slice(extra);
        let mut cmd = Server::command(data, &args);
        // Debug: the most that anyone would turn on in production, so the
        // test sees whatever a secret could leak into.
        cmd.env("VELLUM_LOG", "debug");
        let mut s = JsonServer {
            daemon: Daemon::spawn(cmd),
            lines: Vec::new(),
            banner: Value::Null,
        };
        s.banner = s.wait_for("the banner", |v| v["message"] == "serving");
        s
    }

    /// A field of the banner event.
    fn field(&self, name: &str) -> String {
        self.banner[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in the banner {}", self.banner))
            .to_owned()
    }

    /// The first line from the `from`-th on (read already, or read now)
    /// that is a JSON object matching `pred`; fails the test if the
    /// process ends first.
    fn wait_for_from(&mut self, from: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let matches = |line: &str| serde_json::from_str::<Value>(line).ok().filter(|v| pred(v));
        if let Some(v) = self.lines.iter().skip(from).find_map(|l| matches(l)) {
            return v;
        }
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            let Some(line) = self.daemon.next_line(Duration::from_millis(100)) else {
                if let Some(status) = self.daemon.child.try_wait().unwrap() {
                    panic!(
                        "vellum serve exited ({status}) before {what}:\n{}",
                        self.lines.join("\n")
                    );
                }
                continue;
            };
            self.lines.push(line.clone());
            if let Some(v) = matches(&line) {
                return v;
            }
        }
        panic!("no {what} in:\n{}", self.lines.join("\n"));
    }

    /// The first line of all matching `pred` (see [`JsonServer::wait_for_from`]).
    fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_from(0, what, pred)
    }

    /// The request line of the call with id `id`.
    fn request_line(&mut self, id: &str) -> Value {
        self.wait_for(&format!("the request line of {id}"), |v| {
            v["target"] == "vellum::request" && v["request_id"] == id
        })
    }

    /// SIGHUP, then the line that says how the reload of `part` went
    /// (`tokens` or `TLS`).
    fn reload(&mut self, part: &str) -> Value {
        let prefixes = [
            format!("{part} reloaded"),
            format!("{part} certificate"),
            format!("{part} unchanged"),
            format!("{part} not reloaded"),
        ];
        let from = self.lines.len();
        let pid = self.daemon.child.id().to_string();
        let sent = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(sent.success(), "kill -HUP {pid}");
        self.wait_for_from(from, &format!("the reload of {part}"), |v| {
            v["message"]
                .as_str()
                .is_some_and(|m| prefixes.iter().any(|p| m.starts_with(p.as_str())))
        })
    }

    /// SIGTERM; every line it wrote, from the first to the last.
    fn stop(self) -> Vec<String> {
        let (status, rest) = self.daemon.terminate();
        assert_eq!(status.code(), Some(0), "{rest}");
        let mut lines = self.lines;
        lines.extend(rest.lines().map(str::to_owned));
        lines
    }
}

/// A token file line for `token` with `roles`, named `name`.
fn token_line(roles: &str, token: &str, name: &str) -> String {
    format!("{roles} {} {name}\n", token_hash_hex(token))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One durable append of `entry` with `token` (if any) and the request id
/// `id` (if any): the status, and the `x-request-id` of the answer.
async fn append(
    client: &mut LogClient<Channel>,
    token: Option<&str>,
    id: Option<&str>,
    entry: &[u8],
) -> (tonic::Code, String) {
    let mut req = tonic::Request::new(pb::AppendRequest {
        entries: vec![entry.to_vec().into()],
        wait: pb::WaitFor::Durable as i32,
        request_id: 0,
    });
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    if let Some(id) = id {
        req.metadata_mut()
            .insert("x-request-id", id.parse().unwrap());
    }
    let (code, meta) = match client.append(req).await {
        Ok(res) => (tonic::Code::Ok, res.metadata().clone()),
        Err(status) => (status.code(), status.metadata().clone()),
    };
    let echoed = meta
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (code, echoed)
}

async fn connect(url: &str) -> LogClient<Channel> {
    LogClient::new(
        Channel::from_shared(url.to_owned())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
}

#[test]
fn json_logs_name_each_request_and_never_a_token() {
    let dir = TempDir::new().unwrap();
    const SECRET: &str = "s3cret-of-the-json-log-test-5b1e0c";
    const WRONG: &str = "wrong-token-of-the-json-log-test-77aa";
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, token_line("append,read,audit", SECRET, "ingest-a")).unwrap();
    let mut server = JsonServer::start(
        &dir.path().join("data"),
        &[
            "--auth".as_ref(),
            tokens.as_os_str(),
            "--http".as_ref(),
            "127.0.0.1:0".as_ref(),
        ],
    );
    let url = server.field("grpc");
    let rt = runtime();
    let mut client = rt.block_on(connect(&url));
    // The caller's id is kept and returned; without one, one is made.
    let (code, echoed) = rt.block_on(append(&mut client, Some(SECRET), Some("req-json-1"), b"a"));
    assert_eq!((code, echoed.as_str()), (tonic::Code::Ok, "req-json-1"));
    let (code, made) = rt.block_on(append(&mut client, Some(SECRET), None, b"b"));
    assert_eq!(code, tonic::Code::Ok);
    assert_eq!(made.len(), 32, "{made}");
    // An unknown token and no token: refused, still one line each.
    let (code, _) = rt.block_on(append(&mut client, Some(WRONG), Some("req-json-2"), b"c"));
    assert_eq!(code, tonic::Code::Unauthenticated);
    let (code, _) = rt.block_on(append(&mut client, None, Some("req-json-3"), b"d"));
    assert_eq!(code, tonic::Code::Unauthenticated);
    // The tiles over HTTP, with the token and an id.
    let tiles = server.field("tiles");
    let addr = tiles
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut http = TcpStream::connect(&addr).unwrap();
    let bearer = format!("Bearer {SECRET}");
    until_published(&mut http, &[("authorization", &bearer)]);
    let (status, _) = http_get(
        &mut http,
        "/checkpoint",
        &[("authorization", &bearer), ("x-request-id", "req-json-4")],
    );
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    let ok = server.request_line("req-json-1");
    assert_eq!(ok["submitter"], "ingest-a", "{ok}");
    assert_eq!(ok["log"], "default", "{ok}");
    assert_eq!(ok["method"], "/vellum.v1.Log/Append", "{ok}");
    assert_eq!(ok["status"], "OK", "{ok}");
    assert_eq!(ok["level"], "INFO", "{ok}");
    assert!(ok["duration_ms"].as_f64().unwrap() >= 0.0, "{ok}");
    assert!(
        ok["remote"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{ok}"
    );
    assert!(ok["timestamp"].is_string(), "{ok}");
    let made_line = server.request_line(&made);
    assert_eq!(made_line["submitter"], "ingest-a", "{made_line}");
    for id in ["req-json-2", "req-json-3"] {
        let denied = server.request_line(id);
        assert_eq!(denied["status"], "UNAUTHENTICATED", "{denied}");
        assert_eq!(denied["submitter"], "-", "{denied}");
    }
    let tile_line = server.request_line("req-json-4");
    assert_eq!(tile_line["method"], "GET /checkpoint", "{tile_line}");
    assert_eq!(tile_line["status"], "200", "{tile_line}");
    assert_eq!(tile_line["submitter"], "ingest-a", "{tile_line}");
    // The denial's own warning carries the request's id (its span).
    server.wait_for("the denial's warning", |v| {
        v["level"] == "WARN" && v["span"]["request_id"] == "req-json-2"
    });
    drop(client);
    drop(http);

    let lines = server.stop();
    assert!(lines.len() > 6, "{lines:?}");
    for line in &lines {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        assert!(v.is_object(), "{line}");
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        if v["target"] == "vellum::request" {
            for key in ["request_id", "log", "submitter", "method", "status"] {
                assert!(v[key].is_string(), "no {key} in {line}");
            }
        }
        for secret in [SECRET, WRONG] {
            assert!(!line.contains(secret), "a token in the log: {line}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| serde_json::from_str::<Value>(l).unwrap()["message"] == "stopped cleanly"),
        "no clean stop in the log"
    );
}

/// Asks for `/checkpoint` on `stream` until the log has published its
/// first one (a new log answers 503 until then).
fn until_published(stream: &mut impl ReadWrite, headers: &[(&str, &str)]) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, body) = http_get(stream, "/checkpoint", headers);
        if status.starts_with("HTTP/1.1 200") {
            return;
        }
        assert!(
            status.starts_with("HTTP/1.1 503") && Instant::now() < deadline,
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET path` over HTTP/1.1 on `stream` (kept alive) with `headers`: the
/// status line and the body.
fn http_get(
    stream: &mut impl ReadWrite,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, Vec<u8>) {
    let mut req = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.flush().unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert_eq!(
            n,
            1,
            "the connection closed; got {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    (head.lines().next().unwrap().to_owned(), body)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

#[test]
fn sighup_swaps_the_token_file_and_a_bad_one_changes_nothing() {
    let dir = TempDir::new().unwrap();
    const A: &str = "token-alpha-of-the-reload-test-0f3a";
    const B: &str = "token-bravo-of-the-reload-test-9c2d";
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, token_line("append", A, "alpha")).unwrap();
    let mut server = JsonServer::start(
        &dir.path().join("data"),
        &["--auth".as_ref(), tokens.as_os_str()],
    );
    let url = server.field("grpc");
    let rt = runtime();
    // One connection, opened before the reload and used across it.
    let mut open = rt.block_on(connect(&url));
    let call = |c: &mut LogClient<Channel>, t: &str, id: &str| {
        rt.block_on(append(c, Some(t), Some(id), id.as_bytes())).0
    };
    assert_eq!(call(&mut open, A, "a-before"), tonic::Code::Ok);
    assert_eq!(call(&mut open, B, "b-before"), tonic::Code::Unauthenticated);

    std::fs::write(&tokens, token_line("append", B, "bravo")).unwrap();
    let done = server.reload("tokens");
    let msg = done["message"].as_str().unwrap();
    assert!(
        msg.starts_with("tokens reloaded: 1 added (bravo), 1 removed (alpha), 0 changed"),
        "{done}"
    );
    assert_eq!(done["level"], "INFO", "{done}");
    assert_eq!(call(&mut open, B, "b-after"), tonic::Code::Ok);
    assert_eq!(call(&mut open, A, "a-after"), tonic::Code::Unauthenticated);
    let mut fresh = rt.block_on(connect(&url));
    assert_eq!(call(&mut fresh, B, "b-fresh"), tonic::Code::Ok);
    // The calls before and after came on the same connection: it stayed.
    let before = server.request_line("a-before");
    let after = server.request_line("b-after");
    assert_eq!(after["submitter"], "bravo", "{after}");
    assert_eq!(before["remote"], after["remote"], "{before} {after}");
    assert_ne!(server.request_line("b-fresh")["remote"], after["remote"]);

    // A file that cannot be used: an error naming it, B goes on.
    std::fs::write(&tokens, "append not-a-hash charlie\n").unwrap();
    let failed = server.reload("tokens");
    assert_eq!(failed["level"], "ERROR", "{failed}");
    let err = failed["error"].as_str().unwrap();
    assert!(err.contains("line 1"), "{failed}");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("the previous ones stay in force"),
        "{failed}"
    );
    assert_eq!(call(&mut open, B, "b-kept"), tonic::Code::Ok);
    assert_eq!(
        call(&mut open, A, "a-still-out"),
        tonic::Code::Unauthenticated
    );
    // A missing file too.
    std::fs::remove_file(&tokens).unwrap();
    let failed = server.reload("tokens");
    assert!(
        failed["error"].as_str().unwrap().contains("cannot read"),
        "{failed}"
    );
    assert_eq!(call(&mut fresh, B, "b-kept-2"), tonic::Code::Ok);
    drop((open, fresh));

    for line in server.stop() {
        for secret in [A, B] {
            assert!(!line.contains(secret), "a token in the log: {line}");
        }
    }
}

/// A CA: its certificate (PEM) and what issues with it.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate named `cn` (for 127.0.0.1 when a server's) issued by
/// `ca`: its PEM, its key's PEM and its DER.
fn issue(ca: &Ca, cn: &str, server: bool) -> (String, String, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let names = if server {
        vec!["127.0.0.1".to_owned()]
    } else {
        vec![]
    };
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

fn write_key(path: &Path, pem: &str) {
    std::fs::write(path, pem).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn sha256_hex(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to `addr` trusting `ca_pem`, with a client
/// certificate if given; the handshake done (as far as the client knows).
fn tls_connect(addr: &str, ca_pem: &str, client: Option<(&str, &str)>) -> Tls {
    try_tls_connect(addr, ca_pem, client).unwrap()
}

/// As [`tls_connect`], an error if the server ends the handshake.
fn try_tls_connect(addr: &str, ca_pem: &str, client: Option<(&str, &str)>) -> std::io::Result<Tls> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let conn = rustls::ClientConnection::new(
        Arc::new(config),
        ServerName::try_from("127.0.0.1").unwrap().to_owned(),
    )
    .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// SHA-256 of the certificate the server showed on `tls`.
fn served(tls: &Tls) -> String {
    sha256_hex(tls.conn.peer_certificates().unwrap()[0].as_ref())
}

#[test]
fn sighup_rotates_the_tls_certificate_and_client_ca_and_keeps_open_connections() {
    let dir = TempDir::new().unwrap();
    let server_ca = ca("reload test server CA");
    let clients_1 = ca("reload test clients 1");
    let clients_2 = ca("reload test clients 2");
    let (cert, key, ca_file) = (
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
        dir.path().join("clients.pem"),
    );
    let (cert1, key1, der1) = issue(&server_ca, "log one", true);
    std::fs::write(&cert, &cert1).unwrap();
    write_key(&key, &key1);
    std::fs::write(&ca_file, &clients_1.pem).unwrap();
    let mut server = JsonServer::start(
        &dir.path().join("data"),
        &[
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
            "--tls-client-ca".as_ref(),
            ca_file.as_os_str(),
            "--http".as_ref(),
            "127.0.0.1:0".as_ref(),
        ],
    );
    assert!(
        server.field("tls").contains(&sha256_hex(&der1)),
        "{}",
        server.banner
    );
    let addr = server
        .field("tiles")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    let checkpoint = |tls: &mut Tls| {
        let (status, body) = http_get(tls, "/checkpoint", &[]);
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        status
    };

    let mut open = tls_connect(&addr, &server_ca.pem, None);
    assert_eq!(served(&open), sha256_hex(&der1));
    until_published(&mut open, &[]);
    assert!(checkpoint(&mut open).starts_with("HTTP/1.1 200"));
    // A client certificate of the second CA is refused for now.
    let (c2, k2, _) = issue(&clients_2, "device of CA 2", false);
    // (In TLS 1.3 the client may finish its side before the server's
    // alert comes: then the first read fails.)
    if let Ok(mut refused) = try_tls_connect(&addr, &server_ca.pem, Some((&c2, &k2))) {
        let mut buf = [0u8; 1];
        let _ = refused.write_all(b"GET /checkpoint HTTP/1.1\r\nhost: x\r\n\r\n");
        assert!(
            !matches!(refused.read(&mut buf), Ok(1)),
            "a certificate of an untrusted CA was accepted"
        );
    }

    // Rotation: a new certificate and key, and the second client CA.
    let (cert2, key2, der2) = issue(&server_ca, "log two", true);
    std::fs::write(&cert, &cert2).unwrap();
    write_key(&key, &key2);
    std::fs::write(&ca_file, &clients_2.pem).unwrap();
    let done = server.reload("TLS");
    let msg = done["message"].as_str().unwrap();
    assert!(
        msg.starts_with("TLS certificate reloaded: subject CN=log two"),
        "{done}"
    );
    assert!(msg.contains("client CA reloaded"), "{done}");
    assert_eq!(done["sha256"], sha256_hex(&der2), "{done}");
    assert!(
        done["serial"].is_string() && done["not_after"].is_string(),
        "{done}"
    );
    // New handshakes get the new certificate; the open connection stays.
    let mut fresh = tls_connect(&addr, &server_ca.pem, None);
    assert_eq!(served(&fresh), sha256_hex(&der2));
    assert!(checkpoint(&mut fresh).starts_with("HTTP/1.1 200"));
    assert!(checkpoint(&mut open).starts_with("HTTP/1.1 200"));
    assert_eq!(served(&open), sha256_hex(&der1));
    let mut device = tls_connect(&addr, &server_ca.pem, Some((&c2, &k2)));
    assert!(checkpoint(&mut device).starts_with("HTTP/1.1 200"));

    // A certificate whose key does not match: an error, the second stays.
    let (cert3, _, _) = issue(&server_ca, "log three", true);
    std::fs::write(&cert, &cert3).unwrap();
    let failed = server.reload("TLS");
    assert_eq!(failed["level"], "ERROR", "{failed}");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("the previous certificate stays in use"),
        "{failed}"
    );
    // A key readable by others: refused too, naming the file.
    std::fs::write(&cert, &cert2).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let failed = server.reload("TLS");
    let err = failed["error"].as_str().unwrap();
    assert!(err.contains("key.pem") && err.contains("0644"), "{failed}");
    let mut after = tls_connect(&addr, &server_ca.pem, None);
    assert_eq!(served(&after), sha256_hex(&der2));
    assert!(checkpoint(&mut after).starts_with("HTTP/1.1 200"));
    drop((open, fresh, device, after));

    for line in server.stop() {
        for key_pem in [&key1, &key2] {
            let body = key_pem.lines().nth(1).unwrap();
            assert!(!line.contains(body), "key material in the log: {line}");
        }
    }
}
