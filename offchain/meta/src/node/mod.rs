//! The `stratos-meta` process around the cores: configuration, the libp2p transport for
//! Raft and the meta API, the chain follower and the vote loop.

pub mod admission;
pub mod config;
pub mod follow;
pub mod net;
pub mod rebuild;
pub mod repair;
pub mod report;
pub mod service;

use crate::raft::{
	open_db, raft_id, ElectionDriver, FinalizedBlock, LogStore, Replica, StateMachine, Timing,
};
use anyhow::{Context, Result};
use sds_net::{Host, HostConfig};
use service::{ChainFacts, MetaService};
use stratos_chain_client::ChainClient;
use subxt::utils::AccountId32;
use tokio::sync::{mpsc, watch};

/// Chain reads for the leader, from the finalized chain.
pub struct LiveChain(pub ChainClient);

impl ChainFacts for LiveChain {
	async fn balance_covers(&self, owner: [u8; 32], size: u64) -> Result<bool, String> {
		let (_, hash) = self.0.finalized_head().await.map_err(|e| e.to_string())?;
		let free =
			self.0.free_balance_at(hash, &AccountId32(owner)).await.map_err(|e| e.to_string())?;
		let fee = self.0.storage_fee_per_period(size).await.map_err(|e| e.to_string())?;
		Ok(free >= fee)
	}

	async fn reservation(&self, client: [u8; 32]) -> Result<(u128, u32), String> {
		let (_, hash) = self.0.finalized_head().await.map_err(|e| e.to_string())?;
		self.0.reservation_at(hash, &AccountId32(client)).await.map_err(|e| e.to_string())
	}

	async fn file_record(
		&self,
		owner: [u8; 32],
		file_id: stratos_primitives::FileId,
	) -> Result<Option<service::FileOnChain>, String> {
		let f = self.0.file(&AccountId32(owner), &file_id).await.map_err(|e| e.to_string())?;
		Ok(f.map(|f| service::FileOnChain {
			size: f.size,
			slices: f.slices,
			holders: f.holders.into_iter().map(|a| a.0).collect(),
		}))
	}
}

