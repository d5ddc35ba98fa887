//! `vellum verify`, run as a process against the shared tlog-proof vectors
//! and systematic corruptions of them.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;
use vellum_merkle::{Hash, LeafIndex};
use vellum_note::{CosignerKey, Note, TlogProof};
use vellum_testkit::process::{
    assert_fails, assert_ok, assert_rejected, stderr, stdout, vellum, vellum_stdin,
};
use vellum_testkit::vectors::{ProofVector, log_vkey, proof_vectors};

/// `vellum verify <trust...> --entry <entry> <proof>`.
fn verify(trust: &[&str], entry: &Path, proof: &Path) -> Output {
    let mut args: Vec<OsString> = vec!["verify".into()];
    args.extend(trust.iter().map(OsString::from));
    args.extend(["--entry".into(), entry.into(), proof.into()]);
    vellum(args)
}

/// `vellum verify --vkey <the vector log> --entry <entry> <proof>`.
fn verify_vkey(entry: &Path, proof: &Path) -> Output {
    verify(&["--vkey", &log_vkey()], entry, proof)
}

fn parsed(v: &ProofVector) -> TlogProof {
    TlogProof::parse(std::fs::read(&v.proof).unwrap()).unwrap()
}

/// Writes `bytes` to a new file in `dir`.
fn write(dir: &TempDir, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The proof rebuilt with another index, hashes or checkpoint, re-encoded.
fn rebuilt(
    proof: &TlogProof,
    index: LeafIndex,
    inclusion: Vec<Hash>,
    checkpoint: Vec<u8>,
) -> String {
    TlogProof::new(
        proof.extra().map(<[u8]>::to_vec),
        index,
        inclusion,
        checkpoint,
    )
    .unwrap()
    .format()
}

/// A new witness key made by `vellum keygen --witness`: (vkey, key file).
fn witness_key(dir: &TempDir, name: &str) -> (String, PathBuf) {
    let path = dir.path().join(format!("{name}.key"));
    let out = vellum([
        "keygen".as_ref(),
        "--witness".as_ref(),
        "--origin".as_ref(),
        name.as_ref(),
        "--out".as_ref(),
        path.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (stdout(&out).trim_end().to_owned(), path)
}

#[test]
fn accepts_every_vector() {
    for v in proof_vectors() {
        let out = verify_vkey(&v.entry, &v.proof);
        assert_ok(&out);
        assert!(out.stderr.is_empty(), "{}: {}", v.name, stderr(&out));
    }
}

#[test]
fn reads_stdin_and_vkey_files() {
    let dir = tempfile::tempdir().unwrap();
    let vkey_file = write(&dir, "log.vkey", format!("{}\n", log_vkey()));
    let vkey_arg = format!("@{}", vkey_file.display());
    for v in proof_vectors() {
        let entry = std::fs::read(&v.entry).unwrap();
        let mut args: Vec<OsString> = ["verify", "--vkey", &vkey_arg, "--entry", "-"]
            .map(OsString::from)
            .to_vec();
        args.push(v.proof.clone().into());
        assert_ok(&vellum_stdin(&args, &entry));

        let proof = std::fs::read(&v.proof).unwrap();
        let mut args: Vec<OsString> = ["verify", "--vkey", &vkey_arg, "--entry"]
            .map(OsString::from)
            .to_vec();
        args.extend([v.entry.clone().into(), "-".into()]);
        assert_ok(&vellum_stdin(&args, &proof));
    }
}

#[test]
fn verbose_details_go_to_stderr() {
    let v = &proof_vectors()[0];
    let index = parsed(v).index().get();
    let out = verify(&["--vkey", &log_vkey(), "--verbose"], &v.entry, &v.proof);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains(&format!("entry index: {index}\n")), "{err}");
    assert!(err.contains("tree size:   4097\n"), "{err}");
    assert!(err.contains(&log_vkey()), "{err}");
}

#[test]
fn rejects_another_proofs_entry() {
    let vectors = proof_vectors();
    for p in &vectors {
        for e in vectors.iter().filter(|e| e.name != p.name) {
            let out = verify_vkey(&e.entry, &p.proof);
            assert_rejected(&out, &["root"]);
        }
    }
}

#[test]
fn rejects_a_changed_entry() {
    let dir = tempfile::tempdir().unwrap();
    for v in proof_vectors() {
        let entry = std::fs::read(&v.entry).unwrap();
        let mut variants: Vec<Vec<u8>> = (0..entry.len())
            .map(|i| {
                let mut e = entry.clone();
                e[i] ^= 0x01;
                e
            })
            .collect();
        variants.push(entry[..entry.len() - 1].to_vec());
        variants.push([&entry[..], b"\n"].concat());
        variants.push(Vec::new());
        for changed in variants {
            let path = write(&dir, "entry", &changed);
            assert_rejected(&verify_vkey(&path, &v.proof), &["root"]);
        }
    }
}

#[test]
fn rejects_a_flipped_byte_in_any_proof_hash() {
    let dir = tempfile::tempdir().unwrap();
    for v in proof_vectors() {
        let proof = parsed(&v);
        for h in 0..proof.inclusion().len() {
            for byte in [0, h % 32, 31] {
                let mut hashes = proof.inclusion().to_vec();
                let mut raw = *hashes[h].as_bytes();
                raw[byte] ^= 0xff;
                hashes[h] = Hash::from_slice(&raw).unwrap();
                let text = rebuilt(&proof, proof.index(), hashes, proof.checkpoint().to_vec());
                let path = write(&dir, "proof", text);
                assert_rejected(&verify_vkey(&v.entry, &path), &["root"]);
            }
        }
    }
}

#[test]
fn rejects_a_dropped_or_extra_hash() {
    let dir = tempfile::tempdir().unwrap();
    for v in proof_vectors() {
        let proof = parsed(&v);
        let mut shorter = proof.inclusion().to_vec();
        if shorter.pop().is_some() {
            let text = rebuilt(&proof, proof.index(), shorter, proof.checkpoint().to_vec());
            let path = write(&dir, "proof", text);
            assert_rejected(&verify_vkey(&v.entry, &path), &["hashes"]);
        }
        let mut longer = proof.inclusion().to_vec();
        longer.push(Hash::from_slice(&[7; 32]).unwrap());
        let text = rebuilt(&proof, proof.index(), longer, proof.checkpoint().to_vec());
        let path = write(&dir, "proof", text);
        assert_rejected(&verify_vkey(&v.entry, &path), &["hashes"]);
    }
}

#[test]
fn rejects_a_modified_index() {
    let dir = tempfile::tempdir().unwrap();
    for v in proof_vectors() {
        let proof = parsed(&v);
        let i = proof.index().get();
        // A neighbour's proof has the same length (root mismatch) or not
        // (wrong length); an index past the tree is named as such.
        let mut cases: Vec<(u64, &[&str])> = Vec::new();
        if i + 1 < 4097 {
            cases.push((i + 1, &["root", "hashes"]));
        }
        if i > 0 {
            cases.push((i - 1, &["root", "hashes"]));
        }
        cases.push((4097, &["index 4097 is not in the checkpoint's tree"]));
        cases.push((1 << 62, &["index"]));
        for (index, needles) in cases {
            let text = rebuilt(
                &proof,
                LeafIndex::new(index).unwrap(),
                proof.inclusion().to_vec(),
                proof.checkpoint().to_vec(),
            );
            let path = write(&dir, "proof", text);
            assert_rejected(&verify_vkey(&v.entry, &path), needles);
        }
    }
}

#[test]
fn rejects_another_log_key() {
    let dir = tempfile::tempdir().unwrap();
    let v = &proof_vectors()[0];
    // The same origin with another key: the signature is not the trusted one.
    let key_path = dir.path().join("other.key");
    let out = vellum([
        "keygen".as_ref(),
        "--origin".as_ref(),
        "example.com/vellum-test".as_ref(),
        "--out".as_ref(),
        key_path.as_os_str(),
    ]);
    let same_origin = stdout(&out).trim_end().to_owned();
    assert_ne!(same_origin, log_vkey());
    let out = verify(&["--vkey", &same_origin], &v.entry, &v.proof);
    assert_rejected(&out, &["no signature from a trusted key"]);

    // Another log altogether: the checkpoint's origin is not trusted.
    let key_path = dir.path().join("elsewhere.key");
    let out = vellum([
        "keygen".as_ref(),
        "--origin".as_ref(),
        "example.org/elsewhere".as_ref(),
        "--out".as_ref(),
        key_path.as_os_str(),
    ]);
    let other = stdout(&out).trim_end().to_owned();
    let out = verify(&["--vkey", &other], &v.entry, &v.proof);
    assert_rejected(&out, &["origin \"example.com/vellum-test\" is not a log"]);
}

#[test]
fn rejects_an_altered_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    for v in proof_vectors() {
        let proof = parsed(&v);
        let note = String::from_utf8(proof.checkpoint().to_vec()).unwrap();
        // Claim a larger tree under the same signature.
        let forged = note.replacen("\n4097\n", "\n4098\n", 1);
        assert_ne!(forged, note);
        let text = rebuilt(
            &proof,
            proof.index(),
            proof.inclusion().to_vec(),
            forged.into(),
        );
        let path = write(&dir, "proof", text);
        assert_rejected(&verify_vkey(&v.entry, &path), &["signature"]);
    }
}

#[test]
fn rejects_malformed_proof_files() {
    let dir = tempfile::tempdir().unwrap();
    let v = &proof_vectors()[0];
    let text = std::fs::read_to_string(&v.proof).unwrap();
    let cases: Vec<(String, &[&str])> = vec![
        (text.replacen("@v1", "@v2", 1), &["line 1"]),
        (text.replacen("index ", "index 0", 1), &["line 2"]),
        (text[..text.len() / 3].to_owned(), &["line"]),
        (String::new(), &["line 1"]),
    ];
    for (bad, needles) in cases {
        let path = write(&dir, "proof", bad);
        let out = verify_vkey(&v.entry, &path);
        assert_rejected(&out, needles);
        assert!(stderr(&out).contains("is not a valid tlog-proof"));
    }
}

#[test]
fn policy_with_quorum_none_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        &dir,
        "policy",
        format!(
            "# the vector log, no witnesses\nlog {}\nquorum none\n",
            log_vkey()
        ),
    );
    let policy = policy.to_str().unwrap();
    for v in proof_vectors() {
        assert_ok(&verify(&["--policy", policy], &v.entry, &v.proof));
        // --vkey as well pins the log, which is in the policy.
        assert_ok(&verify(
            &["--policy", policy, "--vkey", &log_vkey()],
            &v.entry,
            &v.proof,
        ));
    }
}

