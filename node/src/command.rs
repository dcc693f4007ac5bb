//! Dispatch of the command line: run the node or a subcommand.

use crate::{
	chain_spec,
	cli::{Cli, Subcommand},
	service,
};
use sc_cli::SubstrateCli;
use sc_service::PartialComponents;
use stratos_runtime::opaque::Block;

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"Stratos Node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		"https://example.invalid/stratos/issues".into()
	}

	fn copyright_start_year() -> i32 {
		2026
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		Ok(match id {
			"dev" => Box::new(chain_spec::development_chain_spec()?),
			"dev-network" => Box::new(chain_spec::dev_network_chain_spec()?),
			"" | "local" => Box::new(chain_spec::local_chain_spec()?),
			"testnet" => Box::new(chain_spec::testnet_chain_spec()?),
			"testnet-from-preset" => Box::new(chain_spec::testnet_preset_chain_spec()?),
			path => Box::new(chain_spec::from_file(path)?),
		})
	}
}

/// The single-state transaction pool unless the command line (`args`) chose one with
/// `--pool-type` (ADR 0020): the fork-aware one, Substrate's default, stopped including
/// transfers it had accepted under a sustained load here.
fn single_state_pool_unless_chosen(cli: &mut Cli, mut args: impl Iterator<Item = String>) {
	if !args.any(|a| a == "--pool-type" || a.starts_with("--pool-type=")) {
		cli.run.pool_config.pool_type = sc_cli::TransactionPoolType::SingleState;
	}
}

/// Parse the command line and run it.
pub fn run() -> sc_cli::Result<()> {
	let mut cli = Cli::from_args();
	single_state_pool_unless_chosen(&mut cli, std::env::args());

	match &cli.subcommand {
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		#[allow(deprecated)]
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		},
		Some(Subcommand::ExportChainSpec(cmd)) => {
			let chain_spec = cli.load_spec(&cmd.chain)?;
			cmd.run(chain_spec)
		},
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		},
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		},
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		},
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, backend, .. } =
					service::new_partial(&config)?;
				let aux_revert = Box::new(|client, _, blocks| {
					sc_consensus_grandpa::revert(client, blocks)?;
					Ok(())
				});
				Ok((cmd.run(client, backend, Some(aux_revert)), task_manager))
			})
		},
		#[cfg(feature = "runtime-benchmarks")]
		Some(Subcommand::Benchmark(cmd)) => {
			use frame_benchmarking_cli::{BenchmarkCmd, SUBSTRATE_REFERENCE_HARDWARE};
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| match cmd {
				BenchmarkCmd::Pallet(cmd) => cmd
					.run_with_spec::<sp_runtime::traits::HashingFor<Block>, ()>(Some(
						config.chain_spec,
					)),
				BenchmarkCmd::Block(cmd) => {
					let PartialComponents { client, .. } = service::new_partial(&config)?;
					cmd.run(client)
				},
				BenchmarkCmd::Storage(cmd) => {
					let PartialComponents { client, backend, .. } = service::new_partial(&config)?;
					let db = backend.expose_db();
					let storage = backend.expose_storage();
					let shared_cache = backend.expose_shared_trie_cache();
					cmd.run(config, client, db, storage, shared_cache)
				},
				BenchmarkCmd::Machine(cmd) => {
					cmd.run(&config, SUBSTRATE_REFERENCE_HARDWARE.clone())
				},
				BenchmarkCmd::Overhead(cmd) => {
					let PartialComponents { client, .. } = service::new_partial(&config)?;
					let remark = crate::benchmarking::RemarkBuilder::new(client.clone());
					cmd.run(
						config.chain_spec.name().into(),
						client,
						crate::benchmarking::inherent_data()?,
						Vec::new(),
						&remark,
						false,
					)
				},
				BenchmarkCmd::Extrinsic(cmd) => {
					use frame_benchmarking_cli::{ExtrinsicBuilder, ExtrinsicFactory};
					let PartialComponents { client, .. } = service::new_partial(&config)?;
					let remark: Box<dyn ExtrinsicBuilder> =
						Box::new(crate::benchmarking::RemarkBuilder::new(client.clone()));
					let transfer: Box<dyn ExtrinsicBuilder> =
						Box::new(crate::benchmarking::TransferKeepAliveBuilder::new(
							client.clone(),
							sp_keyring::Sr25519Keyring::Alice.to_account_id(),
							stratos_runtime::EXISTENTIAL_DEPOSIT,
						));
					let factory = ExtrinsicFactory(vec![remark, transfer]);
					cmd.run(client, crate::benchmarking::inherent_data()?, Vec::new(), &factory)
				},
			})
		},
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<Block>(&config))
		},
		None => {
			let runner = cli.create_runner(&cli.run)?;
			let finality = cli.finality.clone();
			runner.run_node_until_exit(|mut config| async move {
				ensure_ports_free(&mut config)?;
				match config.network.network_backend {
					sc_network::config::NetworkBackendType::Libp2p => service::new_full::<
						sc_network::NetworkWorker<
							Block,
							<Block as sp_runtime::traits::Block>::Hash,
						>,
					>(config, &finality)
					.map_err(sc_cli::Error::Service),
					sc_network::config::NetworkBackendType::Litep2p => {
						service::new_full::<sc_network::Litep2pNetworkBackend>(config, &finality)
							.map_err(sc_cli::Error::Service)
					},
				}
			})
		},
	}
}

