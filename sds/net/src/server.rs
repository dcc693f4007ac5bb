//! Serving puts, gets and has-queries from the node's store.

use crate::{
	host::{chunk_span, Host, Inner},
	io::{flush, read_frame, read_frame_within, unexpected, write_data, write_frame, ACK_TIMEOUT},
	Error,
};
use futures::{AsyncWriteExt, StreamExt};
use libp2p::PeerId;
use sds_core::wire::{ErrorCode, Frame, GetRequest, PutRequest};
use std::sync::{atomic::Ordering, Weak};
use stratos_primitives::{
	merkle::CHUNK_SIZE,
	meta::{SignedStoreAck, SignedTicket, SignedUploadAuth, StoreAck},
	receipt::{SignedReceipt, TaskReceipt},
};

pub(crate) async fn accept_loop(host: Weak<Inner>, mut incoming: libp2p_stream::IncomingStreams) {
	while let Some((peer, stream)) = incoming.next().await {
		let Some(inner) = host.upgrade() else { break };
		let Ok(permit) = inner.stream_slots.clone().try_acquire_owned() else {
			tracing::warn!(%peer, "too many concurrent streams; dropping one");
			continue;
		};
		let host = Host { inner };
		tokio::spawn(async move {
			let _permit = permit;
			let metrics = host.inner.metrics.clone();
			if let Err(e) = serve(&host, peer, stream).await {
				metrics.errors.fetch_add(1, Ordering::Relaxed);
				if matches!(e, Error::Protocol { .. }) {
					metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
				}
				tracing::info!(%peer, error = %e, "request failed");
			}
		});
	}
}

async fn serve(host: &Host, peer: PeerId, mut stream: libp2p::Stream) -> Result<(), Error> {
	let label = format!("peer {peer}");
	let first = read_frame(&mut stream, &label).await?;
	match first {
		Frame::Put(_) | Frame::Get(_) if host.inner.gate.is_some() => {
			host.metrics().refused_unauthorized.fetch_add(1, Ordering::Relaxed);
			let msg = "this node serves puts and gets only with a meta node's authorisation or \
			           ticket (use `sds`, which asks the meta nodes)";
			refuse(&mut stream, &label, ErrorCode::BadRequest, msg.into()).await;
			Err(Error::Remote { peer: label, code: ErrorCode::BadRequest, message: msg.into() })
		},
		Frame::Put(req) => serve_put(host, &label, stream, req, None).await,
		Frame::Get(req) => serve_get(host, &label, stream, req, None).await,
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
			serve_put(host, &label, stream, req, Some(auth)).await
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
			serve_get(host, &label, stream, req, Some(ticket)).await
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
	match &host.inner.gate {
		Some(g) => (g.finalized(), g.is_meta(issuer)),
		None => (0, true),
	}
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
) -> Result<(), Error> {
	let store = host.store().expect("servers have a store").clone();
	if let Some(a) = &auth {
		let (finalized, is_meta) = chain_check(host, &a.auth.issuer);
		let me = host.node_id();
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
			let why =
				"upload authorisation refused: its issuer is not an active meta node".to_string();
			return Err(unauthorized(host, &mut up, label, why).await);
		}
		let within_budget = {
			let mut stored = host.inner.stored.lock().expect("lock");
			let used = stored.entry(a.auth.task).or_default();
			let ok = used.saturating_add(req.slice_len) <= a.auth.max_bytes;
			if ok {
				*used += req.slice_len;
			}
			ok
		};
		if !within_budget {
			let why = format!(
				"upload authorisation refused: its budget of {} bytes on this node is spent",
				a.auth.max_bytes
			);
			return Err(unauthorized(host, &mut up, label, why).await);
		}
	}
	let budget = auth.as_ref().map(|a| (a.auth.task, req.slice_len));
	let result = store_and_forward(host, label, up, req, auth, store).await;
	// Only slices that were stored count against the budget: a failed attempt is retried.
	if let (Err(_), Some((task, len))) = (&result, budget) {
		if let Some(used) = host.inner.stored.lock().expect("lock").get_mut(&task) {
			*used = used.saturating_sub(len);
		}
	}
	result
}

