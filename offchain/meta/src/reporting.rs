//! What a meta node does about an open PoT report, sans-I/O: given the chain's report state
//! at a finalized block and the digest this node built, the next step (commit, reveal,
//! stream from a chunk, or wait).
//!
//! Everything is derived from the chain, so a restarted node resumes where the chain stands:
//! it commits if it has not, reveals if it committed (the salt is derived from its node key
//! and the period, so it needs no storage), and streams from the chain's chunk count.
//!
//! One matching reporter streams: the reveal order rotated by the period picks the first;
//! the `k`-th of that order takes over when the chain's chunk count has not moved for
//! `k × STALL_BLOCKS` finalized blocks (a crashed or partitioned submitter). Two nodes
//! sending the same chunk is harmless: the chain takes the first and refuses the copy.

use stratos_primitives::Hash;

type Account = [u8; 32];

/// Finalized blocks without progress before the next submitter takes over.
pub const STALL_BLOCKS: u32 = 5;

/// The chain's open report, reduced to what the decision needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnChain {
	/// The electorate (sorted).
	pub electorate: Vec<Account>,
	/// Who committed.
	pub commits: Vec<Account>,
	/// Reveals in order.
	pub reveals: Vec<(Account, Hash)>,
	/// Commits are taken before this block.
	pub commit_until: u32,
	/// Reveals are taken before this block once the phase started.
	pub reveal_until: Option<u32>,
	/// The accepted digest and chunks in.
	pub stream: Option<(Hash, u32)>,
}

/// The next thing to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
	/// Nothing now (why, for the status).
	Wait(&'static str),
	/// Commit to the digest.
	Commit,
	/// Reveal the digest.
	Reveal,
	/// Stream the accepted report from this chunk on.
	Stream {
		/// First chunk to send.
		from: u32,
	},
}

/// Progress of the stream as this node observed it (local, not persisted: after a restart a
/// node waits a full stall period before taking over).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
	/// Chunks in at the last change.
	pub chunks: Option<u32>,
	/// Finalized block at which the count last changed (or was first seen).
	pub since: u32,
}

/// Who streams first: the reporters that revealed `digest`, in reveal order, rotated by the
/// period (so the work moves around).
pub fn submit_order(period: u32, reveals: &[(Account, Hash)], digest: &Hash) -> Vec<Account> {
	let mut m: Vec<Account> =
		reveals.iter().filter(|(_, d)| d == digest).map(|(a, _)| *a).collect();
	if !m.is_empty() {
		let k = period as usize % m.len();
		m.rotate_left(k);
	}
	m
}

