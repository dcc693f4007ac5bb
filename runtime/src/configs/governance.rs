//! OpenGov: referenda on a single Root track, conviction voting, and their timings.
//!
//! The approval and support curves are those of Polkadot's Root track; they are defined over
//! the *fraction* of the decision period elapsed, so a dev chain with a one-minute decision
//! period follows the same curves as the testnet. The periods themselves come from
//! `pallet-chain-params` (genesis, then Root).

use alloc::borrow::Cow;
use frame_support::{parameter_types, traits::ConstU32};

use frame_system::EnsureRoot;
use pallet_referenda::{Curve, Track, TrackInfo};
use sp_runtime::str_array as s;

use super::super::{
	AccountId, Balance, Balances, BlockNumber, OriginCaller, Preimage, Referenda, Runtime,
	RuntimeCall, RuntimeEvent, RuntimeOrigin, Scheduler, UNITS,
};

/// The only track: Root. Id 0 as on Polkadot.
pub const ROOT_TRACK: u16 = 0;

const fn percent(x: i32) -> sp_runtime::FixedI64 {
	sp_runtime::FixedI64::from_rational(x as u128, 100)
}

/// Polkadot's Root track curves: approval falls from 100% to 50% (reciprocal), support from 50%
/// to 0% (linear) over the decision period.
pub const ROOT_MIN_APPROVAL: Curve =
	Curve::make_reciprocal(4, 28, percent(80), percent(50), percent(100));
/// See [`ROOT_MIN_APPROVAL`].
pub const ROOT_MIN_SUPPORT: Curve = Curve::make_linear(28, 28, percent(0), percent(50));

/// Deposit to start deciding a Root referendum.
pub const ROOT_DECISION_DEPOSIT: Balance = 100_000 * UNITS;

/// The tracks, built from this chain's governance timings.
pub struct TracksInfo;
impl pallet_referenda::TracksInfo<Balance, BlockNumber> for TracksInfo {
	type Id = u16;
	type RuntimeOrigin = <RuntimeOrigin as frame_support::traits::OriginTrait>::PalletsOrigin;

	fn tracks() -> impl Iterator<Item = Cow<'static, Track<Self::Id, Balance, BlockNumber>>> {
		let t = pallet_chain_params::Timings::<Runtime>::get();
		core::iter::once(Cow::Owned(Track {
			id: ROOT_TRACK,
			info: TrackInfo {
				name: s("root"),
				max_deciding: 1,
				decision_deposit: ROOT_DECISION_DEPOSIT,
				prepare_period: t.prepare_period,
				decision_period: t.decision_period,
				confirm_period: t.confirm_period,
				min_enactment_period: t.min_enactment_period,
				min_approval: ROOT_MIN_APPROVAL,
				min_support: ROOT_MIN_SUPPORT,
			},
		}))
	}

	fn track_for(origin: &Self::RuntimeOrigin) -> Result<Self::Id, ()> {
		match origin {
			OriginCaller::system(frame_system::RawOrigin::Root) => Ok(ROOT_TRACK),
			_ => Err(()),
		}
	}
}

parameter_types! {
	/// Deposit to submit a referendum (returned when it ends well).
	pub const SubmissionDeposit: Balance = 10 * UNITS;
}

impl pallet_conviction_voting::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = pallet_conviction_voting::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	type Polls = Referenda;
	type MaxTurnout =
		frame_support::traits::tokens::currency::ActiveIssuanceOf<Balances, AccountId>;
	type MaxVotes = ConstU32<512>;
	type VoteLockingPeriod = pallet_chain_params::VoteLockingPeriod<Runtime>;
	type BlockNumberProvider = frame_system::Pallet<Runtime>;
	type VotingHooks = ();
}

impl pallet_referenda::Config for Runtime {
	type RuntimeCall = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = pallet_referenda::weights::SubstrateWeight<Runtime>;
	type Scheduler = Scheduler;
	type Currency = Balances;
	type SubmitOrigin = frame_system::EnsureSigned<AccountId>;
	type CancelOrigin = EnsureRoot<AccountId>;
	type KillOrigin = EnsureRoot<AccountId>;
	type Slash = super::storage::BurnSlash;
	type Votes = pallet_conviction_voting::VotesOf<Runtime>;
	type Tally = pallet_conviction_voting::TallyOf<Runtime>;
	type SubmissionDeposit = SubmissionDeposit;
	type MaxQueued = ConstU32<100>;
	type UndecidingTimeout = pallet_chain_params::UndecidingTimeout<Runtime>;
	type AlarmInterval = ConstU32<1>;
	type Tracks = TracksInfo;
	type Preimages = Preimage;
	type BlockNumberProvider = frame_system::Pallet<Runtime>;
}
