//! Sending the leader's copy orders ([`crate::repair`]): each order's authorisation is
//! signed with this meta node's key and sent to the source in batches of
//! [`sds_core::wire::MAX_COPY`] slices; each batch's acknowledgements go into the log as
//! `Copied`, where every replica checks them. An order this node is already sending is not
//! sent twice; one that fails is sent again by the next round after
//! [`crate::repair::RESEND_MS`].

use super::service::{addresses, sign};
use crate::{index::Command, raft::Replica, repair::Dispatch};
use sds_core::wire::{Hop, MAX_COPY};
use sds_net::Host;
use std::{
	collections::HashSet,
	sync::{Arc, Mutex},
	time::Duration,
};
use stratos_primitives::{meta::SignedUploadAuth, TaskId};
use tokio::sync::mpsc;

/// Most copy orders sent at once by one meta node (each source also copies one at a time).
const PARALLEL: usize = 8;

/// Time a batch may take: a minute plus 4 MiB/s.
fn batch_timeout(bytes: u64) -> Duration {
	Duration::from_secs(60 + bytes / (4 << 20))
}

/// Sends the copy orders that arrive on `orders` until the channel closes.
pub async fn dispatch_loop(
	host: Host,
	replica: Replica,
	mut orders: mpsc::UnboundedReceiver<Vec<Dispatch>>,
) {
	let running: Arc<Mutex<HashSet<TaskId>>> = Arc::default();
	let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
	while let Some(batch) = orders.recv().await {
		for d in batch {
			if !running.lock().expect("lock").insert(d.auth.task) {
				continue;
			}
			let (host, replica, running, slots) =
				(host.clone(), replica.clone(), running.clone(), slots.clone());
			tokio::spawn(async move {
				let task = d.auth.task;
				if let Ok(_slot) = slots.acquire().await {
					send(&host, &replica, d).await;
				}
				running.lock().expect("lock").remove(&task);
			});
		}
	}
}

async fn send(host: &Host, replica: &Replica, d: Dispatch) {
	let target = d.auth.holders[0];
	let addrs = replica.sm.read(|idx, _| addresses(idx, &[d.source, target]));
	let hop = |node, i: usize| Hop { node, addrs: addrs.get(i).cloned().unwrap_or_default() };
	let (source, target_hop) = (hop(d.source, 0), hop(target, 1));
	let auth =
		SignedUploadAuth { signature: sign(host.keypair(), &d.auth.payload()), auth: d.auth };
	let total: u64 = d.slices.iter().map(|(_, l)| l).sum();
	tracing::info!(file = %d.file_id, source = %d.source, %target, slices = d.slices.len(), bytes = total, "copy ordered");
	for batch in d.slices.chunks(MAX_COPY) {
		let bytes = batch.iter().map(|(_, l)| l).sum();
		let acks = match host
			.order_copy(&source, &auth, target_hop.clone(), batch.to_vec(), batch_timeout(bytes))
			.await
		{
			Ok(a) => a,
			Err(e) => {
				tracing::warn!(file = %d.file_id, source = %d.source, %target, error = %e, "copy failed; it is sent again later");
				return;
			},
		};
		let cmd = Command::Copied { owner: d.owner, file_id: d.file_id, target, acks };
		match replica.write(cmd).await {
			Ok((_, Ok(_))) => {},
			Ok((_, Err(e))) => {
				tracing::warn!(file = %d.file_id, %target, error = %e, "copy acknowledgements refused");
				return;
			},
			Err(e) => {
				tracing::warn!(file = %d.file_id, error = %e, "cannot log the copy (leadership lost?)");
				return;
			},
		}
	}
	tracing::info!(file = %d.file_id, %target, bytes = total, "copy acknowledged");
}
