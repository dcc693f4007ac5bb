//! `sds` through the network: the meta nodes found on the chain, requests signed by the
//! account.

use super::{account, bar, mbps, put_source, range_output, Cli, Cmd, CreditCmd};
use anyhow::{anyhow, bail, Context, Result};
use sds_client::{MetaClient, MetaClientConfig, ReceiptLog};
use sds_core::{
	meta_api::{FileStatus, Inode},
	wire::Hop,
};
use sp_core::Pair;
use std::{
	path::Path,
	path::PathBuf,
	time::{Duration, Instant},
};
use stratos_chain_client::{
	ChainClient, DisputeClaim, DisputeOutcome, NodeKind, NodeStatus, StorageAccount,
};
use subxt::utils::AccountId32;

/// One STOS in plancks (12 decimals).
const STOS: u128 = 1_000_000_000_000;

/// The account as a transaction signer: from the same secret URI, or the same seed, as
/// [`account`].
fn signer(cli: &Cli, home: &Path) -> Result<subxt_signer::sr25519::Keypair> {
	if let Some(suri) = &cli.account {
		let uri: subxt_signer::SecretUri =
			suri.parse().map_err(|e| anyhow!("--account / SDS_ACCOUNT: {e}"))?;
		return subxt_signer::sr25519::Keypair::from_uri(&uri)
			.map_err(|e| anyhow!("--account / SDS_ACCOUNT: {e}"));
	}
	let p = home.join("account");
	let text =
		std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
	let seed: [u8; 32] = hex::decode(text.trim())
		.ok()
		.and_then(|b| b.try_into().ok())
		.ok_or_else(|| anyhow!("account file {} does not hold a 32-byte hex seed", p.display()))?;
	subxt_signer::sr25519::Keypair::from_secret_key(seed)
		.map_err(|e| anyhow!("account file {}: {e}", p.display()))
}

/// `sds status` warns when the balance pays for fewer storage periods than this.
const WARN_PERIODS: u128 = 3;

fn stos(plancks: u128) -> String {
	format!("{}.{:04}", plancks / STOS, (plancks % STOS) / (STOS / 10_000))
}

/// What `sds status` says about the account's stored files: a summary line and warnings
/// when files are close to expiry (fees unpaid, or the balance running out soon).
fn storage_report(a: &StorageAccount) -> (String, Vec<String>) {
	let per = a.fee_per_period();
	let summary = format!(
		"storage: {} files on chain, {} STOS per storage period ({} blocks), balance {} STOS",
		a.files.len(),
		stos(per),
		a.period_blocks,
		stos(a.free)
	);
	let mut warnings = Vec::new();
	let Some(covered) = a.periods_covered() else { return (summary, warnings) };
	// A file expires when it is settled more than `grace_periods` periods unpaid.
	let expiry_block = |paid_through: u32| {
		let period = u64::from(paid_through) + u64::from(a.grace_periods) + 1;
		(period * u64::from(a.period_blocks)).saturating_sub(u64::from(a.block))
	};
	let due = a.due();
	if due > a.free {
		let first = a
			.files
			.iter()
			.filter(|f| f.paid_through < a.period)
			.min_by_key(|f| f.paid_through)
			.map(|f| (f.file_id, expiry_block(f.paid_through)));
		if let Some((id, blocks)) = first {
			warnings.push(format!(
				"the balance does not cover the {} STOS of fees due: unpaid files expire after {} \
				 periods, the first ({id}) in about {blocks} blocks. Add funds to keep them.",
				stos(due),
				a.grace_periods
			));
		}
	} else if covered < WARN_PERIODS {
		let out = a.period as u128 + covered;
		let blocks = expiry_block(out.min(u32::MAX as u128) as u32);
		warnings.push(format!(
			"the balance pays for only {covered} more storage period(s); then your {} files \
			 go unpaid and expire in about {blocks} blocks. Add funds to keep them.",
			a.files.len()
		));
	}
	(summary, warnings)
}

