//! C2SP tlog-tiles coordinates (tile height 8): which tile holds a node, tile
//! and entry-bundle paths (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`),
//! parsing them back strictly, and the byte forms of tiles and entry bundles.
//!
//! A tile at level `L` with index `N` and width `W` is the run of stored node
//! hashes at tree level `8 * L` with indices `N * 256 .. N * 256 + W`. Nothing
//! else: the levels in between are recomputed by whoever reads the tile.

use std::fmt;

use crate::hash::{HASH_LEN, Hash};
use crate::ids::{MAX_TREE_SIZE, NodeId, TreeSize};

/// Tree levels spanned by one tile.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// The largest entry an entry bundle can hold (uint16 length prefix).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// What a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// A tile of Merkle tree hashes at tile level `L` (tree level `8 * L`).
    Hashes(u8),
    /// An entry bundle: the entries under the level-0 tile of the same index.
    Entries,
}

/// One tile or entry bundle: its kind, index within its level and width
/// (`1..=256`; 256 is a full tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    kind: TileKind,
    index: u64,
    width: u16,
}

/// Why a tile could not be named or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The path does not follow the tlog-tiles grammar (or is not its one
    /// canonical spelling).
    #[error("malformed tile path {0:?}")]
    Malformed(String),
    /// The width is not in `1..=256`.
    #[error("tile width {0} is not in 1..=256")]
    Width(u64),
    /// The tile would hold nodes beyond a 2^63-leaf tree.
    #[error("tile {0} is beyond the largest possible tree")]
    OutOfRange(String),
    /// Tile bytes whose length is not `32 * width`.
    #[error("a tile of width {width} is {expected} bytes, got {got}")]
    TileLength {
        /// The width the tile should have.
        width: u16,
        /// The byte length that width implies.
        expected: usize,
        /// The byte length given.
        got: usize,
    },
    /// An entry bundle that does not split into exactly `width` entries.
    #[error("entry bundle is malformed: {0}")]
    Bundle(String),
    /// An entry longer than an entry bundle can hold.
    #[error("entry of {0} bytes exceeds the 65535-byte limit of tlog-tiles")]
    EntryTooLarge(usize),
}

impl Tile {
    /// A tile, checked for width and range.
    ///
    /// # Errors
    ///
    /// [`TileError::Width`] or [`TileError::OutOfRange`].
    pub fn new(kind: TileKind, index: u64, width: u64) -> Result<Tile, TileError> {
        if width == 0 || width > TILE_WIDTH {
            return Err(TileError::Width(width));
        }
        let level = match kind {
            TileKind::Hashes(l) => l,
            TileKind::Entries => 0,
        };
        let out_of_range = || TileError::OutOfRange(format!("{kind:?} {index} width {width}"));
        if level > 63 / TILE_HEIGHT {
            return Err(out_of_range());
        }
        // The last node in the tile must be a valid complete node.
        let last = index
            .checked_mul(TILE_WIDTH)
            .and_then(|s| s.checked_add(width - 1))
            .ok_or_else(out_of_range)?;
        NodeId::new(level * TILE_HEIGHT, last).map_err(|_| out_of_range())?;
        Ok(Tile {
            kind,
            index,
            // INVARIANT: 1 <= width <= 256 checked above.
            width: width as u16,
        })
    }