/// Fails with a clear message when a port the node must listen on is taken, instead of
/// Substrate's default of silently moving the RPC server to a random port.
fn ensure_ports_free(config: &mut sc_service::Configuration) -> sc_cli::Result<()> {
	use sc_network::multiaddr::Protocol;
	use std::net::{IpAddr, SocketAddr, TcpListener};

	fn check(addr: SocketAddr, what: &str, flag: &str) -> sc_cli::Result<()> {
		if addr.port() == 0 {
			return Ok(());
		}
		match TcpListener::bind(addr) {
			Ok(_) => Ok(()),
			Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(format!(
				"{what} port {} on {} is already in use (another stratos-node?): stop that \
				 process or choose another port with {flag}",
				addr.port(),
				addr.ip()
			)
			.into()),
			Err(e) => Err(format!("cannot listen on {addr} for {what}: {e}").into()),
		}
	}

	if let Some(endpoints) = config.rpc.addr.as_mut() {
		for ep in endpoints.iter_mut().filter(|ep| !ep.is_optional) {
			ep.retry_random_port = false;
			check(ep.listen_addr, "JSON-RPC", "--rpc-port")?;
		}
	}
	if let Some(prometheus) = &config.prometheus_config {
		check(prometheus.port, "Prometheus", "--prometheus-port")?;
	}
	for addr in &config.network.listen_addresses {
		let mut ip = None;
		let mut port = None;
		for proto in addr.iter() {
			match proto {
				Protocol::Ip4(a) => ip = Some(IpAddr::V4(a)),
				Protocol::Ip6(a) => ip = Some(IpAddr::V6(a)),
				Protocol::Tcp(p) => port = Some(p),
				_ => {},
			}
		}
		if let (Some(IpAddr::V4(a)), Some(p)) = (ip, port) {
			check(SocketAddr::new(IpAddr::V4(a), p), "p2p", "--port")?;
		}
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;
	use sc_cli::TransactionPoolType;

	fn pool_type(args: &[&str]) -> TransactionPoolType {
		let mut cli = Cli::from_iter(args.iter());
		single_state_pool_unless_chosen(&mut cli, args.iter().map(|a| a.to_string()));
		cli.run.pool_config.pool_type
	}

	#[test]
	fn the_node_runs_the_single_state_pool_unless_told_otherwise() {
		assert!(matches!(pool_type(&["stratos-node", "--dev"]), TransactionPoolType::SingleState));
		for args in [
			&["stratos-node", "--pool-type", "fork-aware"][..],
			&["stratos-node", "--pool-type=fork-aware"][..],
		] {
			assert!(matches!(pool_type(args), TransactionPoolType::ForkAware), "{args:?}");
		}
		assert!(matches!(
			pool_type(&["stratos-node", "--pool-type", "single-state"]),
			TransactionPoolType::SingleState
		));
	}
}
