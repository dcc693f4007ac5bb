//! Storage migrations of `pallet-pot`.

use crate::*;
use frame_support::traits::UncheckedOnRuntimeUpgrade;

/// v0 → v1: the parameters gain the dispute window and slash; period summaries gain the
/// resource carry and the cancelled amount (both zero for earlier periods, which carried
/// everything into the whole issuance).
pub mod v1 {
	use super::*;

	/// The v0 layouts.
	pub mod v0 {
		use super::*;

		/// [`PotParams`] before v1.
		#[derive(Encode, Decode, Clone)]
		pub struct OldParams<Balance, BlockNumber> {
			pub period_length: BlockNumber,
			pub commit_window: BlockNumber,
			pub reveal_window: BlockNumber,
			pub stream_window: BlockNumber,
			pub top_nodes: u32,
			pub chunk_size: u32,
			pub maturity: u32,
			pub meta_share: Perbill,
			pub validator_share: Perbill,
			pub wash_cap: Perbill,
			pub tiers: BoundedVec<Tier<Balance>, ConstU32<MAX_TIERS>>,
		}

		/// [`PeriodInfo`] before v1.
		#[derive(Encode, Decode)]
		pub struct OldPeriodInfo<AccountId, Balance, S: Get<u32>> {
			pub issuance: Balance,
			pub carried_in: Balance,
			pub status: PeriodStatus,
			pub digest: Option<Hash>,
			pub reporters: BoundedVec<AccountId, S>,
			pub resource_paid: Balance,
			pub meta_paid: Balance,
			pub validator_paid: Balance,
			pub carried: Balance,
			pub served_bytes: u128,
			pub charged_bytes: u128,
			pub rewarded_bytes: u128,
		}
	}

	/// The translation, run by [`MigrateToV1`] only while the on-chain version is 0.
	/// `DisputeSlash` is the slash for chains that had none.
	pub struct UncheckedMigrateToV1<T, DisputeSlash>(core::marker::PhantomData<(T, DisputeSlash)>);

	impl<T: Config, DisputeSlash: Get<BalanceOf<T>>> UncheckedOnRuntimeUpgrade
		for UncheckedMigrateToV1<T, DisputeSlash>
	{
		fn on_runtime_upgrade() -> Weight {
			let mut writes = 1u64;
			let mut maturity = 0u32;
			let _ = Params::<T>::translate::<v0::OldParams<BalanceOf<T>, BlockNumberFor<T>>, _>(
				|old| {
					old.map(|o| {
						maturity = o.maturity;
						PotParams {
							period_length: o.period_length,
							commit_window: o.commit_window,
							reveal_window: o.reveal_window,
							stream_window: o.stream_window,
							top_nodes: o.top_nodes,
							chunk_size: o.chunk_size,
							maturity: o.maturity,
							meta_share: o.meta_share,
							validator_share: o.validator_share,
							wash_cap: o.wash_cap,
							tiers: o.tiers,
							// Reporters answer within the reveal window's length (≤ L).
							dispute_window: o.reveal_window.max(1u32.into()).min(o.period_length),
							dispute_slash: DisputeSlash::get(),
						}
					})
				},
			);
			Periods::<T>::translate::<v0::OldPeriodInfo<T::AccountId, BalanceOf<T>, MaxMetaOf<T>>, _>(
				|period, o| {
					writes = writes.saturating_add(1);
					Some(PeriodInfo {
						issuance: o.issuance,
						carried_in: o.carried_in,
						resource_carried_in: Zero::zero(),
						status: o.status,
						digest: o.digest,
						reporters: o.reporters,
						resource_paid: o.resource_paid,
						meta_paid: o.meta_paid,
						validator_paid: o.validator_paid,
						carried: o.carried,
						resource_carried: Zero::zero(),
						cancelled: Zero::zero(),
						matures: period.saturating_add(1).saturating_add(maturity),
						served_bytes: o.served_bytes,
						charged_bytes: o.charged_bytes,
						rewarded_bytes: o.rewarded_bytes,
						charged_value: 0,
						rewarded_value: 0,
					})
				},
			);
			T::DbWeight::get().reads_writes(writes, writes)
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(_: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			ensure!(Pallet::<T>::check_params(&Params::<T>::get()).is_ok(), "params decode");
			ensure!(
				Periods::<T>::iter_keys().count() == Periods::<T>::iter_values().count(),
				"every period summary decodes"
			);
			Pallet::<T>::do_try_state()
		}
	}

	/// [`UncheckedMigrateToV1`] guarded by the storage version (0 → 1).
	pub type MigrateToV1<T, DisputeSlash> = frame_support::migrations::VersionedMigration<
		0,
		1,
		UncheckedMigrateToV1<T, DisputeSlash>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
