//! Paths of an owner's namespace: `/`-separated, absolute, normalised on the way in.
//!
//! A name is 1–255 bytes of UTF-8 (the wire carries `String`, so non-UTF-8 never arrives),
//! not `.` or `..`, with no `/`, NUL or other control character. A path has at most
//! [`MAX_DEPTH`] names and [`MAX_PATH_LEN`] bytes. Repeated and trailing slashes are dropped;
//! `..` is refused rather than resolved, so no path can climb out of its owner's tree.

use crate::{Error, Result};

/// Longest name, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// Most names in a path.
pub const MAX_DEPTH: usize = 64;
/// Longest path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// A validated, normalised absolute path (`/` is the root).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NsPath(String);

impl NsPath {
	/// The root directory.
	pub fn root() -> Self {
		Self("/".into())
	}

	/// Validates and normalises `raw`.
	pub fn parse(raw: &str) -> Result<Self> {
		if raw.len() > MAX_PATH_LEN {
			return Err(Error::BadPath(format!("longer than {MAX_PATH_LEN} bytes")));
		}
		if !raw.starts_with('/') {
			return Err(Error::BadPath(format!("{raw:?} is not absolute (start it with /)")));
		}
		let mut out = String::with_capacity(raw.len());
		let mut depth = 0;
		for name in raw.split('/').filter(|n| !n.is_empty()) {
			check_name(name)?;
			depth += 1;
			if depth > MAX_DEPTH {
				return Err(Error::BadPath(format!("deeper than {MAX_DEPTH} directories")));
			}
			out.push('/');
			out.push_str(name);
		}
		if out.is_empty() {
			out.push('/');
		}
		Ok(Self(out))
	}

	/// The path as text.
	pub fn as_str(&self) -> &str {
		&self.0
	}

	/// Whether this is `/`.
	pub fn is_root(&self) -> bool {
		self.0 == "/"
	}

	/// The parent directory (`/` for `/`).
	pub fn parent(&self) -> Self {
		match self.0.rfind('/') {
			Some(0) | None => Self::root(),
			Some(i) => Self(self.0[..i].to_string()),
		}
	}

	/// The last name (empty for `/`).
	pub fn name(&self) -> &str {
		self.0.rsplit('/').next().unwrap_or("")
	}

	/// `self/name` (the name must be valid).
	pub fn join(&self, name: &str) -> Result<Self> {
		check_name(name)?;
		let s = if self.is_root() { format!("/{name}") } else { format!("{}/{name}", self.0) };
		Self::parse(&s)
	}

	/// Whether `self` is `other` or lies below it.
	pub fn starts_with(&self, other: &NsPath) -> bool {
		other.is_root()
			|| self.0 == other.0
			|| (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
	}

	/// The number of names in the path.
	pub fn depth(&self) -> usize {
		if self.is_root() {
			0
		} else {
			self.0.matches('/').count()
		}
	}

	/// `self` with its prefix `from` replaced by `to` (`self` must start with `from`).
	pub fn rebase(&self, from: &NsPath, to: &NsPath) -> Result<Self> {
		let rest = if from.is_root() { &self.0[..] } else { &self.0[from.0.len()..] };
		let joined = if to.is_root() { rest.to_string() } else { format!("{}{rest}", to.0) };
		Self::parse(if joined.is_empty() { "/" } else { &joined })
	}
}

impl std::fmt::Display for NsPath {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str(&self.0)
	}
}

fn check_name(name: &str) -> Result<()> {
	if name.is_empty() {
		return Err(Error::BadPath("empty name".into()));
	}
	if name == "." || name == ".." {
		return Err(Error::BadPath(format!("{name:?} is not allowed as a name")));
	}
	if name.len() > MAX_NAME_LEN {
		return Err(Error::BadPath(format!("a name is longer than {MAX_NAME_LEN} bytes")));
	}
	if let Some(c) = name.chars().find(|c| *c == '/' || c.is_control()) {
		return Err(Error::BadPath(format!("name {name:?} contains the character {c:?}")));
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn normalises_and_navigates() {
		let p = NsPath::parse("//a///b/c/").unwrap();
		assert_eq!(p.as_str(), "/a/b/c");
		assert_eq!(p.parent().as_str(), "/a/b");
		assert_eq!(p.parent().parent().parent(), NsPath::root());
		assert_eq!(NsPath::root().parent(), NsPath::root());
		assert_eq!(p.name(), "c");
		assert_eq!(p.depth(), 3);
		assert_eq!(NsPath::parse("/").unwrap().depth(), 0);
		assert_eq!(NsPath::root().join("x").unwrap().as_str(), "/x");
		assert!(p.starts_with(&NsPath::parse("/a/b").unwrap()));
		assert!(!NsPath::parse("/a/bc").unwrap().starts_with(&NsPath::parse("/a/b").unwrap()));
		assert!(p.starts_with(&NsPath::root()));
		let moved =
			p.rebase(&NsPath::parse("/a").unwrap(), &NsPath::parse("/z/y").unwrap()).unwrap();
		assert_eq!(moved.as_str(), "/z/y/b/c");
		assert_eq!(p.rebase(&p, &NsPath::root()).unwrap(), NsPath::root());
		assert_eq!(NsPath::parse("/ünï cødé").unwrap().name(), "ünï cødé");
	}

	#[test]
	fn refuses_bad_paths_with_a_reason() {
		for (raw, why) in [
			("a/b", "not absolute"),
			("/a/../b", "not allowed"),
			("/./b", "not allowed"),
			("/a\0b", "character"),
			("/a\nb", "character"),
		] {
			let e = NsPath::parse(raw).unwrap_err().to_string();
			assert!(e.contains(why), "{raw:?}: {e}");
		}
		assert!(NsPath::parse(&format!("/{}", "x".repeat(256))).is_err());
		assert!(NsPath::parse(&format!("/{}", "x".repeat(255))).is_ok());
		assert!(NsPath::parse(&"/d".repeat(65)).unwrap_err().to_string().contains("deeper"));
		assert!(NsPath::parse(&format!("/{}", "y/".repeat(3000))).is_err());
		assert!(NsPath::root().join("").is_err());
		assert!(NsPath::root().join("a/b").is_err());
	}
}
