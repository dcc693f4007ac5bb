//! Operator-facing errors of `stratos-node`: a missing or corrupt chain spec and a busy port
//! give a clear message naming what is wrong, and the process exits with an error.

use std::{net::TcpListener, process::Command, time::Duration};

use stratos_tests::{free_port, node_binary, test_dir};

fn run(args: &[&str]) -> (bool, String) {
	let out = Command::new(node_binary().expect("node binary"))
		.args(args)
		.output()
		.expect("run stratos-node");
	let text =
		format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
	(out.status.success(), text)
}

#[test]
fn missing_chain_spec_names_the_file() {
	let (ok, text) = run(&["--chain", "/nonexistent/stratos-spec.json", "--tmp"]);
	assert!(!ok, "must fail: {text}");
	assert!(text.contains("/nonexistent/stratos-spec.json"), "names the file: {text}");
	assert!(text.contains("not found"), "says what is wrong: {text}");
}

#[test]
fn corrupt_chain_spec_names_the_file() {
	let dir = test_dir("corrupt-spec").unwrap();
	let path = dir.path().join("broken.json");
	std::fs::write(&path, b"{ \"name\": \"half a spec\", ").unwrap();
	let p = path.to_str().unwrap();
	let (ok, text) = run(&["--chain", p, "--tmp"]);
	assert!(!ok, "must fail: {text}");
	assert!(text.contains(p), "names the file: {text}");
	assert!(text.contains("not valid"), "says what is wrong: {text}");
}

#[test]
fn rpc_port_in_use_is_reported() {
	let busy = TcpListener::bind("127.0.0.1:0").unwrap();
	let port = busy.local_addr().unwrap().port().to_string();
	let dir = test_dir("busy-port").unwrap();
	let mut child = Command::new(node_binary().unwrap())
		.args(["--dev", "--tmp", "--no-telemetry"])
		.args(["--rpc-port", &port, "--port", &free_port().to_string()])
		.args(["--prometheus-port", &free_port().to_string()])
		.stderr(std::fs::File::create(dir.path().join("log")).unwrap())
		.spawn()
		.unwrap();
	let deadline = std::time::Instant::now() + Duration::from_secs(60);
	let status = loop {
		if let Some(s) = child.try_wait().unwrap() {
			break s;
		}
		if std::time::Instant::now() > deadline {
			let _ = child.kill();
			panic!("node kept running with its RPC port taken");
		}
		std::thread::sleep(Duration::from_millis(100));
	};
	let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
	assert!(!status.success());
	assert!(log.contains(&port), "names the port: {log}");
	assert!(log.to_lowercase().contains("in use"), "says it is in use: {log}");
	drop(busy);
}

#[test]
fn exported_dev_spec_carries_token_properties() {
	let (ok, text) = run(&["export-chain-spec", "--chain", "dev"]);
	assert!(ok, "{text}");
	let start = text.find('{').expect("json");
	let spec: serde_json::Value = serde_json::from_str(&text[start..]).expect("valid json");
	assert_eq!(spec["id"], "stratos_dev");
	assert_eq!(spec["properties"]["tokenSymbol"], "STOS");
	assert_eq!(spec["properties"]["tokenDecimals"], 12);
	assert_eq!(spec["properties"]["ss58Format"], 42);
}
