//! Checking a client's entry in a period's traffic report (ADR 0010, "Checking the meta
//! quorum"): the meta nodes serve the receipts they counted for the client; they must
//! rebuild the root the entry carries on chain, and every one must carry the client's own
//! countersignature. What does not hold becomes a dispute claim (`sds dispute`).

use crate::Error;
use std::collections::HashMap;
use stratos_chain_client::DisputeClaim;
use stratos_primitives::{
	receipt::SignedReceipt,
	receipts::{receipt_digest, ReceiptTree},
	Hash,
};

/// A client's entry in a period's report, as the chain keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
	/// The root of the client's receipt tree.
	pub root: Hash,
	/// Bytes the entry lists.
	pub bytes: u64,
}

/// What checking an entry found.
#[derive(Debug)]
pub struct EntryCheck {
	/// The digests of the entry's receipts, in tree order.
	pub digests: Vec<Hash>,
	/// Their bytes.
	pub bytes: u64,
	/// What to dispute, each with the receipt it is about when there is one.
	pub claims: Vec<(DisputeClaim, Option<SignedReceipt>)>,
}

/// Checks `entry` against the receipts a meta node served for it. Errs when the served list
/// does not rebuild the entry's root (ask another meta node: nothing can be disputed
/// without the leaves).
pub fn check_entry(
	entry: &Entry,
	served: &[SignedReceipt],
	client: &[u8; 32],
	genesis: &Hash,
) -> Result<EntryCheck, Error> {
	let leaves: Vec<(u64, Hash)> = served
		.iter()
		.map(|r| (r.receipt.length, receipt_digest(&r.receipt, &r.node_signature)))
		.collect();
	// An honest tree is sorted and free of duplicates; a dishonest one may be neither, and
	// then only the served order rebuilds it.
	let tree = [ReceiptTree::new(leaves.clone()), ReceiptTree::from_leaves_unchecked(leaves)]
		.into_iter()
		.filter_map(Result::ok)
		.find(|t| t.root() == entry.root)
		.ok_or_else(|| {
			Error::Dispute(format!(
				"the {} receipts the meta node served do not rebuild the entry's root {}: ask \
				 another meta node",
				served.len(),
				hex::encode(entry.root)
			))
		})?;
	let by_digest: HashMap<Hash, &SignedReceipt> =
		served.iter().map(|r| (receipt_digest(&r.receipt, &r.node_signature), r)).collect();
	let proof = |i: usize| tree.proof(i as u64).expect("a leaf of the tree");

	let mut claims = Vec::new();
	if entry.bytes > tree.total() && !tree.leaves().is_empty() {
		let (leaf, proof) = proof(0);
		claims.push((DisputeClaim::WrongTotal { leaf, proof }, None));
	}
	for (i, pair) in tree.leaves().windows(2).enumerate() {
		if pair[0].1 >= pair[1].1 {
			let ((first, first_proof), (second, second_proof)) = (proof(i), proof(i + 1));
			claims.push((
				DisputeClaim::OutOfOrder { first, first_proof, second, second_proof },
				None,
			));
		}
	}
	let mut seen = std::collections::HashSet::new();
	for (i, (_, digest)) in tree.leaves().iter().enumerate() {
		let r = by_digest[digest];
		let mine = &r.receipt.client == client && r.verify(genesis).is_ok();
		if !mine && seen.insert(*digest) {
			let (leaf, proof) = proof(i);
			claims.push((DisputeClaim::NotCountersigned { leaf, proof }, Some(*r)));
		}
	}
	let digests = tree.leaves().iter().map(|(_, d)| *d).collect();
	Ok(EntryCheck { digests, bytes: tree.total(), claims })
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::{ed25519, sr25519, Pair};

	const GENESIS: Hash = [9; 32];

	fn receipt(
		node: &ed25519::Pair,
		client: &sr25519::Pair,
		task: u8,
		length: u64,
	) -> SignedReceipt {
		crate::receipts::signed_receipt(node, client, GENESIS, 4, task, length)
	}

	fn keys() -> (ed25519::Pair, sr25519::Pair) {
		(ed25519::Pair::from_seed(&[1; 32]), sr25519::Pair::from_seed(&[2; 32]))
	}

	fn entry_of(receipts: &[SignedReceipt]) -> Entry {
		let t = ReceiptTree::of_receipts(receipts).unwrap();
		Entry { root: t.root(), bytes: t.total() }
	}

	#[test]
	fn an_honest_entry_has_nothing_to_dispute_in_any_served_order() {
		let (node, client) = keys();
		let mut rs: Vec<_> =
			(0..5).map(|i| receipt(&node, &client, i, 1000 + u64::from(i))).collect();
		let entry = entry_of(&rs);
		rs.reverse();
		let c = check_entry(&entry, &rs, &client.public().0, &GENESIS).unwrap();
		assert_eq!((c.digests.len(), c.bytes), (5, 5010));
		assert!(c.claims.is_empty(), "{:?}", c.claims);
	}

	#[test]
	fn an_invented_receipt_is_disputed_with_a_proof_against_the_entry_root() {
		let (node, client) = keys();
		let mut rs: Vec<_> = (0..3).map(|i| receipt(&node, &client, i, 1000)).collect();
		// The quorum adds a receipt the client never countersigned.
		let mut forged = receipt(&node, &client, 7, 50_000);
		forged.client_signature = [0; 64];
		rs.push(forged);
		let entry = entry_of(&rs);
		let c = check_entry(&entry, &rs, &client.public().0, &GENESIS).unwrap();
		assert_eq!(c.claims.len(), 1);
		let (DisputeClaim::NotCountersigned { leaf, proof }, Some(r)) = &c.claims[0] else {
			panic!("{:?}", c.claims)
		};
		assert_eq!(r, &forged);
		assert_eq!(leaf.digest, receipt_digest(&forged.receipt, &forged.node_signature));
		assert_eq!(proof.verify(&entry.root, leaf), Ok(53_000));
	}

	#[test]
	fn another_clients_receipt_is_not_ours() {
		let (node, client) = keys();
		let other = sr25519::Pair::from_seed(&[3; 32]);
		let rs = vec![receipt(&node, &client, 1, 10), receipt(&node, &other, 2, 10)];
		let entry = entry_of(&rs);
		let c = check_entry(&entry, &rs, &client.public().0, &GENESIS).unwrap();
		assert!(
			matches!(c.claims[..], [(DisputeClaim::NotCountersigned { .. }, Some(r))] if r == rs[1])
		);
	}

	#[test]
	fn an_inflated_total_and_a_duplicated_receipt_are_disputed() {
		let (node, client) = keys();
		let rs: Vec<_> = (0..3).map(|i| receipt(&node, &client, i, 1000)).collect();
		let honest = entry_of(&rs);
		let c = check_entry(
			&Entry { bytes: honest.bytes + 1, ..honest },
			&rs,
			&client.public().0,
			&GENESIS,
		)
		.unwrap();
		let [(DisputeClaim::WrongTotal { leaf, proof }, None)] = &c.claims[..] else {
			panic!("{:?}", c.claims)
		};
		assert_eq!(proof.verify(&honest.root, leaf), Ok(3000));

		// A tree listing one receipt twice, served in its own order.
		let mut dup = rs.clone();
		dup.sort_by_key(|r| receipt_digest(&r.receipt, &r.node_signature));
		dup.insert(1, dup[0]);
		let t = ReceiptTree::from_leaves_unchecked(
			dup.iter()
				.map(|r| (r.receipt.length, receipt_digest(&r.receipt, &r.node_signature)))
				.collect(),
		)
		.unwrap();
		let entry = Entry { root: t.root(), bytes: t.total() };
		let c = check_entry(&entry, &dup, &client.public().0, &GENESIS).unwrap();
		let [(DisputeClaim::OutOfOrder { first, second, .. }, None)] = &c.claims[..] else {
			panic!("{:?}", c.claims)
		};
		assert_eq!((first.index, second.index, first.digest), (0, 1, second.digest));
	}

	#[test]
	fn a_list_that_does_not_rebuild_the_root_is_an_error() {
		let (node, client) = keys();
		let rs: Vec<_> = (0..3).map(|i| receipt(&node, &client, i, 1000)).collect();
		let entry = entry_of(&rs);
		let e = check_entry(&entry, &rs[..2], &client.public().0, &GENESIS).unwrap_err();
		assert!(e.to_string().contains("do not rebuild the entry's root"), "{e}");
	}
}
