use crate::{
	io::{
		data_frame, flush, read_frame, read_frame_within, unexpected, write_bytes, write_frame,
		ACK_TIMEOUT,
	},
	node_id, peer_id, Error, PROTOCOL,
};
use futures::{AsyncWriteExt, StreamExt};
use libp2p::{
	identity::Keypair,
	swarm::{
		dial_opts::{DialOpts, PeerCondition},
		SwarmEvent,
	},
	Multiaddr, PeerId, Swarm,
};
use sds_core::wire::{Frame, GetRequest, Hop, PutRequest};
use sds_store::Store;
use sp_core::{sr25519, Pair};
use std::{
	collections::{HashMap, HashSet},
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc, Mutex,
	},
	time::Duration,
};
use stratos_primitives::{
	merkle::{chunk_count, chunk_hash, chunk_leaves, root_of, SliceHasher, CHUNK_SIZE},
	meta::{SignedStoreAck, SignedTicket, SignedUploadAuth},
	receipt::SignedReceipt,
	Hash, NodeId, SliceHash, TaskId,
};
use tokio::sync::{mpsc, oneshot};

/// How a [`Host`] runs.
pub struct HostConfig {
	/// The node key (ed25519): libp2p identity and receipt signing key.
	pub keypair: Keypair,
	/// Addresses to listen on (empty for a client that only dials).
	pub listen: Vec<Multiaddr>,
	/// The slice store to serve from; `None` for a client.
	pub store: Option<Arc<Store>>,
	/// Genesis hash of the chain receipts are for.
	pub genesis_hash: Hash,
	/// Most requests served at once (further streams are dropped).
	pub max_concurrent_streams: usize,
	/// The chain's view for checking authorisations and tickets; with one, plain puts and
	/// gets are refused.
	pub gate: Option<Arc<dyn crate::Gate>>,
	/// What one peer may hold of this node ([`Limits::default`] for production).
	pub limits: Limits,
}

/// What one peer may hold of a node exposed to an open network (ADR 0013). Registered
/// resource and meta nodes (per the [`crate::Gate`]) are exempt from the per-peer caps: a
/// forwarder carries many clients' puts, which are bounded per upload authorisation.
#[derive(Clone, Debug)]
pub struct Limits {
	/// How long a new stream may take to send its first frame.
	pub first_frame: Duration,
	/// Every put and get must end within `grace × hops + bytes / min_rate`: a peer that
	/// trickles bytes does not hold a slot for ever.
	pub grace: Duration,
	/// The slowest transfer rate served, in bytes per second.
	pub min_rate: u64,
	/// Streams one unregistered peer may have open at once.
	pub streams_per_peer: usize,
	/// Bytes one unregistered peer may have reserved by puts in flight.
	pub reserved_per_peer: u64,
	/// Puts in flight under one upload authorisation.
	pub streams_per_upload: usize,
	/// Forward hops of a put without an authorisation (with one, its holders bound them).
	pub max_forward: usize,
	/// Established connections per peer (both directions).
	pub connections_per_peer: u32,
	/// Connections this host opens to a peer it dials (at most `connections_per_peer` of
	/// the peer). Streams are spread over them at random: each connection has its own TCP
	/// window, and its encryption and multiplexing run in a task of their own, so one
	/// peer's transfers are not held to one core or to one send buffer per round trip.
	pub dial_connections: u32,
	/// Established connections in total.
	pub connections: u32,
	/// How long a client that did not countersign stays refused (unless it settles).
	pub owing_ttl: Duration,
	/// Most debtors remembered.
	pub owing_cap: usize,
}

impl Default for Limits {
	fn default() -> Self {
		Self {
			first_frame: Duration::from_secs(10),
			grace: Duration::from_secs(30),
			min_rate: 128 * 1024,
			streams_per_peer: 32,
			reserved_per_peer: 512 << 20,
			streams_per_upload: 32,
			max_forward: 2,
			connections_per_peer: 4,
			dial_connections: 4,
			connections: 1024,
			owing_ttl: Duration::from_secs(3600),
			owing_cap: 100_000,
		}
	}
}

impl Limits {
	/// The deadline of an exchange moving `bytes` along `hops` nodes.
	pub fn deadline(&self, bytes: u64, hops: usize) -> Duration {
		self.grace * hops.max(1) as u32 + Duration::from_secs(bytes / self.min_rate.max(1))
	}
}

/// Counters for the node's metrics endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
	/// Slices stored (committed) by puts.
	pub slices_stored: AtomicU64,
	/// Bytes received in puts.
	pub bytes_in: AtomicU64,
	/// Bytes sent in gets.
	pub bytes_out: AtomicU64,
	/// Gets served to the end.
	pub gets_served: AtomicU64,
	/// Requests that ended in an error.
	pub errors: AtomicU64,
	/// Peers disconnected for breaking the protocol.
	pub protocol_errors: AtomicU64,
	/// Countersigned receipts stored.
	pub receipts: AtomicU64,
	/// Gets refused because the client owes a countersignature.
	pub refused_unpaid: AtomicU64,
	/// Puts and gets refused for a missing, invalid, expired or exhausted authorisation or
	/// ticket.
	pub refused_unauthorized: AtomicU64,
	/// Slices copied out to another node on repair orders.
	pub slices_copied: AtomicU64,
	/// Streams refused because their peer was at its stream or reservation cap.
	pub refused_peer_limit: AtomicU64,
	/// Exchanges closed for missing their first-frame or transfer deadline.
	pub timed_out: AtomicU64,
	/// Late countersignatures accepted (`Settle`).
	pub receipts_settled: AtomicU64,
	/// Connections open now, both directions (a gauge).
	pub connections: AtomicU64,
}

