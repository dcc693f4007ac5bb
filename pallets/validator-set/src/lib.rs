//! # Validator set pallet
//!
//! A governance-controlled set of Aura + GRANDPA validators.
//!
//! FRAME ships no pallet that lets Root add and remove the authorities of a chain that has no
//! staking, so this pallet keeps the list and hands it to `pallet-session` as its
//! [`SessionManager`]. A change is queued by [`Pallet::add_validator`] /
//! [`Pallet::remove_validator`] and takes effect the way every session change does: the new set
//! is *queued* at the next session boundary and becomes *active* one session later. A validator
//! must have registered session keys (`session.set_keys`) before it can be added; keys are
//! rotated the same way, at any time, and take effect at the next session.
//!
//! The session length is a genesis parameter ([`SessionLength`]), so one runtime serves chains
//! with short sessions (dev, local) and long ones (testnet) alike; [`SessionLengthOf`] feeds it to
//! `pallet_session::PeriodicSessions`.
//!
//! ## Storage versions
//! * v0: [`Validators`] only.
//! * v1 (feature `upgrade-test`, used by the runtime-upgrade test): [`ValidatorSince`] records the
//!   block at which each validator was added; [`migrations::v1`] fills it for existing validators.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use frame_support::{pallet_prelude::*, traits::ValidatorRegistration};
use frame_system::pallet_prelude::*;
use sp_runtime::traits::Zero;
use sp_staking::SessionIndex;

pub use pallet::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmarking;
pub mod migrations;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

const LOG_TARGET: &str = "runtime::validator-set";

/// The storage version of the pallet's code.
#[cfg(not(feature = "upgrade-test"))]
pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);
/// The storage version of the pallet's code.
#[cfg(feature = "upgrade-test")]
pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

#[frame_support::pallet]
pub mod pallet {
	use super::*;

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// Who may add and remove validators (Root, i.e. a referendum on the Root track).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Tells whether an account has session keys registered (`pallet_session::Pallet`).
		type KeysRegistry: ValidatorRegistration<Self::AccountId>;

		/// Upper bound of the set; keep it at or below Aura's and GRANDPA's `MaxAuthorities`.
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// Lower bound of the set: removing below it would stop block production.
		#[pallet::constant]
		type MinValidators: Get<u32>;

		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// The validators to use from the next queued session on.
	#[pallet::storage]
	pub type Validators<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxValidators>, ValueQuery>;

	/// Set when [`Validators`] changed and pallet-session has not picked the change up yet.
	#[pallet::storage]
	pub type PendingChange<T: Config> = StorageValue<_, bool, ValueQuery>;

	/// Session length in blocks, set per chain in genesis.
	#[pallet::storage]
	pub type SessionLength<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery>;

	/// The block at which each current validator was added (storage version 1).
	#[cfg(feature = "upgrade-test")]
	#[pallet::storage]
	pub type ValidatorSince<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, BlockNumberFor<T>, OptionQuery>;

	#[pallet::genesis_config]
	pub struct GenesisConfig<T: Config> {
		/// The initial validators (their session keys are set in `pallet_session`'s genesis).
		/// Empty leaves the choice to `pallet_session`'s genesis keys.
		pub validators: Vec<T::AccountId>,
		/// Session length in blocks (must be at least 1).
		pub session_length: BlockNumberFor<T>,
	}

