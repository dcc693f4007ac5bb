//! Configuration: a TOML file and flags; flags win.

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use sds_net::Multiaddr;
use serde::Deserialize;
use std::{net::SocketAddr, path::PathBuf};

/// Command line of `stratos-rn`.
#[derive(Parser, Debug, Default)]
#[command(name = "stratos-rn", version, about = "Stratos resource node: stores and serves slices")]
pub struct Cli {
	/// TOML config file; flags override its values.
	#[arg(long, short = 'c')]
	pub config: Option<PathBuf>,
	/// Address to listen on (repeatable), e.g. /ip4/0.0.0.0/tcp/7400.
	#[arg(long)]
	pub listen: Vec<String>,
	/// Data directory (slices, index, receipts; the node key by default).
	#[arg(long, short = 'd')]
	pub data_dir: Option<PathBuf>,
	/// Capacity offered, e.g. 500GiB, 2TB, 1048576.
	#[arg(long)]
	pub capacity: Option<String>,
	/// Region label announced to meta nodes.
	#[arg(long)]
	pub region: Option<String>,
	/// Node key file (ed25519, created when missing). Default: <data-dir>/node-key.
	#[arg(long)]
	pub key_file: Option<PathBuf>,
	/// Prometheus endpoint, e.g. 127.0.0.1:9616 (off unless set).
	#[arg(long)]
	pub metrics: Option<SocketAddr>,
	/// Genesis hash (hex) of the chain receipts are for.
	#[arg(long)]
	pub genesis_hash: Option<String>,
	/// Most concurrent requests served.
	#[arg(long)]
	pub max_streams: Option<usize>,
	/// Log filter, e.g. info or debug (RUST_LOG wins).
	#[arg(long)]
	pub log: Option<String>,
	/// Print the node id (creating the key if needed) and exit.
	#[arg(long)]
	pub print_node_id: bool,
	/// Chain node JSON-RPC, e.g. ws://127.0.0.1:9944. With it the node takes the genesis hash
	/// from the chain, serves only puts and gets that meta nodes authorised, and heartbeats to
	/// the meta nodes.
	#[arg(long)]
	pub chain: Option<String>,
	/// Derive the node key from this secret URI instead of the key file (the well-known dev
	/// keys, e.g. //Bob; never on a public chain).
	#[arg(long)]
	pub node_key_suri: Option<String>,
	/// Finalized blocks after an upload authorisation expired before the slices of an upload
	/// the meta nodes never saw completed are dropped (default 1800: an hour of 2 s blocks).
	#[arg(long)]
	pub upload_ttl_blocks: Option<u32>,
	/// MiB per second the scrubber re-reads stored slices at, to find ones that rotted on
	/// disk (default 8; 0 turns it off).
	#[arg(long)]
	pub scrub_rate: Option<u64>,
	/// Seconds from the start of one scrub round (a pass over every slice) to the next
	/// (default 60).
	#[arg(long)]
	pub scrub_every: Option<u64>,
	/// Register this node on chain (or update its address) and exit.
	#[command(subcommand)]
	pub command: Option<Command>,
}

/// Subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
	/// Register the node with the operator's account (given only to this command; the running
	/// node holds no account key), or update its on-chain address when it changed.
	Register {
		/// File holding the operator account's secret URI (sr25519); rewards go there.
		#[arg(long)]
		account_file: PathBuf,
		/// Deposit to hold, in plancks (at least the chain's required deposit).
		#[arg(long)]
		deposit: u128,
		/// Address announced on chain (default: the first --listen address).
		#[arg(long)]
		address: Option<String>,
	},
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
	listen: Option<Vec<String>>,
	data_dir: Option<PathBuf>,
	capacity: Option<String>,
	region: Option<String>,
	key_file: Option<PathBuf>,
	metrics: Option<SocketAddr>,
	genesis_hash: Option<String>,
	max_streams: Option<usize>,
	chain: Option<String>,
	upload_ttl_blocks: Option<u32>,
	scrub_rate: Option<u64>,
	scrub_every: Option<u64>,
}