/// A copy of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
	/// See [`Metrics`].
	pub slices_stored: u64,
	/// See [`Metrics`].
	pub bytes_in: u64,
	/// See [`Metrics`].
	pub bytes_out: u64,
	/// See [`Metrics`].
	pub gets_served: u64,
	/// See [`Metrics`].
	pub errors: u64,
	/// See [`Metrics`].
	pub protocol_errors: u64,
	/// See [`Metrics`].
	pub receipts: u64,
	/// See [`Metrics`].
	pub refused_unpaid: u64,
	/// See [`Metrics`].
	pub refused_unauthorized: u64,
	/// See [`Metrics`].
	pub slices_copied: u64,
	/// See [`Metrics`].
	pub refused_peer_limit: u64,
	/// See [`Metrics`].
	pub timed_out: u64,
	/// See [`Metrics`].
	pub receipts_settled: u64,
	/// See [`Metrics`].
	pub connections: u64,
}

impl Metrics {
	/// Reads all counters.
	pub fn snapshot(&self) -> MetricsSnapshot {
		let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
		MetricsSnapshot {
			slices_stored: l(&self.slices_stored),
			bytes_in: l(&self.bytes_in),
			bytes_out: l(&self.bytes_out),
			gets_served: l(&self.gets_served),
			errors: l(&self.errors),
			protocol_errors: l(&self.protocol_errors),
			receipts: l(&self.receipts),
			refused_unpaid: l(&self.refused_unpaid),
			refused_unauthorized: l(&self.refused_unauthorized),
			slices_copied: l(&self.slices_copied),
			refused_peer_limit: l(&self.refused_peer_limit),
			timed_out: l(&self.timed_out),
			receipts_settled: l(&self.receipts_settled),
			connections: l(&self.connections),
		}
	}
}

enum Command {
	Connect { peer: PeerId, addrs: Vec<Multiaddr>, reply: oneshot::Sender<Result<(), String>> },
}

/// What one upload authorisation stored on this node: the bytes charged to its budget and
/// the slices they paid for. A slice put again under it (its answer was lost, say) is
/// charged once.
#[derive(Default)]
pub(crate) struct UploadSpend {
	pub bytes: u64,
	pub slices: HashSet<SliceHash>,
}

/// What was spent per task under its grants (download tickets, upload authorisations),
/// until they expire: a grant used after its last block is refused as expired before its
/// spending is looked at, so the entry is dropped then and a long-running node does not
/// keep one per task it ever served.
pub(crate) struct Spending<V> {
	tasks: HashMap<TaskId, (u32, V)>,
	/// Entries at which expired ones are next dropped: twice the live ones after a pass, so
	/// passes cost O(1) per entry.
	prune_at: usize,
}

const SPENDING_PRUNE_MIN: usize = 1024;

impl<V> Default for Spending<V> {
	fn default() -> Self {
		Self { tasks: HashMap::new(), prune_at: SPENDING_PRUNE_MIN }
	}
}

impl<V: Default> Spending<V> {
	/// The task's spending under a grant valid up to finalized block `expires_at`, with
	/// `finalized` the node's last finalized block.
	pub fn entry(&mut self, task: TaskId, expires_at: u32, finalized: u32) -> &mut V {
		if self.tasks.len() >= self.prune_at {
			self.tasks.retain(|_, (until, _)| *until >= finalized);
			self.prune_at = (self.tasks.len() * 2).max(SPENDING_PRUNE_MIN);
		}
		let e = self.tasks.entry(task).or_insert_with(|| (expires_at, V::default()));
		e.0 = e.0.max(expires_at);
		&mut e.1
	}

	pub fn get_mut(&mut self, task: &TaskId) -> Option<&mut V> {
		self.tasks.get_mut(task).map(|e| &mut e.1)
	}

	#[cfg(test)]
	fn len(&self) -> usize {
		self.tasks.len()
	}
}

