//! `stratos-meta register` and `stratos-meta endorse`: a meta node's way onto the chain's
//! meta set. A candidate registers with a deposit and its node key's signature; it becomes
//! active once 2/3 of the active meta nodes endorsed it and governance approved it.

use anyhow::{bail, Context, Result};
use sds_net::Keypair;
use stratos_chain_client::{ChainClient, NodeKind, NodeStatus, Registration};
use subxt::utils::AccountId32;

async fn connect(url: &str) -> Result<ChainClient> {
	ChainClient::connect(url).await.with_context(|| format!("cannot connect to the chain at {url}"))
}

/// What a meta node's status means for its operator.
fn describe(status: &NodeStatus) -> String {
	match status {
		NodeStatus::Pending { endorsed, approved } => format!(
			"pending: {} by 2/3 of the active meta nodes, {} by governance",
			if *endorsed { "endorsed" } else { "not yet endorsed" },
			if *approved { "approved" } else { "not yet approved" },
		),
		other => format!("{other:?}").to_lowercase(),
	}
}

/// Registers `node_key` as a meta node of `account`; prints what happened.
pub async fn register(
	url: &str,
	node_key: Keypair,
	account: subxt_signer::sr25519::Keypair,
	registration: Registration,
) -> Result<()> {
	let chain = connect(url).await?;
	let pair = sds_net::keys::ed25519_pair(&node_key)?;
	let node_id = sds_net::node_id(&node_key);
	let who = AccountId32(account.public_key().0);
	match chain.node(&who).await? {
		Some(n) if n.node_id != node_id || n.kind != NodeKind::Meta => bail!(
			"account {who} already registered another node ({:?} {}); one node per account",
			n.kind,
			n.node_id
		),
		Some(n) => {
			println!("meta node {node_id} is registered already: {}", describe(&n.status));
			return Ok(());
		},
		None => {},
	}
	chain
		.register_meta(&account, &pair, &registration)
		.await
		.context("the chain refused the registration")?;
	let status = chain.node(&who).await?.map(|n| describe(&n.status));
	println!(
		"registered meta node {node_id} for {who}: {}",
		status.unwrap_or_else(|| "not found after finalization".into())
	);
	println!(
		"next: 2/3 of the active meta nodes run `stratos-meta endorse {who}` and governance \
		 passes nodeRegistry.approveMeta({who})"
	);
	Ok(())
}

/// Endorses `candidate` with this meta node's `account`; prints the candidate's status.
pub async fn endorse(
	url: &str,
	account: subxt_signer::sr25519::Keypair,
	candidate: AccountId32,
) -> Result<()> {
	let chain = connect(url).await?;
	match chain.node(&candidate).await? {
		Some(n) if n.kind == NodeKind::Meta => {
			if !matches!(n.status, NodeStatus::Pending { endorsed: false, .. }) {
				bail!("{candidate} needs no endorsement: {}", describe(&n.status));
			}
		},
		Some(n) => bail!("{candidate} registered a {:?} node, not a meta node", n.kind),
		None => bail!("{candidate} has not registered a meta node"),
	}
	let me = AccountId32(account.public_key().0);
	chain
		.endorse_meta(&account, &candidate)
		.await
		.with_context(|| format!("the chain refused the endorsement by {me}"))?;
	let status = chain.node(&candidate).await?.map(|n| describe(&n.status));
	println!(
		"endorsed {candidate} as {me}: {}",
		status.unwrap_or_else(|| "no longer registered".into())
	);
	Ok(())
}
