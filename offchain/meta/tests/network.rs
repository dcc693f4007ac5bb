//! End to end with real processes, as a user and operators run them: a `dev-network` chain,
//! three `stratos-meta` and four `stratos-rn` processes, and the `sds` command line.
//!
//! put 100 MiB → the file is recorded on chain with 3 holders (read back with the typed
//! client) → get from a fresh directory verifies → `kill -9` the meta leader → `ls` and `get`
//! still work and a new put is recorded → `rm` deletes on chain and the holders drop the
//! slices → a file deleted on chain while no meta node runs is dropped by the next leader
//! (it applies the blocks it missed) → every meta node loses its disk → `stratos-meta
//! rebuild-index` restores the files from the chain and the holders' manifests, and `ls`
//! and `get` work again. The resource and meta nodes use the ports the preset registered (7401–7404,
//! 7500–7502), so the test needs them free.

use anyhow::{bail, Context, Result};
use std::{
	path::{Path, PathBuf},
	process::{Child, Command, Output},
	time::{Duration, Instant},
};
use stratos_chain_client::ChainClient;
use stratos_primitives::FileId;
use stratos_tests::{node_binary, test_dir, wait_finalized, Node};
use subxt::utils::AccountId32;

const USER: &str = "//Alice//stash";

fn bin(name: &str) -> Result<PathBuf> {
	let p = node_binary()?.parent().expect("target dir").join(name);
	if !p.is_file() {
		bail!("{} not found: build the workspace first", p.display());
	}
	Ok(p)
}

/// A process killed (SIGKILL) when dropped.
struct Proc {
	child: Child,
	log: PathBuf,
}

impl Drop for Proc {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
		if std::thread::panicking() {
			let text = std::fs::read_to_string(&self.log).unwrap_or_default();
			let lines: Vec<&str> = text.lines().collect();
			eprintln!(
				"----- {} -----\n{}",
				self.log.display(),
				lines[lines.len().saturating_sub(30)..].join("\n")
			);
		}
	}
}

fn spawn(dir: &Path, name: &str, program: &Path, args: &[String]) -> Result<Proc> {
	let log = dir.join(format!("{name}.log"));
	let out = std::fs::File::create(&log)?;
	let child = Command::new(program)
		.args(args)
		.env("RUST_LOG", "info,openraft=warn")
		.stdout(out.try_clone()?)
		.stderr(out)
		.spawn()
		.with_context(|| format!("starting {}", program.display()))?;
	Ok(Proc { child, log })
}

struct Sds {
	bin: PathBuf,
	chain: String,
}

impl Sds {
	fn run(&self, home: &Path, cwd: &Path, args: &[&str]) -> Output {
		std::fs::create_dir_all(cwd).unwrap();
		Command::new(&self.bin)
			.current_dir(cwd)
			.env("SDS_CHAIN", &self.chain)
			.env("SDS_ACCOUNT", USER)
			.arg("--home")
			.arg(home)
			.arg("--quiet")
			.args(args)
			.output()
			.unwrap()
	}

	fn ok(&self, home: &Path, cwd: &Path, args: &[&str]) -> String {
		let o = self.run(home, cwd, args);
		assert!(
			o.status.success(),
			"sds {args:?} failed\nstdout: {}\nstderr: {}",
			String::from_utf8_lossy(&o.stdout),
			String::from_utf8_lossy(&o.stderr)
		);
		String::from_utf8_lossy(&o.stdout).into_owned()
	}
}

fn random_file(path: &Path, len: usize, mut x: u64) {
	let data: Vec<u8> = (0..len)
		.map(|_| {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			x as u8
		})
		.collect();
	std::fs::write(path, data).unwrap();
}

fn file_id_in(out: &str) -> FileId {
	let id = out.split("file id ").nth(1).and_then(|r| r.split_whitespace().next()).expect(out);
	id.parse().expect(out)
}

