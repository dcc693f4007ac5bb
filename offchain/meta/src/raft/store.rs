//! The replica's durable storage, one RocksDB per meta node (the workspace's one `rocksdb`):
//!
//! * column `log`: entries by index (8-byte big-endian key → JSON of openraft's entry);
//! * column `meta`: the vote, the committed log id and the last purged log id;
//! * column `sm`: the latest snapshot (its openraft metadata and the SCALE-encoded index
//!   state).
//!
//! Appends are written with a synced write before openraft is told they are durable, and
//! the vote is synced before it is returned, as Raft requires. The index lives in memory;
//! after a restart it is the latest snapshot plus the committed log entries after it, which
//! openraft re-applies. Snapshots are taken every [`super::SNAPSHOT_EVERY`] entries, so the
//! replay is short and the log is purged behind them.

use super::{Applied, TypeConfig};
use crate::index::{Index, State};
use codec::Encode;
use openraft::{
	storage::{LogFlushed, RaftLogStorage, RaftStateMachine},
	AnyError, BasicNode, Entry, EntryPayload, LogId, LogState, OptionalSend, RaftLogReader,
	RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
	Vote,
};
use rocksdb::{
	ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB,
};
use std::{
	fmt::Debug,
	io::Cursor,
	ops::{Bound, RangeBounds},
	path::Path,
	sync::{Arc, Mutex},
};
use stratos_primitives::Hash;

type Nid = u64;
type SErr = StorageError<Nid>;

const CF_LOG: &str = "log";
const CF_META: &str = "meta";
const CF_SM: &str = "sm";
const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_PURGED: &[u8] = b"purged";
const KEY_SNAPSHOT: &[u8] = b"snapshot";

fn any(e: impl std::fmt::Display) -> AnyError {
	AnyError::error(e.to_string())
}

/// Opens (or creates) a replica's database in `dir`.
pub fn open_db(dir: &Path) -> crate::Result<Arc<DB>> {
	let mut opts = Options::default();
	opts.create_if_missing(true);
	opts.create_missing_column_families(true);
	let cfs = [CF_LOG, CF_META, CF_SM].map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
	DB::open_cf_descriptors(&opts, dir, cfs)
		.map(Arc::new)
		.map_err(|e| crate::Error::Storage(format!("cannot open {}: {e}", dir.display())))
}

fn synced() -> WriteOptions {
	let mut w = WriteOptions::default();
	w.set_sync(true);
	w
}

/// The Raft log and vote in RocksDB. Clones share the database.
#[derive(Clone)]
pub struct LogStore {
	db: Arc<DB>,
}

impl LogStore {
	/// The log store of the database `db`.
	pub fn new(db: Arc<DB>) -> Self {
		Self { db }
	}

	fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
		self.db.cf_handle(name).expect("column family created on open")
	}

	fn get_json<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, SErr> {
		let raw =
			self.db.get_cf(self.cf(CF_META), key).map_err(|e| StorageIOError::read(any(e)))?;
		raw.map(|b| serde_json::from_slice(&b).map_err(|e| StorageIOError::read(any(e)).into()))
			.transpose()
	}

	fn put_json<T: serde::Serialize>(&self, key: &[u8], v: &T) -> Result<(), SErr> {
		let b = serde_json::to_vec(v).map_err(|e| StorageIOError::write(any(e)))?;
		self.db
			.put_cf_opt(self.cf(CF_META), key, b, &synced())
			.map_err(|e| StorageIOError::write(any(e)).into())
	}
}

impl RaftLogReader<TypeConfig> for LogStore {
	async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
		&mut self,
		range: RB,
	) -> Result<Vec<Entry<TypeConfig>>, SErr> {
		let start = match range.start_bound() {
			Bound::Included(s) => *s,
			Bound::Excluded(s) => s + 1,
			Bound::Unbounded => 0,
		};
		let mut out = Vec::new();
		let iter = self.db.iterator_cf(
			self.cf(CF_LOG),
			IteratorMode::From(&start.to_be_bytes(), Direction::Forward),
		);
		for item in iter {
			let (k, v) = item.map_err(|e| StorageIOError::read_logs(any(e)))?;
			let idx = u64::from_be_bytes(k[..8].try_into().expect("8-byte keys"));
			if !range.contains(&idx) {
				break;
			}
			out.push(serde_json::from_slice(&v).map_err(|e| StorageIOError::read_logs(any(e)))?);
		}
		Ok(out)
	}
}

impl RaftLogStorage<TypeConfig> for LogStore {
	type LogReader = Self;

