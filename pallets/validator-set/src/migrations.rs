//! Storage migrations of the validator-set pallet.

/// v0 → v1: record, for every validator already in the set, the block of the upgrade as the
/// block it joined ([`crate::ValidatorSince`]).
#[cfg(feature = "upgrade-test")]
pub mod v1 {
	use crate::{Config, Pallet, ValidatorSince, Validators, LOG_TARGET};
	use frame_support::{
		migrations::VersionedMigration,
		traits::{Get, UncheckedOnRuntimeUpgrade},
		weights::Weight,
	};

	/// The migration body; use [`MigrateV0ToV1`], which also checks and bumps the version.
	pub struct InnerMigrateV0ToV1<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for InnerMigrateV0ToV1<T> {
		fn on_runtime_upgrade() -> Weight {
			let now = frame_system::Pallet::<T>::block_number();
			let set = Validators::<T>::get();
			for v in set.iter() {
				ValidatorSince::<T>::insert(v, now);
			}
			log::info!(target: LOG_TARGET, "v1: recorded {} validators", set.len());
			T::DbWeight::get().reads_writes(1, set.len() as u64)
		}

		#[cfg(feature = "try-runtime")]
		fn pre_upgrade() -> Result<alloc::vec::Vec<u8>, sp_runtime::TryRuntimeError> {
			use codec::Encode;
			frame_support::ensure!(
				ValidatorSince::<T>::iter_keys().next().is_none(),
				"v0 state must not have ValidatorSince entries"
			);
			Ok((Validators::<T>::get().len() as u32).encode())
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(state: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			use codec::Decode;
			let before = u32::decode(&mut &state[..]).map_err(|_| "bad pre_upgrade state")?;
			let set = Validators::<T>::get();
			frame_support::ensure!(set.len() as u32 == before, "validator count changed");
			frame_support::ensure!(
				set.iter().all(ValidatorSince::<T>::contains_key),
				"a validator was not migrated"
			);
			Ok(())
		}
	}

	/// v0 → v1, run only when the on-chain version is 0; sets it to 1.
	pub type MigrateV0ToV1<T> = VersionedMigration<
		0,
		1,
		InnerMigrateV0ToV1<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
