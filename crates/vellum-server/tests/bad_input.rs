//! Bad input over gRPC, against a server started in the test: every refusal
//! has the code `proto/vellum/v1/log.proto` documents and a message naming
//! the problem, the tree does not move, and the server keeps serving (a
//! normal append lands at the next index after each refusal).
//!
//! Covered: oversized entries and messages, empty and huge batches, indices
//! and sizes out of range and near `u64::MAX` for every read call, and bytes
//! that are not protobuf (through a raw codec) or not even gRPC framing
//! (through a raw HTTP/2 request).

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod raw_support;

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};
use vellum_merkle::{MAX_TREE_SIZE, leaf_hash};
use vellum_proto::v1 as pb;
use vellum_server::Running;
use vellum_testkit::TestServer;
use vellum_testkit::requests::append;

use pb::get_inclusion_proof_request::Leaf;
use raw_support::raw_call;

const MAX_ENTRY: usize = 1024;
const MAX_PER_CALL: usize = 16;
const MAX_MESSAGE: usize = 256 << 10;
const BASE: u64 = 10;

struct Harness {
    running: Running,
    client: pb::log_client::LogClient<Channel>,
    channel: Channel,
    /// The committed tree size as the test expects it.
    size: u64,
}

fn entry(i: u64) -> Bytes {
    Bytes::from(format!("entry {i}"))
}

impl Harness {
    /// A server with small limits and `BASE` entries under a checkpoint.
    async fn start(dir: &std::path::Path) -> Harness {
        let server = TestServer::builder(dir)
            .with(|o| {
                o.tuning.max_entries_per_call = Some(MAX_PER_CALL);
                o.tuning.max_entry_size = Some(MAX_ENTRY);
                o.limits.max_message_bytes = MAX_MESSAGE;
            })
            .start()
            .await;
        let channel = server.channel().await;
        let running = server.running;
        let mut client = pb::log_client::LogClient::new(channel.clone());
        let r = client
            .append(append(
                (0..BASE).map(entry).collect(),
                pb::WaitFor::Checkpoint,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.results.last().unwrap().index, BASE - 1);
        Harness {
            running,
            client,
            channel,
            size: BASE,
        }
    }

    /// The refusal of `what` changed nothing, and the server still appends.
    async fn still_serving(&mut self, what: &str) {
        self.running.log.flush().await.unwrap();
        assert_eq!(
            self.running.log.committed().size.get(),
            self.size,
            "{what}: the tree moved"
        );
        let r = self
            .client
            .append(append(vec![entry(self.size)], pb::WaitFor::Durable))
            .await
            .unwrap_or_else(|e| panic!("after {what}: a normal append failed: {e:?}"))
            .into_inner();
        assert_eq!(r.results.len(), 1);
        assert_eq!(r.results[0].index, self.size, "after {what}");
        assert!(!r.results[0].duplicate);
        self.size += 1;
    }

    /// `r` is refused with `code` and a message containing `needle`; then
    /// [`Harness::still_serving`].
    async fn refused<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        r: Result<Response<T>, Status>,
        code: Code,
        needle: &str,
    ) {
        let s = match r {
            Ok(r) => panic!("{what}: accepted: {:?}", r.into_inner()),
            Err(s) => s,
        };
        assert_eq!(s.code(), code, "{what}: {s:?}");
        assert!(
            s.message().contains(needle),
            "{what}: {:?} does not mention {needle:?}",
            s.message()
        );
        self.still_serving(what).await;
    }

