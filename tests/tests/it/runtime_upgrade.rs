//! A runtime upgrade through OpenGov on the 4-validator `local` chain, end to end.
//!
//! The second runtime (`stratos-runtime-upgrade-test`: `spec_version` 104, validator-set
//! storage v1 with its migration) is noted as the preimage of `System.set_code`, proposed on the
//! Root track, decided by the votes of six accounts on the production curves (only the periods
//! are the dev chain's), enacted by the scheduler, and then observed working.

use std::time::Duration;

use futures::future::join_all;
use stratos_tests::{finalized_number, start_local_network, stratos, wait_finalized};
use subxt::{
	ext::jsonrpsee::{core::client::ClientT, rpc_params},
	OnlineClient, PolkadotConfig,
};
use subxt_signer::sr25519::{dev, Keypair};

use stratos::runtime_types::{
	frame_support::dispatch::RawOrigin,
	frame_support::traits::{preimages::Bounded, schedule::DispatchTime},
	pallet_conviction_voting::{conviction::Conviction, vote::AccountVote, vote::Vote},
	stratos_runtime::OriginCaller,
};

const STOS: u128 = 1_000_000_000_000;

async fn submit<Call: subxt::transactions::Payload>(
	api: &OnlineClient<PolkadotConfig>,
	call: &Call,
	who: &Keypair,
) -> anyhow::Result<subxt::extrinsics::ExtrinsicEvents<PolkadotConfig>> {
	Ok(api
		.at_current_block()
		.await?
		.transactions()
		.sign_and_submit_then_watch_default(call, who)
		.await?
		.wait_for_finalized_success()
		.await?)
}

#[tokio::test]
async fn root_referendum_upgrades_the_runtime() -> anyhow::Result<()> {
	let next_wasm = stratos_runtime_upgrade_test::WASM_BINARY
		.expect("the upgrade-test wasm is built (do not set SKIP_WASM_BUILD)")
		.to_vec();

	let (_dir, nodes) = start_local_network("upgrade").await?;
	let rpc = nodes[0].rpc(Duration::from_secs(60)).await?;
	let api = nodes[0].subxt(Duration::from_secs(60)).await?;
	wait_finalized(&rpc, 2, Duration::from_secs(120)).await?;

	let before: serde_json::Value = rpc.request("state_getRuntimeVersion", rpc_params![]).await?;
	assert_eq!(before["specVersion"], 103);

	// 1. Note the preimage of `System.set_code(next)`.
	let at = api.at_current_block().await?;
	let set_code =
		at.transactions().call_data(&stratos::transactions().system().set_code(next_wasm))?;
	let len = set_code.len() as u32;
	let hash = sp_crypto_hashing::blake2_256(&set_code);
	submit(&api, &stratos::transactions().preimage().note_preimage(set_code), &dev::alice())
		.await?;

	// 2. Propose it on the Root track and place the decision deposit.
	let events = submit(
		&api,
		&stratos::transactions().referenda().submit(
			OriginCaller::system(RawOrigin::Root),
			Bounded::Lookup { hash: hash.into(), len },
			DispatchTime::After(1),
		),
		&dev::alice(),
	)
	.await?;
	let index = events
		.find_first::<stratos::referenda::events::Submitted>()
		.expect("Submitted event")?
		.index;
	submit(&api, &stratos::transactions().referenda().place_decision_deposit(index), &dev::bob())
		.await?;

	// 3. Six accounts vote aye with 800k STOS each at 1x conviction, all at once: voted one
	// after the other, the first few already pass the curves and the referendum can be
	// confirmed (3 blocks) before the last vote lands, which then fails with `NotOngoing`.
	let voters = [dev::alice(), dev::bob(), dev::charlie(), dev::dave(), dev::eve(), dev::ferdie()];
	let votes = voters.iter().map(|who| {
		let vote = AccountVote::Standard {
			vote: Vote(0x80 | Conviction::Locked1x as u8),
			balance: 800_000 * STOS,
		};
		let api = &api;
		async move {
			submit(api, &stratos::transactions().conviction_voting().vote(index, vote), who).await
		}
	});
	for result in join_all(votes).await {
		result?;
	}

	// 4. Follow finalized blocks until the scheduler enacts the referendum.
	let mut dispatched_ok = false;
	let mut code_updated_at = None;
	let start = finalized_number(&rpc).await?;
	let mut n = start;
	while code_updated_at.is_none() {
		let f = finalized_number(&rpc).await?;
		assert!(f < start + 200, "no enactment within 200 blocks of the votes");
		while n < f {
			n += 1;
			let hash: String = rpc.request("chain_getBlockHash", rpc_params![n]).await?;
			let events = api.at_block(n).await?.events().fetch().await?;
			for ev in events.iter() {
				let ev = ev?;
				match (ev.pallet_name(), ev.event_name()) {
					("Referenda", name) => println!("#{n} Referenda.{name}"),
					("Scheduler", "Dispatched") => {
						let d = ev
							.decode_fields_as::<stratos::scheduler::events::Dispatched>()
							.expect("Dispatched")?;
						println!("#{n} Scheduler.Dispatched {:?}", d.result);
						assert!(d.result.is_ok(), "enactment failed: {:?}", d.result);
						dispatched_ok = true;
					},
					("System", "CodeUpdated") => {
						println!("#{n} System.CodeUpdated ({hash})");
						code_updated_at = Some(n);
					},
					_ => {},
				}
			}
		}
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	assert!(dispatched_ok, "Scheduler.Dispatched with Ok result");
	let upgraded_at = code_updated_at.expect("loop ends on CodeUpdated");

	// 5. The node reports the new version, and the new runtime's behaviour is there: the
	//    migration ran (storage version 1, every validator has a `ValidatorSince` entry).
	let after: serde_json::Value = rpc.request("state_getRuntimeVersion", rpc_params![]).await?;
	assert_eq!(after["specVersion"], 104, "runtime version after upgrade: {after}");

	wait_finalized(&rpc, upgraded_at + 2, Duration::from_secs(60)).await?;
	let at = api.at_current_block().await?;
	let version_key = [
		sp_crypto_hashing::twox_128(b"ValidatorSet"),
		sp_crypto_hashing::twox_128(b":__STORAGE_VERSION__:"),
	]
	.concat();
	let raw = at.storage().fetch_raw(version_key).await?;
	assert_eq!(raw, vec![1, 0], "validator-set storage version is 1 after the migration");
	for who in [dev::alice(), dev::bob(), dev::charlie(), dev::dave()] {
		let addr = subxt::dynamic::storage::<([u8; 32],), u32>("ValidatorSet", "ValidatorSince");
		let since = at.storage().fetch(addr, (who.public_key().0,)).await?.decode()?;
		assert_eq!(since, upgraded_at, "ValidatorSince recorded at the upgrade block");
	}

	// 6. Blocks keep being produced and finalized on the new runtime.
	let f = finalized_number(&rpc).await?;
	wait_finalized(&rpc, f + 5, Duration::from_secs(90)).await?;
	for node in &nodes[1..] {
		let r = node.rpc(Duration::from_secs(10)).await?;
		let v: serde_json::Value = r.request("state_getRuntimeVersion", rpc_params![]).await?;
		assert_eq!(v["specVersion"], 104, "{} runs the new runtime", node.name);
	}
	Ok(())
}
