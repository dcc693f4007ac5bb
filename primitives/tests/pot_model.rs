//! The PoT settlement arithmetic (`stratos_primitives::traffic`) against an independent
//! reference model in exact rationals, written from the rules in ADR 0010 without looking at
//! the integer implementation: conservation, pro-rata exactness, the caps, top-N selection
//! with fewer winners than nodes, and rollover over several periods.

use std::collections::BTreeMap;

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};
use proptest::prelude::*;
use stratos_primitives::{
	traffic::{ranks_before, settle},
	NodeId,
};

fn big(x: u128) -> BigInt {
	BigInt::from(x)
}

fn floor(r: BigRational) -> BigInt {
	r.floor().to_integer()
}

/// The model: rewarded bytes R = min(T, charged), worth ⌊value · R / charged⌋; budget =
/// min(I, ⌊k · worth⌋) in exact rationals; each reward the floor of budget · t / T.
fn model_rewards(
	issuance: u128,
	top: &[u128],
	charged: u128,
	value: u128,
	k_ppb: u32,
) -> Vec<u128> {
	let total: BigInt = top.iter().map(|t| big(*t)).sum();
	if total.is_zero() || charged == 0 {
		return vec![0; top.len()];
	}
	let rewarded_bytes = if total < big(charged) { total.clone() } else { big(charged) };
	let worth = floor(BigRational::new(big(value) * rewarded_bytes, big(charged)));
	let capped =
		floor(BigRational::new(worth * BigInt::from(k_ppb), BigInt::from(1_000_000_000u64)));
	let budget = if capped < big(issuance) { capped } else { big(issuance) };
	top.iter()
		.map(|t| {
			let share = BigRational::new(budget.clone() * big(*t), total.clone());
			share.floor().to_integer().to_u128().expect("reward fits")
		})
		.collect()
}

fn id(n: u8) -> NodeId {
	NodeId([n; 32])
}

proptest! {
	#[test]
	fn settlement_matches_the_model_and_conserves(
		issuance in any::<u128>(),
		top in prop::collection::vec(0u128..=u64::MAX as u128, 0..40),
		charged in any::<u128>(),
		value in prop_oneof![Just(u128::MAX), any::<u128>(), 0u128..1_000],
		k_ppb in 0u32..1_000_000_000,
	) {
		let s = settle(issuance, &top, charged, value, k_ppb);
		prop_assert_eq!(&s.rewards, &model_rewards(issuance, &top, charged, value, k_ppb));
		let paid: u128 = s.rewards.iter().sum();
		prop_assert_eq!(paid + s.remainder, issuance, "nothing created or lost");
		prop_assert!(s.rewarded_value <= value, "no more value is used than was paid");
		// Wash traffic never pays: all rewards together stay within k × what was paid.
		prop_assert!(
			big(paid) * BigInt::from(1_000_000_000u64) <= big(s.rewarded_value) * BigInt::from(k_ppb),
			"rewards stay within k × the value paid for the rewarded bytes"
		);
	}

	#[test]
	fn whitepaper_formula_holds_when_no_cap_binds(
		issuance in 0u128..=u64::MAX as u128,
		top in prop::collection::vec(1u128..=u32::MAX as u128, 1..30),
	) {
		let total: u128 = top.iter().sum();
		let s = settle(issuance, &top, total, u128::MAX, 500_000_000);
		for (r, t) in s.rewards.iter().zip(&top) {
			prop_assert_eq!(*r, issuance * t / total);
		}
	}

	/// Several periods: each node's accumulated traffic is rolled + new; the first N in rank
	/// order share the period's issuance plus the carried remainder; paid nodes restart from
	/// zero, the others roll over. The model keeps its own books.
	#[test]
	fn top_n_and_rollover_over_periods(
		periods in prop::collection::vec(
			(prop::collection::vec((0u8..12, 0u128..1_000_000), 0..12), 0u128..10_000_000),
			1..8,
		),
		n in 1usize..5,
	) {
		let mut rolled: BTreeMap<NodeId, u128> = BTreeMap::new();
		let mut carried = 0u128;
		let mut minted = 0u128;
		let mut paid_total = 0u128;
		for (traffic, issuance) in periods {
			minted += issuance;
			let mut acc = rolled.clone();
			for (node, bytes) in traffic {
				*acc.entry(id(node)).or_default() += bytes;
			}
			// The model's ranking: a plain sort on (traffic descending, id ascending).
			let mut model: Vec<(NodeId, u128)> = acc.iter().map(|(k, v)| (*k, *v)).collect();
			model.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
			// The implementation's ranking through `ranks_before`.
			let mut ours = model.clone();
			ours.reverse();
			ours.sort_by(|a, b| {
				if ranks_before((a.1, &a.0), (b.1, &b.0)) {
					std::cmp::Ordering::Less
				} else if ranks_before((b.1, &b.0), (a.1, &a.0)) {
					std::cmp::Ordering::Greater
				} else {
					std::cmp::Ordering::Equal
				}
			});
			prop_assert_eq!(&ours, &model);

			let top: Vec<u128> = model.iter().take(n).map(|(_, t)| *t).collect();
			let total: u128 = top.iter().sum();
			let budget = issuance + carried;
			let s = settle(budget, &top, total, u128::MAX, 999_999_999);
			prop_assert_eq!(&s.rewards, &model_rewards(budget, &top, total, u128::MAX, 999_999_999));
			paid_total += s.rewards.iter().sum::<u128>();
			carried = s.remainder;
			// Paid nodes restart from zero; the rest roll over.
			rolled = model.iter().skip(n).filter(|(_, t)| *t > 0).map(|(k, t)| (*k, *t)).collect();
			prop_assert!(model.len() <= n || rolled.len() <= model.len() - n);
		}
		prop_assert_eq!(paid_total + carried, minted, "every minted unit is paid or carried");
	}
}
