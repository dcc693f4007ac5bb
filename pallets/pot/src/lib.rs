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
//!   suspended, deposit not slashed below the required one) share the resource part pro
//!   rata to accumulated traffic; a paid node starts again from zero, the others roll over.
//!   Rewarded bytes never exceed bytes charged to clients, and resource rewards never exceed
//!   `k ×` what the clients paid for the rewarded bytes (credit keeps its purchase price;
//!   spending it burns that price), both over the chain's life. What the resource part
//!   does not pay stays for resource nodes. The meta part is split equally among reporters whose reveal matched, the
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
	receipt::SignedReceipt,
	receipts::{receipt_digest, ReceiptLeaf, ReceiptProof},
	traffic::{self, ClientTraffic, IngestError, NodeTraffic, ReportEntry, ReportIngest},
	Hash, NodeId,
};

pub use pallet::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod disputes;
mod ledger;
pub mod migrations;
#[cfg(test)]
mod mock;
mod periods;
mod pruning;
mod report;
mod settlement;
#[cfg(test)]
mod tests;
mod types;
pub mod weights;

pub use types::*;

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

	/// v1: separate resource carry, per-client charges and disputes, cancellable periods
	/// ([`crate::migrations::v1`]).
	pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
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

		/// Summaries of this many latest periods are never pruned (for clients and explorers
		/// reading recent books), whatever else allows it.
		#[pallet::constant]
		type KeptPeriods: Get<u32>;

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

	/// Tokens clients paid for the bytes in [`ChargedUnrewarded`]: the wash-traffic cap
	/// (resource rewards never exceed `k ×` the value of the bytes they reward).
	#[pallet::storage]
	pub type ChargedUnrewardedValue<T: Config> = StorageValue<_, u128, ValueQuery>;

	/// Tokens clients paid for the bytes charged so far in the open report.
	#[pallet::storage]
	pub type OpenChargedValue<T: Config> = StorageValue<_, u128, ValueQuery>;

	/// The period numbering in force (none: the genesis one, from block 0 with the genesis
	/// length).
	#[pallet::storage]
	pub type Anchor<T: Config> = StorageValue<_, PeriodAnchor<BlockNumberFor<T>>>;

	/// A new period length scheduled from the next period boundary.
	#[pallet::storage]
	pub type NextAnchor<T: Config> = StorageValue<_, PeriodAnchor<BlockNumberFor<T>>>;

	/// The open report's windows and chunk size, frozen when it opened.
	#[pallet::storage]
	pub type OpenReportParams<T: Config> = StorageValue<_, FrozenReport<BlockNumberFor<T>>>;

	/// What earlier periods' resource parts left unpaid: added to the next period's resource
	/// part only, so it stays with the resource nodes.
	#[pallet::storage]
	pub type ResourceCarry<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// Client entries of reported periods, by period and client key, while the client may
	/// dispute them (until the period's rewards mature).
	#[pallet::storage]
	pub type ClientCharges<T: Config> =
		StorageDoubleMap<_, Twox64Concat, u32, Blake2_128Concat, [u8; 32], ClientCharge>;

	/// The lowest period whose client entries may still be stored (older ones are pruned
	/// in idle time).
	#[pallet::storage]
	pub type ChargesPrunedBelow<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// The lowest period whose [`Periods`] summary is still stored: older ones were pruned
	/// in idle time once no carried-traffic entry referred to them and their disputes were
	/// over; their books are summed in [`PrunedTotals`].
	#[pallet::storage]
	pub type PeriodsPrunedBelow<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// The summed books of the pruned periods.
	#[pallet::storage]
	pub type PrunedTotals<T: Config> = StorageValue<_, PrunedBooks<BalanceOf<T>>, ValueQuery>;

	/// The idle-time pass over [`Rolled`] under way.
	#[pallet::storage]
	pub type RolledScan<T: Config> = StorageValue<_, RolledPass>;

	/// Receipts clients say they never countersigned: (period, client key, receipt digest).
	#[pallet::storage]
	pub type Disputes<T: Config> = StorageNMap<
		_,
		(NMapKey<Twox64Concat, u32>, NMapKey<Blake2_128Concat, [u8; 32]>, NMapKey<Identity, Hash>),
		OpenDispute<BlockNumberFor<T>>,
	>;

	/// Who a settled period paid, until it matures ([`PeriodInfo::matures`]): what
	/// [`Pallet::cancel_period`] takes back.
	#[pallet::storage]
	pub type Payees<T: Config> = StorageMap<
		_,
		Twox64Concat,
		u32,
		BoundedVec<(T::AccountId, BalanceOf<T>), ConstU32<MAX_PAYEES>>,
	>;

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
		/// Blocks reporters have to answer a dispute.
		pub dispute_window: BlockNumberFor<T>,
		/// Slashed from each reporter when a dispute is upheld.
		pub dispute_slash: BalanceOf<T>,
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
				dispute_window: 100u32.into(),
				dispute_slash: Zero::zero(),
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
				dispute_window: self.dispute_window,
				dispute_slash: self.dispute_slash,
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
		/// The period's report is complete; it settles when the reveal window closes, so every
		/// matching reveal until then shares the meta part.
		ReportComplete { period: u32, settles_at: BlockNumberFor<T> },
		/// A client disputes a receipt of its entry in `period`'s report.
		Disputed { period: u32, client: [u8; 32], digest: Hash, answer_by: BlockNumberFor<T> },
		/// The client's countersignature for the disputed receipt was shown: the charge stands.
		DisputeAnswered { period: u32, client: [u8; 32], digest: Hash },
		/// A dispute was upheld: `refunded` bytes of credit went back to the client and each of
		/// the period's `slashed` reporters lost the dispute slash.
		DisputeUpheld { period: u32, client: [u8; 32], refunded: u128, slashed: u32 },
		/// Governance cancelled a period's pending rewards; `amount` was burned.
		PeriodCancelled { period: u32, amount: BalanceOf<T> },
		/// A new period length applies from period `from_period`, which starts at block `start`.
		PeriodLengthScheduled {
			from_period: u32,
			start: BlockNumberFor<T>,
			length: BlockNumberFor<T>,
		},
		/// A node's carried-traffic entry with nothing carried was removed.
		RolledPruned { node: NodeId },
		/// The summaries of periods below `below` were pruned (their books are summed in
		/// `PrunedTotals`).
		PeriodsPruned { below: u32 },
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
		/// The period's report is not finished (settled or failed) yet.
		PeriodNotFinished,
		/// The period's rewards have matured: its entries can no longer be disputed or
		/// cancelled.
		DisputeWindowOver,
		/// The report listed no entry for this client in that period.
		NoClientEntry,
		/// Only the client itself may dispute its entry.
		NotTheClient,
		/// The proof does not lead to the entry's receipt root.
		BadProof,
		/// The claim does not hold (the total matches, or the leaves are in order and
		/// adjacent).
		ClaimDoesNotHold,
		/// That receipt is disputed already.
		AlreadyDisputed,
		/// No open dispute for that receipt.
		NoSuchDispute,
		/// The receipt shown is not the disputed one, is for another client or period, or its
		/// signatures do not verify.
		BadAnswer,
		/// The answer window is still open.
		AnswerWindowOpen,
		/// The answer window is over.
		AnswerWindowOver,
		/// Nothing of that period is left to cancel (not settled, matured or cancelled).
		NothingToCancel,
		/// No carried-traffic entry for that node.
		NoRolledEntry,
		/// The node still carries traffic into the next report.
		StillCarried,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			// Plus the author count `pallet_authorship` makes through `note_author` (its own
			// hook reports no weight).
			Self::advance(now).saturating_add(T::DbWeight::get().reads_writes(2, 1))
		}

		fn on_idle(_n: BlockNumberFor<T>, remaining: Weight) -> Weight {
			let used = Self::prune_charges(remaining);
			used.saturating_add(Self::prune_periods(remaining.saturating_sub(used)))
		}

		fn integrity_test() {
			Self::check_integrity();
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
							if Self::finish(period, report) {
								// Settles when the reveal window closes (`on_initialize`).
								return Ok((Some(T::WeightInfo::reveal()), Pays::No).into());
							}
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
			let frozen = Self::report_params();
			ensure!(entries.len() as u32 <= frozen.chunk_size, Error::<T>::ChunkTooLarge);
			ensure!(
				traffic::chunk_link(&entries, &next) == stream.expected,
				Error::<T>::ChunkMismatch
			);

			let chunk_weight = Self::chunk_weight(&entries);
			// From here the chunk is the quorum's: whatever it holds is applied, and a rule it
			// breaks fails the period (the call itself succeeds).
			if let Err(reason) = Self::apply_chunk(period, stream, &entries, frozen.top_nodes) {
				// The clients this chunk charged before the broken entry stay in the books.
				Reports::<T>::insert(period, report);
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
			if Self::finish(period, report) {
				// Settlement deferred to `on_initialize` at the end of the reveal window, which
				// accounts for it there: this block only carried the chunk.
				Ok((Some(chunk_weight), Pays::No).into())
			} else {
				Ok(Pays::No.into())
			}
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

		/// Replace the parameters. A new `period_length` takes effect at the next period
		/// boundary ([`Event::PeriodLengthScheduled`]); a report already open keeps its
		/// windows and chunk size. Windows must fit in a period (`commit + reveal + stream ≤
		/// L`, so reports keep pace with periods), `top_nodes ≥ 1` within `MaxTopNodes`,
		/// `1 ≤ chunk_size ≤ MaxChunk`, `maturity ≤ 64`, shares summing to at most 100%,
		/// tiers ascending, `1 ≤ dispute_window ≤ L`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::set_params())]
		pub fn set_params(origin: OriginFor<T>, params: ParamsOf<T>) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Self::check_params(&params)?;
			Self::schedule_length(params.period_length);
			Params::<T>::put(params);
			Self::deposit_event(Event::ParamsSet);
			Ok(())
		}

		/// Dispute the sender's client entry in `period`'s report (see [`DisputeClaim`]). A
		/// claim that the chain can check alone (a wrong total, leaves out of order) is upheld
		/// at once; a receipt the client says it never countersigned waits `dispute_window`
		/// blocks for the reporters to show the countersignature
		/// ([`Pallet::answer_dispute`]), then anyone may uphold it
		/// ([`Pallet::resolve_dispute`]). Possible until the period's rewards mature.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::dispute().max(T::WeightInfo::resolve_dispute(MaxMetaOf::<T>::get())))]
		pub fn dispute(
			origin: OriginFor<T>,
			period: u32,
			client: [u8; 32],
			claim: DisputeClaim,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(T::ClientAccount::convert(client) == who, Error::<T>::NotTheClient);
			Self::do_dispute(period, client, claim)
		}

		/// Show the client's countersigned receipt for a disputed leaf: the dispute is
		/// dropped and the charge stands. Anyone may answer (reporters, the serving node).
		/// Free when it answers.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::answer_dispute())]
		pub fn answer_dispute(
			origin: OriginFor<T>,
			period: u32,
			receipt: SignedReceipt,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			Self::do_answer(period, &receipt)?;
			Ok(Pays::No.into())
		}

		/// Uphold a dispute nobody answered in time: the client gets the disputed bytes of
		/// credit back and each reporter of the period is slashed `dispute_slash`.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::resolve_dispute(MaxMetaOf::<T>::get()))]
		pub fn resolve_dispute(
			origin: OriginFor<T>,
			period: u32,
			client: [u8; 32],
			digest: Hash,
		) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_resolve(period, client, digest)
		}

		/// Remove a node's carried-traffic entry that carries nothing (the node was paid,
		/// forfeited, or its report failed with nothing before it). Anyone may; free when it
		/// prunes.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::prune_rolled())]
		pub fn prune_rolled(origin: OriginFor<T>, node: NodeId) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			let entry = Rolled::<T>::get(node).ok_or(Error::<T>::NoRolledEntry)?;
			ensure!(entry.period < NextPeriod::<T>::get(), Error::<T>::PeriodNotFinished);
			ensure!(
				Self::in_force(&entry, Self::is_settled(entry.period)) == 0,
				Error::<T>::StillCarried
			);
			Rolled::<T>::remove(node);
			Self::deposit_event(Event::RolledPruned { node });
			Ok(Pays::No.into())
		}

		/// Governance takes back a settled period's rewards before they mature (for example
		/// after disputes showed its report was invented). What it takes back is burned and
		/// recorded in the period's books.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::cancel_period(MAX_PAYEES))]
		pub fn cancel_period(origin: OriginFor<T>, period: u32) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Self::do_cancel(period)
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The reward pot's account.
	pub fn pot_account() -> T::AccountId {
		T::PalletId::get().into_account_truncating()
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

	pub(crate) fn check_params(p: &ParamsOf<T>) -> DispatchResult {
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
			&& p.tiers.windows(2).all(|w| w[0].minted_below < w[1].minted_below)
			&& !p.dispute_window.is_zero()
			&& p.dispute_window <= p.period_length;
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
