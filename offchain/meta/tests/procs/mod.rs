//! Real processes for the end-to-end tests: a `dev-network` chain, three `stratos-meta` and
//! four `stratos-rn` processes on the ports the preset registered (7401–7404, 7500–7502),
//! and the `sds` command line.
//!
//! Those ports are fixed, so two such networks cannot run at once: every test that starts one
//! is named `*meta_network_*`, and `scripts/test.sh` runs exactly those one after another in a
//! lane of their own, next to all the other tests ([`Network::start_on`] refuses to start for
//! a test named otherwise).
#![allow(dead_code)]

use anyhow::{bail, Context, Result};
use std::{
	path::{Path, PathBuf},
	process::{Child, Command, Output},
	time::{Duration, Instant},
};
use stratos_primitives::FileId;
use stratos_tests::{netns::Lab, node_binary, wait_finalized, Node};

/// What the name of every test that starts a [`Network`] contains (see the module docs).
pub const FIXED_PORTS_TEST: &str = "meta_network_";

/// The account the tests upload and download with.
pub const USER: &str = "//Alice//stash";
/// The meta nodes' accounts (and node keys), in port order.
pub const METAS: [&str; 3] = ["//Alice", "//Bob", "//Charlie"];

pub fn bin(name: &str) -> Result<PathBuf> {
	let p = node_binary()?.parent().expect("target dir").join(name);
	if !p.is_file() {
		bail!("{} not found: build the workspace first", p.display());
	}
	Ok(p)
}

/// A process killed (SIGKILL) when dropped.
pub struct Proc {
	child: Child,
	log: PathBuf,
}

impl Proc {
	/// Whether the process is still running.
	pub fn running(&mut self) -> bool {
		matches!(self.child.try_wait(), Ok(None))
	}
}

impl Drop for Proc {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
		if std::thread::panicking() {
			let text = std::fs::read_to_string(&self.log).unwrap_or_default();
			let lines: Vec<&str> = text.lines().collect();
			eprintln!(
				"----- {} -----\n{}",
				self.log.display(),
				lines[lines.len().saturating_sub(30)..].join("\n")
			);
		}
	}
}

pub fn spawn(dir: &Path, name: &str, program: &Path, args: &[String]) -> Result<Proc> {
	let log = dir.join(format!("{name}.log"));
	let out = std::fs::File::create(&log)?;
	let child = Command::new(program)
		.args(args)
		.env("RUST_LOG", "info,openraft=warn")
		.stdout(out.try_clone()?)
		.stderr(out)
		.spawn()
		.with_context(|| format!("starting {}", program.display()))?;
	Ok(Proc { child, log })
}

pub struct Sds {
	pub bin: PathBuf,
	pub chain: String,
	/// The account (secret URI) `sds` signs with.
	pub account: String,
}

impl Sds {
	/// `sds --home <home> --quiet <args>` in `cwd` (created), signing as the account.
	fn command(&self, home: &Path, cwd: &Path, args: &[&str]) -> Command {
		std::fs::create_dir_all(cwd).unwrap();
		let mut c = Command::new(&self.bin);
		c.current_dir(cwd)
			.env("SDS_CHAIN", &self.chain)
			.env("SDS_ACCOUNT", &self.account)
			.arg("--home")
			.arg(home)
			.arg("--quiet")
			.args(args);
		c
	}

	pub fn run(&self, home: &Path, cwd: &Path, args: &[&str]) -> Output {
		self.command(home, cwd, args).output().unwrap()
	}

	/// Starts `sds` in the background (stdout and stderr to `cwd/sds-<n>.log`).
	pub fn spawn(&self, home: &Path, cwd: &Path, args: &[&str]) -> Child {
		let mut c = self.command(home, cwd, args);
		let n = std::fs::read_dir(cwd).map(|d| d.count()).unwrap_or(0);
		let log = std::fs::File::create(cwd.join(format!("sds-{n}.log"))).unwrap();
		c.stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap()
	}

	pub fn ok(&self, home: &Path, cwd: &Path, args: &[&str]) -> String {
		let o = self.run(home, cwd, args);
		assert!(
			o.status.success(),
			"sds {args:?} failed\nstdout: {}\nstderr: {}",
			String::from_utf8_lossy(&o.stdout),
			String::from_utf8_lossy(&o.stderr)
		);
		String::from_utf8_lossy(&o.stdout).into_owned()
	}
}

