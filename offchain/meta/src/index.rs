//! The replicated index: the state machine every meta node applies the log to.
//!
//! [`Index::apply`] is a pure function of the state and the entry: no clock, no randomness,
//! no I/O. Time enters as the leader's `now_ms` inside entries, the chain as
//! [`ChainView`] entries the leader appends when the finalized chain changes, randomness as
//! hashes of the entry's log index and the finalized block hash. So every replica reaches
//! the same state and the same answers, and anyone holding the log recomputes placements,
//! task ids and ticket holders (ADR 0011).
//!
//! Signatures inside entries (clients' requests, holders' store acknowledgements) are
//! verified again by every replica when it applies them: a replica never acts on a forged
//! request even if the leader proposed it.
//!
//! What it keeps (whitepaper §4.1.2):
//! * per owner a directory tree of paths → directory | file id;
//! * per (owner, file id) the file record: size, slice size, slice hashes, holders, status
//!   (being voted on chain, or recorded at a block) and how many paths name it;
//! * per resource node the slices placed on it (reference-counted, so a slice shared by two
//!   files is dropped only with the last) and its health from heartbeats;
//! * pending uploads (placements not yet completed), completed ones (so holders learn what
//!   became of the slices they took, and keep the file's manifest), and outstanding
//!   download tickets.

pub use sds_core::meta_api::{
	FileRecord, FileStatus, Heartbeat, Inode, NsOp, PlaceRequest, RestoredFile, Signed,
	TicketRequest, UploadFate,
};

use crate::{
	audit::{self, AuditTicket, Books, Party},
	bloom::ExistenceFilter,
	path::NsPath,
	repair,
	routing::{self, Candidate},
	Account, Error, Result,
};
use codec::{Decode, Encode};
use std::collections::{BTreeMap, BTreeSet};
use stratos_primitives::{
	merkle,
	meta::{self, DownloadTicket, SignedStoreAck, UploadAuth},
	receipt::{SignedReceipt, TaskReceipt},
	FileId, Hash, NodeId, SliceHash, TaskId,
};

/// How long a placement stays valid for its upload to complete.
pub const UPLOAD_TTL_MS: u64 = 60 * 60 * 1000;
/// A resource node not heard from for this long is unhealthy (not routed to).
pub const HEALTH_TIMEOUT_MS: u64 = 30_000;
/// Interval resource nodes heartbeat at.
pub const HEARTBEAT_INTERVAL_MS: u64 = 5_000;
/// Default (and minimum) number of holders of a file.
pub const MIN_REPLICAS: u8 = 3;
/// Blocks a ticket stays valid for (capped by the client's reservation).
pub const TICKET_TTL_BLOCKS: u32 = 300;
/// Blocks before a reservation unlocks at which tickets against it stop (the PoT report
/// windows, so the traffic is charged before the credit can be released).
pub const RESERVATION_MARGIN_BLOCKS: u32 = 30;
/// Most tickets in one request.
pub const MAX_TICKETS_PER_REQUEST: usize = 4096;
/// Most slices in one file.
pub const MAX_SLICES: u32 = 1 << 20;

/// A node as the finalized chain records it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ChainNode {
	/// Node id (ed25519 key).
	pub id: NodeId,
	/// Operator account (holders are paid there).
	pub account: Account,
	/// Region label.
	pub region: String,
	/// Network address (multiaddr text).
	pub address: String,
	/// Active (not suspended, not unbonding): may receive new data.
	pub active: bool,
}

/// The finalized chain as the leader observed it, at one block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct ChainView {
	/// Finalized block number.
	pub number: u32,
	/// Its hash.
	pub hash: Hash,
	/// The ledger period at that block.
	pub ledger_period: u32,
	/// Registered resource nodes.
	pub resource_nodes: Vec<ChainNode>,
	/// The active meta set (the cluster's membership).
	pub meta_nodes: Vec<ChainNode>,
}

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Command {
	/// The finalized chain moved (appended by the leader).
	Chain(ChainView),
	/// A namespace write signed by its owner.
	Namespace(Signed<NsOp>),
	/// A resource node's heartbeat, received at the leader's `now_ms`.
	Heartbeat {
		/// Leader's clock (ms since the Unix epoch).
		now_ms: u64,
		/// The report.
		beat: Heartbeat,
	},
	/// Place an upload. `balance_ok` is the leader's check that the owner's balance covers
	/// the first storage period at the entry's chain view.
	Place {
		/// The signed request.
		req: Signed<PlaceRequest>,
		/// Leader's clock.
		now_ms: u64,
		/// Whether the owner can pay the first storage period.
		balance_ok: bool,
		/// The meta node that signs the authorisation.
		issuer: NodeId,
	},
	/// An upload finished: every holder acknowledged every slice.
	Complete {
		/// The placement's task id.
		task: TaskId,
		/// Slice hashes in order.
		slices: Vec<SliceHash>,
		/// One acknowledgement per (slice, holder).
		acks: Vec<SignedStoreAck>,
	},
	/// The chain recorded a file (finalized `FileCreated`).
	Recorded {
		/// Owner.
		owner: Account,
		/// File.
		file_id: FileId,
		/// Block number.
		block: u32,
	},
	/// The chain dropped a file (finalized `FileDeleted` / `FileExpired`).
	Dropped {
		/// Owner.
		owner: Account,
		/// File.
		file_id: FileId,
	},
	/// The file registry's events of every finalized block up to `block` are applied (the
	/// leader writes it after each block's `Recorded` / `Dropped`, so a new leader knows
	/// where to resume).
	EventsDone {
		/// Block number.
		block: u32,
	},
	/// Files recovered from the chain's records and the holders' manifests (`stratos-meta
	/// rebuild-index`), checked against the chain by the meta node that wrote the entry.
	Restore(Vec<RestoredFile>),
	/// Issue download tickets. `reserved` and `reserve_unlocks_at` are the client's reserved
	/// credit and its unlock block at the entry's chain view, read by the leader.
	Tickets {
		/// The signed request.
		req: Signed<TicketRequest>,
		/// Reserved credit in bytes.
		reserved: u128,
		/// Block at which the reservation unlocks.
		reserve_unlocks_at: u32,
		/// The meta node that signs the tickets.
		issuer: NodeId,
	},
	/// Time passed: drop expired placements.
	Tick {
		/// Leader's clock.
		now_ms: u64,
	},
	/// Receipts for the traffic audit ([`audit::Books::count`]); every replica checks them.
	Receipts {
		/// Who sent them.
		from: Party,
		/// Countersigned receipts.
		receipts: Vec<SignedReceipt>,
		/// Node-signed receipts the client never countersigned.
		unsigned: Vec<(TaskReceipt, [u8; 64])>,
	},
	/// The chain opened `period`'s report and the receipt flush interval passed: the
	/// period's receipts are final and every meta node builds its report from them.
	CutOff {
		/// The ledger period.
		period: u32,
	},
	/// Repair round at the leader's clock ([`crate::repair`]): give up copies that cannot
	/// finish, plan new ones within `budget` bytes under way, and answer the orders to send.
	Repair {
		/// Leader's clock.
		now_ms: u64,
		/// Most bytes of copies under way at once.
		budget: u64,
		/// The meta node that signs the copies' authorisations.
		issuer: NodeId,
	},
	/// A copy's target acknowledged slices (every replica checks the acknowledgements).
	Copied {
		/// Owner.
		owner: Account,
		/// File.
		file_id: FileId,
		/// The copy's target.
		target: NodeId,
		/// Its signed store acknowledgements.
		acks: Vec<SignedStoreAck>,
	},
	/// The chain replaced a file's holders (finalized `HoldersChanged`).
	Rehomed {
		/// Owner.
		owner: Account,
		/// File.
		file_id: FileId,
		/// The holders' accounts, as the chain records them.
		holders: Vec<Account>,
	},
	/// A resource node lost these slices (found corrupt and quarantined): it no longer
	/// counts as a holder of the files they belong to, so repair copies those files to
	/// another node and the chain's new holder set leaves it out.
	SlicesLost {
		/// The node (authenticated by the transport).
		node: NodeId,
		/// The slices.
		slices: Vec<SliceHash>,
	},
}

