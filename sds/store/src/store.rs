use crate::{
	fs::{Fs, OsFs},
	Error, Result,
};
use codec::{Decode, Encode};
use rocksdb::{Options, WriteOptions, DB};
use std::{
	fs::File,
	io::Write,
	os::unix::fs::FileExt,
	path::{Path, PathBuf},
	sync::{
		atomic::{AtomicU64, Ordering},
		Mutex,
	},
};
use stratos_primitives::{
	merkle::{chunk_count, chunk_hash, chunk_leaves, root_of, SliceHasher, CHUNK_SIZE},
	meta::FileManifest,
	receipt::SignedReceipt,
	FileId, Hash, SliceHash, TaskId,
};

const SLICE_PREFIX: u8 = b's';
const RECEIPT_PREFIX: u8 = b'r';
/// Receipts not yet delivered to the meta nodes' audit (same key suffix as the receipt).
const UNREPORTED_PREFIX: u8 = b'u';
/// Upload task → [`PendingUpload`].
const PENDING_PREFIX: u8 = b'p';
/// Owner ‖ file id → [`FileManifest`].
const MANIFEST_PREFIX: u8 = b'm';
/// Slice ‖ owner ‖ file id → (): which manifests name a slice.
const REF_PREFIX: u8 = b'x';
/// Slice → (): a slice this node lost (quarantined as corrupt, or its file vanished) that
/// the meta nodes were not told of yet ([`Store::lost_slices`]).
const LOST_PREFIX: u8 = b'l';

fn lost_key(h: &SliceHash) -> [u8; 33] {
	let mut k = slice_key(h);
	k[0] = LOST_PREFIX;
	k
}

/// Slices stored under an upload authorisation whose file the meta nodes have not yet
/// confirmed (with its manifest).
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct PendingUpload {
	/// Owner of the upload.
	pub owner: [u8; 32],
	/// Last finalized block the authorisation was valid at.
	pub expires_at: u32,
	/// Slices taken under it.
	pub slices: Vec<SliceHash>,
}

/// What the index keeps per slice.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SliceMeta {
	/// Slice length in bytes.
	pub len: u64,
	/// Data hash of every chunk, in order (their Merkle root is the slice hash).
	pub chunk_hashes: Vec<Hash>,
}

/// One step of [`Store::scrub`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrubStep {
	/// Slices read and found intact.
	pub checked: u64,
	/// Their bytes.
	pub bytes: u64,
	/// Slices found corrupt (now quarantined).
	pub corrupt: Vec<SliceHash>,
	/// Where the next step starts; `None` once every slice was read.
	pub next: Option<SliceHash>,
}

/// Counts for metrics and `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
	/// Slices stored.
	pub slices: u64,
	/// Bytes stored.
	pub used: u64,
	/// Bytes reserved by puts in progress.
	pub reserved: u64,
	/// Declared capacity.
	pub capacity: u64,
	/// Slices found corrupt since the store was opened.
	pub corrupt: u64,
	/// Uploads whose file the meta nodes have not confirmed yet.
	pub pending_uploads: u64,
	/// Bytes the scrubber re-hashed since the store was opened.
	pub scrubbed: u64,
}

/// The slice store. Shared between tasks behind an `Arc`.
pub struct Store {
	root: PathBuf,
	fs: std::sync::Arc<dyn Fs>,
	db: DB,
	capacity: u64,
	used: AtomicU64,
	slices: AtomicU64,
	corrupt: AtomicU64,
	scrubbed: AtomicU64,
	reserved: Mutex<u64>,
	commit_lock: Mutex<()>,
	/// Serialises pending-upload and manifest bookkeeping (read-modify-write).
	book_lock: Mutex<()>,
}

fn slice_key(h: &SliceHash) -> [u8; 33] {
	let mut k = [0u8; 33];
	k[0] = SLICE_PREFIX;
	k[1..].copy_from_slice(&h.0);
	k
}

fn prefixed(prefix: u8, parts: &[&[u8; 32]]) -> Vec<u8> {
	let mut k = Vec::with_capacity(1 + 32 * parts.len());
	k.push(prefix);
	for p in parts {
		k.extend_from_slice(&p[..]);
	}
	k
}

fn synced() -> WriteOptions {
	let mut w = WriteOptions::default();
	w.set_sync(true);
	w
}

