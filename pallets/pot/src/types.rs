//! The pallet's stored and runtime-API types.

use crate::*;

/// The balance type of the pallet's currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// Most issuance tiers.
pub const MAX_TIERS: u32 = 16;
/// Most periods a reward may take to mature.
pub const MAX_MATURITY: u32 = 64;
/// Most accounts one period pays (top nodes + reporters + authors must fit).
pub const MAX_PAYEES: u32 = 1024;

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
	/// `k`: resource rewards never exceed `k ×` what clients paid for the rewarded bytes.
	pub wash_cap: Perbill,
	/// Issuance schedule, by total minted, ascending.
	pub tiers: BoundedVec<Tier<Balance>, ConstU32<MAX_TIERS>>,
	/// Blocks the reporters have to show the client's countersignature for a disputed
	/// receipt.
	pub dispute_window: BlockNumber,
	/// Slashed from each reporter of a period when a dispute against it is upheld.
	pub dispute_slash: Balance,
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

/// A pass over [`Rolled`] in idle time that finds the lowest period a carried-traffic entry
/// still refers to (removing entries that carry nothing on the way), so older [`Periods`]
/// can be pruned ([`Pallet::prune_periods`]).
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, Copy, PartialEq, Eq, Debug)]
pub struct RolledPass {
	/// The last node looked at (none: at the start).
	pub last: Option<NodeId>,
	/// The lowest period a kept entry refers to so far.
	pub min_ref: u32,
	/// [`NextPeriod`] when the pass began: entries written during the pass refer to it or a
	/// later period.
	pub next_at_start: u32,
	/// Every entry was looked at: periods below `min(min_ref, next_at_start)` are unreferenced.
	pub complete: bool,
}

/// The books of pruned periods, summed: the invariants add them to the stored periods'.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug, Default)]
pub struct PrunedBooks<Balance> {
	/// Σ paid (resource, meta and validator parts).
	pub paid: Balance,
	/// Σ carried for every share.
	pub carried: Balance,
	/// Σ carried for the resource nodes.
	pub resource_carried: Balance,
	/// Σ carried in for every share.
	pub carried_in: Balance,
	/// Σ carried in for the resource nodes.
	pub resource_carried_in: Balance,
	/// Σ bytes charged.
	pub charged_bytes: u128,
	/// Σ bytes rewarded.
	pub rewarded_bytes: u128,
	/// Σ value charged.
	pub charged_value: u128,
	/// Σ value rewarded.
	pub rewarded_value: u128,
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
	/// The part of `issuance` carried in from earlier periods for every share.
	pub carried_in: Balance,
	/// The part of `issuance` carried in for the resource nodes alone (what earlier
	/// periods' resource parts did not pay).
	pub resource_carried_in: Balance,
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
	/// Carried to the next period, for every share (remainders of the meta and validator
	/// parts).
	pub carried: Balance,
	/// Carried to the next period's resource part (what the resource part did not pay).
	pub resource_carried: Balance,
	/// Paid, then taken back by governance ([`Pallet::cancel_period`]) and burned.
	pub cancelled: Balance,
	/// The first period in which its rewards are claimable (and its client entries can no
	/// longer be disputed): `maturity` periods after the settlement at the earliest, however
	/// late the report was.
	pub matures: u32,
	/// Bytes served this period (Σ node entries).
	pub served_bytes: u128,
	/// Bytes charged to clients this period.
	pub charged_bytes: u128,
	/// Bytes rewarded (of the top nodes, within what was charged).
	pub rewarded_bytes: u128,
	/// Tokens clients paid for the bytes charged this period (burned from the pool).
	pub charged_value: u128,
	/// The paid value of the rewarded bytes (what bounds the resource rewards).
	pub rewarded_value: u128,
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

pub(crate) type ReportOf<T> = Report<
	<T as frame_system::Config>::AccountId,
	BlockNumberFor<T>,
	MaxMetaOf<T>,
	<T as Config>::MaxTopNodes,
>;
pub(crate) type PeriodInfoOf<T> =
	PeriodInfo<<T as frame_system::Config>::AccountId, BalanceOf<T>, MaxMetaOf<T>>;
pub(crate) type MaxMetaOf<T> =
	<<T as Config>::Nodes as NodeRegistry<<T as frame_system::Config>::AccountId>>::MaxMetaNodes;
/// The parameters' type in a runtime.
pub type ParamsOf<T> = PotParams<BalanceOf<T>, BlockNumberFor<T>>;

/// A client entry of a reported period, kept while the client may dispute it.
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
pub struct ClientCharge {
	/// The root of the client's receipt tree the entry carried.
	pub receipts_root: Hash,
	/// Bytes the entry listed.
	pub bytes: u64,
	/// Credit (bytes) actually charged for it.
	pub charged: u128,
	/// Credit given back after upheld disputes.
	pub reversed: u128,
}

/// A receipt a client says it never countersigned, waiting for the reporters' answer.
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
pub struct OpenDispute<BlockNumber> {
	/// Bytes the disputed leaf lists.
	pub length: u64,
	/// The countersigned receipt must be shown before this block.
	pub answer_by: BlockNumber,
}

/// What a client disputes about its entry in a period's report.
#[derive(Encode, Decode, DecodeWithMemTracking, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub enum DisputeClaim {
	/// "I never countersigned this receipt": the reporters must show the countersignature
	/// within the dispute window, or the charge for it is reversed.
	NotCountersigned {
		/// The leaf.
		leaf: ReceiptLeaf,
		/// Its proof against the entry's root.
		proof: ReceiptProof,
	},
	/// "The entry lists more bytes than its receipts": any leaf's proof shows the tree's
	/// total. Upheld at once when it is below the entry's bytes.
	WrongTotal {
		/// Any leaf.
		leaf: ReceiptLeaf,
		/// Its proof.
		proof: ReceiptProof,
	},
	/// "The tree lists a receipt twice or out of order": two neighbouring leaves whose
	/// digests are not strictly ascending. Upheld at once.
	OutOfOrder {
		/// Leaf `i`.
		first: ReceiptLeaf,
		/// Its proof.
		first_proof: ReceiptProof,
		/// Leaf `i + 1`.
		second: ReceiptLeaf,
		/// Its proof.
		second_proof: ReceiptProof,
	},
}

/// Period numbering from block `start` on: period `period` begins there and each lasts
/// `length` blocks.
#[derive(
	Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug,
)]
pub struct PeriodAnchor<BlockNumber> {
	/// First block of `period`.
	pub start: BlockNumber,
	/// The period that starts at `start`.
	pub period: u32,
	/// Blocks per period from `start` on.
	pub length: BlockNumber,
}

/// What an open report keeps from the parameters at its opening, so a change by governance
/// does not move its windows or its chunking (part of the digest).
#[derive(
	Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug,
)]
pub struct FrozenReport<BlockNumber> {
	/// Blocks to reveal after the commit phase.
	pub reveal_window: BlockNumber,
	/// Blocks after the reveal window to finish streaming.
	pub stream_window: BlockNumber,
	/// Entries per chunk.
	pub chunk_size: u32,
	/// Nodes that share the resource part.
	pub top_nodes: u32,
}
