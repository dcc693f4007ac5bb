//! Builds the upgrade-test runtime wasm (unless `SKIP_WASM_BUILD` is set).
//!
//! Its wasm project shares the target dir of `stratos-runtime`'s (already built: see the
//! `links` key in `runtime/Cargo.toml`), so only the crates whose features differ compile again.
fn main() {
	#[cfg(feature = "std")]
	{
		share_runtime_target_dir();
		substrate_wasm_builder::WasmBuilder::build_using_defaults();
	}
}

/// Points `wbuild/stratos-runtime-upgrade-test/target` at `wbuild/stratos-runtime/target`
/// (a symlink, made once). Any failure leaves the builder its own target dir: slower, not wrong.
#[cfg(feature = "std")]
fn share_runtime_target_dir() {
	use std::path::PathBuf;
	let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else { return };
	// OUT_DIR = <target>/<profile>/build/<crate>-<hash>/out; the builder's projects live in
	// <target>/<profile>/wbuild/<crate>.
	let Some(wbuild) = out.ancestors().nth(3).map(|p| p.join("wbuild")) else { return };
	let own = wbuild.join("stratos-runtime-upgrade-test");
	let link = own.join("target");
	if link.symlink_metadata().is_ok() {
		return;
	}
	let shared = wbuild.join("stratos-runtime").join("target");
	if std::fs::create_dir_all(&shared).is_err() || std::fs::create_dir_all(&own).is_err() {
		return;
	}
	#[cfg(unix)]
	let _ = std::os::unix::fs::symlink(&shared, &link);
}