pub fn random_file(path: &Path, len: usize, mut x: u64) {
	let data: Vec<u8> = (0..len)
		.map(|_| {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			x as u8
		})
		.collect();
	std::fs::write(path, data).unwrap();
}

pub fn file_id_in(out: &str) -> FileId {
	let id = out.split("file id ").nth(1).and_then(|r| r.split_whitespace().next()).expect(out);
	id.parse().expect(out)
}

/// Sum of `stratos_rn_slices` over the resource nodes' metrics endpoints.
pub fn slices_held(ports: &[u16]) -> u64 {
	metric_sum(ports, "stratos_rn_slices")
}

pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
	let deadline = Instant::now() + timeout;
	while !f() {
		assert!(Instant::now() < deadline, "timed out waiting for {what}");
		std::thread::sleep(Duration::from_millis(500));
	}
}

/// A running network: the chain, four resource nodes, three meta nodes.
/// The resource nodes' node keys (their dev-network registrations), in start order.
pub const RN_KEYS: [&str; 4] = ["//Dave", "//Eve", "//Ferdie", "//Dave//stash"];

pub struct Network {
	/// The chain node.
	pub node: Node,
	/// Its RPC.
	pub rpc: subxt::ext::jsonrpsee::ws_client::WsClient,
	/// Its websocket URL.
	pub url: String,
	/// The resource nodes (`None`: stopped), keyed by [`RN_KEYS`].
	pub rns: Vec<Option<Proc>>,
	/// The meta nodes (`None`: stopped).
	pub metas: Vec<Option<Proc>>,
	/// The `stratos-meta` binary.
	pub meta_bin: PathBuf,
	/// The resource nodes' metrics ports.
	pub metrics_ports: Vec<u16>,
	/// The test directory.
	pub dir: PathBuf,
	/// Where the processes listen; see [`Placement`].
	pub placement: Placement,
}

/// Where a [`Network`]'s processes listen.
#[derive(Clone, Debug)]
pub struct Placement {
	/// The address the chain's RPC and the resource nodes listen on: loopback, or the host's
	/// address on a [`Lab`]'s data network.
	pub host: String,
	/// Per meta node, the namespace it runs in and its address there (`None`: loopback).
	pub metas: Vec<Option<(String, String)>>,
}

impl Placement {
	fn loopback() -> Self {
		Self { host: "127.0.0.1".into(), metas: vec![None; METAS.len()] }
	}

	/// The address meta node `i` listens on.
	pub fn meta_ip(&self, i: usize) -> &str {
		self.metas[i].as_ref().map_or(self.host.as_str(), |(_, ip)| ip.as_str())
	}
}

/// Port of each meta node's metrics endpoint when it runs in a namespace (on its own address).
pub const LAB_META_METRICS_PORT: u16 = 9700;

impl Network {
	/// Starts the chain (`dev-network`), the resource nodes and the meta nodes in `d`.
	pub async fn start(d: &Path) -> Result<Self> {
		Self::start_on(d, "dev-network").await
	}

	/// The `dev-network` chain spec with its PoT genesis parameters changed by `patch` (the
	/// `pot` object of the genesis patch), written to `d/spec.json`; returns its path.
	pub fn patched_spec(d: &Path, patch: impl FnOnce(&mut serde_json::Value)) -> Result<String> {
		Self::spec_with(d, |genesis| patch(&mut genesis["pot"]))
	}

	/// The `dev-network` chain spec with its genesis patch (the object of every pallet's
	/// genesis) changed by `patch`, written to `d/spec.json`; returns its path.
	pub fn spec_with(d: &Path, patch: impl FnOnce(&mut serde_json::Value)) -> Result<String> {
		let out = Command::new(node_binary()?)
			.args(["build-spec", "--chain", "dev-network"])
			.output()
			.context("stratos-node build-spec")?;
		anyhow::ensure!(out.status.success(), "build-spec failed");
		let mut spec: serde_json::Value = serde_json::from_slice(&out.stdout)?;
		patch(&mut spec["genesis"]["runtimeGenesis"]["patch"]);
		let path = d.join("spec.json");
		std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
		Ok(path.display().to_string())
	}