fn parse_stos(s: &str) -> Result<u128> {
	let bad = || anyhow!("invalid amount {s:?}: give STOS, e.g. 10 or 0.5");
	let (int, frac) = s.split_once('.').unwrap_or((s, ""));
	if frac.len() > 12 || (int.is_empty() && frac.is_empty()) {
		return Err(bad());
	}
	let int: u128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| bad())? };
	let frac: u128 =
		if frac.is_empty() { 0 } else { format!("{frac:0<12}").parse().map_err(|_| bad())? };
	int.checked_mul(STOS).and_then(|v| v.checked_add(frac)).ok_or_else(bad)
}

/// `--owner` (a public key in hex), else the account itself.
fn owner_key(owner: Option<&str>, me: [u8; 32]) -> Result<[u8; 32]> {
	match owner {
		None => Ok(me),
		Some(h) => hex::decode(h.trim_start_matches("0x"))
			.ok()
			.and_then(|b| b.try_into().ok())
			.ok_or_else(|| anyhow!("--owner must be a 32-byte public key in hex")),
	}
}

fn remote_path(p: &str) -> String {
	if p.starts_with('/') {
		p.to_string()
	} else {
		format!("/{p}")
	}
}

async fn meta_hops(chain: &ChainClient) -> Result<Vec<Hop>> {
	let (_, hash) = chain.finalized_head().await?;
	let active = chain.active_meta_at(hash).await?;
	let mut hops = Vec::new();
	for (account, n) in chain.nodes_at(hash).await? {
		if n.kind == NodeKind::Meta && n.status == NodeStatus::Active && active.contains(&account) {
			hops.push(Hop { node: n.node_id, addrs: vec![n.address] });
		}
	}
	if hops.is_empty() {
		bail!("the chain has no active meta node");
	}
	// Spread clients over the meta nodes.
	use rand::seq::SliceRandom;
	hops.shuffle(&mut rand::thread_rng());
	Ok(hops)
}

