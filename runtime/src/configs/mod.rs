//! Each pallet's `Config` for the Stratos runtime.

pub mod governance;
pub mod storage;
mod system_weights;

use frame_support::dispatch::DispatchClass;
use frame_support::{
	derive_impl, parameter_types,
	traits::{
		fungible::HoldConsideration, ConstBool, ConstU128, ConstU32, ConstU64, ConstU8,
		EqualPrivilegeOnly, LinearStoragePrice, VariantCountOf,
	},
	weights::{constants::WEIGHT_REF_TIME_PER_SECOND, IdentityFee, Weight},
};
use frame_system::{limits::BlockLength, EnsureRoot};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_runtime::{
	traits::{ConvertInto, One, OpaqueKeys},
	Perbill,
};
use sp_version::RuntimeVersion;

use super::{
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, Nonce, PalletInfo, Preimage,
	Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin,
	RuntimeTask, Session, SessionKeys, System, ValidatorSet, CENTS, EXISTENTIAL_DEPOSIT,
	MILLI_CENTS, SLOT_DURATION, SS58_PREFIX, UNITS, VERSION,
};
use crate::weights::{block_weights::BlockExecutionWeight, extrinsic_weights::ExtrinsicBaseWeight};

/// Normal transactions may fill 75% of a block; the rest is kept for operational ones.
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

/// Share of a block's weight expected for `on_initialize` (what `with_sensible_defaults` uses).
const AVERAGE_ON_INITIALIZE_RATIO: Perbill = Perbill::from_percent(10);

/// Compute per block: 1 s of a 2 s slot (`docs/adr/0003-two-second-slots.md`), in weights
/// measured on this project's machine with a release build (`crate::weights`). The author
/// builds in at most 2/3 of the slot, and every other validator must import the block and
/// GRANDPA must gossip votes in the rest. The weights charge every storage access as a cold
/// RocksDB one, so a full block of transfers executes in about a third of its weight
/// (ADR 0003); a block of exactly-weighed extrinsics still leaves half the slot. Proof
/// size is unbounded: it measures the storage proof a parachain block ships to its relay
/// chain, and a solo chain ships none (its storage access is in the ref time already; the
/// block's bytes are bounded by [`RuntimeBlockLength`]).
pub const MAXIMUM_BLOCK_WEIGHT: Weight = Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND, u64::MAX);

parameter_types! {
	pub const BlockHashCount: BlockNumber = 2400;
	pub const Version: RuntimeVersion = VERSION;
	/// Block weights: 1 s of compute, no proof-size bound (a solo chain), with the block and
	/// extrinsic base costs measured here.
	pub RuntimeBlockWeights: frame_system::limits::BlockWeights =
		frame_system::limits::BlockWeights::builder()
			.base_block(BlockExecutionWeight::get())
			.for_class(DispatchClass::all(), |weights| {
				weights.base_extrinsic = ExtrinsicBaseWeight::get();
			})
			.for_class(DispatchClass::Normal, |weights| {
				weights.max_total = Some(NORMAL_DISPATCH_RATIO * MAXIMUM_BLOCK_WEIGHT);
			})
			.for_class(DispatchClass::Operational, |weights| {
				weights.max_total = Some(MAXIMUM_BLOCK_WEIGHT);
				// Operational transactions may use what normal ones leave.
				weights.reserved =
					Some(MAXIMUM_BLOCK_WEIGHT - NORMAL_DISPATCH_RATIO * MAXIMUM_BLOCK_WEIGHT);
			})
			.avg_block_initialization(AVERAGE_ON_INITIALIZE_RATIO)
			.build_or_panic();
	/// 5 MiB blocks: room for a runtime upgrade's preimage (about 1.5 MiB).
	pub RuntimeBlockLength: BlockLength =
		BlockLength::builder()
			.max_length(5 * 1024 * 1024)
			.modify_max_length_for_class(
				frame_support::dispatch::DispatchClass::Normal,
				|max| *max = NORMAL_DISPATCH_RATIO * *max,
			)
			.build();
	pub const SS58Prefix: u16 = SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	type DbWeight = crate::weights::db_weights::RocksDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
	type BaseCallFilter = IssuanceGuard;
	type SystemWeightInfo = system_weights::StratosSystemWeight<Runtime>;
	type ExtensionsWeightInfo = crate::weights::frame_system_extensions::WeightInfo<Runtime>;
}

impl pallet_timestamp::Config for Runtime {
	type Moment = u64;
	type OnTimestampSet = Aura;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = crate::weights::pallet_timestamp::WeightInfo<Runtime>;
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ();
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = pallet_pot::BurnAndNote<Runtime>;
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = crate::weights::pallet_balances::WeightInfo<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	pub FeeMultiplier: Multiplier = Multiplier::one();
	/// 0.1 milli-cent per byte of transaction.
	pub const TransactionByteFee: Balance = MILLI_CENTS / 10;
}

