use crate::{mock::*, *};
use frame_support::{assert_noop, assert_ok, weights::RuntimeDbWeight};
use stratos_primitives::traffic::{chunk_report, commitment, order_report, ChunkedReport};

const SALT: [u8; 32] = [7; 32];
const METAS: [u64; 3] = [1, 2, 3];

fn signed(a: u64) -> RuntimeOrigin {
	RuntimeOrigin::signed(a)
}

fn events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| if let RuntimeEvent::Pot(e) = r.event { Some(e) } else { None })
		.collect()
}

/// Traffic a node carries into the next report, as the chain sees it.
fn carried(n: &NodeId) -> u128 {
	Pot::node_traffic_view(n).rolled
}

/// The honest report of `period`: the given traffic plus every node carrying traffic.
fn report_with(
	period: u32,
	nodes: &[(u64, u64)],
	clients: &[(u64, u64)],
	skip_carried: bool,
) -> ChunkedReport {
	let mut list: Vec<(NodeTraffic, u128)> = nodes
		.iter()
		.map(|(a, b)| (NodeTraffic { node: node(*a), bytes: *b }, carried(&node(*a))))
		.collect();
	if !skip_carried {
		for (id, _) in Rolled::<Test>::iter() {
			let c = carried(&id);
			if c > 0 && !list.iter().any(|(e, _)| e.node == id) {
				list.push((NodeTraffic { node: id, bytes: 0 }, c));
			}
		}
	}
	let entries = order_report(
		list,
		clients.iter().map(|(c, b)| ClientTraffic {
			client: client_key(*c),
			bytes: *b,
			receipts_root: [*c as u8; 32],
		}),
	);
	chunk_report(&Pot::genesis_hash(), period, &entries, Params::<Test>::get().chunk_size as usize)
}

fn report(period: u32, nodes: &[(u64, u64)], clients: &[(u64, u64)]) -> ChunkedReport {
	report_with(period, nodes, clients, false)
}

fn chunked(entries: &[ReportEntry], period: u32) -> ChunkedReport {
	chunk_report(&Pot::genesis_hash(), period, entries, Params::<Test>::get().chunk_size as usize)
}

/// Runs to the block where period `period`'s report opens.
fn close(period: u32) {
	run_to((period as u64 + 1) * L);
}

/// A commit that counts, and is free for the meta node.
fn commit(period: u32, who: u64, digest: &Hash) {
	let info = Pot::commit(signed(who), period, commitment(digest, &SALT, &client_key(who)))
		.expect("the commit counts");
	assert_eq!(info.pays_fee, Pays::No, "a commit that counts is free");
}

fn vote(period: u32, votes: &[(u64, Hash)]) {
	for (m, d) in votes {
		commit(period, *m, d);
	}
	for (m, d) in votes {
		if Periods::<Test>::get(period).unwrap().status != PeriodStatus::Reporting {
			// An empty report that breaks a rule fails when it reaches the quorum.
			assert_noop!(Pot::reveal(signed(*m), period, *d, SALT), Error::<Test>::PeriodFinished);
			continue;
		}
		let complete = |e: &Event<Test>| matches!(e, Event::ReportComplete { .. });
		let deferred_before = events().iter().filter(|e| complete(e)).count();
		let info = Pot::reveal(signed(*m), period, *d, SALT).expect("the reveal counts");
		assert_eq!(info.pays_fee, Pays::No, "a reveal that counts is free");
		if events().iter().filter(|e| complete(e)).count() > deferred_before {
			// An accepted empty report whose settlement waits for the reveal window: the
			// reveal is charged as a reveal, not as reveal + settlement.
			assert_eq!(info.actual_weight, Some(<() as crate::WeightInfo>::reveal()));
		}
	}
}

fn stream(period: u32, who: u64, r: &ChunkedReport) {
	for (chunk, next) in &r.chunks {
		let info = Pot::submit_chunk(signed(who), period, chunk.clone().try_into().unwrap(), *next)
			.expect("the chunk is the accepted report's");
		assert_eq!(info.pays_fee, Pays::No, "streaming the accepted report is free");
	}
	await_settlement(period);
	if r.chunks.is_empty() {
		let status = Periods::<Test>::get(period).unwrap().status;
		assert_ne!(status, PeriodStatus::Reporting, "an empty report settles once accepted");
	}
}

/// A complete report settles when the reveal window closes: run there.
fn await_settlement(period: u32) {
	if let Some(report) = Reports::<Test>::get(period) {
		if report.stream.as_ref().is_some_and(|s| Pot::complete(period, s)) {
			run_to(report.reveal_until.expect("accepted in the reveal phase"));
		}
	}
}

/// The whole honest flow for `period`: close, all three metas agree, meta 1 streams.
fn settle_period(period: u32, nodes: &[(u64, u64)], clients: &[(u64, u64)]) {
	close(period);
	let r = report(period, nodes, clients);
	vote(period, &METAS.map(|m| (m, r.digest)));
	stream(period, 1, &r);
	assert_eq!(Periods::<Test>::get(period).unwrap().status, PeriodStatus::Settled);
}

fn pending(a: u64) -> u64 {
	Pot::rewards_view(&a).pending
}

fn matured(a: u64) -> u64 {
	Pot::rewards_view(&a).matured
}

#[test]
fn whitepaper_example() {
	build_and_execute(|| {
		// 100,000 tokens for resource nodes alone; a node served 100 GB of the top nodes'
		// 1,000 GB → 10,000 tokens.
		let mut p = params();
		p.meta_share = Perbill::zero();
		p.validator_share = Perbill::zero();
		p.tiers = vec![Tier { minted_below: u64::MAX, per_period: 100_000 }].try_into().unwrap();
		assert_ok!(Pot::set_params(RuntimeOrigin::root(), p));
		let gb = 1_000_000_000u64;
		reserve(20, 1_000 * gb as u128);
		settle_period(0, &[(10, 100 * gb), (11, 900 * gb)], &[(20, 1_000 * gb)]);
		assert_eq!(pending(10), 10_000);
		assert_eq!(pending(11), 90_000);
		let info = Periods::<Test>::get(0).unwrap();
		assert_eq!((info.resource_paid, info.carried), (100_000, 0));
		assert_eq!(carried(&node(10)), 0, "paid nodes start again from zero");
	});
}

