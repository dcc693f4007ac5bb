//! Per-client receipt trees: what a traffic report's client entry commits to, so a client
//! can check every byte it is charged for and dispute one it never countersigned (ADR 0010,
//! "Checking the meta quorum").
//!
//! For each client, a meta node lists the period's countersigned receipts of that client as
//! leaves `(length, digest)`: `length` is the bytes the receipt covers and `digest` is
//! [`receipt_digest`] of the receipt and the node's signature (the client's countersignature
//! is not in the leaf; it is what reporters must show when a leaf is disputed). Leaves are
//! sorted by digest, strictly ascending, so every honest meta node builds the same tree and
//! a receipt cannot be listed twice without two leaves out of order.
//!
//! The tree is a **Merkle sum tree**: every node commits to the bytes below it, so one
//! inclusion proof also proves the tree's total, and a client entry whose bytes differ from
//! its receipts' total is refuted by any proof. Hashes (SHA-256):
//!
//! ```text
//! leaf(i, len, d)        = H(0x10 ‖ i as u64 LE ‖ len as u64 LE ‖ d)        sum = len
//! node((l, sl), (r, sr)) = H(0x11 ‖ l ‖ sl as u64 LE ‖ r ‖ sr as u64 LE)    sum = sl + sr
//! root                   = H(0x12 ‖ top ‖ total as u64 LE ‖ count as u64 LE)
//! ```
//!
//! A level with an odd count promotes its last `(hash, sum)` unchanged, as in
//! [`crate::merkle`]; the root of no leaves uses 32 zero bytes as `top`.

use crate::{
	hash,
	merkle::{ProofError, MAX_PROOF_DEPTH},
	receipt::TaskReceipt,
	Hash,
};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Domain tag of a receipt digest.
pub const RECEIPT_LEAF_TAG: &[u8] = b"stratos/receipt-leaf/v1";
const LEAF: u8 = 0x10;
const NODE: u8 = 0x11;
const ROOT: u8 = 0x12;

/// The digest a countersigned receipt is listed under: `H(tag ‖ SCALE(receipt) ‖
/// node_signature)`.
pub fn receipt_digest(receipt: &TaskReceipt, node_signature: &[u8; 64]) -> Hash {
	let mut buf = Vec::with_capacity(RECEIPT_LEAF_TAG.len() + TaskReceipt::max_encoded_len() + 64);
	buf.extend_from_slice(RECEIPT_LEAF_TAG);
	receipt.encode_to(&mut buf);
	buf.extend_from_slice(node_signature);
	hash(&buf)
}

/// One leaf of a client's receipt tree.
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
pub struct ReceiptLeaf {
	/// Position in the tree, from 0.
	pub index: u64,
	/// Bytes the receipt covers.
	pub length: u64,
	/// [`receipt_digest`] of the receipt.
	pub digest: Hash,
}

impl ReceiptLeaf {
	fn hash(&self) -> Hash {
		let mut buf = [0u8; 1 + 8 + 8 + 32];
		buf[0] = LEAF;
		buf[1..9].copy_from_slice(&self.index.to_le_bytes());
		buf[9..17].copy_from_slice(&self.length.to_le_bytes());
		buf[17..].copy_from_slice(&self.digest);
		hash(&buf)
	}
}

fn node(l: &(Hash, u64), r: &(Hash, u64)) -> Result<(Hash, u64), ProofError> {
	let sum = l.1.checked_add(r.1).ok_or(ProofError::WrongLength)?;
	let mut buf = [0u8; 1 + 40 + 40];
	buf[0] = NODE;
	buf[1..33].copy_from_slice(&l.0);
	buf[33..41].copy_from_slice(&l.1.to_le_bytes());
	buf[41..73].copy_from_slice(&r.0);
	buf[73..].copy_from_slice(&r.1.to_le_bytes());
	Ok((hash(&buf), sum))
}

fn root_of(top: &Hash, total: u64, count: u64) -> Hash {
	let mut buf = [0u8; 1 + 32 + 8 + 8];
	buf[0] = ROOT;
	buf[1..33].copy_from_slice(top);
	buf[33..41].copy_from_slice(&total.to_le_bytes());
	buf[41..].copy_from_slice(&count.to_le_bytes());
	hash(&buf)
}

