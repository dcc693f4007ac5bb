//! Proof-of-Traffic formats and arithmetic shared by the meta nodes (which compute and
//! commit to a period's report) and the PoT pallet (which checks and settles it), per
//! `docs/adr/0010-proof-of-traffic.md`.
//!
//! * [`ReportDigest`]: the hash chain over a period's report entries, checkable entry by
//!   entry while a report is streamed in chunks;
//! * [`commitment`]: what a meta node commits to before revealing its digest;
//! * [`ranks_before`]: the order of resource nodes (accumulated traffic descending, then node
//!   id ascending);
//! * [`settle`]: the pro-rata split of a period's issuance among the top nodes, with the
//!   wash-traffic caps, in integer arithmetic that creates and loses nothing.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::{hash, Hash, NodeId};

/// Domain tag of a report digest.
pub const REPORT_TAG: &[u8] = b"stratos/traffic-report/v1";
/// Domain tag of a report commitment.
pub const COMMIT_TAG: &[u8] = b"stratos/traffic-commit/v1";

/// Bytes a resource node served in a period, as a report lists it.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct NodeTraffic {
	/// The serving node.
	pub node: NodeId,
	/// Bytes served in the period (receipts matched against issued tasks).
	pub bytes: u64,
}

/// Bytes a client downloaded in a period, as a report lists it.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct ClientTraffic {
	/// The client's account (sr25519 public key).
	pub client: [u8; 32],
	/// Bytes downloaded in the period.
	pub bytes: u64,
}

/// The running digest of a period's report: `d₀ = H(tag ‖ genesis ‖ period)`, then
/// `dᵢ = H(dᵢ₋₁ ‖ kind ‖ entryᵢ)` for each node entry (kind 1) and client entry (kind 2) in
/// report order. Constant memory, so the chain can check a report streamed in chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct ReportDigest {
	state: Hash,
	entries: u32,
}

impl ReportDigest {
	/// The digest of an empty report for `period` of the chain `genesis_hash`.
	pub fn new(genesis_hash: &Hash, period: u32) -> Self {
		let mut seed = Vec::with_capacity(REPORT_TAG.len() + 36);
		seed.extend_from_slice(REPORT_TAG);
		seed.extend_from_slice(genesis_hash);
		seed.extend_from_slice(&period.to_le_bytes());
		Self { state: hash(&seed), entries: 0 }
	}

	fn push(&mut self, kind: u8, entry: &[u8]) {
		let mut buf = Vec::with_capacity(33 + entry.len());
		buf.extend_from_slice(&self.state);
		buf.push(kind);
		buf.extend_from_slice(entry);
		self.state = hash(&buf);
		self.entries = self.entries.saturating_add(1);
	}

	/// Adds a node entry.
	pub fn push_node(&mut self, e: &NodeTraffic) {
		self.push(1, &e.encode());
	}

	/// Adds a client entry.
	pub fn push_client(&mut self, e: &ClientTraffic) {
		self.push(2, &e.encode());
	}

	/// Entries added so far.
	pub fn entries(&self) -> u32 {
		self.entries
	}

	/// The digest so far.
	pub fn value(&self) -> Hash {
		self.state
	}
}

/// What a meta node commits to before revealing `digest`: `H(tag ‖ digest ‖ salt ‖
/// reporter)`. The salt keeps others from guessing a digest from its commitment; the
/// reporter's account keeps them from copying someone's commitment.
pub fn commitment(digest: &Hash, salt: &[u8; 32], reporter: &[u8; 32]) -> Hash {
	let mut buf = Vec::with_capacity(COMMIT_TAG.len() + 96);
	buf.extend_from_slice(COMMIT_TAG);
	buf.extend_from_slice(digest);
	buf.extend_from_slice(salt);
	buf.extend_from_slice(reporter);
	hash(&buf)
}

