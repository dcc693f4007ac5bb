//! Following the finalized chain (ADR 0002: off-chain processes act only on finalized state).
//!
//! Every meta node: feeds each finalized block to its election driver and votes
//! `vote_create_file` for every completed upload in its index (whose acknowledgements its own
//! replica verified when it applied the completion). The leader also writes the chain into
//! the log: a [`Command::Chain`] view per finalized block (registry, meta set, ledger
//! period), `Recorded` / `Dropped` for the file registry's events, a `Tick`, and keeps the
//! Raft membership equal to the chain's active meta set. (The audit's cut-off is the
//! reporter's: [`super::report::cut_off`].)

use super::net::member;
use crate::{
	index::{ChainNode, ChainView, Command, FileStatus, Response},
	raft::{raft_id, reconcile_membership, FinalizedBlock, Replica},
};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use stratos_chain_client::{ChainClient, FileEvent, FileVote, NodeKind, NodeStatus};
use stratos_primitives::{FileId, NodeId};
use subxt::utils::AccountId32;
use subxt_signer::sr25519::Keypair;
use tokio::sync::{mpsc, watch};

/// Delete orders for resource nodes: slices each may drop.
pub type DeleteOrders = Vec<(NodeId, Vec<stratos_primitives::SliceHash>)>;

/// What the leader needs for repair rounds.
#[derive(Clone)]
pub struct RepairRounds {
	/// Most bytes of copies under way at once.
	pub budget: u64,
	/// This meta node (it signs the copies' authorisations).
	pub issuer: NodeId,
	/// Where the orders to send go ([`super::repair::dispatch_loop`]).
	pub orders: mpsc::UnboundedSender<Vec<crate::repair::Dispatch>>,
}

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
	repair: RepairRounds,
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
		if let Err(e) = lead_block(&chain, &replica, number, hash, &deletes, &repair).await {
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
	repair: &RepairRounds,
) -> anyhow::Result<()> {
	let view = chain_view(chain, number, hash).await?;
	let members: BTreeMap<u64, openraft::BasicNode> =
		view.meta_nodes.iter().map(|n| (raft_id(&n.id), member(&n.id, &n.address))).collect();
	let known = replica.read(0, |idx| idx.state().chain.number).await?;
	if number > known {
		replica.write(Command::Chain(view)).await?.1?;
	}
	// The file registry's events of every block not applied yet: a leader that took over
	// resumes where the last one stopped (a fresh index starts at the head: it has no
	// uploads waiting for their record).
	let through = replica.read(0, |idx| idx.state().events_through).await?;
	let from = if through == 0 { number } else { through + 1 };
	for b in from..=number.min(from.saturating_add(MAX_CATCH_UP)) {
		let h = if b == number {
			hash
		} else {
			tracing::info!(block = b, "applying the file events of a block the last leader missed");
			chain
				.block_hash(b)
				.await?
				.ok_or_else(|| anyhow::anyhow!("the chain has no block {b}"))?
		};
		apply_file_events(chain, replica, b, h, deletes).await?;
		replica.write(Command::EventsDone { block: b }).await?.1?;
	}
	let now = std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_millis() as u64)
		.unwrap_or(0);
	replica.write(Command::Tick { now_ms: now }).await?.1?;
	let round = Command::Repair { now_ms: now, budget: repair.budget, issuer: repair.issuer };
	if let Response::Repair(orders) = replica.write(round).await?.1? {
		if !orders.is_empty() {
			let _ = repair.orders.send(orders);
		}
	}
	if !members.is_empty() && reconcile_membership(replica, &members).await? {
		tracing::info!(members = ?members.keys().collect::<Vec<_>>(), "cluster membership follows the chain");
	}
	Ok(())
}

/// Most blocks of missed file events one finalized block catches up on.
const MAX_CATCH_UP: u32 = 600;

/// Writes block `number`'s file registry events into the log: `Recorded` for created files,
/// `Dropped` (and delete orders to the holders) for deleted or expired ones, `Rehomed` (and
/// delete orders to the holders that left) for new holders.
async fn apply_file_events(
	chain: &ChainClient,
	replica: &Replica,
	number: u32,
	hash: [u8; 32],
	deletes: &mpsc::UnboundedSender<DeleteOrders>,
) -> anyhow::Result<()> {
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
			FileEvent::HoldersChanged { owner, file_id, holders } => {
				let holders = holders.into_iter().map(|a| a.0).collect();
				if let (_, Ok(Response::DeleteOrders(orders))) =
					replica.write(Command::Rehomed { owner: owner.0, file_id, holders }).await?
				{
					tracing::info!(%file_id, "the chain recorded the file's new holders");
					if !orders.is_empty() {
						let _ = deletes.send(orders);
					}
				}
			},
		}
	}
	Ok(())
}

