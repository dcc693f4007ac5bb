use crate::mock::NodeRegistry;
use crate::{mock::*, *};
use frame_support::{assert_noop, assert_ok};
use pallet_node_registry::{Reachability, GIB};
use sp_runtime::traits::BadOrigin;

fn events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| if let RuntimeEvent::FileRegistry(e) = r.event { Some(e) } else { None })
		.collect()
}

fn fid(n: u8) -> FileId {
	FileId([n; 32])
}

fn create(voter: u64, owner: u64, file: u8, size: u64, holders: Vec<u64>) -> DispatchResult {
	FileRegistry::vote_create_file(RuntimeOrigin::signed(voter), owner, fid(file), size, 1, holders)
		.map(drop)
		.map_err(|e| e.error)
}

/// Records file `file` of `owner` (1 GiB, holders 10, 11, 12) with votes of metas 1 and 2.
fn recorded(owner: u64, file: u8) {
	assert_ok!(create(1, owner, file, GIB, vec![10, 11, 12]));
	assert_ok!(create(2, owner, file, GIB, vec![10, 11, 12]));
	assert!(Files::<Test>::contains_key(owner, fid(file)));
}

fn free(who: u64) -> u64 {
	Balances::free_balance(who)
}

#[test]
fn credit_follows_the_curve_and_is_conserved() {
	build_and_execute(|| {
		let stake = pallet_node_registry::TotalDeposits::<Test>::get() as u128;
		let expected = SUPPLY * 1_000 / (stake + 1_000);
		assert_eq!(FileRegistry::quote(1_000), expected);
		assert_ok!(FileRegistry::buy_credit(RuntimeOrigin::signed(20), 1_000, expected));
		assert_eq!(Credit::<Test>::get(20), expected);
		assert_eq!(CreditLimit::<Test>::get(), SUPPLY - expected);
		assert_eq!(PrepaidPool::<Test>::get(), 1_000);
		assert_eq!(free(20), FUNDS - 1_000);
		assert_eq!(
			events().last(),
			Some(&Event::CreditPurchased { who: 20, paid: 1_000, credit: expected })
		);
		// The price rose: the same payment buys less now (Lt fell, Pt grew).
		let second = (SUPPLY - expected) * 1_000 / (stake + 1_000 + 1_000);
		assert_eq!(FileRegistry::quote(1_000), second);
		assert!(second < expected);
		assert_noop!(
			FileRegistry::buy_credit(RuntimeOrigin::signed(21), 1_000, second + 1),
			Error::<Test>::CreditBelowMinimum
		);
		assert_ok!(FileRegistry::buy_credit(RuntimeOrigin::signed(21), 1_000, 0));
	});
}

#[test]
fn buy_credit_errors() {
	build_and_execute(|| {
		assert_noop!(FileRegistry::buy_credit(RuntimeOrigin::none(), 5, 0), BadOrigin);
		assert_noop!(
			FileRegistry::buy_credit(RuntimeOrigin::signed(20), 0, 0),
			Error::<Test>::ZeroAmount
		);
		assert_noop!(
			FileRegistry::buy_credit(RuntimeOrigin::signed(20), FUNDS, 0),
			Error::<Test>::InsufficientBalance
		);
		assert_noop!(
			FileRegistry::buy_credit(RuntimeOrigin::signed(99), 5, 0),
			Error::<Test>::InsufficientBalance
		);
		assert_ok!(FileRegistry::set_credit_supply(RuntimeOrigin::root(), 0));
		assert_noop!(
			FileRegistry::buy_credit(RuntimeOrigin::signed(20), 5, 0),
			Error::<Test>::CreditExhausted
		);
	});
}

