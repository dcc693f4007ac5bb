//! Formats shared by the Stratos runtime (pallets) and the off-chain processes (resource
//! nodes, meta nodes, the `sds` client). Everything that two parties must encode, hash or
//! verify identically lives here, once:
//!
//! * [`ids`]: file ids, slice hashes, node ids, task ids;
//! * [`merkle`]: the domain-separated Merkle encoding (slices over chunks, files over
//!   slices), streaming construction and inclusion proofs;
//! * [`receipt`]: the signed task receipt a resource node and a client exchange per served
//!   slice;
//! * [`receipts`]: the per-client receipt tree a report's client entry commits to (a
//!   Merkle sum tree, so one proof also proves the client's total);
//! * [`quorum`]: the 2/3 rule every meta-node vote uses;
//! * [`meta`]: store acknowledgements, upload authorisations, download tickets and the
//!   task-id / holder derivations of the meta layer;
//! * [`registration`]: what a node key signs to register on chain;
//! * [`traffic`]: Proof-of-Traffic report digests, commitments, node ranking and the
//!   settlement arithmetic.
//!
//! The crate is `no_std` so the runtime can use it; hashing of bulk data goes through
//! `sp_io`, which is a host function inside the runtime and plain Rust outside.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod ids;
pub mod merkle;
pub mod meta;
pub mod quorum;
pub mod receipt;
pub mod receipts;
pub mod registration;
pub mod traffic;

pub use ids::{FileId, NodeId, SliceHash, TaskId};

/// A 32-byte digest; every hash in the protocol is SHA-256 (ADR 0007).
pub type Hash = [u8; 32];

/// SHA-256 of `data`: a host function inside the runtime, native code (with the CPU's SHA
/// instructions where it has them) elsewhere.
pub fn hash(data: &[u8]) -> Hash {
	sp_io::hashing::sha2_256(data)
}
