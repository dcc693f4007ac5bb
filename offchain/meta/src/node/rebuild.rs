//! `stratos-meta rebuild-index`: when every meta node lost its disk, the index is rebuilt from
//! what survives elsewhere: the chain's file records (owner, id, size, holders) and the
//! manifests the holders keep of every file they hold (slices in order, the path it was
//! uploaded to). The cluster restarts empty from the chain's meta set; this command, run with
//! one active meta node's key, collects the manifests and hands the files to the cluster,
//! whose leader checks each against the chain again before writing it into the log.

use super::follow;
use anyhow::{bail, Context, Result};
use sds_core::{
	meta_api::{
		self, HolderRequest, HolderResponse, MetaRequest, MetaResponse, RestoredFile,
		HOLDER_PROTOCOL, META_PROTOCOL,
	},
	wire::Hop,
};
use sds_net::{Host, HostConfig, Keypair};
use std::{collections::HashMap, time::Duration};
use stratos_chain_client::ChainClient;
use stratos_primitives::{meta::FileManifest, FileId, NodeId};

/// Manifests asked for per page.
const PAGE: u32 = 1024;
/// Files per restore request.
const RESTORE_BATCH: usize = 256;

/// Rebuilds the index of the cluster the chain at `chain_url` names; `node_key` must be an
/// active meta node's (resource nodes show their manifests to those only).
pub async fn rebuild_index(chain_url: &str, node_key: Keypair) -> Result<()> {
	let chain = ChainClient::connect(chain_url)
		.await
		.with_context(|| format!("cannot connect to the chain at {chain_url}"))?;
	let host = Host::start(HostConfig {
		keypair: node_key,
		listen: vec!["/ip4/0.0.0.0/tcp/0".parse().expect("a valid multiaddr")],
		store: None,
		genesis_hash: chain.genesis_hash(),
		max_concurrent_streams: 64,
		gate: None,
		limits: Default::default(),
	})
	.await
	.context("cannot start the network")?;
	let (number, hash) = chain.finalized_head().await?;
	let view = follow::chain_view(&chain, number, hash).await?;
	if !view.meta_nodes.iter().any(|n| n.id == host.node_id()) {
		bail!(
			"node {} is not an active meta node on chain: run this with an active meta node's \
			 key (--node-key-suri or --key-file); resource nodes show manifests only to those",
			host.node_id()
		);
	}
	let files = chain.files_at(hash).await?;
	eprintln!("{} files recorded on chain at finalized block {number}", files.len());

	// Every resource node that holds a recorded file: its manifests, page by page.
	let node_of: HashMap<[u8; 32], &crate::index::ChainNode> =
		view.resource_nodes.iter().map(|n| (n.account, n)).collect();
	let mut wanted: Vec<NodeId> = files
		.iter()
		.flat_map(|(_, _, f)| f.holders.iter().filter_map(|a| node_of.get(&a.0).map(|n| n.id)))
		.collect();
	wanted.sort();
	wanted.dedup();
	let mut manifests: HashMap<([u8; 32], FileId), FileManifest> = HashMap::new();
	for node in &wanted {
		let Some(n) = view.resource_nodes.iter().find(|n| n.id == *node) else { continue };
		let hop = Hop { node: n.id, addrs: vec![n.address.clone()] };
		let (mut after, mut count) = (None, 0usize);
		loop {
			let req = meta_api::encode(HolderRequest::Manifests { after, limit: PAGE });
			let page =
				match host.request(&hop, HOLDER_PROTOCOL, &req, Duration::from_secs(60)).await {
					Ok(bytes) => match meta_api::decode::<HolderResponse>(&bytes) {
						Ok(HolderResponse::Manifests(page)) => page,
						Ok(HolderResponse::Error(e)) => {
							eprintln!("  resource node {node}: refused: {e}");
							break;
						},
						Err(e) => {
							eprintln!("  resource node {node}: undecodable answer: {e}");
							break;
						},
					},
					Err(e) => {
						eprintln!("  resource node {node}: unreachable: {e}");
						break;
					},
				};
			let Some(last) = page.last() else { break };
			after = Some((last.owner, last.file_id));
			count += page.len();
			for m in page.into_iter().filter(FileManifest::is_consistent) {
				manifests.entry((m.owner, m.file_id)).or_insert(m);
			}
		}
		eprintln!("  resource node {node} ({}): {count} manifests", n.address);
	}

	let mut restore = Vec::new();
	let mut missing = Vec::new();
	for (owner, file_id, info) in &files {
		let holders: Option<Vec<NodeId>> =
			info.holders.iter().map(|a| node_of.get(&a.0).map(|n| n.id)).collect();
		match (manifests.remove(&(owner.0, *file_id)), holders) {
			(Some(m), Some(holders))
				if m.size == info.size && m.slices.len() == info.slices as usize =>
			{
				restore.push(RestoredFile { manifest: m, holders, block: number })
			},
			_ => missing.push(*file_id),
		}
	}

	let metas: Vec<Hop> = view
		.meta_nodes
		.iter()
		.map(|n| Hop { node: n.id, addrs: vec![n.address.clone()] })
		.collect();
	let mut added = 0u32;
	for (i, batch) in restore.chunks(RESTORE_BATCH).enumerate() {
		let req = meta_api::encode(MetaRequest::Restore(batch.to_vec()));
		let mut done = false;
		for hop in &metas {
			match host.request(hop, META_PROTOCOL, &req, Duration::from_secs(60)).await {
				Ok(bytes) => match meta_api::decode::<MetaResponse>(&bytes) {
					Ok(MetaResponse::Restored { added: a, .. }) => {
						added += a;
						done = true;
						break;
					},
					Ok(MetaResponse::Error { message, .. }) => {
						eprintln!("  meta node {}: {message}", hop.node)
					},
					Ok(other) => eprintln!("  meta node {}: unexpected answer {other:?}", hop.node),
					Err(e) => eprintln!("  meta node {}: {e}", hop.node),
				},
				Err(e) => eprintln!("  meta node {}: unreachable: {e}", hop.node),
			}
		}
		if !done {
			bail!("no meta node took the restored files: is the cluster running and led?");
		}
		eprintln!(
			"restored {} of {} files",
			((i + 1) * RESTORE_BATCH).min(restore.len()),
			restore.len()
		);
	}
	host.shutdown();
	println!(
		"index rebuilt: {} files on chain, {} restored ({added} new to the index), {} without a manifest",
		files.len(),
		restore.len(),
		missing.len()
	);
	for id in &missing {
		println!("  no holder keeps a manifest of file {id}");
	}
	Ok(())
}
