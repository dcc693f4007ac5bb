//! Reading and writing frames on a stream, with timeouts.

use crate::Error;
use futures::{AsyncReadExt, AsyncWriteExt};
use sds_core::wire::{self, Frame};
use std::time::Duration;

/// How long a peer may stay silent in the middle of an exchange.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the acknowledgement of a put may take: every node of the chain fsyncs first.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn read_frame<R: futures::AsyncRead + Unpin>(
	r: &mut R,
	peer: &str,
) -> Result<Frame, Error> {
	read_frame_within(r, peer, IDLE_TIMEOUT).await
}

pub async fn read_frame_within<R: futures::AsyncRead + Unpin>(
	r: &mut R,
	peer: &str,
	timeout: Duration,
) -> Result<Frame, Error> {
	let fut = async {
		let mut header = [0u8; 4];
		r.read_exact(&mut header)
			.await
			.map_err(|source| Error::Io { peer: peer.into(), source })?;
		let len = wire::parse_header(header)
			.map_err(|e| Error::Protocol { peer: peer.into(), what: e.to_string() })?;
		let io = |source| Error::Io { peer: peer.into(), source };
		let protocol =
			|e: sds_core::Error| Error::Protocol { peer: peer.into(), what: e.to_string() };
		// A `Data` frame's payload is read into a buffer of exactly its size (it goes on to
		// the store, the next hop or the output without being moved); other frames whole.
		let mut start = [0u8; wire::DATA_PREFIX_MAX];
		if len >= 2 {
			r.read_exact(&mut start[..2]).await.map_err(io)?;
			if let Some(p) = wire::data_prefix_len([start[0], start[1]], len).map_err(protocol)? {
				r.read_exact(&mut start[2..p]).await.map_err(io)?;
				let n = wire::data_payload_len(&start[..p], len).map_err(protocol)?;
				let mut payload = vec![0u8; n];
				r.read_exact(&mut payload).await.map_err(io)?;
				return Ok(Frame::Data(payload));
			}
		}
		let mut body = vec![0u8; len];
		let have = if len >= 2 { 2 } else { 0 };
		body[..have].copy_from_slice(&start[..have]);
		r.read_exact(&mut body[have..]).await.map_err(io)?;
		wire::decode_body(&body).map_err(protocol)
	};
	tokio::time::timeout(timeout, fut)
		.await
		.map_err(|_| Error::Timeout { peer: peer.into(), secs: timeout.as_secs() })?
}

pub async fn write_frame<W: futures::AsyncWrite + Unpin>(
	w: &mut W,
	f: &Frame,
	peer: &str,
) -> Result<(), Error> {
	let bytes = f.to_bytes();
	let fut = async {
		w.write_all(&bytes).await.map_err(|source| Error::Io { peer: peer.into(), source })
	};
	tokio::time::timeout(IDLE_TIMEOUT, fut)
		.await
		.map_err(|_| Error::Timeout { peer: peer.into(), secs: IDLE_TIMEOUT.as_secs() })?
}

/// Lays out a `Data` frame of `n` payload bytes in `frame` (its allocation reused, and not
/// zeroed again when the length is the same as last time) and returns the payload for the
/// caller to fill.
pub fn data_frame(frame: &mut Vec<u8>, n: usize) -> &mut [u8] {
	let header = wire::data_header(n);
	let h = header.len();
	if frame.len() != h + n {
		frame.resize(h + n, 0);
	}
	frame[..h].copy_from_slice(&header);
	&mut frame[h..]
}

/// Writes a frame's bytes with one write. The multiplexer sends each write as a frame of
/// its own (up to [`crate::mux::SPLIT_SEND_SIZE`]) and flushes after each, one system call:
/// a chunk's header and payload written apart cost two.
pub async fn write_bytes<W: futures::AsyncWrite + Unpin>(
	w: &mut W,
	bytes: &[u8],
	peer: &str,
) -> Result<(), Error> {
	tokio::time::timeout(IDLE_TIMEOUT, w.write_all(bytes))
		.await
		.map_err(|_| Error::Timeout { peer: peer.into(), secs: IDLE_TIMEOUT.as_secs() })?
		.map_err(|source| Error::Io { peer: peer.into(), source })
}

/// Writes a `Data` frame of `data`, laid out in `frame` first (see [`write_bytes`]).
pub async fn write_data<W: futures::AsyncWrite + Unpin>(
	w: &mut W,
	frame: &mut Vec<u8>,
	data: &[u8],
	peer: &str,
) -> Result<(), Error> {
	data_frame(frame, data.len()).copy_from_slice(data);
	write_bytes(w, frame, peer).await
}

pub async fn flush<W: futures::AsyncWrite + Unpin>(w: &mut W, peer: &str) -> Result<(), Error> {
	w.flush().await.map_err(|source| Error::Io { peer: peer.into(), source })
}

