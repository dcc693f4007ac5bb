//! The replicated log of the meta nodes: openraft (0.9) drives the [`Index`] as its state
//! machine (ADR 0011). Raft tolerates crashed and partitioned nodes, not lying ones: that
//! safety comes from every meta node verifying what it signs and votes, and from the 2/3
//! quorum on chain.
//!
//! * Whitepaper states ↔ Raft: Voting = candidate, Following = follower, Observing =
//!   learner (admitted on chain, catching up), Leading = leader ([`role`]).
//! * Writes go through the leader and are acknowledged once a majority persisted them
//!   ([`Replica::write`]; a leader cut off from the majority cannot acknowledge and times
//!   out). Reads are served by any replica once it applied at least the index the reader
//!   names ([`Replica::read`]: read-your-writes).
//! * Elections: no node stands on openraft's own random timer (`enable_elect = false`); the
//!   [`ElectionDriver`] stands after a delay derived from the node's VRF output over the
//!   term and a finalized block ([`crate::election`]), so the largest output stands first.
//! * Membership follows the chain's finalized active meta set ([`reconcile_membership`]).

mod store;

pub mod sim;

pub use store::{open_db, LogStore, StateMachine};

use crate::{
	election::{self, ElectionInput},
	index::{Command, Index, Response},
	Error, Result,
};
use codec::{Decode, Encode};
use openraft::{
	error::ClientWriteError, BasicNode, ChangeMembers, Config, ServerState, SnapshotPolicy,
};
use std::{
	collections::{BTreeMap, BTreeSet},
	io::Cursor,
	sync::Arc,
	time::Duration,
};
use tokio::sync::watch;

/// A meta node's id in the cluster (the first 8 bytes of its node key, big-endian).
pub type RaftId = u64;

/// An applied entry's answer: the index's result (a refusal is a result too: the entry
/// stays in the log, the state is unchanged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied(pub Result<Response>);

openraft::declare_raft_types!(
	/// Raft types of the meta cluster.
	pub TypeConfig:
		D = Command,
		R = Applied,
		NodeId = RaftId,
		Node = BasicNode,
		Entry = openraft::Entry<TypeConfig>,
		SnapshotData = Cursor<Vec<u8>>,
		AsyncRuntime = openraft::TokioRuntime,
);

/// The openraft handle.
pub type Raft = openraft::Raft<TypeConfig>;

// openraft's `serde` feature wants serde on the log payload; it is carried as its SCALE
// encoding in hex (the log and the wire are SCALE everywhere else).
macro_rules! scale_as_hex_serde {
	($t:ty) => {
		impl serde::Serialize for $t {
			fn serialize<S: serde::Serializer>(
				&self,
				s: S,
			) -> std::result::Result<S::Ok, S::Error> {
				s.serialize_str(&hex::encode(self.encode()))
			}
		}
		impl<'de> serde::Deserialize<'de> for $t {
			fn deserialize<D: serde::Deserializer<'de>>(
				d: D,
			) -> std::result::Result<Self, D::Error> {
				let s = <String as serde::Deserialize>::deserialize(d)?;
				let b = hex::decode(s).map_err(serde::de::Error::custom)?;
				<$t>::decode(&mut &b[..]).map_err(serde::de::Error::custom)
			}
		}
	};
}
scale_as_hex_serde!(Command);

impl Encode for Applied {
	fn encode_to<O: codec::Output + ?Sized>(&self, dest: &mut O) {
		self.0.encode_to(dest)
	}
}
impl Decode for Applied {
	fn decode<I: codec::Input>(input: &mut I) -> std::result::Result<Self, codec::Error> {
		Ok(Self(Decode::decode(input)?))
	}
}
scale_as_hex_serde!(Applied);

/// How often a snapshot is taken (entries).
pub const SNAPSHOT_EVERY: u64 = 1000;

/// Timing of a replica (milliseconds).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
	/// Leader heartbeat interval.
	pub heartbeat_ms: u64,
	/// Leader lease: followers refuse votes while they heard a leader this recently, and a
	/// node stands no sooner than this after its leader went silent.
	pub lease_ms: u64,
	/// Spread of the VRF-derived standing delay on top of the lease.
	pub spread_ms: u64,
	/// How long a write waits for a majority before it fails.
	pub write_timeout_ms: u64,
	/// Entries between snapshots.
	pub snapshot_every: u64,
	/// Entries kept in the log behind a snapshot (for followers that lag a little).
	pub keep_behind_snapshot: u64,
}

