//! Writes the seed corpora under `fuzz/seeds/<target>/` from the
//! interoperability vectors (`testdata/vectors`) and the fixed keys of
//! `vellum_fuzz`. The output is deterministic (Ed25519 signs
//! deterministically, timestamps are fixed), so re-running it changes no
//! committed file unless the generator or the vectors changed.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::Message;
use vellum_fuzz::{LOG_ORIGIN, LOG_PRIVATE_KEY, LOG_VKEY, SEP, frame, keys, scratch_dir};
use vellum_merkle::testonly::reference;
use vellum_merkle::{Hash, LeafIndex, TreeSize, leaf_hash};
use vellum_note::{Checkpoint, NoteSigner, sign_note};
use vellum_proto::v1 as pb;
use vellum_signer::journal::{Journal, RecordKind};
use vellum_witness::AddCheckpointRequest;

const SIZES: [u64; 5] = [0, 1, 7, 256, 4097];

struct Out {
    root: PathBuf,
}

impl Out {
    fn put(&self, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("a seeds folder");
        fs::write(dir.join(name), bytes).expect("writing a seed");
    }
}

fn tree_size(n: u64) -> TreeSize {
    TreeSize::new(n).expect("seed sizes are small")
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&SEP)
}

/// The vectors' tree: leaf `i` is `"vellum test entry " + i`.
struct Tree {
    entries: Vec<Vec<u8>>,
}

impl Tree {
    fn root(&self, n: u64) -> Hash {
        reference::root(&self.entries[..n as usize])
    }

    fn consistency(&self, m: u64, n: u64) -> Vec<Hash> {
        if m == 0 || m == n {
            return Vec::new();
        }
        reference::consistency(m as usize, &self.entries[..n as usize])
    }
}