pub(crate) struct Inner {
	pub keypair: Keypair,
	pub node_id: NodeId,
	pub peer_id: PeerId,
	pub control: libp2p_stream::Control,
	commands: mpsc::UnboundedSender<Command>,
	pub listen_addrs: Vec<Multiaddr>,
	pub store: Option<Arc<Store>>,
	pub genesis_hash: Hash,
	pub metrics: Arc<Metrics>,
	/// Who was sent a receipt they have not countersigned.
	pub owing: Mutex<crate::owing::OwingBook>,
	/// Receipts this host countersigned whose delivery the node did not confirm, per node
	/// (sent again with `Settle` when that node refuses for a missing countersignature).
	pub unsettled: Mutex<HashMap<NodeId, Vec<SignedReceipt>>>,
	/// Streams and reserved bytes per unregistered peer.
	pub peers: Mutex<HashMap<PeerId, PeerUse>>,
	/// A client's stream slots per node (see [`Host::open`]).
	out_streams: Mutex<HashMap<NodeId, Arc<tokio::sync::Semaphore>>>,
	/// Puts in flight per upload authorisation.
	pub uploads: Mutex<HashMap<TaskId, usize>>,
	pub limits: Limits,
	/// Receipts this node signed that the client did not countersign, for the audit.
	pub unsigned: Mutex<Vec<(stratos_primitives::receipt::TaskReceipt, [u8; 64])>>,
	pub stream_slots: Arc<tokio::sync::Semaphore>,
	pub gate: Option<Arc<dyn crate::Gate>>,
	/// Bytes served per ticket task, and bytes stored per upload task (budgets).
	pub redeemed: Mutex<Spending<u64>>,
	pub stored: Mutex<Spending<UploadSpend>>,
	/// Held while a repair order is copied out: one at a time.
	pub copy_slot: tokio::sync::Mutex<()>,
	pub(crate) tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

/// What one unregistered peer holds of this node.
#[derive(Default)]
pub(crate) struct PeerUse {
	pub streams: usize,
	pub reserved: u64,
}

/// A running libp2p host: a resource node when it has a store, otherwise a client.
#[derive(Clone)]
pub struct Host {
	pub(crate) inner: Arc<Inner>,
}

/// Bytes a TCP connection reads from its socket at once. noise's framing reads its socket in
/// 8 KiB pieces (asynchronous-codec 0.7), one system call each; this buffer under it turns
/// 32 of them into one.
const SOCKET_READ_BUFFER: usize = 256 << 10;

/// The client side of the protocol (same type: every host can dial).
pub type Client = Host;

impl Host {
	/// Starts the swarm, listens, and (with a store) serves requests.
	pub async fn start(config: HostConfig) -> Result<Self, Error> {
		if config.keypair.public().try_into_ed25519().is_err() {
			return Err(Error::Start("the node key must be ed25519".into()));
		}
		let limits = libp2p::connection_limits::ConnectionLimits::default()
			.with_max_established_per_peer(Some(config.limits.connections_per_peer))
			.with_max_established(Some(config.limits.connections))
			.with_max_pending_incoming(Some(config.limits.connections.div_ceil(4)));
		let mut swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
			.with_tokio()
			// QUIC too (`/udp/<port>/quic-v1` addresses): TLS 1.3 and its own streams instead
			// of noise and yamux; measured against TCP in ADR 0014.
			.with_quic()
			// TCP + noise + yamux, as `with_tcp` builds it, with a read buffer under noise and
			// yamux frames that carry a whole chunk (`mux.rs`).
			.with_other_transport(|key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
				use libp2p::core::{muxing::StreamMuxerBox, upgrade::Version, Transport as _};
				let tcp = libp2p::tcp::Config::default().nodelay(true);
				Ok(libp2p::tcp::tokio::Transport::new(tcp)
					.map(|s, _| futures::io::BufReader::with_capacity(SOCKET_READ_BUFFER, s))
					.upgrade(Version::V1Lazy)
					.authenticate(libp2p::noise::Config::new(key)?)
					.multiplex(crate::mux::Yamux::default())
					.map(|(p, c), _| (p, StreamMuxerBox::new(c))))
			})
			.map_err(|e| Error::Start(e.to_string()))?
			.with_behaviour(|_| Behaviour {
				limits: libp2p::connection_limits::Behaviour::new(limits),
				stream: libp2p_stream::Behaviour::new(),
			})
			.map_err(|e| Error::Start(e.to_string()))?
			.with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
			.build();
		let mut pending_listeners = HashSet::new();
		for addr in &config.listen {
			let id = swarm
				.listen_on(addr.clone())
				.map_err(|e| Error::Start(format!("cannot listen on {addr}: {e}")))?;
			pending_listeners.insert(id);
		}
		let mut listen_addrs = Vec::new();
		while !pending_listeners.is_empty() {
			let ev = tokio::time::timeout(Duration::from_secs(10), swarm.select_next_some())
				.await
				.map_err(|_| Error::Start("timed out waiting for listeners".into()))?;
			match ev {
				SwarmEvent::NewListenAddr { listener_id, address } => {
					pending_listeners.remove(&listener_id);
					listen_addrs.push(address);
				},
				SwarmEvent::ListenerClosed { reason: Err(e), .. }
				| SwarmEvent::ListenerError { error: e, .. } => {
					return Err(Error::Start(format!("listener failed: {e}")));
				},
				_ => {},
			}
		}
		let control = swarm.behaviour().stream.new_control();
		let dial_connections = config.limits.dial_connections;
		let (tx, rx) = mpsc::unbounded_channel();
		let inner = Arc::new(Inner {
			node_id: node_id(&config.keypair),
			peer_id: *swarm.local_peer_id(),
			keypair: config.keypair,
			control,
			commands: tx,
			listen_addrs,
			store: config.store,
			genesis_hash: config.genesis_hash,
			metrics: Arc::new(Metrics::default()),
			owing: Mutex::new(crate::owing::OwingBook::new(
				config.limits.owing_ttl,
				config.limits.owing_cap,
			)),
			unsettled: Mutex::new(HashMap::new()),
			peers: Mutex::new(HashMap::new()),
			out_streams: Mutex::new(HashMap::new()),
			uploads: Mutex::new(HashMap::new()),
			limits: config.limits,
			unsigned: Mutex::new(Vec::new()),
			stream_slots: Arc::new(tokio::sync::Semaphore::new(
				config.max_concurrent_streams.max(1),
			)),
			tasks: Mutex::new(Vec::new()),
			gate: config.gate,
			redeemed: Mutex::new(Spending::default()),
			stored: Mutex::new(Spending::default()),
			copy_slot: tokio::sync::Mutex::new(()),
		});
		let swarm_task =
			tokio::spawn(run_swarm(swarm, rx, dial_connections, inner.metrics.clone()));
		inner.tasks.lock().expect("lock").push(swarm_task.abort_handle());
		let host = Host { inner };
		if host.inner.store.is_some() {
			let incoming = host
				.inner
				.control
				.clone()
				.accept(PROTOCOL)
				.map_err(|_| Error::Start("protocol already registered".into()))?;
			let weak = Arc::downgrade(&host.inner);
			let t = tokio::spawn(crate::server::accept_loop(weak, incoming));
			host.inner.tasks.lock().expect("lock").push(t.abort_handle());
		}
		Ok(host)
	}

	/// Stops the host: closes every connection and stream. In-flight requests fail.
	pub fn shutdown(&self) {
		for t in self.inner.tasks.lock().expect("lock").drain(..) {
			t.abort();
		}
	}

	/// This node's id (ed25519 public key).
	pub fn node_id(&self) -> NodeId {
		self.inner.node_id
	}

	/// Takes the receipts this node signed that their clients never countersigned (the
	/// audit counts them for nobody and stops the client's tickets when there are many).
	pub fn take_unsigned(&self) -> Vec<(stratos_primitives::receipt::TaskReceipt, [u8; 64])> {
		std::mem::take(&mut *self.inner.unsigned.lock().expect("lock"))
	}

	/// Request slots not in use (of `max_concurrent_streams`).
	pub fn free_stream_slots(&self) -> usize {
		self.inner.stream_slots.available_permits()
	}

	/// The node key.
	pub fn keypair(&self) -> &Keypair {
		&self.inner.keypair
	}

	/// This node's libp2p peer id.
	pub fn peer_id(&self) -> PeerId {
		self.inner.peer_id
	}

	/// The addresses the host listens on (ports resolved).
	pub fn listen_addrs(&self) -> &[Multiaddr] {
		&self.inner.listen_addrs
	}