/// A file's status.
/// A placement not yet completed.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Upload {
	/// The authorisation (unsigned; the issuer signs it when answering).
	pub auth: UploadAuth,
	/// Path the file will appear at.
	pub path: String,
	/// Size.
	pub size: u64,
	/// Slice size.
	pub slice_size: u64,
	/// When the placement lapses (leader's clock).
	pub expires_ms: u64,
}

/// What the index knows of a resource node's health.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Health {
	/// First heartbeat (leader's clock).
	pub first_seen_ms: u64,
	/// Last heartbeat.
	pub last_seen_ms: u64,
	/// Share of heartbeats that came on time, in thousandths (moving average).
	pub uptime_permille: u32,
	/// Last reported free bytes.
	pub free: u64,
	/// Last reported capacity.
	pub capacity: u64,
	/// Last reported connections.
	pub connections: u32,
	/// Errors counted against it (decaying).
	pub recent_errors: u32,
	/// Last reported version.
	pub version: String,
}

/// An outstanding ticket.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Outstanding {
	/// Bytes it allows.
	pub length: u64,
	/// Last valid block.
	pub expires_at: u32,
	/// Holder.
	pub holder: NodeId,
}

/// What an applied entry answers.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Response {
	/// Done; nothing to report.
	Done,
	/// A placement (to be signed by the issuer).
	Placed(UploadAuth),
	/// An upload completed; the meta nodes vote this record.
	Completed(FileRecord),
	/// The path names an existing recorded file with the same content; no new upload.
	Linked(FileId),
	/// Tickets (to be signed by the issuer).
	Tickets(Vec<DownloadTicket>),
	/// Paths removed; files with no path left (the owner may `delete_file` them).
	Removed(Vec<FileId>),
	/// A file dropped: slices each holder may now delete.
	DeleteOrders(Vec<(NodeId, Vec<SliceHash>)>),
	/// Placements that lapsed.
	Expired(Vec<TaskId>),
	/// Files restored: how many were new.
	Restored(u32),
	/// What the audit did with receipts.
	Audited(audit::Audited),
	/// Copy orders to send.
	Repair(Vec<repair::Dispatch>),
}

/// An entry in a directory listing.
/// The index's persistent state (what snapshots hold).
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct State {
	/// The latest chain view.
	pub chain: ChainView,
	/// Leader clock high-water mark.
	pub clock_ms: u64,
	/// (owner, path) → inode. Roots are implicit.
	pub paths: BTreeMap<(Account, String), Inode>,
	/// (owner, file id) → record.
	pub files: BTreeMap<(Account, FileId), FileRecord>,
	/// node → slice → number of files placing it there.
	pub node_slices: BTreeMap<NodeId, BTreeMap<SliceHash, u32>>,
	/// Health per node.
	pub health: BTreeMap<NodeId, Health>,
	/// Pending uploads by task.
	pub uploads: BTreeMap<TaskId, Upload>,
	/// Outstanding tickets: client → task → ticket.
	pub tickets: BTreeMap<Account, BTreeMap<TaskId, Outstanding>>,
	/// Last nonce per account.
	pub nonces: BTreeMap<Account, u64>,
	/// Completed uploads: task → (owner, file id, path uploaded to), so holders learn what
	/// became of the slices they took ([`Index::upload_fate`]). Gone with the file.
	pub completed: BTreeMap<TaskId, (Account, FileId, String)>,
	/// The file registry's events are applied through this finalized block (0: none yet).
	pub events_through: u32,
	/// The traffic audit's books.
	pub books: Books,
	/// Copies under way and holder sets being voted.
	pub repairs: repair::Repairs,
}

impl State {
	/// Decodes a snapshot, also one written before the last field of
	/// [`repair::Repairs`] (`damaged`) existed: such a snapshot is this encoding without
	/// its final byte (an empty map), so it decodes with that byte appended.
	pub fn decode_snapshot(data: &[u8]) -> std::result::Result<State, codec::Error> {
		match State::decode(&mut &data[..]) {
			Ok(s) => Ok(s),
			Err(e) => {
				let mut older = data.to_vec();
				older.push(0);
				State::decode(&mut &older[..]).map_err(|_| e)
			},
		}
	}
}

/// The index: its state plus the derived existence filter.
pub struct Index {
	genesis: Hash,
	state: State,
	filter: ExistenceFilter,
}

fn hexs(a: &[u8]) -> String {
	hex::encode(&a[..a.len().min(8)])
}

impl Index {
	/// An empty index for the chain `genesis`.
	pub fn new(genesis: Hash) -> Self {
		Self::from_state(genesis, State::default())
	}

	/// An index restored from a snapshot's state (the filter is rebuilt).
	pub fn from_state(genesis: Hash, state: State) -> Self {
		let filter = ExistenceFilter::build(state.paths.keys());
		Self { genesis, state, filter }
	}

	/// The state (for snapshots and reads).
	pub fn state(&self) -> &State {
		&self.state
	}

	/// The chain the index serves.
	pub fn genesis(&self) -> &Hash {
		&self.genesis
	}

	fn rebuild_filter(&mut self) {
		self.filter = ExistenceFilter::build(self.state.paths.keys());
	}

	fn add_path(&mut self, key: (Account, String), inode: Inode) {
		if self.filter.insert(&key) {
			self.state.paths.insert(key, inode);
			self.rebuild_filter();
		} else {
			self.state.paths.insert(key, inode);
		}
	}

	/// Like `mkdir -p`: creates `path` and its missing ancestors; an existing directory is
	/// fine, a file on the way is not (verified before anything is written).
	fn mkdir_p(&mut self, owner: &Account, path: &NsPath) -> Result<()> {
		let mut missing = Vec::new();
		let mut p = path.clone();
		while !p.is_root() {
			match self.lookup(owner, &p) {
				Some(Inode::Dir) => break,
				Some(Inode::File(_)) => return Err(Error::WrongKind(format!("{p}: is a file"))),
				None => missing.push(p.clone()),
			}
			p = p.parent();
		}
		for p in missing {
			self.add_path((*owner, p.as_str().to_string()), Inode::Dir);
		}
		Ok(())
	}

