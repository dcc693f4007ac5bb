//! The metadata subxt is generated from (`offchain/metadata/stratos.scale`) must be the built
//! runtime's. Regenerate with `STRATOS_UPDATE_METADATA=1 cargo test -p stratos-tests metadata`.

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
	let built: Vec<u8> = stratos_runtime::Runtime::metadata_at_version(VERSION)
		.expect("version offered")
		.to_vec();
	let path = repo_root().join("offchain/metadata/stratos.scale");
	if std::env::var_os("STRATOS_UPDATE_METADATA").is_some() {
		std::fs::write(&path, &built).expect("write metadata");
		eprintln!("wrote {}", path.display());
	}
	let checked_in = std::fs::read(&path).expect("offchain/metadata/stratos.scale exists");
	assert!(
		checked_in == built,
		"{} is stale ({} bytes, runtime has {}): run \
		 `STRATOS_UPDATE_METADATA=1 cargo test -p stratos-tests metadata` and rebuild",
		path.display(),
		checked_in.len(),
		built.len()
	);
}