    async fn stop(self) {
        self.running.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::start(dir.path()).await;
    let durable = pb::WaitFor::Durable;

    let r = h.client.append(append(vec![], durable)).await;
    h.refused(
        "an empty batch",
        r,
        Code::InvalidArgument,
        "at least one entry",
    )
    .await;

    let big = Bytes::from(vec![7u8; MAX_ENTRY + 1]);
    let r = h.client.append(append(vec![big.clone()], durable)).await;
    let needle = format!(
        "entry 0 is {} bytes; the limit is {MAX_ENTRY} bytes",
        MAX_ENTRY + 1
    );
    h.refused("an oversized entry", r, Code::InvalidArgument, &needle)
        .await;
    // Good entries before a bad one are not stored either.
    let r = h
        .client
        .append(append(vec![entry(1000), entry(1001), big], durable))
        .await;
    h.refused(
        "an oversized third entry",
        r,
        Code::InvalidArgument,
        "entry 2 is 1025 bytes",
    )
    .await;
    let r = h
        .client
        .append(append(vec![Bytes::from(vec![1u8; 65_536])], durable))
        .await;
    h.refused(
        "an entry past the tlog-tiles limit",
        r,
        Code::InvalidArgument,
        "entry 0 is 65536 bytes",
    )
    .await;

    let over = (0..=MAX_PER_CALL as u64).map(|i| entry(2000 + i)).collect();
    let r = h.client.append(append(over, durable)).await;
    let needle = format!(
        "{} entries in one call; the limit is {MAX_PER_CALL}",
        MAX_PER_CALL + 1
    );
    h.refused(
        "a batch one over the limit",
        r,
        Code::InvalidArgument,
        &needle,
    )
    .await;
    // 100,000 empty entries: 200 kB, under the message limit.
    let huge = vec![Bytes::new(); 100_000];
    let r = h.client.append(append(huge, durable)).await;
    h.refused(
        "a huge batch",
        r,
        Code::InvalidArgument,
        "100000 entries in one call; the limit is 16",
    )
    .await;

    // One message over the gRPC limit: refused by the transport before the
    // log sees it.
    let r = h
        .client
        .append(append(vec![Bytes::from(vec![3u8; MAX_MESSAGE])], durable))
        .await;
    h.refused(
        "a message over the limit",
        r,
        Code::OutOfRange,
        &format!("the limit is: {MAX_MESSAGE} bytes"),
    )
    .await;

    let bad_wait = pb::AppendRequest {
        entries: vec![entry(3000)],
        wait: 99,
        request_id: 0,
    };
    let r = h.client.append(bad_wait).await;
    h.refused(
        "an unknown wait",
        r,
        Code::InvalidArgument,
        "unknown wait value 99",
    )
    .await;
    let r = h
        .client
        .append(append(vec![entry(3001)], pb::WaitFor::Witnessed))
        .await;
    h.refused(
        "a witnessed wait without witnesses",
        r,
        Code::FailedPrecondition,
        "no witnesses configured",
    )
    .await;

    // The limits are inclusive: a batch of exactly the maximum, each entry
    // exactly the maximum size, is taken.
    let at_limit: Vec<Bytes> = (0..MAX_PER_CALL as u8)
        .map(|i| Bytes::from(vec![i; MAX_ENTRY]))
        .collect();
    let r = h
        .client
        .append(append(at_limit, durable))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.results[0].index, h.size);
    h.size += MAX_PER_CALL as u64;
    h.still_serving("a batch at the limits").await;

    // In a stream, a bad request gets its error in its own response and the
    // stream goes on.
    let reqs = vec![
        pb::AppendRequest {
            request_id: 1,
            ..append(vec![], durable)
        },
        pb::AppendRequest {
            request_id: 2,
            ..append(vec![Bytes::from(vec![0u8; MAX_ENTRY + 1])], durable)
        },
        pb::AppendRequest {
            request_id: 3,
            ..append(vec![Bytes::new(); MAX_PER_CALL + 1], durable)
        },
        pb::AppendRequest {
            request_id: 4,
            ..append(vec![entry(h.size)], durable)
        },
    ];
    let mut out = h
        .client
        .append_stream(tokio_stream::iter(reqs))
        .await
        .unwrap()
        .into_inner();
    let mut answers = std::collections::BTreeMap::new();
    while let Some(r) = out.message().await.unwrap() {
        answers.insert(r.request_id, r);
    }
    assert_eq!(answers.len(), 4);
    for (id, needle) in [
        (1, "at least one entry"),
        (2, "entry 0 is 1025 bytes"),
        (3, "17 entries in one call"),
    ] {
        let e = answers[&id].error.as_ref().unwrap();
        assert_eq!(e.code, Code::InvalidArgument as i32, "{e:?}");
        assert!(e.message.contains(needle), "{e:?}");
        assert!(answers[&id].results.is_empty());
    }
    assert_eq!(answers[&4].results[0].index, h.size);
    h.size += 1;
    // A message over the limit inside a stream ends the stream.
    let reqs = vec![append(vec![Bytes::from(vec![5u8; MAX_MESSAGE])], durable)];
    let r = h.client.append_stream(tokio_stream::iter(reqs)).await;
    let status = match r {
        Err(s) => s,
        Ok(resp) => resp.into_inner().message().await.unwrap_err(),
    };
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    h.still_serving("a stream message over the limit").await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::start(dir.path()).await;
    let max = u64::MAX;
    let beyond = |s: u64| format!("tree size {s} is beyond");