	/// Starts the `dev-network` storage network with each meta node in its own namespace of
	/// `lab` (members 0, 1, 2, all on side A), so that [`Lab::isolate`] cuts one off while it
	/// runs; the chain, the resource nodes and the clients stay in the test's namespace, on
	/// the host's address on the lab's data network. The genesis registers the nodes at those
	/// addresses instead of loopback.
	pub async fn start_in_lab(d: &Path, lab: &Lab) -> Result<Self> {
		let host = lab.attach_host()?;
		let placement = Placement {
			host: host.clone(),
			metas: (0..METAS.len())
				.map(|i| Some((lab.namespace(i).to_owned(), lab.data_ip(i))))
				.collect(),
		};
		let spec = Self::spec_with(d, |genesis| {
			let nodes = genesis["nodeRegistry"]["nodes"].as_array_mut().expect("genesis nodes");
			for node in nodes {
				let address = node["address"].as_str().expect("an address").to_owned();
				let port: u16 =
					address.rsplit('/').next().and_then(|p| p.parse().ok()).expect("a port");
				let ip = match port.checked_sub(7500) {
					Some(i) if (i as usize) < METAS.len() => placement.meta_ip(i as usize),
					_ => host.as_str(),
				};
				node["address"] = format!("/ip4/{ip}/tcp/{port}").into();
			}
		})?;
		Self::launch(d, &spec, placement).await
	}

	/// Starts the chain from `chain` (a preset name or a spec file), the resource nodes and
	/// the meta nodes in `d`.
	pub async fn start_on(d: &Path, chain: &str) -> Result<Self> {
		Self::launch(d, chain, Placement::loopback()).await
	}

	async fn launch(d: &Path, chain: &str, placement: Placement) -> Result<Self> {
		// libtest runs each test on a thread named after it.
		let test = std::thread::current().name().unwrap_or_default().to_owned();
		anyhow::ensure!(
			test.contains(FIXED_PORTS_TEST),
			"test `{test}` starts the fixed-port network: name it `*{FIXED_PORTS_TEST}*` so \
			 that scripts/test.sh never runs it next to another one"
		);
		let base = d.join("chain");
		let key = format!("{:064x}", 1);
		let mut args = vec![
			"--chain",
			chain,
			"--alice",
			"--force-authoring",
			"--node-key",
			&key,
			"--base-path",
			base.to_str().unwrap(),
		];
		if placement.metas.iter().any(Option::is_some) {
			// The meta nodes in their namespaces reach the RPC on the host's lab address.
			args.extend(["--unsafe-rpc-external", "--rpc-cors", "all"]);
		}
		let node = Node::spawn("chain", d, &args)?;
		let rpc = node.rpc(Duration::from_secs(90)).await?;
		wait_finalized(&rpc, 1, Duration::from_secs(90)).await?;
		let url = node.ws_url();
		let metrics_ports: Vec<u16> = (0..4).map(|_| stratos_tests::free_port()).collect();
		let rns = (0..RN_KEYS.len()).map(|_| None).collect();
		let mut net = Self {
			node,
			rpc,
			url,
			rns,
			metas: Vec::new(),
			meta_bin: bin("stratos-meta")?,
			metrics_ports,
			dir: d.to_path_buf(),
			placement,
		};
		for i in 0..RN_KEYS.len() {
			net.rns[i] = Some(net.spawn_rn(i, &format!("rn{i}"))?);
		}
		for i in 0..METAS.len() {
			let m = net.spawn_meta(i, &format!("meta{i}"))?;
			net.metas.push(Some(m));
		}
		Ok(net)
	}

	/// Starts resource node `i` ([`RN_KEYS`], data directory `rn{i}`, port 7401 + i), logging
	/// to `label.log`; a restart resumes its store.
	pub fn spawn_rn(&self, i: usize, label: &str) -> Result<Proc> {
		let region = ["eu", "us", "asia", "eu"][i];
		let args: Vec<String> = vec![
			"--chain".into(),
			self.url.clone(),
			"--node-key-suri".into(),
			RN_KEYS[i].into(),
			"--listen".into(),
			format!("/ip4/{}/tcp/{}", self.placement.host, 7401 + i),
			"--data-dir".into(),
			self.dir.join(format!("rn{i}")).display().to_string(),
			"--capacity".into(),
			"4GiB".into(),
			"--region".into(),
			region.into(),
			"--metrics".into(),
			format!("127.0.0.1:{}", self.metrics_ports[i]),
			// A scrub round every 2 s (the tests' stores are small), so a slice that
			// rots on disk is found within seconds.
			"--scrub-every".into(),
			"2".into(),
		];
		spawn(&self.dir, label, &bin("stratos-rn")?, &args)
	}

