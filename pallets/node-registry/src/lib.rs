//! # Node registry
//!
//! Who the resource and meta nodes are and what they staked (whitepaper §3.1, §4.1).
//!
//! * **Resource nodes** register with their ed25519 node key (their libp2p identity, which
//!   signs task receipts), a network address, declared capacity, a region label and a
//!   deposit of at least `ResourceDepositBase + DepositPerGiB · ⌈capacity / GiB⌉`, put on
//!   hold ([`HoldReason::NodeDeposit`]). The node key signs
//!   `("stratos/rn-register", genesis hash, account, nonce)`
//!   ([`stratos_primitives::registration`]), so nobody registers a key that is not theirs.
//! * **Meta nodes** register the same way (deposit at least `MetaDeposit`) and start
//!   *pending*. They become active only when **both** ≥ 2/3 of the active meta nodes have
//!   endorsed them ([`Pallet::endorse_meta`]) **and** governance approved them
//!   ([`Pallet::approve_meta`], `AdminOrigin`), so a meta-node majority cannot admit itself
//!   and governance cannot impose a node the meta nodes refuse to work with.
//! * Operators update their node, add deposit, **unbond** (the node stops receiving data
//!   and earning at once) and **withdraw** after the unbonding period. A resource node that
//!   still holds replicas cannot withdraw until the meta nodes moved them
//!   ([`Config::Replicas`]).
//! * A meta-node quorum **suspends** an unreachable resource node and **resumes** it.
//!   Suspended nodes earn nothing and receive no new data.
//! * **Slashing** (by other pallets through [`NodeRegistry::slash`], or by `AdminOrigin`)
//!   takes from the held deposit; what the deposit cannot cover stays as [`Debt`], paid
//!   back from later deposits and rewards ([`NodeRegistry::recover_debt`]).
//!
//! Every quorum decision uses [`traits::MetaVote`]: the active meta set is snapshotted when
//! the vote opens, and `3 · ayes ≥ 2 · members` decides
//! ([`stratos_primitives::quorum`]).
//!
//! Other pallets see this one through [`NodeRegistry`] only.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{BalancedHold, Inspect, InspectHold, Mutate, MutateHold},
		tokens::{Fortitude, Precision, Preservation},
		Imbalance,
	},
	CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::*;
use scale_info::TypeInfo;
use sp_runtime::{
	traits::{Saturating, Zero},
	SaturatedConversion,
};
use stratos_primitives::{
	registration::{
		registration_payload, verify_node_signature, META_REGISTRATION_TAG,
		RESOURCE_REGISTRATION_TAG,
	},
	NodeId,
};

pub use pallet::*;

/// The chain's genesis hash, which signed payloads and report digests are bound to.
pub fn genesis_hash<T: frame_system::Config>() -> [u8; 32] {
	frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero())
		.as_ref()
		.try_into()
		.unwrap_or_default()
}
pub use traits::{HeldReplicas, MetaVote, NodeRegistry, NoteBurn, VoteError};
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod traits;
pub mod weights;

/// The currency's balance type.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// A meta-node vote of this runtime.
pub type VoteOf<T> = MetaVote<
	<T as frame_system::Config>::AccountId,
	BlockNumberFor<T>,
	<T as Config>::MaxMetaNodes,
>;

/// One gibibyte: the unit of declared capacity the deposit grows by.
pub const GIB: u64 = 1 << 30;

/// Which layer a node serves.
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
	serde::Serialize,
	serde::Deserialize,
)]
pub enum NodeKind {
	/// Stores and serves slices.
	Resource,
	/// Indexes files, routes requests, audits traffic.
	Meta,
}

/// Where a node is in its life cycle.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, Copy, PartialEq, Eq, Debug)]
pub enum NodeStatus<BlockNumber> {
	/// A meta node waiting for admission: it needs both flags.
	Pending {
		/// ≥ 2/3 of the active meta nodes endorsed it.
		endorsed: bool,
		/// Governance approved it.
		approved: bool,
	},
	/// Serving (and, for meta nodes, voting).
	Active,
	/// A resource node the meta nodes found unreachable: no new data, no rewards.
	Suspended,
	/// Leaving; the deposit can be withdrawn from block `until` on.
	Unbonding {
		/// First block at which [`Pallet::withdraw`] succeeds.
		until: BlockNumber,
	},
}

/// A registered node.
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct NodeInfo<T: Config> {
	/// Resource or meta node.
	pub kind: NodeKind,
	/// The node's ed25519 key (libp2p identity).
	pub node_id: NodeId,
	/// Network address (a multiaddr as text).
	pub address: BoundedVec<u8, T::MaxAddressLen>,
	/// Declared capacity in bytes (0 for meta nodes).
	pub capacity: u64,
	/// Region label, e.g. `eu-west`.
	pub region: BoundedVec<u8, T::MaxRegionLen>,
	/// The deposit on hold.
	pub deposit: BalanceOf<T>,
	/// Life-cycle state.
	pub status: NodeStatus<BlockNumberFor<T>>,
	/// Block of registration.
	pub registered_at: BlockNumberFor<T>,
}

/// What a reachability vote proposes.
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
pub enum Reachability {
	/// Suspend the node: it did not answer.
	Unreachable,
	/// Resume the node: it answers again.
	Reachable,
}

