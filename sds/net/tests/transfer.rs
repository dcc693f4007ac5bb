//! N resource nodes in one process on loopback, exercising the transfer protocol.

use futures::{AsyncReadExt, AsyncWriteExt};
use sds_core::wire::{Decoder, ErrorCode, Frame, GetRequest, Hop, PutRequest};
use sds_net::{Error, Host, HostConfig, Keypair, Limits};
use sds_store::Store;
use sp_core::{sr25519, Pair};
use std::{
	sync::{atomic::Ordering, Arc},
	time::{Duration, Instant},
};
use stratos_primitives::{merkle::CHUNK_SIZE, SliceHash, TaskId};

const GENESIS: [u8; 32] = [7; 32];

struct Rn {
	host: Host,
	_dir: tempfile::TempDir,
}

async fn start_rn() -> Rn {
	start_rn_with(Limits::default()).await
}

/// Limits short enough that a test of slow peers takes seconds.
fn short_limits() -> Limits {
	Limits {
		first_frame: Duration::from_secs(5),
		grace: Duration::from_secs(1),
		min_rate: 1 << 20,
		streams_per_peer: 8,
		..Limits::default()
	}
}

async fn start_rn_with(limits: Limits) -> Rn {
	let dir = tempfile::tempdir().unwrap();
	let store = Arc::new(Store::open(dir.path(), 1 << 32).unwrap());
	Rn { host: node_on(store, limits).await, _dir: dir }
}

/// A resource node serving `store`.
async fn node_on(store: Arc<Store>, limits: Limits) -> Host {
	Host::start(HostConfig {
		keypair: Keypair::generate_ed25519(),
		listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
		store: Some(store),
		genesis_hash: GENESIS,
		max_concurrent_streams: 64,
		gate: None,
		limits,
	})
	.await
	.unwrap()
}

async fn client() -> Host {
	client_with(Limits::default()).await
}

async fn client_with(limits: Limits) -> Host {
	Host::start(HostConfig {
		keypair: Keypair::generate_ed25519(),
		listen: vec![],
		store: None,
		genesis_hash: GENESIS,
		max_concurrent_streams: 1,
		gate: None,
		limits,
	})
	.await
	.unwrap()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
	(0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) ^ (i >> 9) as u8).collect()
}

async fn put(
	c: &Host,
	chain: &[Hop],
	d: &[u8],
) -> Result<(SliceHash, Vec<stratos_primitives::NodeId>), Error> {
	put_with_progress(c, chain, d, |_| {}).await
}

/// [`put`], reporting the bytes sent to `progress`.
async fn put_with_progress(
	c: &Host,
	chain: &[Hop],
	d: &[u8],
	progress: impl FnMut(u64),
) -> Result<(SliceHash, Vec<stratos_primitives::NodeId>), Error> {
	c.put_slice(
		chain,
		TaskId::default(),
		d.len() as u64,
		|buf, off| {
			buf.copy_from_slice(&d[off as usize..off as usize + buf.len()]);
			Ok(())
		},
		progress,
	)
	.await
}

fn get_req(slice: SliceHash, key: &sr25519::Pair, offset: u64, length: u64) -> GetRequest {
	GetRequest {
		task: TaskId([1; 32]),
		ledger_period: 5,
		client: key.public().0,
		slice,
		offset,
		length,
	}
}