#[test]
fn reserve_release_and_charge() {
	build_and_execute(|| {
		assert_ok!(FileRegistry::buy_credit(RuntimeOrigin::signed(20), 1_000, 0));
		let credit = Credit::<Test>::get(20);
		assert_noop!(
			FileRegistry::reserve_credit(RuntimeOrigin::signed(20), credit + 1),
			Error::<Test>::InsufficientCredit
		);
		assert_noop!(
			FileRegistry::reserve_credit(RuntimeOrigin::signed(20), 0),
			Error::<Test>::ZeroAmount
		);
		assert_ok!(FileRegistry::reserve_credit(RuntimeOrigin::signed(20), 5_000));
		assert_eq!(Credit::<Test>::get(20), credit - 5_000);
		assert_eq!(FileRegistry::reserved(&20), 5_000);
		assert_eq!(Reserved::<Test>::get(20).unwrap().locked_until, 1 + LOCK);

		// Locked: a client cannot take credit back while tickets may be outstanding.
		assert_noop!(
			FileRegistry::release_credit(RuntimeOrigin::signed(20), 1_000),
			Error::<Test>::ReservationLocked
		);
		// PoT charges settled traffic: reserved credit goes back into the limit, and the
		// charged bytes' share of what the client paid is burned from the pool.
		let limit = CreditLimit::<Test>::get();
		assert_eq!(CreditValue::<Test>::get(20), 1_000, "credit keeps its purchase price");
		let (pool, issuance) = (PrepaidPool::<Test>::get(), Balances::total_issuance());
		let held = credit;
		let burned = FileRegistry::charge_reserved(&20, 3_000).expect("reserved");
		assert_eq!(burned, 1_000 * 3_000 / held);
		assert_eq!(CreditValue::<Test>::get(20), 1_000 - burned as u64);
		assert_eq!(PrepaidPool::<Test>::get(), pool - burned as u64);
		assert_eq!(Balances::total_issuance(), issuance - burned as u64);
		assert_eq!(FileRegistry::reserved(&20), 2_000);
		assert_eq!(CreditLimit::<Test>::get(), limit + 3_000);
		assert_noop!(
			FileRegistry::charge_reserved(&20, 2_001),
			Error::<Test>::InsufficientReserved
		);

		System::set_block_number(1 + LOCK);
		assert_noop!(
			FileRegistry::release_credit(RuntimeOrigin::signed(20), 2_001),
			Error::<Test>::InsufficientReserved
		);
		assert_noop!(
			FileRegistry::release_credit(RuntimeOrigin::signed(20), 0),
			Error::<Test>::ZeroAmount
		);
		assert_ok!(FileRegistry::release_credit(RuntimeOrigin::signed(20), 2_000));
		assert_eq!(FileRegistry::reserved(&20), 0);
		assert!(Reserved::<Test>::get(20).is_none());
		assert_eq!(Credit::<Test>::get(20), credit - 3_000);
	});
}

#[test]
fn credit_supply_changes_keep_sold_credit() {
	build_and_execute(|| {
		assert_ok!(FileRegistry::buy_credit(RuntimeOrigin::signed(20), 1_000, 0));
		let sold = Credit::<Test>::get(20);
		assert_noop!(FileRegistry::set_credit_supply(RuntimeOrigin::signed(1), 5), BadOrigin);
		assert_noop!(
			FileRegistry::set_credit_supply(RuntimeOrigin::root(), sold - 1),
			Error::<Test>::SupplyBelowOutstanding
		);
		assert_ok!(FileRegistry::set_credit_supply(RuntimeOrigin::root(), 2 * SUPPLY));
		assert_eq!(CreditLimit::<Test>::get(), 2 * SUPPLY - sold);
	});
}

#[test]
fn file_is_recorded_at_exactly_two_thirds() {
	build_and_execute(|| {
		assert_ok!(create(1, 20, 1, GIB, vec![10, 11, 12]));
		assert!(!Files::<Test>::contains_key(20, fid(1)), "one of three is short");
		// A different proposal for the same file is a different vote.
		assert_ok!(create(2, 20, 1, GIB, vec![10, 11, 13]));
		assert!(!Files::<Test>::contains_key(20, fid(1)));
		assert_ok!(create(3, 20, 1, GIB, vec![10, 11, 12]));
		let record = Files::<Test>::get(20, fid(1)).unwrap();
		assert_eq!(record.holders.to_vec(), vec![10, 11, 12]);
		assert_eq!(record.paid_through, 1, "fees run from the next storage period");
		assert_eq!(HolderStats::<Test>::get(10), HolderStat { replicas: 1, bytes: GIB });
		assert!(events().contains(&Event::FileCreated {
			owner: 20,
			file_id: fid(1),
			size: GIB,
			holders: vec![10, 11, 12]
		}));
		assert_eq!(FileRegistry::holders(&20, &fid(1)), Some(vec![10, 11, 12]));
		// The same content under another owner is another file.
		recorded(21, 1);
		assert_eq!(HolderStats::<Test>::get(10).replicas, 2);
	});
}

