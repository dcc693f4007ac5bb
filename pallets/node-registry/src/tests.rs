use crate::mock::NodeRegistry;
use crate::NodeRegistry as _;
use crate::{mock::*, *};
use frame_support::{assert_noop, assert_ok, traits::fungible::InspectHold};
use sp_runtime::traits::BadOrigin;
use stratos_primitives::registration::{META_REGISTRATION_TAG, RESOURCE_REGISTRATION_TAG};

const ADDR: &[u8] = b"/ip4/127.0.0.1/tcp/7401";

fn events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| if let RuntimeEvent::NodeRegistry(e) = r.event { Some(e) } else { None })
		.collect()
}

fn held(who: u64) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::NodeRegistry(HoldReason::NodeDeposit), &who)
}

fn register_rn(who: u64, seed: u8, capacity: u64) -> DispatchResult {
	let deposit = NodeRegistry::required_deposit(NodeKind::Resource, capacity);
	NodeRegistry::register_resource(
		RuntimeOrigin::signed(who),
		node_id(seed),
		ADDR.to_vec(),
		capacity,
		b"eu".to_vec(),
		deposit,
		sign_registration(seed, who, RESOURCE_REGISTRATION_TAG),
	)
}

fn register_meta(who: u64, seed: u8) -> DispatchResult {
	NodeRegistry::register_meta(
		RuntimeOrigin::signed(who),
		node_id(seed),
		ADDR.to_vec(),
		b"eu".to_vec(),
		MetaDeposit::get(),
		sign_registration(seed, who, META_REGISTRATION_TAG),
	)
}

fn status(who: u64) -> Option<NodeStatus<u64>> {
	Nodes::<Test>::get(who).map(|n| n.status)
}

/// Registers, approves and endorses (by as many active meta nodes as it takes) meta node
/// `who`.
fn admit_meta(who: u64) {
	assert_ok!(register_meta(who, who as u8));
	assert_ok!(NodeRegistry::approve_meta(RuntimeOrigin::root(), who));
	for voter in ActiveMeta::<Test>::get() {
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(voter), who));
		if status(who) == Some(NodeStatus::Active) {
			break;
		}
	}
	assert_eq!(status(who), Some(NodeStatus::Active));
}

#[test]
fn genesis_nodes_are_active_with_deposits_held() {
	build_and_execute(|| {
		assert_eq!(ActiveMeta::<Test>::get().to_vec(), vec![1, 2, 3]);
		assert!(NodeRegistry::is_active_resource(&10));
		assert_eq!(held(10), 100 + 10 * 10);
		assert_eq!(held(1), 1_000);
		assert_eq!(TotalDeposits::<Test>::get(), 3 * 1_000 + 200);
		assert_eq!(UnbondingPeriod::<Test>::get(), UNBONDING);
	});
}

#[test]
fn deposit_grows_with_capacity() {
	build_and_execute(|| {
		assert_eq!(NodeRegistry::required_deposit(NodeKind::Resource, 1), 110);
		assert_eq!(NodeRegistry::required_deposit(NodeKind::Resource, GIB), 110);
		assert_eq!(NodeRegistry::required_deposit(NodeKind::Resource, GIB + 1), 120);
		assert_eq!(NodeRegistry::required_deposit(NodeKind::Meta, 5 * GIB), 1_000);
	});
}

#[test]
fn register_resource_holds_deposit_and_activates() {
	build_and_execute(|| {
		assert_ok!(register_rn(11, 11, 3 * GIB));
		let node = Nodes::<Test>::get(11).unwrap();
		assert_eq!(node.status, NodeStatus::Active);
		assert_eq!(node.capacity, 3 * GIB);
		assert_eq!(node.deposit, 130);
		assert_eq!(held(11), 130);
		assert_eq!(NodeOwners::<Test>::get(node_id(11)), Some(11));
		assert_eq!(KeyNonce::<Test>::get(node_id(11)), 1);
		assert!(NodeRegistry::is_active_resource(&11));
		assert_eq!(NodeRegistry::account_of(&node_id(11)), Some(11));
		assert_eq!(
			events().last(),
			Some(&Event::ResourceNodeRegistered {
				who: 11,
				node_id: node_id(11),
				capacity: 3 * GIB,
				deposit: 130
			})
		);
	});
}

