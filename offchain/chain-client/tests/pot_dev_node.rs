//! Proof-of-Traffic on a real `--dev` node, through the typed client: a client pays for its
//! downloads with reserved credit, the meta node (Alice, the whole meta set) commits to the
//! period's report, reveals it and streams it; the period settles with rewards pro rata to
//! traffic within the wash-traffic cap, and a resource node claims its reward. Bad reports
//! (a future or settled period, a forged chunk) come back as the runtime's named errors.

use std::time::Duration;

use stratos_chain_client::{ChainClient, PeriodStatus};
use stratos_primitives::{
	traffic::{chunk_report, order_report, ClientTraffic, NodeTraffic},
	NodeId,
};
use stratos_tests::{test_dir, wait_finalized, Node};
use subxt_signer::sr25519::dev;

const STOS: u128 = 1_000_000_000_000;
const MB: u64 = 1_000_000;

/// Makes rewards claimable at once (dev genesis: two periods), through Sudo.
async fn no_maturity(chain: &ChainClient) -> anyhow::Result<()> {
	use stratos_chain_client::runtime::{
		self,
		runtime_types::{pallet_pot::pallet::Call as PotCall, stratos_runtime::RuntimeCall},
	};
	let at = chain.api().at_current_block().await?;
	let mut params =
		at.storage().entry(runtime::storage().pot().params())?.fetch(()).await?.decode()?;
	params.maturity = 0;
	let call =
		runtime::transactions().sudo().sudo(RuntimeCall::Pot(PotCall::set_params { params }));
	chain.submit(&call, &dev::alice()).await?;
	Ok(())
}

#[tokio::test]
async fn a_dev_chain_settles_traffic_reports_from_the_typed_client() -> anyhow::Result<()> {
	let dir = test_dir("pot")?;
	let node = Node::spawn("dev", dir.path(), &["--dev", "--tmp"])?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await?;
	let chain = ChainClient::connect(&node.ws_url()).await?;
	no_maturity(&chain).await?;

	// Ferdie pays for 10 MB of downloads.
	let ferdie = dev::ferdie().public_key().to_account_id();
	chain.buy_credit(&dev::ferdie(), 10 * STOS, 1).await?;
	chain.reserve_credit(&dev::ferdie(), (10 * MB) as u128).await?;

	// Period 0 (30 blocks) ends; its report opens.
	let deadline = std::time::Instant::now() + Duration::from_secs(150);
	while !chain.report_open(0).await? {
		anyhow::ensure!(std::time::Instant::now() < deadline, "period 0's report never opened");
		tokio::time::sleep(Duration::from_secs(2)).await;
	}
	let (current, next) = chain.pot_periods().await?;
	assert_eq!(next, 0);
	assert!(current >= 1);

	// Bob served 6 MB, Charlie 3 MB, Dave 1 MB (the dev resource nodes' ed25519 keys).
	let bob = dev::bob().public_key().to_account_id();
	let charlie = dev::charlie().public_key().to_account_id();
	let node_of = |seed: &str| NodeId(sp_keyring_ed25519(seed));
	let nodes = [(node_of("Bob"), 6 * MB), (node_of("Charlie"), 3 * MB), (node_of("Dave"), MB)];
	let entries = order_report(
		nodes.iter().map(|(n, b)| (NodeTraffic { node: *n, bytes: *b }, 0)),
		[ClientTraffic { client: ferdie.0, bytes: 10 * MB, receipts_root: [7; 32] }],
	);
	let report = chunk_report(&chain.genesis_hash(), 0, &entries, chain.report_chunk_size().await?);
	let salt = [42u8; 32];

	// Alice commits and reveals (one meta node: the quorum at once). The windows are short
	// on a dev chain (10 blocks each), so the refusals come after.
	chain.commit_report(&dev::alice(), 0, &report.digest, &salt).await?;
	assert!(chain.reveal_report(&dev::alice(), 0, &report.digest, &salt).await?, "accepted");
	let err = chain.commit_report(&dev::alice(), 5, &report.digest, &salt).await.unwrap_err();
	assert_eq!(err.rejection(), Some("PeriodNotClosed"), "{err}");

	// A chunk other than the accepted one is refused; the right ones settle the period.
	let mut forged = report.clone();
	if let stratos_primitives::traffic::ReportEntry::Node(n) = &mut forged.chunks[0].0[0] {
		n.bytes *= 100;
	}
	let err = chain.submit_report(&dev::alice(), 0, &forged, 0).await.unwrap_err();
	assert_eq!(err.rejection(), Some("ChunkMismatch"), "{err}");
	chain.submit_report(&dev::alice(), 0, &report, 0).await?;
	// The last chunk completes the report; the period settles when its reveal window closes
	// (later stragglers may still reveal), which the finalized books show.
	let deadline = std::time::Instant::now() + Duration::from_secs(120);
	let books = loop {
		let books = chain.period(0).await?.expect("period 0 has books");
		if books.status != PeriodStatus::Reporting {
			break books;
		}
		anyhow::ensure!(std::time::Instant::now() < deadline, "period 0 never settled");
		tokio::time::sleep(Duration::from_secs(2)).await;
	};
	assert_eq!(books.status, PeriodStatus::Settled);
	assert_eq!(books.reporters, vec![dev::alice().public_key().to_account_id()]);
	assert_eq!(books.bytes.0, (10 * MB) as u128, "served");
	assert_eq!(books.bytes.1, (10 * MB) as u128, "charged to Ferdie");
	let (resource, meta, validators) = books.paid;
	assert_eq!(
		resource + meta + validators + books.carried.0 + books.carried.1,
		books.issuance,
		"nothing lost"
	);
	assert_eq!(meta, books.issuance / 10, "the meta share to Alice, the matching reporter");
	assert_eq!(validators, books.issuance / 10, "the validator share to Alice, the only author");
	assert!(resource > 0);
	assert_eq!(chain.credit(&ferdie).await?.1, 0, "Ferdie's reservation paid for the traffic");

	// Rewards pro rata: Bob served twice Charlie's traffic.
	let bob_reward = chain.rewards(&bob).await?;
	let charlie_reward = chain.rewards(&charlie).await?;
	assert!(bob_reward.matured > 0);
	assert!(
		bob_reward.matured.abs_diff(2 * charlie_reward.matured) <= 2,
		"{bob_reward:?} {charlie_reward:?}"
	);
	assert_eq!(chain.rolled_traffic(&node_of("Dave")).await?, 0, "paid nodes start from zero");

	// Bob claims; a settled period takes no more reveals.
	let (claimed, debt) = chain.claim_rewards(&dev::bob()).await?;
	assert_eq!((claimed, debt), (bob_reward.matured, 0));
	assert_eq!(chain.rewards(&bob).await?.matured, 0);
	for who in [dev::alice(), dev::bob()] {
		let err = chain.commit_report(&who, 0, &report.digest, &salt).await.unwrap_err();
		assert_eq!(err.rejection(), Some("PeriodFinished"), "{err}");
	}
	Ok(())
}

/// The ed25519 dev key of `name` (the dev resource nodes' node ids).
fn sp_keyring_ed25519(name: &str) -> [u8; 32] {
	use sp_core::Pair;
	sp_core::ed25519::Pair::from_string(&format!("//{name}"), None).expect("dev seed").public().0
}