impl Store {
	/// Opens (or creates) the store in `root` with a declared capacity in bytes.
	///
	/// Takes the data directory's lock first: a second store on the same directory (another
	/// process, or this one) fails with [`Error::InUse`] and touches nothing. Then removes
	/// what a crash may have left: partial slices in `tmp/` and index entries whose file is
	/// gone. A slice file without an index entry (a crash between rename and index write, or
	/// a lost index) is re-hashed: if it is the slice its name says it is re-indexed, never
	/// deleted; otherwise it is moved to `corrupt/`.
	pub fn open(root: impl Into<PathBuf>, capacity: u64) -> Result<Self> {
		Self::open_with(root, capacity, std::sync::Arc::new(OsFs))
	}

	/// [`Store::open`] with the store's file-system calls (all but RocksDB's) going
	/// through `fs`: crash tests pass a [`crate::PowerCutFs`].
	pub fn open_with(
		root: impl Into<PathBuf>,
		capacity: u64,
		fs: std::sync::Arc<dyn Fs>,
	) -> Result<Self> {
		let root = root.into();
		// The index's lock (RocksDB's `index/LOCK`, a per-process `fcntl` lock plus an
		// in-process registry) is taken before anything else is touched.
		let mut opts = Options::default();
		opts.create_if_missing(true);
		fs.create_dir_all(&root).map_err(|e| Error::io("create directory", &root, e))?;
		let db = DB::open(&opts, root.join("index")).map_err(|e| {
			if e.kind() == rocksdb::ErrorKind::IOError && e.to_string().contains("lock") {
				Error::InUse(root.clone())
			} else {
				e.into()
			}
		})?;
		for sub in ["slices", "tmp", "corrupt"] {
			let p = root.join(sub);
			fs.create_dir_all(&p).map_err(|e| Error::io("create directory", &p, e))?;
		}
		// The directories (and the index's) must survive a crash before any slice is
		// acknowledged in them.
		fs.sync_dir(&root).map_err(|e| Error::io("sync directory", &root, e))?;
		let tmp = root.join("tmp");
		for path in fs.read_dir(&tmp).map_err(|e| Error::io("list", &tmp, e))? {
			fs.remove_file(&path).map_err(|e| Error::io("remove partial slice", &path, e))?;
		}
		let store = Store {
			root,
			fs,
			db,
			capacity,
			used: AtomicU64::new(0),
			slices: AtomicU64::new(0),
			corrupt: AtomicU64::new(0),
			scrubbed: AtomicU64::new(0),
			reserved: Mutex::new(0),
			commit_lock: Mutex::new(()),
			book_lock: Mutex::new(()),
		};
		store.reconcile()?;
		Ok(store)
	}

	fn reconcile(&self) -> Result<()> {
		let (mut used, mut count) = (0u64, 0u64);
		let mut missing = Vec::new();
		let mut indexed = std::collections::HashSet::new();
		for entry in self.slice_entries() {
			let (hash, meta) = entry?;
			if self.fs.exists(&self.slice_path(&hash)) {
				used += meta.len;
				count += 1;
				indexed.insert(hash);
			} else {
				missing.push(hash);
			}
		}
		for hash in missing {
			tracing::error!(slice = %hash, "indexed slice file is missing; dropping it from the index");
			let mut batch = rocksdb::WriteBatch::default();
			batch.delete(slice_key(&hash));
			batch.put(lost_key(&hash), []);
			self.db.write_opt(batch, &synced())?;
		}
		let slices_dir = self.root.join("slices");
		for sub in self.fs.read_dir(&slices_dir).map_err(|e| Error::io("list", &slices_dir, e))? {
			if !self.fs.is_dir(&sub) {
				continue;
			}
			for f in self.fs.read_dir(&sub).map_err(|e| Error::io("list", &sub, e))? {
				let named = f
					.file_name()
					.and_then(|n| n.to_str())
					.and_then(|n| SliceHash::from_hex(n).ok());
				if named.is_some_and(|h| indexed.contains(&h)) {
					continue;
				}
				match named.map(|h| self.reindex(&f, h)).transpose()? {
					Some(Some(len)) => {
						used += len;
						count += 1;
					},
					_ => {
						let name = f.file_name().unwrap_or_default();
						let to = self.root.join("corrupt").join(name);
						tracing::error!(path = %f.display(), "a slice file without an index entry is not the slice its name says; moved to corrupt/");
						self.fs
							.rename(&f, &to)
							.map_err(|e| Error::io("move to corrupt/", &f, e))?;
						self.corrupt.fetch_add(1, Ordering::SeqCst);
					},
				}
			}
		}
		self.used.store(used, Ordering::SeqCst);
		self.slices.store(count, Ordering::SeqCst);
		Ok(())
	}