#[test]
fn a_period_goes_from_commitments_to_claimed_rewards() {
	build_and_execute(|| {
		reserve(20, 10_000);
		reserve(21, 10_000);
		close(0);
		assert!(events().contains(&Event::ReportOpened {
			period: 0,
			issuance: ISSUANCE,
			electorate: 3
		}));
		let r = report(
			0,
			&[(10, 3_000), (11, 1_000), (12, 500), (13, 500)],
			&[(20, 4_000), (21, 1_000)],
		);
		assert_eq!(r.chunks.len(), 3, "6 entries in chunks of 2");
		for m in METAS {
			commit(0, m, &r.digest);
		}
		// Everyone committed: the reveal phase starts at once.
		assert!(Reports::<Test>::get(0).unwrap().reveal_until.is_some());
		assert_ok!(Pot::reveal(signed(1), 0, r.digest, SALT));
		assert_noop!(
			Pot::submit_chunk(
				signed(1),
				0,
				r.chunks[0].0.clone().try_into().unwrap(),
				r.chunks[0].1
			),
			Error::<Test>::NotAccepted
		);
		assert_ok!(Pot::reveal(signed(2), 0, r.digest, SALT));
		assert!(events().contains(&Event::ReportAccepted {
			period: 0,
			digest: r.digest,
			votes: 2
		}));
		// Meta 3 reveals after the quorum; it still matches and shares the meta part.
		assert_ok!(Pot::reveal(signed(3), 0, r.digest, SALT));
		// Chunks in order, from any matching reporter.
		stream(0, 2, &ChunkedReport { digest: r.digest, chunks: r.chunks[..1].to_vec() });
		stream(0, 3, &ChunkedReport { digest: r.digest, chunks: r.chunks[1..].to_vec() });

		// Resource part 8,000 over the top 3 (13 ties 12 and loses on id): 3000:1000:500.
		let info = Periods::<Test>::get(0).unwrap();
		assert_eq!(info.status, PeriodStatus::Settled);
		assert_eq!(pending(10), 8_000 * 3_000 / 4_500);
		assert_eq!(pending(11), 8_000 * 1_000 / 4_500);
		assert_eq!(pending(12), 8_000 * 500 / 4_500);
		assert_eq!(pending(13), 0);
		assert_eq!(carried(&node(13)), 500, "outside the top 3: rolls over");
		assert_eq!(RolledCount::<Test>::get(), 1);
		for m in METAS {
			assert_eq!(pending(m), 1_000 / 3);
		}
		assert_eq!(pending(AUTHOR), 1_000, "the only author takes the validator part");
		let paid = info.resource_paid + info.meta_paid + info.validator_paid;
		assert_eq!(paid + info.carried + info.resource_carried, ISSUANCE);
		assert_eq!(Minted::<Test>::get(), paid);
		assert_eq!(Carry::<Test>::get(), info.carried);
		assert_eq!(info.carried, 1, "the meta part's remainder (1,000 over 3)");
		assert_eq!(ResourceCarry::<Test>::get(), info.resource_carried);
		assert_eq!(
			(info.charged_bytes, info.served_bytes, info.rewarded_bytes),
			(5_000, 5_000, 4_500)
		);
		assert_eq!(pallet_file_registry::Reserved::<Test>::get(20).unwrap().bytes, 6_000);

		// Maturity 1: earned in period 0, claimable from period 2.
		assert_noop!(Pot::claim_rewards(signed(10)), Error::<Test>::NothingToClaim);
		run_to(2 * L);
		assert_eq!(matured(10), 5_333);
		let before = Balances::balance(&10);
		assert_ok!(Pot::claim_rewards(signed(10)));
		assert_eq!(Balances::balance(&10), before + 5_333);
		assert_noop!(Pot::claim_rewards(signed(10)), Error::<Test>::NothingToClaim);
		assert!(events().contains(&Event::Claimed { who: 10, amount: 5_333, debt_paid: 0 }));
	});
}

#[test]
fn rolled_traffic_ranks_next_time_and_must_be_listed() {
	build_and_execute(|| {
		reserve(20, 100_000);
		settle_period(0, &[(10, 900), (11, 800), (12, 700), (13, 600)], &[(20, 3_000)]);
		assert_eq!(carried(&node(13)), 600);
		// Period 1: node 13 has 600 + 50 = 650, which beats node 14's 640.
		close(1);
		let r = report(1, &[(13, 50), (14, 640), (10, 10)], &[(20, 700)]);
		assert_eq!(r.chunks[0].0[0], ReportEntry::Node(NodeTraffic { node: node(13), bytes: 50 }));
		vote(1, &METAS.map(|m| (m, r.digest)));
		stream(1, 1, &r);
		assert_eq!(Periods::<Test>::get(1).unwrap().status, PeriodStatus::Settled);
		// Top 3 of (13: 650, 14: 640, 10: 10) are all of them. Period 0 carried 2 (rounding),
		// so the resource part is 80 % of 10,002.
		assert_eq!(Periods::<Test>::get(1).unwrap().issuance, ISSUANCE + 2);
		assert_eq!(pending(13), 8_002 * 650 / 1_300);
		assert_eq!(RolledCount::<Test>::get(), 0);

		// A report leaving out a node that carries traffic is refused as incomplete.
		settle_period(2, &[(10, 9), (11, 8), (12, 7), (13, 6)], &[(20, 30)]);
		assert_eq!(carried(&node(13)), 6);
		close(3);
		let r = report_with(3, &[(10, 5)], &[(20, 5)], true);
		vote(3, &METAS.map(|m| (m, r.digest)));
		let minted = Minted::<Test>::get();
		stream(3, 1, &r);
		let info = Periods::<Test>::get(3).unwrap();
		assert_eq!(
			info.status,
			PeriodStatus::Failed(FailReason::Invalid(InvalidReport::Incomplete))
		);
		assert_eq!(Minted::<Test>::get(), minted, "no funds move");
		assert_eq!(carried(&node(10)), 0, "the failed report's writes are undone");
		assert_eq!(carried(&node(13)), 6);
		assert_eq!(
			Carry::<Test>::get() + ResourceCarry::<Test>::get(),
			info.issuance,
			"its issuance carries over"
		);
	});
}

#[test]
fn commits_and_reveals_refuse_bad_input() {
	build_and_execute(|| {
		let digest = [1u8; 32];
		assert_noop!(Pot::commit(signed(1), 0, digest), Error::<Test>::PeriodNotClosed);
		close(0);
		assert_noop!(Pot::commit(signed(1), 1, digest), Error::<Test>::PeriodNotClosed);
		assert_noop!(Pot::commit(signed(10), 0, digest), Error::<Test>::NotInElectorate);
		assert_noop!(Pot::reveal(signed(1), 0, digest, SALT), Error::<Test>::RevealNotOpen);
		commit(0, 1, &digest);
		assert_noop!(Pot::commit(signed(1), 0, digest), Error::<Test>::AlreadyCommitted);
		// Meta 3 leaves: no longer allowed to report, though it was in the electorate.
		assert_ok!(mock::NodeRegistry::unbond(signed(3)));
		assert_noop!(Pot::commit(signed(3), 0, digest), Error::<Test>::ReporterInactive);
		// The commit window (2 blocks) ends; reveals open.
		run_to(L + 2);
		assert_noop!(Pot::commit(signed(2), 0, digest), Error::<Test>::CommitClosed);
		assert_noop!(Pot::reveal(signed(2), 0, digest, SALT), Error::<Test>::NoCommitment);
		assert_noop!(Pot::reveal(signed(1), 0, [2; 32], SALT), Error::<Test>::RevealMismatch);
		assert_noop!(Pot::reveal(signed(1), 0, digest, [0; 32]), Error::<Test>::RevealMismatch);
		assert_ok!(Pot::reveal(signed(1), 0, digest, SALT));
		assert_noop!(Pot::reveal(signed(1), 0, digest, SALT), Error::<Test>::AlreadyRevealed);
		// One vote of three: no quorum by the end of the reveal window.
		run_to(L + 4);
		assert_noop!(Pot::reveal(signed(2), 0, digest, SALT), Error::<Test>::PeriodFinished);
		let info = Periods::<Test>::get(0).unwrap();
		assert_eq!(info.status, PeriodStatus::Failed(FailReason::NoQuorum));
		assert!(events().contains(&Event::PeriodFailed {
			period: 0,
			reason: FailReason::NoQuorum,
			carried: ISSUANCE
		}));
		assert_eq!(Minted::<Test>::get(), 0);
		// Later periods proceed, with the carried issuance on top.
		close(1);
		assert_eq!(Periods::<Test>::get(1).unwrap().issuance, 2 * ISSUANCE);
	});
}

#[test]
fn a_differing_reveal_is_recorded_and_unpaid() {
	build_and_execute(|| {
		reserve(20, 1_000);
		close(0);
		let r = report(0, &[(10, 100)], &[(20, 100)]);
		let lie = report(0, &[(10, 100_000)], &[(20, 100)]);
		vote(0, &[(1, r.digest), (2, lie.digest), (3, r.digest)]);
		assert!(events().contains(&Event::ReportMismatch {
			period: 0,
			who: 2,
			digest: lie.digest,
			accepted: r.digest
		}));
		// The liar cannot stream, not even its own report.
		assert_noop!(
			Pot::submit_chunk(
				signed(2),
				0,
				lie.chunks[0].0.clone().try_into().unwrap(),
				lie.chunks[0].1
			),
			Error::<Test>::NotMatchingReporter
		);
		// Nor can a matching reporter send anything but the accepted chunk.
		assert_noop!(
			Pot::submit_chunk(
				signed(1),
				0,
				lie.chunks[0].0.clone().try_into().unwrap(),
				lie.chunks[0].1
			),
			Error::<Test>::ChunkMismatch
		);
		stream(0, 3, &r);
		assert_eq!(pending(1), 500);
		assert_eq!(pending(3), 500);
		assert_eq!(pending(2), 0);
		assert_eq!(Periods::<Test>::get(0).unwrap().reporters.to_vec(), vec![1, 3]);
		// Settled: nothing more for this period.
		assert_noop!(
			Pot::submit_chunk(
				signed(1),
				0,
				r.chunks[0].0.clone().try_into().unwrap(),
				r.chunks[0].1
			),
			Error::<Test>::PeriodFinished
		);
	});
}