#[test]
fn registration_rejects_bad_input_without_changing_state() {
	build_and_execute(|| {
		let sig = sign_registration(11, 11, RESOURCE_REGISTRATION_TAG);
		let call = |who: u64, id: NodeId, addr: &[u8], cap: u64, region: &[u8], dep: u64, sig| {
			NodeRegistry::register_resource(
				RuntimeOrigin::signed(who),
				id,
				addr.to_vec(),
				cap,
				region.to_vec(),
				dep,
				sig,
			)
		};
		assert_noop!(
			NodeRegistry::register_resource(
				RuntimeOrigin::none(),
				node_id(11),
				ADDR.to_vec(),
				GIB,
				vec![],
				110,
				sig
			),
			BadOrigin
		);
		// Already registered (account 10 runs a node) and key taken (node 10's key).
		let sig10 = sign_registration(12, 10, RESOURCE_REGISTRATION_TAG);
		assert_noop!(
			call(10, node_id(12), ADDR, GIB, b"", 110, sig10),
			Error::<Test>::AlreadyRegistered
		);
		let sig_taken = sign_registration(10, 11, RESOURCE_REGISTRATION_TAG);
		assert_noop!(
			call(11, node_id(10), ADDR, GIB, b"", 110, sig_taken),
			Error::<Test>::NodeKeyTaken
		);
		// Signature by another key, for another account, with another tag.
		assert_noop!(
			call(
				11,
				node_id(11),
				ADDR,
				GIB,
				b"",
				110,
				sign_registration(12, 11, RESOURCE_REGISTRATION_TAG)
			),
			Error::<Test>::BadNodeSignature
		);
		assert_noop!(
			call(
				11,
				node_id(11),
				ADDR,
				GIB,
				b"",
				110,
				sign_registration(11, 12, RESOURCE_REGISTRATION_TAG)
			),
			Error::<Test>::BadNodeSignature
		);
		assert_noop!(
			call(
				11,
				node_id(11),
				ADDR,
				GIB,
				b"",
				110,
				sign_registration(11, 11, META_REGISTRATION_TAG)
			),
			Error::<Test>::BadNodeSignature
		);
		assert_noop!(
			call(11, node_id(11), ADDR, GIB, b"", 109, sig),
			Error::<Test>::DepositBelowMinimum
		);
		assert_noop!(call(11, node_id(11), ADDR, 0, b"", 110, sig), Error::<Test>::ZeroCapacity);
		assert_noop!(call(11, node_id(11), b"", GIB, b"", 110, sig), Error::<Test>::BadAddress);
		assert_noop!(
			call(11, node_id(11), &[b'x'; 65], GIB, b"", 110, sig),
			Error::<Test>::BadAddress
		);
		assert_noop!(
			call(11, node_id(11), ADDR, GIB, &[b'r'; 17], 110, sig),
			Error::<Test>::RegionTooLong
		);
		// Unfunded account 99; and a deposit that would kill the account.
		let sig99 = sign_registration(11, 99, RESOURCE_REGISTRATION_TAG);
		assert_noop!(
			call(99, node_id(11), ADDR, GIB, b"", 110, sig99),
			Error::<Test>::InsufficientBalance
		);
		assert_noop!(
			call(11, node_id(11), ADDR, GIB, b"", FUNDS, sig),
			Error::<Test>::InsufficientBalance
		);
		// Debt blocks a new registration.
		Debt::<Test>::insert(11, 5);
		assert_noop!(
			call(11, node_id(11), ADDR, GIB, b"", 110, sig),
			Error::<Test>::OutstandingDebt
		);
	});
}