	async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, SErr> {
		let purged: Option<LogId<Nid>> = self.get_json(KEY_PURGED)?;
		let last = match self.db.iterator_cf(self.cf(CF_LOG), IteratorMode::End).next() {
			Some(item) => {
				let (_, v) = item.map_err(|e| StorageIOError::read_logs(any(e)))?;
				let e: Entry<TypeConfig> =
					serde_json::from_slice(&v).map_err(|e| StorageIOError::read_logs(any(e)))?;
				Some(e.log_id)
			},
			None => purged,
		};
		Ok(LogState { last_purged_log_id: purged, last_log_id: last })
	}

	async fn get_log_reader(&mut self) -> Self::LogReader {
		self.clone()
	}

	async fn save_vote(&mut self, vote: &Vote<Nid>) -> Result<(), SErr> {
		self.put_json(KEY_VOTE, vote)
	}

	async fn read_vote(&mut self) -> Result<Option<Vote<Nid>>, SErr> {
		self.get_json(KEY_VOTE)
	}

	async fn save_committed(&mut self, committed: Option<LogId<Nid>>) -> Result<(), SErr> {
		self.put_json(KEY_COMMITTED, &committed)
	}

	async fn read_committed(&mut self) -> Result<Option<LogId<Nid>>, SErr> {
		Ok(self.get_json::<Option<LogId<Nid>>>(KEY_COMMITTED)?.flatten())
	}

	async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), SErr>
	where
		I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
		I::IntoIter: OptionalSend,
	{
		let mut batch = WriteBatch::default();
		for e in entries {
			let v = serde_json::to_vec(&e).map_err(|e| StorageIOError::write_logs(any(e)))?;
			batch.put_cf(self.cf(CF_LOG), e.log_id.index.to_be_bytes(), v);
		}
		// Synced: durable before openraft counts the entries as persisted.
		let r = self.db.write_opt(batch, &synced());
		match r {
			Ok(()) => {
				callback.log_io_completed(Ok(()));
				Ok(())
			},
			Err(e) => {
				callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
				Err(StorageIOError::write_logs(any(e)).into())
			},
		}
	}

	async fn truncate(&mut self, log_id: LogId<Nid>) -> Result<(), SErr> {
		let mut batch = WriteBatch::default();
		batch.delete_range_cf(self.cf(CF_LOG), log_id.index.to_be_bytes(), u64::MAX.to_be_bytes());
		batch.delete_cf(self.cf(CF_LOG), u64::MAX.to_be_bytes());
		self.db.write_opt(batch, &synced()).map_err(|e| StorageIOError::write_logs(any(e)).into())
	}

	async fn purge(&mut self, log_id: LogId<Nid>) -> Result<(), SErr> {
		self.put_json(KEY_PURGED, &log_id)?;
		let mut batch = WriteBatch::default();
		batch.delete_range_cf(
			self.cf(CF_LOG),
			0u64.to_be_bytes(),
			(log_id.index + 1).to_be_bytes(),
		);
		self.db.write_opt(batch, &synced()).map_err(|e| StorageIOError::write_logs(any(e)).into())
	}
}

/// The snapshot as stored: openraft's metadata and the encoded index state.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSnapshot {
	meta: SnapshotMeta<Nid, BasicNode>,
	#[serde(with = "hex_bytes")]
	data: Vec<u8>,
}

mod hex_bytes {
	use serde::{Deserialize, Deserializer, Serializer};
	pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&hex::encode(b))
	}
	pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
		hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
	}
}

struct SmInner {
	index: Index,
	last_applied: Option<LogId<Nid>>,
	membership: StoredMembership<Nid, BasicNode>,
	snapshot: Option<StoredSnapshot>,
	seq: u64,
}

/// The index as openraft's state machine. Clones share it; reads go through
/// [`StateMachine::read`].
#[derive(Clone)]
pub struct StateMachine {
	inner: Arc<Mutex<SmInner>>,
	db: Arc<DB>,
}

