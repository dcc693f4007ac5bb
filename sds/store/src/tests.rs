use super::*;
use stratos_primitives::merkle::{SliceHasher, CHUNK_SIZE};
use stratos_primitives::{meta::FileManifest, FileId, TaskId};

fn data(len: usize, seed: u8) -> Vec<u8> {
	(0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn hash(d: &[u8]) -> SliceHash {
	let mut h = SliceHasher::new();
	h.update(d);
	SliceHash(h.finish().0)
}

fn put(store: &Store, d: &[u8]) -> Result<SliceHash> {
	let mut w = store.begin_put(d.len() as u64)?;
	for piece in d.chunks(10_000) {
		w.write(piece)?;
	}
	w.commit(hash(d))
}

#[test]
fn put_read_survives_reopen() {
	let dir = tempfile::tempdir().unwrap();
	let d = data(3 * CHUNK_SIZE as usize + 17, 1);
	let h = {
		let store = Store::open(dir.path(), 1 << 30).unwrap();
		let h = put(&store, &d).unwrap();
		assert_eq!(store.read_all(&h).unwrap(), d);
		assert_eq!(store.stats().slices, 1);
		h
	};
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	assert_eq!(store.read_all(&h).unwrap(), d);
	assert_eq!(store.stats().used, d.len() as u64);
	assert_eq!(store.list().unwrap(), vec![(h, d.len() as u64)]);
	// storing it again changes nothing
	put(&store, &d).unwrap();
	assert_eq!(store.stats().used, d.len() as u64);
	assert!(store.delete(&h).unwrap());
	assert!(matches!(store.open_read(&h), Err(Error::NotFound(_))));
	assert_eq!(store.stats().used, 0);
}

#[test]
fn wrong_hash_or_length_is_refused_and_leaves_nothing() {
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	let d = data(1000, 2);
	let mut w = store.begin_put(1000).unwrap();
	w.write(&d).unwrap();
	assert!(matches!(w.commit(SliceHash([0; 32])), Err(Error::HashMismatch { .. })));
	let mut w = store.begin_put(1000).unwrap();
	w.write(&d[..999]).unwrap();
	assert!(matches!(w.commit(hash(&d)), Err(Error::HashMismatch { .. })));
	let mut w = store.begin_put(10).unwrap();
	assert!(matches!(w.write(&d[..11]), Err(Error::TooManyBytes { announced: 10 })));
	drop(w);
	assert_eq!(fs_count(&dir.path().join("tmp")), 0);
	assert_eq!(
		store.stats(),
		Stats {
			slices: 0,
			used: 0,
			reserved: 0,
			capacity: 1 << 30,
			corrupt: 0,
			pending_uploads: 0,
			scrubbed: 0
		}
	);
}

fn fs_count(p: &std::path::Path) -> usize {
	std::fs::read_dir(p).unwrap().count()
}

#[test]
fn capacity_is_enforced_including_puts_in_flight() {
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(dir.path(), 2500).unwrap();
	put(&store, &data(1000, 1)).unwrap();
	let w = store.begin_put(1000).unwrap();
	match store.begin_put(1000) {
		Err(Error::CapacityExceeded { needed: 1000, free: 500, capacity: 2500 }) => {},
		other => panic!("{:?}", other.map(|_| ())),
	}
	drop(w);
	put(&store, &data(1000, 2)).unwrap();
}

#[test]
fn corrupt_chunk_is_never_served_and_is_quarantined() {
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	let d = data(2 * CHUNK_SIZE as usize, 3);
	let h = put(&store, &d).unwrap();
	let hex = h.to_hex();
	let path = dir.path().join("slices").join(&hex[..2]).join(&hex);
	let mut bytes = std::fs::read(&path).unwrap();
	bytes[CHUNK_SIZE as usize + 5] ^= 0x40;
	std::fs::write(&path, bytes).unwrap();
	let r = store.open_read(&h).unwrap();
	assert_eq!(r.read_chunk(0).unwrap(), d[..CHUNK_SIZE as usize]);
	assert_eq!(r.read_chunks(0, 1).unwrap(), vec![d[..CHUNK_SIZE as usize].to_vec()]);
	assert!(matches!(r.read_chunks(0, 8), Err(Error::Corrupt { .. })));
	assert!(store.meta(&h).unwrap().is_none());
	assert!(dir.path().join("corrupt").join(&hex).exists());
	assert_eq!(store.stats().corrupt, 1);
	assert!(matches!(store.open_read(&h), Err(Error::NotFound(_))));
	// The loss is kept for the meta nodes until they are told of it, across a restart.
	assert_eq!(store.lost_slices(10).unwrap(), vec![h]);
	drop(r);
	drop(store);
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	assert_eq!(store.lost_slices(10).unwrap(), vec![h]);
	store.mark_lost_reported(&[h]).unwrap();
	assert!(store.lost_slices(10).unwrap().is_empty());
}

#[test]
fn a_lost_slice_stored_again_is_no_longer_lost() {
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	let d = data(CHUNK_SIZE as usize + 9, 7);
	let keep = put(&store, &data(100, 8)).unwrap();
	let h = put(&store, &d).unwrap();
	let hex = h.to_hex();
	let path = dir.path().join("slices").join(&hex[..2]).join(&hex);
	let mut bytes = std::fs::read(&path).unwrap();
	bytes[3] ^= 1;
	std::fs::write(&path, bytes).unwrap();
	assert!(matches!(store.verify(&h), Err(Error::Corrupt { .. })));
	assert_eq!(store.lost_slices(10).unwrap(), vec![h]);
	put(&store, &d).unwrap();
	assert!(store.lost_slices(10).unwrap().is_empty());
	assert_eq!(store.read_all(&h).unwrap(), d);
	assert_eq!(store.verify(&keep).unwrap(), Some(100));
}

#[test]
fn truncated_or_missing_files_are_detected() {
	let dir = tempfile::tempdir().unwrap();
	let d = data(CHUNK_SIZE as usize + 10, 4);
	let (h, h2) = {
		let store = Store::open(dir.path(), 1 << 30).unwrap();
		let h = put(&store, &d).unwrap();
		let hex = h.to_hex();
		let path = dir.path().join("slices").join(&hex[..2]).join(&hex);
		std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(100).unwrap();
		assert!(matches!(store.read_all(&h), Err(Error::Corrupt { .. })));
		let h2 = put(&store, &data(50, 5)).unwrap();
		let hex = h2.to_hex();
		std::fs::remove_file(dir.path().join("slices").join(&hex[..2]).join(&hex)).unwrap();
		(h, h2)
	};
	// the missing file is dropped from the index on open; both are lost to the meta nodes
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	assert!(store.meta(&h).unwrap().is_none());
	assert_eq!(store.stats().slices, 0);
	let mut want = vec![h, h2];
	want.sort();
	assert_eq!(store.lost_slices(10).unwrap(), want);
	assert_eq!(store.lost_slices(1).unwrap().len(), 1);
}

#[test]
fn leftovers_of_a_crash_are_cleaned_on_open() {
	let dir = tempfile::tempdir().unwrap();
	{
		let store = Store::open(dir.path(), 1 << 30).unwrap();
		put(&store, &data(100, 6)).unwrap();
	}
	std::fs::write(dir.path().join("tmp/partial"), b"half").unwrap();
	let orphan = SliceHash([9; 32]).to_hex();
	std::fs::create_dir_all(dir.path().join("slices").join(&orphan[..2])).unwrap();
	std::fs::write(dir.path().join("slices").join(&orphan[..2]).join(&orphan), b"x").unwrap();
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	assert_eq!(fs_count(&dir.path().join("tmp")), 0);
	// A file that is not the slice its name says is kept for inspection, not served.
	assert!(!dir.path().join("slices").join(&orphan[..2]).join(&orphan).exists());
	assert!(dir.path().join("corrupt").join(&orphan).exists());
	assert_eq!(store.stats().slices, 1);
	assert_eq!(store.stats().corrupt, 1);
}

/// Losing the index (or crashing between the rename and the index write) must not lose
/// data: slice files are re-hashed and re-indexed, never deleted.
#[test]
fn a_lost_index_is_rebuilt_from_the_slice_files() {
	let dir = tempfile::tempdir().unwrap();
	let (a, b) = (data(2 * CHUNK_SIZE as usize + 5, 7), data(300, 8));
	let (ha, hb) = {
		let store = Store::open(dir.path(), 1 << 30).unwrap();
		(put(&store, &a).unwrap(), put(&store, &b).unwrap())
	};
	std::fs::remove_dir_all(dir.path().join("index")).unwrap();
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	assert_eq!(store.read_all(&ha).unwrap(), a);
	assert_eq!(store.read_all(&hb).unwrap(), b);
	let s = store.stats();
	assert_eq!((s.slices, s.used, s.corrupt), (2, (a.len() + b.len()) as u64, 0));
	// The rebuilt entries are durable: a second open finds them without re-hashing.
	drop(store);
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	assert_eq!(store.meta(&ha).unwrap().map(|m| m.len), Some(a.len() as u64));
	assert_eq!(store.stats().slices, 2);
}

/// A second node on the same data directory fails with a clear error before it touches
/// anything: the first one's put in flight completes.
#[test]
fn a_second_store_on_the_same_directory_is_refused_and_touches_nothing() {
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	let d = data(CHUNK_SIZE as usize + 1, 9);
	let mut w = store.begin_put(d.len() as u64).unwrap();
	w.write(&d[..1000]).unwrap();
	match Store::open(dir.path(), 1 << 30) {
		Err(Error::InUse(p)) => assert_eq!(p, dir.path()),
		Err(e) => panic!("expected InUse, got {e}"),
		Ok(_) => panic!("a second store opened the same directory"),
	}
	assert!(Error::InUse(dir.path().into()).to_string().contains("in use by another"));
	assert_eq!(fs_count(&dir.path().join("tmp")), 1, "the partial slice is still there");
	w.write(&d[1000..]).unwrap();
	let h = w.commit(hash(&d)).unwrap();
	assert_eq!(store.read_all(&h).unwrap(), d);
	drop(store);
	// Once the first closes, the directory opens again.
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	assert_eq!(store.read_all(&h).unwrap(), d);
}

#[test]
fn receipts_are_kept_per_period() {
	use stratos_primitives::{receipt::*, NodeId, TaskId};
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	let mk = |period, task| SignedReceipt {
		receipt: TaskReceipt {
			genesis_hash: [0; 32],
			ledger_period: period,
			task_id: TaskId([task; 32]),
			client: [1; 32],
			node: NodeId([2; 32]),
			slice: SliceHash([3; 32]),
			offset: 0,
			length: 10,
		},
		node_signature: [4; 64],
		client_signature: [5; 64],
	};
	store.put_receipt(&mk(1, 1)).unwrap();
	store.put_receipt(&mk(2, 1)).unwrap();
	store.put_receipt(&mk(1, 2)).unwrap();
	assert_eq!(store.receipts(1).unwrap(), vec![mk(1, 1), mk(1, 2)]);
	assert_eq!(store.receipts(3).unwrap(), vec![]);
	// Every receipt waits for the audit until it is marked delivered, across a reopen.
	let pending = store.unreported_receipts(2).unwrap();
	assert_eq!(pending.iter().map(|(_, r)| *r).collect::<Vec<_>>(), vec![mk(1, 1), mk(1, 2)]);
	store.mark_reported(&[pending[0].0.clone()]).unwrap();
	drop(store);
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	let rest: Vec<_> = store.unreported_receipts(10).unwrap().into_iter().map(|(_, r)| r).collect();
	assert_eq!(rest, vec![mk(1, 2), mk(2, 1)]);
	// Delivered receipts stay in the node's own books.
	assert_eq!(store.receipts(1).unwrap(), vec![mk(1, 1), mk(1, 2)]);
	// A second read of the same slice in the same task, of another length or by another
	// client, is another receipt: it does not overwrite the first.
	let mut longer = mk(1, 1);
	longer.receipt.length = 20;
	let mut other_client = mk(1, 1);
	other_client.receipt.client = [6; 32];
	store.put_receipt(&longer).unwrap();
	store.put_receipt(&other_client).unwrap();
	let period1 = store.receipts(1).unwrap();
	assert_eq!(period1.len(), 4);
	for r in [mk(1, 1), longer, other_client, mk(1, 2)] {
		assert!(period1.contains(&r), "{r:?} kept");
	}
}

/// A full disk fails the put with a clear error and leaves the store consistent (needs root
/// for the tmpfs mount, which CI has).
#[test]
fn disk_full_is_a_clear_error_and_leaves_the_store_consistent() {
	let dir = tempfile::tempdir().unwrap();
	let mnt = dir.path().join("small");
	std::fs::create_dir(&mnt).unwrap();
	let status = std::process::Command::new("mount")
		.args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
		.arg(&mnt)
		.status()
		.expect("run mount");
	assert!(status.success(), "mounting a tmpfs needs root (CI runs as root)");
	struct Unmount(std::path::PathBuf);
	impl Drop for Unmount {
		fn drop(&mut self) {
			let _ = std::process::Command::new("umount").arg(&self.0).status();
		}
	}
	let _guard = Unmount(mnt.clone());
	// The declared capacity is larger than the disk: the disk fills first.
	let store = Store::open(&mnt, 1 << 30).unwrap();
	let small = data(1 << 20, 1);
	let h = put(&store, &small).unwrap();
	let big = data(6 << 20, 2);
	match put(&store, &big) {
		Err(Error::DiskFull(p)) => assert!(p.starts_with(&mnt), "{}", p.display()),
		other => panic!("expected DiskFull, got {:?}", other.map(|_| ())),
	}
	assert!(Error::DiskFull(mnt.clone()).to_string().contains("free space"));
	assert_eq!(fs_count(&mnt.join("tmp")), 0, "the partial slice was removed");
	let s = store.stats();
	assert_eq!((s.slices, s.used, s.reserved), (1, small.len() as u64, 0));
	assert_eq!(store.read_all(&h).unwrap(), small);
	drop(store);
	let store = Store::open(&mnt, 1 << 30).unwrap();
	assert_eq!(store.read_all(&h).unwrap(), small);
}

/// A manifest of `slices` (each `len` bytes) for `owner`.
fn manifest(owner: u8, slices: &[SliceHash], len: u64, path: &str) -> FileManifest {
	let leaves = slices.iter().map(|s| (len, s.0));
	FileManifest {
		owner: [owner; 32],
		file_id: FileId(stratos_primitives::merkle::root_of(leaves)),
		size: len * slices.len() as u64,
		slice_size: len,
		slices: slices.to_vec(),
		path: path.into(),
	}
}

#[test]
fn an_abandoned_upload_loses_only_the_slices_nothing_else_needs() {
	let dir = tempfile::tempdir().unwrap();
	let len = 1000usize;
	let (a, b, c, d) = (data(len, 1), data(len, 2), data(len, 3), data(len, 4));
	let (t1, t2, t3) = (TaskId([1; 32]), TaskId([2; 32]), TaskId([3; 32]));
	{
		let store = Store::open(dir.path(), 1 << 30).unwrap();
		// Upload 1 took a, b, c; upload 2 (still running) took c; a completed file holds b.
		for s in [&a, &b, &c] {
			store.note_pending(&t1, [9; 32], 100, hash(s)).unwrap();
			put(&store, s).unwrap();
		}
		store.note_pending(&t2, [9; 32], 120, hash(&c)).unwrap();
		store.note_pending(&t3, [8; 32], 90, hash(&d)).unwrap();
		put(&store, &d).unwrap();
		let done = manifest(8, &[hash(&d), hash(&b)], len as u64, "/done");
		store.complete_pending(&t3, &done).unwrap();
		let pending = store.pending().unwrap();
		assert_eq!(pending.len(), 2, "upload 3 is complete");
		assert_eq!(store.stats().pending_uploads, 2);
		assert_eq!(pending[0].0, t1);
		assert_eq!(pending[0].1.slices, vec![hash(&a), hash(&b), hash(&c)]);
		assert_eq!(pending[0].1.expires_at, 100);
	}
	// What is pending survives a restart; dropping upload 1 deletes only `a`.
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	assert_eq!(store.drop_pending(&t1).unwrap(), vec![hash(&a)]);
	assert!(store.meta(&hash(&a)).unwrap().is_none());
	for kept in [&b, &c, &d] {
		assert_eq!(store.read_all(&hash(kept)).unwrap(), *kept);
	}
	assert_eq!(store.pending().unwrap().len(), 1);
	assert_eq!(store.drop_pending(&t1).unwrap(), vec![], "dropping twice is harmless");
	assert_eq!(store.drop_pending(&t2).unwrap(), vec![hash(&c)]);
	assert!(store.pending().unwrap().is_empty());
	assert_eq!(store.stats().slices, 2);
}

#[test]
fn manifests_are_checked_paged_and_forgotten_with_their_slices() {
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	let len = 500usize;
	let slices: Vec<SliceHash> = (0..4).map(|i| put(&store, &data(len, 10 + i)).unwrap()).collect();
	let m1 = manifest(1, &slices[..2], len as u64, "/a");
	let m2 = manifest(2, &slices[1..3], len as u64, "/b");
	let m3 = manifest(3, &slices[3..], len as u64, "/c");
	// A manifest that does not hash to its id, or names a slice not held, is refused.
	let mut forged = m1.clone();
	forged.slices.swap(0, 1);
	assert!(matches!(store.put_manifest(&forged), Err(Error::BadManifest(_))));
	let missing = manifest(1, &[hash(&data(len, 99))], len as u64, "/x");
	assert!(matches!(store.put_manifest(&missing), Err(Error::BadManifest(_))));
	for m in [&m3, &m1, &m2, &m1] {
		store.put_manifest(m).unwrap();
	}
	// Pages in key order.
	let first = store.manifests(None, 2).unwrap();
	assert_eq!(first, vec![m1.clone(), m2.clone()]);
	let last = (first[1].owner, first[1].file_id);
	assert_eq!(store.manifests(Some(last), 2).unwrap(), vec![m3.clone()]);
	assert_eq!(store.manifests(Some((m3.owner, m3.file_id)), 2).unwrap(), vec![]);
	// Deleting a slice forgets the manifests naming it (the meta nodes order it only when no
	// file here needs it), and only those.
	assert!(store.delete(&slices[1]).unwrap());
	assert_eq!(store.manifests(None, 10).unwrap(), vec![m3]);
	drop(store);
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	assert_eq!(store.manifests(None, 10).unwrap().len(), 1, "manifests are durable");
}

/// The scrubber reads every slice at a bounded number of bytes per step, finds a slice
/// that rotted on disk, quarantines it and goes on.
#[test]
fn the_scrubber_finds_and_quarantines_a_rotten_slice() {
	let dir = tempfile::tempdir().unwrap();
	let store = Store::open(dir.path(), 1 << 30).unwrap();
	let slices: Vec<_> =
		(0..5u8).map(|i| put(&store, &data(2 * CHUNK_SIZE as usize + 3, i)).unwrap()).collect();
	let rotten = slices[2];
	let hex = rotten.to_hex();
	let path = dir.path().join("slices").join(&hex[..2]).join(&hex);
	let mut bytes = std::fs::read(&path).unwrap();
	bytes[CHUNK_SIZE as usize + 7] ^= 1;
	std::fs::write(&path, bytes).unwrap();
	assert_eq!(store.verify(&slices[0]).unwrap(), Some(2 * CHUNK_SIZE as u64 + 3));
	let (mut checked, mut corrupt, mut steps, mut next) = (0, Vec::new(), 0, None);
	loop {
		let step = store.scrub(next, 1).unwrap();
		steps += 1;
		checked += step.checked;
		corrupt.extend(step.corrupt);
		next = step.next;
		if next.is_none() {
			break;
		}
	}
	assert_eq!((checked, corrupt, steps), (4, vec![rotten], 5));
	assert_eq!(store.stats().corrupt, 1);
	assert_eq!(store.stats().slices, 4);
	assert!(matches!(store.open_read(&rotten), Err(Error::NotFound(_))));
	assert_eq!(store.verify(&rotten).unwrap(), None);
	// A whole pass in one step.
	let step = store.scrub(None, u64::MAX).unwrap();
	assert_eq!((step.checked, step.next), (4, None));
	assert_eq!(store.stats().scrubbed, 2 * 4 * (2 * CHUNK_SIZE as u64 + 3));
}

#[test]
fn acknowledged_slices_survive_a_power_cut() {
	let dir = tempfile::tempdir().unwrap();
	let root = dir.path().join("store");
	let fs = std::sync::Arc::new(crate::PowerCutFs::new(&root));
	let store = Store::open_with(&root, 1 << 30, fs.clone()).unwrap();
	// Enough slices that several share a `slices/xx` directory and several create one.
	let acked: Vec<(SliceHash, Vec<u8>)> = (0..40u8)
		.map(|i| {
			let d = data(100_000 + i as usize * 1000, i);
			(put(&store, &d).unwrap(), d)
		})
		.collect();
	// One more is half received when the power goes.
	let mut w = store.begin_put(10_000).unwrap();
	w.write(&data(5_000, 99)).unwrap();
	let image = dir.path().join("after-the-cut");
	fs.image(&image).unwrap();
	drop(w);
	drop(store);
	let store = Store::open(&image, 1 << 30).unwrap();
	for (h, d) in &acked {
		assert_eq!(&store.read_all(h).unwrap(), d, "acknowledged slice {h} lost at the cut");
	}
	assert_eq!(store.stats().slices, acked.len() as u64);
	assert_eq!(fs_count(&image.join("tmp")), 0, "the half-received slice is gone");
}

#[test]
fn the_power_cut_file_system_loses_what_was_not_synced() {
	// The crash test is only as good as its file system: unsynced bytes and entries vanish.
	use crate::Fs;
	let dir = tempfile::tempdir().unwrap();
	let root = dir.path().join("r");
	std::fs::create_dir_all(root.join("d")).unwrap();
	let fs = crate::PowerCutFs::new(&root);
	fs.sync_dir(&root).unwrap();
	let synced = root.join("d/synced");
	let f = fs.create_new(&synced).unwrap();
	std::io::Write::write_all(&mut &f, b"kept").unwrap();
	fs.sync_file(&synced, &f).unwrap();
	std::io::Write::write_all(&mut &f, b" and lost").unwrap();
	let unsynced = root.join("d/unsynced");
	std::io::Write::write_all(&mut &fs.create_new(&unsynced).unwrap(), b"x").unwrap();
	let img = dir.path().join("img1");
	fs.image(&img).unwrap();
	assert_eq!(fs_count(&img.join("d")), 0, "no entry of d is durable before d is synced");
	fs.sync_dir(&root.join("d")).unwrap();
	let img = dir.path().join("img2");
	fs.image(&img).unwrap();
	assert_eq!(std::fs::read(img.join("d/synced")).unwrap(), b"kept");
	assert_eq!(std::fs::read(img.join("d/unsynced")).unwrap(), b"");
	fs.rename(&synced, &root.join("d/moved")).unwrap();
	let img = dir.path().join("img3");
	fs.image(&img).unwrap();
	assert!(img.join("d/synced").exists() && !img.join("d/moved").exists(), "rename not synced");
}
