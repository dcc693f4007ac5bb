//! End to end with real processes, as a user and operators run them: a `dev-network` chain,
//! three `stratos-meta` and four `stratos-rn` processes, and the `sds` command line.
//!
//! put 100 MiB → the file is recorded on chain with 3 holders (read back with the typed
//! client) → get from a fresh directory verifies → `kill -9` the meta leader → `ls` and `get`
//! still work and a new put is recorded → `rm` deletes on chain and the holders drop the
//! slices → a file deleted on chain while no meta node runs is dropped by the next leader
//! (it applies the blocks it missed) → every meta node loses its disk → `stratos-meta
//! rebuild-index` restores the files from the chain and the holders' manifests, and `ls`
//! and `get` work again → a holder's copy rots on disk: its scrubber reports the lost slice
//! and the meta nodes move the file to another node on chain. The resource and meta nodes use the ports the preset registered (7401–7404,
//! 7500–7502), so the test needs them free.

mod procs;

use anyhow::Result;
use procs::*;
use std::{path::Path, process::Command, time::Duration};
use stratos_chain_client::ChainClient;
use stratos_primitives::FileId;
use stratos_tests::{test_dir, wait_finalized};
use subxt::utils::AccountId32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_network_files_flow_through_the_meta_nodes_and_survive_a_leader_crash() -> Result<()> {
	let dir = test_dir("storage-network")?;
	let d = dir.path();
	let mut net = Network::start(d).await?;
	let (url, metrics_ports) = (net.url.clone(), net.metrics_ports.clone());
	let sds = net.sds(USER)?;
	let home = d.join("user");
	let work = d.join("work");
	// Ready: a leader and four healthy resource nodes (heartbeats went through the log).
	net.wait_ready(&sds, &home, &work);

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
	let leader = net.leader(&sds, &home, &work);
	let port = 7500 + leader;
	drop(net.metas[leader].take());
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
	let after_id = file_id_in(&out);
	assert!(chain.file(&owner, &after_id).await?.is_some());

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
	for m in net.metas.iter_mut() {
		drop(m.take());
	}
	let user = subxt_signer::sr25519::Keypair::from_uri(&USER.parse()?)?;
	chain.delete_file(&user, &small_id).await?;
	let deleted_at = chain.finalized_head().await?.0;
	wait_finalized(&net.rpc, deleted_at + 3, Duration::from_secs(60)).await?;
	let before = slices_held(&metrics_ports);
	for i in 0..METAS.len() {
		net.metas[i] = Some(net.spawn_meta(i, &format!("meta{i}-back"))?);
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
	for m in net.metas.iter_mut() {
		drop(m.take());
	}
	for i in 0..3 {
		std::fs::remove_dir_all(d.join(format!("meta{i}")).join("raft"))?;
	}
	for i in 0..METAS.len() {
		net.metas[i] = Some(net.spawn_meta(i, &format!("meta{i}-after"))?);
	}
	wait_until("the emptied cluster leading again", Duration::from_secs(120), || {
		let o = sds.run(&home, &work, &["status"]);
		let s = String::from_utf8_lossy(&o.stdout);
		o.status.success() && !s.contains("leader unknown") && s.contains("0 files in the index")
	});
	let o = sds.run(&home, &work, &["ls", "/e2e"]);
	assert!(!o.status.success(), "the index is empty: {}", String::from_utf8_lossy(&o.stdout));
	let out = Command::new(&net.meta_bin)
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
	// The emptied cluster learns the holders' health from their next heartbeats.
	net.wait_ready(&sds, &home, &work);
	let rebuilt = d.join("rebuilt");
	sds.ok(&home, &rebuilt, &["get", "/e2e/after.bin"]);
	assert_eq!(std::fs::read(rebuilt.join("after.bin"))?, std::fs::read(&after)?);

	// after.bin (one slice) rots on one holder's disk: that node's scrubber quarantines the
	// slice and tells the meta nodes, which copy the file from an intact holder to the node
	// that did not hold it and vote the new holders on chain; the file still downloads.
	let original = std::fs::read(&after)?;
	let (rotten, path) = (0..RN_KEYS.len())
		.find_map(|i| {
			let dir = d.join(format!("rn{i}")).join("store").join("slices");
			let subs = std::fs::read_dir(dir).ok()?;
			subs.flatten()
				.flat_map(|sub| std::fs::read_dir(sub.path()).into_iter().flatten().flatten())
				.map(|f| f.path())
				.find(|f| std::fs::read(f).is_ok_and(|b| b == original))
				.map(|f| (i, f))
		})
		.expect("a holder's copy of after.bin");
	let mut bytes = std::fs::read(&path)?;
	bytes[original.len() / 2] ^= 0x01;
	std::fs::write(&path, bytes)?;
	let (_, head) = chain.finalized_head().await?;
	let rotten_account = chain
		.nodes_at(head)
		.await?
		.into_iter()
		.find(|(_, n)| {
			sds_net::keys::key_from_suri(RN_KEYS[rotten])
				.is_ok_and(|k| n.node_id == sds_net::node_id(&k))
		})
		.map(|(who, _)| who)
		.expect("the resource node is registered");
	let before = chain.file(&owner, &after_id).await?.expect("after.bin").holders;
	assert!(before.contains(&rotten_account), "the rotten copy is a holder's");
	let rotted = std::time::Instant::now();
	let mut holders = before.clone();
	while holders.len() != 3 || holders.contains(&rotten_account) {
		anyhow::ensure!(
			rotted.elapsed() < Duration::from_secs(120),
			"the rotten copy was not replaced within 120 s: holders {holders:?}"
		);
		tokio::time::sleep(Duration::from_secs(1)).await;
		holders = chain.file(&owner, &after_id).await?.expect("after.bin").holders;
	}
	println!("rotten copy replaced on chain {:.0?} after the corruption", rotted.elapsed());
	assert_eq!(metric_sum(&metrics_ports[rotten..=rotten], "stratos_rn_corrupt_slices_total"), 1);
	let healed = d.join("healed");
	sds.ok(&home, &healed, &["get", "/e2e/after.bin"]);
	assert_eq!(std::fs::read(healed.join("after.bin"))?, original);

	// A new meta node joins from the command line: `stratos-meta register` puts it on chain
	// pending; an unreachable address is refused before anything is submitted; endorsements
	// by 2 of the 3 active meta nodes (`stratos-meta endorse`) mark it endorsed, and it waits
	// for governance's approval.
	let cand = d.join("candidate");
	std::fs::create_dir_all(&cand)?;
	std::fs::write(cand.join("account"), "//Eve//stash\n")?;
	// `stratos-meta` as the node whose data dir (and account file in it) is `home`.
	let meta_as = |home: &Path, args: &[&str]| {
		let account = home.join("account");
		Command::new(&net.meta_bin)
			.args(["--chain", &url, "--data-dir", home.to_str().unwrap(), "--account-file"])
			.arg(&account)
			.args(args)
			.output()
			.expect("stratos-meta")
	};
	let out = meta_as(&cand, &["register", "--deposit", "100000000000000000"]);
	let err = String::from_utf8_lossy(&out.stderr);
	assert!(!out.status.success() && err.contains("not an address other nodes can reach"), "{err}");
	let out = meta_as(
		&cand,
		&[
			"register",
			"--deposit",
			"100000000000000000",
			"--address",
			"/ip4/127.0.0.1/tcp/7503",
			"--region",
			"eu",
		],
	);
	let text = String::from_utf8_lossy(&out.stdout);
	assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
	assert!(text.contains("pending: not yet endorsed"), "{text}");
	let who = subxt_signer::sr25519::Keypair::from_uri(&"//Eve//stash".parse()?)?.public_key();
	let who = AccountId32(who.0);
	for (i, expect) in [(0, "pending: not yet endorsed"), (1, "pending: endorsed")] {
		let out = meta_as(&d.join(format!("meta{i}")), &["endorse", &who.to_string()]);
		let text = String::from_utf8_lossy(&out.stdout);
		assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
		assert!(text.contains(expect), "endorsement {i}: {text}");
	}
	let node = chain.node(&who).await?.expect("the candidate is registered");
	assert_eq!(
		node.status,
		stratos_chain_client::NodeStatus::Pending { endorsed: true, approved: false }
	);
	assert_eq!((node.address.as_str(), node.region.as_str()), ("/ip4/127.0.0.1/tcp/7503", "eu"));
	drop(net);
	Ok(())
}
