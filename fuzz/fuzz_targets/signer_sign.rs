//! The signer's only decision: up to eight `vellum.v1.SignCheckpointRequest`
//! protobuf messages (length-prefixed frames, see `vellum_fuzz::frames`),
//! decoded with prost, converted as the gRPC signer service converts them,
//! and passed to `CheckpointSigner::sign` on a fresh journal; then a
//! restart from that journal.
//!
//! Properties:
//! * no panic (decoding included);
//! * round trip: a decoded request re-encodes to a message that decodes to
//!   the same request;
//! * accept ⇒ valid: every note the signer returns opens with its key and
//!   is the text asked for; the signed sizes never decrease; one size is
//!   never signed with two roots; each larger checkpoint comes with a
//!   consistency proof from the previous one that verifies (checked again
//!   here); a refusal leaves the signer's state as it was;
//! * durability: after a restart the signer holds the last checkpoint it
//!   signed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use vellum_fuzz::{frames, keys, scratch_dir};
use vellum_merkle::proof::verify_consistency;
use vellum_merkle::{Hash, TreeSize};
use vellum_note::{Checkpoint, SignedCheckpoint};
use vellum_proto::v1 as pb;
use vellum_signer::CheckpointSigner;

/// The conversion of `vellum-server`'s signer service: UTF-8 text, a size
/// within the largest tree, 32-byte hashes.
fn convert(req: &pb::SignCheckpointRequest) -> Option<(&str, TreeSize, Vec<Hash>)> {
    let text = std::str::from_utf8(&req.checkpoint_text).ok()?;
    let old = TreeSize::new(req.old_size).ok()?;
    let proof = req
        .consistency_proof
        .iter()
        .map(|h| Hash::from_slice(h))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some((text, old, proof))
}

fn state(s: &CheckpointSigner) -> Option<Checkpoint> {
    s.last_signed().map(|l| l.checkpoint.clone())
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch_dir();
    let k = keys();
    let vkey = k.log_vkey();
    let mut signer = CheckpointSigner::open(k.log.clone(), dir.path()).expect("a fresh journal");
    for msg in frames(data, 8) {
        let Ok(req) = pb::SignCheckpointRequest::decode(msg) else {
            continue;
        };
        let again = pb::SignCheckpointRequest::decode(req.encode_to_vec().as_slice())
            .expect("an encoded request decodes");
        assert_eq!(again, req);
        let Some((text, old, proof)) = convert(&req) else {
            continue;
        };
        let before = state(&signer);
        match signer.sign(text, old, &proof) {
            Ok(note) => {
                let opened = SignedCheckpoint::open(&note, &vkey, &[])
                    .expect("a signed note opens with the signer's key");
                let cp = opened.checkpoint();
                assert_eq!(opened.note().text(), text);
                if let Some(prev) = &before {
                    assert!(cp.size() >= prev.size(), "the signed size decreased");
                    if cp.size() == prev.size() {
                        assert_eq!(cp.root(), prev.root(), "two roots for one size");
                    } else {
                        verify_consistency(
                            prev.size(),
                            &prev.root(),
                            cp.size(),
                            &cp.root(),
                            &proof,
                        )
                        .expect("signed without a consistency proof that verifies");
                    }
                }
                assert_eq!(state(&signer).as_ref(), Some(cp));
            }
            Err(_) => assert_eq!(state(&signer), before, "a refusal changed the state"),
        }
    }
    let last = state(&signer);
    drop(signer);
    let again = CheckpointSigner::open(k.log.clone(), dir.path()).expect("the journal re-opens");
    assert_eq!(
        state(&again),
        last,
        "a restart keeps the last signed checkpoint"
    );
});
