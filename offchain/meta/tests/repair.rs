//! Repair through the replicated log, deterministically: a dead holder's files get copy
//! orders, the target's acknowledgements are checked by every replica, the new holder set is
//! fixed for the vote, and the index follows the chain's `HoldersChanged`; a target lost
//! mid-repair is replaced, a new leader resends rather than repeats, the budget bounds the
//! bytes under way, and with too few healthy nodes nothing is ordered.

mod common;
use common::*;
use std::collections::BTreeSet;
use stratos_meta::repair::{Dispatch, RESEND_MS};

const BIG: u64 = u64::MAX;

fn account_of(w: &World, id: &NodeId) -> [u8; 32] {
	w.idx.state().chain.resource_nodes.iter().find(|n| n.id == *id).unwrap().account
}

/// Heartbeats from every node except `silent`, at `now_ms`.
fn beat_all_but(w: &mut World, silent: &[NodeId], now_ms: u64) {
	for i in 0..w.nodes.len() {
		if !silent.contains(&nid(&w.nodes[i])) {
			w.beat(i, now_ms);
		}
	}
}

fn round(w: &mut World, now_ms: u64, budget: u64) -> Vec<Dispatch> {
	match w.apply(Command::Repair { now_ms, budget, issuer: w.meta_key }).unwrap() {
		Response::Repair(d) => d,
		r => panic!("{r:?}"),
	}
}

/// The target's signed acknowledgements of `slices`.
fn copy_acks(
	w: &World,
	d: &Dispatch,
	signer: &NodeId,
	slices: &[(SliceHash, u64)],
) -> Vec<SignedStoreAck> {
	slices
		.iter()
		.map(|(s, len)| {
			let ack = StoreAck {
				genesis_hash: G,
				owner: d.owner,
				slice: *s,
				length: *len,
				node: d.auth.holders[0],
			};
			SignedStoreAck { ack, signature: w.key_of(signer).sign(&ack.payload()).0 }
		})
		.collect()
}

fn recorded(w: &mut World, path: &str, size: u64, seed: u8) -> FileRecord {
	let rec = w.upload(path, size, seed);
	let owner = w.owner_acct();
	w.apply(Command::Recorded { owner, file_id: rec.file_id, block: 11 }).unwrap();
	w.idx.file(&owner, &rec.file_id).unwrap().clone()
}

