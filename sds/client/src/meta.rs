//! The client of the meta nodes (ADR 0011): namespace operations, uploads placed and
//! acknowledged through them, downloads against their tickets. The data still flows between
//! the client and the resource nodes; the meta nodes decide where and authorise it.

use crate::{
	download::{self, Layout, Partial, Resume, Sink},
	run_parallel, Error, Progress, Result,
};
use codec::Encode;
use futures::future::BoxFuture;
use sds_core::{
	meta_api::{
		self, ClusterStatus, FileRecord, Inode, MetaRequest, MetaResponse, NsOp, Party,
		PlaceRequest, Signed, TicketRequest, META_PROTOCOL,
	},
	slicing::{self, SliceSpan},
	wire::Hop,
};
use sds_net::{Host, HostConfig, Keypair, SignedTicket};
use sp_core::{sr25519, Pair};
use std::{
	os::unix::fs::FileExt,
	path::Path,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, SystemTime, UNIX_EPOCH},
};
use stratos_primitives::{receipt::SignedReceipt, FileId, NodeId, SliceHash};

/// How long one meta API call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// How the client works.
pub struct MetaClientConfig {
	/// The meta nodes to ask (any of them; followers forward writes to the leader).
	pub metas: Vec<Hop>,
	/// The chain's genesis hash.
	pub genesis_hash: [u8; 32],
	/// The account: owner of uploads, client of downloads.
	pub account: sr25519::Pair,
	/// Slice size for uploads.
	pub slice_size: u64,
	/// Copies of every file (at least 3).
	pub replicas: u8,
	/// Slices transferred at once.
	pub parallel: usize,
	/// Connections opened to each node and meta node (streams are spread over them).
	pub connections: u32,
}

/// A connected client of the meta nodes. Cheap to clone.
#[derive(Clone)]
pub struct MetaClient {
	inner: Arc<Inner>,
}

struct Inner {
	host: Host,
	cfg: MetaClientConfig,
	last_nonce: AtomicU64,
	/// Highest log index this client wrote (reads wait for it: read-your-writes).
	last_index: AtomicU64,
	/// Where countersigned receipts are kept, if anywhere.
	receipts: std::sync::OnceLock<crate::ReceiptLog>,
}

/// The outcome of an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
	/// The file id.
	pub file_id: FileId,
	/// Log index of the completion.
	pub index: u64,
	/// Holders.
	pub holders: Vec<NodeId>,
}

/// Times a request is signed again after its nonce was overtaken ([`MetaClient::call_signed`]).
const STALE_NONCE_RETRIES: u32 = 8;

/// How long a call keeps asking while the meta nodes answer that they cannot serve right
/// now (an election takes a few seconds).
const UNAVAILABLE_PATIENCE: Duration = Duration::from_secs(20);

/// Why no meta node answered a round of a call; `unavailable` when one said it cannot
/// serve right now.
struct NoAnswer {
	unavailable: bool,
	why: String,
}

/// Whether a meta node's refusal says the request's nonce was not above the account's last
/// (`stratos_meta::Error::StaleNonce`; `offchain/meta/tests/index.rs` checks the two agree).
pub fn is_stale_nonce(message: &str) -> bool {
	message.contains("is not above the account's last nonce")
}

impl MetaClient {
	/// Starts the client's libp2p host (it only dials).
	pub async fn connect(cfg: MetaClientConfig) -> Result<Self> {
		if cfg.metas.is_empty() {
			return Err(Error::Config("no meta node to talk to".into()));
		}
		slicing::check_slice_size(cfg.slice_size).map_err(|e| Error::Config(e.to_string()))?;
		let host = Host::start(HostConfig {
			keypair: Keypair::generate_ed25519(),
			listen: vec![],
			store: None,
			genesis_hash: cfg.genesis_hash,
			max_concurrent_streams: 1,
			gate: None,
			limits: sds_net::Limits { dial_connections: cfg.connections, ..Default::default() },
		})
		.await?;
		Ok(Self {
			inner: Arc::new(Inner {
				host,
				cfg,
				last_nonce: AtomicU64::new(0),
				last_index: AtomicU64::new(0),
				receipts: std::sync::OnceLock::new(),
			}),
		})
	}

