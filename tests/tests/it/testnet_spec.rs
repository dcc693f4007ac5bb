//! The checked-in plain testnet spec (`chain-spec/testnet.json`) is the runtime's `testnet`
//! preset: everything but the wasm `code` must match what the node exports now.
//! Regenerate with `scripts/regenerate-testnet-spec.sh`.

use std::process::Command;

use stratos_tests::{node_binary, repo_root};

fn without_code(mut spec: serde_json::Value) -> serde_json::Value {
	let genesis = spec["genesis"]["runtimeGenesis"].as_object_mut().expect("runtimeGenesis");
	assert!(genesis.remove("code").is_some(), "a plain spec embeds the code");
	spec
}

#[test]
fn checked_in_testnet_spec_matches_the_preset() {
	let out = Command::new(node_binary().unwrap())
		.args(["export-chain-spec", "--chain", "testnet"])
		.output()
		.unwrap();
	assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
	let exported: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
	let path = repo_root().join("chain-spec/testnet.json");
	let checked_in: serde_json::Value =
		serde_json::from_slice(&std::fs::read(&path).expect("chain-spec/testnet.json")).unwrap();

	// Plain, not raw: the genesis is the preset patch, readable by people.
	assert!(checked_in["genesis"]["raw"].is_null(), "testnet.json must be a plain spec");
	let exported = without_code(exported);
	let checked_in = without_code(checked_in);
	assert_eq!(
		checked_in, exported,
		"chain-spec/testnet.json differs from the runtime's testnet preset: \
		 run scripts/regenerate-testnet-spec.sh"
	);

	// The testnet never uses the well-known dev keys and has no Sudo.
	let text = serde_json::to_string(&checked_in).unwrap();
	for dev in [
		"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", // Alice
		"5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", // Bob
	] {
		assert!(!text.contains(dev), "testnet spec contains dev account {dev}");
	}
	assert!(checked_in["genesis"]["runtimeGenesis"]["patch"]["sudo"]["key"].is_null());
}
