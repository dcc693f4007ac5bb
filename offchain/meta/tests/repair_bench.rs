//! Repair benchmark (not a test: `#[ignore]`d, run by hand and read the figures):
//! `cargo test -p stratos-meta --test repair_bench -- --ignored --nocapture`.
//!
//! A `dev-network` chain with three meta nodes and four resource nodes on loopback; `sds`
//! uploads `STRATOS_REPAIR_BENCH_MIB` MiB (default 1024) as 64 MiB files of 16 MiB slices,
//! 3 copies each; the resource node holding the most is killed (SIGKILL), and the benchmark
//! times how long until every file it held has 3 holders on chain again without it, and
//! checks a download still verifies. Prints the figures; the binaries are whatever profile
//! the workspace was built in (debug by default).

mod procs;

use anyhow::{ensure, Result};
use procs::*;
use std::time::{Duration, Instant};
use stratos_chain_client::ChainClient;
use stratos_primitives::NodeId;
use stratos_tests::test_dir;
use subxt::utils::AccountId32;

const FILE_MIB: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand with --ignored --nocapture"]
async fn meta_network_repair_bench() -> Result<()> {
	let total_mib: usize =
		std::env::var("STRATOS_REPAIR_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
	let dir = test_dir("repair-bench")?;
	let d = dir.path();
	let mut net = Network::start(d).await?;
	let sds = net.sds(USER)?;
	let (home, work) = (d.join("home"), d.join("work"));
	net.wait_ready(&sds, &home, &work);
	let chain = ChainClient::connect(&net.url).await?;
	let owner =
		AccountId32(subxt_signer::sr25519::Keypair::from_uri(&USER.parse()?)?.public_key().0);

	let files = total_mib.div_ceil(FILE_MIB);
	let started = Instant::now();
	let mut ids = Vec::new();
	for i in 0..files {
		let f = work.join(format!("f{i}.bin"));
		random_file(&f, FILE_MIB << 20, 1000 + i as u64);
		let out = sds.ok(&home, &work, &["put", f.to_str().unwrap(), &format!("/f{i}")]);
		ids.push(file_id_in(&out));
		std::fs::remove_file(&f)?;
	}
	println!(
		"uploaded {files} files of {FILE_MIB} MiB (3 copies) in {:.1} s",
		started.elapsed().as_secs_f64()
	);

	// The resource node holding the most.
	let (_, head) = chain.finalized_head().await?;
	let nodes = chain.nodes_at(head).await?;
	let rn_ids: Vec<NodeId> = RN_KEYS
		.iter()
		.map(|suri| Ok(sds_net::node_id(&sds_net::keys::key_from_suri(suri)?)))
		.collect::<Result<_>>()?;
	let account_of = |id: &NodeId| nodes.iter().find(|(_, n)| n.node_id == *id).map(|(a, _)| *a);
	let mut held = vec![0usize; rn_ids.len()];
	for id in &ids {
		let f = chain.file(&owner, id).await?.expect("recorded");
		for (i, n) in rn_ids.iter().enumerate() {
			if account_of(n).is_some_and(|a| f.holders.contains(&a)) {
				held[i] += 1;
			}
		}
	}
	let victim = (0..held.len()).max_by_key(|i| held[*i]).expect("nodes");
	let dead = account_of(&rn_ids[victim]).expect("registered");
	drop(net.rns[victim].take());
	let killed = Instant::now();
	println!(
		"killed resource node {victim}, holding {} files ({} MiB)",
		held[victim],
		held[victim] * FILE_MIB
	);

	let mut first_done: Option<Duration> = None;
	loop {
		let mut healed = 0;
		for id in &ids {
			let h = chain.file(&owner, id).await?.map(|f| f.holders).unwrap_or_default();
			if h.len() == 3 && !h.contains(&dead) {
				healed += 1;
			}
		}
		if healed > files - held[victim] && first_done.is_none() {
			first_done = Some(killed.elapsed());
		}
		if healed == files {
			break;
		}
		ensure!(killed.elapsed() < Duration::from_secs(900), "not repaired within 15 minutes");
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	let all = killed.elapsed();
	println!(
		"repair: {} files ({} MiB) back to 3 holders on chain {:.1} s after the kill \
		 (first file at {:.1} s; 30 s of it is the health timeout before repair starts)",
		held[victim],
		held[victim] * FILE_MIB,
		all.as_secs_f64(),
		first_done.unwrap_or(all).as_secs_f64()
	);
	// Credit for the download that checks the repaired copies (reserved now: a reservation's
	// lock must outlast the ticket).
	sds.ok(&home, &work, &["credit", "buy", "100"]);
	sds.ok(&home, &work, &["credit", "reserve", "1GiB"]);
	let out = d.join("get");
	sds.ok(&home, &out, &["get", "/f0"]);
	ensure!(std::fs::metadata(out.join("f0"))?.len() == (FILE_MIB << 20) as u64);
	drop(net);
	Ok(())
}