#[test]
fn old_signature_cannot_be_replayed_after_reregistration() {
	build_and_execute(|| {
		let old = sign_registration(11, 11, RESOURCE_REGISTRATION_TAG);
		assert_ok!(register_rn(11, 11, GIB));
		assert_ok!(NodeRegistry::unbond(RuntimeOrigin::signed(11)));
		System::set_block_number(1 + UNBONDING);
		assert_ok!(NodeRegistry::withdraw(RuntimeOrigin::signed(11)));
		assert_eq!(held(11), 0);
		assert_noop!(
			NodeRegistry::register_resource(
				RuntimeOrigin::signed(11),
				node_id(11),
				ADDR.to_vec(),
				GIB,
				vec![],
				110,
				old
			),
			Error::<Test>::BadNodeSignature
		);
		// A fresh signature (next nonce) works.
		assert_ok!(register_rn(11, 11, GIB));
		assert_eq!(KeyNonce::<Test>::get(node_id(11)), 2);
	});
}

#[test]
fn meta_admission_needs_endorsement_and_approval_in_either_order() {
	build_and_execute(|| {
		assert_ok!(register_meta(4, 4));
		assert_eq!(status(4), Some(NodeStatus::Pending { endorsed: false, approved: false }));
		assert!(!NodeRegistry::is_active_meta(&4));
		// Endorsement first: 1 of 3 is short, 2 of 3 is exactly 2/3.
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 4));
		assert_eq!(status(4), Some(NodeStatus::Pending { endorsed: false, approved: false }));
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(3), 4));
		assert_eq!(status(4), Some(NodeStatus::Pending { endorsed: true, approved: false }));
		assert!(!NodeRegistry::is_active_meta(&4), "a meta majority cannot admit alone");
		assert_noop!(
			NodeRegistry::endorse_meta(RuntimeOrigin::signed(2), 4),
			Error::<Test>::AlreadyEndorsed
		);
		assert_ok!(NodeRegistry::approve_meta(RuntimeOrigin::root(), 4));
		assert_eq!(status(4), Some(NodeStatus::Active));
		assert_eq!(ActiveMeta::<Test>::get().to_vec(), vec![1, 2, 3, 4]);
		assert!(events().contains(&Event::MetaNodeActivated { who: 4 }));

		// Approval first.
		assert_ok!(register_meta(5, 5));
		assert_ok!(NodeRegistry::approve_meta(RuntimeOrigin::root(), 5));
		assert_noop!(
			NodeRegistry::approve_meta(RuntimeOrigin::root(), 5),
			Error::<Test>::AlreadyApproved
		);
		assert!(!NodeRegistry::is_active_meta(&5), "governance cannot admit alone");
		// 4 members now: 2 of 4 is short, 3 of 4 reaches.
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 5));
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(4), 5));
		assert!(!NodeRegistry::is_active_meta(&5));
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(2), 5));
		assert!(NodeRegistry::is_active_meta(&5));
		assert!(Endorsements::<Test>::get(5).is_none());
	});
}

#[test]
fn endorsement_errors() {
	build_and_execute(|| {
		assert_ok!(register_meta(4, 4));
		assert_noop!(
			NodeRegistry::endorse_meta(RuntimeOrigin::signed(10), 4),
			Error::<Test>::NotActiveMeta
		);
		assert_noop!(
			NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 10),
			Error::<Test>::NotPendingMeta
		);
		assert_noop!(
			NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 77),
			Error::<Test>::NotPendingMeta
		);
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 4));
		assert_noop!(
			NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 4),
			Error::<Test>::AlreadyVoted
		);
		assert_noop!(NodeRegistry::approve_meta(RuntimeOrigin::signed(1), 4), BadOrigin);
		assert_noop!(
			NodeRegistry::approve_meta(RuntimeOrigin::root(), 1),
			Error::<Test>::NotPendingMeta
		);
	});
}