	/// This node as a hop others can dial.
	pub fn hop(&self) -> Hop {
		Hop {
			node: self.inner.node_id,
			addrs: self.inner.listen_addrs.iter().map(|a| a.to_string()).collect(),
		}
	}

	/// The node's counters.
	pub fn metrics(&self) -> &Arc<Metrics> {
		&self.inner.metrics
	}

	/// The store this host serves, if any.
	pub fn store(&self) -> Option<&Arc<Store>> {
		self.inner.store.as_ref()
	}

	/// Opens a protocol stream to `hop`, dialing it if needed. A client (a host without a
	/// store) first takes one of its slots for that node, held until the returned permit is
	/// dropped: it keeps at most `streams_per_peer` streams open to one node, the cap a node
	/// puts on an unregistered peer, so a client moving many slices at once waits for a slot
	/// instead of having streams refused (nodes, which forward, are exempt at their peers).
	pub(crate) async fn open(
		&self,
		hop: &Hop,
	) -> Result<(libp2p::Stream, String, Option<tokio::sync::OwnedSemaphorePermit>), Error> {
		let slot = match self.inner.store {
			Some(_) => None,
			None => {
				let slots = self
					.inner
					.out_streams
					.lock()
					.expect("lock")
					.entry(hop.node)
					.or_insert_with(|| {
						Arc::new(tokio::sync::Semaphore::new(
							self.inner.limits.streams_per_peer.max(1),
						))
					})
					.clone();
				Some(slots.acquire_owned().await.expect("the semaphore is never closed"))
			},
		};
		let (stream, label) = self.open_protocol(hop, PROTOCOL).await?;
		Ok((stream, label, slot))
	}

	/// Connects to `hop` unless connected already: at most the 10-s dial timeout (a node that
	/// is cut off lets a dial hang until then).
	pub async fn connect(&self, hop: &Hop) -> Result<(), Error> {
		self.dial(hop).await.map(drop)
	}

	/// Dials `hop` if needed; returns its peer id and a label for errors.
	async fn dial(&self, hop: &Hop) -> Result<(libp2p::PeerId, String), Error> {
		let peer = peer_id(&hop.node)?;
		let label = format!("node {}", &hop.node.to_hex()[..16]);
		let addrs = hop
			.addrs
			.iter()
			.map(|a| a.parse::<Multiaddr>().map_err(|_| Error::BadAddress(a.clone())))
			.collect::<Result<Vec<_>, _>>()?;
		let (reply, rx) = oneshot::channel();
		self.inner.commands.send(Command::Connect { peer, addrs, reply }).map_err(|_| {
			Error::Unreachable { node: label.clone(), reason: "host stopped".into() }
		})?;
		let connected = tokio::time::timeout(Duration::from_secs(10), rx)
			.await
			.map_err(|_| Error::Unreachable {
				node: label.clone(),
				reason: "dial timed out".into(),
			})?
			.map_err(|_| Error::Unreachable {
				node: label.clone(),
				reason: "host stopped".into(),
			})?;
		connected.map_err(|reason| Error::Unreachable { node: label.clone(), reason })?;
		Ok((peer, label))
	}

	/// Opens a stream of `protocol` to `hop`, dialing it if needed. A stream that fails to
	/// open is tried again (up to [`OPEN_ATTEMPTS`] times, dialing again if no connection is
	/// left): it may have been placed on one of several connections to the peer that was
	/// closing, e.g. one the peer refused over its per-peer connection cap.
	pub(crate) async fn open_protocol(
		&self,
		hop: &Hop,
		protocol: libp2p::StreamProtocol,
	) -> Result<(libp2p::Stream, String), Error> {
		let mut attempt = 1;
		loop {
			let (peer, label) = self.dial(hop).await?;
			let opened = tokio::time::timeout(
				Duration::from_secs(10),
				self.inner.control.clone().open_stream(peer, protocol.clone()),
			)
			.await
			.map_err(|_| Error::Unreachable {
				node: label.clone(),
				reason: "opening a stream timed out".into(),
			})?;
			match opened {
				Ok(stream) => return Ok((stream, label)),
				Err(libp2p_stream::OpenStreamError::Io(_)) if attempt < OPEN_ATTEMPTS => {
					// Closed connections leave the stream behaviour's list when their closing
					// is processed: give that a moment before placing the stream again.
					tokio::time::sleep(retry_pause(attempt)).await;
					attempt += 1
				},
				Err(e) => return Err(Error::Unreachable { node: label, reason: e.to_string() }),
			}
		}
	}

	/// Uploads one slice to `chain[0]`, which forwards it along the rest of `chain`.
	/// `read_at(buf, offset)` fills `buf` with the slice's bytes at `offset`. Returns the
	/// slice hash and the nodes that hold it durably, once all of them do.
	pub async fn put_slice(
		&self,
		chain: &[Hop],
		task: TaskId,
		len: u64,
		read_at: impl FnMut(&mut [u8], u64) -> std::io::Result<()>,
		progress: impl FnMut(u64),
	) -> Result<(SliceHash, Vec<NodeId>), Error> {
		let (slice, reply, peer) =
			self.put_inner(chain, task, None, len, read_at, progress).await?;
		match reply {
			Frame::PutAck { slice: s, holders } if s == slice => Ok((slice, holders)),
			other => Err(unexpected(other, &peer, "PutAck")),
		}
	}

	/// Uploads one slice along `chain` under a meta node's authorisation; returns the slice
	/// hash and every holder's signed store acknowledgement (checked here: one per node of
	/// the chain, for this slice, length and owner).
	pub async fn put_slice_authorized(
		&self,
		chain: &[Hop],
		auth: &SignedUploadAuth,
		len: u64,
		read_at: impl FnMut(&mut [u8], u64) -> std::io::Result<()>,
		progress: impl FnMut(u64),
	) -> Result<(SliceHash, Vec<SignedStoreAck>), Error> {
		let (slice, reply, peer) =
			self.put_inner(chain, auth.auth.task, Some(auth), len, read_at, progress).await?;
		let acks = match reply {
			Frame::PutAcks { slice: s, acks } if s == slice => acks,
			other => return Err(unexpected(other, &peer, "PutAcks")),
		};
		let want: Vec<NodeId> = chain.iter().map(|h| h.node).collect();
		let got: Vec<NodeId> = acks.iter().map(|a| a.ack.node).collect();
		let valid = acks.iter().all(|a| {
			a.verify(&self.inner.genesis_hash)
				&& a.ack.slice == slice
				&& a.ack.length == len
				&& a.ack.owner == auth.auth.owner
		});
		if got != want || !valid {
			return Err(Error::Verification {
				peer,
				what: "the store acknowledgements are missing, forged or for another slice".into(),
			});
		}
		Ok((slice, acks))
	}

