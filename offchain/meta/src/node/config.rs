//! Configuration of `stratos-meta`: a TOML file and flags, flags win (the same conventions
//! as `stratos-rn`).

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use sds_net::{Keypair, Multiaddr};
use serde::Deserialize;
use sp_core::Pair;
use std::{net::SocketAddr, path::PathBuf};

/// Command line of `stratos-meta`.
#[derive(Parser, Debug, Default)]
#[command(
	name = "stratos-meta",
	version,
	about = "Stratos meta node: replicated index, routing, tickets"
)]
pub struct Cli {
	/// TOML config file; flags override its values.
	#[arg(long, short = 'c')]
	pub config: Option<PathBuf>,
	/// Chain node JSON-RPC (WebSocket), e.g. ws://127.0.0.1:9944.
	#[arg(long)]
	pub chain: Option<String>,
	/// Address to listen on (repeatable), e.g. /ip4/0.0.0.0/tcp/7500.
	#[arg(long)]
	pub listen: Vec<String>,
	/// Data directory (the replicated log and snapshots; the node key by default).
	#[arg(long, short = 'd')]
	pub data_dir: Option<PathBuf>,
	/// Node key file (ed25519, hex secret; created when missing). Default: <data-dir>/node-key.
	#[arg(long)]
	pub key_file: Option<PathBuf>,
	/// File holding the meta node's account secret URI (sr25519: it votes on chain and
	/// evaluates the election VRF), e.g. a line `//Alice` on a dev chain.
	#[arg(long)]
	pub account_file: Option<PathBuf>,
	/// Prometheus endpoint, e.g. 127.0.0.1:9700 (off unless set).
	#[arg(long)]
	pub metrics: Option<SocketAddr>,
	/// Most MiB of repair copies under way at once, network-wide, when this node leads
	/// (bounds the bandwidth repair takes from users). Default 2048.
	#[arg(long)]
	pub repair_budget_mib: Option<u64>,
	/// Log filter, e.g. info or debug (RUST_LOG wins).
	#[arg(long)]
	pub log: Option<String>,
	/// Print the node id (creating the key if needed) and exit.
	#[arg(long)]
	pub print_node_id: bool,
	/// Derive the node key from this secret URI instead of the key file (the well-known dev
	/// keys, e.g. //Alice; never on a public chain).
	#[arg(long)]
	pub node_key_suri: Option<String>,
	/// Something other than running the node.
	#[command(subcommand)]
	pub command: Option<MetaCommand>,
}

/// Subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum MetaCommand {
	/// Rebuild the cluster's index after every meta node lost its disk: from the chain's file
	/// records and the manifests the holders keep. Start the meta nodes first (they re-form
	/// from the chain with empty logs), then run this with one active meta node's key.
	RebuildIndex,
	/// Register this meta node on chain with the account of --account-file (which holds the
	/// deposit), then exit. The node waits, pending, for endorsement by 2/3 of the active
	/// meta nodes (`stratos-meta endorse`) and for governance's `approveMeta`.
	Register {
		/// Deposit to hold, in plancks (at least the chain's required meta deposit).
		#[arg(long)]
		deposit: u128,
		/// Address announced on chain (default: the first --listen address; it must be one
		/// the other nodes can reach, not 0.0.0.0).
		#[arg(long)]
		address: Option<String>,
		/// Region announced on chain.
		#[arg(long, default_value = "")]
		region: String,
	},
	/// Endorse a pending meta node, signed with this (active) meta node's account of
	/// --account-file, then exit.
	Endorse {
		/// The candidate's account (SS58).
		candidate: String,
	},
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
	chain: Option<String>,
	listen: Option<Vec<String>>,
	data_dir: Option<PathBuf>,
	key_file: Option<PathBuf>,
	account_file: Option<PathBuf>,
	metrics: Option<SocketAddr>,
	repair_budget_mib: Option<u64>,
}

/// The resolved configuration.
pub struct Config {
	/// Chain RPC.
	pub chain: String,
	/// Listen addresses.
	pub listen: Vec<Multiaddr>,
	/// Data directory.
	pub data_dir: PathBuf,
	/// The node key.
	pub node_key: Keypair,
	/// The account (for extrinsics).
	pub account: subxt_signer::sr25519::Keypair,
	/// The same account as an `sp_core` pair (for the VRF).
	pub account_pair: sp_core::sr25519::Pair,
	/// Metrics endpoint.
	pub metrics: Option<SocketAddr>,
	/// Most bytes of repair copies under way at once.
	pub repair_budget: u64,
}