#[test]
fn electorate_is_the_snapshot_when_the_vote_opened() {
	build_and_execute(|| {
		assert_ok!(register_meta(5, 5));
		// Vote on 5 opens with members {1, 2, 3}.
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 5));
		// Meta node 4 joins while the vote runs: it may not vote on it, and the threshold
		// stays 2 of 3 (not 3 of 4).
		admit_meta(4);
		assert_noop!(
			NodeRegistry::endorse_meta(RuntimeOrigin::signed(4), 5),
			Error::<Test>::NotInVoteSnapshot
		);
		assert_eq!(Endorsements::<Test>::get(5).unwrap().members.len(), 3);
		// Member 1 leaves: its cast vote still counts, and it cannot vote any more.
		assert_ok!(NodeRegistry::unbond(RuntimeOrigin::signed(1)));
		assert_noop!(
			NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 6),
			Error::<Test>::NotActiveMeta
		);
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(2), 5));
		assert_eq!(status(5), Some(NodeStatus::Pending { endorsed: true, approved: false }));
	});
}

#[test]
fn cancel_registration_releases_pending_deposit() {
	build_and_execute(|| {
		assert_ok!(register_meta(4, 4));
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 4));
		assert_eq!(held(4), 1_000);
		assert_ok!(NodeRegistry::cancel_registration(RuntimeOrigin::signed(4)));
		assert_eq!(held(4), 0);
		assert!(Nodes::<Test>::get(4).is_none());
		assert!(Endorsements::<Test>::get(4).is_none());
		assert!(NodeOwners::<Test>::get(node_id(4)).is_none());
		assert_noop!(
			NodeRegistry::cancel_registration(RuntimeOrigin::signed(4)),
			Error::<Test>::NotRegistered
		);
		assert_noop!(
			NodeRegistry::cancel_registration(RuntimeOrigin::signed(1)),
			Error::<Test>::NotPendingMeta
		);
	});
}

#[test]
fn update_node_changes_fields_and_tops_up_deposit() {
	build_and_execute(|| {
		assert_ok!(NodeRegistry::update_node(
			RuntimeOrigin::signed(10),
			Some(b"/dns/rn.example/tcp/1".to_vec()),
			Some(20 * GIB),
			Some(b"us".to_vec()),
		));
		let node = Nodes::<Test>::get(10).unwrap();
		assert_eq!(node.address.to_vec(), b"/dns/rn.example/tcp/1".to_vec());
		assert_eq!(node.region.to_vec(), b"us".to_vec());
		assert_eq!(node.capacity, 20 * GIB);
		assert_eq!(node.deposit, 300);
		assert_eq!(held(10), 300);
		assert_eq!(
			events().last(),
			Some(&Event::NodeUpdated { who: 10, capacity: 20 * GIB, held: 100 })
		);
		// Shrinking keeps the deposit (no top-up, nothing released).
		assert_ok!(NodeRegistry::update_node(RuntimeOrigin::signed(10), None, Some(GIB), None));
		assert_eq!(held(10), 300);

		assert_noop!(
			NodeRegistry::update_node(RuntimeOrigin::signed(11), None, None, None),
			Error::<Test>::NotRegistered
		);
		assert_noop!(
			NodeRegistry::update_node(RuntimeOrigin::signed(10), None, Some(0), None),
			Error::<Test>::ZeroCapacity
		);
		assert_noop!(
			NodeRegistry::update_node(RuntimeOrigin::signed(1), None, Some(GIB), None),
			Error::<Test>::NotResourceNode
		);
		assert_noop!(
			NodeRegistry::update_node(RuntimeOrigin::signed(10), Some(vec![]), None, None),
			Error::<Test>::BadAddress
		);
		assert_noop!(
			NodeRegistry::update_node(RuntimeOrigin::signed(10), None, None, Some(vec![0; 17])),
			Error::<Test>::RegionTooLong
		);
		assert_noop!(
			NodeRegistry::update_node(RuntimeOrigin::signed(10), None, Some(u64::MAX), None),
			Error::<Test>::InsufficientBalance
		);
	});
}