#[test]
fn file_votes_reject_bad_input() {
	build_and_execute(|| {
		assert_noop!(create(10, 20, 1, GIB, vec![11]), Error::<Test>::NotActiveMeta);
		assert_noop!(create(1, 20, 1, 0, vec![11]), Error::<Test>::BadFileShape);
		assert_noop!(
			FileRegistry::vote_create_file(RuntimeOrigin::signed(1), 20, fid(1), 5, 6, vec![11]),
			Error::<Test>::BadFileShape
		);
		assert_noop!(create(1, 20, 1, GIB, vec![]), Error::<Test>::BadHolderCount);
		assert_noop!(
			create(1, 20, 1, GIB, vec![10, 11, 12, 13, 14]),
			Error::<Test>::BadHolderCount
		);
		assert_noop!(create(1, 20, 1, GIB, vec![10, 11, 10]), Error::<Test>::DuplicateHolder);
		assert_noop!(create(1, 20, 1, GIB, vec![10, 2]), Error::<Test>::InactiveHolder);
		assert_noop!(create(1, 20, 1, GIB, vec![10, 25]), Error::<Test>::InactiveHolder);
		assert_ok!(create(1, 20, 1, GIB, vec![10]));
		assert_noop!(create(1, 20, 1, GIB, vec![10]), Error::<Test>::AlreadyVoted);
		recorded(20, 2);
		assert_noop!(create(1, 20, 2, GIB, vec![10]), Error::<Test>::FileExists);
		// Suspended nodes receive no new data.
		for m in [1, 2] {
			assert_ok!(NodeRegistry::report_reachability(
				RuntimeOrigin::signed(m),
				13,
				Reachability::Unreachable
			));
		}
		assert_noop!(create(1, 20, 3, GIB, vec![13]), Error::<Test>::InactiveHolder);
		assert_noop!(
			FileRegistry::vote_set_holders(RuntimeOrigin::signed(1), 20, fid(9), vec![10]),
			Error::<Test>::UnknownFile
		);
		assert_noop!(
			FileRegistry::vote_set_holders(RuntimeOrigin::signed(1), 20, fid(2), vec![10, 11, 12]),
			Error::<Test>::SameHolders
		);
	});
}

#[test]
fn electorate_is_fixed_when_a_file_vote_opens() {
	build_and_execute(|| {
		assert_ok!(create(1, 20, 1, GIB, vec![10]));
		// Meta 2 leaves mid-vote: the snapshot (3 members) and its threshold (2) stay.
		assert_ok!(NodeRegistry::unbond(RuntimeOrigin::signed(2)));
		assert_noop!(create(2, 20, 1, GIB, vec![10]), Error::<Test>::NotActiveMeta);
		assert!(!Files::<Test>::contains_key(20, fid(1)));
		assert_ok!(create(3, 20, 1, GIB, vec![10]));
		assert!(Files::<Test>::contains_key(20, fid(1)));
	});
}

#[test]
fn holders_change_by_quorum_after_settling_with_the_old_ones() {
	build_and_execute(|| {
		recorded(20, 1);
		// Two full periods later (periods 1 and 2 are due).
		System::set_block_number(3 * PERIOD);
		let (f10, f13) = (free(10), free(13));
		assert_ok!(FileRegistry::vote_set_holders(
			RuntimeOrigin::signed(1),
			20,
			fid(1),
			vec![10, 13]
		));
		assert_ok!(FileRegistry::vote_set_holders(
			RuntimeOrigin::signed(3),
			20,
			fid(1),
			vec![10, 13]
		));
		let record = Files::<Test>::get(20, fid(1)).unwrap();
		assert_eq!(record.holders.to_vec(), vec![10, 13]);
		assert_eq!(record.paid_through, 3);
		assert_eq!(free(10), f10 + 600, "old holder paid two periods");
		assert_eq!(free(13), f13, "new holder earns from now on");
		assert_eq!(HolderStats::<Test>::get(11), HolderStat::default());
		assert_eq!(HolderStats::<Test>::get(13).replicas, 1);
		assert!(events().contains(&Event::HoldersChanged {
			owner: 20,
			file_id: fid(1),
			holders: vec![10, 13]
		}));
	});
}

