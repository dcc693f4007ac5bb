//! The meta nodes' API: what clients and resource nodes ask the meta nodes and what they
//! answer, on the libp2p protocol [`META_PROTOCOL`] of the `sds-net` host (one request and
//! one response per stream, each a 4-byte big-endian length and a SCALE-encoded body of at
//! most `sds_net::MAX_RPC_MESSAGE` bytes).
//!
//! Versioned and additive: every message is wrapped in an [`Envelope`] naming
//! [`API_VERSION`]; new requests and responses are new enum variants at the end, so an older
//! peer answers an unknown request with [`MetaResponse::Error`] instead of misreading it.
//! Requests that change the index are signed by the account they name ([`Signed`]).

use codec::{Decode, Encode};
use sp_core::Pair;
use stratos_primitives::{
	meta::{self, SignedStoreAck, SignedTicket, SignedUploadAuth},
	receipt::{SignedReceipt, TaskReceipt},
	FileId, Hash, NodeId, SliceHash, TaskId,
};

/// An sr25519 account.
pub type Account = [u8; 32];

/// The libp2p protocol name of the meta API.
pub const META_PROTOCOL: &str = "/stratos/meta/1";
/// The API version this build speaks.
pub const API_VERSION: u16 = 1;

/// A message with the API version.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Envelope<T> {
	/// [`API_VERSION`] of the sender.
	pub version: u16,
	/// The message.
	pub body: T,
}

impl<T> Envelope<T> {
	/// Wraps `body` with this build's version.
	pub fn new(body: T) -> Self {
		Self { version: API_VERSION, body }
	}
}

/// A client request with the account's signature over
/// [`meta::client_request_payload`]`(genesis, account, nonce, SCALE(body))`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Signed<T> {
	/// The signing account (the owner for namespace writes, the client for tickets).
	pub account: Account,
	/// Strictly increasing per account (clients use a microsecond clock).
	pub nonce: u64,
	/// The request.
	pub body: T,
	/// sr25519 signature.
	pub signature: [u8; 64],
}

impl<T: Encode> Signed<T> {
	/// Signs `body` for `pair`.
	pub fn sign(pair: &sp_core::sr25519::Pair, genesis: &Hash, nonce: u64, body: T) -> Self {
		let account = pair.public().0;
		let payload = meta::client_request_payload(genesis, &account, nonce, &body.encode());
		Self { account, nonce, signature: pair.sign(&payload).0, body }
	}

	/// Whether the signature is the named account's, for the chain `genesis`.
	pub fn verify(&self, genesis: &Hash) -> bool {
		meta::verify_client_request(
			genesis,
			&self.account,
			self.nonce,
			&self.body.encode(),
			&self.signature,
		)
	}
}

/// A namespace write.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum NsOp {
	/// Create a directory and missing parents (an existing directory is not an error).
	Mkdir {
		/// The directory.
		path: String,
	},
	/// Rename a file or directory.
	Mv {
		/// Existing path.
		from: String,
		/// New path (must not exist; its parent must).
		to: String,
	},
	/// Remove a file's path, or a directory (empty unless `recursive`).
	Rm {
		/// The path.
		path: String,
		/// Remove a non-empty directory with everything below it.
		recursive: bool,
	},
}

/// A request to place an upload.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PlaceRequest {
	/// Where the file will appear.
	pub path: String,
	/// File size in bytes.
	pub size: u64,
	/// Slice size in bytes.
	pub slice_size: u64,
	/// Copies wanted (at least [`MIN_REPLICAS`]).
	pub replicas: u8,
}

/// A request for download tickets.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct TicketRequest {
	/// The file's owner.
	pub owner: Account,
	/// The file's path in the owner's namespace.
	pub path: String,
	/// Slice indices wanted (empty: all).
	pub slices: Vec<u32>,
	/// Holders the client failed to fetch from (a fallback: they are not assigned again).
	pub avoid: Vec<NodeId>,
	/// Fallback attempt number (part of the task id, so a retry gets a new task).
	pub attempt: u32,
}

