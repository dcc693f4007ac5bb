//! The testnet's shipped chain specs (ADR 0016):
//! - `chain-spec/testnet.json` (plain) is the runtime's `testnet` preset: everything but the
//!   wasm `code` matches what this node builds from the preset now;
//! - `chain-spec/testnet-raw.json` is exactly the plain spec's raw form, and is what the node
//!   embeds as `--chain testnet` (so that chain never rebuilds its genesis from the binary's
//!   wasm);
//! - both list the boot nodes of `chain-spec/testnet-bootnodes.txt`;
//! - a node started with `--chain testnet` boots to the genesis hash recorded in
//!   `chain-spec/testnet-genesis-hash`, running the spec's runtime.
//!
//! Regenerate with `scripts/regenerate-testnet-spec.sh` (only while the testnet is not live).

use std::{process::Command, time::Duration};

use stratos_tests::{node_binary, repo_root, test_dir, Node};
use subxt::ext::jsonrpsee::{core::client::ClientT, rpc_params};

fn without_code(mut spec: serde_json::Value) -> serde_json::Value {
	let genesis = spec["genesis"]["runtimeGenesis"].as_object_mut().expect("runtimeGenesis");
	assert!(genesis.remove("code").is_some(), "a plain spec embeds the code");
	spec
}

/// `stratos-node export-chain-spec <args>` as JSON.
fn export(args: &[&str]) -> serde_json::Value {
	let out =
		Command::new(node_binary().unwrap()).arg("export-chain-spec").args(args).output().unwrap();
	assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
	serde_json::from_slice(&out.stdout).expect("json")
}

fn shipped(file: &str) -> serde_json::Value {
	let path = repo_root().join("chain-spec").join(file);
	serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{file}: {e}")))
		.unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn shipped_text(file: &str) -> String {
	std::fs::read_to_string(repo_root().join("chain-spec").join(file))
		.unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn checked_in_testnet_spec_matches_the_preset() {
	let exported = export(&["--chain", "testnet-from-preset"]);
	let checked_in = shipped("testnet.json");

	// Plain, not raw: the genesis is the preset patch, readable by people.
	assert!(checked_in["genesis"]["raw"].is_null(), "testnet.json must be a plain spec");
	let mut exported = without_code(exported);
	let checked_in = without_code(checked_in);
	// Boot nodes are added by the regenerate script, not by the preset.
	exported["bootNodes"] = checked_in["bootNodes"].clone();
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

#[test]
fn raw_testnet_spec_is_the_plain_one_raw_and_is_embedded() {
	let raw = shipped("testnet-raw.json");
	assert!(raw["genesis"]["raw"]["top"].is_object(), "testnet-raw.json must be a raw spec");

	let plain_path = repo_root().join("chain-spec/testnet.json");
	let from_plain = export(&["--chain", plain_path.to_str().unwrap(), "--raw"]);
	assert!(
		from_plain == raw,
		"chain-spec/testnet-raw.json is not the raw form of chain-spec/testnet.json: \
		 run scripts/regenerate-testnet-spec.sh"
	);
	let embedded = export(&["--chain", "testnet", "--raw"]);
	assert!(
		embedded == raw,
		"the node's embedded `--chain testnet` is not chain-spec/testnet-raw.json: rebuild it"
	);

	// Boot nodes: the list in testnet-bootnodes.txt, in both specs.
	let listed: Vec<serde_json::Value> = shipped_text("testnet-bootnodes.txt")
		.lines()
		.map(|l| l.split('#').next().unwrap().trim())
		.filter(|l| !l.is_empty())
		.map(|l| serde_json::Value::String(l.to_string()))
		.collect();
	assert_eq!(raw["bootNodes"].as_array().unwrap(), &listed, "testnet-raw.json boot nodes");
	assert_eq!(
		shipped("testnet.json")["bootNodes"].as_array().unwrap(),
		&listed,
		"testnet.json boot nodes"
	);
}

#[tokio::test]
async fn a_node_boots_from_the_embedded_testnet_spec() -> anyhow::Result<()> {
	let dir = test_dir("testnet-boot")?;
	let base = dir.path().join("base");
	let node = Node::spawn(
		"testnet",
		dir.path(),
		&["--chain", "testnet", "--base-path", base.to_str().unwrap()],
	)?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;

	let genesis: String = rpc.request("chain_getBlockHash", rpc_params![0]).await?;
	let recorded = shipped_text("testnet-genesis-hash");
	assert_eq!(
		genesis,
		recorded.trim(),
		"a node on the embedded testnet spec has another genesis than \
		 chain-spec/testnet-genesis-hash"
	);
	let chain: String = rpc.request("system_chain", rpc_params![]).await?;
	assert_eq!(chain, "Stratos Testnet");

	// The runtime it runs is the spec's genesis code, not the binary's own wasm.
	let raw = shipped("testnet-raw.json");
	let code_key = format!("0x{}", hex::encode(b":code"));
	let spec_code =
		raw["genesis"]["raw"]["top"][&code_key].as_str().expect(":code in the raw spec");
	let chain_code: String =
		rpc.request("state_getStorage", rpc_params![&code_key, &genesis]).await?;
	assert!(chain_code == spec_code, "genesis :code differs from the raw spec's");
	let version: serde_json::Value = rpc.request("state_getRuntimeVersion", rpc_params![]).await?;
	assert_eq!(version["specName"], "stratos");
	Ok(())
}
