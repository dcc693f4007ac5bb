//! Benchmarks of Proof-of-Traffic at their worst cases: full meta electorates, chunks of
//! nodes that all carry traffic and enter the top, clients that are all charged, and
//! settlements with the most top nodes, reporters and authors.

use super::*;
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;
use stratos_primitives::{
	receipt::TaskReceipt,
	receipts::ReceiptTree,
	traffic::{chunk_link, commitment, report_end},
	SliceHash, TaskId,
};

const SALT: [u8; 32] = [7; 32];
const KEY_TYPE: sp_runtime::KeyTypeId = sp_runtime::KeyTypeId(*b"potb");
/// Receipts in a disputed entry's tree (proofs 10 levels deep).
const RECEIPTS: u32 = 1_024;

/// Period 0 finished, reported by `reporters`, its rewards maturing far ahead.
fn finished_period<T: Config>(reporters: Vec<T::AccountId>) {
	bench_params::<T>();
	NextPeriod::<T>::put(1);
	Periods::<T>::insert(
		0,
		PeriodInfo {
			issuance: Zero::zero(),
			carried_in: Zero::zero(),
			resource_carried_in: Zero::zero(),
			status: PeriodStatus::Settled,
			digest: None,
			reporters: BoundedVec::truncate_from(reporters),
			resource_paid: Zero::zero(),
			meta_paid: Zero::zero(),
			validator_paid: Zero::zero(),
			carried: Zero::zero(),
			resource_carried: Zero::zero(),
			cancelled: Zero::zero(),
			matures: 1_000,
			served_bytes: 0,
			charged_bytes: 0,
			rewarded_bytes: 0,
			charged_value: 0,
			rewarded_value: 0,
		},
	);
}

/// A client entry of period 0 under the root of `RECEIPTS` receipts.
fn client_entry<T: Config>(key: [u8; 32]) -> ReceiptTree {
	let leaves = (0..RECEIPTS)
		.map(|i| (1_000u64, stratos_primitives::hash(&i.to_le_bytes())))
		.collect::<Vec<_>>();
	let tree = ReceiptTree::new(leaves).expect("fits");
	ClientCharges::<T>::insert(
		0,
		key,
		ClientCharge {
			receipts_root: tree.root(),
			bytes: tree.total(),
			charged: tree.total() as u128,
			reversed: 0,
		},
	);
	tree
}

fn key_of<T: Config>(who: &T::AccountId) -> [u8; 32] {
	Pallet::<T>::reporter_key(who)
}

/// A full electorate of active meta nodes.
fn metas<T: Config>() -> Vec<T::AccountId> {
	let have = T::Nodes::active_meta().len() as u32;
	for i in have..MaxMetaOf::<T>::get() {
		T::Nodes::register_active_meta(&account("meta", i, 0), 2_000_000 + i);
	}
	let mut m = T::Nodes::active_meta();
	m.sort();
	m
}

/// Parameters that let the benchmarks reach every bound.
fn bench_params<T: Config>() {
	let mut p = Params::<T>::get();
	p.period_length = 100u32.into();
	p.commit_window = 10u32.into();
	p.reveal_window = 10u32.into();
	p.stream_window = 10u32.into();
	p.top_nodes = T::MaxTopNodes::get();
	p.chunk_size = T::MaxChunk::get();
	p.maturity = 1;
	Params::<T>::put(p);
}

/// Opens period 0's report (at block 100) with a full electorate; returns the electorate.
fn open_report<T: Config>() -> Vec<T::AccountId> {
	bench_params::<T>();
	let metas = metas::<T>();
	frame_system::Pallet::<T>::set_block_number(100u32.into());
	Pallet::<T>::advance(100u32.into());
	metas
}

/// Commits and reveals `digest` for all of the electorate, so it is accepted.
fn accept<T: Config>(metas: &[T::AccountId], digest: Hash) {
	for m in metas {
		let c = commitment(&digest, &SALT, &key_of::<T>(m));
		Pallet::<T>::commit(RawOrigin::Signed(m.clone()).into(), 0, c).expect("commit");
	}
	for m in metas {
		Pallet::<T>::reveal(RawOrigin::Signed(m.clone()).into(), 0, digest, SALT).expect("reveal");
	}
}