	/// Keep every receipt this client countersigns in `log`, so it can check the traffic it
	/// is charged for (`sds receipts`). Set once; later calls are ignored.
	pub fn keep_receipts(&self, log: crate::ReceiptLog) {
		let _ = self.inner.receipts.set(log);
	}

	/// The account's public key.
	pub fn account(&self) -> [u8; 32] {
		self.inner.cfg.account.public().0
	}

	/// A strictly increasing nonce: the microsecond clock, bumped past the last one used.
	fn nonce(&self) -> u64 {
		let now =
			SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
		let mut last = self.inner.last_nonce.load(Ordering::Relaxed);
		loop {
			let next = now.max(last + 1);
			match self.inner.last_nonce.compare_exchange(
				last,
				next,
				Ordering::Relaxed,
				Ordering::Relaxed,
			) {
				Ok(_) => return next,
				Err(actual) => last = actual,
			}
		}
	}

	fn signed<T: Encode>(&self, body: T) -> Signed<T> {
		Signed::sign(&self.inner.cfg.account, &self.inner.cfg.genesis_hash, self.nonce(), body)
	}

	/// Sends `body` signed with a fresh nonce, and signs it again if the index refused the
	/// nonce as not above the last it applied. The index refuses replays that way, but this
	/// client's own concurrent requests (the fallbacks of several slices when a holder dies)
	/// can reach the leader in another order than they were signed; a refused request was
	/// not applied, so signing it again is safe.
	async fn call_signed<T: Encode + Clone>(
		&self,
		body: T,
		wrap: impl Fn(Signed<T>) -> MetaRequest,
	) -> Result<MetaResponse> {
		let mut attempt = 0;
		loop {
			match self.call(wrap(self.signed(body.clone()))).await {
				Err(Error::Meta(m)) if attempt < STALE_NONCE_RETRIES && is_stale_nonce(&m) => {
					attempt += 1;
					tracing::debug!(attempt, "request overtaken by a later one; signing again");
				},
				r => return r,
			}
		}
	}

	fn wrote(&self, index: u64) {
		self.inner.last_index.fetch_max(index, Ordering::Relaxed);
	}

	/// Sends `req` to the meta nodes in turn until one answers; a refusal is an error with
	/// the meta node's reason.
	///
	/// Every meta node is dialed at once and they are asked in the order their connections
	/// come up (once connected, in the configured order): a meta node that is down or cut
	/// off, whose dial hangs until it times out, delays nothing while another one answers.
	///
	/// When none answered but some said they cannot serve right now (no leader yet, just
	/// after an election), the meta nodes are asked again after a growing pause, for up to
	/// `UNAVAILABLE_PATIENCE`: a leader change is a few seconds of waiting for the user, not
	/// a failed command.
	pub async fn call(&self, req: MetaRequest) -> Result<MetaResponse> {
		let bytes = meta_api::encode(req);
		let started = std::time::Instant::now();
		let mut pause = Duration::from_millis(200);
		loop {
			match self.ask_each(&bytes).await {
				Ok(r) => return r,
				Err(NoAnswer { unavailable: true, why })
					if started.elapsed() + pause < UNAVAILABLE_PATIENCE =>
				{
					tracing::debug!(reason = %why, "no meta node can serve right now; asking again");
					tokio::time::sleep(pause).await;
					pause = (pause * 2).min(Duration::from_secs(2));
				},
				Err(NoAnswer { why, .. }) => {
					return Err(Error::Meta(format!("no meta node answered: {why}")))
				},
			}
		}
	}

	/// One round of `call`: the answer (or refusal) of the first meta node that gives one,
	/// or why none did.
	async fn ask_each(&self, bytes: &[u8]) -> std::result::Result<Result<MetaResponse>, NoAnswer> {
		use futures::stream::{FuturesUnordered, StreamExt};
		let host = &self.inner.host;
		let mut why = Vec::new();
		let mut unavailable = false;
		let mut dials: FuturesUnordered<_> = self
			.inner
			.cfg
			.metas
			.iter()
			.map(|hop| async move { (hop, host.connect(hop).await) })
			.collect();
		while let Some((hop, dialed)) = dials.next().await {
			let node = &hop.node.to_hex()[..16];
			if let Err(e) = dialed {
				why.push(format!("{node}: {e}"));
				continue;
			}
			match host.request(hop, META_PROTOCOL, bytes, CALL_TIMEOUT).await {
				Ok(answer) => {
					let resp = match meta_api::decode::<MetaResponse>(&answer) {
						Ok(resp) => resp,
						Err(e) => return Ok(Err(Error::Meta(e))),
					};
					match resp {
						MetaResponse::Error {
							kind: meta_api::ErrorKind::Unavailable,
							message,
							..
						} => {
							unavailable = true;
							why.push(format!("{node}: {message}"));
						},
						MetaResponse::Error { message, .. } => {
							return Ok(Err(Error::Meta(message)))
						},
						r => return Ok(Ok(r)),
					}
				},
				Err(e) => why.push(format!("{node}: {e}")),
			}
		}
		if why.is_empty() {
			why.push("no meta node configured".into());
		}
		Err(NoAnswer { unavailable, why: why.join("; ") })
	}