/// Whether a node with `a` accumulated traffic ranks strictly before one with `b`: more
/// traffic first, ties broken by the smaller node id.
pub fn ranks_before(a: (u128, &NodeId), b: (u128, &NodeId)) -> bool {
	a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// Why a streamed report entry is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum IngestError {
	/// A node entry does not rank strictly after the previous one (accumulated traffic
	/// descending, node id ascending); a repeated node is out of order too.
	NodeOutOfOrder,
	/// A node entry came after the first client entry.
	NodeAfterClients,
	/// Client accounts are not strictly ascending (or repeat).
	ClientOutOfOrder,
	/// A total does not fit.
	Overflow,
}

/// The chain's (and a meta node's) view of a report being streamed: it checks the order of
/// every entry, keeps the totals and the running digest, in constant space, so it can be
/// stored between chunks. Node entries come first, in rank order of their **accumulated**
/// traffic (rolled over + this period), then client entries by ascending account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct ReportIngest {
	digest: ReportDigest,
	last_node: Option<(u128, NodeId)>,
	last_client: Option<[u8; 32]>,
	node_bytes: u128,
	client_bytes: u128,
}

impl ReportIngest {
	/// Starts the report of `period` on the chain `genesis_hash`.
	pub fn new(genesis_hash: &Hash, period: u32) -> Self {
		Self {
			digest: ReportDigest::new(genesis_hash, period),
			last_node: None,
			last_client: None,
			node_bytes: 0,
			client_bytes: 0,
		}
	}

	/// Takes the next node entry; `rolled` is the node's traffic carried from earlier
	/// periods. Returns its accumulated traffic. Nothing changes on error.
	pub fn node(&mut self, e: &NodeTraffic, rolled: u128) -> Result<u128, IngestError> {
		if self.last_client.is_some() {
			return Err(IngestError::NodeAfterClients);
		}
		let acc = rolled.checked_add(e.bytes as u128).ok_or(IngestError::Overflow)?;
		if let Some((prev_acc, prev)) = &self.last_node {
			if !ranks_before((*prev_acc, prev), (acc, &e.node)) {
				return Err(IngestError::NodeOutOfOrder);
			}
		}
		let total = self.node_bytes.checked_add(e.bytes as u128).ok_or(IngestError::Overflow)?;
		self.node_bytes = total;
		self.last_node = Some((acc, e.node));
		self.digest.push_node(e);
		Ok(acc)
	}

	/// Takes the next client entry. Nothing changes on error.
	pub fn client(&mut self, e: &ClientTraffic) -> Result<(), IngestError> {
		if self.last_client.is_some_and(|prev| prev >= e.client) {
			return Err(IngestError::ClientOutOfOrder);
		}
		let total = self.client_bytes.checked_add(e.bytes as u128).ok_or(IngestError::Overflow)?;
		self.client_bytes = total;
		self.last_client = Some(e.client);
		self.digest.push_client(e);
		Ok(())
	}

	/// The digest of the entries so far (compared with the committed one at the end).
	pub fn digest(&self) -> Hash {
		self.digest.value()
	}

	/// Entries taken so far.
	pub fn entries(&self) -> u32 {
		self.digest.entries()
	}

	/// Bytes served this period, summed over the node entries.
	pub fn node_bytes(&self) -> u128 {
		self.node_bytes
	}

	/// Bytes downloaded this period, summed over the client entries.
	pub fn client_bytes(&self) -> u128 {
		self.client_bytes
	}
}

/// How one period's resource-node issuance is split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
	/// Reward of each top node, in the order given.
	pub rewards: Vec<u128>,
	/// What is not paid (rounding, and what the caps hold back): carried to the next
	/// period's issuance.
	pub remainder: u128,
}

