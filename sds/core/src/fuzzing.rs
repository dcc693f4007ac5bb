//! Bodies of the fuzz targets (`fuzz/`), kept here so the corpus also replays as ordinary
//! tests on stable (`tests/fuzz_corpus.rs`). Each must return normally for any input.

use crate::{
	wire::{data_payload_len, data_prefix_len, decode_body, Decoder, Frame},
	Error,
};
use codec::Decode;
use stratos_primitives::merkle::{root_levelwise, Leaf, MerkleProof};

/// How a stream reader decodes a body with the `Data` fast path (`sds_net::io`): the SCALE
/// header first, then the payload into a buffer of its own.
fn data_fast_path(body: &[u8]) -> Result<Frame, Error> {
	if body.len() < 2 {
		return decode_body(body);
	}
	match data_prefix_len([body[0], body[1]], body.len())? {
		None => decode_body(body),
		Some(p) => {
			let n = data_payload_len(&body[..p], body.len())?;
			Ok(Frame::Data(body[p..p + n].to_vec()))
		},
	}
}

/// The wire decoder: any byte stream yields frames or an error, never a panic; every frame
/// decoded re-encodes to bytes that decode to the same frame.
pub fn wire_decoder(data: &[u8]) {
	let generic = decode_body(data);
	let owned = data_fast_path(data);
	assert_eq!(generic.is_ok(), owned.is_ok(), "fast path disagrees on validity");
	if let (Ok(a), Ok(b)) = (&generic, &owned) {
		assert_eq!(a, b, "fast path decodes differently");
	}
	for split in [1usize, 7, 4096] {
		let mut d = Decoder::new();
		let mut frames = 0;
		for piece in data.chunks(split) {
			d.push(piece);
			loop {
				match d.next_frame() {
					Ok(Some(f)) => {
						frames += 1;
						let bytes = f.to_bytes();
						assert_eq!(
							decode_body(&bytes[4..]).as_ref(),
							Ok(&f),
							"re-encoding changed a frame"
						);
					},
					Ok(None) => break,
					Err(_) => return,
				}
			}
			if frames > 1024 {
				return;
			}
		}
	}
}

/// The proof verifier: any (root, leaf, proof) verifies or fails without panicking; proofs
/// built for a tree derived from the input verify, and a changed sibling does not.
pub fn merkle_proof(data: &[u8]) {
	if let Ok((root, leaf, proof)) = <([u8; 32], Leaf, MerkleProof)>::decode(&mut &data[..]) {
		let _ = proof.verify(&root, &leaf);
	}
	let leaves: Vec<(u64, [u8; 32])> = data
		.chunks(9)
		.take(200)
		.map(|c| {
			let mut h = [0u8; 32];
			h[..c.len()].copy_from_slice(c);
			(c.len() as u64, h)
		})
		.collect();
	if leaves.is_empty() {
		return;
	}
	let root = root_levelwise(&leaves);
	let i = (data[0] as usize) % leaves.len();
	let proof = MerkleProof::build(&leaves, i as u64).expect("index in range");
	let leaf = Leaf { index: i as u64, length: leaves[i].0, content: leaves[i].1 };
	assert_eq!(proof.verify(&root, &leaf), Ok(()));
	if let Some(s) = proof.siblings.first() {
		let mut bad = proof.clone();
		bad.siblings[0] = [s[0] ^ 1; 32];
		assert!(bad.verify(&root, &leaf).is_err() || bad.siblings[0] == *s);
	}
}

/// Seed inputs for both targets (valid frames and proofs), written into the corpus by
/// `fuzz/seed.sh` via `cargo test -p sds-core --test fuzz_corpus -- --ignored`.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
	use crate::wire::*;
	use codec::Encode;
	use stratos_primitives::{NodeId, SliceHash, TaskId};
	let frames = [
		Frame::Put(PutRequest {
			task: TaskId([1; 32]),
			slice_len: 70000,
			forward: vec![Hop {
				node: NodeId([2; 32]),
				addrs: vec!["/ip4/127.0.0.1/tcp/7400".into()],
			}],
		}),
		Frame::Get(GetRequest {
			task: TaskId([3; 32]),
			ledger_period: 9,
			client: [4; 32],
			slice: SliceHash([5; 32]),
			offset: 0,
			length: u64::MAX,
		}),
		Frame::Data(vec![6; 100]),
		Frame::PutEnd { slice: SliceHash([7; 32]) },
		Frame::HasReply { len: Some(3) },
		Frame::error(ErrorCode::Corrupt, "bad"),
	];
	let mut out: Vec<(&'static str, Vec<u8>)> =
		frames.iter().map(|f| ("wire_decoder", f.to_bytes())).collect();
	let leaves: Vec<(u64, [u8; 32])> = (0..5u8).map(|i| (i as u64 + 1, [i; 32])).collect();
	let proof = MerkleProof::build(&leaves, 3).expect("in range");
	let leaf = Leaf { index: 3, length: 4, content: [3; 32] };
	out.push(("merkle_proof", (root_levelwise(&leaves), leaf, proof).encode()));
	out
}
