//! The meta API served by every meta node ([`sds_core::meta_api`]): reads from the local
//! replica once it applied the client's last write (a client that wrote nothing reads
//! through the leader, linearizably), writes through the leader. A follower forwards a
//! write to the leader and relays its answer, so clients and resource nodes may talk to any
//! meta node.

use super::net::{member_hop, serve_raft};
use crate::{
	index::{Command, Index, Response},
	path::NsPath,
	raft::{role, Replica},
	Error,
};
use sds_core::meta_api::{
	self, ClusterStatus, ErrorKind, MetaRequest, MetaResponse, NodeStatus, PeriodAudit,
	RepairStatus, RestoredFile, MAX_RECEIPTS_PER_REQUEST, META_PROTOCOL,
};
use sds_net::{Host, Incoming, Keypair};
use std::{
	collections::{BTreeMap, HashMap},
	sync::{Arc, Mutex},
	time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use stratos_primitives::{
	meta::{DownloadTicket, SignedTicket, SignedUploadAuth, UploadAuth},
	FileId, Hash, NodeId,
};

/// What this meta node's reporter did about each period's report: (digest built, status).
pub type ReportStatus = Arc<Mutex<BTreeMap<u32, (Option<Hash>, String)>>>;

/// What the leader reads from the finalized chain for a request.
pub trait ChainFacts: Send + Sync + 'static {
	/// Whether `owner` can pay the first storage period of a file of `size` bytes.
	fn balance_covers(
		&self,
		owner: [u8; 32],
		size: u64,
	) -> impl std::future::Future<Output = Result<bool, String>> + Send;
	/// `client`'s reserved credit in bytes and the block its reservation unlocks at.
	fn reservation(
		&self,
		client: [u8; 32],
	) -> impl std::future::Future<Output = Result<(u128, u32), String>> + Send;
	/// The chain's record of `owner`'s file: size, slice count and holders' accounts.
	fn file_record(
		&self,
		_owner: [u8; 32],
		_file_id: FileId,
	) -> impl std::future::Future<Output = Result<Option<FileOnChain>, String>> + Send {
		async { Err("this node cannot read file records".to_string()) }
	}
}

/// A file as the chain records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOnChain {
	/// Bytes.
	pub size: u64,
	/// Slices.
	pub slices: u32,
	/// Holders' accounts, in the record's order.
	pub holders: Vec<[u8; 32]>,
}

/// Requests per account per second a meta node accepts for writes.
pub const WRITES_PER_SECOND: f64 = 50.0;
/// Burst allowance.
pub const WRITE_BURST: f64 = 200.0;

struct Bucket {
	tokens: f64,
	at: Instant,
}

/// The meta API of one meta node.
pub struct MetaService<C> {
	/// The replica.
	pub replica: Replica,
	/// The node's host (node key, transport).
	pub host: Host,
	/// Chain reads for the leader.
	pub chain: C,
	/// The reporter's progress per period (shown by [`MetaRequest::Audit`]).
	pub reports: ReportStatus,
	buckets: Mutex<HashMap<[u8; 32], Bucket>>,
}

fn now_ms() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn error(kind: ErrorKind, message: impl Into<String>) -> MetaResponse {
	MetaResponse::Error { kind, message: message.into(), leader: None }
}

fn from_error(e: Error) -> MetaResponse {
	match e {
		Error::NotLeader { .. } => error(ErrorKind::NotLeader, e.to_string()),
		Error::Raft(_) | Error::Storage(_) => error(ErrorKind::Unavailable, e.to_string()),
		e => error(ErrorKind::Refused, e.to_string()),
	}
}

pub(crate) fn sign(key: &Keypair, payload: &[u8]) -> [u8; 64] {
	let sig = key.sign(payload).expect("ed25519 signing does not fail");
	sig.try_into().expect("ed25519 signatures are 64 bytes")
}

impl<C: ChainFacts> MetaService<C> {
	/// The service of `replica` on `host`.
	pub fn new(replica: Replica, host: Host, chain: C) -> Arc<Self> {
		Arc::new(Self {
			replica,
			host,
			chain,
			reports: ReportStatus::default(),
			buckets: Mutex::new(HashMap::new()),
		})
	}

