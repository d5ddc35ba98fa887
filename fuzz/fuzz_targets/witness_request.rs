//! The tlog-witness `add-checkpoint` body: `AddCheckpointRequest::parse`
//! on arbitrary bytes.
//!
//! Properties:
//! * no panic;
//! * round trip: an accepted body is exactly `AddCheckpointRequest::encode`
//!   of its old size, proof and note (one spelling per request);
//! * accept ⇒ valid: at most 63 proof hashes, an old size within the
//!   largest tree, and a note whose text is the checkpoint reported.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vellum_merkle::MAX_TREE_SIZE;
use vellum_note::Checkpoint;
use vellum_witness::{AddCheckpointRequest, MAX_PROOF_LINES};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = AddCheckpointRequest::parse(data) else {
        return;
    };
    assert!(req.proof().len() <= MAX_PROOF_LINES);
    assert!(req.old_size().get() <= MAX_TREE_SIZE);
    let again =
        AddCheckpointRequest::encode(req.old_size().get(), req.proof(), &req.note().to_bytes());
    assert_eq!(again, data, "a parsed request encodes back");
    assert_eq!(
        &Checkpoint::parse(req.note().text()).expect("the claimed checkpoint parses"),
        req.claimed()
    );
});
