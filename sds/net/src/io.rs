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
		let mut body = vec![0u8; len];
		r.read_exact(&mut body).await.map_err(|source| Error::Io { peer: peer.into(), source })?;
		wire::decode_body_owned(body)
			.map_err(|e| Error::Protocol { peer: peer.into(), what: e.to_string() })
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

/// Writes a `Data` frame without copying the payload into a frame first.
pub async fn write_data<W: futures::AsyncWrite + Unpin>(
	w: &mut W,
	data: &[u8],
	peer: &str,
) -> Result<(), Error> {
	let header = wire::data_header(data.len());
	let fut = async {
		w.write_all(&header).await?;
		w.write_all(data).await
	};
	tokio::time::timeout(IDLE_TIMEOUT, fut)
		.await
		.map_err(|_| Error::Timeout { peer: peer.into(), secs: IDLE_TIMEOUT.as_secs() })?
		.map_err(|source| Error::Io { peer: peer.into(), source })
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
