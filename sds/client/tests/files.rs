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
	SdsClient::connect(ClientConfig {
		nodes: rns.iter().map(|r| r.host.hop()).collect(),
		replicas,
		slice_size: SLICE,
		parallel: 4,
		genesis_hash: [0; 32],
		account: sr25519::Pair::from_seed(&[1; 32]),
		ledger_period: 0,
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

/// Every network test has an outer deadline: a hang fails the test instead of the CI run.
async fn within(test: impl std::future::Future<Output = ()>) {
	tokio::time::timeout(std::time::Duration::from_secs(120), test)
		.await
		.expect("the test did not finish within 120 s")
}
