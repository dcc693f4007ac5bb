//! Idle-time pruning of period summaries.
//!
//! A [`Periods`] entry is needed while a carried-traffic entry ([`Rolled`]) refers to its
//! period (whether that period settled decides what the entry carries) and while its client
//! entries may be disputed or the period cancelled. Each [`RolledScan`] pass walks
//! [`Rolled`] across as many idle blocks as it needs, removes the entries that carry nothing
//! (as [`Pallet::prune_rolled`] would) and notes the lowest period the others refer to; once
//! complete, the summaries below that period and below [`ChargesPrunedBelow`] are removed
//! (the latest [`Config::KeptPeriods`] always stay) and their books added to [`PrunedTotals`],
//! so the issuance invariants still cover them.

use crate::*;

impl<T: Config> Pallet<T> {
	/// One idle-time step, within `remaining`.
	pub(crate) fn prune_periods(remaining: Weight) -> Weight {
		let db = T::DbWeight::get();
		// PeriodsPrunedBelow, ChargesPrunedBelow, NextPeriod, RolledScan; and the final write.
		let mut used = db.reads_writes(4, 1);
		if remaining.any_lt(used) {
			return Weight::zero();
		}
		let below = PeriodsPrunedBelow::<T>::get();
		let limit = ChargesPrunedBelow::<T>::get();
		let next = NextPeriod::<T>::get();
		if below >= limit {
			return db.reads(2);
		}
		let fresh =
			RolledPass { last: None, min_ref: u32::MAX, next_at_start: next, complete: false };
		let mut pass = match RolledScan::<T>::get() {
			// The last pass allowed no more: look again only once another period finished.
			Some(done) if done.complete && Self::prune_bound(&done, limit, next) <= below => {
				if next <= done.next_at_start {
					return db.reads(4);
				}
				fresh
			},
			Some(pass) => pass,
			None => fresh,
		};
		// An entry: its read, its period's summary, and perhaps its removal.
		let per_entry = db.reads_writes(2, 1);
		if !pass.complete {
			let mut entries = match pass.last {
				Some(n) => Rolled::<T>::iter_from(Rolled::<T>::hashed_key_for(n)),
				None => Rolled::<T>::iter(),
			};
			loop {
				if remaining.any_lt(used.saturating_add(per_entry)) {
					break;
				}
				let Some((node, entry)) = entries.next() else {
					pass.complete = true;
					break;
				};
				used = used.saturating_add(db.reads(2));
				pass.last = Some(node);
				if entry.period < next
					&& Self::in_force(&entry, Self::is_settled(entry.period)) == 0
				{
					Rolled::<T>::remove(node);
					used = used.saturating_add(db.writes(1));
					Self::deposit_event(Event::RolledPruned { node });
				} else {
					pass.min_ref = pass.min_ref.min(entry.period);
				}
			}
		}
		if !pass.complete {
			RolledScan::<T>::put(pass);
			return used;
		}
		let bound = Self::prune_bound(&pass, limit, next);
		// A summary: its removal (taking it reads it); once: the totals' read and write and
		// the new lower bound.
		let per_period = db.reads_writes(1, 1);
		let once = db.reads_writes(1, 2);
		if bound <= below || remaining.any_lt(used.saturating_add(once).saturating_add(per_period))
		{
			RolledScan::<T>::put(pass);
			return used;
		}
		used = used.saturating_add(once);
		let mut p = below;
		let mut totals = PrunedTotals::<T>::get();
		while p < bound && !remaining.any_lt(used.saturating_add(per_period)) {
			if let Some(info) = Periods::<T>::take(p) {
				let t = &mut totals;
				t.paid = t
					.paid
					.saturating_add(info.resource_paid)
					.saturating_add(info.meta_paid)
					.saturating_add(info.validator_paid);
				t.carried = t.carried.saturating_add(info.carried);
				t.resource_carried = t.resource_carried.saturating_add(info.resource_carried);
				t.carried_in = t.carried_in.saturating_add(info.carried_in);
				t.resource_carried_in =
					t.resource_carried_in.saturating_add(info.resource_carried_in);
				t.charged_bytes = t.charged_bytes.saturating_add(info.charged_bytes);
				t.rewarded_bytes = t.rewarded_bytes.saturating_add(info.rewarded_bytes);
				t.charged_value = t.charged_value.saturating_add(info.charged_value);
				t.rewarded_value = t.rewarded_value.saturating_add(info.rewarded_value);
			}
			used = used.saturating_add(per_period);
			p = p.saturating_add(1);
		}
		if p > below {
			PrunedTotals::<T>::put(totals);
			PeriodsPrunedBelow::<T>::put(p);
			Self::deposit_event(Event::PeriodsPruned { below: p });
		}
		RolledScan::<T>::put(pass);
		used
	}

	/// Periods below this may go after the complete pass `pass`, with disputes over below
	/// `limit` and `next` the lowest period not finished ([`Config::KeptPeriods`] stay).
	fn prune_bound(pass: &RolledPass, limit: u32, next: u32) -> u32 {
		pass.min_ref
			.min(pass.next_at_start)
			.min(limit)
			.min(next.saturating_sub(T::KeptPeriods::get()))
	}
}