async fn get(c: &Host, hop: &Hop, slice: SliceHash, key: &sr25519::Pair) -> Result<Vec<u8>, Error> {
	let mut out = Vec::new();
	c.get_slice(hop, get_req(slice, key, 0, u64::MAX), key, |off, bytes| {
		assert_eq!(off as usize, out.len());
		out.extend_from_slice(&bytes);
		Ok(())
	})
	.await?;
	Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replica_round_trips() {
	within(async {
		let rns = [start_rn().await, start_rn().await, start_rn().await];
		let chain: Vec<Hop> = rns.iter().map(|r| r.host.hop()).collect();
		let c = client().await;
		let key = sr25519::Pair::from_seed(&[3; 32]);
		for len in
			[0usize, 1, CHUNK_SIZE as usize, 3 * CHUNK_SIZE as usize, 5 * CHUNK_SIZE as usize + 777]
		{
			let d = data(len, len as u8);
			let (slice, holders) = put(&c, &chain, &d).await.unwrap();
			let ids: Vec<_> = rns.iter().map(|r| r.host.node_id()).collect();
			assert_eq!(holders, ids, "len {len}");
			for r in &rns {
				assert_eq!(c.has_slice(&r.host.hop(), slice).await.unwrap(), Some(len as u64));
				assert_eq!(get(&c, &r.host.hop(), slice, &key).await.unwrap(), d, "len {len}");
			}
		}
		// receipts were countersigned and stored by every node (the last one lands just after
		// the client sent its countersignature)
		for r in &rns {
			let deadline = Instant::now() + Duration::from_secs(5);
			let mut receipts = r.host.store().unwrap().receipts(5).unwrap();
			while receipts.len() < 5 && Instant::now() < deadline {
				tokio::time::sleep(Duration::from_millis(20)).await;
				receipts = r.host.store().unwrap().receipts(5).unwrap();
			}
			assert_eq!(receipts.len(), 5);
			for rec in receipts {
				rec.verify(&GENESIS).unwrap();
				assert_eq!(rec.receipt.node, r.host.node_id());
			}
		}
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn range_reads_are_verified_chunks_covering_the_range() {
	within(async {
		let rn = start_rn().await;
		let c = client().await;
		let key = sr25519::Pair::from_seed(&[4; 32]);
		let d = data(4 * CHUNK_SIZE as usize + 10, 9);
		let (slice, _) = put(&c, &[rn.host.hop()], &d).await.unwrap();
		let mut got = Vec::new();
		let cs = CHUNK_SIZE as u64;
		let receipt = c
			.get_slice(&rn.host.hop(), get_req(slice, &key, cs + 5, cs), &key, |off, b| {
				got.push((off, b.len()));
				Ok(())
			})
			.await
			.unwrap();
		assert_eq!(got, vec![(cs, cs as usize), (2 * cs, cs as usize)]);
		assert_eq!((receipt.receipt.offset, receipt.receipt.length), (cs, 2 * cs));
		let err = c
			.get_slice(&rn.host.hop(), get_req(slice, &key, 10 * cs, 1), &key, |_, _| Ok(()))
			.await;
		assert!(matches!(err, Err(Error::Remote { code: ErrorCode::BadRequest, .. })), "{err:?}");
		let missing = c
			.get_slice(&rn.host.hop(), get_req(SliceHash([1; 32]), &key, 0, 1), &key, |_, _| Ok(()))
			.await;
		assert!(
			matches!(missing, Err(Error::Remote { code: ErrorCode::NotFound, .. })),
			"{missing:?}"
		);
	})
	.await
}

/// RN2 receives the slice's first byte before RN1 has its last one: the client holds back
/// the last chunk until RN2 has seen data, which never happens with store-and-forward.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_is_pipelined_along_the_chain() {
	within(async {
		let rns = [start_rn().await, start_rn().await, start_rn().await];
		let chain: Vec<Hop> = rns.iter().map(|r| r.host.hop()).collect();
		let c = client().await;
		let len = 8 * CHUNK_SIZE as u64;
		let d = data(len as usize, 1);
		let rn1 = rns[0].host.metrics().clone();
		let rn2 = rns[1].host.metrics().clone();
		let mut rn2_first_before_rn1_last = None;
		let (slice, holders) = c
			.put_slice(
				&chain,
				TaskId::default(),
				len,
				|buf, off| {
					if off + buf.len() as u64 == len {
						let deadline = Instant::now() + Duration::from_secs(10);
						while rn2.bytes_in.load(Ordering::SeqCst) == 0 && Instant::now() < deadline
						{
							std::thread::sleep(Duration::from_millis(5));
						}
						rn2_first_before_rn1_last = Some((
							rn2.bytes_in.load(Ordering::SeqCst) > 0,
							rn1.bytes_in.load(Ordering::SeqCst) < len,
						));
					}
					buf.copy_from_slice(&d[off as usize..off as usize + buf.len()]);
					Ok(())
				},
				|_| {},
			)
			.await
			.unwrap();
		assert_eq!(rn2_first_before_rn1_last, Some((true, true)));
		assert_eq!(holders.len(), 3);
		assert_eq!(rns[2].host.store().unwrap().read_all(&slice).unwrap(), d);
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_node_in_the_chain_fails_the_put_and_leaves_nothing_behind() {
	within(async {
		let rns = [start_rn().await, start_rn().await, start_rn().await];
		let chain: Vec<Hop> = rns.iter().map(|r| r.host.hop()).collect();
		let c = client().await;
		let d = data(6 * CHUNK_SIZE as usize, 2);
		let rn3 = rns[2].host.clone();
		let res = c
			.put_slice(
				&chain,
				TaskId::default(),
				d.len() as u64,
				|buf, off| {
					if off == 3 * CHUNK_SIZE as u64 {
						rn3.shutdown();
					}
					buf.copy_from_slice(&d[off as usize..off as usize + buf.len()]);
					Ok(())
				},
				|_| {},
			)
			.await;
		assert!(
			matches!(res, Err(Error::Remote { code: ErrorCode::ForwardFailed, .. })),
			"{res:?}"
		);
		for r in &rns[..2] {
			let s = r.host.store().unwrap().stats();
			assert_eq!((s.slices, s.reserved), (0, 0));
		}
		// the same chain without the dead node works
		let (_, holders) = put(&c, &chain[..2], &d).await.unwrap();
		assert_eq!(holders.len(), 2);
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_dying_mid_download_is_an_error_not_a_hang() {
	within(async {
		let rn = start_rn().await;
		let c = client().await;
		let key = sr25519::Pair::from_seed(&[5; 32]);
		let d = data(16 * CHUNK_SIZE as usize, 3);
		let (slice, _) = put(&c, &[rn.host.hop()], &d).await.unwrap();
		let host = rn.host.clone();
		let mut n = 0;
		let res = c
			.get_slice(&rn.host.hop(), get_req(slice, &key, 0, u64::MAX), &key, |_, _| {
				n += 1;
				if n == 2 {
					host.shutdown();
				}
				Ok(())
			})
			.await;
		assert!(matches!(res, Err(Error::Io { .. }) | Err(Error::Unreachable { .. })), "{res:?}");
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_copy_is_refused_and_quarantined() {
	within(async {
		let rn = start_rn().await;
		let c = client().await;
		let key = sr25519::Pair::from_seed(&[6; 32]);
		let d = data(2 * CHUNK_SIZE as usize, 4);
		let (slice, _) = put(&c, &[rn.host.hop()], &d).await.unwrap();
		let hex = slice.to_hex();
		let path = rn._dir.path().join("slices").join(&hex[..2]).join(&hex);
		let mut bytes = std::fs::read(&path).unwrap();
		bytes[CHUNK_SIZE as usize] ^= 1;
		std::fs::write(&path, bytes).unwrap();
		let res = get(&c, &rn.host.hop(), slice, &key).await;
		assert!(matches!(res, Err(Error::Remote { code: ErrorCode::Corrupt, .. })), "{res:?}");
		assert_eq!(c.has_slice(&rn.host.hop(), slice).await.unwrap(), None);
		// `Has` answers from the index; `Check` reads the slice first and finds the rot.
		let d2 = data(3 * CHUNK_SIZE as usize, 5);
		let (slice2, _) = put(&c, &[rn.host.hop()], &d2).await.unwrap();
		assert_eq!(c.check_slice(&rn.host.hop(), slice2).await.unwrap(), Some(d2.len() as u64));
		let hex = slice2.to_hex();
		let path = rn._dir.path().join("slices").join(&hex[..2]).join(&hex);
		let mut bytes = std::fs::read(&path).unwrap();
		bytes[2 * CHUNK_SIZE as usize + 1] ^= 1;
		std::fs::write(&path, bytes).unwrap();
		assert_eq!(c.has_slice(&rn.host.hop(), slice2).await.unwrap(), Some(d2.len() as u64));
		assert_eq!(c.check_slice(&rn.host.hop(), slice2).await.unwrap(), None);
		assert_eq!(c.has_slice(&rn.host.hop(), slice2).await.unwrap(), None, "quarantined");
		assert_eq!(rn.host.store().unwrap().stats().corrupt, 2);
	})
	.await
}

/// Reads frames from a raw stream until `GetEnd`; returns the receipt and node signature.
async fn read_until_get_end(
	s: &mut libp2p::Stream,
) -> (stratos_primitives::receipt::TaskReceipt, [u8; 64]) {
	let mut dec = Decoder::new();
	let mut buf = vec![0u8; 64 * 1024];
	loop {
		while let Some(f) = dec.next_frame().unwrap() {
			if let Frame::GetEnd { receipt, node_signature } = f {
				return (receipt, node_signature);
			}
		}
		let n = s.read(&mut buf).await.unwrap();
		assert!(n > 0, "the stream ended before GetEnd");
		dec.push(&buf[..n]);
	}
}

/// Reads until the node closes the stream (EOF or reset); fails after `within`.
async fn closed_within(s: &mut libp2p::Stream, within: Duration) -> bool {
	let mut buf = vec![0u8; 4096];
	tokio::time::timeout(within, async {
		loop {
			match s.read(&mut buf).await {
				Ok(0) | Err(_) => return,
				Ok(_) => {},
			}
		}
	})
	.await
	.is_ok()
}

/// Polls `f` until it holds or 10 s pass.
async fn eventually(mut f: impl FnMut() -> bool) {
	let deadline = Instant::now() + Duration::from_secs(10);
	while !f() && Instant::now() < deadline {
		tokio::time::sleep(Duration::from_millis(10)).await;
	}
}

/// A peer that takes the data and does not countersign is not served again, whoever it
/// names as the client; the client it named is not harmed (a get without a ticket proves
/// no client); once it settles with the countersigned receipt it is served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_that_does_not_countersign_is_refused_until_it_settles() {
	within(async {
		let rn = start_rn().await;
		let c = client().await;
		let victim = sr25519::Pair::from_seed(&[8; 32]);
		let d = data(1000, 5);
		let (slice, _) = put(&c, &[rn.host.hop()], &d).await.unwrap();
		// A raw get naming the victim's account that reads everything but never countersigns.
		let mut s = raw_stream(&c, &rn).await;
		s.write_all(&Frame::Get(get_req(slice, &victim, 0, u64::MAX)).to_bytes()).await.unwrap();
		s.flush().await.unwrap();
		let (receipt, node_signature) = read_until_get_end(&mut s).await;
		drop(s);
		// The node notices the missing countersignature when the stream ends.
		eventually(|| rn.host.metrics().snapshot().errors == 1).await;
		assert_eq!(rn.host.metrics().snapshot().errors, 1);
		let other = sr25519::Pair::from_seed(&[9; 32]);
		let res = get(&c, &rn.host.hop(), slice, &other).await;
		assert!(
			matches!(res, Err(Error::Remote { code: ErrorCode::ReceiptRequired, .. })),
			"{res:?}"
		);
		assert_eq!(rn.host.metrics().snapshot().refused_unpaid, 1);
		// The victim, on its own connection, is served.
		let victims_host = client().await;
		assert_eq!(get(&victims_host, &rn.host.hop(), slice, &victim).await.unwrap(), d);
		// Settling: the countersigned receipt, sent later on a new stream.
		let client_signature = victim.sign(&receipt.client_payload(&node_signature)).0;
		let signed = stratos_primitives::receipt::SignedReceipt {
			receipt,
			node_signature,
			client_signature,
		};
		let mut s = raw_stream(&c, &rn).await;
		s.write_all(&Frame::Settle { receipts: vec![signed] }.to_bytes()).await.unwrap();
		s.flush().await.unwrap();
		let reply = first_frame(&mut s).await;
		assert_eq!(reply, Frame::Settled { accepted: 1, outstanding: 0 });
		assert_eq!(get(&c, &rn.host.hop(), slice, &other).await.unwrap(), d);
		assert!(rn.host.store().unwrap().receipts(5).unwrap().contains(&signed));
		assert_eq!(rn.host.metrics().snapshot().receipts_settled, 1);
	})
	.await
}

/// The first frame the node sends on `s`.
async fn first_frame(s: &mut libp2p::Stream) -> Frame {
	let mut dec = Decoder::new();
	let mut buf = vec![0u8; 1024];
	loop {
		if let Some(f) = dec.next_frame().unwrap() {
			return f;
		}
		let n = s.read(&mut buf).await.unwrap();
		assert!(n > 0, "the stream ended before a frame");
		dec.push(&buf[..n]);
	}
}

async fn raw_stream(c: &Host, rn: &Rn) -> libp2p::Stream {
	c.open_raw(&rn.host.hop()).await.unwrap()
}

/// Every hostile stream is closed, and counted exactly: three that break the protocol, one
/// that goes silent (closed at the first-frame deadline).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_peers_are_disconnected_and_the_node_keeps_serving() {
	within(async {
		let rn =
			start_rn_with(Limits { first_frame: Duration::from_secs(1), ..short_limits() }).await;
		let c = client().await;
		let key = sr25519::Pair::from_seed(&[10; 32]);
		let inputs: Vec<Vec<u8>> = vec![
			vec![0xff; 64],                                                  // garbage
			((sds_core::wire::MAX_FRAME + 1) as u32).to_be_bytes().to_vec(), // oversized header
			Frame::Data(vec![1; 10]).to_bytes(),                             // data without a request
			{
				let mut v = Frame::Has { slice: SliceHash([0; 32]) }.to_bytes();
				v[3] = v[3].wrapping_add(5);
				v
			}, // length prefix longer than the body, then silence
		];
		for (i, input) in inputs.into_iter().enumerate() {
			let mut s = raw_stream(&c, &rn).await;
			s.write_all(&input).await.unwrap();
			s.flush().await.unwrap();
			assert!(
				closed_within(&mut s, Duration::from_secs(10)).await,
				"input {i} was not closed"
			);
		}
		// `errors` is counted before the kind of error: wait for all three.
		eventually(|| {
			let m = rn.host.metrics().snapshot();
			(m.errors, m.protocol_errors, m.timed_out) == (4, 3, 1)
		})
		.await;
		let m = rn.host.metrics().snapshot();
		assert_eq!((m.errors, m.protocol_errors, m.timed_out), (4, 3, 1), "{m:?}");
		let d = data(5000, 6);
		let (slice, _) = put(&c, &[rn.host.hop()], &d).await.unwrap();
		assert_eq!(get(&c, &rn.host.hop(), slice, &key).await.unwrap(), d);
	})
	.await
}

/// A slow-loris peer (puts that trickle a frame now and then) and a peer flooding the node
/// with streams that never send anything do not stop an honest upload: each peer holds at
/// most its stream cap, a trickling put is closed at its transfer deadline and a silent
/// stream at the first-frame deadline. Every hostile stream is closed and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_loris_and_stream_floods_do_not_stop_an_honest_upload() {
	within(async {
		let limits = short_limits();
		let cap = limits.streams_per_peer;
		let rn = start_rn_with(limits).await;
		let hop = rn.host.hop();
		let total_slots = rn.host.free_stream_slots();
		let (loris, flood, honest) = (client().await, client().await, client().await);
		// Slow loris: `cap` puts of 4 MiB that send 1 KiB every 300 ms (deadline 1 s + 4 s).
		let mut lorises = Vec::new();
		for _ in 0..cap {
			let mut s = loris.open_raw(&hop).await.unwrap();
			let req = PutRequest { task: TaskId::default(), slice_len: 4 << 20, forward: vec![] };
			s.write_all(&Frame::Put(req).to_bytes()).await.unwrap();
			// One at a time: libp2p-stream hands the node one new stream per connection at a
			// time and drops a second that arrives before the first was taken.
			let held = lorises.len() + 1;
			eventually(|| rn.host.free_stream_slots() == total_slots - held).await;
			lorises.push(tokio::spawn(async move {
				let started = Instant::now();
				let mut buf = vec![0u8; 1024];
				while started.elapsed() < Duration::from_secs(30) {
					if s.write_all(&Frame::Data(vec![0; 1024]).to_bytes()).await.is_err() {
						return true;
					}
					let _ = s.flush().await;
					match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
						Ok(Ok(0)) | Ok(Err(_)) => return true,
						_ => {},
					}
				}
				false
			}));
		}
		eventually(|| rn.host.free_stream_slots() == total_slots - cap).await;
		assert_eq!(rn.host.free_stream_slots(), total_slots - cap);
		// Flood: 100 streams that send nothing, opened one after the other so each is counted
		// (more than the node's 64 request slots).
		let mut floods = Vec::new();
		for i in 0..100usize {
			floods.push(flood.open_raw(&hop).await.unwrap());
			let admitted = (i + 1).min(cap);
			let refused = (i + 1 - admitted) as u64;
			eventually(|| {
				rn.host.free_stream_slots() == total_slots - cap - admitted
					&& rn.host.metrics().snapshot().refused_peer_limit == refused
			})
			.await;
			assert_eq!(rn.host.metrics().snapshot().refused_peer_limit, refused, "stream {i}");
		}
		// The honest upload goes through while both attacks hold what they can.
		let d = data(1 << 20, 11);
		for _ in 0..3 {
			put(&honest, std::slice::from_ref(&hop), &d).await.unwrap();
		}
		// The node frees an upload's slot when its task ends, just after the ack the client
		// has already read: wait for the honest streams' slots, not for the attackers'.
		eventually(|| rn.host.free_stream_slots() == total_slots - 2 * cap).await;
		assert_eq!(rn.host.free_stream_slots(), total_slots - 2 * cap, "the attacks still hold");
		// Every hostile stream is closed: the flood's refused ones at once, its admitted ones at
		// the first-frame deadline, the lorises at their transfer deadline.
		for (i, s) in floods.iter_mut().enumerate() {
			assert!(closed_within(s, Duration::from_secs(15)).await, "flood stream {i} still open");
		}
		for l in lorises {
			assert!(l.await.unwrap(), "a slow-loris stream was never closed");
		}
		eventually(|| rn.host.metrics().snapshot().timed_out == 2 * cap as u64).await;
		let m = rn.host.metrics().snapshot();
		assert_eq!(
			(m.timed_out, m.refused_peer_limit),
			(2 * cap as u64, 100 - cap as u64),
			"{m:?}"
		);
		// A timed-out stream is counted before its task ends and frees its slot.
		eventually(|| rn.host.free_stream_slots() == total_slots).await;
		assert_eq!(rn.host.free_stream_slots(), total_slots);
		let st = rn.host.store().unwrap().stats();
		assert_eq!((st.slices, st.reserved), (1, 0), "only the honest slice, nothing reserved");
	})
	.await
}

/// A put without an authorisation may not make the node dial more hops than the replica
/// count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_forward_list_is_refused_before_anything_is_dialled() {
	within(async {
		let rn = start_rn().await;
		let c = client().await;
		let fake = |i: u8| Hop {
			node: sds_net::node_id(&Keypair::ed25519_from_bytes([i; 32]).unwrap()),
			addrs: vec![format!("/ip4/127.0.0.1/tcp/{}", 1000 + i as u16)],
		};
		let chain = vec![rn.host.hop(), fake(1), fake(2), fake(3)];
		let res = put(&c, &chain, &data(100, 1)).await;
		match res {
			Err(Error::Remote { code: ErrorCode::BadRequest, message, .. }) => {
				assert!(message.contains("forward list"), "{message}")
			},
			other => panic!("expected a refusal, got {other:?}"),
		}
		assert_eq!(rn.host.store().unwrap().stats().slices, 0);
	})
	.await
}

/// Every network test has an outer deadline: a hang fails the test instead of the CI run.
async fn within(test: impl std::future::Future<Output = ()>) {
	tokio::time::timeout(std::time::Duration::from_secs(60), test)
		.await
		.expect("the test did not finish within 60 s")
}

/// A file system whose creation of a slice's temporary file waits until the test opens the
/// gate (or a watchdog does, so that a stalled node fails the test instead of hanging it).
struct GatedFs {
	/// Hand out slice files opened read-only, so every write to them fails.
	read_only: bool,
	entered: std::sync::atomic::AtomicBool,
	open: std::sync::Mutex<bool>,
	opened: std::sync::Condvar,
}

impl GatedFs {
	fn open_gate(&self) {
		*self.open.lock().unwrap() = true;
		self.opened.notify_all();
	}
	fn is_open(&self) -> bool {
		*self.open.lock().unwrap()
	}
}

impl sds_store::Fs for GatedFs {
	fn create_dir_all(&self, path: &std::path::Path) -> std::io::Result<()> {
		sds_store::OsFs.create_dir_all(path)
	}
	fn is_dir(&self, path: &std::path::Path) -> bool {
		sds_store::OsFs.is_dir(path)
	}
	fn exists(&self, path: &std::path::Path) -> bool {
		sds_store::OsFs.exists(path)
	}
	fn read_dir(&self, path: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
		sds_store::OsFs.read_dir(path)
	}
	fn create_new(&self, path: &std::path::Path) -> std::io::Result<std::fs::File> {
		if path.parent().and_then(|p| p.file_name()) == Some(std::ffi::OsStr::new("tmp")) {
			self.entered.store(true, Ordering::SeqCst);
			let mut open = self.open.lock().unwrap();
			while !*open {
				open = self.opened.wait(open).unwrap();
			}
		}
		let file = sds_store::OsFs.create_new(path)?;
		if self.read_only {
			return std::fs::File::open(path);
		}
		Ok(file)
	}
	fn open(&self, path: &std::path::Path) -> std::io::Result<std::fs::File> {
		sds_store::OsFs.open(path)
	}
	fn sync_file(&self, path: &std::path::Path, file: &std::fs::File) -> std::io::Result<()> {
		sds_store::OsFs.sync_file(path, file)
	}
	fn sync_dir(&self, path: &std::path::Path) -> std::io::Result<()> {
		sds_store::OsFs.sync_dir(path)
	}
	fn rename(&self, from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
		sds_store::OsFs.rename(from, to)
	}
	fn remove_file(&self, path: &std::path::Path) -> std::io::Result<()> {
		sds_store::OsFs.remove_file(path)
	}
}

/// Issue 15, item 11: a put stuck in the file system (here: creating its file) does not
/// stop the node from answering other streams, even with one runtime worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_put_stuck_in_the_file_system_does_not_stall_the_node() {
	let dir = tempfile::tempdir().unwrap();
	let fs = Arc::new(GatedFs {
		read_only: false,
		entered: false.into(),
		open: std::sync::Mutex::new(false),
		opened: std::sync::Condvar::new(),
	});
	let store = Arc::new(Store::open_with(dir.path(), 1 << 32, fs.clone()).unwrap());
	let node = node_on(store, Limits::default()).await;
	let watchdog = {
		let fs = fs.clone();
		std::thread::spawn(move || {
			let open = fs.open.lock().unwrap();
			let timeout = Duration::from_secs(15);
			drop(fs.opened.wait_timeout_while(open, timeout, |open| !*open).unwrap());
			fs.open_gate();
		})
	};
	let (c, hop) = (client().await, node.hop());
	let uploading = {
		let (c, hop, d) = (c.clone(), hop.clone(), data(2 * CHUNK_SIZE as usize, 4));
		tokio::spawn(async move { put(&c, &[hop], &d).await })
	};
	while !fs.entered.load(Ordering::SeqCst) {
		tokio::time::sleep(Duration::from_millis(10)).await;
	}
	// The put waits in the file system; another stream is answered meanwhile.
	let other = c.has_slice(&hop, SliceHash([9; 32])).await;
	assert!(!fs.is_open(), "the node answered only once the put's file system call returned");
	assert_eq!(other.unwrap(), None);
	fs.open_gate();
	let (slice, holders) = uploading.await.unwrap().expect("the put completes once unblocked");
	let mut h = stratos_primitives::merkle::SliceHasher::new();
	h.update(&data(2 * CHUNK_SIZE as usize, 4));
	assert_eq!(slice, SliceHash(h.finish().0));
	assert_eq!(holders, vec![node.node_id()]);
	watchdog.join().unwrap();
}

/// A slice whose writes fail on the node's disk (its file is read-only here) is refused with
/// the store's error, and by the time the sender hears it the file and the reservation are
/// gone; the node goes on answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_whose_writes_fail_is_refused_and_leaves_nothing_behind() {
	within(async {
		let dir = tempfile::tempdir().unwrap();
		let fs = Arc::new(GatedFs {
			read_only: true,
			entered: false.into(),
			open: std::sync::Mutex::new(true),
			opened: std::sync::Condvar::new(),
		});
		let store = Arc::new(Store::open_with(dir.path(), 1 << 32, fs).unwrap());
		let node = node_on(store.clone(), Limits::default()).await;
		let c = client().await;
		let res = put(&c, &[node.hop()], &data(8 * CHUNK_SIZE as usize, 5)).await;
		assert!(matches!(res, Err(Error::Remote { .. })), "{res:?}");
		let s = store.stats();
		assert_eq!((s.slices, s.reserved), (0, 0), "{s:?}");
		let left = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
		assert_eq!(left, 0, "temporary files left behind");
		assert_eq!(c.has_slice(&node.hop(), SliceHash([9; 32])).await.unwrap(), None);
	})
	.await
}

/// A put that sends more bytes than it announced is refused as soon as it does, without
/// waiting for its end, and leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_with_more_bytes_than_announced_is_refused_at_once() {
	within(async {
		let rn = start_rn().await;
		let c = client().await;
		let mut s = raw_stream(&c, &rn).await;
		let req = PutRequest { task: TaskId::default(), slice_len: 10, forward: vec![] };
		s.write_all(&Frame::Put(req).to_bytes()).await.unwrap();
		s.write_all(&Frame::Data(vec![1; 8]).to_bytes()).await.unwrap();
		s.write_all(&Frame::Data(vec![2; 8]).to_bytes()).await.unwrap();
		s.flush().await.unwrap();
		// No `PutEnd`: the refusal must come from the excess bytes alone (well before the
		// 30-s idle timeout).
		let reply = tokio::time::timeout(Duration::from_secs(10), first_frame(&mut s))
			.await
			.expect("no refusal within 10 s");
		assert!(matches!(reply, Frame::Error { code: ErrorCode::HashMismatch, .. }), "{reply:?}");
		let st = rn.host.store().unwrap().stats();
		assert_eq!((st.slices, st.reserved), (0, 0), "{st:?}");
	})
	.await
}

/// A client opens its configured number of connections to a node before its first stream,
/// so the slices it moves at once are spread over all of them from the start (each has its
/// own TCP window and its own encryption task), and dialing again while connected opens no
/// more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_opens_its_connections_to_a_node_before_the_first_stream() {
	within(async {
		let rn = start_rn().await;
		let c = client_with(Limits { dial_connections: 3, ..Limits::default() }).await;
		let hop = rn.host.hop();
		c.connect(&hop).await.unwrap();
		assert_eq!(c.metrics().snapshot().connections, 3, "when the first dial returns");
		let slices: Vec<Vec<u8>> =
			(0..6usize).map(|i| data(CHUNK_SIZE as usize + 99 * i, i as u8)).collect();
		// One at a time: concurrent puts of slices smaller than a stream's window can fail
		// whatever the connections (libp2p-stream drops an inbound stream that arrives
		// before the node took the previous one, and a put sent whole is not retried).
		for d in &slices {
			let (slice, holders) = put(&c, std::slice::from_ref(&hop), d).await.unwrap();
			assert_eq!(holders, vec![hop.node]);
			assert_eq!(
				&get(&c, &hop, slice, &sr25519::Pair::from_seed(&[4; 32])).await.unwrap(),
				d
			);
		}
		assert_eq!(c.metrics().snapshot().connections, 3);
		eventually(|| rn.host.metrics().snapshot().connections == 3).await;
		assert_eq!(rn.host.metrics().snapshot().connections, 3);
	})
	.await;
}

/// A node takes at most its per-peer number of connections and closes the rest; a client
/// that dials more (another version, another setting) is left with the ones the node kept
/// and has every stream served on them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_refusing_extra_connections_still_serves_every_stream() {
	within(async {
		let rn = start_rn_with(Limits { connections_per_peer: 1, ..Limits::default() }).await;
		let c = client_with(Limits { dial_connections: 4, ..Limits::default() }).await;
		let hop = rn.host.hop();
		c.connect(&hop).await.expect("the connection the node keeps");
		eventually(|| c.metrics().snapshot().connections == 1).await;
		assert_eq!(c.metrics().snapshot().connections, 1, "the refused ones are closed");
		let key = sr25519::Pair::from_seed(&[4; 32]);
		let slices: Vec<Vec<u8>> =
			(0..8usize).map(|i| data(CHUNK_SIZE as usize + 7 * i, i as u8)).collect();
		let mut stored = Vec::new();
		for d in &slices {
			stored.push(put(&c, std::slice::from_ref(&hop), d).await.expect("every put served").0);
		}
		for (slice, d) in stored.iter().zip(&slices) {
			assert_eq!(&get(&c, &hop, *slice, &key).await.expect("every get served"), d);
		}
		assert_eq!(rn.host.metrics().snapshot().connections, 1);
	})
	.await;
}

/// A client keeps at most its per-peer stream cap of streams open to one node, the cap the
/// node puts on it: moving more slices at once, it waits for a slot instead of having
/// streams refused (and retried, or failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_moving_more_slices_than_a_nodes_stream_cap_has_none_refused() {
	within(async {
		let capped = Limits { streams_per_peer: 3, ..Limits::default() };
		let rn = start_rn_with(capped.clone()).await;
		let c = client_with(capped).await;
		let hop = rn.host.hop();
		let key = sr25519::Pair::from_seed(&[4; 32]);
		let d = data(3 * CHUNK_SIZE as usize + 5, 9);
		let (slice, _) = put(&c, std::slice::from_ref(&hop), &d).await.unwrap();
		let gets = (0..12).map(|_| get(&c, &hop, slice, &key));
		for got in futures::future::join_all(gets).await {
			assert_eq!(got.expect("every get served"), d);
		}
		assert_eq!(rn.host.metrics().snapshot().refused_peer_limit, 0);
		assert_eq!(rn.host.metrics().snapshot().gets_served, 12);
		// The same for puts.
		let more: Vec<Vec<u8>> = (0..12).map(|i| data(CHUNK_SIZE as usize + 5, 100 + i)).collect();
		let puts = more.iter().map(|d| put(&c, std::slice::from_ref(&hop), d));
		for got in futures::future::join_all(puts).await {
			got.expect("every put stored");
		}
		assert_eq!(rn.host.metrics().snapshot().refused_peer_limit, 0);
		assert_eq!(rn.host.metrics().snapshot().slices_stored, 13);
	})
	.await;
}

/// Many small puts at once from one client to one node all land. A node drops an opened
/// stream it cannot take at once (libp2p-stream hands over one at a time per connection);
/// a small slice may already be fully sent by then, and the client tries it again since
/// storing a slice twice is a no-op.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_small_puts_all_land() {
	within(async {
		let rn = start_rn().await;
		let c = client().await;
		let hop = rn.host.hop();
		let slices: Vec<Vec<u8>> = (0..64).map(|i| data(CHUNK_SIZE as usize + 5, i)).collect();
		// Each put's progress: a slice sent again is not counted again.
		let puts = slices.iter().map(|d| {
			let (c, hop) = (&c, &hop);
			async move {
				let mut reported = 0u64;
				let r = put_with_progress(c, std::slice::from_ref(hop), d, |n| reported += n).await;
				(r, reported)
			}
		});
		let mut failed = Vec::new();
		let mut stored = Vec::new();
		for (i, (got, reported)) in futures::future::join_all(puts).await.into_iter().enumerate() {
			match got {
				Ok((slice, _)) => {
					assert_eq!(reported, slices[i].len() as u64, "progress of put {i}");
					stored.push((slice, i))
				},
				Err(e) => failed.push(format!("put {i}: {e}")),
			}
		}
		assert!(failed.is_empty(), "{} of 64 puts failed: {failed:?}", failed.len());
		let key = sr25519::Pair::from_seed(&[7; 32]);
		for (slice, i) in stored {
			assert_eq!(get(&c, &hop, slice, &key).await.unwrap(), slices[i]);
		}
	})
	.await;
}
