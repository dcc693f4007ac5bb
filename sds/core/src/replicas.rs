//! Choosing the replica to read a slice from.
//!
//! Reads go to a replica chosen at random (whitepaper §3.2.2: a client must not pick the
//! node that earns from its traffic); when one fails — unreachable, missing the slice, or
//! bytes that do not verify — the next untried replica is chosen at random, until none is
//! left.

use rand::{seq::SliceRandom, Rng};

/// The replicas not yet tried for one slice, in a random order.
#[derive(Clone, Debug)]
pub struct ReplicaPicker<T> {
	order: Vec<T>,
	failed: Vec<(T, String)>,
}

impl<T: Clone> ReplicaPicker<T> {
	/// Shuffles `replicas` with `rng`.
	pub fn new(mut replicas: Vec<T>, rng: &mut impl Rng) -> Self {
		replicas.shuffle(rng);
		replicas.reverse();
		Self { order: replicas, failed: Vec::new() }
	}

	/// The next replica to try, or `None` when all have failed.
	pub fn next_replica(&mut self) -> Option<T> {
		self.order.pop()
	}

	/// Records that `replica` failed and why.
	pub fn failed(&mut self, replica: T, why: impl Into<String>) {
		self.failed.push((replica, why.into()));
	}

	/// Replicas that failed, with the reasons, in order.
	pub fn failures(&self) -> &[(T, String)] {
		&self.failed
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use rand::SeedableRng;

	#[test]
	fn every_replica_is_tried_once_then_none() {
		let mut rng = rand::rngs::StdRng::seed_from_u64(1);
		let mut p = ReplicaPicker::new(vec![1, 2, 3], &mut rng);
		let mut seen = vec![];
		while let Some(r) = p.next_replica() {
			p.failed(r, "down");
			seen.push(r);
		}
		seen.sort();
		assert_eq!(seen, vec![1, 2, 3]);
		assert_eq!(p.failures().len(), 3);
	}

	#[test]
	fn the_first_choice_is_spread_over_replicas() {
		let mut rng = rand::rngs::StdRng::seed_from_u64(7);
		let mut counts = [0u32; 3];
		for _ in 0..3000 {
			let mut p = ReplicaPicker::new(vec![0usize, 1, 2], &mut rng);
			counts[p.next_replica().unwrap()] += 1;
		}
		for c in counts {
			assert!((800..1200).contains(&c), "{counts:?}");
		}
	}
}