/// Votes `vote_create_file` for every completed upload this node has not voted yet, and
/// `vote_set_holders` for every file whose repair copies are all acknowledged (the holder set
/// fixed in the log, so every meta node votes the same), all of them at once (batched and
/// pipelined: [`ChainClient::vote_batched`]). Woken after each finalized block.
pub async fn vote_loop(
	chain: ChainClient,
	replica: Replica,
	account: Keypair,
	mut wake: mpsc::UnboundedReceiver<()>,
) {
	let mut voted: BTreeSet<([u8; 32], FileId)> = BTreeSet::new();
	let mut voted_holders: BTreeSet<([u8; 32], FileId, Vec<NodeId>)> = BTreeSet::new();
	while wake.recv().await.is_some() {
		while wake.try_recv().is_ok() {}
		let (pending, rehome) = replica.sm.read(|idx, _| {
			let s = idx.state();
			let accounts = |holders: &[NodeId]| -> Option<Vec<AccountId32>> {
				holders
					.iter()
					.map(|h| {
						s.chain
							.resource_nodes
							.iter()
							.find(|n| n.id == *h)
							.map(|n| AccountId32(n.account))
					})
					.collect()
			};
			let pending = s
				.files
				.values()
				.filter(|f| f.status == FileStatus::Voting)
				.filter(|f| !voted.contains(&(f.owner, f.file_id)))
				.map(|f| (f.owner, f.file_id, f.size, f.slices.len() as u32, accounts(&f.holders)))
				.collect::<Vec<_>>();
			let rehome = s
				.repairs
				.rehome
				.iter()
				.filter(|((o, f), h)| !voted_holders.contains(&(*o, *f, (*h).clone())))
				.map(|((o, f), h)| (*o, *f, h.clone(), accounts(h)))
				.collect::<Vec<_>>();
			(pending, rehome)
		});
		let mut votes = Vec::with_capacity(pending.len() + rehome.len());
		for (owner, file_id, size, slices, holders) in pending {
			match holders {
				Some(holders) => votes.push(FileVote::Create {
					owner: AccountId32(owner),
					file_id,
					size,
					slices,
					holders,
				}),
				None => {
					tracing::warn!(%file_id, "a holder left the registry; not voting");
					voted.insert((owner, file_id));
				},
			}
		}
		let mut proposed = Vec::new();
		for (owner, file_id, nodes, holders) in rehome {
			match holders {
				Some(holders) => {
					votes.push(FileVote::SetHolders {
						owner: AccountId32(owner),
						file_id,
						holders,
					});
					proposed.push(nodes);
				},
				None => {
					tracing::warn!(%file_id, "a new holder left the registry; not voting");
					voted_holders.insert((owner, file_id, nodes));
				},
			}
		}
		if votes.is_empty() {
			continue;
		}
		let outcomes = match chain.vote_batched(&account, &votes).await {
			Ok(o) => o,
			Err(e) => {
				tracing::warn!(votes = votes.len(), error = %e, "voting failed; retrying after the next block");
				continue;
			},
		};
		let mut proposed = proposed.into_iter();
		for (vote, outcome) in votes.iter().zip(outcomes) {
			match vote {
				FileVote::Create { owner, file_id, .. } => match outcome {
					Ok(()) => {
						tracing::info!(%file_id, "voted to record the file");
						voted.insert((owner.0, *file_id));
					},
					Err(e) if matches!(e.as_str(), "AlreadyVoted" | "FileExists") => {
						voted.insert((owner.0, *file_id));
					},
					Err(e) => {
						tracing::warn!(%file_id, error = %e, "vote_create_file refused; retrying after the next block");
					},
				},
				FileVote::SetHolders { owner, file_id, .. } => {
					let nodes = proposed.next().unwrap_or_default();
					match outcome {
						Ok(()) => {
							tracing::info!(%file_id, "voted the file's new holders");
							voted_holders.insert((owner.0, *file_id, nodes));
						},
						Err(e)
							if matches!(
								e.as_str(),
								"AlreadyVoted" | "SameHolders" | "UnknownFile"
							) =>
						{
							voted_holders.insert((owner.0, *file_id, nodes));
						},
						Err(e) => {
							tracing::warn!(%file_id, error = %e, "vote_set_holders refused; retrying after the next block");
						},
					}
				},
			}
		}
	}
}