/// Why a receipt list cannot form a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeError {
	/// The bytes of all receipts do not fit in a `u64`.
	Overflow,
}

/// A client's receipts of one period as a tree: leaves sorted by digest, duplicates
/// dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptTree {
	levels: Vec<Vec<(Hash, u64)>>,
	leaves: Vec<(u64, Hash)>,
}

impl ReceiptTree {
	/// Builds the tree over `(length, digest)` pairs, in any order.
	pub fn new(mut leaves: Vec<(u64, Hash)>) -> Result<Self, TreeError> {
		leaves.sort_by_key(|a| a.1);
		leaves.dedup_by(|a, b| a.1 == b.1);
		Self::from_leaves_unchecked(leaves)
	}

	/// Builds the tree over leaves exactly as given, unsorted and with duplicates: only to
	/// reproduce (and test against) a tree a dishonest meta node built. Honest trees come
	/// from [`ReceiptTree::new`].
	pub fn from_leaves_unchecked(leaves: Vec<(u64, Hash)>) -> Result<Self, TreeError> {
		let mut tree = Self { levels: Vec::new(), leaves: Vec::new() };
		let mut level: Vec<(Hash, u64)> = leaves
			.iter()
			.enumerate()
			.map(|(i, (len, d))| {
				(ReceiptLeaf { index: i as u64, length: *len, digest: *d }.hash(), *len)
			})
			.collect();
		while level.len() > 1 {
			let next = level
				.chunks(2)
				.map(|p| if p.len() == 2 { node(&p[0], &p[1]) } else { Ok(p[0]) })
				.collect::<Result<Vec<_>, _>>()
				.map_err(|_| TreeError::Overflow)?;
			tree.levels.push(level);
			level = next;
		}
		tree.levels.push(level);
		tree.leaves = leaves;
		Ok(tree)
	}

	/// Builds the tree of signed receipts.
	pub fn of_receipts<'a>(
		receipts: impl IntoIterator<Item = &'a crate::receipt::SignedReceipt>,
	) -> Result<Self, TreeError> {
		Self::new(
			receipts
				.into_iter()
				.map(|r| (r.receipt.length, receipt_digest(&r.receipt, &r.node_signature)))
				.collect(),
		)
	}

	/// Leaves, in tree order.
	pub fn leaves(&self) -> &[(u64, Hash)] {
		&self.leaves
	}

	/// Bytes of all receipts: what the client entry must list.
	pub fn total(&self) -> u64 {
		self.levels.last().and_then(|l| l.first()).map(|t| t.1).unwrap_or(0)
	}

	/// The root a client entry carries.
	pub fn root(&self) -> Hash {
		let top = self.levels.last().and_then(|l| l.first()).map(|t| t.0).unwrap_or([0; 32]);
		root_of(&top, self.total(), self.leaves.len() as u64)
	}

	/// Leaf `index` and its proof, or `None` past the last leaf.
	pub fn proof(&self, index: u64) -> Option<(ReceiptLeaf, ReceiptProof)> {
		let (length, digest) = *self.leaves.get(index as usize)?;
		let mut i = index as usize;
		let mut siblings = Vec::new();
		for level in &self.levels[..self.levels.len() - 1] {
			if let Some(s) = level.get(i ^ 1) {
				siblings.push(*s);
			}
			i /= 2;
		}
		Some((
			ReceiptLeaf { index, length, digest },
			ReceiptProof { leaf_count: self.leaves.len() as u64, siblings },
		))
	}

	/// The index of the leaf with `digest`.
	pub fn position(&self, digest: &Hash) -> Option<u64> {
		self.leaves.iter().position(|l| &l.1 == digest).map(|i| i as u64)
	}
}

/// Proof that a leaf is in a receipt tree, which also proves the tree's total.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct ReceiptProof {
	/// Leaves in the tree.
	pub leaf_count: u64,
	/// Sibling `(hash, bytes)` from the leaf's level upwards (none where promoted).
	pub siblings: Vec<(Hash, u64)>,
}