/// Fees: one planck per unit of ref-time weight and `TransactionByteFee` per byte. A transfer
/// (~200 µs, ~150 bytes) costs about 0.2 STOS cents. Fees are burned (no treasury yet) and
/// noted in the PoT issuance ledger.
impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, pallet_pot::BurnAndNote<Runtime>>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = frame_support::weights::ConstantMultiplier<Balance, TransactionByteFee>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = crate::weights::pallet_transaction_payment::WeightInfo<Runtime>;
}

/// Upper bound of Aura and GRANDPA authorities, and of the validator set.
pub const MAX_AUTHORITIES: u32 = 32;

impl pallet_authorship::Config for Runtime {
	type FindAuthor = pallet_session::FindAccountFromAuthorIndex<Self, Aura>;
	type EventHandler = storage::NoteAuthor;
}

impl pallet_validator_set::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type AdminOrigin = EnsureRoot<AccountId>;
	type KeysRegistry = SessionKeysRegistry;
	type MaxValidators = ConstU32<MAX_AUTHORITIES>;
	type MinValidators = ConstU32<1>;
	type WeightInfo = pallet_validator_set::weights::SubstrateWeight<Runtime>;
}

/// Whether an account has session keys: `pallet_session`'s registry, plus a way for the
/// validator-set benchmarks to give an account keys.
pub struct SessionKeysRegistry;
impl frame_support::traits::ValidatorRegistration<AccountId> for SessionKeysRegistry {
	fn is_registered(id: &AccountId) -> bool {
		<Session as frame_support::traits::ValidatorRegistration<AccountId>>::is_registered(id)
	}
}
#[cfg(feature = "runtime-benchmarks")]
impl pallet_validator_set::benchmarking::BenchmarkKeys<AccountId> for SessionKeysRegistry {
	fn register(who: &AccountId) {
		use sp_core::crypto::UncheckedFrom;
		let raw: [u8; 32] = *who.as_ref();
		let keys = SessionKeys {
			aura: sp_consensus_aura::sr25519::AuthorityId::unchecked_from(raw),
			grandpa: pallet_grandpa::AuthorityId::unchecked_from(raw),
		};
		pallet_session::NextKeys::<Runtime>::insert(who, keys);
	}
}

parameter_types! {
	/// Deposit held while an account has session keys registered (anti-spam).
	pub const SessionKeyDeposit: Balance = UNITS;
}

type Sessions = pallet_session::PeriodicSessions<
	pallet_validator_set::SessionLengthOf<Runtime>,
	frame_support::traits::ConstU32<0>,
>;

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = Sessions;
	type NextSessionRotation = Sessions;
	type SessionManager = pallet_session::historical::NoteHistoricalRoot<Runtime, SessionHistory>;
	type SessionHandler = <SessionKeys as OpaqueKeys>::KeyTypeIdProviders;
	type Keys = SessionKeys;
	type DisablingStrategy = ();
	type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	type KeyDeposit = SessionKeyDeposit;
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = sp_consensus_aura::sr25519::AuthorityId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

/// Sessions for which GRANDPA keeps the set id → session mapping and the historical session
/// roots are kept: an equivocation can be reported this many sessions late (a week of the
/// testnet's one-hour sessions).
pub const MAX_SET_ID_SESSION_ENTRIES: u32 = 168;

parameter_types! {
	/// Blocks an unsigned equivocation report stays valid in the pool.
	pub const ReportLongevity: u64 = super::DAYS as u64;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<{ MAX_SET_ID_SESSION_ENTRIES as u64 }>;
	type KeyOwnerProof = sp_session::MembershipProof;
	type EquivocationReportSystem = pallet_grandpa::EquivocationReportSystem<
		Self,
		super::Offences,
		super::Historical,
		ReportLongevity,
	>;
}

