//! Tries to make the signer sign a fork, a rollback, or anything unproven,
//! directly, after a restart, and concurrently.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::sync::{Arc, Mutex};

use vellum_merkle::compact::{fold_right, root_nodes};
use vellum_merkle::proof::plan_consistency;
use vellum_merkle::{CompactRange, Hash, NodeId, TreeSize, leaf_hash};
use vellum_note::{Checkpoint, SigType, SignerKey};
use vellum_signer::journal::{Journal, RecordKind};
use vellum_signer::{CheckpointSigner, SignerError};

const ORIGIN: &str = "example.com/signer-test";

/// A tree that keeps every complete node, to produce real proofs.
struct Tree {
    edge: CompactRange,
    nodes: std::collections::HashMap<NodeId, Hash>,
}

impl Tree {
    fn new(entries: impl IntoIterator<Item = String>) -> Tree {
        let mut t = Tree {
            edge: CompactRange::new(),
            nodes: Default::default(),
        };
        for e in entries {
            t.edge
                .append(leaf_hash(e.as_bytes()), |id, h| {
                    t.nodes.insert(id, *h);
                })
                .unwrap();
        }
        t
    }
    fn root_at(&self, n: u64) -> Hash {
        let ids = root_nodes(TreeSize::new(n).unwrap());
        fold_right(&ids.iter().map(|i| self.nodes[i]).collect::<Vec<_>>())
    }
    fn text(&self, n: u64) -> String {
        Checkpoint::new(ORIGIN, TreeSize::new(n).unwrap(), self.root_at(n))
            .unwrap()
            .to_text()
    }
    fn proof(&self, from: u64, to: u64) -> Vec<Hash> {
        let plan =
            plan_consistency(TreeSize::new(from).unwrap(), TreeSize::new(to).unwrap()).unwrap();
        let hashes: Vec<Hash> = plan.nodes().iter().map(|i| self.nodes[i]).collect();
        plan.assemble(&hashes).unwrap()
    }
}

fn entries(prefix: &str, n: u64) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i}")).collect()
}

fn size(n: u64) -> TreeSize {
    TreeSize::new(n).unwrap()
}

fn key() -> SignerKey {
    SignerKey::generate(ORIGIN, SigType::Ed25519).unwrap()
}

fn signed_sizes(dir: &std::path::Path) -> Vec<String> {
    Journal::read_all(dir)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == RecordKind::Signed)
        .map(|r| String::from_utf8(r.payload).unwrap())
        .collect()
}

#[test]
fn signs_a_growing_tree_and_refuses_forks_and_rollbacks() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let mut s =
        CheckpointSigner::open(SignerKey::parse(&k.to_text()).unwrap(), dir.path()).unwrap();
    let honest = Tree::new(entries("honest", 100));

    s.sign(&honest.text(0), size(0), &[]).unwrap();
    s.sign(&honest.text(10), size(0), &honest.proof(0, 10))
        .unwrap();
    let n37 = s
        .sign(&honest.text(37), size(10), &honest.proof(10, 37))
        .unwrap();
    // Asking again for the same checkpoint returns the same signature.
    assert_eq!(s.sign(&honest.text(37), size(37), &[]).unwrap(), n37);

    // Fork 1: same size, another root.
    let mut forked = entries("honest", 37);
    forked[5] = "tampered".into();
    let fork = Tree::new(forked.clone());
    let e = s.sign(&fork.text(37), size(37), &[]).unwrap_err();
    assert!(matches!(e, SignerError::Fork { size: 37, .. }), "{e}");

    // Fork 2: a larger tree that dropped an entry; the proof is honest about
    // the fork tree and cannot connect to what was signed.
    let mut dropped = entries("honest", 50);
    dropped.remove(3);
    let fork2 = Tree::new(dropped);
    let e = s
        .sign(&fork2.text(49), size(37), &fork2.proof(37, 49))
        .unwrap_err();
    assert!(matches!(e, SignerError::BadProof { from: 37, .. }), "{e}");

    // Rollback.
    let e = s.sign(&honest.text(20), size(37), &[]).unwrap_err();
    assert!(
        matches!(
            e,
            SignerError::Shrink {
                signed: 37,
                requested: 20
            }
        ),
        "{e}"
    );

    // A proof from the wrong size is not a refusal: prove from 37.
    let e = s
        .sign(&honest.text(60), size(10), &honest.proof(10, 60))
        .unwrap_err();
    assert!(matches!(
        e,
        SignerError::StaleOldSize {
            signed_size: 37,
            given: 10
        }
    ));

    // Another origin; extension lines; non-canonical text.
    let other = Checkpoint::new("example.com/other", size(60), honest.root_at(60)).unwrap();
    assert!(matches!(
        s.sign(&other.to_text(), size(37), &honest.proof(37, 60)),
        Err(SignerError::WrongOrigin { .. })
    ));
    let ext = format!("{}ext\n", honest.text(60));
    assert!(matches!(
        s.sign(&ext, size(37), &honest.proof(37, 60)),
        Err(SignerError::Malformed(_))
    ));

    // The honest continuation still works.
    s.sign(&honest.text(60), size(37), &honest.proof(37, 60))
        .unwrap();
    drop(s);

    // The journal shows exactly the honest checkpoints, and the refusals.
    let signed = signed_sizes(dir.path());
    let sizes: Vec<&str> = signed.iter().map(|n| n.lines().nth(1).unwrap()).collect();
    assert_eq!(sizes, vec!["0", "10", "37", "60"]);
    assert!(
        !signed
            .iter()
            .any(|n| n.contains(&fork.root_at(37).to_string()))
    );
    let refused = Journal::read_all(dir.path())
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == RecordKind::Refused)
        .count();
    assert_eq!(refused, 5);

    // A restarted signer remembers and keeps refusing.
    let mut s =
        CheckpointSigner::open(SignerKey::parse(&k.to_text()).unwrap(), dir.path()).unwrap();
    assert_eq!(s.last_signed().unwrap().checkpoint.size().get(), 60);
    assert!(matches!(
        s.sign(&fork.text(37), size(37), &[]),
        Err(SignerError::Shrink { .. })
    ));
    let mut forked60 = entries("honest", 60);
    forked60[59] = "tampered".into();
    assert!(matches!(
        s.sign(&Tree::new(forked60).text(60), size(60), &[]),
        Err(SignerError::Fork { .. })
    ));
    s.sign(&honest.text(100), size(60), &honest.proof(60, 100))
        .unwrap();
}

