//! The quorum rule shared by every vote of the meta nodes (upload completion, holder
//! changes, suspensions, traffic reports, meta-node endorsements).
//!
//! A proposal is accepted when `3 · votes ≥ 2 · n`, where `n` is the size of the active
//! meta-node set **snapshotted when the vote opened** (so nodes joining or leaving during
//! the vote cannot move the threshold). An empty set never reaches quorum.

/// Whether `votes` distinct members out of a snapshot of `members` reach the 2/3 quorum.
///
/// Votes above `members` are a caller bug; they are counted as `members`.
pub const fn quorum_reached(votes: u32, members: u32) -> bool {
	if members == 0 {
		return false;
	}
	let votes = if votes > members { members } else { votes };
	3 * votes as u64 >= 2 * members as u64
}

/// The smallest number of votes that reaches quorum among `members` (0 for an empty set,
/// which can never reach quorum).
pub const fn quorum_threshold(members: u32) -> u32 {
	// ceil(2n / 3)
	((2 * members as u64).div_ceil(3)) as u32
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn small_sets() {
		assert!(!quorum_reached(0, 0));
		assert!(quorum_reached(1, 1));
		assert!(!quorum_reached(1, 2));
		assert!(quorum_reached(2, 2));
		assert!(quorum_reached(2, 3));
		assert!(!quorum_reached(1, 3));
		assert!(!quorum_reached(2, 4));
		assert!(quorum_reached(3, 4));
		assert!(quorum_reached(67, 100));
		assert!(!quorum_reached(66, 100));
	}

	#[test]
	fn threshold_is_the_smallest_accepted_count() {
		for n in 1..=300u32 {
			let t = quorum_threshold(n);
			assert!(quorum_reached(t, n), "n={n} t={t}");
			assert!(!quorum_reached(t - 1, n), "n={n} t={t}");
		}
		assert!(quorum_reached(u32::MAX, u32::MAX));
	}
}