#[test]
fn invalid_reports_fail_the_period_and_move_no_funds() {
	build_and_execute(|| {
		reserve(20, 1_000);
		// Out of order: a smaller total before a larger one.
		close(0);
		let bad = [
			ReportEntry::Node(NodeTraffic { node: node(10), bytes: 5 }),
			ReportEntry::Node(NodeTraffic { node: node(11), bytes: 50 }),
		];
		let r = chunked(&bad, 0);
		vote(0, &METAS.map(|m| (m, r.digest)));
		stream(0, 1, &r);
		assert_eq!(
			Periods::<Test>::get(0).unwrap().status,
			PeriodStatus::Failed(FailReason::Invalid(InvalidReport::NodeOutOfOrder))
		);
		// An unknown node.
		close(1);
		let r = chunked(&[ReportEntry::Node(NodeTraffic { node: NodeId([99; 32]), bytes: 5 })], 1);
		vote(1, &METAS.map(|m| (m, r.digest)));
		stream(1, 1, &r);
		assert_eq!(
			Periods::<Test>::get(1).unwrap().status,
			PeriodStatus::Failed(FailReason::Invalid(InvalidReport::UnknownNode))
		);
		// Clients out of order.
		close(2);
		let c = |a: u64| {
			ReportEntry::Client(ClientTraffic {
				client: client_key(a),
				bytes: 1,
				receipts_root: [0; 32],
			})
		};
		let r = chunked(&[c(21), c(20)], 2);
		vote(2, &METAS.map(|m| (m, r.digest)));
		stream(2, 1, &r);
		assert_eq!(
			Periods::<Test>::get(2).unwrap().status,
			PeriodStatus::Failed(FailReason::Invalid(InvalidReport::ClientOutOfOrder))
		);
		assert_eq!(Minted::<Test>::get(), 0);
		assert_eq!(Carry::<Test>::get() + ResourceCarry::<Test>::get(), 3 * ISSUANCE);
		// A chunk above the chain's chunk size.
		close(3);
		let entries: Vec<_> = (10..13)
			.map(|a| ReportEntry::Node(NodeTraffic { node: node(a), bytes: 100 - a }))
			.collect();
		let r = chunk_report(&Pot::genesis_hash(), 3, &entries, 3);
		vote(3, &METAS.map(|m| (m, r.digest)));
		assert_noop!(
			Pot::submit_chunk(
				signed(1),
				3,
				r.chunks[0].0.clone().try_into().unwrap(),
				r.chunks[0].1
			),
			Error::<Test>::ChunkTooLarge
		);
	});
}

#[test]
fn a_period_without_traffic_settles_when_the_reveal_window_closes() {
	build_and_execute(|| {
		settle_period(0, &[], &[]);
		let info = Periods::<Test>::get(0).unwrap();
		// Accepted at the second reveal, settled when the window closed: all three matching
		// reporters share the meta part.
		assert_eq!(info.reporters.to_vec(), vec![1, 2, 3]);
		assert_eq!((info.resource_paid, info.meta_paid, info.validator_paid), (0, 999, 1_000));
		assert_eq!((info.carried, info.resource_carried), (1, 8_000));
		// With traffic carried, an empty report leaves a node out: refused as incomplete.
		reserve(20, 1_000);
		settle_period(1, &[(10, 9), (11, 8), (12, 7), (13, 6)], &[(20, 30)]);
		close(2);
		let r = chunked(&[], 2);
		vote(2, &METAS.map(|m| (m, r.digest)));
		assert_eq!(
			Periods::<Test>::get(2).unwrap().status,
			PeriodStatus::Failed(FailReason::Invalid(InvalidReport::Incomplete))
		);
	});
}

#[test]
fn overflowing_traffic_fails_the_period() {
	build_and_execute(|| {
		// Node 10 carries (from a settled period) as much traffic as a u128 holds.
		settle_period(0, &[], &[]);
		Rolled::<Test>::insert(
			node(10),
			RolledTraffic { period: 0, bytes: 0, acc: u128::MAX, prev: 0 },
		);
		RolledCount::<Test>::put(1);
		close(1);
		let r = chunked(&[ReportEntry::Node(NodeTraffic { node: node(10), bytes: 1 })], 1);
		vote(1, &METAS.map(|m| (m, r.digest)));
		let minted = Minted::<Test>::get();
		stream(1, 1, &r);
		assert_eq!(
			Periods::<Test>::get(1).unwrap().status,
			PeriodStatus::Failed(FailReason::Invalid(InvalidReport::Overflow))
		);
		assert_eq!(Minted::<Test>::get(), minted, "no funds move");
		assert_eq!(carried(&node(10)), u128::MAX, "nothing changed");
		// Put the books back the way the invariants expect them (no such traffic exists).
		Rolled::<Test>::remove(node(10));
		RolledCount::<Test>::put(0);
	});
}

#[test]
fn an_unfinished_stream_times_out_and_is_undone() {
	build_and_execute(|| {
		reserve(20, 10_000);
		settle_period(0, &[(10, 900), (11, 800), (12, 700), (13, 600)], &[(20, 3_000)]);
		close(1);
		let r = report(1, &[(10, 5_000), (11, 1), (12, 1), (14, 1)], &[(20, 100)]);
		vote(1, &METAS.map(|m| (m, r.digest)));
		// Only the first chunk arrives.
		stream(1, 1, &ChunkedReport { digest: r.digest, chunks: r.chunks[..1].to_vec() });
		assert_eq!(Pot::node_traffic_view(&node(13)).rolled, 600);
		let opened = 2 * L;
		run_to(opened + 4 + 4);
		assert_eq!(
			Periods::<Test>::get(1).unwrap().status,
			PeriodStatus::Failed(FailReason::StreamTimeout)
		);
		assert_eq!(carried(&node(13)), 600, "the chunk's writes read as before");
		assert_eq!(carried(&node(10)), 0);
		// The next report starts from the state before the failed one.
		settle_period(2, &[(14, 700)], &[(20, 700)]);
		assert!(pending(14) > 0);
		assert_eq!(carried(&node(13)), 0, "13 (600) made the top 3 of 14, 13");
	});
}

#[test]
fn suspended_nodes_are_skipped_and_keep_their_traffic() {
	build_and_execute(|| {
		reserve(20, 10_000);
		assert_ok!(mock::NodeRegistry::unbond(signed(10)));
		settle_period(0, &[(10, 900), (11, 800)], &[(20, 1_700)]);
		assert_eq!(pending(10), 0);
		assert_eq!(pending(11), 8_000);
		assert_eq!(carried(&node(10)), 900, "unbonding: not paid, traffic rolls over");
	});
}

#[test]
fn a_node_slashed_below_its_deposit_earns_nothing_until_it_tops_up() {
	build_and_execute(|| {
		reserve(20, 10_000);
		assert_ok!(mock::NodeRegistry::slash(RuntimeOrigin::root(), 10, 10));
		settle_period(0, &[(10, 900), (11, 800)], &[(20, 1_700)]);
		assert_eq!(pending(10), 0);
		assert_eq!(carried(&node(10)), 900, "its traffic waits");
		assert_ok!(mock::NodeRegistry::add_deposit(signed(10), 10));
		settle_period(1, &[(10, 100)], &[(20, 100)]);
		assert!(pending(10) > 0, "paid for 1,000 bytes once it is whole again");
		assert_eq!(carried(&node(10)), 0);
	});
}