#[test]
fn policy_requiring_a_witness_rejects_uncosigned_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let (witness, _) = witness_key(&dir, "witness.example.org");
    let policy = write(
        &dir,
        "policy",
        format!("log {}\nwitness w1 {witness}\nquorum w1\n", log_vkey()),
    );
    for v in proof_vectors() {
        let out = verify(&["--policy", policy.to_str().unwrap()], &v.entry, &v.proof);
        assert_rejected(&out, &["quorum \"w1\" is not met"]);
        assert!(stderr(&out).contains("witness w1 did not cosign"));
    }
}

#[test]
fn policy_quorum_met_by_a_cosignature_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let (w1, w1_key) = witness_key(&dir, "w1.example.org");
    let (w2, _) = witness_key(&dir, "w2.example.org");
    let cosigner = CosignerKey::new(vellum_signer::keyfile::load_key(&w1_key).unwrap()).unwrap();
    let one = write(
        &dir,
        "one",
        format!("log {}\nwitness w1 {w1}\nquorum w1\n", log_vkey()),
    );
    let both = write(
        &dir,
        "both",
        format!(
            "log {}\nwitness w1 {w1}\nwitness w2 {w2}\ngroup pair all w1 w2\nquorum pair\n",
            log_vkey()
        ),
    );
    for v in proof_vectors() {
        let proof = parsed(&v);
        let mut note = Note::parse(proof.checkpoint()).unwrap();
        let cosignature = cosigner.cosign(note.text(), 1_700_000_000).unwrap();
        note.add_signatures([cosignature]).unwrap();
        let text = rebuilt(
            &proof,
            proof.index(),
            proof.inclusion().to_vec(),
            note.to_bytes(),
        );
        let path = write(&dir, "proof", text);

        let out = verify(&["--policy", one.to_str().unwrap(), "-v"], &v.entry, &path);
        assert_ok(&out);
        assert!(
            stderr(&out).contains("cosigned by: w1 at 1700000000"),
            "{}",
            stderr(&out)
        );

        let out = verify(&["--policy", both.to_str().unwrap()], &v.entry, &path);
        assert_rejected(&out, &["group pair has 1 of the 2 members it needs"]);

        // The plain vkey ignores the cosignature: still valid.
        assert_ok(&verify_vkey(&v.entry, &path));
    }
}

