//! Property tests: no parser panics on any input, and format then parse
//! gives back what was formatted.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::collections::BTreeSet;

use proptest::prelude::*;
use vellum_merkle::{Hash, LeafIndex, MAX_TREE_SIZE, TreeSize};
use vellum_note::{
    Checkpoint, CosignatureVerifier, Note, NoteSignature, NoteSigner, Policy, SigType, SignerKey,
    TlogProof, VerifierKey, sign_note,
};

const LOG: &str = "example.com/log";

fn log_key() -> SignerKey {
    common::key(LOG, SigType::Ed25519, 1)
}

fn valid_proof_file() -> String {
    let text = common::checkpoint_text(LOG, 3);
    let note = sign_note(&text, &[&log_key() as &dyn NoteSigner]).unwrap();
    format!(
        "c2sp.org/tlog-proof@v1\nextra AAEC\nindex 2\n{}\n{}\n\n{note}",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "7G537wDM6l88pUIMe5dK0Z1PtasfzhrLWNWfRWE9GQo="
    )
}

fn valid_policy() -> String {
    let w = common::key("w.example", SigType::CosignatureV1, 2).verifier();
    let v = common::key("v.example", SigType::CosignatureV1, 3).verifier();
    format!(
        "log {}\nwitness W {w}\nwitness V {v} https://v\ngroup G 1 W V\ngroup H all G\nquorum H\n",
        log_key().verifier()
    )
}

/// Text that looks enough like our formats to get past the first checks.
fn format_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\n".to_owned()),
            Just("\n\n".to_owned()),
            Just("\u{2014} ".to_owned()),
            Just(" ".to_owned()),
            Just("\t".to_owned()),
            Just("+".to_owned()),
            Just("=".to_owned()),
            Just("#".to_owned()),
            Just("index ".to_owned()),
            Just("extra ".to_owned()),
            Just("c2sp.org/tlog-proof@v1\n".to_owned()),
            Just("log ".to_owned()),
            Just("witness ".to_owned()),
            Just("group ".to_owned()),
            Just("quorum none".to_owned()),
            Just("all".to_owned()),
            Just("0".to_owned()),
            "[A-Za-z0-9/+]{1,12}",
            "[0-9]{1,25}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// Applies byte edits to a valid input.
fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut out = base.to_vec();
    for &(pos, kind, byte) in edits {
        if out.is_empty() {
            out.push(byte);
            continue;
        }
        let i = pos % out.len();
        match kind % 3 {
            0 => out[i] = byte,
            1 => {
                out.remove(i);
            }
            _ => out.insert(i, byte),
        }
    }
    out
}

