//! The typed client against a real `--dev` node: genesis nodes are visible, a resource node
//! registers with a node-key signature, bad registrations come back as the runtime's named
//! errors, credit is bought and reserved, and a meta node's vote records a file that its
//! owner then deletes. Every read is at the finalized block.

use std::time::Duration;

use sp_core::{ed25519, Pair};
use stratos_chain_client::{ChainClient, NodeKind, NodeStatus, Registration, VoteOutcome};
use stratos_primitives::{FileId, NodeId};
use stratos_tests::{test_dir, wait_finalized, Node};
use subxt_signer::sr25519::dev;

const STOS: u128 = 1_000_000_000_000;
const GIB: u64 = 1 << 30;

#[tokio::test]
async fn typed_client_drives_the_storage_pallets_on_a_dev_node() -> anyhow::Result<()> {
	let dir = test_dir("chain-client")?;
	let node = Node::spawn("dev", dir.path(), &["--dev", "--tmp"])?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await?;
	let chain = ChainClient::connect(&node.ws_url()).await?;

	// Genesis: Alice is the meta node, Bob a resource node with his ed25519 dev key.
	let alice = dev::alice().public_key().to_account_id();
	let bob = dev::bob().public_key().to_account_id();
	let charlie = dev::charlie().public_key().to_account_id();
	let eve = dev::eve().public_key().to_account_id();
	let ferdie = dev::ferdie().public_key().to_account_id();
	assert_eq!(chain.active_meta().await?, vec![alice]);
	let bob_node = chain.node(&bob).await?.expect("Bob runs a genesis resource node");
	assert_eq!((bob_node.kind, bob_node.status), (NodeKind::Resource, NodeStatus::Active));
	assert_eq!(chain.node_owner(&bob_node.node_id).await?, Some(bob));

	// Ferdie registers a resource node; it is active once finalized.
	let key = ed25519::Pair::from_seed(&[42; 32]);
	let reg = Registration {
		address: "/ip4/127.0.0.1/tcp/7405".into(),
		capacity: 10 * GIB,
		region: "local".into(),
		deposit: 1_010 * STOS,
	};
	chain.register_resource(&dev::ferdie(), &key, &reg).await?;
	let ferdie_node = chain.node(&ferdie).await?.expect("registered");
	assert_eq!(ferdie_node.node_id, NodeId(key.public().0));
	assert_eq!(ferdie_node.capacity, 10 * GIB);
	assert_eq!(ferdie_node.deposit, 1_010 * STOS);
	assert_eq!(ferdie_node.status, NodeStatus::Active);
	assert_eq!(chain.key_nonce(&ferdie_node.node_id).await?, 1);

	// Bad registrations fail with the runtime's error, named, and change nothing.
	let err = chain.register_resource(&dev::eve(), &key, &reg).await.unwrap_err();
	assert_eq!(err.rejection(), Some("NodeKeyTaken"), "{err}");
	let low = Registration { deposit: 1_000 * STOS, ..reg.clone() };
	let err = chain
		.register_resource(&dev::eve(), &ed25519::Pair::from_seed(&[43; 32]), &low)
		.await
		.unwrap_err();
	assert_eq!(err.rejection(), Some("DepositBelowMinimum"), "{err}");
	assert!(err.to_string().contains("deposit is below the required one"), "{err}");
	assert_eq!(chain.node(&eve).await?, None);

	// Credit: bought on the curve, then reserved for downloads.
	let bought = chain.buy_credit(&dev::ferdie(), 10 * STOS, 1).await?;
	assert!(bought > 0);
	chain.reserve_credit(&dev::ferdie(), 1_000).await?;
	assert_eq!(chain.credit(&ferdie).await?, (bought - 1_000, 1_000));
	let err = chain.release_credit(&dev::ferdie(), 1_000).await.unwrap_err();
	assert_eq!(err.rejection(), Some("ReservationLocked"), "{err}");

	// A file recorded by the meta quorum (Alice alone is the whole set) and deleted.
	let file = FileId([7; 32]);
	let holders = vec![bob, charlie, ferdie];
	let outcome =
		chain.vote_create_file(&dev::alice(), &eve, &file, 3 * GIB, 192, &holders).await?;
	assert_eq!(outcome, VoteOutcome::Passed);
	let info = chain.file(&eve, &file).await?.expect("recorded");
	assert_eq!((info.size, info.slices, info.holders), (3 * GIB, 192, holders.clone()));
	let err =
		chain.vote_create_file(&dev::alice(), &eve, &file, 3 * GIB, 192, &[bob]).await.unwrap_err();
	assert_eq!(err.rejection(), Some("FileExists"), "{err}");
	// Only meta nodes vote.
	let err = chain
		.vote_create_file(&dev::bob(), &eve, &FileId([8; 32]), GIB, 64, &holders)
		.await
		.unwrap_err();
	assert_eq!(err.rejection(), Some("NotActiveMeta"), "{err}");
	chain.delete_file(&dev::eve(), &file).await?;
	assert_eq!(chain.file(&eve, &file).await?, None);
	Ok(())
}