	/// Re-hashes a slice file that has no index entry; indexes it and returns its length if
	/// it is the slice `claimed`, `None` if not.
	fn reindex(&self, path: &Path, claimed: SliceHash) -> Result<Option<u64>> {
		use std::io::Read;
		let mut file = self.fs.open(path).map_err(|e| Error::io("open", path, e))?;
		let mut hasher = SliceHasher::new();
		let mut buf = vec![0u8; CHUNK_SIZE as usize];
		let mut len = 0u64;
		loop {
			let n = file.read(&mut buf).map_err(|e| Error::io("read", path, e))?;
			if n == 0 {
				break;
			}
			hasher.update(&buf[..n]);
			len += n as u64;
		}
		let (root, chunk_hashes) = hasher.finish();
		if root != claimed.0 {
			return Ok(None);
		}
		let meta = SliceMeta { len, chunk_hashes };
		self.db.put_opt(slice_key(&claimed), meta.encode(), &synced())?;
		tracing::warn!(slice = %claimed, bytes = len, "re-indexed a slice file that had no index entry");
		Ok(Some(len))
	}

	fn slice_path(&self, h: &SliceHash) -> PathBuf {
		let hex = h.to_hex();
		self.root.join("slices").join(&hex[..2]).join(hex)
	}

	/// Store counts.
	pub fn stats(&self) -> Stats {
		Stats {
			slices: self.slices.load(Ordering::SeqCst),
			used: self.used.load(Ordering::SeqCst),
			reserved: *self.reserved.lock().expect("lock"),
			capacity: self.capacity,
			corrupt: self.corrupt.load(Ordering::SeqCst),
			scrubbed: self.scrubbed.load(Ordering::SeqCst),
			pending_uploads: self
				.db
				.prefix_iterator([PENDING_PREFIX])
				.take_while(|i| matches!(i, Ok((k, _)) if k.first() == Some(&PENDING_PREFIX)))
				.count() as u64,
		}
	}

	/// The index entry of a slice, if stored.
	pub fn meta(&self, h: &SliceHash) -> Result<Option<SliceMeta>> {
		match self.db.get_pinned(slice_key(h))? {
			None => Ok(None),
			Some(v) => SliceMeta::decode(&mut &v[..])
				.map(Some)
				.map_err(|_| Error::BadIndexEntry(h.to_string())),
		}
	}

	/// All stored slices with their lengths.
	pub fn list(&self) -> Result<Vec<(SliceHash, u64)>> {
		self.slice_entries().map(|e| e.map(|(hash, meta)| (hash, meta.len))).collect()
	}

