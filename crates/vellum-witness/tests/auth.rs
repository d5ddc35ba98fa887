//! A witness with a token file: `POST /add-checkpoint` without a token, or
//! with one it does not list, is refused `401` before anything is checked or
//! stored; the listed token gets its cosignature. The log's client sends
//! its token, and never over plain HTTP beyond loopback.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::sync::Arc;

use common::{TestLog, post};
use tokio::net::TcpListener;
use vellum_note::CosignerKey;
use vellum_witness::auth::token_hash_hex;
use vellum_witness::{
    BearerToken, ClientOptions, HttpOptions, TrustedLogs, Witness, WitnessCallError, WitnessClient,
    WitnessTokens,
};

const LOG_TOKEN: &str = "the-logs-token-5e1f";

#[tokio::test(flavor = "multi_thread")]
async fn only_a_listed_token_gets_a_cosignature() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(10);
    let key = CosignerKey::generate("witness.example/w1").unwrap();
    let logs = TrustedLogs::from_keys([log.key.verifier()]).unwrap();
    let witness = Arc::new(Witness::open(key.clone(), logs, dir.path()).unwrap());
    let tokens =
        WitnessTokens::parse(&format!("{} example-log\n", token_hash_hex(LOG_TOKEN))).unwrap();
    let options = HttpOptions {
        tokens: Some(Arc::new(tokens)),
        ..HttpOptions::default()
    };
    let app = vellum_witness::http::router_with(Arc::clone(&witness), &options);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = |token: Option<&str>| {
        let options = ClientOptions {
            token: token.map(BearerToken::new),
            ..ClientOptions::default()
        };
        WitnessClient::with_options(&url, "w1", key.verifier(), &options).unwrap()
    };
    let cosigned = || {
        witness
            .state()
            .list()
            .into_iter()
            .map(|s| s.latest().map(|c| c.size()))
            .collect::<Vec<_>>()
    };
    let before = cosigned();
    for token in [None, Some("a-wrong-token"), Some("")] {
        let e = client(token)
            .add_checkpoint(0, &[], &log.checkpoint(5))
            .await
            .unwrap_err();
        match e {
            WitnessCallError::Rejected { status, body } => {
                assert_eq!(status, 401, "{token:?}: {body}");
                assert!(body.contains("bearer token"), "{body}");
            }
            other => panic!("{token:?}: expected a 401, got {other:?}"),
        }
        assert_eq!(cosigned(), before, "a refused request changes nothing");
    }
    // The raw answer says how to authenticate.
    let raw = reqwest::Client::new()
        .post(format!("{url}/add-checkpoint"))
        .body(log.body(0, 5))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 401);
    assert_eq!(raw.headers()["www-authenticate"], "Bearer");
    // The public routes stay open.
    let info = post_get(&format!("{url}/health")).await;
    assert!(info.contains("witness.example/w1"), "{info}");

    let sigs = client(Some(LOG_TOKEN))
        .add_checkpoint(0, &[], &log.checkpoint(5))
        .await
        .unwrap();
    assert_eq!(sigs.len(), 1);
    assert_ne!(
        cosigned(),
        before,
        "the listed token's checkpoint was cosigned"
    );
    // A raw POST with the token reaches the protocol (a conflict now).
    let a = post_with(&url, LOG_TOKEN, log.body(0, 5)).await;
    assert_eq!(a.status, 409, "{}", a.body);
    server.abort();
}

async fn post_get(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn post_with(url: &str, token: &str, body: Vec<u8>) -> common::Answer {
    let http = reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    post(&http, &format!("{url}/add-checkpoint"), body).await
}

#[test]
fn a_token_never_goes_over_plain_http_beyond_loopback() {
    let key = CosignerKey::generate("witness.example/w1").unwrap();
    let with_token = ClientOptions {
        token: Some(BearerToken::new(LOG_TOKEN)),
        ..ClientOptions::default()
    };
    let e = WitnessClient::with_options("http://witness1:7001", "w1", key.verifier(), &with_token)
        .unwrap_err();
    assert!(
        matches!(&e, WitnessCallError::InvalidRequest(m) if m.contains("over plain HTTP")),
        "{e:?}"
    );
    for fine in [
        "https://witness1:7001",
        "http://127.0.0.1:7001",
        "http://localhost:7001",
    ] {
        WitnessClient::with_options(fine, "w1", key.verifier(), &with_token).unwrap();
    }
    // Nor does it show up in debug output.
    assert!(!format!("{with_token:?}").contains(LOG_TOKEN));
}
