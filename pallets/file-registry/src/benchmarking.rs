//! Benchmarks of the file registry at their worst cases: full meta electorates, the vote that
//! reaches quorum, `h` holders and `p` storage periods to settle.

use super::*;
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;
use stratos_primitives::quorum::quorum_threshold;

const SIZE: u64 = GIB;

fn fund<T: Config>(who: &T::AccountId, periods: u32) {
	let fees = Pallet::<T>::fee_per_period(SIZE).saturating_mul((periods + 1).into());
	let big = fees
		.saturating_mul(10u32.into())
		.saturating_add(T::Currency::minimum_balance().saturating_mul(1_000_000u32.into()));
	T::Currency::set_balance(who, big);
}

/// A full electorate of active meta nodes.
fn metas<T: Config>() -> Vec<T::AccountId> {
	let have = T::Nodes::active_meta().len() as u32;
	for i in have..<T::Nodes as NodeRegistry<T::AccountId>>::MaxMetaNodes::get() {
		T::Nodes::register_active_meta(&account("meta", i, 0), 2_000_000 + i);
	}
	T::Nodes::active_meta()
}

/// `n` active resource nodes (distinct per `set`).
fn resource_nodes<T: Config>(set: u32, n: u32) -> Vec<T::AccountId> {
	(0..n)
		.map(|i| {
			let who: T::AccountId = account("resource", set * 1_000 + i, 0);
			T::Nodes::register_active_resource(&who, 3_000_000 + set * 1_000 + i);
			who
		})
		.collect()
}

/// Casts all but the last vote the quorum needs; returns that last voter.
fn prepare_vote<T: Config>(members: &[T::AccountId], proposal: FileProposal<T>) -> T::AccountId {
	let key = sp_io::hashing::blake2_256(&proposal.encode());
	let mut vote = VoteOf::<T>::open(members.to_vec(), Zero::zero());
	let threshold = quorum_threshold(members.len() as u32) as usize;
	for m in members.iter().take(threshold - 1) {
		vote.cast(m.clone()).expect("member");
	}
	FileVotes::<T>::insert(key, (proposal, vote));
	members[threshold - 1].clone()
}

/// A recorded file of `owner` with `h` holders and `p` periods due (1-block periods).
fn file_due<T: Config>(owner: &T::AccountId, h: u32, p: u32) -> FileId {
	fund::<T>(owner, p);
	let holders = resource_nodes::<T>(0, h);
	let file_id = FileId([7; 32]);
	StoragePeriod::<T>::put(BlockNumberFor::<T>::from(1u32));
	let record = FileRecord::<T> {
		size: SIZE,
		slices: 64,
		holders: BoundedVec::truncate_from(holders),
		created: Zero::zero(),
		paid_through: 1,
	};
	Pallet::<T>::add_holdings(&record);
	Files::<T>::insert(owner, file_id, record);
	frame_system::Pallet::<T>::set_block_number((p + 1).into());
	file_id
}

#[benchmarks]
mod benches {
	use super::*;

