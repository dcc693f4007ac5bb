//! Serving puts, gets and has-queries from the node's store.

use crate::{
	host::{chunk_span, Host, Inner},
	io::{flush, read_frame, read_frame_within, unexpected, write_data, write_frame, ACK_TIMEOUT},
	owing::Debtor,
	Error,
};
use futures::{AsyncWriteExt, StreamExt};
use libp2p::PeerId;
use sds_core::wire::{ErrorCode, Frame, GetRequest, PutRequest};
use std::{
	sync::{atomic::Ordering, Arc, Weak},
	time::Instant,
};
use stratos_primitives::{
	merkle::CHUNK_SIZE,
	meta::{SignedStoreAck, SignedTicket, SignedUploadAuth, StoreAck, UploadAuth},
	receipt::{SignedReceipt, TaskReceipt},
	SliceHash, TaskId,
};

pub(crate) async fn accept_loop(host: Weak<Inner>, mut incoming: libp2p_stream::IncomingStreams) {
	while let Some((peer, stream)) = incoming.next().await {
		let Some(inner) = host.upgrade() else { break };
		let registered = match (&inner.gate, crate::node_of_peer(&peer)) {
			(Some(g), Some(node)) => g.is_meta(&node) || g.is_resource_node(&node),
			_ => false,
		};
		let Some(admission) = Admission::new(&inner, peer, registered) else {
			inner.metrics.refused_peer_limit.fetch_add(1, Ordering::Relaxed);
			tracing::debug!(%peer, "peer at its stream cap; dropping a stream");
			continue;
		};
		let Ok(permit) = inner.stream_slots.clone().try_acquire_owned() else {
			tracing::warn!(%peer, "too many concurrent streams; dropping one");
			continue;
		};
		let host = Host { inner };
		tokio::spawn(async move {
			let _permit = permit;
			let metrics = host.inner.metrics.clone();
			if let Err(e) = serve(&host, peer, stream, admission).await {
				metrics.errors.fetch_add(1, Ordering::Relaxed);
				if matches!(e, Error::Protocol { .. }) {
					metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
				}
				if matches!(e, Error::Timeout { .. }) {
					metrics.timed_out.fetch_add(1, Ordering::Relaxed);
				}
				tracing::info!(%peer, error = %e, "request failed");
			}
		});
	}
}

/// One stream's share of its peer's caps (none for registered nodes); released on drop.
pub(crate) struct Admission {
	inner: Arc<Inner>,
	peer: Option<PeerId>,
	reserved: u64,
}

impl Admission {
	fn new(inner: &Arc<Inner>, peer: PeerId, registered: bool) -> Option<Self> {
		if registered {
			return Some(Self { inner: inner.clone(), peer: None, reserved: 0 });
		}
		let mut peers = inner.peers.lock().expect("lock");
		let u = peers.entry(peer).or_default();
		if u.streams >= inner.limits.streams_per_peer {
			return None;
		}
		u.streams += 1;
		Some(Self { inner: inner.clone(), peer: Some(peer), reserved: 0 })
	}

	/// Counts `bytes` a put reserves against the peer's cap; false when over it.
	fn reserve(&mut self, bytes: u64) -> bool {
		let Some(peer) = self.peer else { return true };
		let mut peers = self.inner.peers.lock().expect("lock");
		let u = peers.entry(peer).or_default();
		if u.reserved.saturating_add(bytes) > self.inner.limits.reserved_per_peer {
			return false;
		}
		u.reserved += bytes;
		self.reserved += bytes;
		true
	}
}

impl Drop for Admission {
	fn drop(&mut self) {
		let Some(peer) = self.peer else { return };
		let mut peers = self.inner.peers.lock().expect("lock");
		if let Some(u) = peers.get_mut(&peer) {
			u.streams = u.streams.saturating_sub(1);
			u.reserved = u.reserved.saturating_sub(self.reserved);
			if u.streams == 0 {
				peers.remove(&peer);
			}
		}
	}
}

/// One put in flight under an upload authorisation; released on drop.
struct UploadSlot {
	inner: Arc<Inner>,
	task: TaskId,
}

impl UploadSlot {
	fn new(inner: &Arc<Inner>, task: TaskId) -> Option<Self> {
		let mut uploads = inner.uploads.lock().expect("lock");
		let n = uploads.entry(task).or_default();
		if *n >= inner.limits.streams_per_upload {
			return None;
		}
		*n += 1;
		Some(Self { inner: inner.clone(), task })
	}
}

impl Drop for UploadSlot {
	fn drop(&mut self) {
		let mut uploads = self.inner.uploads.lock().expect("lock");
		if let Some(n) = uploads.get_mut(&self.task) {
			*n -= 1;
			if *n == 0 {
				uploads.remove(&self.task);
			}
		}
	}
}

