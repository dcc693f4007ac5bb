//! `sds`: store and fetch files on Stratos.
//!
//! By default it works through the network (ADR 0011): it finds the meta nodes on the chain
//! (`--chain`), signs its requests with your account (`--account` / `SDS_ACCOUNT`), and the
//! meta nodes place uploads, keep your namespace and issue download tickets. With `--node`
//! (or `SDS_NODES`) it drives the given resource nodes directly with a local index instead:
//! the data plane alone, as the benchmarks and data-plane tests use it.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sds_client::{check_sds_path, parse_node, Catalog, ClientConfig, SdsClient};
use sp_core::{sr25519, Pair};
use std::{path::PathBuf, time::Instant};

#[path = "sds_cli/net.rs"]
mod net;

#[derive(Parser)]
#[command(name = "sds", version, about = "Store and fetch files on Stratos")]
struct Cli {
	/// Chain node JSON-RPC the meta nodes are found on (also SDS_CHAIN).
	#[arg(long, global = true, env = "SDS_CHAIN", default_value = "ws://127.0.0.1:9944")]
	chain: String,
	/// Your account's secret URI, e.g. //Alice//stash on a dev chain (also SDS_ACCOUNT;
	/// default: the key in <home>/account, created on first use).
	#[arg(long, global = true, env = "SDS_ACCOUNT", hide_env_values = true)]
	account: Option<String>,
	/// Data-plane mode: a resource node, `<multiaddr>/p2p/<peer id>` as `stratos-rn` prints
	/// it (repeatable; also SDS_NODES, comma-separated). Without it `sds` works through the
	/// meta nodes.
	#[arg(long, global = true)]
	node: Vec<String>,
	/// Client directory: the index of your files and your account key.
	/// (Default: $SDS_HOME, else ~/.stratos/sds.)
	#[arg(long, global = true)]
	home: Option<PathBuf>,
	/// Copies of every file (at least 3 through the meta nodes).
	#[arg(long, global = true, default_value_t = 3)]
	replicas: usize,
	/// Slice size (multiple of 64 KiB, at most 64 MiB).
	#[arg(long, global = true, default_value = "16MiB")]
	slice_size: String,
	/// Slices transferred in parallel (`sds cat` and ranges keep at most 64 MiB of slices
	/// ahead). Each slice is a new stream whose flow-control window starts small: at 50 ms
	/// RTT, 16 in flight reach about twice the rate of 4.
	#[arg(long, global = true, default_value_t = 16)]
	parallel: usize,
	/// Connections opened to each node (at most 4: a node accepts no more from one peer).
	/// Slices are spread over them: each has its own TCP window and runs its encryption on
	/// a core of its own, which matters with one node serving and on long round trips.
	#[arg(long, global = true, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=4))]
	connections: u32,
	/// Genesis hash (hex) of the chain receipts are for; must match the nodes'.
	#[arg(long, global = true)]
	genesis_hash: Option<String>,
	/// No progress bars.
	#[arg(long, short, global = true)]
	quiet: bool,
	#[command(subcommand)]
	cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
	/// Upload a file (SDS path defaults to /<file name>; `-` reads standard input, which is
	/// first copied to <home>/spool because placement needs the size, and needs an SDS path).
	Put { file: PathBuf, path: Option<String> },
	/// Download a file by SDS path (output defaults to ./<name>). An interrupted download
	/// keeps its verified slices and the same command resumes it.
	Get {
		/// The SDS path (or, in data-plane mode, the file id).
		file: String,
		/// Where to write it (with --range: `-` or none writes to standard output).
		out: Option<PathBuf>,
		/// Download another account's file (its public key, hex); you pay the traffic.
		#[arg(long)]
		owner: Option<String>,
		/// Only bytes A..B (B exclusive; A.. and ..B too, sizes like 1MiB), streamed
		/// verified, without a temporary file.
		#[arg(long)]
		range: Option<String>,
	},
	/// Write a file (or --range A..B of it) to standard output, verified, as it arrives.
	Cat {
		/// The SDS path (or, in data-plane mode, the file id).
		file: String,
		/// Another account's file (its public key, hex); you pay the traffic.
		#[arg(long)]
		owner: Option<String>,
		/// Only bytes A..B (B exclusive; A.. and ..B too, sizes like 1MiB).
		#[arg(long)]
		range: Option<String>,
	},
	/// List a directory (default /).
	Ls { path: Option<String> },
	/// Remove a file or directory; a file with no path left is deleted on chain.
	Rm {
		path: String,
		/// Remove a directory with everything in it.
		#[arg(long, short)]
		recursive: bool,
	},
	/// Create a directory (and its parents).
	Mkdir { path: String },
	/// Rename a file or directory.
	Mv { from: String, to: String },
	/// Describe a file or directory.
	Stat { path: String },
	/// The chain head, the meta leader and term, the resource nodes and their health.
	Status,
	/// Download credit: buy, reserve, release, show.
	Credit {
		#[command(subcommand)]
		cmd: CreditCmd,
	},
	/// Print the file id a local file would get, without uploading.
	Id { file: PathBuf },
	/// The traffic you countersigned, per ledger period, checked against what the meta nodes
	/// reported for you on chain (receipts are kept under <home>/receipts).
	Receipts,
	/// Check your entry in a ledger period's traffic report: the meta nodes' list of your
	/// receipts must rebuild the root on chain and carry your countersignature on every one.
	/// With --submit, dispute on chain what does not (before the period's rewards mature).
	Dispute {
		/// The ledger period.
		period: u32,
		/// Submit the disputes found (without it, only report them).
		#[arg(long)]
		submit: bool,
	},
}

