//! Choosing a file's holders (whitepaper §4.1.4, §2.4.3 offsite backup).
//!
//! Only nodes that are active on the finalized chain, healthy in the index and have room
//! are candidates. Holders are drawn one by one, each with probability proportional to a
//! weight that grows with free space and uptime and shrinks with open connections and
//! recent errors; each draw first looks among nodes whose region *and* operator account are
//! not used yet, then among those with an unused account, then among the rest. The draw is
//! integer-only and seeded from the log (entry index and finalized block hash), so every
//! replica that applies the same entry picks the same holders.

use crate::{Account, Error, Result};
use stratos_primitives::{Hash, NodeId};

/// What routing knows of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
	/// The node.
	pub id: NodeId,
	/// Its operator's account.
	pub account: Account,
	/// Its region label.
	pub region: String,
	/// Free bytes it reported.
	pub free: u64,
	/// Share of the recent heartbeat intervals it was heard in, in thousandths.
	pub uptime_permille: u32,
	/// Connections it reported.
	pub connections: u32,
	/// Errors counted against it recently.
	pub recent_errors: u32,
}

impl Candidate {
	/// The draw weight (at least 1 for any candidate with room).
	pub fn weight(&self) -> u128 {
		// Free space in MiB, capped at 16 TiB so one huge node does not take everything.
		let space = (self.free >> 20).clamp(1, 16 << 20) as u128;
		let uptime = self.uptime_permille.clamp(1, 1000) as u128;
		let load = 8 + self.connections as u128;
		let errors = 1 + self.recent_errors as u128;
		(space * uptime * 8 / load / errors).max(1)
	}
}

fn draw(seed: &Hash, round: u32, total: u128) -> u128 {
	let mut input = Vec::with_capacity(32 + 4 + 16);
	input.extend_from_slice(b"stratos/route/v1");
	input.extend_from_slice(seed);
	input.extend_from_slice(&round.to_le_bytes());
	let h = stratos_primitives::hash(&input);
	let mut top = [0u8; 16];
	top.copy_from_slice(&h[..16]);
	u128::from_be_bytes(top) % total
}

/// Picks `count` distinct holders able to take `bytes` each, from `candidates`.
pub fn choose_holders(
	candidates: &[Candidate],
	count: usize,
	bytes: u64,
	seed: &Hash,
) -> Result<Vec<NodeId>> {
	let mut pool: Vec<&Candidate> = candidates.iter().filter(|c| c.free >= bytes).collect();
	pool.sort_by_key(|a| a.id);
	pool.dedup_by(|a, b| a.id == b.id);
	if pool.len() < count {
		return Err(Error::NotEnoughNodes { need: count as u32, have: pool.len() as u32 });
	}
	let mut chosen: Vec<&Candidate> = Vec::with_capacity(count);
	for round in 0..count as u32 {
		let fresh_region_and_account =
			|c: &&Candidate| !chosen.iter().any(|h| h.region == c.region || h.account == c.account);
		let fresh_account = |c: &&Candidate| !chosen.iter().any(|h| h.account == c.account);
		let unused = |c: &&Candidate| !chosen.iter().any(|h| h.id == c.id);
		let tiers: [Vec<&Candidate>; 3] = [
			pool.iter().copied().filter(fresh_region_and_account).collect(),
			pool.iter().copied().filter(fresh_account).collect(),
			pool.iter().copied().filter(unused).collect(),
		];
		let tier = tiers.iter().find(|t| !t.is_empty()).expect("pool has more than chosen");
		let total: u128 = tier.iter().map(|c| c.weight()).sum();
		let mut r = draw(seed, round, total);
		let pick = tier
			.iter()
			.find(|c| {
				let w = c.weight();
				if r < w {
					true
				} else {
					r -= w;
					false
				}
			})
			.expect("r < total");
		chosen.push(pick);
	}
	Ok(chosen.into_iter().map(|c| c.id).collect())
}

#[cfg(test)]
mod tests {
	use super::*;

	fn cand(i: u8, region: &str, account: u8, free_gib: u64) -> Candidate {
		Candidate {
			id: NodeId([i; 32]),
			account: [account; 32],
			region: region.into(),
			free: free_gib << 30,
			uptime_permille: 1000,
			connections: 0,
			recent_errors: 0,
		}
	}

	#[test]
	fn deterministic_distinct_and_offsite_first() {
		let c = vec![
			cand(1, "eu", 1, 10),
			cand(2, "eu", 2, 10),
			cand(3, "us", 3, 10),
			cand(4, "asia", 4, 10),
			cand(5, "us", 5, 10),
		];
		for s in 0..50u8 {
			let h = choose_holders(&c, 3, 1 << 20, &[s; 32]).unwrap();
			assert_eq!(h, choose_holders(&c, 3, 1 << 20, &[s; 32]).unwrap());
			let regions: std::collections::BTreeSet<_> =
				h.iter().map(|id| &c.iter().find(|x| x.id == *id).unwrap().region).collect();
			assert_eq!(regions.len(), 3, "three regions exist, so three are used");
		}
	}

	#[test]
	fn one_operator_with_many_nodes_gets_one_copy_when_others_exist() {
		let mut c: Vec<_> = (10..20).map(|i| cand(i, "eu", 1, 10)).collect();
		c.push(cand(1, "eu", 2, 10));
		c.push(cand(2, "eu", 3, 10));
		for s in 0..30u8 {
			let h = choose_holders(&c, 3, 1, &[s; 32]).unwrap();
			assert!(h.contains(&NodeId([1; 32])) && h.contains(&NodeId([2; 32])), "{h:?}");
		}
	}

	#[test]
	fn full_nodes_are_never_chosen_and_shortage_is_an_error() {
		let c = vec![cand(1, "a", 1, 1), cand(2, "b", 2, 1), cand(3, "c", 3, 0)];
		let e = choose_holders(&c, 3, 1 << 20, &[0; 32]).unwrap_err();
		assert!(matches!(e, Error::NotEnoughNodes { need: 3, have: 2 }), "{e}");
	}

	#[test]
	fn weight_follows_space_uptime_load_and_errors() {
		let base = cand(1, "a", 1, 100);
		let mut flaky = base.clone();
		flaky.recent_errors = 9;
		let mut busy = base.clone();
		busy.connections = 56;
		let mut small = base.clone();
		small.free = 1 << 30;
		for worse in [flaky, busy, small] {
			assert!(worse.weight() * 5 < base.weight(), "{worse:?}");
		}
		// The draw follows the weights: a node with 9x the weight is picked about 9x as often.
		let c = vec![cand(1, "a", 1, 90), cand(2, "a", 1, 10)];
		let heavy = (0..2000u32)
			.filter(|s| {
				let seed = stratos_primitives::hash(&s.to_le_bytes());
				choose_holders(&c, 1, 1, &seed).unwrap()[0] == NodeId([1; 32])
			})
			.count();
		assert!((1700..1900).contains(&heavy), "{heavy}");
	}
}
