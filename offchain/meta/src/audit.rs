//! Traffic auditing (whitepaper §3.2.1 steps 2–5), sans-I/O: the books every replica keeps
//! of the tickets it issued and the countersigned receipts that redeem them, and the report
//! of a period built from them.
//!
//! * Both parties report. A resource node sends the countersigned receipts it holds, the
//!   client sends its copy; either copy counts, once per (task id, range), and never beyond
//!   the ticket's range. Every replica checks each receipt itself when it applies the entry
//!   (both signatures, batch-verified; the chain; a ticket in the log; its holder, client,
//!   slice, period and range; the node registered), so a leader cannot slip in traffic.
//! * A receipt the node signed but the client never countersigned counts for nobody. Nodes
//!   report them ([`Books::note_unsigned`]); a client with more than [`MAX_UNSIGNED`]
//!   receipts left unsigned gets no new tickets until it countersigns.
//! * A period is closed by a cut-off entry the leader appends after the chain opened its
//!   report; receipts of that period arriving later are refused as late. The report is a
//!   pure function of the books of the period and of what the chain carried over at the
//!   opening block ([`build_report`]), so every honest meta node reaches the same digest
//!   whatever order receipts arrived in.
//!
//! Refusals are counted per period, party and reason; the counts are replicated state, so
//! every meta node shows the same figures.

pub use sds_core::meta_api::{Party, Refusal};

use codec::{Decode, Encode};
use std::collections::{BTreeMap, BTreeSet};
use stratos_primitives::{
	receipt::{SignedReceipt, TaskReceipt},
	receipts::ReceiptTree,
	traffic::{self, ChunkedReport, ClientTraffic, NodeTraffic},
	Hash, NodeId, SliceHash, TaskId,
};

/// A client with more node-signed receipts it never countersigned than this gets no tickets.
pub const MAX_UNSIGNED: usize = 16;
/// Blocks after a ticket's expiry during which its receipts are still taken (the resource
/// node flushes them every few seconds; the client sends its copy after the download).
pub const RECEIPT_GRACE_BLOCKS: u32 = 600;
/// Closed periods whose books are kept (clients fetch their receipt lists and proofs from
/// them while they may dispute).
pub const KEEP_PERIODS: u32 = 16;

type Account = [u8; 32];

/// What the books keep of an issued ticket.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct AuditTicket {
	/// The downloading account.
	pub client: Account,
	/// The holder that serves it.
	pub holder: NodeId,
	/// The slice.
	pub slice: SliceHash,
	/// First byte of the allowed range.
	pub offset: u64,
	/// Bytes allowed.
	pub length: u64,
	/// Last block the ticket is valid at.
	pub expires_at: u32,
}

/// A counted receipt: the range and both signatures (the rest is the ticket's).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Counted {
	/// First byte served.
	pub offset: u64,
	/// Bytes served.
	pub length: u64,
	/// The node's signature.
	pub node_signature: [u8; 64],
	/// The client's countersignature.
	pub client_signature: [u8; 64],
}

/// Figures of one period, per party.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct PeriodStats {
	/// Receipts counted.
	pub counted: u64,
	/// Bytes counted.
	pub bytes: u128,
	/// Copies of receipts already counted (the other party's copy, or a resend).
	pub duplicates: u64,
	/// Refusals by (party, reason).
	pub refused: BTreeMap<(Party, Refusal), u64>,
}

/// The books of one ledger period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct PeriodBook {
	/// Tickets issued in the period.
	pub tickets: BTreeMap<TaskId, AuditTicket>,
	/// Receipts counted, per task, ranges ascending.
	pub counted: BTreeMap<TaskId, Vec<Counted>>,
	/// Resource nodes registered at the index's chain view when the period closed: a node
	/// gone by then is left out of the report (the chain refuses unknown nodes).
	pub registered: BTreeSet<NodeId>,
	/// Figures.
	pub stats: PeriodStats,
}

/// The books of all open and recently closed periods.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Books {
	/// Period → its books.
	pub periods: BTreeMap<u32, PeriodBook>,
	/// Task → the period of its ticket.
	pub task_period: BTreeMap<TaskId, u32>,
	/// Periods below this are closed by a cut-off (reports go in order, so closing a period
	/// closes every earlier one).
	pub closed_below: u32,
	/// Client → tasks whose receipt a node signed and the client has not countersigned.
	pub unsigned: BTreeMap<Account, BTreeSet<TaskId>>,
}