	/// Serves requests until the host stops.
	pub async fn run(self: Arc<Self>, queue: usize) -> Result<(), sds_net::Error> {
		let mut rx = self.host.serve(META_PROTOCOL, queue)?;
		while let Some(req) = rx.recv().await {
			let me = self.clone();
			tokio::spawn(async move { me.answer(req).await });
		}
		Ok(())
	}

	async fn answer(&self, req: Incoming) {
		let resp = match meta_api::decode::<MetaRequest>(&req.body) {
			Err(e) => error(ErrorKind::Version, e),
			Ok(r) => self.handle(req.peer, r, &req.body).await,
		};
		req.respond(meta_api::encode(resp));
	}

	fn rate_ok(&self, account: [u8; 32]) -> bool {
		let mut b = self.buckets.lock().expect("rate lock");
		let now = Instant::now();
		let e = b.entry(account).or_insert(Bucket { tokens: WRITE_BURST, at: now });
		e.tokens = (e.tokens + now.duration_since(e.at).as_secs_f64() * WRITES_PER_SECOND)
			.min(WRITE_BURST);
		e.at = now;
		if e.tokens >= 1.0 {
			e.tokens -= 1.0;
			true
		} else {
			false
		}
	}

	/// Handles one decoded request (`raw` is its encoding, for forwarding).
	pub async fn handle(&self, peer: Option<NodeId>, req: MetaRequest, raw: &[u8]) -> MetaResponse {
		match req {
			MetaRequest::Raft { kind, body } => {
				match serve_raft(&self.replica.raft, kind, &body).await {
					Ok(json) => MetaResponse::Raft(json),
					Err(e) => error(ErrorKind::Refused, e),
				}
			},
			MetaRequest::Status => MetaResponse::Status(self.status()),
			MetaRequest::Ls { owner, path, min_index } => {
				if let Some(resp) = self.consistent_read(min_index, raw).await {
					return resp;
				}
				let path = match NsPath::parse(&path) {
					Ok(p) => p,
					Err(e) => return from_error(e),
				};
				match self.replica.read(min_index, |idx| idx.list(&owner, &path)).await {
					Ok(Ok(list)) => MetaResponse::Listing(list),
					Ok(Err(e)) | Err(e) => from_error(e),
				}
			},
			MetaRequest::Stat { owner, path, min_index } => {
				if let Some(resp) = self.consistent_read(min_index, raw).await {
					return resp;
				}
				let path = match NsPath::parse(&path) {
					Ok(p) => p,
					Err(e) => return from_error(e),
				};
				let r = self
					.replica
					.read(min_index, |idx| match idx.lookup(&owner, &path) {
						Some(crate::index::Inode::Dir) => Ok(None),
						Some(crate::index::Inode::File(_)) => {
							idx.file_at(&owner, &path).cloned().map(Some)
						},
						None => Err(Error::NotFound(path.to_string())),
					})
					.await;
				match r {
					Ok(Ok(f)) => MetaResponse::Stat(f),
					Ok(Err(e)) | Err(e) => from_error(e),
				}
			},
			MetaRequest::UploadFate { task } => match peer {
				Some(asker) => MetaResponse::UploadFate(
					self.replica.sm.read(|idx, _| idx.upload_fate(&task, &asker)),
				),
				None => error(ErrorKind::Refused, "the asker is not authenticated"),
			},
			MetaRequest::ClientReceipts { client, period } => MetaResponse::ClientReceipts(
				self.replica
					.sm
					.read(|idx, _| idx.state().books.receipts_of(idx.genesis(), period, &client)),
			),
			MetaRequest::Audit => MetaResponse::Audit(self.audit()),
			MetaRequest::Repairs => MetaResponse::Repairs(self.replica.sm.read(|idx, _| {
				let r = &idx.state().repairs;
				RepairStatus {
					in_flight: r.in_flight() as u32,
					bytes_in_flight: r.bytes_in_flight(),
					voting: r.rehome.len() as u32,
					counters: r.stats.clone(),
				}
			})),
			MetaRequest::Receipts { receipts, unsigned, .. }
				if receipts.len() + unsigned.len() > MAX_RECEIPTS_PER_REQUEST =>
			{
				error(
					ErrorKind::Refused,
					format!("at most {MAX_RECEIPTS_PER_REQUEST} receipts per request"),
				)
			},
			MetaRequest::Receipts { unsigned, .. }
				if !unsigned.is_empty()
					&& !unsigned.iter().all(|(r, _)| peer == Some(r.node))
					&& !peer.is_some_and(|p| self.is_member(&p)) =>
			{
				error(
					ErrorKind::Refused,
					"only the resource node that signed a receipt may report it uncountersigned",
				)
			},
			MetaRequest::Restore(_) if !peer.is_some_and(|p| self.is_active_meta(&p)) => error(
				ErrorKind::Refused,
				"only an active meta node may restore files into the index",
			),
			write => {
				// The transport authenticated the sender: a resource node may only speak for
				// itself; a meta node of the cluster forwards others' heartbeats.
				if let MetaRequest::Heartbeat(beat) = &write {
					if peer != Some(beat.node) && !peer.is_some_and(|p| self.is_member(&p)) {
						return error(
							ErrorKind::Refused,
							"a heartbeat must come from the node it describes",
						);
					}
				}
				if let MetaRequest::SlicesLost { node, slices } = &write {
					if peer != Some(*node) && !peer.is_some_and(|p| self.is_member(&p)) {
						return error(
							ErrorKind::Refused,
							"only the resource node itself may report its lost slices",
						);
					}
					if slices.len() > meta_api::MAX_LOST_PER_REQUEST {
						return error(
							ErrorKind::Refused,
							format!(
								"at most {} lost slices per request",
								meta_api::MAX_LOST_PER_REQUEST
							),
						);
					}
				}
				if self.replica.state() != openraft::ServerState::Leader {
					return self.forward(raw).await;
				}
				self.write(write).await
			},
		}
	}

