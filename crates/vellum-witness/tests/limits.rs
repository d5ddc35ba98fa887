//! The server's limits: a body that does not arrive in time (408), and a
//! request beyond the concurrency limit, answered 503 at once.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestLog;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vellum_note::CosignerKey;
use vellum_witness::{HttpOptions, TrustedLogs, Witness, http::router_with};

/// Sends a request head promising `length` body bytes, and no body.
async fn stalled_request(addr: std::net::SocketAddr, length: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /add-checkpoint HTTP/1.1\r\nHost: witness\r\nContent-Length: {length}\r\n\r\nold 0\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

async fn read_status(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_bodies_time_out_and_excess_requests_are_shed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("a.example/log");
    log.grow_to(3);
    let witness = Witness::open(
        CosignerKey::generate("witness.example/w1").unwrap(),
        TrustedLogs::from_keys([log.key.verifier()]).unwrap(),
        dir.path(),
    )
    .unwrap();
    let options = HttpOptions {
        max_concurrent_requests: 1,
        body_timeout: Duration::from_secs(2),
    };
    let app = router_with(Arc::new(witness), &options);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let start = Instant::now();
    let mut slow = stalled_request(addr, 1000).await;
    // Let the server start reading the stalled body, holding the one slot.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let http = reqwest::Client::new();
    let shed = http
        .post(format!("http://{addr}/add-checkpoint"))
        .body(log.body(0, 3))
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status().as_u16(), 503);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "shed at once, not queued"
    );

    assert_eq!(read_status(&mut slow).await, "HTTP/1.1 408 Request Timeout");
    // The slot is free again.
    let ok = http
        .post(format!("http://{addr}/add-checkpoint"))
        .body(log.body(0, 3))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}
