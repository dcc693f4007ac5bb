//! Scale of Proof-of-Traffic: one ledger period with 10,000 resource nodes, through the real
//! extrinsic flow, in blocks packed the way a block author packs them.
//!
//! The goal (the issue's): with 10,000 resource nodes, every one of them with traffic, a PoT
//! period is ingested and settled within 10 blocks, none of them more than 50% full. Measured
//! (and asserted) with this machine's weights (`crate::weights`) and 3,400-entry chunks: 3
//! blocks ingest the report at ≤ 38.9% of the block's ref time each; the settlement takes a
//! 4th block (2.5%) when the reveal window closes.
//!
//! * Genesis: the `testnet` preset (its three meta nodes, its windows, chunk size and top-N)
//!   plus 10,000 resource nodes registered through the node registry's genesis (the state
//!   `register_resource` leaves: deposit on hold, key owned, node active) and one client with
//!   reserved credit for the whole period's traffic. The dev presets' windows (10/10/10 blocks)
//!   are too short for a 10,000-node report: the stream window would run out and the period
//!   would fail (`StreamTimeout`), which says nothing about weight.
//! * Blocks: each is opened with `Executive::initialize_block` (every pallet's `on_initialize`
//!   and the base block weight, booked as mandatory). Each extrinsic is a signed
//!   `UncheckedExtrinsic` (a dummy signature: the length is what counts); its `DispatchInfo`
//!   (call weight + the transaction extensions' weight) and length go through
//!   `CheckWeight`'s own checks, exactly as `apply_extrinsic` does: what does not fit under the
//!   normal class's limit goes to the next block. After dispatch the unused weight is
//!   reclaimed as `CheckWeight` does. `on_finalize`/`on_idle` are not run (no timestamp
//!   inherent; idle work only fills what is left).
//! * The flow: the report opens in `on_initialize` once period 0 is over; the meta nodes
//!   commit in the next block, reveal in the one after (each phase needs the previous block's
//!   events), then a reporter streams all the chunks. Settlement happens at the last chunk,
//!   or in `on_initialize` once the reveal window is over.
//! * Measured: `frame_system`'s `BlockWeight` of each block (all classes) against
//!   `max_block`, in both dimensions (ref time and proof size: `CheckWeight` enforces both).
//!   The goal is about the whole block, so the share is of `max_block`, not of the normal
//!   class's 75%. "Blocks to ingest and settle" counts the blocks carrying chunks or the
//!   settlement; blocks in which the chain only waits for the reveal window are listed but
//!   carry no PoT load.
//! * Checked: every node's traffic was ingested, the top nodes got exactly the pro-rata
//!   reward `⌊resource part · tᵢ / Σ top⌋`, the next ones carry their traffic, and the issuance
//!   ledger balances, so the test cannot pass without a real settlement.
//!
//! Run it with the figures printed:
//!
//! ```text
//! cargo test -p stratos-runtime --locked pot_10k -- --nocapture
//! ```

use crate::{
	genesis_config_presets as presets, AccountId, Balance, BlockNumber, Nonce, Runtime,
	RuntimeCall, RuntimeOrigin, TxExtension, UncheckedExtrinsic, UNITS,
};
use codec::Encode;
use frame_support::{
	dispatch::{DispatchClass, DispatchResultWithPostInfo, GetDispatchInfo},
	weights::Weight,
};
use pallet_node_registry::{GenesisNode, NodeKind, GIB};
use pallet_pot::PeriodStatus;
use sp_runtime::{
	traits::{Dispatchable, Header as HeaderT},
	transaction_validity::TransactionValidityError,
	MultiAddress, MultiSignature,
};
use stratos_primitives::{
	traffic::{chunk_report, commitment, order_report, ClientTraffic, NodeTraffic},
	NodeId,
};

type System = frame_system::Pallet<Runtime>;
type Pot = pallet_pot::Pallet<Runtime>;
type Files = pallet_file_registry::Pallet<Runtime>;

/// Resource nodes in the period.
const NODES: u32 = 10_000;
/// The goal: blocks to ingest and settle one period …
const GOAL_BLOCKS: usize = 10;
/// … each at most this share of the block's weight.
const GOAL_PERCENT: u64 = 50;
/// The chain whose parameters are measured.
const PRESET: &str = presets::TESTNET_RUNTIME_PRESET;
/// What the client has, and what it pays for the period's credit.
const CLIENT_FUNDS: Balance = 1_000_000 * UNITS;
const CREDIT_PAID: Balance = 200_000 * UNITS;

fn seed(tag: &[u8], i: u32) -> [u8; 32] {
	sp_io::hashing::blake2_256(&[tag, &i.to_le_bytes()[..]].concat())
}