#[test]
fn vkey_outside_the_policy_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let v = &proof_vectors()[0];
    let (witness, _) = witness_key(&dir, "w.example.org");
    let policy = write(&dir, "policy", format!("log {}\nquorum none\n", log_vkey()));
    let other_log = {
        let path = dir.path().join("other.key");
        let out = vellum([
            "keygen".as_ref(),
            "--origin".as_ref(),
            "example.org/other".as_ref(),
            "--out".as_ref(),
            path.as_os_str(),
        ]);
        stdout(&out).trim_end().to_owned()
    };
    let out = verify(
        &["--policy", policy.to_str().unwrap(), "--vkey", &other_log],
        &v.entry,
        &v.proof,
    );
    assert_fails(&out, 2, &["is not one of the logs"]);

    // A witness key is no log key.
    let out = verify(&["--vkey", &witness], &v.entry, &v.proof);
    assert_fails(&out, 2, &["a log key must be Ed25519"]);
}

#[test]
fn proof_from_another_policy_log_than_vkey_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let v = &proof_vectors()[0];
    let path = dir.path().join("other.key");
    let out = vellum([
        "keygen".as_ref(),
        "--origin".as_ref(),
        "example.org/other".as_ref(),
        "--out".as_ref(),
        path.as_os_str(),
    ]);
    let other_log = stdout(&out).trim_end().to_owned();
    let policy = write(
        &dir,
        "policy",
        format!("log {}\nlog {other_log}\nquorum none\n", log_vkey()),
    );
    let policy = policy.to_str().unwrap();
    assert_ok(&verify(&["--policy", policy], &v.entry, &v.proof));
    let out = verify(
        &["--policy", policy, "--vkey", &other_log],
        &v.entry,
        &v.proof,
    );
    assert_rejected(&out, &["not from the --vkey log"]);
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let v = &proof_vectors()[0];
    let vk = log_vkey();
    let missing = dir.path().join("missing");
    let bad_policy = write(&dir, "policy", format!("log {vk}\nquorum w9\n"));

    assert_fails(
        &verify(&["--vkey", &vk], &v.entry, &missing),
        2,
        &["missing"],
    );
    assert_fails(
        &verify(&["--vkey", &vk], &missing, &v.proof),
        2,
        &["missing"],
    );
    assert_fails(
        &verify(&["--vkey", "not-a-key"], &v.entry, &v.proof),
        2,
        &["--vkey"],
    );
    let at_missing = format!("@{}", missing.display());
    assert_fails(
        &verify(&["--vkey", &at_missing], &v.entry, &v.proof),
        2,
        &["cannot read"],
    );
    assert_fails(
        &verify(&["--policy", missing.to_str().unwrap()], &v.entry, &v.proof),
        2,
        &["cannot read"],
    );
    assert_fails(
        &verify(
            &["--policy", bad_policy.to_str().unwrap()],
            &v.entry,
            &v.proof,
        ),
        2,
        &["line 2"],
    );
    assert_fails(&verify(&[], &v.entry, &v.proof), 2, &["--vkey"]);
    assert_fails(
        &vellum(["verify", "--vkey", &vk, "--entry", "-", "-"]),
        2,
        &["both"],
    );
}
