//! The shared interoperability vectors in `testdata/vectors` (see its
//! README): found from this crate's folder, never by absolute path.

use std::ffi::OsStr;
use std::path::PathBuf;

/// `testdata/vectors`.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors")
}

/// `testdata/vectors/tiles`: the vector tree as tlog-tiles.
pub fn tiles() -> PathBuf {
    root().join("tiles")
}

/// The vkey of the log that signed the vector checkpoints.
pub fn log_vkey() -> String {
    let text = std::fs::read_to_string(root().join("note.json")).expect("read note.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("note.json is JSON");
    json["verifier_key"]
        .as_str()
        .expect("note.json has verifier_key")
        .to_owned()
}

/// One tlog-proof vector: its name, the proof file and the entry file.
#[derive(Debug, Clone)]
pub struct ProofVector {
    pub name: String,
    pub proof: PathBuf,
    pub entry: PathBuf,
}

/// Every `*.tlog-proof` in the vectors, with its `.data` entry, by name.
pub fn proof_vectors() -> Vec<ProofVector> {
    let dir = root().join("tlog-proof");
    let mut out: Vec<ProofVector> = std::fs::read_dir(&dir)
        .expect("read the tlog-proof vectors")
        .map(|e| e.expect("list the tlog-proof vectors").path())
        .filter(|p| p.extension() == Some(OsStr::new("tlog-proof")))
        .map(|proof| ProofVector {
            name: proof
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned(),
            entry: proof.with_extension("data"),
            proof,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 5, "expected the tlog-proof vectors in {dir:?}");
    out
}