#[test]
fn storage_fees_are_paid_pro_rata_except_to_failing_holders() {
	build_and_execute(|| {
		recorded(20, 1);
		MockChallenges::fail(11, 2);
		System::set_block_number(3 * PERIOD + 1);
		let before: Vec<u64> = [10, 11, 12, 20].iter().map(|a| free(*a)).collect();
		assert_ok!(FileRegistry::settle_storage(RuntimeOrigin::signed(5), 20, fid(1)));
		// Periods 1 and 2 at 300 per holder; holder 11 failed in period 2.
		assert_eq!(free(10), before[0] + 600);
		assert_eq!(free(11), before[1] + 300);
		assert_eq!(free(12), before[2] + 600);
		assert_eq!(free(20), before[3] - 1_500, "the owner pays exactly what holders got");
		assert_eq!(Files::<Test>::get(20, fid(1)).unwrap().paid_through, 3);
		assert_eq!(
			events().last(),
			Some(&Event::StorageFeePaid { owner: 20, file_id: fid(1), periods: 2, paid: 1_500 })
		);
		// Nothing more is due within the period.
		assert_ok!(FileRegistry::settle_storage(RuntimeOrigin::signed(5), 20, fid(1)));
		assert_eq!(free(20), before[3] - 1_500);
		assert_noop!(
			FileRegistry::settle_storage(RuntimeOrigin::signed(5), 20, fid(9)),
			Error::<Test>::UnknownFile
		);
	});
}

#[test]
fn settlement_is_bounded_per_call() {
	build_and_execute(|| {
		recorded(20, 1);
		System::set_block_number(9 * PERIOD);
		assert_ok!(FileRegistry::settle_storage(RuntimeOrigin::signed(5), 20, fid(1)));
		assert_eq!(Files::<Test>::get(20, fid(1)).unwrap().paid_through, 6, "five periods");
		assert_ok!(FileRegistry::settle_storage(RuntimeOrigin::signed(5), 20, fid(1)));
		assert_eq!(Files::<Test>::get(20, fid(1)).unwrap().paid_through, 9);
	});
}

#[test]
fn unpaid_file_expires_after_the_grace_period() {
	build_and_execute(|| {
		// Owner 29 can pay one period (900) but not two.
		recorded(29, 1);
		let keep = free(29) - 1 - 1_200;
		assert_ok!(Balances::transfer_allow_death(RuntimeOrigin::signed(29), 28, keep));
		System::set_block_number(3 * PERIOD);
		assert_ok!(FileRegistry::settle_storage(RuntimeOrigin::signed(5), 29, fid(1)));
		assert_eq!(Files::<Test>::get(29, fid(1)).unwrap().paid_through, 2);
		assert!(events().contains(&Event::StorageFeeMissed {
			owner: 29,
			file_id: fid(1),
			unpaid_periods: 1
		}));
		// Grace: 2 unpaid periods are tolerated, the third expires the file.
		System::set_block_number(4 * PERIOD);
		assert_ok!(FileRegistry::settle_storage(RuntimeOrigin::signed(5), 29, fid(1)));
		assert!(Files::<Test>::contains_key(29, fid(1)));
		System::set_block_number(5 * PERIOD);
		assert_ok!(FileRegistry::settle_storage(RuntimeOrigin::signed(5), 29, fid(1)));
		assert!(!Files::<Test>::contains_key(29, fid(1)));
		assert_eq!(events().last(), Some(&Event::FileExpired { owner: 29, file_id: fid(1) }));
		assert_eq!(HolderStats::<Test>::get(10), HolderStat::default());
	});
}

