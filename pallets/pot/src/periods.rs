//! Ledger period numbering that survives changes of the period length (issue 14, attack 5).
//!
//! Periods are numbered from an **anchor**: from block `start`, period `period` begins and
//! each lasts `length` blocks. A new length (governance, [`Pallet::set_params`]) takes effect
//! at the next period boundary through a second, pending anchor, so every block belongs to
//! exactly one period and no period is skipped or repeated. The open report's windows and
//! chunk size are frozen when it opens ([`OpenReportParams`]).

use crate::*;

impl<T: Config> Pallet<T> {
	/// The anchor in force at block `n` (the pending one once `n` reaches its start).
	pub(crate) fn anchor_at(n: BlockNumberFor<T>) -> PeriodAnchor<BlockNumberFor<T>> {
		if let Some(next) = NextAnchor::<T>::get() {
			if n >= next.start {
				return next;
			}
		}
		Self::current_anchor()
	}

	/// The anchor in force now (the genesis one until the length first changes).
	fn current_anchor() -> PeriodAnchor<BlockNumberFor<T>> {
		Anchor::<T>::get().unwrap_or_else(|| PeriodAnchor {
			start: Zero::zero(),
			period: 0,
			length: Params::<T>::get().period_length,
		})
	}

	/// The ledger period of block `n` (`n` now or later; for earlier blocks, the current
	/// length is assumed back to the anchor's start).
	pub fn period_of(n: BlockNumberFor<T>) -> u32 {
		let a = Self::anchor_at(n);
		if a.length.is_zero() {
			return a.period;
		}
		if n >= a.start {
			let since: u32 = ((n - a.start) / a.length).saturated_into();
			a.period.saturating_add(since)
		} else {
			let before: u32 = (a.start - n)
				.saturated_into::<u32>()
				.div_ceil(a.length.saturated_into::<u32>().max(1));
			a.period.saturating_sub(before)
		}
	}

	/// The first block of period `p` (for periods before the anchor: the anchor's start).
	pub fn period_start(p: u32) -> BlockNumberFor<T> {
		let a = match NextAnchor::<T>::get() {
			Some(next) if p >= next.period => next,
			_ => Self::current_anchor(),
		};
		if p <= a.period {
			return a.start;
		}
		a.start.saturating_add(a.length.saturating_mul((p - a.period).into()))
	}

	/// Promotes the pending anchor once its start is reached (from `on_initialize`).
	pub(crate) fn promote_anchor(now: BlockNumberFor<T>) {
		if let Some(next) = NextAnchor::<T>::get() {
			if now >= next.start {
				Anchor::<T>::put(next);
				NextAnchor::<T>::kill();
			}
		}
	}

	/// A new period length from governance: in force from the next period boundary (a
	/// change back before then cancels it). Called before the new parameters are stored.
	pub(crate) fn schedule_length(length: BlockNumberFor<T>) {
		let now = frame_system::Pallet::<T>::block_number();
		let in_force = Self::anchor_at(now);
		let pending = NextAnchor::<T>::get();
		if pending.as_ref().map_or(in_force.length, |a| a.length) == length {
			return;
		}
		// Freeze the genesis anchor before the parameters it defaults to change.
		if Anchor::<T>::get().is_none() {
			Anchor::<T>::put(in_force.clone());
		}
		let next = Self::period_of(now).saturating_add(1);
		let start = Self::period_start(next);
		if length == in_force.length {
			NextAnchor::<T>::kill();
		} else {
			NextAnchor::<T>::put(PeriodAnchor { start, period: next, length });
		}
		Self::deposit_event(Event::PeriodLengthScheduled { from_period: next, start, length });
	}

	/// The open report's frozen parameters (or today's, for a report opened before they were
	/// frozen).
	pub(crate) fn report_params() -> FrozenReport<BlockNumberFor<T>> {
		OpenReportParams::<T>::get().unwrap_or_else(|| {
			let p = Params::<T>::get();
			FrozenReport {
				reveal_window: p.reveal_window,
				stream_window: p.stream_window,
				chunk_size: p.chunk_size,
				top_nodes: p.top_nodes,
			}
		})
	}
}
