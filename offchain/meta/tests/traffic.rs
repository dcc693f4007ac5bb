//! Proof-of-Traffic end to end with real processes: a `dev-network` chain (30-block ledger
//! periods), three `stratos-meta`, four `stratos-rn` and two `sds` clients.
//!
//! The test chain spec lets only the top 2 of the 4 resource nodes share a period's issuance
//! and makes the issuance small enough that the wash-traffic cap never binds. Two clients
//! download in different volumes right after a period starts; the meta leader is killed
//! while the period is open. The three meta nodes' audit counts every receipt (the chain's
//! served and charged bytes equal what the clients' own receipt logs hold, so nothing was
//! lost with the leader), the report is accepted, and every resource node's reward equals
//! `⌊B · tᵢ / T⌋`, computed here from the clients' receipts with the test's own ranking and
//! rollover model; a node outside the top rolls its traffic over and is paid a period later.
//! `sds receipts` and `sds dispute` find each client's entry honest, and a dispute of an
//! honest charge is answered with the client's countersignature and changes nothing. Then a resource node holding the files is killed: the meta nodes copy its files to the
//! remaining node and vote the new holders on chain (3 again, without the dead one), and
//! downloads still verify.

mod procs;

use anyhow::{ensure, Result};
use procs::*;
use std::{
	collections::{BTreeMap, BTreeSet},
	path::Path,
	time::{Duration, Instant},
};
use stratos_chain_client::{ChainClient, DisputeClaim, DisputeOutcome, PeriodStatus};
use stratos_primitives::receipts::{receipt_digest, ReceiptTree};
use stratos_primitives::NodeId;
use stratos_tests::test_dir;
use subxt::utils::AccountId32;

/// The second client.
const CLIENT_B: &str = "//Bob//stash";
/// Resource nodes sharing a period's issuance (of four).
const TOP: usize = 2;

fn account(uri: &str) -> Result<[u8; 32]> {
	Ok(subxt_signer::sr25519::Keypair::from_uri(&uri.parse()?)?.public_key().0)
}

/// Bytes per (period, node) and per (period, client) in the clients' receipt logs.
type Served = BTreeMap<u32, BTreeMap<NodeId, u64>>;