	fn unexpected(r: MetaResponse) -> Error {
		Error::Meta(format!("unexpected answer from the meta node: {r:?}"))
	}

	async fn namespace(&self, op: NsOp) -> Result<MetaResponse> {
		let r = self.call_signed(op, MetaRequest::Namespace).await?;
		if let MetaResponse::Written { index } = r {
			self.wrote(index);
		}
		Ok(r)
	}

	/// Creates a directory (and its parents).
	pub async fn mkdir(&self, path: &str) -> Result<()> {
		self.namespace(NsOp::Mkdir { path: path.into() }).await.map(drop)
	}

	/// Renames a file or directory.
	pub async fn mv(&self, from: &str, to: &str) -> Result<()> {
		self.namespace(NsOp::Mv { from: from.into(), to: to.into() }).await.map(drop)
	}

	/// Removes a path (a directory only if empty unless `recursive`).
	pub async fn rm(&self, path: &str, recursive: bool) -> Result<()> {
		self.namespace(NsOp::Rm { path: path.into(), recursive }).await.map(drop)
	}

	/// Lists a directory of `owner`'s namespace.
	pub async fn ls(&self, owner: [u8; 32], path: &str) -> Result<Vec<(String, Inode)>> {
		let min_index = self.inner.last_index.load(Ordering::Relaxed);
		match self.call(MetaRequest::Ls { owner, path: path.into(), min_index }).await? {
			MetaResponse::Listing(l) => Ok(l),
			r => Err(Self::unexpected(r)),
		}
	}

	/// A file's record (`None` for a directory).
	pub async fn stat(&self, owner: [u8; 32], path: &str) -> Result<Option<FileRecord>> {
		let min_index = self.inner.last_index.load(Ordering::Relaxed);
		match self.call(MetaRequest::Stat { owner, path: path.into(), min_index }).await? {
			MetaResponse::Stat(f) => Ok(f),
			r => Err(Self::unexpected(r)),
		}
	}

	/// The cluster's status.
	pub async fn status(&self) -> Result<ClusterStatus> {
		match self.call(MetaRequest::Status).await? {
			MetaResponse::Status(s) => Ok(s),
			r => Err(Self::unexpected(r)),
		}
	}

	/// Repair's figures: copies under way and done, files re-homed, alerts.
	pub async fn repairs(&self) -> Result<sds_core::meta_api::RepairStatus> {
		match self.call(MetaRequest::Repairs).await? {
			MetaResponse::Repairs(r) => Ok(r),
			r => Err(Self::unexpected(r)),
		}
	}

	/// The traffic audit's figures per ledger period, newest first (bytes and receipts
	/// counted, refusals by reason, this meta node's report progress).
	pub async fn audit(&self) -> Result<Vec<sds_core::meta_api::PeriodAudit>> {
		match self.call(MetaRequest::Audit).await? {
			MetaResponse::Audit(a) => Ok(a),
			r => Err(Self::unexpected(r)),
		}
	}

	/// The receipts of `client` the meta nodes counted in `period` (they make its report
	/// entry's receipt root).
	pub async fn client_receipts(
		&self,
		client: [u8; 32],
		period: u32,
	) -> Result<Vec<SignedReceipt>> {
		match self.call(MetaRequest::ClientReceipts { client, period }).await? {
			MetaResponse::ClientReceipts(r) => Ok(r),
			r => Err(Self::unexpected(r)),
		}
	}

