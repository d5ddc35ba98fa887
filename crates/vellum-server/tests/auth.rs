//! Access control end to end: every gRPC method and the tlog-tiles API
//! without a token, with an unknown one, and with tokens of each role;
//! denials append nothing and are counted; health needs no token; no
//! method of the service can change or delete an entry; and `serve`
//! refuses a non-loopback address without TLS and authentication.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod secure_support;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use prost::Message;
use secure_support::{ADMIN, APPEND, AUDIT, READ, appended, options, pki, policy};
use tonic::Code;
use tonic::transport::Channel;
use vellum_proto::v1 as pb;
use vellum_server::access::{LOG_METHODS, Role};
use vellum_server::run::check_safety;
use vellum_server::{Running, ServeError, start};

async fn server(dir: &std::path::Path) -> (Running, pb::log_client::LogClient<Channel>) {
    // Loopback without TLS is allowed; access control works the same.
    let mut opts = options(dir);
    opts.access = Some(policy());
    let running = start(opts).await.unwrap();
    let client = pb::log_client::LogClient::connect(format!("http://{}", running.grpc_addr))
        .await
        .unwrap();
    (running, client)
}

fn req<T>(msg: T, auth: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Some(a) = auth {
        r.metadata_mut().insert("authorization", a.parse().unwrap());
    }
    r
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn append_req(entry: &str) -> pb::AppendRequest {
    pb::AppendRequest {
        entries: vec![Bytes::from(entry.to_owned())],
        wait: pb::WaitFor::Checkpoint as i32,
        request_id: 1,
    }
}

fn denials(running: &Running) -> (u64, u64) {
    let a = &running.stats.access;
    (
        a.unauthenticated.load(Ordering::Relaxed),
        a.permission_denied.load(Ordering::Relaxed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_need_an_append_token() {
    let dir = tempfile::tempdir().unwrap();
    let (running, mut c) = server(dir.path()).await;
    // One entry first, so that "unchanged" is about a non-empty tree.
    c.append(req(append_req("first"), Some(&bearer(APPEND))))
        .await
        .unwrap();
    let before = appended(&running);
    assert_eq!(before, (1, 0));

    let cases: [(Option<String>, Code); 6] = [
        (None, Code::Unauthenticated),
        (Some("Bearer".into()), Code::Unauthenticated),
        (Some("Basic dXNlcjpwdw==".into()), Code::Unauthenticated),
        (Some(bearer("not-a-known-token")), Code::Unauthenticated),
        (Some(bearer(READ)), Code::PermissionDenied),
        (Some(bearer(AUDIT)), Code::PermissionDenied),
    ];
    let mut expected = denials(&running);
    for (auth, code) in &cases {
        let e = c
            .append(req(append_req("denied"), auth.as_deref()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), *code, "{auth:?}: {e:?}");
        match code {
            Code::Unauthenticated => expected.0 += 1,
            _ => expected.1 += 1,
        }
        assert_eq!(denials(&running), expected, "{auth:?}");
        assert_eq!(appended(&running), before, "{auth:?} appended");
    }
    // The message names what is missing, never the token.
    let e = c
        .append(req(append_req("denied"), Some(&bearer(READ))))
        .await
        .unwrap_err();
    assert!(e.message().contains("append"), "{}", e.message());
    assert!(!e.message().contains(READ), "{}", e.message());

    // A stream is checked before it starts.
    let stream = tokio_stream::iter(vec![append_req("streamed")]);
    let e = c
        .append_stream(req(stream, Some(&bearer(READ))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let stream = tokio_stream::iter(vec![append_req("streamed")]);
    let e = c.append_stream(req(stream, None)).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert_eq!(appended(&running), before);

    // Admin may append; so may append.
    for t in [ADMIN, APPEND] {
        let r = c
            .append(req(append_req(t), Some(&bearer(t))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.results.len(), 1);
    }
    assert_eq!(appended(&running).0, 3);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_need_a_read_token_and_health_needs_none() {
    let dir = tempfile::tempdir().unwrap();
    let (running, mut c) = server(dir.path()).await;
    c.append(req(append_req("x"), Some(&bearer(APPEND))))
        .await
        .unwrap();
    let cp = |t: Option<String>| req(pb::GetCheckpointRequest::default(), t.as_deref());
    assert_eq!(
        c.get_checkpoint(cp(None)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        c.get_checkpoint(cp(Some(bearer(APPEND))))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    for t in [READ, AUDIT, ADMIN] {
        let got = c.get_checkpoint(cp(Some(bearer(t)))).await.unwrap();
        assert!(!got.into_inner().checkpoint.is_empty());
    }
    let entries =
        |t: Option<String>| req(pb::GetEntriesRequest { start: 0, count: 1 }, t.as_deref());
    assert_eq!(
        c.get_entries(entries(Some(bearer(APPEND))))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let got = c
        .get_entries(entries(Some(bearer(READ))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.entries, vec![Bytes::from("x")]);
    assert_eq!(denials(&running), (1, 2));

    // Health checking needs no token.
    let channel = Channel::from_shared(format!("http://{}", running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let h = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    assert_eq!(denials(&running), (1, 2));
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_need_an_audit_token() {
    let dir = tempfile::tempdir().unwrap();
    let (running, mut c) = server(dir.path()).await;
    c.append(req(append_req("tile me"), Some(&bearer(APPEND))))
        .await
        .unwrap();
    let base = format!("http://{}", running.http_addr.unwrap());
    let http = reqwest::Client::new();
    let before = denials(&running);
    for path in [
        "/checkpoint",
        "/tile/0/000.p/1",
        "/tile/entries/000.p/1",
        "/metrics",
    ] {
        let url = format!("{base}{path}");
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert!(
            r.headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let r = http.get(&url).bearer_auth("nobody").send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        for t in [APPEND, READ] {
            let r = http.get(&url).bearer_auth(t).send().await.unwrap();
            assert_eq!(r.status(), 403, "{path} with {t}");
        }
        for t in [AUDIT, ADMIN] {
            let r = http.get(&url).bearer_auth(t).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path} with {t}");
        }
    }
    let after = denials(&running);
    assert_eq!((after.0 - before.0, after.1 - before.1), (8, 8));
    // The checkpoint served is the log's.
    let body = http
        .get(format!("{base}/checkpoint"))
        .bearer_auth(AUDIT)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body, running.log.published().unwrap().note);
    running.stop().await.unwrap();
}

/// The methods of every service in the API description that reflection
/// serves (`vellum_proto::FILE_DESCRIPTOR_SET`), as `Service/Method`.
fn described_methods() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(vellum_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = BTreeSet::new();
    for file in &set.file {
        for svc in &file.service {
            for m in &svc.method {
                out.insert(format!("{}.{}/{}", file.package(), svc.name(), m.name()));
            }
        }
    }
    out
}

#[test]
fn no_method_changes_or_deletes_an_entry() {
    let methods = described_methods();
    let log: BTreeSet<String> = methods
        .iter()
        .filter_map(|m| m.strip_prefix("vellum.v1.Log/").map(str::to_owned))
        .collect();
    // The access table covers exactly the described methods: a new method
    // must be given a role, and the reviewer sees it here.
    let table: BTreeSet<String> = LOG_METHODS.iter().map(|(m, _)| (*m).to_owned()).collect();
    assert_eq!(log, table);
    // Only appends write, and they only add: Append* adds entries, Record
    // adds one event (an entry) to an events log.
    for (m, role) in LOG_METHODS {
        if *role == Role::Append {
            assert!(m.starts_with("Append") || *m == "Record", "{m}");
        } else {
            assert!(
                m.starts_with("Get") || m.starts_with("List") || m.starts_with("Watch"),
                "{m} is not a read"
            );
        }
    }
    // Nor does any other service in the description (the signer signs; it
    // holds no entries).
    for m in &methods {
        let name = m.rsplit('/').next().unwrap().to_ascii_lowercase();
        for verb in [
            "delete", "remove", "update", "set", "put", "truncate", "rewrite", "replace", "erase",
            "purge", "reset", "edit", "modify",
        ] {
            assert!(!name.starts_with(verb), "{m} looks like it changes data");
        }
    }
    assert!(methods.contains("vellum.v1.Log/Append"));
}

#[tokio::test]
async fn non_loopback_needs_tls_and_auth_or_the_override() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"), "CA");
    let remote = options(dir.path());
    let mut grpc_remote = remote.clone();
    grpc_remote.listen = "0.0.0.0:0".parse().unwrap();
    let mut http_remote = remote.clone();
    http_remote.http = Some("0.0.0.0:0".parse().unwrap());

    for o in [&grpc_remote, &http_remote] {
        let e = check_safety(o).unwrap_err().to_string();
        assert!(e.contains("0.0.0.0"), "{e}");
        assert!(e.contains("--tls-cert FILE --tls-key FILE"), "{e}");
        assert!(e.contains("--auth"), "{e}");
        assert!(e.contains("--insecure-remote"), "{e}");

        let mut tls_only = o.clone();
        tls_only.tls = Some(pki.files.clone());
        let e = check_safety(&tls_only).unwrap_err().to_string();
        assert!(e.contains("--auth") && !e.contains("--tls-cert"), "{e}");

        let mut auth_only = o.clone();
        auth_only.access = Some(policy());
        let e = check_safety(&auth_only).unwrap_err().to_string();
        assert!(!e.contains("--auth") && e.contains("--tls-cert"), "{e}");

        let mut both = o.clone();
        both.tls = Some(pki.files.clone());
        both.access = Some(policy());
        check_safety(&both).unwrap();

        let mut insecure = o.clone();
        insecure.insecure_remote = true;
        check_safety(&insecure).unwrap();
    }

    // start() refuses before opening anything.
    let e = start(grpc_remote.clone()).await.unwrap_err();
    assert!(matches!(e, ServeError::Unsafe(_)), "{e}");
    assert!(!grpc_remote.data.exists());

    // With TLS and tokens it serves on every address.
    let mut secure = grpc_remote.clone();
    secure.http = Some("0.0.0.0:0".parse().unwrap());
    secure.tls = Some(pki.files.clone());
    secure.access = Some(policy());
    let running = start(secure).await.unwrap();
    assert!(running.grpc_addr.ip().is_unspecified());
    running.stop().await.unwrap();

    // And with the override, without them.
    let mut insecure = grpc_remote;
    insecure.data = dir.path().join("insecure");
    insecure.insecure_remote = true;
    let running = start(insecure).await.unwrap();
    running.stop().await.unwrap();
}
