//! `stratos-rn`: a Stratos resource node.
//!
//! Stores slices in its data directory (`sds-store`), serves puts, gets and has-queries on
//! libp2p (`sds-net`), keeps the countersigned receipt of every slice it serves, and
//! exposes Prometheus metrics. Its node key (ed25519) is its libp2p identity and, later,
//! the key registered on chain.

mod chain;
mod config;

use anyhow::{Context, Result};
use clap::Parser;
use config::{Cli, Config};
use sds_net::{Host, HostConfig};
use sds_store::Store;
use std::sync::Arc;
use substrate_prometheus_endpoint::{register, Gauge, Registry, U64};

fn main() -> std::process::ExitCode {
	sds_net::keep_freed_memory();
	let cli = Cli::parse();
	let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
		tracing_subscriber::EnvFilter::new(cli.log.clone().unwrap_or_else(|| "info".into()))
	});
	// Logs on stderr; stdout carries the lines scripts read (addresses, results).
	tracing_subscriber::fmt()
		.with_env_filter(filter)
		.with_target(false)
		.with_writer(std::io::stderr)
		.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
		.init();
	let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
		Ok(rt) => rt,
		Err(e) => {
			eprintln!("error: cannot start the async runtime: {e}");
			return std::process::ExitCode::FAILURE;
		},
	};
	match rt.block_on(run(cli)) {
		Ok(()) => std::process::ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("error: {e:#}");
			std::process::ExitCode::FAILURE
		},
	}
}

async fn run(cli: Cli) -> Result<()> {
	let mut config = Config::resolve(cli)?;
	let key = match &config.node_key_suri {
		Some(suri) => config::key_from_suri(suri)?,
		None => config::load_or_create_key(&config.key_file)?,
	};
	if config.print_node_id {
		println!("{}", sds_net::node_id(&key));
		return Ok(());
	}
	let chain = match &config.chain {
		None => None,
		Some(url) => Some(
			stratos_chain_client::ChainClient::connect(url)
				.await
				.with_context(|| format!("cannot connect to the chain at {url}"))?,
		),
	};
	if let Some(config::Command::Register { account_file, deposit, address }) =
		config.command.take()
	{
		let chain = chain.ok_or_else(|| anyhow::anyhow!("register needs --chain"))?;
		let operator = stratos_chain_client::account_from_file(&account_file)?;
		let address = match address {
			Some(a) => a,
			None => config
				.listen
				.first()
				.map(|a| a.to_string())
				.ok_or_else(|| anyhow::anyhow!("no address: pass --address or --listen"))?,
		};
		let reg = stratos_chain_client::Registration {
			address,
			capacity: config.capacity,
			region: config.region.clone(),
			deposit,
		};
		let msg = chain::register(&chain, &operator, &config::ed25519_pair(&key)?, reg).await?;
		println!("{msg}");
		return Ok(());
	}
	if let Some(c) = &chain {
		config.genesis_hash = c.genesis_hash();
	}
	std::fs::create_dir_all(&config.data_dir).with_context(|| {
		format!("cannot create the data directory {}", config.data_dir.display())
	})?;
	let store =
		Arc::new(Store::open(config.data_dir.join("store"), config.capacity).with_context(
			|| format!("cannot open the slice store in {}", config.data_dir.display()),
		)?);
	let gate = match &chain {
		None => None,
		Some(c) => {
			let g = Arc::new(chain::ChainGate::default());
			let (number, hash) = c.finalized_head().await?;
			g.refresh(c, number, hash).await?;
			Some(g)
		},
	};
	let host = Host::start(HostConfig {
		keypair: key,
		listen: config.listen.clone(),
		store: Some(store.clone()),
		genesis_hash: config.genesis_hash,
		max_concurrent_streams: config.max_streams,
		gate: gate.clone().map(|g| g as Arc<dyn sds_net::Gate>),
		limits: Default::default(),
	})
	.await
	.context("cannot start the network")?;
	if let (Some(c), Some(g)) = (chain, gate) {
		tokio::spawn(chain::heartbeats(host.clone(), store.clone(), g.clone(), config.max_streams));
		tokio::spawn(chain::receipts(host.clone(), store.clone(), g.clone()));
		tokio::spawn(chain::lost_slices(host.clone(), store.clone(), g.clone()));
		tokio::spawn(chain::uploads(
			host.clone(),
			store.clone(),
			g.clone(),
			config.upload_ttl_blocks,
		));
		let (h, st, gg) = (host.clone(), store.clone(), g.clone());
		tokio::spawn(async move {
			if let Err(e) = chain::serve_holder(h, st, gg).await {
				tracing::error!(error = %e, "holder protocol stopped");
			}
		});
		tokio::spawn(async move {
			if let Err(e) = chain::follow(c, g).await {
				tracing::error!(error = %e, "chain follower stopped");
			}
		});
	}
	if config.scrub_rate > 0 {
		tokio::spawn(scrub(store.clone(), config.scrub_rate, config.scrub_every));
	}
	let stats = store.stats();
	tracing::info!(
		node_id = %host.node_id(),
		peer_id = %host.peer_id(),
		region = %config.region,
		data_dir = %config.data_dir.display(),
		capacity = config.capacity,
		slices = stats.slices,
		used = stats.used,
		"resource node started"
	);
	for a in host.listen_addrs() {
		tracing::info!("listening on {a}/p2p/{}", host.peer_id());
	}
	// A machine-readable line for scripts: the address clients pass to `sds --node`.
	if let Some(a) = host.listen_addrs().first() {
		println!("STRATOS_RN_ADDR {a}/p2p/{}", host.peer_id());
	}
	if let Some(addr) = config.metrics {
		let registry = Registry::new_custom(Some("stratos_rn".into()), None)?;
		let m = RnMetrics::register(&registry)?;
		let (host2, store2) = (host.clone(), store.clone());
		tokio::spawn(async move {
			loop {
				m.update(&host2, &store2);
				tokio::time::sleep(std::time::Duration::from_secs(1)).await;
			}
		});
		tokio::spawn(async move {
			if let Err(e) = substrate_prometheus_endpoint::init_prometheus(addr, registry).await {
				tracing::error!(%addr, error = %e, "metrics endpoint failed");
			}
		});
		tracing::info!("metrics on http://{addr}/metrics");
	}
	shutdown_signal().await;
	tracing::info!("shutting down");
	host.shutdown();
	Ok(())
}

