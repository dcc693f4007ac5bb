//! The metadata subxt is generated from (`offchain/metadata/stratos.scale`) must be the built
//! runtime's. Regenerate with `scripts/update-metadata.sh`.
//!
//! It is taken from the native runtime on empty storage, so it is the same on every machine.
//! Constants that are genesis parameters (the governance periods) therefore show their
//! production defaults here; a node reports its own chain's values in its metadata. subxt's
//! codegen and its compatibility checks use types, not constant values.

use stratos_tests::repo_root;

/// The metadata version the checked-in file holds: the newest stable one, which subxt and
/// polkadot-js (V15/V16) read.
const VERSION: u32 = 16;

#[test]
fn checked_in_metadata_matches_the_runtime() {
	assert!(
		stratos_runtime::Runtime::metadata_versions().contains(&VERSION),
		"runtime no longer offers metadata V{VERSION}: {:?}",
		stratos_runtime::Runtime::metadata_versions()
	);
	// Building metadata reads pallet constants, some of which live in storage.
	let built: Vec<u8> = sp_io::TestExternalities::default().execute_with(|| {
		stratos_runtime::Runtime::metadata_at_version(VERSION).expect("version offered").to_vec()
	});
	let path = repo_root().join("offchain/metadata/stratos.scale");
	if std::env::var_os("STRATOS_UPDATE_METADATA").is_some() {
		std::fs::write(&path, &built).expect("write metadata");
		eprintln!("wrote {}", path.display());
	}
	let checked_in = std::fs::read(&path).expect("offchain/metadata/stratos.scale exists");
	assert!(
		checked_in == built,
		"{} is stale ({} bytes, runtime has {}): run \
		 scripts/update-metadata.sh and rebuild",
		path.display(),
		checked_in.len(),
		built.len()
	);
}