/// Settles stored files' fees once per storage period (the leader only): in the first
/// finalized block of a new period it lists the files paid through an earlier one and calls
/// `settle_storage` for each, pipelined. Holders are paid, and files whose owners cannot
/// pay move through their grace period to `FileExpired` without anyone having to ask.
pub async fn settle_loop(
	chain: ChainClient,
	replica: Replica,
	account: Keypair,
	mut blocks: watch::Receiver<FinalizedBlock>,
) {
	let mut settled: Option<u32> = None;
	while blocks.changed().await.is_ok() {
		let b = *blocks.borrow_and_update();
		if replica.state() != openraft::ServerState::Leader {
			continue;
		}
		let period = match chain.storage_period_at(b.hash, b.number).await {
			Ok(p) => p,
			Err(e) => {
				tracing::warn!(error = %e, "cannot read the storage period");
				continue;
			},
		};
		if settled == Some(period) {
			continue;
		}
		let due = match chain.files_due_at(b.hash, b.number).await {
			Ok((_, due)) => due,
			Err(e) => {
				tracing::warn!(error = %e, "cannot list the files due");
				continue;
			},
		};
		let mut failed = 0usize;
		for chunk in due.chunks(SETTLE_CHUNK) {
			match chain.settle_storage_many(&account, chunk).await {
				Ok(outcomes) => {
					for ((_, file_id), r) in chunk.iter().zip(outcomes) {
						if let Err(e) = r {
							failed += 1;
							tracing::warn!(%file_id, error = %e, "settle_storage failed");
						}
					}
				},
				Err(e) => {
					failed += chunk.len();
					tracing::warn!(error = %e, "settle_storage submission failed");
				},
			}
		}
		tracing::info!(period, files = due.len(), failed, "storage fees settled for the period");
		if failed == 0 {
			settled = Some(period);
		}
	}
}

/// Settlements submitted together.
const SETTLE_CHUNK: usize = 64;

/// Votes `report_reachability` for the resource nodes the replicated health records show
/// silent for too long (suspend) or back after a suspension (resume)
/// ([`crate::health::reachability_votes`]); every active meta node votes, the chain acts at
/// 2/3. A vote is sent once per node and direction while the node's status on chain stays.
pub async fn reachability_loop(
	chain: ChainClient,
	replica: Replica,
	account: Keypair,
	mut blocks: watch::Receiver<FinalizedBlock>,
) {
	use crate::health::{reachability_votes, OnChain};
	let me = account.public_key().to_account_id();
	let started = std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_millis() as u64)
		.unwrap_or(0);
	let mut voted: BTreeMap<NodeId, (bool, NodeStatus)> = BTreeMap::new();
	while blocks.changed().await.is_ok() {
		let b = *blocks.borrow_and_update();
		let (nodes, metas) =
			match (chain.nodes_at(b.hash).await, chain.active_meta_at(b.hash).await) {
				(Ok(n), Ok(m)) => (n, m),
				(Err(e), _) | (_, Err(e)) => {
					tracing::debug!(error = %e, "cannot read the registry");
					continue;
				},
			};
		if !metas.contains(&me) {
			continue;
		}
		let resource: Vec<(AccountId32, NodeId, NodeStatus)> = nodes
			.into_iter()
			.filter(|(_, n)| n.kind == NodeKind::Resource)
			.map(|(who, n)| (who, n.node_id, n.status))
			.collect();
		// A vote is done with once the node's status on chain changed.
		voted.retain(|id, (_, at)| resource.iter().any(|(_, n, s)| n == id && s == at));
		let statuses: Vec<(NodeId, OnChain)> = resource
			.iter()
			.map(|(_, id, s)| {
				let s = match s {
					NodeStatus::Active => OnChain::Active,
					NodeStatus::Suspended => OnChain::Suspended,
					_ => OnChain::Other,
				};
				(*id, s)
			})
			.collect();
		let votes = replica.sm.read(|idx, _| {
			let s = idx.state();
			// Judge only a view of the same block (the leader writes one per block).
			reachability_votes(&statuses, &s.health, s.clock_ms, started.min(s.clock_ms))
		});
		for (id, reachable) in votes {
			if voted.get(&id).is_some_and(|(r, _)| *r == reachable) {
				continue;
			}
			let Some((who, _, status)) = resource.iter().find(|(_, n, _)| *n == id) else {
				continue;
			};
			match chain.report_reachability(&account, who, reachable).await {
				Ok(()) => {
					tracing::info!(node = %id, reachable, "voted the node's reachability");
					voted.insert(id, (reachable, *status));
				},
				Err(e) => {
					tracing::warn!(node = %id, reachable, error = %e, "reachability vote refused")
				},
			}
		}
	}
}
