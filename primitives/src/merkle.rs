//! The Merkle encoding of files and slices.
//!
//! Two trees with the same shape:
//!
//! * a **slice** is cut into chunks of [`CHUNK_SIZE`] bytes (the last may be shorter); the
//!   slice hash is the root over its chunks, leaf `i` = ([`LEAF_TAG`], `i`, chunk length,
//!   SHA-256 of the chunk bytes);
//! * a **file** is cut into slices; the file id is the root over its slices, leaf `i` =
//!   ([`LEAF_TAG`], `i`, slice length, slice hash).
//!
//! Hashes (all SHA-256, ADR 0007):
//!
//! ```text
//! leaf(i, len, h) = H(0x00 ‖ i as u64 LE ‖ len as u64 LE ‖ h)
//! node(l, r)      = H(0x01 ‖ l ‖ r)
//! empty           = H(0x02)                       (root of zero leaves: the empty file)
//! ```
//!
//! The tree is built level by level; a level with an odd count **promotes** its last hash
//! unchanged to the next level (the last leaf is never duplicated, so two different leaf
//! lists never share a root). With `n` leaves this is the same tree as RFC 6962's split at
//! the largest power of two below `n`, which is what lets [`MerkleBuilder`] build it
//! streaming in O(log n) memory.
//!
//! An inclusion proof lists the sibling hashes from the leaf up; the verifier knows the leaf
//! index and the leaf count, so it knows at every level whether there is a sibling and on
//! which side.

use crate::{hash, Hash};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Chunk size inside a slice: the unit of range reads, per-chunk verification on every
/// read, and storage challenges.
pub const CHUNK_SIZE: u32 = 64 * 1024;
/// Domain tag of a leaf hash.
pub const LEAF_TAG: u8 = 0x00;
/// Domain tag of an inner node hash.
pub const NODE_TAG: u8 = 0x01;
/// Domain tag of the empty tree's root.
pub const EMPTY_TAG: u8 = 0x02;
/// No proof is deeper than this (2^64 leaves).
pub const MAX_PROOF_DEPTH: usize = 64;

/// One leaf: its position, the byte length it covers and the hash of its content (a chunk's
/// data hash, or a slice's root).
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct Leaf {
	/// Position among the tree's leaves, from 0.
	pub index: u64,
	/// Bytes covered by this leaf.
	pub length: u64,
	/// Hash of the content: [`chunk_hash`] for chunks, the slice hash for slices.
	pub content: Hash,
}

impl Leaf {
	/// The leaf's hash in the tree.
	pub fn hash(&self) -> Hash {
		let mut buf = [0u8; 1 + 8 + 8 + 32];
		buf[0] = LEAF_TAG;
		buf[1..9].copy_from_slice(&self.index.to_le_bytes());
		buf[9..17].copy_from_slice(&self.length.to_le_bytes());
		buf[17..].copy_from_slice(&self.content);
		hash(&buf)
	}
}

/// The hash of a chunk's bytes (leaf content in a slice tree).
pub fn chunk_hash(data: &[u8]) -> Hash {
	hash(data)
}

/// An inner node's hash.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
	let mut buf = [0u8; 1 + 32 + 32];
	buf[0] = NODE_TAG;
	buf[1..33].copy_from_slice(left);
	buf[33..].copy_from_slice(right);
	hash(&buf)
}

/// The root of a tree with no leaves (the id of the empty file).
pub fn empty_root() -> Hash {
	hash(&[EMPTY_TAG])
}

/// Number of chunks of a slice of `len` bytes (0 for an empty slice).
pub const fn chunk_count(len: u64) -> u64 {
	len.div_ceil(CHUNK_SIZE as u64)
}

/// Builds a root from leaves given in order, in O(log n) memory.
#[derive(Clone, Debug, Default)]
pub struct MerkleBuilder {
	/// Completed perfect subtrees, (height, root), heights strictly decreasing.
	stack: Vec<(u32, Hash)>,
	count: u64,
	length: u64,
}

impl MerkleBuilder {
	/// An empty builder.
	pub fn new() -> Self {
		Self::default()
	}

