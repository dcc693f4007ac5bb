//! What meta nodes, resource nodes and clients sign and derive when the meta layer places an
//! upload or routes a download (ADR 0011). Meta nodes, resource nodes and the `sds` client
//! all check these, so they are defined once, here.
//!
//! * [`StoreAck`]: a holder's signed statement that it holds a slice durably. Every meta
//!   node verifies the acks of a file itself before it votes `vote_create_file`.
//! * [`UploadAuth`]: a meta node's signed placement: which holders may take which slices
//!   for which owner, until when. A resource node refuses puts without one.
//! * [`DownloadTicket`]: a meta node's signed permission for one client to fetch a byte range
//!   of one slice from one named holder in one ledger period, until a block.
//! * [`FileManifest`]: what a holder keeps of each file it holds (slices in order, the path
//!   it was uploaded to), so the meta nodes' index can be rebuilt from the chain's file
//!   records and the holders when every meta node lost its disk.
//! * [`task_id`] and [`ticket_holder`]: nobody chooses a ticket's task id or its holder; both
//!   are hashes of data in the replicated log and on the finalized chain, so every auditor
//!   recomputes them.
//!
//! Every signed message starts with its own domain tag and names the chain's genesis hash,
//! so no signature stands for another kind of message or another chain.

use crate::{hash, FileId, Hash, NodeId, SliceHash, TaskId};
use alloc::{string::String, vec::Vec};
use codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;
use sp_core::{ed25519, sr25519};

/// Domain tag of a store acknowledgement.
pub const STORE_ACK_TAG: &[u8] = b"stratos/store-ack/v1";
/// Domain tag of an upload authorisation.
pub const UPLOAD_AUTH_TAG: &[u8] = b"stratos/upload-auth/v1";
/// Domain tag of a download ticket.
pub const TICKET_TAG: &[u8] = b"stratos/download-ticket/v1";
/// Domain tag of a client's signed request to the meta nodes (namespace writes, placements,
/// tickets).
pub const CLIENT_REQUEST_TAG: &[u8] = b"stratos/client-request/v1";
/// Domain tag of the task-id derivation.
pub const TASK_ID_TAG: &[u8] = b"stratos/task-id/v1";
/// Domain tag of the holder derivation.
pub const HOLDER_TAG: &[u8] = b"stratos/ticket-holder/v1";

/// Most holders of one file.
pub const MAX_HOLDERS: usize = 16;

fn tagged<T: Encode>(tag: &[u8], body: &T) -> Vec<u8> {
	let mut v = Vec::with_capacity(tag.len() + body.size_hint());
	v.extend_from_slice(tag);
	body.encode_to(&mut v);
	v
}

fn ed25519_ok(signer: &NodeId, payload: &[u8], signature: &[u8; 64]) -> bool {
	sp_io::crypto::ed25519_verify(
		&ed25519::Signature::from_raw(*signature),
		payload,
		&ed25519::Public::from_raw(signer.0),
	)
}

/// A holder's statement that it stores `slice` (of `length` bytes, uploaded by `owner`)
/// durably. Signed with the holder's ed25519 node key once the slice is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct StoreAck {
	/// Genesis hash of the chain the file is recorded on.
	pub genesis_hash: Hash,
	/// The uploading account (sr25519 public key).
	pub owner: [u8; 32],
	/// The slice held.
	pub slice: SliceHash,
	/// Its length in bytes.
	pub length: u64,
	/// The holder.
	pub node: NodeId,
}

/// A store acknowledgement with the holder's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct SignedStoreAck {
	/// What is acknowledged.
	pub ack: StoreAck,
	/// The holder's ed25519 signature over [`StoreAck::payload`].
	pub signature: [u8; 64],
}

impl StoreAck {
	/// The bytes the holder signs.
	pub fn payload(&self) -> Vec<u8> {
		tagged(STORE_ACK_TAG, self)
	}
}

impl SignedStoreAck {
	/// Whether the signature is the named holder's, for the chain `genesis_hash`.
	pub fn verify(&self, genesis_hash: &Hash) -> bool {
		&self.ack.genesis_hash == genesis_hash
			&& ed25519_ok(&self.ack.node, &self.ack.payload(), &self.signature)
	}
}

