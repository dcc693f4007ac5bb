//! Following the finalized chain (ADR 0002: off-chain processes act only on finalized state).
//!
//! Every meta node: feeds each finalized block to its election driver and votes
//! `vote_create_file` for every completed upload in its index (whose acknowledgements its own
//! replica verified when it applied the completion). The leader also writes the chain into
//! the log: a [`Command::Chain`] view per finalized block (registry, meta set, ledger
//! period), `Recorded` / `Dropped` for the file registry's events, a `Tick`, and keeps the
//! Raft membership equal to the chain's active meta set.

use super::net::member;
use crate::{
	index::{ChainNode, ChainView, Command, FileStatus, Response},
	raft::{raft_id, reconcile_membership, FinalizedBlock, Replica},
};
use futures::StreamExt;
use std::{
	collections::{BTreeMap, BTreeSet},
	time::Duration,
};
use stratos_chain_client::{ChainClient, FileEvent, NodeKind, NodeStatus};
use stratos_primitives::{FileId, NodeId};
use subxt::utils::AccountId32;
use subxt_signer::sr25519::Keypair;
use tokio::sync::{mpsc, watch};

/// Delete orders for resource nodes: slices each may drop.
pub type DeleteOrders = Vec<(NodeId, Vec<stratos_primitives::SliceHash>)>;

/// Reads the chain view at a finalized block.
pub async fn chain_view(
	chain: &ChainClient,
	number: u32,
	hash: [u8; 32],
) -> anyhow::Result<ChainView> {
	let nodes = chain.nodes_at(hash).await?;
	let active_meta: BTreeSet<AccountId32> =
		chain.active_meta_at(hash).await?.into_iter().collect();
	let (ledger_period, _) = chain.pot_periods().await?;
	let mut view = ChainView { number, hash, ledger_period, ..Default::default() };
	for (account, n) in nodes {
		let entry = ChainNode {
			id: n.node_id,
			account: account.0,
			region: n.region.clone(),
			address: n.address.clone(),
			active: n.status == NodeStatus::Active,
		};
		match n.kind {
			NodeKind::Resource => view.resource_nodes.push(entry),
			NodeKind::Meta if active_meta.contains(&account) => view.meta_nodes.push(entry),
			NodeKind::Meta => {},
		}
	}
	view.resource_nodes.sort_by_key(|a| a.id);
	view.meta_nodes.sort_by_key(|a| a.id);
	Ok(view)
}

/// Follows the finalized chain until the subscription ends.
pub async fn follow(
	chain: ChainClient,
	replica: Replica,
	blocks: watch::Sender<FinalizedBlock>,
	deletes: mpsc::UnboundedSender<DeleteOrders>,
	votes: mpsc::UnboundedSender<()>,
) -> anyhow::Result<()> {
	let mut stream = chain.subscribe_finalized().await?;
	while let Some(item) = stream.next().await {
		let (number, hash) = match item {
			Ok(b) => b,
			Err(e) => {
				tracing::warn!(error = %e, "finalized block stream failed");
				continue;
			},
		};
		let _ = blocks.send(FinalizedBlock { number, hash });
		let _ = votes.send(());
		if replica.state() != openraft::ServerState::Leader {
			continue;
		}
		if let Err(e) = lead_block(&chain, &replica, number, hash, &deletes).await {
			tracing::warn!(block = number, error = %e, "could not write the finalized block into the log");
		}
	}
	anyhow::bail!("the chain's finalized block stream ended")
}

async fn lead_block(
	chain: &ChainClient,
	replica: &Replica,
	number: u32,
	hash: [u8; 32],
	deletes: &mpsc::UnboundedSender<DeleteOrders>,
) -> anyhow::Result<()> {
	let view = chain_view(chain, number, hash).await?;
	let members: BTreeMap<u64, openraft::BasicNode> =
		view.meta_nodes.iter().map(|n| (raft_id(&n.id), member(&n.id, &n.address))).collect();
	let known = replica.read(0, |idx| idx.state().chain.number).await?;
	if number > known {
		replica.write(Command::Chain(view)).await?.1?;
	}
	for ev in chain.file_events_at(hash).await? {
		match ev {
			FileEvent::Created { owner, file_id, .. } => {
				let r = replica
					.write(Command::Recorded { owner: owner.0, file_id, block: number })
					.await?;
				if let Err(e) = r.1 {
					tracing::debug!(%file_id, error = %e, "a file recorded on chain is not in the index");
				}
			},
			FileEvent::Deleted { owner, file_id } | FileEvent::Expired { owner, file_id } => {
				if let (_, Ok(Response::DeleteOrders(orders))) =
					replica.write(Command::Dropped { owner: owner.0, file_id }).await?
				{
					if !orders.is_empty() {
						let _ = deletes.send(orders);
					}
				}
			},
		}
	}
	let now = std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_millis() as u64)
		.unwrap_or(0);
	replica.write(Command::Tick { now_ms: now }).await?.1?;
	if !members.is_empty() && reconcile_membership(replica, &members).await? {
		tracing::info!(members = ?members.keys().collect::<Vec<_>>(), "cluster membership follows the chain");
	}
	Ok(())
}

/// Votes `vote_create_file` for every completed upload this node has not voted yet. Woken
/// after each finalized block.
pub async fn vote_loop(
	chain: ChainClient,
	replica: Replica,
	account: Keypair,
	mut wake: mpsc::UnboundedReceiver<()>,
) {
	let mut voted: BTreeSet<([u8; 32], FileId)> = BTreeSet::new();
	while wake.recv().await.is_some() {
		while wake.try_recv().is_ok() {}
		let pending = replica.sm.read(|idx, _| {
			let s = idx.state();
			s.files
				.values()
				.filter(|f| f.status == FileStatus::Voting)
				.filter(|f| !voted.contains(&(f.owner, f.file_id)))
				.map(|f| {
					let holders: Option<Vec<AccountId32>> = f
						.holders
						.iter()
						.map(|h| {
							s.chain
								.resource_nodes
								.iter()
								.find(|n| n.id == *h)
								.map(|n| AccountId32(n.account))
						})
						.collect();
					(f.owner, f.file_id, f.size, f.slices.len() as u32, holders)
				})
				.collect::<Vec<_>>()
		});
		for (owner, file_id, size, slices, holders) in pending {
			let Some(holders) = holders else {
				tracing::warn!(%file_id, "a holder left the registry; not voting");
				voted.insert((owner, file_id));
				continue;
			};
			match chain
				.vote_create_file(&account, &AccountId32(owner), &file_id, size, slices, &holders)
				.await
			{
				Ok(outcome) => {
					tracing::info!(%file_id, ?outcome, "voted to record the file");
					voted.insert((owner, file_id));
				},
				Err(e) if matches!(e.rejection(), Some("AlreadyVoted" | "FileExists")) => {
					voted.insert((owner, file_id));
				},
				Err(e) => {
					tracing::warn!(%file_id, error = %e, "vote_create_file failed; retrying after the next block");
					tokio::time::sleep(Duration::from_secs(1)).await;
				},
			}
		}
	}
}
