//! `stratos-bench`: chain throughput and finality latency, measured from outside a running
//! chain the way a wallet sees it (results and how to reproduce them: `docs/performance.md`).
//!
//! * `transfers`: signed `balances.transfer_keep_alive` from the dev accounts, pre-signed
//!   before the clock starts (signing is the client's cost, not the chain's), submitted over
//!   one WebSocket with a bounded number in the pool, and counted when their block is
//!   **finalized** (by extrinsic hash, so nothing else on the chain is counted). Prints
//!   transfers/s over the measured window, transfers per finalized block, and submit →
//!   finalized latency (median, p99) of every `--sample-every`-th transfer, watched with
//!   `author_submitAndWatchExtrinsic`.
//! * `latency`: the same latency on an idle chain: one transfer at a time.

use std::{
	collections::{HashMap, HashSet},
	sync::Arc,
	time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use stratos_tests::{finalized_number, stratos};
use subxt::{
	config::DefaultExtrinsicParamsBuilder,
	ext::jsonrpsee::{
		core::client::{ClientT, SubscriptionClientT},
		rpc_params,
		ws_client::{WsClient, WsClientBuilder},
	},
	OnlineClient, PolkadotConfig,
};
use subxt_signer::sr25519::{dev, Keypair};
use tokio::sync::Mutex;

#[derive(Parser)]
#[command(about = "Chain throughput and finality latency of a running Stratos chain")]
struct Cli {
	/// RPC endpoint of a node of the chain (a dev chain: the senders are the dev accounts).
	#[arg(long, default_value = "ws://127.0.0.1:9944", global = true)]
	url: String,
	#[command(subcommand)]
	cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
	/// Finalized transfers per second under a full pool, and latency under that load.
	Transfers {
		/// Seconds measured (after the warm-up).
		#[arg(long, default_value_t = 60)]
		seconds: u64,
		/// Seconds of load before measuring (the pool fills, blocks reach their size).
		#[arg(long, default_value_t = 10)]
		warmup: u64,
		/// Transfers signed before the clock starts; must outlast warm-up + measurement.
		#[arg(long, default_value_t = 20_000)]
		count: usize,
		/// Transfers in the pool at most (submitted and not yet finalized).
		#[arg(long, default_value_t = 4_000)]
		in_flight: usize,
		/// Every n-th transfer is watched for its submit → finalized latency.
		#[arg(long, default_value_t = 50)]
		sample_every: usize,
	},
	/// Submit → finalized latency on an otherwise idle chain, one transfer at a time.
	Latency {
		/// Transfers measured.
		#[arg(long, default_value_t = 30)]
		samples: usize,
	},
}

const STOS: u128 = 1_000_000_000_000;

fn senders() -> Vec<Keypair> {
	vec![dev::alice(), dev::bob(), dev::charlie(), dev::dave(), dev::eve(), dev::ferdie()]
}

/// `count` signed transfers, round-robin over the senders with consecutive nonces. Immortal:
/// they are signed before the clock starts, and a mortal one (subxt's default: 32 blocks from
/// the block it names) would expire in the pool under a long run.
async fn sign_transfers(api: &OnlineClient<PolkadotConfig>, count: usize) -> Result<Vec<Vec<u8>>> {
	let at = api.at_current_block().await?;
	let txs = at.transactions();
	let senders = senders();
	let mut nonces = Vec::new();
	for s in &senders {
		nonces.push(txs.account_nonce(&s.public_key().to_account_id()).await?);
	}
	let to = dev::ferdie().public_key().to_account_id();
	let started = Instant::now();
	let mut out = Vec::with_capacity(count);
	for i in 0..count {
		let k = i % senders.len();
		// Ferdie pays Alice, the others pay Ferdie: no sender receives from itself.
		let dest =
			if k == senders.len() - 1 { dev::alice().public_key().to_account_id() } else { to };
		let call = stratos::transactions().balances().transfer_keep_alive(dest.into(), STOS / 1000);
		let params = DefaultExtrinsicParamsBuilder::<PolkadotConfig>::new()
			.nonce(nonces[k])
			.immortal()
			.build();
		nonces[k] += 1;
		let mut signable = txs.create_signable_offline(&call, params)?;
		out.push(signable.sign(&senders[k])?.encoded().to_vec());
		if (i + 1) % 5_000 == 0 {
			eprintln!(
				"signed {}/{count} ({:.0}/s)",
				i + 1,
				(i + 1) as f64 / started.elapsed().as_secs_f64()
			);
		}
	}
	Ok(out)
}

fn hash(bytes: &[u8]) -> [u8; 32] {
	sp_crypto_hashing::blake2_256(bytes)
}

/// Extrinsic hashes of finalized block `n`.
async fn block_extrinsics(rpc: &WsClient, n: u32) -> Result<Vec<[u8; 32]>> {
	let h: String = rpc.request("chain_getBlockHash", rpc_params![n]).await?;
	let block: serde_json::Value = rpc.request("chain_getBlock", rpc_params![h]).await?;
	let xts = block["block"]["extrinsics"].as_array().context("block without extrinsics")?;
	xts.iter()
		.map(|x| Ok(hash(&hex::decode(x.as_str().context("extrinsic")?.trim_start_matches("0x"))?)))
		.collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
	if sorted.is_empty() {
		return f64::NAN;
	}
	let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
	sorted[i]
}

fn print_latency(label: &str, mut l: Vec<f64>) {
	l.sort_by(|a, b| a.partial_cmp(b).unwrap());
	println!(
		"{label}: submit → finalized over {} transfers: median {:.2} s, p99 {:.2} s, min {:.2} s, max {:.2} s",
		l.len(),
		percentile(&l, 0.5),
		percentile(&l, 0.99),
		l.first().copied().unwrap_or(f64::NAN),
		l.last().copied().unwrap_or(f64::NAN),
	);
}

type Watch = subxt::ext::jsonrpsee::core::client::Subscription<serde_json::Value>;

/// Submits `xt` with `author_submitAndWatchExtrinsic`: returns once the pool took it.
async fn watch(rpc: &WsClient, xt: &[u8]) -> Result<Watch> {
	Ok(rpc
		.subscribe::<serde_json::Value, _>(
			"author_submitAndWatchExtrinsic",
			rpc_params![format!("0x{}", hex::encode(xt))],
			"author_unwatchExtrinsic",
		)
		.await?)
}

/// Seconds from `started` until the watched transfer's block is finalized.
async fn until_finalized(mut sub: Watch, started: Instant) -> Result<f64> {
	while let Some(status) = sub.next().await {
		let status = status?;
		if status.get("finalized").is_some() {
			return Ok(started.elapsed().as_secs_f64());
		}
		for bad in ["dropped", "invalid", "usurped", "finalityTimeout"] {
			if status.get(bad).is_some() || status == bad {
				bail!("transfer {bad}: {status}");
			}
		}
	}
	bail!("subscription ended before finality")
}

/// Submits `xt` and returns seconds until it is finalized.
async fn watch_until_finalized(rpc: &WsClient, xt: &[u8]) -> Result<f64> {
	let started = Instant::now();
	until_finalized(watch(rpc, xt).await?, started).await
}

async fn note_refused(refused: &Mutex<HashMap<String, usize>>, e: anyhow::Error) {
	*refused.lock().await.entry(e.to_string().chars().take(80).collect()).or_default() += 1;
}

async fn connect(url: &str) -> Result<WsClient> {
	WsClientBuilder::default()
		.max_concurrent_requests(100_000)
		.max_buffer_capacity_per_subscription(100_000)
		.request_timeout(Duration::from_secs(120))
		.build(url)
		.await
		.with_context(|| format!("connecting to {url}"))
}

async fn transfers(
	url: &str,
	seconds: u64,
	warmup: u64,
	count: usize,
	in_flight: usize,
	sample_every: usize,
) -> Result<()> {
	let api = OnlineClient::<PolkadotConfig>::from_insecure_url(url).await?;
	let rpc = Arc::new(connect(url).await?);
	eprintln!("signing {count} transfers before the clock starts");
	let xts = sign_transfers(&api, count).await?;
	let ours: Arc<HashSet<[u8; 32]>> = Arc::new(xts.iter().map(|x| hash(x)).collect());

	// Finalized counter: walks every newly finalized block and counts our transfers in it.
	let finalized_ours = Arc::new(std::sync::atomic::AtomicUsize::new(0));
	let per_block: Arc<Mutex<Vec<(u32, usize, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
	let counter = {
		let (rpc, ours, fin, per_block) =
			(rpc.clone(), ours.clone(), finalized_ours.clone(), per_block.clone());
		tokio::spawn(async move {
			let mut n = finalized_number(&rpc).await?;
			loop {
				let f = finalized_number(&rpc).await?;
				while n < f {
					n += 1;
					let k = block_extrinsics(&rpc, n)
						.await?
						.iter()
						.filter(|h| ours.contains(*h))
						.count();
					fin.fetch_add(k, std::sync::atomic::Ordering::SeqCst);
					per_block.lock().await.push((n, k, Instant::now()));
				}
				tokio::time::sleep(Duration::from_millis(100)).await;
			}
			#[allow(unreachable_code)]
			Ok::<(), anyhow::Error>(())
		})
	};

	// Submitters: one lane per sender, each submitting its own transfers in nonce order (a
	// transfer that overtook its predecessor would wait in the pool's small future queue, and
	// one dropped there would stall the sender), all together keeping at most `in_flight`
	// submitted and not finalized.
	let started = Instant::now();
	let latencies: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
	let submitted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
	let refused: Arc<Mutex<HashMap<String, usize>>> = Arc::new(Mutex::new(HashMap::new()));
	let window_start = started + Duration::from_secs(warmup);
	let window_end = window_start + Duration::from_secs(seconds);
	let lanes = senders().len();
	let mut per_lane: Vec<Vec<(usize, Vec<u8>)>> = vec![Vec::new(); lanes];
	for (i, xt) in xts.into_iter().enumerate() {
		per_lane[i % lanes].push((i, xt));
	}
	let mut tasks = Vec::new();
	for lane in per_lane {
		let (rpc, fin, submitted, refused, latencies) = (
			rpc.clone(),
			finalized_ours.clone(),
			submitted.clone(),
			refused.clone(),
			latencies.clone(),
		);
		tasks.push(tokio::spawn(async move {
			use std::sync::atomic::Ordering::SeqCst;
			for (i, xt) in lane {
				// Read together they may cross: another lane's transfer finalized in between.
				while submitted.load(SeqCst).saturating_sub(fin.load(SeqCst)) >= in_flight {
					if Instant::now() >= window_end {
						return Ok(());
					}
					tokio::time::sleep(Duration::from_millis(10)).await;
				}
				if Instant::now() >= window_end {
					return Ok(());
				}
				submitted.fetch_add(1, SeqCst);
				if i % sample_every == 0 {
					// Subscribing returns once the pool took the transfer: order is kept.
					let t0 = Instant::now();
					match watch(&rpc, &xt).await {
						Ok(sub) => {
							let lat = latencies.clone();
							tokio::spawn(async move {
								if let Ok(s) = until_finalized(sub, t0).await {
									lat.lock().await.push(s);
								}
							});
						},
						Err(e) => {
							// Refused: never in the pool, so it holds no in-flight slot.
							submitted.fetch_sub(1, SeqCst);
							note_refused(&refused, e).await
						},
					}
				} else if let Err(e) = rpc
					.request::<String, _>(
						"author_submitExtrinsic",
						rpc_params![format!("0x{}", hex::encode(&xt))],
					)
					.await
				{
					submitted.fetch_sub(1, SeqCst);
					note_refused(&refused, e.into()).await;
				}
			}
			bail!("a sender ran out of signed transfers before the window ended: raise --count")
		}));
	}
	let mut at_window_start = None;
	let mut progress = Instant::now();
	while Instant::now() < window_end {
		if progress.elapsed() >= Duration::from_secs(5) {
			progress = Instant::now();
			eprintln!(
				"{:>4.0} s: {} submitted, {} finalized, {} refused",
				started.elapsed().as_secs_f64(),
				submitted.load(std::sync::atomic::Ordering::SeqCst),
				finalized_ours.load(std::sync::atomic::Ordering::SeqCst),
				refused.lock().await.values().sum::<usize>()
			);
		}
		if at_window_start.is_none() && Instant::now() >= window_start {
			at_window_start = Some(finalized_ours.load(std::sync::atomic::Ordering::SeqCst));
			eprintln!("warm-up done: measuring {seconds} s");
		}
		if counter.is_finished() {
			bail!("the block counter stopped: {:?}", counter.await);
		}
		if let Some(t) = tasks.iter_mut().find(|t| t.is_finished()) {
			t.await??;
			bail!("a sender stopped before the window ended");
		}
		tokio::time::sleep(Duration::from_millis(20)).await;
	}
	for t in tasks {
		t.await??;
	}
	let submitted = submitted.load(std::sync::atomic::Ordering::SeqCst);
	let refused = refused.lock().await.clone();
	let measured =
		finalized_ours.load(std::sync::atomic::Ordering::SeqCst) - at_window_start.unwrap_or(0);
	counter.abort();

	let blocks = per_block.lock().await;
	let in_window: Vec<usize> = blocks
		.iter()
		.filter(|(_, _, t)| *t >= window_start && *t < window_end)
		.map(|(_, k, _)| *k)
		.collect();
	println!("url {url}: {submitted} submitted, window {seconds} s after {warmup} s warm-up");
	println!(
		"throughput: {:.1} finalized transfers/s ({measured} in {seconds} s)",
		measured as f64 / seconds as f64
	);
	if !in_window.is_empty() {
		println!(
			"blocks finalized in the window: {}, transfers per block: mean {:.1}, max {}",
			in_window.len(),
			in_window.iter().sum::<usize>() as f64 / in_window.len() as f64,
			in_window.iter().max().unwrap()
		);
	}
	for (e, n) in &refused {
		println!("refused by the pool ({n}×): {e}");
	}
	print_latency("latency under load", latencies.lock().await.clone());
	Ok(())
}

async fn latency(url: &str, samples: usize) -> Result<()> {
	let api = OnlineClient::<PolkadotConfig>::from_insecure_url(url).await?;
	let rpc = connect(url).await?;
	let xts = sign_transfers(&api, samples).await?;
	let mut l = Vec::new();
	for (i, xt) in xts.iter().enumerate() {
		let s = watch_until_finalized(&rpc, xt).await?;
		eprintln!("{}/{samples}: {s:.2} s", i + 1);
		l.push(s);
	}
	print_latency("latency idle", l);
	Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
	let cli = Cli::parse();
	match cli.cmd {
		Cmd::Transfers { seconds, warmup, count, in_flight, sample_every } => {
			transfers(&cli.url, seconds, warmup, count, in_flight, sample_every.max(1)).await
		},
		Cmd::Latency { samples } => latency(&cli.url, samples).await,
	}
}
