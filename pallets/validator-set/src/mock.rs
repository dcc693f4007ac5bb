//! A minimal runtime for the pallet's unit tests and benchmarks.

use crate as pallet_validator_set;
use frame_support::{derive_impl, parameter_types, traits::ValidatorRegistration};
use sp_runtime::BuildStorage;
use std::{cell::RefCell, collections::BTreeSet};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		ValidatorSet: pallet_validator_set,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

thread_local! {
	static KEYS: RefCell<BTreeSet<u64>> = RefCell::new((0..=10).collect());
}

/// Accounts 0..=10 have session keys; others get them with [`MockKeys::register`].
pub struct MockKeys;
impl ValidatorRegistration<u64> for MockKeys {
	fn is_registered(id: &u64) -> bool {
		KEYS.with(|k| k.borrow().contains(id))
	}
}
#[cfg(feature = "runtime-benchmarks")]
impl crate::benchmarking::BenchmarkKeys<u64> for MockKeys {
	fn register(who: &u64) {
		KEYS.with(|k| k.borrow_mut().insert(*who));
	}
}

parameter_types! {
	pub const MaxValidators: u32 = 32;
	pub const MinValidators: u32 = 1;
}

impl pallet_validator_set::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type AdminOrigin = frame_system::EnsureRoot<u64>;
	type KeysRegistry = MockKeys;
	type MaxValidators = MaxValidators;
	type MinValidators = MinValidators;
	type WeightInfo = ();
}

/// Genesis: validators 1, 2, 3 with 10-block sessions.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let t = RuntimeGenesisConfig {
		system: Default::default(),
		validator_set: pallet_validator_set::GenesisConfig {
			validators: vec![1, 2, 3],
			session_length: 10,
		},
	}
	.build_storage()
	.expect("valid genesis");
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs `test` on the default genesis, then checks the pallet's invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		ValidatorSet::do_try_state().expect("try_state invariants hold");
	});
}
