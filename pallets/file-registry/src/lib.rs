//! # File registry
//!
//! Which files exist, who owns them, who holds their replicas and who paid for what
//! (whitepaper §3.2, §4.2). Paths stay off chain; the chain keeps what money depends on.
//!
//! * **Traffic credit** (bytes of download) is bought with tokens on Stratos' curve:
//!   `purchased = Lt · X / (S + Pt + X)`, with `Lt` the remaining [`CreditLimit`], `S` the
//!   nodes' total stake ([`NodeRegistry::total_staked`]), `Pt` the [`PrepaidPool`] and `X`
//!   the tokens paid (ADR 0009). The tokens go to the pool. Credit is **reserved** for a
//!   download (a meta node issues a download ticket only against reserved credit) and
//!   **spent** when Proof-of-Traffic settles the traffic ([`TrafficCredit::charge_reserved`]);
//!   spent credit flows back into `Lt`, so `Lt + Σ credit + Σ reserved` is conserved
//!   ([`CreditSupply`]). Credit keeps the price it was bought at ([`CreditValue`]: tokens
//!   paid for the credit an account still holds); spending credit **burns** its share of
//!   that value from the pool, and Proof-of-Traffic caps rewards by it (ADR 0010).
//! * **File records** are keyed by (owner, file id) so equal content from two owners never
//!   collides. A record is created, and later re-homed, when a quorum of meta nodes votes
//!   for the exact same proposal; each meta node votes only after checking the upload's
//!   signed receipts itself. Holders are distinct active resource nodes. Owners delete
//!   their files.
//! * **Storage fees**: every storage period the owner owes `size · StorageFeePerGiB / GiB`
//!   per file, paid to the holders pro rata to the bytes they hold (equal shares: every
//!   holder holds the whole file), except holders found failing a storage challenge in that
//!   period ([`Config::Challenges`]). Settlement is lazy ([`Pallet::settle_storage`], and
//!   before every holder change or deletion) and bounded (`MaxSettlePeriods` per call). An
//!   owner who cannot pay enters a grace period; after `GracePeriods` unpaid periods the
//!   file expires and [`Event::FileExpired`] tells the meta nodes to drop it.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, Mutate},
		tokens::{Fortitude, Preservation},
	},
	CloneNoBound, DebugNoBound, EqNoBound, PalletId, PartialEqNoBound,
};
use frame_system::pallet_prelude::*;
use pallet_node_registry::{MetaVote, NodeRegistry, VoteError};
use scale_info::TypeInfo;
use sp_runtime::{
	traits::{AccountIdConversion, Saturating, Zero},
	Rounding, SaturatedConversion,
};
use stratos_primitives::FileId;

pub use pallet::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod migrations;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

/// The currency's balance type.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// A meta-node vote of this runtime.
pub type VoteOf<T> = MetaVote<
	<T as frame_system::Config>::AccountId,
	BlockNumberFor<T>,
	<<T as Config>::Nodes as NodeRegistry<<T as frame_system::Config>::AccountId>>::MaxMetaNodes,
>;

/// The holders of a file.
pub type HoldersOf<T> =
	BoundedVec<<T as frame_system::Config>::AccountId, <T as Config>::MaxHolders>;

pub use pallet_node_registry::GIB;

/// The most votes one [`Pallet::vote_batch`] carries.
pub const MAX_VOTE_BATCH: u32 = 64;

/// A file on chain.
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct FileRecord<T: Config> {
	/// Bytes of content.
	pub size: u64,
	/// Number of slices.
	pub slices: u32,
	/// The resource nodes holding a replica (distinct).
	pub holders: HoldersOf<T>,
	/// Block the record was created at.
	pub created: BlockNumberFor<T>,
	/// Storage periods before this one are paid (or were free).
	pub paid_through: u32,
}

/// What the meta nodes vote on.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub enum FileProposal<T: Config> {
	/// An upload is complete: record the file.
	Create { owner: T::AccountId, file_id: FileId, size: u64, slices: u32, holders: HoldersOf<T> },
	/// Replace a file's holders (repair, draining a node).
	SetHolders { owner: T::AccountId, file_id: FileId, holders: HoldersOf<T> },
}

/// Credit reserved for downloads.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ReservedCredit<BlockNumber> {
	/// Bytes reserved.
	pub bytes: u128,
	/// The reservation cannot be released before this block (tickets issued against it
	/// are settled by then).
	pub locked_until: BlockNumber,
}

/// What a resource node holds.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct HolderStat {
	/// Replicas held.
	pub replicas: u32,
	/// Bytes held.
	pub bytes: u64,
}

/// Whether a holder failed a storage challenge in a storage period (the challenge pallet of
/// a later release implements it; `()` reports no failures).
pub trait StorageChallenges<AccountId> {
	/// `holder` failed a challenge in storage period `period`.
	fn failed(holder: &AccountId, period: u32) -> bool;
}

impl<AccountId> StorageChallenges<AccountId> for () {
	fn failed(_: &AccountId, _: u32) -> bool {
		false
	}
}