	fn remove_path(&mut self, key: &(Account, String)) -> Option<Inode> {
		let old = self.state.paths.remove(key)?;
		if self.filter.remove() {
			self.rebuild_filter();
		}
		Some(old)
	}

	// ---- reads ----

	/// What `path` names in `owner`'s namespace, if anything. The Bloom filter answers most
	/// misses without touching the map.
	pub fn lookup(&self, owner: &Account, path: &NsPath) -> Option<Inode> {
		if path.is_root() {
			return Some(Inode::Dir);
		}
		let key = (*owner, path.as_str().to_string());
		if !self.filter.may_contain(&key) {
			return None;
		}
		self.state.paths.get(&key).cloned()
	}

	/// The entries directly inside directory `path`, by name.
	pub fn list(&self, owner: &Account, path: &NsPath) -> Result<Vec<(String, Inode)>> {
		match self.lookup(owner, path) {
			Some(Inode::Dir) => {},
			Some(Inode::File(_)) => {
				return Err(Error::WrongKind(format!("{path}: not a directory")))
			},
			None => return Err(Error::NotFound(path.to_string())),
		}
		let prefix = if path.is_root() { "/".to_string() } else { format!("{path}/") };
		Ok(self
			.state
			.paths
			.range((*owner, prefix.clone())..)
			.take_while(|((o, p), _)| o == owner && p.starts_with(&prefix))
			.filter(|((_, p), _)| !p[prefix.len()..].contains('/'))
			.map(|((_, p), i)| (p[prefix.len()..].to_string(), i.clone()))
			.collect())
	}

	/// The record of `owner`'s file `file_id`.
	pub fn file(&self, owner: &Account, file_id: &FileId) -> Option<&FileRecord> {
		self.state.files.get(&(*owner, *file_id))
	}

	/// The record of the file at `path`.
	pub fn file_at(&self, owner: &Account, path: &NsPath) -> Result<&FileRecord> {
		match self.lookup(owner, path) {
			Some(Inode::File(id)) => {
				self.file(owner, &id).ok_or_else(|| Error::NotFound(path.to_string()))
			},
			Some(Inode::Dir) => Err(Error::WrongKind(format!("{path}: is a directory"))),
			None => Err(Error::NotFound(path.to_string())),
		}
	}

	/// Whether `node` is healthy at the index's clock: active on chain and heard from within
	/// [`HEALTH_TIMEOUT_MS`].
	pub fn is_healthy(&self, node: &NodeId) -> bool {
		let active = self.state.chain.resource_nodes.iter().any(|n| &n.id == node && n.active);
		let heard = self.state.health.get(node).is_some_and(|h| {
			self.state.clock_ms.saturating_sub(h.last_seen_ms) <= HEALTH_TIMEOUT_MS
		});
		active && heard
	}

	/// Routing candidates: healthy nodes with their health figures.
	pub fn candidates(&self) -> Vec<Candidate> {
		self.state
			.chain
			.resource_nodes
			.iter()
			.filter(|n| self.is_healthy(&n.id))
			.map(|n| {
				let h = &self.state.health[&n.id];
				Candidate {
					id: n.id,
					account: n.account,
					region: n.region.clone(),
					free: h.free,
					uptime_permille: h.uptime_permille,
					connections: h.connections,
					recent_errors: h.recent_errors,
				}
			})
			.collect()
	}

	/// Bytes of tickets outstanding for `client`.
	pub fn outstanding(&self, client: &Account) -> u128 {
		self.state
			.tickets
			.get(client)
			.map(|t| t.values().map(|o| o.length as u128).sum())
			.unwrap_or(0)
	}

	// ---- writes ----

	/// Applies the log entry at `log_index`.
	pub fn apply(&mut self, log_index: u64, cmd: &Command) -> Result<Response> {
		match cmd {
			Command::Chain(view) => self.apply_chain(view),
			Command::Namespace(req) => {
				self.check_request(req)?;
				let r = self.apply_ns(&req.account, &req.body)?;
				self.state.nonces.insert(req.account, req.nonce);
				Ok(r)
			},
			Command::Heartbeat { now_ms, beat } => self.apply_heartbeat(*now_ms, beat),
			Command::Place { req, now_ms, balance_ok, issuer } => {
				self.tick(*now_ms);
				self.check_request(req)?;
				let r = self.apply_place(log_index, req, *balance_ok, *issuer)?;
				self.state.nonces.insert(req.account, req.nonce);
				Ok(r)
			},
			Command::Complete { task, slices, acks } => self.apply_complete(task, slices, acks),
			Command::Recorded { owner, file_id, block } => {
				self.apply_recorded(owner, file_id, *block)
			},
			Command::Dropped { owner, file_id } => self.apply_dropped(owner, file_id),
			Command::Restore(files) => Ok(Response::Restored(self.apply_restore(files))),
			Command::EventsDone { block } => {
				self.state.events_through = self.state.events_through.max(*block);
				Ok(Response::Done)
			},
			Command::Tickets { req, reserved, reserve_unlocks_at, issuer } => {
				self.check_request(req)?;
				let r =
					self.apply_tickets(log_index, req, *reserved, *reserve_unlocks_at, *issuer)?;
				self.state.nonces.insert(req.account, req.nonce);
				Ok(r)
			},
			Command::Tick { now_ms } => Ok(Response::Expired(self.tick(*now_ms))),
			Command::Receipts { from, receipts, unsigned } => {
				let registered: BTreeSet<NodeId> =
					self.state.chain.resource_nodes.iter().map(|n| n.id).collect();
				let cx = audit::Context {
					genesis: &self.genesis,
					number: self.state.chain.number,
					registered: &registered,
				};
				let mut done = self.state.books.count(&cx, *from, receipts);
				if !unsigned.is_empty() {
					let u = self.state.books.note_unsigned(&cx, unsigned);
					let base = receipts.len() as u32;
					done.refused.extend(u.refused.into_iter().map(|(i, why)| (base + i, why)));
				}
				Ok(Response::Audited(done))
			},
			Command::CutOff { period } => {
				if *period >= self.state.chain.ledger_period {
					return Err(Error::Invalid(format!(
						"period {period} is not over at the index's chain view (period {})",
						self.state.chain.ledger_period
					)));
				}
				let registered = self.state.chain.resource_nodes.iter().map(|n| n.id).collect();
				self.state.books.close(*period, registered).map_err(Error::Invalid)?;
				Ok(Response::Done)
			},
			Command::Repair { now_ms, budget, issuer } => {
				self.tick(*now_ms);
				Ok(Response::Repair(self.apply_repair(log_index, *budget, *issuer)))
			},
			Command::Copied { owner, file_id, target, acks } => {
				self.apply_copied(owner, file_id, target, acks)
			},
			Command::Rehomed { owner, file_id, holders } => {
				self.apply_rehomed(owner, file_id, holders)
			},
			Command::SlicesLost { node, slices } => self.apply_slices_lost(node, slices),
		}
	}

