//! N resource nodes in one process on loopback, exercising the transfer protocol.

use futures::{AsyncReadExt, AsyncWriteExt};
use sds_core::wire::{ErrorCode, Frame, GetRequest, Hop};
use sds_net::{Error, Host, HostConfig, Keypair};
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
	let dir = tempfile::tempdir().unwrap();
	let store = Arc::new(Store::open(dir.path(), 1 << 32).unwrap());
	let host = Host::start(HostConfig {
		keypair: Keypair::generate_ed25519(),
		listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
		store: Some(store),
		genesis_hash: GENESIS,
		max_concurrent_streams: 64,
		gate: None,
	})
	.await
	.unwrap();
	Rn { host, _dir: dir }
}

async fn client() -> Host {
	Host::start(HostConfig {
		keypair: Keypair::generate_ed25519(),
		listen: vec![],
		store: None,
		genesis_hash: GENESIS,
		max_concurrent_streams: 1,
		gate: None,
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
	c.put_slice(
		chain,
		TaskId::default(),
		d.len() as u64,
		|buf, off| {
			buf.copy_from_slice(&d[off as usize..off as usize + buf.len()]);
			Ok(())
		},
		|_| {},
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
		out.extend_from_slice(bytes);
		Ok(())
	})
	.await?;
	Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replica_round_trips() {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn range_reads_are_verified_chunks_covering_the_range() {
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
	let err =
		c.get_slice(&rn.host.hop(), get_req(slice, &key, 10 * cs, 1), &key, |_, _| Ok(())).await;
	assert!(matches!(err, Err(Error::Remote { code: ErrorCode::BadRequest, .. })), "{err:?}");
	let missing = c
		.get_slice(&rn.host.hop(), get_req(SliceHash([1; 32]), &key, 0, 1), &key, |_, _| Ok(()))
		.await;
	assert!(matches!(missing, Err(Error::Remote { code: ErrorCode::NotFound, .. })), "{missing:?}");
}

/// RN2 receives the slice's first byte before RN1 has its last one: the client holds back
/// the last chunk until RN2 has seen data, which never happens with store-and-forward.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_is_pipelined_along_the_chain() {
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
					while rn2.bytes_in.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_node_in_the_chain_fails_the_put_and_leaves_nothing_behind() {
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
	assert!(matches!(res, Err(Error::Remote { code: ErrorCode::ForwardFailed, .. })), "{res:?}");
	for r in &rns[..2] {
		let s = r.host.store().unwrap().stats();
		assert_eq!((s.slices, s.reserved), (0, 0));
	}
	// the same chain without the dead node works
	let (_, holders) = put(&c, &chain[..2], &d).await.unwrap();
	assert_eq!(holders.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_dying_mid_download_is_an_error_not_a_hang() {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_copy_is_refused_and_quarantined() {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_does_not_countersign_is_not_served_again() {
	let rn = start_rn().await;
	let c = client().await;
	let key = sr25519::Pair::from_seed(&[8; 32]);
	let d = data(1000, 5);
	let (slice, _) = put(&c, &[rn.host.hop()], &d).await.unwrap();
	// A raw get that reads everything but never countersigns.
	let mut s = raw_stream(&c, &rn).await;
	s.write_all(&Frame::Get(get_req(slice, &key, 0, u64::MAX)).to_bytes()).await.unwrap();
	s.flush().await.unwrap();
	let mut buf = vec![0u8; 4096];
	let mut seen = 0;
	while seen < 1000 + 100 {
		let n = s.read(&mut buf).await.unwrap();
		assert!(n > 0);
		seen += n;
	}
	drop(s);
	// The node notices the missing countersignature when the stream ends; wait for that
	// (the request that fails counts in `errors`).
	let deadline = Instant::now() + Duration::from_secs(10);
	while rn.host.metrics().snapshot().errors == 0 && Instant::now() < deadline {
		tokio::time::sleep(Duration::from_millis(20)).await;
	}
	let res = get(&c, &rn.host.hop(), slice, &key).await;
	assert!(matches!(res, Err(Error::Remote { code: ErrorCode::ReceiptRequired, .. })), "{res:?}");
	assert_eq!(rn.host.metrics().snapshot().refused_unpaid, 1);
	// another client is still served
	let other = sr25519::Pair::from_seed(&[9; 32]);
	assert_eq!(get(&c, &rn.host.hop(), slice, &other).await.unwrap(), d);
}

async fn raw_stream(c: &Host, rn: &Rn) -> libp2p::Stream {
	c.open_raw(&rn.host.hop()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_peers_are_disconnected_and_the_node_keeps_serving() {
	let rn = start_rn().await;
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
	for input in inputs {
		let mut s = raw_stream(&c, &rn).await;
		s.write_all(&input).await.unwrap();
		s.flush().await.unwrap();
		let mut buf = vec![0u8; 1024];
		// the node answers with an error frame and/or closes the stream
		let _ = tokio::time::timeout(Duration::from_secs(40), s.read(&mut buf)).await;
	}
	assert!(rn.host.metrics().snapshot().protocol_errors >= 2);
	let d = data(5000, 6);
	let (slice, _) = put(&c, &[rn.host.hop()], &d).await.unwrap();
	assert_eq!(get(&c, &rn.host.hop(), slice, &key).await.unwrap(), d);
}
