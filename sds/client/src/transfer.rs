//! Uploading and downloading whole files.

use crate::{
	download::{self, Layout, Partial, Resume, Sink},
	Error, FileRecord, Result, SliceRecord,
};
use futures::future::BoxFuture;
use rand::seq::SliceRandom;
use sds_core::{
	replicas::ReplicaPicker,
	slicing::{self, SliceSpan},
	wire::{GetRequest, Hop},
};
use sds_net::{Host, HostConfig, Keypair, Multiaddr};
use sp_core::{sr25519, Pair};
use std::{os::unix::fs::FileExt, path::Path, sync::Arc, time::Duration};
use stratos_primitives::{FileId, NodeId, TaskId};

/// Where progress goes (a progress bar in the CLI, nothing in tests).
pub trait Progress: Send + Sync {
	/// `bytes` more were transferred.
	fn advance(&self, bytes: u64);
	/// `bytes` already counted must be transferred again (a retry).
	fn rewind(&self, bytes: u64);
}

impl Progress for () {
	fn advance(&self, _: u64) {}
	fn rewind(&self, _: u64) {}
}

impl Progress for indicatif::ProgressBar {
	fn advance(&self, bytes: u64) {
		self.inc(bytes);
	}
	fn rewind(&self, bytes: u64) {
		self.dec(bytes);
	}
}

/// How the client works.
pub struct ClientConfig {
	/// Resource nodes to use.
	pub nodes: Vec<Hop>,
	/// Copies of every slice.
	pub replicas: usize,
	/// Slice size in bytes (a multiple of 64 KiB).
	pub slice_size: u64,
	/// Slices transferred at once.
	pub parallel: usize,
	/// Genesis hash receipts are for.
	pub genesis_hash: [u8; 32],
	/// The account that countersigns receipts.
	pub account: sr25519::Pair,
	/// Ledger period put in requests.
	pub ledger_period: u32,
	/// Connections opened to each node (streams are spread over them).
	pub connections: u32,
}

/// A connected client. Cheap to clone.
#[derive(Clone)]
pub struct SdsClient {
	inner: Arc<Inner>,
}

struct Inner {
	host: Host,
	cfg: ClientConfig,
}

/// Runs `jobs` as tasks on the runtime's worker threads, at most `parallel` at once; stops
/// (aborting the rest) at the first error.
pub(crate) async fn run_parallel<T: Send + 'static>(
	parallel: usize,
	jobs: impl IntoIterator<Item = impl std::future::Future<Output = Result<T>> + Send + 'static>,
) -> Result<Vec<T>> {
	let mut set = tokio::task::JoinSet::new();
	let mut out = Vec::new();
	let mut jobs = jobs.into_iter();
	loop {
		while set.len() < parallel.max(1) {
			match jobs.next() {
				Some(j) => {
					set.spawn(j);
				},
				None => break,
			}
		}
		match set.join_next().await {
			None => return Ok(out),
			Some(Ok(Ok(v))) => out.push(v),
			Some(Ok(Err(e))) => return Err(e),
			Some(Err(e)) => {
				return Err(Error::Net(sds_net::Error::Start(format!("transfer task failed: {e}"))))
			},
		}
	}
}

/// Parses `<multiaddr>/p2p/<peer id>` into a hop (the peer id carries the node's ed25519
/// key, which is its node id).
pub fn parse_node(s: &str) -> Result<Hop> {
	let bad = |reason: &str| Error::BadNode { addr: s.to_string(), reason: reason.to_string() };
	let mut addr: Multiaddr =
		s.parse().map_err(|e: sds_net::libp2p_multiaddr::Error| bad(&e.to_string()))?;
	let Some(sds_net::libp2p_multiaddr::Protocol::P2p(peer)) = addr.pop() else {
		return Err(bad("it must end with /p2p/<peer id>"));
	};
	let node =
		sds_net::node_of_peer(&peer).ok_or_else(|| bad("the peer id is not an ed25519 key"))?;
	Ok(Hop { node, addrs: vec![addr.to_string()] })
}

impl SdsClient {
	/// Starts the client's libp2p host (it only dials).
	pub async fn connect(cfg: ClientConfig) -> Result<Self> {
		if cfg.replicas == 0 {
			return Err(Error::Config("--replicas must be at least 1".into()));
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
		Ok(Self { inner: Arc::new(Inner { host, cfg }) })
	}

	/// The libp2p host (for status queries).
	pub fn host(&self) -> &Host {
		&self.inner.host
	}

	/// Uploads `file`; returns its record once every slice is held by `replicas` nodes.
	pub async fn put_file<P: Progress + Clone + 'static>(
		&self,
		file: &Path,
		progress: &P,
	) -> Result<FileRecord> {
		let input = |source| Error::Input { path: file.display().to_string(), source };
		let f = Arc::new(std::fs::File::open(file).map_err(input)?);
		let meta = f.metadata().map_err(input)?;
		if !meta.is_file() {
			return Err(input(std::io::Error::other("not a regular file")));
		}
		if self.inner.cfg.nodes.len() < self.inner.cfg.replicas {
			return Err(Error::NotEnoughNodes {
				needed: self.inner.cfg.replicas,
				available: self.inner.cfg.nodes.len(),
			});
		}
		let size = meta.len();
		let spans: Vec<SliceSpan> = slicing::spans(size, self.inner.cfg.slice_size).collect();
		let jobs = spans.into_iter().map(|span| {
			let (me, f, progress) = (self.clone(), f.clone(), progress.clone());
			async move { me.put_one(&f, span, &progress).await.map(|r| (span.index, r)) }
		});
		let mut slices = run_parallel(self.inner.cfg.parallel, jobs).await?;
		slices.sort_by_key(|(i, _)| *i);
		let slices: Vec<SliceRecord> = slices.into_iter().map(|(_, s)| s).collect();
		let id = slicing::file_id(slices.iter().map(|s| (s.len, s.slice_hash())));
		Ok(FileRecord { file_id: id.to_hex(), size, slice_size: self.inner.cfg.slice_size, slices })
	}