	/// `node` lost `slices`: every file it holds that contains one of them is marked
	/// damaged on it ([`repair::Repairs::damaged`]). Slices it was not placed are ignored
	/// (a pending upload's, or one of a file it no longer holds).
	fn apply_slices_lost(&mut self, node: &NodeId, slices: &[SliceHash]) -> Result<Response> {
		if !self.state.chain.resource_nodes.iter().any(|n| n.id == *node) {
			return Err(Error::UnknownNode(node.to_string()));
		}
		let held = self.state.node_slices.get(node);
		let lost: BTreeSet<SliceHash> =
			slices.iter().filter(|s| held.is_some_and(|h| h.contains_key(s))).copied().collect();
		if lost.is_empty() {
			return Ok(Response::Done);
		}
		let hit: Vec<(Account, FileId)> = self
			.state
			.files
			.iter()
			.filter(|(_, f)| f.holders.contains(node) && f.slices.iter().any(|s| lost.contains(s)))
			.map(|(k, _)| *k)
			.collect();
		tracing::warn!(
			node = %node,
			slices = lost.len(),
			files = hit.len(),
			"a resource node lost slices; its copies of these files are repaired elsewhere"
		);
		let r = &mut self.state.repairs;
		for key in hit {
			r.damaged.entry(key).or_default().insert(*node);
		}
		Ok(Response::Done)
	}

	/// Whether `node` holds an intact copy of the file `key` as far as the index knows (it
	/// did not report losing one of its slices).
	fn intact_on(&self, key: &(Account, FileId), node: &NodeId) -> bool {
		!self.state.repairs.damaged.get(key).is_some_and(|d| d.contains(node))
	}

	/// A repair round: copies that cannot finish are given up, files short of healthy
	/// holders get new copies within the budget, and the orders to send (new, and not
	/// acknowledged for [`repair::RESEND_MS`]) are answered.
	fn apply_repair(
		&mut self,
		log_index: u64,
		budget: u64,
		issuer: NodeId,
	) -> Vec<repair::Dispatch> {
		let now = self.state.clock_ms;
		let healthy: BTreeSet<NodeId> = self
			.state
			.chain
			.resource_nodes
			.iter()
			.filter(|n| self.is_healthy(&n.id))
			.map(|n| n.id)
			.collect();
		let files = &self.state.files;
		let r = &mut self.state.repairs;
		// Damage of files gone, or of nodes no longer holding them, is forgotten.
		r.damaged.retain(|key, nodes| {
			nodes.retain(|n| files.get(key).is_some_and(|f| f.holders.contains(n)));
			!nodes.is_empty()
		});
		let damaged = &r.damaged;
		let mut abandoned = 0u64;
		r.copies.retain(|key, copies| {
			let exists = files.contains_key(key);
			let lost = damaged.get(key);
			copies.retain(|c| {
				let keep = exists
					&& healthy.contains(&c.target)
					&& (c.done
						|| (healthy.contains(&c.source)
							&& !lost.is_some_and(|l| l.contains(&c.source))
							&& now.saturating_sub(c.started_ms) <= repair::COPY_TIMEOUT_MS));
				abandoned += u64::from(!keep);
				keep
			});
			!copies.is_empty()
		});
		r.stats.abandoned += abandoned;
		// A proposal stands only while all of its file's copies do.
		let copies = &r.copies;
		r.rehome.retain(|k, holders| {
			copies.get(k).is_some_and(|c| {
				c.iter().all(|c| c.done) && c.iter().all(|c| holders.contains(&c.target))
			})
		});

		// Plan only when some node holding data is unhealthy or lost slices (the common case
		// costs a scan of the nodes, not of the files).
		let unhealthy_holder = !self.state.repairs.damaged.is_empty()
			|| self
				.state
				.node_slices
				.iter()
				.any(|(n, held)| !held.is_empty() && !healthy.contains(n));
		let room = budget.saturating_sub(self.state.repairs.bytes_in_flight());
		if unhealthy_holder && (room > 0 || self.state.repairs.in_flight() == 0) {
			let rehoming = &self.state.repairs.rehome;
			let damaged = &self.state.repairs.damaged;
			let files: Vec<repair::RepairFile> = self
				.state
				.files
				.values()
				.filter(|f| matches!(f.status, FileStatus::OnChain(_)))
				.filter(|f| !rehoming.contains_key(&(f.owner, f.file_id)))
				.filter(|f| {
					f.holders.iter().any(|h| !healthy.contains(h))
						|| damaged.contains_key(&(f.owner, f.file_id))
				})
				.map(|f| repair::RepairFile {
					owner: f.owner,
					file_id: f.file_id,
					size: f.size,
					holders: f.holders.clone(),
					lost: damaged
						.get(&(f.owner, f.file_id))
						.map(|d| d.iter().copied().collect())
						.unwrap_or_default(),
					want: f.holders.len().max(MIN_REPLICAS as usize),
				})
				.collect();
			let in_flight: BTreeMap<(Account, FileId), Vec<NodeId>> = self
				.state
				.repairs
				.copies
				.iter()
				.map(|(k, c)| (*k, c.iter().map(|c| c.target).collect()))
				.collect();
			let mut seed = self.state.chain.hash.to_vec();
			seed.extend_from_slice(&log_index.to_le_bytes());
			let plan = repair::plan(
				&files,
				|n| healthy.contains(n),
				&self.candidates(),
				&in_flight,
				room,
				&stratos_primitives::hash(&seed),
			);
			for a in &plan.alerts {
				tracing::warn!(alert = ?a, "a file cannot be repaired now");
			}
			let r = &mut self.state.repairs;
			r.stats.deferred = plan.deferred;
			r.stats.alerts = plan.alerts.len() as u32;
			for (i, o) in plan.orders.into_iter().enumerate() {
				let task = meta::task_id(log_index, &o.owner, &SliceHash(o.file_id.0), i as u32);
				r.stats.ordered += 1;
				r.copies.entry((o.owner, o.file_id)).or_default().push(repair::Copy {
					task,
					source: o.source,
					target: o.target,
					bytes: o.bytes,
					started_ms: now,
					// Sent in this round (below).
					sent_ms: 0,
					expires_at: self.state.chain.number.saturating_add(repair::COPY_AUTH_BLOCKS),
					acked: BTreeSet::new(),
					done: false,
				});
			}
		} else if !unhealthy_holder {
			self.state.repairs.stats.deferred = 0;
			self.state.repairs.stats.alerts = 0;
		}

		let mut out = Vec::new();
		let genesis = self.genesis;
		let r = &mut self.state.repairs;
		for ((owner, file_id), copies) in r.copies.iter_mut() {
			let Some(f) = self.state.files.get(&(*owner, *file_id)) else { continue };
			let lost = r.damaged.get(&(*owner, *file_id));
			for c in copies.iter_mut().filter(|c| !c.done) {
				if c.sent_ms != 0 && now.saturating_sub(c.sent_ms) < repair::RESEND_MS {
					continue;
				}
				if c.sent_ms != 0 {
					// Not confirmed: the next healthy holder sends this time (the last one
					// may have lost or corrupted its copy).
					let sources: Vec<NodeId> = f
						.holders
						.iter()
						.filter(|h| healthy.contains(h) && !lost.is_some_and(|l| l.contains(h)))
						.copied()
						.collect();
					if let Some(i) = sources.iter().position(|s| *s == c.source) {
						c.source = sources[(i + 1) % sources.len()];
					} else if let Some(s) = sources.first() {
						c.source = *s;
					}
				}
				c.sent_ms = now.max(1);
				let mut seen = BTreeSet::new();
				let slices = f
					.slices
					.iter()
					.enumerate()
					.filter(|(_, s)| !c.acked.contains(s) && seen.insert(**s))
					.map(|(i, s)| (*s, f.slice_len(i)))
					.collect();
				out.push(repair::Dispatch {
					owner: *owner,
					file_id: *file_id,
					auth: UploadAuth {
						genesis_hash: genesis,
						owner: *owner,
						task: c.task,
						holders: vec![c.target],
						// A resend after a partial copy may put some slices again.
						max_bytes: c.bytes.saturating_mul(2),
						expires_at: c.expires_at,
						issuer,
					},
					source: c.source,
					slices,
				});
			}
		}
		out
	}

