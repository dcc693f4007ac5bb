//! Suspension and resumption of resource nodes (whitepaper §3.3 heartbeats), sans-I/O: from
//! the replicated health records (heartbeats through the log, on the leader's clock) every
//! meta node reaches the same verdicts and votes `report_reachability`; the chain suspends
//! or resumes a node when 2/3 of the meta nodes agree.

use crate::index::{Health, HEALTH_TIMEOUT_MS};
use std::collections::BTreeMap;
use stratos_primitives::NodeId;

/// A resource node silent this long is voted unreachable (suspended at quorum). Four health
/// timeouts: a restart or a short network outage does not suspend a node, it only stops
/// being routed to.
pub const SUSPEND_AFTER_MS: u64 = 4 * HEALTH_TIMEOUT_MS;

/// A resource node's status on chain, as far as reachability votes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnChain {
	/// Active: may be suspended.
	Active,
	/// Suspended: may be resumed.
	Suspended,
	/// Unbonding or anything else: no vote.
	Other,
}

/// The votes due at the index's clock `clock_ms`: `(node, reachable)`. A node never heard
/// from counts as silent since `watching_since_ms` (when this meta node started watching).
pub fn reachability_votes(
	nodes: &[(NodeId, OnChain)],
	health: &BTreeMap<NodeId, Health>,
	clock_ms: u64,
	watching_since_ms: u64,
) -> Vec<(NodeId, bool)> {
	nodes
		.iter()
		.filter_map(|(id, status)| {
			let last = health.get(id).map_or(watching_since_ms, |h| h.last_seen_ms);
			let silent = clock_ms.saturating_sub(last);
			match status {
				OnChain::Active if silent > SUSPEND_AFTER_MS => Some((*id, false)),
				OnChain::Suspended if health.contains_key(id) && silent <= HEALTH_TIMEOUT_MS => {
					Some((*id, true))
				},
				_ => None,
			}
		})
		.collect()
}

#[cfg(test)]
mod tests {
	use super::*;

	fn heard(at: u64) -> Health {
		Health { first_seen_ms: 0, last_seen_ms: at, ..Default::default() }
	}

	#[test]
	fn silent_active_nodes_are_suspended_and_heard_suspended_ones_resumed() {
		let (a, b, c, d, e) =
			(NodeId([1; 32]), NodeId([2; 32]), NodeId([3; 32]), NodeId([4; 32]), NodeId([5; 32]));
		let nodes = [
			(a, OnChain::Active),
			(b, OnChain::Active),
			(c, OnChain::Suspended),
			(d, OnChain::Suspended),
			(e, OnChain::Other),
		];
		let now = 10_000_000;
		let health: BTreeMap<NodeId, Health> = [
			(a, heard(now - 1_000)),                 // fine
			(b, heard(now - SUSPEND_AFTER_MS - 1)),  // silent too long
			(c, heard(now - 1_000)),                 // back
			(d, heard(now - HEALTH_TIMEOUT_MS - 1)), // still away
			(e, heard(now - 10 * SUSPEND_AFTER_MS)), // unbonding: nothing to vote
		]
		.into();
		assert_eq!(reachability_votes(&nodes, &health, now, 0), vec![(b, false), (c, true)]);
		// Not silent for long enough yet: only unhealthy (not routed to), not suspended.
		let health: BTreeMap<NodeId, Health> = [(b, heard(now - SUSPEND_AFTER_MS))].into();
		assert_eq!(reachability_votes(&nodes[1..2], &health, now, 0), vec![]);
		// Never heard since this meta node started watching: suspended after the same time.
		assert_eq!(reachability_votes(&nodes[..1], &BTreeMap::new(), now, now - 5_000), vec![]);
		assert_eq!(
			reachability_votes(&nodes[..1], &BTreeMap::new(), now, now - SUSPEND_AFTER_MS - 1),
			vec![(a, false)]
		);
	}
}