    /// The kind of tile.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The index of the tile within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// How many hashes (or entries) the tile holds.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is full (256 wide) and therefore immutable.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tree level of the nodes stored in the tile (0 for entry bundles).
    pub fn node_level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes(l) => l * TILE_HEIGHT,
            TileKind::Entries => 0,
        }
    }

    /// Index (at [`node_level`](Self::node_level)) of the first node held.
    pub fn first_node_index(&self) -> u64 {
        // INVARIANT: checked in `new` not to overflow.
        self.index * TILE_WIDTH
    }

    /// The nodes whose hashes make up the tile, left to right. For an entry
    /// bundle, the leaves of its entries.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + use<> {
        let level = self.node_level();
        let first = self.first_node_index();
        (first..first + u64::from(self.width)).map(move |i| NodeId::new_unchecked(level, i))
    }

    /// Whether every node of the tile is complete in a tree of `size`: the
    /// tile can be served for that tree.
    pub fn is_available_in(&self, size: TreeSize) -> bool {
        let end = self.first_node_index() + u64::from(self.width);
        // `end << level <= size`, said without the shift left: the full
        // version of a level-7 partial tile (see `full`) reaches 2^64 leaves,
        // and `end << level` would lose its high bit and read as 0.
        end <= size.get() >> self.node_level()
    }

    /// The same tile at full width. At level 7 a full tile would cover 2^64
    /// leaves, more than any tree holds: such a tile is never available
    /// (`is_available_in` is false for every size).
    pub fn full(&self) -> Tile {
        Tile {
            width: TILE_WIDTH as u16,
            ..*self
        }
    }

    /// The path of the tile relative to the log prefix, e.g.
    /// `tile/0/x001/x234/067.p/5` or `tile/entries/000`.
    pub fn path(&self) -> String {
        self.to_string()
    }

    /// Parses a path relative to the log prefix. Only the canonical spelling
    /// is accepted, so that one tile has exactly one name.
    ///
    /// # Errors
    ///
    /// [`TileError::Malformed`], [`TileError::Width`] or [`TileError::OutOfRange`].
    pub fn parse(path: &str) -> Result<Tile, TileError> {
        let malformed = || TileError::Malformed(path.chars().take(200).collect());
        let rest = path.strip_prefix("tile/").ok_or_else(malformed)?;
        let (kind_part, rest) = rest.split_once('/').ok_or_else(malformed)?;
        let kind = if kind_part == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(kind_part).ok_or_else(malformed)?;
            if level > 63 {
                return Err(malformed());
            }
            TileKind::Hashes(level as u8)
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w = parse_decimal(w).ok_or_else(malformed)?;
                if w == 0 || w >= TILE_WIDTH {
                    return Err(malformed());
                }
                (i, w)
            }
            None => (rest, TILE_WIDTH),
        };
        let index = parse_index(index_part).ok_or_else(malformed)?;
        let tile = Tile::new(kind, index, width)?;
        // Non-canonical forms (x000/005, extra groups) re-encode differently.
        if tile.path() != path {
            return Err(malformed());
        }
        Ok(tile)
    }

    /// The tile (at the smallest width that suffices) from which node `node`
    /// can be computed, together with the node's position relative to the
    /// tile: `(level within the tile, index within that level)`.
    pub fn for_node(node: NodeId) -> (Tile, u8, u64) {
        let tile_level = node.level() / TILE_HEIGHT;
        let sub = node.level() - tile_level * TILE_HEIGHT;
        let base_first = node.index() << sub;
        let base_end = (node.index() + 1) << sub;
        let index = base_first >> TILE_HEIGHT;
        let width = base_end - index * TILE_WIDTH;
        let tile = Tile {
            kind: TileKind::Hashes(tile_level),
            index,
            // INVARIANT: the node's subtree within the tile is aligned and at
            // most 2^7 wide, so 1 <= width <= 256.
            width: width as u16,
        };
        (tile, sub, node.index() - (index << (TILE_HEIGHT - sub)))
    }

    /// The rightmost, partial tile of `kind` for a tree of `size`, if the
    /// tree has one (its width is `floor(size / 256^L) mod 256`).
    pub fn partial_for_size(kind: TileKind, size: TreeSize) -> Option<Tile> {
        let level = match kind {
            TileKind::Hashes(l) => l,
            TileKind::Entries => 0,
        };
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        let nodes = size.get().checked_shr(shift).unwrap_or(0);
        let width = nodes % TILE_WIDTH;
        (width != 0).then_some(Tile {
            kind,
            index: nodes / TILE_WIDTH,
            width: width as u16,
        })
    }

    /// Number of full tiles of `kind` in a tree of `size`.
    pub fn full_count(kind: TileKind, size: TreeSize) -> u64 {
        let level = match kind {
            TileKind::Hashes(l) => l,
            TileKind::Entries => 0,
        };
        let shift = (u32::from(level) + 1) * u32::from(TILE_HEIGHT);
        size.get().checked_shr(shift).unwrap_or(0)
    }

    /// Tile levels that hold at least one node in a tree of `size`.
    pub fn levels(size: TreeSize) -> impl Iterator<Item = u8> {
        let s = size.get();
        (0..=(63 / TILE_HEIGHT)).take_while(move |l| {
            s.checked_shr(u32::from(*l) * u32::from(TILE_HEIGHT))
                .unwrap_or(0)
                > 0
        })
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes(l) => write!(f, "tile/{l}/")?,
            TileKind::Entries => write!(f, "tile/entries/")?,
        }
        write_index(f, self.index)?;
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// `1234067` -> `x001/x234/067`.
fn write_index(f: &mut fmt::Formatter<'_>, mut n: u64) -> fmt::Result {
    let mut groups = [0u16; 7];
    let mut count = 0;
    loop {
        groups[count] = (n % 1000) as u16;
        count += 1;
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    for (i, g) in groups[..count].iter().rev().enumerate() {
        if i + 1 < count {
            write!(f, "x{g:03}/")?;
        } else {
            write!(f, "{g:03}")?;
        }
    }
    Ok(())
}

/// A decimal with no sign and no leading zeros (except `0` itself).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// `x001/x234/067` -> `1234067`. Canonical form is checked by the caller.
fn parse_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    if groups.len() > 7 {
        return None;
    }
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let digits = if i + 1 < groups.len() {
            g.strip_prefix('x')?
        } else {
            g
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: u64 = digits.parse().ok()?;
        n = n.checked_mul(1000)?.checked_add(v)?;
    }
    Some(n)
}