	/// A copy's target acknowledged slices: each acknowledgement is checked (signature,
	/// chain, owner, the copy's target, a slice of the file with its length). When every
	/// copy of the file is acknowledged in full, its new holder set is fixed for the vote.
	fn apply_copied(
		&mut self,
		owner: &Account,
		file_id: &FileId,
		target: &NodeId,
		acks: &[SignedStoreAck],
	) -> Result<Response> {
		let key = (*owner, *file_id);
		let f = self.state.files.get(&key).ok_or_else(|| Error::NotFound(file_id.to_string()))?;
		let copy = self
			.state
			.repairs
			.copies
			.get(&key)
			.and_then(|c| c.iter().position(|c| c.target == *target && !c.done))
			.ok_or_else(|| {
				Error::Invalid(format!(
					"no copy of file {file_id} to node {} is under way",
					hexs(&target.0)
				))
			})?;
		let lens: BTreeMap<SliceHash, u64> =
			f.slices.iter().enumerate().map(|(i, s)| (*s, f.slice_len(i))).collect();
		for a in acks {
			if !a.verify(&self.genesis) {
				return Err(Error::BadAck(format!(
					"the copy acknowledgement for slice {} does not verify",
					hexs(&a.ack.slice.0)
				)));
			}
			if a.ack.owner != *owner || a.ack.node != *target {
				return Err(Error::BadAck(
					"a copy acknowledgement names another owner or node".into(),
				));
			}
			if lens.get(&a.ack.slice) != Some(&a.ack.length) {
				return Err(Error::BadAck(
					"a copy acknowledgement names a slice not in the file, or the wrong length"
						.into(),
				));
			}
		}
		let healthy_holders: Vec<NodeId> = f
			.holders
			.iter()
			.filter(|h| self.is_healthy(h) && self.intact_on(&key, h))
			.copied()
			.collect();
		let r = &mut self.state.repairs;
		let copies = r.copies.get_mut(&key).expect("found above");
		let c = &mut copies[copy];
		c.acked.extend(acks.iter().map(|a| a.ack.slice));
		if c.acked.len() == lens.len() {
			c.done = true;
			r.stats.copied += 1;
		}
		if copies.iter().all(|c| c.done) {
			let mut holders = healthy_holders;
			for c in copies.iter() {
				if !holders.contains(&c.target) {
					holders.push(c.target);
				}
			}
			tracing::info!(file = %file_id, holders = holders.len(), "every copy acknowledged; the meta nodes vote the new holders");
			r.rehome.insert(key, holders);
		}
		Ok(Response::Done)
	}

	/// The chain replaced a file's holders: the index follows, the copies' targets now
	/// named keep their slices (their upload task completed), and holders that left may
	/// drop the slices nothing else of theirs needs.
	fn apply_rehomed(
		&mut self,
		owner: &Account,
		file_id: &FileId,
		accounts: &[Account],
	) -> Result<Response> {
		let key = (*owner, *file_id);
		let holders: Vec<NodeId> = accounts
			.iter()
			.filter_map(|a| self.state.chain.resource_nodes.iter().find(|n| n.account == *a))
			.map(|n| n.id)
			.collect();
		let path = self
			.state
			.paths
			.range((*owner, String::new())..)
			.take_while(|((o, _), _)| o == owner)
			.find(|(_, i)| **i == Inode::File(*file_id))
			.map(|((_, p), _)| p.clone());
		let Some(f) = self.state.files.get_mut(&key) else {
			return Ok(Response::DeleteOrders(Vec::new()));
		};
		let old = std::mem::replace(&mut f.holders, holders.clone());
		let slices = f.slices.clone();
		let path = path.or_else(|| f.pending_path.clone()).unwrap_or_default();
		for h in holders.iter().filter(|h| !old.contains(h)) {
			let held = self.state.node_slices.entry(*h).or_default();
			for s in &slices {
				*held.entry(*s).or_default() += 1;
			}
		}
		let mut orders = Vec::new();
		for h in old.iter().filter(|h| !holders.contains(h)) {
			let mut drop = Vec::new();
			if let Some(held) = self.state.node_slices.get_mut(h) {
				for s in &slices {
					if let Some(c) = held.get_mut(s) {
						*c -= 1;
						if *c == 0 {
							held.remove(s);
							drop.push(*s);
						}
					}
				}
				if held.is_empty() {
					self.state.node_slices.remove(h);
				}
			}
			if !drop.is_empty() {
				drop.sort();
				drop.dedup();
				orders.push((*h, drop));
			}
		}
		let r = &mut self.state.repairs;
		for c in r.copies.remove(&key).unwrap_or_default() {
			if holders.contains(&c.target) {
				self.state.completed.insert(c.task, (*owner, *file_id, path.clone()));
			}
		}
		r.rehome.remove(&key);
		r.stats.rehomed += 1;
		// A holder that lost slices and is still named keeps its mark (repair goes on).
		if let Some(d) = r.damaged.get_mut(&key) {
			d.retain(|n| holders.contains(n));
			if d.is_empty() {
				r.damaged.remove(&key);
			}
		}
		Ok(Response::DeleteOrders(orders))
	}

	fn check_request<T: Encode>(&self, req: &Signed<T>) -> Result<()> {
		if !req.verify(&self.genesis) {
			return Err(Error::BadSignature);
		}
		let last = self.state.nonces.get(&req.account).copied().unwrap_or(0);
		if req.nonce <= last {
			return Err(Error::StaleNonce { got: req.nonce, last });
		}
		Ok(())
	}

	fn tick(&mut self, now_ms: u64) -> Vec<TaskId> {
		self.state.clock_ms = self.state.clock_ms.max(now_ms);
		let now = self.state.clock_ms;
		let expired: Vec<TaskId> = self
			.state
			.uploads
			.iter()
			.filter(|(_, u)| u.expires_ms < now)
			.map(|(t, _)| *t)
			.collect();
		for t in &expired {
			self.state.uploads.remove(t);
		}
		expired
	}