#[test]
fn a_dead_holders_file_is_copied_acknowledged_voted_and_the_index_follows_the_chain() {
	let mut w = World::new(5);
	let owner = w.owner_acct();
	let rec = recorded(&mut w, "/a.bin", 20 * MIB, 1);
	let dead = rec.holders[0];
	// Nothing to do while every holder is healthy.
	assert!(round(&mut w, 20_000, BIG).is_empty());

	// The holder goes silent past the health timeout.
	beat_all_but(&mut w, &[dead], 40_000);
	let orders = round(&mut w, 40_000, BIG);
	assert_eq!(orders.len(), 1, "{orders:?}");
	let d = &orders[0];
	let target = d.auth.holders[0];
	assert!(rec.holders[1..].contains(&d.source), "a healthy holder sends");
	assert!(!rec.holders.contains(&target) && target != dead, "to a new node");
	assert_eq!(d.slices, slices_of(20 * MIB, 1), "every slice, with its length");
	assert_eq!((d.auth.owner, d.auth.issuer), (owner, w.meta_key));
	// The target keeps the slices pending under the copy's task; nobody else learns it.
	assert_eq!(w.idx.upload_fate(&d.auth.task, &target), UploadFate::Pending);
	assert_eq!(w.idx.upload_fate(&d.auth.task, &d.source), UploadFate::Unknown);

	// The next round neither repeats nor resends it while it is fresh.
	beat_all_but(&mut w, &[dead], 45_000);
	assert!(round(&mut w, 45_000, BIG).is_empty());
	// Unconfirmed for the resend interval (a leader that took over does not know whether it
	// was sent): sent again, same task, same target, from the other healthy holder (the
	// first may have lost its copy).
	beat_all_but(&mut w, &[dead], 40_000 + RESEND_MS);
	let again = round(&mut w, 40_000 + RESEND_MS, BIG);
	assert_eq!(again.len(), 1);
	assert_eq!((again[0].auth.task, again[0].auth.holders[0]), (d.auth.task, target));
	assert!(again[0].source != d.source && rec.holders[1..].contains(&again[0].source));

	// Forged acknowledgements (signed by another node, or for another file's slice) are
	// refused and change nothing.
	let before = w.idx.state().clone();
	let forged = copy_acks(&w, d, &d.source, &d.slices);
	assert!(matches!(
		w.apply(Command::Copied { owner, file_id: rec.file_id, target, acks: forged }),
		Err(Error::BadAck(_))
	));
	let alien = copy_acks(&w, d, &target, &slices_of(MIB, 99));
	assert!(matches!(
		w.apply(Command::Copied { owner, file_id: rec.file_id, target, acks: alien }),
		Err(Error::BadAck(_))
	));
	let stranger = w.nodes.iter().map(nid).find(|n| *n != target && !rec.holders.contains(n));
	let stranger = stranger.unwrap();
	let acks = copy_acks(&w, d, &target, &d.slices);
	assert!(w
		.apply(Command::Copied { owner, file_id: rec.file_id, target: stranger, acks })
		.is_err());
	assert_eq!(w.idx.state(), &before);

	// Half the slices, then the rest: the new holder set is fixed for the vote.
	let first = copy_acks(&w, d, &target, &d.slices[..1]);
	w.apply(Command::Copied { owner, file_id: rec.file_id, target, acks: first }).unwrap();
	assert!(w.idx.state().repairs.rehome.is_empty());
	let rest = copy_acks(&w, d, &target, &d.slices[1..]);
	w.apply(Command::Copied { owner, file_id: rec.file_id, target, acks: rest }).unwrap();
	let proposal = w.idx.state().repairs.rehome[&(owner, rec.file_id)].clone();
	assert_eq!(proposal, vec![rec.holders[1], rec.holders[2], target]);
	// Nothing more is ordered while the vote runs.
	beat_all_but(&mut w, &[dead], 80_000);
	assert!(round(&mut w, 80_000, BIG).is_empty());

	// The chain records it: the index follows, the dead holder may drop its slices, the
	// target keeps them (its copy task completed as the file).
	let accounts = proposal.iter().map(|n| account_of(&w, n)).collect();
	let r = w.apply(Command::Rehomed { owner, file_id: rec.file_id, holders: accounts }).unwrap();
	let hashes: Vec<SliceHash> = d.slices.iter().map(|s| s.0).collect();
	let mut sorted = hashes.clone();
	sorted.sort();
	assert_eq!(r, Response::DeleteOrders(vec![(dead, sorted)]));
	let f = w.idx.file(&owner, &rec.file_id).unwrap();
	assert_eq!(f.holders, proposal);
	assert_eq!(w.idx.state().node_slices[&target].len(), 2);
	assert!(!w.idx.state().node_slices.contains_key(&dead));
	let UploadFate::Completed(m) = w.idx.upload_fate(&d.auth.task, &target) else {
		panic!("the target learns the file")
	};
	assert_eq!((m.file_id, m.path.as_str(), &m.slices), (rec.file_id, "/a.bin", &hashes));
	let stats = &w.idx.state().repairs.stats;
	assert_eq!((stats.ordered, stats.copied, stats.rehomed, stats.abandoned), (1, 1, 1, 0));
	assert!(w.idx.state().repairs.copies.is_empty());
	// Healed: no more orders.
	beat_all_but(&mut w, &[dead], 90_000);
	assert!(round(&mut w, 90_000, BIG).is_empty());
}

#[test]
fn a_target_lost_mid_repair_is_replaced_and_every_replica_plans_the_same() {
	let mut w = World::new(6);
	let rec = recorded(&mut w, "/b.bin", 5 * MIB, 2);
	let dead = rec.holders[0];
	beat_all_but(&mut w, &[dead], 40_000);
	let first = round(&mut w, 40_000, BIG);
	let lost = first[0].auth.holders[0];
	// The target dies too before acknowledging: the copy is given up and the file planned
	// again, to another node.
	beat_all_but(&mut w, &[dead, lost], 75_000);
	let second = round(&mut w, 75_000, BIG);
	assert_eq!(second.len(), 1, "{second:?}");
	let target = second[0].auth.holders[0];
	assert!(target != lost && target != dead && !rec.holders.contains(&target));
	assert_ne!(second[0].auth.task, first[0].auth.task);
	assert_eq!(w.idx.state().repairs.stats.abandoned, 1);
	// The lost target's pending slices lapse (nobody confirms its task).
	assert_eq!(w.idx.upload_fate(&first[0].auth.task, &lost), UploadFate::Unknown);

	// Another replica applying the same log reaches the same state and orders.
	let mut other = Index::new(G);
	for (i, cmd, r) in &w.history {
		assert_eq!(&other.apply(*i, cmd), r, "entry {i}");
	}
	assert_eq!(other.state(), w.idx.state());
}