/// The bytes an exchange opened by `first` moves and the nodes it passes, for its deadline;
/// `None` for exchanges only meta nodes may open (they are checked, then unbounded by rate).
fn exchange_size(first: &Frame) -> Option<(u64, usize)> {
	let max_slice = sds_core::slicing::MAX_SLICE_SIZE;
	match first {
		Frame::Put(r) | Frame::PutAuthorized { req: r, .. } => {
			Some((r.slice_len, 1 + r.forward.len()))
		},
		Frame::Get(r) | Frame::GetTicketed { req: r, .. } => Some((r.length.min(max_slice), 1)),
		Frame::Has { .. } | Frame::Settle { .. } => Some((0, 1)),
		Frame::Check { .. } => Some((max_slice, 1)),
		Frame::Delete { .. } | Frame::Copy { .. } => None,
		_ => Some((0, 1)),
	}
}

async fn serve(
	host: &Host,
	peer: PeerId,
	mut stream: libp2p::Stream,
	admission: Admission,
) -> Result<(), Error> {
	let label = format!("peer {peer}");
	let limits = &host.inner.limits;
	let first = read_frame_within(&mut stream, &label, limits.first_frame).await?;
	match exchange_size(&first) {
		Some((bytes, hops)) => {
			let deadline = limits.deadline(bytes, hops);
			tokio::time::timeout(
				deadline,
				serve_exchange(host, peer, &label, stream, first, admission),
			)
			.await
			.map_err(|_| Error::Timeout { peer: label.clone(), secs: deadline.as_secs() })?
		},
		None => serve_exchange(host, peer, &label, stream, first, admission).await,
	}
}

async fn serve_exchange(
	host: &Host,
	peer: PeerId,
	label: &str,
	mut stream: libp2p::Stream,
	first: Frame,
	admission: Admission,
) -> Result<(), Error> {
	let label = label.to_string();
	match first {
		Frame::Put(_) | Frame::Get(_) if host.inner.gate.is_some() => {
			host.metrics().refused_unauthorized.fetch_add(1, Ordering::Relaxed);
			let msg = "this node serves puts and gets only with a meta node's authorisation or \
			           ticket (use `sds`, which asks the meta nodes)";
			refuse(&mut stream, &label, ErrorCode::BadRequest, msg.into()).await;
			Err(Error::Remote { peer: label, code: ErrorCode::BadRequest, message: msg.into() })
		},
		Frame::Put(req) => serve_put(host, &label, stream, req, None, admission).await,
		Frame::Get(req) => {
			serve_get(host, &label, stream, req, None, Debtor::Peer(peer), admission).await
		},
		Frame::Settle { receipts } => serve_settle(host, &label, stream, peer, receipts).await,
		Frame::Delete { slices } => {
			let from_meta = match (&host.inner.gate, crate::node_of_peer(&peer)) {
				(Some(g), Some(node)) => g.is_meta(&node),
				_ => false,
			};
			if !from_meta {
				let why = "only an active meta node may order slices deleted".to_string();
				return Err(unauthorized(host, &mut stream, &label, why).await);
			}
			let store = host.store().expect("servers have a store");
			let mut count = 0u32;
			for s in &slices {
				if tokio::task::block_in_place(|| store.delete(s))? {
					count += 1;
				}
			}
			tracing::info!(%peer, ordered = slices.len(), deleted = count, "deleted slices on a meta node's order");
			write_frame(&mut stream, &Frame::Deleted { count }, &label).await?;
			flush(&mut stream, &label).await?;
			let _ = stream.close().await;
			Ok(())
		},
		Frame::PutAuthorized { req, auth } => {
			serve_put(host, &label, stream, req, Some(auth), admission).await
		},
		Frame::Copy { auth, target, slices } => {
			let from_meta = match (&host.inner.gate, crate::node_of_peer(&peer)) {
				(Some(g), Some(node)) => g.is_meta(&node),
				_ => false,
			};
			if !from_meta {
				let why = "only an active meta node may order a copy".to_string();
				return Err(unauthorized(host, &mut stream, &label, why).await);
			}
			serve_copy(host, &label, stream, auth, target, slices).await
		},
		Frame::GetTicketed { req, ticket, client_signature } => {
			// Only the client the ticket names may redeem it.
			if !stratos_primitives::meta::verify_client_request(
				&host.inner.genesis_hash,
				&req.client,
				0,
				&codec::Encode::encode(&req),
				&client_signature,
			) {
				let why =
					"ticket refused: the request is not signed by the ticket's client".to_string();
				return Err(unauthorized(host, &mut stream, &label, why).await);
			}
			let client = Debtor::Client(req.client);
			serve_get(host, &label, stream, req, Some(ticket), client, admission).await
		},
		Frame::Check { slice } => {
			let store = host.store().expect("servers have a store");
			let len = match tokio::task::block_in_place(|| store.verify(&slice)) {
				Ok(len) => len,
				Err(sds_store::Error::Corrupt { .. }) => None,
				Err(e) => {
					refuse(&mut stream, &label, store_error_code(&e), e.to_string()).await;
					return Err(e.into());
				},
			};
			write_frame(&mut stream, &Frame::HasReply { len }, &label).await?;
			flush(&mut stream, &label).await?;
			let _ = stream.close().await;
			Ok(())
		},
		Frame::Has { slice } => {
			let store = host.store().expect("servers have a store");
			let len = store.meta(&slice)?.map(|m| m.len);
			write_frame(&mut stream, &Frame::HasReply { len }, &label).await?;
			flush(&mut stream, &label).await?;
			let _ = stream.close().await;
			Ok(())
		},
		other => {
			let e = unexpected(other, &label, "Put, Get or Has");
			let _ = write_frame(
				&mut stream,
				&Frame::error(ErrorCode::BadRequest, e.to_string()),
				&label,
			)
			.await;
			Err(e)
		},
	}
}

