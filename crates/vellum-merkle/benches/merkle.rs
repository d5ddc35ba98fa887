//! Benchmarks of the tree math against two peer crates and against the
//! bound set by SHA-256 itself.
//!
//! Every group measures the same work for each peer in the same run, with
//! throughput in elements (leaves, hashes, proofs, paths) per second:
//!
//! * `integrate`: grow a tree of 65,536 leaves from pre-computed leaf hashes
//!   and compute its root. `raw_sha256` is the floor: the 65,535 node hashes
//!   (`SHA-256(0x01 || l || r)`, 65 bytes each) any integration must do,
//!   in a tight loop with nothing else.
//! * `leaf_hash`: `SHA-256(0x00 || entry)` against plain SHA-256 of the entry.
//! * `inclusion` / `consistency`: plan + fetch (from a `HashMap`, standing in
//!   for storage) + assemble, and verification, in a tree of 1,000,000 leaves.
//! * `tiles`: parsing and printing tile paths.
//!
//! Peers: `rs_merkle` (with an RFC 6962 hasher, which it agrees with: see
//! `tests/crosscheck.rs`) and `ct-merkle` (RFC 6962 native). ct-merkle's API
//! takes entries, not leaf hashes: it hashes every leaf itself, so its
//! `integrate` and `verify` figures include one leaf hash per entry that the
//! others are given pre-computed. rs_merkle has no consistency proofs.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::OnceLock;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use rs_merkle::{Hasher, MerkleProof, MerkleTree};
use sha2::{Digest, Sha256};
use vellum_merkle::proof::{
    plan_consistency, plan_inclusion, verify_consistency, verify_inclusion,
};
use vellum_merkle::tiles::{Tile, TileKind};
use vellum_merkle::{CompactRange, Hash, LeafIndex, NodeId, TreeSize, leaf_hash};

/// RFC 6962 hashing for rs_merkle (the same as in `tests/crosscheck.rs`).
#[derive(Clone, Debug)]
struct Rfc6962;

impl Hasher for Rfc6962 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        leaf_hash(data).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => vellum_merkle::node_hash(&Hash(*left), &Hash(*right)).0,
            None => *left,
        }
    }
}

type CtTree = MemoryBackedTree<Sha256, Vec<u8>>;
type CtDigest = ct_merkle::digest::Output<Sha256>;

fn entry(i: u64) -> Vec<u8> {
    format!("bench entry {i}").into_bytes()
}

/// A fixed pseudo-random sequence (xorshift), so that every peer proves the
/// same leaves in the same order.
fn picks(count: usize, below: u64) -> Vec<u64> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % below
        })
        .collect()
}

// ---------------------------------------------------------------------------

const INTEGRATE_N: u64 = 65_536;

fn integrate(c: &mut Criterion) {
    let leaves: Vec<Hash> = (0..INTEGRATE_N).map(|i| leaf_hash(&entry(i))).collect();
    let raw_leaves: Vec<[u8; 32]> = leaves.iter().map(|h| h.0).collect();
    let entries: Vec<Vec<u8>> = (0..INTEGRATE_N).map(entry).collect();

    let mut g = c.benchmark_group("integrate");
    g.throughput(Throughput::Elements(INTEGRATE_N));
    g.sample_size(20);

    // As a sequencer does it: the writes go to a buffer that is reused from
    // one round to the next, then to storage in one batch.
    let mut writes: Vec<(NodeId, Hash)> = Vec::with_capacity(2 * INTEGRATE_N as usize);
    g.bench_function("vellum", |b| {
        b.iter(|| {
            writes.clear();
            let mut edge = CompactRange::new();
            for leaf in &leaves {
                edge.append(*leaf, |id, h| writes.push((id, *h)))
                    .expect("tree not full");
            }
            black_box(writes.len());
            black_box(edge.root())
        })
    });

    g.bench_function("rs_merkle", |b| {
        b.iter(|| black_box(MerkleTree::<Rfc6962>::from_leaves(&raw_leaves).root()))
    });

    // ct-merkle owns its entries: hand it fresh copies outside the timing.
    g.bench_function("ct_merkle_entries", |b| {
        b.iter_batched(
            || entries.clone(),
            |entries| {
                let mut tree = CtTree::new();
                for e in entries {
                    tree.push(e);
                }
                black_box(tree.root())
            },
            BatchSize::LargeInput,
        )
    });

    // The floor: N - 1 node hashes and nothing else.
    g.bench_function("raw_sha256", |b| {
        b.iter(|| {
            let mut buf = [0x01u8; 65];
            for pair in raw_leaves.windows(2) {
                buf[1..33].copy_from_slice(&pair[0]);
                buf[33..].copy_from_slice(&pair[1]);
                black_box(Sha256::digest(buf));
            }
        })
    });
    g.finish();
}

