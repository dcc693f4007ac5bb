//! Unit tests: every call's success path and every error, plus the session hand-over.

use crate::{mock::*, Error, Event, PendingChange, SessionLength, SessionLengthOf, Validators};
use frame_support::{assert_noop, assert_ok, traits::Get};
use pallet_session::SessionManager;
use sp_runtime::DispatchError;

fn set() -> Vec<u64> {
	Validators::<Test>::get().into_inner()
}

#[test]
fn genesis_sets_validators_and_session_length() {
	build_and_execute(|| {
		assert_eq!(set(), vec![1, 2, 3]);
		assert_eq!(SessionLength::<Test>::get(), 10);
		assert_eq!(<SessionLengthOf<Test> as Get<u64>>::get(), 10);
		assert_eq!(ValidatorSet::new_session_genesis(0), Some(vec![1, 2, 3]));
	});
}

#[test]
fn root_adds_a_validator_and_session_picks_it_up_once() {
	build_and_execute(|| {
		assert_ok!(ValidatorSet::add_validator(RuntimeOrigin::root(), 4));
		assert_eq!(set(), vec![1, 2, 3, 4]);
		System::assert_last_event(Event::ValidatorAdded { validator: 4 }.into());
		assert!(PendingChange::<Test>::get());

		assert_eq!(ValidatorSet::new_session(5), Some(vec![1, 2, 3, 4]));
		System::assert_last_event(Event::ValidatorsQueued { session: 5, count: 4 }.into());
		// No change since: pallet-session keeps the current set.
		assert_eq!(ValidatorSet::new_session(6), None);
	});
}

#[test]
fn root_removes_a_validator() {
	build_and_execute(|| {
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 2));
		assert_eq!(set(), vec![1, 3]);
		System::assert_last_event(Event::ValidatorRemoved { validator: 2 }.into());
		assert_eq!(ValidatorSet::new_session(1), Some(vec![1, 3]));
	});
}

#[test]
fn signed_origin_cannot_change_the_set() {
	build_and_execute(|| {
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::signed(1), 4),
			DispatchError::BadOrigin
		);
		assert_noop!(
			ValidatorSet::remove_validator(RuntimeOrigin::signed(1), 2),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn add_refuses_duplicates_keyless_accounts_and_a_full_set() {
	build_and_execute(|| {
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::root(), 1),
			Error::<Test>::AlreadyValidator
		);
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::root(), 99),
			Error::<Test>::NoSessionKeys
		);
	});
	// A full set, written directly (no try_state: v1 bookkeeping is bypassed on purpose).
	new_test_ext().execute_with(|| {
		let full: Vec<u64> = (100..132).collect();
		Validators::<Test>::put(frame_support::BoundedVec::truncate_from(full));
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::root(), 4),
			Error::<Test>::TooManyValidators
		);
	});
}

#[test]
fn remove_refuses_strangers_and_the_last_validator() {
	build_and_execute(|| {
		assert_noop!(
			ValidatorSet::remove_validator(RuntimeOrigin::root(), 7),
			Error::<Test>::NotValidator
		);
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 1));
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 2));
		assert_noop!(
			ValidatorSet::remove_validator(RuntimeOrigin::root(), 3),
			Error::<Test>::TooFewValidators
		);
		assert_eq!(set(), vec![3]);
	});
}

#[test]
fn try_state_catches_duplicates() {
	new_test_ext().execute_with(|| {
		Validators::<Test>::put(frame_support::BoundedVec::truncate_from(vec![1, 1]));
		assert!(ValidatorSet::do_try_state().is_err());
	});
}

#[cfg(feature = "upgrade-test")]
#[test]
fn v1_migration_records_existing_validators() {
	use crate::{migrations::v1::MigrateV0ToV1, ValidatorSince};
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	new_test_ext().execute_with(|| {
		// Simulate a chain that ran v0 code: no entries, on-chain version 0.
		let _ = ValidatorSince::<Test>::clear(u32::MAX, None);
		StorageVersion::new(0).put::<ValidatorSet>();
		System::set_block_number(42);

		MigrateV0ToV1::<Test>::on_runtime_upgrade();

		assert_eq!(ValidatorSet::on_chain_storage_version(), 1);
		for v in [1, 2, 3] {
			assert_eq!(ValidatorSince::<Test>::get(v), Some(42));
		}
		// A second run is a no-op (version already 1).
		System::set_block_number(50);
		MigrateV0ToV1::<Test>::on_runtime_upgrade();
		assert_eq!(ValidatorSince::<Test>::get(1), Some(42));
		ValidatorSet::do_try_state().expect("invariants hold after migration");
	});
}

#[test]
fn a_proven_offence_is_recorded_as_an_event_and_nobody_is_removed() {
	use sp_runtime::Perbill;
	use sp_staking::offence::{OffenceDetails, OnOffenceHandler};
	build_and_execute(|| {
		let offenders = [OffenceDetails { offender: (2u64, ()), reporters: vec![1u64] }];
		let weight = <ValidatorSet as OnOffenceHandler<u64, (u64, ()), _>>::on_offence(
			&offenders,
			&[Perbill::from_percent(9)],
			7,
		);
		// The handler's work (one event) is accounted for.
		assert_eq!(
			weight,
			<<Test as frame_system::Config>::DbWeight as Get<
				frame_support::weights::RuntimeDbWeight,
			>>::get()
			.writes(1)
		);
		System::assert_last_event(
			Event::OffenceReported {
				offenders: vec![2],
				session: 7,
				slash_fractions: vec![Perbill::from_percent(9)],
			}
			.into(),
		);
		// Governance decides: the set and the pending flag are untouched.
		assert_eq!(set(), vec![1, 2, 3]);
		assert!(!PendingChange::<Test>::get());
	});
}

#[test]
fn historical_session_manager_pairs_each_validator_with_its_identification() {
	use pallet_session::historical::SessionManager as HistoricalSessionManager;
	build_and_execute(|| {
		assert_eq!(
			<ValidatorSet as HistoricalSessionManager<u64, ()>>::new_session_genesis(0),
			Some(vec![(1, ()), (2, ()), (3, ())])
		);
		assert_eq!(<ValidatorSet as HistoricalSessionManager<u64, ()>>::new_session(1), None);
		assert_ok!(ValidatorSet::add_validator(RuntimeOrigin::root(), 4));
		assert_eq!(
			<ValidatorSet as HistoricalSessionManager<u64, ()>>::new_session(2),
			Some(vec![(1, ()), (2, ()), (3, ()), (4, ())])
		);
	});
}