    // Inclusion by index.
    let inc = |leaf: Option<Leaf>, tree_size| pb::GetInclusionProofRequest { leaf, tree_size };
    let r = h.client.get_inclusion_proof(inc(None, 0)).await;
    h.refused(
        "inclusion without a leaf",
        r,
        Code::InvalidArgument,
        "give either index or leaf_hash",
    )
    .await;
    for (index, size) in [(max, 0), (max - 1, 0), (BASE, BASE), (5, 5), (1, 1)] {
        let r = h
            .client
            .get_inclusion_proof(inc(Some(Leaf::Index(index)), size))
            .await;
        let shown = if size == 0 {
            String::new()
        } else {
            size.to_string()
        };
        h.refused(
            &format!("inclusion of {index} at {size}"),
            r,
            Code::NotFound,
            &format!("index {index} is not in the tree of size {shown}"),
        )
        .await;
    }
    for (index, size) in [
        (max, max),
        (max - 1, max - 1),
        (0, max),
        (0, MAX_TREE_SIZE + 1),
        (0, MAX_TREE_SIZE),
    ] {
        let r = h
            .client
            .get_inclusion_proof(inc(Some(Leaf::Index(index)), size))
            .await;
        h.refused(
            &format!("inclusion of {index} at {size}"),
            r,
            Code::NotFound,
            &beyond(size),
        )
        .await;
    }
    let size = h.size + 1;
    let r = h
        .client
        .get_inclusion_proof(inc(Some(Leaf::Index(0)), size))
        .await;
    h.refused(
        "inclusion one past the tree",
        r,
        Code::NotFound,
        &beyond(size),
    )
    .await;
    // The last index at the current size is fine.
    let size = h.size;
    let ok = h
        .client
        .get_inclusion_proof(inc(Some(Leaf::Index(size - 1)), size))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((ok.index, ok.tree_size), (size - 1, size));

    // Inclusion by leaf hash.
    for len in [0usize, 1, 31, 33, 64] {
        let r = h
            .client
            .get_inclusion_proof(inc(Some(Leaf::LeafHash(Bytes::from(vec![1u8; len]))), 0))
            .await;
        h.refused(
            &format!("a leaf hash of {len} bytes"),
            r,
            Code::InvalidArgument,
            &format!("leaf_hash: a hash is 32 bytes, got {len}"),
        )
        .await;
    }
    let unknown = leaf_hash(b"never appended");
    let r = h
        .client
        .get_inclusion_proof(inc(
            Some(Leaf::LeafHash(Bytes::copy_from_slice(&unknown.0))),
            0,
        ))
        .await;
    h.refused(
        "an unknown leaf hash",
        r,
        Code::NotFound,
        "no entry with leaf hash",
    )
    .await;
    let known = leaf_hash(&entry(BASE - 1));
    let r = h
        .client
        .get_inclusion_proof(inc(
            Some(Leaf::LeafHash(Bytes::copy_from_slice(&known.0))),
            5,
        ))
        .await;
    h.refused(
        "a known leaf at a size before it",
        r,
        Code::NotFound,
        &format!("index {} is not in the tree of size 5", BASE - 1),
    )
    .await;
    let r = h
        .client
        .get_inclusion_proof(inc(
            Some(Leaf::LeafHash(Bytes::copy_from_slice(&known.0))),
            max,
        ))
        .await;
    h.refused("a known leaf at u64::MAX", r, Code::NotFound, &beyond(max))
        .await;