/// What Proof-of-Traffic uses of this pallet.
pub trait TrafficCredit<AccountId> {
	/// Credit `who` has reserved for downloads.
	fn reserved(who: &AccountId) -> u128;
	/// Spend `bytes` of `who`'s reserved credit for settled traffic (all or nothing). The
	/// tokens paid for that credit (its share of the account's [`CreditValue`]) are burned
	/// from the pool; returns how many.
	fn charge_reserved(who: &AccountId, bytes: u128) -> Result<u128, DispatchError>;
	/// Give back up to `bytes` of charged credit to `who` (a charge reversed after an upheld
	/// dispute), as spendable credit. Returns the bytes given back: at most what is still
	/// for sale, since charged credit went back there.
	fn refund_charge(who: &AccountId, bytes: u128) -> u128;
	/// The holders of `owner`'s file `file_id`.
	fn holders(owner: &AccountId, file_id: &FileId) -> Option<Vec<AccountId>>;
	/// Benchmarks: give `who` `bytes` of reserved credit (growing the supply by as much),
	/// bought at one balance unit per byte (the tokens are minted into the pool).
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_reserve(who: &AccountId, bytes: u128);
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;

	/// v1: credit keeps its purchase price ([`CreditValue`], [`crate::migrations::v1`]).
	pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency fees and credit are paid in.
		type Currency: Inspect<Self::AccountId> + Mutate<Self::AccountId>;

		/// The node registry: active nodes, the meta set, total stake.
		type Nodes: NodeRegistry<Self::AccountId, Balance = BalanceOf<Self>>;

		/// Storage-challenge outcomes.
		type Challenges: StorageChallenges<Self::AccountId>;

		/// Who may change the credit supply (Root).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The prepaid pool's account.
		#[pallet::constant]
		type PalletId: Get<PalletId>;
		/// Most holders of one file.
		#[pallet::constant]
		type MaxHolders: Get<u32>;
		/// Storage fee per GiB of content per storage period.
		#[pallet::constant]
		type StorageFeePerGiB: Get<BalanceOf<Self>>;
		/// Unpaid storage periods before a file expires.
		#[pallet::constant]
		type GracePeriods: Get<u32>;
		/// Most storage periods one `settle_storage` call settles.
		#[pallet::constant]
		type MaxSettlePeriods: Get<u32>;
		/// Blocks a file vote lives: an older one no longer counts, a new vote opens over the
		/// current meta set, and anyone may prune it.
		#[pallet::constant]
		type VoteTtl: Get<BlockNumberFor<Self>>;

		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Files by owner and id.
	#[pallet::storage]
	pub type Files<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		FileId,
		FileRecord<T>,
	>;

	/// Replicas and bytes each resource node holds.
	#[pallet::storage]
	pub type HolderStats<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, HolderStat, ValueQuery>;

	/// Open votes of the meta nodes, by the blake2-256 hash of the encoded proposal.
	#[pallet::storage]
	pub type FileVotes<T: Config> = StorageMap<_, Identity, [u8; 32], (FileProposal<T>, VoteOf<T>)>;

	/// Download credit (bytes) each account can reserve.
	#[pallet::storage]
	pub type Credit<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u128, ValueQuery>;

	/// Credit reserved for downloads.
	#[pallet::storage]
	pub type Reserved<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, ReservedCredit<BlockNumberFor<T>>>;

	/// `Lt`: credit (bytes) still for sale.
	#[pallet::storage]
	pub type CreditLimit<T: Config> = StorageValue<_, u128, ValueQuery>;

	/// All credit in existence: `CreditLimit + Σ Credit + Σ Reserved`.
	#[pallet::storage]
	pub type CreditSupply<T: Config> = StorageValue<_, u128, ValueQuery>;

	/// `Pt`: tokens paid for credit, held by the pool account.
	#[pallet::storage]
	pub type PrepaidPool<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// Tokens each account paid for the credit it still holds (spendable and reserved):
	/// credit keeps its purchase price. `Σ CreditValue ≤ PrepaidPool`.
	#[pallet::storage]
	pub type CreditValue<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, BalanceOf<T>, ValueQuery>;

	/// Storage period length in blocks, set per chain in genesis.
	#[pallet::storage]
	pub type StoragePeriod<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery>;

	/// Fewest distinct holders a file may have (genesis; governance may change it): with
	/// one holder a self-downloader could hold the only copy and serve itself.
	#[pallet::storage]
	pub type MinHolders<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// Blocks a reservation stays locked after it was made, set per chain in genesis.
	#[pallet::storage]
	pub type ReserveLock<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery>;

	#[pallet::genesis_config]
	pub struct GenesisConfig<T: Config> {
		/// Storage period in blocks (at least 1).
		pub storage_period: BlockNumberFor<T>,
		/// Reservation lock in blocks.
		pub reserve_lock: BlockNumberFor<T>,
		/// Total credit (bytes), all of it for sale at genesis.
		pub credit_supply: u128,
		/// Fewest distinct holders of a file (1..=MaxHolders; 3 is the replica floor).
		pub min_holders: u32,
	}