/// A meta node's placement of one upload: `owner` may store up to `max_bytes` in slices on
/// `holders` under task `task`, until finalized block `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct UploadAuth {
	/// Genesis hash of the chain.
	pub genesis_hash: Hash,
	/// The uploading account.
	pub owner: [u8; 32],
	/// The upload's task id (from the replicated log).
	pub task: TaskId,
	/// The file's holders, in placement order (slice `i`'s chain starts at
	/// `holders[i % len]`).
	pub holders: Vec<NodeId>,
	/// Most bytes the upload may store on each holder.
	pub max_bytes: u64,
	/// Last finalized block number at which the authorisation is valid.
	pub expires_at: u32,
	/// The meta node that issued it (its ed25519 node key, registered on chain).
	pub issuer: NodeId,
}

/// An upload authorisation with the issuer's signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct SignedUploadAuth {
	/// The authorisation.
	pub auth: UploadAuth,
	/// The issuer's ed25519 signature over [`UploadAuth::payload`].
	pub signature: [u8; 64],
}

impl UploadAuth {
	/// The bytes the issuer signs.
	pub fn payload(&self) -> Vec<u8> {
		tagged(UPLOAD_AUTH_TAG, self)
	}

	/// The holder whose chain slice `index` starts at, then the others in order.
	pub fn chain_for(&self, index: u32) -> Vec<NodeId> {
		let n = self.holders.len();
		if n == 0 {
			return Vec::new();
		}
		let first = index as usize % n;
		(0..n).map(|k| self.holders[(first + k) % n]).collect()
	}
}

/// Why a signed authorisation or ticket is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
	/// It names another chain's genesis hash.
	WrongChain,
	/// The issuer's signature does not verify.
	BadSignature,
	/// The finalized chain is past its expiry.
	Expired,
	/// It does not name this node.
	NotForThisNode,
	/// The request is outside what it allows (bytes, range, slice, client).
	OutOfBounds,
	/// It names too many or no holders.
	BadHolders,
}

impl core::fmt::Display for AuthError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.write_str(match self {
			Self::WrongChain => "it names another chain's genesis hash",
			Self::BadSignature => "the issuing meta node's signature is invalid",
			Self::Expired => "it has expired (ask a meta node for a new one)",
			Self::NotForThisNode => "it is addressed to another resource node",
			Self::OutOfBounds => "the request goes beyond what it allows",
			Self::BadHolders => "it names no holders or too many",
		})
	}
}

#[cfg(feature = "std")]
impl std::error::Error for AuthError {}

impl SignedUploadAuth {
	/// Checks chain, signature, expiry against the finalized block number `finalized`, and
	/// that `node` is one of the holders. Whether `issuer` is an active meta node is the
	/// caller's check (it needs the chain's registry).
	pub fn verify(
		&self,
		genesis_hash: &Hash,
		finalized: u32,
		node: &NodeId,
	) -> Result<(), AuthError> {
		let a = &self.auth;
		if &a.genesis_hash != genesis_hash {
			return Err(AuthError::WrongChain);
		}
		if a.holders.is_empty() || a.holders.len() > MAX_HOLDERS {
			return Err(AuthError::BadHolders);
		}
		if !ed25519_ok(&a.issuer, &a.payload(), &self.signature) {
			return Err(AuthError::BadSignature);
		}
		if finalized > a.expires_at {
			return Err(AuthError::Expired);
		}
		if !a.holders.contains(node) {
			return Err(AuthError::NotForThisNode);
		}
		Ok(())
	}
}

/// Permission for `client` to fetch `length` bytes at `offset` of `slice` (of `owner`'s file
/// `file_id`) from `holder`, counted as traffic of `ledger_period` under `task`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct DownloadTicket {
	/// Genesis hash of the chain.
	pub genesis_hash: Hash,
	/// The downloading account (it countersigns the receipt).
	pub client: [u8; 32],
	/// The file's owner.
	pub owner: [u8; 32],
	/// The file.
	pub file_id: FileId,
	/// The slice.
	pub slice: SliceHash,
	/// The task id ([`task_id`]).
	pub task: TaskId,
	/// The holder that serves it ([`ticket_holder`]).
	pub holder: NodeId,
	/// The ledger period the traffic counts in.
	pub ledger_period: u32,
	/// First byte of the allowed range, within the slice.
	pub offset: u64,
	/// Bytes in the allowed range.
	pub length: u64,
	/// Last finalized block number at which the ticket is valid.
	pub expires_at: u32,
	/// The meta node that issued it.
	pub issuer: NodeId,
}