	async fn put_inner(
		&self,
		chain: &[Hop],
		task: TaskId,
		auth: Option<&SignedUploadAuth>,
		len: u64,
		mut read_at: impl FnMut(&mut [u8], u64) -> std::io::Result<()>,
		mut progress: impl FnMut(u64),
	) -> Result<(SliceHash, Frame, String), Error> {
		let mut attempt = 0;
		// Bytes reported to `progress`: an attempt sending the slice again reports only what
		// goes beyond the furthest attempt so far.
		let mut reported = 0u64;
		loop {
			attempt += 1;
			let mut answered = false;
			let mut sent = 0u64;
			let mut advance = |n: u64| {
				sent += n;
				if sent > reported {
					progress(sent - reported);
					reported = sent;
				}
			};
			match self
				.put_once(chain, task, auth, len, &mut read_at, &mut advance, &mut answered)
				.await
			{
				// Dropped before the node answered (see `get_inner`): puts are idempotent.
				Err(Error::Io { .. }) if !answered && attempt < OPEN_ATTEMPTS => {
					tokio::time::sleep(retry_pause(attempt)).await;
				},
				other => return other,
			}
		}
	}

	#[allow(clippy::too_many_arguments)]
	async fn put_once(
		&self,
		chain: &[Hop],
		task: TaskId,
		auth: Option<&SignedUploadAuth>,
		len: u64,
		read_at: &mut impl FnMut(&mut [u8], u64) -> std::io::Result<()>,
		progress: &mut impl FnMut(u64),
		answered: &mut bool,
	) -> Result<(SliceHash, Frame, String), Error> {
		let first = chain.first().ok_or_else(|| Error::BadAddress("empty replica chain".into()))?;
		let (mut stream, peer, _slot) = self.open(first).await?;
		let req = PutRequest { task, slice_len: len, forward: chain[1..].to_vec() };
		let opening = match auth {
			Some(a) => Frame::PutAuthorized { req, auth: a.clone() },
			None => Frame::Put(req),
		};
		write_frame(&mut stream, &opening, &peer).await?;
		let mut hasher = SliceHasher::new();
		let mut frame = Vec::new();
		let mut sent = 0u64;
		while sent < len {
			let n = (len - sent).min(CHUNK_SIZE as u64) as usize;
			let payload = data_frame(&mut frame, n);
			read_at(payload, sent).map_err(Error::Local)?;
			hasher.update(payload);
			if let Err(e) = write_bytes(&mut stream, &frame, &peer).await {
				let e = explain_write_failure(&mut stream, &peer, e).await;
				*answered = !matches!(e, Error::Io { .. });
				return Err(e);
			}
			sent += n as u64;
			progress(n as u64);
		}
		let slice = SliceHash(hasher.finish().0);
		write_frame(&mut stream, &Frame::PutEnd { slice }, &peer).await?;
		flush(&mut stream, &peer).await?;
		let reply = read_frame_within(&mut stream, &peer, ACK_TIMEOUT).await;
		// A stream that ends before the node answered is tried again although the whole slice
		// was sent: a node drops a stream it cannot take at once, and the bytes of a small
		// slice may all be buffered by then. The node may also have stored it before the
		// connection died; storing it again is a no-op. Anything else (an answer, a refusal,
		// no answer in time) is final.
		*answered = !matches!(reply, Err(Error::Io { .. }));
		let reply = reply?;
		let _ = stream.close().await;
		Ok((slice, reply, peer))
	}

	/// Orders `hop` to delete `slices` (this host must be an active meta node); returns how
	/// many it held.
	pub async fn delete_slices(&self, hop: &Hop, slices: Vec<SliceHash>) -> Result<u32, Error> {
		let (mut stream, peer, _slot) = self.open(hop).await?;
		write_frame(&mut stream, &Frame::Delete { slices }, &peer).await?;
		flush(&mut stream, &peer).await?;
		match read_frame(&mut stream, &peer).await? {
			Frame::Deleted { count } => Ok(count),
			other => Err(unexpected(other, &peer, "Deleted")),
		}
	}

	/// Orders `source` (this host must be an active meta node) to copy `slices` from its
	/// store to `target` under `auth`; returns the target's store acknowledgements, checked
	/// here (one per slice, signed by the target, for the slice, its length and the owner).
	pub async fn order_copy(
		&self,
		source: &Hop,
		auth: &SignedUploadAuth,
		target: Hop,
		slices: Vec<(SliceHash, u64)>,
		timeout: std::time::Duration,
	) -> Result<Vec<SignedStoreAck>, Error> {
		let (mut stream, peer, _slot) = self.open(source).await?;
		let want: Vec<(SliceHash, u64)> = slices.clone();
		let node = target.node;
		write_frame(&mut stream, &Frame::Copy { auth: auth.clone(), target, slices }, &peer)
			.await?;
		flush(&mut stream, &peer).await?;
		let acks = match read_frame_within(&mut stream, &peer, timeout).await? {
			Frame::Copied { acks } => acks,
			other => return Err(unexpected(other, &peer, "Copied")),
		};
		let _ = stream.close().await;
		let valid = acks.len() == want.len()
			&& acks.iter().zip(&want).all(|(a, (slice, len))| {
				a.verify(&self.inner.genesis_hash)
					&& a.ack.node == node
					&& a.ack.slice == *slice
					&& a.ack.length == *len
					&& a.ack.owner == auth.auth.owner
			});
		if !valid {
			return Err(Error::Verification {
				peer,
				what: "the copy's store acknowledgements are missing, forged or for other slices"
					.into(),
			});
		}
		Ok(acks)
	}

