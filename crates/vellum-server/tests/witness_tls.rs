//! A witness served as `vellum witness` serves it beyond loopback: HTTPS
//! (the log's accept loop and TLS) and a token file. The log reaches it
//! with the witness's CA and its token and gets its cosignatures; a log
//! without the token, or with another one, gets none, and the witness
//! stores nothing for it.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod secure_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use secure_support::pki;
use vellum_log::Wait;
use vellum_note::policy::PolicyError;
use vellum_note::{CosignerKey, Policy, SigType, SignerKey};
use vellum_server::witness::WitnessAuth;
use vellum_server::{Limits, net};
use vellum_testkit::TestServer;
use vellum_witness::auth::token_hash_hex;
use vellum_witness::{HttpOptions, TrustedLogs, Witness, WitnessTokens};

const ORIGIN: &str = "example.com/witnessed-over-tls";
const TOKEN: &str = "the-logs-witness-token-7c2d";

fn credentials(dir: &Path, name: &str, line: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, line).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_cosigned_over_tls_with_its_token_and_nobody_else_is() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"), "vellum witness CA");
    let log_key = SignerKey::generate(ORIGIN, SigType::Ed25519).unwrap();
    let key_path = dir.path().join("log.key");
    vellum_signer::keyfile::write_key(&key_path, &log_key).unwrap();
    let wkey = CosignerKey::generate("example.com/tls-witness").unwrap();
    let logs = TrustedLogs::from_keys([log_key.verifier()]).unwrap();
    let witness = Arc::new(Witness::open(wkey.clone(), logs, &dir.path().join("w")).unwrap());

    // Served as the CLI serves it.
    let tls = vellum_server::tls::server_config(&pki.files, &[b"h2", b"http/1.1"]).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = Limits::default();
    let conns = net::accept(listener, &limits, Some(tls), Arc::default());
    let options = HttpOptions {
        tokens: Some(Arc::new(
            WitnessTokens::parse(&format!("{} {ORIGIN}\n", token_hash_hex(TOKEN))).unwrap(),
        )),
        ..HttpOptions::default()
    };
    let app = vellum_witness::http::router_with(witness.clone(), &options);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        vellum_server::http::serve_conns(conns, app, &limits, async {
            let _ = stopped.await;
        })
        .await
    });
    let policy = Policy::parse(&format!(
        "log {}\nwitness w1 {} https://127.0.0.1:{}\nquorum w1\n",
        log_key.verifier(),
        wkey.verifier().verifier_key(),
        addr.port()
    ))
    .unwrap();
    let cosigned = || {
        witness
            .state()
            .list()
            .iter()
            .find(|s| s.origin() == ORIGIN)
            .and_then(|s| s.latest())
            .map_or(0, |c| c.size().get())
    };

    // Without a token, then with a wrong one: no cosignature, nothing
    // stored by the witness.
    for (name, creds) in [
        ("none", None),
        (
            "wrong",
            Some(credentials(dir.path(), "wrong", "w1 not-the-token\n")),
        ),
    ] {
        let data = dir.path().join(format!("log-{name}"));
        std::fs::create_dir_all(&data).unwrap();
        let server = TestServer::builder(&data)
            .key(&key_path)
            .with(|o| {
                o.witness_policy = Some(policy.clone());
                o.witness_auth = WitnessAuth {
                    ca: Some(pki.ca_file.clone()),
                    credentials: creds,
                };
                o.witness_timeout = Duration::from_millis(500);
            })
            .start()
            .await;
        let r = server
            .running
            .log
            .append(vec![Bytes::from("x")], Wait::Checkpoint)
            .await
            .unwrap();
        let (cp, _) = r.proofs.unwrap();
        match policy.check_checkpoint(&cp.note) {
            Err(PolicyError::QuorumNotMet { cosigned, .. }) => {
                assert!(cosigned.is_empty(), "{name}: {cosigned:?}");
            }
            other => panic!("{name}: cosigned without the token: {other:?}"),
        }
        assert_eq!(cosigned(), 0, "{name}: the witness stored nothing");
        server.running.stop().await.unwrap();
    }

    // With the token: cosigned.
    let data = dir.path().join("log-right");
    std::fs::create_dir_all(&data).unwrap();
    let server = TestServer::builder(&data)
        .key(&key_path)
        .with(|o| {
            o.witness_policy = Some(policy.clone());
            o.witness_auth = WitnessAuth {
                ca: Some(pki.ca_file.clone()),
                credentials: Some(credentials(
                    dir.path(),
                    "right",
                    &format!("# the log's token for w1\nw1 {TOKEN}\n"),
                )),
            };
            o.publish_below_policy = false;
        })
        .start()
        .await;
    let r = server
        .running
        .log
        .append(vec![Bytes::from("y")], Wait::Witnessed)
        .await
        .unwrap();
    let (cp, _) = r.proofs.unwrap();
    assert_eq!(
        policy
            .check_checkpoint(&cp.note)
            .unwrap()
            .cosignatures()
            .len(),
        1
    );
    assert!(cosigned() >= 1);
    server.running.stop().await.unwrap();
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}

#[test]
fn credentials_are_checked_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let log_key = SignerKey::generate(ORIGIN, SigType::Ed25519).unwrap();
    let wkey = CosignerKey::generate("example.com/w").unwrap();
    let policy = |url: &str| {
        Policy::parse(&format!(
            "log {}\nwitness w1 {} {url}\nquorum w1\n",
            log_key.verifier(),
            wkey.verifier().verifier_key(),
        ))
        .unwrap()
    };
    let build = |url: &str, auth: &WitnessAuth| {
        vellum_server::witness::witnessing_from_policy(
            policy(url),
            true,
            Duration::from_secs(1),
            auth,
        )
        .map(|_| ())
    };
    let good = credentials(dir.path(), "good", &format!("w1 {TOKEN}\n"));
    let auth = WitnessAuth {
        ca: None,
        credentials: Some(good.clone()),
    };
    build("https://witness1:7001", &auth).unwrap();
    let e = build("http://witness1:7001", &auth).unwrap_err();
    assert!(e.contains("over plain HTTP"), "{e}");
    // Readable by others: refused, naming the fix.
    std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = build("https://witness1:7001", &auth).unwrap_err();
    assert!(e.contains("chmod 600"), "{e}");
    // A name the policy does not have is a typo.
    let typo = credentials(dir.path(), "typo", &format!("w2 {TOKEN}\n"));
    let e = build(
        "https://witness1:7001",
        &WitnessAuth {
            ca: None,
            credentials: Some(typo),
        },
    )
    .unwrap_err();
    assert!(e.contains("no witness named \"w2\""), "{e}");
}
