//! Benchmarks of the chain-params pallet.

use super::*;
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;

#[benchmarks(where frame_system::pallet_prelude::BlockNumberFor<T>: From<u32>)]
mod benches {
	use super::*;

	#[benchmark]
	fn set_governance_timings() {
		let t = GovernanceTimings {
			prepare_period: 1u32.into(),
			decision_period: 2u32.into(),
			confirm_period: 3u32.into(),
			min_enactment_period: 4u32.into(),
			undeciding_timeout: 5u32.into(),
			vote_locking_period: 6u32.into(),
		};

		#[extrinsic_call]
		_(RawOrigin::Root, t);

		assert_eq!(Governance::<T>::get(), Some(t));
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
