//! Repair (whitepaper §4.2.3–4.2.4), sans-I/O: which recorded files have fewer healthy
//! holders than they should, and which copy orders bring them back — from a healthy holder
//! to a newly routed node — within a bandwidth budget.
//!
//! The plan is a pure function of the index state, the copies already under way (kept in
//! the replicated log, so a new leader neither repeats nor forgets them) and a seed from the
//! log, so every replica computes the same orders. A copy to a node that became unhealthy no
//! longer counts, and the file is planned again to another node. With fewer healthy
//! candidates than needed, the file only raises an alert: nothing is voted.
//!
//! A copy's life, all through the log ([`crate::index::Command`]): `Repair` (the leader, once
//! per finalized block) plans and records the copies, and answers the orders to send (new
//! ones, and ones not confirmed for [`RESEND_MS`], so a leader that took over sends what its
//! predecessor may not have); the source puts the slices to the target under an upload
//! authorisation naming only the target, and the target's signed store acknowledgements
//! come back as `Copied`; when every copy of a file is acknowledged, the file's new holder
//! set (its healthy holders, then the new ones) is fixed in the log and every meta node
//! votes it with `vote_set_holders`; the finalized `HoldersChanged` (`Rehomed`) updates the
//! index, confirms the target's slices (its upload task completes) and lets the holders
//! that left drop theirs.

use crate::{
	routing::{self, Candidate},
	Account,
};
use codec::{Decode, Encode};
use sds_core::meta_api::RepairCounters;
use std::collections::{BTreeMap, BTreeSet};
use stratos_primitives::{meta::UploadAuth, FileId, Hash, NodeId, SliceHash, TaskId};

/// A copy not acknowledged this long after it was ordered is given up and planned again.
pub const COPY_TIMEOUT_MS: u64 = 10 * 60 * 1000;
/// A copy not acknowledged this long after it was last sent is sent again (by whichever
/// meta node leads then; sending twice is harmless, the target stores a slice once).
pub const RESEND_MS: u64 = 30_000;
/// Finalized blocks a copy's authorisation stays valid for (longer than [`COPY_TIMEOUT_MS`] at
/// 1-second blocks, so a resend is never refused as expired).
pub const COPY_AUTH_BLOCKS: u32 = 900;
/// Default bytes of copies under way at once, network-wide (`--repair-budget-mib`).
pub const DEFAULT_BUDGET: u64 = 2 << 30;

/// A copy under way, as the log records it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Copy {
	/// The target's upload task (its store keeps the slices pending under it until the
	/// chain names it a holder).
	pub task: TaskId,
	/// The healthy holder that sends.
	pub source: NodeId,
	/// The newly routed node.
	pub target: NodeId,
	/// Bytes to copy.
	pub bytes: u64,
	/// Ordered at (leader's clock).
	pub started_ms: u64,
	/// Last sent at.
	pub sent_ms: u64,
	/// Last finalized block its authorisation is valid at.
	pub expires_at: u32,
	/// Slices the target acknowledged.
	pub acked: BTreeSet<SliceHash>,
	/// Every slice acknowledged.
	pub done: bool,
}

/// Repair's replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Repairs {
	/// Copies under way per file.
	pub copies: BTreeMap<(Account, FileId), Vec<Copy>>,
	/// Files whose copies are all acknowledged: the holder set the meta nodes vote.
	pub rehome: BTreeMap<(Account, FileId), Vec<NodeId>>,
	/// Counters.
	pub stats: RepairCounters,
	/// Holders that reported losing slices of a file (`SlicesLost`): they stay holders
	/// until the chain names new ones, but count as neither healthy holders, sources nor
	/// download holders of it. Last, so a snapshot written before it existed still decodes
	/// ([`crate::index::State::decode_snapshot`]).
	pub damaged: BTreeMap<(Account, FileId), BTreeSet<NodeId>>,
}

impl Repairs {
	/// Bytes of copies not acknowledged yet.
	pub fn bytes_in_flight(&self) -> u64 {
		self.copies.values().flatten().filter(|c| !c.done).map(|c| c.bytes).sum()
	}

	/// Copies not acknowledged yet.
	pub fn in_flight(&self) -> usize {
		self.copies.values().flatten().filter(|c| !c.done).count()
	}
}

/// An order for the leader to send: `source` puts `slices` to the authorisation's only
/// holder.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Dispatch {
	/// Owner of the file.
	pub owner: Account,
	/// The file.
	pub file_id: FileId,
	/// The authorisation for the target (unsigned: the leader signs it).
	pub auth: UploadAuth,
	/// The sending holder.
	pub source: NodeId,
	/// The slices not acknowledged yet, with their lengths, each once.
	pub slices: Vec<(SliceHash, u64)>,
}