	impl<T: Config> Default for GenesisConfig<T> {
		fn default() -> Self {
			Self { validators: Vec::new(), session_length: 10u32.into() }
		}
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			assert!(!self.session_length.is_zero(), "validator-set: session_length must be > 0");
			let mut seen = self.validators.clone();
			seen.sort();
			seen.dedup();
			assert_eq!(seen.len(), self.validators.len(), "validator-set: duplicate validator");
			assert!(
				self.validators.is_empty()
					|| self.validators.len() as u32 >= T::MinValidators::get(),
				"validator-set: fewer genesis validators than MinValidators"
			);
			let bounded: BoundedVec<_, T::MaxValidators> = self
				.validators
				.clone()
				.try_into()
				.expect("validator-set: more genesis validators than MaxValidators");
			#[cfg(feature = "upgrade-test")]
			for v in bounded.iter() {
				ValidatorSince::<T>::insert(v, BlockNumberFor::<T>::zero());
			}
			Validators::<T>::put(bounded);
			SessionLength::<T>::put(self.session_length);
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `validator` joins the set from the session after next.
		ValidatorAdded { validator: T::AccountId },
		/// `validator` leaves the set from the session after next.
		ValidatorRemoved { validator: T::AccountId },
		/// The changed set was handed to pallet-session for `session`.
		ValidatorsQueued { session: SessionIndex, count: u32 },
		/// An offence (e.g. a GRANDPA equivocation, proven on chain by `pallet_offences`) was
		/// committed by `offenders` in `session`. `slash_fractions[i]` is the share of stake
		/// the offence rules would slash from `offenders[i]`. Nothing is slashed or removed
		/// automatically: acting on it (`remove_validator`) is for governance.
		OffenceReported {
			offenders: Vec<T::AccountId>,
			session: SessionIndex,
			slash_fractions: Vec<sp_runtime::Perbill>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is already a validator: nothing to add.
		AlreadyValidator,
		/// The account is not a validator: nothing to remove.
		NotValidator,
		/// The set is full (`MaxValidators`): remove a validator first.
		TooManyValidators,
		/// Removing would leave fewer than `MinValidators` and stop block production.
		TooFewValidators,
		/// The account has no session keys: it must call `session.set_keys` first.
		NoSessionKeys,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Add `validator` to the set. It starts authoring two session boundaries later.
		///
		/// Origin: [`Config::AdminOrigin`]. The account must have set its session keys.
		/// Emits [`Event::ValidatorAdded`].
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::add_validator(T::MaxValidators::get()))]
		pub fn add_validator(origin: OriginFor<T>, validator: T::AccountId) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			let mut set = Validators::<T>::get();
			ensure!(!set.contains(&validator), Error::<T>::AlreadyValidator);
			ensure!(T::KeysRegistry::is_registered(&validator), Error::<T>::NoSessionKeys);
			set.try_push(validator.clone()).map_err(|_| Error::<T>::TooManyValidators)?;

			Validators::<T>::put(set);
			PendingChange::<T>::put(true);
			#[cfg(feature = "upgrade-test")]
			ValidatorSince::<T>::insert(&validator, frame_system::Pallet::<T>::block_number());
			Self::deposit_event(Event::ValidatorAdded { validator });
			Ok(())
		}

		/// Remove `validator` from the set. It stops authoring two session boundaries later.
		///
		/// Origin: [`Config::AdminOrigin`]. Emits [`Event::ValidatorRemoved`].
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::remove_validator(T::MaxValidators::get()))]
		pub fn remove_validator(origin: OriginFor<T>, validator: T::AccountId) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			let mut set = Validators::<T>::get();
			let pos = set.iter().position(|v| v == &validator).ok_or(Error::<T>::NotValidator)?;
			ensure!(set.len() as u32 > T::MinValidators::get(), Error::<T>::TooFewValidators);
			set.remove(pos);

			Validators::<T>::put(set);
			PendingChange::<T>::put(true);
			#[cfg(feature = "upgrade-test")]
			ValidatorSince::<T>::remove(&validator);
			Self::deposit_event(Event::ValidatorRemoved { validator });
			Ok(())
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The invariants of this pallet's storage.
	///
	/// * the set is not smaller than `MinValidators` and has no duplicates;
	/// * the session length is not zero;
	/// * (v1) exactly the current validators have a `ValidatorSince` entry.
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let set = Validators::<T>::get();
		ensure!(set.len() as u32 >= T::MinValidators::get(), "fewer validators than MinValidators");
		let mut sorted = set.clone().into_inner();
		sorted.sort();
		sorted.dedup();
		ensure!(sorted.len() == set.len(), "duplicate validator");
		ensure!(!SessionLength::<T>::get().is_zero(), "session length is zero");
		#[cfg(feature = "upgrade-test")]
		{
			ensure!(
				ValidatorSince::<T>::iter_keys().count() == set.len(),
				"ValidatorSince does not match the validator set"
			);
			ensure!(
				set.iter().all(ValidatorSince::<T>::contains_key),
				"a validator has no ValidatorSince entry"
			);
		}
		Ok(())
	}
}

