//! The log-side client: every status maps to its error, and a 200 counts
//! only with a valid cosignature by the witness's key on exactly the
//! checkpoint sent.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use common::{TestLog, TestWitness, now};
use tokio::net::TcpListener;
use vellum_merkle::Hash;
use vellum_note::{CosignerKey, Note, Policy};
use vellum_witness::{ClientOptions, WitnessCallError, WitnessClient};

#[tokio::test(flavor = "multi_thread")]
async fn against_a_real_witness() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(30);
    let stranger = TestLog::new("b.example/log");
    let w = TestWitness::for_logs(dir.path(), &[&log]).await;
    let client = WitnessClient::new(&format!("{}/", w.url), "w1", w.key.verifier()).unwrap();
    assert_eq!(client.url().as_str(), format!("{}/add-checkpoint", w.url));

    let sigs = client
        .add_checkpoint(0, &[], &log.checkpoint(10))
        .await
        .unwrap();
    assert_eq!(sigs.len(), 1);
    // The cosignature joins the note and satisfies a policy that requires
    // this witness.
    let mut note = Note::parse(&log.checkpoint(10)).unwrap();
    note.add_signatures(sigs).unwrap();
    let policy = Policy::parse(&format!(
        "log {}\nwitness w1 {}\nquorum w1\n",
        log.key.verifier(),
        w.key.verifier().verifier_key()
    ))
    .unwrap();
    let verified = policy.check_checkpoint(&note.to_bytes()).unwrap();
    assert!(verified.cosignatures()[0].timestamp().abs_diff(now()) <= 60);

    let err = client
        .add_checkpoint(5, &log.proof(5, 20), &log.checkpoint(20))
        .await
        .unwrap_err();
    assert_eq!(err, WitnessCallError::Conflict { size: 10 });
    assert!(!err.is_retryable());

    let rejected = |e: WitnessCallError| match e {
        WitnessCallError::Rejected { status, body } => (status, body),
        other => panic!("expected Rejected, got {other:?}"),
    };
    let (status, body) = rejected(
        client
            .add_checkpoint(0, &[], &stranger.checkpoint(0))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 404);
    assert!(body.contains("unknown log origin"), "{body}");
    let impostor = TestLog::new("a.example/log");
    let (status, _) = rejected(
        client
            .add_checkpoint(10, &[], &impostor.checkpoint(0))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403);
    let mut bad = log.proof(10, 20);
    bad[1] = Hash([0; 32]);
    let (status, _) = rejected(
        client
            .add_checkpoint(10, &bad, &log.checkpoint(20))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 422);
    let (status, _) = rejected(
        client
            .add_checkpoint(25, &[], &log.checkpoint(20))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400);

    // Caller mistakes never reach the witness.
    assert!(matches!(
        client
            .add_checkpoint(10, &[Hash([0; 32]); 64], &log.checkpoint(20))
            .await,
        Err(WitnessCallError::InvalidRequest(_))
    ));
    assert!(matches!(
        client.add_checkpoint(10, &[], b"not a note").await,
        Err(WitnessCallError::InvalidRequest(_))
    ));

    // Onwards, and the same again.
    for old in [10, 20] {
        let sigs = client
            .add_checkpoint(old, &log.proof(old, 20), &log.checkpoint(20))
            .await
            .unwrap();
        assert_eq!(sigs.len(), 1);
    }

    // Another witness's key: the real witness's answer holds no line by it.
    let other = CosignerKey::generate("witness.example/w1").unwrap();
    let wrong_key = WitnessClient::new(&w.url, "w1", other.verifier()).unwrap();
    assert!(matches!(
        wrong_key.add_checkpoint(20, &[], &log.checkpoint(20)).await,
        Err(WitnessCallError::BadCosignature(_))
    ));
    w.stop().await;
}

/// What the fake witness answers.
#[derive(Clone)]
struct Canned {
    status: u16,
    content_type: &'static str,
    body: String,
    delay: Duration,
}