	impl<T: Config> Default for GenesisConfig<T> {
		fn default() -> Self {
			Self {
				storage_period: 100u32.into(),
				reserve_lock: 100u32.into(),
				credit_supply: 0,
				min_holders: 3,
			}
		}
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			assert!(!self.storage_period.is_zero(), "file-registry: storage_period must be > 0");
			StoragePeriod::<T>::put(self.storage_period);
			ReserveLock::<T>::put(self.reserve_lock);
			CreditSupply::<T>::put(self.credit_supply);
			CreditLimit::<T>::put(self.credit_supply);
			assert!(
				(1..=T::MaxHolders::get()).contains(&self.min_holders),
				"file-registry: min_holders must be within 1..=MaxHolders"
			);
			MinHolders::<T>::put(self.min_holders);
			// The pool account exists from genesis (it must hold the existential deposit).
			let pool = Pallet::<T>::pool_account();
			if T::Currency::balance(&pool).is_zero() {
				let _ = T::Currency::mint_into(&pool, T::Currency::minimum_balance());
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `who` paid `paid` into the prepaid pool for `credit` bytes of download credit.
		CreditPurchased { who: T::AccountId, paid: BalanceOf<T>, credit: u128 },
		/// `who` reserved `bytes` of credit for downloads, locked until `locked_until`.
		CreditReserved { who: T::AccountId, bytes: u128, locked_until: BlockNumberFor<T> },
		/// `who` released `bytes` of reserved credit back to its credit.
		CreditReleased { who: T::AccountId, bytes: u128 },
		/// `bytes` of `who`'s reserved credit paid for settled traffic; the `burned` tokens
		/// paid for them left the pool.
		CreditCharged { who: T::AccountId, bytes: u128, burned: BalanceOf<T> },
		/// The credit supply changed; `limit` is for sale now.
		CreditSupplySet { supply: u128, limit: u128 },
		/// A meta node voted for a proposal.
		FileVoted { proposal: [u8; 32], voter: T::AccountId, ayes: u32, members: u32 },
		/// A file was recorded (upload complete).
		FileCreated { owner: T::AccountId, file_id: FileId, size: u64, holders: Vec<T::AccountId> },
		/// A file's holders changed.
		HoldersChanged { owner: T::AccountId, file_id: FileId, holders: Vec<T::AccountId> },
		/// The owner deleted a file: holders may drop it.
		FileDeleted { owner: T::AccountId, file_id: FileId },
		/// Storage fees for `periods` periods were paid: `paid` in total.
		StorageFeePaid { owner: T::AccountId, file_id: FileId, periods: u32, paid: BalanceOf<T> },
		/// The owner could not pay a storage period: the file is in its grace period.
		StorageFeeMissed { owner: T::AccountId, file_id: FileId, unpaid_periods: u32 },
		/// The grace period ended unpaid: the file is gone, holders may drop it.
		FileExpired { owner: T::AccountId, file_id: FileId },
		/// Vote `index` of a [`Pallet::vote_batch`] was refused (the others counted).
		VoteRefused { voter: T::AccountId, index: u32, error: DispatchError },
		/// Governance changed the fewest holders a file may have.
		MinHoldersSet { min_holders: u32 },
		/// `bytes` of charged credit given back to `who` (an upheld traffic dispute).
		CreditRefunded { who: T::AccountId, bytes: u128 },
		/// An expired file vote was removed.
		FileVotePruned { proposal: [u8; 32] },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The amount is zero.
		ZeroAmount,
		/// Free balance cannot cover the amount (the account must stay alive).
		InsufficientBalance,
		/// The purchase would give less credit than `min_credit` (the price moved).
		CreditBelowMinimum,
		/// No credit is for sale, or the amount buys less than one byte.
		CreditExhausted,
		/// Not enough unreserved credit: buy more.
		InsufficientCredit,
		/// Not that much credit is reserved.
		InsufficientReserved,
		/// The reservation is still locked (download tickets may be outstanding).
		ReservationLocked,
		/// The new supply is smaller than the credit already sold.
		SupplyBelowOutstanding,
		/// The caller is not an active meta node.
		NotActiveMeta,
		/// The voter was not in the active meta set when this vote opened.
		NotInVoteSnapshot,
		/// The voter has voted for this proposal already.
		AlreadyVoted,
		/// The owner has a file with this id already.
		FileExists,
		/// No such file for this owner.
		UnknownFile,
		/// Size and slice count must be positive, with at most one slice per byte.
		BadFileShape,
		/// A file needs at least one holder, and at most `MaxHolders`.
		BadHolderCount,
		/// A holder appears twice.
		DuplicateHolder,
		/// A holder is not an active resource node.
		InactiveHolder,
		/// The new holders are the current ones.
		SameHolders,
		/// A batch of votes must hold at least one vote.
		EmptyBatch,
		/// Fewer distinct holders than the chain's minimum ([`MinHolders`]).
		TooFewHolders,
		/// No such vote is stored.
		NoSuchVote,
		/// The vote has not outlived its time-to-live yet.
		VoteNotExpired,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Buy download credit: pay `amount` into the prepaid pool for
		/// `CreditLimit · amount / (total stake + pool + amount)` bytes, at least
		/// `min_credit` (or nothing happens).
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::buy_credit())]
		pub fn buy_credit(
			origin: OriginFor<T>,
			amount: BalanceOf<T>,
			min_credit: u128,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			let free =
				T::Currency::reducible_balance(&who, Preservation::Preserve, Fortitude::Polite);
			ensure!(free >= amount, Error::<T>::InsufficientBalance);
			let credit = Self::quote(amount);
			ensure!(credit > 0, Error::<T>::CreditExhausted);
			ensure!(credit >= min_credit, Error::<T>::CreditBelowMinimum);

			T::Currency::transfer(&who, &Self::pool_account(), amount, Preservation::Preserve)?;
			PrepaidPool::<T>::mutate(|p| *p = p.saturating_add(amount));
			CreditLimit::<T>::mutate(|l| *l = l.saturating_sub(credit));
			Credit::<T>::mutate(&who, |c| *c = c.saturating_add(credit));
			CreditValue::<T>::mutate(&who, |v| *v = v.saturating_add(amount));
			Self::deposit_event(Event::CreditPurchased { who, paid: amount, credit });
			Ok(())
		}