/// Splits `issuance` among the top nodes, whose traffic is `top` (the first `N` eligible
/// nodes in rank order), pro rata to traffic.
///
/// * `charged`: bytes the clients actually paid for in the period. Rewarded traffic never
///   exceeds it: when `Σ top > charged`, the budget is the one `charged` bytes would earn.
/// * `cap_per_byte`: the most a rewarded byte may earn (`k ×` the credit price per byte).
///
/// The budget is `B = min(issuance, cap_per_byte · min(Σ top, charged))`, each reward is
/// `⌊B · tᵢ / Σ top⌋`, and `remainder = issuance − Σ rewards`, so nothing is created or lost.
/// When neither cap binds (`B = issuance`) this is exactly the whitepaper's
/// `issuance × traffic / Σ top-N traffic`, rounded down.
pub fn settle(issuance: u128, top: &[u128], charged: u128, cap_per_byte: u128) -> Settlement {
	let total = top.iter().fold(0u128, |a, t| a.saturating_add(*t));
	if total == 0 {
		return Settlement { rewards: alloc::vec![0; top.len()], remainder: issuance };
	}
	let budget = issuance.min(cap_per_byte.saturating_mul(total.min(charged)));
	let rewards: Vec<u128> = top.iter().map(|t| mul_div_floor(budget, *t, total)).collect();
	let paid: u128 = rewards.iter().sum();
	Settlement { rewards, remainder: issuance - paid }
}

/// `⌊a · b / c⌋` without overflow for `b ≤ c` (`c > 0`), exact over the full `u128` range.
fn mul_div_floor(a: u128, b: u128, c: u128) -> u128 {
	debug_assert!(c > 0 && b <= c);
	// a·b/c = q·b + ⌊r·b / c⌋ with a = q·c + r (r < c). The second term is computed by
	// 256-bit long multiplication and division.
	let q = a / c;
	let r = a % c;
	q * b + mul_div_small(r, b, c)
}

/// `⌊r · b / c⌋` for `r, b < c` or `b ≤ c`: exact, via a 256-bit intermediate.
fn mul_div_small(r: u128, b: u128, c: u128) -> u128 {
	let (hi, lo) = mul_wide(r, b);
	div_wide(hi, lo, c)
}

/// The 256-bit product of two `u128`s as (high, low).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
	let mask = u64::MAX as u128;
	let (a1, a0) = (a >> 64, a & mask);
	let (b1, b0) = (b >> 64, b & mask);
	let p00 = a0 * b0;
	let p01 = a0 * b1;
	let p10 = a1 * b0;
	let p11 = a1 * b1;
	let mid = (p00 >> 64) + (p01 & mask) + (p10 & mask);
	let lo = (p00 & mask) | (mid << 64);
	let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
	(hi, lo)
}