#[derive(Subcommand)]
enum CreditCmd {
	/// Buy download credit for an amount of STOS (e.g. 10, 0.5).
	Buy { stos: String },
	/// Set bytes of credit aside for downloads (e.g. 1GiB); meta nodes issue tickets against it.
	Reserve { bytes: String },
	/// Return reserved bytes to your credit once the reservation's lock ended.
	Release { bytes: String },
	/// Your credit and reservation.
	Show,
}

fn main() -> std::process::ExitCode {
	sds_net::keep_freed_memory();
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env()
				.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
		)
		.with_writer(std::io::stderr)
		.init();
	let cli = Cli::parse();
	let rt =
		tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
	match rt.block_on(run(cli)) {
		Ok(()) => std::process::ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("error: {e:#}");
			std::process::ExitCode::FAILURE
		},
	}
}

fn home(cli: &Cli) -> Result<PathBuf> {
	if let Some(h) = &cli.home {
		return Ok(h.clone());
	}
	if let Some(h) = std::env::var_os("SDS_HOME") {
		return Ok(PathBuf::from(h));
	}
	let base = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set: pass --home"))?;
	Ok(PathBuf::from(base).join(".stratos/sds"))
}

fn account(cli: &Cli, home: &std::path::Path) -> Result<sr25519::Pair> {
	if let Some(suri) = &cli.account {
		return sr25519::Pair::from_string(suri, None)
			.map_err(|e| anyhow!("--account / SDS_ACCOUNT is not a valid secret URI: {e:?}"));
	}
	use std::{io::Write, os::unix::fs::OpenOptionsExt};
	let p = home.join("account");
	match std::fs::read_to_string(&p) {
		Ok(t) => {
			let seed: [u8; 32] =
				hex::decode(t.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
					anyhow!("account file {} does not hold a 32-byte hex seed", p.display())
				})?;
			Ok(sr25519::Pair::from_seed(&seed))
		},
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
			std::fs::create_dir_all(home)
				.with_context(|| format!("cannot create {}", home.display()))?;
			let seed: [u8; 32] = rand::random();
			let mut f = std::fs::OpenOptions::new()
				.write(true)
				.create_new(true)
				.mode(0o600)
				.open(&p)
				.with_context(|| format!("cannot create account file {}", p.display()))?;
			writeln!(f, "{}", hex::encode(seed))?;
			f.sync_all()?;
			Ok(sr25519::Pair::from_seed(&seed))
		},
		Err(e) => Err(anyhow!("cannot read account file {}: {e}", p.display())),
	}
}

fn bar(total: u64, quiet: bool) -> ProgressBar {
	if quiet {
		return ProgressBar::hidden();
	}
	let b = ProgressBar::new(total);
	b.set_style(
		ProgressStyle::with_template(
			"{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
		)
		.expect("template"),
	);
	b
}

/// The node addresses from `--node` and `SDS_NODES`.
fn node_addrs(cli: &Cli) -> Vec<String> {
	let mut addrs = cli.node.clone();
	if let Ok(env) = std::env::var("SDS_NODES") {
		addrs.extend(env.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from));
	}
	addrs
}