/// Sum of `stratos_rn_slices` over the resource nodes' metrics endpoints.
fn slices_held(ports: &[u16]) -> u64 {
	metric_sum(ports, "stratos_rn_slices")
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
	let deadline = Instant::now() + timeout;
	while !f() {
		assert!(Instant::now() < deadline, "timed out waiting for {what}");
		std::thread::sleep(Duration::from_millis(500));
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_flow_through_the_meta_nodes_and_survive_a_leader_crash() -> Result<()> {
	let dir = test_dir("storage-network")?;
	let d = dir.path();
	let base = d.join("chain");
	let node = Node::spawn(
		"chain",
		d,
		&[
			"--chain",
			"dev-network",
			"--alice",
			"--force-authoring",
			"--node-key",
			&format!("{:064x}", 1),
			"--base-path",
			base.to_str().unwrap(),
		],
	)?;
	let rpc = node.rpc(Duration::from_secs(90)).await?;
	wait_finalized(&rpc, 1, Duration::from_secs(90)).await?;
	let url = node.ws_url();

	let rn_bin = bin("stratos-rn")?;
	let metrics_ports: Vec<u16> = (0..4).map(|_| stratos_tests::free_port()).collect();
	let mut procs = Vec::new();
	for (i, (suri, region)) in
		[("//Dave", "eu"), ("//Eve", "us"), ("//Ferdie", "asia"), ("//Dave//stash", "eu")]
			.into_iter()
			.enumerate()
	{
		let args: Vec<String> = vec![
			"--chain".into(),
			url.clone(),
			"--node-key-suri".into(),
			suri.into(),
			"--listen".into(),
			format!("/ip4/127.0.0.1/tcp/{}", 7401 + i),
			"--data-dir".into(),
			d.join(format!("rn{i}")).display().to_string(),
			"--capacity".into(),
			"4GiB".into(),
			"--region".into(),
			region.into(),
			"--metrics".into(),
			format!("127.0.0.1:{}", metrics_ports[i]),
		];
		procs.push(spawn(d, &format!("rn{i}"), &rn_bin, &args)?);
	}
	let meta_bin = bin("stratos-meta")?;
	let meta_args = |i: usize, suri: &str| -> Result<Vec<String>> {
		let home = d.join(format!("meta{i}"));
		std::fs::create_dir_all(&home)?;
		std::fs::write(home.join("account"), format!("{suri}\n"))?;
		Ok(vec![
			"--chain".into(),
			url.clone(),
			"--node-key-suri".into(),
			suri.into(),
			"--account-file".into(),
			home.join("account").display().to_string(),
			"--listen".into(),
			format!("/ip4/127.0.0.1/tcp/{}", 7500 + i),
			"--data-dir".into(),
			home.display().to_string(),
		])
	};
	let mut metas: Vec<Option<Proc>> = Vec::new();
	for (i, suri) in ["//Alice", "//Bob", "//Charlie"].into_iter().enumerate() {
		metas.push(Some(spawn(d, &format!("meta{i}"), &meta_bin, &meta_args(i, suri)?)?));
	}

	let sds = Sds { bin: bin("sds")?, chain: url.clone() };
	let home = d.join("user");
	let work = d.join("work");
	// Ready: a leader and four healthy resource nodes (heartbeats went through the log).
	wait_until("a meta leader and four healthy resource nodes", Duration::from_secs(180), || {
		let o = sds.run(&home, &work, &["status"]);
		let s = String::from_utf8_lossy(&o.stdout);
		o.status.success() && !s.contains("leader unknown") && s.matches("] healthy").count() == 4
	});

	// A download without reserved credit is refused with advice.
	sds.ok(&home, &work, &["mkdir", "/e2e"]);
	let small = work.join("small.bin");
	random_file(&small, 300_000, 7);
	let out = sds.ok(&home, &work, &["put", small.to_str().unwrap(), "/e2e/small.bin"]);
	assert!(out.contains("recorded on chain in block"), "{out}");
	let o = sds.run(&home, &d.join("other"), &["get", "/e2e/small.bin"]);
	let err = String::from_utf8_lossy(&o.stderr);
	assert!(!o.status.success() && err.contains("sds credit reserve"), "{err}");
	sds.ok(&home, &work, &["credit", "buy", "100"]);
	sds.ok(&home, &work, &["credit", "reserve", "1GiB"]);

	// 100 MiB up, recorded on chain with three holders.
	let big = work.join("big.bin");
	random_file(&big, 100 << 20, 0x9e37_79b9_7f4a_7c15);
	let out = sds.ok(&home, &work, &["put", big.to_str().unwrap(), "/e2e/big.bin"]);
	let big_id = file_id_in(&out);
	let chain = ChainClient::connect(&url).await?;
	let owner =
		AccountId32(subxt_signer::sr25519::Keypair::from_uri(&USER.parse()?)?.public_key().0);
	let rec = chain.file(&owner, &big_id).await?.expect("the file is recorded on chain");
	assert_eq!((rec.size, rec.slices, rec.holders.len()), (100 << 20, 7, 3));

	// Down again from a fresh directory with only the account key (another --home).
	let fresh = d.join("fresh");
	let out = sds.ok(&d.join("home2"), &fresh, &["get", "/e2e/big.bin"]);
	assert!(out.contains("verified"), "{out}");
	assert_eq!(std::fs::read(fresh.join("big.bin"))?, std::fs::read(&big)?);
	// The client kept a countersigned receipt for every byte it was served.
	let receipts = sds.ok(&d.join("home2"), &fresh, &["receipts"]);
	let kept: u64 = receipts
		.lines()
		.filter_map(|l| l.split(": ").nth(1)?.split(" bytes in ").next()?.parse::<u64>().ok())
		.sum();
	assert_eq!(kept, 100 << 20, "{receipts}");

	// Kill -9 the meta leader: reads, downloads and new uploads go on.
	let status = sds.ok(&home, &work, &["status"]);
	let port: usize = status
		.split("/tcp/")
		.nth(1)
		.and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
		.and_then(|p| p.parse().ok())
		.expect(&status);
	let leader = port - 7500;
	drop(metas[leader].take());
	wait_until("a new leader", Duration::from_secs(60), || {
		let o = sds.run(&home, &work, &["status"]);
		let s = String::from_utf8_lossy(&o.stdout).into_owned();
		o.status.success() && !s.contains("leader unknown") && !s.contains(&format!("/tcp/{port}"))
	});
	let ls = sds.ok(&home, &work, &["ls", "/e2e"]);
	assert!(ls.contains("big.bin") && ls.contains("small.bin"), "{ls}");
	let again = d.join("again");
	sds.ok(&home, &again, &["get", "/e2e/big.bin"]);
	assert_eq!(std::fs::read(again.join("big.bin"))?, std::fs::read(&big)?);
	let after = work.join("after.bin");
	random_file(&after, 5 << 20, 99);
	let out = sds.ok(&home, &work, &["put", after.to_str().unwrap(), "/e2e/after.bin"]);
	assert!(chain.file(&owner, &file_id_in(&out)).await?.is_some());

	// rm: deleted on chain, and the holders drop the big file's slices (7 × 3 copies).
	let before = slices_held(&metrics_ports);
	let out = sds.ok(&home, &work, &["rm", "/e2e/big.bin"]);
	assert!(out.contains("1 file(s) deleted on chain"), "{out}");
	assert!(chain.file(&owner, &big_id).await?.is_none());
	wait_until("the holders dropping the deleted file's slices", Duration::from_secs(60), || {
		slices_held(&metrics_ports) == before - 21
	});

	// No meta node runs while the owner deletes a file on chain: the next leader applies the
	// blocks it missed, and the holders drop the file's slices.
	let stat = sds.ok(&home, &work, &["stat", "/e2e/small.bin"]);
	let small_id: FileId = stat
		.split(": file ")
		.nth(1)
		.and_then(|r| r.split_whitespace().next())
		.and_then(|id| id.parse().ok())
		.expect(&stat);
	for m in metas.iter_mut() {
		drop(m.take());
	}
	let user = subxt_signer::sr25519::Keypair::from_uri(&USER.parse()?)?;
	chain.delete_file(&user, &small_id).await?;
	let deleted_at = chain.finalized_head().await?.0;
	wait_finalized(&rpc, deleted_at + 3, Duration::from_secs(60)).await?;
	let before = slices_held(&metrics_ports);
	for (i, suri) in ["//Alice", "//Bob", "//Charlie"].into_iter().enumerate() {
		metas[i] = Some(spawn(d, &format!("meta{i}-back"), &meta_bin, &meta_args(i, suri)?)?);
	}
	wait_until(
		"the missed deletion applied and its slices dropped",
		Duration::from_secs(90),
		|| slices_held(&metrics_ports) == before - 3,
	);
	let ls = sds.ok(&home, &work, &["ls", "/e2e"]);
	assert!(!ls.contains("small.bin") && ls.contains("after.bin"), "{ls}");

	// Every meta node loses its disk. The holders learnt each completed upload's manifest;
	// the cluster re-forms empty from the chain, `rebuild-index` restores the files.
	wait_until("the holders keeping every upload's manifest", Duration::from_secs(60), || {
		metric_sum(&metrics_ports, "stratos_rn_pending_uploads") == 0
	});
	for m in metas.iter_mut() {
		drop(m.take());
	}
	for i in 0..3 {
		std::fs::remove_dir_all(d.join(format!("meta{i}")).join("raft"))?;
	}
	for (i, suri) in ["//Alice", "//Bob", "//Charlie"].into_iter().enumerate() {
		metas[i] = Some(spawn(d, &format!("meta{i}-after"), &meta_bin, &meta_args(i, suri)?)?);
	}
	wait_until("the emptied cluster leading again", Duration::from_secs(120), || {
		let o = sds.run(&home, &work, &["status"]);
		let s = String::from_utf8_lossy(&o.stdout);
		o.status.success() && !s.contains("leader unknown") && s.contains("0 files in the index")
	});
	let o = sds.run(&home, &work, &["ls", "/e2e"]);
	assert!(!o.status.success(), "the index is empty: {}", String::from_utf8_lossy(&o.stdout));
	let out = Command::new(&meta_bin)
		.args(["--chain", &url, "--node-key-suri", "//Bob", "--data-dir"])
		.arg(d.join("rebuild"))
		.arg("rebuild-index")
		.output()?;
	let text = String::from_utf8_lossy(&out.stdout);
	assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
	assert!(
		text.contains("1 files on chain, 1 restored (1 new to the index), 0 without"),
		"{text}"
	);
	let ls = sds.ok(&home, &work, &["ls", "/e2e"]);
	assert!(ls.contains("after.bin") && !ls.contains("small.bin"), "{ls}");
	let rebuilt = d.join("rebuilt");
	sds.ok(&home, &rebuilt, &["get", "/e2e/after.bin"]);
	assert_eq!(std::fs::read(rebuilt.join("after.bin"))?, std::fs::read(&after)?);
	drop(procs);
	Ok(())
}

/// Sum of a gauge over the resource nodes' metrics endpoints.
fn metric_sum(ports: &[u16], name: &str) -> u64 {
	ports
		.iter()
		.map(|p| {
			let out = Command::new("curl")
				.args(["-s", &format!("http://127.0.0.1:{p}/metrics")])
				.output();
			let text =
				out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
			text.lines()
				.find_map(|l| l.strip_prefix(&format!("{name} ")))
				.and_then(|v| v.trim().parse::<u64>().ok())
				.unwrap_or(u64::MAX)
		})
		.fold(0u64, |a, b| a.saturating_add(b))
}