	/// A read from a client that wrote nothing yet (`min_index` 0, e.g. a fresh `sds`
	/// process) must see every acknowledged write: a follower hands it to the leader, and
	/// the leader confirms its leadership with a quorum and waits until it applied
	/// everything committed before reading (openraft's `ensure_linearizable`). Returns the
	/// response when the read is not to be served here; `None` to serve it locally.
	async fn consistent_read(&self, min_index: u64, raw: &[u8]) -> Option<MetaResponse> {
		if min_index > 0 {
			// Read-your-writes: the replica waits for the client's own last write.
			return None;
		}
		if self.replica.state() != openraft::ServerState::Leader {
			return Some(self.forward(raw).await);
		}
		match self.replica.raft.ensure_linearizable().await {
			Ok(_) => None,
			Err(e) => Some(error(
				ErrorKind::Unavailable,
				format!("cannot confirm the leadership for a consistent read ({e}); try again"),
			)),
		}
	}

	async fn forward(&self, raw: &[u8]) -> MetaResponse {
		let m = self.replica.raft.metrics().borrow().clone();
		let leader = m
			.current_leader
			.and_then(|l| m.membership_config.membership().get_node(&l).cloned())
			.and_then(|n| member_hop(&n));
		let Some(hop) = leader else {
			return error(
				ErrorKind::Unavailable,
				"no meta node leads right now; try again in a few seconds",
			);
		};
		match self.host.request(&hop, META_PROTOCOL, raw, Duration::from_secs(30)).await {
			Ok(bytes) => {
				meta_api::decode(&bytes).unwrap_or_else(|e| error(ErrorKind::Unavailable, e))
			},
			Err(e) => error(ErrorKind::Unavailable, format!("the leader did not answer: {e}")),
		}
	}

	fn is_active_meta(&self, node: &NodeId) -> bool {
		self.replica.sm.read(|idx, _| idx.state().chain.meta_nodes.iter().any(|m| m.id == *node))
	}

