//! `audit-bench`: the traffic audit's throughput on one meta node, with its baseline measured
//! in the same run.
//!
//! * receipts applied through the index (`Command::Receipts` in entries of 4,096: every
//!   check, both signatures batch-verified, counted) per second on one core, against
//!   verifying the same receipts one by one (`SignedReceipt::verify`, the baseline);
//! * building a period's report (per-node bytes, per-client receipt trees, order, chunks)
//!   for the books that produced, and its size in node entries and chunks.
//!
//! `audit-bench [receipts] [nodes] [clients]` (defaults 100,000 receipts, 10,000 nodes,
//! 2,000 clients).

use sp_core::{ed25519, sr25519, Pair};
use std::{
	collections::BTreeMap,
	time::{Duration, Instant},
};
use stratos_meta::{
	audit::{self, AuditTicket, Party},
	index::{ChainNode, ChainView, Command, Index, Response, State},
};
use stratos_primitives::{
	receipt::{SignedReceipt, TaskReceipt},
	NodeId, SliceHash, TaskId,
};

const GENESIS: [u8; 32] = [0x42; 32];
const SLICE: u64 = 16 << 20;
/// The testnet's report chunk size.
const CHUNK_SIZE: usize = 500;

fn arg(i: usize, default: usize) -> usize {
	std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// A distinct key seed: `i` in the first bytes, `fill` in the rest.
fn seed(i: usize, fill: u8) -> [u8; 32] {
	let mut s = [fill; 32];
	s[..8].copy_from_slice(&(i as u64).to_le_bytes());
	s
}

fn per_s(n: usize, d: Duration) -> f64 {
	n as f64 / d.as_secs_f64()
}

fn main() {
	let (receipts, nodes, clients) = (arg(1, 100_000), arg(2, 10_000), arg(3, 2_000));
	println!("audit-bench: {receipts} receipts of 16 MiB slices, {nodes} nodes, {clients} clients");
	let node_keys: Vec<ed25519::Pair> =
		(0..nodes).map(|i| ed25519::Pair::from_seed(&seed(i, 0))).collect();
	let client_keys: Vec<sr25519::Pair> =
		(0..clients).map(|i| sr25519::Pair::from_seed(&seed(i, 1))).collect();

	// Tickets in the books and the receipts that redeem them.
	let t = Instant::now();
	let mut state = State {
		chain: ChainView {
			number: 10,
			ledger_period: 1,
			resource_nodes: node_keys
				.iter()
				.map(|k| ChainNode {
					id: NodeId(k.public().0),
					account: k.public().0,
					region: "eu".into(),
					address: String::new(),
					active: true,
				})
				.collect(),
			..Default::default()
		},
		..Default::default()
	};
	let mut signed = Vec::with_capacity(receipts);
	for i in 0..receipts {
		let node = &node_keys[i % nodes];
		let client = &client_keys[(i / 7) % clients];
		let mut task = [0u8; 32];
		task[..8].copy_from_slice(&(i as u64).to_le_bytes());
		let task = TaskId(task);
		let slice = SliceHash(stratos_primitives::hash(&task.0));
		state.books.issue(
			1,
			task,
			AuditTicket {
				client: client.public().0,
				holder: NodeId(node.public().0),
				slice,
				offset: 0,
				length: SLICE,
				expires_at: 1_000,
			},
		);
		let receipt = TaskReceipt {
			genesis_hash: GENESIS,
			ledger_period: 1,
			task_id: task,
			client: client.public().0,
			node: NodeId(node.public().0),
			slice,
			offset: 0,
			length: SLICE,
		};
		let node_signature = node.sign(&receipt.node_payload()).0;
		let client_signature = client.sign(&receipt.client_payload(&node_signature)).0;
		signed.push(SignedReceipt { receipt, node_signature, client_signature });
	}
	println!("  {receipts} receipts signed in {:.1} s (setup)", t.elapsed().as_secs_f64());

	// Baseline: one by one.
	let t = Instant::now();
	let ok = signed.iter().filter(|r| r.verify(&GENESIS).is_ok()).count();
	let base = t.elapsed();
	assert_eq!(ok, receipts);

	// The audit: entries of 4,096 applied to the index.
	let mut index = Index::from_state(GENESIS, state);
	let t = Instant::now();
	let mut counted = 0u64;
	for (i, batch) in signed.chunks(4096).enumerate() {
		let cmd =
			Command::Receipts { from: Party::Node, receipts: batch.to_vec(), unsigned: vec![] };
		match index.apply(i as u64 + 1, &cmd) {
			Ok(Response::Audited(a)) => {
				assert!(a.refused.is_empty(), "{:?}", a.refused.first());
				counted += a.counted as u64;
			},
			r => panic!("{r:?}"),
		}
	}
	let audited = t.elapsed();
	assert_eq!(counted as usize, receipts);
	println!(
		"  audited (checked, batch-verified, counted): {:.0} receipts/s on one core vs {:.0}/s \
		 verifying one by one ({:.2}x); goal ≥ 10,000/s",
		per_s(receipts, audited),
		per_s(receipts, base),
		base.as_secs_f64() / audited.as_secs_f64()
	);

	// The period's report.
	let mut view = index.state().chain.clone();
	view.number += 1;
	view.ledger_period = 2;
	index.apply(1_000_000, &Command::Chain(view)).unwrap();
	index.apply(1_000_001, &Command::CutOff { period: 1 }).unwrap();
	let t = Instant::now();
	let report = audit::build_report(
		&GENESIS,
		1,
		index.state().books.periods.get(&1),
		&BTreeMap::new(),
		CHUNK_SIZE,
	);
	let built = t.elapsed();
	let entries: usize = report.chunked.chunks.iter().map(|(c, _)| c.len()).sum();
	println!(
		"  report built in {:.2} s: {} node entries, {} client entries, {} chunks of {CHUNK_SIZE}",
		built.as_secs_f64(),
		report.nodes.len(),
		report.clients.len(),
		report.chunked.chunks.len(),
	);
	assert_eq!(entries, report.nodes.len() + report.clients.len());
}