/// Re-reads every stored slice against its hashes, at most `rate` bytes per second, a round
/// at most every `every`; a slice that rotted on disk is quarantined (counted in
/// `corrupt_slices_total`, logged), no longer served, and queued for the meta nodes
/// ([`chain::lost_slices`]), which copy its files to another node.
async fn scrub(store: Arc<Store>, rate: u64, every: std::time::Duration) {
	let mut next = None;
	loop {
		let s = store.clone();
		let started = std::time::Instant::now();
		let step = tokio::task::spawn_blocking(move || s.scrub(next, rate)).await;
		let step = match step {
			Ok(Ok(step)) => step,
			Ok(Err(e)) => {
				tracing::error!(error = %e, "scrubber stopped");
				return;
			},
			Err(e) => {
				tracing::error!(error = %e, "scrubber panicked");
				return;
			},
		};
		for slice in &step.corrupt {
			tracing::error!(%slice, "scrubber found a corrupt slice; quarantined");
		}
		// Sleep what the bytes read were worth at `rate`, and a pause between rounds.
		let worth = std::time::Duration::from_secs_f64(step.bytes as f64 / rate as f64);
		let mut pause =
			worth.saturating_sub(started.elapsed()).max(std::time::Duration::from_millis(100));
		next = step.next;
		if next.is_none() {
			pause = pause.max(every);
		}
		tokio::time::sleep(pause).await;
	}
}

async fn shutdown_signal() {
	use tokio::signal::unix::{signal, SignalKind};
	let mut term = signal(SignalKind::terminate()).expect("signal handler");
	tokio::select! {
		_ = tokio::signal::ctrl_c() => {},
		_ = term.recv() => {},
	}
}

struct RnMetrics {
	gauges: Vec<(Gauge<U64>, fn(&sds_net::MetricsSnapshot, &sds_store::Stats) -> u64)>,
}

impl RnMetrics {
	fn register(r: &Registry) -> Result<Self> {
		type F = fn(&sds_net::MetricsSnapshot, &sds_store::Stats) -> u64;
		let defs: [(&str, &str, F); 20] = [
			("slices", "Slices stored", |_, s| s.slices),
			("pending_uploads", "Uploads not confirmed complete by the meta nodes yet", |_, s| {
				s.pending_uploads
			}),
			("used_bytes", "Bytes stored", |_, s| s.used),
			("capacity_bytes", "Declared capacity", |_, s| s.capacity),
			("corrupt_slices_total", "Slices found corrupt and quarantined", |_, s| s.corrupt),
			("bytes_in_total", "Bytes received in puts", |m, _| m.bytes_in),
			("bytes_out_total", "Bytes sent in gets", |m, _| m.bytes_out),
			("slices_stored_total", "Slices stored by puts", |m, _| m.slices_stored),
			("gets_served_total", "Gets served to the end", |m, _| m.gets_served),
			("errors_total", "Requests that failed", |m, _| m.errors),
			("protocol_errors_total", "Peers dropped for breaking the protocol", |m, _| {
				m.protocol_errors
			}),
			("receipts_total", "Countersigned receipts stored", |m, _| m.receipts),
			("slices_copied_total", "Slices copied out on repair orders", |m, _| m.slices_copied),
			("scrubbed_bytes_total", "Bytes the scrubber re-read and verified", |_, s| s.scrubbed),
			("refused_unpaid_total", "Gets refused: the peer owes a countersignature", |m, _| {
				m.refused_unpaid
			}),
			(
				"refused_unauthorized_total",
				"Requests refused for a missing or bad authorisation",
				|m, _| m.refused_unauthorized,
			),
			("refused_peer_limit_total", "Streams and puts refused at a peer's cap", |m, _| {
				m.refused_peer_limit
			}),
			(
				"timed_out_total",
				"Exchanges closed at their first-frame or transfer deadline",
				|m, _| m.timed_out,
			),
			("receipts_settled_total", "Late countersignatures accepted", |m, _| {
				m.receipts_settled
			}),
			("connections", "Connections open, both directions", |m, _| m.connections),
		];
		let mut gauges = Vec::new();
		for (name, help, f) in defs {
			gauges.push((register(Gauge::new(name, help)?, r)?, f));
		}
		Ok(Self { gauges })
	}

	fn update(&self, host: &Host, store: &Store) {
		let (m, s) = (host.metrics().snapshot(), store.stats());
		for (g, f) in &self.gauges {
			g.set(f(&m, &s));
		}
	}
}
