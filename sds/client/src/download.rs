//! Downloads, shared by both clients: verified slices into a resumable partial file, or a
//! verified byte range streamed to a writer in order.
//!
//! Where the bytes come from is the caller's: a `fetch(index, start, end, sink)` that hands
//! the verified chunks covering `[start, end)` of slice `index` to `sink` in order, each as
//! (offset within the slice, bytes), and on a failing replica continues on another from the
//! first chunk not yet handed over (see [`Resume`]).

use crate::{Error, Progress, Result};
use std::{
	collections::VecDeque,
	future::Future,
	io::Write,
	ops::Range,
	os::unix::fs::FileExt,
	path::{Path, PathBuf},
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
};
use stratos_primitives::{merkle::CHUNK_SIZE, FileId, SliceHash};

/// Receives verified chunks: (offset within the slice, bytes), each in the buffer it was
/// read into, so it reaches the output without being copied.
pub(crate) type Sink = Box<dyn FnMut(u64, Vec<u8>) -> std::io::Result<()> + Send>;

/// A file's slices as a download needs them.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
	/// The file id (names the partial file).
	pub id: FileId,
	/// Size in bytes.
	pub size: u64,
	/// Slice size (slice `i` starts at `i * slice_size`).
	pub slice_size: u64,
	/// Length and hash of every slice, in order.
	pub slices: Vec<(u64, SliceHash)>,
}

impl Layout {
	fn offset(&self, i: usize) -> u64 {
		i as u64 * self.slice_size
	}
}

/// Where a fetch stands: the first byte of the slice not yet handed over. A retry on
/// another replica asks from here, so verified chunks are never fetched twice.
pub(crate) struct Resume {
	next: Arc<AtomicU64>,
}

impl Resume {
	/// Starts at `start`; wraps `sink` so every chunk handed over moves the position on.
	pub fn new(start: u64, mut sink: Sink) -> (Self, Sink) {
		let next = Arc::new(AtomicU64::new(start - start % CHUNK_SIZE as u64));
		let n = next.clone();
		let wrapped: Sink = Box::new(move |off, mut bytes| {
			// A replica asked from `next` starts there; anything before was handed over.
			let have = n.load(Ordering::Relaxed);
			let end = off + bytes.len() as u64;
			if end <= have {
				return Ok(());
			}
			let skip = have.saturating_sub(off) as usize;
			bytes.drain(..skip);
			sink(off + skip as u64, bytes)?;
			n.store(end, Ordering::Relaxed);
			Ok(())
		});
		(Self { next }, wrapped)
	}

	/// The offset the next attempt asks from.
	pub fn next(&self) -> u64 {
		self.next.load(Ordering::Relaxed)
	}
}

/// Parses `A..B`, `A..` or `..B` (sizes as `sds` takes them, e.g. `1MiB..2MiB`; `B` is
/// exclusive) against a file of `size` bytes.
pub fn parse_range(s: &str, size: u64) -> Result<Range<u64>> {
	let bad = |why: String| Error::Config(format!("range {s:?}: {why}"));
	let (a, b) = s.split_once("..").ok_or_else(|| bad("expected A..B, A.. or ..B".into()))?;
	let num = |t: &str, default: u64| -> Result<u64> {
		if t.is_empty() {
			return Ok(default);
		}
		sds_core::units::parse_size(t).map_err(|e| bad(e.to_string()))
	};
	let (a, b) = (num(a, 0)?, num(b, size)?);
	if a > b {
		return Err(bad(format!("the start {a} is after the end {b}")));
	}
	if b > size {
		return Err(bad(format!("the end {b} is past the end of the file ({size} bytes)")));
	}
	Ok(a..b)
}

/// A download in progress: `.<name>.sds-partial-<file id>` next to the output. It survives
/// an interrupted run; the next run re-hashes it and fetches only the slices that do not
/// match their hash.
pub(crate) struct Partial {
	path: PathBuf,
	dir: PathBuf,
	file: Arc<std::fs::File>,
	missing: Vec<usize>,
	/// Bytes verified, kept from before plus fetched in this run.
	verified: Arc<AtomicU64>,
}

