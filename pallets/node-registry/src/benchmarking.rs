//! Benchmarks of the node registry, each at its worst case: full meta sets for votes and
//! admissions, debt to pay before holding, signature checks on registration.

use super::*;
use frame_benchmarking::v2::*;
use frame_support::traits::fungible::Mutate;
use frame_system::RawOrigin;
use sp_runtime::traits::One;
use sp_runtime::KeyTypeId;

const KEY_TYPE: KeyTypeId = KeyTypeId(*b"bnch");

/// Gives `who` plenty to hold.
fn fund<T: Config>(who: &T::AccountId) {
	let big = T::MetaDeposit::get()
		.saturating_add(Pallet::<T>::required_deposit(NodeKind::Resource, 1024 * GIB))
		.saturating_mul(100u32.into())
		.saturating_add(T::Currency::minimum_balance().saturating_mul(1000u32.into()));
	T::Currency::set_balance(who, big);
}

fn bench_node_id(seed: u32) -> NodeId {
	NodeId(sp_io::hashing::blake2_256(&(b"stratos/bench-node", seed).encode()))
}

fn bytes(n: u32) -> Vec<u8> {
	alloc::vec![b'a'; n as usize]
}

/// Writes an active node for `who` without a signature (benchmark setup only).
pub(crate) fn insert_active<T: Config>(who: &T::AccountId, kind: NodeKind, seed: u32) {
	fund::<T>(who);
	let capacity = if kind == NodeKind::Resource { GIB } else { 0 };
	let deposit = Pallet::<T>::required_deposit(kind, capacity);
	Pallet::<T>::insert_node(
		who,
		kind,
		bench_node_id(seed),
		BoundedVec::truncate_from(bytes(T::MaxAddressLen::get())),
		capacity,
		BoundedVec::truncate_from(bytes(T::MaxRegionLen::get())),
		deposit,
		NodeStatus::Active,
	)
	.expect("funded");
	if kind == NodeKind::Meta {
		Pallet::<T>::push_active_meta(who).expect("room for meta nodes");
	}
}

/// Fills the active meta set up to `n` members (seeds 1_000_000+).
fn fill_meta<T: Config>(n: u32) -> Vec<T::AccountId> {
	let have = ActiveMeta::<T>::decode_len().unwrap_or(0) as u32;
	for i in have..n {
		insert_active::<T>(&account("meta", i, 0), NodeKind::Meta, 1_000_000 + i);
	}
	ActiveMeta::<T>::get().into_inner()
}

/// A node key in the keystore and its signature over `who`'s registration.
fn signed_key<T: Config>(who: &T::AccountId, tag: &[u8]) -> (NodeId, [u8; 64]) {
	let public = sp_io::crypto::ed25519_generate(KEY_TYPE, None);
	let node_id = NodeId(public.0);
	let payload = registration_payload(tag, &genesis_hash::<T>(), who, KeyNonce::<T>::get(node_id));
	let sig = sp_io::crypto::ed25519_sign(KEY_TYPE, &public, &payload).expect("key in keystore");
	(node_id, sig.0)
}

/// An open `Unreachable` vote on `node`, one aye short of the quorum of `members`; returns
/// the member whose vote reaches it.
fn unreachable_vote<T: Config>(members: &[T::AccountId], node: &T::AccountId) -> T::AccountId {
	let mut vote = VoteOf::<T>::open(members.to_vec(), Zero::zero());
	let threshold = stratos_primitives::quorum::quorum_threshold(members.len() as u32) as usize;
	for m in members.iter().take(threshold - 1) {
		vote.cast(m.clone()).expect("member");
	}
	ReachabilityVotes::<T>::insert(node, Reachability::Unreachable, vote);
	members[threshold - 1].clone()
}

/// Registers `who` as a pending meta node.
fn insert_pending<T: Config>(who: &T::AccountId, endorsed: bool, approved: bool) {
	fund::<T>(who);
	Pallet::<T>::insert_node(
		who,
		NodeKind::Meta,
		bench_node_id(7),
		BoundedVec::truncate_from(bytes(T::MaxAddressLen::get())),
		0,
		BoundedVec::truncate_from(bytes(T::MaxRegionLen::get())),
		T::MetaDeposit::get(),
		NodeStatus::Pending { endorsed, approved },
	)
	.expect("funded");
}

fn admin<T: Config>() -> Result<T::RuntimeOrigin, BenchmarkError> {
	T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)
}

#[benchmarks]
mod benches {
	use super::*;

	#[benchmark]
	fn register_resource() {
		let who: T::AccountId = whitelisted_caller();
		fund::<T>(&who);
		let (node_id, sig) = signed_key::<T>(&who, RESOURCE_REGISTRATION_TAG);
		let deposit = Pallet::<T>::required_deposit(NodeKind::Resource, 1024 * GIB);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(who.clone()),
			node_id,
			bytes(T::MaxAddressLen::get()),
			1024 * GIB,
			bytes(T::MaxRegionLen::get()),
			deposit,
			sig,
		);

