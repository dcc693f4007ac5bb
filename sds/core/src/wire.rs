//! The slice transfer protocol's frames.
//!
//! A frame on the wire is a 4-byte big-endian body length followed by the SCALE-encoded
//! [`Frame`]. Bodies larger than [`MAX_FRAME`] are refused before anything is buffered;
//! decoded frames are checked against the protocol limits ([`Frame::check_limits`]). A peer
//! that sends either is disconnected.
//!
//! Exchanges, one per stream (the opener speaks first):
//!
//! ```text
//! put:  → Put{task, slice_len, forward}  → Data* (≤ 64 KiB each)  → PutEnd{slice}
//!       ← PutAck{slice, holders} | Error         (after every hop holds it durably)
//! get:  → Get{task, period, client, slice, offset, length}
//!       ← GetHeader{slice_len, chunk_hashes}  ← Data*  ← GetEnd{receipt, node_signature}
//!       → Countersign{client_signature}                                  | ← Error
//! has:  → Has{slice}  ← HasReply{len}
//! ```
//!
//! Added in place of `Put` and `Get` where a meta node authorises the transfer (ADR 0011):
//! `PutAuthorized{req, auth}` is answered with `PutAcks{slice, acks}` (a signed store
//! acknowledgement per holder) and `GetTicketed{req, ticket}` runs like `Get`. New frames are
//! appended, so the encoding of the older ones never changes. `Delete{slices}` (from an
//! active meta node) is answered with `Deleted{count}`; `Copy{auth, target, slices}` (a
//! meta node's repair order, also only from an active meta node) makes the node put the
//! slices from its store to `target` under `auth` and answer `Copied{acks}`.
//!
//! Data frames of a get are whole chunks of the slice (the first and last may be cut to the
//! requested range), so the client verifies each one against the chunk hashes, and those
//! against the slice hash, as it arrives.

use crate::Error;
use codec::{Decode, DecodeAll, Encode};
use stratos_primitives::{
	merkle::CHUNK_SIZE,
	meta::{SignedStoreAck, SignedTicket, SignedUploadAuth, MAX_HOLDERS},
	receipt::{SignedReceipt, TaskReceipt},
	Hash, NodeId, SliceHash, TaskId,
};

/// Largest frame body in bytes: a full chunk plus headroom, or the chunk hashes of the
/// largest slice.
pub const MAX_FRAME: usize = CHUNK_SIZE as usize + 4096;
/// Most nodes a put may be forwarded to after the first.
pub const MAX_HOPS: usize = 7;
/// Most addresses per hop.
pub const MAX_ADDRS: usize = 4;
/// Longest address string.
pub const MAX_ADDR_LEN: usize = 256;
/// Longest error message.
pub const MAX_MESSAGE_LEN: usize = 1024;
/// Most chunk hashes in a get header (a 64 MiB slice).
pub const MAX_CHUNKS: usize = (crate::slicing::MAX_SLICE_SIZE / CHUNK_SIZE as u64) as usize;

/// A node to forward a put to: its id (ed25519 key = libp2p identity) and where to dial it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Hop {
	/// The node's id.
	pub node: NodeId,
	/// Multiaddresses, as text.
	pub addrs: Vec<String>,
}

/// Store a slice, then forward it along `forward`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PutRequest {
	/// Task id from the meta node (all zero when uploading without one).
	pub task: TaskId,
	/// Exact number of bytes that follow in data frames.
	pub slice_len: u64,
	/// The nodes after this one, in order: this node forwards to the first and passes it
	/// the rest.
	pub forward: Vec<Hop>,
}

/// Read a byte range of a slice.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct GetRequest {
	/// Task id from the meta node.
	pub task: TaskId,
	/// Ledger period of the task.
	pub ledger_period: u32,
	/// The client's account (sr25519 public key) that will countersign the receipt.
	pub client: [u8; 32],
	/// Slice to read.
	pub slice: SliceHash,
	/// First byte within the slice.
	pub offset: u64,
	/// Bytes to read (`u64::MAX` reads to the end).
	pub length: u64,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum ErrorCode {
	/// The node does not hold the slice.
	NotFound,
	/// The node's copy failed verification; it is not served.
	Corrupt,
	/// Storing the slice would exceed the node's declared capacity.
	CapacityExceeded,
	/// The node's disk is full.
	DiskFull,
	/// The request is malformed or breaks a limit.
	BadRequest,
	/// The bytes received do not hash to the slice hash claimed.
	HashMismatch,
	/// A node further along the forward chain failed.
	ForwardFailed,
	/// The client has a receipt it did not countersign.
	ReceiptRequired,
	/// Anything else on the node's side.
	Internal,
}