#[test]
fn owner_deletes_a_file_after_paying_what_is_due() {
	build_and_execute(|| {
		recorded(20, 1);
		System::set_block_number(2 * PERIOD);
		let f10 = free(10);
		assert_noop!(
			FileRegistry::delete_file(RuntimeOrigin::signed(21), fid(1)),
			Error::<Test>::UnknownFile
		);
		assert_ok!(FileRegistry::delete_file(RuntimeOrigin::signed(20), fid(1)));
		assert_eq!(free(10), f10 + 300);
		assert!(!Files::<Test>::contains_key(20, fid(1)));
		assert_eq!(HolderStats::<Test>::get(10), HolderStat::default());
		assert_eq!(events().last(), Some(&Event::FileDeleted { owner: 20, file_id: fid(1) }));
	});
}

#[test]
fn a_holder_cannot_leave_before_its_replicas_are_moved() {
	build_and_execute(|| {
		recorded(20, 1);
		assert_ok!(NodeRegistry::unbond(RuntimeOrigin::signed(12)));
		System::set_block_number(100);
		assert_noop!(
			NodeRegistry::withdraw(RuntimeOrigin::signed(12)),
			pallet_node_registry::Error::<Test>::StillHoldsReplicas
		);
		for m in [1, 2] {
			assert_ok!(FileRegistry::vote_set_holders(
				RuntimeOrigin::signed(m),
				20,
				fid(1),
				vec![10, 11, 13]
			));
		}
		assert_ok!(NodeRegistry::withdraw(RuntimeOrigin::signed(12)));
	});
}

#[test]
fn a_meta_node_admitted_mid_vote_cannot_vote_on_it() {
	use sp_core::{ed25519, Pair};
	use stratos_primitives::registration::{registration_payload, META_REGISTRATION_TAG};
	build_and_execute(|| {
		assert_ok!(create(1, 20, 1, GIB, vec![10]));
		// Account 4 becomes a meta node while the vote runs.
		let key = ed25519::Pair::from_seed(&[4; 32]);
		let genesis = System::block_hash(0).0;
		let sig = key.sign(&registration_payload(META_REGISTRATION_TAG, &genesis, &4u64, 0)).0;
		assert_ok!(NodeRegistry::register_meta(
			RuntimeOrigin::signed(4),
			stratos_primitives::NodeId(key.public().0),
			b"/ip4/127.0.0.1/tcp/7409".to_vec(),
			vec![],
			1_000,
			sig,
		));
		assert_ok!(NodeRegistry::approve_meta(RuntimeOrigin::root(), 4));
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(2), 4));
		assert_ok!(NodeRegistry::endorse_meta(RuntimeOrigin::signed(3), 4));
		assert!(<NodeRegistry as pallet_node_registry::NodeRegistry<u64>>::is_active_meta(&4));
		assert_noop!(create(4, 20, 1, GIB, vec![10]), Error::<Test>::NotInVoteSnapshot);
		// The threshold is still 2 of the 3 members the vote opened with.
		assert_ok!(create(2, 20, 1, GIB, vec![10]));
		assert!(Files::<Test>::contains_key(20, fid(1)));
	});
}

#[test]
fn counted_votes_are_free_refused_ones_pay() {
	build_and_execute(|| {
		let vote = |voter| {
			FileRegistry::vote_create_file(
				RuntimeOrigin::signed(voter),
				20,
				fid(1),
				GIB,
				1,
				vec![10, 11, 12],
			)
		};
		assert_eq!(vote(1).expect("counts").pays_fee, Pays::No);
		let refused = vote(1).expect_err("a second vote does not count");
		assert_eq!(refused.error, Error::<Test>::AlreadyVoted.into());
		assert_eq!(refused.post_info.pays_fee, Pays::Yes);
		let outsider = vote(10).expect_err("a resource node cannot vote");
		assert_eq!(outsider.post_info.pays_fee, Pays::Yes);
		assert_eq!(vote(2).expect("counts and records").pays_fee, Pays::No);
		assert!(Files::<Test>::contains_key(20, fid(1)));
	});
}

