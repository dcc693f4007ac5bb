//! `frame_system` weights: those measured here (`crate::weights::frame_system`), except for
//! the two runtime-upgrade calls.
//!
//! FRAME ships `set_code` / `apply_authorized_upgrade` at ~164 s of ref time (its reference
//! run compiles a large runtime), which no 2 s block can hold: a Root referendum enacting
//! `set_code` would be refused by the scheduler as overweight. In this runtime the two calls
//! read the new code's embedded version section and write `:code`; we charge 20% of a block
//! (100 ms), an order of magnitude above what they take here (see
//! `docs/adr/0003-two-second-slots.md`), and keep them `Operational`.

use core::marker::PhantomData;
use frame_support::weights::Weight;
use frame_system::weights::WeightInfo;

type Measured<T> = crate::weights::frame_system::WeightInfo<T>;

/// Ref time charged for a runtime upgrade: 100 ms.
pub const UPGRADE_REF_TIME: u64 =
	100 * frame_support::weights::constants::WEIGHT_REF_TIME_PER_MILLIS;

/// `frame_system::WeightInfo` for this runtime.
pub struct StratosSystemWeight<T>(PhantomData<T>);

impl<T: frame_system::Config> WeightInfo for StratosSystemWeight<T> {
	fn remark(b: u32) -> Weight {
		Measured::<T>::remark(b)
	}
	fn remark_with_event(b: u32) -> Weight {
		Measured::<T>::remark_with_event(b)
	}
	fn set_heap_pages() -> Weight {
		Measured::<T>::set_heap_pages()
	}
	fn set_code() -> Weight {
		Weight::from_parts(UPGRADE_REF_TIME, 67_035)
	}
	fn set_storage(i: u32) -> Weight {
		Measured::<T>::set_storage(i)
	}
	fn kill_storage(i: u32) -> Weight {
		Measured::<T>::kill_storage(i)
	}
	fn kill_prefix(p: u32) -> Weight {
		Measured::<T>::kill_prefix(p)
	}
	fn authorize_upgrade() -> Weight {
		Measured::<T>::authorize_upgrade()
	}
	fn apply_authorized_upgrade() -> Weight {
		Weight::from_parts(UPGRADE_REF_TIME, 67_035)
	}
}