#[test]
fn the_budget_bounds_the_bytes_under_way() {
	let mut w = World::new(6);
	let a = recorded(&mut w, "/a", 20 * MIB, 3);
	let b = recorded(&mut w, "/b", 20 * MIB, 4);
	// Both lose a holder.
	let dead: Vec<NodeId> = vec![a.holders[0], b.holders[0]];
	beat_all_but(&mut w, &dead, 40_000);
	let orders = round(&mut w, 40_000, 16 * MIB);
	assert_eq!(orders.len(), 1, "the first order always goes, the rest wait: {orders:?}");
	assert_eq!(w.idx.state().repairs.stats.deferred, 1);
	// While it is under way the budget is spent.
	beat_all_but(&mut w, &dead, 45_000);
	assert!(round(&mut w, 45_000, 16 * MIB).is_empty());
	// Once acknowledged, the other file's copy goes.
	let d = &orders[0];
	let target = d.auth.holders[0];
	let acks = copy_acks(&w, d, &target, &d.slices);
	w.apply(Command::Copied { owner: d.owner, file_id: d.file_id, target, acks }).unwrap();
	beat_all_but(&mut w, &dead, 50_000);
	let next = round(&mut w, 50_000, 16 * MIB);
	assert_eq!(next.len(), 1);
	assert_ne!(next[0].file_id, d.file_id);
}

#[test]
fn with_too_few_healthy_nodes_nothing_is_ordered_and_the_record_stays() {
	let mut w = World::new(3);
	let owner = w.owner_acct();
	let rec = recorded(&mut w, "/c", MIB, 5);
	beat_all_but(&mut w, &[rec.holders[0]], 40_000);
	assert!(round(&mut w, 40_000, BIG).is_empty());
	let s = &w.idx.state().repairs;
	assert_eq!((s.stats.alerts, s.stats.ordered), (1, 0));
	assert!(s.rehome.is_empty());
	assert_eq!(w.idx.file(&owner, &rec.file_id).unwrap().holders, rec.holders);
	// The node comes back: the alert clears.
	beat_all_but(&mut w, &[], 45_000);
	assert!(round(&mut w, 45_000, BIG).is_empty());
	assert_eq!(w.idx.state().repairs.stats.alerts, 0);
}