	#[benchmark]
	fn buy_credit() {
		let who: T::AccountId = whitelisted_caller();
		fund::<T>(&who, 0);
		CreditSupply::<T>::put(u128::MAX / 2);
		CreditLimit::<T>::put(u128::MAX / 2);
		let amount = T::Currency::minimum_balance().saturating_mul(1_000u32.into());

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), amount, 0);

		assert!(Credit::<T>::get(&who) > 0);
	}

	/// Adding to an existing reservation.
	#[benchmark]
	fn reserve_credit() {
		let who: T::AccountId = whitelisted_caller();
		Credit::<T>::insert(&who, 2_000u128);
		Reserved::<T>::insert(&who, ReservedCredit { bytes: 1, locked_until: Zero::zero() });
		CreditSupply::<T>::mutate(|s| *s = s.saturating_add(2_001));

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), 1_000);

		assert_eq!(Pallet::<T>::reserved(&who), 1_001);
	}

	#[benchmark]
	fn release_credit() {
		let who: T::AccountId = whitelisted_caller();
		Reserved::<T>::insert(&who, ReservedCredit { bytes: 2_000, locked_until: Zero::zero() });
		Credit::<T>::insert(&who, 1u128);
		CreditSupply::<T>::mutate(|s| *s = s.saturating_add(2_001));

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), 1_000);

		assert_eq!(Credit::<T>::get(&who), 1_001);
	}

	/// The vote that records a file with `h` holders.
	#[benchmark]
	fn vote_create_file(h: Linear<1, { T::MaxHolders::get() }>) {
		let members = metas::<T>();
		// The range starts below a chain's replica floor; checking the floor costs the same.
		MinHolders::<T>::put(1);
		let holders = resource_nodes::<T>(0, h);
		let owner: T::AccountId = account("owner", 0, 0);
		let file_id = FileId([7; 32]);
		let proposal = FileProposal::<T>::Create {
			owner: owner.clone(),
			file_id,
			size: SIZE,
			slices: 64,
			holders: BoundedVec::truncate_from(holders.clone()),
		};
		let last = prepare_vote::<T>(&members, proposal);

		#[extrinsic_call]
		_(RawOrigin::Signed(last), owner.clone(), file_id, SIZE, 64, holders);

		assert!(Files::<T>::contains_key(&owner, file_id));
	}

	/// The vote that re-homes a file of `h` holders after settling `p` periods with them.
	#[benchmark]
	fn vote_set_holders(
		h: Linear<1, { T::MaxHolders::get() }>,
		p: Linear<0, { T::MaxSettlePeriods::get() }>,
	) {
		let members = metas::<T>();
		MinHolders::<T>::put(1);
		let owner: T::AccountId = account("owner", 0, 0);
		let file_id = file_due::<T>(&owner, h, p);
		let new = resource_nodes::<T>(1, h);
		let proposal = FileProposal::<T>::SetHolders {
			owner: owner.clone(),
			file_id,
			holders: BoundedVec::truncate_from(new.clone()),
		};
		let last = prepare_vote::<T>(&members, proposal);

		#[extrinsic_call]
		_(RawOrigin::Signed(last), owner.clone(), file_id, new.clone());

		assert_eq!(Files::<T>::get(&owner, file_id).map(|r| r.holders.into_inner()), Some(new));
	}

	/// Deleting a file of `h` holders with `p` periods to settle first.
	#[benchmark]
	fn delete_file(
		h: Linear<1, { T::MaxHolders::get() }>,
		p: Linear<0, { T::MaxSettlePeriods::get() }>,
	) {
		let owner: T::AccountId = whitelisted_caller();
		let file_id = file_due::<T>(&owner, h, p);

		#[extrinsic_call]
		_(RawOrigin::Signed(owner.clone()), file_id);

		assert!(!Files::<T>::contains_key(&owner, file_id));
	}

	/// Settling `p` periods with `h` holders.
	#[benchmark]
	fn settle_storage(
		h: Linear<1, { T::MaxHolders::get() }>,
		p: Linear<0, { T::MaxSettlePeriods::get() }>,
	) {
		let owner: T::AccountId = account("owner", 0, 0);
		let file_id = file_due::<T>(&owner, h, p);
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), owner.clone(), file_id);

		assert_eq!(Files::<T>::get(&owner, file_id).map(|r| r.paid_through), Some(1 + p));
	}

	#[benchmark]
	fn set_credit_supply() -> Result<(), BenchmarkError> {
		let origin =
			T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let supply = CreditSupply::<T>::get().saturating_add(1_000);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, supply);

		assert_eq!(CreditSupply::<T>::get(), supply);
		Ok(())
	}

	/// Pruning an expired vote on a file of the most holders.
	#[benchmark]
	fn prune_file_vote() {
		let members = metas::<T>();
		let holders = resource_nodes::<T>(0, T::MaxHolders::get());
		let proposal = FileProposal::<T>::Create {
			owner: account("owner", 0, 0),
			file_id: FileId([7; 32]),
			size: SIZE,
			slices: 64,
			holders: BoundedVec::truncate_from(holders),
		};
		let key = sp_io::hashing::blake2_256(&proposal.encode());
		prepare_vote::<T>(&members, proposal);
		frame_system::Pallet::<T>::set_block_number(T::VoteTtl::get());
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), key);

		assert!(!FileVotes::<T>::contains_key(key));
	}

	#[benchmark]
	fn set_min_holders() {
		#[extrinsic_call]
		_(RawOrigin::Root, 2);

		assert_eq!(MinHolders::<T>::get(), 2);
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