		/// Reserve `bytes` of credit for downloads. Meta nodes issue download tickets only
		/// against reserved credit; the reservation (all of it) is locked for `ReserveLock`
		/// blocks from now.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::reserve_credit())]
		pub fn reserve_credit(origin: OriginFor<T>, bytes: u128) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(bytes > 0, Error::<T>::ZeroAmount);
			let credit = Credit::<T>::get(&who);
			ensure!(credit >= bytes, Error::<T>::InsufficientCredit);

			let locked_until =
				frame_system::Pallet::<T>::block_number().saturating_add(ReserveLock::<T>::get());
			Self::set_credit(&who, credit - bytes);
			let mut r = Reserved::<T>::get(&who).unwrap_or_default();
			r.bytes = r.bytes.saturating_add(bytes);
			r.locked_until = locked_until;
			Reserved::<T>::insert(&who, r);
			Self::deposit_event(Event::CreditReserved { who, bytes, locked_until });
			Ok(())
		}

		/// Return `bytes` of reserved credit to the account's credit, once the lock ended.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::release_credit())]
		pub fn release_credit(origin: OriginFor<T>, bytes: u128) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(bytes > 0, Error::<T>::ZeroAmount);
			let r = Reserved::<T>::get(&who).unwrap_or_default();
			ensure!(r.bytes >= bytes, Error::<T>::InsufficientReserved);
			ensure!(
				frame_system::Pallet::<T>::block_number() >= r.locked_until,
				Error::<T>::ReservationLocked
			);

			Self::set_reserved(&who, ReservedCredit { bytes: r.bytes - bytes, ..r });
			Credit::<T>::mutate(&who, |c| *c = c.saturating_add(bytes));
			Self::deposit_event(Event::CreditReleased { who, bytes });
			Ok(())
		}

		/// Vote (as an active meta node) that `owner`'s upload of `file_id` is complete with
		/// these holders. At quorum the file is recorded; storage fees run from the next
		/// storage period. A vote that counts is free; a refused one pays its fee.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::vote_create_file(T::MaxHolders::get()))]
		pub fn vote_create_file(
			origin: OriginFor<T>,
			owner: T::AccountId,
			file_id: FileId,
			size: u64,
			slices: u32,
			holders: Vec<T::AccountId>,
		) -> DispatchResultWithPostInfo {
			let voter = ensure_signed(origin)?;
			let holders = BoundedVec::try_from(holders).map_err(|_| Error::<T>::BadHolderCount)?;
			Self::vote_on(voter, FileProposal::Create { owner, file_id, size, slices, holders })?;
			Ok(Pays::No.into())
		}

		/// Vote (as an active meta node) to replace the holders of `owner`'s `file_id`. At
		/// quorum, fees due are settled with the old holders, then the new ones hold it. A
		/// vote that counts is free; a refused one pays its fee.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::vote_set_holders(
			T::MaxHolders::get(),
			T::MaxSettlePeriods::get()
		))]
		pub fn vote_set_holders(
			origin: OriginFor<T>,
			owner: T::AccountId,
			file_id: FileId,
			holders: Vec<T::AccountId>,
		) -> DispatchResultWithPostInfo {
			let voter = ensure_signed(origin)?;
			let holders = BoundedVec::try_from(holders).map_err(|_| Error::<T>::BadHolderCount)?;
			Self::vote_on(voter, FileProposal::SetHolders { owner, file_id, holders })?;
			Ok(Pays::No.into())
		}

		/// Delete one of the caller's files. Fees due are settled first (as far as the owner
		/// can pay); holders may drop the data on [`Event::FileDeleted`].
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::delete_file(
			T::MaxHolders::get(),
			T::MaxSettlePeriods::get()
		))]
		pub fn delete_file(origin: OriginFor<T>, file_id: FileId) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			let record = Files::<T>::get(&owner, file_id).ok_or(Error::<T>::UnknownFile)?;

			if let Some(record) = Self::do_settle(&owner, file_id, record)? {
				Self::remove_file(&owner, file_id, &record);
				Self::deposit_event(Event::FileDeleted { owner, file_id });
			}
			Ok(())
		}

		/// Settle the storage fees of `owner`'s `file_id` due for past storage periods (at
		/// most `MaxSettlePeriods` per call). Anyone may call it; holders have the reason to.
		/// A file whose owner left `GracePeriods` periods unpaid expires.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::settle_storage(
			T::MaxHolders::get(),
			T::MaxSettlePeriods::get()
		))]
		pub fn settle_storage(
			origin: OriginFor<T>,
			owner: T::AccountId,
			file_id: FileId,
		) -> DispatchResult {
			ensure_signed(origin)?;
			let record = Files::<T>::get(&owner, file_id).ok_or(Error::<T>::UnknownFile)?;
			if let Some(record) = Self::do_settle(&owner, file_id, record)? {
				Files::<T>::insert(&owner, file_id, record);
			}
			Ok(())
		}

		/// Set the total credit supply (origin: `AdminOrigin`); what is not sold is for sale.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::set_credit_supply())]
		pub fn set_credit_supply(origin: OriginFor<T>, supply: u128) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			let outstanding = CreditSupply::<T>::get().saturating_sub(CreditLimit::<T>::get());
			ensure!(supply >= outstanding, Error::<T>::SupplyBelowOutstanding);

			let limit = supply - outstanding;
			CreditSupply::<T>::put(supply);
			CreditLimit::<T>::put(limit);
			Self::deposit_event(Event::CreditSupplySet { supply, limit });
			Ok(())
		}

		/// Set the fewest distinct holders a file may have (origin: `AdminOrigin`), within
		/// `1..=MaxHolders`. Applies to files recorded or re-homed afterwards.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::set_min_holders())]
		pub fn set_min_holders(origin: OriginFor<T>, min_holders: u32) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			ensure!((1..=T::MaxHolders::get()).contains(&min_holders), Error::<T>::BadHolderCount);
			MinHolders::<T>::put(min_holders);
			Self::deposit_event(Event::MinHoldersSet { min_holders });
			Ok(())
		}

		/// Remove an expired file vote (one that opened `VoteTtl` or more blocks ago), by the
		/// hash of its proposal. Anyone may; free when it prunes.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::prune_file_vote())]
		pub fn prune_file_vote(
			origin: OriginFor<T>,
			proposal: [u8; 32],
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			let (_, vote) = FileVotes::<T>::get(proposal).ok_or(Error::<T>::NoSuchVote)?;
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(vote.expired(now, T::VoteTtl::get()), Error::<T>::VoteNotExpired);
			FileVotes::<T>::remove(proposal);
			Self::deposit_event(Event::FileVotePruned { proposal });
			Ok(Pays::No.into())
		}

		/// Cast several votes (as an active meta node) in one extrinsic, in order: what a
		/// meta node that recorded or re-homed many files at once submits. Each vote is
		/// applied on its own: one that is refused is reported as [`Event::VoteRefused`] and
		/// rolled back, the others count. Free when every vote counts. Its weight is the sum
		/// of the benchmarked weights of the single votes.
		#[pallet::call_index(8)]
		#[pallet::weight(Pallet::<T>::batch_weight(votes))]
		pub fn vote_batch(
			origin: OriginFor<T>,
			votes: BoundedVec<FileProposal<T>, ConstU32<MAX_VOTE_BATCH>>,
		) -> DispatchResultWithPostInfo {
			let voter = ensure_signed(origin)?;
			ensure!(!votes.is_empty(), Error::<T>::EmptyBatch);
			ensure!(T::Nodes::is_active_meta(&voter), Error::<T>::NotActiveMeta);

			let mut refused = 0u32;
			for (index, proposal) in votes.into_iter().enumerate() {
				let counted = frame_support::storage::with_storage_layer(|| {
					Self::vote_on(voter.clone(), proposal)
				});
				if let Err(error) = counted {
					refused += 1;
					Self::deposit_event(Event::VoteRefused {
						voter: voter.clone(),
						index: index as u32,
						error,
					});
				}
			}
			Ok(if refused == 0 { Pays::No } else { Pays::Yes }.into())
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
	/// The prepaid pool's account.
	pub fn pool_account() -> T::AccountId {
		T::PalletId::get().into_account_truncating()
	}

	/// Credit (bytes) `amount` buys now: `Lt · X / (S + Pt + X)`, rounded down.
	pub fn quote(amount: BalanceOf<T>) -> u128 {
		let lt = CreditLimit::<T>::get();
		let x: u128 = amount.saturated_into();
		let s: u128 = T::Nodes::total_staked().saturated_into();
		let pt: u128 = PrepaidPool::<T>::get().saturated_into();
		let denom = s.saturating_add(pt).saturating_add(x);
		if denom == 0 {
			return 0;
		}
		sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(lt, x, denom, Rounding::Down)
			.unwrap_or(0)
	}

	/// The storage period `block` falls in.
	pub fn period_of(block: BlockNumberFor<T>) -> u32 {
		let len = StoragePeriod::<T>::get();
		if len.is_zero() {
			return 0;
		}
		(block / len).saturated_into()
	}

	/// Storage fee of a file of `size` bytes for one period.
	pub fn fee_per_period(size: u64) -> BalanceOf<T> {
		let per_gib: u128 = T::StorageFeePerGiB::get().saturated_into();
		(per_gib.saturating_mul(size as u128) / GIB as u128).saturated_into()
	}

	fn set_credit(who: &T::AccountId, credit: u128) {
		if credit == 0 {
			Credit::<T>::remove(who);
		} else {
			Credit::<T>::insert(who, credit);
		}
	}

	fn set_reserved(who: &T::AccountId, r: ReservedCredit<BlockNumberFor<T>>) {
		if r.bytes == 0 {
			Reserved::<T>::remove(who);
		} else {
			Reserved::<T>::insert(who, r);
		}
	}

	/// Holders must be 1..=MaxHolders distinct active resource nodes.
	fn check_holders(holders: Vec<T::AccountId>) -> Result<HoldersOf<T>, DispatchError> {
		ensure!(
			!holders.is_empty() && holders.len() as u32 <= T::MaxHolders::get(),
			Error::<T>::BadHolderCount
		);
		for (i, h) in holders.iter().enumerate() {
			ensure!(!holders[..i].contains(h), Error::<T>::DuplicateHolder);
			ensure!(T::Nodes::is_active_resource(h), Error::<T>::InactiveHolder);
		}
		ensure!(holders.len() as u32 >= MinHolders::<T>::get(), Error::<T>::TooFewHolders);
		Ok(BoundedVec::truncate_from(holders))
	}

	/// The weight of a batch of votes: the sum of the single votes' weights.
	pub fn batch_weight(votes: &[FileProposal<T>]) -> Weight {
		votes.iter().fold(Weight::zero(), |w, p| {
			w.saturating_add(match p {
				FileProposal::Create { holders, .. } => {
					T::WeightInfo::vote_create_file(holders.len() as u32)
				},
				FileProposal::SetHolders { holders, .. } => T::WeightInfo::vote_set_holders(
					holders.len() as u32,
					T::MaxSettlePeriods::get(),
				),
			})
		})
	}

	/// Checks `proposal` against the current records and counts `voter`'s vote for it.
	fn vote_on(voter: T::AccountId, proposal: FileProposal<T>) -> DispatchResult {
		match &proposal {
			FileProposal::Create { owner, file_id, size, slices, holders } => {
				ensure!(!Files::<T>::contains_key(owner, file_id), Error::<T>::FileExists);
				ensure!(
					*size > 0 && *slices > 0 && *slices as u64 <= *size,
					Error::<T>::BadFileShape
				);
				Self::check_holders(holders.to_vec())?;
			},
			FileProposal::SetHolders { owner, file_id, holders } => {
				let record = Files::<T>::get(owner, file_id).ok_or(Error::<T>::UnknownFile)?;
				Self::check_holders(holders.to_vec())?;
				ensure!(*holders != record.holders, Error::<T>::SameHolders);
			},
		}
		Self::vote(voter, proposal)
	}

	/// Counts `voter`'s vote for `proposal`; applies it at quorum.
	fn vote(voter: T::AccountId, proposal: FileProposal<T>) -> DispatchResult {
		ensure!(T::Nodes::is_active_meta(&voter), Error::<T>::NotActiveMeta);
		let key = sp_io::hashing::blake2_256(&proposal.encode());
		let now = frame_system::Pallet::<T>::block_number();
		let mut vote = FileVotes::<T>::get(key)
			.map(|(_, v)| v)
			.filter(|v| !v.expired(now, T::VoteTtl::get()))
			.unwrap_or_else(|| VoteOf::<T>::open(T::Nodes::active_meta(), now));
		let reached = vote.cast(voter.clone()).map_err(|e| match e {
			VoteError::NotInSnapshot => Error::<T>::NotInVoteSnapshot,
			VoteError::AlreadyVoted => Error::<T>::AlreadyVoted,
		})?;

		Self::deposit_event(Event::FileVoted {
			proposal: key,
			voter,
			ayes: vote.ayes.len() as u32,
			members: vote.members.len() as u32,
		});
		if !reached {
			FileVotes::<T>::insert(key, (proposal, vote));
			return Ok(());
		}
		FileVotes::<T>::remove(key);
		match proposal {
			FileProposal::Create { owner, file_id, size, slices, holders } => {
				let now = frame_system::Pallet::<T>::block_number();
				let record = FileRecord {
					size,
					slices,
					holders,
					created: now,
					paid_through: Self::period_of(now).saturating_add(1),
				};
				Self::add_holdings(&record);
				Files::<T>::insert(&owner, file_id, &record);
				Self::deposit_event(Event::FileCreated {
					owner,
					file_id,
					size,
					holders: record.holders.into_inner(),
				});
			},
			FileProposal::SetHolders { owner, file_id, holders } => {
				let Some(record) = Files::<T>::get(&owner, file_id) else {
					// Deleted while the vote ran: nothing to re-home.
					return Ok(());
				};
				if let Some(mut record) = Self::do_settle(&owner, file_id, record)? {
					Self::remove_holdings(&record);
					record.holders = holders;
					Self::add_holdings(&record);
					Files::<T>::insert(&owner, file_id, &record);
					Self::deposit_event(Event::HoldersChanged {
						owner,
						file_id,
						holders: record.holders.into_inner(),
					});
				}
			},
		}
		Ok(())
	}

	fn add_holdings(record: &FileRecord<T>) {
		for h in record.holders.iter() {
			HolderStats::<T>::mutate(h, |s| {
				s.replicas = s.replicas.saturating_add(1);
				s.bytes = s.bytes.saturating_add(record.size);
			});
		}
	}

	fn remove_holdings(record: &FileRecord<T>) {
		for h in record.holders.iter() {
			HolderStats::<T>::mutate_exists(h, |s| {
				let mut stat = s.unwrap_or_default();
				stat.replicas = stat.replicas.saturating_sub(1);
				stat.bytes = stat.bytes.saturating_sub(record.size);
				*s = (stat.replicas > 0).then_some(stat);
			});
		}
	}

	fn remove_file(owner: &T::AccountId, file_id: FileId, record: &FileRecord<T>) {
		Self::remove_holdings(record);
		Files::<T>::remove(owner, file_id);
	}

	/// Pays the storage periods due (as many whole ones as the owner can, at most
	/// `MaxSettlePeriods`). Returns the updated record, or `None` if the file expired (it is
	/// removed then). Does not write the record.
	fn do_settle(
		owner: &T::AccountId,
		file_id: FileId,
		mut record: FileRecord<T>,
	) -> Result<Option<FileRecord<T>>, DispatchError> {
		let current = Self::period_of(frame_system::Pallet::<T>::block_number());
		let due = current.saturating_sub(record.paid_through).min(T::MaxSettlePeriods::get());
		if due == 0 {
			return Ok(Some(record));
		}
		let holders = record.holders.len() as u32;
		let share = Self::fee_per_period(record.size) / holders.into();
		let free = T::Currency::reducible_balance(owner, Preservation::Preserve, Fortitude::Polite);

		// Each period costs one share per holder that did not fail a challenge in it.
		let mut owed: Vec<(T::AccountId, BalanceOf<T>)> =
			record.holders.iter().map(|h| (h.clone(), Zero::zero())).collect();
		let mut total = BalanceOf::<T>::zero();
		let mut paid_periods = 0u32;
		for p in record.paid_through..record.paid_through + due {
			let earning: Vec<bool> =
				owed.iter().map(|(h, _)| !T::Challenges::failed(h, p)).collect();
			let cost = share.saturating_mul((earning.iter().filter(|e| **e).count() as u32).into());
			if total.saturating_add(cost) > free {
				break;
			}
			for ((_, amount), _) in owed.iter_mut().zip(&earning).filter(|(_, e)| **e) {
				*amount = amount.saturating_add(share);
			}
			total = total.saturating_add(cost);
			paid_periods += 1;
		}
		for (h, amount) in owed.iter().filter(|(_, a)| !a.is_zero()) {
			T::Currency::transfer(owner, h, *amount, Preservation::Preserve)?;
		}
		record.paid_through = record.paid_through.saturating_add(paid_periods);
		if paid_periods > 0 {
			Self::deposit_event(Event::StorageFeePaid {
				owner: owner.clone(),
				file_id,
				periods: paid_periods,
				paid: total,
			});
		}

		let unpaid = current.saturating_sub(record.paid_through);
		if paid_periods < due {
			Self::deposit_event(Event::StorageFeeMissed {
				owner: owner.clone(),
				file_id,
				unpaid_periods: unpaid,
			});
			if unpaid > T::GracePeriods::get() {
				Self::remove_file(owner, file_id, &record);
				Self::deposit_event(Event::FileExpired { owner: owner.clone(), file_id });
				return Ok(None);
			}
		}
		Ok(Some(record))
	}

	/// The invariants of this pallet's storage:
	///
	/// * credit is conserved: `CreditLimit + Σ Credit + Σ Reserved = CreditSupply`;
	/// * the pool account holds at least the prepaid pool, and the pool at least the value of
	///   all credit held;
	/// * every file has 1..=MaxHolders distinct holders, each a registered node, and a
	///   positive size and slice count;
	/// * `HolderStats` is exactly what the files imply.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::BTreeMap;
		let sold: u128 = Credit::<T>::iter_values()
			.chain(Reserved::<T>::iter_values().map(|r| r.bytes))
			.fold(0u128, |a, b| a.saturating_add(b));
		ensure!(
			CreditLimit::<T>::get().saturating_add(sold) == CreditSupply::<T>::get(),
			"credit is not conserved"
		);
		ensure!(Credit::<T>::iter_values().all(|c| c > 0), "zero credit entry");
		ensure!(Reserved::<T>::iter_values().all(|r| r.bytes > 0), "zero reservation entry");
		ensure!(
			T::Currency::balance(&Self::pool_account()) >= PrepaidPool::<T>::get(),
			"pool account holds less than the prepaid pool"
		);
		let mut value = BalanceOf::<T>::zero();
		for (who, v) in CreditValue::<T>::iter() {
			ensure!(!v.is_zero(), "zero credit-value entry");
			ensure!(
				Credit::<T>::contains_key(&who) || Reserved::<T>::contains_key(&who),
				"credit value without credit"
			);
			value = value.saturating_add(v);
		}
		ensure!(value <= PrepaidPool::<T>::get(), "more credit value than the pool holds");
		let mut stats: BTreeMap<T::AccountId, HolderStat> = BTreeMap::new();
		for (_, _, record) in Files::<T>::iter() {
			ensure!(record.size > 0 && record.slices > 0, "file without content");
			ensure!(!record.holders.is_empty(), "file without holders");
			for (i, h) in record.holders.iter().enumerate() {
				ensure!(!record.holders[..i].contains(h), "repeated holder");
				ensure!(T::Nodes::node_id(h).is_some(), "holder is not a registered node");
				let s = stats.entry(h.clone()).or_default();
				s.replicas += 1;
				s.bytes += record.size;
			}
		}
		let recorded: BTreeMap<T::AccountId, HolderStat> = HolderStats::<T>::iter().collect();
		ensure!(recorded == stats, "HolderStats differ from the files");
		Ok(())
	}
}

