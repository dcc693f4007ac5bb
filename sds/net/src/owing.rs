//! Who owes this node a countersignature (sans-I/O).
//!
//! A node serves a get, sends its signed receipt, and waits for the client's
//! countersignature. A client that takes the data and never countersigns is not served
//! again until it settles. The book is aimed only where it is proven: a ticketed get names
//! its client with the client's signature, so the client's account is listed; a get without
//! a ticket names nobody provably, so the peer (its transport identity) is listed instead.
//! Entries expire, the book is bounded, and a client settles later by sending the
//! countersigned receipts (`Frame::Settle`).

use libp2p::PeerId;
use std::{
	collections::HashMap,
	time::{Duration, Instant},
};
use stratos_primitives::receipt::{SignedReceipt, TaskReceipt};

/// Who owes a countersignature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Debtor {
	/// A client account, proven by its signature on the request.
	Client([u8; 32]),
	/// A peer whose request named no provable client.
	Peer(PeerId),
}

/// Most receipts remembered per debtor (older ones are dropped: the debtor stays listed).
pub const MAX_OWED_RECEIPTS: usize = 64;

struct Owed {
	since: Instant,
	receipts: Vec<(TaskReceipt, [u8; 64])>,
}

/// The debtors of one node.
pub struct OwingBook {
	entries: HashMap<Debtor, Owed>,
	ttl: Duration,
	cap: usize,
}

impl OwingBook {
	/// A book whose entries expire after `ttl`, holding at most `cap` debtors (the oldest
	/// is forgotten first).
	pub fn new(ttl: Duration, cap: usize) -> Self {
		Self { entries: HashMap::new(), ttl, cap: cap.max(1) }
	}

	fn expire(&mut self, d: &Debtor, now: Instant) {
		if self.entries.get(d).is_some_and(|o| now.duration_since(o.since) >= self.ttl) {
			self.entries.remove(d);
		}
	}

	/// Whether `d` owes a countersignature (an expired entry is forgotten here).
	pub fn owes(&mut self, d: &Debtor, now: Instant) -> bool {
		self.expire(d, now);
		self.entries.contains_key(d)
	}

	/// Lists `d` as owing the countersignature of `receipt`.
	pub fn add(&mut self, d: Debtor, receipt: TaskReceipt, node_signature: [u8; 64], now: Instant) {
		self.expire(&d, now);
		if !self.entries.contains_key(&d) && self.entries.len() >= self.cap {
			let ttl = self.ttl;
			self.entries.retain(|_, o| now.duration_since(o.since) < ttl);
			if self.entries.len() >= self.cap {
				let oldest = self.entries.iter().min_by_key(|(_, o)| o.since).map(|(k, _)| *k);
				if let Some(k) = oldest {
					self.entries.remove(&k);
				}
			}
		}
		let owed = self.entries.entry(d).or_insert(Owed { since: now, receipts: Vec::new() });
		owed.since = now;
		if owed.receipts.len() >= MAX_OWED_RECEIPTS {
			owed.receipts.remove(0);
		}
		owed.receipts.push((receipt, node_signature));
	}

	/// Settles one outstanding receipt of `d` with its countersigned form (the caller has
	/// verified the signatures). Returns whether it was outstanding; `d` is forgotten once
	/// it owes nothing.
	pub fn settle(&mut self, d: &Debtor, signed: &SignedReceipt) -> bool {
		let Some(owed) = self.entries.get_mut(d) else { return false };
		let before = owed.receipts.len();
		owed.receipts.retain(|(r, sig)| !(r == &signed.receipt && sig == &signed.node_signature));
		let settled = owed.receipts.len() < before;
		if owed.receipts.is_empty() {
			self.entries.remove(d);
		}
		settled
	}

	/// Receipts `d` still owes.
	pub fn outstanding(&self, d: &Debtor) -> usize {
		self.entries.get(d).map_or(0, |o| o.receipts.len())
	}

	/// Debtors listed.
	#[cfg(test)]
	pub fn len(&self) -> usize {
		self.entries.len()
	}

	/// Whether nobody is listed.
	#[cfg(test)]
	pub fn is_empty(&self) -> bool {
		self.entries.is_empty()
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use stratos_primitives::{NodeId, SliceHash, TaskId};

	fn receipt(n: u8) -> (TaskReceipt, [u8; 64]) {
		let r = TaskReceipt {
			genesis_hash: [0; 32],
			ledger_period: 1,
			task_id: TaskId([n; 32]),
			client: [1; 32],
			node: NodeId([2; 32]),
			slice: SliceHash([3; 32]),
			offset: 0,
			length: 10,
		};
		(r, [n; 64])
	}

	fn signed(n: u8) -> SignedReceipt {
		let (receipt, node_signature) = receipt(n);
		SignedReceipt { receipt, node_signature, client_signature: [9; 64] }
	}

	#[test]
	fn settling_every_receipt_clears_the_debtor() {
		let mut b = OwingBook::new(Duration::from_secs(60), 10);
		let (d, now) = (Debtor::Client([1; 32]), Instant::now());
		b.add(d, receipt(1).0, receipt(1).1, now);
		b.add(d, receipt(2).0, receipt(2).1, now);
		assert!(b.owes(&d, now));
		assert!(!b.settle(&d, &signed(3)), "not outstanding");
		assert!(b.settle(&d, &signed(1)));
		assert!(b.owes(&d, now));
		assert_eq!(b.outstanding(&d), 1);
		assert!(b.settle(&d, &signed(2)));
		assert!(!b.owes(&d, now));
		assert!(!b.settle(&d, &signed(2)), "settled once");
	}

	#[test]
	fn entries_expire() {
		let mut b = OwingBook::new(Duration::from_secs(60), 10);
		let (d, now) = (Debtor::Client([1; 32]), Instant::now());
		b.add(d, receipt(1).0, receipt(1).1, now);
		assert!(b.owes(&d, now + Duration::from_secs(59)));
		assert!(!b.owes(&d, now + Duration::from_secs(60)));
		assert!(b.is_empty());
	}

	#[test]
	fn the_book_is_bounded_and_forgets_the_oldest() {
		let mut b = OwingBook::new(Duration::from_secs(3600), 3);
		let now = Instant::now();
		for i in 0..5u8 {
			b.add(
				Debtor::Client([i; 32]),
				receipt(i).0,
				receipt(i).1,
				now + Duration::from_secs(i.into()),
			);
		}
		assert_eq!(b.len(), 3);
		let later = now + Duration::from_secs(10);
		assert!(!b.owes(&Debtor::Client([0; 32]), later));
		assert!(!b.owes(&Debtor::Client([1; 32]), later));
		assert!(b.owes(&Debtor::Client([4; 32]), later));
		// Receipts per debtor are bounded too; the debtor stays listed.
		let d = Debtor::Client([7; 32]);
		for i in 0..(MAX_OWED_RECEIPTS + 5) {
			b.add(d, receipt(i as u8).0, receipt(i as u8).1, later);
		}
		assert_eq!(b.outstanding(&d), MAX_OWED_RECEIPTS);
	}
}