impl StateMachine {
	/// The state machine of the database `db` for the chain `genesis`: the latest snapshot,
	/// or an empty index.
	pub fn open(db: Arc<DB>, genesis: Hash) -> crate::Result<Self> {
		let cf = db.cf_handle(CF_SM).expect("column family created on open");
		let stored: Option<StoredSnapshot> = db
			.get_cf(cf, KEY_SNAPSHOT)
			.map_err(|e| crate::Error::Storage(e.to_string()))?
			.map(|b| serde_json::from_slice(&b))
			.transpose()
			.map_err(|e| crate::Error::Storage(format!("corrupt snapshot: {e}")))?;
		let (index, last_applied, membership) = match &stored {
			Some(s) => {
				let state = State::decode_snapshot(&s.data)
					.map_err(|e| crate::Error::Storage(format!("corrupt snapshot state: {e}")))?;
				(
					Index::from_state(genesis, state),
					s.meta.last_log_id,
					s.meta.last_membership.clone(),
				)
			},
			None => (Index::new(genesis), None, StoredMembership::default()),
		};
		let inner = SmInner { index, last_applied, membership, snapshot: stored, seq: 0 };
		Ok(Self { inner: Arc::new(Mutex::new(inner)), db })
	}

	/// Runs `f` on the index as applied so far, with the last applied log index.
	pub fn read<T>(&self, f: impl FnOnce(&Index, u64) -> T) -> T {
		let g = self.inner.lock().expect("state machine lock");
		f(&g.index, g.last_applied.map(|l| l.index).unwrap_or(0))
	}

	fn persist(&self, s: &StoredSnapshot) -> Result<(), SErr> {
		let cf = self.db.cf_handle(CF_SM).expect("column family created on open");
		let b = serde_json::to_vec(s)
			.map_err(|e| StorageIOError::write_snapshot(Some(s.meta.signature()), any(e)))?;
		self.db
			.put_cf_opt(cf, KEY_SNAPSHOT, b, &synced())
			.map_err(|e| StorageIOError::write_snapshot(Some(s.meta.signature()), any(e)).into())
	}
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
	async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, SErr> {
		// A consistent copy under the lock; applies continue once it is taken.
		let (meta, data) = {
			let mut g = self.inner.lock().expect("state machine lock");
			g.seq += 1;
			let snapshot_id = match g.last_applied {
				Some(l) => format!("{}-{}-{}", l.leader_id, l.index, g.seq),
				None => format!("--{}", g.seq),
			};
			let meta = SnapshotMeta {
				last_log_id: g.last_applied,
				last_membership: g.membership.clone(),
				snapshot_id,
			};
			(meta, g.index.state().encode())
		};
		let stored = StoredSnapshot { meta: meta.clone(), data: data.clone() };
		self.persist(&stored)?;
		self.inner.lock().expect("state machine lock").snapshot = Some(stored);
		Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
	}
}

impl RaftStateMachine<TypeConfig> for StateMachine {
	type SnapshotBuilder = Self;

	async fn applied_state(
		&mut self,
	) -> Result<(Option<LogId<Nid>>, StoredMembership<Nid, BasicNode>), SErr> {
		let g = self.inner.lock().expect("state machine lock");
		Ok((g.last_applied, g.membership.clone()))
	}

	async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, SErr>
	where
		I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
		I::IntoIter: OptionalSend,
	{
		let mut g = self.inner.lock().expect("state machine lock");
		let mut out = Vec::new();
		for entry in entries {
			g.last_applied = Some(entry.log_id);
			match entry.payload {
				EntryPayload::Blank => out.push(Applied(Ok(crate::index::Response::Done))),
				EntryPayload::Normal(cmd) => {
					let r = g.index.apply(entry.log_id.index, &cmd);
					out.push(Applied(r));
				},
				EntryPayload::Membership(m) => {
					g.membership = StoredMembership::new(Some(entry.log_id), m);
					out.push(Applied(Ok(crate::index::Response::Done)));
				},
			}
		}
		Ok(out)
	}

	async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
		self.clone()
	}

	async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, SErr> {
		Ok(Box::new(Cursor::new(Vec::new())))
	}

	async fn install_snapshot(
		&mut self,
		meta: &SnapshotMeta<Nid, BasicNode>,
		snapshot: Box<Cursor<Vec<u8>>>,
	) -> Result<(), SErr> {
		let data = snapshot.into_inner();
		let state = State::decode_snapshot(&data)
			.map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), any(e)))?;
		let stored = StoredSnapshot { meta: meta.clone(), data };
		self.persist(&stored)?;
		let mut g = self.inner.lock().expect("state machine lock");
		let genesis = *g.index.genesis();
		g.index = Index::from_state(genesis, state);
		g.last_applied = meta.last_log_id;
		g.membership = meta.last_membership.clone();
		g.snapshot = Some(stored);
		Ok(())
	}

	async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, SErr> {
		let g = self.inner.lock().expect("state machine lock");
		Ok(g.snapshot.as_ref().map(|s| Snapshot {
			meta: s.meta.clone(),
			snapshot: Box::new(Cursor::new(s.data.clone())),
		}))
	}
}