fn store_error_code(e: &sds_store::Error) -> ErrorCode {
	use sds_store::Error as S;
	match e {
		S::CapacityExceeded { .. } => ErrorCode::CapacityExceeded,
		S::DiskFull(_) => ErrorCode::DiskFull,
		S::HashMismatch { .. } | S::TooManyBytes { .. } => ErrorCode::HashMismatch,
		S::NotFound(_) => ErrorCode::NotFound,
		S::Corrupt { .. } => ErrorCode::Corrupt,
		S::BadRange { .. } => ErrorCode::BadRequest,
		_ => ErrorCode::Internal,
	}
}

async fn refuse(stream: &mut libp2p::Stream, label: &str, code: ErrorCode, msg: String) {
	let _ = write_frame(stream, &Frame::error(code, msg), label).await;
	let _ = flush(stream, label).await;
}

/// The finalized block number (0 without a gate) and whether `issuer` may authorise.
fn chain_check(host: &Host, issuer: &stratos_primitives::NodeId) -> (u32, bool) {
	(finalized(host), host.inner.gate.as_ref().is_none_or(|g| g.is_meta(issuer)))
}

/// The finalized block number the node follows (0 without a gate).
fn finalized(host: &Host) -> u32 {
	host.inner.gate.as_ref().map_or(0, |g| g.finalized())
}

async fn unauthorized(host: &Host, s: &mut libp2p::Stream, label: &str, why: String) -> Error {
	host.metrics().refused_unauthorized.fetch_add(1, Ordering::Relaxed);
	refuse(s, label, ErrorCode::BadRequest, why.clone()).await;
	Error::Remote { peer: label.into(), code: ErrorCode::BadRequest, message: why }
}

/// A repair order: puts each slice from this node's store (read verified, chunk by chunk)
/// to the target under the order's authorisation, one order at a time per node so repair
/// does not starve the node's users; answers with the target's acknowledgements.
async fn serve_copy(
	host: &Host,
	label: &str,
	mut up: libp2p::Stream,
	auth: SignedUploadAuth,
	target: sds_core::wire::Hop,
	slices: Vec<(stratos_primitives::SliceHash, u64)>,
) -> Result<(), Error> {
	let (finalized, is_meta) = chain_check(host, &auth.auth.issuer);
	if let Err(e) = auth.verify(&host.inner.genesis_hash, finalized, &target.node) {
		let why = format!("copy order refused: its authorisation is invalid: {e}");
		return Err(unauthorized(host, &mut up, label, why).await);
	}
	if !is_meta || target.node == host.node_id() {
		let why =
			"copy order refused: not issued by an active meta node, or to this node".to_string();
		return Err(unauthorized(host, &mut up, label, why).await);
	}
	let _one_at_a_time = host.inner.copy_slot.lock().await;
	let store = host.store().expect("servers have a store").clone();
	let mut acks = Vec::with_capacity(slices.len());
	for (slice, len) in &slices {
		let reader = match tokio::task::block_in_place(|| store.open_read(slice)) {
			Ok(r) if r.meta().len == *len => r,
			Ok(r) => {
				let why = format!("slice {slice} is {} bytes here, not {len}", r.meta().len);
				refuse(&mut up, label, ErrorCode::BadRequest, why.clone()).await;
				return Err(Error::Remote {
					peer: label.into(),
					code: ErrorCode::BadRequest,
					message: why,
				});
			},
			Err(e) => {
				refuse(&mut up, label, store_error_code(&e), e.to_string()).await;
				return Err(e.into());
			},
		};
		let read_at = |buf: &mut [u8], offset: u64| {
			let chunk =
				tokio::task::block_in_place(|| reader.read_chunk(offset / CHUNK_SIZE as u64))
					.map_err(std::io::Error::other)?;
			let n = buf.len();
			buf.copy_from_slice(
				chunk.get(..n).ok_or_else(|| std::io::Error::other("short chunk"))?,
			);
			Ok(())
		};
		let sent =
			host.put_slice_authorized(std::slice::from_ref(&target), &auth, *len, read_at, |_| {});
		match sent.await {
			Ok((got, mut a)) if got == *slice => acks.append(&mut a),
			Ok((got, _)) => {
				let why = format!("slice {slice} read back as {got}: this node's copy is corrupt");
				refuse(&mut up, label, ErrorCode::Corrupt, why.clone()).await;
				return Err(Error::Remote {
					peer: label.into(),
					code: ErrorCode::Corrupt,
					message: why,
				});
			},
			Err(e) => {
				refuse(&mut up, label, ErrorCode::ForwardFailed, e.to_string()).await;
				return Err(e);
			},
		}
	}
	tracing::info!(target = %target.node, slices = slices.len(), "copied slices on a meta node's repair order");
	host.metrics().slices_copied.fetch_add(slices.len() as u64, Ordering::Relaxed);
	write_frame(&mut up, &Frame::Copied { acks }, label).await?;
	flush(&mut up, label).await?;
	let _ = up.close().await;
	Ok(())
}

