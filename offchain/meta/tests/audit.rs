//! The traffic audit in the replicated index: receipts from both parties counted once, every
//! forged or out-of-bounds receipt refused with its reason, the cut-off, and reports that
//! every replica builds identically whatever order receipts arrived in.

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use stratos_meta::audit::{self, Party, Refusal};
use stratos_primitives::{
	receipt::{SignedReceipt, TaskReceipt},
	receipts::ReceiptTree,
	traffic::ReportEntry,
};

/// A recorded 48 MiB file (three 16 MiB slices) on five nodes, in ledger period 1.
fn world() -> (World, FileRecord) {
	let mut w = World::new(5);
	let owner = w.owner_acct();
	w.ns(NsOp::Mkdir { path: "/m".into() }).unwrap();
	let rec = w.upload("/m/movie", 48 * MIB, 3);
	w.apply(Command::Recorded { owner, file_id: rec.file_id, block: 11 }).unwrap();
	(w, rec)
}

fn tickets(w: &mut World, client: &sr25519::Pair) -> Vec<meta::DownloadTicket> {
	let owner = w.owner_acct();
	let req = w.signed(
		client,
		TicketRequest { owner, path: "/m/movie".into(), slices: vec![], avoid: vec![], attempt: 0 },
	);
	match w
		.apply(Command::Tickets {
			req,
			reserved: u128::MAX,
			reserve_unlocks_at: 100_000,
			issuer: w.meta_key,
		})
		.unwrap()
	{
		Response::Tickets(t) => t,
		r => panic!("{r:?}"),
	}
}

/// The receipt of serving `[offset, offset + length)` of `t`, signed by `node` and
/// countersigned by `client`.
fn serve(
	t: &meta::DownloadTicket,
	node: &ed25519::Pair,
	client: &sr25519::Pair,
	offset: u64,
	length: u64,
) -> SignedReceipt {
	let receipt = TaskReceipt {
		genesis_hash: t.genesis_hash,
		ledger_period: t.ledger_period,
		task_id: t.task,
		client: t.client,
		node: t.holder,
		slice: t.slice,
		offset,
		length,
	};
	sign(receipt, node, client)
}

fn sign(receipt: TaskReceipt, node: &ed25519::Pair, client: &sr25519::Pair) -> SignedReceipt {
	let node_signature = node.sign(&receipt.node_payload()).0;
	let client_signature = client.sign(&receipt.client_payload(&node_signature)).0;
	SignedReceipt { receipt, node_signature, client_signature }
}

fn audit(idx: &mut Index, log: u64, from: Party, receipts: Vec<SignedReceipt>) -> audit::Audited {
	match idx.apply(log, &Command::Receipts { from, receipts, unsigned: vec![] }).unwrap() {
		Response::Audited(a) => a,
		r => panic!("{r:?}"),
	}
}

#[test]
fn every_replica_builds_the_same_report_whatever_the_arrival_order() {
	let (mut w, _) = world();
	let alice = w.client.clone();
	let bob = sr25519::Pair::from_seed(&[102; 32]);
	let mut all = Vec::new();
	for client in [&alice, &bob] {
		for t in tickets(&mut w, client) {
			let node = *w.key_of(&t.holder);
			// Served in two ranges.
			all.push(serve(&t, &node, client, 0, 6 * MIB));
			all.push(serve(&t, &node, client, 6 * MIB, 10 * MIB));
		}
	}
	assert_eq!(all.len(), 12);
	let start = w.idx.state().clone();
	let carried: BTreeMap<NodeId, u128> = [(nid(&w.nodes[4]), 5 * MIB as u128)].into();

	// Replica A: the nodes' copies in one entry, then the clients' copies.
	let mut a = Index::from_state(G, start.clone());
	let got = audit(&mut a, 1, Party::Node, all.clone());
	assert_eq!((got.counted, got.duplicates, got.refused.len()), (12, 0, 0));
	let got = audit(&mut a, 2, Party::Client, all.clone());
	assert_eq!((got.counted, got.duplicates), (0, 12), "the other party's copy counts once");

	// Replica B: the clients' copies first, reversed and one at a time; then half the
	// nodes' copies.
	let mut b = Index::from_state(G, start);
	for (i, r) in all.iter().rev().enumerate() {
		assert_eq!(audit(&mut b, 10 + i as u64, Party::Client, vec![*r]).counted, 1);
	}
	audit(&mut b, 50, Party::Node, all[..6].to_vec());

	let mut digests = BTreeSet::new();
	for idx in [&mut a, &mut b] {
		let view = ChainView { ledger_period: 2, number: 20, ..idx.state().chain.clone() };
		idx.apply(100, &Command::Chain(view)).unwrap();
		idx.apply(101, &Command::CutOff { period: 1 }).unwrap();
		let book = idx.state().books.periods.get(&1);
		let r = audit::build_report(&G, 1, book, &carried, 2);
		digests.insert(r.chunked.digest);

		// Bytes per node add up to what the clients downloaded.
		let node_bytes: u64 = r.nodes.values().sum();
		let client_bytes: u64 = r.clients.values().map(|c| c.bytes).sum();
		assert_eq!(node_bytes, 2 * 48 * MIB);
		assert_eq!(client_bytes, node_bytes);
		// The carried node is listed although it served nothing; nodes come in rank order.
		let entries: Vec<ReportEntry> =
			r.chunked.chunks.iter().flat_map(|(c, _)| c.clone()).collect();
		let listed: Vec<NodeId> = entries
			.iter()
			.filter_map(|e| match e {
				ReportEntry::Node(n) => Some(n.node),
				_ => None,
			})
			.collect();
		assert!(listed.contains(&nid(&w.nodes[4])));
		// Each client's root is the root of the receipts it kept itself (what `sds receipts`
		// compares with the chain), and the meta nodes serve exactly those receipts.
		for client in [&alice, &bob] {
			let me = client.public().0;
			let kept: Vec<SignedReceipt> =
				all.iter().filter(|r| r.receipt.client == me).copied().collect();
			let own = ReceiptTree::of_receipts(&kept).unwrap();
			assert_eq!(r.clients[&me].receipts_root, own.root());
			assert_eq!(r.clients[&me].bytes, 48 * MIB);
			let served = idx.state().books.receipts_of(&G, 1, &me);
			assert_eq!(ReceiptTree::of_receipts(&served).unwrap().root(), own.root());
		}
	}
	assert_eq!(digests.len(), 1, "both replicas reach the same digest");
}