/// Runs a meta node until it is stopped or fails.
pub async fn run(cfg: config::Config) -> Result<()> {
	let chain = ChainClient::connect(&cfg.chain)
		.await
		.with_context(|| format!("cannot connect to the chain at {}", cfg.chain))?;
	let genesis = chain.genesis_hash();
	std::fs::create_dir_all(&cfg.data_dir)
		.with_context(|| format!("cannot create {}", cfg.data_dir.display()))?;
	let host = Host::start(HostConfig {
		keypair: cfg.node_key.clone(),
		listen: cfg.listen.clone(),
		store: None,
		genesis_hash: genesis,
		max_concurrent_streams: 1024,
		gate: None,
		limits: Default::default(),
	})
	.await
	.context("cannot start the network")?;
	let me = host.node_id();
	let id = raft_id(&me);
	let db = open_db(&cfg.data_dir.join("raft"))?;
	let sm = StateMachine::open(db.clone(), genesis)?;
	let replica = Replica::start(
		id,
		Timing::default(),
		net::P2pNet { host: host.clone() },
		LogStore::new(db),
		sm,
	)
	.await?;
	tracing::info!(node_id = %me, raft_id = id, "meta node started");
	for a in host.listen_addrs() {
		tracing::info!("listening on {a}/p2p/{}", host.peer_id());
		println!("STRATOS_META_ADDR {a}/p2p/{}", host.peer_id());
	}

	// Serve Raft and the API before anything asks: peers start at the same time.
	let service = MetaService::new(replica.clone(), host.clone(), LiveChain(chain.clone()));
	let reports = service.reports.clone();
	let serve = tokio::spawn(service.run(4096));

	// Bootstrap: the cluster is the chain's active meta set; the lowest raft id initialises it
	// (a no-op once it exists).
	let (number, hash) = chain.finalized_head().await?;
	let view = follow::chain_view(&chain, number, hash).await?;
	if !view.meta_nodes.iter().any(|n| n.id == me) {
		tracing::warn!("this node key is not an active meta node on chain; observing only");
	}
	let members: std::collections::BTreeMap<u64, openraft::BasicNode> =
		view.meta_nodes.iter().map(|n| (raft_id(&n.id), net::member(&n.id, &n.address))).collect();
	if members.keys().next() == Some(&id) {
		replica.initialize(members).await?;
	}

	let (blocks_tx, blocks_rx) = watch::channel(FinalizedBlock { number, hash });
	tokio::spawn(follow::settle_loop(
		chain.clone(),
		replica.clone(),
		cfg.account.clone(),
		blocks_rx.clone(),
	));
	tokio::spawn(follow::reachability_loop(
		chain.clone(),
		replica.clone(),
		cfg.account.clone(),
		blocks_rx.clone(),
	));
	tokio::spawn(report::report_loop(
		chain.clone(),
		replica.clone(),
		cfg.account.clone(),
		cfg.node_key.clone(),
		reports,
		blocks_rx.clone(),
	));
	tokio::spawn(ElectionDriver::new(replica.clone(), cfg.account_pair.clone(), blocks_rx).run());
	let (del_tx, mut del_rx) = mpsc::unbounded_channel::<follow::DeleteOrders>();
	let (vote_tx, vote_rx) = mpsc::unbounded_channel::<()>();
	tokio::spawn(follow::vote_loop(chain.clone(), replica.clone(), cfg.account.clone(), vote_rx));
	let (del_host, del_replica) = (host.clone(), replica.clone());
	tokio::spawn(async move {
		while let Some(orders) = del_rx.recv().await {
			for (node, slices) in orders {
				let addrs = del_replica.sm.read(|idx, _| service::addresses(idx, &[node]));
				let hop = sds_core::wire::Hop {
					node,
					addrs: addrs.into_iter().next().unwrap_or_default(),
				};
				match del_host.delete_slices(&hop, slices.clone()).await {
					Ok(n) => {
						tracing::info!(%node, ordered = slices.len(), deleted = n, "holder dropped slices")
					},
					Err(e) => tracing::warn!(%node, error = %e, "delete order not delivered"),
				}
			}
		}
	});
	let (orders_tx, orders_rx) = mpsc::unbounded_channel();
	tokio::spawn(repair::dispatch_loop(host.clone(), replica.clone(), orders_rx));
	let rounds = follow::RepairRounds { budget: cfg.repair_budget, issuer: me, orders: orders_tx };
	let follower =
		tokio::spawn(follow::follow(chain, replica.clone(), blocks_tx, del_tx, vote_tx, rounds));
	if let Some(addr) = cfg.metrics {
		metrics(addr, replica.clone())?;
	}
	tokio::select! {
		_ = shutdown_signal() => tracing::info!("shutting down"),
		r = follower => match r {
			Ok(Err(e)) => return Err(e),
			Ok(Ok(())) => {},
			Err(e) => anyhow::bail!("chain follower crashed: {e}"),
		},
		r = serve => if let Ok(Err(e)) = r { anyhow::bail!("meta API stopped: {e}") },
	}
	replica.shutdown().await;
	host.shutdown();
	Ok(())
}

async fn shutdown_signal() {
	use tokio::signal::unix::{signal, SignalKind};
	let mut term = signal(SignalKind::terminate()).expect("signal handler");
	tokio::select! {
		_ = tokio::signal::ctrl_c() => {},
		_ = term.recv() => {},
	}
}