impl Partial {
	/// Opens (re-hashing what is there) or creates the partial file for `out`.
	pub async fn open(out: &Path, layout: &Layout, progress: &dyn Progress) -> Result<Self> {
		let output = |source| Error::Output { path: out.display().to_string(), source };
		let dir = match out.parent() {
			Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
			_ => PathBuf::from("."),
		};
		let name =
			out.file_name().ok_or_else(|| output(std::io::Error::other("not a file name")))?;
		let path = dir.join(format!(
			".{}.sds-partial-{}",
			name.to_string_lossy(),
			&layout.id.to_hex()[..16]
		));
		let existed = path.exists();
		let file = std::fs::OpenOptions::new()
			.read(true)
			.write(true)
			.create(true)
			.truncate(false)
			.open(&path)
			.map_err(output)?;
		// One download per partial file: a second `sds get` of the same file to the same
		// output would write the same bytes under the first one's feet.
		if let Err(e) = file.try_lock() {
			return Err(output(match e {
				std::fs::TryLockError::WouldBlock => std::io::Error::other(format!(
					"another download is writing {} right now",
					path.display()
				)),
				std::fs::TryLockError::Error(e) => e,
			}));
		}
		let file = Arc::new(file);
		let mut missing: Vec<usize> = (0..layout.slices.len()).collect();
		let mut resumed = 0;
		if existed {
			let have = file.metadata().map_err(output)?.len();
			let (f, l) = (file.clone(), layout.clone());
			let intact = tokio::task::spawn_blocking(move || intact_slices(&f, &l, have))
				.await
				.map_err(|e| output(std::io::Error::other(e.to_string())))?;
			missing.retain(|i| !intact.contains(i));
			resumed = intact.iter().map(|i| layout.slices[*i].0).sum();
			progress.advance(resumed);
		}
		file.set_len(layout.size).map_err(output)?;
		Ok(Self { path, dir, file, missing, verified: Arc::new(AtomicU64::new(resumed)) })
	}

	/// Indices of the slices still to fetch.
	pub fn missing(&self) -> &[usize] {
		&self.missing
	}

	/// Fetches the missing slices, `parallel` at once. A slice that cannot be fetched does
	/// not stop the others (what they verify is kept for a resume); its error is returned
	/// once they are done. An output error stops everything.
	pub async fn fill<F, Fut>(
		&self,
		layout: &Layout,
		parallel: usize,
		fetch: F,
		progress: Arc<dyn Progress>,
	) -> Result<()>
	where
		F: Fn(usize, u64, u64, Sink) -> Fut,
		Fut: Future<Output = Result<()>> + Send + 'static,
	{
		let failed = Arc::new(std::sync::Mutex::new(None::<Error>));
		let jobs = self.missing.iter().map(|&i| {
			let (len, _) = layout.slices[i];
			let (f, base, progress, verified) =
				(self.file.clone(), layout.offset(i), progress.clone(), self.verified.clone());
			let sink: Sink = Box::new(move |off, bytes| {
				f.write_all_at(&bytes, base + off)?;
				progress.advance(bytes.len() as u64);
				Ok(())
			});
			let job = fetch(i, 0, len, sink);
			let failed = failed.clone();
			async move {
				match job.await {
					Ok(()) => {
						verified.fetch_add(len, Ordering::Relaxed);
						Ok(())
					},
					Err(e @ Error::Output { .. }) => Err(e),
					Err(e) => {
						failed.lock().expect("lock").get_or_insert(e);
						Ok(())
					},
				}
			}
		});
		crate::run_parallel(parallel, jobs).await?;
		let first = failed.lock().expect("lock").take();
		match first {
			Some(e) => Err(e),
			None => Ok(()),
		}
	}

	/// Syncs the file and renames it to `out`.
	pub fn finish(self, out: &Path) -> Result<()> {
		let output = |source| Error::Output { path: out.display().to_string(), source };
		self.file.sync_all().map_err(output)?;
		std::fs::rename(&self.path, out).map_err(output)?;
		std::fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(output)
	}