	/// Uploads `local` to `remote`: placement, pipelined slices along the holders (the first
	/// holder rotating per slice), the holders' signed acknowledgements to the meta nodes.
	/// The path appears once the chain records the file ([`MetaClient::wait_recorded`]).
	pub async fn put<P: Progress + Clone + 'static>(
		&self,
		local: &Path,
		remote: &str,
		progress: &P,
	) -> Result<Uploaded> {
		let input = |source| Error::Input { path: local.display().to_string(), source };
		let f = Arc::new(std::fs::File::open(local).map_err(input)?);
		let meta = f.metadata().map_err(input)?;
		if !meta.is_file() {
			return Err(input(std::io::Error::other("not a regular file")));
		}
		let size = meta.len();
		let cfg = &self.inner.cfg;
		// Like `cp` into a new tree: missing parent directories are created.
		if let Some((parent, _)) = remote.rsplit_once('/') {
			if !parent.is_empty() {
				self.mkdir(parent).await?;
			}
		}
		let place = PlaceRequest {
			path: remote.into(),
			size,
			slice_size: cfg.slice_size,
			replicas: cfg.replicas,
		};
		let (auth, addrs) = match self.call_signed(place, MetaRequest::Place).await? {
			MetaResponse::Placed { auth, addrs, .. } => (auth, addrs),
			r => return Err(Self::unexpected(r)),
		};
		let hop_of = |node: &NodeId| -> Hop {
			let i = auth.auth.holders.iter().position(|h| h == node).unwrap_or(0);
			Hop { node: *node, addrs: addrs.get(i).cloned().unwrap_or_default() }
		};
		let spans: Vec<SliceSpan> = slicing::spans(size, cfg.slice_size).collect();
		let jobs = spans.into_iter().map(|span| {
			let chain: Vec<Hop> =
				auth.auth.chain_for(span.index as u32).iter().map(hop_of).collect();
			let (host, f, progress, auth) =
				(self.inner.host.clone(), f.clone(), progress.clone(), auth.clone());
			async move {
				let mut last = String::new();
				for _attempt in 0..3 {
					let mut sent = 0u64;
					let r = host
						.put_slice_authorized(
							&chain,
							&auth,
							span.len,
							|buf, off| f.read_exact_at(buf, span.offset + off),
							|n| {
								sent += n;
								progress.advance(n)
							},
						)
						.await;
					match r {
						Ok((hash, acks)) => return Ok((span.index, hash, acks)),
						Err(sds_net::Error::Local(e)) => {
							return Err(Error::Input {
								path: "the file being uploaded".into(),
								source: e,
							})
						},
						Err(e) => {
							tracing::warn!(slice = span.index, error = %e, "slice upload failed; retrying");
							progress.rewind(sent);
							last = e.to_string();
						},
					}
				}
				Err(Error::UploadFailed { index: span.index, reason: last })
			}
		});
		let mut done = run_parallel(cfg.parallel, jobs).await?;
		done.sort_by_key(|(i, _, _)| *i);
		let slices: Vec<SliceHash> = done.iter().map(|(_, h, _)| *h).collect();
		let acks = done.into_iter().flat_map(|(_, _, a)| a).collect();
		match self.call(MetaRequest::Complete { task: auth.auth.task, slices, acks }).await? {
			MetaResponse::Completed { file_id, index } => {
				self.wrote(index);
				Ok(Uploaded { file_id, index, holders: auth.auth.holders })
			},
			r => Err(Self::unexpected(r)),
		}
	}

	/// Waits until the chain recorded the file at `remote` (its path is visible); returns the
	/// block it was recorded in.
	pub async fn wait_recorded(&self, remote: &str, timeout: Duration) -> Result<u32> {
		let deadline = tokio::time::Instant::now() + timeout;
		loop {
			match self.stat(self.account(), remote).await {
				Ok(Some(FileRecord { status: meta_api::FileStatus::OnChain(b), .. })) => {
					return Ok(b)
				},
				Ok(_) | Err(Error::Meta(_)) if tokio::time::Instant::now() < deadline => {
					tokio::time::sleep(Duration::from_millis(500)).await
				},
				Ok(_) => {
					return Err(Error::Meta(format!(
						"{remote} was not recorded on chain within {timeout:?}"
					)))
				},
				Err(e) => return Err(e),
			}
		}
	}

	/// Downloads `owner`'s file at `remote` into `out`, verifying every chunk, each slice
	/// from the holder its ticket names; a failing holder is avoided in a new ticket and its
	/// successor continues from the first chunk not yet verified. Written to a partial file
	/// next to `out`, renamed into place when complete; an interrupted download keeps its
	/// verified slices there and the next call for the same file and output resumes.
	pub async fn get<P: Progress + Clone + 'static>(
		&self,
		owner: [u8; 32],
		remote: &str,
		out: &Path,
		progress: &P,
	) -> Result<FileRecord> {
		let (record, layout) = self.layout(owner, remote).await?;
		let partial = Partial::open(out, &layout, progress).await?;
		let missing: Vec<u32> = partial.missing().iter().map(|i| *i as u32).collect();
		let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
		let result = async {
			if missing.is_empty() {
				return Ok(());
			}
			let fetch = self.fetcher(owner, remote, &layout, &missing, kept.clone()).await?;
			let progress: Arc<dyn Progress> = Arc::new(progress.clone());
			partial.fill(&layout, self.inner.cfg.parallel, fetch, progress).await
		}
		.await;
		let receipts = std::mem::take(&mut *kept.lock().expect("receipts lock"));
		self.report_receipts(receipts).await;
		match result {
			Ok(()) => partial.finish(out).map(|()| record),
			Err(e) => Err(partial.abandon(e)),
		}
	}

	/// Streams bytes `range` of `owner`'s file at `remote` to `out`, verified, in order,
	/// without a temporary file; returns the bytes written. Tickets cover only the slices
	/// the range touches.
	pub async fn stream<P: Progress + Clone + 'static>(
		&self,
		owner: [u8; 32],
		remote: &str,
		range: std::ops::Range<u64>,
		out: impl std::io::Write + Send + 'static,
		progress: &P,
	) -> Result<u64> {
		let (_, layout) = self.layout(owner, remote).await?;
		if range.end > layout.size {
			return Err(Error::Config(format!(
				"range {}..{} is past the end of {remote} ({} bytes)",
				range.start, range.end, layout.size
			)));
		}
		if range.is_empty() {
			return Ok(0);
		}
		let ss = layout.slice_size.max(1);
		let needed: Vec<u32> = ((range.start / ss) as u32..range.end.div_ceil(ss) as u32).collect();
		let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
		let result = async {
			let fetch = self.fetcher(owner, remote, &layout, &needed, kept.clone()).await?;
			let progress: Arc<dyn Progress> = Arc::new(progress.clone());
			download::stream(&layout, range, self.inner.cfg.parallel, fetch, out, progress).await
		}
		.await;
		let receipts = std::mem::take(&mut *kept.lock().expect("receipts lock"));
		self.report_receipts(receipts).await;
		result
	}

	/// The file's record, checked against its slices, and its download layout.
	async fn layout(&self, owner: [u8; 32], remote: &str) -> Result<(FileRecord, Layout)> {
		let record = self
			.stat(owner, remote)
			.await?
			.ok_or_else(|| Error::Meta(format!("{remote} is a directory")))?;
		let slices: Vec<(u64, SliceHash)> =
			record.slices.iter().enumerate().map(|(i, s)| (record.slice_len(i), *s)).collect();
		let id = slicing::file_id(slices.iter().copied());
		if id != record.file_id {
			return Err(Error::Meta("the meta node's record does not match its slices".into()));
		}
		let layout = Layout { id, size: record.size, slice_size: record.slice_size, slices };
		Ok((record, layout))
	}

	/// Asks for tickets for slices `needed` and returns a fetch over them; the countersigned
	/// receipts go to `kept`.
	async fn fetcher(
		&self,
		owner: [u8; 32],
		remote: &str,
		layout: &Layout,
		needed: &[u32],
		kept: Arc<std::sync::Mutex<Vec<SignedReceipt>>>,
	) -> Result<impl Fn(usize, u64, u64, Sink) -> BoxFuture<'static, Result<()>>> {
		let (tickets, addrs) = self.tickets(owner, remote, needed.to_vec(), vec![], 0).await?;
		let mut by_slice = std::collections::HashMap::new();
		for (t, a) in tickets.into_iter().zip(addrs) {
			by_slice.entry(t.ticket.slice).or_insert((t, a));
		}
		let by_slice = Arc::new(by_slice);
		let (me, remote) = (self.clone(), remote.to_string());
		let hashes: Arc<Vec<SliceHash>> = Arc::new(layout.slices.iter().map(|s| s.1).collect());
		Ok(move |i: usize, start: u64, end: u64, sink: Sink| {
			let (me, remote, by_slice, kept) =
				(me.clone(), remote.clone(), by_slice.clone(), kept.clone());
			let hash = hashes[i];
			Box::pin(async move {
				let (ticket, addrs) = by_slice
					.get(&hash)
					.cloned()
					.ok_or_else(|| Error::Meta(format!("no ticket for slice {i}")))?;
				let r =
					me.get_one(owner, &remote, i as u32, start, end, ticket, addrs, sink).await?;
				kept.lock().expect("receipts lock").push(r);
				Ok(())
			}) as BoxFuture<'static, Result<()>>
		})
	}
	/// Sends the client's copy of its countersigned receipts to the audit (the serving
	/// node sends its own; either counts once). Best effort: a failure is only logged.
	pub async fn report_receipts(&self, receipts: Vec<SignedReceipt>) {
		for batch in receipts.chunks(meta_api::MAX_RECEIPTS_PER_REQUEST) {
			let req = MetaRequest::Receipts {
				from: Party::Client,
				receipts: batch.to_vec(),
				unsigned: vec![],
			};
			match self.call(req).await {
				Ok(MetaResponse::Audited { refused, .. }) if !refused.is_empty() => {
					tracing::warn!(refused = ?refused, "the audit refused some of our receipts")
				},
				Ok(_) => {},
				Err(e) => tracing::warn!(error = %e, "could not send our receipts to the audit"),
			}
		}
	}

	async fn tickets(
		&self,
		owner: [u8; 32],
		remote: &str,
		slices: Vec<u32>,
		avoid: Vec<NodeId>,
		attempt: u32,
	) -> Result<(Vec<SignedTicket>, Vec<Vec<String>>)> {
		let req = TicketRequest { owner, path: remote.into(), slices, avoid, attempt };
		match self.call_signed(req, MetaRequest::Tickets).await? {
			MetaResponse::Tickets { tickets, addrs, index } => {
				self.wrote(index);
				Ok((tickets, addrs))
			},
			r => Err(Self::unexpected(r)),
		}
	}

	/// Bytes `[start, end)` of slice `index`, verified, from the ticket's holder; a failing
	/// holder is avoided in a new ticket and its successor continues from the first chunk
	/// not yet verified.
	#[allow(clippy::too_many_arguments)]
	async fn get_one(
		&self,
		owner: [u8; 32],
		remote: &str,
		index: u32,
		start: u64,
		end: u64,
		mut ticket: SignedTicket,
		mut addrs: Vec<String>,
		sink: Sink,
	) -> Result<SignedReceipt> {
		let (pos, mut sink) = Resume::new(start, sink);
		let mut failed: Vec<NodeId> = Vec::new();
		let mut failures = Vec::new();
		for attempt in 0..4u32 {
			if attempt > 0 {
				// Fallback: a new ticket (a new task) for another healthy holder.
				match self.tickets(owner, remote, vec![index], failed.clone(), attempt).await {
					Ok((t, a)) if !t.is_empty() => {
						ticket = t[0];
						addrs = a.into_iter().next().unwrap_or_default();
					},
					Ok(_) => break,
					Err(e) => {
						failures.push(e.to_string());
						break;
					},
				}
			}
			let hop = Hop { node: ticket.ticket.holder, addrs: addrs.clone() };
			let from = pos.next();
			let r = self
				.inner
				.host
				.get_slice_ticketed(
					&hop,
					&ticket,
					from,
					end.saturating_sub(from),
					&self.inner.cfg.account,
					&mut sink,
				)
				.await;
			match r {
				Ok(receipt) => {
					if let Some(log) = self.inner.receipts.get() {
						if let Err(e) = log.record(&receipt) {
							tracing::warn!(error = %e, "cannot keep the countersigned receipt");
						}
					}
					return Ok(receipt);
				},
				Err(sds_net::Error::Local(e)) => {
					return Err(Error::Output { path: "the output file".into(), source: e })
				},
				Err(e) => {
					tracing::warn!(slice = index, node = %hop.node, error = %e, resume_at = pos.next(), "holder failed; asking for another");
					failures.push(format!("{}: {e}", &hop.node.to_hex()[..16]));
					failed.push(hop.node);
				},
			}
		}
		Err(Error::AllReplicasFailed {
			index: index as u64,
			slice: ticket.ticket.slice.to_hex(),
			failures: failures.join("; "),
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use sds_core::meta_api::ErrorKind;
	use stratos_primitives::NodeId;

	/// A meta node whose port accepts TCP connections and never speaks, as one behind a
	/// partition that still completes handshakes in the kernel: a dial to it hangs until
	/// the dial timeout.
	fn hung_meta() -> (std::net::TcpListener, Hop) {
		let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
		let port = listener.local_addr().unwrap().port();
		let node = NodeId(sp_core::ed25519::Pair::from_seed(&[7; 32]).public().0);
		(listener, Hop { node, addrs: vec![format!("/ip4/127.0.0.1/tcp/{port}")] })
	}

	/// A meta node that refuses every request with `message`.
	async fn refusing_meta(message: &'static str) -> Host {
		meta_answering(move |_| (ErrorKind::Refused, message)).await
	}

	/// A meta node that refuses its `n`-th request (from 0) as `answer(n)` says.
	async fn meta_answering(
		answer: impl Fn(usize) -> (ErrorKind, &'static str) + Send + 'static,
	) -> Host {
		let host = Host::start(HostConfig {
			keypair: Keypair::generate_ed25519(),
			listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
			store: None,
			genesis_hash: [0; 32],
			max_concurrent_streams: 4,
			gate: None,
			limits: Default::default(),
		})
		.await
		.unwrap();
		let mut requests = host.serve(META_PROTOCOL, 4).unwrap();
		tokio::spawn(async move {
			let mut n = 0;
			while let Some(req) = requests.recv().await {
				let (kind, message) = answer(n);
				n += 1;
				req.respond(meta_api::encode(MetaResponse::Error {
					kind,
					message: message.into(),
					leader: None,
				}));
			}
		});
		host
	}

	async fn client(metas: Vec<Hop>) -> MetaClient {
		MetaClient::connect(MetaClientConfig {
			metas,
			genesis_hash: [0; 32],
			account: sr25519::Pair::from_seed(&[1; 32]),
			slice_size: slicing::DEFAULT_SLICE_SIZE,
			replicas: 3,
			parallel: 1,
			connections: 1,
		})
		.await
		.unwrap()
	}

	#[tokio::test]
	async fn a_meta_node_that_hangs_delays_no_call_while_another_answers() {
		let (_hung, hung) = hung_meta();
		let good = refusing_meta("answered by the reachable meta node").await;
		// The hung node first, as a client's shuffled list may have it.
		let c = client(vec![hung, good.hop()]).await;
		for _ in 0..2 {
			let started = std::time::Instant::now();
			let err = c.call(MetaRequest::Status).await.unwrap_err();
			assert!(err.to_string().contains("answered by the reachable meta node"), "{err}");
			// Asked in turn, the hung node cost the whole 10-s dial timeout first.
			assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
		}
	}

	#[tokio::test]
	async fn with_every_meta_node_unreachable_a_call_says_so() {
		let (_hung, hung) = hung_meta();
		let c = client(vec![hung]).await;
		let err = c.call(MetaRequest::Status).await.unwrap_err();
		assert!(err.to_string().contains("no meta node answered"), "{err}");
	}

	#[tokio::test]
	async fn a_call_waits_out_an_election_instead_of_failing() {
		// The meta node left says it cannot serve (no leader yet) twice, then answers; the
		// other one is down.
		let electing = meta_answering(|n| match n {
			0 | 1 => (ErrorKind::Unavailable, "no meta node leads right now; try again"),
			_ => (ErrorKind::Refused, "answered by the new leader"),
		})
		.await;
		let (listener, down) = hung_meta();
		drop(listener); // Its port now refuses connections, as a killed node's does.
		let c = client(vec![down, electing.hop()]).await;
		let started = std::time::Instant::now();
		let err = c.call(MetaRequest::Status).await.unwrap_err();
		assert!(err.to_string().contains("answered by the new leader"), "{err}");
		// Two pauses, 0.2 s and 0.4 s, not the whole patience.
		assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
	}
}