#[test]
fn wash_traffic_never_earns_more_than_it_paid() {
	build_and_execute(|| {
		// Credit given away (no tokens paid): the traffic earns nothing.
		set_price(Some((0, 1)));
		reserve(20, 10_000);
		settle_period(0, &[(10, 900)], &[(20, 900)]);
		assert_eq!(pending(10), 0, "the cap binds: nothing for the node");
		assert_eq!(Periods::<Test>::get(0).unwrap().resource_paid, 0);
		assert_eq!(ResourceCarry::<Test>::get(), 8_000, "the resource part carries, for nodes");
		assert_eq!(Carry::<Test>::get(), 1, "the meta part's rounding unit carries for all");

		// Client 21 reserved nothing, so its traffic was not paid for and earns nothing.
		set_price(Some((7, 1)));
		settle_period(1, &[(11, 900)], &[(21, 900)]);
		assert_eq!(pending(11), 0, "unpaid traffic earns nothing");
		assert_eq!(Periods::<Test>::get(1).unwrap().charged_bytes, 0);
		// 100 bytes paid at 7 each: only 100 bytes are rewarded, with k × 700 = 350.
		reserve(22, 100);
		let issuance = Balances::total_issuance();
		settle_period(2, &[(12, 900)], &[(22, 900)]);
		let info = Periods::<Test>::get(2).unwrap();
		assert_eq!((info.charged_bytes, info.rewarded_bytes), (100, 100));
		assert_eq!((info.charged_value, info.rewarded_value), (700, 700));
		assert_eq!(pending(12), 350);
		// The 700 tokens were burned when the credit was spent; 350 minted for the node.
		assert_eq!(
			Balances::total_issuance(),
			issuance - 700 + info.resource_paid + info.meta_paid + info.validator_paid
		);
	});
}

#[test]
fn pending_deposits_cannot_pump_the_cap() {
	// The sandwich: a huge deposit counted in the stake `S` while the report settles, gone
	// right after. The cap depends only on what clients paid, so no reward changes.
	let run = |sandwich: bool| {
		let mut rewards = Vec::new();
		build_and_execute(|| {
			set_price(Some((3, 1)));
			reserve(20, 900);
			close(0);
			let r = report(0, &[(10, 900)], &[(20, 900)]);
			vote(0, &METAS.map(|m| (m, r.digest)));
			let huge = 1u64 << 50;
			if sandwich {
				pallet_node_registry::TotalDeposits::<Test>::mutate(|t| *t += huge);
			}
			stream(0, 1, &r);
			if sandwich {
				pallet_node_registry::TotalDeposits::<Test>::mutate(|t| *t -= huge);
			}
			rewards = [10, 1, 2, 3, AUTHOR].map(pending).to_vec();
		});
		rewards
	};
	let honest = run(false);
	assert_eq!(honest[0], 1_350, "k × 2,700 paid");
	assert_eq!(run(true), honest);
}

#[test]
fn cheap_early_credit_is_no_wash_stock_later() {
	build_and_execute(|| {
		// Client 20 buys 1,000 bytes while credit is cheap (1 per byte).
		set_price(Some((1, 1)));
		reserve(20, 1_000);
		// Later credit costs 1,000 per byte (client 21 buys some and does not use it yet).
		set_price(Some((1_000, 1)));
		reserve(21, 1_000);
		// Client 20 downloads its 1,000 bytes from its own node 10: the node earns at most
		// k × the 1,000 tokens those bytes cost, not k × today's price.
		settle_period(0, &[(10, 1_000)], &[(20, 1_000)]);
		assert_eq!(pending(10), 500);
		assert!(pending(10) < 1_000, "washing cheap credit loses money");
		assert_eq!(pallet_file_registry::CreditValue::<Test>::get(21), 1_000_000);
	});
}

#[test]
fn debts_are_paid_first_and_burned() {
	build_and_execute(|| {
		reserve(20, 10_000);
		settle_period(0, &[(10, 900)], &[(20, 900)]);
		// Node 10 is slashed beyond its deposit (110): 500 of debt.
		assert_ok!(mock::NodeRegistry::slash(RuntimeOrigin::root(), 10, 610));
		run_to(2 * L);
		let reward = matured(10);
		let issuance = Balances::total_issuance();
		let before = Balances::balance(&10);
		assert_ok!(Pot::claim_rewards(signed(10)));
		assert_eq!(Balances::balance(&10), before + reward - 500);
		assert_eq!(Balances::total_issuance(), issuance - 500);
		assert!(events().contains(&Event::Claimed { who: 10, amount: reward, debt_paid: 500 }));
		assert_eq!(pallet_node_registry::Debt::<Test>::get(10), None);
	});
}

#[test]
fn parameters_are_checked() {
	build_and_execute(|| {
		let mut p = params();
		p.stream_window = 7; // 2 + 2 + 7 > 10
		assert_noop!(Pot::set_params(RuntimeOrigin::root(), p), Error::<Test>::BadParams);
		let mut p = params();
		p.top_nodes = 5;
		assert_noop!(Pot::set_params(RuntimeOrigin::root(), p), Error::<Test>::BadParams);
		let mut p = params();
		p.meta_share = Perbill::from_percent(60);
		p.validator_share = Perbill::from_percent(50);
		assert_noop!(Pot::set_params(RuntimeOrigin::root(), p), Error::<Test>::BadParams);
		assert_noop!(Pot::set_params(signed(1), params()), sp_runtime::DispatchError::BadOrigin);
		assert_ok!(Pot::set_params(RuntimeOrigin::root(), params()));
	});
}

#[test]
fn issuance_follows_the_tiers() {
	build_and_execute(|| {
		Minted::<Test>::put(999_999);
		assert_eq!(Pot::tier_issuance(), ISSUANCE);
		Minted::<Test>::put(1_000_000);
		assert_eq!(Pot::tier_issuance(), ISSUANCE / 2);
		Minted::<Test>::put(2_000_000);
		assert_eq!(Pot::tier_issuance(), 0);
		Minted::<Test>::put(0);
	});
}

/// The reference model: the rules of ADR 0010 in exact rationals, written apart from the
/// pallet. One client pays for each period's traffic (as much as it reserved); the three
/// metas agree; one author.
mod model {
	use super::*;
	use num_bigint::BigInt;
	use num_rational::BigRational;
	use num_traits::ToPrimitive;
	use proptest::prelude::*;
	use std::collections::BTreeMap;

	fn floor(r: BigRational) -> u128 {
		r.floor().to_integer().to_u128().unwrap()
	}

	/// `Perbill · x`, rounded to the nearest, halves down (sp-arithmetic's rule).
	fn share(percent: u64, x: u128) -> u128 {
		let exact = BigRational::new(BigInt::from(x) * percent, BigInt::from(100));
		let down = exact.floor();
		let half = BigRational::new(BigInt::from(1), BigInt::from(2));
		if exact.clone() - down.clone() > half {
			floor(down) + 1
		} else {
			floor(down)
		}
	}

	struct Books {
		rolled: BTreeMap<u64, u128>,
		carry: u128,
		resource_carry: u128,
		minted: u128,
		pool: u128,
		pool_value: u128,
		reserved: u128,
	}