fn leaf_hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("leaf_hash");
    g.throughput(Throughput::Elements(1));
    for len in [64usize, 256] {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        g.bench_function(format!("vellum/{len}"), |b| {
            b.iter(|| leaf_hash(black_box(&data)))
        });
        g.bench_function(format!("raw_sha256/{len}"), |b| {
            b.iter(|| Sha256::digest(black_box(&data)))
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------
// One large tree, built once and only when a proof benchmark runs.

const PROOF_TREE_N: u64 = 1_000_000;
const PICKS: usize = 4096;

struct ProofFixture {
    size: TreeSize,
    root: Hash,
    stored: HashMap<NodeId, Hash>,
    leaves: Vec<Hash>,
    /// Leaf indices to prove, and their proofs (for the verify benchmarks).
    indices: Vec<u64>,
    inclusion: Vec<Vec<Hash>>,
    /// Old sizes to prove consistency from, to the full tree.
    olds: Vec<u64>,
    old_roots: Vec<Hash>,
    consistency: Vec<Vec<Hash>>,
}

impl ProofFixture {
    fn fetch(&self, ids: &[NodeId]) -> Vec<Hash> {
        ids.iter().map(|id| self.stored[id]).collect()
    }

    fn prove_inclusion(&self, i: u64) -> Vec<Hash> {
        let plan = plan_inclusion(LeafIndex::new(i).expect("index"), self.size).expect("plan");
        plan.assemble(&self.fetch(plan.nodes())).expect("assemble")
    }

    fn prove_consistency(&self, m: u64) -> Vec<Hash> {
        let plan = plan_consistency(TreeSize::new(m).expect("size"), self.size).expect("plan");
        plan.assemble(&self.fetch(plan.nodes())).expect("assemble")
    }
}

fn proof_fixture() -> &'static ProofFixture {
    static FIXTURE: OnceLock<ProofFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut edge = CompactRange::new();
        let mut stored = HashMap::with_capacity(2 * PROOF_TREE_N as usize);
        let mut leaves = Vec::with_capacity(PROOF_TREE_N as usize);
        let mut roots_at = HashMap::new();
        let olds: Vec<u64> = picks(PICKS, PROOF_TREE_N - 1)
            .into_iter()
            .map(|m| m + 1)
            .collect();
        for i in 0..PROOF_TREE_N {
            let leaf = leaf_hash(&entry(i));
            leaves.push(leaf);
            edge.append(leaf, |id, h| {
                stored.insert(id, *h);
            })
            .expect("append");
            roots_at.insert(i + 1, edge.root());
        }
        let mut f = ProofFixture {
            size: edge.size(),
            root: edge.root(),
            stored,
            leaves,
            indices: picks(PICKS, PROOF_TREE_N),
            inclusion: Vec::new(),
            old_roots: olds.iter().map(|m| roots_at[m]).collect(),
            olds,
            consistency: Vec::new(),
        };
        f.inclusion = f.indices.iter().map(|&i| f.prove_inclusion(i)).collect();
        f.consistency = f.olds.iter().map(|&m| f.prove_consistency(m)).collect();
        f
    })
}

fn rs_tree() -> &'static MerkleTree<Rfc6962> {
    static TREE: OnceLock<MerkleTree<Rfc6962>> = OnceLock::new();
    TREE.get_or_init(|| {
        let f = proof_fixture();
        let raw: Vec<[u8; 32]> = f.leaves.iter().map(|h| h.0).collect();
        MerkleTree::from_leaves(&raw)
    })
}

fn ct_tree() -> &'static CtTree {
    static TREE: OnceLock<CtTree> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut tree = CtTree::new();
        for i in 0..PROOF_TREE_N {
            tree.push(entry(i));
        }
        tree
    })
}

/// Cycles through the picks, one per iteration, so that every peer proves
/// the same leaves in the same order.
struct Cycle(usize);

impl Cycle {
    fn next(&mut self) -> usize {
        self.0 = (self.0 + 1) % PICKS;
        self.0
    }
}

fn ct_digests(hashes: &[Hash]) -> Vec<CtDigest> {
    hashes.iter().map(|h| h.0.into()).collect()
}

