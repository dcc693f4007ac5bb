//! The issuance ledger: reward entries, maturing and claiming them, the views polkadot-js
//! reads, and the invariants.

use crate::*;

impl<T: Config> Pallet<T> {
	pub(crate) fn reward(who: &T::AccountId, period: u32, amount: BalanceOf<T>, matures: u32) {
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

	pub(crate) fn mature(ledger: &mut RewardLedger<BalanceOf<T>>, now: u32) {
		while let Some((m, a)) = ledger.pending.first().copied() {
			if m > now {
				break;
			}
			ledger.matured = ledger.matured.saturating_add(a);
			ledger.pending.remove(0);
		}
	}

	pub(crate) fn put_ledger(who: &T::AccountId, ledger: RewardLedger<BalanceOf<T>>) {
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
		// Anyone may send tokens to the pot (a donation): it holds at least what is owed.
		ensure!(
			pot >= Unclaimed::<T>::get().saturating_add(T::Currency::minimum_balance()),
			"the pot holds the unclaimed rewards (plus its existential deposit)"
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
		// Pruned periods count through their summed books.
		let pruned = PrunedTotals::<T>::get();
		let mut paid_total = pruned.paid;
		let mut carried_in = pruned.carried_in;
		let mut carried_out = pruned.carried;
		let mut resource_in = pruned.resource_carried_in;
		let mut resource_out = pruned.resource_carried;
		let (mut charged, mut rewarded) = (pruned.charged_bytes, pruned.rewarded_bytes);
		let (mut charged_value, mut rewarded_value) = (pruned.charged_value, pruned.rewarded_value);
		let next = NextPeriod::<T>::get();
		let pruned_below = PeriodsPrunedBelow::<T>::get();
		ensure!(
			pruned_below <= ChargesPrunedBelow::<T>::get(),
			"a period's summary goes only after its client entries"
		);
		ensure!(
			Rolled::<T>::iter_values().all(|r| r.period >= pruned_below),
			"no carried-traffic entry refers to a pruned period"
		);
		for (p, info) in Periods::<T>::iter() {
			ensure!(p >= pruned_below, "pruned periods stay pruned");
			let paid = info
				.resource_paid
				.saturating_add(info.meta_paid)
				.saturating_add(info.validator_paid);
			if info.status == PeriodStatus::Reporting {
				ensure!(p == next, "only the next period is reporting");
				ensure!(
					paid.is_zero() && info.carried.is_zero() && info.resource_carried.is_zero(),
					"nothing paid before settlement"
				);
			} else {
				ensure!(p < next, "finished periods precede the next one");
				ensure!(
					paid.saturating_add(info.carried).saturating_add(info.resource_carried)
						== info.issuance,
					"issuance = paid + carried + carried for resource nodes"
				);
				carried_out = carried_out.saturating_add(info.carried);
				resource_out = resource_out.saturating_add(info.resource_carried);
				charged = charged.saturating_add(info.charged_bytes);
				rewarded = rewarded.saturating_add(info.rewarded_bytes);
				charged_value = charged_value.saturating_add(info.charged_value);
				rewarded_value = rewarded_value.saturating_add(info.rewarded_value);
			}
			paid_total = paid_total.saturating_add(paid);
			ensure!(info.cancelled <= paid, "only what was paid can be cancelled");
			carried_in = carried_in.saturating_add(info.carried_in);
			resource_in = resource_in.saturating_add(info.resource_carried_in);
		}
		ensure!(paid_total == Minted::<T>::get(), "minted = Σ paid");
		ensure!(
			carried_out == carried_in.saturating_add(Carry::<T>::get()),
			"every carried unit is in a later period's issuance or still carried"
		);
		ensure!(
			resource_out == resource_in.saturating_add(ResourceCarry::<T>::get()),
			"what resource parts carried is in later resource parts or still carried"
		);
		for ((period, client, _), _) in Disputes::<T>::iter() {
			ensure!(
				ClientCharges::<T>::contains_key(period, client),
				"a dispute refers to a stored client entry"
			);
		}
		for (_, _, c) in ClientCharges::<T>::iter() {
			ensure!(c.reversed <= c.charged, "no more is reversed than was charged");
		}
		ensure!(
			rewarded <= charged && charged - rewarded == ChargedUnrewarded::<T>::get(),
			"rewarded bytes never exceed charged bytes"
		);
		ensure!(
			rewarded_value <= charged_value
				&& charged_value - rewarded_value == ChargedUnrewardedValue::<T>::get(),
			"the value of rewarded bytes never exceeds what clients paid"
		);
		ensure!(
			Reports::<T>::contains_key(next) || OpenChargedValue::<T>::get() == 0,
			"value is charged only while a report is open"
		);
		let rolled = Rolled::<T>::iter()
			.filter(|(_, r)| Self::in_force(r, Self::is_settled(r.period)) > 0)
			.count() as u32;
		ensure!(rolled == RolledCount::<T>::get(), "RolledCount counts the nodes carrying traffic");
		Ok(())
	}
}