	/// The index entries of all slices, in hash order.
	fn slice_entries(&self) -> impl Iterator<Item = Result<(SliceHash, SliceMeta)>> + '_ {
		self.db
			.prefix_iterator([SLICE_PREFIX])
			.take_while(|item| !matches!(item, Ok((k, _)) if k.first() != Some(&SLICE_PREFIX)))
			.map(|item| {
				let (k, v) = item?;
				let hash = SliceHash(
					k[1..].try_into().map_err(|_| Error::BadIndexEntry(format!("{k:?}")))?,
				);
				let meta = SliceMeta::decode(&mut &v[..])
					.map_err(|_| Error::BadIndexEntry(hash.to_string()))?;
				Ok((hash, meta))
			})
	}

	/// Starts receiving a slice of `len` bytes, reserving the space.
	pub fn begin_put(&self, len: u64) -> Result<PutWriter<'_>> {
		{
			let mut reserved = self.reserved.lock().expect("lock");
			let used = self.used.load(Ordering::SeqCst);
			let free = self.capacity.saturating_sub(used + *reserved);
			if len > free {
				return Err(Error::CapacityExceeded { needed: len, free, capacity: self.capacity });
			}
			*reserved += len;
		}
		let name: u128 = rand::random();
		let path = self.root.join("tmp").join(format!("{name:032x}"));
		let file = match self.fs.create_new(&path) {
			Ok(f) => f,
			Err(e) => {
				*self.reserved.lock().expect("lock") -= len;
				return Err(Error::io("create", &path, e));
			},
		};
		Ok(PutWriter {
			store: self,
			path,
			file: Some(file),
			len,
			written: 0,
			hasher: SliceHasher::new(),
		})
	}

	/// Deletes a slice (idempotent), and the manifests that name it: the meta nodes order a
	/// slice deleted only when no file on this node needs it any more.
	pub fn delete(&self, h: &SliceHash) -> Result<bool> {
		{
			let _book = self.book_lock.lock().expect("lock");
			for (owner, file_id) in self.manifests_naming(h)? {
				self.forget_manifest(&owner, &file_id)?;
			}
		}
		self.delete_slice(h)
	}

	fn delete_slice(&self, h: &SliceHash) -> Result<bool> {
		let _guard = self.commit_lock.lock().expect("lock");
		let Some(meta) = self.meta(h)? else { return Ok(false) };
		self.db.delete_opt(slice_key(h), &synced())?;
		let path = self.slice_path(h);
		match self.fs.remove_file(&path) {
			Ok(()) => {},
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => {},
			Err(e) => return Err(Error::io("remove", &path, e)),
		}
		self.used.fetch_sub(meta.len, Ordering::SeqCst);
		self.slices.fetch_sub(1, Ordering::SeqCst);
		Ok(true)
	}

	/// Opens a slice for verified reads.
	pub fn open_read(&self, h: &SliceHash) -> Result<SliceReader<'_>> {
		let meta = self.meta(h)?.ok_or(Error::NotFound(*h))?;
		let path = self.slice_path(h);
		let file = match self.fs.open(&path) {
			Ok(f) => f,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
				return Err(self.quarantine(h, "slice file missing".into()));
			},
			Err(e) => return Err(Error::io("open", &path, e)),
		};
		Ok(SliceReader { store: self, hash: *h, meta, file })
	}

	/// Reads a whole slice, verified (for tests and small slices).
	pub fn read_all(&self, h: &SliceHash) -> Result<Vec<u8>> {
		let r = self.open_read(h)?;
		let mut out = Vec::with_capacity(r.meta.len as usize);
		for i in 0..r.meta.chunk_hashes.len() as u64 {
			out.extend_from_slice(&r.read_chunk(i)?);
		}
		Ok(out)
	}

	/// Re-hashes stored slices in hash order, starting after `after`, until about
	/// `max_bytes` were read (at least one slice); corrupt ones are quarantined as on any
	/// read. Call again with [`ScrubStep::next`] to go on; `None` means the end was reached.
	pub fn scrub(&self, after: Option<SliceHash>, max_bytes: u64) -> Result<ScrubStep> {
		let start = match after {
			Some(h) => {
				let mut k = slice_key(&h).to_vec();
				k.push(0); // strictly after
				k
			},
			None => vec![SLICE_PREFIX],
		};
		let mut todo = Vec::new();
		let mut planned = 0u64;
		let iter =
			self.db.iterator(rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward));
		let mut reached_end = true;
		for item in iter {
			let (k, v) = item?;
			if k.first() != Some(&SLICE_PREFIX) {
				break;
			}
			if !todo.is_empty() && planned >= max_bytes {
				reached_end = false;
				break;
			}
			let hash =
				SliceHash(k[1..].try_into().map_err(|_| Error::BadIndexEntry(format!("{k:?}")))?);
			let len = SliceMeta::decode(&mut &v[..])
				.map_err(|_| Error::BadIndexEntry(hash.to_string()))?
				.len;
			planned += len;
			todo.push(hash);
		}
		let mut step = ScrubStep::default();
		for hash in &todo {
			let verified = self.verify(hash);
			match verified {
				Ok(Some(len)) => {
					step.checked += 1;
					step.bytes += len;
				},
				Err(Error::Corrupt { slice, .. }) => step.corrupt.push(slice),
				// Deleted meanwhile.
				Ok(None) => {},
				Err(e) => return Err(e),
			}
		}
		self.scrubbed.fetch_add(step.bytes, Ordering::SeqCst);
		step.next = if reached_end { None } else { todo.last().copied() };
		Ok(step)
	}

	/// Reads a whole slice against its hashes without keeping the bytes: its length if it
	/// is intact, `None` if it is not stored; a corrupt slice is quarantined.
	pub fn verify(&self, h: &SliceHash) -> Result<Option<u64>> {
		let r = match self.open_read(h) {
			Ok(r) => r,
			Err(Error::NotFound(_)) => return Ok(None),
			Err(e) => return Err(e),
		};
		r.check_index()?;
		let total = chunk_count(r.meta.len);
		let mut i = 0;
		while i < total {
			i += r.read_chunks(i, 16)?.len().max(1) as u64;
		}
		Ok(Some(r.meta.len))
	}

	/// Moves a corrupt slice out of the way and drops it from the index.
	fn quarantine(&self, h: &SliceHash, detail: String) -> Error {
		let _guard = self.commit_lock.lock().expect("lock");
		tracing::error!(slice = %h, %detail, "corrupt slice quarantined");
		if let Ok(Some(meta)) = self.meta(h) {
			let mut batch = rocksdb::WriteBatch::default();
			batch.delete(slice_key(h));
			batch.put(lost_key(h), []);
			if self.db.write_opt(batch, &synced()).is_ok() {
				self.used.fetch_sub(meta.len, Ordering::SeqCst);
				self.slices.fetch_sub(1, Ordering::SeqCst);
				self.corrupt.fetch_add(1, Ordering::SeqCst);
			}
		}
		let from = self.slice_path(h);
		let to = self.root.join("corrupt").join(h.to_hex());
		let _ = self.fs.rename(&from, &to);
		Error::Corrupt { slice: *h, detail }
	}

	// ---- uploads in progress and manifests ----

	/// Notes that `slice` is being stored under upload `task` (call it before storing, so a
	/// concurrent [`Store::drop_pending`] of another upload keeps the slice).
	pub fn note_pending(
		&self,
		task: &TaskId,
		owner: [u8; 32],
		expires_at: u32,
		slice: SliceHash,
	) -> Result<()> {
		let _book = self.book_lock.lock().expect("lock");
		let key = prefixed(PENDING_PREFIX, &[&task.0]);
		let mut p = match self.db.get_pinned(&key)? {
			Some(v) => PendingUpload::decode(&mut &v[..])
				.map_err(|_| Error::BadIndexEntry(format!("pending upload {task}")))?,
			None => PendingUpload { owner, expires_at, slices: Vec::new() },
		};
		if p.slices.contains(&slice) {
			return Ok(());
		}
		p.slices.push(slice);
		p.expires_at = p.expires_at.max(expires_at);
		self.db.put_opt(key, p.encode(), &synced())?;
		Ok(())
	}

	/// Uploads whose file is not confirmed yet.
	pub fn pending(&self) -> Result<Vec<(TaskId, PendingUpload)>> {
		let mut out = Vec::new();
		for item in self.db.prefix_iterator([PENDING_PREFIX]) {
			let (k, v) = item?;
			if k.first() != Some(&PENDING_PREFIX) {
				break;
			}
			let task =
				TaskId(k[1..].try_into().map_err(|_| Error::BadIndexEntry("pending key".into()))?);
			let p = PendingUpload::decode(&mut &v[..])
				.map_err(|_| Error::BadIndexEntry(format!("pending upload {task}")))?;
			out.push((task, p));
		}
		Ok(out)
	}

	/// The upload `task` became the file of `manifest`: keeps the manifest (the slices stay)
	/// and forgets the pending upload. Refuses a manifest whose slices do not hash to its
	/// file id, or that names a slice this node does not hold.
	pub fn complete_pending(&self, task: &TaskId, manifest: &FileManifest) -> Result<()> {
		self.put_manifest(manifest)?;
		let _book = self.book_lock.lock().expect("lock");
		self.db.delete_opt(prefixed(PENDING_PREFIX, &[&task.0]), &synced())?;
		Ok(())
	}

	/// The upload `task` never completed: deletes its slices that no manifest and no other
	/// pending upload names, and forgets it. Returns the slices deleted.
	pub fn drop_pending(&self, task: &TaskId) -> Result<Vec<SliceHash>> {
		let _book = self.book_lock.lock().expect("lock");
		let key = prefixed(PENDING_PREFIX, &[&task.0]);
		let Some(v) = self.db.get(&key)? else { return Ok(Vec::new()) };
		let p = PendingUpload::decode(&mut &v[..])
			.map_err(|_| Error::BadIndexEntry(format!("pending upload {task}")))?;
		let others: std::collections::HashSet<SliceHash> = self
			.pending()?
			.into_iter()
			.filter(|(t, _)| t != task)
			.flat_map(|(_, o)| o.slices)
			.collect();
		let mut deleted = Vec::new();
		for s in &p.slices {
			if others.contains(s) || !self.manifests_naming(s)?.is_empty() {
				continue;
			}
			if self.delete_slice(s)? {
				deleted.push(*s);
			}
		}
		self.db.delete_opt(key, &synced())?;
		Ok(deleted)
	}

	/// Keeps a file's manifest (idempotent). Refuses one whose slices do not hash to its
	/// file id, or that names a slice this node does not hold.
	pub fn put_manifest(&self, m: &FileManifest) -> Result<()> {
		if !m.is_consistent() {
			return Err(Error::BadManifest(format!(
				"the slices of file {} do not hash to its id",
				m.file_id
			)));
		}
		for s in &m.slices {
			if self.meta(s)?.is_none() {
				return Err(Error::BadManifest(format!(
					"file {} names slice {s}, which this node does not hold",
					m.file_id
				)));
			}
		}
		let _book = self.book_lock.lock().expect("lock");
		let mut batch = rocksdb::WriteBatch::default();
		batch.put(prefixed(MANIFEST_PREFIX, &[&m.owner, &m.file_id.0]), m.encode());
		for s in &m.slices {
			batch.put(prefixed(REF_PREFIX, &[&s.0, &m.owner, &m.file_id.0]), []);
		}
		self.db.write_opt(batch, &synced())?;
		Ok(())
	}

	/// Up to `limit` manifests after `after` (owner, file id), in key order; fewer than
	/// `limit` means the end.
	pub fn manifests(
		&self,
		after: Option<([u8; 32], FileId)>,
		limit: usize,
	) -> Result<Vec<FileManifest>> {
		let start = match &after {
			Some((o, f)) => {
				let mut k = prefixed(MANIFEST_PREFIX, &[o, &f.0]);
				k.push(0); // strictly after
				k
			},
			None => vec![MANIFEST_PREFIX],
		};
		let mut out = Vec::new();
		let iter =
			self.db.iterator(rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward));
		for item in iter {
			let (k, v) = item?;
			if k.first() != Some(&MANIFEST_PREFIX) || out.len() >= limit {
				break;
			}
			out.push(
				FileManifest::decode(&mut &v[..])
					.map_err(|_| Error::BadIndexEntry("manifest".into()))?,
			);
		}
		Ok(out)
	}

	/// The (owner, file id) of every manifest naming `slice`.
	fn manifests_naming(&self, slice: &SliceHash) -> Result<Vec<([u8; 32], FileId)>> {
		let prefix = prefixed(REF_PREFIX, &[&slice.0]);
		let mut out = Vec::new();
		for item in self.db.prefix_iterator(&prefix) {
			let (k, _) = item?;
			if !k.starts_with(&prefix) {
				break;
			}
			let rest = &k[prefix.len()..];
			let bad = || Error::BadIndexEntry("manifest reference".into());
			let owner: [u8; 32] = rest.get(..32).and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
			let file: [u8; 32] =
				rest.get(32..64).and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
			out.push((owner, FileId(file)));
		}
		Ok(out)
	}

	/// Removes a manifest and its slice references (not the slices).
	fn forget_manifest(&self, owner: &[u8; 32], file_id: &FileId) -> Result<()> {
		let key = prefixed(MANIFEST_PREFIX, &[owner, &file_id.0]);
		let Some(v) = self.db.get(&key)? else { return Ok(()) };
		let m = FileManifest::decode(&mut &v[..])
			.map_err(|_| Error::BadIndexEntry("manifest".into()))?;
		let mut batch = rocksdb::WriteBatch::default();
		batch.delete(key);
		for s in &m.slices {
			batch.delete(prefixed(REF_PREFIX, &[&s.0, owner, &file_id.0]));
		}
		self.db.write_opt(batch, &synced())?;
		Ok(())
	}

	/// Stores a countersigned receipt durably, and queues it for the audit
	/// ([`Store::unreported_receipts`]).
	pub fn put_receipt(&self, r: &SignedReceipt) -> Result<()> {
		// Period first (the audit and `receipts` read by period), then everything that tells
		// two transfers of one task apart: slice, range and client.
		let mut key = Vec::with_capacity(1 + 4 + 32 + 32 + 8 + 8 + 32);
		key.push(RECEIPT_PREFIX);
		key.extend_from_slice(&r.receipt.ledger_period.to_be_bytes());
		key.extend_from_slice(&r.receipt.task_id.0);
		key.extend_from_slice(&r.receipt.slice.0);
		key.extend_from_slice(&r.receipt.offset.to_be_bytes());
		key.extend_from_slice(&r.receipt.length.to_be_bytes());
		key.extend_from_slice(&r.receipt.client);
		let mut batch = rocksdb::WriteBatch::default();
		batch.put(&key, r.encode());
		key[0] = UNREPORTED_PREFIX;
		batch.put(&key, []);
		self.db.write_opt(batch, &synced())?;
		Ok(())
	}

	/// Up to `limit` receipts not yet delivered to the audit, oldest period first, each with
	/// the handle [`Store::mark_reported`] takes.
	pub fn unreported_receipts(&self, limit: usize) -> Result<Vec<(Vec<u8>, SignedReceipt)>> {
		let mut out = Vec::new();
		for item in self.db.prefix_iterator([UNREPORTED_PREFIX]) {
			let (k, _) = item?;
			if k.first() != Some(&UNREPORTED_PREFIX) || out.len() >= limit {
				break;
			}
			let mut rk = k.to_vec();
			rk[0] = RECEIPT_PREFIX;
			match self.db.get(&rk)? {
				Some(v) => out.push((
					k.to_vec(),
					SignedReceipt::decode(&mut &v[..])
						.map_err(|_| Error::BadIndexEntry("receipt".into()))?,
				)),
				// The receipt is gone: nothing to report.
				None => self.db.delete(&k)?,
			}
		}
		Ok(out)
	}

	/// Marks receipts as delivered to the audit (the meta nodes answered for them).
	pub fn mark_reported(&self, handles: &[Vec<u8>]) -> Result<()> {
		let mut batch = rocksdb::WriteBatch::default();
		for k in handles {
			if k.first() == Some(&UNREPORTED_PREFIX) {
				batch.delete(k);
			}
		}
		self.db.write_opt(batch, &synced())?;
		Ok(())
	}

	/// Up to `limit` slices this node lost (quarantined as corrupt, or whose file vanished)
	/// that the meta nodes were not told of yet. They stay listed across restarts until
	/// [`Store::mark_lost_reported`], or until the slice is stored again.
	pub fn lost_slices(&self, limit: usize) -> Result<Vec<SliceHash>> {
		let mut out = Vec::new();
		for item in self.db.prefix_iterator([LOST_PREFIX]) {
			let (k, _) = item?;
			if k.first() != Some(&LOST_PREFIX) || out.len() >= limit {
				break;
			}
			out.push(SliceHash(
				k[1..].try_into().map_err(|_| Error::BadIndexEntry(format!("{k:?}")))?,
			));
		}
		Ok(out)
	}

	/// Notes that the meta nodes were told of these lost slices.
	pub fn mark_lost_reported(&self, slices: &[SliceHash]) -> Result<()> {
		let mut batch = rocksdb::WriteBatch::default();
		for s in slices {
			batch.delete(lost_key(s));
		}
		self.db.write_opt(batch, &synced())?;
		Ok(())
	}

	/// Receipts of a ledger period, in key order.
	pub fn receipts(&self, ledger_period: u32) -> Result<Vec<SignedReceipt>> {
		let mut prefix = vec![RECEIPT_PREFIX];
		prefix.extend_from_slice(&ledger_period.to_be_bytes());
		let mut out = Vec::new();
		for item in self.db.prefix_iterator(&prefix) {
			let (k, v) = item?;
			if !k.starts_with(&prefix) {
				break;
			}
			out.push(
				SignedReceipt::decode(&mut &v[..])
					.map_err(|_| Error::BadIndexEntry("receipt".into()))?,
			);
		}
		Ok(out)
	}
}