/// The operator account of resource node `i`.
fn node_account(i: u32) -> AccountId {
	AccountId::from(seed(b"pot-10k/account", i))
}

/// The node key of resource node `i`.
fn node_key(i: u32) -> NodeId {
	NodeId(seed(b"pot-10k/node", i))
}

/// Bytes node `i` served in period 0: all different (1 MB to 10 GB), none zero.
fn traffic(i: u32) -> u64 {
	(i as u64 + 1) * 1_000_000
}

/// The client that downloaded all of it.
fn client() -> AccountId {
	AccountId::from(seed(b"pot-10k/client", 0))
}

/// Test externalities with the genesis of [`PRESET`] plus `nodes` and `balances` (the
/// preset's lists are extended, not replaced).
fn scale_ext(
	nodes: Vec<GenesisNode<AccountId, Balance>>,
	balances: Vec<(AccountId, Balance)>,
) -> sp_io::TestExternalities {
	crate::tests::preset_ext_with(PRESET, |full| {
		let extend = |list: &mut serde_json::Value, items: Vec<serde_json::Value>| {
			list.as_array_mut().expect("a genesis list").extend(items)
		};
		extend(
			&mut full["nodeRegistry"]["nodes"],
			nodes.iter().map(|n| serde_json::to_value(n).expect("a node as JSON")).collect(),
		);
		extend(
			&mut full["balances"]["balances"],
			balances.iter().map(|b| serde_json::to_value(b).expect("a balance as JSON")).collect(),
		);
	})
}

/// The transaction extensions a wallet sends (immortal era, no tip, no metadata hash).
fn tx_extension(nonce: Nonce) -> TxExtension {
	(
		frame_system::CheckNonZeroSender::<Runtime>::new(),
		frame_system::CheckSpecVersion::<Runtime>::new(),
		frame_system::CheckTxVersion::<Runtime>::new(),
		frame_system::CheckGenesis::<Runtime>::new(),
		frame_system::CheckEra::<Runtime>::from(sp_runtime::generic::Era::Immortal),
		frame_system::CheckNonce::<Runtime>::from(nonce),
		frame_system::CheckWeight::<Runtime>::new(),
		pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(0),
		frame_metadata_hash_extension::CheckMetadataHash::<Runtime>::new(false),
	)
}

fn period_status() -> Option<PeriodStatus> {
	pallet_pot::Periods::<Runtime>::get(0).map(|i| i.status)
}

fn is_chunk(call: &RuntimeCall) -> bool {
	matches!(call, RuntimeCall::Pot(pallet_pot::Call::submit_chunk { .. }))
}

/// An extrinsic in a block: its result, the weight `CheckWeight` booked before dispatch and
/// what stayed booked after the reclaim (both with the base extrinsic weight and the length).
struct Included {
	result: DispatchResultWithPostInfo,
	booked: Weight,
	used: Weight,
	len: usize,
}

/// Applies `call`, signed by `who`, to the open block as `Executive::apply_extrinsic` does
/// for weight: `CheckWeight` validates and books it (`Err` when it does not fit), the call is
/// dispatched, the unused weight is reclaimed.
fn try_include(who: &AccountId, call: &RuntimeCall) -> Result<Included, TransactionValidityError> {
	let xt = UncheckedExtrinsic::new_signed(
		call.clone(),
		MultiAddress::Id(who.clone()),
		MultiSignature::Sr25519(sp_core::sr25519::Signature::from_raw([0; 64])),
		tx_extension(System::account_nonce(who)),
	);
	let len = xt.encoded_size();
	let info = xt.get_dispatch_info();
	let before = *System::block_weight().get(info.class);
	let (_, next_len) = frame_system::CheckWeight::<Runtime>::do_validate(&info, len)?;
	frame_system::CheckWeight::<Runtime>::do_prepare(&info, len, next_len)?;
	let booked = System::block_weight().get(info.class).saturating_sub(before);
	System::inc_account_nonce(who);
	let result = call.clone().dispatch(RuntimeOrigin::signed(who.clone()));
	let post = match &result {
		Ok(post) => *post,
		Err(e) => e.post_info,
	};
	System::reclaim_weight(&info, &post).expect("reclaiming weight does not fail");
	System::note_applied_extrinsic(&result, info);
	let used = System::block_weight().get(info.class).saturating_sub(before);
	Ok(Included { result, booked, used, len })
}