/// One protocol message.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Frame {
	/// Opens a put.
	Put(PutRequest),
	/// Opens a get.
	Get(GetRequest),
	/// Asks whether the node holds a slice.
	Has {
		/// The slice.
		slice: SliceHash,
	},
	/// Slice bytes.
	Data(Vec<u8>),
	/// Ends a put's data, naming the hash the bytes must have.
	PutEnd {
		/// Claimed slice hash.
		slice: SliceHash,
	},
	/// Every node of the chain holds the slice durably.
	PutAck {
		/// The slice.
		slice: SliceHash,
		/// Nodes holding it, this one first.
		holders: Vec<NodeId>,
	},
	/// Starts a get's answer.
	GetHeader {
		/// Whole slice length.
		slice_len: u64,
		/// Data hashes of all the slice's chunks.
		chunk_hashes: Vec<Hash>,
	},
	/// Ends a get's data with the node's signed receipt.
	GetEnd {
		/// What was served.
		receipt: TaskReceipt,
		/// The node's ed25519 signature over the receipt.
		node_signature: [u8; 64],
	},
	/// The client's countersignature of the last receipt.
	Countersign {
		/// sr25519 signature over the receipt and the node's signature.
		client_signature: [u8; 64],
	},
	/// Answer to `Has`: the slice's length if held and intact.
	HasReply {
		/// Length, or `None` when not held.
		len: Option<u64>,
	},
	/// The request failed.
	Error {
		/// Machine-readable reason.
		code: ErrorCode,
		/// Human-readable detail.
		message: String,
	},
	/// Opens a put that a meta node authorised (ADR 0011); forwarded with the same
	/// authorisation. Answered with [`Frame::PutAcks`].
	PutAuthorized {
		/// The put.
		req: PutRequest,
		/// The meta node's signed placement naming this node.
		auth: SignedUploadAuth,
	},
	/// Every node of an authorised put's chain holds the slice durably: one signed store
	/// acknowledgement per node, this one first.
	PutAcks {
		/// The slice.
		slice: SliceHash,
		/// The acknowledgements.
		acks: Vec<SignedStoreAck>,
	},
	/// Opens a get against a meta node's ticket; the receipt carries the ticket's task id
	/// and ledger period.
	GetTicketed {
		/// The range wanted (task, period, client and slice must be the ticket's).
		req: GetRequest,
		/// The signed ticket naming this node.
		ticket: SignedTicket,
		/// The client's sr25519 signature over
		/// `client_request_payload(genesis, client, 0, SCALE(req))`: only the ticket's client
		/// redeems it.
		client_signature: [u8; 64],
	},
	/// A meta node's order to drop slices no file on this node needs any more (the sender
	/// must be an active meta node, authenticated by the transport).
	Delete {
		/// The slices.
		slices: Vec<SliceHash>,
	},
	/// Answer to `Delete`: how many of the slices were held and are now gone.
	Deleted {
		/// Slices removed.
		count: u32,
	},
	/// A meta node's repair order (whitepaper §4.2.4; the sender must be an active meta
	/// node, authenticated by the transport): send these slices from this node's store to
	/// `target` under `auth` (which names `target` as the only holder). Answered with
	/// [`Frame::Copied`] once the target acknowledged every slice, or an error.
	Copy {
		/// The meta node's authorisation for the target.
		auth: SignedUploadAuth,
		/// The node to copy to.
		target: Hop,
		/// The slices and their lengths.
		slices: Vec<(SliceHash, u64)>,
	},
	/// Answer to `Copy`: the target's signed store acknowledgement of each slice.
	Copied {
		/// The acknowledgements, in the order of the slices.
		acks: Vec<SignedStoreAck>,
	},
	/// Countersigned receipts of earlier gets whose countersignature may not have reached
	/// this node (the stream dropped after `GetEnd`): a client owing receipts settles them
	/// and is served again. Answered with [`Frame::Settled`].
	Settle {
		/// The receipts, each with the node's and the client's signature.
		receipts: Vec<SignedReceipt>,
	},
	/// Like `Has`, but the node first reads the whole slice against its hashes (a corrupt
	/// copy is quarantined and answered as not held). Answered with `HasReply`.
	Check {
		/// The slice.
		slice: SliceHash,
	},
	/// Answer to `Settle`.
	Settled {
		/// Receipts that were outstanding here and are now stored.
		accepted: u32,
		/// Receipts the sender still owes this node.
		outstanding: u32,
	},
}

/// Most receipts in one `Settle`.
pub const MAX_SETTLE: usize = 64;