/// `n` node entries for nodes that are registered, active and carry rolled traffic (so every
/// entry reads and writes the most), then `c` client entries with reserved credit.
fn entries<T: Config>(n: u32, c: u32) -> Vec<ReportEntry> {
	let mut out = Vec::new();
	for i in 0..n {
		let who: T::AccountId = account("resource", i, 0);
		T::Nodes::register_active_resource(&who, 3_000_000 + i);
		let node = T::Nodes::node_id(&who).expect("registered");
		// Settled period-u32::MAX entries do not exist: a carried value via an unsettled
		// period's `prev` is read the same way as a settled one.
		Rolled::<T>::insert(node, RolledTraffic { period: u32::MAX, bytes: 0, acc: 0, prev: 1 });
		out.push((node, 1_000_000u64 - i as u64));
	}
	RolledCount::<T>::put(n);
	let mut list: Vec<ReportEntry> = out
		.into_iter()
		.map(|(node, bytes)| ReportEntry::Node(NodeTraffic { node, bytes }))
		.collect();
	for i in 0..c {
		let mut key = [0u8; 32];
		key[..4].copy_from_slice(&i.to_be_bytes());
		key[31] = 1;
		let who = T::ClientAccount::convert(key);
		T::Credit::benchmark_reserve(&who, 1_000_000);
		list.push(ReportEntry::Client(ClientTraffic {
			client: key,
			bytes: 1_000,
			receipts_root: [9; 32],
		}));
	}
	list
}

#[benchmarks]
mod benches {
	use super::*;

	#[benchmark]
	fn commit() {
		let metas = open_report::<T>();
		// The last commit, which also starts the reveal phase.
		for m in &metas[1..] {
			Pallet::<T>::commit(RawOrigin::Signed(m.clone()).into(), 0, [1; 32]).expect("commit");
		}
		let who = metas[0].clone();
		#[extrinsic_call]
		_(RawOrigin::Signed(who), 0, [1; 32]);
		assert!(Reports::<T>::get(0).expect("open").reveal_until.is_some());
	}

	#[benchmark]
	fn reveal() {
		let metas = open_report::<T>();
		let digest = [9u8; 32];
		let other = [8u8; 32];
		// One short of the quorum, the rest differing: the last reveal accepts and records
		// every mismatch.
		let threshold = stratos_primitives::quorum::quorum_threshold(metas.len() as u32) as usize;
		for (i, m) in metas.iter().enumerate() {
			let d = if i < threshold { digest } else { other };
			let c = commitment(&d, &SALT, &key_of::<T>(m));
			Pallet::<T>::commit(RawOrigin::Signed(m.clone()).into(), 0, c).expect("commit");
		}
		for (i, m) in metas.iter().enumerate().skip(1) {
			let d = if i < threshold { digest } else { other };
			Pallet::<T>::reveal(RawOrigin::Signed(m.clone()).into(), 0, d, SALT).expect("reveal");
		}
		let who = metas[0].clone();
		#[extrinsic_call]
		_(RawOrigin::Signed(who), 0, digest, SALT);
		assert!(Reports::<T>::get(0).expect("open").stream.is_some());
	}

	/// A chunk that is not the last: `n` node entries and `c` client entries.
	#[benchmark]
	fn submit_chunk(
		n: Linear<0, { T::MaxChunk::get() / 2 }>,
		c: Linear<0, { T::MaxChunk::get() / 2 }>,
	) {
		let metas = open_report::<T>();
		let list = entries::<T>(n, c);
		let next = [5u8; 32];
		let digest = chunk_link(&list, &next);
		accept::<T>(&metas, digest);
		let chunk: BoundedVec<ReportEntry, T::MaxChunk> = list.try_into().expect("within bound");
		#[extrinsic_call]
		_(RawOrigin::Signed(metas[0].clone()), 0, chunk, next);
		let report = Reports::<T>::get(0).expect("still streaming");
		assert_eq!(report.stream.expect("accepted").expected, next);
	}