/// The resolved configuration.
#[derive(Debug)]
pub struct Config {
	pub listen: Vec<Multiaddr>,
	pub data_dir: PathBuf,
	pub capacity: u64,
	pub region: String,
	pub key_file: PathBuf,
	pub metrics: Option<SocketAddr>,
	pub genesis_hash: [u8; 32],
	pub max_streams: usize,
	pub print_node_id: bool,
	pub chain: Option<String>,
	pub node_key_suri: Option<String>,
	pub upload_ttl_blocks: u32,
	/// Scrubber rate in bytes per second (0: off).
	pub scrub_rate: u64,
	/// Least time between scrub rounds.
	pub scrub_every: std::time::Duration,
	pub command: Option<Command>,
}

impl Config {
	pub fn resolve(cli: Cli) -> Result<Self> {
		let file = match &cli.config {
			None => FileConfig::default(),
			Some(p) => {
				let text = std::fs::read_to_string(p)
					.with_context(|| format!("cannot read config file {}", p.display()))?;
				toml::from_str(&text)
					.with_context(|| format!("invalid config file {}", p.display()))?
			},
		};
		let listen = if !cli.listen.is_empty() {
			cli.listen
		} else {
			file.listen.unwrap_or_else(|| vec!["/ip4/0.0.0.0/tcp/7400".into()])
		};
		let listen = listen
			.iter()
			.map(|a| {
				a.parse::<Multiaddr>().map_err(|e| anyhow!("invalid listen address {a:?}: {e}"))
			})
			.collect::<Result<Vec<_>>>()?;
		let data_dir = cli.data_dir.or(file.data_dir).ok_or_else(|| {
			anyhow!("no data directory: pass --data-dir or set data-dir in the config file")
		})?;
		let capacity = cli.capacity.or(file.capacity).unwrap_or_else(|| "100GiB".into());
		let capacity = sds_core::units::parse_size(&capacity).map_err(|e| anyhow!(e))?;
		let key_file = cli.key_file.or(file.key_file).unwrap_or_else(|| data_dir.join("node-key"));
		let genesis_hash = match cli.genesis_hash.or(file.genesis_hash) {
			None => [0; 32],
			Some(h) => {
				let b = hex::decode(h.trim_start_matches("0x"))
					.map_err(|e| anyhow!("invalid genesis hash {h:?}: {e}"))?;
				b.try_into().map_err(|_| anyhow!("genesis hash {h:?} is not 32 bytes"))?
			},
		};
		Ok(Config {
			listen,
			data_dir,
			capacity,
			region: cli.region.or(file.region).unwrap_or_else(|| "unknown".into()),
			key_file,
			metrics: cli.metrics.or(file.metrics),
			genesis_hash,
			max_streams: cli.max_streams.or(file.max_streams).unwrap_or(256),
			print_node_id: cli.print_node_id,
			chain: cli.chain.or(file.chain),
			node_key_suri: cli.node_key_suri,
			upload_ttl_blocks: cli.upload_ttl_blocks.or(file.upload_ttl_blocks).unwrap_or(1800),
			scrub_rate: cli.scrub_rate.or(file.scrub_rate).unwrap_or(8).saturating_mul(1 << 20),
			scrub_every: std::time::Duration::from_secs(
				cli.scrub_every.or(file.scrub_every).unwrap_or(60).max(1),
			),
			command: cli.command,
		})
	}
}

pub use sds_net::keys::{ed25519_pair, key_from_suri, load_or_create_key};

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn flags_override_the_file_and_errors_name_the_problem() {
		let dir = tempfile::tempdir().unwrap();
		let cfg = dir.path().join("rn.toml");
		std::fs::write(&cfg, "data-dir = \"/x\"\ncapacity = \"1GiB\"\nregion = \"eu\"\n").unwrap();
		let c = Config::resolve(Cli {
			config: Some(cfg.clone()),
			capacity: Some("2GiB".into()),
			..Default::default()
		})
		.unwrap();
		assert_eq!(
			(c.capacity, c.region.as_str(), c.data_dir),
			(2 << 30, "eu", PathBuf::from("/x"))
		);
		std::fs::write(&cfg, "data-dir = \"/x\"\ncapacty = \"1GiB\"\n").unwrap();
		let e = Config::resolve(Cli { config: Some(cfg), ..Default::default() }).unwrap_err();
		assert!(format!("{e:#}").contains("unknown field `capacty`"), "{e:#}");
		let e = Config::resolve(Cli::default()).unwrap_err();
		assert!(e.to_string().contains("no data directory"));
	}
}