fn main() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vectors = fuzz.join("../testdata/vectors");
    let out = Out {
        root: fuzz.join("seeds"),
    };
    if out.root.exists() {
        fs::remove_dir_all(&out.root).expect("clearing old seeds");
    }
    let k = keys();
    let tree = Tree {
        entries: (0..4097u64)
            .map(|i| format!("vellum test entry {i}").into_bytes())
            .collect(),
    };
    let note_json: serde_json::Value =
        serde_json::from_slice(&fs::read(vectors.join("note.json")).expect("note.json"))
            .expect("note.json is JSON");
    assert_eq!(note_json["private_key"], LOG_PRIVATE_KEY);
    assert_eq!(note_json["verifier_key"], LOG_VKEY);

    // Signed checkpoints: the vectors' own (byte for byte what Go made; the
    // generator checks it makes the same), then cosigned ones.
    let mut notes = Vec::new();
    for cp in note_json["checkpoints"].as_array().expect("checkpoints") {
        let signed = cp["signed_note"].as_str().expect("a signed note");
        let size = cp["size"].as_u64().expect("a size");
        assert_eq!(k.signed_checkpoint(size, tree.root(size), &[], 0), signed);
        notes.push((format!("vector-{size}"), signed.to_owned()));
    }
    let cosigned = k.signed_checkpoint(7, tree.root(7), &[0, 1], 1_700_000_000);
    let one_witness = k.signed_checkpoint(256, tree.root(256), &[1], 1_700_000_001);
    let other_text = Checkpoint::new("example.com/other-log", tree_size(3), tree.root(3))
        .map(|c| c.to_text())
        .expect("a checkpoint");
    let other_log = sign_note(&other_text, &[&k.other_log as &dyn NoteSigner]).expect("signs");
    notes.push(("cosigned-7".into(), cosigned.clone()));
    notes.push(("witnessed-256".into(), one_witness.clone()));
    notes.push(("other-log-3".into(), other_log.clone()));
    let mut rejects = Vec::new();
    for (name, note) in note_json["must_reject"].as_object().expect("must_reject") {
        rejects.push((
            format!("reject-{name}"),
            note.as_str().expect("a note").to_owned(),
        ));
    }
    for (name, note) in notes.iter().chain(&rejects) {
        out.put("note_verify", name, note);
        out.put("signed_checkpoint_open", name, note);
        out.put("trusted_state", name, note);
        out.put("policy", name, note);
    }
    let lines = note_json["checkpoints"][2]["signed_note"]
        .as_str()
        .and_then(|n| n.split_once("\n\n"))
        .map(|(_, sigs)| sigs.to_owned())
        .expect("signature lines");
    out.put("note_verify", "signature-lines", lines);

    // Checkpoint texts.
    for &size in &SIZES {
        let text = Checkpoint::new(LOG_ORIGIN, tree_size(size), tree.root(size))
            .expect("a checkpoint")
            .to_text();
        out.put("checkpoint_parse", &format!("size-{size}"), text);
    }
    let ext = Checkpoint::new(LOG_ORIGIN, tree_size(5), tree.root(5))
        .and_then(|c| c.with_extensions(vec!["ext line".into(), "— another".into()]))
        .expect("extension lines");
    out.put("checkpoint_parse", "extensions", ext.to_text());

    // Key text forms.
    let [w1, w2] = k.witness_verifiers();
    out.put("keys_parse", "log-private", LOG_PRIVATE_KEY);
    out.put("keys_parse", "log-vkey", LOG_VKEY);
    out.put("keys_parse", "witness-vkey", w1.verifier_key().to_string());
    out.put(
        "keys_parse",
        "witness-private",
        &*k.witnesses[1].signer_key().to_text(),
    );
    out.put(
        "keys_parse",
        "other-log-vkey",
        format!("{}\n", k.other_log.verifier()),
    );
    let upper = LOG_VKEY.replace("7da66be6", "7DA66BE6");
    out.put("keys_parse", "vkey-upper-case-id", upper);

    // tlog-proof files, with their entries after a NUL.
    for i in [0u64, 1, 2048, 4095, 4096] {
        let file =
            fs::read(vectors.join(format!("tlog-proof/entry-{i}.tlog-proof"))).expect("proof");
        let data = fs::read(vectors.join(format!("tlog-proof/entry-{i}.data"))).expect("entry");
        out.put("tlog_proof", &format!("entry-{i}"), join(&[&file, &data]));
    }
    let path = reference::inclusion(3, &tree.entries[..7]);
    let witnessed = vellum_note::TlogProof::new(
        Some(b"extra".to_vec()),
        LeafIndex::new(3).expect("a small index"),
        path,
        cosigned.clone().into_bytes(),
    )
    .expect("a proof");
    out.put(
        "tlog_proof",
        "cosigned-7",
        join(&[witnessed.format().as_bytes(), &tree.entries[3]]),
    );

    // Policies, with a note after a NUL.
    let policy = k.policy_text();
    out.put(
        "policy",
        "fixed-cosigned",
        join(&[policy.as_bytes(), cosigned.as_bytes()]),
    );
    out.put(
        "policy",
        "fixed-other-log",
        join(&[policy.as_bytes(), other_log.as_bytes()]),
    );
    let nested = format!(
        "# comment\nlog {}\nwitness A {}\nwitness B {} https://b.example/\n\
         group G1 2 A B\ngroup G2 any G1 A\ngroup G3 all G2\nquorum G3\n",
        k.log.verifier(),
        w1.verifier_key(),
        w2.verifier_key()
    );
    out.put(
        "policy",
        "nested-groups",
        join(&[nested.as_bytes(), cosigned.as_bytes()]),
    );
    out.put(
        "policy",
        "quorum-none",
        join(&[
            format!("log {LOG_VKEY}\nquorum none\n").as_bytes(),
            notes[2].1.as_bytes(),
        ]),
    );

    // Witness log lists.
    out.put(
        "witness_config",
        "two-logs",
        format!(
            "# logs\nlog {LOG_VKEY} https://log.example/\n\nlog {}\n",
            k.other_log.verifier()
        ),
    );
    out.put(
        "witness_config",
        "quorum-none",
        format!("log {LOG_VKEY}\nquorum none\n"),
    );
    out.put("witness_config", "a-client-policy", &policy);

    // Tile paths and bytes.
    for (i, p) in [
        "tile/0/000",
        "tile/0/x001/x234/067.p/5",
        "tile/entries/259.p/232",
        "tile/7/000.p/128",
        "tile/2/000.p/1",
        "tile/entries/x999/999",
    ]
    .iter()
    .enumerate()
    {
        out.put("tile_path", &format!("path-{i}"), p);
    }
    for (name, rel, width) in [
        ("tile-0-000", "tiles/tile/0/000", 256u16),
        ("tile-0-259-p-3", "tiles/tile/0/259.p/3", 3),
        ("tile-1-001-p-3", "tiles/tile/1/001.p/3", 3),
        ("bundle-000", "tiles/tile/entries/000", 256),
        ("bundle-259-p-232", "tiles/tile/entries/259.p/232", 232),
    ] {
        let bytes = fs::read(vectors.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut seed = width.to_be_bytes().to_vec();
        seed.extend_from_slice(&bytes);
        out.put("tile_bytes", name, seed);
    }

    // Structured targets: a few deterministic byte strings to start from.
    for target in ["inclusion", "consistency"] {
        for i in 0u8..4 {
            let bytes: Vec<u8> = (0..64u8)
                .map(|j| j.wrapping_mul(37).wrapping_add(i.wrapping_mul(101)))
                .collect();
            out.put(target, &format!("start-{i}"), bytes);
        }
    }

    // Witness requests: a chain of the vectors' checkpoints with their
    // proofs, a repeat (409), a fork (409), and the other log.
    let request = |old: u64, new: u64, note: &str| {
        AddCheckpointRequest::encode(old, &tree.consistency(old, new), note.as_bytes())
    };
    let chain: Vec<Vec<u8>> = SIZES
        .windows(2)
        .map(|w| {
            request(
                w[0],
                w[1],
                &notes[SIZES.iter().position(|s| *s == w[1]).expect("a size")].1,
            )
        })
        .collect();
    for (i, body) in chain.iter().enumerate() {
        out.put("witness_request", &format!("step-{i}"), body);
    }
    out.put("witness_request", "cosigned", request(0, 7, &cosigned));
    let fork = k.signed_checkpoint(7, Hash([7; 32]), &[], 0);
    let mut all: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
    let repeat = request(0, 1, &notes[1].1);
    let forked = request(7, 7, &fork);
    let other = AddCheckpointRequest::encode(0, &[], other_log.as_bytes());
    all.extend([repeat.as_slice(), forked.as_slice(), other.as_slice()]);
    out.put("witness_add_checkpoint", "chain", join(&all));
    out.put(
        "witness_add_checkpoint",
        "fork-at-7",
        join(&[&chain[0], &chain[1], &forked]),
    );
    out.put(
        "witness_add_checkpoint",
        "bad-proof",
        join(&[&chain[1], &chain[0]]),
    );

    // Witness state files: mode 1 wraps the note with a valid checksum.
    let mut wrapped = vec![1u8];
    wrapped.extend_from_slice(notes[3].1.as_bytes());
    out.put("witness_state", "note-256", wrapped);
    let mut raw = vec![0u8];
    raw.extend_from_slice(b"vellum-witness-state/v1\nsha256 00\n");
    out.put("witness_state", "bad-checksum", raw);

    // Evidence files (the client writes them with this layout).
    let evidence = |kind: &str, a: &str, b: &str, proof: Option<&[Hash]>| {
        let mut e = format!(
            "vellum-evidence v1 {kind}\nreason seed\ntrusted {}\n{a}offending {}\n{b}",
            a.len(),
            b.len()
        );
        match proof {
            None => e.push_str("proof none\n"),
            Some(p) => {
                e.push_str(&format!("proof {}\n", p.len()));
                for h in p {
                    e.push_str(&STANDARD.encode(h.0));
                    e.push('\n');
                }
            }
        }
        e
    };
    out.put(
        "evidence",
        "split-view",
        evidence("split-view", &notes[2].1, &fork, None),
    );
    out.put(
        "evidence",
        "rollback",
        evidence("rollback", &notes[3].1, &notes[2].1, None),
    );
    let bad_proof: Vec<Hash> = tree
        .consistency(7, 256)
        .iter()
        .map(|h| Hash([h.0[0] ^ 1; 32]))
        .collect();
    out.put(
        "evidence",
        "inconsistent",
        evidence("inconsistent", &notes[2].1, &notes[3].1, Some(&bad_proof)),
    );

    // Signer journals: real segments, cut after their records.
    let journal = |records: &[(RecordKind, &[u8])]| -> Vec<u8> {
        let dir = scratch_dir();
        let mut j = Journal::open(dir.path()).expect("a journal");
        for (kind, payload) in records {
            j.append(*kind, payload).expect("an append");
        }
        drop(j);
        let mut bytes = fs::read(dir.path().join("0000000000000001.journal")).expect("a segment");
        let end = bytes.iter().rposition(|b| *b != 0).map_or(32, |i| i + 1);
        bytes.truncate(end + 16);
        bytes
    };
    let seg1 = journal(&[
        (RecordKind::Signed, notes[1].1.as_bytes()),
        (RecordKind::Refused, b"refused: a fork"),
    ]);
    let seg2 = journal(&[(RecordKind::Signed, notes[2].1.as_bytes())]);
    let mut one = vec![0u8];
    one.extend(frame(&[&seg1]));
    out.put("signer_journal", "one-segment", one);
    let mut two = vec![1u8];
    two.extend(frame(&[&seg1, &seg2]));
    out.put("signer_journal", "two-segments", two);
    let mut torn = vec![0u8];
    torn.extend(frame(&[&seg1[..seg1.len() - 30]]));
    out.put("signer_journal", "torn", torn);

    // Signer requests: protobuf frames.
    let sign_req = |old: u64, new: u64, root: Hash| {
        let text = Checkpoint::new(LOG_ORIGIN, tree_size(new), root)
            .expect("a checkpoint")
            .to_text();
        pb::SignCheckpointRequest {
            checkpoint_text: text.into_bytes().into(),
            old_size: old,
            consistency_proof: tree
                .consistency(old, new)
                .iter()
                .map(|h| h.0.to_vec().into())
                .collect(),
        }
        .encode_to_vec()
    };
    let s1 = sign_req(0, 7, tree.root(7));
    let s2 = sign_req(7, 256, tree.root(256));
    let s3 = sign_req(256, 4097, tree.root(4097));
    let s_fork = sign_req(256, 256, Hash([1; 32]));
    out.put("signer_sign", "chain", frame(&[&s1, &s2, &s3]));
    out.put("signer_sign", "fork", frame(&[&s1, &s2, &s_fork, &s2]));

    // Log requests: the first byte picks the message.
    let req = |which: u8, m: Vec<u8>| {
        let mut v = vec![which];
        v.extend(m);
        v
    };
    use pb::get_inclusion_proof_request::Leaf;
    let logs = [
        (
            "append",
            req(
                0,
                pb::AppendRequest {
                    entries: vec!["a".into(), "b".into(), "a".into()],
                    wait: pb::WaitFor::Checkpoint as i32,
                    request_id: 7,
                }
                .encode_to_vec(),
            ),
        ),
        (
            "append-durable",
            req(
                0,
                pb::AppendRequest {
                    entries: vec!["x".into()],
                    wait: 1,
                    request_id: 0,
                }
                .encode_to_vec(),
            ),
        ),
        (
            "checkpoint-latest",
            req(1, pb::GetCheckpointRequest { size: 0 }.encode_to_vec()),
        ),
        (
            "checkpoint-300",
            req(1, pb::GetCheckpointRequest { size: 300 }.encode_to_vec()),
        ),
        (
            "inclusion-index",
            req(
                2,
                pb::GetInclusionProofRequest {
                    leaf: Some(Leaf::Index(5)),
                    tree_size: 300,
                }
                .encode_to_vec(),
            ),
        ),
        (
            "inclusion-hash",
            req(
                2,
                pb::GetInclusionProofRequest {
                    leaf: Some(Leaf::LeafHash(
                        leaf_hash(b"vellum test entry 42").0.to_vec().into(),
                    )),
                    tree_size: 0,
                }
                .encode_to_vec(),
            ),
        ),
        (
            "consistency",
            req(
                3,
                pb::GetConsistencyProofRequest {
                    from_size: 7,
                    to_size: 300,
                }
                .encode_to_vec(),
            ),
        ),
        (
            "entries",
            req(
                4,
                pb::GetEntriesRequest {
                    start: 290,
                    count: 20,
                }
                .encode_to_vec(),
            ),
        ),
        (
            "entry-and-proof",
            req(
                5,
                pb::GetEntryAndProofRequest {
                    index: 10,
                    tree_size: 0,
                }
                .encode_to_vec(),
            ),
        ),
    ];
    for (name, bytes) in logs {
        out.put("grpc_log_requests", name, bytes);
    }

    // Stored audit events (canonical), and payloads.
    for (name, text) in EVENT_SEEDS {
        out.put("event_parse", name, text);
    }
}

