//! # Proof-of-Traffic
//!
//! The whitepaper's traffic economy (§3.2.1–3.2.2), per `docs/adr/0010-proof-of-traffic.md`:
//!
//! * **Ledger periods**: period `p` covers blocks `[p·L, (p+1)·L)`, `L` from genesis
//!   ([`Params`]). Each period's **issuance** comes from a table of decreasing tiers
//!   (by the total minted so far), plus whatever earlier periods carried over.
//! * **Reports**: once period `p` is over, its report opens (periods are reported strictly
//!   in order). The active meta set is snapshotted; each member **commits**
//!   `H(digest ‖ salt ‖ account)`, then **reveals** `(digest, salt)`. A digest revealed by a
//!   quorum of the snapshot (`3·votes ≥ 2·n`) is accepted; reveals that differ are recorded
//!   by [`Event::ReportMismatch`]. No quorum by the end of the reveal window: the period
//!   fails ([`Event::PeriodFailed`]), its issuance carries over, later periods go on.
//! * **Streaming**: the accepted digest is the head of a backward hash chain over the
//!   report's chunks ([`stratos_primitives::traffic::chunk_link`]). Reporters whose reveal
//!   matched submit the chunks in order; each is checked against the link the chain expects
//!   on arrival, so it is exactly what the quorum agreed to and is applied at once. Node
//!   entries come first, ranked by accumulated traffic (rolled over + this period), then
//!   clients by account; the chain checks the order, that no node repeats, and that every
//!   node with rolled-over traffic is listed. Client entries are charged from the clients'
//!   reserved credit.
//! * **Settlement** (at the last chunk): the first `N` eligible nodes (registered, not
//!   suspended, deposit not slashed below the required one) share the resource part pro rata to accumulated traffic; a paid node starts
//!   again from zero, the others roll over. A byte earns at most `k ×` the credit price per
//!   byte, and rewarded bytes never exceed bytes charged to clients (over the chain's
//!   life). The meta part is split equally among reporters whose reveal matched, the
//!   validator part among the period's block authors by blocks authored. Integer division
//!   rounds down; every remainder and whatever a cap holds back goes to the next period's
//!   issuance: nothing is created or lost. Only what is paid out is minted.
//! * **Rewards** mature `maturity` periods after the period they were earned in and are
//!   claimed with [`Pallet::claim_rewards`] (O(1): at most `maturity + 1` pending entries per
//!   account). Slashing debts are taken first and burned.
//!
//! Rolled-over traffic is versioned by the period that wrote it, so a report that fails
//! half-way through is undone in O(1): its writes are read as their previous values.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::{collections::BTreeMap, vec::Vec};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, Mutate},
		tokens::{Fortitude, Precision, Preservation},
		Imbalance, OnUnbalanced,
	},
	CloneNoBound, DebugNoBound, DefaultNoBound, EqNoBound, PalletId, PartialEqNoBound,
};
use frame_system::pallet_prelude::*;
use pallet_file_registry::TrafficCredit;
use pallet_node_registry::{NodeRegistry, NoteBurn};
use scale_info::TypeInfo;
use sp_runtime::{
	traits::{AccountIdConversion, Convert, Saturating, Zero},
	Perbill, Rounding, SaturatedConversion,
};
use stratos_primitives::{
	quorum::quorum_reached,
	traffic::{self, ClientTraffic, IngestError, NodeTraffic, ReportEntry, ReportIngest},
	Hash, NodeId,
};

pub use pallet::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

/// The balance type of the pallet's currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// Most issuance tiers.
pub const MAX_TIERS: u32 = 16;
/// Most periods a reward may take to mature.
pub const MAX_MATURITY: u32 = 64;

/// One issuance tier: while less than `minted_below` has been minted in total, each period
/// issues `per_period`. Past the last tier nothing new is issued (carried amounts still are).
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
)]
pub struct Tier<Balance> {
	/// The tier applies while total minted < this.
	pub minted_below: Balance,
	/// Issuance of each period in the tier.
	pub per_period: Balance,
}

/// The chain's PoT parameters (genesis; governance may change them with
/// [`Pallet::set_params`]).
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	PartialEq,
	Eq,
	Debug,
	Default,
)]
pub struct PotParams<Balance, BlockNumber> {
	/// Blocks per ledger period (`L`).
	pub period_length: BlockNumber,
	/// Blocks meta nodes have to commit after a report opens.
	pub commit_window: BlockNumber,
	/// Blocks they have to reveal after the commit phase ends.
	pub reveal_window: BlockNumber,
	/// Blocks after the reveal window to finish streaming the accepted report.
	pub stream_window: BlockNumber,
	/// How many nodes share the resource-node issuance (`N`).
	pub top_nodes: u32,
	/// Entries per report chunk: part of the digest, so all meta nodes must use it.
	pub chunk_size: u32,
	/// Periods before a reward may be claimed.
	pub maturity: u32,
	/// Part of each period's issuance for the matching reporters.
	pub meta_share: Perbill,
	/// Part for the block authors.
	pub validator_share: Perbill,
	/// `k`: a rewarded byte earns at most `k ×` the credit price per byte.
	pub wash_cap: Perbill,
	/// Issuance schedule, by total minted, ascending.
	pub tiers: BoundedVec<Tier<Balance>, ConstU32<MAX_TIERS>>,
}

/// Where a period's report stands.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
)]
pub enum PeriodStatus {
	/// Commit, reveal or streaming under way.
	Reporting,
	/// Settled: rewards recorded.
	Settled,
	/// No settlement; the issuance carried over.
	Failed(FailReason),
}

/// Why a period was not settled.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
)]
pub enum FailReason {
	/// No digest reached the quorum by the end of the reveal window.
	NoQuorum,
	/// The accepted report was not fully streamed in time.
	StreamTimeout,
	/// The accepted report breaks a rule (see [`InvalidReport`]).
	Invalid(InvalidReport),
}

/// What is wrong with an accepted report's content.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
)]
pub enum InvalidReport {
	/// Node entries are not in rank order.
	NodeOutOfOrder,
	/// A node entry after client entries.
	NodeAfterClients,
	/// Client entries not strictly ascending.
	ClientOutOfOrder,
	/// A node appears twice.
	DuplicateNode,
	/// A node neither registered nor carrying rolled-over traffic.
	UnknownNode,
	/// A node with rolled-over traffic is missing.
	Incomplete,
	/// A total overflows.
	Overflow,
}

impl From<IngestError> for InvalidReport {
	fn from(e: IngestError) -> Self {
		match e {
			IngestError::NodeOutOfOrder => Self::NodeOutOfOrder,
			IngestError::NodeAfterClients => Self::NodeAfterClients,
			IngestError::ClientOutOfOrder => Self::ClientOutOfOrder,
			IngestError::Overflow => Self::Overflow,
		}
	}
}