pub async fn run(cli: &Cli, home: &Path) -> Result<()> {
	let chain = ChainClient::connect(&cli.chain).await.with_context(|| {
		format!("cannot reach the chain at {} (pass --chain or SDS_CHAIN)", cli.chain)
	})?;
	let pair = account(cli, home)?;
	let me = pair.public().0;
	let signer = signer(cli, home)?;
	if signer.public_key().0 != me {
		bail!("the account key does not derive consistently; use --account with a secret URI");
	}
	if let Cmd::Credit { cmd } = &cli.cmd {
		return credit(&chain, &signer, cmd).await;
	}
	let receipts = ReceiptLog::open(home.join("receipts"))
		.with_context(|| format!("cannot keep receipts under {}", home.display()))?;
	if let Cmd::Receipts = &cli.cmd {
		return check_receipts(&chain, &receipts, me).await;
	}
	let slice_size = sds_core::units::parse_size(&cli.slice_size).map_err(|e| anyhow!(e))?;
	let client = MetaClient::connect(MetaClientConfig {
		metas: meta_hops(&chain).await?,
		genesis_hash: chain.genesis_hash(),
		account: pair.clone(),
		slice_size,
		replicas: cli.replicas.clamp(3, 16) as u8,
		parallel: cli.parallel,
		connections: cli.connections,
	})
	.await?;
	client.keep_receipts(receipts);
	match &cli.cmd {
		Cmd::Put { file, path } => {
			let (file, name, _spool) = put_source(home, file, path)?;
			let file = &file;
			let remote = remote_path(&name);
			let size = std::fs::metadata(file)
				.with_context(|| format!("cannot read {}", file.display()))?
				.len();
			let b = bar(size, cli.quiet);
			let t = Instant::now();
			let up = client.put(file, &remote, &b).await?;
			b.finish_and_clear();
			let secs = t.elapsed().as_secs_f64();
			eprintln!("uploaded {size} bytes in {secs:.2} s ({:.1} MB/s); waiting for the chain to record it", mbps(size, t));
			let block = client.wait_recorded(&remote, Duration::from_secs(120)).await?;
			println!(
				"stored {remote}: file id {} ({size} bytes, {} holders), recorded on chain in block {block}",
				up.file_id,
				up.holders.len()
			);
		},
		Cmd::Get { file, owner, range: range @ Some(_), .. } | Cmd::Cat { file, owner, range } => {
			let out = if let Cmd::Get { out, .. } = &cli.cmd { out.as_ref() } else { None };
			let owner = owner_key(owner.as_deref(), me)?;
			let remote = remote_path(file);
			let size = client
				.stat(owner, &remote)
				.await?
				.ok_or_else(|| anyhow!("{remote} is a directory"))?
				.size;
			// `sds cat` without --range: the whole file.
			let range = sds_client::parse_range(range.as_deref().unwrap_or(".."), size)?;
			let w = range_output(out)?;
			let b = bar(range.end - range.start, cli.quiet);
			client.stream(owner, &remote, range, w, &b).await?;
			b.finish_and_clear();
		},
		Cmd::Get { file, out, owner, range: None } => {
			let owner = owner_key(owner.as_deref(), me)?;
			let remote = remote_path(file);
			let base = remote.rsplit('/').next().unwrap_or("download").to_string();
			let out = match out {
				None => PathBuf::from(&base),
				Some(o) if o.is_dir() => o.join(&base),
				Some(o) => o.clone(),
			};
			if out.exists() {
				bail!("{} already exists: choose another output or remove it", out.display());
			}
			let size = client
				.stat(owner, &remote)
				.await?
				.ok_or_else(|| anyhow!("{remote} is a directory"))?
				.size;
			let b = bar(size, cli.quiet);
			let t = Instant::now();
			let rec = client.get(owner, &remote, &out, &b).await?;
			b.finish_and_clear();
			println!(
				"fetched {remote} -> {} ({} bytes, verified against {}) in {:.2} s, {:.1} MB/s",
				out.display(),
				rec.size,
				rec.file_id,
				t.elapsed().as_secs_f64(),
				mbps(rec.size, t)
			);
		},
		Cmd::Ls { path } => {
			let path = remote_path(path.as_deref().unwrap_or("/"));
			let list = client.ls(me, &path).await?;
			if list.is_empty() {
				println!("{path} is empty");
			}
			for (name, inode) in list {
				match inode {
					Inode::Dir => println!("{:>14}  {:64}  {name}/", "-", "-"),
					Inode::File(id) => {
						let full =
							if path == "/" { format!("/{name}") } else { format!("{path}/{name}") };
						let size = client.stat(me, &full).await?.map(|f| f.size).unwrap_or(0);
						println!("{size:>14}  {id}  {name}");
					},
				}
			}
		},
		Cmd::Mkdir { path } => {
			client.mkdir(&remote_path(path)).await?;
			println!("created {}", remote_path(path));
		},
		Cmd::Mv { from, to } => {
			client.mv(&remote_path(from), &remote_path(to)).await?;
			println!("moved {} -> {}", remote_path(from), remote_path(to));
		},
		Cmd::Stat { path } => match client.stat(me, &remote_path(path)).await? {
			None => println!("{}: directory", remote_path(path)),
			Some(f) => {
				println!("{}: file {}", remote_path(path), f.file_id);
				println!(
					"  size {} bytes, {} slices of {} bytes",
					f.size,
					f.slices.len(),
					f.slice_size
				);
				match f.status {
					FileStatus::OnChain(b) => println!("  recorded on chain in block {b}"),
					FileStatus::Voting => println!("  being recorded on chain"),
				}
				for h in &f.holders {
					println!("  holder {h}");
				}
			},
		},
		Cmd::Rm { path, recursive } => {
			let remote = remote_path(path);
			// Files that lose their last path are deleted on chain: collect them first.
			let doomed = doomed_files(&client, me, &remote, *recursive).await?;
			client.rm(&remote, *recursive).await?;
			for id in &doomed {
				chain
					.delete_file(&signer, id)
					.await
					.with_context(|| format!("deleting file {id} on chain"))?;
			}
			println!(
				"removed {remote}; {} file(s) deleted on chain (holders drop their slices)",
				doomed.len()
			);
		},
		Cmd::Status => {
			let (head, _) = chain.finalized_head().await?;
			let s = client.status().await?;
			println!("chain: finalized block {head} (the index follows block {})", s.finalized);
			println!(
				"meta: node {} is {}, term {}, leader {}, log index {}",
				s.meta_node,
				s.role,
				s.term,
				s.leader.as_deref().unwrap_or("unknown"),
				s.applied
			);
			println!("ledger period {}, {} files in the index", s.ledger_period, s.files);
			let account = chain.storage_account(&AccountId32(me)).await?;
			let (summary, warnings) = storage_report(&account);
			println!("{summary}");
			for w in warnings {
				println!("WARNING: {w}");
			}
			for n in &s.nodes {
				println!(
					"  resource node {} [{}] {}{}, free {} bytes, uptime {:.1} %, {} slices, last heard {}",
					&n.node.to_hex()[..16],
					n.region,
					if n.healthy { "healthy" } else { "UNHEALTHY" },
					if n.active { "" } else { " (not active on chain)" },
					n.free,
					n.uptime_permille as f64 / 10.0,
					n.slices,
					if n.silent_ms == u64::MAX { "never".to_string() } else { format!("{} s ago", n.silent_ms / 1000) }
				);
			}
			match client.repairs().await {
				Ok(r) => println!(
					"repair: {} copies under way ({} bytes), {} files' new holders being voted; \
					 {} ordered, {} copied, {} given up, {} files re-homed; {} files waiting \
					 for bandwidth, {} files that cannot be repaired now",
					r.in_flight,
					r.bytes_in_flight,
					r.voting,
					r.counters.ordered,
					r.counters.copied,
					r.counters.abandoned,
					r.counters.rehomed,
					r.counters.deferred,
					r.counters.alerts
				),
				Err(e) => println!("repair: unknown ({e})"),
			}
			println!("traffic audit (this meta node's replica; newest period first):");
			for a in client.audit().await?.iter().take(AUDIT_PERIODS_SHOWN) {
				let on_chain = match chain.period(a.period).await? {
					Some(p) => format!("{:?}", p.status),
					None => "not opened".into(),
				};
				println!(
					"  period {}: {} bytes in {} receipts ({} duplicate copies), {} tickets, {}; \
					 report: {}; on chain: {on_chain}",
					a.period,
					a.bytes,
					a.receipts,
					a.duplicates,
					a.tickets,
					if a.closed { "cut off" } else { "open" },
					if a.report.is_empty() { "-" } else { &a.report },
				);
				for (party, reason, n) in &a.refused {
					println!("    refused from {party:?}: {n} × {}", reason.label());
				}
			}
		},
		Cmd::Dispute { period, submit } => {
			let log = ReceiptLog::open(home.join("receipts"))?;
			dispute(&chain, &client, &signer, &log, *period, *submit).await?
		},
		Cmd::Credit { .. } | Cmd::Id { .. } | Cmd::Receipts => unreachable!("handled before"),
	}
	Ok(())
}

