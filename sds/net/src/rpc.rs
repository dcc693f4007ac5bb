//! One-shot request/response exchanges on a named protocol of the host: the opener writes
//! one message, the server answers one, each a 4-byte big-endian length and a body of at most
//! [`MAX_RPC_MESSAGE`] bytes. The meta API ([`sds_core::meta_api`]) runs on it; the bodies are
//! opaque here.

use crate::{Error, Host};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::StreamProtocol;
use sds_core::wire::Hop;
use std::time::Duration;
use stratos_primitives::NodeId;
use tokio::sync::{mpsc, oneshot};

/// Largest request or response body.
pub const MAX_RPC_MESSAGE: usize = 32 << 20;

/// How long a server may take to answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// A request received by [`Host::serve`].
pub struct Incoming {
	/// The sender: the node id of its libp2p identity (authenticated by the noise handshake).
	pub peer: Option<NodeId>,
	/// The request body.
	pub body: Vec<u8>,
	reply: oneshot::Sender<Vec<u8>>,
}

impl Incoming {
	/// Sends the answer (dropping an `Incoming` closes the stream without one).
	pub fn respond(self, body: Vec<u8>) {
		let _ = self.reply.send(body);
	}
}

async fn read_message<R: futures::AsyncRead + Unpin>(
	r: &mut R,
	peer: &str,
) -> Result<Vec<u8>, Error> {
	let mut header = [0u8; 4];
	r.read_exact(&mut header).await.map_err(|source| Error::Io { peer: peer.into(), source })?;
	let len = u32::from_be_bytes(header) as usize;
	if len > MAX_RPC_MESSAGE {
		return Err(Error::Protocol { peer: peer.into(), what: format!("message of {len} bytes") });
	}
	let mut body = vec![0u8; len];
	r.read_exact(&mut body).await.map_err(|source| Error::Io { peer: peer.into(), source })?;
	Ok(body)
}

async fn write_message<W: futures::AsyncWrite + Unpin>(
	w: &mut W,
	body: &[u8],
	peer: &str,
) -> Result<(), Error> {
	if body.len() > MAX_RPC_MESSAGE {
		return Err(Error::Protocol {
			peer: peer.into(),
			what: "message too large to send".into(),
		});
	}
	let io = |source| Error::Io { peer: peer.into(), source };
	w.write_all(&(body.len() as u32).to_be_bytes()).await.map_err(io)?;
	w.write_all(body).await.map_err(io)?;
	w.flush().await.map_err(io)
}

impl Host {
	/// Sends `body` to `hop` on `protocol` and returns its answer, within `timeout`.
	pub async fn request(
		&self,
		hop: &Hop,
		protocol: &'static str,
		body: &[u8],
		timeout: Duration,
	) -> Result<Vec<u8>, Error> {
		let fut = async {
			let (mut stream, label) =
				self.open_protocol(hop, StreamProtocol::new(protocol)).await?;
			write_message(&mut stream, body, &label).await?;
			let answer = read_message(&mut stream, &label).await?;
			let _ = stream.close().await;
			Ok(answer)
		};
		tokio::time::timeout(timeout, fut).await.map_err(|_| Error::Timeout {
			peer: format!("node {}", &hop.node.to_hex()[..16]),
			secs: timeout.as_secs(),
		})?
	}

	/// Serves `protocol`: every request arrives on the returned channel (at most `queue`
	/// waiting; further streams are closed unanswered) and is answered with
	/// [`Incoming::respond`].
	pub fn serve(
		&self,
		protocol: &'static str,
		queue: usize,
	) -> Result<mpsc::Receiver<Incoming>, Error> {
		let mut incoming = self
			.inner
			.control
			.clone()
			.accept(StreamProtocol::new(protocol))
			.map_err(|_| Error::Start(format!("protocol {protocol} already served")))?;
		let (tx, rx) = mpsc::channel(queue.max(1));
		let task = tokio::spawn(async move {
			while let Some((peer, mut stream)) = incoming.next().await {
				let Ok(permit) = tx.clone().try_reserve_owned() else {
					tracing::warn!(%peer, "request queue full; dropping a request");
					continue;
				};
				tokio::spawn(async move {
					let label = format!("peer {peer}");
					let body = match tokio::time::timeout(
						crate::io::IDLE_TIMEOUT,
						read_message(&mut stream, &label),
					)
					.await
					{
						Ok(Ok(b)) => b,
						Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "bad request"),
						Err(_) => return,
					};
					let (reply, answer) = oneshot::channel();
					permit.send(Incoming { peer: crate::node_of_peer(&peer), body, reply });
					if let Ok(Ok(bytes)) = tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
						let _ = write_message(&mut stream, &bytes, &label).await;
					}
					let _ = stream.close().await;
				});
			}
		});
		self.inner.tasks.lock().expect("lock").push(task.abort_handle());
		Ok(rx)
	}
}