impl ReceiptProof {
	/// The `(root, total bytes)` this proof leads to for `leaf`.
	pub fn compute(&self, leaf: &ReceiptLeaf) -> Result<(Hash, u64), ProofError> {
		if leaf.index >= self.leaf_count {
			return Err(ProofError::IndexOutOfRange);
		}
		if self.siblings.len() > MAX_PROOF_DEPTH {
			return Err(ProofError::WrongLength);
		}
		let mut acc = (leaf.hash(), leaf.length);
		let (mut i, mut width) = (leaf.index, self.leaf_count);
		let mut sibs = self.siblings.iter();
		while width > 1 {
			if i % 2 == 1 {
				acc = node(sibs.next().ok_or(ProofError::WrongLength)?, &acc)?;
			} else if i + 1 < width {
				acc = node(&acc, sibs.next().ok_or(ProofError::WrongLength)?)?;
			}
			i /= 2;
			width = width.div_ceil(2);
		}
		if sibs.next().is_some() {
			return Err(ProofError::WrongLength);
		}
		Ok((root_of(&acc.0, acc.1, self.leaf_count), acc.1))
	}

	/// Checks that `leaf` is in the tree with root `root`; returns the tree's total bytes.
	pub fn verify(&self, root: &Hash, leaf: &ReceiptLeaf) -> Result<u64, ProofError> {
		let (r, total) = self.compute(leaf)?;
		if &r == root {
			Ok(total)
		} else {
			Err(ProofError::RootMismatch)
		}
	}
}

/// The root of a client with no receipts (an entry must never carry it with bytes > 0).
pub fn empty_receipts_root() -> Hash {
	root_of(&[0; 32], 0, 0)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn leaves(n: u8) -> Vec<(u64, Hash)> {
		(0..n).map(|i| (100 + i as u64, hash(&[i]))).collect()
	}

	#[test]
	fn every_leaf_proves_membership_and_the_total() {
		for n in 1..=9u8 {
			let tree = ReceiptTree::new(leaves(n)).unwrap();
			let total: u64 = (0..n).map(|i| 100 + i as u64).sum();
			assert_eq!(tree.total(), total);
			for i in 0..n as u64 {
				let (leaf, proof) = tree.proof(i).unwrap();
				assert_eq!(proof.verify(&tree.root(), &leaf), Ok(total), "n={n} i={i}");
				// Another length or digest, or another position, does not verify.
				let mut longer = leaf;
				longer.length += 1;
				assert!(proof.verify(&tree.root(), &longer).is_err());
				let mut moved = leaf;
				moved.index = (i + 1) % n as u64;
				if n > 1 {
					assert!(proof.verify(&tree.root(), &moved).is_err());
				}
			}
			assert!(tree.proof(n as u64).is_none());
		}
	}

	#[test]
	fn order_and_duplicates_do_not_change_the_tree() {
		let mut shuffled = leaves(6);
		shuffled.reverse();
		shuffled.push(shuffled[2]);
		assert_eq!(ReceiptTree::new(shuffled).unwrap(), ReceiptTree::new(leaves(6)).unwrap());
		let tree = ReceiptTree::new(leaves(6)).unwrap();
		assert!(tree.leaves().windows(2).all(|w| w[0].1 < w[1].1), "strictly ascending");
		let d = tree.leaves()[3].1;
		assert_eq!(tree.position(&d), Some(3));
	}

	#[test]
	fn the_root_commits_to_total_and_count() {
		// A tree with one more leaf, or the same leaves with one changed length, has
		// another root; so does the empty tree.
		let a = ReceiptTree::new(leaves(4)).unwrap();
		let b = ReceiptTree::new(leaves(5)).unwrap();
		let mut changed = leaves(4);
		changed[0].0 += 1;
		let c = ReceiptTree::new(changed).unwrap();
		assert_ne!(a.root(), b.root());
		assert_ne!(a.root(), c.root());
		assert_eq!(ReceiptTree::new(Vec::new()).unwrap().root(), empty_receipts_root());
		assert_eq!(ReceiptTree::new(Vec::new()).unwrap().total(), 0);
	}

	#[test]
	fn overflowing_totals_are_refused() {
		let big = vec![(u64::MAX, [1; 32]), (1, [2; 32])];
		assert_eq!(ReceiptTree::new(big), Err(TreeError::Overflow));
	}
}