#[test]
fn forged_replayed_and_out_of_bounds_receipts_are_refused_and_honest_traffic_still_counts() {
	let (mut w, _) = world();
	let client = w.client.clone();
	let t = tickets(&mut w, &client);
	let node = *w.key_of(&t[0].holder);
	let other = *w.nodes.iter().find(|k| nid(k) != t[0].holder).unwrap();
	let honest = serve(&t[0], &node, &client, 0, 8 * MIB);

	let mut forged_node = serve(&t[0], &node, &client, 8 * MIB, MIB);
	forged_node.node_signature = other.sign(&forged_node.receipt.node_payload()).0;
	let mut half_signed = serve(&t[0], &node, &client, 9 * MIB, MIB);
	half_signed.client_signature = [0; 64];
	let cross_chain = sign(TaskReceipt { genesis_hash: [9; 32], ..honest.receipt }, &node, &client);
	let unknown_task = sign(
		TaskReceipt { task_id: stratos_primitives::TaskId([7; 32]), ..honest.receipt },
		&node,
		&client,
	);
	let other_holder = sign(
		TaskReceipt { node: nid(&other), offset: 10 * MIB, length: MIB, ..honest.receipt },
		&other,
		&client,
	);
	// The client (or the node) inflating: more than the ticket's 16 MiB.
	let inflated = serve(&t[1], w.key_of(&t[1].holder), &client, 0, 17 * MIB);
	let wrong_period = sign(
		TaskReceipt { ledger_period: 2, offset: 11 * MIB, length: MIB, ..honest.receipt },
		&node,
		&client,
	);
	let overlapping = serve(&t[0], &node, &client, 4 * MIB, 8 * MIB);
	let batch = vec![
		honest,
		forged_node,
		half_signed,
		cross_chain,
		unknown_task,
		other_holder,
		inflated,
		wrong_period,
		overlapping,
		honest, // replayed
	];
	let got = audit(&mut w.idx, 1_000, Party::Node, batch);
	assert_eq!(got.counted, 1, "the honest receipt counts");
	assert_eq!(got.duplicates, 1, "its replay counts nothing");
	assert_eq!(
		got.refused,
		vec![
			(1, Refusal::BadNodeSignature),
			(2, Refusal::BadClientSignature),
			(3, Refusal::WrongChain),
			(4, Refusal::UnknownTask),
			(5, Refusal::WrongHolder),
			(6, Refusal::OverRange),
			(7, Refusal::WrongPeriod),
			(8, Refusal::Overlap),
		]
	);
	let stats = &w.idx.state().books.periods[&1].stats;
	assert_eq!(stats.counted, 1);
	assert_eq!(stats.bytes, 8 * MIB as u128);
	assert_eq!(stats.refused.get(&(Party::Node, Refusal::WrongHolder)), Some(&1));

	// A node that left the registry: its receipts count for nobody.
	let t2 = t[2];
	let gone = *w.key_of(&t2.holder);
	let mut view = w.idx.state().chain.clone();
	view.resource_nodes.retain(|n| n.id != t2.holder);
	view.number += 1;
	w.apply(Command::Chain(view)).unwrap();
	let r = serve(&t2, &gone, &client, 0, MIB);
	let got = audit(&mut w.idx, 1_001, Party::Client, vec![r]);
	assert_eq!(got.refused, vec![(0, Refusal::UnknownNode)]);

	// Long after the ticket expired: refused as expired.
	w.chain_period(t[1].expires_at + audit::RECEIPT_GRACE_BLOCKS + 1, 1);
	let late = serve(&t[1], w.key_of(&t[1].holder), &client, 0, MIB);
	let got = audit(&mut w.idx, 1_002, Party::Client, vec![late]);
	assert_eq!(got.refused, vec![(0, Refusal::Expired)]);
}