async fn client(cli: &Cli, home: &std::path::Path) -> Result<SdsClient> {
	let nodes = node_addrs(cli).iter().map(|a| parse_node(a)).collect::<Result<Vec<_>, _>>()?;
	let slice_size = sds_core::units::parse_size(&cli.slice_size).map_err(|e| anyhow!(e))?;
	let genesis_hash = match &cli.genesis_hash {
		None => [0; 32],
		Some(h) => hex::decode(h.trim_start_matches("0x"))
			.ok()
			.and_then(|b| b.try_into().ok())
			.ok_or_else(|| anyhow!("invalid genesis hash {h:?}: expected 32 bytes of hex"))?,
	};
	Ok(SdsClient::connect(ClientConfig {
		nodes,
		replicas: cli.replicas,
		slice_size,
		parallel: cli.parallel,
		genesis_hash,
		account: account(cli, home)?,
		ledger_period: 0,
		connections: cli.connections,
	})
	.await?)
}

/// A copy of standard input under <home>/spool, removed when dropped.
struct Spool(PathBuf);

impl Spool {
	fn stdin(home: &std::path::Path) -> Result<Self> {
		let dir = home.join("spool");
		std::fs::create_dir_all(&dir)
			.with_context(|| format!("cannot create {}", dir.display()))?;
		let p = dir.join(format!("stdin-{:016x}", rand::random::<u64>()));
		let spool = Spool(p);
		let mut f = std::fs::File::create_new(&spool.0)
			.with_context(|| format!("cannot create {}", spool.0.display()))?;
		std::io::copy(&mut std::io::stdin().lock(), &mut f)
			.with_context(|| format!("cannot copy standard input to {}", spool.0.display()))?;
		Ok(spool)
	}
}

impl Drop for Spool {
	fn drop(&mut self) {
		let _ = std::fs::remove_file(&self.0);
	}
}

/// The file `sds put` reads: the given one, or standard input spooled for `-`.
fn put_source(
	home: &std::path::Path,
	file: &std::path::Path,
	path: &Option<String>,
) -> Result<(PathBuf, String, Option<Spool>)> {
	if file.as_os_str() == "-" {
		let Some(p) = path else {
			bail!("`sds put -` reads standard input, which has no name: give an SDS path");
		};
		let spool = Spool::stdin(home)?;
		return Ok((spool.0.clone(), p.clone(), Some(spool)));
	}
	let name = match path {
		Some(p) => p.clone(),
		None => file
			.file_name()
			.map(|n| n.to_string_lossy().into_owned())
			.ok_or_else(|| anyhow!("{} has no file name: give an SDS path", file.display()))?,
	};
	Ok((file.to_path_buf(), name, None))
}

/// Where a ranged download or `sds cat` writes: standard output, or a new file. Both
/// unbuffered: whole slices are written at once, from the buffers the network filled.
fn range_output(out: Option<&PathBuf>) -> Result<Box<dyn std::io::Write + Send>> {
	let stdout = || -> Result<Box<dyn std::io::Write + Send>> {
		use std::os::fd::AsFd;
		let fd =
			std::io::stdout().as_fd().try_clone_to_owned().context("cannot use standard output")?;
		Ok(Box::new(std::fs::File::from(fd)))
	};
	match out {
		None => stdout(),
		Some(p) if p.as_os_str() == "-" => stdout(),
		Some(p) => Ok(Box::new(
			std::fs::File::create_new(p)
				.with_context(|| format!("cannot create {} (it must not exist)", p.display()))?,
		)),
	}
}

fn mbps(bytes: u64, t: Instant) -> f64 {
	bytes as f64 / 1e6 / t.elapsed().as_secs_f64().max(1e-9)
}