fn metrics(addr: std::net::SocketAddr, replica: Replica) -> Result<()> {
	use substrate_prometheus_endpoint::{register, Gauge, Registry, U64};
	let registry = Registry::new_custom(Some("stratos_meta".into()), None)?;
	type F = fn(&Replica) -> u64;
	let defs: [(&str, &str, F); 8] = [
		("term", "Raft term", |r| r.raft.metrics().borrow().current_term),
		("is_leader", "1 when this node leads", |r| {
			u64::from(r.state() == openraft::ServerState::Leader)
		}),
		("applied_index", "Last applied log index", |r| r.applied()),
		("files", "Files in the index", |r| r.sm.read(|i, _| i.state().files.len() as u64)),
		("paths", "Paths in the index", |r| r.sm.read(|i, _| i.state().paths.len() as u64)),
		("pending_uploads", "Placements not completed yet", |r| {
			r.sm.read(|i, _| i.state().uploads.len() as u64)
		}),
		("healthy_resource_nodes", "Resource nodes heard from recently", |r| {
			r.sm.read(|i, _| i.candidates().len() as u64)
		}),
		("finalized_block", "Finalized block the index follows", |r| {
			r.sm.read(|i, _| i.state().chain.number as u64)
		}),
	];
	let mut gauges = Vec::new();
	for (name, help, f) in defs {
		gauges.push((register(Gauge::<U64>::new(name, help)?, &registry)?, f));
	}
	// The traffic audit, per period kept in the books (the replicated state: every meta node
	// shows the same figures).
	use substrate_prometheus_endpoint::{GaugeVec, Opts};
	let audit = |name: &str, help: &str, labels: &[&str]| {
		GaugeVec::<U64>::new(Opts::new(name, help), labels)
			.map_err(anyhow::Error::from)
			.and_then(|g| register(g, &registry).map_err(anyhow::Error::from))
	};
	let bytes = audit("audit_bytes", "Bytes counted by the traffic audit", &["period"])?;
	let receipts = audit("audit_receipts", "Receipts counted by the traffic audit", &["period"])?;
	let refused = audit(
		"audit_refused",
		"Receipts the audit refused, by period, sending party and reason",
		&["period", "party", "reason"],
	)?;
	let closed = register(
		Gauge::<U64>::new("audit_closed_below", "Periods below this are cut off")?,
		&registry,
	)?;
	let silent = audit(
		"node_silent_seconds",
		"Seconds since each resource node's last heartbeat (leader's clock); no sample for a node never heard from",
		&["node"],
	)?;
	let uptime = audit("node_uptime_permille", "Heartbeats on time, thousandths", &["node"])?;
	let errors = audit("node_errors", "Errors counted against each resource node", &["node"])?;
	let repairs = audit("repair", "Repair: copies in_flight, ordered, copied, abandoned; files rehomed, deferred (last round), alerts (last round), damaged (holders that lost slices of it, per file)", &["what"])?;
	tokio::spawn(async move {
		loop {
			for (g, f) in &gauges {
				g.set(f(&replica));
			}
			replica.sm.read(|idx, _| {
				let books = &idx.state().books;
				closed.set(books.closed_below as u64);
				// Periods dropped from the books leave the metrics too.
				bytes.reset();
				receipts.reset();
				refused.reset();
				silent.reset();
				uptime.reset();
				errors.reset();
				let s = idx.state();
				for n in &s.chain.resource_nodes {
					let id = n.id.to_string();
					let h = s.health.get(&n.id);
					// A node never heard from has no sample (not "forever").
					if let Some(h) = h {
						let quiet = s.clock_ms.saturating_sub(h.last_seen_ms);
						silent.with_label_values(&[&id]).set(quiet / 1000);
					}
					uptime.with_label_values(&[&id]).set(h.map_or(0, |h| h.uptime_permille as u64));
					errors.with_label_values(&[&id]).set(h.map_or(0, |h| h.recent_errors as u64));
				}
				let r = &s.repairs;
				for (what, n) in [
					("in_flight", r.in_flight() as u64),
					("ordered", r.stats.ordered),
					("copied", r.stats.copied),
					("abandoned", r.stats.abandoned),
					("rehomed", r.stats.rehomed),
					("deferred", r.stats.deferred as u64),
					("alerts", r.stats.alerts as u64),
					("damaged", r.damaged.len() as u64),
				] {
					repairs.with_label_values(&[what]).set(n);
				}
				for (p, b) in &books.periods {
					let p = p.to_string();
					bytes.with_label_values(&[&p]).set(b.stats.bytes as u64);
					receipts.with_label_values(&[&p]).set(b.stats.counted);
					for ((party, why), n) in &b.stats.refused {
						let party =
							if *party == crate::audit::Party::Node { "node" } else { "client" };
						refused.with_label_values(&[&p, party, why.label()]).set(*n);
					}
				}
			});
			tokio::time::sleep(std::time::Duration::from_secs(1)).await;
		}
	});
	tokio::spawn(async move {
		if let Err(e) = substrate_prometheus_endpoint::init_prometheus(addr, registry).await {
			tracing::error!(%addr, error = %e, "metrics endpoint failed");
		}
	});
	tracing::info!("metrics on http://{addr}/metrics");
	Ok(())
}