	/// The last chunk's settlement alone: `t` top nodes, `m` matching reporters and `a`
	/// authors rewarded (the chunk itself is empty).
	#[benchmark]
	fn settle(
		t: Linear<1, { T::MaxTopNodes::get() }>,
		m: Linear<1, { MaxMetaOf::<T>::get() }>,
		a: Linear<1, { T::MaxAuthors::get() }>,
	) {
		let all = open_report::<T>();
		for i in 0..a {
			Authors::<T>::mutate(0, |l| l.try_push((account("author", i, 0), 3)).expect("bound"));
		}
		let end = report_end(&Pallet::<T>::genesis_hash(), 0);
		let digest = chunk_link(&[], &end);
		let reporters = &all[..m as usize];
		// The electorate is everyone; `m` of them reveal (at least the quorum is needed, so
		// the others are counted as matching too when m is below it).
		accept::<T>(&all, digest);
		let mut report = Reports::<T>::get(0).expect("open");
		report.reveals.truncate(reporters.len());
		let stream = report.stream.as_mut().expect("accepted");
		for i in 0..t {
			let who: T::AccountId = account("top", i, 0);
			stream.top.try_push((who, 1_000 + i as u128)).expect("bound");
		}
		stream.charged = u128::MAX / 4;
		OpenChargedValue::<T>::put(u128::MAX / 4);
		// The reveal window is over: the last chunk settles at once.
		report.reveal_until = Some(frame_system::Pallet::<T>::block_number());
		Reports::<T>::insert(0, report);
		let chunk: BoundedVec<ReportEntry, T::MaxChunk> = BoundedVec::new();
		#[extrinsic_call]
		submit_chunk(RawOrigin::Signed(all[0].clone()), 0, chunk, end);
		assert_eq!(Periods::<T>::get(0).expect("period").status, PeriodStatus::Settled);
	}