/// A download ticket with the issuer's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct SignedTicket {
	/// The ticket.
	pub ticket: DownloadTicket,
	/// The issuer's ed25519 signature over [`DownloadTicket::payload`].
	pub signature: [u8; 64],
}

impl DownloadTicket {
	/// The bytes the issuer signs.
	pub fn payload(&self) -> Vec<u8> {
		tagged(TICKET_TAG, self)
	}

	/// Whether `[offset, offset + length)` lies inside the ticket's range.
	pub fn covers(&self, offset: u64, length: u64) -> bool {
		let Some(end) = offset.checked_add(length) else { return false };
		let Some(ticket_end) = self.offset.checked_add(self.length) else { return false };
		offset >= self.offset && end <= ticket_end
	}
}

impl SignedTicket {
	/// Checks chain, signature, expiry, that `node` is the ticket's holder and that the
	/// request (`client`, `slice`, `offset`, `length`) is inside it. How much of the range was
	/// already redeemed is the resource node's check (it keeps the served ranges per task).
	pub fn verify_request(
		&self,
		genesis_hash: &Hash,
		finalized: u32,
		node: &NodeId,
		client: &[u8; 32],
		slice: &SliceHash,
		offset: u64,
		length: u64,
	) -> Result<(), AuthError> {
		let t = &self.ticket;
		if &t.genesis_hash != genesis_hash {
			return Err(AuthError::WrongChain);
		}
		if !ed25519_ok(&t.issuer, &t.payload(), &self.signature) {
			return Err(AuthError::BadSignature);
		}
		if finalized > t.expires_at {
			return Err(AuthError::Expired);
		}
		if &t.holder != node {
			return Err(AuthError::NotForThisNode);
		}
		if &t.client != client || &t.slice != slice || !t.covers(offset, length) {
			return Err(AuthError::OutOfBounds);
		}
		Ok(())
	}
}

/// The task id of the ticket issued by the log entry at `log_index` to `client` for `slice`,
/// `attempt` counting fallbacks: `H(tag ‖ log index ‖ client ‖ slice ‖ attempt)`.
pub fn task_id(log_index: u64, client: &[u8; 32], slice: &SliceHash, attempt: u32) -> TaskId {
	TaskId(hash(&tagged(TASK_ID_TAG, &(log_index, client, slice, attempt))))
}

/// Which of `candidates` (the file's holders that are healthy in the log, in the file's
/// holder order) serves `task`: `H(tag ‖ task ‖ finalized block hash) mod n`, reading the
/// hash's first 16 bytes as a big-endian integer (the bias is below 2⁻⁶⁰ for up to
/// [`MAX_HOLDERS`] candidates). `None` when there is no candidate.
pub fn ticket_holder(
	task: &TaskId,
	finalized_hash: &Hash,
	candidates: &[NodeId],
) -> Option<NodeId> {
	if candidates.is_empty() {
		return None;
	}
	let h = hash(&tagged(HOLDER_TAG, &(task, finalized_hash)));
	let mut top = [0u8; 16];
	top.copy_from_slice(&h[..16]);
	let pick = u128::from_be_bytes(top) % candidates.len() as u128;
	Some(candidates[pick as usize])
}

/// The bytes a client signs for a request to the meta nodes: `tag ‖ genesis ‖ account ‖
/// nonce ‖ body`, where `body` is the request's SCALE encoding and `nonce` a strictly
/// increasing per-account counter kept in the replicated index (no replay).
pub fn client_request_payload(
	genesis_hash: &Hash,
	account: &[u8; 32],
	nonce: u64,
	body: &[u8],
) -> Vec<u8> {
	let mut v = Vec::with_capacity(CLIENT_REQUEST_TAG.len() + 32 + 32 + 8 + body.len());
	v.extend_from_slice(CLIENT_REQUEST_TAG);
	v.extend_from_slice(genesis_hash);
	v.extend_from_slice(account);
	v.extend_from_slice(&nonce.to_le_bytes());
	v.extend_from_slice(body);
	v
}