#[test]
fn a_batch_counts_each_vote_and_reports_the_refused_ones() {
	build_and_execute(|| {
		let create = |file, holders: Vec<u64>| FileProposal::<Test>::Create {
			owner: 20,
			file_id: fid(file),
			size: GIB,
			slices: 1,
			holders: BoundedVec::truncate_from(holders),
		};
		recorded(20, 9);
		System::reset_events();
		let good = vec![create(1, vec![10, 11, 12]), create(2, vec![11, 12, 13])];
		let mut mixed = good.clone();
		mixed.push(create(9, vec![10]));
		mixed.push(create(3, vec![10, 10]));

		let info =
			FileRegistry::vote_batch(RuntimeOrigin::signed(1), BoundedVec::truncate_from(mixed))
				.expect("the good votes count");
		assert_eq!(info.pays_fee, Pays::Yes, "a batch with refused votes pays");
		let evs = events();
		assert!(evs.contains(&Event::VoteRefused {
			voter: 1,
			index: 2,
			error: Error::<Test>::FileExists.into()
		}));
		assert!(evs.contains(&Event::VoteRefused {
			voter: 1,
			index: 3,
			error: Error::<Test>::DuplicateHolder.into()
		}));
		assert_eq!(
			evs.iter().filter(|e| matches!(e, Event::FileVoted { voter: 1, .. })).count(),
			2
		);
		assert!(!Files::<Test>::contains_key(20, fid(1)));

		let info = FileRegistry::vote_batch(
			RuntimeOrigin::signed(2),
			BoundedVec::truncate_from(good.clone()),
		)
		.expect("both count");
		assert_eq!(info.pays_fee, Pays::No, "a batch whose votes all count is free");
		assert_eq!(Files::<Test>::get(20, fid(1)).unwrap().holders.to_vec(), vec![10, 11, 12]);
		assert_eq!(Files::<Test>::get(20, fid(2)).unwrap().holders.to_vec(), vec![11, 12, 13]);
		assert!(!Files::<Test>::contains_key(20, fid(3)));

		// Re-homing in a batch, next to a vote for a file that does not exist.
		let rehome = FileProposal::<Test>::SetHolders {
			owner: 20,
			file_id: fid(1),
			holders: BoundedVec::truncate_from(vec![11, 12, 13]),
		};
		let unknown = FileProposal::<Test>::SetHolders {
			owner: 20,
			file_id: fid(7),
			holders: BoundedVec::truncate_from(vec![11]),
		};
		for m in [1, 2] {
			assert_ok!(FileRegistry::vote_batch(
				RuntimeOrigin::signed(m),
				BoundedVec::truncate_from(vec![rehome.clone(), unknown.clone()]),
			));
		}
		assert_eq!(Files::<Test>::get(20, fid(1)).unwrap().holders.to_vec(), vec![11, 12, 13]);

		assert_noop!(
			FileRegistry::vote_batch(RuntimeOrigin::signed(10), BoundedVec::truncate_from(good)),
			Error::<Test>::NotActiveMeta
		);
		assert_noop!(
			FileRegistry::vote_batch(RuntimeOrigin::signed(1), BoundedVec::new()),
			Error::<Test>::EmptyBatch
		);
	});
}

#[test]
fn spending_all_credit_burns_all_its_value_and_refunds_carry_none() {
	build_and_execute(|| {
		assert_ok!(FileRegistry::buy_credit(RuntimeOrigin::signed(20), 1_000, 0));
		let credit = Credit::<Test>::get(20);
		assert_ok!(FileRegistry::reserve_credit(RuntimeOrigin::signed(20), credit));
		assert_eq!(FileRegistry::charge_reserved(&20, credit), Ok(1_000));
		assert!(!CreditValue::<Test>::contains_key(20), "no value left without credit");
		// A charge reversed after a dispute gives the bytes back, not the burned tokens.
		assert_eq!(FileRegistry::refund_charge(&20, 500), 500);
		assert_eq!(Credit::<Test>::get(20), 500);
		assert_eq!(CreditValue::<Test>::get(20), 0);
	});
}