/// A fake witness answering whatever `canned` holds at the time.
async fn fake_witness(canned: Arc<Mutex<Canned>>) -> String {
    let app = Router::new().route(
        "/add-checkpoint",
        post(move || {
            let c = canned.lock().unwrap().clone();
            async move {
                tokio::time::sleep(c.delay).await;
                (
                    StatusCode::from_u16(c.status).unwrap(),
                    [(header::CONTENT_TYPE, c.content_type)],
                    c.body,
                )
                    .into_response()
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_maps_to_its_error() {
    let mut log = TestLog::new("a.example/log");
    log.grow_to(12);
    let key = CosignerKey::generate("witness.example/w1").unwrap();
    let other = CosignerKey::generate("other.example/w2").unwrap();
    let text10 = log.checkpoint_text(10);
    let canned = Arc::new(Mutex::new(Canned {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: String::new(),
        delay: Duration::ZERO,
    }));
    let url = fake_witness(Arc::clone(&canned)).await;
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_millis(500),
        max_response_size: 4096,
        ..ClientOptions::default()
    };
    let client = WitnessClient::with_options(&url, "w1", key.verifier(), &options).unwrap();
    let set = |status: u16, content_type: &'static str, body: String| {
        *canned.lock().unwrap() = Canned {
            status,
            content_type,
            body,
            delay: Duration::ZERO,
        };
    };
    let cp10 = log.checkpoint(10);
    let call = || client.add_checkpoint(0, &[], &cp10);

    // A good answer, with a line by another key that is ignored.
    let mine = key.cosign(&text10, now()).unwrap();
    let theirs = other.cosign(&text10, now()).unwrap();
    set(
        200,
        "text/plain",
        format!("{}{}", theirs.to_line(), mine.to_line()),
    );
    assert_eq!(call().await.unwrap(), std::slice::from_ref(&mine));

    // Cosignatures that prove nothing about this checkpoint.
    let over_other = key.cosign(&log.checkpoint_text(11), now()).unwrap();
    let bad_cases = [
        over_other.to_line(), // this key, another checkpoint
        theirs.to_line(),     // another key only
        format!("{}{}", mine.to_line(), over_other.to_line()), // one bad line by this key
        String::new(),        // nothing
        "hello\n".to_owned(), // not signature lines
        mine.to_line().trim_end().to_owned(), // no final newline
        mine.to_line().repeat(100), // too large
    ];
    for body in bad_cases {
        set(200, "text/plain", body.clone());
        assert!(
            matches!(call().await, Err(WitnessCallError::BadCosignature(_))),
            "{body:?}"
        );
    }

    set(409, "text/x.tlog.size", "42\n".into());
    assert_eq!(call().await, Err(WitnessCallError::Conflict { size: 42 }));
    for (ct, body) in [
        ("text/plain", "42\n"),
        ("text/x.tlog.size", "042\n"),
        ("text/x.tlog.size", "42"),
    ] {
        set(409, ct, body.into());
        assert!(
            matches!(
                call().await,
                Err(WitnessCallError::Rejected { status: 409, .. })
            ),
            "{ct} {body:?}"
        );
    }
    for status in [400, 403, 404, 413, 422] {
        set(status, "text/plain", "no\n".into());
        assert_eq!(
            call().await,
            Err(WitnessCallError::Rejected {
                status,
                body: "no\n".into()
            })
        );
    }
    for status in [500, 502, 503] {
        set(status, "text/plain", "down\n".into());
        let err = call().await.unwrap_err();
        assert!(matches!(err, WitnessCallError::Unavailable(_)), "{err:?}");
        assert!(err.is_retryable());
    }

    // A witness that never answers times out (whatever the machine's
    // speed: there is no race between its delay and the client's timeout).
    canned.lock().unwrap().delay = Duration::MAX;
    match call().await {
        Err(WitnessCallError::Unavailable(msg)) => assert!(msg.contains("timed out"), "{msg}"),
        other => panic!("expected a timeout, got {other:?}"),
    }

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let nobody =
        WitnessClient::with_options(&format!("http://{addr}"), "w1", key.verifier(), &options)
            .unwrap();
    assert!(matches!(
        nobody.add_checkpoint(0, &[], &log.checkpoint(10)).await,
        Err(WitnessCallError::Unavailable(_))
    ));
    assert!(matches!(
        WitnessClient::new("not a url", "w1", key.verifier()),
        Err(WitnessCallError::InvalidRequest(_))
    ));
}