/// Most slices in one delete order.
pub const MAX_DELETE: usize = 4096;
/// Most slices in one copy order (their acknowledgements fit in one frame).
pub const MAX_COPY: usize = 64;

impl Frame {
	/// Builds an error frame, cutting the message to the limit.
	pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
		let mut message = message.into();
		if message.len() > MAX_MESSAGE_LEN {
			let mut cut = MAX_MESSAGE_LEN;
			while !message.is_char_boundary(cut) {
				cut -= 1;
			}
			message.truncate(cut);
		}
		Frame::Error { code, message }
	}

	/// Checks the limits a decoded frame must respect.
	pub fn check_limits(&self) -> Result<(), Error> {
		match self {
			Frame::Put(p) => {
				if p.forward.len() > MAX_HOPS {
					return Err(Error::Limit("too many forward hops"));
				}
				for hop in &p.forward {
					if hop.addrs.len() > MAX_ADDRS
						|| hop.addrs.iter().any(|a| a.len() > MAX_ADDR_LEN)
					{
						return Err(Error::Limit("too many or too long hop addresses"));
					}
				}
				if p.slice_len > crate::slicing::MAX_SLICE_SIZE {
					return Err(Error::Limit("slice larger than 64 MiB"));
				}
			},
			Frame::Data(d) if d.len() > CHUNK_SIZE as usize => {
				return Err(Error::Limit("data frame larger than a chunk"))
			},
			Frame::PutAck { holders, .. } if holders.len() > MAX_HOPS + 1 => {
				return Err(Error::Limit("too many holders"))
			},
			Frame::Delete { slices } if slices.len() > MAX_DELETE => {
				return Err(Error::Limit("too many slices in a delete order"))
			},
			Frame::PutAcks { acks, .. } if acks.len() > MAX_HOPS + 1 => {
				return Err(Error::Limit("too many acknowledgements"))
			},
			Frame::PutAuthorized { req, auth } => {
				if auth.auth.holders.len() > MAX_HOLDERS {
					return Err(Error::Limit("too many holders"));
				}
				Frame::Put(req.clone()).check_limits()?;
			},
			Frame::Copy { auth, target, slices } => {
				if auth.auth.holders.len() > MAX_HOLDERS || slices.len() > MAX_COPY {
					return Err(Error::Limit("too many holders or slices in a copy order"));
				}
				if target.addrs.len() > MAX_ADDRS
					|| target.addrs.iter().any(|a| a.len() > MAX_ADDR_LEN)
				{
					return Err(Error::Limit("too many or too long target addresses"));
				}
				if slices.iter().any(|(_, len)| *len > crate::slicing::MAX_SLICE_SIZE) {
					return Err(Error::Limit("slice larger than 64 MiB"));
				}
			},
			Frame::Copied { acks } if acks.len() > MAX_COPY => {
				return Err(Error::Limit("too many acknowledgements"))
			},
			Frame::Settle { receipts } if receipts.len() > MAX_SETTLE => {
				return Err(Error::Limit("too many receipts to settle"))
			},
			Frame::GetHeader { chunk_hashes, .. } if chunk_hashes.len() > MAX_CHUNKS => {
				return Err(Error::Limit("too many chunk hashes"))
			},
			Frame::Error { message, .. } if message.len() > MAX_MESSAGE_LEN => {
				return Err(Error::Limit("error message too long"))
			},
			_ => {},
		}
		Ok(())
	}

	/// The frame with its length prefix, ready to write.
	pub fn to_bytes(&self) -> Vec<u8> {
		let body_len = self.size_hint();
		let mut out = Vec::with_capacity(4 + body_len);
		out.extend_from_slice(&[0; 4]);
		self.encode_to(&mut out);
		let len = (out.len() - 4) as u32;
		out[..4].copy_from_slice(&len.to_be_bytes());
		out
	}
}

/// Checks a frame's 4-byte length prefix; returns the body length.
pub fn parse_header(header: [u8; 4]) -> Result<usize, Error> {
	let len = u32::from_be_bytes(header) as usize;
	if len > MAX_FRAME {
		return Err(Error::FrameTooLarge(len));
	}
	Ok(len)
}

/// Decodes a frame body (without its length prefix) and checks its limits. Trailing bytes
/// are an error.
pub fn decode_body(body: &[u8]) -> Result<Frame, Error> {
	if body.len() > MAX_FRAME {
		return Err(Error::FrameTooLarge(body.len()));
	}
	let frame = Frame::decode_all(&mut &body[..]).map_err(|e| Error::Undecodable(e.to_string()))?;
	frame.check_limits()?;
	Ok(frame)
}