/// `sds dispute`: checks the client's entry in `period`'s report against the receipts the
/// meta nodes counted and, with `submit`, disputes on chain what does not hold.
async fn dispute(
	chain: &ChainClient,
	client: &MetaClient,
	signer: &subxt_signer::sr25519::Keypair,
	log: &ReceiptLog,
	period: u32,
	submit: bool,
) -> Result<()> {
	use sds_client::dispute::{check_entry, Entry};
	let me = signer.public_key().0;
	let Some(charge) = chain.client_charge(period, me).await? else {
		bail!(
			"no entry for you in period {period}'s report on chain (not reported yet, no traffic, \
			 or its dispute window closed)"
		);
	};
	let served = client.client_receipts(me, period).await?;
	let entry = Entry { root: charge.receipts_root, bytes: charge.bytes };
	let check = check_entry(&entry, &served, &me, &chain.genesis_hash())?;
	let kept: std::collections::HashSet<[u8; 32]> = log
		.load(period)?
		.iter()
		.map(|r| stratos_primitives::receipts::receipt_digest(&r.receipt, &r.node_signature))
		.collect();
	let listed_kept = check.digests.iter().filter(|d| kept.contains(*d)).count();
	println!(
		"period {period}: the report lists {} bytes (charged {}, reversed {}) in {} receipts; \
		 {listed_kept} of them are in your receipt log ({} kept)",
		charge.bytes,
		charge.charged,
		charge.reversed,
		check.digests.len(),
		kept.len()
	);
	if check.claims.is_empty() {
		println!(
			"every receipt carries your countersignature and the total matches: nothing to dispute"
		);
		return Ok(());
	}
	for (claim, receipt) in &check.claims {
		let what = match (claim, receipt) {
			(DisputeClaim::NotCountersigned { leaf, .. }, Some(r)) => format!(
				"receipt {} ({} bytes from node {} for task {}) is not countersigned by you",
				hex::encode(leaf.digest),
				leaf.length,
				r.receipt.node,
				r.receipt.task_id
			),
			(DisputeClaim::NotCountersigned { leaf, .. }, None) => {
				format!("receipt {} is not countersigned by you", hex::encode(leaf.digest))
			},
			(DisputeClaim::WrongTotal { .. }, _) => format!(
				"the entry lists {} bytes but its receipts total {}",
				charge.bytes, check.bytes
			),
			(DisputeClaim::OutOfOrder { first, .. }, _) => {
				format!("receipt {} is listed twice or out of order", hex::encode(first.digest))
			},
		};
		if !submit {
			println!("  to dispute: {what}");
			continue;
		}
		match chain.dispute(signer, period, claim).await? {
			DisputeOutcome::Open { answer_by } => println!(
				"  disputed: {what}; the reporters must show your countersignature by block {answer_by}, \
				 else anyone may uphold it (pot.resolve_dispute)"
			),
			DisputeOutcome::Upheld { refunded, slashed } => println!(
				"  disputed and upheld: {what}; {refunded} bytes of credit back, {slashed} reporters slashed"
			),
		}
	}
	if !submit {
		bail!(
			"{} claim(s) against period {period}'s report: run `sds dispute {period} --submit` to \
			 dispute them on chain",
			check.claims.len()
		);
	}
	Ok(())
}