	/// The restored files whose manifest agrees with the chain's record (size, slice count,
	/// holders in order).
	async fn checked_restore(&self, files: Vec<RestoredFile>) -> Result<Vec<RestoredFile>, String> {
		let accounts: HashMap<NodeId, [u8; 32]> = self.replica.sm.read(|idx, _| {
			idx.state().chain.resource_nodes.iter().map(|n| (n.id, n.account)).collect()
		});
		let mut kept = Vec::with_capacity(files.len());
		for f in files {
			let m = &f.manifest;
			let Some(on_chain) = self.chain.file_record(m.owner, m.file_id).await? else {
				tracing::warn!(file = %m.file_id, "restore: not recorded on chain; skipped");
				continue;
			};
			let holders: Option<Vec<[u8; 32]>> =
				f.holders.iter().map(|h| accounts.get(h).copied()).collect();
			if on_chain.size != m.size
				|| on_chain.slices as usize != m.slices.len()
				|| holders.as_ref() != Some(&on_chain.holders)
				|| !m.is_consistent()
			{
				tracing::warn!(file = %m.file_id, "restore: manifest disagrees with the chain; skipped");
				continue;
			}
			kept.push(f);
		}
		Ok(kept)
	}

	fn is_member(&self, node: &NodeId) -> bool {
		let m = self.replica.raft.metrics().borrow().membership_config.clone();
		let found =
			m.membership().nodes().any(|(_, n)| member_hop(n).is_some_and(|h| h.node == *node));
		found
	}

	async fn write(&self, req: MetaRequest) -> MetaResponse {
		let me = self.host.node_id();
		let cmd = match req {
			MetaRequest::Namespace(r) => {
				if !self.rate_ok(r.account) {
					return error(ErrorKind::RateLimited, "too many requests; slow down");
				}
				Command::Namespace(r)
			},
			MetaRequest::Place(r) => {
				if !self.rate_ok(r.account) {
					return error(ErrorKind::RateLimited, "too many requests; slow down");
				}
				let balance_ok = match self.chain.balance_covers(r.account, r.body.size).await {
					Ok(b) => b,
					Err(e) => {
						return error(ErrorKind::Unavailable, format!("cannot read the chain: {e}"))
					},
				};
				Command::Place { req: r, now_ms: now_ms(), balance_ok, issuer: me }
			},
			MetaRequest::Complete { task, slices, acks } => {
				Command::Complete { task, slices, acks }
			},
			MetaRequest::Tickets(r) => {
				if !self.rate_ok(r.account) {
					return error(ErrorKind::RateLimited, "too many requests; slow down");
				}
				let (reserved, reserve_unlocks_at) = match self.chain.reservation(r.account).await {
					Ok(x) => x,
					Err(e) => {
						return error(ErrorKind::Unavailable, format!("cannot read the chain: {e}"))
					},
				};
				Command::Tickets { req: r, reserved, reserve_unlocks_at, issuer: me }
			},
			MetaRequest::Heartbeat(beat) => Command::Heartbeat { now_ms: now_ms(), beat },
			MetaRequest::SlicesLost { node, slices } => Command::SlicesLost { node, slices },
			MetaRequest::Restore(files) => match self.checked_restore(files).await {
				Ok(kept) => Command::Restore(kept),
				Err(e) => {
					return error(ErrorKind::Unavailable, format!("cannot read the chain: {e}"))
				},
			},
			MetaRequest::Receipts { from, receipts, unsigned } => {
				Command::Receipts { from, receipts, unsigned }
			},
			other => return error(ErrorKind::Refused, format!("not a write: {other:?}")),
		};
		let (index, result) = match self.replica.write(cmd).await {
			Ok(x) => x,
			Err(e) => return from_error(e),
		};
		match result {
			Err(e) => from_error(e),
			Ok(Response::Placed(auth)) => {
				let addrs = self.replica.sm.read(|idx, _| addresses(idx, &auth.holders));
				MetaResponse::Placed { auth: self.sign_auth(auth), addrs, index }
			},
			Ok(Response::Completed(rec)) => MetaResponse::Completed { file_id: rec.file_id, index },
			Ok(Response::Linked(file_id)) => MetaResponse::Completed { file_id, index },
			Ok(Response::Restored(added)) => MetaResponse::Restored { added, index },
			Ok(Response::Audited(a)) => MetaResponse::Audited {
				counted: a.counted,
				duplicates: a.duplicates,
				refused: a.refused,
				index,
			},
			Ok(Response::Tickets(tickets)) => {
				let holders: Vec<NodeId> = tickets.iter().map(|t| t.holder).collect();
				let addrs = self.replica.sm.read(|idx, _| addresses(idx, &holders));
				let tickets = tickets.into_iter().map(|t| self.sign_ticket(t)).collect();
				MetaResponse::Tickets { tickets, addrs, index }
			},
			Ok(_) => MetaResponse::Written { index },
		}
	}

