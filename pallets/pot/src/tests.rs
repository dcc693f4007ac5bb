use crate::{mock::*, *};
use frame_support::{assert_noop, assert_ok};
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
		clients.iter().map(|(c, b)| ClientTraffic { client: client_key(*c), bytes: *b }),
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
			// An empty report settled (or failed) when it reached the quorum.
			assert_noop!(Pot::reveal(signed(*m), period, *d, SALT), Error::<Test>::PeriodFinished);
			continue;
		}
		let info = Pot::reveal(signed(*m), period, *d, SALT).expect("the reveal counts");
		assert_eq!(info.pays_fee, Pays::No, "a reveal that counts is free");
	}
}

fn stream(period: u32, who: u64, r: &ChunkedReport) {
	if r.chunks.is_empty() {
		let status = Periods::<Test>::get(period).unwrap().status;
		assert_ne!(status, PeriodStatus::Reporting, "an empty report settles on acceptance");
	}
	for (chunk, next) in &r.chunks {
		let info = Pot::submit_chunk(signed(who), period, chunk.clone().try_into().unwrap(), *next)
			.expect("the chunk is the accepted report's");
		assert_eq!(info.pays_fee, Pays::No, "streaming the accepted report is free");
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
		assert_eq!(paid + info.carried, ISSUANCE);
		assert_eq!(Minted::<Test>::get(), paid);
		assert_eq!(Carry::<Test>::get(), info.carried);
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
		assert_eq!(Carry::<Test>::get(), info.issuance, "its issuance carries over");
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
		let c = |a: u64| ReportEntry::Client(ClientTraffic { client: client_key(a), bytes: 1 });
		let r = chunked(&[c(21), c(20)], 2);
		vote(2, &METAS.map(|m| (m, r.digest)));
		stream(2, 1, &r);
		assert_eq!(
			Periods::<Test>::get(2).unwrap().status,
			PeriodStatus::Failed(FailReason::Invalid(InvalidReport::ClientOutOfOrder))
		);
		assert_eq!(Minted::<Test>::get(), 0);
		assert_eq!(Carry::<Test>::get(), 3 * ISSUANCE);
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
fn a_period_without_traffic_settles_on_acceptance() {
	build_and_execute(|| {
		settle_period(0, &[], &[]);
		let info = Periods::<Test>::get(0).unwrap();
		// Settled at the second reveal: the two reporters of the quorum share the meta part.
		assert_eq!(info.reporters.to_vec(), vec![1, 2]);
		assert_eq!((info.resource_paid, info.meta_paid, info.validator_paid), (0, 1_000, 1_000));
		assert_eq!(info.carried, 8_000);
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
		// The real curve with 1,000,000 bytes for sale: 3,550 / 1,000,001 per byte, so the
		// cap (half of it) rounds down to nothing.
		set_price(None);
		pallet_file_registry::CreditLimit::<Test>::put(1_000_000);
		pallet_file_registry::CreditSupply::<Test>::mutate(|s| *s += 999_999);
		assert_eq!(Pot::cap_per_byte(params().wash_cap), 0);
		reserve(20, 10_000);
		settle_period(0, &[(10, 900)], &[(20, 900)]);
		assert_eq!(pending(10), 0, "the cap binds: nothing for the node");
		assert_eq!(Periods::<Test>::get(0).unwrap().resource_paid, 0);
		assert_eq!(Carry::<Test>::get(), 8_001, "the resource part (and a rounding unit) carry");

		// Credit at 7 per byte: a byte earns at most 3. Client 21 reserved nothing, so its
		// traffic was not paid for and earns nothing.
		set_price(Some((7, 1)));
		assert_eq!(Pot::cap_per_byte(params().wash_cap), 3);
		settle_period(1, &[(11, 900)], &[(21, 900)]);
		assert_eq!(pending(11), 0, "unpaid traffic earns nothing");
		assert_eq!(Periods::<Test>::get(1).unwrap().charged_bytes, 0);
		// 100 bytes paid: only 100 bytes are rewarded, at 3 each.
		reserve(22, 100);
		settle_period(2, &[(12, 900)], &[(22, 900)]);
		let info = Periods::<Test>::get(2).unwrap();
		assert_eq!((info.charged_bytes, info.rewarded_bytes), (100, 100));
		assert_eq!(pending(12), 300);
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
		minted: u128,
		pool: u128,
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
				// k = 50 %: the cap per byte is half the price, rounded down.
				let cap = price / 2;
				let mut books = Books { rolled: BTreeMap::new(), carry: 0, minted: 0, pool: 0, reserved: 0 };
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
					let issuance = ISSUANCE as u128 + books.carry;
					let meta = share(10, issuance);
					let val = share(10, issuance);
					let res = issuance - meta - val;
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
					books.pool += charged;
					let rewarded = total.min(books.pool);
					let budget = BigInt::from(res).min(BigInt::from(cap) * rewarded);
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
					let each = meta / 3;
					paid += 3 * each + val;
					books.pool -= rewarded;
					books.minted += paid;
					books.carry = issuance - paid;
					books.rolled = acc.iter().skip(3).map(|(n, t)| (*n, *t)).collect();
					for (n, _) in &nodes {
						let want = books.rolled.get(n).copied().unwrap_or(0);
						prop_assert_eq!(carried(&node(*n)), want);
					}
					prop_assert_eq!(Minted::<Test>::get() as u128, books.minted);
					prop_assert_eq!(Carry::<Test>::get() as u128, books.carry);
					prop_assert_eq!(ChargedUnrewarded::<Test>::get(), books.pool);
				}
				Pot::do_try_state().expect("invariants hold");
				Ok(())
			})?;
		}
	}
}