	proptest! {
		#![proptest_config(ProptestConfig::with_cases(48))]
		#[test]
		fn the_pallet_settles_like_the_model(
			periods in prop::collection::vec(
				(prop::collection::vec(0u64..3_000, 5), 0u128..20_000),
				1..6,
			),
			price in prop_oneof![Just(0u128), Just(2), Just(5), Just(2_000_000)],
		) {
			new_test_ext().execute_with(|| {
				set_price(Some((price, 1)));
				let mut books = Books {
					rolled: BTreeMap::new(),
					carry: 0,
					resource_carry: 0,
					minted: 0,
					pool: 0,
					pool_value: 0,
					reserved: 0,
				};
				for (p, (traffic, paid_for)) in periods.iter().enumerate() {
					let p = p as u32;
					let served: u64 = traffic.iter().sum();
					reserve(20, *paid_for);
					let nodes: Vec<(u64, u64)> = traffic
						.iter()
						.enumerate()
						.map(|(i, b)| (10 + i as u64, *b))
						.collect();
					settle_period(p, &nodes, &[(20, served)]);

					// The model's period.
					// The shares apply to the tier and the general carry; what resource parts
					// carried is added to the resource part alone.
					let shared = ISSUANCE as u128 + books.carry;
					let meta = share(10, shared);
					let val = share(10, shared);
					let res = shared - meta - val + books.resource_carry;
					let mut acc: Vec<(u64, u128)> = nodes
						.iter()
						.map(|(n, b)| (*n, books.rolled.get(n).copied().unwrap_or(0) + *b as u128))
						.filter(|(_, t)| *t > 0)
						.collect();
					acc.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
					let top: Vec<(u64, u128)> = acc.iter().take(3).copied().collect();
					let total: u128 = top.iter().map(|t| t.1).sum();
					books.reserved += *paid_for;
					let charged = books.reserved.min(served as u128);
					books.reserved -= charged;
					// Credit keeps its price: the charged bytes are worth what was paid.
					books.pool += charged;
					books.pool_value += charged * price;
					let rewarded = total.min(books.pool);
					// Rewards stay within k = ½ of what the rewarded bytes were paid.
					let worth = if books.pool == 0 {
						0
					} else {
						floor(BigRational::new(
							BigInt::from(books.pool_value) * rewarded,
							BigInt::from(books.pool),
						))
					};
					let budget = BigInt::from(res).min(BigInt::from(worth / 2));
					let mut paid = 0u128;
					for (n, t) in &top {
						let r = if total == 0 {
							0
						} else {
							floor(BigRational::new(budget.clone() * *t, BigInt::from(total)))
						};
						let got: u128 = System::events()
							.iter()
							.filter_map(|e| match &e.event {
								RuntimeEvent::Pot(Event::Rewarded { who, period, amount, .. })
									if who == n && *period == p => Some(*amount as u128),
								_ => None,
							})
							.sum();
						prop_assert_eq!(got, r, "reward of node {} in period {}", n, p);
						paid += r;
					}
					let resource_paid = paid;
					let each = meta / 3;
					paid += 3 * each + val;
					books.pool -= rewarded;
					books.pool_value -= worth;
					books.minted += paid;
					books.carry = meta - 3 * each;
					books.resource_carry = res - resource_paid;
					books.rolled = acc.iter().skip(3).map(|(n, t)| (*n, *t)).collect();
					for (n, _) in &nodes {
						let want = books.rolled.get(n).copied().unwrap_or(0);
						prop_assert_eq!(carried(&node(*n)), want);
					}
					prop_assert_eq!(Minted::<Test>::get() as u128, books.minted);
					prop_assert_eq!(Carry::<Test>::get() as u128, books.carry);
					prop_assert_eq!(ResourceCarry::<Test>::get() as u128, books.resource_carry);
					prop_assert_eq!(ChargedUnrewarded::<Test>::get(), books.pool);
					prop_assert_eq!(ChargedUnrewardedValue::<Test>::get(), books.pool_value);
				}
				Pot::do_try_state().expect("invariants hold");
				Ok(())
			})?;
		}
	}
}

/// The hardening of the economy (issue 14): each test fails on the rules before it.
mod hardening {
	use super::*;
	use sp_core::{ed25519, sr25519, Pair};
	use stratos_primitives::{
		receipt::TaskReceipt,
		receipts::{ReceiptTree, RECEIPT_LEAF_TAG},
		traffic::ClientTraffic,
		SliceHash, TaskId,
	};

	#[test]
	fn carried_resource_issuance_stays_with_resource_nodes() {
		build_and_execute(|| {
			// The cap binds every period (no credit price): the resource part never pays.
			set_price(Some((0, 1)));
			for p in 0..6 {
				reserve(20, 1_000);
				settle_period(p, &[(10 + (p as u64 % 3), 500)], &[(20, 500)]);
				let info = Periods::<Test>::get(p).unwrap();
				assert_eq!(info.resource_paid, 0);
				// Meta nodes and validators get their shares of the tier issuance (plus the
				// meta part's rounding carry), however much the resource nodes left unpaid.
				assert!(info.meta_paid <= 1_000 && info.meta_paid >= 999, "period {p}");
				assert_eq!(info.validator_paid, 1_000, "period {p}");
				// 80 % of each period's (tier + rounding carry) accumulates for resource nodes.
				let owed = ResourceCarry::<Test>::get();
				assert!((8_000 * (p as u64 + 1)..=8_001 * (p as u64 + 1)).contains(&owed));
			}
			// Once the cap lets go, the resource nodes get what they were owed.
			let owed = ResourceCarry::<Test>::get();
			set_price(Some((1_000_000, 1)));
			reserve(20, 1_000);
			settle_period(6, &[(10, 700)], &[(20, 700)]);
			let info = Periods::<Test>::get(6).unwrap();
			assert_eq!(info.resource_carried_in, owed);
			assert!(info.resource_paid > owed, "the carried resource issuance is paid out");
			assert!(info.meta_paid + info.validator_paid <= 2_001);
		});
	}

	#[test]
	fn a_matching_reveal_after_the_last_chunk_shares_the_meta_part() {
		build_and_execute(|| {
			reserve(20, 1_000);
			close(0);
			let r = report(0, &[(10, 900)], &[(20, 900)]);
			for m in METAS {
				commit(0, m, &r.digest);
			}
			assert_ok!(Pot::reveal(signed(1), 0, r.digest, SALT));
			assert_ok!(Pot::reveal(signed(2), 0, r.digest, SALT));
			for (chunk, next) in &r.chunks {
				let entries: frame_support::BoundedVec<_, _> = chunk.clone().try_into().unwrap();
				let info = Pot::submit_chunk(signed(1), 0, entries.clone(), *next).unwrap();
				// The settlement waits for the reveal window: the last chunk is charged as a
				// chunk, not as chunk + settlement (which `on_initialize` accounts for later).
				assert_eq!(info.actual_weight, Some(Pot::chunk_weight(&entries)));
			}
			let until = Reports::<Test>::get(0).unwrap().reveal_until.unwrap();
			assert!(events().contains(&Event::ReportComplete { period: 0, settles_at: until }));
			assert_eq!(Periods::<Test>::get(0).unwrap().status, PeriodStatus::Reporting);
			// Meta 3 reveals late, but within the reveal window.
			assert_ok!(Pot::reveal(signed(3), 0, r.digest, SALT));
			run_to(until);
			let info = Periods::<Test>::get(0).unwrap();
			assert_eq!(info.status, PeriodStatus::Settled);
			assert_eq!(info.reporters.to_vec(), vec![1, 2, 3]);
			assert_eq!(pending(3), 1_000 / 3);
		});
	}

	/// A client with an sr25519 key, its mock account, and a resource node's key.
	struct Parties {
		client: sr25519::Pair,
		account: u64,
		node: ed25519::Pair,
	}

	fn parties() -> Parties {
		use frame_support::traits::{fungible::Mutate, tokens::Preservation};
		let client = sr25519::Pair::from_seed(&[5; 32]);
		let account = ClientKey::convert(client.public().0);
		// Its account buys credit: fund it from another client.
		Balances::transfer(&29, &account, 1 << 40, Preservation::Expendable).expect("funded");
		Parties { client, account, node: ed25519::Pair::from_seed(&[6; 32]) }
	}

	fn receipt(p: &Parties, period: u32, task: u8, length: u64) -> SignedReceipt {
		let receipt = TaskReceipt {
			genesis_hash: Pot::genesis_hash(),
			ledger_period: period,
			task_id: TaskId([task; 32]),
			client: p.client.public().0,
			node: NodeId(p.node.public().0),
			slice: SliceHash([task; 32]),
			offset: 0,
			length,
		};
		let node_signature = p.node.sign(&receipt.node_payload()).0;
		let client_signature = p.client.sign(&receipt.client_payload(&node_signature)).0;
		SignedReceipt { receipt, node_signature, client_signature }
	}

	fn digest_of(r: &SignedReceipt) -> Hash {
		receipt_digest(&r.receipt, &r.node_signature)
	}

	/// Period 0 reported by all three metas with node 10 serving `bytes` and the client's
	/// entry listing `bytes` under `tree`'s root; the client reserved 10,000.
	fn report_client(p: &Parties, tree: &ReceiptTree, bytes: u64) {
		reserve(p.account, 10_000);
		close(0);
		let entries = order_report(
			[(NodeTraffic { node: node(10), bytes }, 0)],
			[ClientTraffic { client: p.client.public().0, bytes, receipts_root: tree.root() }],
		);
		let r = chunked(&entries, 0);
		vote(0, &METAS.map(|m| (m, r.digest)));
		stream(0, 1, &r);
		assert_eq!(Periods::<Test>::get(0).unwrap().status, PeriodStatus::Settled);
	}