/// A slice being received. Dropping it without [`PutWriter::commit`] removes the partial
/// file and releases the reservation.
pub struct PutWriter<'a> {
	store: &'a Store,
	path: PathBuf,
	file: Option<File>,
	len: u64,
	written: u64,
	hasher: SliceHasher,
}

impl PutWriter<'_> {
	/// Appends bytes.
	pub fn write(&mut self, data: &[u8]) -> Result<()> {
		if self.written + data.len() as u64 > self.len {
			return Err(Error::TooManyBytes { announced: self.len });
		}
		let file = self.file.as_mut().expect("file until commit");
		file.write_all(data).map_err(|e| Error::io("write", &self.path, e))?;
		self.hasher.update(data);
		self.written += data.len() as u64;
		Ok(())
	}

	/// Bytes written so far.
	pub fn written(&self) -> u64 {
		self.written
	}

	/// Checks the bytes against `claimed`, makes the slice durable and indexes it. Returns
	/// once a crash can no longer lose it. Storing a slice that is already stored is a no-op.
	pub fn commit(mut self, claimed: SliceHash) -> Result<SliceHash> {
		let file = self.file.take().expect("file until commit");
		let hasher = std::mem::take(&mut self.hasher);
		let (root, chunk_hashes) = hasher.finish();
		let actual = SliceHash(root);
		if actual != claimed || self.written != self.len {
			return Err(Error::HashMismatch {
				claimed,
				claimed_len: self.len,
				actual,
				actual_len: self.written,
			});
		}
		let store = self.store;
		store.fs.sync_file(&self.path, &file).map_err(|e| Error::io("fsync", &self.path, e))?;
		drop(file);
		let _guard = store.commit_lock.lock().expect("lock");
		if store.meta(&actual)?.is_some() {
			return Ok(actual);
		}
		let dest = store.slice_path(&actual);
		let dir = dest.parent().expect("slice dir").to_path_buf();
		let sync_dir =
			|d: &Path| store.fs.sync_dir(d).map_err(|e| Error::io("sync directory", d, e));
		if !store.fs.is_dir(&dir) {
			// A new `slices/xx` must itself survive a crash: sync its parent.
			store.fs.create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
			sync_dir(dir.parent().expect("slices/"))?;
		}
		store.fs.rename(&self.path, &dest).map_err(|e| Error::io("rename", &dest, e))?;
		sync_dir(&dir)?;
		let meta = SliceMeta { len: self.len, chunk_hashes };
		let mut batch = rocksdb::WriteBatch::default();
		batch.put(slice_key(&actual), meta.encode());
		// Stored again: no longer lost.
		batch.delete(lost_key(&actual));
		if let Err(e) = store.db.write_opt(batch, &synced()) {
			// Not acknowledged: leave no file the index does not know (the reservation is
			// released when the writer drops).
			let _ = store.fs.remove_file(&dest);
			let _ = sync_dir(&dir);
			return Err(e.into());
		}
		store.used.fetch_add(self.len, Ordering::SeqCst);
		store.slices.fetch_add(1, Ordering::SeqCst);
		Ok(actual)
	}
}

