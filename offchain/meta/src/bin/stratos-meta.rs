//! `stratos-meta`: a Stratos meta node (ADR 0011).

use clap::Parser;
use stratos_meta::node::{
	admission,
	config::{Action, Cli, Config},
	rebuild::rebuild_index,
	run,
};

fn main() -> std::process::ExitCode {
	let cli = Cli::parse();
	let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
		// openraft narrates every vote and heartbeat at info.
		tracing_subscriber::EnvFilter::new(
			cli.log.clone().unwrap_or_else(|| "info,openraft=warn".into()),
		)
	});
	// Logs on stderr; stdout carries the lines scripts read (addresses, results).
	tracing_subscriber::fmt()
		.with_env_filter(filter)
		.with_target(false)
		.with_writer(std::io::stderr)
		.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
		.init();
	let action = match Config::resolve(cli) {
		Ok(Action::PrintNodeId(id)) => {
			println!("{id}");
			return std::process::ExitCode::SUCCESS;
		},
		Ok(a) => a,
		Err(e) => {
			eprintln!("error: {e:#}");
			return std::process::ExitCode::FAILURE;
		},
	};
	let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
		Ok(rt) => rt,
		Err(e) => {
			eprintln!("error: cannot start the async runtime: {e}");
			return std::process::ExitCode::FAILURE;
		},
	};
	let result = rt.block_on(async move {
		match action {
			Action::Run(config) => run(*config).await,
			Action::RebuildIndex { chain, node_key } => rebuild_index(&chain, node_key).await,
			Action::Register { chain, node_key, account, registration } => {
				admission::register(&chain, node_key, account, registration).await
			},
			Action::Endorse { chain, account, candidate } => {
				admission::endorse(&chain, account, candidate).await
			},
			Action::PrintNodeId(_) => Ok(()),
		}
	});
	match result {
		Ok(()) => std::process::ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("error: {e:#}");
			std::process::ExitCode::FAILURE
		},
	}
}