	fn apply_chain(&mut self, view: &ChainView) -> Result<Response> {
		if view.number < self.state.chain.number {
			return Err(Error::Invalid(format!(
				"chain view at block {} is older than the index's {}",
				view.number, self.state.chain.number
			)));
		}
		self.state.chain = view.clone();
		// Tickets past their expiry no longer hold credit.
		let number = view.number;
		self.state.tickets.retain(|_, t| {
			t.retain(|_, o| o.expires_at >= number);
			!t.is_empty()
		});
		// Nodes gone from the chain lose their health record.
		let known: BTreeSet<NodeId> = view.resource_nodes.iter().map(|n| n.id).collect();
		self.state.health.retain(|id, _| known.contains(id));
		Ok(Response::Done)
	}

	fn apply_heartbeat(&mut self, now_ms: u64, beat: &Heartbeat) -> Result<Response> {
		if !self.state.chain.resource_nodes.iter().any(|n| n.id == beat.node) {
			return Err(Error::UnknownNode(beat.node.to_string()));
		}
		self.state.clock_ms = self.state.clock_ms.max(now_ms);
		let h = self.state.health.entry(beat.node).or_insert_with(|| Health {
			first_seen_ms: now_ms,
			last_seen_ms: now_ms,
			uptime_permille: 1000,
			..Default::default()
		});
		let on_time = now_ms.saturating_sub(h.last_seen_ms) <= 2 * HEARTBEAT_INTERVAL_MS;
		h.uptime_permille = (h.uptime_permille * 7 + if on_time { 1000 } else { 0 }) / 8;
		h.last_seen_ms = h.last_seen_ms.max(now_ms);
		h.free = beat.free;
		h.capacity = beat.capacity;
		h.connections = beat.connections;
		h.recent_errors = h.recent_errors / 2 + beat.errors;
		h.version = beat.version.clone();
		Ok(Response::Done)
	}

	fn apply_ns(&mut self, owner: &Account, op: &NsOp) -> Result<Response> {
		match op {
			NsOp::Mkdir { path } => {
				let path = NsPath::parse(path)?;
				self.mkdir_p(owner, &path)?;
				Ok(Response::Done)
			},
			NsOp::Mv { from, to } => {
				let from = NsPath::parse(from)?;
				let to = NsPath::parse(to)?;
				if from.is_root() || to.is_root() {
					return Err(Error::Invalid("the root cannot be moved or replaced".into()));
				}
				let kind =
					self.lookup(owner, &from).ok_or_else(|| Error::NotFound(from.to_string()))?;
				if self.lookup(owner, &to).is_some() {
					return Err(Error::Exists(to.to_string()));
				}
				if self.lookup(owner, &to.parent()) != Some(Inode::Dir) {
					return Err(Error::NotFound(format!("{} (parent of {to})", to.parent())));
				}
				if kind == Inode::Dir && to.starts_with(&from) {
					return Err(Error::Invalid(format!("cannot move {from} into itself")));
				}
				let moved: Vec<(String, Inode)> = self
					.subtree(owner, &from)
					.into_iter()
					.map(|(p, i)| {
						Ok((NsPath::parse(&p)?.rebase(&from, &to)?.as_str().to_string(), i))
					})
					.collect::<Result<_>>()?;
				for (p, _) in self.subtree(owner, &from) {
					self.remove_path(&(*owner, p));
				}
				for (p, i) in moved {
					self.add_path((*owner, p), i);
				}
				Ok(Response::Done)
			},
			NsOp::Rm { path, recursive } => {
				let path = NsPath::parse(path)?;
				if path.is_root() {
					return Err(Error::Invalid("the root cannot be removed".into()));
				}
				let kind =
					self.lookup(owner, &path).ok_or_else(|| Error::NotFound(path.to_string()))?;
				let under = self.subtree(owner, &path);
				if kind == Inode::Dir && under.len() > 1 && !recursive {
					return Err(Error::NotEmpty(path.to_string()));
				}
				let mut orphans = Vec::new();
				for (p, inode) in under {
					self.remove_path(&(*owner, p));
					if let Inode::File(id) = inode {
						if let Some(f) = self.state.files.get_mut(&(*owner, id)) {
							f.links = f.links.saturating_sub(1);
							if f.links == 0 {
								orphans.push(id);
							}
						}
					}
				}
				Ok(Response::Removed(orphans))
			},
		}
	}

	/// `path` and everything below it.
	fn subtree(&self, owner: &Account, path: &NsPath) -> Vec<(String, Inode)> {
		let mut out = Vec::new();
		if let Some(i) = self.state.paths.get(&(*owner, path.as_str().to_string())) {
			out.push((path.as_str().to_string(), i.clone()));
		}
		let prefix = format!("{path}/");
		out.extend(
			self.state
				.paths
				.range((*owner, prefix.clone())..)
				.take_while(|((o, p), _)| o == owner && p.starts_with(&prefix))
				.map(|((_, p), i)| (p.clone(), i.clone())),
		);
		out
	}

	fn apply_place(
		&mut self,
		log_index: u64,
		req: &Signed<PlaceRequest>,
		balance_ok: bool,
		issuer: NodeId,
	) -> Result<Response> {
		let owner = req.account;
		let r = &req.body;
		let path = NsPath::parse(&r.path)?;
		if path.is_root() {
			return Err(Error::Invalid("a file cannot be stored at /".into()));
		}
		if r.size == 0 {
			return Err(Error::Invalid("the file is empty".into()));
		}
		if r.slice_size == 0 || !r.slice_size.is_multiple_of(u64::from(merkle::CHUNK_SIZE)) {
			return Err(Error::Invalid("slice size must be a positive multiple of 64 KiB".into()));
		}
		if r.size.div_ceil(r.slice_size) > u64::from(MAX_SLICES) {
			return Err(Error::Invalid(format!("more than {MAX_SLICES} slices")));
		}
		let replicas = r.replicas.max(MIN_REPLICAS) as usize;
		if replicas > meta::MAX_HOLDERS {
			return Err(Error::Invalid(format!("at most {} replicas", meta::MAX_HOLDERS)));
		}
		if self.lookup(&owner, &path).is_some() {
			return Err(Error::Exists(path.to_string()));
		}
		if self.lookup(&owner, &path.parent()) != Some(Inode::Dir) {
			return Err(Error::NotFound(format!("{} (create it with mkdir)", path.parent())));
		}
		if !balance_ok {
			return Err(Error::InsufficientBalance);
		}
		let task = meta::task_id(
			log_index,
			&owner,
			&SliceHash(stratos_primitives::hash(path.as_str().as_bytes())),
			0,
		);
		let mut seed_input = task.0.to_vec();
		seed_input.extend_from_slice(&self.state.chain.hash);
		let seed = stratos_primitives::hash(&seed_input);
		// Each holder takes the whole file.
		let holders = routing::choose_holders(&self.candidates(), replicas, r.size, &seed)?;
		let auth = UploadAuth {
			genesis_hash: self.genesis,
			owner,
			task,
			holders,
			max_bytes: r.size,
			expires_at: self.state.chain.number.saturating_add((UPLOAD_TTL_MS / 2000) as u32),
			issuer,
		};
		// The owner's new placement of a path replaces an unfinished one (a retry after an
		// upload failed, e.g. when a holder died): that one can no longer complete, and its
		// holders drop what they took for it once they learn its fate.
		let superseded: Vec<TaskId> = self
			.state
			.uploads
			.iter()
			.filter(|(_, u)| u.auth.owner == owner && u.path == path.as_str())
			.map(|(t, _)| *t)
			.collect();
		for t in superseded {
			tracing::info!(task = %t, %path, "an unfinished upload is replaced by a new placement");
			self.state.uploads.remove(&t);
		}
		self.state.uploads.insert(
			task,
			Upload {
				auth: auth.clone(),
				path: path.as_str().to_string(),
				size: r.size,
				slice_size: r.slice_size,
				expires_ms: self.state.clock_ms + UPLOAD_TTL_MS,
			},
		);
		Ok(Response::Placed(auth))
	}

