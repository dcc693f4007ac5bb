//! Settlement: splitting a period's issuance once its report is in, or carrying it when
//! the period fails.

use crate::*;

impl<T: Config> Pallet<T> {
	/// The weight settlement may add to a chunk (at the bounds).
	pub fn settle_weight() -> Weight {
		T::WeightInfo::settle(T::MaxTopNodes::get(), MaxMetaOf::<T>::get(), T::MaxAuthors::get())
	}

	pub(crate) fn settle(
		period: u32,
		report: &ReportOf<T>,
		stream: Stream<T::AccountId, T::MaxTopNodes>,
	) {
		let params = Params::<T>::get();
		let Some(mut info) = Periods::<T>::get(period) else { return };
		let issuance = info.issuance;
		let (meta_part, validator_part, resource_part) = Self::parts(&params, &info);
		let mut payees: Vec<(T::AccountId, BalanceOf<T>)> = Vec::new();
		let matures = Self::matures_after(period);
		let mut paid = BalanceOf::<T>::zero();

		// Resource nodes: pro rata within the wash-traffic caps.
		let traffic: Vec<u128> = stream.top.iter().map(|(_, t)| *t).collect();
		let chargeable = ChargedUnrewarded::<T>::get().saturating_add(stream.charged);
		let charged_value = OpenChargedValue::<T>::take();
		let chargeable_value = ChargedUnrewardedValue::<T>::get().saturating_add(charged_value);
		let split = traffic::settle(
			resource_part.saturated_into(),
			&traffic,
			chargeable,
			chargeable_value,
			params.wash_cap.deconstruct(),
		);
		let mut resource_paid = BalanceOf::<T>::zero();
		for ((who, _), reward) in stream.top.iter().zip(split.rewards) {
			let reward: BalanceOf<T> = reward.saturated_into();
			Self::reward(who, period, reward, matures);
			payees.push((who.clone(), reward));
			resource_paid = resource_paid.saturating_add(reward);
		}
		paid = paid.saturating_add(resource_paid);
		let rewarded_bytes = split.rewarded_bytes;
		ChargedUnrewarded::<T>::put(chargeable.saturating_sub(rewarded_bytes));
		ChargedUnrewardedValue::<T>::put(chargeable_value.saturating_sub(split.rewarded_value));

		// Meta nodes: equal shares among the reporters whose reveal matched.
		let reporters = Self::matching_reporters(report, &stream.digest);
		let mut meta_paid = BalanceOf::<T>::zero();
		if !reporters.is_empty() {
			let each = meta_part / (reporters.len() as u32).into();
			for who in &reporters {
				Self::reward(who, period, each, matures);
				payees.push((who.clone(), each));
				meta_paid = meta_paid.saturating_add(each);
			}
		}
		paid = paid.saturating_add(meta_paid);

		// Validators: by blocks authored in the period.
		let authors = Authors::<T>::take(period);
		let blocks: u128 = authors.iter().map(|(_, b)| *b as u128).sum();
		let mut validator_paid = BalanceOf::<T>::zero();
		if blocks > 0 {
			let part: u128 = validator_part.saturated_into();
			for (who, b) in authors.iter() {
				let r: BalanceOf<T> =
					sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(
						part,
						*b as u128,
						blocks,
						Rounding::Down,
					)
					.unwrap_or(0)
					.saturated_into();
				Self::reward(who, period, r, matures);
				payees.push((who.clone(), r));
				validator_paid = validator_paid.saturating_add(r);
			}
		}
		paid = paid.saturating_add(validator_paid);

		// Mint only what is paid; the rest is carried.
		if !paid.is_zero() {
			// Cannot fail: the pot exists (it keeps its existential deposit).
			if T::Currency::mint_into(&Self::pot_account(), paid).is_err() {
				frame_support::defensive!("minting the period's rewards into the pot failed");
			}
			Minted::<T>::mutate(|m| *m = m.saturating_add(paid));
			Unclaimed::<T>::mutate(|u| *u = u.saturating_add(paid));
		}
		// What the resource part did not pay stays for resource nodes; the remainders of the
		// meta and validator parts go to the next period's whole issuance.
		let resource_carried = resource_part.saturating_sub(resource_paid);
		let carried = meta_part
			.saturating_sub(meta_paid)
			.saturating_add(validator_part.saturating_sub(validator_paid));
		Carry::<T>::mutate(|c| *c = c.saturating_add(carried));
		ResourceCarry::<T>::mutate(|c| *c = c.saturating_add(resource_carried));
		if !payees.is_empty() {
			Payees::<T>::insert(period, BoundedVec::truncate_from(payees));
		}
		// Payees whose rewards matured by now can no longer be cancelled.
		if let Some(old) = period.checked_sub(params.maturity.saturating_add(1)) {
			Payees::<T>::remove(old);
		}
		RolledCount::<T>::put(stream.rolled_after);

		info.status = PeriodStatus::Settled;
		info.matures = matures;
		info.reporters = BoundedVec::truncate_from(reporters);
		info.resource_paid = resource_paid;
		info.meta_paid = meta_paid;
		info.validator_paid = validator_paid;
		info.carried = carried;
		info.resource_carried = resource_carried;
		info.served_bytes = stream.ingest.node_bytes();
		info.charged_bytes = stream.charged;
		info.rewarded_bytes = rewarded_bytes;
		info.charged_value = charged_value;
		info.rewarded_value = split.rewarded_value;
		Periods::<T>::insert(period, info);
		Reports::<T>::remove(period);
		OpenReportParams::<T>::kill();
		NextPeriod::<T>::put(period.saturating_add(1));
		Self::deposit_event(Event::PeriodSettled {
			period,
			issuance,
			resource_paid,
			meta_paid,
			validator_paid,
			carried: carried.saturating_add(resource_carried),
			rewarded_nodes: stream.top.len() as u32,
			rewarded_bytes,
			charged_bytes: stream.charged,
		});
	}