fn read_receipts(homes: &[&Path]) -> Result<(Served, BTreeMap<u32, u64>)> {
	let mut served = Served::new();
	let mut charged = BTreeMap::new();
	for home in homes {
		let log = sds_client::ReceiptLog::open(home.join("receipts"))?;
		for p in log.periods()? {
			for r in log.load(p)? {
				*served.entry(p).or_default().entry(r.receipt.node).or_default() +=
					r.receipt.length;
				*charged.entry(p).or_default() += r.receipt.length;
			}
		}
	}
	Ok((served, charged))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_network_traffic_is_audited_reported_and_paid_by_the_formula() -> Result<()> {
	let dir = test_dir("traffic")?;
	let d = dir.path();
	// A test chain spec: two of four nodes share the issuance; a tiny issuance (the wash cap
	// never binds, so the whitepaper's formula holds exactly); rewards stay listed (long
	// maturity) for the test to read.
	let spec = Network::patched_spec(d, |pot| {
		pot["topNodes"] = TOP.into();
		pot["tiers"] = serde_json::json!([[18_000_000_000_000_000_000u64, 1_000_000u64]]);
		pot["maturity"] = 64.into();
	})?;
	let mut net = Network::start_on(d, &spec).await?;
	let (a, b) = (net.sds(USER)?, net.sds(CLIENT_B)?);
	let (home_a, home_b, work) = (d.join("a"), d.join("b"), d.join("work"));
	net.wait_ready(&a, &home_a, &work);
	let chain = ChainClient::connect(&net.url).await?;

	// A uploads 12 MiB and 5 MiB in 1 MiB slices; both clients buy and reserve credit.
	let (one, two) = (work.join("one.bin"), work.join("two.bin"));
	random_file(&one, 12 << 20, 11);
	random_file(&two, 5 << 20, 12);
	a.ok(&home_a, &work, &["mkdir", "/t"]);
	let mut files = Vec::new();
	for (f, path) in [(&one, "/t/one"), (&two, "/t/two")] {
		let out = a.ok(&home_a, &work, &["--slice-size", "1MiB", "put", f.to_str().unwrap(), path]);
		files.push((file_id_in(&out), path, f.clone()));
	}
	for (s, home) in [(&a, &home_a), (&b, &home_b)] {
		s.ok(home, &work, &["credit", "buy", "100"]);
		s.ok(home, &work, &["credit", "reserve", "1GiB"]);
	}

	// Right after a period starts: A fetches /t/one twice, B fetches /t/one and /t/two.
	let (start, _) = chain.pot_periods().await?;
	let deadline = Instant::now() + Duration::from_secs(90);
	while chain.pot_periods().await?.0 == start {
		ensure!(Instant::now() < deadline, "period {start} never ended");
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	let owner = hex::encode(account(USER)?);
	for (i, (s, home, path)) in [
		(&a, &home_a, "/t/one"),
		(&a, &home_a, "/t/one"),
		(&b, &home_b, "/t/one"),
		(&b, &home_b, "/t/two"),
	]
	.into_iter()
	.enumerate()
	{
		let out = d.join(format!("got{i}"));
		s.ok(home, &out, &["get", "--owner", &owner, path]);
	}
	// The meta leader dies while the period is open.
	let leader = net.leader(&a, &home_a, &work);
	drop(net.metas[leader].take());

	let (served, charged) = read_receipts(&[&home_a, &home_b])?;
	let total: u64 = charged.values().sum();
	assert_eq!(total, 2 * (12 << 20) + (12 << 20) + (5 << 20), "every byte has a receipt");
	let last = *served.keys().last().expect("receipts");
	let first = *served.keys().next().expect("receipts");

	// Wait until the period after the last traffic settled (the rolled-over node is paid).
	let deadline = Instant::now() + Duration::from_secs(360);
	loop {
		if let Some(p) = chain.period(last + 1).await? {
			ensure!(
				!matches!(p.status, PeriodStatus::Failed(_)),
				"period {} failed: {:?}",
				last + 1,
				p.status
			);
			if p.status == PeriodStatus::Settled {
				break;
			}
		}
		ensure!(Instant::now() < deadline, "period {} did not settle", last + 1);
		tokio::time::sleep(Duration::from_secs(2)).await;
	}

	// The test's own model: rank by accumulated traffic (descending, then node id), pay the
	// top `TOP` pro rata, roll the rest over.
	let (_, head) = chain.finalized_head().await?;
	let accounts: BTreeMap<NodeId, AccountId32> = chain
		.nodes_at(head)
		.await?
		.into_iter()
		.filter(|(_, n)| n.kind == stratos_chain_client::NodeKind::Resource)
		.map(|(who, n)| (n.node_id, who))
		.collect();
	assert_eq!(accounts.len(), 4);
	let mut rolled: BTreeMap<NodeId, u128> = BTreeMap::new();
	let mut paid_after_rolling = BTreeSet::new();
	for p in first..=last + 1 {
		let books = chain.period(p).await?.expect("period opened");
		assert_eq!(books.status, PeriodStatus::Settled, "period {p}");
		let here = served.get(&p).cloned().unwrap_or_default();
		// No receipt lost: the chain's books hold exactly what the clients kept.
		assert_eq!(books.bytes.0, here.values().map(|b| *b as u128).sum::<u128>(), "served in {p}");
		assert_eq!(books.bytes.1, charged.get(&p).copied().unwrap_or(0) as u128, "charged in {p}");
		let mut acc: Vec<(NodeId, u128)> = accounts
			.keys()
			.map(|n| {
				(
					*n,
					rolled.get(n).copied().unwrap_or(0) + here.get(n).copied().unwrap_or(0) as u128,
				)
			})
			.filter(|(_, t)| *t > 0)
			.collect();
		acc.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
		let top: Vec<(NodeId, u128)> = acc.iter().take(TOP).copied().collect();
		let t_sum: u128 = top.iter().map(|(_, t)| t).sum();
		// B: the period's resource-node issuance, as the chain's books split it.
		let b_res = books.paid.0 + books.carried.1;
		let payees: BTreeMap<AccountId32, u128> = chain.payees(p).await?.into_iter().collect();
		for (node, t) in &top {
			let expected = b_res * t / t_sum;
			let who = &accounts[node];
			assert_eq!(payees.get(who).copied().unwrap_or(0), expected, "node {node} in {p}");
			if rolled.contains_key(node) {
				paid_after_rolling.insert(*node);
			}
		}
		assert!(
			top.is_empty() || books.carried.1 < top.len() as u128,
			"the cap held back {} of B = {b_res} in period {p}: only rounding may remain",
			books.carried.1
		);
		rolled = acc.iter().skip(TOP).copied().collect();
	}
	assert!(!paid_after_rolling.is_empty(), "a node rolled over and was paid a period later");

	// Each client's entry on chain matches the receipts it kept (`sds receipts` fails on a
	// mismatch).
	for (s, home) in [(&a, &home_a), (&b, &home_b)] {
		let out = s.ok(home, &work, &["receipts"]);
		assert!(out.contains("the report matches"), "{out}");
	}

	// `sds dispute` finds nothing to dispute in an honest report: the meta nodes' list of a
	// client's receipts rebuilds its entry's root on chain and all carry its countersignature.
	for (s, home) in [(&a, &home_a), (&b, &home_b)] {
		for p in sds_client::ReceiptLog::open(home.join("receipts"))?.periods()? {
			let out = s.ok(home, &work, &["dispute", &p.to_string()]);
			assert!(out.contains("nothing to dispute"), "{out}");
		}
	}
	// An honest charge survives a dispute: client A claims a receipt it did countersign; the
	// countersigned receipt answers it and the charge stands.
	let kp = subxt_signer::sr25519::Keypair::from_uri(&USER.parse()?)?;
	let log = sds_client::ReceiptLog::open(home_a.join("receipts"))?;
	let p = *log.periods()?.last().expect("A downloaded");
	let mine = log.load(p)?;
	let tree = ReceiptTree::of_receipts(&mine).map_err(|e| anyhow::anyhow!("{e:?}"))?;
	let (leaf, proof) = tree.proof(0).expect("a receipt");
	let before = chain.client_charge(p, kp.public_key().0).await?.expect("A's entry");
	assert_eq!(before.receipts_root, tree.root());
	let claim = DisputeClaim::NotCountersigned { leaf, proof };
	let outcome = chain.dispute(&kp, p, &claim).await?;
	ensure!(matches!(outcome, DisputeOutcome::Open { .. }), "{outcome:?}");
	let r = mine
		.iter()
		.find(|r| receipt_digest(&r.receipt, &r.node_signature) == leaf.digest)
		.expect("the disputed receipt");
	chain.answer_dispute(&kp, p, r).await?;
	let after = chain.client_charge(p, kp.public_key().0).await?.expect("A's entry");
	assert_eq!((after.charged, after.reversed), (before.charged, before.reversed));

	// A resource node holding /t/one dies: without anyone acting, every file it held is
	// copied to the node that did not hold it, the meta nodes vote the new holders, and
	// downloads still verify.
	let owner_acct = AccountId32(account(USER)?);
	let holders_of = |info: Option<stratos_chain_client::FileInfo>| -> Vec<AccountId32> {
		info.map(|f| f.holders).unwrap_or_default()
	};
	let before = holders_of(chain.file(&owner_acct, &files[0].0).await?);
	assert_eq!(before.len(), 3);
	let rn_ids: Vec<NodeId> = RN_KEYS
		.iter()
		.map(|suri| Ok(sds_net::node_id(&sds_net::keys::key_from_suri(suri)?)))
		.collect::<Result<_>>()?;
	let victim = (0..rn_ids.len())
		.find(|i| before.contains(&accounts[&rn_ids[*i]]))
		.expect("a resource node holds the file");
	let dead = accounts[&rn_ids[victim]];
	drop(net.rns[victim].take());
	let killed = Instant::now();
	let deadline = killed + Duration::from_secs(240);
	loop {
		let mut healed = true;
		for (file_id, _, _) in &files {
			let h = holders_of(chain.file(&owner_acct, file_id).await?);
			healed &= h.len() == 3 && !h.contains(&dead);
		}
		if healed {
			break;
		}
		ensure!(Instant::now() < deadline, "the dead node's files were not repaired in time");
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	println!("repaired: every file back to 3 holders {:.0?} after the kill", killed.elapsed());
	// Tickets need a reservation locked beyond their expiry: B's first one (dev chain: 5
	// minutes) may have run out by now, so B reserves again, as a user would.
	b.ok(&home_b, &work, &["credit", "buy", "10"]);
	b.ok(&home_b, &work, &["credit", "reserve", "64MiB"]);
	for (i, (_, path, original)) in files.iter().enumerate() {
		let out = d.join(format!("after-repair{i}"));
		b.ok(&home_b, &out, &["get", "--owner", &owner, path]);
		let name = Path::new(path).file_name().unwrap();
		assert_eq!(std::fs::read(out.join(name))?, std::fs::read(original)?, "{path}");
	}
	drop(net);
	Ok(())
}
