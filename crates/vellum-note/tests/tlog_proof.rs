//! tlog-proof files: the Go-made vectors verify, round-trip byte for byte,
//! and fail for every systematic corruption.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use common::{note_vectors, read_vector, vectors_dir};
use vellum_merkle::{Hash, InclusionError, LeafIndex};
use vellum_note::{NoteError, Policy, PolicyError, ProofFileError, TlogProof, VerifierKey};

struct Vector {
    name: String,
    file: Vec<u8>,
    data: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(vectors_dir().join("tlog-proof")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("tlog-proof") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        out.push(Vector {
            file: std::fs::read(&path).unwrap(),
            data: read_vector(&format!("tlog-proof/{stem}.data")),
            name: stem,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(out.len(), 5, "expected the five vectors");
    out
}

fn policy() -> Policy {
    let vk = VerifierKey::parse(&note_vectors().verifier_key).unwrap();
    Policy::parse(&format!("log {vk}\nquorum none\n")).unwrap()
}

fn is_root_mismatch(e: &ProofFileError) -> bool {
    matches!(
        e,
        ProofFileError::Inclusion(InclusionError::RootMismatch { .. })
    )
}

#[test]
fn every_vector_verifies_and_round_trips() {
    let policy = policy();
    for v in vectors() {
        let proof = TlogProof::parse(&v.file).unwrap();
        assert_eq!(proof.format().as_bytes(), v.file.as_slice(), "{}", v.name);
        let index: u64 = v.name.trim_start_matches("entry-").parse().unwrap();
        assert_eq!(proof.index().get(), index);
        assert_eq!(proof.extra(), None);
        let ok = proof.verify(&v.data, &policy).unwrap();
        assert_eq!(ok.tree_size().get(), 4097, "{}", v.name);
        assert_eq!(ok.index().get(), index);
        assert_eq!(ok.leaf_hash(), vellum_merkle::leaf_hash(&v.data));
        assert!(ok.checkpoint().cosignatures().is_empty());
    }
}

#[test]
fn quorum_none_constructor_is_equivalent() {
    let vk = VerifierKey::parse(&note_vectors().verifier_key).unwrap();
    assert_eq!(Policy::quorum_none(vk).unwrap(), policy());
}

#[test]
fn another_entry_or_a_flipped_data_byte_fails() {
    let policy = policy();
    let all = vectors();
    for v in &all {
        let proof = TlogProof::parse(&v.file).unwrap();
        for other in all.iter().filter(|o| o.name != v.name) {
            let e = proof.verify(&other.data, &policy).unwrap_err();
            assert!(is_root_mismatch(&e), "{} with {}: {e}", v.name, other.name);
        }
        for i in 0..v.data.len() {
            let mut data = v.data.clone();
            data[i] ^= 0x01;
            let e = proof.verify(&data, &policy).unwrap_err();
            assert!(is_root_mismatch(&e), "{} byte {i}: {e}", v.name);
        }
        let mut longer = v.data.clone();
        longer.push(b'x');
        assert!(is_root_mismatch(
            &proof.verify(&longer, &policy).unwrap_err()
        ));
    }
}

#[test]
fn every_bit_of_every_proof_hash_matters() {
    let policy = policy();
    for v in vectors() {
        let proof = TlogProof::parse(&v.file).unwrap();
        for h in 0..proof.inclusion().len() {
            for bit in 0..256 {
                let mut inclusion = proof.inclusion().to_vec();
                inclusion[h].0[bit / 8] ^= 1 << (bit % 8);
                let bad =
                    TlogProof::new(None, proof.index(), inclusion, proof.checkpoint().to_vec())
                        .unwrap();
                let e = bad.verify(&v.data, &policy).unwrap_err();
                assert!(is_root_mismatch(&e), "{} hash {h} bit {bit}: {e}", v.name);
            }
        }
    }
}

#[test]
fn truncated_extended_or_reordered_proofs_fail() {
    let policy = policy();
    for v in vectors() {
        let proof = TlogProof::parse(&v.file).unwrap();
        let cp = proof.checkpoint().to_vec();
        let mut shorter = proof.inclusion().to_vec();
        shorter.pop();
        let mut longer = proof.inclusion().to_vec();
        longer.push(Hash([0; 32]));
        for bad in [shorter, longer] {
            let e = TlogProof::new(None, proof.index(), bad, cp.clone())
                .unwrap()
                .verify(&v.data, &policy)
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    ProofFileError::Inclusion(InclusionError::WrongLength { .. })
                ),
                "{}: {e}",
                v.name
            );
        }
        if proof.inclusion().len() < 2 {
            continue;
        }
        let mut swapped = proof.inclusion().to_vec();
        swapped.swap(0, 1);
        let e = TlogProof::new(None, proof.index(), swapped, cp.clone())
            .unwrap()
            .verify(&v.data, &policy)
            .unwrap_err();
        assert!(is_root_mismatch(&e), "{}: {e}", v.name);
    }
}

#[test]
fn a_changed_index_fails() {
    let policy = policy();
    for v in vectors() {
        let proof = TlogProof::parse(&v.file).unwrap();
        let i = proof.index().get();
        for other in [i.wrapping_sub(1), i + 1, i ^ 2, i ^ 1024] {
            let Ok(index) = LeafIndex::new(other) else {
                continue;
            };
            let bad = TlogProof::new(
                None,
                index,
                proof.inclusion().to_vec(),
                proof.checkpoint().to_vec(),
            )
            .unwrap();
            let e = bad.verify(&v.data, &policy).unwrap_err();
            assert!(
                matches!(
                    e,
                    ProofFileError::Inclusion(_) | ProofFileError::IndexBeyondSize { .. }
                ),
                "{} index {other}: {e}",
                v.name
            );
        }
        let beyond = TlogProof::new(
            None,
            LeafIndex::new(4097).unwrap(),
            proof.inclusion().to_vec(),
            proof.checkpoint().to_vec(),
        )
        .unwrap();
        assert_eq!(
            beyond.verify(&v.data, &policy),
            Err(ProofFileError::IndexBeyondSize {
                index: 4097,
                size: 4097
            })
        );
    }
}

#[test]
fn any_changed_checkpoint_byte_fails() {
    let policy = policy();
    let v = &vectors()[1];
    let proof = TlogProof::parse(&v.file).unwrap();
    let cp = proof.checkpoint().to_vec();
    for i in 0..cp.len() {
        let mut bad = cp.clone();
        // Change, don't just flip: some flips give invalid UTF-8, which is
        // also a rejection but a less interesting one.
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        let mut file = v.file[..v.file.len() - cp.len()].to_vec();
        file.extend_from_slice(&bad);
        match TlogProof::parse(&file) {
            Err(_) => {}
            Ok(p) => {
                let e = p.verify(&v.data, &policy).unwrap_err();
                assert!(matches!(e, ProofFileError::Checkpoint(_)), "byte {i}: {e}");
            }
        }
    }
    // The signature bytes specifically: the log's known key no longer verifies.
    let sig_start = cp.len() - 20;
    let mut bad = cp.clone();
    bad[sig_start] = if bad[sig_start] == b'A' { b'B' } else { b'A' };
    let p = TlogProof::new(None, proof.index(), proof.inclusion().to_vec(), bad).unwrap();
    assert!(matches!(
        p.verify(&v.data, &policy),
        Err(ProofFileError::Checkpoint(PolicyError::Note(
            NoteError::InvalidSignature { .. }
        )))
    ));
}

#[test]
fn a_proof_under_an_unknown_log_fails() {
    let v = &vectors()[0];
    let proof = TlogProof::parse(&v.file).unwrap();
    let other = common::key("example.com/other", vellum_note::SigType::Ed25519, 3);
    let policy = Policy::quorum_none(other.verifier()).unwrap();
    assert!(matches!(
        proof.verify(&v.data, &policy),
        Err(ProofFileError::Checkpoint(PolicyError::UnknownLog { .. }))
    ));
    // Same name, different key: the log's signature is from an unknown key.
    let impostor = common::key("example.com/vellum-test", vellum_note::SigType::Ed25519, 3);
    let policy = Policy::quorum_none(impostor.verifier()).unwrap();
    assert!(matches!(
        proof.verify(&v.data, &policy),
        Err(ProofFileError::Checkpoint(PolicyError::Note(
            NoteError::NoVerifiedSignature { .. }
        )))
    ));
}

#[test]
fn format_errors_name_their_line() {
    let v = &vectors()[1];
    let text = String::from_utf8(v.file.clone()).unwrap();
    let cases: Vec<(String, ProofFileError)> = vec![
        (
            text.replacen("@v1", "@v2", 1),
            ProofFileError::WrongHeader {
                found: "c2sp.org/tlog-proof@v2".into(),
            },
        ),
        (
            text.replacen("index 1\n", "index 01\n", 1),
            ProofFileError::InvalidIndex {
                line: 2,
                found: "01".into(),
                reason: vellum_note::DecimalError::LeadingZero,
            },
        ),
        (
            text.replacen("index 1\n", "index  1\n", 1),
            ProofFileError::InvalidIndex {
                line: 2,
                found: " 1".into(),
                reason: vellum_note::DecimalError::NotADigit,
            },
        ),
        (
            text.replacen("index 1\n", "index 9223372036854775808\n", 1),
            ProofFileError::IndexOutOfRange {
                line: 2,
                index: 1 << 63,
            },
        ),
        (
            text.replacen("index 1\n", "idx 1\n", 1),
            ProofFileError::MissingIndex {
                line: 2,
                found: "idx 1".into(),
            },
        ),
        (
            text.replacen("index 1\n", "extra !!\nindex 1\n", 1),
            ProofFileError::InvalidExtra { line: 2 },
        ),
        (
            text.replacen("7G537wDM6l88pUIMe5dK0Z1PtasfzhrLWNWfRWE9GQo=", "7G537w", 1),
            ProofFileError::InvalidHash {
                line: 3,
                found: "7G537w".into(),
            },
        ),
        (
            text.replacen("index 1\n", "index 1\r\n", 1),
            ProofFileError::InvalidIndex {
                line: 2,
                found: "1\r".into(),
                reason: vellum_note::DecimalError::NotADigit,
            },
        ),
        (
            "c2sp.org/tlog-proof@v1\nindex 1\n".into(),
            ProofFileError::Truncated {
                line: 3,
                expected: "a hash or the empty line before the checkpoint",
            },
        ),
    ];
    for (file, want) in cases {
        assert_eq!(TlogProof::parse(&file), Err(want), "{file}");
    }
    // No checkpoint after the empty line.
    let cut = &text[..text.find("\n\n").unwrap() + 2];
    assert!(matches!(
        TlogProof::parse(cut),
        Err(ProofFileError::MalformedCheckpoint {
            line: 17,
            source: NoteError::MissingBlankLine
        })
    ));
    // 64 hash lines is more than any tree needs.
    let many = format!(
        "c2sp.org/tlog-proof@v1\nindex 0\n{}\n",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n".repeat(64)
    );
    assert_eq!(
        TlogProof::parse(&many),
        Err(ProofFileError::TooManyHashes { max: 63 })
    );
}

#[test]
fn extra_data_round_trips() {
    let v = &vectors()[1];
    let proof = TlogProof::parse(&v.file).unwrap();
    let with_extra = TlogProof::new(
        Some(b"context".to_vec()),
        proof.index(),
        proof.inclusion().to_vec(),
        proof.checkpoint().to_vec(),
    )
    .unwrap();
    let text = with_extra.format();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra Y29udGV4dA==\nindex 1\n"));
    let back = TlogProof::parse(&text).unwrap();
    assert_eq!(back, with_extra);
    assert_eq!(back.extra(), Some(&b"context"[..]));
    // The extra data is not authenticated, so it changes nothing.
    back.verify(&v.data, &policy()).unwrap();
}