/// What a resource node reports of itself.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Heartbeat {
	/// The node (authenticated by the transport: its libp2p identity).
	pub node: NodeId,
	/// Free bytes.
	pub free: u64,
	/// Declared capacity.
	pub capacity: u64,
	/// Open connections.
	pub connections: u32,
	/// Errors since its last heartbeat.
	pub errors: u32,
	/// Software version.
	pub version: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum FileStatus {
	/// Uploaded and acknowledged; the meta nodes are voting `vote_create_file`.
	Voting,
	/// Recorded on chain at this finalized block.
	OnChain(u32),
}

/// A file the index knows.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct FileRecord {
	/// Owner.
	pub owner: Account,
	/// File id (Merkle root over the slice hashes).
	pub file_id: FileId,
	/// Size in bytes.
	pub size: u64,
	/// Slice size in bytes.
	pub slice_size: u64,
	/// Slice hashes in order.
	pub slices: Vec<SliceHash>,
	/// Holders, in placement order.
	pub holders: Vec<NodeId>,
	/// Status.
	pub status: FileStatus,
	/// Paths naming it.
	pub links: u32,
	/// Path it gets once recorded, if that is still pending.
	pub pending_path: Option<String>,
}

impl FileRecord {
	/// The length of slice `i`.
	pub fn slice_len(&self, i: usize) -> u64 {
		let start = i as u64 * self.slice_size;
		self.size.saturating_sub(start).min(self.slice_size)
	}
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Inode {
	/// A directory.
	Dir,
	/// A recorded file.
	File(FileId),
}

/// What a meta node is asked.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum MetaRequest {
	/// A Raft message between meta nodes (openraft's RPC, JSON).
	Raft {
		/// Which RPC.
		kind: RaftRpcKind,
		/// The request.
		body: Vec<u8>,
	},
	/// The cluster's status: chain head, leader, term, nodes and their health.
	Status,
	/// List a directory, from a replica that applied at least `min_index`.
	Ls {
		/// Owner of the namespace.
		owner: Account,
		/// Directory.
		path: String,
		/// Read-your-writes: the caller's last write index.
		min_index: u64,
	},
	/// Describe a file or directory.
	Stat {
		/// Owner.
		owner: Account,
		/// Path.
		path: String,
		/// Read-your-writes index.
		min_index: u64,
	},
	/// A namespace write.
	Namespace(Signed<NsOp>),
	/// Place an upload.
	Place(Signed<PlaceRequest>),
	/// An upload finished: slice hashes and one store acknowledgement per (slice, holder).
	Complete {
		/// The placement's task.
		task: TaskId,
		/// Slice hashes, in order.
		slices: Vec<SliceHash>,
		/// Acknowledgements.
		acks: Vec<SignedStoreAck>,
	},
	/// Ask for download tickets.
	Tickets(Signed<TicketRequest>),
	/// A resource node's heartbeat (the sender is authenticated by the transport).
	Heartbeat(Heartbeat),
	/// A holder asks what became of an upload it took slices for (answered to the upload's
	/// holders only, authenticated by the transport).
	UploadFate {
		/// The upload's task id (from its authorisation).
		task: TaskId,
	},
	/// Another meta node restores files into an index that lost them (`stratos-meta
	/// rebuild-index`); only active meta nodes may send it, and every file must be recorded
	/// on chain with these holders.
	Restore(Vec<RestoredFile>),
	/// Countersigned receipts for the traffic audit (whitepaper §3.2.1 step 2), from the
	/// serving resource node or from the client (either copy counts, once), plus receipts a
	/// resource node signed that the client never countersigned (they count for nobody; too
	/// many stop the client's tickets).
	Receipts {
		/// Who sends them (a resource node is authenticated by the transport).
		from: Party,
		/// Countersigned receipts.
		receipts: Vec<SignedReceipt>,
		/// Node-signed receipts without a countersignature (resource nodes only).
		unsigned: Vec<(TaskReceipt, [u8; 64])>,
	},
	/// The receipts of `client` counted in `period` (what its report entry's receipt root is
	/// built from), for the client to check or dispute. Served from the local replica.
	ClientReceipts {
		/// The client.
		client: Account,
		/// The ledger period.
		period: u32,
	},
	/// The traffic audit's figures per period (bytes, receipts, refusals, report status).
	Audit,
	/// Repair's figures: copies under way and done, files re-homed, alerts.
	Repairs,
	/// A resource node lost slices it held (its scrubber or a read found them corrupt and
	/// quarantined them): the meta nodes stop counting it as a holder of the files they
	/// belong to and copy those files to another node. Only the node itself may say so
	/// (authenticated by the transport); at most [`MAX_LOST_PER_REQUEST`] slices.
	SlicesLost {
		/// The node.
		node: NodeId,
		/// The slices it no longer has.
		slices: Vec<SliceHash>,
	},
}