	#[benchmark]
	fn claim_rewards() {
		let who: T::AccountId = whitelisted_caller();
		let amount = T::Currency::minimum_balance().saturating_mul(1_000u32.into());
		T::Currency::mint_into(&Pallet::<T>::pot_account(), amount).expect("mint");
		Minted::<T>::mutate(|x| *x = x.saturating_add(amount));
		Unclaimed::<T>::put(amount);
		let mut ledger = RewardLedger::<BalanceOf<T>>::default();
		for p in 0..=MAX_MATURITY {
			ledger.pending.try_push((p, amount / (MAX_MATURITY + 1).into())).expect("bound");
		}
		let rest = amount
			.saturating_sub(ledger.pending.iter().fold(Zero::zero(), |s: BalanceOf<T>, x| s + x.1));
		ledger.matured = rest;
		Rewards::<T>::insert(&who, ledger);
		frame_system::Pallet::<T>::set_block_number(BlockNumberFor::<T>::from(u32::MAX / 2));
		// The heavier path: half of the reward pays a debt (burned) first.
		T::Nodes::benchmark_set_debt(&who, amount / 2u32.into());
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));
		assert!(Rewards::<T>::get(&who).pending.is_empty());
		assert!(Burned::<T>::get() >= amount / 2u32.into(), "the debt was paid");
	}

	#[benchmark]
	fn set_params() {
		let p = Params::<T>::get();
		#[extrinsic_call]
		_(RawOrigin::Root, p);
	}

	#[benchmark]
	fn advance_idle() {
		bench_params::<T>();
		#[block]
		{
			Pallet::<T>::advance(1u32.into());
		}
	}

	#[benchmark]
	fn advance_open(m: Linear<1, { MaxMetaOf::<T>::get() }>) {
		bench_params::<T>();
		let have = T::Nodes::active_meta().len() as u32;
		for i in have..m {
			T::Nodes::register_active_meta(&account("meta", i, 0), 2_000_000 + i);
		}
		#[block]
		{
			Pallet::<T>::advance(100u32.into());
		}
		assert!(Reports::<T>::get(0).is_some());
	}

	/// A report failing for lack of quorum, with an electorate of `m` that all committed.
	#[benchmark]
	fn advance_fail(m: Linear<1, { MaxMetaOf::<T>::get() }>) {
		bench_params::<T>();
		let have = T::Nodes::active_meta().len() as u32;
		for i in have..m {
			T::Nodes::register_active_meta(&account("meta", i, 0), 2_000_000 + i);
		}
		frame_system::Pallet::<T>::set_block_number(100u32.into());
		Pallet::<T>::advance(100u32.into());
		let metas = Reports::<T>::get(0).expect("open").electorate;
		for who in &metas {
			Pallet::<T>::commit(RawOrigin::Signed(who.clone()).into(), 0, [1; 32]).expect("commit");
		}
		#[block]
		{
			Pallet::<T>::advance(1_000u32.into());
		}
		assert!(Periods::<T>::get(0).is_some_and(|i| matches!(i.status, PeriodStatus::Failed(_))));
	}

	#[benchmark]
	fn dispute() {
		finished_period::<T>(Vec::new());
		let key = [7u8; 32];
		let tree = client_entry::<T>(key);
		let who = T::ClientAccount::convert(key);
		let (leaf, proof) = tree.proof(RECEIPTS as u64 / 2 + 1).expect("a leaf");
		#[extrinsic_call]
		_(RawOrigin::Signed(who), 0, key, DisputeClaim::NotCountersigned { leaf, proof });
		assert!(Disputes::<T>::contains_key((0, key, leaf.digest)));
	}

	#[benchmark]
	fn answer_dispute() {
		finished_period::<T>(Vec::new());
		let client = sp_io::crypto::sr25519_generate(KEY_TYPE, None);
		let node = sp_io::crypto::ed25519_generate(KEY_TYPE, None);
		let receipt = TaskReceipt {
			genesis_hash: Pallet::<T>::genesis_hash(),
			ledger_period: 0,
			task_id: TaskId([1; 32]),
			client: client.0,
			node: NodeId(node.0),
			slice: SliceHash([2; 32]),
			offset: 0,
			length: 1 << 20,
		};
		let node_signature =
			sp_io::crypto::ed25519_sign(KEY_TYPE, &node, &receipt.node_payload()).expect("key").0;
		let client_signature = sp_io::crypto::sr25519_sign(
			KEY_TYPE,
			&client,
			&receipt.client_payload(&node_signature),
		)
		.expect("key")
		.0;
		let signed = SignedReceipt { receipt, node_signature, client_signature };
		let digest = receipt_digest(&receipt, &node_signature);
		client_entry::<T>(client.0);
		Disputes::<T>::insert(
			(0, client.0, digest),
			OpenDispute { length: 1 << 20, answer_by: 1_000u32.into() },
		);
		let caller: T::AccountId = whitelisted_caller();
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), 0, signed);
		assert!(!Disputes::<T>::contains_key((0, client.0, digest)));
	}

	#[benchmark]
	fn resolve_dispute(m: Linear<1, { MaxMetaOf::<T>::get() }>) {
		let reporters = metas::<T>().into_iter().take(m as usize).collect::<Vec<_>>();
		finished_period::<T>(reporters);
		Params::<T>::mutate(|p| p.dispute_slash = T::Currency::minimum_balance());
		let key = [7u8; 32];
		let tree = client_entry::<T>(key);
		let digest = tree.leaves()[0].1;
		Disputes::<T>::insert(
			(0, key, digest),
			OpenDispute { length: 1_000, answer_by: Zero::zero() },
		);
		let caller: T::AccountId = whitelisted_caller();
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), 0, key, digest);
		assert!(!Disputes::<T>::contains_key((0, key, digest)));
	}

	#[benchmark]
	fn cancel_period(p: Linear<1, MAX_PAYEES>) {
		finished_period::<T>(Vec::new());
		let each = T::Currency::minimum_balance().saturating_mul(10u32.into());
		let total = each.saturating_mul(p.into());
		T::Currency::mint_into(&Pallet::<T>::pot_account(), total).expect("mint");
		Minted::<T>::mutate(|x| *x = x.saturating_add(total));
		Unclaimed::<T>::mutate(|u| *u = u.saturating_add(total));
		let mut payees = Vec::new();
		for i in 0..p {
			let who: T::AccountId = account("payee", i, 0);
			let mut ledger = RewardLedger::<BalanceOf<T>>::default();
			ledger.pending.try_push((1_000, each)).expect("bound");
			Rewards::<T>::insert(&who, ledger);
			payees.push((who, each));
		}
		Payees::<T>::insert(0, BoundedVec::truncate_from(payees));
		#[extrinsic_call]
		_(RawOrigin::Root, 0);
		assert!(Payees::<T>::get(0).is_none());
	}

	#[benchmark]
	fn prune_rolled() {
		finished_period::<T>(Vec::new());
		let node = NodeId([9; 32]);
		Rolled::<T>::insert(node, RolledTraffic { period: 0, bytes: 5, acc: 0, prev: 0 });
		let caller: T::AccountId = whitelisted_caller();
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), node);
		assert!(Rolled::<T>::get(node).is_none());
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
