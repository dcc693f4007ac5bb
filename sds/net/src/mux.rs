//! yamux 0.13 as libp2p's stream muxer, with a frame size chosen here.
//!
//! libp2p-yamux 0.46 runs yamux 0.13 only with its default configuration (any setter switches
//! it to the legacy 0.12 implementation), and that default splits every write into data
//! frames of at most 16 KiB. Its connection task flushes after each frame, so each of those
//! became a noise frame and a system call of its own: a 64 KiB chunk went out as five sends
//! (the `Data` header, then four pieces). This upgrade builds the same 0.13 connection with
//! a frame large enough for a whole chunk.

use futures::{future, AsyncRead, AsyncWrite};
use libp2p::core::{
	muxing::{StreamMuxer, StreamMuxerEvent},
	upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo},
};
use std::{
	collections::VecDeque,
	io, iter,
	pin::Pin,
	task::{Context, Poll, Waker},
};

/// The largest data frame this side sends: a `Data` frame of a whole chunk fits. Peers accept
/// frame bodies of up to 1 MiB (yamux 0.13), and a frame never exceeds the stream's window.
pub const SPLIT_SEND_SIZE: usize = 128 << 10;

/// Inbound streams kept while nobody asks for them; beyond this new ones are dropped (the
/// remote stops opening streams at yamux's own backlog of 256 unacknowledged ones).
const MAX_PENDING_INBOUND: usize = 256;

/// The `/yamux/1.0.0` connection upgrade.
#[derive(Clone, Debug)]
pub struct Yamux(yamux::Config);

impl Yamux {
	/// yamux 0.13's defaults (512 streams, receive windows that grow with the measured round
	/// trip), reading after close refused as libp2p does, and frames of `split_send_size`.
	pub fn new(split_send_size: usize) -> Self {
		let mut cfg = yamux::Config::default();
		cfg.set_read_after_close(false);
		cfg.set_split_send_size(split_send_size);
		Self(cfg)
	}
}

impl Default for Yamux {
	fn default() -> Self {
		Self::new(SPLIT_SEND_SIZE)
	}
}

impl UpgradeInfo for Yamux {
	type Info = &'static str;
	type InfoIter = iter::Once<Self::Info>;

	fn protocol_info(&self) -> Self::InfoIter {
		iter::once("/yamux/1.0.0")
	}
}

impl<C> InboundConnectionUpgrade<C> for Yamux
where
	C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
	type Output = Muxer<C>;
	type Error = io::Error;
	type Future = future::Ready<Result<Muxer<C>, io::Error>>;

	fn upgrade_inbound(self, io: C, _: Self::Info) -> Self::Future {
		future::ready(Ok(Muxer::new(yamux::Connection::new(io, self.0, yamux::Mode::Server))))
	}
}

impl<C> OutboundConnectionUpgrade<C> for Yamux
where
	C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
	type Output = Muxer<C>;
	type Error = io::Error;
	type Future = future::Ready<Result<Muxer<C>, io::Error>>;

	fn upgrade_outbound(self, io: C, _: Self::Info) -> Self::Future {
		future::ready(Ok(Muxer::new(yamux::Connection::new(io, self.0, yamux::Mode::Client))))
	}
}

/// One yamux connection. yamux makes progress only in `poll_next_inbound`, which
/// [`StreamMuxer::poll`] drives; streams it opens meanwhile wait here for `poll_inbound`.
pub struct Muxer<C> {
	connection: yamux::Connection<C>,
	pending: VecDeque<yamux::Stream>,
	inbound_waker: Option<Waker>,
}

impl<C> Muxer<C> {
	fn new(connection: yamux::Connection<C>) -> Self {
		Self { connection, pending: VecDeque::new(), inbound_waker: None }
	}
}

/// A stream error as an I/O error (what libp2p's boxed muxer carries).
fn to_io(e: yamux::ConnectionError) -> io::Error {
	match e {
		yamux::ConnectionError::Io(e) => e,
		e => io::Error::other(e),
	}
}

