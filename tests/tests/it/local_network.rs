//! The `local` chain with its 4 validators (Alice, Bob, Charlie, Dave), each its own process:
//! every validator authors blocks, and GRANDPA justifications carry signatures of at least 3
//! distinct authorities (> 2/3 of 4), each one valid.

use std::{collections::BTreeSet, time::Duration};

use codec::Decode;
use sp_consensus_grandpa::{AuthorityId, GrandpaJustification};
use sp_keyring::Ed25519Keyring;
use stratos_tests::{best_number, finalized_number, start_local_network, wait_finalized};
use subxt::ext::jsonrpsee::{
	core::client::{ClientT, SubscriptionClientT},
	rpc_params,
};

type Header = sp_runtime::generic::Header<u32, sp_runtime::traits::BlakeTwo256>;

/// The Aura slot of a header, from its `PreRuntime(*b"aura", slot)` digest item.
fn aura_slot(header: &serde_json::Value) -> Option<u64> {
	header["digest"]["logs"].as_array()?.iter().find_map(|log| {
		let bytes = hex::decode(log.as_str()?.trim_start_matches("0x")).ok()?;
		// DigestItem::PreRuntime = 6, engine id, Vec<u8> (compact length 8 = 0x20, u64 LE).
		if bytes.len() == 1 + 4 + 1 + 8 && bytes[0] == 6 && &bytes[1..5] == b"aura" {
			Some(u64::from_le_bytes(bytes[6..14].try_into().ok()?))
		} else {
			None
		}
	})
}

#[tokio::test]
async fn four_validators_author_and_finalize_with_supermajority_justifications(
) -> anyhow::Result<()> {
	let (_dir, nodes) = start_local_network("local").await?;
	let rpc = nodes[0].rpc(Duration::from_secs(60)).await?;

	// Justifications as GRANDPA produces them.
	let mut justifications = rpc
		.subscribe::<String, _>(
			"grandpa_subscribeJustifications",
			rpc_params![],
			"grandpa_unsubscribeJustifications",
		)
		.await?;

	let finalized = wait_finalized(&rpc, 16, Duration::from_secs(180)).await?;

	// Figures for the README: average block time and how far finality trails the best block.
	let mut lags = Vec::new();
	for _ in 0..10 {
		let best = best_number(&rpc).await?;
		let fin = finalized_number(&rpc).await?;
		lags.push(best.saturating_sub(fin));
		tokio::time::sleep(Duration::from_millis(1000)).await;
	}
	let moment = |n: u32| {
		let rpc = &rpc;
		async move {
			let hash: String = rpc.request("chain_getBlockHash", rpc_params![n]).await?;
			let key = format!(
				"0x{}{}",
				hex::encode(sp_crypto_hashing::twox_128(b"Timestamp")),
				hex::encode(sp_crypto_hashing::twox_128(b"Now"))
			);
			let raw: String = rpc.request("state_getStorage", rpc_params![key, hash]).await?;
			anyhow::Ok(u64::decode(&mut &hex::decode(raw.trim_start_matches("0x"))?[..])?)
		}
	};
	let last = finalized_number(&rpc).await?;
	let block_ms = (moment(last).await? - moment(1).await?) as f64 / f64::from(last - 1);
	lags.sort();
	println!(
		"local chain: {last} blocks finalized, mean block time {block_ms:.0} ms, \
		 finality lag (best - finalized) median {} max {} blocks",
		lags[lags.len() / 2],
		lags[lags.len() - 1]
	);
	// Aura's slots are 2 s: an average far above means validators miss their slots.
	assert!(block_ms < 3000.0, "mean block time {block_ms} ms");

	// Every validator authored: Aura's author of a block is `slot % authorities`.
	let mut authors = BTreeSet::new();
	for n in 1..=finalized {
		let hash: String = rpc.request("chain_getBlockHash", rpc_params![n]).await?;
		let header: serde_json::Value = rpc.request("chain_getHeader", rpc_params![hash]).await?;
		let slot = aura_slot(&header).expect("every block has an Aura slot");
		authors.insert(slot % 4);
	}
	assert_eq!(authors.len(), 4, "authors seen (by authority index): {authors:?}");

	// Justifications: ≥ 3 distinct authorities of the 4, each signature valid for this set.
	let set_id_hex: String =
		rpc.request("state_call", rpc_params!["GrandpaApi_current_set_id", "0x"]).await?;
	let set_id = u64::decode(&mut &hex::decode(set_id_hex.trim_start_matches("0x"))?[..])?;
	let validators: BTreeSet<AuthorityId> =
		[Ed25519Keyring::Alice, Ed25519Keyring::Bob, Ed25519Keyring::Charlie, Ed25519Keyring::Dave]
			.into_iter()
			.map(|k| k.public().into())
			.collect();

	let mut checked = 0;
	while checked < 3 {
		let next = tokio::time::timeout(Duration::from_secs(60), justifications.next())
			.await?
			.expect("justification stream open")?;
		let bytes = hex::decode(next.trim_start_matches("0x"))?;
		let j = GrandpaJustification::<Header>::decode(&mut &bytes[..])?;
		let mut signers = BTreeSet::new();
		for pc in &j.commit.precommits {
			assert!(validators.contains(&pc.id), "signer {} is not a validator", pc.id);
			let msg = finality_grandpa::Message::Precommit(pc.precommit.clone());
			assert!(
				sp_consensus_grandpa::check_message_signature(
					&msg,
					&pc.id,
					&pc.signature,
					j.round,
					set_id
				)
				.is_valid(),
				"invalid precommit signature by {}",
				pc.id
			);
			signers.insert(pc.id.clone());
		}
		println!(
			"justification for #{} round {}: {} distinct signers",
			j.commit.target_number,
			j.round,
			signers.len()
		);
		assert!(signers.len() >= 3, "only {} distinct signers", signers.len());
		checked += 1;
	}

	// All four nodes agree on finality.
	for node in &nodes[1..] {
		let r = node.rpc(Duration::from_secs(10)).await?;
		assert!(finalized_number(&r).await? >= finalized.saturating_sub(4));
	}
	Ok(())
}
