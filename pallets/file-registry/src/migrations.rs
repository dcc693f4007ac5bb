//! Storage migrations of `pallet-file-registry`.

use crate::*;
use frame_support::traits::UncheckedOnRuntimeUpgrade;

/// v0 → v1: credit keeps its purchase price. Chains that sold credit before v1 did not record
/// what each account paid; the migration gives every holder its share of the prepaid pool,
/// pro rata to the credit it holds (spendable and reserved) among all credit sold and not
/// yet spent. Rounding leaves a few units of the pool unassigned (`Σ CreditValue ≤ Pt`).
pub mod v1 {
	use super::*;

	/// The translation, run by [`MigrateToV1`] only while the on-chain version is 0.
	pub struct UncheckedMigrateToV1<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for UncheckedMigrateToV1<T> {
		fn on_runtime_upgrade() -> Weight {
			let mut held: alloc::collections::BTreeMap<T::AccountId, u128> = Default::default();
			for (who, c) in Credit::<T>::iter() {
				*held.entry(who).or_default() += c;
			}
			for (who, r) in Reserved::<T>::iter() {
				*held.entry(who).or_default() += r.bytes;
			}
			let outstanding: u128 = held.values().fold(0u128, |a, b| a.saturating_add(*b));
			let pool: u128 = PrepaidPool::<T>::get().saturated_into();
			let mut writes = 0u64;
			if outstanding > 0 {
				for (who, bytes) in &held {
					let v = sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(
						pool,
						*bytes,
						outstanding,
						Rounding::Down,
					)
					.unwrap_or(0);
					if v > 0 {
						CreditValue::<T>::insert(who, BalanceOf::<T>::saturated_from(v));
						writes += 1;
					}
				}
			}
			let reads = (held.len() as u64).saturating_add(1);
			T::DbWeight::get().reads_writes(reads, writes)
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(_: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			Pallet::<T>::do_try_state()
		}
	}

	/// [`UncheckedMigrateToV1`] guarded by the storage version (0 → 1).
	pub type MigrateToV1<T> = frame_support::migrations::VersionedMigration<
		0,
		1,
		UncheckedMigrateToV1<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
