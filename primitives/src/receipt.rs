//! The task receipt: proof that a resource node served a byte range of a slice to a client.
//!
//! For every slice it serves, the resource node signs a [`TaskReceipt`] with its ed25519
//! node key; the client countersigns (receipt ‖ node signature) with its sr25519 account
//! key before the node serves the next slice. Meta nodes match both signatures against the
//! task they issued and only then count the bytes as traffic (whitepaper §3.2.1).
//!
//! Both signed messages start with their own domain tag and carry the chain's genesis hash
//! and the ledger period, so a receipt cannot be replayed on another chain or period or
//! passed off as any other signed message.

use crate::{Hash, NodeId, SliceHash, TaskId};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::{ed25519, sr25519};

/// Domain tag of the message a resource node signs.
pub const NODE_RECEIPT_TAG: &[u8] = b"stratos/task-receipt/node/v1";
/// Domain tag of the message a client countersigns.
pub const CLIENT_RECEIPT_TAG: &[u8] = b"stratos/task-receipt/client/v1";

/// What was served, to whom, by whom, for which task.
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
pub struct TaskReceipt {
	/// Genesis hash of the chain the traffic is reported on.
	pub genesis_hash: Hash,
	/// Ledger period the task belongs to.
	pub ledger_period: u32,
	/// Task id issued by the meta node that routed the request.
	pub task_id: TaskId,
	/// The client's account (sr25519 public key).
	pub client: [u8; 32],
	/// The serving resource node.
	pub node: NodeId,
	/// The slice served.
	pub slice: SliceHash,
	/// First byte served, within the slice.
	pub offset: u64,
	/// Bytes served.
	pub length: u64,
}

/// A receipt with both signatures.
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
pub struct SignedReceipt {
	/// The receipt.
	pub receipt: TaskReceipt,
	/// The node's ed25519 signature over [`TaskReceipt::node_payload`].
	pub node_signature: [u8; 64],
	/// The client's sr25519 signature over [`TaskReceipt::client_payload`].
	pub client_signature: [u8; 64],
}

/// Why a receipt is not acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptError {
	/// The node signature does not verify against the receipt's node key.
	BadNodeSignature,
	/// The client signature does not verify against the receipt's client account.
	BadClientSignature,
	/// The receipt is for another chain.
	WrongChain,
}

impl core::fmt::Display for ReceiptError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.write_str(match self {
			Self::BadNodeSignature => "the resource node's signature on the receipt is invalid",
			Self::BadClientSignature => "the client's countersignature on the receipt is invalid",
			Self::WrongChain => "the receipt names another chain's genesis hash",
		})
	}
}

#[cfg(feature = "std")]
impl std::error::Error for ReceiptError {}

impl TaskReceipt {
	/// The bytes the resource node signs.
	pub fn node_payload(&self) -> Vec<u8> {
		let mut v = Vec::with_capacity(NODE_RECEIPT_TAG.len() + Self::max_encoded_len());
		v.extend_from_slice(NODE_RECEIPT_TAG);
		self.encode_to(&mut v);
		v
	}

	/// The bytes the client countersigns: the receipt and the node's signature.
	pub fn client_payload(&self, node_signature: &[u8; 64]) -> Vec<u8> {
		let mut v = Vec::with_capacity(CLIENT_RECEIPT_TAG.len() + Self::max_encoded_len() + 64);
		v.extend_from_slice(CLIENT_RECEIPT_TAG);
		self.encode_to(&mut v);
		v.extend_from_slice(node_signature);
		v
	}

	/// Checks the node's signature.
	pub fn verify_node(&self, signature: &[u8; 64]) -> bool {
		sp_io::crypto::ed25519_verify(
			&ed25519::Signature::from_raw(*signature),
			&self.node_payload(),
			&ed25519::Public::from_raw(self.node.0),
		)
	}

	/// Checks the client's countersignature.
	pub fn verify_client(&self, node_signature: &[u8; 64], signature: &[u8; 64]) -> bool {
		sp_io::crypto::sr25519_verify(
			&sr25519::Signature::from_raw(*signature),
			&self.client_payload(node_signature),
			&sr25519::Public::from_raw(self.client),
		)
	}
}

impl SignedReceipt {
	/// Checks both signatures and that the receipt is for the chain `genesis_hash`.
	pub fn verify(&self, genesis_hash: &Hash) -> Result<(), ReceiptError> {
		if &self.receipt.genesis_hash != genesis_hash {
			return Err(ReceiptError::WrongChain);
		}
		if !self.receipt.verify_node(&self.node_signature) {
			return Err(ReceiptError::BadNodeSignature);
		}
		if !self.receipt.verify_client(&self.node_signature, &self.client_signature) {
			return Err(ReceiptError::BadClientSignature);
		}
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::Pair;

	fn signed() -> (SignedReceipt, Hash) {
		let node = ed25519::Pair::from_seed(&[7; 32]);
		let client = sr25519::Pair::from_seed(&[9; 32]);
		let genesis = [1; 32];
		let receipt = TaskReceipt {
			genesis_hash: genesis,
			ledger_period: 3,
			task_id: TaskId([2; 32]),
			client: client.public().0,
			node: NodeId(node.public().0),
			slice: SliceHash([4; 32]),
			offset: 0,
			length: 1 << 20,
		};
		let node_signature = node.sign(&receipt.node_payload()).0;
		let client_signature = client.sign(&receipt.client_payload(&node_signature)).0;
		(SignedReceipt { receipt, node_signature, client_signature }, genesis)
	}

	#[test]
	fn valid_receipt_verifies() {
		let (r, g) = signed();
		assert_eq!(r.verify(&g), Ok(()));
		let decoded = SignedReceipt::decode(&mut &r.encode()[..]).unwrap();
		assert_eq!(decoded, r);
	}

	#[test]
	fn any_changed_field_breaks_a_signature() {
		let (r, g) = signed();
		let mut more = r;
		more.receipt.length += 1;
		assert_eq!(more.verify(&g), Err(ReceiptError::BadNodeSignature));
		let mut other_period = r;
		other_period.receipt.ledger_period = 4;
		assert_eq!(other_period.verify(&g), Err(ReceiptError::BadNodeSignature));
		assert_eq!(r.verify(&[2; 32]), Err(ReceiptError::WrongChain));
		let mut bad_client = r;
		bad_client.client_signature[5] ^= 1;
		assert_eq!(bad_client.verify(&g), Err(ReceiptError::BadClientSignature));
		let mut swapped = r;
		swapped.node_signature = [0; 64];
		assert_eq!(swapped.verify(&g), Err(ReceiptError::BadNodeSignature));
	}

	#[test]
	fn node_signature_is_not_a_client_signature() {
		// The two messages differ by tag, so one signature can never stand for the other.
		let (r, _) = signed();
		assert_ne!(r.receipt.node_payload(), r.receipt.client_payload(&r.node_signature));
		assert!(r.receipt.node_payload().starts_with(NODE_RECEIPT_TAG));
	}
}
