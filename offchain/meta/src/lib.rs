//! The Stratos meta layer (whitepaper §3.3, §4.1–4.2; ADR 0011).
//!
//! Meta nodes keep a replicated index of the storage network and route its traffic. This
//! crate holds their protocol cores, all sans-I/O and deterministic:
//!
//! * [`path`]: the validated paths of an owner's namespace;
//! * [`index`]: the replicated state machine: namespaces, file records, where slices live,
//!   node health, pending uploads, outstanding download tickets. Every replica applies the
//!   same log entries ([`index::Command`]) to the same state, so placements, task ids and
//!   ticket holders are the same everywhere and auditors recompute them;
//! * [`bloom`]: the existence filter in front of the index;
//! * [`routing`]: holder choice (healthy, room, offsite first, weighted, seeded from the log);
//! * [`election`]: the VRF election order over a finalized block (PoA leader election of
//!   §3.3 mapped onto Raft's timeouts);
//! * [`raft`]: the replicated log: openraft drives the index as its state machine, with
//!   the log, vote and snapshots in RocksDB;
//! * [`node`]: the `stratos-meta` process around them: configuration, Raft and the meta API
//!   on libp2p, the chain follower and the vote loop.

pub mod audit;
pub mod bloom;
pub mod election;
pub mod health;
pub mod index;
pub mod node;
pub mod path;
pub mod raft;
pub mod repair;
pub mod reporting;
pub mod routing;

/// An sr25519 account (an owner, a client, an operator).
pub type Account = [u8; 32];

/// Everything the meta layer refuses or fails at. Each message says what was wrong and, where
/// it helps, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, codec::Encode, codec::Decode)]
pub enum Error {
	/// A path or name is not acceptable.
	#[error("bad path: {0}")]
	BadPath(String),
	/// The path does not exist.
	#[error("{0}: no such file or directory")]
	NotFound(String),
	/// The path exists already.
	#[error("{0}: already exists")]
	Exists(String),
	/// The path names a file where a directory is needed, or the other way round.
	#[error("{0}")]
	WrongKind(String),
	/// A directory to remove is not empty.
	#[error("{0}: directory not empty (remove with recursive)")]
	NotEmpty(String),
	/// A client's request signature does not verify.
	#[error("the request is not signed by the account it names")]
	BadSignature,
	/// A request's nonce is not above the last one used by the account (a replay).
	#[error("request nonce {got} is not above the account's last nonce {last} (replayed?)")]
	StaleNonce {
		/// The nonce of the request.
		got: u64,
		/// The last accepted nonce.
		last: u64,
	},
	/// Not enough healthy nodes with room for a placement.
	#[error("not enough healthy resource nodes with room: need {need}, have {have}")]
	NotEnoughNodes {
		/// Holders wanted.
		need: u32,
		/// Candidates available.
		have: u32,
	},
	/// A node is not an active resource node on the finalized chain.
	#[error("node {0} is not an active resource node on chain")]
	UnknownNode(String),
	/// The upload task is unknown or expired.
	#[error("upload {0} is unknown or expired; ask for a new placement")]
	UnknownUpload(String),
	/// A file's contents do not match what its upload declared.
	#[error("upload does not match its placement: {0}")]
	UploadMismatch(String),
	/// A store acknowledgement is missing or forged.
	#[error("store acknowledgement: {0}")]
	BadAck(String),
	/// The owner's balance does not cover the first storage period.
	#[error("the owner's balance does not cover the first storage period of this file")]
	InsufficientBalance,
	/// The client has no (or not enough) reserved credit for the tickets.
	#[error(
		"not enough reserved download credit: need {need} bytes, {available} available \
		 (buy and reserve credit: `sds credit buy <amount>` then `sds credit reserve <bytes>`)"
	)]
	NoCredit {
		/// Bytes the tickets need.
		need: u128,
		/// Reserved bytes not covered by outstanding tickets.
		available: u128,
	},
	/// The client's reservation unlocks too soon to back a ticket.
	#[error(
		"your reserved download credit ({reserved} bytes) unlocks at block {unlocks_at}, too \
		 soon to back a ticket at block {now}: reserve again (`sds credit reserve <bytes>`, any \
		 amount) to extend the lock of the whole reservation"
	)]
	ReservationEnding {
		/// Reserved bytes.
		reserved: u128,
		/// Block the reservation's lock ends.
		unlocks_at: u32,
		/// The finalized block the meta nodes are at.
		now: u32,
	},
	/// The client left too many receipts without its countersignature.
	#[error(
		"{0} receipts of this account were signed by resource nodes but never countersigned; \
		 no tickets until they are (a client must countersign what it received)"
	)]
	Unsigned(u32),
	/// A parameter is out of its range.
	#[error("invalid request: {0}")]
	Invalid(String),
	/// This meta node does not lead; writes go to the leader.
	#[error("this meta node is not the leader (leader: {leader:?}); send writes to the leader")]
	NotLeader {
		/// The leader's raft id, if known.
		leader: Option<u64>,
	},
	/// The replicated log or its storage failed.
	#[error("replication: {0}")]
	Raft(String),
	/// The local database failed.
	#[error("storage: {0}")]
	Storage(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