/// A file as repair sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairFile {
	/// Owner.
	pub owner: Account,
	/// File.
	pub file_id: FileId,
	/// Bytes (each new holder needs room for all of them).
	pub size: u64,
	/// Holders recorded on chain.
	pub holders: Vec<NodeId>,
	/// Holders that lost slices of it: not sources, not counted, not targets.
	pub lost: Vec<NodeId>,
	/// Healthy holders it should have.
	pub want: usize,
}

/// Copy a file from `source` to `target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyOrder {
	/// Owner.
	pub owner: Account,
	/// File.
	pub file_id: FileId,
	/// A healthy holder that sends the slices.
	pub source: NodeId,
	/// The newly routed node that stores them and acknowledges.
	pub target: NodeId,
	/// Bytes to copy.
	pub bytes: u64,
}

/// Files repair cannot help now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Alert {
	/// Fewer healthy candidates than the copies needed: the record stays, nothing is voted.
	BelowFloor {
		/// Owner.
		owner: Account,
		/// File.
		file_id: FileId,
		/// Healthy holders (plus copies in flight).
		healthy: u32,
	},
	/// No healthy holder at all: nothing to copy from until one comes back.
	NoSource {
		/// Owner.
		owner: Account,
		/// File.
		file_id: FileId,
	},
}

/// What to do this round.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
	/// Copies to start, most endangered files first.
	pub orders: Vec<CopyOrder>,
	/// Files that need copies beyond this round's budget.
	pub deferred: u32,
	/// Files repair cannot help now.
	pub alerts: Vec<Alert>,
}

/// Plans the copies that bring every file back to its `want` healthy holders. `in_flight`
/// maps a file to the targets copies are under way to; `budget` bounds the bytes ordered
/// this round (the first order always goes, so a file larger than the budget still heals).
pub fn plan(
	files: &[RepairFile],
	is_healthy: impl Fn(&NodeId) -> bool,
	candidates: &[Candidate],
	in_flight: &BTreeMap<(Account, FileId), Vec<NodeId>>,
	budget: u64,
	seed: &Hash,
) -> Plan {
	let mut out = Plan::default();
	// (healthy count, file) for the files short of copies, most endangered first.
	let mut short: Vec<(usize, &RepairFile, Vec<NodeId>)> = Vec::new();
	for f in files {
		let healthy: Vec<NodeId> =
			f.holders.iter().filter(|h| is_healthy(h) && !f.lost.contains(h)).copied().collect();
		let coming = in_flight
			.get(&(f.owner, f.file_id))
			.map_or(0, |t| t.iter().filter(|n| is_healthy(n) && !f.holders.contains(n)).count());
		if healthy.len() + coming >= f.want {
			continue;
		}
		if healthy.is_empty() {
			out.alerts.push(Alert::NoSource { owner: f.owner, file_id: f.file_id });
			continue;
		}
		short.push((healthy.len() + coming, f, healthy));
	}
	short.sort_by(|a, b| {
		a.0.cmp(&b.0).then((a.1.owner, a.1.file_id).cmp(&(b.1.owner, b.1.file_id)))
	});
	let mut spent = 0u64;
	for (have, f, healthy) in short {
		let need = f.want - have;
		if !out.orders.is_empty()
			&& spent.saturating_add(f.size.saturating_mul(need as u64)) > budget
		{
			out.deferred += 1;
			continue;
		}
		let taken: BTreeSet<NodeId> = f
			.holders
			.iter()
			.chain(in_flight.get(&(f.owner, f.file_id)).into_iter().flatten())
			.copied()
			.collect();
		let pool: Vec<Candidate> =
			candidates.iter().filter(|c| !taken.contains(&c.id)).cloned().collect();
		let mut file_seed = seed.to_vec();
		file_seed.extend_from_slice(&f.owner);
		file_seed.extend_from_slice(&f.file_id.0);
		let targets = match routing::choose_holders(
			&pool,
			need,
			f.size,
			&stratos_primitives::hash(&file_seed),
		) {
			Ok(t) => t,
			Err(_) => {
				out.alerts.push(Alert::BelowFloor {
					owner: f.owner,
					file_id: f.file_id,
					healthy: have as u32,
				});
				continue;
			},
		};
		for (i, target) in targets.into_iter().enumerate() {
			// Spread the sending over the healthy holders.
			let source = healthy[i % healthy.len()];
			out.orders.push(CopyOrder {
				owner: f.owner,
				file_id: f.file_id,
				source,
				target,
				bytes: f.size,
			});
			spent = spent.saturating_add(f.size);
		}
	}
	out
}

#[cfg(test)]
mod tests {
	use super::*;

	const MIB: u64 = 1 << 20;

