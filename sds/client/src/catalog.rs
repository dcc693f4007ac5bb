//! The client's index of uploaded files (until the meta node keeps it): SDS path → file
//! record. Saved atomically (temporary file, fsync, rename, fsync of the directory).

use crate::{Error, Result};
use sds_core::wire::Hop;
use serde::{Deserialize, Serialize};
use std::{
	collections::BTreeMap,
	io::Write,
	path::{Path, PathBuf},
};
use stratos_primitives::{FileId, NodeId, SliceHash};

/// One slice of an uploaded file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceRecord {
	/// Slice hash (hex).
	pub hash: String,
	/// Length in bytes.
	pub len: u64,
	/// Nodes holding it: (node id hex, addresses).
	pub holders: Vec<(String, Vec<String>)>,
}

impl SliceRecord {
	/// The slice hash.
	pub fn slice_hash(&self) -> SliceHash {
		SliceHash::from_hex(&self.hash).unwrap_or_default()
	}

	/// The holders as hops.
	pub fn hops(&self) -> Vec<Hop> {
		self.holders
			.iter()
			.filter_map(|(id, addrs)| {
				NodeId::from_hex(id).ok().map(|node| Hop { node, addrs: addrs.clone() })
			})
			.collect()
	}
}

/// An uploaded file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
	/// File id (hex): the Merkle root over the slices.
	pub file_id: String,
	/// Size in bytes.
	pub size: u64,
	/// Slice size used.
	pub slice_size: u64,
	/// Slices in order.
	pub slices: Vec<SliceRecord>,
}

impl FileRecord {
	/// The file id.
	pub fn id(&self) -> FileId {
		FileId::from_hex(&self.file_id).unwrap_or_default()
	}
}

/// Checks an SDS path: absolute, `/`-separated, no empty, `.` or `..` components, no
/// control characters, at most 1024 bytes and 255 per component. Returns it normalized
/// (a missing leading `/` is added).
pub fn check_sds_path(p: &str) -> Result<String> {
	let bad = |reason| Err(Error::BadPath { path: p.to_string(), reason });
	let norm = if p.starts_with('/') { p.to_string() } else { format!("/{p}") };
	if norm.len() > 1024 {
		return bad("longer than 1024 bytes");
	}
	if norm.chars().any(|c| c.is_control()) {
		return bad("contains control characters");
	}
	let parts: Vec<&str> = norm[1..].split('/').collect();
	if parts.iter().any(|c| c.is_empty()) {
		return bad("empty path component (double or trailing '/')");
	}
	if parts.iter().any(|c| *c == "." || *c == "..") {
		return bad("'.' and '..' are not allowed");
	}
	if parts.iter().any(|c| c.len() > 255) {
		return bad("a component is longer than 255 bytes");
	}
	Ok(norm)
}

/// The index file.
pub struct Catalog {
	path: PathBuf,
	/// Files by SDS path.
	pub files: BTreeMap<String, FileRecord>,
}

impl Catalog {
	/// Loads the index at `path` (empty if it does not exist yet).
	pub fn load(path: &Path) -> Result<Self> {
		let err = |reason: String| Error::Catalog { path: path.display().to_string(), reason };
		let files = match std::fs::read(path) {
			Ok(bytes) => {
				serde_json::from_slice(&bytes).map_err(|e| err(format!("damaged: {e}")))?
			},
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
			Err(e) => return Err(err(e.to_string())),
		};
		Ok(Self { path: path.to_path_buf(), files })
	}

	/// Finds a file by SDS path or by file id.
	pub fn find(&self, key: &str) -> Option<(String, &FileRecord)> {
		if let Ok(p) = check_sds_path(key) {
			if let Some(r) = self.files.get(&p) {
				return Some((p, r));
			}
		}
		let id = FileId::from_hex(key).ok()?;
		self.files.iter().find(|(_, r)| r.id() == id).map(|(p, r)| (p.clone(), r))
	}

	/// Writes the index atomically.
	pub fn save(&self) -> Result<()> {
		let err = |reason: String| Error::Catalog { path: self.path.display().to_string(), reason };
		let dir = self.path.parent().unwrap_or(Path::new("."));
		std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
		let tmp = dir.join(format!(".catalog-{:016x}.tmp", rand::random::<u64>()));
		let result = (|| -> std::io::Result<()> {
			let mut f = std::fs::File::create_new(&tmp)?;
			f.write_all(&serde_json::to_vec_pretty(&self.files).map_err(std::io::Error::other)?)?;
			f.sync_all()?;
			std::fs::rename(&tmp, &self.path)?;
			std::fs::File::open(dir)?.sync_all()
		})();
		if result.is_err() {
			let _ = std::fs::remove_file(&tmp);
		}
		result.map_err(|e| err(e.to_string()))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn paths() {
		assert_eq!(check_sds_path("a/b.txt").unwrap(), "/a/b.txt");
		assert_eq!(check_sds_path("/x").unwrap(), "/x");
		for bad in ["/a/../b", "/a//b", "/a/", "/", "/./a", "/a\0b", "/a\nb"] {
			assert!(check_sds_path(bad).is_err(), "{bad:?}");
		}
		assert!(check_sds_path(&format!("/{}", "x".repeat(256))).is_err());
		assert!(check_sds_path(&"/ab".repeat(400)).is_err());
	}

	#[test]
	fn save_load_find() {
		let dir = tempfile::tempdir().unwrap();
		let p = dir.path().join("sub/catalog.json");
		let mut c = Catalog::load(&p).unwrap();
		assert!(c.files.is_empty());
		let rec = FileRecord {
			file_id: FileId([5; 32]).to_hex(),
			size: 3,
			slice_size: 16,
			slices: vec![],
		};
		c.files.insert("/f".into(), rec.clone());
		c.save().unwrap();
		let c = Catalog::load(&p).unwrap();
		assert_eq!(c.find("/f").unwrap().1, &rec);
		assert_eq!(c.find("f").unwrap().0, "/f");
		assert_eq!(c.find(&FileId([5; 32]).to_hex()).unwrap().0, "/f");
		assert!(c.find("/g").is_none());
		std::fs::write(&p, b"{not json").unwrap();
		assert!(matches!(Catalog::load(&p), Err(Error::Catalog { .. })));
	}
}