/// What one receipts entry did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Audited {
	/// Receipts counted.
	pub counted: u32,
	/// Copies of receipts already counted.
	pub duplicates: u32,
	/// Refused receipts: position in the entry and why.
	pub refused: Vec<(u32, Refusal)>,
}

/// The chain facts a receipt is checked against.
pub struct Context<'a> {
	/// The chain's genesis hash.
	pub genesis: &'a Hash,
	/// The finalized block the index is at.
	pub number: u32,
	/// Registered resource nodes.
	pub registered: &'a BTreeSet<NodeId>,
}

impl Books {
	/// Records a ticket issued in `period`.
	pub fn issue(&mut self, period: u32, task: TaskId, ticket: AuditTicket) {
		self.periods.entry(period).or_default().tickets.insert(task, ticket);
		self.task_period.insert(task, period);
	}

	/// Tasks of `client` a node signed a receipt for and the client did not countersign.
	pub fn unsigned_of(&self, client: &Account) -> usize {
		self.unsigned.get(client).map_or(0, |s| s.len())
	}

	/// The checks that need no signature: `Ok(period)` if the receipt redeems a live ticket.
	fn check(&self, cx: &Context<'_>, r: &TaskReceipt) -> Result<u32, Refusal> {
		if &r.genesis_hash != cx.genesis {
			return Err(Refusal::WrongChain);
		}
		let Some(period) = self.task_period.get(&r.task_id).copied() else {
			return Err(if r.ledger_period < self.closed_below {
				Refusal::Late
			} else {
				Refusal::UnknownTask
			});
		};
		let book = &self.periods[&period];
		let t = &book.tickets[&r.task_id];
		if r.ledger_period != period {
			return Err(Refusal::WrongPeriod);
		}
		if period < self.closed_below {
			return Err(Refusal::Late);
		}
		if cx.number > t.expires_at.saturating_add(RECEIPT_GRACE_BLOCKS) {
			return Err(Refusal::Expired);
		}
		if r.node != t.holder {
			return Err(Refusal::WrongHolder);
		}
		if r.client != t.client || r.slice != t.slice {
			return Err(Refusal::WrongTicket);
		}
		let end = r.offset.checked_add(r.length).ok_or(Refusal::OverRange)?;
		if r.length == 0 || r.offset < t.offset || end > t.offset.saturating_add(t.length) {
			return Err(Refusal::OverRange);
		}
		if !cx.registered.contains(&r.node) {
			return Err(Refusal::UnknownNode);
		}
		Ok(period)
	}

	/// Counts the receipts of one entry from `from`: each is checked (structure first, then
	/// both signatures in one batch) and counted once per (task, range).
	pub fn count(&mut self, cx: &Context<'_>, from: Party, receipts: &[SignedReceipt]) -> Audited {
		let mut out = Audited::default();
		let checked: Vec<Result<u32, Refusal>> =
			receipts.iter().map(|r| self.check(cx, &r.receipt)).collect();
		let to_verify: Vec<&SignedReceipt> =
			receipts.iter().zip(&checked).filter(|(_, c)| c.is_ok()).map(|(r, _)| r).collect();
		let mut verdicts = verify_receipts(&to_verify).into_iter();
		for (i, (r, c)) in receipts.iter().zip(checked).enumerate() {
			let outcome =
				c.and_then(|p| verdicts.next().expect("one verdict per check").map(|_| p));
			let period = match outcome {
				Ok(p) => p,
				Err(why) => {
					self.refuse(r.receipt.ledger_period, from, why);
					out.refused.push((i as u32, why));
					continue;
				},
			};
			let rc = &r.receipt;
			let book = self.periods.get_mut(&period).expect("checked");
			let ranges = book.counted.entry(rc.task_id).or_default();
			let end = rc.offset + rc.length;
			if ranges.iter().any(|c| c.offset == rc.offset && c.length == rc.length) {
				book.stats.duplicates += 1;
				out.duplicates += 1;
				continue;
			}
			if ranges.iter().any(|c| c.offset < end && rc.offset < c.offset + c.length) {
				*book.stats.refused.entry((from, Refusal::Overlap)).or_default() += 1;
				out.refused.push((i as u32, Refusal::Overlap));
				continue;
			}
			let at = ranges.partition_point(|c| c.offset < rc.offset);
			ranges.insert(
				at,
				Counted {
					offset: rc.offset,
					length: rc.length,
					node_signature: r.node_signature,
					client_signature: r.client_signature,
				},
			);
			book.stats.counted += 1;
			book.stats.bytes += rc.length as u128;
			out.counted += 1;
			if let Some(s) = self.unsigned.get_mut(&rc.client) {
				s.remove(&rc.task_id);
				if s.is_empty() {
					self.unsigned.remove(&rc.client);
				}
			}
		}
		out
	}

