//! The slice store of a resource node.
//!
//! Layout under the data directory:
//!
//! ```text
//! index/               RocksDB: slice hash → (length, chunk hashes); signed receipts;
//!                      uploads in progress; file manifests and which slices they name
//! slices/ab/abcd…      one file per slice, named by its hash (first byte as subdirectory)
//! tmp/                 slices being received; emptied on open
//! corrupt/             slices that failed verification, kept for inspection
//! ```
//!
//! Slices live in plain files and only the index in RocksDB (ADR 0008): a 16 MiB value in
//! RocksDB is written twice (WAL + SST) and rewritten by compaction, a file is written once
//! and read with sequential I/O.
//!
//! **Durability**: a put is acknowledged only after the slice file is fsynced, renamed into
//! place, its directory fsynced, and the index entry written with a synced WAL. After a
//! crash at any point, every acknowledged slice is intact. On open, partial files in `tmp/`
//! are removed, and a slice file the index does not know (a crash before the index write,
//! or a lost index) is re-hashed and re-indexed when it is the slice its name says, moved to
//! `corrupt/` otherwise: a slice file is never deleted for lack of an index entry.
//! The index's lock is taken before anything is touched, so a second node on the same
//! directory fails instead of emptying the first one's `tmp/`. Every file-system call but
//! RocksDB's goes through [`Fs`], so the crash tests run the store on a [`PowerCutFs`] that
//! keeps only what was synced: removing any fsync on the acknowledgement path fails them.
//!
//! **Verification**: every read checks each chunk against the chunk hashes in the index,
//! which were checked against the slice hash when the slice was stored. A chunk that fails
//! is never served: the slice is moved to `corrupt/`, dropped from the index and reported.
//!
//! **Capacity**: puts reserve their length up front against the declared capacity; a full
//! disk fails the put with [`Error::DiskFull`] and leaves nothing behind.

mod fs;
mod store;

pub use fs::{Fs, OsFs, PowerCutFs};
pub use store::{PendingUpload, PutWriter, ScrubStep, SliceMeta, Stats, Store};

use std::path::PathBuf;
use stratos_primitives::SliceHash;

/// Errors of the slice store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
	/// A file-system operation failed.
	#[error("{op} {path}: {source}")]
	Io {
		/// What was being done.
		op: &'static str,
		/// On which path.
		path: PathBuf,
		/// The OS error.
		source: std::io::Error,
	},
	/// A file manifest is refused.
	#[error("manifest refused: {0}")]
	BadManifest(String),
	/// The disk is full.
	#[error(
		"disk full while writing {0}: free space on the data directory's disk, or lower --capacity"
	)]
	DiskFull(PathBuf),
	/// Storing would exceed the node's declared capacity.
	#[error("capacity exceeded: {needed} bytes needed, {free} of {capacity} free")]
	CapacityExceeded {
		/// Bytes the put needs.
		needed: u64,
		/// Bytes still free.
		free: u64,
		/// Declared capacity.
		capacity: u64,
	},
	/// The received bytes do not have the claimed hash or length.
	#[error("slice bytes hash to {actual} ({actual_len} bytes), not the claimed {claimed} ({claimed_len} bytes)")]
	HashMismatch {
		/// Hash the sender claimed.
		claimed: SliceHash,
		/// Length the sender announced.
		claimed_len: u64,
		/// Hash of the bytes received.
		actual: SliceHash,
		/// Bytes received.
		actual_len: u64,
	},
	/// More bytes were written than the put announced.
	#[error("put announced {announced} bytes but more were sent")]
	TooManyBytes {
		/// Announced length.
		announced: u64,
	},
	/// The slice is not in the store.
	#[error("slice {0} is not stored here")]
	NotFound(SliceHash),
	/// The stored slice failed verification; it was quarantined.
	#[error(
		"slice {slice} is corrupt ({detail}); it was moved to corrupt/ and will not be served"
	)]
	Corrupt {
		/// The slice.
		slice: SliceHash,
		/// What failed.
		detail: String,
	},
	/// A byte range outside the slice.
	#[error("range {offset}+{length} is outside the slice's {slice_len} bytes")]
	BadRange {
		/// Requested offset.
		offset: u64,
		/// Requested length.
		length: u64,
		/// The slice's length.
		slice_len: u64,
	},
	/// The index database failed.
	#[error("index database: {0}")]
	Db(#[from] rocksdb::Error),
	/// Another store has the data directory open.
	#[error("data directory {0} is in use by another running node (its index/LOCK is held); stop that node or choose another --data-dir")]
	InUse(PathBuf),
	/// An index entry does not decode (the index is damaged).
	#[error("index entry for {0} does not decode")]
	BadIndexEntry(String),
}

impl Error {
	pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
		let path = path.into();
		if source.raw_os_error() == Some(libc::ENOSPC) {
			return Error::DiskFull(path);
		}
		Error::Io { op, path, source }
	}
}

/// Result of store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
