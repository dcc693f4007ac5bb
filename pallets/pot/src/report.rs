//! Report processing: opening a period's report, commit–reveal phases, and applying the
//! streamed chunks of the accepted report.

use crate::*;

impl<T: Config> Pallet<T> {
	/// The weight of applying `entries` (without a settlement).
	///
	/// On top of the benchmark: each node entry may read the summary of a different period
	/// (the one its carried traffic was written in), and each client entry stores its charge
	/// for disputes and burns its credit's value (credit value, pool, pool account, the
	/// burn ledger, the open report's value).
	pub(crate) fn chunk_weight(entries: &[ReportEntry]) -> Weight {
		let clients = entries.iter().filter(|e| matches!(e, ReportEntry::Client(_))).count() as u32;
		let nodes = (entries.len() as u32).saturating_sub(clients);
		T::WeightInfo::submit_chunk(nodes, clients).saturating_add(
			T::DbWeight::get().reads_writes(nodes as u64 + 5 * clients as u64, 6 * clients as u64),
		)
	}

	/// Whether period `p` settled (so carried traffic it wrote is in force).
	pub(crate) fn is_settled(p: u32) -> bool {
		Periods::<T>::get(p).is_some_and(|i| i.status == PeriodStatus::Settled)
	}

	/// The traffic an entry carries forward: `acc` if its period settled, else `prev`.
	pub(crate) fn in_force(entry: &RolledTraffic, settled: bool) -> u128 {
		if settled {
			entry.acc
		} else {
			entry.prev
		}
	}

	/// Per-block work, O(1) apart from snapshotting the meta set when a report opens: open
	/// the next report when its period is over, move from commit to reveal, and fail a
	/// report whose windows ran out.
	pub(crate) fn advance(now: BlockNumberFor<T>) -> Weight {
		Self::promote_anchor(now);
		let params = Params::<T>::get();
		let period = NextPeriod::<T>::get();
		let Some(mut report) = Reports::<T>::get(period) else {
			if params.period_length.is_zero() || now < Self::period_start(period.saturating_add(1))
			{
				return T::WeightInfo::advance_idle();
			}
			Self::open(period, now, &params);
			return T::WeightInfo::advance_open(MaxMetaOf::<T>::get());
		};
		match (report.reveal_until, &report.stream) {
			// A complete report settles when the reveal window closes.
			(Some(until), Some(s)) if now >= until && Self::complete(period, s) => {
				let stream = s.clone();
				Self::settle(period, &report, stream);
				return T::WeightInfo::advance_fail(MaxMetaOf::<T>::get())
					.saturating_add(Self::settle_weight());
			},
			(None, _) if now >= report.commit_until => {
				Self::start_reveal(period, &mut report, now);
				Reports::<T>::insert(period, report);
			},
			(Some(until), None) if now >= until => Self::fail(period, FailReason::NoQuorum),
			(Some(until), Some(_))
				if now >= until.saturating_add(Self::report_params().stream_window) =>
			{
				Self::fail(period, FailReason::StreamTimeout)
			},
			_ => return T::WeightInfo::advance_idle(),
		}
		T::WeightInfo::advance_fail(MaxMetaOf::<T>::get())
	}

