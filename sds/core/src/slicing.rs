//! Cutting files into slices.
//!
//! A file of `n` bytes with slice size `s` has `ceil(n / s)` slices; every slice but the
//! last is exactly `s` bytes. The empty file has no slices and its id is the empty root.
//! The file id is the Merkle root over (slice length, slice hash) leaves
//! ([`stratos_primitives::merkle`]).
//!
//! The default slice size is 16 MiB (ADR 0008): it is the unit of replication and of
//! parallelism. Smaller slices give more parallel transfers for mid-size files but more
//! index entries, receipts and round trips; larger ones make a single failed transfer cost
//! more and leave fewer slices to spread over replicas.

use crate::Error;
use stratos_primitives::{
	merkle::{MerkleBuilder, CHUNK_SIZE},
	FileId, SliceHash,
};

/// Default slice size: 16 MiB.
pub const DEFAULT_SLICE_SIZE: u64 = 16 * 1024 * 1024;
/// Largest slice size a node accepts: 64 MiB.
pub const MAX_SLICE_SIZE: u64 = 64 * 1024 * 1024;

/// Checks a configured slice size.
pub fn check_slice_size(size: u64) -> Result<u64, Error> {
	if size == 0 || size > MAX_SLICE_SIZE || !size.is_multiple_of(CHUNK_SIZE as u64) {
		return Err(Error::BadSliceSize(size));
	}
	Ok(size)
}

/// The byte range of one slice of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceSpan {
	/// Slice index in the file.
	pub index: u64,
	/// First byte in the file.
	pub offset: u64,
	/// Length in bytes.
	pub len: u64,
}

/// The slices of a file of `file_len` bytes.
pub fn spans(file_len: u64, slice_size: u64) -> impl Iterator<Item = SliceSpan> {
	let count = file_len.div_ceil(slice_size);
	(0..count).map(move |index| {
		let offset = index * slice_size;
		SliceSpan { index, offset, len: (file_len - offset).min(slice_size) }
	})
}

/// The file id over slices given in order as (length, hash).
pub fn file_id(slices: impl IntoIterator<Item = (u64, SliceHash)>) -> FileId {
	let mut b = MerkleBuilder::new();
	for (len, h) in slices {
		b.push(len, h.0);
	}
	FileId(b.root())
}

#[cfg(test)]
mod tests {
	use super::*;
	use stratos_primitives::merkle::{empty_root, SliceHasher};

	#[test]
	fn spans_cover_the_file_exactly() {
		let s = 1 << 20;
		assert_eq!(spans(0, s).count(), 0);
		assert_eq!(
			spans(1, s).collect::<Vec<_>>(),
			vec![SliceSpan { index: 0, offset: 0, len: 1 }]
		);
		assert_eq!(spans(2 * s, s).map(|x| x.len).collect::<Vec<_>>(), vec![s, s]);
		let v: Vec<_> = spans(2 * s + 5, s).collect();
		assert_eq!(v.len(), 3);
		assert_eq!(v[2], SliceSpan { index: 2, offset: 2 * s, len: 5 });
	}

	#[test]
	fn slice_size_limits() {
		assert!(check_slice_size(DEFAULT_SLICE_SIZE).is_ok());
		assert_eq!(check_slice_size(0), Err(Error::BadSliceSize(0)));
		assert!(check_slice_size(1000).is_err());
		assert!(check_slice_size(MAX_SLICE_SIZE + CHUNK_SIZE as u64).is_err());
	}

	#[test]
	fn file_id_depends_on_every_slice() {
		assert_eq!(file_id([]), FileId(empty_root()));
		let mut h = SliceHasher::new();
		h.update(b"x");
		let a = SliceHash(h.finish().0);
		let one = file_id([(1, a)]);
		assert_ne!(one, file_id([(1, a), (1, a)]));
		assert_ne!(one, file_id([(2, a)]));
	}
}