/// Seeds of `event_parse`: stored events in their canonical form (the
/// schema of docs/EVENTS.md), and payload objects.
const EVENT_SEEDS: [(&str, &str); 4] = [
    (
        "recorded-first",
        r#"{"action":"permission.grant","actor":{"id":"alice","kind":"user"},"event_id":"req-1","event_time":"2026-12-05T18:30:00.25Z","outcome":{"result":"success"},"payload":{"after":{"role":"editor"}},"received_at":"2026-12-05T18:30:01Z","resource":{"id":"doc-7/editors","kind":"permission"},"submitter":"token:ingest","v":1}"#,
    ),
    (
        "recorded-chained",
        r#"{"action":"permission.grant","actor":{"id":"agent-7","kind":"agent","on_behalf_of":"alice"},"attributes":{"ip":"192.0.2.1","zé":""},"event_id":"req-1","event_time":"2026-12-05T18:30:00.25Z","outcome":{"reason":"no \"admin\" role","result":"denied"},"payload":{"after":{"n":1,"role":"editor","x":0.5},"before":{"role":"viewer"}},"prev":{"index":41,"leaf_hash":"abababababababababababababababababababababababababababababababab"},"received_at":"2026-12-05T18:30:01.000001Z","resource":{"id":"doc-7/editors","kind":"permission"},"submitter":"token:ingest","v":1}"#,
    ),
    (
        "payload-numbers",
        r#"{"n":[0,-0,1.0,1e21,1e-7,0.30000000000000004,9007199254740992,9007199254740993]}"#,
    ),
    (
        "payload-unicode",
        "{\"\\ud83d\\ude00\":1,\"\\ue000\":2,\"a\\u0000\":[\"\\u2028\\/\"]}",
    ),
];