	/// Whether `hop` holds `slice` intact; its length if so.
	pub async fn has_slice(&self, hop: &Hop, slice: SliceHash) -> Result<Option<u64>, Error> {
		self.ask_has(hop, Frame::Has { slice }).await
	}

	/// Like [`Host::has_slice`], but `hop` reads the whole slice against its hashes first
	/// (a corrupt copy is quarantined there and answered as not held).
	pub async fn check_slice(&self, hop: &Hop, slice: SliceHash) -> Result<Option<u64>, Error> {
		self.ask_has(hop, Frame::Check { slice }).await
	}

	async fn ask_has(&self, hop: &Hop, question: Frame) -> Result<Option<u64>, Error> {
		let (mut stream, peer, _slot) = self.open(hop).await?;
		write_frame(&mut stream, &question, &peer).await?;
		flush(&mut stream, &peer).await?;
		match read_frame(&mut stream, &peer).await? {
			Frame::HasReply { len } => Ok(len),
			other => Err(unexpected(other, &peer, "HasReply")),
		}
	}

	/// Downloads `req`'s range of a slice from `hop`, verifying every chunk against
	/// `req.slice`. `sink(offset_in_slice, bytes)` receives whole verified chunks covering
	/// the range, in order, each in the buffer it was read into (the sink owns it: nothing is
	/// copied on the way to the output). Countersigns the node's receipt with `client_key`
	/// and returns it.
	pub async fn get_slice(
		&self,
		hop: &Hop,
		req: GetRequest,
		client_key: &sr25519::Pair,
		sink: impl FnMut(u64, Vec<u8>) -> std::io::Result<()>,
	) -> Result<SignedReceipt, Error> {
		self.get_inner(hop, req, None, client_key, sink).await
	}

	/// Downloads `length` bytes at `offset` of the ticket's slice from the ticket's holder
	/// (`hop` must be it), as [`Host::get_slice`] does.
	pub async fn get_slice_ticketed(
		&self,
		hop: &Hop,
		ticket: &SignedTicket,
		offset: u64,
		length: u64,
		client_key: &sr25519::Pair,
		sink: impl FnMut(u64, Vec<u8>) -> std::io::Result<()>,
	) -> Result<SignedReceipt, Error> {
		let t = &ticket.ticket;
		let req = GetRequest {
			task: t.task,
			ledger_period: t.ledger_period,
			client: t.client,
			slice: t.slice,
			offset,
			length,
		};
		self.get_inner(hop, req, Some(ticket), client_key, sink).await
	}

	async fn get_inner(
		&self,
		hop: &Hop,
		req: GetRequest,
		ticket: Option<&SignedTicket>,
		client_key: &sr25519::Pair,
		mut sink: impl FnMut(u64, Vec<u8>) -> std::io::Result<()>,
	) -> Result<SignedReceipt, Error> {
		let mut settled = false;
		let mut attempt = 0;
		loop {
			attempt += 1;
			let mut answered = false;
			match self
				.get_once(hop, req.clone(), ticket, client_key, &mut sink, &mut answered)
				.await
			{
				// A countersignature of ours may not have reached the node: settle, then ask
				// again.
				Err(Error::Remote { code: sds_core::wire::ErrorCode::ReceiptRequired, .. })
					if !settled && self.has_unsettled(&hop.node) =>
				{
					settled = true;
					self.settle(hop).await?;
				},
				// The stream was dropped before the node answered anything: libp2p-stream
				// hands a node one new stream per connection at a time and drops one that
				// arrives before the last was taken, so a burst of requests can lose one.
				// Nothing was served; ask again on a new stream.
				Err(Error::Io { .. }) if !answered && attempt < OPEN_ATTEMPTS => {
					tokio::time::sleep(retry_pause(attempt)).await;
				},
				other => return other,
			}
		}
	}

	fn has_unsettled(&self, node: &NodeId) -> bool {
		self.inner.unsettled.lock().expect("lock").get(node).is_some_and(|v| !v.is_empty())
	}

	/// Sends `hop` the countersigned receipts whose delivery it did not confirm; returns how
	/// many it still says are outstanding.
	pub async fn settle(&self, hop: &Hop) -> Result<u32, Error> {
		let receipts =
			self.inner.unsettled.lock().expect("lock").remove(&hop.node).unwrap_or_default();
		let (mut stream, peer, _slot) = self.open(hop).await?;
		let mut outstanding = 0;
		for batch in receipts.chunks(sds_core::wire::MAX_SETTLE) {
			write_frame(&mut stream, &Frame::Settle { receipts: batch.to_vec() }, &peer).await?;
			flush(&mut stream, &peer).await?;
			match read_frame(&mut stream, &peer).await? {
				Frame::Settled { outstanding: o, .. } => outstanding = o,
				other => return Err(unexpected(other, &peer, "Settled")),
			}
		}
		let _ = stream.close().await;
		Ok(outstanding)
	}

