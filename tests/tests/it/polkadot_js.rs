//! polkadot-js (`@polkadot/api` 16, as polkadot-js apps uses it) against a dev node: connect,
//! read metadata and properties, sign a transfer, see it finalized, subscribe to finalized heads.
//! Needs Node.js and `npm ci` in `tests/js` (the test script does both).

use std::{process::Command, time::Duration};

use stratos_tests::{repo_root, test_dir, wait_finalized, Node};

#[tokio::test]
async fn polkadot_js_signs_a_transfer_and_follows_finality() -> anyhow::Result<()> {
	let js = repo_root().join("tests/js");
	assert!(
		js.join("node_modules/@polkadot/api").is_dir(),
		"run `npm ci` in tests/js first (the README's test command does)"
	);
	let dir = test_dir("polkadot-js")?;
	let node = Node::spawn("pjs", dir.path(), &["--dev", "--tmp"])?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await?;

	let url = node.ws_url();
	let out = tokio::task::spawn_blocking(move || {
		Command::new("node").arg(js.join("polkadot-js.mjs")).arg(url).output()
	})
	.await??;
	let stdout = String::from_utf8_lossy(&out.stdout);
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert!(out.status.success(), "polkadot-js failed:\n{stdout}\n{stderr}");
	let report: serde_json::Value =
		serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("JSON report");
	assert_eq!(report["ok"], true);
	assert!(report["metadataVersion"].as_u64().unwrap() >= 14);
	Ok(())
}