	fn apply_complete(
		&mut self,
		task: &TaskId,
		slices: &[SliceHash],
		acks: &[SignedStoreAck],
	) -> Result<Response> {
		let up =
			self.state.uploads.get(task).ok_or_else(|| Error::UnknownUpload(task.to_string()))?;
		let owner = up.auth.owner;
		let expected = up.size.div_ceil(up.slice_size) as usize;
		if slices.len() != expected {
			return Err(Error::UploadMismatch(format!(
				"{} slice hashes for a file of {expected} slices",
				slices.len()
			)));
		}
		let lens: Vec<u64> = (0..expected)
			.map(|i| (up.size - i as u64 * up.slice_size).min(up.slice_size))
			.collect();
		let file_id = FileId(merkle::root_of(lens.iter().zip(slices).map(|(l, s)| (*l, s.0))));
		// Every (slice, holder) needs a valid ack with the right length.
		let mut acked: BTreeSet<(usize, NodeId)> = BTreeSet::new();
		let by_slice: BTreeMap<SliceHash, Vec<usize>> =
			slices.iter().enumerate().fold(BTreeMap::new(), |mut m, (i, s)| {
				m.entry(*s).or_default().push(i);
				m
			});
		for a in acks {
			if !a.verify(&self.genesis) {
				return Err(Error::BadAck(format!(
					"the acknowledgement of node {} for slice {} does not verify",
					hexs(&a.ack.node.0),
					hexs(&a.ack.slice.0)
				)));
			}
			if a.ack.owner != owner || !up.auth.holders.contains(&a.ack.node) {
				return Err(Error::BadAck(
					"an acknowledgement names another owner or holder".into(),
				));
			}
			let Some(idx) = by_slice.get(&a.ack.slice) else {
				return Err(Error::BadAck(
					"an acknowledgement names a slice not in the file".into(),
				));
			};
			for &i in idx {
				if a.ack.length == lens[i] {
					acked.insert((i, a.ack.node));
				}
			}
		}
		for i in 0..expected {
			for h in &up.auth.holders {
				if !acked.contains(&(i, *h)) {
					return Err(Error::BadAck(format!(
						"slice {i} has no valid acknowledgement from holder {}",
						hexs(&h.0)
					)));
				}
			}
		}
		let up = self.state.uploads.remove(task).expect("checked above");
		self.state.completed.insert(*task, (owner, file_id, up.path.clone()));
		if let Some(existing) = self.state.files.get_mut(&(owner, file_id)) {
			// Same content again: the new path names the existing file.
			if let FileStatus::OnChain(_) = existing.status {
				existing.links += 1;
				self.add_path((owner, up.path), Inode::File(file_id));
				return Ok(Response::Linked(file_id));
			}
			return Err(Error::Exists(format!("file {file_id} is already being recorded")));
		}
		for h in &up.auth.holders {
			let held = self.state.node_slices.entry(*h).or_default();
			for s in slices {
				*held.entry(*s).or_default() += 1;
			}
		}
		let record = FileRecord {
			owner,
			file_id,
			size: up.size,
			slice_size: up.slice_size,
			slices: slices.to_vec(),
			holders: up.auth.holders.clone(),
			status: FileStatus::Voting,
			links: 0,
			pending_path: Some(up.path),
		};
		self.state.files.insert((owner, file_id), record.clone());
		Ok(Response::Completed(record))
	}

	fn apply_recorded(
		&mut self,
		owner: &Account,
		file_id: &FileId,
		block: u32,
	) -> Result<Response> {
		let f = self
			.state
			.files
			.get_mut(&(*owner, *file_id))
			.ok_or_else(|| Error::NotFound(format!("file {file_id}")))?;
		f.status = FileStatus::OnChain(block);
		let Some(path) = f.pending_path.take() else { return Ok(Response::Done) };
		let parsed = NsPath::parse(&path)?;
		// The path may have been taken (or its parent removed) meanwhile; the file then stays
		// recorded without a path, reported to the owner as unlinked.
		let free = self.lookup(owner, &parsed).is_none()
			&& self.lookup(owner, &parsed.parent()) == Some(Inode::Dir);
		if free {
			if let Some(f) = self.state.files.get_mut(&(*owner, *file_id)) {
				f.links += 1;
			}
			self.add_path((*owner, path), Inode::File(*file_id));
		}
		Ok(Response::Done)
	}

	fn apply_restore(&mut self, files: &[RestoredFile]) -> u32 {
		let mut added = 0;
		for r in files {
			let m = &r.manifest;
			let key = (m.owner, m.file_id);
			if !m.is_consistent()
				|| r.holders.is_empty()
				|| r.holders.len() > meta::MAX_HOLDERS
				|| self.state.files.contains_key(&key)
			{
				continue;
			}
			for h in &r.holders {
				let held = self.state.node_slices.entry(*h).or_default();
				for s in &m.slices {
					*held.entry(*s).or_default() += 1;
				}
			}
			// The path it was uploaded to when that is still free, else under /recovered.
			let wanted = NsPath::parse(&m.path).ok().filter(|p| {
				self.lookup(&m.owner, p).is_none() && self.mkdir_p(&m.owner, &p.parent()).is_ok()
			});
			let path = match wanted {
				Some(p) => p,
				None => {
					let p =
						NsPath::parse(&format!("/recovered/{}", m.file_id)).expect("a valid path");
					if self.mkdir_p(&m.owner, &p.parent()).is_err() {
						// `/recovered` is a file of the owner's: recorded, without a path.
						self.insert_restored(r, 0);
						added += 1;
						continue;
					}
					p
				},
			};
			self.insert_restored(r, 1);
			self.add_path((m.owner, path.as_str().to_string()), Inode::File(m.file_id));
			added += 1;
		}
		added
	}

	fn insert_restored(&mut self, r: &RestoredFile, links: u32) {
		let m = &r.manifest;
		self.state.files.insert(
			(m.owner, m.file_id),
			FileRecord {
				owner: m.owner,
				file_id: m.file_id,
				size: m.size,
				slice_size: m.slice_size,
				slices: m.slices.clone(),
				holders: r.holders.clone(),
				status: FileStatus::OnChain(r.block),
				links,
				pending_path: None,
			},
		);
	}

