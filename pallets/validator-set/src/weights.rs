//! Weights for `pallet_validator_set`.
//!
//! From this pallet's benchmarks (`src/benchmarking.rs`), run as `docs/adr/0005-weights.md`
//! describes. Regenerate them whenever the pallet's calls change.

#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, Weight},
};

/// Weight functions needed for `pallet_validator_set`.
pub trait WeightInfo {
	fn add_validator(n: u32) -> Weight;
	fn remove_validator(n: u32) -> Weight;
}

/// Weights for `pallet_validator_set` using the runtime's `DbWeight`.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `ValidatorSet::Validators` (r:1 w:1), `Session::NextKeys` (r:1 w:0),
	/// `ValidatorSet::PendingChange` (r:0 w:1). The range of component `n` is `[1, 31]`.
	fn add_validator(n: u32) -> Weight {
		Weight::from_parts(15_000_000, 4_687)
			.saturating_add(Weight::from_parts(60_000, 32).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	/// Storage: `ValidatorSet::Validators` (r:1 w:1), `ValidatorSet::PendingChange` (r:0 w:1).
	/// The range of component `n` is `[2, 32]`.
	fn remove_validator(n: u32) -> Weight {
		Weight::from_parts(10_000_000, 1_527)
			.saturating_add(Weight::from_parts(60_000, 32).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
}

// For tests.
impl WeightInfo for () {
	fn add_validator(n: u32) -> Weight {
		Weight::from_parts(15_000_000, 4_687)
			.saturating_add(Weight::from_parts(60_000, 32).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
	}
	fn remove_validator(n: u32) -> Weight {
		Weight::from_parts(10_000_000, 1_527)
			.saturating_add(Weight::from_parts(60_000, 32).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
	}
}