		assert!(<Pallet<T> as NodeRegistry<T::AccountId>>::is_active_resource(&who));
	}

	#[benchmark]
	fn register_meta() {
		let who: T::AccountId = whitelisted_caller();
		fund::<T>(&who);
		let (node_id, sig) = signed_key::<T>(&who, META_REGISTRATION_TAG);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(who.clone()),
			node_id,
			bytes(T::MaxAddressLen::get()),
			bytes(T::MaxRegionLen::get()),
			T::MetaDeposit::get(),
			sig,
		);

		assert!(Nodes::<T>::contains_key(&who));
	}

	/// With an open endorsement vote to remove.
	#[benchmark]
	fn cancel_registration() {
		let members = fill_meta::<T>(T::MaxMetaNodes::get());
		let who: T::AccountId = whitelisted_caller();
		insert_pending::<T>(&who, false, true);
		let mut vote = VoteOf::<T>::open(members.clone(), Zero::zero());
		vote.cast(members[0].clone()).expect("member");
		Endorsements::<T>::insert(&who, vote);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(!Nodes::<T>::contains_key(&who));
	}

	/// Every field changed; the capacity grows, so more deposit is held.
	#[benchmark]
	fn update_node() {
		let who: T::AccountId = whitelisted_caller();
		insert_active::<T>(&who, NodeKind::Resource, 1);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(who.clone()),
			Some(bytes(T::MaxAddressLen::get())),
			Some(1024 * GIB),
			Some(bytes(T::MaxRegionLen::get())),
		);

		assert_eq!(Nodes::<T>::get(&who).map(|n| n.capacity), Some(1024 * GIB));
	}

	/// Part of the amount pays debt (a burn), the rest is held.
	#[benchmark]
	fn add_deposit() {
		let who: T::AccountId = whitelisted_caller();
		insert_active::<T>(&who, NodeKind::Resource, 1);
		let deposit = Nodes::<T>::get(&who).expect("inserted").deposit;
		Pallet::<T>::do_slash(&who, deposit.saturating_add(deposit)).expect("registered");

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), deposit.saturating_add(deposit));

		assert!(Debt::<T>::get(&who).is_none());
	}

	/// A meta node leaving a full active set.
	#[benchmark]
	fn unbond() {
		let members = fill_meta::<T>(T::MaxMetaNodes::get());
		let who = members.last().cloned().expect("full set");

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(!Pallet::<T>::is_active_meta(&who));
	}

	#[benchmark]
	fn withdraw() {
		let who: T::AccountId = whitelisted_caller();
		insert_active::<T>(&who, NodeKind::Resource, 1);
		Pallet::<T>::unbond(RawOrigin::Signed(who.clone()).into()).expect("active");
		let later = frame_system::Pallet::<T>::block_number()
			.saturating_add(UnbondingPeriod::<T>::get())
			.saturating_add(One::one());
		frame_system::Pallet::<T>::set_block_number(later);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(!Nodes::<T>::contains_key(&who));
	}

	/// The vote that reaches quorum over a nearly full set and activates an approved
	/// candidate.
	#[benchmark]
	fn endorse_meta() {
		let members = fill_meta::<T>(T::MaxMetaNodes::get() - 1);
		let candidate: T::AccountId = whitelisted_caller();
		insert_pending::<T>(&candidate, false, true);
		let mut vote = VoteOf::<T>::open(members.clone(), Zero::zero());
		let threshold = stratos_primitives::quorum::quorum_threshold(members.len() as u32);
		for m in members.iter().take(threshold as usize - 1) {
			vote.cast(m.clone()).expect("member");
		}
		Endorsements::<T>::insert(&candidate, vote);
		let last = members[threshold as usize - 1].clone();

		#[extrinsic_call]
		_(RawOrigin::Signed(last), candidate.clone());

		assert!(Pallet::<T>::is_active_meta(&candidate));
	}

	/// Approval of an endorsed candidate, which activates it.
	#[benchmark]
	fn approve_meta() -> Result<(), BenchmarkError> {
		fill_meta::<T>(T::MaxMetaNodes::get() - 1);
		let candidate: T::AccountId = whitelisted_caller();
		insert_pending::<T>(&candidate, true, false);
		let origin = admin::<T>()?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, candidate.clone());

		assert!(Pallet::<T>::is_active_meta(&candidate));
		Ok(())
	}

	/// The vote that reaches quorum over a full set and suspends the node.
	#[benchmark]
	fn report_reachability() {
		let members = fill_meta::<T>(T::MaxMetaNodes::get());
		let node: T::AccountId = whitelisted_caller();
		insert_active::<T>(&node, NodeKind::Resource, 1);
		let last = unreachable_vote::<T>(&members, &node);

		#[extrinsic_call]
		_(RawOrigin::Signed(last), node.clone(), Reachability::Unreachable);

		assert_eq!(Nodes::<T>::get(&node).map(|n| n.status), Some(NodeStatus::Suspended));
	}

	/// A slash beyond the deposit, adding to existing debt.
	#[benchmark]
	fn slash() -> Result<(), BenchmarkError> {
		let who: T::AccountId = whitelisted_caller();
		insert_active::<T>(&who, NodeKind::Resource, 1);
		let deposit = Nodes::<T>::get(&who).expect("inserted").deposit;
		Debt::<T>::insert(&who, deposit);
		let origin = admin::<T>()?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), deposit.saturating_add(deposit));

		assert!(Debt::<T>::get(&who).is_some());
		Ok(())
	}

	/// Pruning an expired reachability vote over the largest electorate.
	#[benchmark]
	fn prune_vote() {
		let members = fill_meta::<T>(T::MaxMetaNodes::get());
		let node: T::AccountId = whitelisted_caller();
		insert_active::<T>(&node, NodeKind::Resource, 1);
		unreachable_vote::<T>(&members, &node);
		frame_system::Pallet::<T>::set_block_number(T::VoteTtl::get());
		let caller: T::AccountId = account("caller", 0, 0);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller),
			VoteRef::Reachability(node.clone(), Reachability::Unreachable),
		);

		assert!(ReachabilityVotes::<T>::get(&node, Reachability::Unreachable).is_none());
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
