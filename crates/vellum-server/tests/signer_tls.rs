//! The signer over TCP with mutual TLS: only a peer holding a client
//! certificate of the signer's client CA gets an answer, and a log holding
//! one signs through it end to end.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod secure_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use secure_support::{ClientCert, pki};
use tokio::net::TcpListener;
use vellum_note::{SigType, SignedCheckpoint, SignerKey, VerifierKey};
use vellum_proto::v1::signer_server::SignerServer;
use vellum_server::grpc::signer::{RemoteSigner, SignerClientTls, SignerService};
use vellum_server::{SignerAddr, TlsFiles};
use vellum_testkit::TestServer;

/// A client certificate and key written as files (key mode 0600).
fn client_files(dir: &Path, name: &str, c: &ClientCert) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, &c.cert_pem).unwrap();
    std::fs::write(&key, &c.key_pem).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (cert, key)
}

/// A signer for `origin` served with mutual TLS on a free loopback port
/// (certificates under `dir/pki`); returns its https:// address, its vkey,
/// the CA that issued its certificate and the log's client certificate,
/// and a client certificate of another CA.
struct MtlsSigner {
    addr: SignerAddr,
    vkey: VerifierKey,
    ca: PathBuf,
    log_cert: (PathBuf, PathBuf),
    stranger_cert: (PathBuf, PathBuf),
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), vellum_server::grpc::GrpcError>>,
}

async fn mtls_signer(dir: &Path, origin: &str) -> MtlsSigner {
    let ours = pki(&dir.join("pki"), "vellum signer CA");
    let theirs = pki(&dir.join("other-pki"), "someone else's CA");
    let key = SignerKey::generate(origin, SigType::Ed25519).unwrap();
    let vkey = key.verifier();
    let signer = vellum_server::LocalSigner::new(
        vellum_signer::CheckpointSigner::open(key, &dir.join("journal")).unwrap(),
    );
    let files = TlsFiles {
        client_ca: Some(ours.ca_file.clone()),
        ..ours.files.clone()
    };
    let tls = vellum_server::tls::mtls_server_config(&files, &[b"h2"]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = SignerAddr::Tcp(format!("https://{}", listener.local_addr().unwrap()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let svc = SignerServer::new(SignerService::new(signer, vkey.clone()));
    let task = tokio::spawn(vellum_server::grpc::serve_signer_on(
        listener,
        Some(tls),
        svc,
        async {
            let _ = stopped.await;
        },
    ));
    MtlsSigner {
        addr,
        vkey,
        ca: ours.ca_file.clone(),
        log_cert: client_files(dir, "log-client", &ours.clients[0]),
        stranger_cert: client_files(dir, "stranger", &theirs.clients[0]),
        stop,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_peer_with_a_client_certificate_of_its_ca_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let s = mtls_signer(dir.path(), "example.com/mtls-signer").await;
    let ask = |cert: Option<&(PathBuf, PathBuf)>| {
        let tls = SignerClientTls {
            ca: Some(s.ca.clone()),
            cert: cert.map(|c| c.0.clone()),
            key: cert.map(|c| c.1.clone()),
        };
        let remote = RemoteSigner::new(s.addr.clone(), &tls).unwrap();
        async move { remote.vkey().await }
    };
    let e = ask(None).await.unwrap_err();
    assert!(e.starts_with(&format!("signer at {}", s.addr)), "{e}");
    let e = ask(Some(&s.stranger_cert)).await.unwrap_err();
    assert!(e.starts_with(&format!("signer at {}", s.addr)), "{e}");
    // The same signer answers the log's certificate: the refusals above
    // were the handshake's, not a signer that is down.
    assert_eq!(ask(Some(&s.log_cert)).await.unwrap(), s.vkey);
    // Nor does a plain-text peer get through.
    let plain = SignerAddr::Tcp(s.addr.to_string().replace("https://", "http://"));
    let remote = RemoteSigner::new(plain, &SignerClientTls::default()).unwrap();
    assert!(remote.vkey().await.is_err());
    let _ = s.stop.send(());
    s.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_signs_through_a_signer_with_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let s = mtls_signer(dir.path(), "example.com/mtls-signed").await;
    let tls = SignerClientTls {
        ca: Some(s.ca.clone()),
        cert: Some(s.log_cert.0.clone()),
        key: Some(s.log_cert.1.clone()),
    };
    let running = TestServer::builder(dir.path())
        .with(|o| {
            o.signer = Some(s.addr.clone());
            o.signer_tls = tls;
        })
        .start()
        .await
        .running;
    assert_eq!(running.vkey, s.vkey);
    let r = running
        .log
        .append(
            vec![Bytes::from("signed over mutual TLS")],
            vellum_log::Wait::Checkpoint,
        )
        .await
        .unwrap();
    let (cp, _) = r.proofs.unwrap();
    SignedCheckpoint::open(&cp.note, &s.vkey, &[]).unwrap();
    running.stop().await.unwrap();

    // A log without the client certificate cannot even start: it cannot
    // learn the signer's key.
    let other = tempfile::tempdir().unwrap();
    let e = TestServer::builder(other.path())
        .with(|o| {
            o.signer = Some(s.addr.clone());
            o.signer_tls = SignerClientTls {
                ca: Some(s.ca.clone()),
                ..SignerClientTls::default()
            };
        })
        .options();
    let e = vellum_server::start(e).await.unwrap_err().to_string();
    assert!(e.starts_with(&format!("signer at {}", s.addr)), "{e}");
    let _ = s.stop.send(());
    s.task.await.unwrap().unwrap();
}