	/// After a failed run: keeps the partial file when it holds verified slices (and says so
	/// in the error), removes it otherwise.
	pub fn abandon(self, e: Error) -> Error {
		let verified = self.verified.load(Ordering::Relaxed);
		if verified == 0 || matches!(e, Error::Output { .. }) {
			let _ = std::fs::remove_file(&self.path);
			return e;
		}
		let _ = self.file.sync_all();
		Error::Interrupted { kept: self.path.display().to_string(), verified, source: Box::new(e) }
	}
}

/// Writes `chunks` in order with vectored writes; returns the bytes written.
fn write_all_vectored(out: &mut impl Write, chunks: &[Vec<u8>]) -> std::io::Result<u64> {
	let mut slices: Vec<std::io::IoSlice<'_>> =
		chunks.iter().filter(|c| !c.is_empty()).map(|c| std::io::IoSlice::new(c)).collect();
	let total = chunks.iter().map(|c| c.len() as u64).sum();
	let mut rest = &mut slices[..];
	while !rest.is_empty() {
		match out.write_vectored(rest) {
			Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
			Ok(n) => std::io::IoSlice::advance_slices(&mut rest, n),
			Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {},
			Err(e) => return Err(e),
		}
	}
	Ok(total)
}

/// The slices of a partial file of `have` bytes whose bytes match their hash.
fn intact_slices(f: &std::fs::File, layout: &Layout, have: u64) -> Vec<usize> {
	let mut buf = vec![0u8; 1 << 20];
	let mut out = Vec::new();
	'slices: for (i, (len, hash)) in layout.slices.iter().enumerate() {
		let base = layout.offset(i);
		if base + len > have || *len == 0 {
			continue;
		}
		let mut h = stratos_primitives::merkle::SliceHasher::new();
		let mut done = 0;
		while done < *len {
			let n = (len - done).min(buf.len() as u64) as usize;
			if f.read_exact_at(&mut buf[..n], base + done).is_err() {
				continue 'slices;
			}
			h.update(&buf[..n]);
			done += n as u64;
		}
		if h.finish().0 == hash.0 {
			out.push(i);
		}
	}
	out
}

