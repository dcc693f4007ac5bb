//! Checks on the meta quorum (ADR 0010, "Checking the meta quorum"): every client entry
//! carries the root of the client's receipt tree; the client disputes a receipt it never
//! countersigned (the reporters must show the countersignature, or the charge is reversed
//! and they are slashed) or a tree that contradicts itself (upheld at once). Governance can
//! cancel a period's pending rewards.

use crate::*;

impl<T: Config> Pallet<T> {
	/// The first ledger period in which `period`'s rewards are claimable (and its entries can
	/// no longer be disputed).
	fn matures(period: u32) -> u32 {
		Periods::<T>::get(period)
			.map(|i| i.matures)
			.unwrap_or_else(|| period.saturating_add(1).saturating_add(Params::<T>::get().maturity))
	}

	/// `period`'s entry of `client`, if the period is finished and still open to disputes.
	fn disputable(period: u32, client: &[u8; 32]) -> Result<ClientCharge, DispatchError> {
		ensure!(period < NextPeriod::<T>::get(), Error::<T>::PeriodNotFinished);
		ensure!(Self::current_period() < Self::matures(period), Error::<T>::DisputeWindowOver);
		ClientCharges::<T>::get(period, client).ok_or_else(|| Error::<T>::NoClientEntry.into())
	}

	pub(crate) fn do_dispute(period: u32, client: [u8; 32], claim: DisputeClaim) -> DispatchResult {
		let charge = Self::disputable(period, &client)?;
		let root = charge.receipts_root;
		let verify = |leaf: &ReceiptLeaf, proof: &ReceiptProof| {
			proof.verify(&root, leaf).map_err(|_| Error::<T>::BadProof)
		};
		match claim {
			DisputeClaim::NotCountersigned { leaf, proof } => {
				verify(&leaf, &proof)?;
				ensure!(
					!Disputes::<T>::contains_key((period, client, leaf.digest)),
					Error::<T>::AlreadyDisputed
				);
				let now = frame_system::Pallet::<T>::block_number();
				let answer_by = now.saturating_add(Params::<T>::get().dispute_window);
				Disputes::<T>::insert(
					(period, client, leaf.digest),
					OpenDispute { length: leaf.length, answer_by },
				);
				Self::deposit_event(Event::Disputed {
					period,
					client,
					digest: leaf.digest,
					answer_by,
				});
				Ok(())
			},
			DisputeClaim::WrongTotal { leaf, proof } => {
				let total = verify(&leaf, &proof)?;
				ensure!(total < charge.bytes, Error::<T>::ClaimDoesNotHold);
				// Everything the entry charged beyond its receipts' total goes back.
				Self::uphold(period, client, charge, (charge.bytes - total) as u128);
				Ok(())
			},
			DisputeClaim::OutOfOrder { first, first_proof, second, second_proof } => {
				verify(&first, &first_proof)?;
				verify(&second, &second_proof)?;
				ensure!(
					second.index == first.index.saturating_add(1) && first.digest >= second.digest,
					Error::<T>::ClaimDoesNotHold
				);
				// The repeated (or misplaced) receipt's bytes go back.
				Self::uphold(period, client, charge, second.length as u128);
				Ok(())
			},
		}
	}