/// A stored vote of the meta nodes, as [`Pallet::prune_vote`] names it.
#[derive(
	Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug,
)]
pub enum VoteRef<AccountId> {
	/// The endorsement vote on a meta candidate.
	Endorsement(AccountId),
	/// A reachability vote on a resource node.
	Reachability(AccountId, Reachability),
}

/// A node listed in the genesis config (no signature: the chain spec is trusted).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenesisNode<AccountId, Balance> {
	/// The operator's account.
	pub account: AccountId,
	/// Resource or meta node.
	pub kind: NodeKind,
	/// The node key.
	pub node_id: NodeId,
	/// Network address (a multiaddr as text).
	pub address: alloc::string::String,
	/// Declared capacity (resource nodes).
	pub capacity: u64,
	/// Region label.
	pub region: alloc::string::String,
	/// Deposit to hold (at least the required one).
	pub deposit: Balance,
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

		/// The currency deposits are held in.
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ BalancedHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Who approves meta nodes and slashes by hand (Root, i.e. a referendum).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Replicas each resource node holds (the file registry).
		type Replicas: HeldReplicas<Self::AccountId>;

		/// Deposit of a resource node with no capacity.
		#[pallet::constant]
		type ResourceDepositBase: Get<BalanceOf<Self>>;
		/// Additional deposit per declared GiB (rounded up).
		#[pallet::constant]
		type DepositPerGiB: Get<BalanceOf<Self>>;
		/// Deposit of a meta node.
		#[pallet::constant]
		type MetaDeposit: Get<BalanceOf<Self>>;
		/// Longest network address, in bytes.
		#[pallet::constant]
		type MaxAddressLen: Get<u32>;
		/// Longest region label, in bytes.
		#[pallet::constant]
		type MaxRegionLen: Get<u32>;
		/// Most active meta nodes (bounds every vote's electorate).
		#[pallet::constant]
		type MaxMetaNodes: Get<u32>;
		/// Fewest active meta nodes: below it no vote could ever pass again.
		#[pallet::constant]
		type MinMetaNodes: Get<u32>;
		/// Blocks a meta-node vote (endorsement, reachability) lives: an older one no longer
		/// counts, a new vote opens over the current meta set, and anyone may prune it.
		#[pallet::constant]
		type VoteTtl: Get<BlockNumberFor<Self>>;

		/// Told of every amount this pallet burns (slashes, debt repaid), so the chain's
		/// issuance ledger accounts for each burn.
		type Burns: NoteBurn<BalanceOf<Self>>;

		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A node's deposit.
		NodeDeposit,
	}

	/// Registered nodes by operator account (one node per account).
	#[pallet::storage]
	pub type Nodes<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, NodeInfo<T>>;

	/// The account that registered each node key.
	#[pallet::storage]
	pub type NodeOwners<T: Config> = StorageMap<_, Blake2_128Concat, NodeId, T::AccountId>;

	/// Registrations of each node key so far: the nonce its next registration signs.
	#[pallet::storage]
	pub type KeyNonce<T: Config> = StorageMap<_, Blake2_128Concat, NodeId, u32, ValueQuery>;

	/// The active meta nodes, sorted.
	#[pallet::storage]
	pub type ActiveMeta<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxMetaNodes>, ValueQuery>;

	/// Open endorsement votes, by candidate meta node.
	#[pallet::storage]
	pub type Endorsements<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, VoteOf<T>>;

	/// Open reachability votes, by resource node and proposal.
	#[pallet::storage]
	pub type ReachabilityVotes<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, Reachability, VoteOf<T>>;

	/// Slashes the deposit could not cover, by account; kept after deregistration.
	#[pallet::storage]
	pub type Debt<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, BalanceOf<T>>;

	/// Node keys whose last owner left owing a debt: whoever registers the key next takes the
	/// debt over.
	#[pallet::storage]
	pub type KeyDebtor<T: Config> = StorageMap<_, Blake2_128Concat, NodeId, T::AccountId>;

	/// Sum of all deposits on hold.
	#[pallet::storage]
	pub type TotalDeposits<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// Blocks between `unbond` and `withdraw`, set per chain in genesis.
	#[pallet::storage]
	pub type UnbondingPeriod<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Blocks between `unbond` and `withdraw`.
		pub unbonding_period: BlockNumberFor<T>,
		/// Nodes active from genesis (meta nodes skip admission).
		pub nodes: Vec<GenesisNode<T::AccountId, BalanceOf<T>>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			UnbondingPeriod::<T>::put(self.unbonding_period);
			for n in &self.nodes {
				let address = n
					.address
					.as_bytes()
					.to_vec()
					.try_into()
					.expect("node-registry: address too long");
				let region = n
					.region
					.as_bytes()
					.to_vec()
					.try_into()
					.expect("node-registry: region too long");
				Pallet::<T>::check_new_node(&n.account, &n.node_id, n.kind, n.capacity, n.deposit)
					.expect("node-registry: invalid genesis node");
				Pallet::<T>::insert_node(
					&n.account,
					n.kind,
					n.node_id,
					address,
					n.capacity,
					region,
					n.deposit,
					NodeStatus::Active,
				)
				.expect("node-registry: genesis node cannot hold its deposit");
				if n.kind == NodeKind::Meta {
					Pallet::<T>::push_active_meta(&n.account)
						.expect("node-registry: more genesis meta nodes than MaxMetaNodes");
				}
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A resource node registered and is active.
		ResourceNodeRegistered {
			who: T::AccountId,
			node_id: NodeId,
			capacity: u64,
			deposit: BalanceOf<T>,
		},
		/// A meta node registered and waits for endorsement and approval.
		MetaNodeRegistered { who: T::AccountId, node_id: NodeId, deposit: BalanceOf<T> },
		/// A pending meta node withdrew its registration; its deposit was released.
		RegistrationCancelled { who: T::AccountId, released: BalanceOf<T> },
		/// A node changed its address, capacity or region (`held` more deposit for it).
		NodeUpdated { who: T::AccountId, capacity: u64, held: BalanceOf<T> },
		/// A node added deposit; `debt_paid` of it paid debt off first.
		DepositAdded { who: T::AccountId, held: BalanceOf<T>, debt_paid: BalanceOf<T> },
		/// A meta node endorsed a candidate.
		MetaEndorsementVoted {
			candidate: T::AccountId,
			voter: T::AccountId,
			ayes: u32,
			members: u32,
		},
		/// The endorsements of a candidate reached quorum.
		MetaEndorsed { candidate: T::AccountId },
		/// Governance approved a candidate.
		MetaApproved { candidate: T::AccountId },
		/// A meta node joined the active set.
		MetaNodeActivated { who: T::AccountId },
		/// A meta node voted on a resource node's reachability.
		ReachabilityVoted {
			node: T::AccountId,
			proposal: Reachability,
			voter: T::AccountId,
			ayes: u32,
			members: u32,
		},
		/// A resource node was suspended: no new data, no rewards.
		NodeSuspended { who: T::AccountId },
		/// A suspended resource node is active again.
		NodeResumed { who: T::AccountId },
		/// A node started unbonding; it may withdraw from block `until` on.
		Unbonding { who: T::AccountId, until: BlockNumberFor<T> },
		/// A node left; its deposit was released.
		Withdrawn { who: T::AccountId, released: BalanceOf<T> },
		/// `slashed` was taken from a deposit and `debt` added to what the account owes.
		Slashed { who: T::AccountId, slashed: BalanceOf<T>, debt: BalanceOf<T> },
		/// `amount` of debt was paid back (from a deposit or a reward).
		DebtRepaid { who: T::AccountId, amount: BalanceOf<T> },
		/// An expired vote was removed.
		VotePruned { vote: VoteRef<T::AccountId> },
		/// `to` registered the node key `from` left with a debt, and took the debt over.
		DebtInherited { from: T::AccountId, to: T::AccountId, amount: BalanceOf<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account has a node already: one node per account.
		AlreadyRegistered,
		/// Another account registered this node key.
		NodeKeyTaken,
		/// The node key's signature over the registration payload does not verify: sign
		/// `(tag, genesis hash, account, KeyNonce[node])`.
		BadNodeSignature,
		/// The deposit is below the required one (see the pallet's constants).
		DepositBelowMinimum,
		/// Free balance cannot cover the amount (the account must stay alive).
		InsufficientBalance,
		/// The address is empty or longer than `MaxAddressLen`.
		BadAddress,
		/// The region label is longer than `MaxRegionLen`.
		RegionTooLong,
		/// A resource node must declare some capacity.
		ZeroCapacity,
		/// The account owes slashed funds: pay the debt (it is added to the deposit) first.
		OutstandingDebt,
		/// The account has no node.
		NotRegistered,
		/// Only resource nodes can do or suffer this.
		NotResourceNode,
		/// The candidate is not a meta node waiting for admission.
		NotPendingMeta,
		/// The candidate's endorsements reached quorum already.
		AlreadyEndorsed,
		/// Governance approved the candidate already.
		AlreadyApproved,
		/// The caller is not an active meta node.
		NotActiveMeta,
		/// The voter was not in the active meta set when this vote opened.
		NotInVoteSnapshot,
		/// The voter has voted on this proposal already.
		AlreadyVoted,
		/// The active meta set is full (`MaxMetaNodes`).
		TooManyMetaNodes,
		/// Leaving would shrink the active meta set below `MinMetaNodes`.
		TooFewMetaNodes,
		/// The node is not active (pending, suspended or unbonding).
		NotActive,
		/// The node is not suspended.
		NotSuspended,
		/// The node is unbonding already, or still pending (cancel the registration).
		CannotUnbond,
		/// The node is not unbonding: call `unbond` first.
		NotUnbonding,
		/// The unbonding period has not ended yet.
		StillUnbonding,
		/// The node still holds replicas: the meta nodes must move them first.
		StillHoldsReplicas,
		/// The amount is zero.
		ZeroAmount,
		/// No such vote is stored.
		NoSuchVote,
		/// The vote has not outlived its time-to-live yet.
		VoteNotExpired,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register a resource node: it is active at once.
		///
		/// `signature`: the node key's ed25519 signature over
		/// `registration_payload("stratos/rn-register", genesis, caller, KeyNonce[node_id])`.
		/// `deposit` is held; it must be at least `ResourceDepositBase + DepositPerGiB ·
		/// ⌈capacity / GiB⌉`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_resource())]
		pub fn register_resource(
			origin: OriginFor<T>,
			node_id: NodeId,
			address: Vec<u8>,
			capacity: u64,
			region: Vec<u8>,
			deposit: BalanceOf<T>,
			signature: [u8; 64],
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let (address, region) = Self::check_fields(address, region)?;
			Self::check_new_node(&who, &node_id, NodeKind::Resource, capacity, deposit)?;
			Self::check_signature(&who, &node_id, RESOURCE_REGISTRATION_TAG, &signature)?;

			Self::insert_node(
				&who,
				NodeKind::Resource,
				node_id,
				address,
				capacity,
				region,
				deposit,
				NodeStatus::Active,
			)?;
			Self::deposit_event(Event::ResourceNodeRegistered { who, node_id, capacity, deposit });
			Ok(())
		}

		/// Register a meta node. It waits, pending, for endorsement by ≥ 2/3 of the active
		/// meta nodes and for governance's approval.
		///
		/// `signature` as for `register_resource`, with the tag `"stratos/meta-register"`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::register_meta())]
		pub fn register_meta(
			origin: OriginFor<T>,
			node_id: NodeId,
			address: Vec<u8>,
			region: Vec<u8>,
			deposit: BalanceOf<T>,
			signature: [u8; 64],
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let (address, region) = Self::check_fields(address, region)?;
			Self::check_new_node(&who, &node_id, NodeKind::Meta, 0, deposit)?;
			Self::check_signature(&who, &node_id, META_REGISTRATION_TAG, &signature)?;

			Self::insert_node(
				&who,
				NodeKind::Meta,
				node_id,
				address,
				0,
				region,
				deposit,
				NodeStatus::Pending { endorsed: false, approved: false },
			)?;
			Self::deposit_event(Event::MetaNodeRegistered { who, node_id, deposit });
			Ok(())
		}

		/// Withdraw a pending meta node's registration and release its deposit.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::cancel_registration())]
		pub fn cancel_registration(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let node = Nodes::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			ensure!(matches!(node.status, NodeStatus::Pending { .. }), Error::<T>::NotPendingMeta);

			let released = Self::remove_node(&who, &node)?;
			Endorsements::<T>::remove(&who);
			Self::deposit_event(Event::RegistrationCancelled { who, released });
			Ok(())
		}

		/// Change the node's address, capacity (resource nodes) or region; `None` keeps a
		/// field. A larger capacity holds the extra deposit it requires from free balance.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::update_node())]
		pub fn update_node(
			origin: OriginFor<T>,
			address: Option<Vec<u8>>,
			capacity: Option<u64>,
			region: Option<Vec<u8>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut node = Nodes::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			if let Some(a) = address {
				node.address = Self::bounded_address(a)?;
			}
			if let Some(r) = region {
				node.region = r.try_into().map_err(|_| Error::<T>::RegionTooLong)?;
			}
			if let Some(c) = capacity {
				ensure!(node.kind == NodeKind::Resource, Error::<T>::NotResourceNode);
				ensure!(c > 0, Error::<T>::ZeroCapacity);
				node.capacity = c;
			}
			let required = Self::required_deposit(node.kind, node.capacity);
			let extra = required.saturating_sub(node.deposit);
			if !extra.is_zero() {
				// A top-up pays the account's debt first.
				let debt = Debt::<T>::get(&who).unwrap_or_default();
				Self::ensure_free(&who, extra.saturating_add(debt))?;
				Self::pay_debt(&who, debt)?;
				T::Currency::hold(&HoldReason::NodeDeposit.into(), &who, extra)?;
				node.deposit = required;
				TotalDeposits::<T>::mutate(|t| *t = t.saturating_add(extra));
			}
			let capacity = node.capacity;
			Nodes::<T>::insert(&who, node);
			Self::deposit_event(Event::NodeUpdated { who, capacity, held: extra });
			Ok(())
		}

		/// Add `amount` to the node's deposit. Debt is paid off first (burned from the
		/// amount); the rest is held.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::add_deposit())]
		pub fn add_deposit(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			let mut node = Nodes::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			Self::ensure_free(&who, amount)?;

			let debt_paid = Debt::<T>::get(&who).unwrap_or_default().min(amount);
			let held = amount.saturating_sub(debt_paid);
			Self::pay_debt(&who, debt_paid)?;
			if !held.is_zero() {
				T::Currency::hold(&HoldReason::NodeDeposit.into(), &who, held)?;
				node.deposit = node.deposit.saturating_add(held);
				TotalDeposits::<T>::mutate(|t| *t = t.saturating_add(held));
				Nodes::<T>::insert(&who, node);
			}
			Self::deposit_event(Event::DepositAdded { who, held, debt_paid });
			Ok(())
		}

		/// Start leaving. The node stops receiving data and earning (meta nodes stop voting)
		/// now; `withdraw` releases the deposit after the unbonding period.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::unbond())]
		pub fn unbond(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut node = Nodes::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			ensure!(
				matches!(node.status, NodeStatus::Active | NodeStatus::Suspended),
				Error::<T>::CannotUnbond
			);
			let leaving_meta = node.kind == NodeKind::Meta;
			if leaving_meta {
				ensure!(
					ActiveMeta::<T>::decode_len().unwrap_or(0) as u32 > T::MinMetaNodes::get(),
					Error::<T>::TooFewMetaNodes
				);
			}

			let until = frame_system::Pallet::<T>::block_number()
				.saturating_add(UnbondingPeriod::<T>::get());
			node.status = NodeStatus::Unbonding { until };
			Nodes::<T>::insert(&who, node);
			if leaving_meta {
				ActiveMeta::<T>::mutate(|set| set.retain(|m| m != &who));
			}
			Self::deposit_event(Event::Unbonding { who, until });
			Ok(())
		}

		/// Leave: release the deposit once the unbonding period ended and (resource nodes)
		/// no replica is held any more. The node key can be registered again (with the next
		/// nonce).
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::withdraw())]
		pub fn withdraw(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let node = Nodes::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			let NodeStatus::Unbonding { until } = node.status else {
				return Err(Error::<T>::NotUnbonding.into());
			};
			ensure!(frame_system::Pallet::<T>::block_number() >= until, Error::<T>::StillUnbonding);
			ensure!(T::Replicas::replicas_held(&who) == 0, Error::<T>::StillHoldsReplicas);

			let released = Self::remove_node(&who, &node)?;
			Self::deposit_event(Event::Withdrawn { who, released });
			Ok(())
		}

		/// Endorse a pending meta node (caller: an active meta node). With ≥ 2/3 of the
		/// active set at the vote's opening, the candidate is endorsed; it becomes active once
		/// governance approved it too.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::endorse_meta())]
		pub fn endorse_meta(origin: OriginFor<T>, candidate: T::AccountId) -> DispatchResult {
			let voter = ensure_signed(origin)?;
			ensure!(Self::is_active_meta(&voter), Error::<T>::NotActiveMeta);
			let mut node = Nodes::<T>::get(&candidate).ok_or(Error::<T>::NotPendingMeta)?;
			let NodeStatus::Pending { endorsed, approved } = node.status else {
				return Err(Error::<T>::NotPendingMeta.into());
			};
			ensure!(!endorsed, Error::<T>::AlreadyEndorsed);
			let mut vote = Self::live(Endorsements::<T>::get(&candidate)).unwrap_or_else(|| {
				VoteOf::<T>::open(
					Self::active_meta_vec(),
					frame_system::Pallet::<T>::block_number(),
				)
			});
			let reached = vote.cast(voter.clone()).map_err(Self::vote_error)?;
			if reached && approved {
				Self::ensure_meta_room()?;
			}

			let (ayes, members) = (vote.ayes.len() as u32, vote.members.len() as u32);
			Self::deposit_event(Event::MetaEndorsementVoted {
				candidate: candidate.clone(),
				voter,
				ayes,
				members,
			});
			if reached {
				Endorsements::<T>::remove(&candidate);
				Self::deposit_event(Event::MetaEndorsed { candidate: candidate.clone() });
				node.status = NodeStatus::Pending { endorsed: true, approved };
				Self::admit_if_ready(&candidate, node)?;
			} else {
				Endorsements::<T>::insert(&candidate, vote);
			}
			Ok(())
		}

		/// Governance's half of a meta node's admission (origin: `AdminOrigin`).
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::approve_meta())]
		pub fn approve_meta(origin: OriginFor<T>, candidate: T::AccountId) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			let mut node = Nodes::<T>::get(&candidate).ok_or(Error::<T>::NotPendingMeta)?;
			let NodeStatus::Pending { endorsed, approved } = node.status else {
				return Err(Error::<T>::NotPendingMeta.into());
			};
			ensure!(!approved, Error::<T>::AlreadyApproved);
			if endorsed {
				Self::ensure_meta_room()?;
			}

			node.status = NodeStatus::Pending { endorsed, approved: true };
			Self::deposit_event(Event::MetaApproved { candidate: candidate.clone() });
			Self::admit_if_ready(&candidate, node)
		}

		/// Vote that a resource node is unreachable (`Unreachable`, suspends it at quorum) or
		/// reachable again (`Reachable`, resumes it). Caller: an active meta node.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::report_reachability())]
		pub fn report_reachability(
			origin: OriginFor<T>,
			node: T::AccountId,
			proposal: Reachability,
		) -> DispatchResult {
			let voter = ensure_signed(origin)?;
			ensure!(Self::is_active_meta(&voter), Error::<T>::NotActiveMeta);
			let mut info = Nodes::<T>::get(&node).ok_or(Error::<T>::NotRegistered)?;
			ensure!(info.kind == NodeKind::Resource, Error::<T>::NotResourceNode);
			match proposal {
				Reachability::Unreachable => {
					ensure!(info.status == NodeStatus::Active, Error::<T>::NotActive)
				},
				Reachability::Reachable => {
					ensure!(info.status == NodeStatus::Suspended, Error::<T>::NotSuspended)
				},
			}
			let mut vote =
				Self::live(ReachabilityVotes::<T>::get(&node, proposal)).unwrap_or_else(|| {
					VoteOf::<T>::open(
						Self::active_meta_vec(),
						frame_system::Pallet::<T>::block_number(),
					)
				});
			let reached = vote.cast(voter.clone()).map_err(Self::vote_error)?;

			Self::deposit_event(Event::ReachabilityVoted {
				node: node.clone(),
				proposal,
				voter,
				ayes: vote.ayes.len() as u32,
				members: vote.members.len() as u32,
			});
			if reached {
				let _ = ReachabilityVotes::<T>::clear_prefix(&node, 2, None);
				info.status = match proposal {
					Reachability::Unreachable => NodeStatus::Suspended,
					Reachability::Reachable => NodeStatus::Active,
				};
				Nodes::<T>::insert(&node, info);
				Self::deposit_event(match proposal {
					Reachability::Unreachable => Event::NodeSuspended { who: node },
					Reachability::Reachable => Event::NodeResumed { who: node },
				});
			} else {
				ReachabilityVotes::<T>::insert(&node, proposal, vote);
			}
			Ok(())
		}

		/// Slash `amount` from `who`'s deposit (origin: `AdminOrigin`); what the deposit
		/// cannot cover becomes debt. Slashed funds are burned.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::slash())]
		pub fn slash(
			origin: OriginFor<T>,
			who: T::AccountId,
			amount: BalanceOf<T>,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Self::do_slash(&who, amount)
		}
		/// Remove an expired vote (one that opened `VoteTtl` or more blocks ago). Anyone may;
		/// free when it prunes.
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::prune_vote())]
		pub fn prune_vote(
			origin: OriginFor<T>,
			vote: VoteRef<T::AccountId>,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			let stored = match &vote {
				VoteRef::Endorsement(candidate) => Endorsements::<T>::get(candidate),
				VoteRef::Reachability(node, proposal) => {
					ReachabilityVotes::<T>::get(node, proposal)
				},
			}
			.ok_or(Error::<T>::NoSuchVote)?;
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(stored.expired(now, T::VoteTtl::get()), Error::<T>::VoteNotExpired);
			match &vote {
				VoteRef::Endorsement(candidate) => Endorsements::<T>::remove(candidate),
				VoteRef::Reachability(node, proposal) => {
					ReachabilityVotes::<T>::remove(node, proposal)
				},
			}
			Self::deposit_event(Event::VotePruned { vote });
			Ok(Pays::No.into())
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
	/// The deposit a node of `kind` declaring `capacity` bytes must hold.
	pub fn required_deposit(kind: NodeKind, capacity: u64) -> BalanceOf<T> {
		match kind {
			NodeKind::Meta => T::MetaDeposit::get(),
			NodeKind::Resource => {
				let gib: BalanceOf<T> = capacity.div_ceil(GIB).saturated_into();
				T::ResourceDepositBase::get()
					.saturating_add(T::DepositPerGiB::get().saturating_mul(gib))
			},
		}
	}

	/// Whether `who` is in the active meta set.
	pub fn is_active_meta(who: &T::AccountId) -> bool {
		ActiveMeta::<T>::get().binary_search(who).is_ok()
	}

	fn active_meta_vec() -> Vec<T::AccountId> {
		ActiveMeta::<T>::get().into_inner()
	}

	/// A stored vote, unless it has expired.
	fn live(vote: Option<VoteOf<T>>) -> Option<VoteOf<T>> {
		let now = frame_system::Pallet::<T>::block_number();
		vote.filter(|v| !v.expired(now, T::VoteTtl::get()))
	}

	fn vote_error(e: VoteError) -> DispatchError {
		match e {
			VoteError::NotInSnapshot => Error::<T>::NotInVoteSnapshot.into(),
			VoteError::AlreadyVoted => Error::<T>::AlreadyVoted.into(),
		}
	}

	fn bounded_address(a: Vec<u8>) -> Result<BoundedVec<u8, T::MaxAddressLen>, DispatchError> {
		ensure!(!a.is_empty(), Error::<T>::BadAddress);
		Ok(a.try_into().map_err(|_| Error::<T>::BadAddress)?)
	}

	#[allow(clippy::type_complexity)]
	fn check_fields(
		address: Vec<u8>,
		region: Vec<u8>,
	) -> Result<(BoundedVec<u8, T::MaxAddressLen>, BoundedVec<u8, T::MaxRegionLen>), DispatchError>
	{
		let address = Self::bounded_address(address)?;
		let region = region.try_into().map_err(|_| Error::<T>::RegionTooLong)?;
		Ok((address, region))
	}

	/// Everything a new node must satisfy before anything is written.
	fn check_new_node(
		who: &T::AccountId,
		node_id: &NodeId,
		kind: NodeKind,
		capacity: u64,
		deposit: BalanceOf<T>,
	) -> DispatchResult {
		ensure!(!Nodes::<T>::contains_key(who), Error::<T>::AlreadyRegistered);
		ensure!(!NodeOwners::<T>::contains_key(node_id), Error::<T>::NodeKeyTaken);
		ensure!(Debt::<T>::get(who).unwrap_or_default().is_zero(), Error::<T>::OutstandingDebt);
		if kind == NodeKind::Resource {
			ensure!(capacity > 0, Error::<T>::ZeroCapacity);
		}
		ensure!(deposit >= Self::required_deposit(kind, capacity), Error::<T>::DepositBelowMinimum);
		Self::ensure_free(who, deposit)
	}

	fn check_signature(
		who: &T::AccountId,
		node_id: &NodeId,
		tag: &[u8],
		signature: &[u8; 64],
	) -> DispatchResult {
		let payload =
			registration_payload(tag, &genesis_hash::<T>(), who, KeyNonce::<T>::get(node_id));
		ensure!(verify_node_signature(node_id, &payload, signature), Error::<T>::BadNodeSignature);
		Ok(())
	}

	/// `amount` can leave `who`'s free balance without killing the account.
	fn ensure_free(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		let free = T::Currency::reducible_balance(who, Preservation::Preserve, Fortitude::Polite);
		ensure!(free >= amount, Error::<T>::InsufficientBalance);
		Ok(())
	}

	#[allow(clippy::too_many_arguments)]
	fn insert_node(
		who: &T::AccountId,
		kind: NodeKind,
		node_id: NodeId,
		address: BoundedVec<u8, T::MaxAddressLen>,
		capacity: u64,
		region: BoundedVec<u8, T::MaxRegionLen>,
		deposit: BalanceOf<T>,
		status: NodeStatus<BlockNumberFor<T>>,
	) -> DispatchResult {
		T::Currency::hold(&HoldReason::NodeDeposit.into(), who, deposit)?;
		TotalDeposits::<T>::mutate(|t| *t = t.saturating_add(deposit));
		NodeOwners::<T>::insert(node_id, who);
		if let Some(debtor) = KeyDebtor::<T>::take(node_id) {
			if &debtor != who {
				let debt = Debt::<T>::take(&debtor).unwrap_or_default();
				if !debt.is_zero() {
					Self::set_debt(
						who,
						Debt::<T>::get(who).unwrap_or_default().saturating_add(debt),
					);
					Self::deposit_event(Event::DebtInherited {
						from: debtor,
						to: who.clone(),
						amount: debt,
					});
				}
			}
		}
		KeyNonce::<T>::mutate(node_id, |n| *n = n.saturating_add(1));
		let registered_at = frame_system::Pallet::<T>::block_number();
		Nodes::<T>::insert(
			who,
			NodeInfo { kind, node_id, address, capacity, region, deposit, status, registered_at },
		);
		Ok(())
	}

	/// Releases the deposit and forgets the node; returns what was released.
	fn remove_node(who: &T::AccountId, node: &NodeInfo<T>) -> Result<BalanceOf<T>, DispatchError> {
		let released = T::Currency::release(
			&HoldReason::NodeDeposit.into(),
			who,
			node.deposit,
			Precision::BestEffort,
		)?;
		TotalDeposits::<T>::mutate(|t| *t = t.saturating_sub(node.deposit));
		NodeOwners::<T>::remove(node.node_id);
		Nodes::<T>::remove(who);
		// A debt follows the node key: whoever registers it next takes the debt over.
		if Debt::<T>::contains_key(who) {
			KeyDebtor::<T>::insert(node.node_id, who);
		}
		let _ = ReachabilityVotes::<T>::clear_prefix(who, 2, None);
		Ok(released)
	}

	fn ensure_meta_room() -> DispatchResult {
		ensure!(
			(ActiveMeta::<T>::decode_len().unwrap_or(0) as u32) < T::MaxMetaNodes::get(),
			Error::<T>::TooManyMetaNodes
		);
		Ok(())
	}

	fn push_active_meta(who: &T::AccountId) -> DispatchResult {
		ActiveMeta::<T>::try_mutate(|set| {
			if let Err(pos) = set.binary_search(who) {
				set.try_insert(pos, who.clone()).map_err(|_| Error::<T>::TooManyMetaNodes)?;
			}
			Ok(())
		})
	}

	/// Stores the candidate; activates it when both endorsement and approval are in. The
	/// caller checked that the active set has room.
	fn admit_if_ready(who: &T::AccountId, mut node: NodeInfo<T>) -> DispatchResult {
		if node.status == (NodeStatus::Pending { endorsed: true, approved: true }) {
			Self::push_active_meta(who)?;
			node.status = NodeStatus::Active;
			Nodes::<T>::insert(who, node);
			Self::deposit_event(Event::MetaNodeActivated { who: who.clone() });
		} else {
			Nodes::<T>::insert(who, node);
		}
		Ok(())
	}

	/// Pays `amount` of `who`'s debt from its free balance: burned, and noted as burned.
	fn pay_debt(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		if amount.is_zero() {
			return Ok(());
		}
		let burned = T::Currency::burn_from(
			who,
			amount,
			Preservation::Preserve,
			Precision::Exact,
			Fortitude::Polite,
		)?;
		T::Burns::note_burn(burned);
		Self::set_debt(who, Debt::<T>::get(who).unwrap_or_default().saturating_sub(amount));
		Self::deposit_event(Event::DebtRepaid { who: who.clone(), amount });
		Ok(())
	}

	fn set_debt(who: &T::AccountId, debt: BalanceOf<T>) {
		if debt.is_zero() {
			Debt::<T>::remove(who);
		} else {
			Debt::<T>::insert(who, debt);
		}
	}

	/// Slash from the deposit; the rest becomes debt.
	pub fn do_slash(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let mut node = Nodes::<T>::get(who).ok_or(Error::<T>::NotRegistered)?;

		let take = amount.min(node.deposit);
		let (credit, not_slashed) = T::Currency::slash(&HoldReason::NodeDeposit.into(), who, take);
		let slashed = take.saturating_sub(not_slashed);
		T::Burns::note_burn(credit.peek());
		drop(credit); // burned
		node.deposit = node.deposit.saturating_sub(slashed);
		TotalDeposits::<T>::mutate(|t| *t = t.saturating_sub(slashed));
		Nodes::<T>::insert(who, node);
		let debt = amount.saturating_sub(slashed);
		if !debt.is_zero() {
			Self::set_debt(who, Debt::<T>::get(who).unwrap_or_default().saturating_add(debt));
		}
		Self::deposit_event(Event::Slashed { who: who.clone(), slashed, debt });
		Ok(())
	}

	/// The invariants of this pallet's storage:
	///
	/// * the held balance of every account equals its node's recorded deposit, and
	///   `TotalDeposits` is their sum;
	/// * `NodeOwners` and `Nodes` map node keys and accounts one to one;
	/// * `ActiveMeta` is sorted, within bounds, and is exactly the active meta nodes;
	/// * no recorded debt is zero; open votes concern pending candidates / resource nodes.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let mut total = BalanceOf::<T>::zero();
		let mut active_meta = Vec::new();
		let mut nodes = 0usize;
		for (who, node) in Nodes::<T>::iter() {
			nodes += 1;
			let held = T::Currency::balance_on_hold(&HoldReason::NodeDeposit.into(), &who);
			ensure!(held == node.deposit, "held balance differs from the recorded deposit");
			total = total.saturating_add(node.deposit);
			ensure!(
				NodeOwners::<T>::get(node.node_id).as_ref() == Some(&who),
				"node key not owned by its node's account"
			);
			ensure!(KeyNonce::<T>::get(node.node_id) > 0, "registered key without a nonce");
			if node.kind == NodeKind::Meta && node.status == NodeStatus::Active {
				active_meta.push(who.clone());
			}
			if node.kind == NodeKind::Meta {
				ensure!(node.status != NodeStatus::Suspended, "suspended meta node");
			} else {
				ensure!(
					!matches!(node.status, NodeStatus::Pending { .. }),
					"pending resource node"
				);
			}
		}
		ensure!(total == TotalDeposits::<T>::get(), "TotalDeposits is not the sum of deposits");
		ensure!(NodeOwners::<T>::iter().count() == nodes, "NodeOwners has extra entries");
		for key in KeyDebtor::<T>::iter_keys() {
			ensure!(!NodeOwners::<T>::contains_key(key), "a registered key still names a debtor");
		}
		active_meta.sort();
		let set = ActiveMeta::<T>::get();
		ensure!(set.to_vec() == active_meta, "ActiveMeta is not the set of active meta nodes");
		ensure!(Debt::<T>::iter_values().all(|d| !d.is_zero()), "zero debt recorded");
		for candidate in Endorsements::<T>::iter_keys() {
			ensure!(
				matches!(
					Nodes::<T>::get(&candidate).map(|n| n.status),
					Some(NodeStatus::Pending { endorsed: false, .. })
				),
				"endorsement vote for a node that is not an unendorsed candidate"
			);
		}
		for (node, _, _) in ReachabilityVotes::<T>::iter() {
			ensure!(
				Nodes::<T>::get(&node).map(|n| n.kind) == Some(NodeKind::Resource),
				"reachability vote for a node that is not a resource node"
			);
		}
		Ok(())
	}
}