	async fn get_once(
		&self,
		hop: &Hop,
		req: GetRequest,
		ticket: Option<&SignedTicket>,
		client_key: &sr25519::Pair,
		sink: &mut impl FnMut(u64, Vec<u8>) -> std::io::Result<()>,
		answered: &mut bool,
	) -> Result<SignedReceipt, Error> {
		let (mut stream, peer, _slot) = self.open(hop).await?;
		let verr = |what: String| Error::Verification { peer: peer.clone(), what };
		let opening = match ticket {
			Some(t) => {
				let payload = stratos_primitives::meta::client_request_payload(
					&self.inner.genesis_hash,
					&req.client,
					0,
					&codec::Encode::encode(&req),
				);
				let client_signature = client_key.sign(&payload).0;
				Frame::GetTicketed { req: req.clone(), ticket: *t, client_signature }
			},
			None => Frame::Get(req.clone()),
		};
		write_frame(&mut stream, &opening, &peer).await?;
		flush(&mut stream, &peer).await?;
		let first = read_frame(&mut stream, &peer).await?;
		*answered = true;
		let (slice_len, hashes) = match first {
			Frame::GetHeader { slice_len, chunk_hashes } => (slice_len, chunk_hashes),
			other => return Err(unexpected(other, &peer, "GetHeader")),
		};
		if hashes.len() as u64 != chunk_count(slice_len)
			|| root_of(chunk_leaves(slice_len, &hashes)) != req.slice.0
		{
			return Err(verr("chunk hashes do not lead to the slice hash".into()));
		}
		let (first, end) = chunk_span(slice_len, req.offset, req.length).ok_or_else(|| {
			verr(format!("range {}+{} outside the slice", req.offset, req.length))
		})?;
		let cs = CHUNK_SIZE as u64;
		for i in first..end {
			let data = match read_frame(&mut stream, &peer).await? {
				Frame::Data(d) => d,
				other => return Err(unexpected(other, &peer, "Data")),
			};
			let want = (slice_len - i * cs).min(cs);
			if data.len() as u64 != want || chunk_hash(&data) != hashes[i as usize] {
				return Err(verr(format!("chunk {i} does not match its hash")));
			}
			sink(i * cs, data).map_err(Error::Local)?;
		}
		let (receipt, node_signature) = match read_frame(&mut stream, &peer).await? {
			Frame::GetEnd { receipt, node_signature } => (receipt, node_signature),
			other => return Err(unexpected(other, &peer, "GetEnd")),
		};
		let served = (end * cs).min(slice_len) - first * cs;
		let expected_ok = receipt.node == hop.node
			&& receipt.slice == req.slice
			&& receipt.task_id == req.task
			&& receipt.client == client_key.public().0
			&& receipt.ledger_period == req.ledger_period
			&& receipt.genesis_hash == self.inner.genesis_hash
			&& receipt.offset == first * cs
			&& receipt.length == served;
		if !expected_ok || !receipt.verify_node(&node_signature) {
			return Err(verr(
				"the node's receipt does not describe this transfer or is badly signed".into(),
			));
		}
		let client_signature = client_key.sign(&receipt.client_payload(&node_signature)).0;
		let signed = SignedReceipt { receipt, node_signature, client_signature };
		// The node closes its side once the countersigned receipt is stored; until that is
		// seen, the receipt is kept to settle later. The data is ours either way.
		let sent = async {
			write_frame(&mut stream, &Frame::Countersign { client_signature }, &peer).await?;
			flush(&mut stream, &peer).await?;
			let _ = stream.close().await;
			read_frame_within(&mut stream, &peer, SETTLE_WAIT).await
		};
		let stored = matches!(sent.await, Err(Error::Io { ref source, .. })
			if source.kind() == std::io::ErrorKind::UnexpectedEof);
		if !stored {
			let mut unsettled = self.inner.unsettled.lock().expect("lock");
			let list = unsettled.entry(hop.node).or_default();
			if list.len() >= crate::owing::MAX_OWED_RECEIPTS {
				list.remove(0);
			}
			list.push(signed);
		}
		Ok(signed)
	}
}

/// Attempts of a request whose stream fails to open or is dropped before the node answers:
/// e.g. placed on one of several connections that the node is closing (over its per-peer
/// cap), which leaves the client's list of connections within about one round trip, or
/// dropped by the node's libp2p-stream because it arrived in a burst (see `get_inner`).
const OPEN_ATTEMPTS: u32 = 8;

/// The pause before attempt `attempt + 1`: random, and growing, so that the requests of one
/// burst that were dropped together do not all arrive together again (10 ms up to 0.65 s).
fn retry_pause(attempt: u32) -> Duration {
	use std::hash::{BuildHasher, Hasher};
	// Each `RandomState` is keyed afresh: a random number without another dependency.
	let r = std::collections::hash_map::RandomState::new().build_hasher().finish();
	Duration::from_millis(10 + r % (20 << attempt.min(5)))
}

/// How long a client waits for the node to confirm it stored a countersigned receipt.
const SETTLE_WAIT: Duration = Duration::from_secs(5);

/// After a failed write, the node may have sent an error frame saying why it stopped.
async fn explain_write_failure(stream: &mut libp2p::Stream, peer: &str, e: Error) -> Error {
	match tokio::time::timeout(Duration::from_secs(2), read_frame(stream, peer)).await {
		Ok(Ok(f @ Frame::Error { .. })) => unexpected(f, peer, "nothing"),
		_ => e,
	}
}

/// Chunk indices [first, end) covering `length` bytes at `offset` of a slice of `slice_len`
/// bytes (`length` is clipped to the slice); `None` when `offset` is past the end.
pub(crate) fn chunk_span(slice_len: u64, offset: u64, length: u64) -> Option<(u64, u64)> {
	if offset > slice_len || (offset == slice_len && slice_len > 0) {
		return None;
	}
	let cs = CHUNK_SIZE as u64;
	let stop = offset.saturating_add(length).min(slice_len);
	if stop == offset {
		return Some((offset / cs, offset / cs));
	}
	Some((offset / cs, stop.div_ceil(cs)))
}

/// The swarm's behaviour: connection limits, then the protocol streams.
#[derive(libp2p::swarm::NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
struct Behaviour {
	limits: libp2p::connection_limits::Behaviour,
	stream: libp2p_stream::Behaviour,
}

/// Dials in flight to one peer and the callers waiting for them.
#[derive(Default)]
struct Dialing {
	/// Dials not yet established or failed.
	left: u32,
	/// When the first of them was established.
	first_up: Option<tokio::time::Instant>,
	/// The last dial error.
	error: Option<String>,
	waiting: Vec<oneshot::Sender<Result<(), String>>>,
}

/// How long callers wait for the rest of a batch of dials once one connection is up (a dial
/// that hangs must not hold up a peer that is reachable).
const BATCH_GRACE: Duration = Duration::from_secs(1);

