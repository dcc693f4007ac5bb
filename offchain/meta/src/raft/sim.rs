//! An in-process network for meta-node replicas: every RPC is a direct call on the target's
//! Raft handle, through links the test controls. Tests crash nodes (unroute and shut down,
//! keeping their storage for a restart), cut links one way or both, isolate a node and heal.

use super::{Raft, RaftId, TypeConfig};
use openraft::{
	error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable},
	network::{RPCOption, RaftNetwork, RaftNetworkFactory},
	raft::{
		AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest,
		InstallSnapshotResponse, VoteRequest, VoteResponse,
	},
	AnyError, BasicNode,
};
use std::{
	collections::{BTreeMap, BTreeSet},
	sync::{Arc, Mutex},
};

#[derive(Default)]
struct NetState {
	nodes: BTreeMap<RaftId, Raft>,
	cut: BTreeSet<(RaftId, RaftId)>,
}

/// The simulated network. Clones share it.
#[derive(Clone, Default)]
pub struct SimNet {
	st: Arc<Mutex<NetState>>,
}

impl SimNet {
	/// The network factory of node `me`.
	pub fn factory(&self, me: RaftId) -> NodeNet {
		NodeNet { net: self.clone(), me }
	}

	/// Routes RPCs to `raft` as node `id`.
	pub fn register(&self, id: RaftId, raft: Raft) {
		self.lock().nodes.insert(id, raft);
	}

	/// Stops routing to `id` (a crash, with [`Raft::shutdown`]).
	pub fn unregister(&self, id: RaftId) -> Option<Raft> {
		self.lock().nodes.remove(&id)
	}

	/// Cuts every link between `id` and the other registered nodes, both ways.
	pub fn isolate(&self, id: RaftId) {
		let mut s = self.lock();
		let peers: Vec<RaftId> = s.nodes.keys().copied().filter(|p| *p != id).collect();
		for p in peers {
			s.cut.insert((id, p));
			s.cut.insert((p, id));
		}
	}

	/// Cuts the link `from → to`.
	pub fn cut(&self, from: RaftId, to: RaftId) {
		self.lock().cut.insert((from, to));
	}

	/// Restores every link.
	pub fn heal(&self) {
		self.lock().cut.clear();
	}

	fn lock(&self) -> std::sync::MutexGuard<'_, NetState> {
		self.st.lock().expect("sim net lock")
	}

	fn link<E: std::error::Error>(
		&self,
		from: RaftId,
		to: RaftId,
	) -> Result<Raft, RPCError<RaftId, BasicNode, RaftError<RaftId, E>>> {
		let s = self.lock();
		if s.cut.contains(&(from, to)) {
			return Err(
				NetworkError::new(&AnyError::error(format!("link {from}->{to} cut"))).into()
			);
		}
		s.nodes
			.get(&to)
			.cloned()
			.ok_or_else(|| Unreachable::new(&AnyError::error(format!("node {to} down"))).into())
	}
}

/// One node's view of the simulated network.
pub struct NodeNet {
	net: SimNet,
	me: RaftId,
}

/// A connection from one node to another.
pub struct Conn {
	net: SimNet,
	from: RaftId,
	to: RaftId,
}

impl RaftNetworkFactory<TypeConfig> for NodeNet {
	type Network = Conn;

	async fn new_client(&mut self, target: RaftId, _node: &BasicNode) -> Self::Network {
		Conn { net: self.net.clone(), from: self.me, to: target }
	}
}

impl RaftNetwork<TypeConfig> for Conn {
	async fn append_entries(
		&mut self,
		rpc: AppendEntriesRequest<TypeConfig>,
		_option: RPCOption,
	) -> Result<AppendEntriesResponse<RaftId>, RPCError<RaftId, BasicNode, RaftError<RaftId>>> {
		let raft = self.net.link(self.from, self.to)?;
		let resp = raft.append_entries(rpc).await.map_err(|e| RemoteError::new(self.to, e))?;
		// A cut reply path loses the answer.
		self.net.link(self.to, self.from)?;
		Ok(resp)
	}

	async fn install_snapshot(
		&mut self,
		rpc: InstallSnapshotRequest<TypeConfig>,
		_option: RPCOption,
	) -> Result<
		InstallSnapshotResponse<RaftId>,
		RPCError<RaftId, BasicNode, RaftError<RaftId, InstallSnapshotError>>,
	> {
		let raft = self.net.link::<InstallSnapshotError>(self.from, self.to)?;
		let resp = raft.install_snapshot(rpc).await.map_err(|e| RemoteError::new(self.to, e))?;
		self.net.link::<InstallSnapshotError>(self.to, self.from)?;
		Ok(resp)
	}

	async fn vote(
		&mut self,
		rpc: VoteRequest<RaftId>,
		_option: RPCOption,
	) -> Result<VoteResponse<RaftId>, RPCError<RaftId, BasicNode, RaftError<RaftId>>> {
		let raft = self.net.link(self.from, self.to)?;
		let resp = raft.vote(rpc).await.map_err(|e| RemoteError::new(self.to, e))?;
		self.net.link(self.to, self.from)?;
		Ok(resp)
	}
}