/// Whether `signature` is `account`'s sr25519 signature of a request.
pub fn verify_client_request(
	genesis_hash: &Hash,
	account: &[u8; 32],
	nonce: u64,
	body: &[u8],
	signature: &[u8; 64],
) -> bool {
	sp_io::crypto::sr25519_verify(
		&sr25519::Signature::from_raw(*signature),
		&client_request_payload(genesis_hash, account, nonce, body),
		&sr25519::Public::from_raw(*account),
	)
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::Pair;

	const G: Hash = [1; 32];

	fn key(n: u8) -> ed25519::Pair {
		ed25519::Pair::from_seed(&[n; 32])
	}

	fn nid(p: &ed25519::Pair) -> NodeId {
		NodeId(p.public().0)
	}

	#[test]
	fn store_ack_binds_every_field() {
		let holder = key(3);
		let ack = StoreAck {
			genesis_hash: G,
			owner: [9; 32],
			slice: SliceHash([4; 32]),
			length: 1 << 20,
			node: nid(&holder),
		};
		let signed = SignedStoreAck { ack, signature: holder.sign(&ack.payload()).0 };
		assert!(signed.verify(&G));
		assert!(!signed.verify(&[2; 32]));
		for change in [
			|a: &mut StoreAck| a.length += 1,
			|a: &mut StoreAck| a.owner[0] ^= 1,
			|a: &mut StoreAck| a.slice.0[0] ^= 1,
			|a: &mut StoreAck| a.node = NodeId(key(5).public().0),
		] {
			let mut forged = signed;
			change(&mut forged.ack);
			assert!(!forged.verify(&G));
		}
	}

	#[test]
	fn upload_auth_checks() {
		let meta = key(1);
		let holders: Vec<_> = [key(2), key(3), key(4)].iter().map(nid).collect();
		let auth = UploadAuth {
			genesis_hash: G,
			owner: [9; 32],
			task: TaskId([5; 32]),
			holders: holders.clone(),
			max_bytes: 100,
			expires_at: 50,
			issuer: nid(&meta),
		};
		let signed =
			SignedUploadAuth { signature: meta.sign(&auth.payload()).0, auth: auth.clone() };
		assert_eq!(signed.verify(&G, 50, &holders[1]), Ok(()));
		assert_eq!(signed.verify(&G, 51, &holders[1]), Err(AuthError::Expired));
		assert_eq!(signed.verify(&[0; 32], 1, &holders[1]), Err(AuthError::WrongChain));
		assert_eq!(signed.verify(&G, 1, &nid(&key(8))), Err(AuthError::NotForThisNode));
		let mut forged = signed.clone();
		forged.auth.max_bytes = 1 << 40;
		assert_eq!(forged.verify(&G, 1, &holders[0]), Err(AuthError::BadSignature));
		// The chain of slice i starts at holder i mod n and keeps the order.
		assert_eq!(auth.chain_for(0), holders);
		assert_eq!(auth.chain_for(4), vec![holders[1], holders[2], holders[0]]);
	}

	#[test]
	fn ticket_checks_range_holder_and_client() {
		let meta = key(1);
		let holder = key(2);
		let t = DownloadTicket {
			genesis_hash: G,
			client: [7; 32],
			owner: [9; 32],
			file_id: FileId([3; 32]),
			slice: SliceHash([4; 32]),
			task: TaskId([5; 32]),
			holder: nid(&holder),
			ledger_period: 2,
			offset: 100,
			length: 1000,
			expires_at: 10,
			issuer: nid(&meta),
		};
		let s = SignedTicket { ticket: t, signature: meta.sign(&t.payload()).0 };
		let ok = |off, len| s.verify_request(&G, 10, &nid(&holder), &[7; 32], &t.slice, off, len);
		assert_eq!(ok(100, 1000), Ok(()));
		assert_eq!(ok(600, 500), Ok(()));
		assert_eq!(ok(600, 501), Err(AuthError::OutOfBounds));
		assert_eq!(ok(99, 10), Err(AuthError::OutOfBounds));
		assert_eq!(ok(u64::MAX, 2), Err(AuthError::OutOfBounds));
		assert_eq!(
			s.verify_request(&G, 11, &nid(&holder), &[7; 32], &t.slice, 100, 1),
			Err(AuthError::Expired)
		);
		assert_eq!(
			s.verify_request(&G, 1, &nid(&meta), &[7; 32], &t.slice, 100, 1),
			Err(AuthError::NotForThisNode)
		);
		assert_eq!(
			s.verify_request(&G, 1, &nid(&holder), &[8; 32], &t.slice, 100, 1),
			Err(AuthError::OutOfBounds)
		);
		let mut forged = s;
		forged.ticket.length = 10_000;
		assert_eq!(
			forged.verify_request(&G, 1, &nid(&holder), &[7; 32], &t.slice, 100, 1),
			Err(AuthError::BadSignature)
		);
	}

	#[test]
	fn task_ids_and_holders_are_recomputable_and_spread() {
		let a = task_id(7, &[1; 32], &SliceHash([2; 32]), 0);
		assert_eq!(a, task_id(7, &[1; 32], &SliceHash([2; 32]), 0));
		assert_ne!(a, task_id(8, &[1; 32], &SliceHash([2; 32]), 0));
		assert_ne!(a, task_id(7, &[1; 32], &SliceHash([2; 32]), 1));
		let holders: Vec<_> = (0..3u8).map(|i| NodeId([i; 32])).collect();
		assert_eq!(ticket_holder(&a, &[0; 32], &[]), None);
		let mut counts = [0u32; 3];
		for i in 0..3000u64 {
			let t = task_id(i, &[1; 32], &SliceHash([2; 32]), 0);
			let h = ticket_holder(&t, &[6; 32], &holders).unwrap();
			assert_eq!(Some(h), ticket_holder(&t, &[6; 32], &holders));
			counts[h.0[0] as usize] += 1;
		}
		// Uniform: each holder gets about a third (±5 standard deviations).
		for c in counts {
			assert!((850..=1150).contains(&c), "{counts:?}");
		}
	}

	#[test]
	fn client_requests_bind_account_nonce_and_body() {
		let who = sr25519::Pair::from_seed(&[3; 32]);
		let acct = who.public().0;
		let sig = who.sign(&client_request_payload(&G, &acct, 5, b"mkdir /a")).0;
		assert!(verify_client_request(&G, &acct, 5, b"mkdir /a", &sig));
		assert!(!verify_client_request(&G, &acct, 6, b"mkdir /a", &sig));
		assert!(!verify_client_request(&G, &acct, 5, b"mkdir /b", &sig));
		assert!(!verify_client_request(&[0; 32], &acct, 5, b"mkdir /a", &sig));
		assert!(!verify_client_request(&G, &[4; 32], 5, b"mkdir /a", &sig));
	}
}

/// What a holder keeps of a file it holds, handed to it by the meta nodes once the upload
/// completed. Holders answer the meta nodes' `rebuild-index` with their manifests; the file
/// id binds the slices, so a manifest that does not hash to it is worthless.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct FileManifest {
	/// The owner's account.
	pub owner: [u8; 32],
	/// The file id (Merkle root over the slices).
	pub file_id: FileId,
	/// Bytes.
	pub size: u64,
	/// Slice size (every slice but the last has it).
	pub slice_size: u64,
	/// Slice hashes in order.
	pub slices: Vec<SliceHash>,
	/// The path the owner uploaded it to (renames later are not reflected).
	pub path: String,
}

impl FileManifest {
	/// Slice count, slice lengths and Merkle root agree with size and file id.
	pub fn is_consistent(&self) -> bool {
		if self.slice_size == 0 || self.size == 0 {
			return false;
		}
		if self.slices.len() as u64 != self.size.div_ceil(self.slice_size) {
			return false;
		}
		let leaves = self.slices.iter().enumerate().map(|(i, s)| {
			let start = i as u64 * self.slice_size;
			((self.size - start).min(self.slice_size), s.0)
		});
		crate::merkle::root_of(leaves) == self.file_id.0
	}
}
