//! What other pallets use of the node registry: a trait instead of its storage, and the
//! meta-node vote every quorum decision on chain goes through.

use alloc::vec::Vec;
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::{BoundedVec, Get},
	CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;
use sp_runtime::DispatchResult;
use stratos_primitives::{quorum::quorum_reached, NodeId};

/// The node registry as other pallets (file registry, Proof-of-Traffic) see it.
pub trait NodeRegistry<AccountId> {
	/// The currency's balance type.
	type Balance;
	/// Most active meta nodes: the bound of every vote's electorate.
	type MaxMetaNodes: Get<u32>;

	/// Whether `who` runs a resource node that may receive data and earn (registered, not
	/// suspended, not unbonding).
	fn is_active_resource(who: &AccountId) -> bool;
	/// Whether `who` runs an active resource node whose deposit still covers what its kind
	/// and capacity require (a node slashed below it earns nothing until it tops up).
	fn is_rewardable_resource(who: &AccountId) -> bool;
	/// Whether `who` is a member of the active meta-node set.
	fn is_active_meta(who: &AccountId) -> bool;
	/// The active meta-node set now, sorted: what a vote snapshots when it opens.
	fn active_meta() -> Vec<AccountId>;
	/// The node key `who` registered.
	fn node_id(who: &AccountId) -> Option<NodeId>;
	/// The account that registered node key `node`.
	fn account_of(node: &NodeId) -> Option<AccountId>;
	/// The block at which `who` registered its current node.
	fn registered_at(who: &AccountId) -> Option<u64>;
	/// Slash `amount` from `who`'s deposit; what the deposit cannot cover becomes debt.
	fn slash(who: &AccountId, amount: Self::Balance) -> DispatchResult;
	/// The sum of all node deposits (the `S` of the traffic-credit curve).
	fn total_staked() -> Self::Balance;
	/// Pay `who`'s debt out of `reward`; returns what is left of the reward.
	fn recover_debt(who: &AccountId, reward: Self::Balance) -> Self::Balance;

	/// Benchmarks: make `who` an active resource node (funding it as needed).
	#[cfg(feature = "runtime-benchmarks")]
	fn register_active_resource(who: &AccountId, seed: u32);
	/// Benchmarks: make `who` an active meta node (funding it as needed).
	#[cfg(feature = "runtime-benchmarks")]
	fn register_active_meta(who: &AccountId, seed: u32);
	/// Benchmarks: record a debt of `amount` for `who`.
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_set_debt(who: &AccountId, amount: Self::Balance);
}

/// Told of tokens burned, so an issuance ledger (the PoT pallet's) can account for them.
pub trait NoteBurn<Balance> {
	/// `amount` was burned.
	fn note_burn(amount: Balance);
}

impl<Balance> NoteBurn<Balance> for () {
	fn note_burn(_: Balance) {}
}

/// How many replicas a resource node holds, as the file registry records them. A node
/// that still holds replicas cannot finish unbonding.
pub trait HeldReplicas<AccountId> {
	/// Replicas `who` holds.
	fn replicas_held(who: &AccountId) -> u32;
}

impl<AccountId> HeldReplicas<AccountId> for () {
	fn replicas_held(_: &AccountId) -> u32 {
		0
	}
}

/// Why a meta node's vote was not counted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VoteError {
	/// The voter was not in the active meta set when the vote opened.
	NotInSnapshot,
	/// The voter has voted on this proposal already.
	AlreadyVoted,
}

/// A vote of the meta nodes on one proposal.
///
/// The active meta set is snapshotted when the vote opens: only its members may vote, and
/// the quorum (`3 · ayes ≥ 2 · members`, [`stratos_primitives::quorum`]) is taken over its
/// size, so nodes joining or leaving while the vote runs move neither the electorate nor
/// the threshold.
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(S))]
#[codec(mel_bound(AccountId: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct MetaVote<AccountId, BlockNumber, S: Get<u32>>
where
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
{
	/// The electorate: the active meta set when the vote opened (sorted).
	pub members: BoundedVec<AccountId, S>,
	/// Who voted aye, in voting order.
	pub ayes: BoundedVec<AccountId, S>,
	/// The block the vote opened at.
	pub opened: BlockNumber,
}

impl<AccountId, BlockNumber, S> MetaVote<AccountId, BlockNumber, S>
where
	AccountId: Clone + PartialEq + Eq + Ord + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	S: Get<u32>,
{
	/// Opens a vote over the electorate `members` (truncated to the bound, which the active
	/// set never exceeds).
	pub fn open(mut members: Vec<AccountId>, opened: BlockNumber) -> Self {
		members.sort();
		Self { members: BoundedVec::truncate_from(members), ayes: BoundedVec::new(), opened }
	}

	/// Checks that `voter` may vote, without counting the vote.
	pub fn check(&self, voter: &AccountId) -> Result<(), VoteError> {
		if self.members.binary_search(voter).is_err() {
			return Err(VoteError::NotInSnapshot);
		}
		if self.ayes.contains(voter) {
			return Err(VoteError::AlreadyVoted);
		}
		Ok(())
	}

	/// Counts `voter`'s aye; returns whether the quorum is reached now.
	pub fn cast(&mut self, voter: AccountId) -> Result<bool, VoteError> {
		self.check(&voter)?;
		// Cannot overflow: ayes ⊆ members, whose length fits the bound.
		self.ayes.try_push(voter).map_err(|_| VoteError::AlreadyVoted)?;
		Ok(self.reached())
	}

	/// Whether the vote has outlived `ttl` at block `now` (it opened `ttl` or more blocks
	/// ago): it no longer counts and anyone may prune it.
	pub fn expired(&self, now: BlockNumber, ttl: BlockNumber) -> bool
	where
		BlockNumber: sp_runtime::Saturating + PartialOrd + Copy,
	{
		now >= self.opened.saturating_add(ttl)
	}

	/// Whether the ayes reach the quorum of the snapshot.
	pub fn reached(&self) -> bool {
		quorum_reached(self.ayes.len() as u32, self.members.len() as u32)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use frame_support::traits::ConstU32;

	type Vote = MetaVote<u64, u64, ConstU32<8>>;

	#[test]
	fn quorum_over_the_snapshot() {
		let mut v = Vote::open(vec![3, 1, 2], 5);
		assert_eq!(v.members.to_vec(), vec![1, 2, 3]);
		assert_eq!(v.cast(1), Ok(false));
		assert_eq!(v.cast(1), Err(VoteError::AlreadyVoted));
		assert_eq!(v.cast(4), Err(VoteError::NotInSnapshot));
		assert_eq!(v.cast(3), Ok(true));
	}
}