#[test]
fn journal_of_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = CheckpointSigner::open(key(), dir.path()).unwrap();
    s.sign(&Tree::new(entries("x", 3)).text(3), size(0), &[])
        .unwrap();
    drop(s);
    assert!(matches!(
        CheckpointSigner::open(key(), dir.path()),
        Err(SignerError::ForeignJournal { .. })
    ));
}

#[test]
fn concurrent_requests_cannot_sign_two_roots_for_one_size() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(Mutex::new(
        CheckpointSigner::open(key(), dir.path()).unwrap(),
    ));
    s.lock()
        .unwrap()
        .sign(&Tree::new(entries("base", 0)).text(0), size(0), &[])
        .unwrap();
    // Eight different trees of size 20 race for the first signature.
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let tree = Tree::new(entries(&format!("racer {t}"), 20));
                let r = s
                    .lock()
                    .unwrap()
                    .sign(&tree.text(20), size(0), &tree.proof(0, 20));
                r.is_ok()
            })
        })
        .collect();
    let wins = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|won| *won)
        .count();
    assert_eq!(wins, 1, "exactly one racer is signed");
    drop(s);
    let signed = signed_sizes(dir.path());
    let at20: Vec<_> = signed
        .iter()
        .filter(|n| n.lines().nth(1) == Some("20"))
        .collect();
    assert_eq!(at20.len(), 1, "exactly one root signed for size 20");
}

#[test]
fn adoption_only_moves_the_signers_memory_forward_and_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let tree = Tree::new(entries("e", 50));
    // Notes this key signed elsewhere (the journal that was lost).
    let note = |n: u64| vellum_note::sign_note(&tree.text(n), &[&k]).unwrap();
    let mut s =
        CheckpointSigner::open(SignerKey::parse(&k.to_text()).unwrap(), dir.path()).unwrap();
    s.sign(&tree.text(10), size(0), &[]).unwrap();

    // Forward, proven from what it remembers: adopted and recorded.
    assert!(
        s.adopt(
            note(30).as_bytes(),
            &tree.proof(10, 30),
            "restored on host b"
        )
        .unwrap()
    );
    assert_eq!(s.last_signed().unwrap().checkpoint.size(), size(30));
    // The same again changes nothing.
    assert!(!s.adopt(note(30).as_bytes(), &[], "again").unwrap());
    // Back, or unproven, or another key's: refused, nothing recorded.
    assert!(matches!(
        s.adopt(note(20).as_bytes(), &[], "back"),
        Err(SignerError::Shrink { .. })
    ));
    assert!(matches!(
        s.adopt(note(40).as_bytes(), &tree.proof(10, 40), "wrong proof"),
        Err(SignerError::BadProof { .. })
    ));
    let stranger = vellum_note::sign_note(&tree.text(40), &[&key()]).unwrap();
    assert!(matches!(
        s.adopt(stranger.as_bytes(), &tree.proof(30, 40), "stranger"),
        Err(SignerError::Malformed(_))
    ));
    let other = Tree::new(entries("fork", 30));
    let forked = vellum_note::sign_note(&other.text(30), &[&k]).unwrap();
    assert!(matches!(
        s.adopt(forked.as_bytes(), &[], "fork"),
        Err(SignerError::Fork { .. })
    ));

    drop(s);
    let records = Journal::read_all(dir.path()).unwrap();
    let kinds: Vec<_> = records.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::Signed,
            RecordKind::Recovered,
            RecordKind::Signed
        ]
    );
    assert!(String::from_utf8_lossy(&records[1].payload).contains("restored on host b"));
    // Re-opened, the signer remembers the adopted tree and extends it.
    let mut s = CheckpointSigner::open(k, dir.path()).unwrap();
    assert_eq!(s.last_signed().unwrap().checkpoint.size(), size(30));
    s.sign(&tree.text(50), size(30), &tree.proof(30, 50))
        .unwrap();
}
