//! tlog-policy: the specification's example, k-of-n evaluation, checkpoint
//! checks against a policy, and every syntax error.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::collections::BTreeSet;

use common::{checkpoint_text, key, signature};
use vellum_note::keys::KeyError;
use vellum_note::{
    CosignerKey, Note, NoteError, Policy, PolicyError, SigType, SignerKey, Threshold,
};

struct Keys {
    log: SignerKey,
    witnesses: Vec<(&'static str, CosignerKey)>,
}

const NAMES: [&str; 6] = ["X1", "X2", "X3", "Y1", "Y2", "Y3"];

fn keys() -> Keys {
    Keys {
        log: key("example.com/log", SigType::Ed25519, 1),
        witnesses: NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let k = key(
                    &format!("{n}.example"),
                    SigType::CosignatureV1,
                    10 + i as u8,
                );
                (*n, CosignerKey::new(k).unwrap())
            })
            .collect(),
    }
}

/// The example policy of the specification, with real keys.
fn spec_example(k: &Keys) -> String {
    let w = |i: usize| k.witnesses[i].1.verifier().verifier_key().to_string();
    format!(
        "log {}

witness X1 {}
witness X2 {}
witness X3 {}
group X-witnesses 2 X1 X2 X3

witness Y1 {}
witness Y2 {}
witness Y3 {}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
",
        k.log.verifier(),
        w(0),
        w(1),
        w(2),
        w(3),
        w(4),
        w(5)
    )
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_spec_example_parses() {
    let k = keys();
    let p = Policy::parse(&spec_example(&k)).unwrap();
    assert_eq!(p.logs().len(), 1);
    assert_eq!(p.logs()[0].key(), &k.log.verifier());
    assert_eq!(p.logs()[0].url(), None);
    let names: Vec<_> = p.witnesses().iter().map(|w| w.name()).collect();
    assert_eq!(names, NAMES);
    assert_eq!(p.groups().len(), 3);
    assert_eq!(p.groups()[0].threshold(), Threshold::AtLeast(2));
    assert_eq!(p.groups()[1].threshold(), Threshold::Any);
    assert_eq!(p.groups()[2].threshold(), Threshold::All);
    assert_eq!(p.groups()[2].required(), 2);
    assert_eq!(p.quorum_name(), "X-and-Y");
    assert_eq!(Policy::parse(&p.to_text()).unwrap(), p);
}

#[test]
fn nested_k_of_n_evaluation() {
    let p = Policy::parse(&spec_example(&keys())).unwrap();
    let cases: &[(&[&str], bool)] = &[
        (&[], false),
        (&["X1", "X2"], false),
        (&["Y1", "Y2", "Y3"], false),
        (&["X1", "Y1"], false),
        (&["X1", "X2", "Y3"], true),
        (&["X2", "X3", "Y1"], true),
        (&["X1", "X2", "X3", "Y1", "Y2", "Y3"], true),
        (&["X1", "Y1", "Y2", "Y3"], false),
        (&["X1", "X2", "not-a-witness"], false),
    ];
    for (cosigners, want) in cases {
        assert_eq!(p.evaluate(&set(cosigners)), *want, "{cosigners:?}");
    }
    assert_eq!(
        p.unmet(&set(&["X1", "Y1"])),
        [
            "group X-and-Y has 1 of the 2 members it needs",
            "group X-witnesses has 1 of the 2 members it needs"
        ]
    );
}

#[test]
fn quorum_of_one_witness_and_none() {
    let k = keys();
    let w = k.witnesses[0].1.verifier().verifier_key().to_string();
    let p = Policy::parse(&format!("witness A {w}\nquorum A\n")).unwrap();
    assert!(p.evaluate(&set(&["A"])));
    assert!(!p.evaluate(&set(&[])));
    assert_eq!(p.unmet(&set(&[])), ["witness A did not cosign"]);
    let p = Policy::parse("quorum none").unwrap();
    assert!(p.evaluate(&set(&[])));
    assert!(p.logs().is_empty());
}

#[test]
fn whitespace_comments_and_urls() {
    let k = keys();
    let w = k.witnesses[0].1.verifier().verifier_key().to_string();
    let text = format!(
        "# a policy\n  \t\n\tlog   {}\thttps://log.example/  \n   # indented comment\nwitness\tA {w} https://w.example/\nquorum A",
        k.log.verifier()
    );
    let p = Policy::parse(&text).unwrap();
    assert_eq!(p.logs()[0].url(), Some("https://log.example/"));
    assert_eq!(p.witnesses()[0].url(), Some("https://w.example/"));
    assert_eq!(p.witnesses()[0].key(), &k.witnesses[0].1.verifier());
    assert_eq!(Policy::parse(&p.to_text()).unwrap(), p);
    // Non-ASCII (UTF-8) names are opaque octets: fine.
    let p = Policy::parse(&format!("witness Ǩ {w}\nquorum Ǩ\n")).unwrap();
    assert!(p.evaluate(&set(&["Ǩ"])));
    assert!(!p.evaluate(&set(&["K"])));
}

#[test]
fn checkpoints_against_the_spec_example() {
    let k = keys();
    let p = Policy::parse(&spec_example(&k)).unwrap();
    let text = checkpoint_text("example.com/log", 42);
    let sign_with = |who: &[usize]| {
        let mut note = Note::new(text.clone(), vec![signature(&k.log, &text)]).unwrap();
        note.add_signatures(
            who.iter()
                .map(|&i| k.witnesses[i].1.cosign(&text, 1000 + i as u64).unwrap()),
        )
        .unwrap();
        note.to_bytes()
    };

    let ok = p.check_checkpoint(&sign_with(&[0, 2, 4])).unwrap();
    let who: Vec<_> = ok
        .cosignatures()
        .iter()
        .map(|c| (c.witness(), c.timestamp()))
        .collect();
    assert_eq!(who, [("X1", 1000), ("X3", 1002), ("Y2", 1004)]);
    assert_eq!(ok.checkpoint().size().get(), 42);
    assert_eq!(ok.log_key(), &k.log.verifier());

    match p.check_checkpoint(&sign_with(&[0, 3, 4])) {
        Err(PolicyError::QuorumNotMet {
            quorum,
            cosigned,
            unmet,
        }) => {
            assert_eq!(quorum, "X-and-Y");
            assert_eq!(cosigned, ["X1", "Y1", "Y2"]);
            assert_eq!(unmet.len(), 2);
        }
        other => panic!("{other:?}"),
    }

    // Witness cosignatures alone, with no log signature.
    let mut note = Note::new(
        text.clone(),
        vec![k.witnesses[0].1.cosign(&text, 1).unwrap()],
    )
    .unwrap();
    note.add_signatures([k.witnesses[1].1.cosign(&text, 1).unwrap()])
        .unwrap();
    assert_eq!(
        p.check_checkpoint(&note.to_bytes()),
        Err(PolicyError::MissingLogSignature {
            origin: "example.com/log".into()
        })
    );

    // A checkpoint from a log the policy does not know.
    let other = checkpoint_text("example.com/elsewhere", 1);
    let note = Note::new(other.clone(), vec![signature(&k.log, &other)]).unwrap();
    assert!(matches!(
        p.check_checkpoint(&note.to_bytes()),
        Err(PolicyError::UnknownLog { origin, known }) if origin == "example.com/elsewhere" && known == ["example.com/log"]
    ));

    // A bad cosignature by a policy witness sinks the checkpoint.
    let mut bytes = sign_with(&[0, 1, 3]);
    let n = bytes.len();
    bytes[n - 10] = if bytes[n - 10] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        p.check_checkpoint(&bytes),
        Err(PolicyError::Note(NoteError::InvalidSignature { .. }))
    ));
}

