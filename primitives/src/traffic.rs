//! Proof-of-Traffic formats and arithmetic shared by the meta nodes (which compute and
//! commit to a period's report) and the PoT pallet (which checks and settles it), per
//! `docs/adr/0010-proof-of-traffic.md`.
//!
//! * [`chunk_report`] / [`chunk_link`]: a report cut into chunks linked by a backward hash
//!   chain whose head is the digest, so the chain checks each streamed chunk on arrival;
//! * [`order_report`] and [`ReportIngest`]: the report order, built by meta nodes and checked
//!   by the chain entry by entry;
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
	/// Bytes downloaded in the period: the total of its receipt tree.
	pub bytes: u64,
	/// Root of the client's countersigned receipts of the period
	/// ([`crate::receipts::ReceiptTree::root`]): what the client checks and disputes.
	pub receipts_root: Hash,
}

/// One entry of a report: node entries first (in rank order), then client entries (by
/// ascending account).
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
pub enum ReportEntry {
	/// Bytes a resource node served.
	Node(NodeTraffic),
	/// Bytes a client downloaded.
	Client(ClientTraffic),
}

/// The end of a report's chunk chain: `H(tag ‖ genesis ‖ period)`.
pub fn report_end(genesis_hash: &Hash, period: u32) -> Hash {
	let mut seed = Vec::with_capacity(REPORT_TAG.len() + 36);
	seed.extend_from_slice(REPORT_TAG);
	seed.extend_from_slice(genesis_hash);
	seed.extend_from_slice(&period.to_le_bytes());
	hash(&seed)
}

/// The link of one chunk: `H(0x01 ‖ next ‖ SCALE(entries))`, where `next` is the link of the
/// following chunk (or [`report_end`] after the last). A report's digest is the first
/// chunk's link.
///
/// The chain runs **backwards** so the chain can check each chunk the moment it arrives:
/// it knows the link it expects (first the accepted digest), the submitter sends the chunk
/// with the next link, and `chunk_link(chunk, next)` must equal the expected link. A chunk
/// that passes is exactly the one the quorum committed to, so it can be applied at once.
pub fn chunk_link(entries: &[ReportEntry], next: &Hash) -> Hash {
	let mut buf = Vec::with_capacity(33 + entries.len() * 73 + 4);
	buf.push(1);
	buf.extend_from_slice(next);
	entries.encode_to(&mut buf);
	hash(&buf)
}

/// A report cut into chunks of `chunk_size` entries (the last may be shorter; an empty
/// report has none), each with the link of the chunk after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedReport {
	/// The report's digest: what meta nodes commit to and reveal.
	pub digest: Hash,
	/// The chunks in submission order, each with the `next` link to submit it with.
	pub chunks: Vec<(Vec<ReportEntry>, Hash)>,
}

/// Cuts `entries` (already in report order) into chunks of `chunk_size` and links them. Every
/// honest meta node uses the chain's chunk size, so they all reach the same digest.
pub fn chunk_report(
	genesis_hash: &Hash,
	period: u32,
	entries: &[ReportEntry],
	chunk_size: usize,
) -> ChunkedReport {
	let size = chunk_size.max(1);
	let mut next = report_end(genesis_hash, period);
	let mut chunks: Vec<(Vec<ReportEntry>, Hash)> = Vec::new();
	let pieces: Vec<&[ReportEntry]> = entries.chunks(size).collect();
	for piece in pieces.into_iter().rev() {
		let link = chunk_link(piece, &next);
		chunks.push((piece.to_vec(), next));
		next = link;
	}
	chunks.reverse();
	ChunkedReport { digest: next, chunks }
}

/// Puts a period's traffic in report order: nodes by accumulated traffic (`rolled` + this
/// period's bytes) descending, then node id ascending; then clients by ascending account.
/// Nodes with no traffic at all (nothing rolled, nothing served) are left out.
pub fn order_report(
	nodes: impl IntoIterator<Item = (NodeTraffic, u128)>,
	clients: impl IntoIterator<Item = ClientTraffic>,
) -> Vec<ReportEntry> {
	let mut nodes: Vec<(u128, NodeTraffic)> = nodes
		.into_iter()
		.map(|(e, rolled)| (rolled.saturating_add(e.bytes as u128), e))
		.filter(|(acc, _)| *acc > 0)
		.collect();
	nodes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.node.cmp(&b.1.node)));
	let mut clients: Vec<ClientTraffic> = clients.into_iter().collect();
	clients.sort_by_key(|c| c.client);
	nodes
		.into_iter()
		.map(|(_, e)| ReportEntry::Node(e))
		.chain(clients.into_iter().map(ReportEntry::Client))
		.collect()
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
/// every entry and keeps the totals, in constant space, so it can be
/// stored between chunks. Node entries come first, in rank order of their **accumulated**
/// traffic (rolled over + this period), then client entries by ascending account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct ReportIngest {
	entries: u32,
	last_node: Option<(u128, NodeId)>,
	last_client: Option<[u8; 32]>,
	node_bytes: u128,
	client_bytes: u128,
}