async fn doomed_files(
	client: &MetaClient,
	me: [u8; 32],
	remote: &str,
	recursive: bool,
) -> Result<Vec<stratos_primitives::FileId>> {
	let mut out = Vec::new();
	match client.stat(me, remote).await? {
		Some(f) => out.push(f.file_id),
		None if recursive => {
			let mut stack = vec![remote.to_string()];
			while let Some(dir) = stack.pop() {
				for (name, inode) in client.ls(me, &dir).await? {
					let full =
						if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") };
					match inode {
						Inode::Dir => stack.push(full),
						Inode::File(id) => out.push(id),
					}
				}
			}
		},
		None => {},
	}
	out.sort();
	out.dedup();
	Ok(out)
}

/// Periods of audit figures `sds status` prints.
const AUDIT_PERIODS_SHOWN: usize = 4;

/// Compares each period's countersigned receipts with the client's entry on chain.
async fn check_receipts(chain: &ChainClient, log: &ReceiptLog, me: [u8; 32]) -> Result<()> {
	let periods = log.periods()?;
	if periods.is_empty() {
		println!("no countersigned receipts yet: they are kept from your downloads");
	}
	let mut overcharged = Vec::new();
	for p in periods {
		let s = log.summary(p)?;
		let mine = format!("{} bytes in {} receipts", s.bytes, s.count);
		match chain.client_charge(p, me).await? {
			None => println!(
				"period {p}: {mine}; no entry on chain (not reported yet, or its dispute window closed)"
			),
			Some(c) if c.receipts_root == s.root && c.bytes == s.bytes => {
				println!("period {p}: {mine}; the report matches (charged {} bytes)", c.charged)
			},
			Some(c) if c.bytes <= s.bytes => println!(
				"period {p}: {mine}; the report lists {} bytes (fewer: receipts the nodes did not report)",
				c.bytes
			),
			Some(c) => {
				println!(
					"period {p}: {mine}; the report lists {} bytes under root {} — MORE than you countersigned (your root {})",
					c.bytes,
					hex::encode(c.receipts_root),
					hex::encode(s.root)
				);
				overcharged.push(p);
			},
		}
	}
	if !overcharged.is_empty() {
		bail!(
			"the meta nodes reported more traffic than you countersigned in period(s) {overcharged:?}: \
			 dispute the receipts you did not sign (pot.dispute) before those periods' rewards mature"
		);
	}
	Ok(())
}