	pub(crate) fn open(period: u32, now: BlockNumberFor<T>, params: &ParamsOf<T>) {
		let electorate = T::Nodes::active_meta();
		let carried_in = Carry::<T>::take();
		let resource_carried_in = ResourceCarry::<T>::take();
		let issuance =
			Self::tier_issuance().saturating_add(carried_in).saturating_add(resource_carried_in);
		let report = Report {
			electorate: BoundedVec::truncate_from({
				let mut e = electorate;
				e.sort();
				e
			}),
			commits: BoundedVec::new(),
			reveals: BoundedVec::new(),
			commit_until: now.saturating_add(params.commit_window),
			reveal_until: None,
			stream: None,
		};
		let size = report.electorate.len() as u32;
		Reports::<T>::insert(period, report);
		OpenReportParams::<T>::put(FrozenReport {
			reveal_window: params.reveal_window,
			stream_window: params.stream_window,
			chunk_size: params.chunk_size,
			top_nodes: params.top_nodes,
		});
		Periods::<T>::insert(
			period,
			PeriodInfo {
				issuance,
				carried_in,
				resource_carried_in,
				status: PeriodStatus::Reporting,
				digest: None,
				reporters: BoundedVec::new(),
				resource_paid: Zero::zero(),
				meta_paid: Zero::zero(),
				validator_paid: Zero::zero(),
				carried: Zero::zero(),
				resource_carried: Zero::zero(),
				cancelled: Zero::zero(),
				matures: Self::matures_after(period),
				served_bytes: 0,
				charged_bytes: 0,
				rewarded_bytes: 0,
				charged_value: 0,
				rewarded_value: 0,
			},
		);
		Self::deposit_event(Event::ReportOpened { period, issuance, electorate: size });
	}

	pub(crate) fn start_reveal(period: u32, report: &mut ReportOf<T>, now: BlockNumberFor<T>) {
		let until = now.saturating_add(Self::report_params().reveal_window);
		report.reveal_until = Some(until);
		Self::deposit_event(Event::RevealStarted { period, until });
	}

	/// The open report of `period`, or why there is none.
	pub(crate) fn open_report(period: u32) -> Result<ReportOf<T>, DispatchError> {
		if period < NextPeriod::<T>::get() {
			return Err(Error::<T>::PeriodFinished.into());
		}
		Reports::<T>::get(period).ok_or_else(|| Error::<T>::PeriodNotClosed.into())
	}

	pub(crate) fn check_reporter(report: &ReportOf<T>, who: &T::AccountId) -> DispatchResult {
		ensure!(report.electorate.binary_search(who).is_ok(), Error::<T>::NotInElectorate);
		ensure!(T::Nodes::is_active_meta(who), Error::<T>::ReporterInactive);
		Ok(())
	}

	/// The rolled-over traffic a report of `period` starts from for a node, or `None` when
	/// the node was listed already in this report.
	pub(crate) fn carried_in(
		entry: &RolledTraffic,
		period: u32,
		settled: &mut BTreeMap<u32, bool>,
	) -> Option<u128> {
		if entry.period == period {
			return None;
		}
		let ok = *settled.entry(entry.period).or_insert_with(|| Self::is_settled(entry.period));
		Some(Self::in_force(entry, ok))
	}

	pub(crate) fn apply_chunk(
		period: u32,
		stream: &mut Stream<T::AccountId, T::MaxTopNodes>,
		entries: &[ReportEntry],
		top_nodes: u32,
	) -> Result<(), InvalidReport> {
		let top_nodes = top_nodes as usize;
		let mut settled = BTreeMap::new();
		for entry in entries {
			match entry {
				ReportEntry::Node(e) => {
					Self::apply_node(period, stream, e, top_nodes, &mut settled)?
				},
				ReportEntry::Client(c) => Self::apply_client(period, stream, c)?,
			}
		}
		Ok(())
	}

