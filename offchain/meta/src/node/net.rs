//! Raft between meta nodes over the `sds-net` host: every openraft RPC is one
//! [`MetaRequest::Raft`] exchange on the meta protocol, its body openraft's JSON.

use crate::raft::{Raft, RaftId, TypeConfig};
use openraft::{
	error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable},
	network::{RPCOption, RaftNetwork, RaftNetworkFactory},
	raft::{
		AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest,
		InstallSnapshotResponse, VoteRequest, VoteResponse,
	},
	AnyError, BasicNode,
};
use sds_core::{
	meta_api::{self, MetaRequest, MetaResponse, RaftRpcKind, META_PROTOCOL},
	wire::Hop,
};
use sds_net::Host;
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;
use stratos_primitives::NodeId;

/// A cluster member as openraft stores it: `<node id hex>@<multiaddr>`.
pub fn member(node: &NodeId, address: &str) -> BasicNode {
	BasicNode::new(format!("{}@{address}", node.to_hex()))
}

/// The hop to dial for a member.
pub fn member_hop(node: &BasicNode) -> Option<Hop> {
	let (id, addr) = node.addr.split_once('@')?;
	Some(Hop { node: NodeId::from_hex(id).ok()?, addrs: vec![addr.to_string()] })
}

/// The network factory of one meta node.
pub struct P2pNet {
	/// The node's host.
	pub host: Host,
}

/// A connection to one member.
pub struct P2pConn {
	host: Host,
	hop: Option<Hop>,
	target: RaftId,
}

impl RaftNetworkFactory<TypeConfig> for P2pNet {
	type Network = P2pConn;

	async fn new_client(&mut self, target: RaftId, node: &BasicNode) -> Self::Network {
		P2pConn { host: self.host.clone(), hop: member_hop(node), target }
	}
}

fn unreachable<E: std::error::Error>(
	msg: String,
) -> RPCError<RaftId, BasicNode, RaftError<RaftId, E>> {
	Unreachable::new(&AnyError::error(msg)).into()
}

impl P2pConn {
	async fn call<Q, A, E>(
		&self,
		kind: RaftRpcKind,
		req: &Q,
		option: &RPCOption,
	) -> Result<A, RPCError<RaftId, BasicNode, RaftError<RaftId, E>>>
	where
		Q: Serialize,
		A: DeserializeOwned,
		E: std::error::Error + DeserializeOwned,
	{
		let Some(hop) = &self.hop else {
			return Err(unreachable(format!("member {} has no usable address", self.target)));
		};
		let body = serde_json::to_vec(req)
			.map_err(|e| NetworkError::new(&AnyError::error(e.to_string())))?;
		let bytes = meta_api::encode(MetaRequest::Raft { kind, body });
		let timeout = option.hard_ttl().max(Duration::from_millis(100));
		let answer = self
			.host
			.request(hop, META_PROTOCOL, &bytes, timeout)
			.await
			.map_err(|e| unreachable(e.to_string()))?;
		match meta_api::decode::<MetaResponse>(&answer) {
			Ok(MetaResponse::Raft(json)) => {
				let r: Result<A, RaftError<RaftId, E>> = serde_json::from_slice(&json)
					.map_err(|e| NetworkError::new(&AnyError::error(e.to_string())))?;
				r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
			},
			Ok(other) => {
				Err(NetworkError::new(&AnyError::error(format!("unexpected answer {other:?}")))
					.into())
			},
			Err(e) => Err(NetworkError::new(&AnyError::error(e)).into()),
		}
	}
}

impl RaftNetwork<TypeConfig> for P2pConn {
	async fn append_entries(
		&mut self,
		rpc: AppendEntriesRequest<TypeConfig>,
		option: RPCOption,
	) -> Result<AppendEntriesResponse<RaftId>, RPCError<RaftId, BasicNode, RaftError<RaftId>>> {
		self.call(RaftRpcKind::Append, &rpc, &option).await
	}

	async fn install_snapshot(
		&mut self,
		rpc: InstallSnapshotRequest<TypeConfig>,
		option: RPCOption,
	) -> Result<
		InstallSnapshotResponse<RaftId>,
		RPCError<RaftId, BasicNode, RaftError<RaftId, InstallSnapshotError>>,
	> {
		self.call(RaftRpcKind::Snapshot, &rpc, &option).await
	}

	async fn vote(
		&mut self,
		rpc: VoteRequest<RaftId>,
		option: RPCOption,
	) -> Result<VoteResponse<RaftId>, RPCError<RaftId, BasicNode, RaftError<RaftId>>> {
		self.call(RaftRpcKind::Vote, &rpc, &option).await
	}
}

/// Serves one Raft RPC received from a peer: the JSON answer.
pub async fn serve_raft(raft: &Raft, kind: RaftRpcKind, body: &[u8]) -> Result<Vec<u8>, String> {
	fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, String> {
		serde_json::to_vec(v).map_err(|e| e.to_string())
	}
	let bad = |e: serde_json::Error| format!("undecodable Raft request: {e}");
	match kind {
		RaftRpcKind::Append => {
			json(&raft.append_entries(serde_json::from_slice(body).map_err(bad)?).await)
		},
		RaftRpcKind::Vote => json(&raft.vote(serde_json::from_slice(body).map_err(bad)?).await),
		RaftRpcKind::Snapshot => {
			json(&raft.install_snapshot(serde_json::from_slice(body).map_err(bad)?).await)
		},
	}
}