/// Turns an error frame into an error; anything else unexpected is a protocol error.
pub fn unexpected(f: Frame, peer: &str, expected: &str) -> Error {
	match f {
		Frame::Error { code, message } => Error::Remote { peer: peer.into(), code, message },
		other => Error::Protocol {
			peer: peer.into(),
			what: format!("expected {expected}, got {}", frame_name(&other)),
		},
	}
}

pub fn frame_name(f: &Frame) -> &'static str {
	match f {
		Frame::Put(_) => "Put",
		Frame::Get(_) => "Get",
		Frame::Has { .. } => "Has",
		Frame::Data(_) => "Data",
		Frame::PutEnd { .. } => "PutEnd",
		Frame::PutAck { .. } => "PutAck",
		Frame::GetHeader { .. } => "GetHeader",
		Frame::GetEnd { .. } => "GetEnd",
		Frame::Countersign { .. } => "Countersign",
		Frame::HasReply { .. } => "HasReply",
		Frame::Error { .. } => "Error",
		Frame::PutAuthorized { .. } => "PutAuthorized",
		Frame::PutAcks { .. } => "PutAcks",
		Frame::GetTicketed { .. } => "GetTicketed",
		Frame::Delete { .. } => "Delete",
		Frame::Deleted { .. } => "Deleted",
		Frame::Copy { .. } => "Copy",
		Frame::Copied { .. } => "Copied",
		Frame::Settle { .. } => "Settle",
		Frame::Settled { .. } => "Settled",
		Frame::Check { .. } => "Check",
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use sds_core::{
		primitives::{merkle::CHUNK_SIZE, SliceHash},
		wire::{data_header, ErrorCode},
	};

	async fn read_all(bytes: Vec<u8>) -> Vec<Result<Frame, Error>> {
		let mut r = futures::io::Cursor::new(bytes);
		let mut out = Vec::new();
		loop {
			let f = read_frame(&mut r, "peer").await;
			let stop = matches!(f, Err(Error::Io { .. }));
			out.push(f);
			if stop {
				return out;
			}
		}
	}

	#[tokio::test]
	async fn frames_read_back_as_written_data_payloads_whole() {
		let frames = [
			Frame::Data(vec![]),
			Frame::Data(vec![7]),
			Frame::PutEnd { slice: SliceHash([3; 32]) },
			Frame::Data((0..CHUNK_SIZE).map(|i| (i % 251) as u8).collect()),
			Frame::error(ErrorCode::NotFound, "no"),
			Frame::Data(vec![9; 16384]),
		];
		let bytes: Vec<u8> = frames.iter().flat_map(|f| f.to_bytes()).collect();
		let got = read_all(bytes).await;
		assert_eq!(got.len(), frames.len() + 1, "then the end of the stream");
		for (want, got) in frames.iter().zip(&got) {
			assert_eq!(got.as_ref().ok(), Some(want));
		}
	}

	#[tokio::test]
	async fn data_frames_laid_out_in_a_reused_buffer_are_the_frames_themselves() {
		// Lengths that change the header's size (1, 2 and 4 byte compact lengths) and the
		// buffer's (growing and shrinking): each write is exactly that chunk's frame.
		let mut frame = Vec::new();
		for n in [CHUNK_SIZE as usize, 7, 0, 16384, 63, CHUNK_SIZE as usize, 1] {
			let data: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
			let mut out = futures::io::Cursor::new(Vec::new());
			write_data(&mut out, &mut frame, &data, "peer").await.unwrap();
			assert_eq!(out.into_inner(), Frame::Data(data.clone()).to_bytes(), "{n} bytes");
			// Filled in place, as a put fills it from its source.
			data_frame(&mut frame, n).copy_from_slice(&data);
			assert_eq!(frame, Frame::Data(data).to_bytes(), "{n} bytes, in place");
		}
	}

	#[tokio::test]
	async fn a_data_header_that_disagrees_with_the_frame_length_is_refused() {
		for extra in [-2i64, 2] {
			// A frame 12 bytes long whose data header claims 10 (or 8 claiming 10).
			let mut frame = data_header(10);
			let body_len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as i64 + extra;
			frame[..4].copy_from_slice(&(body_len as u32).to_be_bytes());
			frame.resize(4 + body_len as usize, 1);
			let got = read_all(frame).await;
			assert!(matches!(got[0], Err(Error::Protocol { .. })), "extra {extra}: {:?}", got[0]);
		}
		// Bodies shorter than a data header are bad frames, not a reason to read past them:
		// the next frame is read where it starts.
		let next = Frame::PutEnd { slice: SliceHash([5; 32]) };
		for body in [vec![3u8], vec![3, 0b10]] {
			let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
			bytes.extend(&body);
			bytes.extend(next.to_bytes());
			let got = read_all(bytes).await;
			assert!(matches!(got[0], Err(Error::Protocol { .. })), "{body:?}: {:?}", got[0]);
			assert_eq!(got[1].as_ref().ok(), Some(&next), "{body:?}");
		}
	}
}
