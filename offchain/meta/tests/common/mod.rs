//! The test world of the index tests: an index with resource nodes, an owner and a
//! client, and helpers that sign requests and acknowledgements.
#![allow(dead_code, unused_imports)]

pub use codec::Encode;
pub use sp_core::{ed25519, sr25519, Pair};
pub use stratos_meta::{index::*, path::NsPath, Error};
pub use stratos_primitives::{
	merkle,
	meta::{self, SignedStoreAck, StoreAck},
	FileId, NodeId, SliceHash,
};

pub const G: [u8; 32] = [0x61; 32];
pub const MIB: u64 = 1 << 20;

pub struct World {
	pub idx: Index,
	pub log: u64,
	pub nonce: u64,
	pub owner: sr25519::Pair,
	pub client: sr25519::Pair,
	pub nodes: Vec<ed25519::Pair>,
	pub meta_key: NodeId,
	pub history: Vec<(u64, Command, Result<Response, Error>)>,
}

pub fn nid(p: &ed25519::Pair) -> NodeId {
	NodeId(p.public().0)
}

impl World {
	pub fn new(n_nodes: u8) -> Self {
		let nodes: Vec<_> = (1..=n_nodes).map(|i| ed25519::Pair::from_seed(&[i; 32])).collect();
		let mut w = Self {
			idx: Index::new(G),
			log: 0,
			nonce: 0,
			owner: sr25519::Pair::from_seed(&[100; 32]),
			client: sr25519::Pair::from_seed(&[101; 32]),
			nodes,
			meta_key: NodeId([0xee; 32]),
			history: vec![],
		};
		w.chain(10);
		for i in 0..w.nodes.len() {
			w.beat(i, 1_000);
		}
		w
	}

	pub fn chain(&mut self, number: u32) {
		self.chain_period(number, 1);
	}

	/// The chain at block `number` in ledger period `ledger_period`.
	pub fn chain_period(&mut self, number: u32, ledger_period: u32) {
		let regions = ["eu", "us", "asia", "eu", "us", "asia"];
		let view = ChainView {
			number,
			hash: [number as u8; 32],
			ledger_period,
			resource_nodes: self
				.nodes
				.iter()
				.enumerate()
				.map(|(i, k)| ChainNode {
					id: nid(k),
					account: [i as u8 + 1; 32],
					region: regions[i % regions.len()].into(),
					address: format!("/ip4/127.0.0.1/tcp/{}", 4000 + i),
					active: true,
				})
				.collect(),
			meta_nodes: vec![],
		};
		self.apply(Command::Chain(view)).unwrap();
	}

	pub fn beat(&mut self, i: usize, now_ms: u64) {
		let beat = Heartbeat {
			node: nid(&self.nodes[i]),
			free: 100 << 30,
			capacity: 100 << 30,
			connections: 1,
			errors: 0,
			version: "test".into(),
		};
		self.apply(Command::Heartbeat { now_ms, beat }).unwrap();
	}

	pub fn apply(&mut self, cmd: Command) -> Result<Response, Error> {
		self.log += 1;
		let r = self.idx.apply(self.log, &cmd);
		self.history.push((self.log, cmd, r.clone()));
		r
	}

	pub fn signed<T: Encode>(&mut self, who: &sr25519::Pair, body: T) -> Signed<T> {
		self.nonce += 1;
		Signed::sign(who, &G, self.nonce, body)
	}

	pub fn ns(&mut self, op: NsOp) -> Result<Response, Error> {
		let owner = self.owner.clone();
		let req = self.signed(&owner, op);
		self.apply(Command::Namespace(req))
	}

	pub fn place(&mut self, path: &str, size: u64) -> Result<meta::UploadAuth, Error> {
		let owner = self.owner.clone();
		let req = self.signed(
			&owner,
			PlaceRequest { path: path.into(), size, slice_size: 16 * MIB, replicas: 3 },
		);
		match self.apply(Command::Place {
			req,
			now_ms: 2_000,
			balance_ok: true,
			issuer: self.meta_key,
		})? {
			Response::Placed(a) => Ok(a),
			r => panic!("unexpected {r:?}"),
		}
	}

	pub fn key_of(&self, id: &NodeId) -> &ed25519::Pair {
		self.nodes.iter().find(|k| nid(k) == *id).unwrap()
	}

	pub fn acks(
		&self,
		auth: &meta::UploadAuth,
		slices: &[(SliceHash, u64)],
	) -> Vec<SignedStoreAck> {
		let mut out = vec![];
		for (s, len) in slices {
			for h in &auth.holders {
				let ack = StoreAck {
					genesis_hash: G,
					owner: auth.owner,
					slice: *s,
					length: *len,
					node: *h,
				};
				out.push(SignedStoreAck { ack, signature: self.key_of(h).sign(&ack.payload()).0 });
			}
		}
		out
	}

	/// Uploads `size` bytes at `path` with slice contents named by `seed`; returns the record.
	pub fn upload(&mut self, path: &str, size: u64, seed: u8) -> FileRecord {
		let auth = self.place(path, size).unwrap();
		let slices = slices_of(size, seed);
		let acks = self.acks(&auth, &slices);
		let hashes = slices.iter().map(|s| s.0).collect();
		match self.apply(Command::Complete { task: auth.task, slices: hashes, acks }).unwrap() {
			Response::Completed(r) => r,
			r => panic!("unexpected {r:?}"),
		}
	}

	pub fn owner_acct(&self) -> [u8; 32] {
		self.owner.public().0
	}
}

pub fn slices_of(size: u64, seed: u8) -> Vec<(SliceHash, u64)> {
	let n = size.div_ceil(16 * MIB);
	// A slice's hash stands for its content: equal seeds and lengths, equal slices.
	(0..n)
		.map(|i| {
			let len = (size - i * 16 * MIB).min(16 * MIB);
			let h = stratos_primitives::hash(&(seed.wrapping_add(i as u8), len).encode());
			(SliceHash(h), len)
		})
		.collect()
}

pub fn p(s: &str) -> NsPath {
	NsPath::parse(s).unwrap()
}