async fn serve_put(
	host: &Host,
	label: &str,
	mut up: libp2p::Stream,
	req: PutRequest,
	auth: Option<SignedUploadAuth>,
	mut admission: Admission,
) -> Result<(), Error> {
	let store = host.store().expect("servers have a store").clone();
	let limits = &host.inner.limits;
	// The node dials every forward hop: with an authorisation only its holders, each once;
	// without, no more than the replica count.
	let me = host.node_id();
	let forward_ok = match &auth {
		Some(a) => {
			let mut seen = std::collections::HashSet::new();
			req.forward
				.iter()
				.all(|h| h.node != me && a.auth.holders.contains(&h.node) && seen.insert(h.node))
		},
		None => req.forward.len() <= limits.max_forward,
	};
	if !forward_ok {
		let why = format!(
			"put refused: its forward list must name distinct holders of the authorisation, \
			 other than this node, and at most {} without one",
			limits.max_forward
		);
		return Err(unauthorized(host, &mut up, label, why).await);
	}
	if !admission.reserve(req.slice_len) {
		host.metrics().refused_peer_limit.fetch_add(1, Ordering::Relaxed);
		let why = format!(
			"put refused: this peer already has {} bytes of puts in flight here",
			limits.reserved_per_peer
		);
		refuse(&mut up, label, ErrorCode::CapacityExceeded, why.clone()).await;
		return Err(Error::Remote {
			peer: label.into(),
			code: ErrorCode::CapacityExceeded,
			message: why,
		});
	}
	let upload_slot = match &auth {
		None => None,
		Some(a) => match UploadSlot::new(&host.inner, a.auth.task) {
			Some(slot) => Some(slot),
			None => {
				host.metrics().refused_peer_limit.fetch_add(1, Ordering::Relaxed);
				let why = format!(
					"put refused: {} puts of this upload are already in flight here",
					limits.streams_per_upload
				);
				return Err(unauthorized(host, &mut up, label, why).await);
			},
		},
	};
	let charge = match &auth {
		None => None,
		Some(a) => {
			let (finalized, is_meta) = chain_check(host, &a.auth.issuer);
			if let Err(e) = a.verify(&host.inner.genesis_hash, finalized, &me) {
				return Err(unauthorized(
					host,
					&mut up,
					label,
					format!("upload authorisation refused: {e}"),
				)
				.await);
			}
			if !is_meta {
				let why = "upload authorisation refused: its issuer is not an active meta node"
					.to_string();
				return Err(unauthorized(host, &mut up, label, why).await);
			}
			let Some(charge) = Charge::new(&host.inner, &a.auth, req.slice_len, finalized) else {
				let why = format!(
					"upload authorisation refused: its budget of {} bytes on this node is spent",
					a.auth.max_bytes
				);
				return Err(unauthorized(host, &mut up, label, why).await);
			};
			Some(charge)
		},
	};
	let held = Held { _admission: admission, _upload_slot: upload_slot, charge };
	store_and_forward(host, label, up, req, auth, store, held).await
}

/// A put's bytes charged to its upload's budget. Only stored slices count: the charge is
/// refunded when the put fails before its slice is stored (it is retried), and when the
/// slice was already stored under this upload (a put sent again is charged once).
struct Charge {
	inner: Arc<Inner>,
	task: TaskId,
	len: u64,
	settled: bool,
}

impl Charge {
	fn new(inner: &Arc<Inner>, auth: &UploadAuth, len: u64, finalized: u32) -> Option<Self> {
		let mut stored = inner.stored.lock().expect("lock");
		let spend = stored.entry(auth.task, auth.expires_at, finalized);
		if spend.bytes.saturating_add(len) > auth.max_bytes {
			return None;
		}
		spend.bytes += len;
		Some(Self { inner: inner.clone(), task: auth.task, len, settled: false })
	}

	/// The slice is stored: the charge stands unless this upload already paid for it (then
	/// it is refunded on drop).
	fn stored(mut self, slice: SliceHash) {
		let first = self
			.inner
			.stored
			.lock()
			.expect("lock")
			.get_mut(&self.task)
			.map(|spend| spend.slices.insert(slice));
		self.settled = first == Some(true);
	}
}

impl Drop for Charge {
	fn drop(&mut self) {
		if !self.settled {
			if let Some(spend) = self.inner.stored.lock().expect("lock").get_mut(&self.task) {
				spend.bytes = spend.bytes.saturating_sub(self.len);
			}
		}
	}
}

/// What a put holds against its peer's and its upload's caps until it answers, and its
/// charge to the upload's budget until its slice is stored.
struct Held {
	_admission: Admission,
	_upload_slot: Option<UploadSlot>,
	charge: Option<Charge>,
}