/// A node's traffic carried between periods, versioned by the report that wrote it: while
/// that report is not settled (under way, or failed) the value is `prev`.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RolledTraffic {
	/// The period whose report wrote this entry.
	pub period: u32,
	/// Bytes the node served in that period.
	pub bytes: u64,
	/// Accumulated traffic carried forward after that period (0 when it was paid).
	pub acc: u128,
	/// The carried traffic before that period.
	pub prev: u128,
}

/// Summary of one period, for explorers and the invariants.
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(S))]
#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen))]
pub struct PeriodInfo<AccountId, Balance, S: Get<u32>>
where
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	Balance: Clone + PartialEq + Eq + core::fmt::Debug,
{
	/// The period's issuance (its tier plus what earlier periods carried).
	pub issuance: Balance,
	/// The part of `issuance` carried in from earlier periods.
	pub carried_in: Balance,
	/// Where its report stands.
	pub status: PeriodStatus,
	/// The accepted digest.
	pub digest: Option<Hash>,
	/// Reporters whose reveal matched the accepted digest.
	pub reporters: BoundedVec<AccountId, S>,
	/// Paid to resource nodes.
	pub resource_paid: Balance,
	/// Paid to matching reporters.
	pub meta_paid: Balance,
	/// Paid to block authors.
	pub validator_paid: Balance,
	/// Carried to the next period.
	pub carried: Balance,
	/// Bytes served this period (Σ node entries).
	pub served_bytes: u128,
	/// Bytes charged to clients this period.
	pub charged_bytes: u128,
	/// Bytes rewarded (of the top nodes, within what was charged).
	pub rewarded_bytes: u128,
}

/// The report of the period being reported.
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(S, N))]
#[codec(mel_bound(AccountId: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct Report<AccountId, BlockNumber, S: Get<u32>, N: Get<u32>>
where
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
{
	/// The active meta set when the report opened (sorted): the electorate.
	pub electorate: BoundedVec<AccountId, S>,
	/// Commitments, in order.
	pub commits: BoundedVec<(AccountId, Hash), S>,
	/// Revealed digests, in order.
	pub reveals: BoundedVec<(AccountId, Hash), S>,
	/// Commits are taken until this block (exclusive).
	pub commit_until: BlockNumber,
	/// Set when the reveal phase starts: reveals are taken until this block.
	pub reveal_until: Option<BlockNumber>,
	/// The digest that reached the quorum, and the stream of its chunks.
	pub stream: Option<Stream<AccountId, N>>,
}

/// An accepted report being streamed.
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(N))]
#[codec(mel_bound(AccountId: MaxEncodedLen))]
pub struct Stream<AccountId, N: Get<u32>>
where
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
{
	/// The accepted digest.
	pub digest: Hash,
	/// The link the next chunk must produce.
	pub expected: Hash,
	/// Order and totals so far.
	pub ingest: ReportIngest,
	/// Chunks taken.
	pub chunks: u32,
	/// Nodes listed that had rolled-over traffic.
	pub rolled_seen: u32,
	/// Nodes that will carry traffic forward after this period.
	pub rolled_after: u32,
	/// The top eligible nodes so far, in rank order, with their accumulated traffic.
	pub top: BoundedVec<(AccountId, u128), N>,
	/// Bytes charged to clients so far.
	pub charged: u128,
}

/// An account's rewards: pending ones by the period they mature in, and matured ones.
#[derive(
	Encode,
	Decode,
	MaxEncodedLen,
	TypeInfo,
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	DefaultNoBound,
)]
#[codec(mel_bound(Balance: MaxEncodedLen))]
pub struct RewardLedger<Balance>
where
	Balance: Clone + PartialEq + Eq + core::fmt::Debug + Default,
{
	/// (ledger period it matures in, amount), ascending.
	pub pending: BoundedVec<(u32, Balance), ConstU32<{ MAX_MATURITY + 1 }>>,
	/// Claimable now.
	pub matured: Balance,
}

/// Rewards as polkadot-js shows them (runtime API).
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug, Default)]
pub struct RewardView<Balance> {
	/// Not yet claimable.
	pub pending: Balance,
	/// Claimable now.
	pub matured: Balance,
}

/// A node's traffic as polkadot-js shows it (runtime API).
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug, Default)]
pub struct NodeTrafficView {
	/// The last settled period that listed the node.
	pub period: Option<u32>,
	/// Bytes it served in that period.
	pub bytes: u64,
	/// Traffic carried into the next report (0 after being paid).
	pub rolled: u128,
}

type ReportOf<T> = Report<
	<T as frame_system::Config>::AccountId,
	BlockNumberFor<T>,
	MaxMetaOf<T>,
	<T as Config>::MaxTopNodes,
>;
type PeriodInfoOf<T> =
	PeriodInfo<<T as frame_system::Config>::AccountId, BalanceOf<T>, MaxMetaOf<T>>;
type MaxMetaOf<T> =
	<<T as Config>::Nodes as NodeRegistry<<T as frame_system::Config>::AccountId>>::MaxMetaNodes;
/// The parameters' type in a runtime.
pub type ParamsOf<T> = PotParams<BalanceOf<T>, BlockNumberFor<T>>;