	/// Notes receipts a node signed (the signature is checked) that the client never
	/// countersigned. They count for nobody; too many of them stop the client's tickets.
	pub fn note_unsigned(
		&mut self,
		cx: &Context<'_>,
		unsigned: &[(TaskReceipt, [u8; 64])],
	) -> Audited {
		let mut out = Audited::default();
		for (i, (r, sig)) in unsigned.iter().enumerate() {
			let why = match self.check(cx, r) {
				Ok(_) if !r.verify_node(sig) => Err(Refusal::BadNodeSignature),
				other => other,
			};
			match why {
				Ok(period) => {
					let counted = self.periods[&period].counted.contains_key(&r.task_id);
					if !counted {
						self.unsigned.entry(r.client).or_default().insert(r.task_id);
					}
					out.counted += 1;
				},
				Err(why) => {
					self.refuse(r.ledger_period, Party::Node, why);
					out.refused.push((i as u32, why));
				},
			}
		}
		out
	}

	fn refuse(&mut self, period: u32, from: Party, why: Refusal) {
		// A refusal naming a period without books (unknown, or long closed) counts under the
		// newest book: a flood of junk periods must not grow the state.
		if let Some(book) = self.periods.get_mut(&period) {
			*book.stats.refused.entry((from, why)).or_default() += 1;
		} else if let Some((_, book)) = self.periods.iter_mut().next_back() {
			*book.stats.refused.entry((from, why)).or_default() += 1;
		}
	}

	/// Closes `period`: later receipts of it are refused as late. Books older than
	/// [`KEEP_PERIODS`] closed periods are dropped. Errs if it is closed already.
	pub fn close(&mut self, period: u32, registered: BTreeSet<NodeId>) -> Result<(), String> {
		if period < self.closed_below {
			return Err(format!("period {period} is closed already"));
		}
		self.periods.entry(period).or_default().registered = registered;
		self.closed_below = period + 1;
		let keep_from = self.closed_below.saturating_sub(KEEP_PERIODS);
		let old: Vec<u32> = self.periods.range(..keep_from).map(|(p, _)| *p).collect();
		for p in old {
			if let Some(b) = self.periods.remove(&p) {
				for t in b.tickets.keys() {
					self.task_period.remove(t);
				}
				for ts in self.unsigned.values_mut() {
					ts.retain(|t| !b.tickets.contains_key(t));
				}
				self.unsigned.retain(|_, ts| !ts.is_empty());
			}
		}
		Ok(())
	}

	/// The countersigned receipts of `client` in `period`, rebuilt from the books, in task
	/// and range order.
	pub fn receipts_of(&self, genesis: &Hash, period: u32, client: &Account) -> Vec<SignedReceipt> {
		let Some(book) = self.periods.get(&period) else { return Vec::new() };
		let mut out = Vec::new();
		for (task, ranges) in &book.counted {
			let t = &book.tickets[task];
			if &t.client != client {
				continue;
			}
			out.extend(ranges.iter().map(|c| rebuild(genesis, period, task, t, c)));
		}
		out
	}
}

fn rebuild(
	genesis: &Hash,
	period: u32,
	task: &TaskId,
	t: &AuditTicket,
	c: &Counted,
) -> SignedReceipt {
	SignedReceipt {
		receipt: TaskReceipt {
			genesis_hash: *genesis,
			ledger_period: period,
			task_id: *task,
			client: t.client,
			node: t.holder,
			slice: t.slice,
			offset: c.offset,
			length: c.length,
		},
		node_signature: c.node_signature,
		client_signature: c.client_signature,
	}
}