#[test]
fn a_holder_that_lost_a_slice_is_replaced_and_is_never_a_source_or_a_ticket_holder() {
	let mut w = World::new(5);
	let owner = w.owner_acct();
	let rec = recorded(&mut w, "/c.bin", 40 * MIB, 3);
	let slices = slices_of(40 * MIB, 3);
	assert!(slices.len() >= 3, "a file of several slices");
	let damaged = rec.holders[1];
	beat_all_but(&mut w, &[], 20_000);
	assert!(round(&mut w, 20_000, BIG).is_empty());

	// Only registered nodes may report, and slices a node was never placed change nothing.
	let stranger = NodeId([0x77; 32]);
	let lost = vec![slices[1].0];
	assert!(matches!(
		w.apply(Command::SlicesLost { node: stranger, slices: lost.clone() }),
		Err(Error::UnknownNode(_))
	));
	let outsider = w.nodes.iter().map(nid).find(|n| !rec.holders.contains(n)).unwrap();
	let before = w.idx.state().clone();
	w.apply(Command::SlicesLost { node: outsider, slices: lost.clone() }).unwrap();
	w.apply(Command::SlicesLost {
		node: damaged,
		slices: slices_of(MIB, 99)[..1].iter().map(|s| s.0).collect(),
	})
	.unwrap();
	assert_eq!(w.idx.state(), &before);

	// The holder lost one slice: it stays a holder on chain, but downloads avoid it at once.
	w.apply(Command::SlicesLost { node: damaged, slices: lost }).unwrap();
	let key = (owner, rec.file_id);
	assert_eq!(w.idx.state().repairs.damaged[&key], [damaged].into());
	assert_eq!(w.idx.file(&owner, &rec.file_id).unwrap().holders, rec.holders);
	let client = w.client.clone();
	for attempt in 0..8 {
		let req = w.signed(
			&client,
			TicketRequest { owner, path: "/c.bin".into(), slices: vec![], avoid: vec![], attempt },
		);
		let r = w.apply(Command::Tickets {
			req,
			reserved: 1 << 40,
			reserve_unlocks_at: 100_000,
			issuer: w.meta_key,
		});
		let Ok(Response::Tickets(t)) = r else { panic!("{r:?}") };
		assert!(t.iter().all(|t| t.holder != damaged && rec.holders.contains(&t.holder)));
	}

	// Repair copies the file to the one node outside its holders, never from the damaged
	// holder, also when a resend picks another source.
	beat_all_but(&mut w, &[], 25_000);
	let orders = round(&mut w, 25_000, BIG);
	assert_eq!(orders.len(), 1, "{orders:?}");
	let d = orders[0].clone();
	let target = d.auth.holders[0];
	assert!(!rec.holders.contains(&target), "to a new node, not back to the damaged one");
	assert!(d.source != damaged && rec.holders.contains(&d.source));
	assert_eq!(d.slices, slices, "the whole file");
	let mut sources = BTreeSet::from([d.source]);
	for k in 1..=3 {
		let now = 25_000 + k * RESEND_MS;
		beat_all_but(&mut w, &[], now);
		let again = round(&mut w, now, BIG);
		assert_eq!(again.len(), 1);
		assert_eq!((again[0].auth.task, again[0].auth.holders[0]), (d.auth.task, target));
		sources.insert(again[0].source);
	}
	assert_eq!(sources.len(), 2, "both intact holders send in turn");
	assert!(!sources.contains(&damaged));

	// Acknowledged: the proposal leaves the damaged holder out; the chain's new holders
	// make it drop the rest of the file, and repair is done.
	let acks = copy_acks(&w, &d, &target, &d.slices);
	w.apply(Command::Copied { owner, file_id: rec.file_id, target, acks }).unwrap();
	let proposal = w.idx.state().repairs.rehome[&key].clone();
	let intact: Vec<NodeId> = rec.holders.iter().filter(|h| **h != damaged).copied().collect();
	assert_eq!(proposal, [intact, vec![target]].concat());
	let accounts = proposal.iter().map(|n| account_of(&w, n)).collect();
	let r = w.apply(Command::Rehomed { owner, file_id: rec.file_id, holders: accounts }).unwrap();
	let mut hashes: Vec<SliceHash> = slices.iter().map(|s| s.0).collect();
	hashes.sort();
	hashes.dedup();
	assert_eq!(r, Response::DeleteOrders(vec![(damaged, hashes)]));
	assert!(w.idx.state().repairs.damaged.is_empty());
	beat_all_but(&mut w, &[], 200_000);
	assert!(round(&mut w, 200_000, BIG).is_empty());
}

#[test]
fn a_snapshot_from_before_lost_slices_were_tracked_still_loads() {
	let mut w = World::new(5);
	let owner = w.owner_acct();
	let rec = recorded(&mut w, "/d.bin", 3 * MIB, 4);
	let state = w.idx.state().clone();
	assert!(state.repairs.damaged.is_empty());
	// The older encoding lacked the (empty) map at the end.
	let mut old = state.encode();
	assert_eq!(old.pop(), Some(0));
	assert_eq!(State::decode_snapshot(&old).unwrap(), state);
	// A current snapshot with damage recorded round-trips.
	w.apply(Command::SlicesLost { node: rec.holders[0], slices: vec![rec.slices[0]] }).unwrap();
	let state = w.idx.state().clone();
	assert!(state.repairs.damaged.contains_key(&(owner, rec.file_id)));
	assert_eq!(State::decode_snapshot(&state.encode()).unwrap(), state);
	assert!(State::decode_snapshot(&old[..old.len() / 2]).is_err());
}