	/// The arguments of meta node `i` (its data directory is `meta{i}`).
	pub fn meta_args(&self, i: usize) -> Result<Vec<String>> {
		let home = self.dir.join(format!("meta{i}"));
		std::fs::create_dir_all(&home)?;
		std::fs::write(home.join("account"), format!("{}\n", METAS[i]))?;
		let ip = self.placement.meta_ip(i);
		let mut args = vec![
			"--chain".into(),
			format!("ws://{}:{}", self.placement.host, self.node.rpc_port),
			"--node-key-suri".into(),
			METAS[i].into(),
			"--account-file".into(),
			home.join("account").display().to_string(),
			"--listen".into(),
			format!("/ip4/{ip}/tcp/{}", 7500 + i),
			"--data-dir".into(),
			home.display().to_string(),
		];
		if self.placement.metas[i].is_some() {
			args.extend(["--metrics".into(), format!("{ip}:{LAB_META_METRICS_PORT}")]);
		}
		Ok(args)
	}

	/// Starts meta node `i` (in its namespace, if it has one), logging to `label.log`.
	pub fn spawn_meta(&self, i: usize, label: &str) -> Result<Proc> {
		let args = self.meta_args(i)?;
		match &self.placement.metas[i] {
			None => spawn(&self.dir, label, &self.meta_bin, &args),
			Some((ns, _)) => {
				let mut wrapped: Vec<String> = vec!["netns".into(), "exec".into(), ns.clone()];
				wrapped.push(self.meta_bin.display().to_string());
				wrapped.extend(args);
				spawn(&self.dir, label, Path::new("ip"), &wrapped)
			},
		}
	}

	/// Gauge `name` of meta node `i` (run in a namespace), if it answers.
	pub fn meta_metric(&self, i: usize, name: &str) -> Option<u64> {
		let url = format!("http://{}:{LAB_META_METRICS_PORT}/metrics", self.placement.meta_ip(i));
		let out = Command::new("curl").args(["-s", "--max-time", "3", &url]).output().ok()?;
		String::from_utf8_lossy(&out.stdout)
			.lines()
			.find_map(|l| l.strip_prefix(&format!("{name} ")))
			.and_then(|v| v.trim().parse().ok())
	}

	/// `sds` for `account` on this chain.
	pub fn sds(&self, account: &str) -> Result<Sds> {
		Ok(Sds { bin: bin("sds")?, chain: self.url.clone(), account: account.into() })
	}

	/// Waits until a meta node leads and all four resource nodes are healthy.
	pub fn wait_ready(&self, sds: &Sds, home: &Path, work: &Path) {
		wait_until(
			"a meta leader and four healthy resource nodes",
			Duration::from_secs(180),
			|| {
				let o = sds.run(home, work, &["status"]);
				let s = String::from_utf8_lossy(&o.stdout);
				o.status.success()
					&& !s.contains("leader unknown")
					&& s.matches("] healthy").count() == 4
			},
		);
	}

	/// The meta node that leads, by the port in `sds status`.
	pub fn leader(&self, sds: &Sds, home: &Path, work: &Path) -> usize {
		let status = sds.ok(home, work, &["status"]);
		let port: usize = status
			.split("/tcp/")
			.nth(1)
			.and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
			.and_then(|p| p.parse().ok())
			.expect(&status);
		port - 7500
	}
}

/// Sum of a gauge over the resource nodes' metrics endpoints.
pub fn metric_sum(ports: &[u16], name: &str) -> u64 {
	ports
		.iter()
		.map(|p| {
			let out = Command::new("curl")
				.args(["-s", &format!("http://127.0.0.1:{p}/metrics")])
				.output();
			let text =
				out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
			text.lines()
				.find_map(|l| l.strip_prefix(&format!("{name} ")))
				.and_then(|v| v.trim().parse::<u64>().ok())
				.unwrap_or(u64::MAX)
		})
		.fold(0u64, |a, b| a.saturating_add(b))
}
