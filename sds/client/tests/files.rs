//! Whole-file round trips through resource nodes running in this process on loopback.

use sds_client::{ClientConfig, Error, SdsClient};
use sds_net::{Host, HostConfig, Keypair};
use sds_store::Store;
use sp_core::{sr25519, Pair};
use std::sync::Arc;

const SLICE: u64 = 256 * 1024;

struct Rn {
	host: Host,
	_dir: tempfile::TempDir,
}

async fn start_rns(n: usize) -> Vec<Rn> {
	let mut v = Vec::new();
	for _ in 0..n {
		let dir = tempfile::tempdir().unwrap();
		let store = Arc::new(Store::open(dir.path(), 1 << 32).unwrap());
		let host = Host::start(HostConfig {
			keypair: Keypair::generate_ed25519(),
			listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
			store: Some(store),
			genesis_hash: [0; 32],
			max_concurrent_streams: 64,
			gate: None,
			limits: Default::default(),
		})
		.await
		.unwrap();
		v.push(Rn { host, _dir: dir });
	}
	v
}

async fn client(rns: &[Rn], replicas: usize) -> SdsClient {
	client_with(rns, replicas, SLICE).await
}

async fn client_with(rns: &[Rn], replicas: usize, slice_size: u64) -> SdsClient {
	SdsClient::connect(ClientConfig {
		nodes: rns.iter().map(|r| r.host.hop()).collect(),
		replicas,
		slice_size,
		parallel: 4,
		genesis_hash: [0; 32],
		account: sr25519::Pair::from_seed(&[1; 32]),
		ledger_period: 0,
		connections: sds_net::Limits::default().dial_connections,
	})
	.await
	.unwrap()
}