impl<C> Muxer<C>
where
	C: AsyncRead + AsyncWrite + Unpin + 'static,
{
	fn next_inbound(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<yamux::Stream>> {
		match self.connection.poll_next_inbound(cx) {
			Poll::Ready(Some(r)) => Poll::Ready(r.map_err(to_io)),
			Poll::Ready(None) => Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
			Poll::Pending => Poll::Pending,
		}
	}
}

impl<C> StreamMuxer for Muxer<C>
where
	C: AsyncRead + AsyncWrite + Unpin + 'static,
{
	type Substream = yamux::Stream;
	type Error = io::Error;

	fn poll_inbound(
		self: Pin<&mut Self>,
		cx: &mut Context<'_>,
	) -> Poll<Result<Self::Substream, Self::Error>> {
		let this = self.get_mut();
		if let Some(s) = this.pending.pop_front() {
			return Poll::Ready(Ok(s));
		}
		if let Poll::Ready(r) = this.next_inbound(cx) {
			return Poll::Ready(r);
		}
		this.inbound_waker = Some(cx.waker().clone());
		Poll::Pending
	}

	fn poll_outbound(
		self: Pin<&mut Self>,
		cx: &mut Context<'_>,
	) -> Poll<Result<Self::Substream, Self::Error>> {
		self.get_mut().connection.poll_new_outbound(cx).map_err(to_io)
	}

	fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
		self.get_mut().connection.poll_close(cx).map_err(to_io)
	}

	fn poll(
		self: Pin<&mut Self>,
		cx: &mut Context<'_>,
	) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
		let this = self.get_mut();
		let stream = match this.next_inbound(cx) {
			Poll::Ready(r) => r?,
			Poll::Pending => return Poll::Pending,
		};
		if this.pending.len() < MAX_PENDING_INBOUND {
			this.pending.push_back(stream);
			if let Some(w) = this.inbound_waker.take() {
				w.wake();
			}
		} else {
			tracing::warn!(stream = %stream, "inbound stream dropped: too many waiting");
		}
		// Come back at once: the connection has more to do than this one stream.
		cx.waker().wake_by_ref();
		Poll::Pending
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::io::{read_frame, write_data};
	use futures::{future::poll_fn, AsyncWriteExt};
	use libp2p::core::muxing::StreamMuxerExt;
	use sds_core::wire::Frame;
	use std::sync::{
		atomic::{AtomicUsize, Ordering},
		Arc,
	};
	use stratos_primitives::merkle::CHUNK_SIZE;
	use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

	/// A connection's byte stream that counts the flushes of written bytes reaching it:
	/// under noise each one is a frame encrypted and a system call (a flush with nothing
	/// written since the last one costs neither).
	struct Counted {
		inner: Compat<tokio::io::DuplexStream>,
		flushes: Arc<AtomicUsize>,
		written: bool,
	}

	impl AsyncRead for Counted {
		fn poll_read(
			mut self: Pin<&mut Self>,
			cx: &mut Context<'_>,
			buf: &mut [u8],
		) -> Poll<io::Result<usize>> {
			Pin::new(&mut self.inner).poll_read(cx, buf)
		}
	}

	impl AsyncWrite for Counted {
		fn poll_write(
			mut self: Pin<&mut Self>,
			cx: &mut Context<'_>,
			buf: &[u8],
		) -> Poll<io::Result<usize>> {
			let r = Pin::new(&mut self.inner).poll_write(cx, buf);
			if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
				self.written = true;
			}
			r
		}
		fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
			if std::mem::take(&mut self.written) {
				self.flushes.fetch_add(1, Ordering::Relaxed);
			}
			Pin::new(&mut self.inner).poll_flush(cx)
		}
		fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
			Pin::new(&mut self.inner).poll_close(cx)
		}
	}

	/// Drives a muxer until its connection ends.
	async fn drive<C: AsyncRead + AsyncWrite + Unpin + 'static>(mut m: Muxer<C>) {
		while poll_fn(|cx| m.poll_unpin(cx)).await.is_ok() {}
	}

	/// Sends `chunks` chunk-sized `Data` frames on one stream through an upgrade with frames
	/// of `split` bytes; returns the flushes the sending side's connection made meanwhile,
	/// after checking that every frame arrived intact.
	async fn flushes_to_send(split: usize, chunks: usize) -> usize {
		let (a, b) = tokio::io::duplex(8 << 20);
		let flushes = Arc::new(AtomicUsize::new(0));
		let a = Counted { inner: a.compat(), flushes: flushes.clone(), written: false };
		let mut client = Yamux::new(split).upgrade_outbound(a, "/yamux/1.0.0").await.unwrap();
		let mut server =
			Yamux::new(split).upgrade_inbound(b.compat(), "/yamux/1.0.0").await.unwrap();
		let chunk =
			|k: usize| -> Vec<u8> { (0..CHUNK_SIZE as usize).map(|i| (i + k) as u8).collect() };
		let receiver = tokio::spawn(async move {
			let mut s = poll_fn(|cx| server.poll_inbound_unpin(cx)).await.unwrap();
			let driver = tokio::spawn(drive(server));
			for k in 0..chunks {
				assert_eq!(read_frame(&mut s, "client").await.unwrap(), Frame::Data(chunk(k)));
			}
			driver.abort();
		});
		let mut s = poll_fn(|cx| client.poll_outbound_unpin(cx)).await.unwrap();
		let driver = tokio::spawn(drive(client));
		let before = flushes.load(Ordering::Relaxed);
		let mut frame = Vec::new();
		for k in 0..chunks {
			write_data(&mut s, &mut frame, &chunk(k), "server").await.unwrap();
		}
		s.flush().await.unwrap();
		receiver.await.unwrap();
		let made = flushes.load(Ordering::Relaxed) - before;
		driver.abort();
		made
	}

	#[tokio::test]
	async fn a_chunk_goes_out_in_one_frame_and_one_flush() {
		// Window updates and the stream's opening add a few; yamux's default frame of 16 KiB
		// would make at least four per chunk.
		let chunks = 32;
		let ours = flushes_to_send(SPLIT_SEND_SIZE, chunks).await;
		assert!(ours <= chunks + chunks / 4, "{ours} flushes for {chunks} chunks");
		let default = flushes_to_send(16 << 10, chunks).await;
		assert!(default >= 4 * chunks, "{default} flushes with 16 KiB frames");
		eprintln!("{ours} flushes for {chunks} chunks; {default} with 16 KiB frames");
	}
}