    // Consistency.
    let cons = |from_size, to_size| pb::GetConsistencyProofRequest { from_size, to_size };
    for (from, to) in [(5, 3), (BASE, BASE - 1), (2, 1)] {
        let r = h.client.get_consistency_proof(cons(from, to)).await;
        h.refused(
            &format!("consistency {from} to {to}"),
            r,
            Code::InvalidArgument,
            &format!("from size {from} is larger than to size {to}"),
        )
        .await;
    }
    for from in [max, max - 1, MAX_TREE_SIZE] {
        let r = h.client.get_consistency_proof(cons(from, 0)).await;
        h.refused(
            &format!("consistency {from} to the latest"),
            r,
            Code::InvalidArgument,
            &format!("from size {from} is larger than to size"),
        )
        .await;
    }
    for (from, to) in [(0, max), (1, max), (max - 1, max), (max, max), (1, max - 1)] {
        let r = h.client.get_consistency_proof(cons(from, to)).await;
        h.refused(
            &format!("consistency {from} to {to}"),
            r,
            Code::NotFound,
            &beyond(to),
        )
        .await;
    }
    let to = h.size + 1;
    let r = h.client.get_consistency_proof(cons(1, to)).await;
    h.refused(
        "consistency to one past the tree",
        r,
        Code::NotFound,
        &beyond(to),
    )
    .await;
    // The edges that are valid stay valid.
    let n = h.size;
    for (from, to) in [(n, n), (0, n), (1, n), (n - 1, n)] {
        let r = h
            .client
            .get_consistency_proof(cons(from, to))
            .await
            .unwrap_or_else(|e| panic!("consistency {from} to {to}: {e:?}"))
            .into_inner();
        assert_eq!((r.from_size, r.to_size), (from, to));
    }

    // Entries.
    let ents = |start, count| pb::GetEntriesRequest { start, count };
    let r = h.client.get_entries(ents(0, 0)).await;
    h.refused(
        "entries with a count of 0",
        r,
        Code::InvalidArgument,
        "count must be at least 1",
    )
    .await;
    for (start, count) in [
        (max, 1),
        (max, u32::MAX),
        (max - 1, u32::MAX),
        (max - u64::from(u32::MAX) + 1, u32::MAX),
        (MAX_TREE_SIZE, 1),
    ] {
        let r = h.client.get_entries(ents(start, count)).await;
        h.refused(
            &format!("entries from {start} ({count})"),
            r,
            Code::NotFound,
            &format!("entry {start} is beyond the log's"),
        )
        .await;
    }
    let start = h.size;
    let r = h.client.get_entries(ents(start, 1)).await;
    h.refused(
        "entries from the tree size",
        r,
        Code::NotFound,
        &format!("entry {start} is beyond the log's {start} entries"),
    )
    .await;
    // A huge count is cut at the end of the log (and at the page limit).
    let last = h.size - 1;
    let r = h
        .client
        .get_entries(ents(last, u32::MAX))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.start, r.entries.len()), (last, 1));
    assert_eq!(r.entries[0], entry(last));
    let r = h
        .client
        .get_entries(ents(0, u32::MAX))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.entries.is_empty() && r.entries.len() as u64 <= h.size);
    assert_eq!(r.entries[0], entry(0));

    // Entry and proof.
    let eap = |index, tree_size| pb::GetEntryAndProofRequest { index, tree_size };
    for (index, size) in [(max, 0), (BASE, BASE), (3, 3)] {
        let r = h.client.get_entry_and_proof(eap(index, size)).await;
        h.refused(
            &format!("entry and proof of {index} at {size}"),
            r,
            Code::NotFound,
            &format!("index {index} is not in the tree of size"),
        )
        .await;
    }
    for (index, size) in [(0, max), (max, max), (max - 1, max - 1), (0, MAX_TREE_SIZE)] {
        let r = h.client.get_entry_and_proof(eap(index, size)).await;
        h.refused(
            &format!("entry and proof of {index} at {size}"),
            r,
            Code::NotFound,
            &beyond(size),
        )
        .await;
    }

    // Checkpoints: sizes that were never signed, and sizes no tree has.
    let cp = |size| pb::GetCheckpointRequest { size };
    // (A size far enough ahead that the appends between stay below it.)
    for size in [1, BASE - 1, h.size + 1000, MAX_TREE_SIZE] {
        let r = h.client.get_checkpoint(cp(size)).await;
        h.refused(
            &format!("the checkpoint of size {size}"),
            r,
            Code::NotFound,
            &format!("the log signed no checkpoint of size {size}"),
        )
        .await;
    }
    for size in [max, max - 1, MAX_TREE_SIZE + 1] {
        let r = h.client.get_checkpoint(cp(size)).await;
        h.refused(
            &format!("the checkpoint of size {size}"),
            r,
            Code::InvalidArgument,
            &format!("tree size {size} is larger than the maximum 2^63"),
        )
        .await;
    }
    h.client.get_checkpoint(cp(BASE)).await.unwrap();
    h.stop().await;
}

/// Sends and receives message bytes as they are: the gRPC framing is
/// right, what is inside is whatever the test says.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