/// SCALE variant index of [`Frame::Data`].
const DATA_INDEX: u8 = 3;

/// The length prefix and SCALE header of a `Data` frame carrying `len` bytes; written before
/// the payload itself so data is never copied into a frame.
pub fn data_header(len: usize) -> Vec<u8> {
	let mut h = Vec::with_capacity(4 + 1 + 5);
	h.extend_from_slice(&[0; 4]);
	h.push(DATA_INDEX);
	codec::Compact(len as u32).encode_to(&mut h);
	let body_len = (h.len() - 4 + len) as u32;
	h[..4].copy_from_slice(&body_len.to_be_bytes());
	h
}

/// The longest SCALE header of a `Data` frame body: the variant index and a compact length
/// of at most 4 bytes (a chunk is below 2^30 bytes).
pub const DATA_PREFIX_MAX: usize = 1 + 4;

/// From the first two bytes of a frame body of `body_len` bytes: the length of its SCALE
/// header if it is a `Data` frame (`None` for any other frame); an error if that header
/// would not even fit in the body. A reader then reads the rest of the header, asks
/// [`data_payload_len`] for the payload's length and reads the payload straight into a
/// buffer of exactly that size, so data is never moved out of a frame buffer.
pub fn data_prefix_len(first_two: [u8; 2], body_len: usize) -> Result<Option<usize>, Error> {
	if first_two[0] != DATA_INDEX {
		return Ok(None);
	}
	let prefix = match first_two[1] & 0b11 {
		0b00 => 1 + 1,
		0b01 => 1 + 2,
		0b10 => 1 + 4,
		_ => return Err(Error::Limit("data frame larger than a chunk")),
	};
	if prefix > body_len {
		return Err(Error::Undecodable("data frame header cut short".into()));
	}
	Ok(Some(prefix))
}

/// The payload length of a `Data` frame whose body is `body_len` bytes and starts with
/// `prefix` (its whole SCALE header, [`data_prefix_len`] bytes); checks that the two agree
/// and that the payload fits in a chunk.
pub fn data_payload_len(prefix: &[u8], body_len: usize) -> Result<usize, Error> {
	if prefix.first() != Some(&DATA_INDEX) {
		return Err(Error::Undecodable("not a data frame".into()));
	}
	let mut rest = &prefix[1..];
	let len = codec::Compact::<u32>::decode(&mut rest)
		.map_err(|e| Error::Undecodable(e.to_string()))?
		.0 as usize;
	if !rest.is_empty() || body_len.checked_sub(prefix.len()) != Some(len) {
		return Err(Error::Undecodable("data frame length does not match its body".into()));
	}
	if len > CHUNK_SIZE as usize {
		return Err(Error::Limit("data frame larger than a chunk"));
	}
	Ok(len)
}

/// Splits a byte stream into frames; holds at most one frame's bytes.
#[derive(Debug, Default)]
pub struct Decoder {
	buf: Vec<u8>,
	start: usize,
}

impl Decoder {
	/// An empty decoder.
	pub fn new() -> Self {
		Self::default()
	}

	/// Appends bytes read from the peer.
	pub fn push(&mut self, bytes: &[u8]) {
		if self.start > 0 && self.start >= self.buf.len() / 2 {
			self.buf.drain(..self.start);
			self.start = 0;
		}
		self.buf.extend_from_slice(bytes);
	}

	/// Bytes buffered but not yet returned as frames.
	pub fn buffered(&self) -> usize {
		self.buf.len() - self.start
	}

	/// The next complete frame, `Ok(None)` if more bytes are needed, or an error after which
	/// the stream must be dropped.
	pub fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
		let avail = &self.buf[self.start..];
		if avail.len() < 4 {
			return Ok(None);
		}
		let len = parse_header([avail[0], avail[1], avail[2], avail[3]])?;
		if avail.len() < 4 + len {
			return Ok(None);
		}
		let frame = decode_body(&avail[4..4 + len])?;
		self.start += 4 + len;
		Ok(Some(frame))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use proptest::prelude::*;

	fn samples() -> Vec<Frame> {
		vec![
			Frame::Put(PutRequest {
				task: TaskId([1; 32]),
				slice_len: 5,
				forward: vec![Hop {
					node: NodeId([2; 32]),
					addrs: vec!["/ip4/127.0.0.1/tcp/1".into()],
				}],
			}),
			Frame::Data(vec![7; 1000]),
			Frame::PutEnd { slice: SliceHash([3; 32]) },
			Frame::HasReply { len: Some(9) },
			Frame::error(ErrorCode::NotFound, "no such slice"),
		]
	}

