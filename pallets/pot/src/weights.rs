//! Weights for `pallet_pot`. Placeholder estimates until `scripts/benchmark-pallets.sh`
//! regenerates this file from the pallet's benchmarks (`src/benchmarking.rs`).

#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, Weight},
};

/// Weight functions needed for `pallet_pot`.
pub trait WeightInfo {
	fn commit() -> Weight;
	fn reveal() -> Weight;
	fn submit_chunk(n: u32, c: u32) -> Weight;
	fn settle(t: u32, m: u32, a: u32) -> Weight;
	fn claim_rewards() -> Weight;
	fn set_params() -> Weight;
	fn advance_idle() -> Weight;
	fn advance_open(m: u32) -> Weight;
	fn advance_fail(m: u32) -> Weight;
}

/// Weights for `pallet_pot` using the runtime's `DbWeight`.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn commit() -> Weight {
		Weight::from_parts(1_000_000_000, 20_000)
			.saturating_add(T::DbWeight::get().reads_writes(4, 1))
	}
	fn reveal() -> Weight {
		Weight::from_parts(2_000_000_000, 20_000)
			.saturating_add(T::DbWeight::get().reads_writes(4, 2))
	}
	fn submit_chunk(n: u32, c: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 40_000)
			.saturating_add(Weight::from_parts(200_000_000, 3_000).saturating_mul(n.into()))
			.saturating_add(Weight::from_parts(200_000_000, 3_000).saturating_mul(c.into()))
			.saturating_add(T::DbWeight::get().reads_writes(4, 1))
			.saturating_add(T::DbWeight::get().reads_writes(4, 1).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads_writes(3, 3).saturating_mul(c.into()))
	}
	fn settle(t: u32, m: u32, a: u32) -> Weight {
		Weight::from_parts(2_000_000_000, 40_000)
			.saturating_add(
				Weight::from_parts(300_000_000, 3_000).saturating_mul((t + m + a).into()),
			)
			.saturating_add(T::DbWeight::get().reads_writes(10, 10))
			.saturating_add(
				T::DbWeight::get().reads_writes(1, 1).saturating_mul((t + m + a).into()),
			)
	}
	fn claim_rewards() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
			.saturating_add(T::DbWeight::get().reads_writes(6, 5))
	}
	fn set_params() -> Weight {
		Weight::from_parts(200_000_000, 1_000).saturating_add(T::DbWeight::get().writes(1))
	}
	fn advance_idle() -> Weight {
		Weight::from_parts(20_000_000, 1_000).saturating_add(T::DbWeight::get().reads(3))
	}
	fn advance_open(m: u32) -> Weight {
		Weight::from_parts(500_000_000, 20_000)
			.saturating_add(Weight::from_parts(10_000_000, 100).saturating_mul(m.into()))
			.saturating_add(T::DbWeight::get().reads_writes(6, 4))
	}
	fn advance_fail(_m: u32) -> Weight {
		Weight::from_parts(500_000_000, 20_000)
			.saturating_add(T::DbWeight::get().reads_writes(6, 6))
	}
}

/// For tests.
impl WeightInfo for () {
	fn commit() -> Weight {
		Weight::from_parts(1_000_000, 0)
	}
	fn reveal() -> Weight {
		Weight::from_parts(1_000_000, 0)
	}
	fn submit_chunk(n: u32, c: u32) -> Weight {
		Weight::from_parts(1_000_000, 0).saturating_mul((1 + n + c).into())
	}
	fn settle(t: u32, m: u32, a: u32) -> Weight {
		Weight::from_parts(1_000_000, 0).saturating_mul((1 + t + m + a).into())
	}
	fn claim_rewards() -> Weight {
		Weight::from_parts(1_000_000, 0)
	}
	fn set_params() -> Weight {
		Weight::from_parts(1_000_000, 0)
	}
	fn advance_idle() -> Weight {
		Weight::from_parts(1_000, 0)
	}
	fn advance_open(m: u32) -> Weight {
		Weight::from_parts(1_000_000, 0).saturating_mul((1 + m).into())
	}
	fn advance_fail(m: u32) -> Weight {
		Weight::from_parts(1_000_000, 0).saturating_mul((1 + m).into())
	}
}