/// Checks both signatures of every receipt: one batch per signature scheme, and one by one
/// only when a batch fails (to name the bad ones).
pub fn verify_receipts(receipts: &[&SignedReceipt]) -> Vec<Result<(), Refusal>> {
	if receipts.is_empty() {
		return Vec::new();
	}
	if batch_ok(receipts) {
		return vec![Ok(()); receipts.len()];
	}
	receipts
		.iter()
		.map(|r| {
			if !r.receipt.verify_node(&r.node_signature) {
				Err(Refusal::BadNodeSignature)
			} else if !r.receipt.verify_client(&r.node_signature, &r.client_signature) {
				Err(Refusal::BadClientSignature)
			} else {
				Ok(())
			}
		})
		.collect()
}

fn batch_ok(receipts: &[&SignedReceipt]) -> bool {
	use rand_core::OsRng;
	let mut ed = ed25519_zebra::batch::Verifier::new();
	let mut transcripts = Vec::with_capacity(receipts.len());
	let mut sigs = Vec::with_capacity(receipts.len());
	let mut keys = Vec::with_capacity(receipts.len());
	for r in receipts {
		let payload = r.receipt.node_payload();
		ed.queue((
			ed25519_zebra::VerificationKeyBytes::from(r.receipt.node.0),
			ed25519_zebra::Signature::from_bytes(&r.node_signature),
			&payload,
		));
		let (Ok(sig), Ok(key)) = (
			schnorrkel::Signature::from_bytes(&r.client_signature),
			schnorrkel::PublicKey::from_bytes(&r.receipt.client),
		) else {
			return false;
		};
		let ctx = schnorrkel::signing_context(b"substrate");
		transcripts.push(ctx.bytes(&r.receipt.client_payload(&r.node_signature)));
		sigs.push(sig);
		keys.push(key);
	}
	ed.verify(OsRng).is_ok()
		&& schnorrkel::verify_batch_rng(transcripts, &sigs, &keys, false, OsRng).is_ok()
}

/// A period's report as every honest meta node builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltReport {
	/// Bytes per node (served this period).
	pub nodes: BTreeMap<NodeId, u64>,
	/// Per client: bytes and receipt tree root.
	pub clients: BTreeMap<Account, ClientTraffic>,
	/// The chunked report (digest and chunks).
	pub chunked: ChunkedReport,
}

/// Builds `period`'s report from its closed books and `carried`, each node's traffic carried
/// into the report as the chain holds it while the report is open (it changes only when
/// the report streams). Nodes are listed when they served or carry traffic; a node that had
/// left the chain when the period closed is listed only if it carries traffic (the chain
/// refuses unknown nodes).
pub fn build_report(
	genesis: &Hash,
	period: u32,
	book: Option<&PeriodBook>,
	carried: &BTreeMap<NodeId, u128>,
	chunk_size: usize,
) -> BuiltReport {
	let empty = BTreeSet::new();
	let registered = book.map_or(&empty, |b| &b.registered);
	let mut nodes: BTreeMap<NodeId, u64> = BTreeMap::new();
	let mut leaves: BTreeMap<Account, Vec<(u64, Hash)>> = BTreeMap::new();
	if let Some(book) = book {
		for (task, ranges) in &book.counted {
			let t = &book.tickets[task];
			for c in ranges {
				let n = nodes.entry(t.holder).or_default();
				*n = n.saturating_add(c.length);
				let r = rebuild(genesis, period, task, t, c);
				leaves.entry(t.client).or_default().push((
					c.length,
					stratos_primitives::receipts::receipt_digest(&r.receipt, &r.node_signature),
				));
			}
		}
	}
	nodes.retain(|n, _| registered.contains(n) || carried.get(n).is_some_and(|c| *c > 0));
	let clients: BTreeMap<Account, ClientTraffic> = leaves
		.into_iter()
		.filter_map(|(client, leaves)| {
			let tree = ReceiptTree::new(leaves).ok()?;
			Some((
				client,
				ClientTraffic { client, bytes: tree.total(), receipts_root: tree.root() },
			))
		})
		.collect();
	let mut listed: BTreeMap<NodeId, u128> =
		carried.iter().filter(|(_, c)| **c > 0).map(|(n, c)| (*n, *c)).collect();
	for n in nodes.keys() {
		listed.entry(*n).or_insert(0);
	}
	let entries = traffic::order_report(
		listed.iter().map(|(n, c)| {
			(NodeTraffic { node: *n, bytes: nodes.get(n).copied().unwrap_or(0) }, *c)
		}),
		clients.values().copied(),
	);
	let chunked = traffic::chunk_report(genesis, period, &entries, chunk_size);
	BuiltReport { nodes, clients, chunked }
}