	async fn put_one(
		&self,
		f: &std::fs::File,
		span: SliceSpan,
		progress: &dyn Progress,
	) -> Result<SliceRecord> {
		let mut excluded: Vec<NodeId> = Vec::new();
		let mut last = String::new();
		for _attempt in 0..5 {
			let mut candidates: Vec<Hop> = self
				.inner
				.cfg
				.nodes
				.iter()
				.filter(|h| !excluded.contains(&h.node))
				.cloned()
				.collect();
			if candidates.len() < self.inner.cfg.replicas {
				return Err(Error::NotEnoughNodes {
					needed: self.inner.cfg.replicas,
					available: candidates.len(),
				});
			}
			candidates.shuffle(&mut rand::thread_rng());
			let chain = &candidates[..self.inner.cfg.replicas];
			let mut sent = 0u64;
			let res = self
				.inner
				.host
				.put_slice(
					chain,
					TaskId::default(),
					span.len,
					|buf, off| f.read_exact_at(buf, span.offset + off),
					|n| {
						sent += n;
						progress.advance(n)
					},
				)
				.await;
			match res {
				Ok((hash, holders)) => {
					let holders = holders
						.into_iter()
						.map(|n| {
							let addrs = chain
								.iter()
								.find(|h| h.node == n)
								.map(|h| h.addrs.clone())
								.unwrap_or_default();
							(n.to_hex(), addrs)
						})
						.collect();
					return Ok(SliceRecord { hash: hash.to_hex(), len: span.len, holders });
				},
				Err(sds_net::Error::Local(e)) => {
					return Err(Error::Input { path: "the file being uploaded".into(), source: e })
				},
				Err(e) => {
					last = e.to_string();
					tracing::warn!(slice = span.index, error = %e, "upload attempt failed; retrying on other nodes");
					// Probe the chain: nodes that cannot be dialed (twice) are left out of the
					// next try; a node that answers stays in.
					for hop in chain {
						if !self.reachable(hop).await && !self.reachable(hop).await {
							excluded.push(hop.node);
						}
					}
					// The failed attempt's bytes are sent again: take them off the progress.
					progress.rewind(sent);
				},
			}
		}
		Err(Error::UploadFailed { index: span.index, reason: last })
	}