/// The bytes of a tile: its hashes, concatenated.
pub fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * HASH_LEN);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out
}

/// The hashes of a tile of `width`, read from its bytes.
///
/// # Errors
///
/// [`TileError::TileLength`] when the length is not `32 * width`.
pub fn parse_tile(bytes: &[u8], width: u16) -> Result<Vec<Hash>, TileError> {
    let expected = usize::from(width) * HASH_LEN;
    if bytes.len() != expected {
        return Err(TileError::TileLength {
            width,
            expected,
            got: bytes.len(),
        });
    }
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .map(|c| {
            let mut h = [0u8; HASH_LEN];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect())
}

/// Appends one entry to an entry bundle: big-endian uint16 length, then the
/// bytes.
///
/// # Errors
///
/// [`TileError::EntryTooLarge`] for entries over 65,535 bytes; `bundle` is
/// left unchanged.
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), TileError> {
    let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge(entry.len()))?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// Splits an entry bundle that must hold exactly `width` entries.
///
/// # Errors
///
/// [`TileError::Bundle`] when the bundle is truncated, has trailing bytes or
/// holds another number of entries.
pub fn parse_bundle(bytes: &[u8], width: u16) -> Result<Vec<&[u8]>, TileError> {
    let mut entries = Vec::with_capacity(usize::from(width));
    let mut rest = bytes;
    while !rest.is_empty() {
        if entries.len() == usize::from(width) {
            return Err(TileError::Bundle(format!(
                "{} trailing bytes after {width} entries",
                rest.len()
            )));
        }
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(TileError::Bundle(format!(
                "truncated length prefix of entry {}",
                entries.len()
            )));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(TileError::Bundle(format!(
                "entry {} claims {len} bytes, {} remain",
                entries.len(),
                tail.len()
            )));
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    if entries.len() != usize::from(width) {
        return Err(TileError::Bundle(format!(
            "expected {width} entries, found {}",
            entries.len()
        )));
    }
    Ok(entries)
}

// Keep the bound visible next to the arithmetic that relies on it.
const _: () = assert!(MAX_TREE_SIZE == 1 << 63);

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: TileKind, index: u64, width: u64) -> Tile {
        Tile::new(kind, index, width).unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(
            t(TileKind::Hashes(0), 1_234_067, 256).path(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(t(TileKind::Hashes(1), 5, 17).path(), "tile/1/005.p/17");
        assert_eq!(
            t(TileKind::Entries, 1000, 256).path(),
            "tile/entries/x001/000"
        );
        assert_eq!(t(TileKind::Hashes(2), 0, 1).path(), "tile/2/000.p/1");
    }

    #[test]
    fn parse_round_trips_and_is_strict() {
        for p in [
            "tile/0/000",
            "tile/0/x001/x234/067",
            "tile/3/000.p/255",
            "tile/entries/259.p/232",
            "tile/entries/x999/999",
        ] {
            assert_eq!(Tile::parse(p).unwrap().path(), p);
        }
        for p in [
            "",
            "tile/",
            "tile/0/",
            "tile/00/000",
            "tile/0/0",
            "tile/0/0000",
            "tile/0/x000/005",
            "tile/0/001/002",
            "tile/0/x001",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/0/000.p/",
            "tile/64/000",
            "tile/-1/000",
            "tile/0/+00",
            "tile/entries/000.p/1/",
            "/tile/0/000",
            "tile/0/x001/x002/x003/x004/x005/x006/x007/000",
        ] {
            assert!(
                matches!(Tile::parse(p), Err(TileError::Malformed(_))),
                "{p} accepted"
            );
        }
        // Syntactically fine, but no tree that large exists.
        assert!(matches!(
            Tile::parse("tile/8/000.p/1"),
            Err(TileError::Malformed(_) | TileError::OutOfRange(_))
        ));
        assert!(matches!(
            Tile::parse("tile/7/001"),
            Err(TileError::OutOfRange(_))
        ));
        assert!(Tile::parse("tile/7/000.p/128").is_ok());
        assert!(Tile::parse("tile/7/000.p/129").is_err());
    }

    #[test]
    fn node_lookup() {
        let (tile, sub, idx) = Tile::for_node(NodeId::new(0, 300).unwrap());
        assert_eq!((tile, sub, idx), (t(TileKind::Hashes(0), 1, 45), 0, 44));
        let (tile, sub, idx) = Tile::for_node(NodeId::new(3, 40).unwrap());
        // Level 3, index 40 covers level-0 nodes 320..328: tile 1, width 72.
        assert_eq!((tile, sub, idx), (t(TileKind::Hashes(0), 1, 72), 3, 8));
        let (tile, sub, idx) = Tile::for_node(NodeId::new(8, 3).unwrap());
        assert_eq!((tile, sub, idx), (t(TileKind::Hashes(1), 0, 4), 0, 3));
    }

    #[test]
    fn sizes() {
        // The example of the specification: a tree of 70,000 leaves.
        let s = TreeSize::new(70_000).unwrap();
        assert_eq!(Tile::full_count(TileKind::Hashes(0), s), 273);
        assert_eq!(
            Tile::partial_for_size(TileKind::Hashes(0), s),
            Some(t(TileKind::Hashes(0), 273, 112))
        );
        assert_eq!(Tile::full_count(TileKind::Hashes(1), s), 1);
        assert_eq!(
            Tile::partial_for_size(TileKind::Hashes(1), s),
            Some(t(TileKind::Hashes(1), 1, 17))
        );
        assert_eq!(
            Tile::partial_for_size(TileKind::Hashes(2), s),
            Some(t(TileKind::Hashes(2), 0, 1))
        );
        assert_eq!(Tile::levels(s).collect::<Vec<_>>(), vec![0, 1, 2]);
        let s256 = TreeSize::new(256).unwrap();
        assert_eq!(Tile::partial_for_size(TileKind::Hashes(0), s256), None);
        assert!(t(TileKind::Hashes(1), 0, 1).is_available_in(s256));
        assert!(!t(TileKind::Hashes(1), 0, 2).is_available_in(s256));
        assert!(!t(TileKind::Hashes(0), 1, 1).is_available_in(s256));
    }

    /// Found by the `tile_path` fuzz target: the full version of a level-7
    /// partial tile covers 2^64 leaves, and computing its end by shifting
    /// left wrapped to 0, so it read as available in every tree.
    #[test]
    fn the_full_tile_of_level_7_is_never_available() {
        let max = TreeSize::new(crate::MAX_TREE_SIZE).unwrap();
        let partial = Tile::partial_for_size(TileKind::Hashes(7), max).unwrap();
        assert_eq!(partial, t(TileKind::Hashes(7), 0, 128));
        assert!(partial.is_available_in(max));
        assert!(!partial.full().is_available_in(max));
        let small = TreeSize::new(1 << 56).unwrap();
        let one = Tile::partial_for_size(TileKind::Hashes(7), small).unwrap();
        assert_eq!(one.width(), 1);
        assert!(one.is_available_in(small));
        assert!(!t(TileKind::Hashes(7), 0, 2).is_available_in(small));
        assert!(!one.full().is_available_in(small));
    }

    #[test]
    fn bundles() {
        let mut b = Vec::new();
        push_bundle_entry(&mut b, b"ab").unwrap();
        push_bundle_entry(&mut b, b"").unwrap();
        assert_eq!(b, vec![0, 2, b'a', b'b', 0, 0]);
        assert_eq!(parse_bundle(&b, 2).unwrap(), vec![&b"ab"[..], &b""[..]]);
        assert!(parse_bundle(&b, 1).is_err());
        assert!(parse_bundle(&b, 3).is_err());
        assert!(parse_bundle(&b[..3], 1).is_err());
        assert!(matches!(
            push_bundle_entry(&mut b, &vec![0; 65_536]),
            Err(TileError::EntryTooLarge(65_536))
        ));
        assert_eq!(b.len(), 6);
    }
}