/// One sealed block.
struct BlockLoad {
	number: BlockNumber,
	/// What the flow was doing: open, commit, reveal, chunks, wait.
	phase: &'static str,
	extrinsics: u32,
	chunks: u32,
	/// Period 0 settled in this block (at a chunk or in `on_initialize`).
	settles: bool,
	/// All classes: what the block weighs.
	total: Weight,
	/// The normal class (what `CheckWeight` limits for these extrinsics).
	normal: Weight,
}

/// Builds blocks the way an author does: initialize, then extrinsics in order while they fit;
/// one that does not fit seals the block and opens the next.
struct Author {
	loads: Vec<BlockLoad>,
	phase: &'static str,
	extrinsics: u32,
	chunks: u32,
	settled: bool,
}

impl Author {
	fn new() -> Self {
		Self { loads: Vec::new(), phase: "", extrinsics: 0, chunks: 0, settled: false }
	}

	/// Opens the next block through the executive (every `on_initialize`, base weight).
	fn open(&mut self, phase: &'static str) {
		let n = System::block_number() + 1;
		let header = <crate::Header as HeaderT>::new(
			n,
			Default::default(),
			Default::default(),
			System::block_hash(n - 1),
			Default::default(),
		);
		let _ = crate::Executive::initialize_block(&header);
		self.phase = phase;
		self.extrinsics = 0;
		self.chunks = 0;
	}

	fn seal(&mut self) {
		let weight = System::block_weight();
		let status = period_status();
		if let Some(PeriodStatus::Failed(reason)) = status {
			panic!("pot-10k: period 0 failed in block {}: {reason:?}", System::block_number());
		}
		let settled = status == Some(PeriodStatus::Settled);
		self.loads.push(BlockLoad {
			number: System::block_number(),
			phase: self.phase,
			extrinsics: self.extrinsics,
			chunks: self.chunks,
			settles: settled && !self.settled,
			total: weight.total(),
			normal: *weight.get(DispatchClass::Normal),
		});
		self.settled = settled;
	}

	fn next_block(&mut self, phase: &'static str) {
		self.seal();
		self.open(phase);
	}

	fn include(&mut self, who: &AccountId, call: &RuntimeCall) -> Included {
		loop {
			match try_include(who, call) {
				Ok(included) => {
					self.extrinsics += 1;
					if is_chunk(call) {
						self.chunks += 1;
					}
					return included;
				},
				Err(e) => {
					assert!(
						self.extrinsics > 0,
						"pot-10k: a {} extrinsic does not fit in an empty block: {e:?}",
						self.phase
					);
					self.next_block(self.phase);
				},
			}
		}
	}
}

fn percent(part: u64, whole: u64) -> f64 {
	part as f64 * 100.0 / whole as f64
}

fn ms(w: Weight) -> f64 {
	w.ref_time() as f64 / 1e9
}

fn kib(w: Weight) -> f64 {
	w.proof_size() as f64 / 1024.0
}

