//! Unit tests of the chain-params pallet.

use crate::{mock::*, Error, Event, Governance, GovernanceTimings, Timings};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::DispatchError;

#[test]
fn genesis_timings_are_read_back() {
	build_and_execute(|| {
		assert_eq!(Timings::<Test>::get(), DEV);
		assert_eq!(crate::UndecidingTimeout::<Test>::get_value(), 40);
	});
}

#[test]
fn without_genesis_value_production_defaults_apply() {
	build_and_execute(|| {
		Governance::<Test>::kill();
		let t = Timings::<Test>::get();
		assert_eq!(t.decision_period, 14 * 24 * 60 * 30);
		assert_eq!(t.prepare_period, 2 * 60 * 30);
	});
}

#[test]
fn root_sets_timings() {
	build_and_execute(|| {
		let new = GovernanceTimings { decision_period: 100, ..DEV };
		assert_ok!(ChainParams::set_governance_timings(RuntimeOrigin::root(), new));
		assert_eq!(Timings::<Test>::get(), new);
		System::assert_last_event(Event::GovernanceTimingsSet { timings: new }.into());
	});
}

#[test]
fn zero_period_and_wrong_origin_are_refused() {
	build_and_execute(|| {
		let bad = GovernanceTimings { confirm_period: 0, ..DEV };
		assert_noop!(
			ChainParams::set_governance_timings(RuntimeOrigin::root(), bad),
			Error::<Test>::ZeroPeriod
		);
		assert_noop!(
			ChainParams::set_governance_timings(RuntimeOrigin::signed(1), DEV),
			DispatchError::BadOrigin
		);
	});
}

trait GetValue {
	fn get_value() -> u64;
}
impl<G: frame_support::traits::Get<u64>> GetValue for G {
	fn get_value() -> u64 {
		G::get()
	}
}