/// Most slices in one [`MetaRequest::SlicesLost`].
pub const MAX_LOST_PER_REQUEST: usize = 4096;

/// Most receipts (countersigned plus unsigned) in one [`MetaRequest::Receipts`].
pub const MAX_RECEIPTS_PER_REQUEST: usize = 4096;

/// Who sent receipts to the audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub enum Party {
	/// The serving resource node.
	Node,
	/// The downloading client.
	Client,
}

/// Why the audit refused a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum Refusal {
	/// It names another chain.
	WrongChain,
	/// No ticket with its task id was issued (forged, or long forgotten).
	UnknownTask,
	/// Its ticket expired long before it was reported.
	Expired,
	/// Its period is not its ticket's.
	WrongPeriod,
	/// It names a node that is not the ticket's holder.
	WrongHolder,
	/// Its client or slice is not the ticket's.
	WrongTicket,
	/// Its range is empty or outside the ticket's.
	OverRange,
	/// Its range overlaps a different range already counted for the task.
	Overlap,
	/// Its node is not registered on chain.
	UnknownNode,
	/// The node's signature is invalid.
	BadNodeSignature,
	/// The client's countersignature is invalid.
	BadClientSignature,
	/// Its period was cut off (the report is being built).
	Late,
}

impl Refusal {
	/// Every reason, for metrics.
	pub const ALL: [Refusal; 12] = [
		Self::WrongChain,
		Self::UnknownTask,
		Self::Expired,
		Self::WrongPeriod,
		Self::WrongHolder,
		Self::WrongTicket,
		Self::OverRange,
		Self::Overlap,
		Self::UnknownNode,
		Self::BadNodeSignature,
		Self::BadClientSignature,
		Self::Late,
	];

	/// A short label (metrics, status).
	pub fn label(&self) -> &'static str {
		match self {
			Self::WrongChain => "wrong_chain",
			Self::UnknownTask => "unknown_task",
			Self::Expired => "expired",
			Self::WrongPeriod => "wrong_period",
			Self::WrongHolder => "wrong_holder",
			Self::WrongTicket => "wrong_ticket",
			Self::OverRange => "over_range",
			Self::Overlap => "overlap",
			Self::UnknownNode => "unknown_node",
			Self::BadNodeSignature => "bad_node_signature",
			Self::BadClientSignature => "bad_client_signature",
			Self::Late => "late",
		}
	}
}

/// The audit of one ledger period, as a meta node's replica holds it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PeriodAudit {
	/// The ledger period.
	pub period: u32,
	/// Tickets issued.
	pub tickets: u64,
	/// Receipts counted.
	pub receipts: u64,
	/// Bytes audited (counted).
	pub bytes: u128,
	/// Duplicate copies (the other party's copy of a counted receipt).
	pub duplicates: u64,
	/// Refusals: (party, reason, count).
	pub refused: Vec<(Party, Refusal, u64)>,
	/// Whether the cut-off closed it.
	pub closed: bool,
	/// The report's digest this meta node built, once closed.
	pub digest: Option<Hash>,
	/// What this meta node did about the report on chain (e.g. "committed", "revealed",
	/// "streamed 3/3", "settled").
	pub report: String,
}

/// Repair's figures, as a meta node's replica holds them (whitepaper §4.2.4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct RepairStatus {
	/// Copies under way (not acknowledged yet).
	pub in_flight: u32,
	/// Their bytes.
	pub bytes_in_flight: u64,
	/// Files whose copies are all acknowledged, their new holders being voted on chain.
	pub voting: u32,
	/// The replicated counters.
	pub counters: RepairCounters,
}