	pub(crate) fn apply_node(
		period: u32,
		stream: &mut Stream<T::AccountId, T::MaxTopNodes>,
		e: &NodeTraffic,
		top_nodes: usize,
		settled: &mut BTreeMap<u32, bool>,
	) -> Result<(), InvalidReport> {
		let existing = Rolled::<T>::get(e.node);
		let carried = match &existing {
			Some(r) => Self::carried_in(r, period, settled).ok_or(InvalidReport::DuplicateNode)?,
			None => 0,
		};
		let account = T::Nodes::account_of(&e.node);
		if account.is_none() && carried == 0 {
			return Err(InvalidReport::UnknownNode);
		}
		let acc = stream.ingest.node(e, carried)?;
		if carried > 0 {
			stream.rolled_seen = stream.rolled_seen.saturating_add(1);
		}
		// Traffic carried from before the key's current registration (the key left and was
		// registered again, perhaps by another account) belongs to nobody: the node is still
		// listed (the count of carried nodes must be met) but is paid nothing in this report
		// and carries nothing forward.
		let stale = carried > 0
			&& existing.as_ref().is_some_and(|r| {
				account
					.as_ref()
					.and_then(T::Nodes::registered_at)
					.is_some_and(|at| Self::period_of(at.saturated_into()) > r.period)
			});
		let eligible = account.as_ref().filter(|a| !stale && T::Nodes::is_rewardable_resource(a));
		let after = match eligible {
			Some(who) if acc > 0 && stream.top.len() < top_nodes => {
				// Cannot fail: top_nodes ≤ MaxTopNodes.
				let _ = stream.top.try_push((who.clone(), acc));
				0
			},
			// A node that left forfeits what it carried.
			_ if account.is_none() || stale => 0,
			_ => acc,
		};
		if after > 0 {
			stream.rolled_after = stream.rolled_after.saturating_add(1);
		}
		if acc > 0 || carried > 0 {
			Rolled::<T>::insert(
				e.node,
				RolledTraffic { period, bytes: e.bytes, acc: after, prev: carried },
			);
		}
		Ok(())
	}

	pub(crate) fn apply_client(
		period: u32,
		stream: &mut Stream<T::AccountId, T::MaxTopNodes>,
		c: &ClientTraffic,
	) -> Result<(), InvalidReport> {
		if !stream.ingest.in_clients() {
			Self::check_complete(stream)?;
		}
		stream.ingest.client(c)?;
		let who = T::ClientAccount::convert(c.client);
		// A client is charged what it reserved, up to its traffic; traffic it did not pay for
		// is never rewarded.
		let mut charge = T::Credit::reserved(&who).min(c.bytes as u128);
		if charge > 0 {
			match T::Credit::charge_reserved(&who, charge) {
				Ok(value) => {
					stream.charged = stream.charged.saturating_add(charge);
					OpenChargedValue::<T>::mutate(|v| *v = v.saturating_add(value));
					// The credit's purchase price left the pool, burned.
					Self::note_burned(value.saturated_into());
				},
				Err(_) => charge = 0,
			}
		}
		// Kept while the client may dispute the entry.
		ClientCharges::<T>::insert(
			period,
			c.client,
			ClientCharge {
				receipts_root: c.receipts_root,
				bytes: c.bytes,
				charged: charge,
				reversed: 0,
			},
		);
		Ok(())
	}

	/// Every node carrying traffic into the report must have been listed by the time the node
	/// entries end (checked at the first client entry, or at the end of the report).
	pub(crate) fn check_complete(
		stream: &Stream<T::AccountId, T::MaxTopNodes>,
	) -> Result<(), InvalidReport> {
		if stream.rolled_seen == RolledCount::<T>::get() {
			Ok(())
		} else {
			Err(InvalidReport::Incomplete)
		}
	}

	/// Whether the accepted report has been streamed to its end.
	pub(crate) fn complete(period: u32, stream: &Stream<T::AccountId, T::MaxTopNodes>) -> bool {
		stream.expected == traffic::report_end(&Self::genesis_hash(), period)
	}

	/// The whole accepted report is in: fail it if it left out a node carrying traffic; else
	/// settle it, once the reveal window is over (so every matching reveal counts).
	///
	/// Returns `true` when the settlement was deferred to the end of the reveal window (the
	/// report was only stored), so the caller did not spend the settlement's weight.
	pub(crate) fn finish(period: u32, report: ReportOf<T>) -> bool {
		let Some(stream) = report.stream.clone() else { return false };
		if !stream.ingest.in_clients() {
			if let Err(reason) = Self::check_complete(&stream) {
				Self::fail(period, FailReason::Invalid(reason));
				return false;
			}
		}
		let now = frame_system::Pallet::<T>::block_number();
		match report.reveal_until {
			Some(until) if now < until => {
				Reports::<T>::insert(period, report);
				Self::deposit_event(Event::ReportComplete { period, settles_at: until });
				true
			},
			_ => {
				Self::settle(period, &report, stream);
				false
			},
		}
	}
}
