//! The sans-I/O core of SDS, the Stratos storage layer: everything that decides, encodes
//! or verifies without touching a socket or a disk, so it is tested and fuzzed directly.
//!
//! * [`slicing`]: how a file is cut into slices and how its id is computed;
//! * [`wire`]: the slice transfer protocol's frames, their limits and the decoder;
//! * [`replicas`]: which replica to read a slice from, and falling back when one fails;
//! * [`meta_api`]: the requests and answers of the meta nodes' API.

pub mod fuzzing;
pub mod meta_api;
pub mod replicas;
pub mod slicing;
pub mod units;
pub mod wire;

pub use stratos_primitives as primitives;

/// Errors of the SDS core.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
	/// A frame announced more bytes than the protocol allows.
	#[error("frame of {0} bytes exceeds the {max} byte limit", max = wire::MAX_FRAME)]
	FrameTooLarge(usize),
	/// A frame's body does not decode as a protocol message.
	#[error("undecodable frame: {0}")]
	Undecodable(String),
	/// A decoded frame breaks a protocol limit (too many hops, an oversized chunk, ...).
	#[error("frame breaks a protocol limit: {0}")]
	Limit(&'static str),
	/// A slice size outside the allowed range.
	#[error("slice size {0} must be a multiple of 64 KiB between 64 KiB and 64 MiB")]
	BadSliceSize(u64),
}
