//! Benchmarks of the validator-set pallet (worst case: a full set).

use super::*;
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;

fn fill<T: Config>(n: u32) -> Vec<T::AccountId> {
	let set: Vec<T::AccountId> = (0..n).map(|i| account("validator", i, 0)).collect();
	Validators::<T>::put(BoundedVec::<_, T::MaxValidators>::truncate_from(set.clone()));
	set
}

#[benchmarks(where T::KeysRegistry: BenchmarkKeys<T::AccountId>)]
mod benches {
	use super::*;

	/// `n`: validators already in the set.
	#[benchmark]
	fn add_validator(n: Linear<1, { T::MaxValidators::get() - 1 }>) {
		fill::<T>(n);
		let new: T::AccountId = account("new", 0, 0);
		T::KeysRegistry::register(&new);

		#[extrinsic_call]
		_(RawOrigin::Root, new.clone());

		assert!(Validators::<T>::get().contains(&new));
	}

	/// `n`: validators in the set; the last one is removed.
	#[benchmark]
	fn remove_validator(n: Linear<{ T::MinValidators::get() + 1 }, { T::MaxValidators::get() }>) {
		let set = fill::<T>(n);
		let gone = set.last().cloned().expect("n >= 1");

		#[extrinsic_call]
		_(RawOrigin::Root, gone.clone());

		assert!(!Validators::<T>::get().contains(&gone));
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}

/// Lets a benchmark give an account session keys, however the runtime stores them.
pub trait BenchmarkKeys<AccountId> {
	/// Make `who` pass `ValidatorRegistration::is_registered`.
	fn register(who: &AccountId);
}