#[test]
fn add_deposit_pays_debt_first() {
	build_and_execute(|| {
		// Slash 500 from a 200 deposit: 200 slashed, 300 debt.
		let issuance = Balances::total_issuance();
		assert_ok!(NodeRegistry::slash(RuntimeOrigin::root(), 10, 500));
		assert_eq!(held(10), 0);
		assert_eq!(Debt::<Test>::get(10), Some(300));
		assert_eq!(Balances::total_issuance(), issuance - 200, "slashed funds are burned");
		assert_eq!(events().last(), Some(&Event::Slashed { who: 10, slashed: 200, debt: 300 }));

		assert_ok!(NodeRegistry::add_deposit(RuntimeOrigin::signed(10), 250));
		assert_eq!(Debt::<Test>::get(10), Some(50));
		assert_eq!(held(10), 0);
		assert_ok!(NodeRegistry::add_deposit(RuntimeOrigin::signed(10), 250));
		assert_eq!(Debt::<Test>::get(10), None);
		assert_eq!(held(10), 200);
		assert_eq!(Balances::total_issuance(), issuance - 500);
		assert_eq!(
			events().last(),
			Some(&Event::DepositAdded { who: 10, held: 200, debt_paid: 50 })
		);

		assert_noop!(
			NodeRegistry::add_deposit(RuntimeOrigin::signed(10), 0),
			Error::<Test>::ZeroAmount
		);
		assert_noop!(
			NodeRegistry::add_deposit(RuntimeOrigin::signed(11), 5),
			Error::<Test>::NotRegistered
		);
		assert_noop!(
			NodeRegistry::add_deposit(RuntimeOrigin::signed(10), FUNDS),
			Error::<Test>::InsufficientBalance
		);
	});
}

#[test]
fn debt_is_recovered_from_rewards() {
	build_and_execute(|| {
		assert_ok!(<NodeRegistry as crate::NodeRegistry<u64>>::slash(&10, 260));
		assert_eq!(Debt::<Test>::get(10), Some(60));
		assert_eq!(NodeRegistry::recover_debt(&10, 25), 0);
		assert_eq!(Debt::<Test>::get(10), Some(35));
		assert_eq!(NodeRegistry::recover_debt(&10, 100), 65);
		assert_eq!(Debt::<Test>::get(10), None);
		assert_eq!(NodeRegistry::recover_debt(&10, 7), 7);
		assert_noop!(NodeRegistry::slash(RuntimeOrigin::signed(1), 10, 5), BadOrigin);
		assert_noop!(
			NodeRegistry::slash(RuntimeOrigin::root(), 11, 5),
			Error::<Test>::NotRegistered
		);
		assert_noop!(NodeRegistry::slash(RuntimeOrigin::root(), 10, 0), Error::<Test>::ZeroAmount);
	});
}

#[test]
fn unbonding_with_replicas_held_waits_for_the_meta_nodes() {
	build_and_execute(|| {
		assert_noop!(
			NodeRegistry::withdraw(RuntimeOrigin::signed(10)),
			Error::<Test>::NotUnbonding
		);
		assert_ok!(NodeRegistry::unbond(RuntimeOrigin::signed(10)));
		assert_eq!(status(10), Some(NodeStatus::Unbonding { until: 1 + UNBONDING }));
		assert!(!NodeRegistry::is_active_resource(&10), "an unbonding node receives no data");
		assert_noop!(NodeRegistry::unbond(RuntimeOrigin::signed(10)), Error::<Test>::CannotUnbond);
		MockReplicas::set(10, 3);
		System::set_block_number(UNBONDING);
		assert_noop!(
			NodeRegistry::withdraw(RuntimeOrigin::signed(10)),
			Error::<Test>::StillUnbonding
		);
		System::set_block_number(1 + UNBONDING);
		assert_noop!(
			NodeRegistry::withdraw(RuntimeOrigin::signed(10)),
			Error::<Test>::StillHoldsReplicas
		);
		MockReplicas::set(10, 0);
		let free = Balances::free_balance(10);
		assert_ok!(NodeRegistry::withdraw(RuntimeOrigin::signed(10)));
		assert_eq!(Balances::free_balance(10), free + 200);
		assert!(Nodes::<Test>::get(10).is_none());
		assert_eq!(TotalDeposits::<Test>::get(), 3_000);
		assert_eq!(events().last(), Some(&Event::Withdrawn { who: 10, released: 200 }));
		assert_noop!(NodeRegistry::unbond(RuntimeOrigin::signed(10)), Error::<Test>::NotRegistered);
	});
}

