//! The file-system calls the store makes outside RocksDB, behind a trait, so a test can
//! stand in a file system that loses at a "power cut" everything not yet synced (see the
//! store's crash tests).

use std::{
	fs::File,
	io,
	path::{Path, PathBuf},
};

/// File-system operations of the store. Reads and writes go through the returned
/// [`File`]s; what a crash keeps is decided by [`Fs::sync_file`] and [`Fs::sync_dir`].
pub trait Fs: Send + Sync + 'static {
	/// `mkdir -p`.
	fn create_dir_all(&self, path: &Path) -> io::Result<()>;
	/// Whether `path` is a directory.
	fn is_dir(&self, path: &Path) -> bool;
	/// Whether `path` exists.
	fn exists(&self, path: &Path) -> bool;
	/// The entries of a directory.
	fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
	/// Creates a file that must not exist yet, for writing.
	fn create_new(&self, path: &Path) -> io::Result<File>;
	/// Opens a file for reading.
	fn open(&self, path: &Path) -> io::Result<File>;
	/// Makes the contents of `file` (at `path`) durable.
	fn sync_file(&self, path: &Path, file: &File) -> io::Result<()>;
	/// Makes the entries of directory `path` durable.
	fn sync_dir(&self, path: &Path) -> io::Result<()>;
	/// Renames (atomically replacing `to`).
	fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
	/// Removes a file.
	fn remove_file(&self, path: &Path) -> io::Result<()>;
}

/// The operating system's file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsFs;

impl Fs for OsFs {
	fn create_dir_all(&self, path: &Path) -> io::Result<()> {
		std::fs::create_dir_all(path)
	}
	fn is_dir(&self, path: &Path) -> bool {
		path.is_dir()
	}
	fn exists(&self, path: &Path) -> bool {
		path.exists()
	}
	fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
		std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect()
	}
	fn create_new(&self, path: &Path) -> io::Result<File> {
		File::create_new(path)
	}
	fn open(&self, path: &Path) -> io::Result<File> {
		File::open(path)
	}
	fn sync_file(&self, _path: &Path, file: &File) -> io::Result<()> {
		file.sync_all()
	}
	fn sync_dir(&self, path: &Path) -> io::Result<()> {
		File::open(path)?.sync_all()
	}
	fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
		std::fs::rename(from, to)
	}
	fn remove_file(&self, path: &Path) -> io::Result<()> {
		std::fs::remove_file(path)
	}
}

/// A file system for crash tests: it works on the real one and remembers what a power cut
/// would keep under the pessimistic rules of POSIX: a file's bytes as of its last
/// `sync_file` (nothing if never synced), a directory's entries as of its last `sync_dir`
/// (none if never synced). [`PowerCutFs::image`] writes that durable state to a new
/// directory, where a store can be reopened as after the cut. The root directory itself is
/// taken as durable; RocksDB's `index/` keeps its own durability (synced writes) and is
/// copied as it is.
#[derive(Debug)]
pub struct PowerCutFs {
	root: PathBuf,
	state: std::sync::Mutex<Durable>,
}

#[derive(Debug, Default)]
struct Durable {
	/// Inode → bytes at the last sync.
	files: std::collections::HashMap<u64, Vec<u8>>,
	/// Directory → (name, inode, is a directory) at the last sync.
	dirs: std::collections::HashMap<PathBuf, Vec<(std::ffi::OsString, u64, bool)>>,
}

impl PowerCutFs {
	/// A crash-test file system for a store in `root`.
	pub fn new(root: impl Into<PathBuf>) -> Self {
		Self { root: root.into(), state: Default::default() }
	}

	/// Writes what survives a power cut now into `to` (an empty directory).
	pub fn image(&self, to: &Path) -> io::Result<()> {
		let state = self.state.lock().expect("lock");
		self.image_dir(&state, &self.root, to)
	}

	fn image_dir(&self, state: &Durable, dir: &Path, to: &Path) -> io::Result<()> {
		std::fs::create_dir_all(to)?;
		for (name, ino, is_dir) in state.dirs.get(dir).map(Vec::as_slice).unwrap_or_default() {
			let (from, dest) = (dir.join(name), to.join(name));
			if dir == self.root && name == "index" {
				copy_tree(&from, &dest)?;
			} else if *is_dir {
				self.image_dir(state, &from, &dest)?;
			} else {
				std::fs::write(&dest, state.files.get(ino).map(Vec::as_slice).unwrap_or_default())?;
			}
		}
		Ok(())
	}
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
	std::fs::create_dir_all(to)?;
	for e in std::fs::read_dir(from)? {
		let e = e?;
		if e.file_type()?.is_dir() {
			copy_tree(&e.path(), &to.join(e.file_name()))?;
		} else {
			std::fs::copy(e.path(), to.join(e.file_name()))?;
		}
	}
	Ok(())
}

impl Fs for PowerCutFs {
	fn create_dir_all(&self, path: &Path) -> io::Result<()> {
		OsFs.create_dir_all(path)
	}
	fn is_dir(&self, path: &Path) -> bool {
		OsFs.is_dir(path)
	}
	fn exists(&self, path: &Path) -> bool {
		OsFs.exists(path)
	}
	fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
		OsFs.read_dir(path)
	}
	fn create_new(&self, path: &Path) -> io::Result<File> {
		OsFs.create_new(path)
	}
	fn open(&self, path: &Path) -> io::Result<File> {
		OsFs.open(path)
	}
	fn sync_file(&self, path: &Path, file: &File) -> io::Result<()> {
		use std::os::unix::fs::MetadataExt;
		file.sync_all()?;
		let bytes = std::fs::read(path)?;
		let ino = file.metadata()?.ino();
		self.state.lock().expect("lock").files.insert(ino, bytes);
		Ok(())
	}
	fn sync_dir(&self, path: &Path) -> io::Result<()> {
		use std::os::unix::fs::MetadataExt;
		OsFs.sync_dir(path)?;
		let mut entries = Vec::new();
		for e in std::fs::read_dir(path)? {
			let e = e?;
			let m = e.metadata()?;
			entries.push((e.file_name(), m.ino(), m.is_dir()));
		}
		self.state.lock().expect("lock").dirs.insert(path.to_path_buf(), entries);
		Ok(())
	}
	fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
		OsFs.rename(from, to)
	}
	fn remove_file(&self, path: &Path) -> io::Result<()> {
		OsFs.remove_file(path)
	}
}