async fn store_and_forward(
	host: &Host,
	label: &str,
	mut up: libp2p::Stream,
	req: PutRequest,
	auth: Option<SignedUploadAuth>,
	store: std::sync::Arc<sds_store::Store>,
	mut held: Held,
) -> Result<(), Error> {
	let mut writer = match StoringThread::start(store.clone(), req.slice_len).await {
		Ok(w) => w,
		Err(e) => {
			refuse(&mut up, label, store_error_code(&e), e.to_string()).await;
			return Err(e.into());
		},
	};
	let received =
		receive_slice(host, label, &mut up, &req, auth.as_ref(), &mut writer, &store).await;
	let (claimed, down) = match received {
		Ok(r) => r,
		Err(Refusal { refuse: refusal, error }) => {
			// The slice's file and reservation are gone before the sender hears of it.
			writer.abandon().await;
			if let Some((code, why)) = refusal {
				refuse(&mut up, label, code, why).await;
			}
			return Err(error);
		},
	};
	let committed = writer.commit(claimed).await;
	if let Err(e) = committed {
		refuse(&mut up, label, store_error_code(&e), e.to_string()).await;
		return Err(e.into());
	}
	host.metrics().slices_stored.fetch_add(1, Ordering::Relaxed);
	if let Some(c) = held.charge.take() {
		c.stored(claimed);
	}
	let mine = match &auth {
		None => None,
		Some(a) => {
			let ack = StoreAck {
				genesis_hash: host.inner.genesis_hash,
				owner: a.auth.owner,
				slice: claimed,
				length: req.slice_len,
				node: host.node_id(),
			};
			let signature: [u8; 64] = host
				.inner
				.keypair
				.sign(&ack.payload())
				.map_err(|e| Error::Start(e.to_string()))?
				.try_into()
				.map_err(|_| Error::Start("ed25519 signature is not 64 bytes".into()))?;
			Some(SignedStoreAck { ack, signature })
		},
	};
	let mut holders = vec![host.node_id()];
	let mut acks: Vec<SignedStoreAck> = mine.into_iter().collect();
	if let Some((mut s, l)) = down {
		match read_frame_within(&mut s, &l, ACK_TIMEOUT).await {
			Ok(Frame::PutAck { slice, holders: h }) if slice == claimed && auth.is_none() => {
				holders.extend(h)
			},
			Ok(Frame::PutAcks { slice, acks: a }) if slice == claimed && auth.is_some() => {
				acks.extend(a)
			},
			Ok(other) => {
				let e = unexpected(other, &l, "PutAck");
				refuse(&mut up, label, ErrorCode::ForwardFailed, e.to_string()).await;
				return Err(e);
			},
			Err(e) => {
				refuse(&mut up, label, ErrorCode::ForwardFailed, e.to_string()).await;
				return Err(e);
			},
		}
		let _ = s.close().await;
	}
	let reply = match auth {
		Some(_) => Frame::PutAcks { slice: claimed, acks },
		None => Frame::PutAck { slice: claimed, holders },
	};
	// The slots are free before the answer: a client keeping to its caps and starting its
	// next put on reading it is not refused for a slot this put still held (as for gets).
	drop(held);
	write_frame(&mut up, &reply, label).await?;
	flush(&mut up, label).await?;
	let _ = up.close().await;
	Ok(())
}

/// Why receiving a slice stopped, and what to tell the sender (nothing when the stream
/// itself failed).
struct Refusal {
	refuse: Option<(ErrorCode, String)>,
	error: Error,
}

impl Refusal {
	fn tell(code: ErrorCode, error: Error) -> Self {
		Self { refuse: Some((code, error.to_string())), error }
	}
	fn store(e: sds_store::Error) -> Self {
		Self { refuse: Some((store_error_code(&e), e.to_string())), error: e.into() }
	}
}

/// The middle of a put: opens the next hop, streams every chunk to it and to `writer`,
/// forwards the end and, for an authorised upload, notes the slice as pending. Returns the
/// slice hash the sender claims and the open stream to the next hop.
async fn receive_slice(
	host: &Host,
	label: &str,
	up: &mut libp2p::Stream,
	req: &PutRequest,
	auth: Option<&SignedUploadAuth>,
	writer: &mut StoringThread,
	store: &sds_store::Store,
) -> Result<(SliceHash, Option<(libp2p::Stream, String)>), Refusal> {
	// Open the next hop first, so nothing is stored when the chain cannot be completed.
	let mut down = match req.forward.split_first() {
		None => None,
		Some((next, rest)) => {
			let (mut s, next_label, _) =
				host.open(next).await.map_err(|e| Refusal::tell(ErrorCode::ForwardFailed, e))?;
			let fwd =
				PutRequest { task: req.task, slice_len: req.slice_len, forward: rest.to_vec() };
			let opening = match auth {
				Some(a) => Frame::PutAuthorized { req: fwd, auth: a.clone() },
				None => Frame::Put(fwd),
			};
			write_frame(&mut s, &opening, &next_label)
				.await
				.map_err(|e| Refusal::tell(ErrorCode::ForwardFailed, e))?;
			Some((s, next_label))
		},
	};
	let metrics = host.metrics().clone();
	let mut received = 0u64;
	let mut forwarded = Vec::new();
	let claimed = loop {
		let frame = read_frame(up, label).await.map_err(|e| match e {
			Error::Protocol { .. } => Refusal::tell(ErrorCode::BadRequest, e),
			e => Refusal { refuse: None, error: e },
		})?;
		match frame {
			Frame::Data(d) => {
				// Forward first: the next node starts receiving while this one writes.
				if let Some((s, l)) = down.as_mut() {
					write_data(s, &mut forwarded, &d, l)
						.await
						.map_err(|e| Refusal::tell(ErrorCode::ForwardFailed, e))?;
				}
				let n = d.len() as u64;
				received += n;
				if received > req.slice_len {
					let e = sds_store::Error::TooManyBytes { announced: req.slice_len };
					return Err(Refusal::store(e));
				}
				writer.write(d).await.map_err(Refusal::store)?;
				metrics.bytes_in.fetch_add(n, Ordering::Relaxed);
			},
			Frame::PutEnd { slice } => break slice,
			other => {
				let e = unexpected(other, label, "Data or PutEnd");
				return Err(Refusal::tell(ErrorCode::BadRequest, e));
			},
		}
	};
	if let Some((s, l)) = down.as_mut() {
		let ended = async {
			write_frame(s, &Frame::PutEnd { slice: claimed }, l).await?;
			flush(s, l).await
		};
		ended.await.map_err(|e| Refusal { refuse: None, error: e })?;
	}
	// An authorised slice is pending until the meta nodes confirm its upload completed
	// (noted before the slice is stored, so dropping another abandoned upload that shares it
	// cannot remove it underneath this one).
	if let Some(a) = auth {
		tokio::task::block_in_place(|| {
			store.note_pending(&a.auth.task, a.auth.owner, a.auth.expires_at, claimed)
		})
		.map_err(Refusal::store)?;
	}
	Ok((claimed, down))
}