impl<T: Config> NodeRegistry<T::AccountId> for Pallet<T> {
	type Balance = BalanceOf<T>;
	type MaxMetaNodes = T::MaxMetaNodes;

	fn is_active_resource(who: &T::AccountId) -> bool {
		Nodes::<T>::get(who)
			.is_some_and(|n| n.kind == NodeKind::Resource && n.status == NodeStatus::Active)
	}

	fn is_rewardable_resource(who: &T::AccountId) -> bool {
		Nodes::<T>::get(who).is_some_and(|n| {
			n.kind == NodeKind::Resource
				&& n.status == NodeStatus::Active
				&& n.deposit >= Self::required_deposit(n.kind, n.capacity)
		})
	}

	fn is_active_meta(who: &T::AccountId) -> bool {
		Self::is_active_meta(who)
	}

	fn registered_at(who: &T::AccountId) -> Option<u64> {
		Nodes::<T>::get(who).map(|n| n.registered_at.saturated_into())
	}

	fn active_meta() -> Vec<T::AccountId> {
		Self::active_meta_vec()
	}

	fn node_id(who: &T::AccountId) -> Option<NodeId> {
		Nodes::<T>::get(who).map(|n| n.node_id)
	}

	fn account_of(node: &NodeId) -> Option<T::AccountId> {
		NodeOwners::<T>::get(node)
	}

	fn slash(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		Self::do_slash(who, amount)
	}

	fn total_staked() -> BalanceOf<T> {
		TotalDeposits::<T>::get()
	}

	fn recover_debt(who: &T::AccountId, reward: BalanceOf<T>) -> BalanceOf<T> {
		let debt = Debt::<T>::get(who).unwrap_or_default();
		let paid = debt.min(reward);
		if !paid.is_zero() {
			Self::set_debt(who, debt.saturating_sub(paid));
			Self::deposit_event(Event::DebtRepaid { who: who.clone(), amount: paid });
		}
		reward.saturating_sub(paid)
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn register_active_resource(who: &T::AccountId, seed: u32) {
		benchmarking::insert_active::<T>(who, NodeKind::Resource, seed);
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn register_active_meta(who: &T::AccountId, seed: u32) {
		benchmarking::insert_active::<T>(who, NodeKind::Meta, seed);
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_set_debt(who: &T::AccountId, amount: BalanceOf<T>) {
		Self::set_debt(who, amount);
	}
}