async fn run(cli: Cli) -> Result<()> {
	let home = home(&cli)?;
	if node_addrs(&cli).is_empty() && !matches!(cli.cmd, Cmd::Id { .. }) {
		return net::run(&cli, &home).await;
	}
	let catalog_path = home.join("catalog.json");
	match &cli.cmd {
		Cmd::Put { file, path } => {
			let (file, name, _spool) = put_source(&home, file, path)?;
			let file = &file;
			let path = check_sds_path(&name)?;
			let mut catalog = Catalog::load(&catalog_path)?;
			if catalog.files.contains_key(&path) {
				bail!(sds_client::Error::Exists(path));
			}
			let size = std::fs::metadata(file)
				.map_err(|e| sds_client::Error::Input {
					path: file.display().to_string(),
					source: e,
				})?
				.len();
			let c = client(&cli, &home).await?;
			let b = bar(size, cli.quiet);
			let t = Instant::now();
			let record = c.put_file(file, &b).await?;
			b.finish_and_clear();
			println!(
				"stored {path}: file id {} ({} bytes, {} slices x {} replicas) in {:.1} s, {:.1} MB/s",
				record.file_id,
				record.size,
				record.slices.len(),
				cli.replicas,
				t.elapsed().as_secs_f64(),
				mbps(record.size, t)
			);
			catalog.files.insert(path, record);
			catalog.save()?;
		},
		Cmd::Get { file, range: range @ Some(_), .. } | Cmd::Cat { file, range, .. } => {
			let out = if let Cmd::Get { out, .. } = &cli.cmd { out.as_ref() } else { None };
			let catalog = Catalog::load(&catalog_path)?;
			let (_, record) =
				catalog.find(file).ok_or_else(|| sds_client::Error::UnknownFile(file.clone()))?;
			// `sds cat` without --range: the whole file.
			let range = sds_client::parse_range(range.as_deref().unwrap_or(".."), record.size)?;
			let w = range_output(out)?;
			let c = client(&cli, &home).await?;
			let b = bar(range.end - range.start, cli.quiet);
			c.stream_file(record, range, w, &b).await?;
			b.finish_and_clear();
		},
		Cmd::Get { file, out, range: None, .. } => {
			let catalog = Catalog::load(&catalog_path)?;
			let (path, record) =
				catalog.find(file).ok_or_else(|| sds_client::Error::UnknownFile(file.clone()))?;
			let base = path.rsplit('/').next().unwrap_or("download").to_string();
			let out = match out {
				None => PathBuf::from(&base),
				Some(o) if o.is_dir() => o.join(&base),
				Some(o) => o.clone(),
			};
			if out.exists() {
				bail!("{} already exists: choose another output or remove it", out.display());
			}
			let c = client(&cli, &home).await?;
			let b = bar(record.size, cli.quiet);
			let t = Instant::now();
			c.get_file(record, &out, &b).await?;
			b.finish_and_clear();
			println!(
				"fetched {path} -> {} ({} bytes, verified against {}) in {:.1} s, {:.1} MB/s",
				out.display(),
				record.size,
				record.file_id,
				t.elapsed().as_secs_f64(),
				mbps(record.size, t)
			);
		},
		Cmd::Ls { .. } => {
			let catalog = Catalog::load(&catalog_path)?;
			if catalog.files.is_empty() {
				println!("no files yet: `sds put <file>` uploads one");
			}
			for (p, r) in &catalog.files {
				println!("{:>14}  {}  {} slices  {p}", r.size, r.file_id, r.slices.len());
			}
		},
		Cmd::Rm { path, .. } => {
			let mut catalog = Catalog::load(&catalog_path)?;
			let (p, _) =
				catalog.find(path).ok_or_else(|| sds_client::Error::UnknownFile(path.clone()))?;
			catalog.files.remove(&p);
			catalog.save()?;
			println!("removed {p} from your index (nodes drop the slices when the chain's file record goes; see offchain/README.md)");
		},
		Cmd::Status => {
			let catalog = Catalog::load(&catalog_path)?;
			let c = client(&cli, &home).await?;
			for arg in node_addrs(&cli) {
				match c.ping(&parse_node(&arg)?).await {
					Ok(()) => println!("node {arg}: up"),
					Err(e) => println!("node {arg}: DOWN ({e})"),
				}
			}
			for (p, r) in &catalog.files {
				let health = c.replica_health(r).await;
				let min = health.iter().copied().min().unwrap_or(0);
				let degraded = health.iter().filter(|h| **h < cli.replicas).count();
				println!(
					"{p}: {} slices, fewest intact copies {min}, {degraded} slices below {} copies",
					r.slices.len(),
					cli.replicas
				);
			}
		},
		Cmd::Id { file } => {
			let slice_size =
				sds_core::units::parse_size(&cli.slice_size).map_err(|e| anyhow!(e))?;
			println!("{}", SdsClient::file_id_of(file, slice_size)?);
		},
		Cmd::Mkdir { .. }
		| Cmd::Mv { .. }
		| Cmd::Stat { .. }
		| Cmd::Credit { .. }
		| Cmd::Receipts
		| Cmd::Dispute { .. } => {
			bail!("this command works through the meta nodes: drop --node / SDS_NODES")
		},
	}
	Ok(())
}
