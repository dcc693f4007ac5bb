//! Identifiers. All are 32 bytes; they print and parse as 64 lowercase hex digits.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::fmt;
use scale_info::TypeInfo;

macro_rules! id32 {
	($(#[$doc:meta])* $name:ident, $what:literal) => {
		$(#[$doc])*
		#[derive(
			Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
			Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
		)]
		pub struct $name(pub [u8; 32]);

		impl $name {
			/// The raw 32 bytes.
			pub const fn as_bytes(&self) -> &[u8; 32] {
				&self.0
			}

			/// Lowercase hex, 64 digits.
			pub fn to_hex(&self) -> alloc::string::String {
				let mut s = alloc::string::String::with_capacity(64);
				for b in self.0 {
					s.push(char::from_digit((b >> 4) as u32, 16).expect("nibble"));
					s.push(char::from_digit((b & 0xf) as u32, 16).expect("nibble"));
				}
				s
			}

			/// Parses 64 hex digits, with or without a `0x` prefix.
			pub fn from_hex(s: &str) -> Result<Self, ParseIdError> {
				let s = s.strip_prefix("0x").unwrap_or(s);
				if s.len() != 64 {
					return Err(ParseIdError { what: $what, reason: "expected 64 hex digits" });
				}
				let mut out = [0u8; 32];
				let bytes = s.as_bytes();
				for (i, o) in out.iter_mut().enumerate() {
					let hi = (bytes[2 * i] as char).to_digit(16);
					let lo = (bytes[2 * i + 1] as char).to_digit(16);
					match (hi, lo) {
						(Some(hi), Some(lo)) => *o = (hi * 16 + lo) as u8,
						_ => return Err(ParseIdError { what: $what, reason: "not a hex digit" }),
					}
				}
				Ok(Self(out))
			}
		}

		impl From<[u8; 32]> for $name {
			fn from(b: [u8; 32]) -> Self {
				Self(b)
			}
		}

		impl fmt::Display for $name {
			fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
				f.write_str(&self.to_hex())
			}
		}

		impl fmt::Debug for $name {
			fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
				write!(f, "{}({})", stringify!($name), self.to_hex())
			}
		}

		#[cfg(feature = "serde")]
		impl serde::Serialize for $name {
			fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
				s.serialize_str(&self.to_hex())
			}
		}

		#[cfg(feature = "serde")]
		impl<'de> serde::Deserialize<'de> for $name {
			fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
				let s = <alloc::string::String as serde::Deserialize>::deserialize(d)?;
				Self::from_hex(&s).map_err(serde::de::Error::custom)
			}
		}

		impl core::str::FromStr for $name {
			type Err = ParseIdError;
			fn from_str(s: &str) -> Result<Self, Self::Err> {
				Self::from_hex(s)
			}
		}
	};
}

id32!(
	/// A file's id: the Merkle root over its slices ([`crate::merkle`]). Equal content gives
	/// equal ids; the chain keys files by (owner, id) so two owners never collide.
	FileId,
	"file id"
);
id32!(
	/// A slice's hash: the Merkle root over the slice's 64 KiB chunks, so a byte range or a
	/// storage challenge is proven without the whole slice.
	SliceHash,
	"slice hash"
);
id32!(
	/// A node's id: its ed25519 public key, which is also its libp2p identity and is
	/// registered on chain.
	NodeId,
	"node id"
);
id32!(
	/// A transfer task's id, issued by a meta node when it routes an upload or a download.
	TaskId,
	"task id"
);

/// A string that is not a valid 32-byte id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseIdError {
	/// Which kind of id was being parsed.
	pub what: &'static str,
	/// What was wrong.
	pub reason: &'static str,
}

impl fmt::Display for ParseIdError {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "invalid {}: {}", self.what, self.reason)
	}
}

#[cfg(feature = "std")]
impl std::error::Error for ParseIdError {}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn hex_round_trip_and_errors() {
		let id = FileId([0xab; 32]);
		let s = id.to_string();
		assert_eq!(s.len(), 64);
		assert_eq!(s.parse::<FileId>().unwrap(), id);
		assert_eq!(FileId::from_hex(&format!("0x{s}")).unwrap(), id);
		assert_eq!(FileId::from_hex("abc").unwrap_err().reason, "expected 64 hex digits");
		let bad = "zz".repeat(32);
		assert_eq!(FileId::from_hex(&bad).unwrap_err().reason, "not a hex digit");
		assert_eq!(
			NodeId::from_hex("00").unwrap_err().to_string(),
			"invalid node id: expected 64 hex digits"
		);
	}
}