	/// What became of upload `task`, as told to `asker`: only the upload's holders (for an
	/// open upload) or the file's holders (for a completed one) learn anything.
	pub fn upload_fate(&self, task: &TaskId, asker: &NodeId) -> UploadFate {
		if let Some(up) = self.state.uploads.get(task) {
			if up.auth.holders.contains(asker) {
				return UploadFate::Pending;
			}
			return UploadFate::Unknown;
		}
		let copying = self.state.repairs.copies.values().flatten().any(|c| c.task == *task);
		if copying {
			let to_asker = self
				.state
				.repairs
				.copies
				.values()
				.flatten()
				.any(|c| c.task == *task && c.target == *asker);
			return if to_asker { UploadFate::Pending } else { UploadFate::Unknown };
		}
		let Some((owner, file_id, path)) = self.state.completed.get(task) else {
			return UploadFate::Unknown;
		};
		match self.state.files.get(&(*owner, *file_id)) {
			Some(f) if f.holders.contains(asker) => UploadFate::Completed(meta::FileManifest {
				owner: *owner,
				file_id: *file_id,
				size: f.size,
				slice_size: f.slice_size,
				slices: f.slices.clone(),
				path: path.clone(),
			}),
			_ => UploadFate::Unknown,
		}
	}

	fn apply_dropped(&mut self, owner: &Account, file_id: &FileId) -> Result<Response> {
		let Some(f) = self.state.files.remove(&(*owner, *file_id)) else {
			return Ok(Response::DeleteOrders(Vec::new()));
		};
		self.state.repairs.copies.remove(&(*owner, *file_id));
		self.state.repairs.rehome.remove(&(*owner, *file_id));
		self.state.repairs.damaged.remove(&(*owner, *file_id));
		self.state.completed.retain(|_, (o, id, _)| (&*o, &*id) != (owner, file_id));
		let linked: Vec<(Account, String)> = self
			.state
			.paths
			.iter()
			.filter(|((o, _), i)| o == owner && **i == Inode::File(*file_id))
			.map(|(k, _)| k.clone())
			.collect();
		for k in linked {
			self.remove_path(&k);
		}
		let mut orders = Vec::new();
		for h in &f.holders {
			let mut drop = Vec::new();
			if let Some(held) = self.state.node_slices.get_mut(h) {
				for s in &f.slices {
					if let Some(c) = held.get_mut(s) {
						*c -= 1;
						if *c == 0 {
							held.remove(s);
							drop.push(*s);
						}
					}
				}
				if held.is_empty() {
					self.state.node_slices.remove(h);
				}
			}
			if !drop.is_empty() {
				drop.sort();
				drop.dedup();
				orders.push((*h, drop));
			}
		}
		Ok(Response::DeleteOrders(orders))
	}

	fn apply_tickets(
		&mut self,
		log_index: u64,
		req: &Signed<TicketRequest>,
		reserved: u128,
		reserve_unlocks_at: u32,
		issuer: NodeId,
	) -> Result<Response> {
		let client = req.account;
		let unsigned = self.state.books.unsigned_of(&client);
		if unsigned > audit::MAX_UNSIGNED {
			return Err(Error::Unsigned(unsigned as u32));
		}
		let r = &req.body;
		let path = NsPath::parse(&r.path)?;
		let file = self.file_at(&r.owner, &path)?.clone();
		let indices: Vec<u32> = if r.slices.is_empty() {
			(0..file.slices.len() as u32).collect()
		} else {
			r.slices.clone()
		};
		if indices.len() > MAX_TICKETS_PER_REQUEST {
			return Err(Error::Invalid(format!(
				"at most {MAX_TICKETS_PER_REQUEST} tickets at once"
			)));
		}
		if let Some(bad) = indices.iter().find(|i| **i as usize >= file.slices.len()) {
			return Err(Error::Invalid(format!("slice {bad} is past the file's end")));
		}
		let mut distinct = BTreeMap::new();
		for i in &indices {
			distinct.entry(file.slices[*i as usize]).or_insert(file.slice_len(*i as usize));
		}
		let need: u128 = distinct.values().map(|l| *l as u128).sum();
		let chain = &self.state.chain;
		let expires_at = chain
			.number
			.saturating_add(TICKET_TTL_BLOCKS)
			.min(reserve_unlocks_at.saturating_sub(RESERVATION_MARGIN_BLOCKS));
		// A reservation about to unlock (or none) backs no ticket.
		let available = if expires_at <= chain.number {
			if reserved > 0 {
				return Err(Error::ReservationEnding {
					reserved,
					unlocks_at: reserve_unlocks_at,
					now: chain.number,
				});
			}
			0
		} else {
			reserved.saturating_sub(self.outstanding(&client))
		};
		if need > available {
			return Err(Error::NoCredit { need, available });
		}
		// A fallback names the holders that failed the client: each counts an error against
		// a node the client was actually sent to (an outstanding ticket of its names it), so
		// a client cannot blame nodes it never used. Errors decay with the node's heartbeats
		// and lower its routing weight.
		if r.attempt > 0 {
			let sent_to: BTreeSet<NodeId> = self
				.state
				.tickets
				.get(&client)
				.map(|t| t.values().map(|o| o.holder).collect())
				.unwrap_or_default();
			for n in r.avoid.iter().collect::<BTreeSet<_>>() {
				if sent_to.contains(n) && file.holders.contains(n) {
					if let Some(h) = self.state.health.get_mut(n) {
						h.recent_errors = h.recent_errors.saturating_add(1);
					}
				}
			}
		}
		let key = (file.owner, file.file_id);
		let healthy: Vec<NodeId> = file
			.holders
			.iter()
			.filter(|h| self.is_healthy(h) && !r.avoid.contains(h) && self.intact_on(&key, h))
			.copied()
			.collect();
		if healthy.is_empty() {
			return Err(Error::NotEnoughNodes { need: 1, have: 0 });
		}
		// One ticket per distinct slice: a slice that occurs twice in a file is fetched once.
		let mut seen = BTreeSet::new();
		let mut tickets = Vec::with_capacity(indices.len());
		for i in indices {
			let slice = file.slices[i as usize];
			if !seen.insert(slice) {
				continue;
			}
			let task = meta::task_id(log_index, &client, &slice, r.attempt);
			let holder = meta::ticket_holder(&task, &chain.hash, &healthy).expect("non-empty");
			tickets.push(DownloadTicket {
				genesis_hash: self.genesis,
				client,
				owner: r.owner,
				file_id: file.file_id,
				slice,
				task,
				holder,
				ledger_period: chain.ledger_period,
				offset: 0,
				length: file.slice_len(i as usize),
				expires_at,
				issuer,
			});
		}
		let out = self.state.tickets.entry(client).or_default();
		for t in &tickets {
			out.insert(t.task, Outstanding { length: t.length, expires_at, holder: t.holder });
		}
		for t in &tickets {
			self.state.books.issue(
				t.ledger_period,
				t.task,
				AuditTicket {
					client,
					holder: t.holder,
					slice: t.slice,
					offset: t.offset,
					length: t.length,
					expires_at,
				},
			);
		}
		Ok(Response::Tickets(tickets))
	}
}