const METHODS: [(&str, &str); 6] = [
    ("Append", "AppendRequest"),
    ("GetCheckpoint", "GetCheckpointRequest"),
    ("GetInclusionProof", "GetInclusionProofRequest"),
    ("GetConsistencyProof", "GetConsistencyProofRequest"),
    ("GetEntries", "GetEntriesRequest"),
    ("GetEntryAndProof", "GetEntryAndProofRequest"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_protobuf() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::start(dir.path()).await;
    let garbage: [&[u8]; 7] = [
        // A varint that never ends.
        &[0xff; 11],
        // Field 1, length-delimited, 16 bytes announced, 1 there.
        &[0x0a, 0x10, b'a'],
        // Tag 0 (no such field number).
        &[0x00],
        // Field 1 as the start of a group that never ends.
        &[0x0b],
        // Field 1 with the reserved wire types 6 and 7.
        &[0x0e, 0x00],
        &[0x0f],
        // A 10-byte varint past 2^64.
        &[
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ],
    ];
    for (method, message) in METHODS {
        let path: http::uri::PathAndQuery = format!("/vellum.v1.Log/{method}").parse().unwrap();
        for g in garbage {
            let mut grpc = tonic::client::Grpc::new(h.channel.clone());
            grpc.ready().await.unwrap();
            let r = grpc
                .unary(Request::new(Bytes::from_static(g)), path.clone(), RawCodec)
                .await;
            h.refused(
                &format!("{method} with bytes {g:02x?}"),
                r,
                Code::InvalidArgument,
                &format!("not a valid vellum.v1.{message} protobuf message"),
            )
            .await;
        }
    }
    // A wrongly typed field: entries (bytes) sent as a varint.
    let mut grpc = tonic::client::Grpc::new(h.channel.clone());
    grpc.ready().await.unwrap();
    let r = grpc
        .unary(
            Request::new(Bytes::from_static(&[0x08, 0x01])),
            "/vellum.v1.Log/Append".parse().unwrap(),
            RawCodec,
        )
        .await;
    h.refused(
        "entries sent as a varint",
        r,
        Code::InvalidArgument,
        "AppendRequest.entries: invalid wire type",
    )
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_grpc_framing() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::start(dir.path()).await;
    // Each body is a gRPC length-prefixed message gone wrong: flag byte,
    // 4-byte big-endian length, message. The transport (tonic) refuses
    // them before any of our code runs: INTERNAL for a protocol error, as
    // the gRPC status-code table says, OUT_OF_RANGE for a length over the
    // limit. What the test holds us to: a precise message, nothing
    // appended, and the server still serving.
    let cases: [(&[u8], Code, &str); 5] = [
        // Compressed flag without a grpc-encoding header.
        (
            &[1, 0, 0, 0, 2, 0x0a, 0x00],
            Code::Internal,
            "compressed-flag but no grpc-encoding",
        ),
        // A flag byte that is neither 0 nor 1.
        (
            &[7, 0, 0, 0, 2, 0x0a, 0x00],
            Code::Internal,
            "invalid compression flag: 7",
        ),
        // 16 bytes announced, 2 sent.
        (
            &[0, 0, 0, 0, 16, 0x0a, 0x00],
            Code::Internal,
            "Unexpected EOF",
        ),
        // A frame header cut short.
        (&[0, 0, 0], Code::Internal, "Unexpected EOF"),
        // A length of 4 GiB.
        (
            &[0, 0xff, 0xff, 0xff, 0xff],
            Code::OutOfRange,
            "the limit is: 262144 bytes",
        ),
    ];
    for (method, _) in METHODS {
        let path = format!("/vellum.v1.Log/{method}");
        for (body, code, needle) in cases {
            let s = raw_call(&h.channel, &path, body).await;
            let what = format!("{method} with body {body:02x?}");
            assert_eq!(s.code(), code, "{what}: {s:?}");
            assert!(s.message().contains(needle), "{what}: {s:?}");
            h.still_serving(&what).await;
        }
    }
    // An unknown method of the service, and an unknown service.
    for path in ["/vellum.v1.Log/Delete", "/vellum.v1.Admin/Truncate"] {
        let s = raw_call(&h.channel, path, &[0, 0, 0, 0, 0]).await;
        assert_eq!(s.code(), Code::Unimplemented, "{path}: {s:?}");
        h.still_serving(path).await;
    }
    h.stop().await;
}