	fn deposit(a: u64) -> u64 {
		pallet_node_registry::Nodes::<Test>::get(a).unwrap().deposit
	}

	#[test]
	fn an_invented_receipt_is_disputed_and_reversed() {
		build_and_execute(|| {
			let p = parties();
			let key = p.client.public().0;
			let (a, b) = (receipt(&p, 0, 1, 300), receipt(&p, 0, 2, 200));
			// The quorum adds 400 bytes the client never countersigned.
			let invented = stratos_primitives::hash(RECEIPT_LEAF_TAG);
			let tree =
				ReceiptTree::new(vec![(300, digest_of(&a)), (200, digest_of(&b)), (400, invented)])
					.unwrap();
			report_client(&p, &tree, 900);
			assert_eq!(ClientCharges::<Test>::get(0, key).unwrap().charged, 900);

			let (leaf, proof) = tree.proof(tree.position(&invented).unwrap()).unwrap();
			let claim = DisputeClaim::NotCountersigned { leaf, proof: proof.clone() };
			assert_noop!(
				Pot::dispute(signed(21), 0, key, claim.clone()),
				Error::<Test>::NotTheClient
			);
			let mut forged = leaf;
			forged.length = 4_000;
			assert_noop!(
				Pot::dispute(
					signed(p.account),
					0,
					key,
					DisputeClaim::NotCountersigned { leaf: forged, proof }
				),
				Error::<Test>::BadProof
			);
			assert_ok!(Pot::dispute(signed(p.account), 0, key, claim.clone()));
			assert_noop!(
				Pot::dispute(signed(p.account), 0, key, claim),
				Error::<Test>::AlreadyDisputed
			);
			// A real receipt does not answer for the invented one.
			assert_noop!(Pot::answer_dispute(signed(1), 0, a), Error::<Test>::NoSuchDispute);
			assert_noop!(
				Pot::resolve_dispute(signed(30), 0, key, invented),
				Error::<Test>::AnswerWindowOpen
			);
			let until = Disputes::<Test>::get((0, key, invented)).unwrap().answer_by;
			run_to(until);
			let before = [deposit(1), deposit(2), deposit(3)];
			assert_ok!(Pot::resolve_dispute(signed(30), 0, key, invented));
			assert!(events().contains(&Event::DisputeUpheld {
				period: 0,
				client: key,
				refunded: 400,
				slashed: 3
			}));
			assert_eq!(pallet_file_registry::Credit::<Test>::get(p.account), 400);
			assert_eq!(ClientCharges::<Test>::get(0, key).unwrap().reversed, 400);
			assert_eq!(
				[deposit(1), deposit(2), deposit(3)],
				before.map(|d| d - DISPUTE_SLASH),
				"every reporter of the period is slashed"
			);
		});
	}

	#[test]
	fn an_honest_charge_survives_a_dispute() {
		build_and_execute(|| {
			let p = parties();
			let key = p.client.public().0;
			let (a, b) = (receipt(&p, 0, 1, 300), receipt(&p, 0, 2, 200));
			let tree = ReceiptTree::of_receipts([&a, &b]).unwrap();
			report_client(&p, &tree, 500);
			// The client lies: it did countersign `a`.
			let (leaf, proof) = tree.proof(tree.position(&digest_of(&a)).unwrap()).unwrap();
			assert_ok!(Pot::dispute(
				signed(p.account),
				0,
				key,
				DisputeClaim::NotCountersigned { leaf, proof }
			));
			let mut tampered = a;
			tampered.client_signature[0] ^= 1;
			assert_noop!(Pot::answer_dispute(signed(1), 0, tampered), Error::<Test>::BadAnswer);
			let info = Pot::answer_dispute(signed(1), 0, a).expect("the countersignature answers");
			assert_eq!(info.pays_fee, Pays::No);
			assert!(events().contains(&Event::DisputeAnswered {
				period: 0,
				client: key,
				digest: digest_of(&a)
			}));
			run_to(System::block_number() + 10);
			assert_noop!(
				Pot::resolve_dispute(signed(30), 0, key, digest_of(&a)),
				Error::<Test>::NoSuchDispute
			);
			assert_eq!(pallet_file_registry::Credit::<Test>::get(p.account), 0);
			assert_eq!(ClientCharges::<Test>::get(0, key).unwrap().reversed, 0);
			assert_eq!(deposit(1), 1_000, "nobody is slashed");
		});
	}

	#[test]
	fn a_tree_that_contradicts_its_entry_is_refuted_at_once() {
		build_and_execute(|| {
			let p = parties();
			let key = p.client.public().0;
			let (a, b) = (receipt(&p, 0, 1, 300), receipt(&p, 0, 2, 200));
			// The entry lists 700 bytes; the receipts add up to 500, `b` listed twice.
			let tree = ReceiptTree::from_leaves_unchecked(vec![
				(300, digest_of(&a)),
				(200, digest_of(&b)),
				(200, digest_of(&b)),
			])
			.unwrap();
			report_client(&p, &tree, 800);
			let proof_of = |i| tree.proof(i).unwrap();
			let (leaf, proof) = proof_of(0);
			assert_ok!(Pot::dispute(
				signed(p.account),
				0,
				key,
				DisputeClaim::WrongTotal { leaf, proof }
			));
			assert_eq!(pallet_file_registry::Credit::<Test>::get(p.account), 100);
			let ((first, first_proof), (second, second_proof)) = (proof_of(1), proof_of(2));
			assert_ok!(Pot::dispute(
				signed(p.account),
				0,
				key,
				DisputeClaim::OutOfOrder { first, first_proof, second, second_proof }
			));
			assert_eq!(pallet_file_registry::Credit::<Test>::get(p.account), 300);
			assert_eq!(deposit(1), 1_000 - 2 * DISPUTE_SLASH);
			// Leaves in order do not make the claim.
			let ((first, first_proof), (second, second_proof)) = (proof_of(0), proof_of(1));
			let in_order = first.digest < second.digest;
			if in_order {
				assert_noop!(
					Pot::dispute(
						signed(p.account),
						0,
						key,
						DisputeClaim::OutOfOrder { first, first_proof, second, second_proof }
					),
					Error::<Test>::ClaimDoesNotHold
				);
			}
		});
	}

	#[test]
	fn disputes_close_when_rewards_mature_and_entries_are_pruned() {
		build_and_execute(|| {
			let p = parties();
			let key = p.client.public().0;
			let a = receipt(&p, 0, 1, 300);
			let tree = ReceiptTree::of_receipts([&a]).unwrap();
			report_client(&p, &tree, 300);
			let (leaf, proof) = tree.proof(0).unwrap();
			// Maturity 1: period 0's rewards are claimable from period 2.
			run_to(2 * L);
			assert_noop!(
				Pot::dispute(signed(p.account), 0, key, DisputeClaim::WrongTotal { leaf, proof }),
				Error::<Test>::DisputeWindowOver
			);
			assert!(ClientCharges::<Test>::contains_key(0, key));
			run_to(3 * L);
			Pot::on_idle(3 * L, Weight::MAX);
			assert!(!ClientCharges::<Test>::contains_key(0, key), "pruned in idle time");
			assert_eq!(ChargesPrunedBelow::<Test>::get(), 1);
		});
	}