/// Streams bytes `range` of the file to `out`, verified, in order: up to `parallel` slices
/// are fetched ahead into memory (at most 64 MiB of them, at least 2), a writer thread writes
/// them while the next ones arrive, each slice's chunks with as few vectored writes as `out`
/// takes (the chunks are the buffers the network read them into: `out` should be
/// unbuffered). Returns the bytes written; a closed pipe on `out` (e.g. `sds cat f | head`)
/// ends it early without an error.
pub(crate) async fn stream<F, Fut, W>(
	layout: &Layout,
	range: Range<u64>,
	parallel: usize,
	fetch: F,
	out: W,
	progress: Arc<dyn Progress>,
) -> Result<u64>
where
	F: Fn(usize, u64, u64, Sink) -> Fut,
	Fut: Future<Output = Result<()>> + Send + 'static,
	W: Write + Send + 'static,
{
	if range.start > range.end || range.end > layout.size {
		return Err(Error::Config(format!(
			"range {}..{} is past the end of the file ({} bytes)",
			range.start, range.end, layout.size
		)));
	}
	let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
	let writer = std::thread::spawn(move || -> std::io::Result<u64> {
		let mut out = out;
		let mut written = 0;
		for chunks in rx {
			written += write_all_vectored(&mut out, &chunks)?;
		}
		out.flush()?;
		Ok(written)
	});
	let ss = layout.slice_size.max(1);
	let first = (range.start / ss) as usize;
	let end = if range.is_empty() { first } else { range.end.div_ceil(ss) as usize };
	// Slices fetched ahead are held in memory: at most 64 MiB of them (and at least 2).
	let ahead_max = parallel.clamp(1, ((64 << 20) / ss).max(2) as usize);
	let mut next = first;
	let mut ahead: VecDeque<tokio::task::JoinHandle<Result<Vec<Vec<u8>>>>> = VecDeque::new();
	let result: Result<()> = async {
		loop {
			while ahead.len() < ahead_max && next < end {
				let base = layout.offset(next);
				let lo = range.start.max(base) - base;
				let hi = range.end.min(base + layout.slices[next].0) - base;
				let chunks = (hi - lo).div_ceil(CHUNK_SIZE as u64) as usize + 1;
				let buf = Arc::new(std::sync::Mutex::new(Vec::with_capacity(chunks)));
				let (b, progress) = (buf.clone(), progress.clone());
				let sink: Sink = Box::new(move |off, mut bytes| {
					// Chunks are whole: keep only what lies in [lo, hi) (the first and last
					// chunk of a range are cut; the others are kept as they came).
					let from = lo.saturating_sub(off).min(bytes.len() as u64) as usize;
					let to = (hi.saturating_sub(off)).min(bytes.len() as u64) as usize;
					if from < to {
						bytes.truncate(to);
						bytes.drain(..from);
						progress.advance((to - from) as u64);
						b.lock().expect("buffer").push(bytes);
					}
					Ok(())
				});
				let job = fetch(next, lo, hi, sink);
				ahead.push_back(tokio::spawn(async move {
					job.await?;
					let v = std::mem::take(&mut *buf.lock().expect("buffer"));
					Ok(v)
				}));
				next += 1;
			}
			let Some(job) = ahead.pop_front() else { return Ok(()) };
			let buf = job.await.map_err(|e| {
				Error::Net(sds_net::Error::Start(format!("download task failed: {e}")))
			})??;
			if tx.send(buf).is_err() {
				// The writer stopped: its result says why.
				return Ok(());
			}
		}
	}
	.await;
	for j in ahead {
		j.abort();
	}
	drop(tx);
	let written = writer.join().map_err(|_| Error::Output {
		path: "the output".into(),
		source: std::io::Error::other("writer panicked"),
	})?;
	result?;
	match written {
		Ok(n) => Ok(n),
		Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
		Err(source) => Err(Error::Output { path: "the output".into(), source }),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn ranges() {
		assert_eq!(parse_range("..", 10).unwrap(), 0..10);
		assert_eq!(parse_range("2..", 10).unwrap(), 2..10);
		assert_eq!(parse_range("..4", 10).unwrap(), 0..4);
		assert_eq!(parse_range("3..3", 10).unwrap(), 3..3);
		assert_eq!(parse_range("1KiB..2KiB", 4096).unwrap(), 1024..2048);
		assert!(parse_range("5..4", 10).is_err());
		assert!(parse_range("0..11", 10).is_err());
		assert!(parse_range("7", 10).is_err());
		assert!(parse_range("x..", 10).is_err());
	}

	/// A writer that takes at most 1000 bytes per call, spread over several buffers.
	struct Short(Vec<u8>);

	impl Write for Short {
		fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
			self.write_vectored(&[std::io::IoSlice::new(buf)])
		}
		fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
			let mut n = 0;
			for b in bufs {
				let take = b.len().min(1000 - n);
				self.0.extend_from_slice(&b[..take]);
				n += take;
				if n == 1000 {
					break;
				}
			}
			Ok(n)
		}
		fn flush(&mut self) -> std::io::Result<()> {
			Ok(())
		}
	}

	#[test]
	fn vectored_writes_survive_short_writes() {
		let chunks: Vec<Vec<u8>> =
			[700, 0, 1300, 1, 2999].iter().enumerate().map(|(i, &n)| vec![i as u8; n]).collect();
		let mut out = Short(Vec::new());
		assert_eq!(write_all_vectored(&mut out, &chunks).unwrap(), 5000);
		assert_eq!(out.0, chunks.concat());
	}

	#[test]
	fn resume_skips_what_was_handed_over() {
		let got = Arc::new(std::sync::Mutex::new(Vec::new()));
		let g = got.clone();
		let cs = CHUNK_SIZE as u64;
		let (r, mut sink) = Resume::new(
			cs + 5,
			Box::new(move |off, b| {
				g.lock().unwrap().push((off, b.len()));
				Ok(())
			}),
		);
		assert_eq!(r.next(), cs);
		sink(cs, vec![0; cs as usize]).unwrap();
		assert_eq!(r.next(), 2 * cs);
		// A replica that starts over from the beginning is cut to what is new.
		sink(0, vec![0; 3 * cs as usize]).unwrap();
		assert_eq!(r.next(), 3 * cs);
		assert_eq!(*got.lock().unwrap(), vec![(cs, cs as usize), (2 * cs, cs as usize)]);
	}
}