impl Drop for PutWriter<'_> {
	fn drop(&mut self) {
		*self.store.reserved.lock().expect("lock") -= self.len;
		if self.file.take().is_some() || self.store.fs.exists(&self.path) {
			let _ = self.store.fs.remove_file(&self.path);
		}
	}
}

/// Verified reads of one stored slice.
pub struct SliceReader<'a> {
	store: &'a Store,
	hash: SliceHash,
	meta: SliceMeta,
	file: File,
}

impl SliceReader<'_> {
	/// The slice's index entry.
	pub fn meta(&self) -> &SliceMeta {
		&self.meta
	}

	/// Reads chunk `index`, checking it against its hash; a mismatch quarantines the slice.
	pub fn read_chunk(&self, index: u64) -> Result<Vec<u8>> {
		self.read_chunks(index, 1)?.pop().ok_or(Error::BadRange {
			offset: index * CHUNK_SIZE as u64,
			length: 0,
			slice_len: self.meta.len,
		})
	}

	/// Reads chunks `first..first + count` (clipped to the slice) with one positional read,
	/// checking each against its hash; a mismatch quarantines the slice.
	pub fn read_chunks(&self, first: u64, count: u64) -> Result<Vec<Vec<u8>>> {
		let mut buf = Vec::new();
		self.read_chunks_into(first, count, &mut buf)?;
		Ok(buf.chunks(CHUNK_SIZE as usize).map(<[u8]>::to_vec).collect())
	}

	/// [`SliceReader::read_chunks`] into `buf` (resized to the bytes read; its allocation is
	/// reused, so a serving loop allocates nothing per batch): chunk `first + k` is
	/// `buf[k * CHUNK_SIZE..]`, up to `CHUNK_SIZE` bytes.
	pub fn read_chunks_into(&self, first: u64, count: u64, buf: &mut Vec<u8>) -> Result<()> {
		let total = chunk_count(self.meta.len);
		let end = first.saturating_add(count).min(total);
		if first >= end {
			buf.clear();
			return Ok(());
		}
		let cs = CHUNK_SIZE as u64;
		let start = first * cs;
		let stop = (end * cs).min(self.meta.len);
		// Same length as last time (the usual case): no zeroing, the read overwrites it.
		buf.resize((stop - start) as usize, 0);
		if let Err(e) = self.file.read_exact_at(buf, start) {
			if e.kind() == std::io::ErrorKind::UnexpectedEof {
				return Err(self.store.quarantine(&self.hash, "slice file is truncated".into()));
			}
			return Err(Error::io("read", self.store.slice_path(&self.hash), e));
		}
		for (k, chunk) in buf.chunks(cs as usize).enumerate() {
			let index = first + k as u64;
			if chunk_hash(chunk) != self.meta.chunk_hashes[index as usize] {
				return Err(self
					.store
					.quarantine(&self.hash, format!("chunk {index} does not match its hash")));
			}
		}
		Ok(())
	}

	/// Checks that the index's chunk hashes lead to the slice hash (done once per read
	/// session, so a damaged index entry is caught too).
	pub fn check_index(&self) -> Result<()> {
		let root = root_of(chunk_leaves(self.meta.len, &self.meta.chunk_hashes));
		if root != self.hash.0 {
			return Err(self
				.store
				.quarantine(&self.hash, "index chunk hashes do not match the slice hash".into()));
		}
		Ok(())
	}
}
