//! The reporter (every meta node): after the cut-off entry closed a period in the log, build
//! the period's report from the replicated books and the traffic the chain carries, then
//! commit, reveal and (if it falls to this node) stream it, following
//! [`crate::reporting::step`] at every finalized block. On the leader it first writes the
//! cut-off: once the chain opened a report and the receipt flush interval passed, it
//! appends [`Command::CutOff`] (one read of the PoT state per block serves both).

use super::service::ReportStatus;
use crate::{
	audit::{self, BuiltReport},
	index::Command,
	raft::{FinalizedBlock, Replica},
	reporting::{self, OnChain, Progress, Step},
};
use std::{
	collections::BTreeMap,
	time::{Duration, Instant},
};
use stratos_chain_client::{ChainClient, PotAt};
use stratos_primitives::Hash;
use subxt_signer::sr25519::Keypair;
use tokio::sync::watch;

/// How long the leader waits after it sees a report open before it cuts the period off: a
/// little longer than resource nodes take to deliver receipts
/// (`stratos-rn`'s `RECEIPTS_EVERY`, 2 s), so traffic served up to the period's end counts.
pub const CUT_OFF_DELAY: Duration = Duration::from_secs(4);

/// The leader's part: cut off the period whose report the chain opened, once the receipts
/// of its last moments had time to arrive. `seen` keeps when each open report was first
/// seen (local: a new leader waits the delay again).
pub async fn cut_off(
	replica: &Replica,
	pot: &PotAt,
	seen: &mut BTreeMap<u32, Instant>,
) -> anyhow::Result<()> {
	if pot.report.is_none() {
		return Ok(());
	}
	let period = pot.next_period;
	let closed = replica.read(0, |idx| idx.state().books.closed_below > period).await?;
	if closed {
		seen.retain(|p, _| *p > period);
		return Ok(());
	}
	let first = *seen.entry(period).or_insert_with(Instant::now);
	if first.elapsed() >= CUT_OFF_DELAY {
		replica.write(Command::CutOff { period }).await?.1?;
		tracing::info!(period, "receipts of the period cut off; building its report");
	}
	Ok(())
}

/// The salt this node commits with for `period`: a hash of its (deterministic) ed25519
/// signature over the period, so a restarted node reveals without having stored anything,
/// and nobody else can compute it before the reveal.
pub fn salt(node_key: &sds_net::Keypair, genesis: &Hash, period: u32) -> Hash {
	let mut msg = b"stratos/report-salt/v1".to_vec();
	msg.extend_from_slice(genesis);
	msg.extend_from_slice(&period.to_le_bytes());
	let sig = node_key.sign(&msg).expect("ed25519 signing does not fail");
	stratos_primitives::hash(&sig)
}

/// Runs the reporter until the block stream ends.
pub async fn report_loop(
	chain: ChainClient,
	replica: Replica,
	account: Keypair,
	node_key: sds_net::Keypair,
	status: ReportStatus,
	mut blocks: watch::Receiver<FinalizedBlock>,
) {
	let me: [u8; 32] = account.public_key().0;
	let genesis = chain.genesis_hash();
	let mut built: BTreeMap<u32, BuiltReport> = BTreeMap::new();
	let mut progress: BTreeMap<u32, Progress> = BTreeMap::new();
	let mut opened: BTreeMap<u32, Instant> = BTreeMap::new();
	let set = |p: u32, digest: Option<Hash>, s: String| {
		status.lock().expect("report status lock").insert(p, (digest, s));
	};
	while blocks.changed().await.is_ok() {
		let b = *blocks.borrow_and_update();
		let pot = match chain.pot_at(b.hash).await {
			Ok(p) => p,
			Err(e) => {
				tracing::warn!(error = %e, "cannot read the PoT report state");
				continue;
			},
		};
		if replica.state() == openraft::ServerState::Leader {
			if let Err(e) = cut_off(&replica, &pot, &mut opened).await {
				tracing::warn!(error = %e, "cannot write the cut-off");
			}
		}
		let period = pot.next_period;
		// Periods before the open one are over on chain.
		for (p, (_, s)) in status.lock().expect("report status lock").iter_mut() {
			if *p < period && !s.starts_with("done") {
				*s = format!("done ({s})");
			}
		}
		built.retain(|p, _| *p >= period);
		progress.retain(|p, _| *p >= period);
		let Some(report) = pot.report.as_ref() else { continue };
		let (closed, book) = match replica
			.read(0, |idx| {
				let books = &idx.state().books;
				(books.closed_below > period, books.periods.get(&period).cloned())
			})
			.await
		{
			Ok(x) => x,
			Err(e) => {
				tracing::debug!(error = %e, "cannot read the books");
				continue;
			},
		};
		if !closed {
			set(period, None, "open on chain; waiting for the cut-off".into());
			continue;
		}
		if let std::collections::btree_map::Entry::Vacant(slot) = built.entry(period) {
			let carried = match chain.carried_at(b.hash).await {
				Ok(c) => c,
				Err(e) => {
					tracing::warn!(error = %e, "cannot read the carried traffic");
					continue;
				},
			};
			let chunk_size = pot.chunk_size.unwrap_or(1) as usize;
			let r = audit::build_report(&genesis, period, book.as_ref(), &carried, chunk_size);
			tracing::info!(
				period,
				digest = %hex::encode(r.chunked.digest),
				nodes = r.nodes.len(),
				clients = r.clients.len(),
				chunks = r.chunked.chunks.len(),
				"report built"
			);
			slot.insert(r);
		}
		let r = &built[&period];
		let digest = r.chunked.digest;
		let on_chain = OnChain {
			electorate: report.electorate.iter().map(|a| a.0).collect(),
			commits: report.commits.iter().map(|a| a.0).collect(),
			reveals: report.reveals.iter().map(|(a, d)| (a.0, *d)).collect(),
			commit_until: report.commit_until,
			reveal_until: report.reveal_until,
			stream: report.stream,
		};
		let chunks = r.chunked.chunks.len() as u32;
		let prog = progress.entry(period).or_default();
		let step = reporting::step(&me, period, &on_chain, b.number, &digest, chunks, prog);
		let salt = salt(&node_key, &genesis, period);
		match step {
			Step::Wait(why) => set(period, Some(digest), why.into()),
			Step::Commit => match chain.commit_report(&account, period, &digest, &salt).await {
				Ok(()) => set(period, Some(digest), "committed".into()),
				Err(e) => tracing::warn!(period, error = %e, "commit refused"),
			},
			Step::Reveal => match chain.reveal_report(&account, period, &digest, &salt).await {
				Ok(accepted) => {
					let s = if accepted { "revealed; accepted" } else { "revealed" };
					set(period, Some(digest), s.into());
				},
				Err(e) => tracing::warn!(period, error = %e, "reveal refused"),
			},
			Step::Stream { from } => {
				set(period, Some(digest), format!("streaming from chunk {from} of {chunks}"));
				match chain.submit_report(&account, period, &r.chunked, from as usize).await {
					Ok(summary) => {
						tracing::info!(period, status = ?summary.status, "report streamed");
						set(period, Some(digest), format!("streamed {chunks} chunks"));
					},
					Err(e) => tracing::warn!(period, error = %e, "streaming stopped"),
				}
			},
		}
	}
}