#[test]
fn the_cut_off_closes_a_period_once_and_late_receipts_change_nothing() {
	let (mut w, _) = world();
	let client = w.client.clone();
	let t = tickets(&mut w, &client);
	let first = serve(&t[0], w.key_of(&t[0].holder), &client, 0, 16 * MIB);
	audit(&mut w.idx, 1_000, Party::Node, vec![first]);
	// Period 1 is not over yet: no cut-off.
	assert!(matches!(w.apply(Command::CutOff { period: 1 }), Err(Error::Invalid(_))));
	w.chain_period(40, 2);
	w.apply(Command::CutOff { period: 1 }).unwrap();
	assert!(matches!(w.apply(Command::CutOff { period: 1 }), Err(Error::Invalid(_))));
	let book = w.idx.state().books.periods[&1].clone();
	let before = audit::build_report(&G, 1, Some(&book), &BTreeMap::new(), 16);

	// The other two slices' receipts arrive after the cut-off: late, nothing changes.
	let late: Vec<_> =
		t[1..].iter().map(|x| serve(x, w.key_of(&x.holder), &client, 0, 16 * MIB)).collect();
	let got = audit(&mut w.idx, 1_001, Party::Node, late);
	assert_eq!(got.refused, vec![(0, Refusal::Late), (1, Refusal::Late)]);
	let book = w.idx.state().books.periods[&1].clone();
	assert_eq!(audit::build_report(&G, 1, Some(&book), &BTreeMap::new(), 16), before);
	assert_eq!(before.nodes.values().sum::<u64>(), 16 * MIB);

	// A period without traffic gets the empty report (its digest is the chain's report end).
	let empty = audit::build_report(&G, 7, None, &BTreeMap::new(), 16);
	assert!(empty.chunked.chunks.is_empty());
	assert_eq!(empty.chunked.digest, stratos_primitives::traffic::report_end(&G, 7));

	// Books are kept for KEEP_PERIODS closed periods, then dropped.
	for p in 2..=audit::KEEP_PERIODS + 1 {
		w.chain_period(40 + p, p + 1);
		w.apply(Command::CutOff { period: p }).unwrap();
	}
	assert!(!w.idx.state().books.periods.contains_key(&1));
	assert!(w.idx.state().books.task_period.is_empty());
}

#[test]
fn a_client_that_leaves_receipts_unsigned_gets_no_tickets_until_it_countersigns() {
	let (mut w, _) = world();
	let client = w.client.clone();
	let mut served = Vec::new();
	while served.len() <= audit::MAX_UNSIGNED {
		served.extend(tickets(&mut w, &client));
	}
	// The nodes report what they signed and the client never countersigned.
	let unsigned: Vec<(TaskReceipt, [u8; 64])> = served
		.iter()
		.map(|t| {
			let r = serve(t, w.key_of(&t.holder), &client, 0, 16 * MIB);
			(r.receipt, r.node_signature)
		})
		.collect();
	// Someone else's signature does not count.
	let mut bad = unsigned[0];
	bad.1 = [1; 64];
	let cmd = Command::Receipts { from: Party::Node, receipts: vec![], unsigned: vec![bad] };
	match w.apply(cmd).unwrap() {
		Response::Audited(a) => assert_eq!(a.refused, vec![(0, Refusal::BadNodeSignature)]),
		r => panic!("{r:?}"),
	}
	let cmd = Command::Receipts { from: Party::Node, receipts: vec![], unsigned };
	w.apply(cmd).unwrap();
	let owner = w.owner_acct();
	let req = w.signed(
		&client,
		TicketRequest { owner, path: "/m/movie".into(), slices: vec![], avoid: vec![], attempt: 0 },
	);
	let e = w
		.apply(Command::Tickets {
			req,
			reserved: u128::MAX,
			reserve_unlocks_at: 100_000,
			issuer: w.meta_key,
		})
		.unwrap_err();
	assert!(matches!(e, Error::Unsigned(n) if n as usize == served.len()), "{e}");
	assert!(e.to_string().contains("countersign"), "{e}");
	// The client countersigns (its copies reach the audit): tickets again.
	let signed: Vec<_> =
		served.iter().map(|t| serve(t, w.key_of(&t.holder), &client, 0, 16 * MIB)).collect();
	let got = audit(&mut w.idx, 9_000, Party::Client, signed);
	assert_eq!(got.counted as usize, served.len());
	assert_eq!(w.idx.state().books.unsigned_of(&client.public().0), 0);
	assert_eq!(tickets(&mut w, &client).len(), 3);
}