/// `⌊(hi·2¹²⁸ + lo) / d⌋` when the quotient fits in 128 bits (`hi < d`), bit by bit.
fn div_wide(mut hi: u128, lo: u128, d: u128) -> u128 {
	debug_assert!(hi < d);
	let mut q = 0u128;
	for i in (0..128).rev() {
		// Shift (hi, lo) left by one, bringing in lo's bit i; hi may overflow 128 bits.
		let carry = hi >> 127;
		hi = (hi << 1) | ((lo >> i) & 1);
		q <<= 1;
		if carry == 1 || hi >= d {
			hi = hi.wrapping_sub(d);
			q |= 1;
		}
	}
	q
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn whitepaper_example() {
		// 100,000 tokens; a node served 100 GB of the top nodes' 1,000 GB → 10,000 tokens.
		let gb = 1_000_000_000u128;
		let s = settle(100_000, &[100 * gb, 900 * gb], 1_000 * gb, u128::MAX);
		assert_eq!(s.rewards, vec![10_000, 90_000]);
		assert_eq!(s.remainder, 0);
	}

	#[test]
	fn remainders_and_caps_carry_over() {
		let s = settle(10, &[1, 1, 1], 3, u128::MAX);
		assert_eq!(s.rewards, vec![3, 3, 3]);
		assert_eq!(s.remainder, 1);
		// Cap: at most 2 per byte → budget 6 of 10.
		let s = settle(10, &[1, 1, 1], 3, 2);
		assert_eq!((s.rewards, s.remainder), (vec![2, 2, 2], 4));
		// Only 1 byte paid for: the budget is what one byte earns at the cap.
		let s = settle(10, &[1, 1, 1], 1, 3);
		assert_eq!((s.rewards.iter().sum::<u128>(), s.remainder), (3, 7));
		// No traffic: everything carries over.
		assert_eq!(settle(7, &[0, 0], 0, 1).remainder, 7);
	}

	#[test]
	fn wide_arithmetic_is_exact_at_the_extremes() {
		let m = u128::MAX;
		assert_eq!(mul_div_floor(m, m, m), m);
		assert_eq!(mul_div_floor(m, 1, m), 1);
		assert_eq!(mul_div_floor(m - 1, m - 1, m), m - 2);
		assert_eq!(mul_wide(m, m), (m - 1, 1));
		assert_eq!(div_wide(0, 10, 3), 3);
	}

	#[test]
	fn order_is_traffic_then_id() {
		let (a, b) = (NodeId([1; 32]), NodeId([2; 32]));
		assert!(ranks_before((5, &b), (4, &a)));
		assert!(ranks_before((5, &a), (5, &b)));
		assert!(!ranks_before((5, &b), (5, &a)));
		assert!(!ranks_before((5, &a), (5, &a)));
	}

	#[test]
	fn ingest_checks_order_and_keeps_totals() {
		let g = [3u8; 32];
		let node = |n: u8, bytes: u64| NodeTraffic { node: NodeId([n; 32]), bytes };
		let client = |c: u8, bytes: u64| ClientTraffic { client: [c; 32], bytes };
		let mut r = ReportIngest::new(&g, 7);
		// Node 2 carries 50 rolled bytes: 10 + 50 = 60 ranks before node 1's 40.
		assert_eq!(r.node(&node(2, 10), 50), Ok(60));
		assert_eq!(r.node(&node(1, 40), 0), Ok(40));
		// Equal traffic: ids ascending. A repeat or a larger total is out of order.
		assert_eq!(r.node(&node(3, 40), 0), Ok(40));
		let before = r;
		assert_eq!(r.node(&node(3, 40), 0), Err(IngestError::NodeOutOfOrder));
		assert_eq!(r.node(&node(0, 40), 0), Err(IngestError::NodeOutOfOrder));
		assert_eq!(r.node(&node(9, 41), 0), Err(IngestError::NodeOutOfOrder));
		assert_eq!(r.node(&node(9, 1), u128::MAX), Err(IngestError::Overflow));
		assert_eq!(r, before, "refused entries change nothing");
		assert_eq!(r.client(&client(5, 30)), Ok(()));
		assert_eq!(r.client(&client(5, 30)), Err(IngestError::ClientOutOfOrder));
		assert_eq!(r.client(&client(4, 30)), Err(IngestError::ClientOutOfOrder));
		assert_eq!(r.node(&node(9, 1), 0), Err(IngestError::NodeAfterClients));
		assert_eq!(r.client(&client(6, 60)), Ok(()));
		assert_eq!((r.node_bytes(), r.client_bytes(), r.entries()), (90, 90, 5));

		// The same entries give the same digest as a plain ReportDigest.
		let mut d = ReportDigest::new(&g, 7);
		for e in [node(2, 10), node(1, 40), node(3, 40)] {
			d.push_node(&e);
		}
		for e in [client(5, 30), client(6, 60)] {
			d.push_client(&e);
		}
		assert_eq!(r.digest(), d.value());
	}

	#[test]
	fn digest_binds_every_entry_and_its_kind() {
		let g = [9u8; 32];
		let n = NodeTraffic { node: NodeId([1; 32]), bytes: 5 };
		let c = ClientTraffic { client: [1; 32], bytes: 5 };
		let mut a = ReportDigest::new(&g, 3);
		a.push_node(&n);
		let mut b = ReportDigest::new(&g, 3);
		b.push_client(&c);
		assert_ne!(a.value(), b.value(), "kinds are separated");
		let mut other_period = ReportDigest::new(&g, 4);
		other_period.push_node(&n);
		assert_ne!(a.value(), other_period.value());
		let mut again = ReportDigest::new(&g, 3);
		again.push_node(&n);
		assert_eq!(a, again);
		assert_eq!(a.entries(), 1);
		let d = a.value();
		assert_ne!(commitment(&d, &[0; 32], &[1; 32]), commitment(&d, &[0; 32], &[2; 32]));
		assert_ne!(commitment(&d, &[0; 32], &[1; 32]), commitment(&d, &[1; 32], &[1; 32]));
	}
}