	/// Adds the next leaf, covering `length` bytes whose content hash is `content`.
	pub fn push(&mut self, length: u64, content: Hash) {
		let leaf = Leaf { index: self.count, length, content };
		self.count += 1;
		self.length = self.length.saturating_add(length);
		let mut entry = (0u32, leaf.hash());
		while let Some(&(h, ref top)) = self.stack.last() {
			if h != entry.0 {
				break;
			}
			entry = (h + 1, node_hash(top, &entry.1));
			self.stack.pop();
		}
		self.stack.push(entry);
	}

	/// Leaves pushed so far.
	pub fn leaf_count(&self) -> u64 {
		self.count
	}

	/// Sum of the leaves' lengths.
	pub fn total_length(&self) -> u64 {
		self.length
	}

	/// The root over all leaves pushed so far.
	pub fn root(&self) -> Hash {
		let mut iter = self.stack.iter().rev();
		let Some(&(_, mut acc)) = iter.next() else { return empty_root() };
		for (_, left) in iter {
			acc = node_hash(left, &acc);
		}
		acc
	}
}

/// Root over `leaves` (content hash and length per leaf, in order).
pub fn root_of(leaves: impl IntoIterator<Item = (u64, Hash)>) -> Hash {
	let mut b = MerkleBuilder::new();
	for (len, h) in leaves {
		b.push(len, h);
	}
	b.root()
}

/// Proof that a leaf is at `index` in a tree of `leaf_count` leaves.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct MerkleProof {
	/// Leaves in the tree.
	pub leaf_count: u64,
	/// Sibling hashes from the leaf's level upwards (levels where the node was promoted
	/// have none).
	pub siblings: Vec<Hash>,
}

/// Why a proof did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofError {
	/// The leaf index is not below the leaf count.
	IndexOutOfRange,
	/// The proof has more or fewer sibling hashes than the tree's shape needs.
	WrongLength,
	/// The recomputed root differs from the expected one.
	RootMismatch,
}

impl core::fmt::Display for ProofError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.write_str(match self {
			Self::IndexOutOfRange => "leaf index is not below the leaf count",
			Self::WrongLength => "proof length does not match the tree shape",
			Self::RootMismatch => "proof does not lead to the expected root",
		})
	}
}

#[cfg(feature = "std")]
impl std::error::Error for ProofError {}

impl MerkleProof {
	/// Proof for leaf `index` among `leaves` (content hash and length per leaf).
	///
	/// Returns `None` when `index` is out of range.
	pub fn build(leaves: &[(u64, Hash)], index: u64) -> Option<Self> {
		if index >= leaves.len() as u64 {
			return None;
		}
		let mut level: Vec<Hash> = leaves
			.iter()
			.enumerate()
			.map(|(i, (len, h))| Leaf { index: i as u64, length: *len, content: *h }.hash())
			.collect();
		let mut i = index as usize;
		let mut siblings = Vec::new();
		while level.len() > 1 {
			let sib = i ^ 1;
			if sib < level.len() {
				siblings.push(level[sib]);
			}
			level = next_level(&level);
			i /= 2;
		}
		Some(Self { leaf_count: leaves.len() as u64, siblings })
	}

	/// The root this proof leads to for `leaf`.
	pub fn compute_root(&self, leaf: &Leaf) -> Result<Hash, ProofError> {
		if leaf.index >= self.leaf_count {
			return Err(ProofError::IndexOutOfRange);
		}
		if self.siblings.len() > MAX_PROOF_DEPTH {
			return Err(ProofError::WrongLength);
		}
		let mut acc = leaf.hash();
		let (mut i, mut width) = (leaf.index, self.leaf_count);
		let mut sibs = self.siblings.iter();
		while width > 1 {
			if i % 2 == 1 {
				let s = sibs.next().ok_or(ProofError::WrongLength)?;
				acc = node_hash(s, &acc);
			} else if i + 1 < width {
				let s = sibs.next().ok_or(ProofError::WrongLength)?;
				acc = node_hash(&acc, s);
			}
			i /= 2;
			width = width.div_ceil(2);
		}
		if sibs.next().is_some() {
			return Err(ProofError::WrongLength);
		}
		Ok(acc)
	}

	/// Checks that `leaf` is in the tree with root `root`.
	pub fn verify(&self, root: &Hash, leaf: &Leaf) -> Result<(), ProofError> {
		if &self.compute_root(leaf)? == root {
			Ok(())
		} else {
			Err(ProofError::RootMismatch)
		}
	}
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
	level.chunks(2).map(|p| if p.len() == 2 { node_hash(&p[0], &p[1]) } else { p[0] }).collect()
}

