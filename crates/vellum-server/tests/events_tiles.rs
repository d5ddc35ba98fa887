//! The tiles of an events log, checked with tools that are not Vellum's:
//! the checkpoint's signature with `ed25519-dalek` over the C2SP
//! signed-note text (parsed here, by hand), the root with `ct-merkle`'s
//! RFC 6962 tree over the entries of the tiles' bundle, and each entry with
//! an ordinary JSON parser and a second RFC 8785 implementation
//! (`serde_json_canonicalizer`), which must give back the stored bytes.
//! The event layer changes nothing in the tree or its formats.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use vellum_proto::v1 as pb;
use vellum_server::LogKind;
use vellum_testkit::TestServer;

/// The vkey `name+hex(key id)+base64(0x01 || public key)`: name, key id
/// and Ed25519 key, as C2SP signed-note defines it.
fn parse_vkey(vkey: &str) -> (String, [u8; 4], VerifyingKey) {
    // A name has no '+'; the base64 may.
    let mut parts = vkey.splitn(3, '+');
    let (name, id, b64) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let raw = STANDARD.decode(b64).unwrap();
    assert_eq!(raw[0], 0x01, "not an Ed25519 key");
    let key = VerifyingKey::from_bytes(&raw[1..].try_into().unwrap()).unwrap();
    let id: [u8; 4] = u32::from_str_radix(id, 16).unwrap().to_be_bytes();
    // The key id is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key).
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a]);
    h.update(&raw);
    assert_eq!(h.finalize()[..4], id, "key id");
    (name.to_owned(), id, key)
}

/// Verifies the log's signature on a checkpoint note; returns its origin,
/// size and root.
fn open_checkpoint(note: &[u8], vkey: &str) -> (String, u64, [u8; 32]) {
    let (name, id, key) = parse_vkey(vkey);
    let text = std::str::from_utf8(note).unwrap();
    let (body, sigs) = text.split_once("\n\n").unwrap();
    let body = format!("{body}\n");
    let mut verified = false;
    for line in sigs.lines() {
        let rest = line.strip_prefix("\u{2014} ").unwrap();
        let (who, b64) = rest.split_once(' ').unwrap();
        let raw = STANDARD.decode(b64).unwrap();
        if who == name && raw[..4] == id {
            let sig = Signature::from_slice(&raw[4..]).unwrap();
            key.verify_strict(body.as_bytes(), &sig).unwrap();
            verified = true;
        }
    }
    assert!(verified, "no signature by {name}");
    let mut lines = body.lines();
    let origin = lines.next().unwrap().to_owned();
    let size = lines.next().unwrap().parse().unwrap();
    let root: [u8; 32] = STANDARD
        .decode(lines.next().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    (origin, size, root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_log_verifies_with_tools_that_are_not_ours() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::builder(dir.path())
        .http()
        .with(|o| o.kind = LogKind::Events)
        .start()
        .await;
    let mut c = server.client().await;
    let n = 40u64;
    for i in 0..n {
        let payload = format!(
            r#"{{"before":{{"name":"caf\u00e9 {i}"}},"after":{{"n":{}, "big":9007199254740991, "f":1e-7}}}}"#,
            i * 3
        );
        let event = vellum_event::Submitted {
            actor: vellum_event::Actor {
                id: format!("user-{}", i % 4),
                kind: "user".into(),
                on_behalf_of: (i % 5 == 0).then(|| "admin".into()),
            },
            action: "document.update".into(),
            resource: vellum_event::Resource {
                kind: "document".into(),
                id: format!("doc-{}", i % 3),
            },
            outcome: vellum_event::Outcome {
                result: Some(vellum_event::OutcomeResult::Success),
                reason: None,
            },
            event_time: "2026-12-05T19:30:00.500+01:00".into(),
            attributes: [("\u{1F600} key".to_owned(), format!("v{i}"))].into(),
            payload: Some(payload.into_bytes()),
            event_id: Some(format!("e{i}")),
        };
        c.record(pb::RecordRequest {
            event: Some((&event).into()),
            wait: if i + 1 == n {
                pb::WaitFor::Checkpoint as i32
            } else {
                pb::WaitFor::Durable as i32
            },
        })
        .await
        .unwrap();
    }
    let base = server.http_url().unwrap();
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{base}/{path}");
        async move {
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            r.bytes().await.unwrap()
        }
    };
    let note = get("checkpoint".into()).await;
    let (origin, size, root) = open_checkpoint(&note, &server.vkey().to_string());
    assert_eq!(origin, server.running.origin);
    assert_eq!(size, n);

    let bundle = get(format!("tile/entries/000.p/{n}")).await;
    let mut tree: MemoryBackedTree<Sha256, Vec<u8>> = MemoryBackedTree::new();
    let mut rest = &bundle[..];
    let mut count = 0;
    while !rest.is_empty() {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let entry = &rest[2..2 + len];
        rest = &rest[2 + len..];
        // An ordinary JSON parser reads it; a second JCS implementation
        // writes exactly the stored bytes back.
        let value: serde_json::Value = serde_json::from_slice(entry).unwrap();
        assert_eq!(
            serde_json_canonicalizer::to_vec(&value).unwrap(),
            entry,
            "entry {count} is not canonical by another implementation"
        );
        assert!(value["submitter"].is_string() && value["received_at"].is_string());
        tree.push(entry.to_vec());
        count += 1;
    }
    assert_eq!(count, n);
    assert_eq!(
        tree.root().as_bytes().as_slice(),
        root.as_slice(),
        "ct-merkle's root over the tiles' entries is the signed root"
    );
    // The hash tile agrees with ct-merkle too: level-0 tile = leaf hashes.
    let tile = get(format!("tile/0/000.p/{n}")).await;
    assert_eq!(tile.len(), 32 * n as usize);
    let mut rest = &bundle[..];
    for i in 0..n as usize {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let mut h = Sha256::new();
        h.update([0x00]);
        h.update(&rest[2..2 + len]);
        assert_eq!(
            h.finalize().as_slice(),
            &tile[32 * i..32 * (i + 1)],
            "leaf {i}"
        );
        rest = &rest[2 + len..];
    }
    server.stop().await;
}