/// Repair's counters, replicated: every meta node holds the same.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct RepairCounters {
	/// Copies ordered since the index began.
	pub ordered: u64,
	/// Copies acknowledged in full.
	pub copied: u64,
	/// Copies given up (target or source lost, timed out, file gone) and planned again.
	pub abandoned: u64,
	/// Files whose new holders the chain recorded.
	pub rehomed: u64,
	/// Files short of copies that wait for the bandwidth budget (last round).
	pub deferred: u32,
	/// Files repair cannot help now: fewer healthy nodes than copies needed, or no healthy
	/// holder left (last round).
	pub alerts: u32,
}

/// A file recovered from the chain's record and a holder's manifest.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RestoredFile {
	/// Slices, path and owner as the holder kept them.
	pub manifest: meta::FileManifest,
	/// The holders the chain records.
	pub holders: Vec<NodeId>,
	/// The block the chain recorded the file at (or a later one it was seen at).
	pub block: u32,
}

/// What became of an upload, as the index knows it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum UploadFate {
	/// Still open: the client may complete it.
	Pending,
	/// Completed as this file: keep the manifest.
	Completed(meta::FileManifest),
	/// Not known: it lapsed without completing (or never existed).
	Unknown,
}

/// The libp2p protocol on which resource nodes answer the meta nodes' questions about what
/// they hold (same framing and envelope as the meta API).
pub const HOLDER_PROTOCOL: &str = "/stratos/holder/1";

/// What a meta node asks a resource node.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum HolderRequest {
	/// A page of the node's file manifests, after (owner, file id).
	Manifests {
		/// Where the previous page ended.
		after: Option<(Account, FileId)>,
		/// Most manifests in the answer.
		limit: u32,
	},
}

/// A resource node's answer.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum HolderResponse {
	/// Refused (the message says why).
	Error(String),
	/// Manifests in key order; an empty page is the end.
	Manifests(Vec<meta::FileManifest>),
}

/// Which Raft RPC a [`MetaRequest::Raft`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum RaftRpcKind {
	/// Append entries (and heartbeats).
	Append,
	/// Request a vote.
	Vote,
	/// A snapshot chunk.
	Snapshot,
}

/// Why a request failed, for programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum ErrorKind {
	/// The request is malformed or refused by the index (the message says why).
	Refused,
	/// This meta node does not lead; the write goes to [`MetaResponse::Error::leader`].
	NotLeader,
	/// No majority, storage failure, or the chain is unreachable: try again later.
	Unavailable,
	/// The caller is over its request rate.
	RateLimited,
	/// The API version is not spoken here.
	Version,
}

/// A status line about one resource node.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct NodeStatus {
	/// The node.
	pub node: NodeId,
	/// Its region.
	pub region: String,
	/// Active on chain.
	pub active: bool,
	/// Heard from recently.
	pub healthy: bool,
	/// Milliseconds since its last heartbeat (`u64::MAX` if never).
	pub silent_ms: u64,
	/// Free bytes it reported.
	pub free: u64,
	/// Uptime, thousandths.
	pub uptime_permille: u32,
	/// Slices the index placed on it.
	pub slices: u64,
}

/// The cluster's status.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ClusterStatus {
	/// The answering meta node (its node id).
	pub meta_node: NodeId,
	/// Its Raft role (whitepaper §3.3: leading, following, observing, voting).
	pub role: String,
	/// The leader's address, if known.
	pub leader: Option<String>,
	/// Raft term.
	pub term: u64,
	/// Last applied log index.
	pub applied: u64,
	/// Finalized chain head the index follows.
	pub finalized: u32,
	/// Ledger period.
	pub ledger_period: u32,
	/// Resource nodes.
	pub nodes: Vec<NodeStatus>,
	/// Files in the index.
	pub files: u64,
}