#[test]
fn pot_10k_resource_nodes_ingest_in_ten_half_full_blocks_and_settle() {
	let mut nodes = Vec::with_capacity(NODES as usize);
	let mut balances = Vec::with_capacity(NODES as usize + 1);
	for i in 0..NODES {
		let address = "/ip4/10.0.0.1/tcp/7400";
		let node = presets::genesis_node(
			node_account(i),
			NodeKind::Resource,
			node_key(i),
			address,
			GIB,
			"eu",
		);
		balances.push((node_account(i), node.deposit + UNITS));
		nodes.push(node);
	}
	balances.push((client(), CLIENT_FUNDS));

	scale_ext(nodes, balances).execute_with(|| {
		let signed = |who: &AccountId| RuntimeOrigin::signed(who.clone());
		let max = crate::configs::RuntimeBlockWeights::get().max_block;

		// The 10,000 nodes are registered and active, each under its own key.
		for i in 0..NODES {
			assert_eq!(
				pallet_node_registry::NodeOwners::<Runtime>::get(node_key(i)),
				Some(node_account(i))
			);
		}
		let resource = pallet_node_registry::Nodes::<Runtime>::iter_values()
			.filter(|n| n.kind == NodeKind::Resource)
			.count();
		assert!(resource >= NODES as usize, "{resource} resource nodes registered");

		// The client pays for, and reserves, the credit of the whole period's traffic.
		let total: u64 = (0..NODES).map(traffic).sum();
		let client = client();
		Files::buy_credit(signed(&client), CREDIT_PAID, total as u128).expect("buys credit");
		Files::reserve_credit(signed(&client), total as u128).expect("reserves it");

		// Period 0 is over at its last block: the next block opens its report.
		let params = pallet_pot::Params::<Runtime>::get();
		System::set_block_number(params.period_length - 1);
		let mut author = Author::new();
		author.open("open");
		let report = pallet_pot::Reports::<Runtime>::get(0).expect("the report of period 0 opened");
		let frozen = pallet_pot::OpenReportParams::<Runtime>::get().expect("its parameters");

		// What every honest meta node computes: all 10,000 nodes, then the client.
		let key: [u8; 32] = *client.as_ref();
		let entries = order_report(
			(0..NODES).map(|i| (NodeTraffic { node: node_key(i), bytes: traffic(i) }, 0)),
			[ClientTraffic { client: key, bytes: total, receipts_root: [1; 32] }],
		);
		assert_eq!(entries.len(), NODES as usize + 1, "every node has traffic");
		let chunked = chunk_report(&Pot::genesis_hash(), 0, &entries, frozen.chunk_size as usize);
		let salt = [7; 32];

		// Commit (the block after the report opened), reveal (the block after the commits).
		author.next_block("commit");
		for m in report.electorate.iter() {
			let c = commitment(&chunked.digest, &salt, &Pot::reporter_key(m));
			let call = RuntimeCall::Pot(pallet_pot::Call::commit { period: 0, commitment: c });
			author.include(m, &call).result.expect("commit");
		}
		author.next_block("reveal");
		for m in report.electorate.iter() {
			let call = RuntimeCall::Pot(pallet_pot::Call::reveal {
				period: 0,
				digest: chunked.digest,
				salt,
			});
			author.include(m, &call).result.expect("reveal");
		}
		let accepted = pallet_pot::Reports::<Runtime>::get(0).and_then(|r| r.stream);
		assert_eq!(accepted.map(|s| s.digest), Some(chunked.digest), "the quorum accepted");

		// Stream every chunk (the reporter sends them all; the author packs them).
		author.next_block("chunks");
		let first_ingest = System::block_number();
		let streamer = report.electorate[0].clone();
		let mut first_chunk = None;
		let mut last_chunk = None;
		for (chunk, next) in &chunked.chunks {
			let call = RuntimeCall::Pot(pallet_pot::Call::submit_chunk {
				period: 0,
				entries: chunk.clone().try_into().expect("a chunk fits MaxChunk"),
				next: *next,
			});
			let included = author.include(&streamer, &call);
			included.result.expect("chunk applied");
			let figures = (chunk.len(), included.booked, included.used, included.len);
			if first_chunk.is_none() {
				first_chunk = Some(figures);
			}
			last_chunk = Some(figures);
		}
		// A report streamed before its reveal window closes settles in `on_initialize` then.
		let mut waited = 0;
		while period_status() != Some(PeriodStatus::Settled) {
			author.next_block("wait");
			waited += 1;
			assert!(waited <= frozen.reveal_window + frozen.stream_window, "never settled");
		}
		author.seal();

		// The figures.
		let loads = &author.loads;
		let settle_block =
			loads.iter().find(|l| l.settles).map(|l| l.number).expect("a block settled");
		let work: Vec<&BlockLoad> = loads
			.iter()
			.filter(|l| l.number >= first_ingest && (l.chunks > 0 || l.settles))
			.collect();
		let span = settle_block - first_ingest + 1;
		println!(
			"pot-10k: {NODES} resource nodes, {} report entries in {} chunks of at most {} \
			 (top {}, windows commit/reveal/stream {}/{}/{} blocks, preset {PRESET})",
			entries.len(),
			chunked.chunks.len(),
			frozen.chunk_size,
			frozen.top_nodes,
			params.commit_window,
			frozen.reveal_window,
			frozen.stream_window,
		);
		println!(
			"pot-10k: max block {:.1} ms ref time, {:.0} KiB proof; normal class at most {:.1} \
			 ms, {:.0} KiB",
			ms(max),
			kib(max),
			ms(crate::configs::RuntimeBlockWeights::get()
				.get(DispatchClass::Normal)
				.max_total
				.unwrap_or(max)),
			kib(crate::configs::RuntimeBlockWeights::get()
				.get(DispatchClass::Normal)
				.max_total
				.unwrap_or(max)),
		);
		for (what, figures) in [("first", first_chunk), ("last", last_chunk)] {
			let (n, booked, used, len) = figures.expect("chunks were sent");
			println!(
				"pot-10k: {what} chunk ({n} entries, {len} bytes) books {:.1} ms / {:.0} KiB \
				 before dispatch, keeps {:.1} ms / {:.0} KiB",
				ms(booked),
				kib(booked),
				ms(used),
				kib(used),
			);
		}
		for l in loads {
			println!(
				"pot-10k: block {} [{}{}]: {} extrinsics ({} chunks), ref time {:.1}%, proof \
				 {:.1}% of the block (normal class {:.1} ms, {:.0} KiB)",
				l.number,
				l.phase,
				if l.settles { ", settles" } else { "" },
				l.extrinsics,
				l.chunks,
				percent(l.total.ref_time(), max.ref_time()),
				percent(l.total.proof_size(), max.proof_size()),
				ms(l.normal),
				kib(l.normal),
			);
		}
		let max_ref = loads.iter().map(|l| l.total.ref_time()).max().unwrap_or(0);
		let max_proof = loads.iter().map(|l| l.total.proof_size()).max().unwrap_or(0);
		println!(
			"pot-10k: ingest and settle: {} blocks carrying chunks or the settlement; {span} \
			 blocks from the first chunk to the settlement (block {settle_block})",
			work.len(),
		);
		println!(
			"pot-10k: max share of block weight: ref time {:.1}%, proof size {:.1}% (goal: \
			 ≤ {GOAL_BLOCKS} blocks, ≤ {GOAL_PERCENT}% each)",
			percent(max_ref, max.ref_time()),
			percent(max_proof, max.proof_size()),
		);

		// The settlement is the right one.
		let info = pallet_pot::Periods::<Runtime>::get(0).expect("period 0");
		assert_eq!(info.status, PeriodStatus::Settled);
		assert_eq!(info.served_bytes, total as u128, "every node's traffic was ingested");
		assert_eq!(info.charged_bytes, total as u128, "the client paid for all of it");
		for i in 0..NODES {
			let rolled = pallet_pot::Rolled::<Runtime>::get(node_key(i)).expect("node listed");
			assert_eq!((rolled.period, rolled.bytes), (0, traffic(i)), "node {i}");
		}
		let top = frozen.top_nodes;
		let top_traffic: u128 = (NODES - top..NODES).map(|i| traffic(i) as u128).sum();
		assert_eq!(info.rewarded_bytes, top_traffic, "the top nodes' traffic is rewarded");
		let shared = info.issuance - info.resource_carried_in;
		let resource_part =
			info.issuance - params.meta_share * shared - params.validator_share * shared;
		assert!(resource_part > 0, "period 0 issues something");
		assert!(
			params.wash_cap * info.rewarded_value >= resource_part,
			"the wash cap does not bind: the rewards are plain pro rata"
		);
		let reward = |i: u32| Pot::rewards_view(&node_account(i)).pending;
		for i in [NODES - 1, NODES - top / 2, NODES - top] {
			let expected = resource_part * traffic(i) as u128 / top_traffic;
			assert_eq!(reward(i), expected, "node {i}: resource part × traffic / Σ top");
		}
		let paid: u128 = (NODES - top..NODES).map(reward).sum();
		assert_eq!(paid, info.resource_paid);
		assert!(resource_part - paid < top as u128, "only rounding is left over");
		// The next node is not paid and carries its traffic; so do all below it.
		let next = NODES - top - 1;
		assert_eq!(reward(next), 0);
		let rolled = pallet_pot::Rolled::<Runtime>::get(node_key(next)).expect("listed");
		assert_eq!(rolled.acc, traffic(next) as u128);
		assert_eq!(pallet_pot::RolledCount::<Runtime>::get(), NODES - top);
		// Nothing created or lost: what was minted is what was paid.
		let minted = info.resource_paid + info.meta_paid + info.validator_paid;
		assert_eq!(pallet_pot::Minted::<Runtime>::get(), minted);
		assert_eq!(minted + info.carried + info.resource_carried, info.issuance);
		assert_eq!(info.reporters.len(), report.electorate.len(), "every reporter matched");
		Pot::do_try_state().expect("the issuance ledger balances");

		// The goal: the report's chunks and the settlement in at most 10 blocks, none more than
		// half full (ref time: a solo chain has no proof size bound, ADR 0003). The settlement
		// runs in `on_initialize` once the reveal window is over, in a block of its own.
		let carrying = loads.iter().filter(|l| l.chunks > 0 || l.settles).count();
		assert!(
			carrying <= GOAL_BLOCKS,
			"pot-10k: {carrying} blocks carry the report and its settlement, the goal is \
			 {GOAL_BLOCKS}"
		);
		for l in loads {
			assert!(
				u128::from(l.total.ref_time()) * 100
					<= u128::from(max.ref_time()) * u128::from(GOAL_PERCENT),
				"pot-10k: block {} [{}] uses {:.1}% of the block's ref time, the goal is \
				 {GOAL_PERCENT}%",
				l.number,
				l.phase,
				percent(l.total.ref_time(), max.ref_time()),
			);
		}
	});
}
