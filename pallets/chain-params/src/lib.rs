//! # Chain parameters pallet
//!
//! One runtime serves every Stratos chain; what differs between chains is set in genesis and
//! lives here. Today that is the timing of the governance tracks ([`GovernanceTimings`]): a
//! dev chain decides a referendum in a minute, the testnet in days, with the *same* approval
//! and support curves (curves are defined over the fraction of the decision period elapsed).
//! Root (a referendum) can change them later with [`Pallet::set_governance_timings`].
//!
//! The runtime reads the values through [`Timings`] in its `pallet_referenda::TracksInfo` and
//! `Get` implementations, so changes take effect for new decisions at once.

#![cfg_attr(not(feature = "std"), no_std)]

pub use pallet::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::pallet_prelude::*;
use scale_info::TypeInfo;

/// Governance timings in blocks (see `pallet_referenda::TrackInfo` for their meaning).
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	serde::Serialize,
	serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GovernanceTimings<BlockNumber> {
	/// Time a referendum waits after submission before it may start deciding.
	pub prepare_period: BlockNumber,
	/// Time a referendum has to be approved once deciding.
	pub decision_period: BlockNumber,
	/// Time approval and support must hold before the referendum passes.
	pub confirm_period: BlockNumber,
	/// Minimum time between approval and enactment.
	pub min_enactment_period: BlockNumber,
	/// Time after which a referendum that never started deciding times out.
	pub undeciding_timeout: BlockNumber,
	/// Base period for which conviction-voting locks funds (multiplied by the conviction).
	pub vote_locking_period: BlockNumber,
}

impl<B: Copy + PartialOrd + From<u32>> GovernanceTimings<B> {
	/// Every period must be at least one block.
	pub fn is_valid(&self) -> bool {
		let one = B::from(1u32);
		[
			self.prepare_period,
			self.decision_period,
			self.confirm_period,
			self.min_enactment_period,
			self.undeciding_timeout,
			self.vote_locking_period,
		]
		.iter()
		.all(|p| *p >= one)
	}
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_system::pallet_prelude::*;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;
		/// Who may change the parameters (Root).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;
		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// The governance timings of this chain.
	#[pallet::storage]
	pub type Governance<T: Config> =
		StorageValue<_, GovernanceTimings<BlockNumberFor<T>>, OptionQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The chain's governance timings; `None` keeps [`Timings::DEFAULT`].
		pub governance: Option<GovernanceTimings<BlockNumberFor<T>>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if let Some(g) = self.governance {
				assert!(g.is_valid(), "chain-params: every governance period must be >= 1 block");
				Governance::<T>::put(g);
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// The governance timings changed; new decisions use them at once.
		GovernanceTimingsSet { timings: GovernanceTimings<BlockNumberFor<T>> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// A period was zero: every period must be at least one block.
		ZeroPeriod,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Replace the governance timings. Origin: [`Config::AdminOrigin`].
		/// Emits [`Event::GovernanceTimingsSet`].
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::set_governance_timings())]
		pub fn set_governance_timings(
			origin: OriginFor<T>,
			timings: GovernanceTimings<BlockNumberFor<T>>,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			ensure!(timings.is_valid(), Error::<T>::ZeroPeriod);
			Governance::<T>::put(timings);
			Self::deposit_event(Event::GovernanceTimingsSet { timings });
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
	/// Invariant: stored timings are valid.
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		if let Some(g) = Governance::<T>::get() {
			ensure!(g.is_valid(), "stored governance timings have a zero period");
		}
		Ok(())
	}
}

/// Reads the chain's timings, falling back to production defaults.
pub struct Timings<T>(core::marker::PhantomData<T>);
impl<T: Config> Timings<T>
where
	frame_system::pallet_prelude::BlockNumberFor<T>: From<u32>,
{
	/// Production defaults at 2 s blocks (30 blocks a minute): prepare 2 h, decide 14 days,
	/// confirm 1 day, enact after 1 day, time out after 14 days, lock votes 7 days.
	pub const DEFAULT: GovernanceTimings<u32> = GovernanceTimings {
		prepare_period: 2 * 60 * 30,
		decision_period: 14 * 24 * 60 * 30,
		confirm_period: 24 * 60 * 30,
		min_enactment_period: 24 * 60 * 30,
		undeciding_timeout: 14 * 24 * 60 * 30,
		vote_locking_period: 7 * 24 * 60 * 30,
	};

	/// The timings in force.
	pub fn get() -> GovernanceTimings<frame_system::pallet_prelude::BlockNumberFor<T>> {
		Governance::<T>::get().unwrap_or_else(|| {
			let d = Self::DEFAULT;
			GovernanceTimings {
				prepare_period: d.prepare_period.into(),
				decision_period: d.decision_period.into(),
				confirm_period: d.confirm_period.into(),
				min_enactment_period: d.min_enactment_period.into(),
				undeciding_timeout: d.undeciding_timeout.into(),
				vote_locking_period: d.vote_locking_period.into(),
			}
		})
	}
}

/// `Get` of the undeciding timeout, for `pallet_referenda::Config::UndecidingTimeout`.
pub struct UndecidingTimeout<T>(core::marker::PhantomData<T>);
impl<T: Config> Get<frame_system::pallet_prelude::BlockNumberFor<T>> for UndecidingTimeout<T>
where
	frame_system::pallet_prelude::BlockNumberFor<T>: From<u32>,
{
	fn get() -> frame_system::pallet_prelude::BlockNumberFor<T> {
		Timings::<T>::get().undeciding_timeout
	}
}

/// `Get` of the vote locking period, for `pallet_conviction_voting::Config::VoteLockingPeriod`.
pub struct VoteLockingPeriod<T>(core::marker::PhantomData<T>);
impl<T: Config> Get<frame_system::pallet_prelude::BlockNumberFor<T>> for VoteLockingPeriod<T>
where
	frame_system::pallet_prelude::BlockNumberFor<T>: From<u32>,
{
	fn get() -> frame_system::pallet_prelude::BlockNumberFor<T> {
		Timings::<T>::get().vote_locking_period
	}
}
