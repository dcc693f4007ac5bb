//! Faults with real processes: the `local` chain's 4 validators, each in its own network
//! namespace (see `stratos_tests::netns`), through a `kill -9`, a restart from the data
//! directory and a 2/2 partition.
//!
//! What it proves, in order:
//! 1. one validator of 4 killed → the other 3 keep producing and finalizing blocks (3 of 4 is
//!    a GRANDPA supermajority);
//! 2. the killed validator restarted from its data directory catches up and finalizes with
//!    the others;
//! 3. the network split 2/2 → both halves keep authoring their own forks, finality stops on
//!    both (2 of 4 is no supermajority), so nothing conflicting can be finalized;
//! 4. healed → all 4 finalize past the split, on one chain that contains what each half had
//!    finalized before it.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use stratos_tests::{best_number, finalized_number, netns, test_dir, wait_finalized, Node};
use subxt::ext::jsonrpsee::{core::client::ClientT, rpc_params, ws_client::WsClient};

const NAMES: [&str; 4] = ["alice", "bob", "charlie", "dave"];

/// The `ip netns exec` arguments of validator `i`: its dev keys, a fixed node key, its own
/// base path (so a restart resumes it) and, but for Alice, Alice as boot node.
fn validator(
	lab: &netns::Lab,
	dir: &std::path::Path,
	i: usize,
	boot: Option<&str>,
) -> Result<Node> {
	let who = format!("--{}", NAMES[i]);
	let key = format!("{:064x}", i + 1);
	let base = dir.join(NAMES[i]);
	let base = base.to_string_lossy();
	let mut args =
		vec!["--chain", "local", &who, "--validator", "--base-path", &base, "--node-key", &key];
	if let Some(boot) = boot {
		args.extend(["--bootnodes", boot]);
	}
	Node::spawn_in_netns(NAMES[i], dir, lab.namespace(i), &lab.mgmt_ip(i), &lab.data_ip(i), &args)
}

async fn block_hash(rpc: &WsClient, n: u32) -> Result<String> {
	let hash: Option<String> = rpc.request("chain_getBlockHash", rpc_params![n]).await?;
	hash.ok_or_else(|| anyhow::anyhow!("no block #{n}"))
}

/// Waits until every client's finalized number reaches `n`.
async fn all_finalized(rpcs: &[&WsClient], n: u32, timeout: Duration) -> Result<()> {
	let deadline = Instant::now() + timeout;
	for rpc in rpcs {
		wait_finalized(rpc, n, deadline.saturating_duration_since(Instant::now())).await?;
	}
	Ok(())
}

#[tokio::test]
async fn four_validators_survive_a_kill_a_restart_and_a_two_two_split() -> Result<()> {
	let Some(lab) = netns::lab_or_skip("faults", 4, 2)? else { return Ok(()) };
	let dir = test_dir("faults")?;
	let alice = validator(&lab, dir.path(), 0, None)?;
	let boot = alice.multiaddr(Duration::from_secs(60))?;
	let mut nodes = vec![alice];
	for i in 1..4 {
		nodes.push(validator(&lab, dir.path(), i, Some(&boot))?);
	}
	let mut rpcs = Vec::new();
	for n in &nodes {
		rpcs.push(n.rpc(Duration::from_secs(90)).await?);
	}
	wait_finalized(&rpcs[0], 4, Duration::from_secs(120)).await?;

	// 1. Dave killed: Alice, Bob and Charlie go on finalizing.
	nodes[3].kill();
	let before = finalized_number(&rpcs[0]).await?;
	let started = Instant::now();
	all_finalized(&[&rpcs[0], &rpcs[1], &rpcs[2]], before + 5, Duration::from_secs(90)).await?;
	println!(
		"dave killed at finalized #{before}: 3 validators finalized 5 more in {:.1} s",
		started.elapsed().as_secs_f64()
	);

	// 2. Dave restarted from its base path: it catches up and finalizes with the others.
	nodes[3] = validator(&lab, dir.path(), 3, Some(&boot))?;
	rpcs[3] = nodes[3].rpc(Duration::from_secs(90)).await?;
	let target = finalized_number(&rpcs[0]).await? + 3;
	let started = Instant::now();
	let all: Vec<&WsClient> = rpcs.iter().collect();
	all_finalized(&all, target, Duration::from_secs(120)).await?;
	println!(
		"dave restarted: all 4 finalized #{target} after {:.1} s",
		started.elapsed().as_secs_f64()
	);

	// 3. Split {alice, bob} | {charlie, dave}. Rounds already in flight may still conclude:
	// let them, then finality must stand still on both sides while both author blocks.
	lab.split()?;
	tokio::time::sleep(Duration::from_secs(8)).await;
	let mut frozen = Vec::new();
	let mut best_at_split = Vec::new();
	for rpc in &rpcs {
		let f = finalized_number(rpc).await?;
		frozen.push((f, block_hash(rpc, f).await?));
		best_at_split.push(best_number(rpc).await?);
	}
	tokio::time::sleep(Duration::from_secs(24)).await;
	for (i, rpc) in rpcs.iter().enumerate() {
		let f = finalized_number(rpc).await?;
		let best = best_number(rpc).await?;
		if f != frozen[i].0 {
			bail!("{} finalized #{f} during the 2/2 split (was #{})", NAMES[i], frozen[i].0);
		}
		if best <= best_at_split[i] {
			bail!("{} authored nothing during the split (best #{best})", NAMES[i]);
		}
		println!("split: {} best #{} → #{best}, finalized stays #{f}", NAMES[i], best_at_split[i]);
	}

	// 4. Healed: one chain again, finalized past everything either side built.
	lab.heal()?;
	let mut highest = 0;
	for rpc in &rpcs {
		highest = highest.max(best_number(rpc).await?);
	}
	let started = Instant::now();
	all_finalized(&all, highest + 2, Duration::from_secs(180)).await?;
	println!(
		"healed: all 4 finalized #{} after {:.1} s",
		highest + 2,
		started.elapsed().as_secs_f64()
	);
	// The same finalized chain everywhere, containing each side's pre-split finality.
	let mut fin = u32::MAX;
	for rpc in &rpcs {
		fin = fin.min(finalized_number(rpc).await?);
	}
	for n in 1..=fin {
		let reference = block_hash(&rpcs[0], n).await?;
		for (i, rpc) in rpcs.iter().enumerate().skip(1) {
			let hash = block_hash(rpc, n).await?;
			if hash != reference {
				bail!("#{n}: {} has {hash}, alice {reference}", NAMES[i]);
			}
		}
	}
	for (i, (n, hash)) in frozen.iter().enumerate() {
		if block_hash(&rpcs[0], *n).await? != *hash {
			bail!("{}'s finalized #{n} ({hash}) is not on the final chain", NAMES[i]);
		}
	}
	Ok(())
}
