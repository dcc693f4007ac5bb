//! The SDS slice transfer protocol on libp2p (TCP + noise + yamux, one stream per
//! exchange, protocol [`PROTOCOL`]). The frames and their limits are in
//! [`sds_core::wire`]; this crate does the I/O:
//!
//! * [`Host`] runs a libp2p swarm; with a [`sds_store::Store`] it also serves puts, gets and
//!   has-queries;
//! * puts are chain-replicated and pipelined: the first node forwards each data frame to the
//!   next while still receiving, and the client gets one acknowledgement once every node of
//!   the chain holds the slice durably;
//! * gets are verified chunk by chunk on the client and end with the node's signed receipt,
//!   which the client must countersign before the node serves it again.

mod host;
mod io;
pub mod keys;
mod mux;
mod owing;
mod rpc;
mod server;

pub use host::{Client, Host, HostConfig, Limits, Metrics, MetricsSnapshot};
pub use libp2p::{identity::Keypair, Multiaddr, PeerId};
pub use rpc::{Incoming, ANSWER_TIMEOUT, MAX_RPC_MESSAGE};
pub use stratos_primitives::meta::{SignedStoreAck, SignedTicket, SignedUploadAuth};

use sds_core::wire::ErrorCode;
use stratos_primitives::NodeId;

/// Has the allocator keep up to 64 MiB of freed memory at the top of each heap instead of
/// handing it back to the kernel (glibc's default gives back anything above 128 KiB at
/// once). The data path allocates and frees buffers of 64 KiB to 16 MiB all the time, and
/// each one handed back was faulted in again page by page: half the page faults of a
/// download (`perf stat`, 1 GiB from 3 nodes: 69 thousand before, 34 thousand after). The
/// peak memory is the same; what was used stays mapped. Binaries call this first.
pub fn keep_freed_memory() {
	#[cfg(all(target_os = "linux", target_env = "gnu"))]
	#[allow(unsafe_code)]
	// SAFETY: `mallopt` only sets a tunable of glibc's allocator; it is called before any
	// thread of ours exists, and an unknown value is refused (returns 0), not undefined.
	unsafe {
		libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
	}
}

/// What a resource node needs from the finalized chain to check authorisations and
/// tickets (ADR 0011). Without one ([`HostConfig::gate`] `None`) a node serves plain puts and
/// gets, as on a data plane without meta nodes (tests, benchmarks).
pub trait Gate: Send + Sync + 'static {
	/// The latest finalized block number.
	fn finalized(&self) -> u32;
	/// Whether `node` is an active meta node's key.
	fn is_meta(&self, node: &NodeId) -> bool;
	/// Whether `node` is a registered, active resource node's key (exempt from the per-peer
	/// caps of [`Limits`]).
	fn is_resource_node(&self, _node: &NodeId) -> bool {
		false
	}
}

/// The libp2p protocol name.
pub const PROTOCOL: libp2p::StreamProtocol = libp2p::StreamProtocol::new("/stratos/sds/1");

/// Errors of the transfer protocol.
#[derive(Debug, thiserror::Error)]
pub enum Error {
	/// Could not reach a node.
	#[error("cannot reach node {node}: {reason}")]
	Unreachable {
		/// The node.
		node: String,
		/// Why.
		reason: String,
	},
	/// The stream broke.
	#[error("stream to {peer} failed: {source}")]
	Io {
		/// The peer.
		peer: String,
		/// The I/O error.
		source: std::io::Error,
	},
	/// The peer did not answer in time.
	#[error("{peer} did not answer within {secs} s")]
	Timeout {
		/// The peer.
		peer: String,
		/// The timeout.
		secs: u64,
	},
	/// The peer broke the protocol.
	#[error("{peer} broke the protocol: {what}")]
	Protocol {
		/// The peer.
		peer: String,
		/// What it did.
		what: String,
	},
	/// The peer answered with an error.
	#[error("{peer} refused: {code:?}: {message}")]
	Remote {
		/// The peer.
		peer: String,
		/// Its error code.
		code: ErrorCode,
		/// Its message.
		message: String,
	},
	/// Data from the peer failed verification.
	#[error("data from {peer} failed verification: {what}")]
	Verification {
		/// The peer.
		peer: String,
		/// What failed.
		what: String,
	},
	/// A node id that is not a valid ed25519 key.
	#[error("node id {0} is not an ed25519 public key")]
	BadNodeId(NodeId),
	/// A bad address.
	#[error("bad address {0}")]
	BadAddress(String),
	/// Starting the host failed.
	#[error("starting the network: {0}")]
	Start(String),
	/// The local store failed.
	#[error(transparent)]
	Store(#[from] sds_store::Error),
	/// Reading the local data to send failed.
	#[error("reading local data: {0}")]
	Local(std::io::Error),
	/// A node key cannot be loaded, created or derived.
	#[error("{0}")]
	Key(String),
}

/// The libp2p peer id of a node id (its ed25519 key).
pub fn peer_id(node: &NodeId) -> Result<PeerId, Error> {
	let pk = libp2p::identity::ed25519::PublicKey::try_from_bytes(&node.0)
		.map_err(|_| Error::BadNodeId(*node))?;
	Ok(PeerId::from_public_key(&libp2p::identity::PublicKey::from(pk)))
}

/// The node id of an ed25519 libp2p key.
pub fn node_id(key: &Keypair) -> NodeId {
	let pk = key.public().try_into_ed25519().expect("stratos nodes use ed25519 keys");
	NodeId(pk.to_bytes())
}

pub use libp2p::multiaddr as libp2p_multiaddr;

/// The node id inside a peer id, if the peer id embeds an ed25519 key.
pub fn node_of_peer(peer: &PeerId) -> Option<NodeId> {
	let mh = peer.as_ref();
	if mh.code() != 0 {
		return None;
	}
	let pk = libp2p::identity::PublicKey::try_decode_protobuf(mh.digest()).ok()?;
	Some(NodeId(pk.try_into_ed25519().ok()?.to_bytes()))
}