/// What a meta node answers.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum MetaResponse {
	/// A refusal or failure.
	Error {
		/// For programs.
		kind: ErrorKind,
		/// For people: what went wrong and what to do.
		message: String,
		/// The leader's address, when known and useful.
		leader: Option<String>,
	},
	/// A Raft reply (JSON).
	Raft(Vec<u8>),
	/// The cluster's status.
	Status(ClusterStatus),
	/// A directory listing.
	Listing(Vec<(String, Inode)>),
	/// A file's record, or `None` for a directory.
	Stat(Option<FileRecord>),
	/// A write was applied at this log index.
	Written {
		/// Log index (pass it as `min_index` to read your write).
		index: u64,
	},
	/// A placement.
	Placed {
		/// The signed authorisation.
		auth: SignedUploadAuth,
		/// The holders' dialable addresses, in the authorisation's order.
		addrs: Vec<Vec<String>>,
		/// Log index.
		index: u64,
	},
	/// The upload is complete and being recorded on chain.
	Completed {
		/// The file id.
		file_id: FileId,
		/// Log index.
		index: u64,
	},
	/// Download tickets, one per distinct slice.
	Tickets {
		/// The tickets.
		tickets: Vec<SignedTicket>,
		/// Each ticket's holder's addresses.
		addrs: Vec<Vec<String>>,
		/// Log index.
		index: u64,
	},
	/// Acknowledged, nothing to report.
	Ok,
	/// What became of an upload.
	UploadFate(UploadFate),
	/// Files restored: how many were new to the index.
	Restored {
		/// Files added.
		added: u32,
		/// Log index.
		index: u64,
	},
	/// What the audit did with a [`MetaRequest::Receipts`].
	Audited {
		/// Receipts counted.
		counted: u32,
		/// Copies of receipts already counted.
		duplicates: u32,
		/// Refused receipts: their position in the request and why.
		refused: Vec<(u32, Refusal)>,
		/// Log index.
		index: u64,
	},
	/// A client's counted receipts of a period.
	ClientReceipts(Vec<SignedReceipt>),
	/// The audit's figures, newest period first.
	Audit(Vec<PeriodAudit>),
	/// Repair's figures.
	Repairs(RepairStatus),
}

/// Encodes a message in its envelope.
pub fn encode<T: Encode>(body: T) -> Vec<u8> {
	Envelope::new(body).encode()
}

/// Decodes a message's envelope; `Err` says why (version or bytes).
pub fn decode<T: Decode>(bytes: &[u8]) -> Result<T, String> {
	let mut input = bytes;
	let version = u16::decode(&mut input).map_err(|e| format!("undecodable message: {e}"))?;
	if version != API_VERSION {
		return Err(format!(
			"API version {version} is not spoken here (this node speaks {API_VERSION})"
		));
	}
	let body = T::decode(&mut input).map_err(|e| format!("undecodable message: {e}"))?;
	if !input.is_empty() {
		return Err("trailing bytes after the message".into());
	}
	Ok(body)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn envelopes_round_trip_and_refuse_other_versions_and_garbage() {
		let req = MetaRequest::Ls { owner: [1; 32], path: "/a".into(), min_index: 7 };
		let bytes = encode(req.clone());
		assert_eq!(decode::<MetaRequest>(&bytes), Ok(req));
		let mut other = bytes.clone();
		other[0] = 9;
		assert!(decode::<MetaRequest>(&other).unwrap_err().contains("version 9"));
		let mut trailing = bytes.clone();
		trailing.push(0);
		assert!(decode::<MetaRequest>(&trailing).unwrap_err().contains("trailing"));
		assert!(decode::<MetaRequest>(&[1, 0, 250]).is_err());
	}

	#[test]
	fn signed_requests_verify_only_unchanged() {
		let pair = sp_core::sr25519::Pair::from_seed(&[4; 32]);
		let g: Hash = [3; 32];
		let s = Signed::sign(&pair, &g, 10, NsOp::Mkdir { path: "/x".into() });
		assert!(s.verify(&g));
		assert!(!s.verify(&[0; 32]));
		let mut t = s.clone();
		t.body = NsOp::Mkdir { path: "/y".into() };
		assert!(!t.verify(&g));
		let mut n = s;
		n.nonce = 11;
		assert!(!n.verify(&g));
	}
}