	#[test]
	fn a_cancelled_period_pays_nobody_and_its_issuance_is_accounted_for() {
		build_and_execute(|| {
			reserve(20, 1_000);
			settle_period(0, &[(10, 600), (11, 300)], &[(20, 900)]);
			let info = Periods::<Test>::get(0).unwrap();
			let paid = info.resource_paid + info.meta_paid + info.validator_paid;
			assert!(paid > 0);
			let (issuance, burned) = (Balances::total_issuance(), Burned::<Test>::get());
			assert_noop!(Pot::cancel_period(signed(1), 0), sp_runtime::DispatchError::BadOrigin);
			assert_ok!(Pot::cancel_period(RuntimeOrigin::root(), 0));
			assert!(events().contains(&Event::PeriodCancelled { period: 0, amount: paid }));
			for who in [10, 11, 1, 2, 3, AUTHOR] {
				assert_eq!(pending(who), 0, "{who} keeps nothing");
			}
			assert_eq!(Periods::<Test>::get(0).unwrap().cancelled, paid);
			assert_eq!(Balances::total_issuance(), issuance - paid);
			assert_eq!(Burned::<Test>::get(), burned + paid);
			assert_noop!(
				Pot::cancel_period(RuntimeOrigin::root(), 0),
				Error::<Test>::NothingToCancel
			);
			// Later periods are untouched; once matured, a period can no longer be cancelled.
			reserve(20, 1_000);
			settle_period(1, &[(10, 600)], &[(20, 600)]);
			run_to(3 * L);
			assert!(matured(10) > 0);
			assert_noop!(
				Pot::cancel_period(RuntimeOrigin::root(), 1),
				Error::<Test>::DisputeWindowOver
			);
		});
	}
}

#[test]
fn v1_migration_translates_params_and_period_summaries() {
	use crate::migrations::v1::{v0, MigrateToV1};
	use codec::Encode;
	use frame_support::{
		storage::unhashed,
		traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion},
	};
	new_test_ext().execute_with(|| {
		// A chain that ran v0 code: v0 layouts, on-chain version 0.
		let p = params();
		let old = v0::OldParams {
			period_length: p.period_length,
			commit_window: p.commit_window,
			reveal_window: p.reveal_window,
			stream_window: p.stream_window,
			top_nodes: p.top_nodes,
			chunk_size: p.chunk_size,
			maturity: p.maturity,
			meta_share: p.meta_share,
			validator_share: p.validator_share,
			wash_cap: p.wash_cap,
			tiers: p.tiers.clone(),
		};
		unhashed::put_raw(&Params::<Test>::hashed_key(), &old.encode());
		let info = v0::OldPeriodInfo::<u64, u64, MaxMetaNodes> {
			issuance: 10_000,
			carried_in: 0,
			status: PeriodStatus::Settled,
			digest: Some([1; 32]),
			reporters: vec![1, 2].try_into().unwrap(),
			resource_paid: 7_000,
			meta_paid: 1_000,
			validator_paid: 1_000,
			carried: 1_000,
			served_bytes: 5,
			charged_bytes: 4,
			rewarded_bytes: 3,
		};
		unhashed::put_raw(&Periods::<Test>::hashed_key_for(0), &info.encode());
		StorageVersion::new(0).put::<Pot>();
		assert!(Params::<Test>::try_get().is_err(), "v0 params do not decode as v1");

		MigrateToV1::<Test, frame_support::traits::ConstU64<77>>::on_runtime_upgrade();

		assert_eq!(Pot::on_chain_storage_version(), 1);
		let new = Params::<Test>::get();
		assert_eq!((new.period_length, new.tiers.clone()), (L, p.tiers));
		assert_eq!((new.dispute_window, new.dispute_slash), (p.reveal_window, 77));
		let period = Periods::<Test>::get(0).expect("translated");
		assert_eq!((period.issuance, period.carried, period.resource_paid), (10_000, 1_000, 7_000));
		assert_eq!(
			(period.resource_carried_in, period.resource_carried, period.cancelled),
			(0, 0, 0)
		);
		assert_eq!(period.reporters.to_vec(), vec![1, 2]);
		// A second run changes nothing (the version is 1 now).
		Params::<Test>::mutate(|p| p.dispute_slash = 5);
		MigrateToV1::<Test, frame_support::traits::ConstU64<77>>::on_runtime_upgrade();
		assert_eq!(Params::<Test>::get().dispute_slash, 5);
	});
}

#[test]
fn a_re_registered_key_does_not_inherit_carried_traffic() {
	build_and_execute(|| {
		reserve(20, 1_000);
		// Top 3: node 13 (6 bytes) carries its traffic.
		settle_period(0, &[(10, 9), (11, 8), (12, 7), (13, 6)], &[(20, 30)]);
		assert_eq!(carried(&node(13)), 6);
		// Its key left and was registered again in period 1 (by whichever account).
		pallet_node_registry::Nodes::<Test>::mutate(13, |n| {
			n.as_mut().unwrap().registered_at = L + 5
		});
		reserve(20, 1_000);
		// Period 1: only node 13 (listed because it carries) with 1 new byte.
		settle_period(1, &[(13, 1)], &[(20, 1)]);
		assert_eq!(pending(13), 0, "nothing from before the registration is paid");
		assert_eq!(carried(&node(13)), 0, "nor carried forward");
		assert_eq!(RolledCount::<Test>::get(), 0);
		// From now on it earns like any node.
		reserve(20, 1_000);
		settle_period(2, &[(13, 5)], &[(20, 5)]);
		assert!(pending(13) > 0);
	});
}

#[test]
fn a_new_period_length_applies_from_the_next_boundary() {
	build_and_execute(|| {
		let expected = |b: u64| -> u32 {
			match b {
				0..30 => (b / 10) as u32,             // L = 10
				30..70 => 3 + ((b - 30) / 20) as u32, // lengthened to 20 from period 3
				_ => 5 + ((b - 70) / 8) as u32,       // shortened to 8 from period 5
			}
		};
		let mut opened = Vec::new();
		for b in 1..=100u64 {
			run_to(b);
			if b == 25 {
				let mut p = params();
				p.period_length = 20;
				assert_ok!(Pot::set_params(RuntimeOrigin::root(), p));
				assert!(events().contains(&Event::PeriodLengthScheduled {
					from_period: 3,
					start: 30,
					length: 20
				}));
				assert_eq!(Pot::current_period(), 2, "period 2 keeps its length");
			}
			if b == 55 {
				let mut p = params();
				p.period_length = 8;
				assert_ok!(Pot::set_params(RuntimeOrigin::root(), p));
			}
			assert_eq!(Pot::current_period(), expected(b), "block {b}");
			for e in events() {
				if let Event::ReportOpened { period, .. } = e {
					if !opened.contains(&period) {
						opened.push(period);
					}
				}
			}
		}
		// Every period up to the last closed one opened exactly once, in order.
		assert_eq!(opened, (0..expected(100)).collect::<Vec<_>>());
		let opens = System::events()
			.iter()
			.filter(|r| matches!(r.event, RuntimeEvent::Pot(Event::ReportOpened { .. })))
			.count();
		assert_eq!(opens, opened.len(), "no period opened twice");
		// Nothing was issued twice: every tier amount is carried or in the open report.
		let carried = Carry::<Test>::get() + ResourceCarry::<Test>::get();
		let in_open =
			Periods::<Test>::get(NextPeriod::<Test>::get()).map(|i| i.issuance).unwrap_or(0);
		let tiers = ISSUANCE * opened.len() as u64;
		assert_eq!(carried + in_open, tiers);
	});
}

#[test]
fn an_open_report_keeps_its_windows_and_chunk_size() {
	build_and_execute(|| {
		close(0);
		let r = report(0, &[(10, 9), (11, 8), (12, 7)], &[]);
		assert_eq!(r.chunks.len(), 2, "3 entries in chunks of 2");
		// Governance changes the chunk size and the windows while the report is open.
		let mut p = params();
		p.chunk_size = 1;
		p.reveal_window = 1;
		p.stream_window = 1;
		assert_ok!(Pot::set_params(RuntimeOrigin::root(), p));
		vote(0, &METAS.map(|m| (m, r.digest)));
		// The report's chunks of 2 are still taken, and the old windows still apply.
		stream(0, 1, &r);
		assert_eq!(Periods::<Test>::get(0).unwrap().status, PeriodStatus::Settled);
		assert!(OpenReportParams::<Test>::get().is_none());
	});
}

#[test]
fn a_late_report_still_waits_the_full_maturity() {
	build_and_execute(|| {
		reserve(20, 1_000);
		// The chain skipped ahead: period 0's report opens only in period 5.
		System::set_block_number(5 * L);
		Pot::on_initialize(5 * L);
		let r = report(0, &[(10, 900)], &[(20, 900)]);
		vote(0, &METAS.map(|m| (m, r.digest)));
		stream(0, 1, &r);
		let info = Periods::<Test>::get(0).unwrap();
		assert_eq!(info.status, PeriodStatus::Settled);
		assert_eq!(info.matures, 6, "maturity 1 counted from the settlement, not period 0");
		assert!(pending(10) > 0 && matured(10) == 0);
		run_to(6 * L);
		assert!(matured(10) > 0);
	});
}

