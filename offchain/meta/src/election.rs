//! The election order of the meta nodes (whitepaper §3.3: "the largest random number wins,
//! ties by address"), mapped onto Raft (ADR 0011).
//!
//! Each meta node evaluates its sr25519 VRF (schnorrkel, through `sp_core`) over an
//! [`ElectionInput`]: the Raft term and a finalized block (number and hash) that the node
//! names. The output is unpredictable before the block exists and nobody can choose it: it
//! is fixed by the node's registered key and the block. The proof lets any other node check
//! it ([`verify`]).
//!
//! * **Elections**: a node waits `base + spread · (1 − output/2⁶⁴)` after losing its leader
//!   before it stands ([`election_delay`]), so the node with the largest output stands first;
//!   Raft's log-up-to-date rule still decides who may win, so a node with a stale log cannot
//!   take over whatever its output.
//! * **Hand-over**: at a ledger-period boundary the VRF-ordered first node over the boundary
//!   block ([`order`]) becomes leader when it is not already and no report stream is in
//!   flight.

use codec::{Decode, Encode};
use sp_core::{
	crypto::{VrfPublic, VrfSecret},
	sr25519::{
		self,
		vrf::{VrfSignature, VrfTranscript},
	},
};
use stratos_primitives::Hash;

const LABEL: &[u8] = b"stratos/meta-election/v1";
const CONTEXT: &[u8] = b"stratos/meta-election/output";

/// What the VRF is evaluated over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ElectionInput {
	/// The Raft term being stood for (0 for a period hand-over).
	pub term: u64,
	/// A finalized block number.
	pub block_number: u32,
	/// Its hash.
	pub block_hash: Hash,
}

impl ElectionInput {
	fn transcript(&self) -> VrfTranscript {
		VrfTranscript::new(
			LABEL,
			&[
				(b"term", &self.term.to_le_bytes()),
				(b"number", &self.block_number.to_le_bytes()),
				(b"hash", &self.block_hash),
			],
		)
	}
}

/// A node's VRF output with its proof.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Ticket {
	/// The output (compared as a big-endian number).
	pub output: [u8; 32],
	/// The signature proving it.
	pub signature: VrfSignature,
}

/// Evaluates `pair`'s VRF over `input`.
pub fn evaluate(pair: &sr25519::Pair, input: &ElectionInput) -> Ticket {
	let transcript = input.transcript();
	let signature = pair.vrf_sign(&transcript.clone().into_sign_data());
	let output = pair.make_bytes::<32>(CONTEXT, &transcript);
	Ticket { output, signature }
}

/// The output `public` produced over `input`, if `ticket` proves it.
pub fn verify(
	public: &sr25519::Public,
	input: &ElectionInput,
	ticket: &Ticket,
) -> Option<[u8; 32]> {
	let transcript = input.transcript();
	if !public.vrf_verify(&transcript.clone().into_sign_data(), &ticket.signature) {
		return None;
	}
	let output =
		public.make_bytes::<32>(CONTEXT, &transcript, &ticket.signature.pre_output).ok()?;
	(output == ticket.output).then_some(output)
}

/// How long a node with `output` waits before standing: `base_ms` plus a share of
/// `spread_ms` that shrinks as the output grows. Equal outputs wait equally.
pub fn election_delay(output: &[u8; 32], base_ms: u64, spread_ms: u64) -> u64 {
	let mut top = [0u8; 8];
	top.copy_from_slice(&output[..8]);
	let rank = u64::from_be_bytes(top);
	base_ms + ((u128::from(u64::MAX - rank) * u128::from(spread_ms)) >> 64) as u64
}

/// Members ordered for election: larger output first, ties by address (account) ascending.
pub fn order<A: Ord + Clone>(entries: &[(A, [u8; 32])]) -> Vec<A> {
	let mut v: Vec<&(A, [u8; 32])> = entries.iter().collect();
	v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
	v.into_iter().map(|(a, _)| a.clone()).collect()
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::Pair;

	fn input(term: u64) -> ElectionInput {
		ElectionInput { term, block_number: 10, block_hash: [7; 32] }
	}

	#[test]
	fn outputs_verify_and_depend_on_key_term_and_block() {
		let a = sr25519::Pair::from_seed(&[1; 32]);
		let b = sr25519::Pair::from_seed(&[2; 32]);
		let ta = evaluate(&a, &input(1));
		assert_eq!(verify(&a.public(), &input(1), &ta), Some(ta.output));
		// Another key's proof, another term or another block do not verify.
		assert_eq!(verify(&b.public(), &input(1), &ta), None);
		assert_eq!(verify(&a.public(), &input(2), &ta), None);
		let mut other_block = input(1);
		other_block.block_hash = [8; 32];
		assert_eq!(verify(&a.public(), &other_block, &ta), None);
		// A claimed output other than the proven one is refused.
		let mut forged = ta.clone();
		forged.output = [0xff; 32];
		assert_eq!(verify(&a.public(), &input(1), &forged), None);
		assert_ne!(ta.output, evaluate(&b, &input(1)).output);
		assert_ne!(ta.output, evaluate(&a, &input(2)).output);
		// Deterministic for the same key and input.
		assert_eq!(ta.output, evaluate(&a, &input(1)).output);
	}

	#[test]
	fn larger_output_waits_less_and_stands_first() {
		let lo = [0u8; 32];
		let hi = [0xff; 32];
		assert_eq!(election_delay(&hi, 150, 300), 150);
		assert_eq!(election_delay(&lo, 150, 300), 449);
		let pairs: Vec<_> = (1..=5u8).map(|i| sr25519::Pair::from_seed(&[i; 32])).collect();
		let entries: Vec<([u8; 32], [u8; 32])> =
			pairs.iter().map(|p| (p.public().0, evaluate(p, &input(3)).output)).collect();
		let ordered = order(&entries);
		let delays: Vec<u64> = ordered
			.iter()
			.map(|acct| {
				let out = entries.iter().find(|(a, _)| a == acct).unwrap().1;
				election_delay(&out, 150, 300)
			})
			.collect();
		assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
		// Ties go to the smaller address.
		assert_eq!(order(&[(2u8, [5; 32]), (1u8, [5; 32]), (3u8, [6; 32])]), vec![3, 1, 2]);
	}
}
