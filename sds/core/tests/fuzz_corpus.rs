//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets' bodies, so
//! every input the fuzzers kept is checked on stable in CI.

use std::path::PathBuf;

/// The corpus directory. `cargo test` sets CARGO_MANIFEST_DIR at run time too; that one is
/// preferred, since a test binary built in one clone may be reused by another clone sharing
/// the target directory.
fn corpus_root() -> PathBuf {
	let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
	manifest.join("../../fuzz/corpus")
}

fn corpus(target: &str) -> Vec<PathBuf> {
	let dir = corpus_root().join(target);
	let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
		.unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()))
		.map(|e| e.unwrap().path())
		.collect();
	files.sort();
	files
}

#[test]
fn wire_decoder_corpus() {
	let files = corpus("wire_decoder");
	assert!(files.len() >= 6, "seed corpus missing");
	for f in files {
		sds_core::fuzzing::wire_decoder(&std::fs::read(&f).unwrap());
	}
}

#[test]
fn merkle_proof_corpus() {
	let files = corpus("merkle_proof");
	assert!(!files.is_empty(), "seed corpus missing");
	for f in files {
		sds_core::fuzzing::merkle_proof(&std::fs::read(&f).unwrap());
	}
}

/// Writes the seed inputs into the corpus (`cargo test -p sds-core --test fuzz_corpus -- --ignored`).
#[test]
#[ignore]
fn write_seeds() {
	let root = corpus_root();
	for (i, (target, bytes)) in sds_core::fuzzing::seeds().into_iter().enumerate() {
		let dir = root.join(target);
		std::fs::create_dir_all(&dir).unwrap();
		std::fs::write(dir.join(format!("seed-{i}")), bytes).unwrap();
	}
}