	fn node(i: u8) -> NodeId {
		NodeId([i; 32])
	}

	fn cand(i: u8) -> Candidate {
		Candidate {
			id: node(i),
			account: [i; 32],
			region: format!("r{}", i % 3),
			free: 100 << 30,
			uptime_permille: 1000,
			connections: 0,
			recent_errors: 0,
		}
	}

	fn file(k: u8, holders: &[u8], size: u64) -> RepairFile {
		RepairFile {
			owner: [9; 32],
			file_id: FileId([k; 32]),
			size,
			holders: holders.iter().map(|h| node(*h)).collect(),
			lost: Vec::new(),
			want: 3,
		}
	}

	#[test]
	fn a_dead_holder_gets_each_of_its_files_one_copy_from_a_healthy_holder() {
		let dead = node(1);
		let files = [
			file(1, &[1, 2, 3], 10 * MIB),
			file(2, &[2, 3, 4], 10 * MIB),
			file(3, &[1, 4, 5], MIB),
		];
		let cands: Vec<Candidate> = (2..=8).map(cand).collect();
		let healthy = |n: &NodeId| *n != dead;
		let p = plan(&files, healthy, &cands, &BTreeMap::new(), u64::MAX, &[0; 32]);
		assert_eq!(p.orders.len(), 2, "{p:?}");
		for o in &p.orders {
			let f = files.iter().find(|f| f.file_id == o.file_id).unwrap();
			assert!(f.holders.contains(&o.source) && o.source != dead);
			assert!(!f.holders.contains(&o.target), "a new node");
		}
		assert!(p.alerts.is_empty());
		// Every replica plans the same; another seed may pick other targets.
		assert_eq!(plan(&files, healthy, &cands, &BTreeMap::new(), u64::MAX, &[0; 32]), p);
	}

	#[test]
	fn the_budget_bounds_a_round_and_the_most_endangered_file_goes_first() {
		let files = [file(1, &[1, 2, 3], 64 * MIB), file(2, &[1, 2, 4], 64 * MIB)];
		let cands: Vec<Candidate> = (5..=9).map(cand).collect();
		// File 2 lost two holders, file 1 one.
		let healthy = |n: &NodeId| ![node(1), node(4)].contains(n);
		let p = plan(&files, healthy, &cands, &BTreeMap::new(), 100 * MIB, &[0; 32]);
		assert!(p.orders.iter().all(|o| o.file_id == FileId([2; 32])), "{p:?}");
		assert_eq!(p.orders.len(), 2);
		assert_eq!(p.deferred, 1);
		// A budget below one file still lets the first order go.
		let p = plan(&files, healthy, &cands, &BTreeMap::new(), MIB, &[0; 32]);
		assert_eq!(p.orders.len(), 2);
	}

	#[test]
	fn copies_in_flight_count_once_and_a_target_lost_mid_repair_is_replaced() {
		let files = [file(1, &[1, 2, 3], MIB)];
		let cands: Vec<Candidate> = (2..=8).map(cand).collect();
		let first = plan(&files, |n| *n != node(1), &cands, &BTreeMap::new(), u64::MAX, &[0; 32]);
		let target = first.orders[0].target;
		let in_flight: BTreeMap<_, _> = [(([9; 32], FileId([1; 32])), vec![target])].into();
		// A new leader (same log) orders nothing more while the copy is under way.
		let again = plan(&files, |n| *n != node(1), &cands, &in_flight, u64::MAX, &[1; 32]);
		assert!(again.orders.is_empty(), "{again:?}");
		// The target dies mid-repair: the file is planned again, to another node.
		let lost = |n: &NodeId| *n != node(1) && *n != target;
		let cands2: Vec<Candidate> = cands.iter().filter(|c| c.id != target).cloned().collect();
		let replan = plan(&files, lost, &cands2, &in_flight, u64::MAX, &[0; 32]);
		assert_eq!(replan.orders.len(), 1);
		assert_ne!(replan.orders[0].target, target);
	}

	#[test]
	fn below_the_floor_only_alerts_and_no_source_is_reported() {
		let files = [file(1, &[1, 2, 3], MIB), file(2, &[4, 5, 6], MIB)];
		// Only node 2 is healthy, and there is no other candidate.
		let healthy = |n: &NodeId| *n == node(2);
		let p = plan(&files, healthy, &[cand(2)], &BTreeMap::new(), u64::MAX, &[0; 32]);
		assert!(p.orders.is_empty());
		assert_eq!(
			p.alerts,
			vec![
				Alert::NoSource { owner: [9; 32], file_id: FileId([2; 32]) },
				Alert::BelowFloor { owner: [9; 32], file_id: FileId([1; 32]), healthy: 1 },
			]
		);
	}
}