async fn store_and_forward(
	host: &Host,
	label: &str,
	mut up: libp2p::Stream,
	req: PutRequest,
	auth: Option<SignedUploadAuth>,
	store: std::sync::Arc<sds_store::Store>,
) -> Result<(), Error> {
	let mut writer = match store.begin_put(req.slice_len) {
		Ok(w) => w,
		Err(e) => {
			refuse(&mut up, label, store_error_code(&e), e.to_string()).await;
			return Err(e.into());
		},
	};
	// Open the next hop first, so nothing is stored when the chain cannot be completed.
	let mut down = match req.forward.split_first() {
		None => None,
		Some((next, rest)) => match host.open(next).await {
			Ok((mut s, next_label)) => {
				let fwd =
					PutRequest { task: req.task, slice_len: req.slice_len, forward: rest.to_vec() };
				let opening = match &auth {
					Some(a) => Frame::PutAuthorized { req: fwd, auth: a.clone() },
					None => Frame::Put(fwd),
				};
				if let Err(e) = write_frame(&mut s, &opening, &next_label).await {
					refuse(&mut up, label, ErrorCode::ForwardFailed, e.to_string()).await;
					return Err(e);
				}
				Some((s, next_label))
			},
			Err(e) => {
				refuse(&mut up, label, ErrorCode::ForwardFailed, e.to_string()).await;
				return Err(e);
			},
		},
	};
	let metrics = host.metrics().clone();
	let claimed = loop {
		let frame = match read_frame(&mut up, label).await {
			Ok(f) => f,
			Err(e) => {
				if matches!(e, Error::Protocol { .. }) {
					refuse(&mut up, label, ErrorCode::BadRequest, e.to_string()).await;
				}
				return Err(e);
			},
		};
		match frame {
			Frame::Data(d) => {
				// Forward first: the next node starts receiving while this one writes.
				if let Some((s, l)) = down.as_mut() {
					if let Err(e) = write_data(s, &d, l).await {
						refuse(&mut up, label, ErrorCode::ForwardFailed, e.to_string()).await;
						return Err(e);
					}
				}
				if let Err(e) = writer.write(&d) {
					refuse(&mut up, label, store_error_code(&e), e.to_string()).await;
					return Err(e.into());
				}
				metrics.bytes_in.fetch_add(d.len() as u64, Ordering::Relaxed);
			},
			Frame::PutEnd { slice } => break slice,
			other => {
				let e = unexpected(other, label, "Data or PutEnd");
				refuse(&mut up, label, ErrorCode::BadRequest, e.to_string()).await;
				return Err(e);
			},
		}
	};
	if let Some((s, l)) = down.as_mut() {
		write_frame(s, &Frame::PutEnd { slice: claimed }, l).await?;
		flush(s, l).await?;
	}
	// An authorised slice is pending until the meta nodes confirm its upload completed
	// (noted before the slice is stored, so dropping another abandoned upload that shares it
	// cannot remove it underneath this one).
	if let Some(a) = &auth {
		let noted = tokio::task::block_in_place(|| {
			store.note_pending(&a.auth.task, a.auth.owner, a.auth.expires_at, claimed)
		});
		if let Err(e) = noted {
			refuse(&mut up, label, store_error_code(&e), e.to_string()).await;
			return Err(e.into());
		}
	}
	let committed = tokio::task::block_in_place(|| writer.commit(claimed));
	if let Err(e) = committed {
		refuse(&mut up, label, store_error_code(&e), e.to_string()).await;
		return Err(e.into());
	}
	metrics.slices_stored.fetch_add(1, Ordering::Relaxed);
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
	write_frame(&mut up, &reply, label).await?;
	flush(&mut up, label).await?;
	let _ = up.close().await;
	Ok(())
}

async fn serve_get(
	host: &Host,
	label: &str,
	mut s: libp2p::Stream,
	req: GetRequest,
	ticket: Option<SignedTicket>,
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
	if host.inner.owing.lock().expect("lock").contains(&req.client) {
		metrics.refused_unpaid.fetch_add(1, Ordering::Relaxed);
		let msg = "the client has not countersigned its last receipt; it is not served".to_string();
		refuse(&mut s, label, ErrorCode::ReceiptRequired, msg.clone()).await;
		return Err(Error::Remote {
			peer: label.into(),
			code: ErrorCode::ReceiptRequired,
			message: msg,
		});
	}
	let reader = match store.open_read(&req.slice).and_then(|r| r.check_index().map(|_| r)) {
		Ok(r) => r,
		Err(e) => {
			refuse(&mut s, label, store_error_code(&e), e.to_string()).await;
			return Err(e.into());
		},
	};
	let meta = reader.meta().clone();
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
			let used = redeemed.entry(tk.task).or_default();
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
	write_frame(
		&mut s,
		&Frame::GetHeader { slice_len: meta.len, chunk_hashes: meta.chunk_hashes.clone() },
		label,
	)
	.await?;
	let cs = CHUNK_SIZE as u64;
	// Read ahead in batches of 8 chunks (512 KiB): one positional read and one blocking
	// section per batch.
	const BATCH: u64 = 8;
	let mut i = first;
	while i < end {
		let n = BATCH.min(end - i);
		let chunks = match tokio::task::block_in_place(|| reader.read_chunks(i, n)) {
			Ok(c) => c,
			Err(e) => {
				refuse(&mut s, label, store_error_code(&e), e.to_string()).await;
				return Err(e.into());
			},
		};
		for chunk in chunks {
			metrics.bytes_out.fetch_add(chunk.len() as u64, Ordering::Relaxed);
			write_data(&mut s, &chunk, label).await?;
		}
		i += n;
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
		host.inner.owing.lock().expect("lock").insert(req.client);
		host.inner.unsigned.lock().expect("lock").push((receipt, node_signature));
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
	let _ = s.close().await;
	Ok(())
}