impl ReportIngest {
	/// Starts a report.
	pub fn new() -> Self {
		Self { entries: 0, last_node: None, last_client: None, node_bytes: 0, client_bytes: 0 }
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
		self.entries = self.entries.saturating_add(1);
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
		self.entries = self.entries.saturating_add(1);
		Ok(())
	}

	/// Entries taken so far.
	pub fn entries(&self) -> u32 {
		self.entries
	}

	/// Whether a client entry has been taken (the node entries are over).
	pub fn in_clients(&self) -> bool {
		self.last_client.is_some()
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
	/// Bytes rewarded: `min(Σ top, charged)`, the paid-for bytes this settlement uses up.
	pub rewarded_bytes: u128,
	/// What clients paid for the rewarded bytes: `⌊value · rewarded / charged⌋`.
	pub rewarded_value: u128,
}

/// Parts per billion: the unit of the wash-traffic factor `k`.
pub const PPB: u128 = 1_000_000_000;

/// Splits `issuance` among the top nodes, whose traffic is `top` (the first `N` eligible
/// nodes in rank order), pro rata to traffic.
///
/// * `charged`: bytes the clients paid for and that no settlement has rewarded yet.
///   Rewarded traffic never exceeds it: when `Σ top > charged`, the budget is the one
///   `charged` bytes would earn.
/// * `charged_value`: the tokens clients paid for those bytes (each client's credit keeps
///   the price it was bought at; ADR 0010).
/// * `k_ppb`: the wash-traffic factor `k` in parts per billion (`k < 1`).
///
/// The rewarded bytes are `R = min(Σ top, charged)`, worth `V = ⌊charged_value · R /
/// charged⌋`; the budget is `B = min(issuance, ⌊k · V⌋)`, each reward is `⌊B · tᵢ / Σ top⌋`,
/// and `remainder = issuance − Σ rewards`, so nothing is created or lost. Resource nodes as
/// a whole therefore never earn more than `k ×` what clients paid for the traffic. When the
/// cap does not bind (`B = issuance`) this is exactly the whitepaper's `issuance × traffic /
/// Σ top-N traffic`, rounded down.
pub fn settle(
	issuance: u128,
	top: &[u128],
	charged: u128,
	charged_value: u128,
	k_ppb: u32,
) -> Settlement {
	let total = top.iter().fold(0u128, |a, t| a.saturating_add(*t));
	if total == 0 || charged == 0 {
		return Settlement {
			rewards: alloc::vec![0; top.len()],
			remainder: issuance,
			rewarded_bytes: 0,
			rewarded_value: 0,
		};
	}
	let rewarded_bytes = total.min(charged);
	let rewarded_value = mul_div_floor(charged_value, rewarded_bytes, charged);
	let k = (k_ppb as u128).min(PPB);
	let budget = issuance.min(mul_div_floor(rewarded_value, k, PPB));
	let rewards: Vec<u128> = top.iter().map(|t| mul_div_floor(budget, *t, total)).collect();
	let paid: u128 = rewards.iter().sum();
	Settlement { rewards, remainder: issuance - paid, rewarded_bytes, rewarded_value }
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
		let s = settle(100_000, &[100 * gb, 900 * gb], 1_000 * gb, u128::MAX, 500_000_000);
		assert_eq!(s.rewards, vec![10_000, 90_000]);
		assert_eq!(s.remainder, 0);
	}