	fn sign_auth(&self, auth: UploadAuth) -> SignedUploadAuth {
		let signature = sign(self.host_key(), &auth.payload());
		SignedUploadAuth { auth, signature }
	}

	fn sign_ticket(&self, ticket: DownloadTicket) -> SignedTicket {
		SignedTicket { signature: sign(self.host_key(), &ticket.payload()), ticket }
	}

	fn host_key(&self) -> &Keypair {
		self.host.keypair()
	}

	/// The audit's figures per period, newest first, with this node's report progress.
	pub fn audit(&self) -> Vec<PeriodAudit> {
		let reports = self.reports.lock().expect("report status lock").clone();
		self.replica.sm.read(|idx, _| {
			idx.state()
				.books
				.periods
				.iter()
				.rev()
				.map(|(p, b)| {
					let (digest, report) = reports.get(p).cloned().unwrap_or_default();
					PeriodAudit {
						period: *p,
						tickets: b.tickets.len() as u64,
						receipts: b.stats.counted,
						bytes: b.stats.bytes,
						duplicates: b.stats.duplicates,
						refused: b.stats.refused.iter().map(|((p, r), n)| (*p, *r, *n)).collect(),
						closed: *p < idx.state().books.closed_below,
						digest,
						report,
					}
				})
				.collect()
		})
	}

	/// The cluster as this node sees it.
	pub fn status(&self) -> ClusterStatus {
		let m = self.replica.raft.metrics().borrow().clone();
		let leader = m
			.current_leader
			.and_then(|l| m.membership_config.membership().get_node(&l).cloned())
			.map(|n| n.addr);
		self.replica.sm.read(|idx, applied| {
			let s = idx.state();
			let nodes = s
				.chain
				.resource_nodes
				.iter()
				.map(|n| {
					let h = s.health.get(&n.id);
					NodeStatus {
						node: n.id,
						region: n.region.clone(),
						active: n.active,
						healthy: idx.is_healthy(&n.id),
						silent_ms: h
							.map(|h| s.clock_ms.saturating_sub(h.last_seen_ms))
							.unwrap_or(u64::MAX),
						free: h.map(|h| h.free).unwrap_or(0),
						uptime_permille: h.map(|h| h.uptime_permille).unwrap_or(0),
						slices: s.node_slices.get(&n.id).map(|m| m.len() as u64).unwrap_or(0),
					}
				})
				.collect();
			ClusterStatus {
				meta_node: self.host.node_id(),
				role: role(m.state).into(),
				leader,
				term: m.current_term,
				applied,
				finalized: s.chain.number,
				ledger_period: s.chain.ledger_period,
				nodes,
				files: s.files.len() as u64,
			}
		})
	}
}

/// The dialable addresses of `nodes`, from the chain view in the index.
pub fn addresses(idx: &Index, nodes: &[NodeId]) -> Vec<Vec<String>> {
	nodes
		.iter()
		.map(|id| {
			idx.state()
				.chain
				.resource_nodes
				.iter()
				.find(|n| n.id == *id)
				.map(|n| vec![n.address.clone()])
				.unwrap_or_default()
		})
		.collect()
}
