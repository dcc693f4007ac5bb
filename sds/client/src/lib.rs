//! The SDS client: uploads files as replicated slices and downloads them verified.
//!
//! * [`MetaClient`] works through the meta nodes (ADR 0011): they place uploads, keep the
//!   namespace and issue download tickets; the `sds` CLI uses it.
//! * [`SdsClient`] drives the data plane directly against given resource nodes with a local
//!   index ([`Catalog`]): what the data-plane benchmark and tests measure without meta nodes.

mod catalog;
pub mod dispute;
mod download;
mod meta;
mod receipts;
mod transfer;

pub use meta::{is_stale_nonce, MetaClient, MetaClientConfig, Uploaded};
pub use receipts::{PeriodReceipts, ReceiptLog};
pub(crate) use transfer::run_parallel;

pub use catalog::{check_sds_path, Catalog, FileRecord, SliceRecord};
pub use download::parse_range;
pub use transfer::{parse_node, ClientConfig, Progress, SdsClient};

/// Errors of the SDS client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
	/// The local input cannot be read.
	#[error("cannot read {path}: {source}")]
	Input {
		/// The path.
		path: String,
		/// The OS error.
		source: std::io::Error,
	},
	/// The output cannot be written.
	#[error("cannot write {path}: {source}")]
	Output {
		/// The path.
		path: String,
		/// The OS error.
		source: std::io::Error,
	},
	/// A download stopped; what it verified is kept for the next run to resume from.
	#[error("{source}; the {verified} bytes verified so far are kept in {kept}: run the same command again to resume")]
	Interrupted {
		/// The partial file.
		kept: String,
		/// Bytes verified in it.
		verified: u64,
		/// Why it stopped.
		source: Box<Error>,
	},
	/// A path in the SDS namespace is not acceptable.
	#[error("invalid SDS path {path:?}: {reason}")]
	BadPath {
		/// The path.
		path: String,
		/// Why.
		reason: &'static str,
	},
	/// No such file in the index.
	#[error("unknown file {0:?}: `sds ls` lists the files you uploaded")]
	UnknownFile(String),
	/// A path is already taken.
	#[error("{0:?} already exists: choose another path or `sds rm` it first")]
	Exists(String),
	/// Fewer nodes than replicas.
	#[error("{needed} replicas need {needed} resource nodes, only {available} given/reachable: add --node addresses or lower --replicas")]
	NotEnoughNodes {
		/// Replicas asked for.
		needed: usize,
		/// Nodes usable.
		available: usize,
	},
	/// Every replica of a slice failed.
	#[error("slice {index} ({slice}) could not be read from any replica: {failures}")]
	AllReplicasFailed {
		/// Slice index in the file.
		index: u64,
		/// Slice hash.
		slice: String,
		/// What each replica did.
		failures: String,
	},
	/// A slice could not be uploaded to any chain of nodes.
	#[error("slice {index} could not be stored: {reason}; the file was not stored: run the same put again (meta nodes place around a holder that stopped answering once it missed its heartbeats, about 30 s)")]
	UploadFailed {
		/// Slice index.
		index: u64,
		/// Last error.
		reason: String,
	},
	/// A bad node address.
	#[error("invalid node address {addr:?}: {reason} (expected e.g. /ip4/127.0.0.1/tcp/7400/p2p/12D3Koo...)")]
	BadNode {
		/// The address.
		addr: String,
		/// Why.
		reason: String,
	},
	/// The local index cannot be read or written.
	#[error("index {path}: {reason}")]
	Catalog {
		/// The index file.
		path: String,
		/// Why.
		reason: String,
	},
	/// A setting is out of range.
	#[error("invalid setting: {0}")]
	Config(String),
	/// The network failed.
	#[error(transparent)]
	Net(#[from] sds_net::Error),
	/// A meta node refused or could not be reached (its message says why).
	#[error("{0}")]
	Meta(String),
	/// A report entry cannot be checked.
	#[error("{0}")]
	Dispute(String),
}

/// Result of client operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