sp_api::decl_runtime_apis! {
	/// What polkadot-js needs beyond plain storage: values that depend on the current period.
	pub trait PotApi<AccountId, Balance> where
		AccountId: codec::Codec,
		Balance: codec::Codec,
	{
		/// `who`'s rewards split into pending and claimable now.
		fn rewards(who: AccountId) -> RewardView<Balance>;
		/// A node's last settled traffic and what it carries forward.
		fn node_traffic(node: NodeId) -> NodeTrafficView;
		/// The ledger period the chain is in, and the lowest one not yet reported.
		fn periods() -> (u32, u32);
	}
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency rewards are minted in.
		type Currency: Inspect<Self::AccountId> + Mutate<Self::AccountId>;

		/// The node registry: meta set, node accounts, debts.
		type Nodes: NodeRegistry<Self::AccountId, Balance = BalanceOf<Self>>;

		/// Reserved traffic credit of clients, and its price.
		type Credit: TrafficCredit<Self::AccountId>;

		/// A client's 32-byte public key as an account.
		type ClientAccount: Convert<[u8; 32], Self::AccountId>;

		/// Who may change the parameters (Root, i.e. governance).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The reward pot's account.
		#[pallet::constant]
		type PalletId: Get<PalletId>;

		/// Most nodes rewarded per period (the bound of `top_nodes`).
		#[pallet::constant]
		type MaxTopNodes: Get<u32>;

		/// Most entries per chunk (the bound of `chunk_size`).
		#[pallet::constant]
		type MaxChunk: Get<u32>;

		/// Most block authors counted per period.
		#[pallet::constant]
		type MaxAuthors: Get<u32>;

		/// Weights from the benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// The chain's parameters.
	#[pallet::storage]
	pub type Params<T: Config> = StorageValue<_, ParamsOf<T>, ValueQuery>;

	/// The lowest period not yet settled or failed: the one being reported (or next to open).
	#[pallet::storage]
	pub type NextPeriod<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// The open report (of `NextPeriod`).
	#[pallet::storage]
	pub type Reports<T: Config> = StorageMap<_, Twox64Concat, u32, ReportOf<T>>;

	/// Summary of every opened period.
	#[pallet::storage]
	pub type Periods<T: Config> = StorageMap<_, Twox64Concat, u32, PeriodInfoOf<T>>;

	/// Traffic carried between periods, per node (versioned, see [`RolledTraffic`]).
	#[pallet::storage]
	pub type Rolled<T: Config> = StorageMap<_, Blake2_128Concat, NodeId, RolledTraffic>;

	/// Nodes carrying traffic forward after the last settled period: every one of them must
	/// be listed in the next report.
	#[pallet::storage]
	pub type RolledCount<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// Blocks authored per account, per period.
	#[pallet::storage]
	pub type Authors<T: Config> = StorageMap<
		_,
		Twox64Concat,
		u32,
		BoundedVec<(T::AccountId, u32), T::MaxAuthors>,
		ValueQuery,
	>;

	/// Rewards per account.
	#[pallet::storage]
	pub type Rewards<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, RewardLedger<BalanceOf<T>>, ValueQuery>;

	/// Σ of all unclaimed rewards (pending and matured): the pot's balance above its
	/// existential deposit.
	#[pallet::storage]
	pub type Unclaimed<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// Issuance earlier periods left unpaid; added to the next period's.
	#[pallet::storage]
	pub type Carry<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// Total issuance at genesis (after the pot's existential deposit).
	#[pallet::storage]
	pub type GenesisIssuance<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// Minted by this pallet (rewards).
	#[pallet::storage]
	pub type Minted<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// Burned anywhere in the runtime (fees, dust, slashes, debts), as noted to this pallet.
	#[pallet::storage]
	pub type Burned<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// Bytes charged to clients and not yet rewarded: rewarded traffic can never exceed it.
	#[pallet::storage]
	pub type ChargedUnrewarded<T: Config> = StorageValue<_, u128, ValueQuery>;

	#[pallet::genesis_config]
	pub struct GenesisConfig<T: Config> {
		/// Blocks per ledger period.
		pub period_length: BlockNumberFor<T>,
		/// Commit window, in blocks.
		pub commit_window: BlockNumberFor<T>,
		/// Reveal window, in blocks.
		pub reveal_window: BlockNumberFor<T>,
		/// Streaming window, in blocks.
		pub stream_window: BlockNumberFor<T>,
		/// Nodes rewarded per period.
		pub top_nodes: u32,
		/// Entries per report chunk.
		pub chunk_size: u32,
		/// Periods before rewards mature.
		pub maturity: u32,
		/// Meta-node share of issuance.
		pub meta_share: Perbill,
		/// Validator share of issuance.
		pub validator_share: Perbill,
		/// Wash-traffic cap `k`.
		pub wash_cap: Perbill,
		/// Issuance tiers: (minted below, per period).
		pub tiers: Vec<(BalanceOf<T>, BalanceOf<T>)>,
	}

	impl<T: Config> Default for GenesisConfig<T> {
		/// Ten-minute periods of 2-second blocks, no issuance: presets set the real numbers.
		fn default() -> Self {
			Self {
				period_length: 300u32.into(),
				commit_window: 30u32.into(),
				reveal_window: 30u32.into(),
				stream_window: 200u32.into(),
				top_nodes: T::MaxTopNodes::get().min(100),
				chunk_size: T::MaxChunk::get().min(500),
				maturity: 1,
				meta_share: Perbill::from_percent(10),
				validator_share: Perbill::from_percent(10),
				wash_cap: Perbill::from_percent(50),
				tiers: Vec::new(),
			}
		}
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			let params = PotParams {
				period_length: self.period_length,
				commit_window: self.commit_window,
				reveal_window: self.reveal_window,
				stream_window: self.stream_window,
				top_nodes: self.top_nodes,
				chunk_size: self.chunk_size,
				maturity: self.maturity,
				meta_share: self.meta_share,
				validator_share: self.validator_share,
				wash_cap: self.wash_cap,
				tiers: BoundedVec::truncate_from(
					self.tiers
						.iter()
						.map(|(minted_below, per_period)| Tier {
							minted_below: *minted_below,
							per_period: *per_period,
						})
						.collect(),
				),
			};
			Pallet::<T>::check_params(&params).expect("valid PoT genesis parameters");
			Params::<T>::put(params);
			// The pot keeps its existential deposit, so paying out never reaps it.
			let pot = Pallet::<T>::pot_account();
			let ed = T::Currency::minimum_balance();
			if T::Currency::balance(&pot) < ed {
				T::Currency::mint_into(&pot, ed).expect("minting the pot's deposit works");
			}
			GenesisIssuance::<T>::put(T::Currency::total_issuance());
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// Period `period` is over: its report is open for commitments.
		ReportOpened { period: u32, issuance: BalanceOf<T>, electorate: u32 },
		/// A meta node committed to its digest.
		Committed { period: u32, who: T::AccountId },
		/// The commit phase is over; reveals are taken until `until`.
		RevealStarted { period: u32, until: BlockNumberFor<T> },
		/// A meta node revealed its digest.
		Revealed { period: u32, who: T::AccountId, digest: Hash },
		/// A digest reached the quorum: its chunks may be streamed.
		ReportAccepted { period: u32, digest: Hash, votes: u32 },
		/// A meta node revealed a digest other than the accepted one.
		ReportMismatch { period: u32, who: T::AccountId, digest: Hash, accepted: Hash },
		/// A chunk of the accepted report was applied.
		ChunkApplied { period: u32, who: T::AccountId, chunk: u32, entries: u32 },
		/// The period was settled.
		PeriodSettled {
			period: u32,
			issuance: BalanceOf<T>,
			resource_paid: BalanceOf<T>,
			meta_paid: BalanceOf<T>,
			validator_paid: BalanceOf<T>,
			carried: BalanceOf<T>,
			rewarded_nodes: u32,
			rewarded_bytes: u128,
			charged_bytes: u128,
		},
		/// The period was not settled; its issuance carries over.
		PeriodFailed { period: u32, reason: FailReason, carried: BalanceOf<T> },
		/// A reward was recorded (claimable from period `matures`).
		Rewarded { who: T::AccountId, period: u32, amount: BalanceOf<T>, matures: u32 },
		/// Rewards were claimed; `debt_paid` of them went to the account's debt (burned).
		Claimed { who: T::AccountId, amount: BalanceOf<T>, debt_paid: BalanceOf<T> },
		/// Governance changed the parameters.
		ParamsSet,
	}

	#[pallet::error]
	pub enum Error<T> {
		/// That period is not over yet, or its report has not opened.
		PeriodNotClosed,
		/// That period is settled or failed already.
		PeriodFinished,
		/// The sender was not an active meta node when the report opened.
		NotInElectorate,
		/// The sender is no longer an active meta node (suspended, unbonding or gone).
		ReporterInactive,
		/// The commit phase is over.
		CommitClosed,
		/// The sender has committed already.
		AlreadyCommitted,
		/// Reveals are not taken yet: the commit phase is still on.
		RevealNotOpen,
		/// The reveal window is over.
		RevealClosed,
		/// The sender did not commit, so it cannot reveal.
		NoCommitment,
		/// The sender has revealed already.
		AlreadyRevealed,
		/// The revealed digest and salt do not match the sender's commitment.
		RevealMismatch,
		/// No digest has reached the quorum yet.
		NotAccepted,
		/// Only reporters whose reveal matched the accepted digest may stream it.
		NotMatchingReporter,
		/// The chunk is not the one the accepted report continues with (content, order or
		/// next link differ).
		ChunkMismatch,
		/// The chunk has more entries than the chain's chunk size.
		ChunkTooLarge,
		/// Nothing is claimable yet.
		NothingToClaim,
		/// The parameters are inconsistent (see the call's docs).
		BadParams,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			// Plus the author count `pallet_authorship` makes through `note_author` (its own
			// hook reports no weight).
			Self::advance(now).saturating_add(T::DbWeight::get().reads_writes(2, 1))
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Commit to the digest of `period`'s report: `commitment = H(tag ‖ digest ‖ salt ‖
		/// account)` ([`stratos_primitives::traffic::commitment`]). Free when it counts.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::commit())]
		pub fn commit(
			origin: OriginFor<T>,
			period: u32,
			commitment: Hash,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let mut report = Self::open_report(period)?;
			Self::check_reporter(&report, &who)?;
			ensure!(
				report.reveal_until.is_none() && now < report.commit_until,
				Error::<T>::CommitClosed
			);
			ensure!(report.commits.iter().all(|(a, _)| a != &who), Error::<T>::AlreadyCommitted);

			report
				.commits
				.try_push((who.clone(), commitment))
				.map_err(|_| Error::<T>::AlreadyCommitted)?;
			Self::deposit_event(Event::Committed { period, who });
			if report.commits.len() == report.electorate.len() {
				Self::start_reveal(period, &mut report, now);
			}
			Reports::<T>::insert(period, report);
			Ok(Pays::No.into())
		}

		/// Reveal the digest committed to. When a digest reaches the quorum it is accepted
		/// and may be streamed; reveals that differ from it are recorded. An accepted empty
		/// report (no traffic at all) settles at once. Free when it counts.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::reveal().saturating_add(Pallet::<T>::settle_weight()))]
		pub fn reveal(
			origin: OriginFor<T>,
			period: u32,
			digest: Hash,
			salt: [u8; 32],
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let mut report = Self::open_report(period)?;
			Self::check_reporter(&report, &who)?;
			let until = report.reveal_until.ok_or(Error::<T>::RevealNotOpen)?;
			ensure!(now < until, Error::<T>::RevealClosed);
			ensure!(report.reveals.iter().all(|(a, _)| a != &who), Error::<T>::AlreadyRevealed);
			let committed = report
				.commits
				.iter()
				.find(|(a, _)| a == &who)
				.map(|(_, c)| *c)
				.ok_or(Error::<T>::NoCommitment)?;
			ensure!(
				traffic::commitment(&digest, &salt, &Self::reporter_key(&who)) == committed,
				Error::<T>::RevealMismatch
			);

			report
				.reveals
				.try_push((who.clone(), digest))
				.map_err(|_| Error::<T>::AlreadyRevealed)?;
			Self::deposit_event(Event::Revealed { period, who: who.clone(), digest });
			match &report.stream {
				Some(s) if s.digest != digest => Self::deposit_event(Event::ReportMismatch {
					period,
					who,
					digest,
					accepted: s.digest,
				}),
				Some(_) => {},
				None => {
					let votes = report.reveals.iter().filter(|(_, d)| *d == digest).count() as u32;
					if quorum_reached(votes, report.electorate.len() as u32) {
						report.stream = Some(Stream {
							digest,
							expected: digest,
							ingest: ReportIngest::new(),
							chunks: 0,
							rolled_seen: 0,
							rolled_after: 0,
							top: BoundedVec::new(),
							charged: 0,
						});
						Self::deposit_event(Event::ReportAccepted { period, digest, votes });
						for (other, d) in report.reveals.iter().filter(|(_, d)| *d != digest) {
							Self::deposit_event(Event::ReportMismatch {
								period,
								who: other.clone(),
								digest: *d,
								accepted: digest,
							});
						}
						if let Some(info) = Periods::<T>::get(period) {
							Periods::<T>::insert(
								period,
								PeriodInfo { digest: Some(digest), ..info },
							);
						}
						if digest == traffic::report_end(&Self::genesis_hash(), period) {
							// Nothing to stream: no node and no client had traffic.
							Self::finish(period, &report);
							return Ok(Pays::No.into());
						}
					}
				},
			}
			Reports::<T>::insert(period, report);
			Ok((Some(T::WeightInfo::reveal()), Pays::No).into())
		}

		/// Stream the next chunk of the accepted report, with the link of the chunk after
		/// it. The last chunk settles the period. Free when it is the accepted report's.
		#[pallet::call_index(2)]
		#[pallet::weight(
			Pallet::<T>::chunk_weight(entries).saturating_add(Pallet::<T>::settle_weight())
		)]
		pub fn submit_chunk(
			origin: OriginFor<T>,
			period: u32,
			entries: BoundedVec<ReportEntry, T::MaxChunk>,
			next: Hash,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let mut report = Self::open_report(period)?;
			let stream = report.stream.as_mut().ok_or(Error::<T>::NotAccepted)?;
			ensure!(
				report.reveals.iter().any(|(a, d)| a == &who && *d == stream.digest),
				Error::<T>::NotMatchingReporter
			);
			let params = Params::<T>::get();
			ensure!(entries.len() as u32 <= params.chunk_size, Error::<T>::ChunkTooLarge);
			ensure!(
				traffic::chunk_link(&entries, &next) == stream.expected,
				Error::<T>::ChunkMismatch
			);

			let chunk_weight = Self::chunk_weight(&entries);
			// From here the chunk is the quorum's: whatever it holds is applied, and a rule it
			// breaks fails the period (the call itself succeeds).
			if let Err(reason) = Self::apply_chunk(period, stream, &entries, params.top_nodes) {
				Self::fail(period, FailReason::Invalid(reason));
				return Ok((Some(chunk_weight), Pays::No).into());
			}
			stream.expected = next;
			stream.chunks = stream.chunks.saturating_add(1);
			Self::deposit_event(Event::ChunkApplied {
				period,
				who,
				chunk: stream.chunks,
				entries: entries.len() as u32,
			});
			if next != traffic::report_end(&Self::genesis_hash(), period) {
				Reports::<T>::insert(period, report);
				return Ok((Some(chunk_weight), Pays::No).into());
			}
			Self::finish(period, &report);
			Ok(Pays::No.into())
		}

		/// Claim matured rewards. Debts recorded by the node registry are paid (burned) first.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::claim_rewards())]
		pub fn claim_rewards(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut ledger = Rewards::<T>::get(&who);
			Self::mature(&mut ledger, Self::current_period());
			let amount = ledger.matured;
			ensure!(!amount.is_zero(), Error::<T>::NothingToClaim);

			let pot = Self::pot_account();
			let left = T::Nodes::recover_debt(&who, amount);
			let debt_paid = amount.saturating_sub(left);
			if !debt_paid.is_zero() {
				let burned = T::Currency::burn_from(
					&pot,
					debt_paid,
					Preservation::Preserve,
					Precision::Exact,
					Fortitude::Polite,
				)?;
				Self::note_burned(burned);
			}
			if !left.is_zero() {
				T::Currency::transfer(&pot, &who, left, Preservation::Preserve)?;
			}
			ledger.matured = Zero::zero();
			Unclaimed::<T>::mutate(|u| *u = u.saturating_sub(amount));
			Self::put_ledger(&who, ledger);
			Self::deposit_event(Event::Claimed { who, amount, debt_paid });
			Ok(())
		}

		/// Replace the parameters. Windows must fit in a period (`commit + reveal + stream ≤
		/// L`, so reports keep pace with periods), `top_nodes ≥ 1` within `MaxTopNodes`,
		/// `1 ≤ chunk_size ≤ MaxChunk`, `maturity ≤ 64`, shares summing to at most 100%,
		/// tiers ascending. A new chunk size or `L` applies to reports opened afterwards.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::set_params())]
		pub fn set_params(origin: OriginFor<T>, params: ParamsOf<T>) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Self::check_params(&params)?;
			Params::<T>::put(params);
			Self::deposit_event(Event::ParamsSet);
			Ok(())
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The reward pot's account.
	pub fn pot_account() -> T::AccountId {
		T::PalletId::get().into_account_truncating()
	}

	/// The ledger period of block `n`.
	pub fn period_of(n: BlockNumberFor<T>) -> u32 {
		let len = Params::<T>::get().period_length;
		if len.is_zero() {
			return 0;
		}
		(n / len).saturated_into()
	}

	/// The ledger period the chain is in now.
	pub fn current_period() -> u32 {
		Self::period_of(frame_system::Pallet::<T>::block_number())
	}

	/// The genesis hash, which binds digests to this chain.
	pub fn genesis_hash() -> Hash {
		pallet_node_registry::genesis_hash::<T>()
	}

	/// The 32 bytes a reporter's commitment is bound to: its encoded account (zero-padded).
	pub fn reporter_key(who: &T::AccountId) -> [u8; 32] {
		let mut key = [0u8; 32];
		let encoded = who.encode();
		let n = encoded.len().min(32);
		key[..n].copy_from_slice(&encoded[..n]);
		key
	}

	/// The weight of applying `entries` (without a settlement).
	fn chunk_weight(entries: &[ReportEntry]) -> Weight {
		let clients = entries.iter().filter(|e| matches!(e, ReportEntry::Client(_))).count() as u32;
		T::WeightInfo::submit_chunk((entries.len() as u32).saturating_sub(clients), clients)
	}

	/// Whether period `p` settled (so carried traffic it wrote is in force).
	fn is_settled(p: u32) -> bool {
		Periods::<T>::get(p).is_some_and(|i| i.status == PeriodStatus::Settled)
	}

	/// The traffic an entry carries forward: `acc` if its period settled, else `prev`.
	fn in_force(entry: &RolledTraffic, settled: bool) -> u128 {
		if settled {
			entry.acc
		} else {
			entry.prev
		}
	}

	/// What the period opening now would issue before carry: its tier's amount.
	pub fn tier_issuance() -> BalanceOf<T> {
		let minted = Minted::<T>::get();
		Params::<T>::get()
			.tiers
			.iter()
			.find(|t| minted < t.minted_below)
			.map(|t| t.per_period)
			.unwrap_or_else(Zero::zero)
	}

	fn check_params(p: &ParamsOf<T>) -> DispatchResult {
		let windows =
			p.commit_window.saturating_add(p.reveal_window).saturating_add(p.stream_window);
		let shares = p.meta_share.deconstruct() as u64 + p.validator_share.deconstruct() as u64;
		let ok = !p.period_length.is_zero()
			&& !p.commit_window.is_zero()
			&& !p.reveal_window.is_zero()
			&& !p.stream_window.is_zero()
			&& windows <= p.period_length
			&& p.top_nodes >= 1
			&& p.top_nodes <= T::MaxTopNodes::get()
			&& p.chunk_size >= 1
			&& p.chunk_size <= T::MaxChunk::get()
			&& p.maturity <= MAX_MATURITY
			&& shares <= Perbill::one().deconstruct() as u64
			&& p.tiers.windows(2).all(|w| w[0].minted_below < w[1].minted_below);
		ensure!(ok, Error::<T>::BadParams);
		Ok(())
	}

	/// Counts a block authored by `who` in the current period (the runtime calls this from
	/// `pallet_authorship`'s event handler).
	pub fn note_author(who: T::AccountId) {
		let period = Self::current_period();
		Authors::<T>::mutate(period, |list| {
			if let Some(entry) = list.iter_mut().find(|(a, _)| *a == who) {
				entry.1 = entry.1.saturating_add(1);
			} else {
				// Beyond `MaxAuthors` a block goes uncounted: the others share its part.
				let _ = list.try_push((who, 1));
			}
		});
	}

	/// Records `amount` burned somewhere in the runtime.
	pub fn note_burned(amount: BalanceOf<T>) {
		Burned::<T>::mutate(|b| *b = b.saturating_add(amount));
	}

	/// Per-block work, O(1) apart from snapshotting the meta set when a report opens: open
	/// the next report when its period is over, move from commit to reveal, and fail a
	/// report whose windows ran out.
	fn advance(now: BlockNumberFor<T>) -> Weight {
		let params = Params::<T>::get();
		let period = NextPeriod::<T>::get();
		let Some(mut report) = Reports::<T>::get(period) else {
			let end = BlockNumberFor::<T>::from(period.saturating_add(1))
				.saturating_mul(params.period_length);
			if params.period_length.is_zero() || now < end {
				return T::WeightInfo::advance_idle();
			}
			Self::open(period, now, &params);
			return T::WeightInfo::advance_open(MaxMetaOf::<T>::get());
		};
		match (report.reveal_until, &report.stream) {
			(None, _) if now >= report.commit_until => {
				Self::start_reveal(period, &mut report, now);
				Reports::<T>::insert(period, report);
			},
			(Some(until), None) if now >= until => Self::fail(period, FailReason::NoQuorum),
			(Some(until), Some(_)) if now >= until.saturating_add(params.stream_window) => {
				Self::fail(period, FailReason::StreamTimeout)
			},
			_ => return T::WeightInfo::advance_idle(),
		}
		T::WeightInfo::advance_fail(MaxMetaOf::<T>::get())
	}

	fn open(period: u32, now: BlockNumberFor<T>, params: &ParamsOf<T>) {
		let electorate = T::Nodes::active_meta();
		let carried_in = Carry::<T>::take();
		let issuance = Self::tier_issuance().saturating_add(carried_in);
		let report = Report {
			electorate: BoundedVec::truncate_from({
				let mut e = electorate;
				e.sort();
				e
			}),
			commits: BoundedVec::new(),
			reveals: BoundedVec::new(),
			commit_until: now.saturating_add(params.commit_window),
			reveal_until: None,
			stream: None,
		};
		let size = report.electorate.len() as u32;
		Reports::<T>::insert(period, report);
		Periods::<T>::insert(
			period,
			PeriodInfo {
				issuance,
				carried_in,
				status: PeriodStatus::Reporting,
				digest: None,
				reporters: BoundedVec::new(),
				resource_paid: Zero::zero(),
				meta_paid: Zero::zero(),
				validator_paid: Zero::zero(),
				carried: Zero::zero(),
				served_bytes: 0,
				charged_bytes: 0,
				rewarded_bytes: 0,
			},
		);
		Self::deposit_event(Event::ReportOpened { period, issuance, electorate: size });
	}

	fn start_reveal(period: u32, report: &mut ReportOf<T>, now: BlockNumberFor<T>) {
		let until = now.saturating_add(Params::<T>::get().reveal_window);
		report.reveal_until = Some(until);
		Self::deposit_event(Event::RevealStarted { period, until });
	}

	/// The open report of `period`, or why there is none.
	fn open_report(period: u32) -> Result<ReportOf<T>, DispatchError> {
		if period < NextPeriod::<T>::get() {
			return Err(Error::<T>::PeriodFinished.into());
		}
		Reports::<T>::get(period).ok_or_else(|| Error::<T>::PeriodNotClosed.into())
	}

	fn check_reporter(report: &ReportOf<T>, who: &T::AccountId) -> DispatchResult {
		ensure!(report.electorate.binary_search(who).is_ok(), Error::<T>::NotInElectorate);
		ensure!(T::Nodes::is_active_meta(who), Error::<T>::ReporterInactive);
		Ok(())
	}

	/// The rolled-over traffic a report of `period` starts from for a node, or `None` when
	/// the node was listed already in this report.
	fn carried_in(
		entry: &RolledTraffic,
		period: u32,
		settled: &mut BTreeMap<u32, bool>,
	) -> Option<u128> {
		if entry.period == period {
			return None;
		}
		let ok = *settled.entry(entry.period).or_insert_with(|| Self::is_settled(entry.period));
		Some(Self::in_force(entry, ok))
	}

	fn apply_chunk(
		period: u32,
		stream: &mut Stream<T::AccountId, T::MaxTopNodes>,
		entries: &[ReportEntry],
		top_nodes: u32,
	) -> Result<(), InvalidReport> {
		let top_nodes = top_nodes as usize;
		let mut settled = BTreeMap::new();
		for entry in entries {
			match entry {
				ReportEntry::Node(e) => {
					Self::apply_node(period, stream, e, top_nodes, &mut settled)?
				},
				ReportEntry::Client(c) => Self::apply_client(stream, c)?,
			}
		}
		Ok(())
	}

	fn apply_node(
		period: u32,
		stream: &mut Stream<T::AccountId, T::MaxTopNodes>,
		e: &NodeTraffic,
		top_nodes: usize,
		settled: &mut BTreeMap<u32, bool>,
	) -> Result<(), InvalidReport> {
		let existing = Rolled::<T>::get(e.node);
		let carried = match &existing {
			Some(r) => Self::carried_in(r, period, settled).ok_or(InvalidReport::DuplicateNode)?,
			None => 0,
		};
		let account = T::Nodes::account_of(&e.node);
		if account.is_none() && carried == 0 {
			return Err(InvalidReport::UnknownNode);
		}
		let acc = stream.ingest.node(e, carried)?;
		if carried > 0 {
			stream.rolled_seen = stream.rolled_seen.saturating_add(1);
		}
		let eligible = account.as_ref().filter(|a| T::Nodes::is_rewardable_resource(a));
		let after = match eligible {
			Some(who) if acc > 0 && stream.top.len() < top_nodes => {
				// Cannot fail: top_nodes ≤ MaxTopNodes.
				let _ = stream.top.try_push((who.clone(), acc));
				0
			},
			// A node that left forfeits what it carried.
			_ if account.is_none() => 0,
			_ => acc,
		};
		if after > 0 {
			stream.rolled_after = stream.rolled_after.saturating_add(1);
		}
		if acc > 0 || carried > 0 {
			Rolled::<T>::insert(
				e.node,
				RolledTraffic { period, bytes: e.bytes, acc: after, prev: carried },
			);
		}
		Ok(())
	}

	fn apply_client(
		stream: &mut Stream<T::AccountId, T::MaxTopNodes>,
		c: &ClientTraffic,
	) -> Result<(), InvalidReport> {
		if !stream.ingest.in_clients() {
			Self::check_complete(stream)?;
		}
		stream.ingest.client(c)?;
		let who = T::ClientAccount::convert(c.client);
		// A client is charged what it reserved, up to its traffic; traffic it did not pay for
		// is never rewarded.
		let charge = T::Credit::reserved(&who).min(c.bytes as u128);
		if charge > 0 && T::Credit::charge_reserved(&who, charge).is_ok() {
			stream.charged = stream.charged.saturating_add(charge);
		}
		Ok(())
	}

	/// Every node carrying traffic into the report must have been listed by the time the node
	/// entries end (checked at the first client entry, or at the end of the report).
	fn check_complete(stream: &Stream<T::AccountId, T::MaxTopNodes>) -> Result<(), InvalidReport> {
		if stream.rolled_seen == RolledCount::<T>::get() {
			Ok(())
		} else {
			Err(InvalidReport::Incomplete)
		}
	}

	/// The whole accepted report is in: settle it, or fail it if it left out a node carrying
	/// traffic.
	fn finish(period: u32, report: &ReportOf<T>) {
		let Some(stream) = report.stream.clone() else { return };
		if !stream.ingest.in_clients() {
			if let Err(reason) = Self::check_complete(&stream) {
				return Self::fail(period, FailReason::Invalid(reason));
			}
		}
		Self::settle(period, report, stream);
	}

	/// The weight settlement may add to a chunk (at the bounds).
	pub fn settle_weight() -> Weight {
		T::WeightInfo::settle(T::MaxTopNodes::get(), MaxMetaOf::<T>::get(), T::MaxAuthors::get())
	}

	fn settle(period: u32, report: &ReportOf<T>, stream: Stream<T::AccountId, T::MaxTopNodes>) {
		let params = Params::<T>::get();
		let Some(mut info) = Periods::<T>::get(period) else { return };
		let issuance = info.issuance;
		let meta_part = params.meta_share * issuance;
		let validator_part = params.validator_share * issuance;
		let resource_part = issuance.saturating_sub(meta_part).saturating_sub(validator_part);
		let matures = period.saturating_add(1).saturating_add(params.maturity);
		let mut paid = BalanceOf::<T>::zero();

		// Resource nodes: pro rata within the wash-traffic caps.
		let traffic: Vec<u128> = stream.top.iter().map(|(_, t)| *t).collect();
		let chargeable = ChargedUnrewarded::<T>::get().saturating_add(stream.charged);
		let split = traffic::settle(
			resource_part.saturated_into(),
			&traffic,
			chargeable,
			Self::cap_per_byte(params.wash_cap),
		);
		let mut resource_paid = BalanceOf::<T>::zero();
		for ((who, _), reward) in stream.top.iter().zip(split.rewards) {
			let reward: BalanceOf<T> = reward.saturated_into();
			Self::reward(who, period, reward, matures);
			resource_paid = resource_paid.saturating_add(reward);
		}
		paid = paid.saturating_add(resource_paid);
		let rewarded_bytes = split.rewarded_bytes;
		ChargedUnrewarded::<T>::put(chargeable.saturating_sub(rewarded_bytes));

		// Meta nodes: equal shares among the reporters whose reveal matched.
		let reporters: Vec<T::AccountId> = report
			.reveals
			.iter()
			.filter(|(_, d)| *d == stream.digest)
			.map(|(a, _)| a.clone())
			.collect();
		let mut meta_paid = BalanceOf::<T>::zero();
		if !reporters.is_empty() {
			let each = meta_part / (reporters.len() as u32).into();
			for who in &reporters {
				Self::reward(who, period, each, matures);
				meta_paid = meta_paid.saturating_add(each);
			}
		}
		paid = paid.saturating_add(meta_paid);

		// Validators: by blocks authored in the period.
		let authors = Authors::<T>::take(period);
		let blocks: u128 = authors.iter().map(|(_, b)| *b as u128).sum();
		let mut validator_paid = BalanceOf::<T>::zero();
		if blocks > 0 {
			let part: u128 = validator_part.saturated_into();
			for (who, b) in authors.iter() {
				let r: BalanceOf<T> =
					sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(
						part,
						*b as u128,
						blocks,
						Rounding::Down,
					)
					.unwrap_or(0)
					.saturated_into();
				Self::reward(who, period, r, matures);
				validator_paid = validator_paid.saturating_add(r);
			}
		}
		paid = paid.saturating_add(validator_paid);

		// Mint only what is paid; the rest is carried.
		if !paid.is_zero() {
			// Cannot fail: the pot exists (it keeps its existential deposit).
			let _ = T::Currency::mint_into(&Self::pot_account(), paid);
			Minted::<T>::mutate(|m| *m = m.saturating_add(paid));
			Unclaimed::<T>::mutate(|u| *u = u.saturating_add(paid));
		}
		let carried = issuance.saturating_sub(paid);
		Carry::<T>::mutate(|c| *c = c.saturating_add(carried));
		RolledCount::<T>::put(stream.rolled_after);

		info.status = PeriodStatus::Settled;
		info.reporters = BoundedVec::truncate_from(reporters);
		info.resource_paid = resource_paid;
		info.meta_paid = meta_paid;
		info.validator_paid = validator_paid;
		info.carried = carried;
		info.served_bytes = stream.ingest.node_bytes();
		info.charged_bytes = stream.charged;
		info.rewarded_bytes = rewarded_bytes;
		Periods::<T>::insert(period, info);
		Reports::<T>::remove(period);
		NextPeriod::<T>::put(period.saturating_add(1));
		Self::deposit_event(Event::PeriodSettled {
			period,
			issuance,
			resource_paid,
			meta_paid,
			validator_paid,
			carried,
			rewarded_nodes: stream.top.len() as u32,
			rewarded_bytes,
			charged_bytes: stream.charged,
		});
	}

	/// `k ×` the credit price per byte, `(S + Pt) / Lt` (the curve's marginal price), rounded
	/// down.
	pub fn cap_per_byte(k: Perbill) -> u128 {
		let (num, den) = T::Credit::price_per_byte();
		sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(
			num,
			k.deconstruct() as u128,
			den.max(1).saturating_mul(Perbill::one().deconstruct() as u128),
			Rounding::Down,
		)
		.unwrap_or(u128::MAX)
	}

	/// The period fails: its issuance carries over, its rolled-traffic writes read as their
	/// previous values from now on, clients charged so far stay charged.
	fn fail(period: u32, reason: FailReason) {
		let report = Reports::<T>::take(period);
		let charged = report.and_then(|r| r.stream).map(|s| s.charged).unwrap_or(0);
		ChargedUnrewarded::<T>::mutate(|c| *c = c.saturating_add(charged));
		Authors::<T>::remove(period);
		let mut carried = BalanceOf::<T>::zero();
		if let Some(mut info) = Periods::<T>::get(period) {
			carried = info.issuance;
			info.status = PeriodStatus::Failed(reason);
			info.carried = carried;
			info.charged_bytes = charged;
			Periods::<T>::insert(period, info);
		}
		Carry::<T>::mutate(|c| *c = c.saturating_add(carried));
		NextPeriod::<T>::put(period.saturating_add(1));
		Self::deposit_event(Event::PeriodFailed { period, reason, carried });
	}

	fn reward(who: &T::AccountId, period: u32, amount: BalanceOf<T>, matures: u32) {
		if amount.is_zero() {
			return;
		}
		let mut ledger = Rewards::<T>::get(who);
		Self::mature(&mut ledger, Self::current_period());
		if matures <= Self::current_period() {
			ledger.matured = ledger.matured.saturating_add(amount);
		} else {
			match ledger.pending.last_mut() {
				Some((m, a)) if *m == matures => *a = a.saturating_add(amount),
				_ => {
					if let Err((m, a)) = ledger.pending.try_push((matures, amount)) {
						// Cannot happen (at most `maturity + 1` periods are pending); if it
						// did, the reward matures with the latest entry rather than vanish.
						if let Some(last) = ledger.pending.last_mut() {
							*last = (last.0.max(m), last.1.saturating_add(a));
						}
					}
				},
			}
		}
		Self::put_ledger(who, ledger);
		Self::deposit_event(Event::Rewarded { who: who.clone(), period, amount, matures });
	}

	fn mature(ledger: &mut RewardLedger<BalanceOf<T>>, now: u32) {
		while let Some((m, a)) = ledger.pending.first().copied() {
			if m > now {
				break;
			}
			ledger.matured = ledger.matured.saturating_add(a);
			ledger.pending.remove(0);
		}
	}

	fn put_ledger(who: &T::AccountId, ledger: RewardLedger<BalanceOf<T>>) {
		if ledger.pending.is_empty() && ledger.matured.is_zero() {
			Rewards::<T>::remove(who);
		} else {
			Rewards::<T>::insert(who, ledger);
		}
	}

	/// Runtime API: `who`'s rewards now.
	pub fn rewards_view(who: &T::AccountId) -> RewardView<BalanceOf<T>> {
		let mut ledger = Rewards::<T>::get(who);
		Self::mature(&mut ledger, Self::current_period());
		RewardView {
			pending: ledger
				.pending
				.iter()
				.fold(Zero::zero(), |s: BalanceOf<T>, (_, a)| s.saturating_add(*a)),
			matured: ledger.matured,
		}
	}

	/// Runtime API: a node's last settled traffic and what it carries.
	pub fn node_traffic_view(node: &NodeId) -> NodeTrafficView {
		let Some(r) = Rolled::<T>::get(node) else { return NodeTrafficView::default() };
		let settled = Self::is_settled(r.period);
		let rolled = Self::in_force(&r, settled);
		if settled {
			NodeTrafficView { period: Some(r.period), bytes: r.bytes, rolled }
		} else {
			NodeTrafficView { period: None, bytes: 0, rolled }
		}
	}

	/// The invariants: the issuance ledger, the pot, the per-period books, the rolled count.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let issuance = T::Currency::total_issuance();
		ensure!(
			issuance
				== GenesisIssuance::<T>::get()
					.saturating_add(Minted::<T>::get())
					.saturating_sub(Burned::<T>::get()),
			"total issuance = genesis + minted − burned"
		);
		let pot = T::Currency::balance(&Self::pot_account());
		ensure!(
			pot == Unclaimed::<T>::get().saturating_add(T::Currency::minimum_balance()),
			"the pot holds exactly the unclaimed rewards (plus its existential deposit)"
		);
		let mut unclaimed = BalanceOf::<T>::zero();
		for (_, ledger) in Rewards::<T>::iter() {
			ensure!(
				ledger.pending.windows(2).all(|w| w[0].0 < w[1].0),
				"pending rewards are ordered by maturity"
			);
			unclaimed = ledger
				.pending
				.iter()
				.fold(unclaimed.saturating_add(ledger.matured), |s, (_, a)| s.saturating_add(*a));
		}
		ensure!(unclaimed == Unclaimed::<T>::get(), "Σ ledgers = unclaimed");
		let mut paid_total = BalanceOf::<T>::zero();
		let mut carried_in = BalanceOf::<T>::zero();
		let mut carried_out = BalanceOf::<T>::zero();
		let (mut charged, mut rewarded) = (0u128, 0u128);
		let next = NextPeriod::<T>::get();
		for (p, info) in Periods::<T>::iter() {
			let paid = info
				.resource_paid
				.saturating_add(info.meta_paid)
				.saturating_add(info.validator_paid);
			if info.status == PeriodStatus::Reporting {
				ensure!(p == next, "only the next period is reporting");
				ensure!(paid.is_zero() && info.carried.is_zero(), "nothing paid before settlement");
			} else {
				ensure!(p < next, "finished periods precede the next one");
				ensure!(
					paid.saturating_add(info.carried) == info.issuance,
					"issuance = paid + carried"
				);
				carried_out = carried_out.saturating_add(info.carried);
				charged = charged.saturating_add(info.charged_bytes);
				rewarded = rewarded.saturating_add(info.rewarded_bytes);
			}
			paid_total = paid_total.saturating_add(paid);
			carried_in = carried_in.saturating_add(info.carried_in);
		}
		ensure!(paid_total == Minted::<T>::get(), "minted = Σ paid");
		ensure!(
			carried_out == carried_in.saturating_add(Carry::<T>::get()),
			"every carried unit is in a later period's issuance or still carried"
		);
		ensure!(
			rewarded <= charged && charged - rewarded == ChargedUnrewarded::<T>::get(),
			"rewarded bytes never exceed charged bytes"
		);
		let rolled = Rolled::<T>::iter()
			.filter(|(_, r)| Self::in_force(r, Self::is_settled(r.period)) > 0)
			.count() as u32;
		ensure!(rolled == RolledCount::<T>::get(), "RolledCount counts the nodes carrying traffic");
		Ok(())
	}
}

/// Burns imbalances the runtime drops (transaction fees, dust, governance slashes) and tells
/// the issuance ledger.
pub struct BurnAndNote<T>(core::marker::PhantomData<T>);

impl<T: Config> OnUnbalanced<frame_support::traits::fungible::Credit<T::AccountId, T::Currency>>
	for BurnAndNote<T>
where
	T::Currency: frame_support::traits::fungible::Balanced<T::AccountId>,
{
	fn on_nonzero_unbalanced(
		amount: frame_support::traits::fungible::Credit<T::AccountId, T::Currency>,
	) {
		Pallet::<T>::note_burned(amount.peek());
		drop(amount);
	}
}

impl<T: Config> NoteBurn<BalanceOf<T>> for Pallet<T> {
	fn note_burn(amount: BalanceOf<T>) {
		Self::note_burned(amount);
	}
}