async fn credit(
	chain: &ChainClient,
	signer: &subxt_signer::sr25519::Keypair,
	cmd: &CreditCmd,
) -> Result<()> {
	let who = signer.public_key().to_account_id();
	match cmd {
		CreditCmd::Buy { stos } => {
			let amount = parse_stos(stos)?;
			let bytes = chain.buy_credit(signer, amount, 0).await?;
			println!("bought {bytes} bytes of download credit for {stos} STOS");
		},
		CreditCmd::Reserve { bytes } => {
			let bytes = sds_core::units::parse_size(bytes).map_err(|e| anyhow!(e))?;
			chain.reserve_credit(signer, bytes as u128).await?;
			println!("reserved {bytes} bytes for downloads");
		},
		CreditCmd::Release { bytes } => {
			let bytes = sds_core::units::parse_size(bytes).map_err(|e| anyhow!(e))?;
			chain.release_credit(signer, bytes as u128).await?;
			println!("released {bytes} bytes");
		},
		CreditCmd::Show => {
			let (available, reserved) = chain.credit(&who).await?;
			let (_, hash) = chain.finalized_head().await?;
			let (_, until) = chain.reservation_at(hash, &who).await?;
			println!("credit: {available} bytes available, {reserved} bytes reserved");
			if reserved > 0 {
				println!("  the reservation can be released from block {until}");
			}
		},
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	fn account(free: u128, files: &[(u64, u32)]) -> StorageAccount {
		StorageAccount {
			block: 1050,
			period: 10,
			period_blocks: 100,
			grace_periods: 2,
			files: files
				.iter()
				.enumerate()
				.map(|(i, (fee, paid_through))| stratos_chain_client::StoredFile {
					file_id: stratos_primitives::FileId([i as u8; 32]),
					size: 1 << 30,
					paid_through: *paid_through,
					fee: u128::from(*fee) * STOS,
				})
				.collect(),
			free: free * STOS,
		}
	}

	#[test]
	fn status_warns_of_files_close_to_expiry() {
		// Nothing stored: nothing to warn of.
		assert!(storage_report(&account(0, &[])).1.is_empty());
		// 100 periods paid for: quiet.
		let (summary, w) = storage_report(&account(200, &[(1, 10), (1, 11)]));
		assert!(summary.contains("2 files on chain, 2.0000 STOS per storage period"), "{summary}");
		assert!(w.is_empty(), "{w:?}");
		// Two periods left: warned, with the expiry (period 10 + 2 + 2 + 1 = 15 → block 1500).
		let w = storage_report(&account(5, &[(1, 10), (1, 11)])).1;
		assert_eq!(w.len(), 1);
		assert!(
			w[0].contains("only 2 more storage period(s)") && w[0].contains("about 450 blocks"),
			"{w:?}"
		);
		// Fees due and not payable: the oldest unpaid file expires first (period 8 + 3 = 11).
		let w = storage_report(&account(1, &[(1, 9), (1, 8)])).1;
		assert_eq!(w.len(), 1);
		assert!(
			w[0].contains("3.0000 STOS of fees due") && w[0].contains("about 50 blocks"),
			"{w:?}"
		);
	}

	#[test]
	fn stos_amounts_parse_exactly() {
		assert_eq!(parse_stos("10").unwrap(), 10 * STOS);
		assert_eq!(parse_stos("0.5").unwrap(), STOS / 2);
		assert_eq!(parse_stos(".000000000001").unwrap(), 1);
		assert!(parse_stos("1.0000000000001").is_err());
		assert!(parse_stos("x").is_err());
		assert!(parse_stos("").is_err());
	}
}
