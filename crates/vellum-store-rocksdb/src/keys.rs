//! The on-disk layout: column family names, key and value encodings.
//!
//! Every integer in a key is big-endian, so that RocksDB's bytewise order is
//! index order and a range of indices is one contiguous key range. Decoders
//! check lengths: a value of the wrong length is [`StoreError::Corrupt`],
//! never truncated or padded into something that looks valid.

use vellum_merkle::{HASH_LEN, Hash, NodeId, TreeSize};
use vellum_store::{StoreError, TreeHead};

/// `index (8 bytes BE) -> entry bytes`.
pub(crate) const CF_ENTRIES: &str = "entries";
/// `level (1 byte) || index (8 bytes BE) -> 32-byte hash`, complete nodes only.
pub(crate) const CF_NODES: &str = "nodes";
/// `leaf hash (32 bytes) -> index (8 bytes BE)`.
pub(crate) const CF_DEDUP: &str = "dedup";
/// `size (8 bytes BE) -> signed note bytes`.
pub(crate) const CF_CHECKPOINTS: &str = "checkpoints";
/// The keys below.
pub(crate) const CF_META: &str = "meta";

/// Every column family of a Vellum store, `default` included (RocksDB always
/// has it; Vellum never writes to it).
pub(crate) const ALL_CFS: [&str; 6] = [
    rocksdb::DEFAULT_COLUMN_FAMILY_NAME,
    CF_ENTRIES,
    CF_NODES,
    CF_DEDUP,
    CF_CHECKPOINTS,
    CF_META,
];

/// The column families of one log, `default` excluded. The default log of a
/// database has these names; each other log in the same database (a
/// namespace, see [`RocksStore::open_logs`](crate::RocksStore::open_logs))
/// has them with `@<name>` appended: `entries@tenant-a`.
pub(crate) const LOG_CFS: [&str; 5] = [CF_ENTRIES, CF_NODES, CF_DEDUP, CF_CHECKPOINTS, CF_META];

/// Separates a column family's kind from its log's name.
pub(crate) const NAMESPACE_SEP: char = '@';

/// The log a column family of another log belongs to: `entries@a` is
/// `Some(("entries", "a"))`; the default log's (and anything else) `None`.
pub(crate) fn namespaced(cf: &str) -> Option<(&str, &str)> {
    let (kind, name) = cf.split_once(NAMESPACE_SEP)?;
    (LOG_CFS.contains(&kind) && valid_namespace(name)).then_some((kind, name))
}

/// A namespace is a log's name: 1 to 64 bytes of `a-z`, `0-9`, `-`, `_`,
/// starting with a letter or digit (the server's log-name grammar).
pub(crate) fn valid_namespace(name: &str) -> bool {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(ok)
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

/// `meta` key: the layout version, 4 bytes BE.
pub(crate) const META_SCHEMA_VERSION: &[u8] = b"schema_version";
/// `meta` key: the committed head, 8-byte BE size || 32-byte root.
pub(crate) const META_TREE_HEAD: &[u8] = b"tree_head";
/// `meta` key: which software created the store (informational only).
pub(crate) const META_CREATED_BY: &[u8] = b"created_by";

/// The layout this code reads and writes. A store with a larger number was
/// written by a newer Vellum and is refused rather than misread.
pub const SCHEMA_VERSION: u32 = 1;

/// Length of a `tree_head` value.
pub(crate) const TREE_HEAD_LEN: usize = 8 + HASH_LEN;

/// Key of entry `index` (also of checkpoint `size`: both are one u64).
pub(crate) fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Key of a node.
pub(crate) fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Key of [`NodeId`] `id`.
pub(crate) fn node_id_key(id: NodeId) -> [u8; 9] {
    node_key(id.level(), id.index())
}

/// Reads a u64 stored as 8 bytes BE (a dedup value or a checkpoint key).
pub(crate) fn decode_u64(what: &dyn std::fmt::Display, bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("{what} is {} bytes, not 8", bytes.len())))
}

/// Reads a stored hash (a node value).
pub(crate) fn decode_hash(what: &dyn std::fmt::Display, bytes: &[u8]) -> Result<Hash, StoreError> {
    Hash::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Encodes a tree head for `meta/tree_head`.
pub(crate) fn encode_head(head: &TreeHead) -> [u8; TREE_HEAD_LEN] {
    let mut v = [0u8; TREE_HEAD_LEN];
    v[..8].copy_from_slice(&head.size.get().to_be_bytes());
    v[8..].copy_from_slice(head.root.as_bytes());
    v
}

/// Decodes `meta/tree_head`.
pub(crate) fn decode_head(bytes: &[u8]) -> Result<TreeHead, StoreError> {
    if bytes.len() != TREE_HEAD_LEN {
        return Err(StoreError::Corrupt(format!(
            "meta/tree_head is {} bytes, not {TREE_HEAD_LEN}",
            bytes.len()
        )));
    }
    let size = decode_u64(&"meta/tree_head size", &bytes[..8])?;
    let size =
        TreeSize::new(size).map_err(|e| StoreError::Corrupt(format!("meta/tree_head: {e}")))?;
    let root = decode_hash(&"meta/tree_head root", &bytes[8..])?;
    Ok(TreeHead { size, root })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_names_parse_only_as_written() {
        assert_eq!(
            namespaced("entries@tenant-a"),
            Some(("entries", "tenant-a"))
        );
        assert_eq!(namespaced("meta@0"), Some(("meta", "0")));
        for not in [
            "entries",
            "default",
            "x@a",
            "entries@",
            "entries@A",
            "entries@-a",
            "nodes@a@b",
        ] {
            assert_eq!(namespaced(not), None, "{not}");
        }
    }

    #[test]
    fn keys_sort_in_index_order() {
        let idx = [0u64, 1, 255, 256, 65_535, 65_536, 1 << 40, u64::MAX >> 1];
        for w in idx.windows(2) {
            assert!(u64_key(w[0]) < u64_key(w[1]));
            assert!(node_key(3, w[0]) < node_key(3, w[1]));
        }
        // All of a level precedes the next level: a range scan never strays.
        assert!(node_key(0, u64::MAX) < node_key(1, 0));
    }

    #[test]
    fn head_round_trips_and_rejects_bad_lengths() {
        let head = TreeHead {
            size: TreeSize::new(12_345).unwrap(),
            root: Hash([7; 32]),
        };
        assert_eq!(decode_head(&encode_head(&head)).unwrap(), head);
        let enc = encode_head(&head);
        assert!(matches!(
            decode_head(&enc[..39]),
            Err(StoreError::Corrupt(_))
        ));
        let mut too_big = enc;
        too_big[0] = 0xff;
        assert!(matches!(decode_head(&too_big), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            decode_u64(&"x", &[1, 2, 3]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode_hash(&"x", &[0; 33]),
            Err(StoreError::Corrupt(_))
        ));
    }
}
