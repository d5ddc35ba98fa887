//! TLS on both listeners: a client that trusts the server's CA appends and
//! reads over https; a plaintext client, or one trusting another CA, gets
//! nothing and appends nothing; an unsafe or mismatched key is refused
//! before anything is opened.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod secure_support;

use std::os::unix::fs::PermissionsExt;

use secure_support::{ADMIN, APPEND, AUDIT, appended, options, pki, secure_server};
use vellum_client::{
    BearerToken, Client, ClientError, ClientIdentity, ClientOptions, UnverifiedClient, Wait,
};
use vellum_server::{ServeError, start};

fn client_options(ca: &[u8], token: &str) -> ClientOptions {
    ClientOptions {
        ca_pem: Some(ca.to_vec()),
        token: Some(BearerToken::new(token).unwrap()),
        ..ClientOptions::default()
    }
}

fn https(ca: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca).unwrap())
        .tls_built_in_root_certs(false)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_read_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (running, pki) = secure_server(dir.path()).await;
    // The certificate names both 127.0.0.1 and localhost.
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{}", running.grpc_addr.port());
        let client = Client::connect_with(
            &url,
            running.vkey.clone(),
            &client_options(&pki.ca_pem, ADMIN),
        )
        .await
        .unwrap();
        let before = running.log.committed().size.get();
        let got = client
            .append(
                vec![host.into(), format!("second via {host}").into()],
                Wait::Checkpoint,
            )
            .await
            .unwrap();
        assert_eq!(got[0].index.get(), before);
        assert!(got[0].proof.is_some());
        let cp = client.checkpoint().await.unwrap();
        assert!(cp.size().get() >= before + 2);
        let (entry, _proof) = client.entry_and_proof(before).await.unwrap();
        assert_eq!(&entry[..], host.as_bytes());
    }

    // The tlog-tiles API over TLS, with an audit token.
    let http = https(&pki.ca_pem);
    let url = format!(
        "https://localhost:{}/checkpoint",
        running.http_addr.unwrap().port()
    );
    let r = http.get(&url).bearer_auth(AUDIT).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    assert_eq!(body, running.log.published().unwrap().note);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_or_untrusted_clients_get_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (running, _pki) = secure_server(dir.path()).await;
    let other = pki(&dir.path().join("other"), "another CA");
    let before = appended(&running);
    let port = running.grpc_addr.port();

    // Plain HTTP/2 to a TLS port: the server sees no ClientHello.
    let plain = ClientOptions {
        token: Some(BearerToken::new(APPEND).unwrap()),
        ..ClientOptions::default()
    };
    let r = async {
        let c = UnverifiedClient::connect_with(&format!("http://127.0.0.1:{port}"), &plain).await?;
        c.append(vec!["plain".into()], Wait::Durable).await
    }
    .await;
    assert!(r.is_err(), "a plaintext client was served: {r:?}");

    // TLS, but the server's certificate is not from the CA the client trusts.
    let r = async {
        let c = UnverifiedClient::connect_with(
            &format!("https://127.0.0.1:{port}"),
            &client_options(&other.ca_pem, APPEND),
        )
        .await?;
        c.append(vec!["untrusted".into()], Wait::Durable).await
    }
    .await;
    assert!(
        matches!(r, Err(ClientError::Transport { .. })),
        "an untrusted server was used: {r:?}"
    );
    assert_eq!(appended(&running), before);
    assert!(
        running
            .stats
            .grpc
            .handshake_failed
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );

    // The HTTP listener is TLS too.
    let http_port = running.http_addr.unwrap().port();
    let r = reqwest::get(format!("http://127.0.0.1:{http_port}/checkpoint")).await;
    assert!(r.is_err(), "plain HTTP was served: {r:?}");
    let r = https(&other.ca_pem)
        .get(format!("https://localhost:{http_port}/checkpoint"))
        .bearer_auth(AUDIT)
        .send()
        .await;
    assert!(r.is_err(), "an untrusted HTTP server was used: {r:?}");

    // A CA file with a plaintext URL is a mistake, said as such.
    let r = UnverifiedClient::connect_with(
        &format!("http://127.0.0.1:{port}"),
        &client_options(&other.ca_pem, APPEND),
    )
    .await;
    assert!(matches!(r, Err(ClientError::InvalidUrl { .. })), "{r:?}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_or_mismatched_keys_are_refused_before_anything_opens() {
    let dir = tempfile::tempdir().unwrap();
    let a = pki(&dir.path().join("a"), "CA a");
    let b = pki(&dir.path().join("b"), "CA b");

    std::fs::set_permissions(&a.files.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut opts = options(dir.path());
    opts.tls = Some(a.files.clone());
    let e = start(opts.clone()).await.unwrap_err();
    assert!(matches!(e, ServeError::Tls(_)), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("chmod 600") && msg.contains("0644"),
        "the message should say how to fix it: {msg}"
    );
    assert!(!opts.data.exists(), "the data folder was created");

    // b's key with a's certificate.
    std::fs::set_permissions(&a.files.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut mixed = a.files.clone();
    mixed.key = b.files.key.clone();
    opts.tls = Some(mixed);
    let e = start(opts.clone()).await.unwrap_err();
    assert!(matches!(e, ServeError::Tls(_)), "{e}");
    assert!(!opts.data.exists(), "the data folder was created");

    // Not PEM at all.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let mut bad = a.files.clone();
    bad.cert = junk;
    opts.tls = Some(bad);
    let e = start(opts.clone()).await.unwrap_err();
    assert!(
        e.to_string().contains("no PEM certificate"),
        "unexpected error: {e}"
    );
    assert!(!opts.data.exists(), "the data folder was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let other = pki(&dir.path().join("other"), "another CA");
    let pki = pki(&dir.path().join("pki"), "vellum test CA");
    let mut opts = options(dir.path());
    let mut files = pki.files.clone();
    files.client_ca = Some(pki.ca_file.clone());
    opts.tls = Some(files);
    // The first client certificate may append; the second is not listed.
    let tokens = format!(
        "{}append cert-sha256:{} device-1\n",
        secure_support::token_file(),
        pki.clients[0].sha256_hex
    );
    opts.access = Some(std::sync::Arc::new(
        vellum_server::AccessPolicy::parse(&tokens).unwrap(),
    ));
    let running = start(opts).await.unwrap();
    let url = format!("https://localhost:{}", running.grpc_addr.port());
    let with_cert = |c: &secure_support::ClientCert| ClientOptions {
        ca_pem: Some(pki.ca_pem.clone()),
        client_identity: Some(ClientIdentity::from_pem(
            c.cert_pem.clone(),
            c.key_pem.clone(),
        )),
        ..ClientOptions::default()
    };
    let append = |o: ClientOptions, entry: &'static str| {
        let url = url.clone();
        async move {
            let c = UnverifiedClient::connect_with(&url, &o).await?;
            c.append(vec![entry.into()], Wait::Durable).await
        }
    };

    // A listed certificate, no token: appended.
    let r = append(with_cert(&pki.clients[0]), "by certificate")
        .await
        .unwrap();
    assert_eq!(r.results[0].index, 0);
    let before = appended(&running);
    assert_eq!(before.0, 1);

    // A certificate of this CA that the token file does not list.
    let e = append(with_cert(&pki.clients[1]), "unlisted")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Status {
                code: vellum_client::StatusCode::Unauthenticated,
                ..
            }
        ),
        "{e:?}"
    );
    // No certificate, no token.
    let plain = ClientOptions {
        ca_pem: Some(pki.ca_pem.clone()),
        ..ClientOptions::default()
    };
    let e = append(plain.clone(), "anonymous").await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Status {
                code: vellum_client::StatusCode::Unauthenticated,
                ..
            }
        ),
        "{e:?}"
    );
    // A certificate from another CA: refused in the handshake.
    let mut foreign = with_cert(&other.clients[0]);
    foreign.ca_pem = Some(pki.ca_pem.clone());
    assert!(append(foreign, "foreign").await.is_err());
    // A token still works without a certificate, and wins over one.
    let mut by_token = plain;
    by_token.token = Some(BearerToken::new(ADMIN).unwrap());
    append(by_token, "by token").await.unwrap();
    let mut read_token = with_cert(&pki.clients[0]);
    read_token.token = Some(BearerToken::new(secure_support::READ).unwrap());
    let e = append(read_token, "token wins").await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Status {
                code: vellum_client::StatusCode::PermissionDenied,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(appended(&running).0, 2);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_reads_tiles_over_tls_with_an_audit_token() {
    let dir = tempfile::tempdir().unwrap();
    let (running, pki) = secure_server(dir.path()).await;
    running
        .log
        .append(
            (0..300).map(|i| format!("entry {i}").into()).collect(),
            vellum_log::Wait::Checkpoint,
        )
        .await
        .unwrap();
    let url = format!("https://localhost:{}/", running.http_addr.unwrap().port());
    let options = |token: Option<&str>| {
        let policy = vellum_note::Policy::quorum_none(running.vkey.clone()).unwrap();
        let mut o = vellum_audit::AuditOptions::new(&url, policy);
        o.ca_pem = Some(pki.ca_pem.clone());
        o.token = token.map(str::to_owned);
        o
    };
    let r = vellum_audit::audit(&options(Some(AUDIT))).await.unwrap();
    assert_eq!(r.size, 300);
    assert_eq!(r.root, running.log.published().unwrap().root);
    for token in [None, Some(APPEND)] {
        let e = vellum_audit::audit(&options(token)).await.unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("401") || msg.contains("403"),
            "{token:?}: {msg}"
        );
    }
    running.stop().await.unwrap();
}
