//! A runtime upgrade through OpenGov on the 4-validator `local` chain, end to end.
//!
//! The second runtime (`stratos-runtime-upgrade-test`: `spec_version` 104, validator-set
//! storage v1 with its migration) is noted as the preimage of `System.set_code`, proposed on the
//! Root track, decided by the votes of six accounts on the production curves (only the periods
//! are the dev chain's), enacted by the scheduler, and then observed working.

use std::time::Duration;

use futures::future::join_all;
use stratos_tests::{finalized_number, start_local_network, stratos, wait_finalized};
use subxt::ext::jsonrpsee::ws_client::WsClient;
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

/// Steps 1–4 of the upgrade: note `System.set_code(next_wasm)` as a preimage, propose it on
/// the Root track, vote it through with the six dev accounts, and follow finalized blocks until
/// the scheduler enacts it. Returns the number of the block with `System.CodeUpdated`.
async fn enact_upgrade(
	api: &OnlineClient<PolkadotConfig>,
	rpc: &WsClient,
	next_wasm: Vec<u8>,
) -> anyhow::Result<u32> {
	// 1. Note the preimage of `System.set_code(next)`.
	let at = api.at_current_block().await?;
	let set_code =
		at.transactions().call_data(&stratos::transactions().system().set_code(next_wasm))?;
	let len = set_code.len() as u32;
	let hash = sp_crypto_hashing::blake2_256(&set_code);
	submit(api, &stratos::transactions().preimage().note_preimage(set_code), &dev::alice()).await?;

	// 2. Propose it on the Root track and place the decision deposit.
	let events = submit(
		api,
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
	submit(api, &stratos::transactions().referenda().place_decision_deposit(index), &dev::bob())
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
	let start = finalized_number(rpc).await?;
	let mut n = start;
	while code_updated_at.is_none() {
		let f = finalized_number(rpc).await?;
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
	Ok(code_updated_at.expect("loop ends on CodeUpdated"))
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

	let upgraded_at = enact_upgrade(&api, &rpc, next_wasm).await?;

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

/// Long (`scripts/test-long.sh`): the same upgrade while four accounts keep submitting
/// transfers, each signed at the then-current block (so with the runtime version in force),
/// submitted and watched until finalized, one after the other per account. Proves that no
/// transfer is lost or applied behind the wallet's back across the upgrade: the receiver ends
/// up with exactly what the finalized transfers sent, transfers were finalized both before and
/// after the new runtime took over, and every validator runs the new runtime.
#[tokio::test]
#[ignore = "long: scripts/test-long.sh"]
async fn long_runtime_upgrade_under_transfer_load_loses_no_transfer() -> anyhow::Result<()> {
	use std::sync::{
		atomic::{AtomicBool, Ordering},
		Arc,
	};
	use std::time::Instant;
	use subxt_signer::SecretUri;

	let next_wasm = stratos_runtime_upgrade_test::WASM_BINARY
		.expect("the upgrade-test wasm is built (do not set SKIP_WASM_BUILD)")
		.to_vec();
	let (_dir, nodes) = start_local_network("upgrade-load").await?;
	let rpc = nodes[0].rpc(Duration::from_secs(60)).await?;
	let api = nodes[0].subxt(Duration::from_secs(60)).await?;
	wait_finalized(&rpc, 2, Duration::from_secs(120)).await?;

	// Four senders and a receiver of their own (the six dev accounts vote), funded by Alice.
	let key = |name: &str| -> anyhow::Result<Keypair> {
		let uri: SecretUri = format!("//{name}").parse()?;
		Ok(Keypair::from_uri(&uri)?)
	};
	let senders = ["Sender1", "Sender2", "Sender3", "Sender4"]
		.into_iter()
		.map(key)
		.collect::<anyhow::Result<Vec<_>>>()?;
	let sink = key("Sink")?.public_key().to_account_id();
	for s in &senders {
		let fund = stratos::transactions()
			.balances()
			.transfer_keep_alive(s.public_key().to_account_id().into(), 1_000 * STOS);
		submit(&api, &fund, &dev::alice()).await?;
	}
	let sink_balance = |api: OnlineClient<PolkadotConfig>, sink: subxt::utils::AccountId32| async move {
		let at = api.at_current_block().await?;
		let account =
			at.storage().entry(stratos::storage().system().account())?.try_fetch((sink,)).await?;
		anyhow::Ok(match account {
			Some(a) => a.decode()?.data.free,
			None => 0,
		})
	};
	assert_eq!(sink_balance(api.clone(), sink).await?, 0);

	// The load: each sender transfers `AMOUNT` to the sink, one transfer at a time, until told
	// to stop; a refused or failed transfer is noted and the next one signed afresh.
	const AMOUNT: u128 = STOS / 10;
	let stop = Arc::new(AtomicBool::new(false));
	let loaders = senders.into_iter().map(|who| {
		let (api, sink, stop) = (api.clone(), sink, stop.clone());
		tokio::spawn(async move {
			let mut finalized_at = Vec::new();
			let mut failures = Vec::new();
			while !stop.load(Ordering::SeqCst) {
				let call =
					stratos::transactions().balances().transfer_keep_alive(sink.into(), AMOUNT);
				match submit(&api, &call, &who).await {
					Ok(_) => finalized_at.push(Instant::now()),
					Err(e) => {
						failures.push(e.to_string());
						tokio::time::sleep(Duration::from_millis(500)).await;
					},
				}
			}
			(finalized_at, failures)
		})
	});
	let loaders: Vec<_> = loaders.collect();

	// Let the load run a few blocks, upgrade under it, and let it run a few blocks more.
	let f = finalized_number(&rpc).await?;
	wait_finalized(&rpc, f + 5, Duration::from_secs(90)).await?;
	let upgraded_at = enact_upgrade(&api, &rpc, next_wasm).await?;
	let upgrade_seen = Instant::now();
	wait_finalized(&rpc, upgraded_at + 10, Duration::from_secs(120)).await?;
	stop.store(true, Ordering::SeqCst);

	let mut finalized = Vec::new();
	let mut failures = Vec::new();
	for l in loaders {
		let (f, e) = l.await?;
		finalized.extend(f);
		failures.extend(e);
	}
	let before = finalized.iter().filter(|t| **t < upgrade_seen).count();
	let after = finalized.len() - before;
	println!(
		"upgrade at #{upgraded_at}: {} transfers finalized ({before} before the upgrade was seen, \
		 {after} after), {} refused or failed: {failures:?}",
		finalized.len(),
		failures.len()
	);
	assert!(before > 0 && after > 0, "the load ran across the upgrade: {before} / {after}");

	// Nothing lost, nothing applied behind the wallets' backs.
	let f = finalized_number(&rpc).await?;
	wait_finalized(&rpc, f + 2, Duration::from_secs(60)).await?;
	let received = sink_balance(api.clone(), sink).await?;
	assert_eq!(
		received,
		AMOUNT * finalized.len() as u128,
		"the sink holds exactly what the {} finalized transfers sent",
		finalized.len()
	);
	for node in &nodes {
		let r = node.rpc(Duration::from_secs(10)).await?;
		let v: serde_json::Value = r.request("state_getRuntimeVersion", rpc_params![]).await?;
		assert_eq!(v["specVersion"], 104, "{} runs the new runtime", node.name);
	}
	Ok(())
}