	/// The period fails: its issuance carries over, its rolled-traffic writes read as their
	/// previous values from now on, clients charged so far stay charged.
	pub(crate) fn fail(period: u32, reason: FailReason) {
		let report = Reports::<T>::take(period);
		OpenReportParams::<T>::kill();
		let stream = report.as_ref().and_then(|r| r.stream.as_ref());
		let charged = stream.map(|s| s.charged).unwrap_or(0);
		// The reporters of an accepted report answer for its client entries (disputes).
		let reporters = match (report.as_ref(), stream) {
			(Some(r), Some(s)) => Self::matching_reporters(r, &s.digest),
			_ => Vec::new(),
		};
		ChargedUnrewarded::<T>::mutate(|c| *c = c.saturating_add(charged));
		let charged_value = OpenChargedValue::<T>::take();
		ChargedUnrewardedValue::<T>::mutate(|v| *v = v.saturating_add(charged_value));
		Authors::<T>::remove(period);
		let (mut carried, mut resource_carried) = (BalanceOf::<T>::zero(), BalanceOf::<T>::zero());
		if let Some(mut info) = Periods::<T>::get(period) {
			// The validators' part carries to the next period's whole issuance; the meta
			// nodes, who failed to report, forfeit theirs to the resource nodes.
			let (meta_part, validator_part, resource_part) =
				Self::parts(&Params::<T>::get(), &info);
			carried = validator_part;
			resource_carried = resource_part.saturating_add(meta_part);
			info.status = PeriodStatus::Failed(reason);
			info.matures = Self::matures_after(period);
			info.carried = carried;
			info.resource_carried = resource_carried;
			info.charged_bytes = charged;
			info.charged_value = charged_value;
			info.reporters = BoundedVec::truncate_from(reporters);
			Periods::<T>::insert(period, info);
		}
		Carry::<T>::mutate(|c| *c = c.saturating_add(carried));
		ResourceCarry::<T>::mutate(|c| *c = c.saturating_add(resource_carried));
		NextPeriod::<T>::put(period.saturating_add(1));
		Self::deposit_event(Event::PeriodFailed {
			period,
			reason,
			carried: carried.saturating_add(resource_carried),
		});
	}

	/// The reporters whose reveal matched the accepted `digest`, in reveal order.
	fn matching_reporters(report: &ReportOf<T>, digest: &Hash) -> Vec<T::AccountId> {
		report.reveals.iter().filter(|(_, d)| d == digest).map(|(a, _)| a.clone()).collect()
	}

	/// A period's (meta, validator, resource) parts: the shares apply to its tier issuance
	/// and the general carry; what resource parts carried is the resource nodes' alone.
	pub(crate) fn parts(
		params: &ParamsOf<T>,
		info: &PeriodInfoOf<T>,
	) -> (BalanceOf<T>, BalanceOf<T>, BalanceOf<T>) {
		let shared = info.issuance.saturating_sub(info.resource_carried_in);
		let meta = params.meta_share * shared;
		let validator = params.validator_share * shared;
		let resource = info.issuance.saturating_sub(meta).saturating_sub(validator);
		(meta, validator, resource)
	}

	/// When the rewards of `period` mature if it is settled now: `maturity` periods after
	/// the period, and never fewer than `maturity` periods from now (a late report gives
	/// disputes and governance the same time as a punctual one).
	pub(crate) fn matures_after(period: u32) -> u32 {
		let maturity = Params::<T>::get().maturity;
		period
			.saturating_add(1)
			.saturating_add(maturity)
			.max(Self::current_period().saturating_add(maturity))
	}

	/// The rules `integrity_test` checks: every payee of a period fits, and a full chunk plus
	/// the settlement fits in a normal extrinsic.
	pub(crate) fn check_integrity() {
		let payees = T::MaxTopNodes::get()
			.saturating_add(MaxMetaOf::<T>::get())
			.saturating_add(T::MaxAuthors::get());
		assert!(payees <= MAX_PAYEES, "top nodes + meta nodes + authors must fit MAX_PAYEES");
		let block = <T as frame_system::Config>::BlockWeights::get();
		let max = block
			.get(frame_support::dispatch::DispatchClass::Normal)
			.max_extrinsic
			.unwrap_or(block.max_block);
		let full_chunk = T::WeightInfo::submit_chunk(T::MaxChunk::get(), 0)
			.max(T::WeightInfo::submit_chunk(0, T::MaxChunk::get()));
		assert!(
			full_chunk.saturating_add(Self::settle_weight()).all_lte(max),
			"a full report chunk plus the settlement must fit in one block"
		);
	}
}
