//! The "does this exist" filter in front of the index (whitepaper §4.1.2): a Bloom filter
//! over (owner, path) keys. A miss is certain and answers without touching the index; a hit
//! is checked against it.
//!
//! Bloom filters cannot delete, so removals are counted and the filter is rebuilt from the
//! index once they pass a quarter of the keys, or when the keys outgrow the filter's sizing;
//! a rebuild keeps the false-positive rate at its target. The filter is derived state: it is
//! never in the log or a snapshot, and every replica rebuilds it from its own index.

use fastbloom::BloomFilter;
use std::hash::Hash;

/// Target false-positive rate.
pub const FALSE_POSITIVE_RATE: f64 = 0.01;
const MIN_CAPACITY: usize = 1024;

/// A rebuildable Bloom filter over keys of type `K`.
pub struct ExistenceFilter {
	filter: BloomFilter,
	capacity: usize,
	live: usize,
	removed: usize,
}

impl ExistenceFilter {
	/// An empty filter sized for `capacity` keys.
	pub fn with_capacity(capacity: usize) -> Self {
		let capacity = capacity.max(MIN_CAPACITY);
		Self {
			filter: BloomFilter::with_false_pos(FALSE_POSITIVE_RATE)
				.seed(&0x5742_4154_4f53)
				.expected_items(capacity),
			capacity,
			live: 0,
			removed: 0,
		}
	}

	/// A filter holding `keys`.
	pub fn build<'a, K: Hash + 'a>(keys: impl ExactSizeIterator<Item = &'a K>) -> Self {
		let mut f = Self::with_capacity(keys.len() * 2);
		for k in keys {
			f.filter.insert(k);
			f.live += 1;
		}
		f
	}

	/// Whether `key` may exist (`false` is certain).
	pub fn may_contain<K: Hash + ?Sized>(&self, key: &K) -> bool {
		self.filter.contains(key)
	}

	/// Notes a new key. Returns `true` when the filter should be rebuilt (it outgrew its
	/// sizing).
	#[must_use]
	pub fn insert<K: Hash + ?Sized>(&mut self, key: &K) -> bool {
		self.filter.insert(key);
		self.live += 1;
		self.live > self.capacity
	}

	/// Notes a removed key. Returns `true` when the filter should be rebuilt.
	#[must_use]
	pub fn remove(&mut self) -> bool {
		self.live = self.live.saturating_sub(1);
		self.removed += 1;
		self.removed > self.live / 4 + MIN_CAPACITY / 4
	}

	/// Keys the filter counts as present.
	pub fn len(&self) -> usize {
		self.live
	}

	/// Whether it holds no key.
	pub fn is_empty(&self) -> bool {
		self.live == 0
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn no_false_negatives_and_a_low_false_positive_rate() {
		let keys: Vec<u64> = (0..20_000).collect();
		let f = ExistenceFilter::build(keys.iter());
		assert!(keys.iter().all(|k| f.may_contain(k)));
		let fp = (1_000_000u64..1_100_000).filter(|k| f.may_contain(k)).count();
		// Built at twice the keys, the rate is well under the 1 % target.
		assert!(fp < 1_000, "{fp} false positives in 100,000");
	}

	#[test]
	fn asks_for_a_rebuild_after_many_removals_or_growth() {
		let mut f = ExistenceFilter::with_capacity(2000);
		for k in 0..2000u32 {
			assert!(!f.insert(&k));
		}
		assert!(f.insert(&5000u32), "past its sizing");
		let mut asked = false;
		for _ in 0..1000 {
			asked |= f.remove();
		}
		assert!(asked);
	}
}