fn all_parsers(bytes: &[u8]) {
    let policy = Policy::quorum_none(log_key().verifier()).unwrap();
    if let Ok(note) = Note::parse(bytes) {
        let _ = note.verify(&[&log_key().verifier()]);
        let _ = note.format();
    }
    let _ = policy.check_checkpoint(bytes);
    if let Ok(proof) = TlogProof::parse(bytes) {
        let _ = proof.verify(b"entry", &policy);
        let _ = proof.format();
    }
    let _ = Policy::parse_bytes(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        let _ = Checkpoint::parse(s);
        let _ = Policy::parse(s);
        let _ = SignerKey::parse(s);
        let _ = VerifierKey::parse(s);
        let _ = vellum_note::parse_signature_lines(s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        all_parsers(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_format_soup(s in format_soup()) {
        all_parsers(s.as_bytes());
    }

    #[test]
    fn parsers_never_panic_on_mutated_valid_inputs(
        which in 0..3usize,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let base = match which {
            0 => valid_proof_file(),
            1 => valid_policy(),
            _ => sign_note(&common::checkpoint_text(LOG, 9), &[&log_key() as &dyn NoteSigner]).unwrap(),
        };
        all_parsers(&mutate(base.as_bytes(), &edits));
    }

    #[test]
    fn note_format_parse_round_trip(
        lines in proptest::collection::vec("[a-zA-Z0-9 .\u{2014}é]{0,20}", 1..6),
        sigs in proptest::collection::vec(
            ("[a-z0-9./é\u{2014}]{1,16}", any::<u32>(), proptest::collection::vec(any::<u8>(), 1..100)),
            1..20,
        ),
    ) {
        let text = lines.join("\n") + "\n";
        let signatures: Vec<_> = sigs
            .into_iter()
            .map(|(name, id, bytes)| NoteSignature::new(&name, id, bytes).unwrap())
            .collect();
        let note = Note::new(text, signatures).unwrap();
        prop_assert_eq!(Note::parse(note.format().as_bytes()).unwrap(), note);
    }

    #[test]
    fn checkpoint_to_text_parse_round_trip(
        origin in "[a-zA-Z0-9./ +é\u{2014}]{1,30}",
        size in 0..=MAX_TREE_SIZE,
        root in any::<[u8; 32]>(),
        extensions in proptest::collection::vec("[a-z0-9 ]{1,10}", 0..3),
    ) {
        let cp = Checkpoint::new(&origin, TreeSize::new(size).unwrap(), Hash(root))
            .unwrap()
            .with_extensions(extensions)
            .unwrap();
        prop_assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
    }

    #[test]
    fn tlog_proof_format_parse_round_trip(
        extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        index in 0..MAX_TREE_SIZE,
        hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..=63),
        size in 0..1000u64,
    ) {
        let text = common::checkpoint_text(LOG, size);
        let note = sign_note(&text, &[&log_key() as &dyn NoteSigner]).unwrap();
        let proof = TlogProof::new(
            extra,
            LeafIndex::new(index).unwrap(),
            hashes.into_iter().map(Hash).collect(),
            note.into_bytes(),
        )
        .unwrap();
        prop_assert_eq!(TlogProof::parse(proof.format()).unwrap(), proof);
    }

    #[test]
    fn policy_to_text_parse_round_trip_and_evaluation(
        n_logs in 0..3u8,
        n_witnesses in 1..6u8,
        groups in proptest::collection::vec(
            (proptest::collection::vec(any::<proptest::sample::Index>(), 1..5), 0..4u8),
            0..5,
        ),
        quorum in any::<Option<proptest::sample::Index>>(),
        cosigners in proptest::collection::vec(any::<bool>(), 6),
    ) {
        let mut text = String::new();
        for i in 0..n_logs {
            let k = common::key(&format!("log{i}.example"), SigType::Ed25519, 100 + i);
            text.push_str(&format!("log {} https://log{i}\n", k.verifier()));
        }
        let mut names: Vec<String> = Vec::new();
        // For the reference evaluation: each name's members and threshold.
        let mut defs: Vec<(Vec<usize>, usize)> = Vec::new();
        for i in 0..n_witnesses {
            let k = common::key(&format!("w{i}.example"), SigType::CosignatureV1, 10 + i);
            let v = CosignatureVerifier::new(k.verifier()).unwrap();
            text.push_str(&format!("witness W{i} {}\n", v.verifier_key()));
            names.push(format!("W{i}"));
            defs.push((vec![], 0));
        }
        for (g, (picks, kind)) in groups.iter().enumerate() {
            let mut members: Vec<usize> = picks.iter().map(|p| p.index(names.len())).collect();
            members.sort_unstable();
            members.dedup();
            let n = members.len();
            let (k_text, k) = match kind {
                0 => ("all".to_owned(), n),
                1 => ("any".to_owned(), 1),
                _ => {
                    let k = 1 + (*kind as usize) % n;
                    (k.to_string(), k)
                }
            };
            let member_names: Vec<_> = members.iter().map(|&m| names[m].clone()).collect();
            text.push_str(&format!("group G{g} {k_text} {}\n", member_names.join(" ")));
            names.push(format!("G{g}"));
            defs.push((members, k));
        }
        let quorum = quorum.map(|q| q.index(names.len()));
        text.push_str(&format!("quorum {}\n", quorum.map_or("none".to_owned(), |q| names[q].clone())));

        let p = Policy::parse(&text).unwrap();
        prop_assert_eq!(&Policy::parse(&p.to_text()).unwrap(), &p);

        // A naive recursive reference for the quorum.
        fn sat(defs: &[(Vec<usize>, usize)], on: &[bool], i: usize) -> bool {
            let (members, k) = &defs[i];
            if members.is_empty() {
                return on[i];
            }
            members.iter().filter(|&&m| sat(defs, on, m)).count() >= *k
        }
        let on: Vec<bool> = (0..names.len())
            .map(|i| i < n_witnesses as usize && cosigners[i])
            .collect();
        let set: BTreeSet<String> = (0..n_witnesses as usize)
            .filter(|&i| cosigners[i])
            .map(|i| names[i].clone())
            .collect();
        let want = quorum.is_none_or(|q| sat(&defs, &on, q));
        prop_assert_eq!(p.evaluate(&set), want);
        prop_assert_eq!(p.unmet(&set).is_empty(), want);
    }
}
