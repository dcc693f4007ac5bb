//! `stratos-rn` processes and the `sds` command line, as an operator and a user run them.
//!
//! `stratos-rn` is found next to the `sds` binary (`cargo build --workspace` builds both).

use sds_core::wire::{GetRequest, Hop};
use sds_net::{Host, HostConfig, Keypair};
use sp_core::{sr25519, Pair};
use std::{
	io::{BufRead, BufReader},
	path::{Path, PathBuf},
	process::{Child, Command, Output, Stdio},
	time::{Duration, Instant},
};
use stratos_primitives::{SliceHash, TaskId};

fn bin(name: &str) -> PathBuf {
	let sds = PathBuf::from(env!("CARGO_BIN_EXE_sds"));
	let p = sds.parent().unwrap().join(name);
	assert!(
		p.exists(),
		"{} not found: build the workspace first (cargo build --workspace)",
		p.display()
	);
	p
}

struct Rn {
	child: Child,
	addr: String,
	dir: PathBuf,
	metrics: u16,
}

impl Drop for Rn {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

fn free_port() -> u16 {
	std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_rn(dir: &Path, port: u16) -> Rn {
	let metrics = free_port();
	let mut child = Command::new(bin("stratos-rn"))
		.args(["--listen", &format!("/ip4/127.0.0.1/tcp/{port}"), "--capacity", "1GiB"])
		.arg("--data-dir")
		.arg(dir)
		.args(["--metrics", &format!("127.0.0.1:{metrics}"), "--log", "warn"])
		.stdout(Stdio::piped())
		.stderr(Stdio::inherit())
		.spawn()
		.unwrap();
	let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
	let addr = loop {
		let line = lines.next().expect("stratos-rn exited before printing its address").unwrap();
		if let Some(a) = line.strip_prefix("STRATOS_RN_ADDR ") {
			break a.to_string();
		}
	};
	Rn { child, addr, dir: dir.to_path_buf(), metrics }
}

fn sds(home: &Path, nodes: &[&Rn], args: &[&str]) -> Output {
	let mut c = Command::new(bin("sds"));
	c.arg("--home").arg(home).args(["--quiet", "--slice-size", "1MiB"]);
	for n in nodes {
		c.args(["--node", &n.addr]);
	}
	c.args(args).output().unwrap()
}

fn ok(o: &Output) -> String {
	assert!(
		o.status.success(),
		"stdout: {}\nstderr: {}",
		String::from_utf8_lossy(&o.stdout),
		String::from_utf8_lossy(&o.stderr)
	);
	String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
	assert!(!o.status.success(), "expected failure, got: {}", String::from_utf8_lossy(&o.stdout));
	String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn put_get_through_three_node_processes_and_survive_one_death() {
	let tmp = tempfile::tempdir().unwrap();
	let mut rns: Vec<Rn> =
		(0..3).map(|i| start_rn(&tmp.path().join(format!("rn{i}")), 0)).collect();
	let home = tmp.path().join("home");
	let input = tmp.path().join("input.bin");
	let mut x = 0x9e37_79b9_7f4a_7c15u64;
	let data: Vec<u8> = (0..(5 << 20) + 333)
		.map(|_| {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			x as u8
		})
		.collect();
	std::fs::write(&input, &data).unwrap();
	let refs: Vec<&Rn> = rns.iter().collect();
	let out = ok(&sds(&home, &refs, &["put", input.to_str().unwrap(), "/docs/input.bin"]));
	assert!(out.contains("stored /docs/input.bin"), "{out}");
	let listing = ok(&sds(&home, &refs, &["ls"]));
	assert!(
		listing.contains("/docs/input.bin") && listing.contains(&data.len().to_string()),
		"{listing}"
	);
	let id = ok(&sds(&home, &refs, &["id", input.to_str().unwrap()])).trim().to_string();
	assert!(listing.contains(&id), "ls shows the file id {id}: {listing}");
	// metrics count the stored slices (6 slices on every node)
	let m = fetch_metrics(rns[0].metrics);
	assert!(m.contains("stratos_rn_slices 6"), "{m}");

	// One node dies hard; downloads fall back to the others.
	drop(refs);
	rns[1].child.kill().unwrap();
	let _ = rns[1].child.wait();
	let refs: Vec<&Rn> = rns.iter().collect();
	let got = tmp.path().join("got.bin");
	ok(&sds(&home, &refs, &["get", "/docs/input.bin", got.to_str().unwrap()]));
	assert_eq!(std::fs::read(&got).unwrap(), data);
	let status = ok(&sds(&home, &refs, &["status"]));
	assert!(status.contains("DOWN") && status.contains("fewest intact copies 2"), "{status}");

	// Restarted on the same data directory, it serves its slices again.
	drop(refs);
	let dir = rns[1].dir.clone();
	let port: u16 = rns[1].addr.split('/').nth(4).unwrap().parse().unwrap();
	rns[1] = start_rn(&dir, port);
	let refs: Vec<&Rn> = rns.iter().collect();
	let status = ok(&sds(&home, &refs, &["status"]));
	assert!(status.contains("fewest intact copies 3"), "{status}");

	// Standard input in, standard output out, byte ranges without a temporary file.
	let mut put = Command::new(bin("sds"));
	put.arg("--home").arg(&home).args(["--quiet", "--slice-size", "1MiB"]);
	for n in &refs {
		put.args(["--node", &n.addr]);
	}
	let mut child = put
		.args(["put", "-", "/piped.bin"])
		.stdin(std::process::Stdio::piped())
		.stdout(std::process::Stdio::piped())
		.stderr(std::process::Stdio::piped())
		.spawn()
		.unwrap();
	std::io::Write::write_all(&mut child.stdin.take().unwrap(), &data).unwrap();
	let o = child.wait_with_output().unwrap();
	assert!(ok(&o).contains("stored /piped.bin"));
	assert!(
		std::fs::read_dir(home.join("spool")).unwrap().next().is_none(),
		"the spooled copy of stdin is removed"
	);
	let o = sds(&home, &refs, &["cat", "/piped.bin"]);
	assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
	assert!(o.stdout == data, "sds cat gives the piped bytes back");
	let o = sds(&home, &refs, &["get", "/piped.bin", "--range", "1000000..3100000"]);
	assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
	assert!(o.stdout == data[1_000_000..3_100_000], "a range across slices");
	let o = sds(&home, &refs, &["cat", "/piped.bin", "--range", "5MiB.."]);
	assert!(o.stdout == data[5 << 20..], "an open range to the end");
	let e = err(&sds(&home, &refs, &["cat", "/piped.bin", "--range", "0..99MiB"]));
	assert!(e.contains("past the end of the file"), "{e}");
	let e = err(&sds(&home, &refs, &["put", "-"]));
	assert!(e.contains("give an SDS path"), "{e}");
	let listing = ok(&sds(&home, &refs, &["ls"]));
	assert!(listing.contains("/piped.bin") && listing.contains(&id), "same bytes, same id");

	// Bad input: clear errors, nothing half-written.
	let e = err(&sds(&home, &refs, &["get", "/nope", tmp.path().join("x").to_str().unwrap()]));
	assert!(e.contains("unknown file \"/nope\""), "{e}");
	let e = err(&sds(&home, &refs, &["put", tmp.path().join("missing").to_str().unwrap()]));
	assert!(e.contains("cannot read"), "{e}");
	let e = err(&sds(&home, &refs, &["put", input.to_str().unwrap(), "/a/../b"]));
	assert!(e.contains("'.' and '..' are not allowed"), "{e}");
	let e = err(&sds(&home, &refs, &["get", "/docs/input.bin", got.to_str().unwrap()]));
	assert!(e.contains("already exists"), "{e}");
	let e = err(&sds(&home, &refs[..1], &["put", input.to_str().unwrap(), "/other"]));
	assert!(e.contains("3 replicas need 3 resource nodes"), "{e}");
	ok(&sds(&home, &refs, &["rm", "/docs/input.bin"]));
	ok(&sds(&home, &refs, &["rm", "/piped.bin"]));
	assert!(ok(&sds(&home, &refs, &["ls"])).contains("no files yet"));
}

fn fetch_metrics(port: u16) -> String {
	use std::io::{Read, Write};
	let deadline = Instant::now() + Duration::from_secs(10);
	loop {
		if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
			write!(s, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
			let mut body = String::new();
			let _ = s.read_to_string(&mut body);
			// gauges are refreshed every second
			if body.contains("stratos_rn_slices 6") || Instant::now() > deadline {
				return body;
			}
		}
		assert!(Instant::now() < deadline, "metrics endpoint on {port} did not answer");
		std::thread::sleep(Duration::from_millis(200));
	}
}

/// Slices acknowledged before a `kill -9` are all intact after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_slices_survive_kill_9() {
	within(async {
		let tmp = tempfile::tempdir().unwrap();
		let dir = tmp.path().join("rn");
		let port = free_port();
		let mut rn = start_rn(&dir, port);
		let client = Host::start(HostConfig {
			keypair: Keypair::generate_ed25519(),
			listen: vec![],
			store: None,
			genesis_hash: [0; 32],
			max_concurrent_streams: 1,
			gate: None,
			limits: Default::default(),
		})
		.await
		.unwrap();
		let hop = sds_client::parse_node(&rn.addr).unwrap();
		let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(SliceHash, Vec<u8>)>::new()));
		let mut uploads = Vec::new();
		for w in 0..4u8 {
			let (client, hop, acked) = (client.clone(), hop.clone(), acked.clone());
			uploads.push(tokio::spawn(async move {
				for i in 0u32.. {
					let d: Vec<u8> = (0..(1 << 20) + 17)
						.map(|j: usize| (j as u32 ^ i.wrapping_mul(7) ^ w as u32) as u8)
						.collect();
					let res = client
						.put_slice(
							std::slice::from_ref(&hop),
							TaskId::default(),
							d.len() as u64,
							|b, o| {
								b.copy_from_slice(&d[o as usize..o as usize + b.len()]);
								Ok(())
							},
							|_| {},
						)
						.await;
					match res {
						Ok((h, _)) => acked.lock().unwrap().push((h, d)),
						Err(_) => break,
					}
				}
			}));
		}
		// Let some slices land, then kill -9 in the middle of the uploads.
		let deadline = Instant::now() + Duration::from_secs(30);
		while acked.lock().unwrap().len() < 8 && Instant::now() < deadline {
			tokio::time::sleep(Duration::from_millis(20)).await;
		}
		tokio::time::sleep(Duration::from_millis(37)).await;
		rn.child.kill().unwrap(); // SIGKILL
		let _ = rn.child.wait();
		for u in uploads {
			u.await.unwrap();
		}
		let acked = acked.lock().unwrap().clone();
		assert!(acked.len() >= 8, "only {} slices acknowledged", acked.len());
		drop(rn);
		let rn = start_rn(&dir, port);
		let hop: Hop = sds_client::parse_node(&rn.addr).unwrap();
		let key = sr25519::Pair::from_seed(&[2; 32]);
		for (h, d) in &acked {
			let mut got = Vec::new();
			client
				.get_slice(
					&hop,
					GetRequest {
						task: TaskId([1; 32]),
						ledger_period: 0,
						client: key.public().0,
						slice: *h,
						offset: 0,
						length: u64::MAX,
					},
					&key,
					|_, b| {
						got.extend_from_slice(&b);
						Ok(())
					},
				)
				.await
				.unwrap_or_else(|e| panic!("acknowledged slice {h} lost after kill -9: {e}"));
			assert_eq!(&got, d);
		}
		// nothing half-received is left behind
		assert_eq!(std::fs::read_dir(dir.join("store/tmp")).unwrap().count(), 0);
	})
	.await
}

/// Every network test has an outer deadline: a hang fails the test instead of the CI run.
async fn within(test: impl std::future::Future<Output = ()>) {
	tokio::time::timeout(std::time::Duration::from_secs(300), test)
		.await
		.expect("the test did not finish within 300 s")
}
