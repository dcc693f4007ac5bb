//! The resource node on the chain (ADR 0011): it follows the finalized chain to know the
//! active meta nodes (whose authorisations and tickets it accepts) and the finalized block
//! number (expiries), heartbeats to the meta nodes, and registers itself on request.

use anyhow::{Context, Result};
use futures::StreamExt;
use sds_core::{
	meta_api::{
		self, Heartbeat, HolderRequest, HolderResponse, MetaRequest, MetaResponse, UploadFate,
		HOLDER_PROTOCOL, META_PROTOCOL,
	},
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
/// How long one meta node has to answer a heartbeat.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// The finalized chain as the data plane needs it.
#[derive(Default)]
pub struct ChainGate {
	finalized: AtomicU32,
	metas: RwLock<Vec<Hop>>,
	meta_ids: RwLock<HashSet<NodeId>>,
	resource_ids: RwLock<HashSet<NodeId>>,
}

impl sds_net::Gate for ChainGate {
	fn finalized(&self) -> u32 {
		self.finalized.load(Ordering::Relaxed)
	}

	fn is_meta(&self, node: &NodeId) -> bool {
		self.meta_ids.read().expect("lock").contains(node)
	}

	fn is_resource_node(&self, node: &NodeId) -> bool {
		self.resource_ids.read().expect("lock").contains(node)
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
		let mut resources = HashSet::new();
		for (account, n) in chain.nodes_at(hash).await? {
			if n.kind == NodeKind::Resource && n.status == NodeStatus::Active {
				resources.insert(n.node_id);
			}
			if n.kind == NodeKind::Meta
				&& n.status == NodeStatus::Active
				&& active.contains(&account.0)
			{
				hops.push(Hop { node: n.node_id, addrs: vec![n.address.clone()] });
			}
		}
		*self.meta_ids.write().expect("lock") = hops.iter().map(|h| h.node).collect();
		*self.resource_ids.write().expect("lock") = resources;
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
			// A meta node that does not answer within the interval is skipped, so the beats
			// keep their rhythm while meta nodes are down.
			match host.request(hop, META_PROTOCOL, &req, HEARTBEAT_TIMEOUT).await {
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

/// How often the node tells the meta nodes of slices it lost.
pub const LOST_EVERY: Duration = Duration::from_secs(3);

/// Tells the meta nodes of the slices this node lost (quarantined as corrupt by the
/// scrubber or a read, or whose file vanished), so they copy the files those slices belong
/// to elsewhere at once instead of waiting for a download to fail. A loss stays queued in
/// the store until a meta node took it, so a crash or an unreachable cluster loses none.
pub async fn lost_slices(host: Host, store: Arc<Store>, gate: Arc<ChainGate>) {
	loop {
		tokio::time::sleep(LOST_EVERY).await;
		// RocksDB reads and writes block: off the async workers, as the other tasks do.
		let lost =
			match tokio::task::block_in_place(|| store.lost_slices(meta_api::MAX_LOST_PER_REQUEST))
			{
				Ok(l) if l.is_empty() => continue,
				Ok(l) => l,
				Err(e) => {
					tracing::warn!(error = %e, "cannot read the lost slices");
					continue;
				},
			};
		let req = MetaRequest::SlicesLost { node: host.node_id(), slices: lost.clone() };
		match ask_metas(&host, &gate, &req).await {
			Some(MetaResponse::Ok | MetaResponse::Written { .. }) => {
				tracing::warn!(slices = lost.len(), "told the meta nodes of lost slices");
				if let Err(e) = tokio::task::block_in_place(|| store.mark_lost_reported(&lost)) {
					tracing::warn!(error = %e, "cannot mark lost slices as reported");
				}
			},
			Some(other) => tracing::warn!(answer = ?other, "unexpected answer to lost slices"),
			None => tracing::debug!("no meta node took the lost slices; trying again"),
		}
	}
}

/// How often the node delivers new receipts to the meta nodes' audit. The meta leader waits
/// longer than this after a report opens before it cuts the period off.
pub const RECEIPTS_EVERY: Duration = Duration::from_secs(2);

/// Delivers the countersigned receipts of served downloads to the meta nodes' audit
/// (whitepaper §3.2.1 step 2), and the receipts clients left without a countersignature.
/// A receipt stays queued in the store until a meta node answered for it, so nothing is
/// lost when the node or a meta node crashes (the audit counts a resent copy once).
pub async fn receipts(host: Host, store: Arc<Store>, gate: Arc<ChainGate>) {
	let mut unsigned = Vec::new();
	loop {
		tokio::time::sleep(RECEIPTS_EVERY).await;
		unsigned.extend(host.take_unsigned());
		// They only count towards the client's bound: a request's worth is plenty.
		unsigned.truncate(meta_api::MAX_RECEIPTS_PER_REQUEST);
		let room = meta_api::MAX_RECEIPTS_PER_REQUEST.saturating_sub(unsigned.len());
		let pending = match tokio::task::block_in_place(|| store.unreported_receipts(room)) {
			Ok(p) => p,
			Err(e) => {
				tracing::warn!(error = %e, "cannot read the receipts to report");
				continue;
			},
		};
		if pending.is_empty() && unsigned.is_empty() {
			continue;
		}
		let (handles, receipts): (Vec<Vec<u8>>, Vec<_>) = pending.into_iter().unzip();
		let req = MetaRequest::Receipts {
			from: meta_api::Party::Node,
			receipts,
			unsigned: unsigned.clone(),
		};
		match ask_metas(&host, &gate, &req).await {
			Some(MetaResponse::Audited { counted, duplicates, refused, .. }) => {
				if !refused.is_empty() {
					tracing::warn!(
						refused = refused.len(),
						first = ?refused.first(),
						"the audit refused receipts"
					);
				}
				tracing::debug!(counted, duplicates, "receipts delivered to the audit");
				if let Err(e) = tokio::task::block_in_place(|| store.mark_reported(&handles)) {
					tracing::warn!(error = %e, "cannot mark receipts as reported");
				}
				unsigned.clear();
			},
			Some(other) => tracing::warn!(answer = ?other, "unexpected answer to receipts"),
			None => tracing::debug!("no meta node took the receipts; retrying"),
		}
	}
}

/// How often the node asks the meta nodes about uploads it took slices for.
pub const UPLOADS_EVERY: Duration = Duration::from_secs(10);

/// Asks one meta node after another until one answers `req`.
async fn ask_metas(host: &Host, gate: &ChainGate, req: &MetaRequest) -> Option<MetaResponse> {
	let bytes = meta_api::encode(req.clone());
	for hop in gate.metas() {
		match host.request(&hop, META_PROTOCOL, &bytes, Duration::from_secs(10)).await {
			Ok(answer) => match meta_api::decode::<MetaResponse>(&answer) {
				Ok(MetaResponse::Error { message, .. }) => {
					tracing::debug!(meta = %hop.node, %message, "a meta node refused");
				},
				Ok(r) => return Some(r),
				Err(e) => tracing::warn!(meta = %hop.node, error = %e, "undecodable answer"),
			},
			Err(e) => tracing::debug!(meta = %hop.node, error = %e, "meta node unreachable"),
		}
	}
	None
}

/// Settles the uploads this node took slices for: a completed upload leaves its file's
/// manifest (kept for `stratos-meta rebuild-index`); one the meta nodes do not know
/// `ttl_blocks` finalized blocks after its authorisation expired never completed, and its
/// slices that nothing else needs are dropped.
pub async fn uploads(host: Host, store: Arc<Store>, gate: Arc<ChainGate>, ttl_blocks: u32) {
	loop {
		tokio::time::sleep(UPLOADS_EVERY).await;
		let pending = match tokio::task::block_in_place(|| store.pending()) {
			Ok(p) => p,
			Err(e) => {
				tracing::error!(error = %e, "cannot read the pending uploads");
				continue;
			},
		};
		let finalized = sds_net::Gate::finalized(gate.as_ref());
		for (task, p) in pending {
			match ask_metas(&host, &gate, &MetaRequest::UploadFate { task }).await {
				Some(MetaResponse::UploadFate(UploadFate::Completed(m))) => {
					match tokio::task::block_in_place(|| store.complete_pending(&task, &m)) {
						Ok(()) => {
							tracing::info!(%task, file = %m.file_id, slices = m.slices.len(), "upload completed; manifest kept")
						},
						Err(e) => {
							tracing::error!(%task, file = %m.file_id, error = %e, "cannot keep the file's manifest")
						},
					}
				},
				Some(MetaResponse::UploadFate(UploadFate::Unknown))
					if finalized > p.expires_at.saturating_add(ttl_blocks) =>
				{
					match tokio::task::block_in_place(|| store.drop_pending(&task)) {
						Ok(dropped) => {
							tracing::info!(%task, dropped = dropped.len(), "upload never completed; its slices are dropped")
						},
						Err(e) => {
							tracing::error!(%task, error = %e, "cannot drop an abandoned upload")
						},
					}
				},
				Some(_) => {},
				None => {
					tracing::debug!("no meta node answered about uploads; asking again later");
					break;
				},
			}
		}
	}
}

/// Most bytes of manifests in one answer.
const MANIFEST_PAGE_BYTES: usize = 16 << 20;

/// Answers the active meta nodes' questions about what this node holds
/// ([`HOLDER_PROTOCOL`]): pages of its file manifests, for `stratos-meta rebuild-index`.
pub async fn serve_holder(host: Host, store: Arc<Store>, gate: Arc<ChainGate>) -> Result<()> {
	let mut rx = host.serve(HOLDER_PROTOCOL, 16)?;
	while let Some(req) = rx.recv().await {
		let from_meta = req.peer.is_some_and(|p| sds_net::Gate::is_meta(gate.as_ref(), &p));
		let answer = match meta_api::decode::<HolderRequest>(&req.body) {
			Err(e) => HolderResponse::Error(e),
			Ok(_) if !from_meta => {
				HolderResponse::Error("only an active meta node may ask for manifests".into())
			},
			Ok(HolderRequest::Manifests { after, limit }) => {
				let limit = (limit as usize).clamp(1, 4096);
				match tokio::task::block_in_place(|| store.manifests(after, limit)) {
					Err(e) => HolderResponse::Error(e.to_string()),
					Ok(mut page) => {
						// Keep the answer within the transport's message limit.
						let mut bytes = 0usize;
						let keep = page
							.iter()
							.take_while(|m| {
								bytes += codec::Encode::encoded_size(*m);
								bytes <= MANIFEST_PAGE_BYTES
							})
							.count()
							.max(1);
						page.truncate(keep);
						HolderResponse::Manifests(page)
					},
				}
			},
		};
		req.respond(meta_api::encode(answer));
	}
	Ok(())
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