/// `Get` of the genesis-configured session length, for `pallet_session::PeriodicSessions`.
pub struct SessionLengthOf<T>(core::marker::PhantomData<T>);
impl<T: Config> Get<BlockNumberFor<T>> for SessionLengthOf<T> {
	fn get() -> BlockNumberFor<T> {
		let len = SessionLength::<T>::get();
		// A zero period would make `PeriodicSessions` divide by zero; genesis forbids it, this
		// only guards storage that was never initialised (e.g. benchmarks on an empty state).
		if len.is_zero() {
			1u32.into()
		} else {
			len
		}
	}
}

impl<T: Config> pallet_session::SessionManager<T::AccountId> for Pallet<T> {
	fn new_session(new_index: SessionIndex) -> Option<Vec<T::AccountId>> {
		if !PendingChange::<T>::take() {
			return None;
		}
		let set = Validators::<T>::get().into_inner();
		log::info!(target: LOG_TARGET, "queueing {} validators for session {}", set.len(), new_index);
		Self::deposit_event(Event::ValidatorsQueued {
			session: new_index,
			count: set.len() as u32,
		});
		Some(set)
	}

	fn new_session_genesis(_new_index: SessionIndex) -> Option<Vec<T::AccountId>> {
		let set = Validators::<T>::get().into_inner();
		(!set.is_empty()).then_some(set)
	}

	fn end_session(_end_index: SessionIndex) {}
	fn start_session(_start_index: SessionIndex) {}
}

/// With `pallet_session::historical` (session roots for key-ownership proofs of equivocation
/// reports) a validator's full identification is just its account: there is no stake to
/// identify.
impl<T: Config> pallet_session::historical::SessionManager<T::AccountId, ()> for Pallet<T> {
	fn new_session(new_index: SessionIndex) -> Option<Vec<(T::AccountId, ())>> {
		<Self as pallet_session::SessionManager<_>>::new_session(new_index)
			.map(|set| set.into_iter().map(|v| (v, ())).collect())
	}

	fn new_session_genesis(new_index: SessionIndex) -> Option<Vec<(T::AccountId, ())>> {
		<Self as pallet_session::SessionManager<_>>::new_session_genesis(new_index)
			.map(|set| set.into_iter().map(|v| (v, ())).collect())
	}

	fn start_session(start_index: SessionIndex) {
		<Self as pallet_session::SessionManager<_>>::start_session(start_index)
	}

	fn end_session(end_index: SessionIndex) {
		<Self as pallet_session::SessionManager<_>>::end_session(end_index)
	}
}

/// The `pallet_offences` handler: records each proven offence as [`Event::OffenceReported`]
/// and leaves the punishment to governance (this chain has no stake to slash; a validator is
/// removed by a referendum calling `remove_validator`).
impl<T: Config, Reporter, FullId>
	sp_staking::offence::OnOffenceHandler<Reporter, (T::AccountId, FullId), Weight> for Pallet<T>
{
	fn on_offence(
		offenders: &[sp_staking::offence::OffenceDetails<Reporter, (T::AccountId, FullId)>],
		slash_fraction: &[sp_runtime::Perbill],
		session: SessionIndex,
	) -> Weight {
		let offenders: Vec<T::AccountId> = offenders.iter().map(|d| d.offender.0.clone()).collect();
		for who in &offenders {
			log::warn!(target: LOG_TARGET, "offence by validator {who:?} in session {session}");
		}
		Self::deposit_event(Event::OffenceReported {
			offenders,
			session,
			slash_fractions: slash_fraction.to_vec(),
		});
		// One event write; no storage is read.
		T::DbWeight::get().writes(1)
	}
}