	/// Downloads `record` into `out`, verifying every chunk; written to a partial file next
	/// to `out` and renamed into place only when complete. An interrupted download keeps
	/// its verified slices there and the next call for the same file and output resumes.
	pub async fn get_file<P: Progress + Clone + 'static>(
		&self,
		record: &FileRecord,
		out: &Path,
		progress: &P,
	) -> Result<()> {
		let layout = self.layout(record)?;
		let partial = Partial::open(out, &layout, progress).await?;
		let progress: Arc<dyn Progress> = Arc::new(progress.clone());
		let r =
			partial.fill(&layout, self.inner.cfg.parallel, self.fetcher(record), progress).await;
		match r {
			Ok(()) => partial.finish(out),
			Err(e) => Err(partial.abandon(e)),
		}
	}

	/// Streams bytes `range` of `record` to `out`, verified, in order, without a temporary
	/// file; returns the bytes written.
	pub async fn stream_file<P: Progress + Clone + 'static>(
		&self,
		record: &FileRecord,
		range: std::ops::Range<u64>,
		out: impl std::io::Write + Send + 'static,
		progress: &P,
	) -> Result<u64> {
		let layout = self.layout(record)?;
		let progress: Arc<dyn Progress> = Arc::new(progress.clone());
		download::stream(
			&layout,
			range,
			self.inner.cfg.parallel,
			self.fetcher(record),
			out,
			progress,
		)
		.await
	}

	fn layout(&self, record: &FileRecord) -> Result<Layout> {
		let id = slicing::file_id(record.slices.iter().map(|s| (s.len, s.slice_hash())));
		if id != record.id() {
			return Err(Error::Catalog {
				path: "index".into(),
				reason: format!("record for {} does not match its slices", record.file_id),
			});
		}
		Ok(Layout {
			id,
			size: record.size,
			slice_size: record.slice_size,
			slices: record.slices.iter().map(|s| (s.len, s.slice_hash())).collect(),
		})
	}

	/// Fetches a slice range of `record` from its holders.
	fn fetcher(
		&self,
		record: &FileRecord,
	) -> impl Fn(usize, u64, u64, Sink) -> BoxFuture<'static, Result<()>> {
		let slices = Arc::new(record.slices.clone());
		let me = self.clone();
		move |i, start, end, sink| {
			let (me, slices) = (me.clone(), slices.clone());
			Box::pin(async move { me.get_one(i as u64, &slices[i], start, end, sink).await })
		}
	}

	/// Bytes `[start, end)` of one slice, verified, from its holders in random order; a
	/// failing holder's successor continues from the first chunk not yet verified.
	async fn get_one(
		&self,
		index: u64,
		s: &SliceRecord,
		start: u64,
		end: u64,
		sink: Sink,
	) -> Result<()> {
		let (pos, mut sink) = Resume::new(start, sink);
		let mut picker = ReplicaPicker::new(s.hops(), &mut rand::thread_rng());
		// Replicas whose connection broke under the transfer (not a refusal, not bad data):
		// each gets one more try once the others have been tried.
		let mut broken: Vec<Hop> = Vec::new();
		loop {
			if pos.next() >= end {
				return Ok(());
			}
			let (hop, retry) = match picker.next_replica() {
				Some(hop) => (hop, false),
				None => match broken.pop() {
					Some(hop) => (hop, true),
					None => break,
				},
			};
			let req = GetRequest {
				task: TaskId(rand::random()),
				ledger_period: self.inner.cfg.ledger_period,
				client: self.inner.cfg.account.public().0,
				slice: s.slice_hash(),
				offset: pos.next(),
				length: end.saturating_sub(pos.next()),
			};
			let res =
				self.inner.host.get_slice(&hop, req, &self.inner.cfg.account, &mut sink).await;
			match res {
				Ok(_) => return Ok(()),
				Err(sds_net::Error::Local(e)) => {
					return Err(Error::Output { path: "the output file".into(), source: e })
				},
				Err(e) => {
					tracing::warn!(slice = index, node = %hop.node, error = %e, resume_at = pos.next(), "replica failed; trying another");
					if !retry && matches!(e, sds_net::Error::Io { .. }) {
						broken.push(hop.clone());
					}
					picker.failed(hop.clone(), e.to_string());
				},
			}
		}
		let failures = picker
			.failures()
			.iter()
			.map(|(n, why)| format!("{}: {why}", &n.node.to_hex()[..16]))
			.collect::<Vec<_>>()
			.join("; ");
		Err(Error::AllReplicasFailed {
			index,
			slice: s.hash.clone(),
			failures: if failures.is_empty() { "no replicas recorded".into() } else { failures },
		})
	}

	/// For each slice of `record`, how many holders answer that they hold it intact.
	pub async fn replica_health(&self, record: &FileRecord) -> Vec<usize> {
		let mut out = Vec::new();
		for s in &record.slices {
			let mut ok = 0;
			for hop in s.hops() {
				let r = tokio::time::timeout(
					Duration::from_secs(5),
					self.inner.host.has_slice(&hop, s.slice_hash()),
				)
				.await;
				if matches!(r, Ok(Ok(Some(len))) if len == s.len) {
					ok += 1;
				}
			}
			out.push(ok);
		}
		out
	}

	async fn reachable(&self, hop: &Hop) -> bool {
		let probe = tokio::time::timeout(
			Duration::from_secs(5),
			self.inner.host.has_slice(hop, Default::default()),
		)
		.await;
		!matches!(probe, Err(_) | Ok(Err(sds_net::Error::Unreachable { .. })))
	}

	/// Whether a node answers.
	pub async fn ping(&self, hop: &Hop) -> std::result::Result<(), String> {
		match tokio::time::timeout(
			Duration::from_secs(5),
			self.inner.host.has_slice(hop, Default::default()),
		)
		.await
		{
			Ok(Ok(_)) => Ok(()),
			Ok(Err(e)) => Err(e.to_string()),
			Err(_) => Err("no answer within 5 s".into()),
		}
	}

	/// The id a file would get, without uploading (hashes the file locally).
	pub fn file_id_of(path: &Path, slice_size: u64) -> Result<FileId> {
		let input = |source| Error::Input { path: path.display().to_string(), source };
		let f = std::fs::File::open(path).map_err(input)?;
		let size = f.metadata().map_err(input)?.len();
		let mut buf = vec![0u8; 1 << 20];
		let mut slices = Vec::new();
		for span in slicing::spans(size, slice_size) {
			let mut h = stratos_primitives::merkle::SliceHasher::new();
			let mut done = 0;
			while done < span.len {
				let n = (span.len - done).min(buf.len() as u64) as usize;
				f.read_exact_at(&mut buf[..n], span.offset + done).map_err(input)?;
				h.update(&buf[..n]);
				done += n as u64;
			}
			slices.push((span.len, stratos_primitives::SliceHash(h.finish().0)));
		}
		Ok(slicing::file_id(slices))
	}
}