/// The validator set as `pallet_session::historical` wants it (each validator with its full
/// identification, `()`: there is no stake), pruning session roots older than
/// [`MAX_SET_ID_SESSION_ENTRIES`] as sessions end.
pub struct SessionHistory;
impl pallet_session::SessionManager<AccountId> for SessionHistory {
	fn new_session(new_index: u32) -> Option<alloc::vec::Vec<AccountId>> {
		<ValidatorSet as pallet_session::SessionManager<_>>::new_session(new_index)
	}
	fn new_session_genesis(new_index: u32) -> Option<alloc::vec::Vec<AccountId>> {
		<ValidatorSet as pallet_session::SessionManager<_>>::new_session_genesis(new_index)
	}
	fn start_session(start_index: u32) {
		<ValidatorSet as pallet_session::SessionManager<_>>::start_session(start_index)
	}
	fn end_session(end_index: u32) {
		<ValidatorSet as pallet_session::SessionManager<_>>::end_session(end_index)
	}
}
impl pallet_session::historical::SessionManager<AccountId, ()> for SessionHistory {
	fn new_session(new_index: u32) -> Option<alloc::vec::Vec<(AccountId, ())>> {
		<ValidatorSet as pallet_session::historical::SessionManager<_, _>>::new_session(new_index)
	}
	fn new_session_genesis(new_index: u32) -> Option<alloc::vec::Vec<(AccountId, ())>> {
		<ValidatorSet as pallet_session::historical::SessionManager<_, _>>::new_session_genesis(
			new_index,
		)
	}
	fn start_session(start_index: u32) {
		<ValidatorSet as pallet_session::historical::SessionManager<_, _>>::start_session(
			start_index,
		)
	}
	fn end_session(end_index: u32) {
		if let Some(up_to) = end_index.checked_sub(MAX_SET_ID_SESSION_ENTRIES) {
			super::Historical::prune_up_to(up_to);
		}
		<ValidatorSet as pallet_session::historical::SessionManager<_, _>>::end_session(end_index)
	}
}

/// Every validator's full identification is `()` (see [`SessionHistory`]).
pub struct FullIdentificationOf;
impl sp_runtime::traits::Convert<AccountId, Option<()>> for FullIdentificationOf {
	fn convert(_: AccountId) -> Option<()> {
		Some(())
	}
}

impl pallet_session::historical::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type FullIdentification = ();
	type FullIdentificationOf = FullIdentificationOf;
}

impl pallet_offences::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type IdentificationTuple = pallet_session::historical::IdentificationTuple<Self>;
	/// Records the offence as `ValidatorSet::OffenceReported`; slashing stays with governance.
	type OnOffenceHandler = ValidatorSet;
}

/// Unsigned transactions the runtime itself creates: GRANDPA equivocation reports, submitted
/// by the node's voter through `GrandpaApi::submit_report_equivocation_unsigned_extrinsic`.
impl<C> frame_system::offchain::CreateTransactionBase<C> for Runtime
where
	RuntimeCall: From<C>,
{
	type Extrinsic = super::UncheckedExtrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<C> frame_system::offchain::CreateBare<C> for Runtime
where
	RuntimeCall: From<C>,
{
	fn create_bare(call: RuntimeCall) -> super::UncheckedExtrinsic {
		super::UncheckedExtrinsic::new_bare(call)
	}
}

parameter_types! {
	pub const PreimageBaseDeposit: Balance = UNITS;
	/// A 1.5 MiB runtime preimage holds about 160 STOS until it is used or unnoted.
	pub const PreimageByteDeposit: Balance = CENTS / 100;
	pub const PreimageHoldReason: RuntimeHoldReason =
		RuntimeHoldReason::Preimage(pallet_preimage::HoldReason::Preimage);
}

impl pallet_preimage::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = pallet_preimage::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	type ManagerOrigin = EnsureRoot<AccountId>;
	type Consideration = HoldConsideration<
		AccountId,
		Balances,
		PreimageHoldReason,
		LinearStoragePrice<PreimageBaseDeposit, PreimageByteDeposit, Balance>,
	>;
}

parameter_types! {
	/// Scheduled calls (enacted referenda) may use 80% of a block.
	pub MaximumSchedulerWeight: Weight =
		Perbill::from_percent(80) * RuntimeBlockWeights::get().max_block;
}

impl pallet_scheduler::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeOrigin = RuntimeOrigin;
	type PalletsOrigin = crate::OriginCaller;
	type RuntimeCall = RuntimeCall;
	type MaximumWeight = MaximumSchedulerWeight;
	type ScheduleOrigin = EnsureRoot<AccountId>;
	type OriginPrivilegeCmp = EqualPrivilegeOnly;
	type MaxScheduledPerBlock = ConstU32<50>;
	type WeightInfo = pallet_scheduler::weights::SubstrateWeight<Runtime>;
	type Preimages = Preimage;
	type BlockNumberProvider = System;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

impl pallet_chain_params::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type AdminOrigin = EnsureRoot<AccountId>;
	type WeightInfo = pallet_chain_params::weights::SubstrateWeight<Runtime>;
}

/// Calls that would change the total issuance behind the issuance ledger's back (PoT's
/// invariant: issuance = genesis + minted − burned, every burn noted) are not dispatchable.
/// Root through Sudo bypasses this filter, as it bypasses every other.
pub struct IssuanceGuard;
impl frame_support::traits::Contains<RuntimeCall> for IssuanceGuard {
	fn contains(call: &RuntimeCall) -> bool {
		!matches!(
			call,
			RuntimeCall::Balances(
				pallet_balances::Call::burn { .. }
					| pallet_balances::Call::force_set_balance { .. }
					| pallet_balances::Call::force_adjust_total_issuance { .. }
			)
		)
	}
}