fn write_file(dir: &std::path::Path, name: &str, len: usize) -> (std::path::PathBuf, Vec<u8>) {
	let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 1000) as u8).collect();
	let p = dir.join(name);
	std::fs::write(&p, &data).unwrap();
	(p, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn round_trips_of_all_sizes() {
	within(async {
		let rns = start_rns(4).await;
		let c = client(&rns, 3).await;
		let dir = tempfile::tempdir().unwrap();
		for len in [0usize, 1, SLICE as usize, 3 * SLICE as usize, 5 * SLICE as usize + 12345] {
			let (p, data) = write_file(dir.path(), &format!("in-{len}"), len);
			let rec = c.put_file(&p, &()).await.unwrap();
			assert_eq!(rec.size, len as u64);
			assert_eq!(rec.slices.len() as u64, (len as u64).div_ceil(SLICE));
			assert_eq!(rec.id(), SdsClient::file_id_of(&p, SLICE).unwrap());
			for s in &rec.slices {
				let mut holders: Vec<_> = s.holders.iter().map(|h| h.0.clone()).collect();
				holders.sort();
				holders.dedup();
				assert_eq!(holders.len(), 3, "three distinct holders");
			}
			let out = dir.path().join(format!("out-{len}"));
			c.get_file(&rec, &out, &()).await.unwrap();
			assert_eq!(std::fs::read(&out).unwrap(), data, "len {len}");
			assert!(c.replica_health(&rec).await.iter().all(|h| *h == 3));
		}
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn download_falls_back_when_replicas_die_or_lie() {
	within(async {
		let rns = start_rns(3).await;
		let c = client(&rns, 3).await;
		let dir = tempfile::tempdir().unwrap();
		let (p, data) = write_file(dir.path(), "f", 6 * SLICE as usize);
		let rec = c.put_file(&p, &()).await.unwrap();
		// Corrupt every slice on node 0 and kill node 1: only node 2 serves good data.
		let root = rns[0]._dir.path().join("slices");
		for sub in std::fs::read_dir(&root).unwrap() {
			for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
				let f = f.unwrap().path();
				let mut b = std::fs::read(&f).unwrap();
				b[0] ^= 0xff;
				std::fs::write(&f, b).unwrap();
			}
		}
		rns[1].host.shutdown();
		let out = dir.path().join("out");
		c.get_file(&rec, &out, &()).await.unwrap();
		assert_eq!(std::fs::read(&out).unwrap(), data);
		// With the last good node gone too, the download fails and leaves nothing behind.
		rns[2].host.shutdown();
		let out2 = dir.path().join("out2");
		let err = c.get_file(&rec, &out2, &()).await.unwrap_err();
		assert!(matches!(err, Error::AllReplicasFailed { .. }), "{err}");
		let leftovers: Vec<_> = std::fs::read_dir(dir.path())
			.unwrap()
			.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
			.filter(|n| n.contains("out2"))
			.collect();
		assert!(leftovers.is_empty(), "{leftovers:?}");
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_routes_around_a_dead_node() {
	within(async {
		let rns = start_rns(4).await;
		let c = client(&rns, 3).await;
		rns[3].host.shutdown();
		let dir = tempfile::tempdir().unwrap();
		let (p, data) = write_file(dir.path(), "f", 8 * SLICE as usize);
		let rec = c.put_file(&p, &()).await.unwrap();
		let dead = rns[3].host.node_id().to_hex();
		assert!(rec.slices.iter().all(|s| s.holders.iter().all(|h| h.0 != dead)));
		let out = dir.path().join("out");
		c.get_file(&rec, &out, &()).await.unwrap();
		assert_eq!(std::fs::read(&out).unwrap(), data);
		// Too few live nodes for 3 replicas is a clear error.
		rns[2].host.shutdown();
		let err = c.put_file(&p, &()).await.unwrap_err();
		assert!(
			matches!(err, Error::NotEnoughNodes { needed: 3, .. } | Error::UploadFailed { .. }),
			"{err}"
		);
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_clear_errors() {
	within(async {
		let rns = start_rns(1).await;
		let c = client(&rns, 3).await;
		let dir = tempfile::tempdir().unwrap();
		let err = c.put_file(&dir.path().join("missing"), &()).await.unwrap_err();
		assert!(err.to_string().starts_with("cannot read"), "{err}");
		let err = c.put_file(dir.path(), &()).await.unwrap_err();
		assert!(err.to_string().contains("not a regular file"), "{err}");
		let (p, _) = write_file(dir.path(), "f", 10);
		let err = c.put_file(&p, &()).await.unwrap_err();
		assert!(matches!(err, Error::NotEnoughNodes { needed: 3, available: 1 }), "{err}");
		assert!(sds_client::parse_node("/ip4/127.0.0.1/tcp/1").is_err());
		assert!(sds_client::parse_node("garbage").is_err());
	})
	.await
}

/// Bytes all nodes served.
fn bytes_out(rns: &[Rn]) -> u64 {
	rns.iter().map(|r| r.host.metrics().snapshot().bytes_out).sum()
}

/// Flips a byte at `at` in `rn`'s copy of slice `hash`, if it holds one; whether it did.
fn damage(rn: &Rn, hash: &str, at: usize) -> bool {
	let f = rn._dir.path().join("slices").join(&hash[..2]).join(hash);
	let Ok(mut b) = std::fs::read(&f) else { return false };
	b[at] ^= 0xff;
	std::fs::write(&f, b).unwrap();
	true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fallback_continues_from_the_last_verified_chunk() {
	within(async {
		// 1 MiB slices: 16 chunks, which a node reads and checks in batches of 8.
		const BIG: u64 = 1 << 20;
		let rns = start_rns(3).await;
		let c = client_with(&rns, 3, BIG).await;
		let dir = tempfile::tempdir().unwrap();
		let (p, data) = write_file(dir.path(), "f", 6 * BIG as usize);
		let rec = c.put_file(&p, &()).await.unwrap();
		// Nodes 0 and 1 have chunk 12 of every slice damaged: asked from the start they
		// serve chunks 0..8, then refuse.
		for rn in &rns[..2] {
			for s in &rec.slices {
				assert!(damage(rn, &s.hash, 12 * 65536 + 7));
			}
		}
		let before = bytes_out(&rns);
		let out = dir.path().join("out");
		c.get_file(&rec, &out, &()).await.unwrap();
		assert_eq!(std::fs::read(&out).unwrap(), data);
		// Whichever replica came first, no verified chunk travelled twice.
		assert_eq!(bytes_out(&rns) - before, data.len() as u64);
	})
	.await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_download_keeps_what_it_verified_and_resumes() {
	within(async {
		let rns = start_rns(3).await;
		let c = client(&rns, 1).await;
		let dir = tempfile::tempdir().unwrap();
		let (p, data) = write_file(dir.path(), "f", 6 * SLICE as usize);
		let rec = c.put_file(&p, &()).await.unwrap();
		// Slices 2 and 4 rot on their only holder.
		for i in [2, 4] {
			assert_eq!(rns.iter().filter(|rn| damage(rn, &rec.slices[i].hash, 0)).count(), 1);
		}
		let out = dir.path().join("out");
		let err = c.get_file(&rec, &out, &()).await.unwrap_err();
		let Error::Interrupted { kept, verified, .. } = &err else { panic!("{err}") };
		assert!(err.to_string().contains("run the same command again to resume"), "{err}");
		// The other slices were all fetched, although slice 2 failed first.
		assert_eq!(*verified, 4 * SLICE);
		assert!(std::path::Path::new(kept).exists());
		assert!(!out.exists());
		// Stored again, the two slices have good copies; the same download resumes and only
		// they travel.
		let rec2 = c.put_file(&p, &()).await.unwrap();
		assert_eq!(rec2.file_id, rec.file_id);
		let before = bytes_out(&rns);
		c.get_file(&rec2, &out, &()).await.unwrap();
		assert_eq!(std::fs::read(&out).unwrap(), data);
		assert_eq!(bytes_out(&rns) - before, 2 * SLICE);
		assert!(!std::path::Path::new(kept).exists(), "the partial file became the output");
	})
	.await
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
	fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
		self.0.lock().unwrap().extend_from_slice(b);
		Ok(b.len())
	}
	fn flush(&mut self) -> std::io::Result<()> {
		Ok(())
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ranges_stream_verified_bytes_in_order_and_fetch_only_their_chunks() {
	within(async {
		let rns = start_rns(3).await;
		let c = client(&rns, 3).await;
		let dir = tempfile::tempdir().unwrap();
		let len = 5 * SLICE + 12345;
		let (p, data) = write_file(dir.path(), "f", len as usize);
		let rec = c.put_file(&p, &()).await.unwrap();
		// A lying copy on node 0: streams fall back to the others.
		for s in &rec.slices {
			damage(&rns[0], &s.hash, 100);
		}
		let cases = [
			0..len,
			0..0,
			7..7,
			1..2,
			SLICE - 10..SLICE + 10,
			SLICE + 65536 * 2 + 3..4 * SLICE + 1,
			len - 1..len,
			len..len,
		];
		for r in cases {
			let w = Shared::default();
			let before = bytes_out(&rns);
			let n = c.stream_file(&rec, r.clone(), w.clone(), &()).await.unwrap();
			assert_eq!(n, r.end - r.start);
			assert!(*w.0.lock().unwrap() == data[r.start as usize..r.end as usize], "{r:?}");
			// Only the chunks the range touches travel (node 0's refusals send nothing).
			let cs = 65536;
			let chunks: u64 = rec
				.slices
				.iter()
				.enumerate()
				.map(|(i, s)| {
					let base = i as u64 * SLICE;
					let (lo, hi) = (r.start.max(base), r.end.min(base + s.len));
					if lo >= hi {
						return 0;
					}
					let (a, b) = ((lo - base) / cs * cs, (hi - base).div_ceil(cs) * cs);
					b.min(s.len) - a
				})
				.sum();
			assert_eq!(bytes_out(&rns) - before, chunks, "{r:?}");
		}
		let e = c.stream_file(&rec, 0..len + 1, Shared::default(), &()).await.unwrap_err();
		assert!(e.to_string().contains("past the end"), "{e}");
	})
	.await
}

/// Every network test has an outer deadline: a hang fails the test instead of the CI run.
async fn within(test: impl std::future::Future<Output = ()>) {
	tokio::time::timeout(std::time::Duration::from_secs(120), test)
		.await
		.expect("the test did not finish within 120 s")
}