/// Root computed level by level (the definition); [`MerkleBuilder`] must agree with it.
pub fn root_levelwise(leaves: &[(u64, Hash)]) -> Hash {
	if leaves.is_empty() {
		return empty_root();
	}
	let mut level: Vec<Hash> = leaves
		.iter()
		.enumerate()
		.map(|(i, (len, h))| Leaf { index: i as u64, length: *len, content: *h }.hash())
		.collect();
	while level.len() > 1 {
		level = next_level(&level);
	}
	level[0]
}

/// Hashes a slice's bytes chunk by chunk as they stream in, without holding the slice.
#[derive(Clone, Debug, Default)]
pub struct SliceHasher {
	tree: MerkleBuilder,
	partial: Vec<u8>,
	chunk_hashes: Vec<Hash>,
}

impl SliceHasher {
	/// An empty hasher.
	pub fn new() -> Self {
		Self::default()
	}

	/// Feeds the next bytes of the slice (any split).
	pub fn update(&mut self, mut data: &[u8]) {
		let cs = CHUNK_SIZE as usize;
		if !self.partial.is_empty() {
			let take = (cs - self.partial.len()).min(data.len());
			self.partial.extend_from_slice(&data[..take]);
			data = &data[take..];
			if self.partial.len() == cs {
				let h = chunk_hash(&self.partial);
				self.push_chunk(cs as u64, h);
				self.partial.clear();
			}
		}
		while data.len() >= cs {
			let h = chunk_hash(&data[..cs]);
			self.push_chunk(cs as u64, h);
			data = &data[cs..];
		}
		if !data.is_empty() {
			if self.partial.capacity() < cs {
				self.partial.reserve_exact(cs - self.partial.capacity());
			}
			self.partial.extend_from_slice(data);
		}
	}

	fn push_chunk(&mut self, len: u64, h: Hash) {
		self.tree.push(len, h);
		self.chunk_hashes.push(h);
	}

	/// Bytes fed so far.
	pub fn len(&self) -> u64 {
		self.tree.total_length() + self.partial.len() as u64
	}

	/// Whether nothing was fed.
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}

	/// The slice hash and the chunk data hashes (what a store keeps to verify reads chunk
	/// by chunk and to answer challenges).
	pub fn finish(mut self) -> (Hash, Vec<Hash>) {
		if !self.partial.is_empty() {
			let h = chunk_hash(&self.partial);
			let len = self.partial.len() as u64;
			self.push_chunk(len, h);
		}
		(self.tree.root(), self.chunk_hashes)
	}
}

/// The chunk leaves of a slice of `slice_len` bytes given its chunk hashes.
pub fn chunk_leaves(slice_len: u64, chunk_hashes: &[Hash]) -> Vec<(u64, Hash)> {
	let cs = CHUNK_SIZE as u64;
	chunk_hashes
		.iter()
		.enumerate()
		.map(|(i, h)| {
			let start = i as u64 * cs;
			(slice_len.saturating_sub(start).min(cs), *h)
		})
		.collect()
}

#[cfg(test)]
mod tests {
	use super::*;
	use proptest::prelude::*;

	fn leaves(n: usize) -> Vec<(u64, Hash)> {
		(0..n).map(|i| (i as u64 * 7 + 1, hash(&(i as u64).to_le_bytes()))).collect()
	}

	#[test]
	fn builder_matches_levelwise_definition() {
		for n in 0..=70 {
			let l = leaves(n);
			assert_eq!(root_of(l.clone()), root_levelwise(&l), "n={n}");
		}
	}

	#[test]
	fn odd_leaf_is_promoted_not_duplicated() {
		let l = leaves(3);
		let mut dup = l.clone();
		dup.push(l[2]);
		assert_ne!(root_levelwise(&l), root_levelwise(&dup));
		let h: Vec<Hash> = l
			.iter()
			.enumerate()
			.map(|(i, (len, c))| Leaf { index: i as u64, length: *len, content: *c }.hash())
			.collect();
		assert_eq!(root_levelwise(&l), node_hash(&node_hash(&h[0], &h[1]), &h[2]));
	}