#[test]
fn v1_migration_shares_the_pool_among_credit_holders() {
	use crate::migrations::v1::MigrateToV1;
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	build_and_execute(|| {
		assert_ok!(FileRegistry::buy_credit(RuntimeOrigin::signed(20), 1_000, 0));
		assert_ok!(FileRegistry::buy_credit(RuntimeOrigin::signed(21), 3_000, 0));
		let (c20, c21) = (Credit::<Test>::get(20), Credit::<Test>::get(21));
		assert_ok!(FileRegistry::reserve_credit(RuntimeOrigin::signed(21), c21 / 2));
		// A chain that ran v0 code kept no credit values.
		let _ = CreditValue::<Test>::clear(u32::MAX, None);
		StorageVersion::new(0).put::<FileRegistry>();
		MigrateToV1::<Test>::on_runtime_upgrade();
		assert_eq!(FileRegistry::on_chain_storage_version(), 1);
		let pool = PrepaidPool::<Test>::get() as u128;
		let total = c20 + c21;
		assert_eq!(CreditValue::<Test>::get(20) as u128, pool * c20 / total);
		assert_eq!(CreditValue::<Test>::get(21) as u128, pool * c21 / total);
	});
}

#[test]
fn a_file_needs_the_minimum_of_distinct_holders() {
	build_and_execute(|| {
		assert_ok!(FileRegistry::set_min_holders(RuntimeOrigin::root(), 3));
		assert!(System::events().iter().any(
			|e| e.event == RuntimeEvent::FileRegistry(Event::MinHoldersSet { min_holders: 3 })
		));
		// A self-downloader's single copy, or two copies, are refused.
		assert_noop!(create(1, 20, 1, GIB, vec![10]), Error::<Test>::TooFewHolders);
		assert_noop!(create(1, 20, 1, GIB, vec![10, 11]), Error::<Test>::TooFewHolders);
		assert_noop!(create(1, 20, 1, GIB, vec![10, 11, 10]), Error::<Test>::DuplicateHolder);
		assert_ok!(create(1, 20, 1, GIB, vec![10, 11, 12]));
		// Governance only, within 1..=MaxHolders.
		assert_noop!(FileRegistry::set_min_holders(RuntimeOrigin::signed(1), 1), BadOrigin);
		assert_noop!(
			FileRegistry::set_min_holders(RuntimeOrigin::root(), 0),
			Error::<Test>::BadHolderCount
		);
		assert_noop!(
			FileRegistry::set_min_holders(RuntimeOrigin::root(), 5),
			Error::<Test>::BadHolderCount
		);
	});
}

#[test]
fn the_default_genesis_floor_is_three_holders() {
	assert_eq!(crate::GenesisConfig::<Test>::default().min_holders, 3);
}

#[test]
fn file_votes_expire_and_anyone_prunes_them() {
	build_and_execute(|| {
		assert_ok!(create(1, 20, 1, GIB, vec![10, 11, 12]));
		let key = FileVotes::<Test>::iter_keys().next().expect("open vote");
		assert_noop!(
			FileRegistry::prune_file_vote(RuntimeOrigin::signed(25), key),
			Error::<Test>::VoteNotExpired
		);
		// Past the time-to-live (100 blocks) meta 1's vote no longer counts: meta 2's opens a
		// fresh vote instead of reaching 2 of 3.
		System::set_block_number(1 + 100);
		assert_ok!(create(2, 20, 1, GIB, vec![10, 11, 12]));
		assert!(!Files::<Test>::contains_key(20, fid(1)));
		assert_eq!(FileVotes::<Test>::get(key).unwrap().1.ayes.to_vec(), vec![2]);
		// Expired again: pruned by anyone, for free.
		System::set_block_number(1 + 200);
		let info =
			FileRegistry::prune_file_vote(RuntimeOrigin::signed(25), key).expect("expired vote");
		assert_eq!(info.pays_fee, frame_support::dispatch::Pays::No);
		assert!(FileVotes::<Test>::get(key).is_none());
		assert_noop!(
			FileRegistry::prune_file_vote(RuntimeOrigin::signed(25), key),
			Error::<Test>::NoSuchVote
		);
	});
}
