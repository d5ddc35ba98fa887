//! Entries and the gRPC requests that carry them.

use bytes::Bytes;
use vellum_proto::v1 as pb;

/// `n` distinct entries: `"<tag> entry <i>"` for `i` in `0..n`.
pub fn entries(tag: &str, n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(format!("{tag} entry {i}")))
        .collect()
}

/// An `Append` request for `entries` that waits for `wait`, with request
/// id 1 (the id only labels the answer; it changes nothing).
pub fn append(entries: Vec<Bytes>, wait: pb::WaitFor) -> pb::AppendRequest {
    append_with_id(entries, wait, 1)
}

/// As [`append`], with the caller's request id.
pub fn append_with_id(entries: Vec<Bytes>, wait: pb::WaitFor, id: u64) -> pb::AppendRequest {
    pb::AppendRequest {
        entries,
        wait: wait as i32,
        request_id: id,
    }
}