	#[test]
	fn frames_round_trip_through_any_split() {
		let bytes: Vec<u8> = samples().iter().flat_map(|f| f.to_bytes()).collect();
		for step in [1, 3, 7, 100, bytes.len()] {
			let mut d = Decoder::new();
			let mut out = vec![];
			for piece in bytes.chunks(step) {
				d.push(piece);
				while let Some(f) = d.next_frame().unwrap() {
					out.push(f);
				}
			}
			assert_eq!(out, samples(), "step {step}");
			assert_eq!(d.buffered(), 0);
		}
	}

	#[test]
	fn oversized_frames_are_refused_from_the_header() {
		let mut d = Decoder::new();
		d.push(&((MAX_FRAME + 1) as u32).to_be_bytes());
		assert_eq!(d.next_frame(), Err(Error::FrameTooLarge(MAX_FRAME + 1)));
		let big = Frame::Data(vec![0; CHUNK_SIZE as usize + 1]);
		let mut d = Decoder::new();
		d.push(&big.to_bytes());
		assert_eq!(d.next_frame(), Err(Error::Limit("data frame larger than a chunk")));
	}

	#[test]
	fn garbage_and_trailing_bytes_are_errors() {
		assert!(matches!(decode_body(&[0xff, 1, 2]), Err(Error::Undecodable(_))));
		let mut body = Frame::PutEnd { slice: SliceHash([0; 32]) }.encode();
		body.push(0);
		assert!(matches!(decode_body(&body), Err(Error::Undecodable(_))));
		let hops = (0..=MAX_HOPS).map(|_| Hop { node: NodeId([0; 32]), addrs: vec![] }).collect();
		let p = Frame::Put(PutRequest { task: TaskId([0; 32]), slice_len: 1, forward: hops });
		assert_eq!(decode_body(&p.encode()), Err(Error::Limit("too many forward hops")));
	}

	#[test]
	fn data_fast_paths_match_the_generic_encoding() {
		for len in [0usize, 1, 63, 64, 16383, 16384, CHUNK_SIZE as usize] {
			let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
			let frame = Frame::Data(payload.clone());
			let mut manual = data_header(len);
			manual.extend_from_slice(&payload);
			assert_eq!(manual, frame.to_bytes(), "len {len}");
			let body = &manual[4..];
			let p = data_prefix_len([body[0], body[1]], body.len()).unwrap().expect("a data frame");
			assert!(p <= DATA_PREFIX_MAX);
			assert_eq!(data_payload_len(&body[..p], body.len()), Ok(len), "len {len}");
			assert_eq!(&body[p..], &payload[..]);
		}
		// A header that claims more or fewer bytes than the body has.
		let short = data_header(10);
		let p = data_prefix_len([short[4], short[5]], short.len() - 4).unwrap().unwrap();
		assert!(data_payload_len(&short[4..4 + p], p + 9).is_err());
		assert!(data_payload_len(&short[4..4 + p], p + 11).is_err());
		assert!(data_payload_len(&short[4..4 + p], p - 1).is_err());
		// Larger than a chunk, in the 4-byte and in the big-integer compact form.
		let big = data_header(CHUNK_SIZE as usize + 1);
		let p = data_prefix_len([big[4], big[5]], big.len() - 4).unwrap().unwrap();
		assert_eq!(
			data_payload_len(&big[4..4 + p], p + CHUNK_SIZE as usize + 1),
			Err(Error::Limit("data frame larger than a chunk"))
		);
		assert_eq!(
			data_prefix_len([DATA_INDEX, 0b11], 100),
			Err(Error::Limit("data frame larger than a chunk"))
		);
		// A header longer than its body (a 2-byte body announcing a 4-byte length).
		assert!(matches!(data_prefix_len([DATA_INDEX, 0b10], 2), Err(Error::Undecodable(_))));
		// Any other frame is not taken for data.
		let end = Frame::PutEnd { slice: SliceHash([1; 32]) }.encode();
		assert_eq!(data_prefix_len([end[0], end[1]], end.len()), Ok(None));
	}

	#[test]
	fn long_error_messages_are_cut_on_a_char_boundary() {
		let f = Frame::error(ErrorCode::Internal, "é".repeat(MAX_MESSAGE_LEN));
		assert!(f.check_limits().is_ok());
	}

	proptest! {
		#[test]
		fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
			let mut d = Decoder::new();
			d.push(&bytes);
			for _ in 0..64 {
				match d.next_frame() { Ok(Some(_)) => {}, _ => break }
			}
		}
	}
}
