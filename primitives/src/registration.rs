//! What a node key signs to register on chain.
//!
//! A registration extrinsic is signed by the operator's *account*; the node's ed25519 key
//! (its libp2p identity, which receipts are signed with) must prove that the operator owns
//! it, or anyone could register somebody else's node key and collect its rewards. The key
//! signs `tag ‖ genesis hash ‖ account ‖ nonce` (SCALE-encoded), where the nonce is the
//! chain's per-key registration counter: an old signature cannot be replayed after the key
//! was deregistered and registered again.

use alloc::vec::Vec;
use codec::Encode;

use crate::{Hash, NodeId};

/// Tag of a resource node's registration.
pub const RESOURCE_REGISTRATION_TAG: &[u8] = b"stratos/rn-register";
/// Tag of a meta node's registration.
pub const META_REGISTRATION_TAG: &[u8] = b"stratos/meta-register";

/// The bytes a node key signs to register under `account` (any SCALE-encodable account id).
pub fn registration_payload<A: Encode>(
	tag: &[u8],
	genesis_hash: &Hash,
	account: &A,
	nonce: u32,
) -> Vec<u8> {
	(tag, genesis_hash, account, nonce).encode()
}

/// Whether `signature` is `node`'s ed25519 signature over `payload`.
pub fn verify_node_signature(node: &NodeId, payload: &[u8], signature: &[u8; 64]) -> bool {
	let public = sp_core::ed25519::Public::from_raw(node.0);
	let signature = sp_core::ed25519::Signature::from_raw(*signature);
	sp_io::crypto::ed25519_verify(&signature, payload, &public)
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::{ed25519, Pair};

	#[test]
	fn signature_binds_tag_account_and_nonce() {
		let pair = ed25519::Pair::from_seed(&[7u8; 32]);
		let node = NodeId(pair.public().0);
		let genesis = [1u8; 32];
		let payload = registration_payload(RESOURCE_REGISTRATION_TAG, &genesis, &[9u8; 32], 0);
		let sig = pair.sign(&payload).0;
		assert!(verify_node_signature(&node, &payload, &sig));
		for other in [
			registration_payload(META_REGISTRATION_TAG, &genesis, &[9u8; 32], 0),
			registration_payload(RESOURCE_REGISTRATION_TAG, &[2u8; 32], &[9u8; 32], 0),
			registration_payload(RESOURCE_REGISTRATION_TAG, &genesis, &[8u8; 32], 0),
			registration_payload(RESOURCE_REGISTRATION_TAG, &genesis, &[9u8; 32], 1),
		] {
			assert!(!verify_node_signature(&node, &other, &sig));
		}
	}
}