#[test]
fn syntax_errors_name_their_line() {
    let k = keys();
    let log = k.log.verifier().to_string();
    let w1 = k.witnesses[0].1.verifier().verifier_key().to_string();
    let w2 = k.witnesses[1].1.verifier().verifier_key().to_string();
    // The same witness key under another name and id.
    let w1_renamed = vellum_note::VerifierKey::new(
        "renamed",
        SigType::CosignatureV1,
        &k.witnesses[0].1.verifier().verifier_key().public_key(),
    )
    .unwrap()
    .to_string();
    let cases: Vec<(String, PolicyError)> = vec![
        (
            format!("log {log}\r\nquorum none\n"),
            PolicyError::InvalidCharacter {
                line: 1,
                byte: b'\r',
            },
        ),
        (
            "quorum none\n\u{7f}\n".into(),
            PolicyError::InvalidCharacter {
                line: 2,
                byte: 0x7f,
            },
        ),
        (
            "logs x\nquorum none\n".into(),
            PolicyError::UnknownKeyword {
                line: 1,
                keyword: "logs".into(),
            },
        ),
        (
            format!("log {log} url extra\nquorum none\n"),
            PolicyError::WrongFieldCount {
                line: 1,
                usage: "log <vkey> [<url>]",
                found: 4,
            },
        ),
        (
            "log\nquorum none\n".into(),
            PolicyError::WrongFieldCount {
                line: 1,
                usage: "log <vkey> [<url>]",
                found: 1,
            },
        ),
        (
            "witness A\nquorum none\n".into(),
            PolicyError::WrongFieldCount {
                line: 1,
                usage: "witness <name> <vkey> [<url>]",
                found: 2,
            },
        ),
        (
            format!("witness A {w1}\ngroup G 1\nquorum none\n"),
            PolicyError::WrongFieldCount {
                line: 2,
                usage: "group <name> <k|all|any> <name>...",
                found: 3,
            },
        ),
        (
            "quorum\n".into(),
            PolicyError::WrongFieldCount {
                line: 1,
                usage: "quorum <name|none>",
                found: 1,
            },
        ),
        (
            "log not-a-key\nquorum none\n".into(),
            PolicyError::InvalidKey {
                line: 1,
                source: KeyError::MissingField { field: "key id" },
            },
        ),
        (
            format!("log {w1}\nquorum none\n"),
            PolicyError::WrongKeyType {
                line: 1,
                role: "log",
                expected: SigType::Ed25519,
                found: SigType::CosignatureV1,
            },
        ),
        (
            format!("witness A {log}\nquorum none\n"),
            PolicyError::WrongKeyType {
                line: 1,
                role: "witness",
                expected: SigType::CosignatureV1,
                found: SigType::Ed25519,
            },
        ),
        (
            format!("log {log}\n\nlog {log} https://x\nquorum none\n"),
            PolicyError::DuplicateKey {
                line: 3,
                first_line: 1,
            },
        ),
        (
            format!("witness A {w1}\nwitness B {w1_renamed}\nquorum none\n"),
            PolicyError::DuplicateKey {
                line: 2,
                first_line: 1,
            },
        ),
        (
            format!("witness none {w1}\nquorum none\n"),
            PolicyError::ReservedName { line: 1 },
        ),
        (
            format!("witness A {w1}\ngroup none any A\nquorum none\n"),
            PolicyError::ReservedName { line: 2 },
        ),
        (
            format!("witness A {w1}\nwitness A {w2}\nquorum none\n"),
            PolicyError::DuplicateName {
                line: 2,
                name: "A".into(),
                first_line: 1,
            },
        ),
        (
            format!("witness A {w1}\ngroup A any A\nquorum none\n"),
            PolicyError::DuplicateName {
                line: 2,
                name: "A".into(),
                first_line: 1,
            },
        ),
        (
            format!("witness A {w1}\ngroup G any A B\nwitness B {w2}\nquorum G\n"),
            PolicyError::UnknownName {
                line: 2,
                name: "B".into(),
            },
        ),
        (
            format!("witness A {w1}\ngroup G any A G\nquorum G\n"),
            PolicyError::UnknownName {
                line: 2,
                name: "G".into(),
            },
        ),
        (
            format!("quorum A\nwitness A {w1}\n"),
            PolicyError::UnknownName {
                line: 1,
                name: "A".into(),
            },
        ),
        (
            format!("witness A {w1}\ngroup G any A none\nquorum G\n"),
            PolicyError::NoneAsMember { line: 2 },
        ),
        (
            format!("witness A {w1}\ngroup G any A A\nquorum G\n"),
            PolicyError::DuplicateMember {
                line: 2,
                name: "A".into(),
            },
        ),
        (
            format!("witness A {w1}\ngroup G most A\nquorum G\n"),
            PolicyError::InvalidThreshold {
                line: 2,
                found: "most".into(),
            },
        ),
        (
            format!("witness A {w1}\ngroup G -1 A\nquorum G\n"),
            PolicyError::InvalidThreshold {
                line: 2,
                found: "-1".into(),
            },
        ),
        (
            format!("witness A {w1}\ngroup G 0 A\nquorum G\n"),
            PolicyError::ThresholdOutOfRange {
                line: 2,
                k: 0,
                n: 1,
            },
        ),
        (
            format!("witness A {w1}\nwitness B {w2}\ngroup G 3 A B\nquorum G\n"),
            PolicyError::ThresholdOutOfRange {
                line: 3,
                k: 3,
                n: 2,
            },
        ),
        (
            format!("witness A {w1}\ngroup G 99999999999999999999 A\nquorum G\n"),
            PolicyError::InvalidThreshold {
                line: 2,
                found: "99999999999999999999".into(),
            },
        ),
        (
            "quorum none\n# fine\nquorum none\n".into(),
            PolicyError::DuplicateQuorum {
                line: 3,
                first_line: 1,
            },
        ),
        (format!("log {log}\n"), PolicyError::MissingQuorum),
        ("".into(), PolicyError::MissingQuorum),
        (
            format!("log {log} # trailing comments are not comments\nquorum none\n"),
            PolicyError::WrongFieldCount {
                line: 1,
                usage: "log <vkey> [<url>]",
                found: 8,
            },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(Policy::parse(&text), Err(want), "{text}");
    }
    // A k with leading zeros is still a decimal.
    let p = Policy::parse(&format!("witness A {w1}\ngroup G 01 A\nquorum G\n")).unwrap();
    assert_eq!(p.groups()[0].threshold(), Threshold::AtLeast(1));
}

#[test]
fn bytes_must_be_utf8() {
    assert_eq!(
        Policy::parse_bytes(b"quorum none\n# caf\xe9\n"),
        Err(PolicyError::NotUtf8 { line: 2 })
    );
    assert_eq!(
        Policy::parse_bytes(b"#\x01\n# caf\xe9\n"),
        Err(PolicyError::InvalidCharacter { line: 1, byte: 1 })
    );
    assert!(Policy::parse_bytes("# café\nquorum none\n".as_bytes()).is_ok());
}

#[test]
fn limits() {
    let k = keys();
    let w = k.witnesses[0].1.verifier().verifier_key().to_string();
    let mut text = format!("witness A {w}\n");
    for i in 0..=vellum_note::policy::MAX_ENTRIES {
        text.push_str(&format!("group G{i} any A\n"));
    }
    text.push_str("quorum none\n");
    assert!(matches!(
        Policy::parse(&text),
        Err(PolicyError::TooMany { what: "groups", .. })
    ));
    let huge = "#".repeat(vellum_note::policy::MAX_POLICY_SIZE + 1);
    assert!(matches!(
        Policy::parse(&huge),
        Err(PolicyError::TooLarge { .. })
    ));
}

#[test]
fn many_levels_of_groups_evaluate_without_recursion() {
    let k = keys();
    let w = k.witnesses[0].1.verifier().verifier_key().to_string();
    let mut text = format!("witness A {w}\ngroup G0 all A\n");
    for i in 1..200 {
        text.push_str(&format!("group G{i} any G{}\n", i - 1));
    }
    text.push_str("quorum G199\n");
    let p = Policy::parse(&text).unwrap();
    assert!(p.evaluate(&set(&["A"])));
    assert!(!p.evaluate(&set(&[])));
    assert_eq!(p.unmet(&set(&[])).len(), 200);
}