#[test]
fn entries_carrying_nothing_are_pruned_by_anyone() {
	build_and_execute(|| {
		reserve(20, 1_000);
		settle_period(0, &[(10, 9), (11, 8), (12, 7), (13, 6)], &[(20, 30)]);
		// Node 10 was paid (carries 0); node 13 carries 6.
		assert_noop!(Pot::prune_rolled(signed(30), node(13)), Error::<Test>::StillCarried);
		assert_noop!(Pot::prune_rolled(signed(30), node(14)), Error::<Test>::NoRolledEntry);
		let info = Pot::prune_rolled(signed(30), node(10)).expect("carries nothing");
		assert_eq!(info.pays_fee, Pays::No);
		assert!(Rolled::<Test>::get(node(10)).is_none());
		assert_eq!(carried(&node(10)), 0);
		// The next report is unaffected: only node 13 must be listed.
		reserve(20, 1_000);
		settle_period(1, &[(10, 5)], &[(20, 5)]);
	});
}

#[test]
fn a_chunk_that_fails_the_period_keeps_its_charges_in_the_books() {
	build_and_execute(|| {
		reserve(20, 1_000);
		reserve(21, 1_000);
		close(0);
		// One chunk: client 21 (charged), then client 20, out of order: the period fails.
		let c = |a: u64| {
			ReportEntry::Client(ClientTraffic {
				client: client_key(a),
				bytes: 100,
				receipts_root: [0; 32],
			})
		};
		let r = chunked(&[c(21), c(20)], 0);
		vote(0, &METAS.map(|m| (m, r.digest)));
		stream(0, 1, &r);
		let info = Periods::<Test>::get(0).unwrap();
		assert_eq!(
			info.status,
			PeriodStatus::Failed(FailReason::Invalid(InvalidReport::ClientOutOfOrder))
		);
		assert_eq!(info.charged_bytes, 100, "client 21 was charged and the books say so");
		assert_eq!(info.charged_value, 100 * DEFAULT_PRICE.0);
		assert_eq!(ChargedUnrewarded::<Test>::get(), 100);
	});
}

#[test]
fn a_donation_to_the_pot_keeps_the_books_balanced() {
	build_and_execute(|| {
		use frame_support::traits::{fungible::Mutate, tokens::Preservation};
		Balances::transfer(&30, &Pot::pot_account(), 5_000, Preservation::Preserve).unwrap();
		reserve(20, 1_000);
		settle_period(0, &[(10, 900)], &[(20, 900)]);
		run_to(2 * L);
		assert_ok!(Pot::claim_rewards(signed(10)));
		// `build_and_execute` checks every invariant at the end.
	});
}

#[test]
fn old_period_summaries_are_pruned_in_idle_time_once_nothing_refers_to_them() {
	build_and_execute(|| {
		let idle = || {
			let used = Pot::on_idle(System::block_number(), Weight::MAX);
			Pot::do_try_state().expect("the books still add up");
			used
		};
		reserve(20, 10_000);
		// Period 0: nodes 10–12 are paid; node 13 carries its traffic (an entry of period 0).
		settle_period(0, &[(10, 9), (11, 8), (12, 7), (13, 6)], &[(20, 30)]);
		let paid0 = {
			let i = Periods::<Test>::get(0).unwrap();
			i.resource_paid + i.meta_paid + i.validator_paid
		};
		// Periods 1 and 2 fail (no report): node 13's entry still refers to period 0.
		run_to(4 * L);
		assert!(matches!(Periods::<Test>::get(1).unwrap().status, PeriodStatus::Failed(_)));
		idle();
		assert!(ChargesPrunedBelow::<Test>::get() >= 1, "period 0's disputes are over");
		assert!(Periods::<Test>::contains_key(0), "still referred to by node 13's entry");
		assert_eq!(PeriodsPrunedBelow::<Test>::get(), 0);
		// The paid nodes' empty entries went on the way.
		for n in [10, 11, 12] {
			assert!(Rolled::<Test>::get(node(n)).is_none(), "node {n}");
			assert!(events().contains(&Event::RolledPruned { node: node(n) }));
		}
		assert_eq!(Rolled::<Test>::get(node(13)).unwrap().period, 0);
		// Nothing changes until another period finishes (no pass every idle block).
		let db = <<Test as frame_system::Config>::DbWeight as Get<RuntimeDbWeight>>::get();
		assert_eq!(Pot::prune_periods(Weight::MAX), db.reads(4));

		// Period 3's report lists node 13 (its carried traffic): its entry moves on, and once
		// period 3's disputes are over the summaries before it go, their books summed.
		let next = NextPeriod::<Test>::get();
		reserve(20, 1_000);
		settle_period(next, &[(10, 5)], &[(20, 5)]);
		assert!(Rolled::<Test>::get(node(13)).is_none_or(|r| r.period == next));
		run_to((next as u64 + 4) * L);
		idle();
		let below = PeriodsPrunedBelow::<Test>::get();
		assert!(below > next, "pruned through period {next}: {below}");
		let now_next = NextPeriod::<Test>::get();
		assert_eq!(below, now_next - 2, "the latest KeptPeriods (2) stay");
		assert!(Periods::<Test>::contains_key(below));
		for p in 0..below {
			assert!(!Periods::<Test>::contains_key(p), "period {p}");
		}
		assert!(events().contains(&Event::PeriodsPruned { below }));
		let totals = PrunedTotals::<Test>::get();
		assert!(totals.paid >= paid0 && totals.charged_bytes >= 30);
		// Rewards, claims and later periods are unaffected.
		assert_ok!(Pot::claim_rewards(signed(10)));
		let later = NextPeriod::<Test>::get();
		reserve(20, 1_000);
		settle_period(later, &[(11, 5)], &[(20, 5)]);
	});
}

#[test]
fn pruning_periods_takes_only_the_idle_weight_it_is_given_and_resumes() {
	build_and_execute(|| {
		reserve(20, 10_000);
		settle_period(0, &[(10, 9), (11, 8), (12, 7), (13, 6)], &[(20, 30)]);
		let next = NextPeriod::<Test>::get();
		reserve(20, 1_000);
		settle_period(next, &[(10, 5)], &[(20, 5)]);
		run_to((next as u64 + 4) * L);
		// Client entries first, in full; then one carried-traffic entry per block.
		Pot::prune_charges(Weight::MAX);
		let db = <<Test as frame_system::Config>::DbWeight as Get<RuntimeDbWeight>>::get();
		// Room for the fixed reads and writes and one carried-traffic entry.
		let scan = db.reads_writes(4, 1) + db.reads_writes(2, 1);
		let before = Rolled::<Test>::iter().count() as u32;
		assert!(before >= 2, "{before}");
		let mut blocks = 0;
		while !RolledScan::<Test>::get().is_some_and(|p| p.complete) {
			let used = Pot::prune_periods(scan);
			assert!(used.all_lte(scan), "{used:?} within {scan:?}");
			Pot::do_try_state().expect("consistent between steps");
			blocks += 1;
			assert!(blocks <= before + 1, "one entry per block");
		}
		assert_eq!(blocks, before + 1, "one entry per block, then the end");
		assert_eq!(PeriodsPrunedBelow::<Test>::get(), 0, "no room to prune yet");
		// Room for one summary per block.
		let prune = db.reads_writes(4, 1) + db.reads_writes(1, 2) + db.reads_writes(1, 1);
		for b in 1..=next {
			let used = Pot::prune_periods(prune);
			assert!(used.all_lte(prune), "{used:?} within {prune:?}");
			assert_eq!(PeriodsPrunedBelow::<Test>::get(), b);
			Pot::do_try_state().expect("consistent between steps");
		}
		// Too little weight does nothing at all.
		assert_eq!(Pot::prune_periods(Weight::from_parts(1, 0)), Weight::zero());
	});
}