	pub(crate) fn do_answer(period: u32, signed: &SignedReceipt) -> DispatchResult {
		let r = &signed.receipt;
		let digest = receipt_digest(r, &signed.node_signature);
		let key = (period, r.client, digest);
		let open = Disputes::<T>::get(key).ok_or(Error::<T>::NoSuchDispute)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now < open.answer_by, Error::<T>::AnswerWindowOver);
		ensure!(
			r.ledger_period == period
				&& r.length == open.length
				&& signed.verify(&Self::genesis_hash()).is_ok(),
			Error::<T>::BadAnswer
		);
		Disputes::<T>::remove(key);
		Self::deposit_event(Event::DisputeAnswered { period, client: r.client, digest });
		Ok(())
	}

	pub(crate) fn do_resolve(period: u32, client: [u8; 32], digest: Hash) -> DispatchResult {
		let key = (period, client, digest);
		let open = Disputes::<T>::get(key).ok_or(Error::<T>::NoSuchDispute)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now >= open.answer_by, Error::<T>::AnswerWindowOpen);
		Disputes::<T>::remove(key);
		let charge = ClientCharges::<T>::get(period, client).unwrap_or_default();
		Self::uphold(period, client, charge, open.length as u128);
		Ok(())
	}

	/// Reverses up to `bytes` of the entry's charge and slashes every reporter of the period.
	fn uphold(period: u32, client: [u8; 32], mut charge: ClientCharge, bytes: u128) {
		let left = charge.charged.saturating_sub(charge.reversed);
		let who = T::ClientAccount::convert(client);
		let refunded = T::Credit::refund_charge(&who, bytes.min(left));
		charge.reversed = charge.reversed.saturating_add(refunded);
		ClientCharges::<T>::insert(period, client, charge);

		let slash = Params::<T>::get().dispute_slash;
		let mut slashed = 0u32;
		if !slash.is_zero() {
			for reporter in Periods::<T>::get(period).map(|i| i.reporters).unwrap_or_default() {
				if T::Nodes::slash(&reporter, slash).is_ok() {
					slashed = slashed.saturating_add(1);
				}
			}
		}
		Self::deposit_event(Event::DisputeUpheld { period, client, refunded, slashed });
	}

	pub(crate) fn do_cancel(period: u32) -> DispatchResult {
		let payees = Payees::<T>::get(period).ok_or(Error::<T>::NothingToCancel)?;
		let matures = Self::matures(period);
		ensure!(Self::current_period() < matures, Error::<T>::DisputeWindowOver);
		let mut total = BalanceOf::<T>::zero();
		for (who, amount) in payees.iter() {
			let mut ledger = Rewards::<T>::get(who);
			if let Some(pos) = ledger.pending.iter().position(|(m, _)| *m == matures) {
				let take = ledger.pending[pos].1.min(*amount);
				ledger.pending[pos].1 = ledger.pending[pos].1.saturating_sub(take);
				if ledger.pending[pos].1.is_zero() {
					ledger.pending.remove(pos);
				}
				total = total.saturating_add(take);
				Self::put_ledger(who, ledger);
			}
		}
		if !total.is_zero() {
			let burned = T::Currency::burn_from(
				&Self::pot_account(),
				total,
				Preservation::Preserve,
				Precision::Exact,
				Fortitude::Polite,
			)?;
			Self::note_burned(burned);
			Unclaimed::<T>::mutate(|u| *u = u.saturating_sub(total));
		}
		Payees::<T>::remove(period);
		Periods::<T>::mutate(period, |info| {
			if let Some(info) = info {
				info.cancelled = info.cancelled.saturating_add(total);
			}
		});
		Self::deposit_event(Event::PeriodCancelled { period, amount: total });
		Ok(())
	}

	/// Idle-time pruning of client entries whose dispute window is over.
	pub(crate) fn prune_charges(remaining: Weight) -> Weight {
		let db = T::DbWeight::get();
		let mut used = db.reads(2);
		if remaining.any_lt(used) {
			return Weight::zero();
		}
		let mut below = ChargesPrunedBelow::<T>::get();
		let next = NextPeriod::<T>::get();
		let now = Self::current_period();
		// Entries of a finished period go one period after its rewards matured: disputes
		// opened until then are answered (`dispute_window ≤ L`) and can be resolved until
		// the end of that period; unresolved ones lapse with the entries.
		while below < next && Self::matures(below) < now {
			let room = remaining.saturating_sub(used).ref_time() / db.writes(1).ref_time().max(1);
			if room == 0 {
				break;
			}
			let limit = room.min(u32::MAX as u64) as u32;
			let result = ClientCharges::<T>::clear_prefix(below, limit, None);
			used = used.saturating_add(db.writes(result.unique as u64));
			if result.maybe_cursor.is_some() {
				break;
			}
			let room = remaining.saturating_sub(used).ref_time() / db.writes(1).ref_time().max(1);
			let result =
				Disputes::<T>::clear_prefix((below,), room.min(u32::MAX as u64) as u32, None);
			used = used.saturating_add(db.writes(result.unique as u64));
			if result.maybe_cursor.is_some() {
				break;
			}
			below = below.saturating_add(1);
		}
		ChargesPrunedBelow::<T>::put(below);
		used.saturating_add(db.writes(1))
	}
}