/// The step for `me` at finalized block `number`, holding `mine` (the digest it built, with
/// `chunks` chunks).
pub fn step(
	me: &Account,
	period: u32,
	chain: &OnChain,
	number: u32,
	mine: &Hash,
	chunks: u32,
	progress: &mut Progress,
) -> Step {
	if chain.electorate.binary_search(me).is_err() {
		return Step::Wait("not in the report's electorate");
	}
	let committed = chain.commits.contains(me);
	let revealed = chain.reveals.iter().find(|(a, _)| a == me).map(|(_, d)| *d);
	if let Some((accepted, done)) = chain.stream {
		if progress.chunks != Some(done) {
			*progress = Progress { chunks: Some(done), since: number };
		}
		if revealed.is_none() && committed && chain.reveal_until.is_some_and(|u| number < u) {
			// Reveal anyway: a matching reveal earns the meta share.
			return Step::Reveal;
		}
		if &accepted != mine {
			return Step::Wait("the accepted digest is not ours");
		}
		if revealed != Some(accepted) {
			return Step::Wait("accepted without our reveal");
		}
		if done >= chunks {
			return Step::Wait("streamed");
		}
		let order = submit_order(period, &chain.reveals, &accepted);
		let k = order.iter().position(|a| a == me).unwrap_or(usize::MAX) as u32;
		if k == 0 || number.saturating_sub(progress.since) >= k.saturating_mul(STALL_BLOCKS) {
			return Step::Stream { from: done };
		}
		return Step::Wait("another reporter streams");
	}
	match chain.reveal_until {
		None if number < chain.commit_until && !committed => Step::Commit,
		None if committed => Step::Wait("committed; waiting for the reveal phase"),
		None => Step::Wait("the commit window closed before we committed"),
		Some(u) if number < u && committed && revealed.is_none() => Step::Reveal,
		Some(_) if revealed.is_some() => Step::Wait("revealed; waiting for the quorum"),
		Some(_) => Step::Wait("not committed in time"),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	const A: Account = [1; 32];
	const B: Account = [2; 32];
	const C: Account = [3; 32];
	const D: Hash = [9; 32];

	fn open() -> OnChain {
		OnChain {
			electorate: vec![A, B, C],
			commits: vec![],
			reveals: vec![],
			commit_until: 10,
			reveal_until: None,
			stream: None,
		}
	}

	#[test]
	fn commit_then_reveal_then_wait() {
		let mut p = Progress::default();
		let mut c = open();
		assert_eq!(step(&A, 4, &c, 5, &D, 2, &mut p), Step::Commit);
		c.commits.push(A);
		assert!(matches!(step(&A, 4, &c, 6, &D, 2, &mut p), Step::Wait(_)));
		c.reveal_until = Some(20);
		assert_eq!(step(&A, 4, &c, 11, &D, 2, &mut p), Step::Reveal);
		c.reveals.push((A, D));
		assert!(matches!(step(&A, 4, &c, 12, &D, 2, &mut p), Step::Wait(_)));
		// Not in the electorate: nothing.
		assert!(matches!(step(&[7; 32], 4, &c, 5, &D, 2, &mut p), Step::Wait(_)));
		// Too late to commit.
		let c = open();
		assert!(matches!(step(&A, 4, &c, 10, &D, 2, &mut p), Step::Wait(_)));
	}

	#[test]
	fn one_submitter_streams_and_the_next_takes_over_a_stalled_stream() {
		let mut c = open();
		c.commits = vec![A, B, C];
		c.reveal_until = Some(20);
		c.reveals = vec![(A, D), (B, D)];
		c.stream = Some((D, 0));
		// Period 5 rotates [A, B] by 1: B streams first, A takes over after STALL_BLOCKS.
		assert_eq!(submit_order(5, &c.reveals, &D), vec![B, A]);
		let (mut pa, mut pb) = (Progress::default(), Progress::default());
		assert_eq!(step(&B, 5, &c, 12, &D, 3, &mut pb), Step::Stream { from: 0 });
		assert!(matches!(step(&A, 5, &c, 12, &D, 3, &mut pa), Step::Wait(_)));
		// B sends one chunk, then dies: A waits STALL_BLOCKS from the last progress.
		c.stream = Some((D, 1));
		assert!(matches!(step(&A, 5, &c, 14, &D, 3, &mut pa), Step::Wait(_)));
		assert!(matches!(step(&A, 5, &c, 14 + STALL_BLOCKS - 1, &D, 3, &mut pa), Step::Wait(_)));
		assert_eq!(step(&A, 5, &c, 14 + STALL_BLOCKS, &D, 3, &mut pa), Step::Stream { from: 1 });
		// C committed but has not revealed: it still reveals (it earns the meta share).
		let mut pc = Progress::default();
		assert_eq!(step(&C, 5, &c, 15, &D, 3, &mut pc), Step::Reveal);
		// Everything in: nobody streams.
		c.stream = Some((D, 3));
		assert!(matches!(step(&A, 5, &c, 40, &D, 3, &mut pa), Step::Wait(_)));
	}

	#[test]
	fn a_restarted_node_resumes_from_the_chain_without_committing_again() {
		// A committed and revealed, the stream accepted, 2 of 5 chunks in, then A crashed.
		let mut c = open();
		c.commits = vec![A, B];
		c.reveal_until = Some(20);
		c.reveals = vec![(A, D), (B, D)];
		c.stream = Some((D, 2));
		// Period 4 rotates [A, B] by 0: A is the first submitter. After the restart it has
		// no local state at all and continues from the chain's chunk count.
		let mut fresh = Progress::default();
		assert_eq!(step(&A, 4, &c, 30, &D, 5, &mut fresh), Step::Stream { from: 2 });
		// Restarted between commit and reveal: it reveals (the salt is derived, not stored).
		let mut c = open();
		c.commits = vec![A, B, C];
		c.reveal_until = Some(20);
		assert_eq!(step(&A, 4, &c, 12, &D, 5, &mut Progress::default()), Step::Reveal);
		// The leader of the meta cluster changed meanwhile: nothing in the decision depends
		// on who leads, only on the chain.
		c.reveals = vec![(B, D), (C, D)];
		c.stream = Some((D, 0));
		assert_eq!(step(&A, 4, &c, 13, &D, 5, &mut Progress::default()), Step::Reveal);
	}

	#[test]
	fn a_node_with_another_digest_never_streams() {
		let mut c = open();
		c.commits = vec![A, B, C];
		c.reveal_until = Some(20);
		c.reveals = vec![(A, D), (B, D), (C, [8; 32])];
		c.stream = Some((D, 0));
		let mut p = Progress::default();
		for n in 12..60 {
			assert!(matches!(step(&C, 5, &c, n, &[8; 32], 3, &mut p), Step::Wait(_)));
		}
	}
}