#[test]
fn meta_set_cannot_shrink_below_minimum() {
	build_and_execute(|| {
		assert_ok!(NodeRegistry::unbond(RuntimeOrigin::signed(1)));
		assert_ok!(NodeRegistry::unbond(RuntimeOrigin::signed(2)));
		assert_eq!(ActiveMeta::<Test>::get().to_vec(), vec![3]);
		assert_noop!(
			NodeRegistry::unbond(RuntimeOrigin::signed(3)),
			Error::<Test>::TooFewMetaNodes
		);
		// A pending candidate cannot unbond; it cancels.
		assert_ok!(register_meta(4, 4));
		assert_noop!(NodeRegistry::unbond(RuntimeOrigin::signed(4)), Error::<Test>::CannotUnbond);
	});
}

#[test]
fn meta_set_is_bounded() {
	build_and_execute(|| {
		for who in 4..=8 {
			admit_meta(who);
		}
		assert_eq!(ActiveMeta::<Test>::decode_len(), Some(8));
		assert_ok!(register_meta(9, 9));
		assert_ok!(NodeRegistry::approve_meta(RuntimeOrigin::root(), 9));
		// 8 members: 6 votes reach quorum; the sixth finds no room.
		for who in 1..=5 {
			assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(who), 9));
		}
		assert_noop!(
			NodeRegistry::endorse_meta(RuntimeOrigin::signed(6), 9),
			Error::<Test>::TooManyMetaNodes
		);
	});
}

#[test]
fn suspension_and_resumption_by_quorum() {
	build_and_execute(|| {
		use Reachability::*;
		let report =
			|who: u64, p| NodeRegistry::report_reachability(RuntimeOrigin::signed(who), 10, p);
		assert_noop!(report(1, Reachable), Error::<Test>::NotSuspended);
		assert_ok!(report(1, Unreachable));
		assert!(NodeRegistry::is_active_resource(&10), "one of three is short of quorum");
		assert_noop!(report(1, Unreachable), Error::<Test>::AlreadyVoted);
		assert_ok!(report(2, Unreachable));
		assert_eq!(status(10), Some(NodeStatus::Suspended));
		assert!(!NodeRegistry::is_active_resource(&10));
		assert!(events().contains(&Event::NodeSuspended { who: 10 }));
		assert_noop!(report(3, Unreachable), Error::<Test>::NotActive);

		assert_ok!(report(3, Reachable));
		assert_ok!(report(1, Reachable));
		assert_eq!(status(10), Some(NodeStatus::Active));
		assert!(ReachabilityVotes::<Test>::iter().next().is_none());

		assert_noop!(
			NodeRegistry::report_reachability(RuntimeOrigin::signed(10), 10, Unreachable),
			Error::<Test>::NotActiveMeta
		);
		assert_noop!(
			NodeRegistry::report_reachability(RuntimeOrigin::signed(1), 2, Unreachable),
			Error::<Test>::NotResourceNode
		);
		assert_noop!(
			NodeRegistry::report_reachability(RuntimeOrigin::signed(1), 11, Unreachable),
			Error::<Test>::NotRegistered
		);
		// A suspended node may leave.
		assert_ok!(report(1, Unreachable));
		assert_ok!(report(2, Unreachable));
		assert_ok!(NodeRegistry::unbond(RuntimeOrigin::signed(10)));
	});
}

#[test]
fn deposit_may_use_all_but_the_existential_deposit() {
	build_and_execute(|| {
		let free = Balances::free_balance(11) - 1;
		let deposit = free;
		assert_ok!(NodeRegistry::register_resource(
			RuntimeOrigin::signed(11),
			node_id(11),
			ADDR.to_vec(),
			GIB,
			vec![],
			deposit,
			sign_registration(11, 11, RESOURCE_REGISTRATION_TAG),
		));
		assert_eq!(held(11), deposit);
	});
}

