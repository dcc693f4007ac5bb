//! Long test (`scripts/test-long.sh`): a validator equivocating. Dave's keys run in two
//! processes on the 4-validator `local` chain, so both copies author in Dave's slots and
//! vote in every GRANDPA round.
//!
//! What it proves:
//! 1. nothing conflicting is finalized: every node's finalized chain is one chain, and it
//!    keeps growing (3 honest validators of 4 are a supermajority);
//! 2. GRANDPA equivocations are reported on chain: an honest voter that sees Dave's two
//!    different votes in a round submits the report, and a finalized block carries
//!    `Offences.Offence` and `ValidatorSet.OffenceReported` naming Dave; Dave stays a
//!    validator (removal is for governance);
//! 3. Aura equivocations are detected: a node importing both copies' blocks for one slot logs
//!    `Slot author is equivocating`.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use stratos_tests::{finalized_number, spawn_local_validator, start_local_network, wait_finalized};
use subxt::ext::jsonrpsee::{core::client::ClientT, rpc_params};

#[tokio::test]
#[ignore = "long: run by scripts/test-long.sh"]
async fn long_an_equivocating_validator_is_reported_and_finality_stays_safe() -> Result<()> {
	let (dir, mut nodes) = start_local_network("equivocation").await?;
	let rpc = nodes[0].rpc(Duration::from_secs(60)).await?;
	wait_finalized(&rpc, 3, Duration::from_secs(120)).await?;
	let boot = nodes[0].multiaddr(Duration::from_secs(10))?;

	// Dave's twin: the same session keys (`--dave`), its own node key and database.
	nodes.push(spawn_local_validator("dave-twin", dir.path(), "dave", 99, Some(&boot))?);
	let api = nodes[0].subxt(Duration::from_secs(60)).await?;
	let dave = subxt_signer::sr25519::dev::dave().public_key().to_account_id();

	// Follow finalized blocks until the offence is recorded.
	let started = Instant::now();
	let mut n = finalized_number(&rpc).await?;
	let (mut offence_at, mut reported) = (None, false);
	while !(offence_at.is_some() && reported) {
		if started.elapsed() > Duration::from_secs(600) {
			bail!(
				"no GRANDPA equivocation report finalized in 10 min (offence: {offence_at:?}, \
				 validator-set event: {reported})"
			);
		}
		let f = finalized_number(&rpc).await?;
		while n < f {
			n += 1;
			let events = api.at_block(n).await?.events().fetch().await?;
			for ev in events.iter() {
				let ev = ev?;
				match (ev.pallet_name(), ev.event_name()) {
					("Offences", "Offence") => {
						println!(
							"#{n} Offences.Offence after {:.0} s",
							started.elapsed().as_secs_f64()
						);
						offence_at = Some(n);
					},
					("ValidatorSet", "OffenceReported") => {
						let e = ev
							.decode_fields_as::<stratos_tests::stratos::validator_set::events::OffenceReported>(
							)
							.expect("OffenceReported")?;
						println!(
							"#{n} ValidatorSet.OffenceReported {:?} session {}",
							e.offenders, e.session
						);
						if !e.offenders.contains(&dave) {
							bail!("the offence names {:?}, not Dave", e.offenders);
						}
						reported = true;
					},
					_ => {},
				}
			}
		}
		tokio::time::sleep(Duration::from_secs(1)).await;
	}

	// Dave is still a validator: nothing removed it automatically.
	let at = api.at_current_block().await?;
	let set = at
		.storage()
		.entry(stratos_tests::stratos::storage().validator_set().validators())?
		.fetch(())
		.await?
		.decode()?;
	assert!(set.0.contains(&dave), "Dave was removed without governance");

	// Finality went on, and every honest node has the same finalized chain.
	let target = finalized_number(&rpc).await? + 3;
	let mut rpcs = Vec::new();
	for node in &nodes[..4] {
		let c = node.rpc(Duration::from_secs(10)).await?;
		wait_finalized(&c, target, Duration::from_secs(120)).await?;
		rpcs.push(c);
	}
	for h in 1..=target {
		let reference: String = rpcs[0].request("chain_getBlockHash", rpc_params![h]).await?;
		for (i, c) in rpcs.iter().enumerate().skip(1) {
			let hash: String = c.request("chain_getBlockHash", rpc_params![h]).await?;
			if hash != reference {
				bail!("#{h}: {} finalized {hash}, alice {reference}", nodes[i].name);
			}
		}
	}
	println!("all 4 honest nodes finalized the same chain up to #{target}");

	// Aura: someone logged the double authoring in one of Dave's slots.
	let logged: Vec<&str> = nodes
		.iter()
		.filter(|node| {
			std::fs::read_to_string(&node.log)
				.unwrap_or_default()
				.contains("Slot author is equivocating")
		})
		.map(|node| node.name.as_str())
		.collect();
	println!("Aura equivocation logged by: {logged:?}");
	assert!(!logged.is_empty(), "no node logged Dave's Aura equivocation");
	Ok(())
}
