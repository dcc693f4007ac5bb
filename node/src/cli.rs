//! Command-line interface: Substrate's standard node flags and subcommands.

/// The `stratos-node` command line.
#[derive(Debug, clap::Parser)]
#[command(
	name = "stratos-node",
	about = "Stratos chain node: Aura + GRANDPA, RocksDB, the standard JSON-RPC",
	propagate_version = true,
	args_conflicts_with_subcommands = true,
	subcommand_negates_reqs = true
)]
pub struct Cli {
	/// A subcommand; without one the node runs.
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	/// Flags of a running node (`--dev`, `--chain`, `--validator`, `--rpc-port`, ...).
	#[clap(flatten)]
	pub run: sc_cli::RunCmd,

	/// GRANDPA timing: how fast a transaction's block becomes final.
	#[clap(flatten)]
	pub finality: FinalityParams,
}

/// GRANDPA's timing knobs (`docs/performance.md` measures what each costs).
#[derive(Debug, Clone, clap::Args)]
pub struct FinalityParams {
	/// How long a GRANDPA vote gossips before the next voting step, in milliseconds. A round
	/// waits 2× this before prevoting and 4× before precommitting unless a supermajority's
	/// votes arrive first; lower values finalize sooner and send more gossip.
	#[arg(long, value_name = "MS", default_value_t = 200, value_parser = clap::value_parser!(u64).range(50..=5_000))]
	pub grandpa_gossip_ms: u64,

	/// Vote this many blocks behind the best block (Substrate's default is 2). Voting on the
	/// best block itself finalizes a block as soon as it is imported; the lag only avoids
	/// votes on a block that a competing fork might replace, which Aura's one author per
	/// slot makes rare.
	#[arg(long, value_name = "BLOCKS", default_value_t = 0)]
	pub grandpa_vote_behind_best: u32,
}

/// Subcommands of `stratos-node`.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management: generate, inspect, insert keys into the keystore, node keys.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Build a chain specification (older form of `export-chain-spec`).
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Export the chain specification (`--chain dev|local|testnet|<path>`, `--raw`).
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Runtime benchmarks (build with `--features runtime-benchmarks`).
	#[cfg(feature = "runtime-benchmarks")]
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),

	/// Db meta columns information.
	ChainInfo(sc_cli::ChainInfoCmd),
}
