//! The chain specs this node knows by name, all built from the runtime's genesis presets.

use sc_service::ChainType;
use stratos_runtime::{
	chain_properties,
	genesis_config_presets::{DEV_NETWORK_RUNTIME_PRESET, TESTNET_RUNTIME_PRESET},
	WASM_BINARY,
};

/// A chain spec of this node: no extensions.
pub type ChainSpec = sc_service::GenericChainSpec;

fn wasm() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"the runtime wasm was not built (SKIP_WASM_BUILD was set when building the node): \
		 rebuild without it"
			.to_string()
	})
}

fn properties() -> sc_chain_spec::Properties {
	chain_properties().into_iter().collect()
}

/// `dev`: Alice alone, Sudo, fast governance.
pub fn development_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("Stratos Development")
		.with_id("stratos_dev")
		.with_protocol_id("stratos-dev")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// `dev-network`: the local storage network (one validator, three meta nodes, four
/// resource nodes) that `scripts/start-local-network.sh` runs.
pub fn dev_network_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("Stratos Development Network")
		.with_id("stratos_dev_network")
		.with_protocol_id("stratos-devnet")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_preset_name(DEV_NETWORK_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// `local`: Alice, Bob, Charlie and Dave validate.
pub fn local_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("Stratos Local Testnet")
		.with_id("stratos_local")
		.with_protocol_id("stratos-local")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// The testnet's raw chain spec as shipped in `chain-spec/testnet-raw.json`, built into the
/// binary: `--chain testnet` always starts from this genesis, whatever runtime the binary
/// carries (ADR 0016). Changes after launch go through runtime upgrades.
const TESTNET_RAW_SPEC: &[u8] = include_bytes!("../../chain-spec/testnet-raw.json");

/// `testnet`: the public test network, from the raw spec embedded at build time.
pub fn testnet_chain_spec() -> Result<ChainSpec, String> {
	ChainSpec::from_json_bytes(TESTNET_RAW_SPEC)
		.map_err(|e| format!("the embedded testnet spec is not valid: {e}"))
}

/// `testnet-from-preset`: the testnet genesis built from this binary's runtime preset and
/// wasm. Only `scripts/regenerate-testnet-spec.sh` uses it, while the testnet is not live;
/// a node joining the testnet uses `testnet`.
pub fn testnet_preset_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("Stratos Testnet")
		.with_id("stratos_testnet")
		.with_protocol_id("stratos-testnet")
		.with_chain_type(ChainType::Live)
		.with_genesis_config_preset_name(TESTNET_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// A chain spec from a JSON file; errors name the file.
pub fn from_file(path: &str) -> Result<ChainSpec, String> {
	let p = std::path::PathBuf::from(path);
	if !p.is_file() {
		return Err(format!(
			"chain spec `{path}` not found: give dev, dev-network, local, testnet or the path of a chain spec JSON file"
		));
	}
	ChainSpec::from_json_file(p).map_err(|e| format!("chain spec `{path}` is not valid: {e}"))
}