/// A slice being stored by a thread of its own (from tokio's blocking pool): creating its
/// file, writing and hashing every chunk and the commit never run on the node's async
/// workers, so a slow disk holds up only this upload. Chunks reach the thread through a
/// channel of two: one is written while the next arrives.
struct StoringThread {
	chunks: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
	commit: Option<tokio::sync::oneshot::Sender<SliceHash>>,
	/// Until its outcome is collected.
	done: Option<tokio::task::JoinHandle<Result<Option<SliceHash>, sds_store::Error>>>,
}

impl StoringThread {
	/// Starts storing a slice of `len` bytes; returns once its file exists, or why not.
	async fn start(store: Arc<sds_store::Store>, len: u64) -> Result<Self, sds_store::Error> {
		let (chunks, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
		let (commit, commit_rx) = tokio::sync::oneshot::channel::<SliceHash>();
		let (ready, ready_rx) = tokio::sync::oneshot::channel::<()>();
		let done = tokio::task::spawn_blocking(move || {
			let mut writer = store.begin_put(len)?;
			let _ = ready.send(());
			while let Some(chunk) = rx.blocking_recv() {
				writer.write(&chunk)?;
			}
			// No commit: the upload was abandoned; dropping the writer removes its file.
			match commit_rx.blocking_recv() {
				Ok(claimed) => writer.commit(claimed).map(Some),
				Err(_) => Ok(None),
			}
		});
		let mut me = Self { chunks: Some(chunks), commit: Some(commit), done: Some(done) };
		match ready_rx.await {
			Ok(()) => Ok(me),
			Err(_) => Err(me.outcome().await.err().unwrap_or_else(|| stopped("file creation"))),
		}
	}

	/// Hands a chunk over; waits while two are still being written. An error is the
	/// thread's: it stopped at an earlier chunk (or this one).
	async fn write(&mut self, chunk: Vec<u8>) -> Result<(), sds_store::Error> {
		let sent = match &self.chunks {
			Some(tx) => tx.send(chunk).await.is_ok(),
			None => false,
		};
		if sent {
			return Ok(());
		}
		self.chunks = None;
		Err(self.outcome().await.err().unwrap_or_else(|| stopped("a write")))
	}

	/// After the last chunk: checks the bytes against `claimed`, makes them durable and
	/// indexes the slice (`PutWriter::commit`).
	async fn commit(mut self, claimed: SliceHash) -> Result<SliceHash, sds_store::Error> {
		self.chunks = None;
		if let Some(tx) = self.commit.take() {
			let _ = tx.send(claimed);
		}
		self.outcome().await?.ok_or_else(|| stopped("the commit"))
	}

	/// Gives the slice up: returns once its file is removed and its reservation released.
	async fn abandon(mut self) {
		self.chunks = None;
		self.commit = None;
		let _ = self.outcome().await;
	}

	/// How the thread ended (waits for it). Once collected, later calls return `Ok(None)`.
	async fn outcome(&mut self) -> Result<Option<SliceHash>, sds_store::Error> {
		let Some(done) = self.done.take() else { return Ok(None) };
		done.await.map_err(|e| thread_error(format!("failed: {e}")))?
	}
}

/// The storing thread ended without its own error (it panicked, or stopped early).
fn thread_error(what: String) -> sds_store::Error {
	sds_store::Error::Io {
		op: "store a slice",
		path: Default::default(),
		source: std::io::Error::other(format!("the storing thread {what}")),
	}
}

fn stopped(at: &str) -> sds_store::Error {
	thread_error(format!("stopped before {at}"))
}

async fn serve_get(
	host: &Host,
	label: &str,
	mut s: libp2p::Stream,
	req: GetRequest,
	ticket: Option<SignedTicket>,
	debtor: Debtor,
	admission: Admission,
) -> Result<(), Error> {
	let store = host.store().expect("servers have a store").clone();
	let metrics = host.metrics().clone();
	if let Some(t) = &ticket {
		let tk = &t.ticket;
		let (finalized, is_meta) = chain_check(host, &tk.issuer);
		// The request must be the ticket's task and period; its range is checked below,
		// once the slice's length is known.
		let why = if tk.task != req.task || tk.ledger_period != req.ledger_period {
			Some("the request's task or period is not the ticket's".to_string())
		} else if !is_meta {
			Some("the ticket's issuer is not an active meta node".to_string())
		} else {
			let end =
				req.offset.saturating_add(req.length).min(tk.offset.saturating_add(tk.length));
			let len = end.saturating_sub(req.offset).max(1);
			t.verify_request(
				&host.inner.genesis_hash,
				finalized,
				&host.node_id(),
				&req.client,
				&req.slice,
				req.offset,
				len,
			)
			.err()
			.map(|e| e.to_string())
		};
		if let Some(why) = why {
			return Err(unauthorized(host, &mut s, label, format!("ticket refused: {why}")).await);
		}
	}
	if host.inner.owing.lock().expect("lock").owes(&debtor, Instant::now()) {
		metrics.refused_unpaid.fetch_add(1, Ordering::Relaxed);
		let msg = "the client has not countersigned its last receipt; it is not served".to_string();
		refuse(&mut s, label, ErrorCode::ReceiptRequired, msg.clone()).await;
		return Err(Error::Remote {
			peer: label.into(),
			code: ErrorCode::ReceiptRequired,
			message: msg,
		});
	}
	// The slice is opened once, on a blocking thread of its own (file I/O and SHA-256 stay off
	// the async workers): it sends the slice's metadata, waits for the range to serve (or for
	// the request to be refused), then reads and verifies a batch of 8 chunks (512 KiB) ahead
	// of the sending. Buffers go back to it, so the loop allocates nothing per batch.
	const BATCH: u64 = 8;
	let (meta_tx, meta_rx) = tokio::sync::oneshot::channel();
	let (range_tx, range_rx) = tokio::sync::oneshot::channel::<(u64, u64)>();
	let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, sds_store::Error>>(1);
	let (back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
	let (store_r, slice) = (store.clone(), req.slice);
	tokio::task::spawn_blocking(move || {
		let reader = match store_r.open_read(&slice).and_then(|r| r.check_index().map(|_| r)) {
			Ok(r) => r,
			Err(e) => {
				let _ = meta_tx.send(Err(e));
				return;
			},
		};
		// A dropped sender: the request was refused or the client went away.
		if meta_tx.send(Ok(reader.meta().clone())).is_err() {
			return;
		}
		let Ok((mut i, end)) = range_rx.blocking_recv() else { return };
		while i < end {
			let n = BATCH.min(end - i);
			let mut buf = spare.try_recv().unwrap_or_default();
			let r = reader.read_chunks_into(i, n, &mut buf).map(|()| buf);
			let failed = r.is_err();
			// A closed channel: the sender stopped (the client went away).
			if tx.blocking_send(r).is_err() || failed {
				return;
			}
			i += n;
		}
	});
	let meta: sds_store::SliceMeta = match meta_rx.await {
		Ok(Ok(meta)) => meta,
		Ok(Err(e)) => {
			refuse(&mut s, label, store_error_code(&e), e.to_string()).await;
			return Err(e.into());
		},
		Err(_) => {
			let msg = "the slice could not be read".to_string();
			refuse(&mut s, label, ErrorCode::Internal, msg.clone()).await;
			return Err(Error::Remote {
				peer: label.into(),
				code: ErrorCode::Internal,
				message: msg,
			});
		},
	};
	let Some((first, end)) = chunk_span(meta.len, req.offset, req.length) else {
		let e = sds_store::Error::BadRange {
			offset: req.offset,
			length: req.length,
			slice_len: meta.len,
		};
		refuse(&mut s, label, ErrorCode::BadRequest, e.to_string()).await;
		return Err(e.into());
	};
	let served_len = (end * CHUNK_SIZE as u64).min(meta.len) - first * CHUNK_SIZE as u64;
	if let Some(t) = &ticket {
		let tk = &t.ticket;
		let within = first * CHUNK_SIZE as u64 >= tk.offset
			&& first * CHUNK_SIZE as u64 + served_len <= tk.offset.saturating_add(tk.length);
		let ok = within && {
			let mut redeemed = host.inner.redeemed.lock().expect("lock");
			let used = redeemed.entry(tk.task, tk.expires_at, finalized(host));
			let ok = used.saturating_add(served_len) <= tk.length;
			if ok {
				*used += served_len;
			}
			ok
		};
		if !ok {
			let why =
				"ticket refused: the range is outside the ticket or its bytes are already served";
			return Err(unauthorized(host, &mut s, label, why.into()).await);
		}
	}
	// Reading starts while the header goes out. The reader is gone only if it panicked: then
	// nothing arrives and no receipt is given.
	let _ = range_tx.send((first, end));
	write_frame(
		&mut s,
		&Frame::GetHeader { slice_len: meta.len, chunk_hashes: meta.chunk_hashes.clone() },
		label,
	)
	.await?;
	let cs = CHUNK_SIZE as u64;
	let mut sent = 0u64;
	let mut frame = Vec::new();
	while let Some(batch) = rx.recv().await {
		let buf = match batch {
			Ok(b) => b,
			Err(e) => {
				refuse(&mut s, label, store_error_code(&e), e.to_string()).await;
				return Err(e.into());
			},
		};
		for chunk in buf.chunks(cs as usize) {
			metrics.bytes_out.fetch_add(chunk.len() as u64, Ordering::Relaxed);
			write_data(&mut s, &mut frame, chunk, label).await?;
			sent += 1;
		}
		let _ = back.send(buf);
	}
	if sent != end - first {
		// The reader stopped without saying why (it panicked): no receipt for bytes not sent.
		let msg = "the slice could not be read".to_string();
		refuse(&mut s, label, ErrorCode::Internal, msg.clone()).await;
		return Err(Error::Remote { peer: label.into(), code: ErrorCode::Internal, message: msg });
	}
	let receipt = TaskReceipt {
		genesis_hash: host.inner.genesis_hash,
		ledger_period: req.ledger_period,
		task_id: req.task,
		client: req.client,
		node: host.node_id(),
		slice: req.slice,
		offset: first * cs,
		length: (end * cs).min(meta.len) - first * cs,
	};
	let node_signature: [u8; 64] = host
		.inner
		.keypair
		.sign(&receipt.node_payload())
		.map_err(|e| Error::Start(e.to_string()))?
		.try_into()
		.map_err(|_| Error::Start("ed25519 signature is not 64 bytes".into()))?;
	write_frame(&mut s, &Frame::GetEnd { receipt, node_signature }, label).await?;
	flush(&mut s, label).await?;
	// A client that takes the data but does not countersign is not served again (transfers
	// of its already in flight finish; each of them ends the same way).
	let owes = |e: Error| {
		host.inner.owing.lock().expect("lock").add(debtor, receipt, node_signature, Instant::now());
		let mut unsigned = host.inner.unsigned.lock().expect("lock");
		if unsigned.len() < MAX_UNSIGNED {
			unsigned.push((receipt, node_signature));
		}
		e
	};
	let client_signature = match read_frame(&mut s, label).await.map_err(owes)? {
		Frame::Countersign { client_signature } => client_signature,
		other => return Err(owes(unexpected(other, label, "Countersign"))),
	};
	let signed = SignedReceipt { receipt, node_signature, client_signature };
	if signed.verify(&host.inner.genesis_hash).is_err() {
		return Err(owes(Error::Protocol {
			peer: label.into(),
			what: "invalid countersignature".into(),
		}));
	}
	tokio::task::block_in_place(|| store.put_receipt(&signed))?;
	metrics.receipts.fetch_add(1, Ordering::Relaxed);
	metrics.gets_served.fetch_add(1, Ordering::Relaxed);
	// The peer's stream slot is free before the close it waits for: a client that keeps to
	// its per-peer cap (`Host::open`) and opens its next stream on seeing the close is not
	// refused for a slot this exchange still held.
	drop(admission);
	let _ = s.close().await;
	Ok(())
}

/// Most uncountersigned receipts kept for the audit between two collections.
const MAX_UNSIGNED: usize = 100_000;

/// Late countersignatures: stores each receipt that was outstanding here (for the client
/// that signed it, or for this peer) and answers how many the sender still owes.
async fn serve_settle(
	host: &Host,
	label: &str,
	mut s: libp2p::Stream,
	peer: PeerId,
	receipts: Vec<SignedReceipt>,
) -> Result<(), Error> {
	let store = host.store().expect("servers have a store").clone();
	let me = host.node_id();
	let mut accepted = 0u32;
	let mut clients = std::collections::HashSet::new();
	for r in &receipts {
		if r.receipt.node != me || r.verify(&host.inner.genesis_hash).is_err() {
			continue;
		}
		clients.insert(r.receipt.client);
		let settled = {
			let mut book = host.inner.owing.lock().expect("lock");
			book.settle(&Debtor::Client(r.receipt.client), r) || book.settle(&Debtor::Peer(peer), r)
		};
		if settled {
			tokio::task::block_in_place(|| store.put_receipt(r))?;
			host.inner
				.unsigned
				.lock()
				.expect("lock")
				.retain(|(u, sig)| !(u == &r.receipt && sig == &r.node_signature));
			accepted += 1;
		}
	}
	host.metrics().receipts_settled.fetch_add(accepted.into(), Ordering::Relaxed);
	let outstanding = {
		let book = host.inner.owing.lock().expect("lock");
		book.outstanding(&Debtor::Peer(peer))
			+ clients.iter().map(|c| book.outstanding(&Debtor::Client(*c))).sum::<usize>()
	};
	write_frame(&mut s, &Frame::Settled { accepted, outstanding: outstanding as u32 }, label)
		.await?;
	flush(&mut s, label).await?;
	let _ = s.close().await;
	Ok(())
}