impl Default for Timing {
	fn default() -> Self {
		Self {
			heartbeat_ms: 100,
			lease_ms: 1000,
			spread_ms: 1000,
			write_timeout_ms: 5000,
			snapshot_every: SNAPSHOT_EVERY,
			keep_behind_snapshot: 200,
		}
	}
}

impl Timing {
	fn config(&self) -> Result<Config> {
		Config {
			cluster_name: "stratos-meta".into(),
			heartbeat_interval: self.heartbeat_ms,
			election_timeout_min: self.lease_ms,
			election_timeout_max: self.lease_ms + 1,
			enable_elect: false,
			snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every),
			max_in_snapshot_log_to_keep: self.keep_behind_snapshot,
			..Default::default()
		}
		.validate()
		.map_err(|e| Error::Raft(format!("configuration: {e}")))
	}
}

/// The whitepaper's name of a replica's state (§3.3).
pub fn role(state: ServerState) -> &'static str {
	match state {
		ServerState::Leader => "leading",
		ServerState::Candidate => "voting",
		ServerState::Follower => "following",
		ServerState::Learner => "observing",
		ServerState::Shutdown => "stopped",
	}
}

/// One meta node's replica: the Raft handle and the index it applies to.
#[derive(Clone)]
pub struct Replica {
	/// This node's id.
	pub id: RaftId,
	/// The openraft handle.
	pub raft: Raft,
	/// The index.
	pub sm: StateMachine,
	timing: Timing,
}

impl Replica {
	/// Starts a replica on `log` and `sm` (see [`open_db`]) with `network`.
	pub async fn start<N: openraft::RaftNetworkFactory<TypeConfig>>(
		id: RaftId,
		timing: Timing,
		network: N,
		log: LogStore,
		sm: StateMachine,
	) -> Result<Self> {
		let config = Arc::new(timing.config()?);
		let raft = Raft::new(id, config, network, log, sm.clone())
			.await
			.map_err(|e| Error::Raft(format!("cannot start: {e}")))?;
		Ok(Self { id, raft, sm, timing })
	}

	/// Forms a new cluster of `members` (on one node of a cluster that never ran; a no-op
	/// when the cluster exists).
	pub async fn initialize(&self, members: BTreeMap<RaftId, BasicNode>) -> Result<()> {
		match self.raft.initialize(members).await {
			Ok(()) => Ok(()),
			Err(openraft::error::RaftError::APIError(
				openraft::error::InitializeError::NotAllowed(_),
			)) => Ok(()),
			Err(e) => Err(Error::Raft(e.to_string())),
		}
	}