/// Runs the swarm. A peer is dialed `dial_connections` times at once when no connection to it
/// is up; callers are answered when all of those dials ended (or [`BATCH_GRACE`] after the
/// first connection), so the streams they open are spread over every connection from the
/// start. A peer with a connection up is not dialed again until it has none.
async fn run_swarm(
	mut swarm: Swarm<Behaviour>,
	mut rx: mpsc::UnboundedReceiver<Command>,
	dial_connections: u32,
	metrics: Arc<Metrics>,
) {
	let mut dialing: HashMap<PeerId, Dialing> = HashMap::new();
	let mut tick = tokio::time::interval(BATCH_GRACE / 4);
	tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
	let answer = |d: Dialing, connected: bool| {
		let result = match (connected, d.error) {
			(true, _) => Ok(()),
			(false, e) => Err(e.unwrap_or_else(|| "no connection".into())),
		};
		for r in d.waiting {
			let _ = r.send(result.clone());
		}
	};
	loop {
		tokio::select! {
			cmd = rx.recv() => match cmd {
				None => break,
				Some(Command::Connect { peer, addrs, reply }) => {
					if let Some(d) = dialing.get_mut(&peer) {
						d.waiting.push(reply);
						continue;
					}
					if swarm.is_connected(&peer) {
						let _ = reply.send(Ok(()));
						continue;
					}
					let mut d = Dialing { waiting: vec![reply], ..Default::default() };
					for _ in 0..dial_connections.max(1) {
						let opts = DialOpts::peer_id(peer)
							.addresses(addrs.clone())
							.condition(PeerCondition::Always)
							.build();
						match swarm.dial(opts) {
							Ok(()) => d.left += 1,
							Err(e) => d.error = Some(e.to_string()),
						}
					}
					if d.left == 0 {
						answer(d, false);
					} else {
						dialing.insert(peer, d);
					}
				},
			},
			ev = swarm.select_next_some() => match ev {
				SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
					metrics.connections.fetch_add(1, Ordering::Relaxed);
					let Some(d) = dialing.get_mut(&peer_id) else { continue };
					d.first_up.get_or_insert_with(tokio::time::Instant::now);
					if endpoint.is_dialer() {
						d.left = d.left.saturating_sub(1);
					}
					if d.left == 0 {
						let d = dialing.remove(&peer_id).expect("present");
						answer(d, true);
					}
				},
				SwarmEvent::OutgoingConnectionError { peer_id: Some(p), error, .. } => {
					let Some(d) = dialing.get_mut(&p) else { continue };
					d.left = d.left.saturating_sub(1);
					d.error = Some(error.to_string());
					if d.left == 0 {
						let d = dialing.remove(&p).expect("present");
						answer(d, swarm.is_connected(&p));
					}
				},
				SwarmEvent::ConnectionClosed { .. } => {
					metrics.connections.fetch_sub(1, Ordering::Relaxed);
				},
				_ => {},
			},
			_ = tick.tick() => {
				let ready: Vec<PeerId> = dialing
					.iter()
					.filter(|(_, d)| d.first_up.is_some_and(|t| t.elapsed() >= BATCH_GRACE))
					.map(|(p, _)| *p)
					.collect();
				for p in ready {
					let d = dialing.remove(&p).expect("present");
					answer(d, swarm.is_connected(&p));
				}
			},
		}
	}
}

impl Host {
	/// Opens a raw protocol stream to `hop` (for tests of hostile input).
	#[doc(hidden)]
	pub async fn open_raw(&self, hop: &Hop) -> Result<libp2p::Stream, Error> {
		Ok(self.open_protocol(hop, PROTOCOL).await?.0)
	}
}

#[cfg(test)]
mod tests {
	use super::{chunk_span, Spending, SPENDING_PRUNE_MIN};
	use stratos_primitives::TaskId;
	const CS: u64 = stratos_primitives::merkle::CHUNK_SIZE as u64;

	#[test]
	fn chunk_spans() {
		assert_eq!(chunk_span(0, 0, u64::MAX), Some((0, 0)));
		assert_eq!(chunk_span(10, 0, u64::MAX), Some((0, 1)));
		assert_eq!(chunk_span(10, 10, 1), None);
		assert_eq!(chunk_span(3 * CS, CS + 1, 1), Some((1, 2)));
		assert_eq!(chunk_span(3 * CS, CS - 1, 2), Some((0, 2)));
		assert_eq!(chunk_span(3 * CS, 0, 3 * CS), Some((0, 3)));
		assert_eq!(chunk_span(3 * CS + 1, 3 * CS, 5), Some((3, 4)));
	}

	#[test]
	fn spending_is_forgotten_once_its_grant_expired() {
		let task = |i: usize| {
			let mut t = [0u8; 32];
			t[..8].copy_from_slice(&(i as u64).to_le_bytes());
			TaskId(t)
		};
		let mut s = Spending::<u64>::default();
		// At block 5, grants that run to block 10 and to block 20, half and half.
		let n = SPENDING_PRUNE_MIN;
		for i in 0..n {
			*s.entry(task(i), if i % 2 == 0 { 10 } else { 20 }, 5) += 7;
		}
		// The map is full but every grant is live: nothing goes. A grant used again keeps
		// its spending; a renewed one lasts longer.
		assert_eq!(*s.entry(task(0), 30, 5), 7);
		assert_eq!(s.len(), n);
		// At block 11 those that ran to block 10 have expired: they go once the map has
		// doubled.
		for i in n..2 * n {
			s.entry(task(i), 40, 11);
		}
		assert_eq!(s.len(), 2 * n);
		s.entry(task(2 * n), 40, 11);
		assert_eq!(s.len(), 2 * n + 1 - (n / 2 - 1));
		assert_eq!(s.get_mut(&task(2)), None, "expired at 10");
		assert_eq!(s.get_mut(&task(1)).copied(), Some(7), "valid to 20");
		assert_eq!(s.get_mut(&task(0)).copied(), Some(7), "renewed to 30");
		// However many live grants there are, none is dropped.
		let live = s.len();
		for i in 0..4 * n {
			s.entry(task(10 * n + i), 50, 12);
		}
		assert_eq!(s.len(), live + 4 * n);
	}
}