	#[test]
	fn remainders_and_caps_carry_over() {
		let half = 500_000_000;
		let s = settle(10, &[1, 1, 1], 3, u128::MAX, half);
		assert_eq!(s.rewards, vec![3, 3, 3]);
		assert_eq!(s.remainder, 1);
		// 3 bytes paid 12 tokens, k = ½: the budget is 6 of 10.
		let s = settle(10, &[1, 1, 1], 3, 12, half);
		assert_eq!((s.rewards, s.remainder, s.rewarded_value), (vec![2, 2, 2], 4, 12));
		// Only 1 of 3 bytes paid for (at 6): the budget is what that byte earns at the cap.
		let s = settle(10, &[1, 1, 1], 1, 6, half);
		assert_eq!((s.rewards.iter().sum::<u128>(), s.remainder), (3, 7));
		assert_eq!((s.rewarded_bytes, s.rewarded_value), (1, 6));
		// More paid-for bytes than traffic: the rewarded ones take their share of the value.
		let s = settle(100, &[2], 4, 10, half);
		assert_eq!((s.rewarded_bytes, s.rewarded_value, s.rewards[0]), (2, 5, 2));
		// No traffic, or nothing paid: everything carries over.
		assert_eq!(settle(7, &[0, 0], 0, 0, half).remainder, 7);
		assert_eq!(settle(7, &[5], 0, 0, half).remainder, 7);
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
		let node = |n: u8, bytes: u64| NodeTraffic { node: NodeId([n; 32]), bytes };
		let client =
			|c: u8, bytes: u64| ClientTraffic { client: [c; 32], bytes, receipts_root: [c; 32] };
		let mut r = ReportIngest::new();
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
		assert!(!r.in_clients());
		assert_eq!(r.client(&client(5, 30)), Ok(()));
		assert_eq!(r.client(&client(5, 30)), Err(IngestError::ClientOutOfOrder));
		assert_eq!(r.client(&client(4, 30)), Err(IngestError::ClientOutOfOrder));
		assert_eq!(r.node(&node(9, 1), 0), Err(IngestError::NodeAfterClients));
		assert_eq!(r.client(&client(6, 60)), Ok(()));
		assert_eq!((r.node_bytes(), r.client_bytes(), r.entries()), (90, 90, 5));
	}

	#[test]
	fn ordered_report_passes_ingest() {
		let node = |n: u8, bytes: u64| NodeTraffic { node: NodeId([n; 32]), bytes };
		let client =
			|c: u8, bytes: u64| ClientTraffic { client: [c; 32], bytes, receipts_root: [c; 32] };
		let entries = order_report(
			[(node(1, 40), 0), (node(2, 10), 50), (node(3, 40), 0), (node(4, 0), 0)],
			[client(6, 60), client(5, 30)],
		);
		assert_eq!(entries.len(), 5, "a node with no traffic at all is left out");
		let mut r = ReportIngest::new();
		let rolled = |n: &NodeId| if n.0[0] == 2 { 50 } else { 0 };
		for e in &entries {
			match e {
				ReportEntry::Node(n) => {
					r.node(n, rolled(&n.node)).expect("in order");
				},
				ReportEntry::Client(c) => r.client(c).expect("in order"),
			}
		}
		assert_eq!(entries[0], ReportEntry::Node(node(2, 10)));
	}

	#[test]
	fn chunk_chain_checks_each_chunk_on_arrival() {
		let g = [9u8; 32];
		let entries: Vec<ReportEntry> = (0..7u8)
			.map(|n| {
				ReportEntry::Node(NodeTraffic { node: NodeId([n; 32]), bytes: 100 - n as u64 })
			})
			.collect();
		let report = chunk_report(&g, 3, &entries, 3);
		assert_eq!(report.chunks.iter().map(|c| c.0.len()).collect::<Vec<_>>(), vec![3, 3, 1]);
		// What the chain does: expect the digest, check each chunk, move to its next link.
		let mut expected = report.digest;
		for (chunk, next) in &report.chunks {
			assert_eq!(chunk_link(chunk, next), expected);
			expected = *next;
		}
		assert_eq!(expected, report_end(&g, 3), "the last chunk ends the chain");
		// A changed entry, another period or another chunking gives another digest.
		let mut changed = entries.clone();
		changed[4] = ReportEntry::Node(NodeTraffic { node: NodeId([4; 32]), bytes: 1 });
		assert_ne!(chunk_report(&g, 3, &changed, 3).digest, report.digest);
		assert_ne!(chunk_report(&g, 4, &entries, 3).digest, report.digest);
		assert_ne!(chunk_report(&g, 3, &entries, 4).digest, report.digest);
		// A node entry and a client entry with the same bytes are told apart.
		let n = [ReportEntry::Node(NodeTraffic { node: NodeId([1; 32]), bytes: 5 })];
		let c = [ReportEntry::Client(ClientTraffic {
			client: [1; 32],
			bytes: 5,
			receipts_root: [0; 32],
		})];
		assert_ne!(chunk_link(&n, &report_end(&g, 3)), chunk_link(&c, &report_end(&g, 3)));
		// An empty report has no chunks; its digest is the end.
		assert_eq!(chunk_report(&g, 3, &[], 3).digest, report_end(&g, 3));
		let d = report.digest;
		assert_ne!(commitment(&d, &[0; 32], &[1; 32]), commitment(&d, &[0; 32], &[2; 32]));
		assert_ne!(commitment(&d, &[0; 32], &[1; 32]), commitment(&d, &[1; 32], &[1; 32]));
	}
}