	/// Appends `cmd` through this node (which must lead) and returns its log index and the
	/// index's answer once a majority has persisted and this node applied it.
	pub async fn write(&self, cmd: Command) -> Result<(u64, Result<Response>)> {
		let t = Duration::from_millis(self.timing.write_timeout_ms);
		match tokio::time::timeout(t, self.raft.client_write(cmd)).await {
			Err(_) => Err(Error::Raft(
				"no majority acknowledged the write in time (this node may be cut off)".into(),
			)),
			Ok(Ok(r)) => Ok((r.log_id.index, r.data.0)),
			Ok(Err(openraft::error::RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
				Err(Error::NotLeader { leader: f.leader_id })
			},
			Ok(Err(e)) => Err(Error::Raft(e.to_string())),
		}
	}

	/// Runs `f` on this replica's index once it has applied at least `min_index` (a reader
	/// passes the index of its own last write: read-your-writes on any replica).
	pub async fn read<T>(&self, min_index: u64, f: impl FnOnce(&Index) -> T) -> Result<T> {
		let t = Duration::from_millis(self.timing.write_timeout_ms);
		if min_index > 0 {
			self.raft
				.wait(Some(t))
				.applied_index_at_least(Some(min_index), "read-your-writes")
				.await
				.map_err(|e| Error::Raft(format!("replica is behind index {min_index}: {e}")))?;
		}
		Ok(self.sm.read(|idx, _| f(idx)))
	}

	/// The index applied so far (no waiting).
	pub fn applied(&self) -> u64 {
		self.sm.read(|_, applied| applied)
	}

	/// The current leader, if known.
	pub fn leader(&self) -> Option<RaftId> {
		self.raft.metrics().borrow().current_leader
	}

	/// This node's state.
	pub fn state(&self) -> ServerState {
		self.raft.metrics().borrow().state
	}

	/// Stops the replica (its storage stays).
	pub async fn shutdown(&self) {
		let _ = self.raft.shutdown().await;
	}
}

/// The raft id of a meta node's node key.
pub fn raft_id(node: &stratos_primitives::NodeId) -> RaftId {
	u64::from_be_bytes(node.0[..8].try_into().expect("32 bytes"))
}

/// Makes the cluster's voters `desired` (the chain's finalized active meta set): new members
/// join as learners ("observing") and are promoted once caught up; members gone from the
/// chain are removed. Call on the leader; a no-op when nothing changed.
pub async fn reconcile_membership(
	leader: &Replica,
	desired: &BTreeMap<RaftId, BasicNode>,
) -> Result<bool> {
	let current: BTreeSet<RaftId> = {
		let m = leader.raft.metrics().borrow().membership_config.clone();
		m.membership().voter_ids().collect()
	};
	let want: BTreeSet<RaftId> = desired.keys().copied().collect();
	if want.is_empty() || current == want {
		return Ok(false);
	}
	for (id, node) in desired {
		if !current.contains(id) {
			leader
				.raft
				.add_learner(*id, node.clone(), true)
				.await
				.map_err(|e| Error::Raft(format!("adding meta node {id}: {e}")))?;
		}
	}
	leader
		.raft
		.change_membership(ChangeMembers::ReplaceAllVoters(want), false)
		.await
		.map_err(|e| Error::Raft(format!("changing membership: {e}")))?;
	Ok(true)
}

/// The finalized block elections are evaluated over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FinalizedBlock {
	/// Number.
	pub number: u32,
	/// Hash.
	pub hash: stratos_primitives::Hash,
}

/// Stands for election when the leader has been silent for the lease plus this node's
/// VRF-derived delay for the next term (ADR 0011). Runs until the replica shuts down.
pub struct ElectionDriver {
	replica: Replica,
	key: sp_core::sr25519::Pair,
	block: watch::Receiver<FinalizedBlock>,
}

impl ElectionDriver {
	/// A driver for `replica` with its meta node's account key and the finalized-block feed.
	pub fn new(
		replica: Replica,
		key: sp_core::sr25519::Pair,
		block: watch::Receiver<FinalizedBlock>,
	) -> Self {
		Self { replica, key, block }
	}

	/// This node's standing delay for `term` over `block` (ms after the leader fell silent).
	pub fn delay_for(&self, term: u64, block: FinalizedBlock) -> u64 {
		let input = ElectionInput { term, block_number: block.number, block_hash: block.hash };
		let t = election::evaluate(&self.key, &input);
		// Past the lease (plus a heartbeat of slack), or the voters would refuse the vote.
		let base = self.replica.timing.lease_ms + self.replica.timing.heartbeat_ms;
		election::election_delay(&t.output, base, self.replica.timing.spread_ms)
	}

	/// Runs the driver.
	pub async fn run(self) {
		let tick = Duration::from_millis(self.replica.timing.heartbeat_ms.max(10) / 2);
		loop {
			tokio::time::sleep(tick).await;
			let m = self.replica.raft.metrics().borrow().clone();
			if m.running_state.is_err() || m.state == ServerState::Shutdown {
				return;
			}
			let voter = m.membership_config.membership().voter_ids().any(|v| v == self.replica.id);
			if m.state == ServerState::Leader || !voter {
				continue;
			}
			let last = match self.replica.raft.with_raft_state(|s| s.vote_last_modified()).await {
				Ok(t) => t,
				Err(_) => return,
			};
			let silent_ms = last.map(|t| t.elapsed().as_millis() as u64).unwrap_or(u64::MAX);
			let block = *self.block.borrow();
			if silent_ms >= self.delay_for(m.current_term + 1, block) {
				tracing::debug!(
					id = self.replica.id,
					term = m.current_term + 1,
					"standing for election"
				);
				if self.replica.raft.trigger().elect().await.is_err() {
					return;
				}
			}
		}
	}
}