/// What the command line asks for.
pub enum Action {
	/// Run the node.
	Run(Box<Config>),
	/// Print the node id.
	PrintNodeId(String),
	/// Rebuild the index of the cluster on this chain with this (meta) node key.
	RebuildIndex {
		/// Chain RPC.
		chain: String,
		/// The node key.
		node_key: Keypair,
	},
	/// Register this node on chain.
	Register {
		/// Chain RPC.
		chain: String,
		/// The node key (its public key is the registered node id).
		node_key: Keypair,
		/// The operator account.
		account: subxt_signer::sr25519::Keypair,
		/// What to register.
		registration: stratos_chain_client::Registration,
	},
	/// Endorse a pending meta node.
	Endorse {
		/// Chain RPC.
		chain: String,
		/// This meta node's account.
		account: subxt_signer::sr25519::Keypair,
		/// The candidate.
		candidate: subxt::utils::AccountId32,
	},
}

impl Config {
	/// Resolves flags and file.
	pub fn resolve(cli: Cli) -> Result<Action> {
		let file = match &cli.config {
			None => FileConfig::default(),
			Some(p) => {
				let text = std::fs::read_to_string(p)
					.with_context(|| format!("cannot read config file {}", p.display()))?;
				toml::from_str(&text)
					.with_context(|| format!("invalid config file {}", p.display()))?
			},
		};
		let data_dir = cli.data_dir.or(file.data_dir).ok_or_else(|| {
			anyhow!("no data directory: pass --data-dir or set data-dir in the config file")
		})?;
		let key_file = cli.key_file.or(file.key_file).unwrap_or_else(|| data_dir.join("node-key"));
		let node_key = match &cli.node_key_suri {
			Some(suri) => key_from_suri(suri)?,
			None => load_or_create_key(&key_file)?,
		};
		if cli.print_node_id {
			return Ok(Action::PrintNodeId(sds_net::node_id(&node_key).to_string()));
		}
		let chain = cli.chain.or(file.chain).unwrap_or_else(|| "ws://127.0.0.1:9944".into());
		if let Some(MetaCommand::RebuildIndex) = cli.command {
			return Ok(Action::RebuildIndex { chain, node_key });
		}
		let listen = if !cli.listen.is_empty() {
			cli.listen
		} else {
			file.listen.unwrap_or_else(|| vec!["/ip4/0.0.0.0/tcp/7500".into()])
		};
		let listen = listen
			.iter()
			.map(|a| {
				a.parse::<Multiaddr>().map_err(|e| anyhow!("invalid listen address {a:?}: {e}"))
			})
			.collect::<Result<Vec<_>>>()?;
		let account_file = cli.account_file.or(file.account_file).ok_or_else(|| {
			anyhow!("no account: pass --account-file with the meta node's secret URI")
		})?;
		let account = || -> Result<subxt_signer::sr25519::Keypair> {
			Ok(stratos_chain_client::account_from_file(&account_file)?)
		};
		match cli.command {
			Some(MetaCommand::Register { deposit, address, region }) => {
				let address = match address {
					Some(a) => a,
					None => listen
						.first()
						.map(|a| a.to_string())
						.ok_or_else(|| anyhow!("no address: pass --address or --listen"))?,
				};
				let parsed: Multiaddr =
					address.parse().map_err(|e| anyhow!("invalid address {address:?}: {e}"))?;
				use sds_net::libp2p_multiaddr::Protocol;
				if parsed.iter().any(|p| match p {
					Protocol::Ip4(ip) => ip.is_unspecified(),
					Protocol::Ip6(ip) => ip.is_unspecified(),
					_ => false,
				}) {
					bail!(
						"{address} is not an address other nodes can reach: pass --address with \
						 this host's public address"
					);
				}
				return Ok(Action::Register {
					chain,
					node_key,
					account: account()?,
					registration: stratos_chain_client::Registration {
						address,
						capacity: 0,
						region,
						deposit,
					},
				});
			},
			Some(MetaCommand::Endorse { candidate }) => {
				let candidate = candidate
					.parse()
					.map_err(|e| anyhow!("invalid candidate account {candidate:?}: {e}"))?;
				return Ok(Action::Endorse { chain, account: account()?, candidate });
			},
			_ => {},
		}
		let account = account()?;
		// The same key as `sp_core` pair, for the signatures the meta node makes off chain.
		let suri = std::fs::read_to_string(&account_file)
			.with_context(|| format!("cannot read account file {}", account_file.display()))?;
		let account_pair = sp_core::sr25519::Pair::from_string(suri.trim(), None).map_err(|e| {
			anyhow!(
				"account file {} does not hold a valid secret URI: {e:?}",
				account_file.display()
			)
		})?;
		Ok(Action::Run(Box::new(Config {
			chain,
			listen,
			data_dir,
			node_key,
			account,
			account_pair,
			metrics: cli.metrics.or(file.metrics),
			repair_budget: match cli.repair_budget_mib.or(file.repair_budget_mib) {
				Some(0) => bail!("--repair-budget-mib must be at least 1"),
				Some(mib) => mib.saturating_mul(1 << 20),
				None => crate::repair::DEFAULT_BUDGET,
			},
		})))
	}
}

pub use sds_net::keys::{key_from_suri, load_or_create_key};
