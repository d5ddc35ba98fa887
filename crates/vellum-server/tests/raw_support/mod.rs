//! Shared by the tests that send gRPC calls our client would never build:
//! a call whose HTTP/2 body is given byte for byte.

use bytes::Bytes;
use http_body_util::BodyExt;
use tonic::Status;
use tonic::codegen::http;
use tonic::transport::Channel;
use tower::{Service, ServiceExt};

/// A gRPC call to `path` whose HTTP/2 body is `body` exactly (framing
/// included), answered with the status the server sent.
pub async fn raw_call(channel: &Channel, path: &str, body: &'static [u8]) -> Status {
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://vellum.test{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(http_body_util::Full::new(
            Bytes::from_static(body),
        )))
        .expect("a valid request");
    let mut channel = channel.clone();
    let resp = channel
        .ready()
        .await
        .expect("channel ready")
        .call(req)
        .await
        .expect("an HTTP answer");
    assert_eq!(resp.status(), 200, "gRPC errors travel in the status");
    if let Some(s) = Status::from_header_map(resp.headers()) {
        return s;
    }
    let collected = resp.into_body().collect().await.expect("the body");
    let trailers = collected
        .trailers()
        .expect("a gRPC answer ends with trailers");
    Status::from_header_map(trailers).expect("the trailers carry a status")
}