#[test]
fn votes_expire_and_anyone_prunes_them() {
	build_and_execute(|| {
		use Reachability::*;
		assert_ok!(register_meta(4, 4));
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(1), 4));
		assert_ok!(NodeRegistry::report_reachability(RuntimeOrigin::signed(1), 10, Unreachable));
		let endorsement = VoteRef::Endorsement(4);
		let reachability = VoteRef::Reachability(10, Unreachable);
		assert_noop!(
			NodeRegistry::prune_vote(RuntimeOrigin::signed(25), endorsement.clone()),
			Error::<Test>::VoteNotExpired
		);
		// After the time-to-live (100 blocks) meta 1's aye no longer counts: meta 3's vote
		// opens a fresh one instead of reaching 2 of 3.
		System::set_block_number(1 + 100);
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(3), 4));
		assert_eq!(status(4), Some(NodeStatus::Pending { endorsed: false, approved: false }));
		assert_eq!(Endorsements::<Test>::get(4).unwrap().ayes.to_vec(), vec![3]);
		// The stale reachability vote is pruned by anyone, for free.
		let info = NodeRegistry::prune_vote(RuntimeOrigin::signed(25), reachability.clone())
			.expect("expired");
		assert_eq!(info.pays_fee, frame_support::dispatch::Pays::No);
		assert!(events().contains(&Event::VotePruned { vote: reachability.clone() }));
		assert_eq!(ReachabilityVotes::<Test>::iter().count(), 0);
		assert_noop!(
			NodeRegistry::prune_vote(RuntimeOrigin::signed(25), reachability),
			Error::<Test>::NoSuchVote
		);
		assert!(NodeRegistry::is_active_resource(&10));
	});
}

#[test]
fn debt_follows_the_node_key_to_a_new_account() {
	build_and_execute(|| {
		assert_ok!(register_rn(11, 11, GIB));
		// Slashed 500 beyond its 110 deposit: 390 of debt.
		assert_ok!(NodeRegistry::slash(RuntimeOrigin::root(), 11, 500));
		assert_eq!(Debt::<Test>::get(11), Some(390));
		assert_ok!(NodeRegistry::unbond(RuntimeOrigin::signed(11)));
		System::set_block_number(1 + UNBONDING);
		assert_ok!(NodeRegistry::withdraw(RuntimeOrigin::signed(11)));
		assert_eq!(KeyDebtor::<Test>::get(node_id(11)), Some(11));
		// The same key under a fresh account takes the debt over.
		assert_ok!(register_rn(26, 11, GIB));
		assert_eq!(Debt::<Test>::get(26), Some(390));
		assert_eq!(Debt::<Test>::get(11), None);
		assert!(KeyDebtor::<Test>::get(node_id(11)).is_none());
		assert!(events().contains(&Event::DebtInherited { from: 11, to: 26, amount: 390 }));
	});
}

#[test]
fn a_top_up_through_update_node_pays_debt_first() {
	build_and_execute(|| {
		let node = Nodes::<Test>::get(10).unwrap();
		assert_ok!(NodeRegistry::slash(RuntimeOrigin::root(), 10, node.deposit + 40));
		assert_eq!(Debt::<Test>::get(10), Some(40));
		let issuance = Balances::total_issuance();
		let capacity = node.capacity * 2;
		assert_ok!(NodeRegistry::update_node(
			RuntimeOrigin::signed(10),
			None,
			Some(capacity),
			None
		));
		assert_eq!(Debt::<Test>::get(10), None, "the debt is paid before the deposit grows");
		assert_eq!(held(10), NodeRegistry::required_deposit(NodeKind::Resource, capacity));
		assert_eq!(Balances::total_issuance(), issuance - 40, "the debt is burned");
		assert!(events().contains(&Event::DebtRepaid { who: 10, amount: 40 }));
	});
}