impl<T: Config> pallet_node_registry::HeldReplicas<T::AccountId> for Pallet<T> {
	fn replicas_held(who: &T::AccountId) -> u32 {
		HolderStats::<T>::get(who).replicas
	}
}

impl<T: Config> TrafficCredit<T::AccountId> for Pallet<T> {
	fn reserved(who: &T::AccountId) -> u128 {
		Reserved::<T>::get(who).map(|r| r.bytes).unwrap_or(0)
	}

	fn charge_reserved(who: &T::AccountId, bytes: u128) -> Result<u128, DispatchError> {
		let r = Reserved::<T>::get(who).unwrap_or_default();
		ensure!(r.bytes >= bytes, Error::<T>::InsufficientReserved);
		// The charged bytes' share of what the account paid for all the credit it holds.
		let held = r.bytes.saturating_add(Credit::<T>::get(who));
		let value: u128 = CreditValue::<T>::get(who).saturated_into();
		let spent = if bytes >= held {
			value
		} else {
			sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(
				value,
				bytes,
				held,
				Rounding::Down,
			)
			.unwrap_or(value)
		};
		let spent_balance: BalanceOf<T> = spent.saturated_into();
		let burned = if spent_balance.is_zero() {
			Zero::zero()
		} else {
			T::Currency::burn_from(
				&Self::pool_account(),
				spent_balance,
				Preservation::Preserve,
				frame_support::traits::tokens::Precision::Exact,
				Fortitude::Polite,
			)?
		};
		Self::set_reserved(who, ReservedCredit { bytes: r.bytes - bytes, ..r });
		CreditLimit::<T>::mutate(|l| *l = l.saturating_add(bytes));
		PrepaidPool::<T>::mutate(|p| *p = p.saturating_sub(burned));
		CreditValue::<T>::mutate_exists(who, |v| {
			let left = v.unwrap_or_default().saturating_sub(burned);
			*v = if left.is_zero() { None } else { Some(left) };
		});
		Self::deposit_event(Event::CreditCharged { who: who.clone(), bytes, burned });
		Ok(burned.saturated_into())
	}