	#[test]
	fn single_leaf_root_is_the_leaf_hash_and_empty_is_tagged() {
		let l = leaves(1);
		assert_eq!(root_levelwise(&l), Leaf { index: 0, length: l[0].0, content: l[0].1 }.hash());
		assert_eq!(MerkleBuilder::new().root(), empty_root());
		assert_ne!(empty_root(), hash(&[]));
	}

	#[test]
	fn every_proof_verifies_and_a_wrong_leaf_does_not() {
		for n in 1..=40usize {
			let l = leaves(n);
			let root = root_levelwise(&l);
			for i in 0..n {
				let p = MerkleProof::build(&l, i as u64).unwrap();
				let leaf = Leaf { index: i as u64, length: l[i].0, content: l[i].1 };
				assert_eq!(p.verify(&root, &leaf), Ok(()), "n={n} i={i}");
				let wrong_len = Leaf { length: leaf.length + 1, ..leaf };
				assert_eq!(p.verify(&root, &wrong_len), Err(ProofError::RootMismatch));
				if n > 1 {
					let moved = Leaf { index: (leaf.index + 1) % n as u64, ..leaf };
					assert!(p.verify(&root, &moved).is_err());
				}
			}
			assert!(MerkleProof::build(&l, n as u64).is_none());
		}
	}

	#[test]
	fn malformed_proofs_are_errors_not_panics() {
		let l = leaves(5);
		let root = root_levelwise(&l);
		let leaf = Leaf { index: 4, length: l[4].0, content: l[4].1 };
		let mut p = MerkleProof::build(&l, 4).unwrap();
		p.siblings.push([0; 32]);
		assert_eq!(p.verify(&root, &leaf), Err(ProofError::WrongLength));
		p.siblings.clear();
		assert_eq!(p.verify(&root, &leaf), Err(ProofError::WrongLength));
		let p = MerkleProof { leaf_count: 3, siblings: vec![] };
		assert_eq!(p.verify(&root, &leaf), Err(ProofError::IndexOutOfRange));
		let p = MerkleProof { leaf_count: u64::MAX, siblings: vec![[1; 32]; 65] };
		assert_eq!(p.verify(&root, &leaf), Err(ProofError::WrongLength));
		let p = MerkleProof { leaf_count: u64::MAX, siblings: vec![[1; 32]; 64] };
		assert_eq!(p.verify(&root, &leaf), Err(ProofError::RootMismatch));
	}

	#[test]
	fn slice_hasher_is_split_independent_and_matches_chunk_tree() {
		let data: Vec<u8> =
			(0..(CHUNK_SIZE as usize * 3 + 123)).map(|i| (i * 31 % 251) as u8).collect();
		let mut whole = SliceHasher::new();
		whole.update(&data);
		let (root, hashes) = whole.finish();
		let mut parts = SliceHasher::new();
		for piece in data.chunks(1000) {
			parts.update(piece);
		}
		assert_eq!(parts.len(), data.len() as u64);
		let (root2, hashes2) = parts.finish();
		assert_eq!((root, &hashes), (root2, &hashes2));
		assert_eq!(hashes.len() as u64, chunk_count(data.len() as u64));
		let expect = root_levelwise(&chunk_leaves(data.len() as u64, &hashes));
		assert_eq!(root, expect);
		assert_eq!(hashes[3], chunk_hash(&data[3 * CHUNK_SIZE as usize..]));
		let (empty, none) = SliceHasher::new().finish();
		assert_eq!(empty, empty_root());
		assert!(none.is_empty());
	}

	proptest! {
		#[test]
		fn proofs_hold_for_random_trees(n in 1usize..300, seed in any::<u64>()) {
			let l: Vec<(u64, Hash)> = (0..n)
				.map(|i| (seed.wrapping_add(i as u64) % 1000, hash(&(seed ^ i as u64).to_le_bytes())))
				.collect();
			let root = root_of(l.clone());
			prop_assert_eq!(root, root_levelwise(&l));
			let i = (seed % n as u64) as usize;
			let p = MerkleProof::build(&l, i as u64).unwrap();
			let leaf = Leaf { index: i as u64, length: l[i].0, content: l[i].1 };
			prop_assert_eq!(p.verify(&root, &leaf), Ok(()));
			let mut bad = p.clone();
			if let Some(s) = bad.siblings.first_mut() { s[0] ^= 1; prop_assert!(bad.verify(&root, &leaf).is_err()); }
		}
	}
}
