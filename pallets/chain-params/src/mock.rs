//! A minimal runtime for the pallet's unit tests and benchmarks.

use crate as pallet_chain_params;
use frame_support::derive_impl;
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		ChainParams: pallet_chain_params,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

impl pallet_chain_params::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type AdminOrigin = frame_system::EnsureRoot<u64>;
	type WeightInfo = ();
}

/// Dev-like timings used by the tests' genesis.
pub const DEV: crate::GovernanceTimings<u64> = crate::GovernanceTimings {
	prepare_period: 2,
	decision_period: 40,
	confirm_period: 3,
	min_enactment_period: 2,
	undeciding_timeout: 40,
	vote_locking_period: 10,
};

pub fn new_test_ext() -> sp_io::TestExternalities {
	let t = RuntimeGenesisConfig {
		system: Default::default(),
		chain_params: pallet_chain_params::GenesisConfig { governance: Some(DEV) },
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
		ChainParams::do_try_state().expect("try_state invariants hold");
	});
}
