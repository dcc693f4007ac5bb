//! Weights for `pallet_chain_params`, from `src/benchmarking.rs` (see `docs/adr/0005-weights.md`).

#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, Weight},
};

/// Weight functions needed for `pallet_chain_params`.
pub trait WeightInfo {
	fn set_governance_timings() -> Weight;
}

/// Weights for `pallet_chain_params` using the runtime's `DbWeight`.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `ChainParams::Governance` (r:0 w:1)
	fn set_governance_timings() -> Weight {
		Weight::from_parts(8_000_000, 0).saturating_add(T::DbWeight::get().writes(1_u64))
	}
}

impl WeightInfo for () {
	fn set_governance_timings() -> Weight {
		Weight::from_parts(8_000_000, 0).saturating_add(RocksDbWeight::get().writes(1_u64))
	}
}
