//! The resource node on the chain (ADR 0011): it follows the finalized chain to know the
//! active meta nodes (whose authorisations and tickets it accepts) and the finalized block
//! number (expiries), heartbeats to the meta nodes, and registers itself on request.

use anyhow::{Context, Result};
use futures::StreamExt;
use sds_core::{
	meta_api::{self, Heartbeat, MetaRequest, MetaResponse, META_PROTOCOL},
	wire::Hop,
};
use sds_net::Host;
use sds_store::Store;
use std::{
	collections::HashSet,
	sync::{
		atomic::{AtomicU32, Ordering},
		Arc, RwLock,
	},
	time::Duration,
};
use stratos_chain_client::{ChainClient, NodeKind, NodeStatus};
use stratos_primitives::NodeId;

/// How often the node heartbeats.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// The finalized chain as the data plane needs it.
#[derive(Default)]
pub struct ChainGate {
	finalized: AtomicU32,
	metas: RwLock<Vec<Hop>>,
	meta_ids: RwLock<HashSet<NodeId>>,
}

impl sds_net::Gate for ChainGate {
	fn finalized(&self) -> u32 {
		self.finalized.load(Ordering::Relaxed)
	}

	fn is_meta(&self, node: &NodeId) -> bool {
		self.meta_ids.read().expect("lock").contains(node)
	}
}

impl ChainGate {
	/// The active meta nodes, dialable.
	pub fn metas(&self) -> Vec<Hop> {
		self.metas.read().expect("lock").clone()
	}

	/// Reads the chain at the finalized block `(number, hash)`.
	pub async fn refresh(&self, chain: &ChainClient, number: u32, hash: [u8; 32]) -> Result<()> {
		let active: HashSet<[u8; 32]> =
			chain.active_meta_at(hash).await?.into_iter().map(|a| a.0).collect();
		let mut hops = Vec::new();
		for (account, n) in chain.nodes_at(hash).await? {
			if n.kind == NodeKind::Meta
				&& n.status == NodeStatus::Active
				&& active.contains(&account.0)
			{
				hops.push(Hop { node: n.node_id, addrs: vec![n.address.clone()] });
			}
		}
		*self.meta_ids.write().expect("lock") = hops.iter().map(|h| h.node).collect();
		*self.metas.write().expect("lock") = hops;
		self.finalized.store(number, Ordering::Relaxed);
		Ok(())
	}
}

/// Follows the finalized chain into `gate` until the subscription ends.
pub async fn follow(chain: ChainClient, gate: Arc<ChainGate>) -> Result<()> {
	let mut blocks = chain.subscribe_finalized().await?;
	while let Some(b) = blocks.next().await {
		match b {
			Ok((number, hash)) => {
				if let Err(e) = gate.refresh(&chain, number, hash).await {
					tracing::warn!(block = number, error = %e, "cannot read the chain");
				}
			},
			Err(e) => tracing::warn!(error = %e, "finalized block stream failed"),
		}
	}
	anyhow::bail!("the chain's finalized block stream ended")
}

/// Sends a heartbeat to a meta node every [`HEARTBEAT_EVERY`] (any meta node: followers
/// forward it to the leader).
pub async fn heartbeats(host: Host, store: Arc<Store>, gate: Arc<ChainGate>, max_streams: usize) {
	let mut last_errors = 0u64;
	let mut next = 0usize;
	let mut warned = false;
	loop {
		tokio::time::sleep(HEARTBEAT_EVERY).await;
		let metas = gate.metas();
		if metas.is_empty() {
			continue;
		}
		let stats = store.stats();
		let m = host.metrics().snapshot();
		let beat = Heartbeat {
			node: host.node_id(),
			free: stats.capacity.saturating_sub(stats.used),
			capacity: stats.capacity,
			connections: max_streams.saturating_sub(host.free_stream_slots()) as u32,
			errors: m.errors.saturating_sub(last_errors) as u32,
			version: env!("CARGO_PKG_VERSION").into(),
		};
		last_errors = m.errors;
		let req = meta_api::encode(MetaRequest::Heartbeat(beat));
		// Try the meta nodes in turn until one answers.
		let mut delivered = false;
		for k in 0..metas.len() {
			let hop = &metas[(next + k) % metas.len()];
			match host.request(hop, META_PROTOCOL, &req, Duration::from_secs(10)).await {
				Ok(bytes) => {
					match meta_api::decode::<MetaResponse>(&bytes) {
						Ok(MetaResponse::Error { message, .. }) if !warned => {
							tracing::warn!(%message, "a meta node refused the heartbeat");
							warned = true;
						},
						Ok(MetaResponse::Error { .. }) => {},
						Ok(_) => warned = false,
						Err(e) => tracing::warn!(error = %e, "undecodable heartbeat answer"),
					}
					delivered = true;
					next = (next + k) % metas.len();
					break;
				},
				Err(e) => tracing::debug!(meta = %hop.node, error = %e, "heartbeat not delivered"),
			}
		}
		if !delivered {
			tracing::warn!("no meta node answered the heartbeat");
		}
	}
}

/// Registers (or updates the address of) this resource node on chain with the operator's
/// account; the running node never holds the account key.
pub async fn register(
	chain: &ChainClient,
	operator: &subxt_signer::sr25519::Keypair,
	node_key: &sp_core::ed25519::Pair,
	reg: stratos_chain_client::Registration,
) -> Result<String> {
	use sp_core::Pair;
	let who = operator.public_key().to_account_id();
	match chain.node(&who).await? {
		None => {
			chain
				.register_resource(operator, node_key, &reg)
				.await
				.context("registration refused")?;
			Ok(format!("registered resource node {} for {who}", NodeId(node_key.public().0)))
		},
		Some(n) if n.node_id != NodeId(node_key.public().0) => anyhow::bail!(
			"account {who} already registered another node key ({}); one node per account",
			n.node_id
		),
		Some(n) if n.address != reg.address => {
			chain
				.update_node_address(operator, &reg.address)
				.await
				.context("address update refused")?;
			Ok(format!("updated the address of node {} to {}", n.node_id, reg.address))
		},
		Some(n) => Ok(format!("node {} is registered already ({:?})", n.node_id, n.status)),
	}
}