fn inclusion(c: &mut Criterion) {
    let mut g = c.benchmark_group("inclusion");
    g.throughput(Throughput::Elements(1));

    g.bench_function("vellum_prove", |b| {
        let f = proof_fixture();
        let mut k = Cycle(0);
        b.iter(|| black_box(f.prove_inclusion(f.indices[k.next()])))
    });
    g.bench_function("rs_merkle_prove", |b| {
        let (f, tree) = (proof_fixture(), rs_tree());
        let mut k = Cycle(0);
        b.iter(|| black_box(tree.proof(&[f.indices[k.next()] as usize])))
    });
    g.bench_function("ct_merkle_prove", |b| {
        let (f, tree) = (proof_fixture(), ct_tree());
        let mut k = Cycle(0);
        b.iter(|| black_box(tree.prove_inclusion(f.indices[k.next()] as usize)))
    });

    g.bench_function("vellum_verify", |b| {
        let f = proof_fixture();
        let mut k = Cycle(0);
        b.iter(|| {
            let j = k.next();
            let i = f.indices[j];
            let index = LeafIndex::new(i).expect("index");
            verify_inclusion(
                &f.leaves[i as usize],
                index,
                f.size,
                &f.inclusion[j],
                &f.root,
            )
            .expect("valid proof")
        })
    });
    g.bench_function("rs_merkle_verify", |b| {
        let f = proof_fixture();
        let proofs: Vec<MerkleProof<Rfc6962>> = f
            .inclusion
            .iter()
            .map(|p| MerkleProof::new(p.iter().map(|h| h.0).collect()))
            .collect();
        let n = PROOF_TREE_N as usize;
        let mut k = Cycle(0);
        b.iter(|| {
            let j = k.next();
            let i = f.indices[j] as usize;
            assert!(proofs[j].verify(f.root.0, &[i], &[f.leaves[i].0], n));
        })
    });
    // ct-merkle verifies an entry, not a leaf hash: one leaf hash more.
    g.bench_function("ct_merkle_verify_entry", |b| {
        let f = proof_fixture();
        let root = RootHash::<Sha256>::new(f.root.0.into(), PROOF_TREE_N);
        let proofs: Vec<InclusionProof<Sha256>> = f
            .inclusion
            .iter()
            .map(|p| InclusionProof::from_digests(&ct_digests(p)))
            .collect();
        let entries: Vec<Vec<u8>> = f.indices.iter().map(|&i| entry(i)).collect();
        let mut k = Cycle(0);
        b.iter(|| {
            let j = k.next();
            root.verify_inclusion(&entries[j], f.indices[j], &proofs[j])
                .expect("valid proof")
        })
    });
    g.finish();
}

fn consistency(c: &mut Criterion) {
    let mut g = c.benchmark_group("consistency");
    g.throughput(Throughput::Elements(1));

    g.bench_function("vellum_prove", |b| {
        let f = proof_fixture();
        let mut k = Cycle(0);
        b.iter(|| black_box(f.prove_consistency(f.olds[k.next()])))
    });
    g.bench_function("ct_merkle_prove", |b| {
        let (f, tree) = (proof_fixture(), ct_tree());
        let mut k = Cycle(0);
        b.iter(|| {
            let m = f.olds[k.next()];
            black_box(tree.prove_consistency((PROOF_TREE_N - m) as usize))
        })
    });
    g.bench_function("vellum_verify", |b| {
        let f = proof_fixture();
        let mut k = Cycle(0);
        b.iter(|| {
            let j = k.next();
            let m = TreeSize::new(f.olds[j]).expect("size");
            verify_consistency(m, &f.old_roots[j], f.size, &f.root, &f.consistency[j])
                .expect("valid proof")
        })
    });
    g.bench_function("ct_merkle_verify", |b| {
        let f = proof_fixture();
        let new = RootHash::<Sha256>::new(f.root.0.into(), PROOF_TREE_N);
        let olds: Vec<RootHash<Sha256>> = f
            .olds
            .iter()
            .zip(&f.old_roots)
            .map(|(&m, r)| RootHash::new(r.0.into(), m))
            .collect();
        let proofs: Vec<ConsistencyProof<Sha256>> = f
            .consistency
            .iter()
            .map(|p| ConsistencyProof::from_digests(&ct_digests(p)))
            .collect();
        let mut k = Cycle(0);
        b.iter(|| {
            let j = k.next();
            new.verify_consistency(&olds[j], &proofs[j])
                .expect("valid proof")
        })
    });
    g.finish();
}

fn tiles(c: &mut Criterion) {
    let tiles: Vec<Tile> = picks(PICKS, 1 << 40)
        .into_iter()
        .enumerate()
        .map(|(k, n)| {
            let kind = match k % 3 {
                0 => TileKind::Entries,
                l => TileKind::Hashes(l as u8 - 1),
            };
            Tile::new(kind, n >> 8, (n & 0xff) + 1).expect("tile")
        })
        .collect();
    let paths: Vec<String> = tiles.iter().map(Tile::path).collect();

    let mut g = c.benchmark_group("tiles");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse", |b| {
        let mut k = Cycle(0);
        b.iter(|| Tile::parse(black_box(&paths[k.next()])).expect("valid path"))
    });
    g.bench_function("path", |b| {
        let mut k = Cycle(0);
        b.iter(|| black_box(&tiles[k.next()]).path())
    });
    g.finish();
}

criterion_group!(
    benches,
    integrate,
    leaf_hashing,
    inclusion,
    consistency,
    tiles
);
criterion_main!(benches);