	fn refund_charge(who: &T::AccountId, bytes: u128) -> u128 {
		let refund = bytes.min(CreditLimit::<T>::get());
		if refund > 0 {
			CreditLimit::<T>::mutate(|l| *l = l.saturating_sub(refund));
			Credit::<T>::mutate(who, |c| *c = c.saturating_add(refund));
			Self::deposit_event(Event::CreditRefunded { who: who.clone(), bytes: refund });
		}
		refund
	}

	fn holders(owner: &T::AccountId, file_id: &FileId) -> Option<Vec<T::AccountId>> {
		Files::<T>::get(owner, file_id).map(|r| r.holders.into_inner())
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_reserve(who: &T::AccountId, bytes: u128) {
		CreditSupply::<T>::mutate(|s| *s = s.saturating_add(bytes));
		let r = Reserved::<T>::get(who).unwrap_or_default();
		Self::set_reserved(who, ReservedCredit { bytes: r.bytes.saturating_add(bytes), ..r });
		let value: BalanceOf<T> = bytes.saturated_into();
		if T::Currency::mint_into(&Self::pool_account(), value).is_ok() {
			PrepaidPool::<T>::mutate(|p| *p = p.saturating_add(value));
			CreditValue::<T>::mutate(who, |v| *v = v.saturating_add(value));
		}
	}
}
