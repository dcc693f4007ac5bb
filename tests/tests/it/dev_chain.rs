//! `--dev --tmp`: a signed transfer through subxt reaches finality; bad extrinsics are refused
//! with the standard RPC errors and change nothing.

use std::time::Duration;

use stratos_tests::{stratos, test_dir, wait_finalized, Node};
use subxt::{
	config::DefaultExtrinsicParamsBuilder,
	ext::jsonrpsee::{core::client::ClientT, rpc_params},
	PolkadotConfig,
};
use subxt_signer::sr25519::dev;

const STOS: u128 = 1_000_000_000_000;

/// The JSON-RPC error of `author_submitExtrinsic` for `bytes`: (code, message).
async fn submit_raw(rpc: &impl ClientT, bytes: &[u8]) -> Option<(i32, String)> {
	let res: Result<String, _> = rpc
		.request("author_submitExtrinsic", rpc_params![format!("0x{}", hex::encode(bytes))])
		.await;
	match res {
		Ok(_) => None,
		Err(subxt::ext::jsonrpsee::core::ClientError::Call(e)) => {
			Some((e.code(), format!("{} {}", e.message(), e.data().map(|d| d.get()).unwrap_or(""))))
		},
		Err(e) => Some((0, e.to_string())),
	}
}

#[tokio::test]
async fn signed_transfer_is_finalized_and_bad_extrinsics_change_nothing() -> anyhow::Result<()> {
	let dir = test_dir("dev")?;
	let node = Node::spawn("dev", dir.path(), &["--dev", "--tmp"])?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	let api = node.subxt(Duration::from_secs(60)).await?;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await?;

	let bob = dev::bob().public_key().to_account_id();
	let bob_before = {
		let at = api.at_current_block().await?;
		at.storage()
			.entry(stratos::storage().system().account())?
			.fetch((bob,))
			.await?
			.decode()?
			.data
			.free
	};

	// A signed transfer, watched until its block is finalized.
	let amount = 3 * STOS;
	let tx = stratos::transactions().balances().transfer_keep_alive(bob.into(), amount);
	let events = api
		.at_current_block()
		.await?
		.transactions()
		.sign_and_submit_then_watch_default(&tx, &dev::alice())
		.await?
		.wait_for_finalized_success()
		.await?;
	let transfer =
		events.find_first::<stratos::balances::events::Transfer>().expect("a Transfer event")?;
	assert_eq!(transfer.amount, amount);

	// Read at the finalized block: Bob got exactly the amount.
	let at = api.at_current_block().await?;
	let bob_after = at
		.storage()
		.entry(stratos::storage().system().account())?
		.fetch((bob,))
		.await?
		.decode()?
		.data
		.free;
	assert_eq!(bob_after, bob_before + amount);

	// Bad input. Build a valid transaction for Alice with an explicit (stale) nonce 0.
	let alice_nonce: u32 = rpc
		.request(
			"system_accountNextIndex",
			rpc_params![dev::alice().public_key().to_account_id().to_string()],
		)
		.await?;
	assert_eq!(alice_nonce, 1, "one transaction so far");
	let alice_free_before = at
		.storage()
		.entry(stratos::storage().system().account())?
		.fetch((dev::alice().public_key().to_account_id(),))
		.await?
		.decode()?
		.data
		.free;

	let params = DefaultExtrinsicParamsBuilder::<PolkadotConfig>::new().nonce(0).build();
	let stale = at.transactions().create_signed(&tx, &dev::alice(), params).await?;
	let (code, msg) = submit_raw(&rpc, stale.encoded()).await.expect("stale nonce refused");
	assert_eq!(code, 1010, "stale nonce: {msg}");
	assert!(msg.to_lowercase().contains("outdated"), "stale nonce: {msg}");

	// A correct nonce but a tampered signature.
	let params = DefaultExtrinsicParamsBuilder::<PolkadotConfig>::new().nonce(1).build();
	let good = at.transactions().create_signed(&tx, &dev::alice(), params).await?;
	let mut forged = good.encoded().to_vec();
	// Layout: compact length, version byte, MultiAddress::Id (1 + 32 bytes), the
	// MultiSignature variant byte, then the 64 signature bytes.
	let prefix = {
		use subxt::ext::codec::{Compact, Decode};
		let mut input = &forged[..];
		let _ = <Compact<u32>>::decode(&mut input)?;
		forged.len() - input.len()
	};
	forged[prefix + 1 + 33 + 1 + 10] ^= 0xff;
	let (code, msg) = submit_raw(&rpc, &forged).await.expect("bad signature refused");
	assert_eq!(code, 1010, "bad signature: {msg}");
	assert!(msg.to_lowercase().contains("bad signature"), "bad signature: {msg}");

	// Bytes that are not an extrinsic at all (length prefix says 100, 4 bytes follow)...
	let (code, msg) =
		submit_raw(&rpc, &[0x91, 0x01, 0xde, 0xad, 0xbe, 0xef]).await.expect("garbage refused");
	assert_eq!(code, 1040, "unframed garbage: {msg}");
	assert!(msg.contains("Could not decode"), "unframed garbage: {msg}");
	// ... and well-framed bytes the runtime cannot decode.
	let (code, msg) =
		submit_raw(&rpc, &[0x10, 0xde, 0xad, 0xbe, 0xef]).await.expect("garbage refused");
	assert_eq!(code, 1002, "undecodable extrinsic: {msg}");
	assert!(msg.contains("Verification Error"), "undecodable extrinsic: {msg}");

	// Nothing changed: same nonce, same balance (the tampered tx never entered the pool).
	tokio::time::sleep(Duration::from_secs(4)).await;
	let nonce_after: u32 = rpc
		.request(
			"system_accountNextIndex",
			rpc_params![dev::alice().public_key().to_account_id().to_string()],
		)
		.await?;
	assert_eq!(nonce_after, 1);
	let at = api.at_current_block().await?;
	let alice_free_after = at
		.storage()
		.entry(stratos::storage().system().account())?
		.fetch((dev::alice().public_key().to_account_id(),))
		.await?
		.decode()?
		.data
		.free;
	assert_eq!(alice_free_after, alice_free_before);

	// The untampered transaction with the right nonce is still accepted: the refusals above
	// were about the input, not a broken pool.
	assert!(submit_raw(&rpc, good.encoded()).await.is_none(), "valid tx accepted");
	Ok(())
}

#[tokio::test]
async fn chain_properties_name_the_token() -> anyhow::Result<()> {
	let dir = test_dir("props")?;
	let node = Node::spawn("props", dir.path(), &["--dev", "--tmp"])?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	let props: serde_json::Value = rpc.request("system_properties", rpc_params![]).await?;
	assert_eq!(props["tokenSymbol"], "STOS");
	assert_eq!(props["tokenDecimals"], 12);
	assert_eq!(props["ss58Format"], 42);
	let version: serde_json::Value = rpc.request("state_getRuntimeVersion", rpc_params![]).await?;
	assert_eq!(version["specName"], "stratos");
	Ok(())
}
