//! The client's own record of the receipts it countersigned (ADR 0010, "Checking the meta
//! quorum"): one append-only file per ledger period under `<home>/receipts/`, each a run of
//! SCALE-encoded [`SignedReceipt`]s (fixed size, so a torn last write is detected and
//! ignored). From them the client rebuilds the receipt tree the meta nodes must report for
//! it, and compares its root and total with the entry on chain.

use codec::{Decode, Encode, MaxEncodedLen};
use std::{
	io::Write,
	path::{Path, PathBuf},
	sync::Mutex,
};
use stratos_primitives::{receipt::SignedReceipt, receipts::ReceiptTree, Hash};

/// Receipts kept per ledger period.
pub struct ReceiptLog {
	dir: PathBuf,
	write: Mutex<()>,
}

/// What the client countersigned in one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodReceipts {
	/// The ledger period.
	pub period: u32,
	/// Receipts kept (duplicates dropped).
	pub count: usize,
	/// Bytes they cover.
	pub bytes: u64,
	/// The root the meta nodes' entry for this client must carry.
	pub root: Hash,
}

impl ReceiptLog {
	/// Opens (creating) the log in `dir`.
	pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
		let dir = dir.into();
		std::fs::create_dir_all(&dir)?;
		Ok(Self { dir, write: Mutex::new(()) })
	}

	fn file(&self, period: u32) -> PathBuf {
		self.dir.join(format!("{period}.receipts"))
	}

	/// Appends a countersigned receipt to its period's file.
	pub fn record(&self, r: &SignedReceipt) -> std::io::Result<()> {
		let _guard = self.write.lock().unwrap_or_else(|e| e.into_inner());
		let mut f = std::fs::OpenOptions::new()
			.create(true)
			.append(true)
			.open(self.file(r.receipt.ledger_period))?;
		f.write_all(&r.encode())?;
		f.flush()
	}

	/// The periods with receipts, ascending.
	pub fn periods(&self) -> std::io::Result<Vec<u32>> {
		let mut out = Vec::new();
		for e in std::fs::read_dir(&self.dir)? {
			let name = e?.file_name();
			if let Some(p) =
				name.to_str().and_then(|n| n.strip_suffix(".receipts")).and_then(|p| p.parse().ok())
			{
				out.push(p);
			}
		}
		out.sort_unstable();
		Ok(out)
	}

	/// The receipts of `period` (a torn record at the end, from a crash, is left out).
	pub fn load(&self, period: u32) -> std::io::Result<Vec<SignedReceipt>> {
		read_records(&self.file(period))
	}

	/// The tree of `period`'s receipts: count, bytes and the root its entry must carry.
	pub fn summary(&self, period: u32) -> std::io::Result<PeriodReceipts> {
		let receipts = self.load(period)?;
		let tree = ReceiptTree::of_receipts(&receipts).map_err(|_| {
			std::io::Error::new(std::io::ErrorKind::InvalidData, "receipt bytes overflow")
		})?;
		Ok(PeriodReceipts {
			period,
			count: tree.leaves().len(),
			bytes: tree.total(),
			root: tree.root(),
		})
	}
}

fn read_records(path: &Path) -> std::io::Result<Vec<SignedReceipt>> {
	let data = match std::fs::read(path) {
		Ok(d) => d,
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
		Err(e) => return Err(e),
	};
	let size = SignedReceipt::max_encoded_len();
	data.chunks_exact(size)
		.map(|mut c| {
			SignedReceipt::decode(&mut c)
				.map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
		})
		.collect()
}

/// A receipt for task `[task; 32]` signed by `node` and countersigned by `client`.
#[cfg(test)]
pub(crate) fn signed_receipt(
	node: &sp_core::ed25519::Pair,
	client: &sp_core::sr25519::Pair,
	genesis: Hash,
	period: u32,
	task: u8,
	length: u64,
) -> SignedReceipt {
	use sp_core::Pair;
	use stratos_primitives::{receipt::TaskReceipt, NodeId, SliceHash, TaskId};
	let receipt = TaskReceipt {
		genesis_hash: genesis,
		ledger_period: period,
		task_id: TaskId([task; 32]),
		client: client.public().0,
		node: NodeId(node.public().0),
		slice: SliceHash([task; 32]),
		offset: 0,
		length,
	};
	let node_signature = node.sign(&receipt.node_payload()).0;
	let client_signature = client.sign(&receipt.client_payload(&node_signature)).0;
	SignedReceipt { receipt, node_signature, client_signature }
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::{ed25519, sr25519, Pair};

	fn receipt(period: u32, task: u8, length: u64) -> SignedReceipt {
		let node = ed25519::Pair::from_seed(&[1; 32]);
		let client = sr25519::Pair::from_seed(&[2; 32]);
		signed_receipt(&node, &client, [3; 32], period, task, length)
	}

	#[test]
	fn receipts_are_kept_per_period_and_survive_a_torn_write() {
		let dir = tempfile::tempdir().unwrap();
		let log = ReceiptLog::open(dir.path().join("receipts")).unwrap();
		let (a, b, c) = (receipt(4, 1, 300), receipt(4, 2, 200), receipt(5, 3, 100));
		for r in [&a, &b, &c, &a] {
			log.record(r).unwrap();
		}
		assert_eq!(log.periods().unwrap(), vec![4, 5]);
		assert_eq!(log.load(4).unwrap(), vec![a, b, a]);
		let s = log.summary(4).unwrap();
		assert_eq!((s.count, s.bytes), (2, 500), "a receipt kept twice counts once");
		assert_eq!(s.root, ReceiptTree::of_receipts([&a, &b]).unwrap().root());
		// A crash in the middle of a record leaves a torn tail: it is ignored.
		let mut f = std::fs::OpenOptions::new()
			.append(true)
			.open(dir.path().join("receipts/4.receipts"))
			.unwrap();
		f.write_all(&b.encode()[..17]).unwrap();
		assert_eq!(log.load(4).unwrap().len(), 3);
		assert_eq!(log.summary(4).unwrap(), s);
	}
}
