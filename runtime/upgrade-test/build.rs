//! Builds the upgrade-test runtime wasm (unless `SKIP_WASM_BUILD` is set).
fn main() {
	substrate_wasm_builder::WasmBuilder::build_using_defaults();
}
