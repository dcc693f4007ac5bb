//! Test harness: real `stratos-node` processes on loopback, and RPC helpers.
//!
//! Every node gets free ports, its own base path in a temporary directory and a log file
//! (`<tmp>/<name>.log`); a failing test prints the tail of each node's log. Nodes are killed
//! when dropped.

use std::{
	io::{BufRead, BufReader},
	net::TcpListener,
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use subxt::{
	ext::jsonrpsee::{
		core::client::ClientT,
		rpc_params,
		ws_client::{WsClient, WsClientBuilder},
	},
	OnlineClient, PolkadotConfig,
};

/// The subxt interface generated from the checked-in metadata (`offchain/metadata/`).
#[subxt::subxt(runtime_metadata_path = "../offchain/metadata/stratos.scale")]
pub mod stratos {}

/// The repository root.
///
/// `cargo test` sets CARGO_MANIFEST_DIR at run time as well; that one wins, because a test
/// binary built in one clone can be reused by another clone sharing the target directory.
pub fn repo_root() -> PathBuf {
	let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
	manifest.parent().expect("tests/ has a parent").to_path_buf()
}

/// Path of the `stratos-node` binary: `$STRATOS_NODE` or the one next to this test binary
/// in the cargo target directory.
pub fn node_binary() -> Result<PathBuf> {
	if let Ok(p) = std::env::var("STRATOS_NODE") {
		return Ok(PathBuf::from(p));
	}
	// <target>/<profile>/deps/<test-binary>
	let exe = std::env::current_exe()?;
	let profile_dir = exe
		.parent()
		.and_then(Path::parent)
		.ok_or_else(|| anyhow!("cannot locate the target dir from {}", exe.display()))?;
	let bin = profile_dir.join("stratos-node");
	if !bin.is_file() {
		bail!(
			"{} not found: build it first (`cargo build -p stratos-node`) or set STRATOS_NODE",
			bin.display()
		);
	}
	Ok(bin)
}

/// A free TCP port on 127.0.0.1 for a node to listen on.
///
/// Taken below the kernel's ephemeral range (32768 and up): a port the kernel hands out for
/// `bind(0)` can be taken again by any outgoing connection (of a node still shutting down,
/// say) between this check and the node's own bind, which once failed a test with
/// "Address already in use". Picks within one process never repeat, and processes start
/// at different offsets.
pub fn free_port() -> u16 {
	use std::sync::atomic::{AtomicU32, Ordering};
	const LOW: u32 = 20_000;
	const SPAN: u32 = 12_000;
	static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
	let _ = NEXT.compare_exchange(
		u32::MAX,
		(std::process::id().wrapping_mul(7_919)) % SPAN,
		Ordering::SeqCst,
		Ordering::SeqCst,
	);
	for _ in 0..SPAN {
		let port = (LOW + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
		if TcpListener::bind(("127.0.0.1", port)).is_ok() {
			return port;
		}
	}
	panic!("no free port on loopback between {LOW} and {}", LOW + SPAN)
}

pub mod netns;

/// A running `stratos-node`.
pub struct Node {
	/// Name given with `--name` (also the log file name).
	pub name: String,
	/// Address its RPC server is reached at.
	pub rpc_host: String,
	/// Address its libp2p listener is reached at.
	pub p2p_host: String,
	/// JSON-RPC port (WebSocket and HTTP).
	pub rpc_port: u16,
	/// libp2p port.
	pub p2p_port: u16,
	/// Prometheus port.
	pub prometheus_port: u16,
	/// Log file of the process.
	pub log: PathBuf,
	child: std::sync::Mutex<Child>,
}

impl Node {
	/// Starts `stratos-node` with `args` plus free ports, a name and a log file in `dir`.
	pub fn spawn(name: &str, dir: &Path, args: &[&str]) -> Result<Node> {
		let rpc_port = free_port();
		let p2p_port = free_port();
		let prometheus_port = free_port();
		let log = dir.join(format!("{name}.log"));
		let out = std::fs::File::create(&log)?;
		let child = Command::new(node_binary()?)
			.args(args)
			.args(["--name", name])
			.args(["--rpc-port", &rpc_port.to_string()])
			.args(["--prometheus-port", &prometheus_port.to_string()])
			.args(["--listen-addr", &format!("/ip4/127.0.0.1/tcp/{p2p_port}")])
			.args(["--no-mdns", "--no-telemetry"])
			.stdout(Stdio::null())
			.stderr(out)
			.spawn()
			.context("starting stratos-node")?;
		Ok(Node {
			name: name.into(),
			rpc_host: "127.0.0.1".into(),
			p2p_host: "127.0.0.1".into(),
			rpc_port,
			p2p_port,
			prometheus_port,
			log,
			child: std::sync::Mutex::new(child),
		})
	}

	/// Starts `stratos-node` with `args` inside the network namespace `ns` of a
	/// [`netns::Lab`]: libp2p on `p2p_host:30333` (the lab's data network), RPC on port 9944 of
	/// every address of the namespace (reached through its management link at `rpc_host`),
	/// no Prometheus. The log file `dir/<name>.log` is appended to, so a restarted node
	/// keeps its history.
	pub fn spawn_in_netns(
		name: &str,
		dir: &Path,
		ns: &str,
		rpc_host: &str,
		p2p_host: &str,
		args: &[&str],
	) -> Result<Node> {
		const RPC_PORT: u16 = 9944;
		const P2P_PORT: u16 = 30333;
		let log = dir.join(format!("{name}.log"));
		let out = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
		let child = Command::new("ip")
			.args(["netns", "exec", ns])
			.arg(node_binary()?)
			.args(args)
			.args(["--name", name])
			.args([
				"--rpc-port",
				&RPC_PORT.to_string(),
				"--unsafe-rpc-external",
				"--rpc-cors",
				"all",
			])
			.args(["--no-prometheus", "--no-mdns", "--no-telemetry"])
			.args(["--listen-addr", &format!("/ip4/{p2p_host}/tcp/{P2P_PORT}")])
			.stdout(Stdio::null())
			.stderr(out)
			.spawn()
			.context("starting stratos-node with `ip netns exec`")?;
		Ok(Node {
			name: name.into(),
			rpc_host: rpc_host.into(),
			p2p_host: p2p_host.into(),
			rpc_port: RPC_PORT,
			p2p_port: P2P_PORT,
			prometheus_port: 0,
			log,
			child: std::sync::Mutex::new(child),
		})
	}

	/// `ws://<rpc host>:<rpc>`.
	pub fn ws_url(&self) -> String {
		format!("ws://{}:{}", self.rpc_host, self.rpc_port)
	}

	/// Kills the process with SIGKILL (no shutdown of any kind) and reaps it.
	pub fn kill(&self) {
		if let Ok(mut child) = self.child.lock() {
			let _ = child.kill();
			let _ = child.wait();
		}
	}

	/// The node's libp2p address with its peer id, read from its log.
	pub fn multiaddr(&self, timeout: Duration) -> Result<String> {
		let deadline = Instant::now() + timeout;
		loop {
			let f = std::fs::File::open(&self.log)?;
			for line in BufReader::new(f).lines() {
				let line = line?;
				if let Some(pos) = line.find("Local node identity is: ") {
					let id = line[pos + "Local node identity is: ".len()..].trim();
					return Ok(format!("/ip4/{}/tcp/{}/p2p/{}", self.p2p_host, self.p2p_port, id));
				}
			}
			if Instant::now() > deadline {
				bail!("{}: no node identity in its log\n{}", self.name, self.log_tail(30));
			}
			std::thread::sleep(Duration::from_millis(100));
		}
	}

	/// Waits until the RPC server answers, then returns a raw JSON-RPC client.
	pub async fn rpc(&self, timeout: Duration) -> Result<WsClient> {
		let deadline = Instant::now() + timeout;
		loop {
			match WsClientBuilder::default()
				.max_request_size(64 * 1024 * 1024)
				.request_timeout(Duration::from_secs(120))
				.build(self.ws_url())
				.await
			{
				Ok(c) => return Ok(c),
				Err(e) if Instant::now() > deadline => bail!(
					"{}: RPC did not come up in {timeout:?}: {e}\n{}",
					self.name,
					self.log_tail(40)
				),
				Err(_) => {
					if let Some(status) = self.exit_status() {
						bail!("{} exited ({status}):\n{}", self.name, self.log_tail(40));
					}
					tokio::time::sleep(Duration::from_millis(200)).await
				},
			}
		}
	}

	/// A subxt client connected to this node.
	pub async fn subxt(&self, timeout: Duration) -> Result<OnlineClient<PolkadotConfig>> {
		self.rpc(timeout).await?; // wait for the server
		Ok(OnlineClient::<PolkadotConfig>::from_insecure_url(self.ws_url()).await?)
	}

	/// The last `n` lines of the node's log.
	pub fn log_tail(&self, n: usize) -> String {
		let text = std::fs::read_to_string(&self.log).unwrap_or_default();
		let lines: Vec<&str> = text.lines().collect();
		lines[lines.len().saturating_sub(n)..].join("\n")
	}

	/// The exit status, if the process has exited.
	pub fn exit_status(&self) -> Option<std::process::ExitStatus> {
		self.child.lock().ok()?.try_wait().ok().flatten()
	}
}

impl Drop for Node {
	fn drop(&mut self) {
		if let Ok(child) = self.child.get_mut() {
			let _ = child.kill();
			let _ = child.wait();
		}
		if std::thread::panicking() {
			eprintln!("----- {} log tail -----\n{}", self.name, self.log_tail(40));
		}
	}
}

/// Finalized block number of the node behind `rpc`.
pub async fn finalized_number(rpc: &WsClient) -> Result<u32> {
	let hash: String = rpc.request("chain_getFinalizedHead", rpc_params![]).await?;
	header_number(rpc, Some(&hash)).await
}

/// Best block number of the node behind `rpc`.
pub async fn best_number(rpc: &WsClient) -> Result<u32> {
	header_number(rpc, None).await
}

/// Number of the block `hash` (best block if `None`).
pub async fn header_number(rpc: &WsClient, hash: Option<&str>) -> Result<u32> {
	let header: serde_json::Value = match hash {
		Some(h) => rpc.request("chain_getHeader", rpc_params![h]).await?,
		None => rpc.request("chain_getHeader", rpc_params![]).await?,
	};
	let n = header["number"].as_str().ok_or_else(|| anyhow!("header without number"))?;
	Ok(u32::from_str_radix(n.trim_start_matches("0x"), 16)?)
}

/// Waits until the finalized block number reaches `n`; returns it.
pub async fn wait_finalized(rpc: &WsClient, n: u32, timeout: Duration) -> Result<u32> {
	let deadline = Instant::now() + timeout;
	loop {
		let f = finalized_number(rpc).await?;
		if f >= n {
			return Ok(f);
		}
		if Instant::now() > deadline {
			bail!("finalized block {f} did not reach {n} within {timeout:?}");
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

/// A temporary directory for a test's node logs and data (kept if `STRATOS_KEEP_TMP` is set).
pub fn test_dir(name: &str) -> Result<tempfile::TempDir> {
	let mut d = tempfile::Builder::new().prefix(&format!("stratos-{name}-")).tempdir()?;
	if std::env::var_os("STRATOS_KEEP_TMP").is_some() {
		d.disable_cleanup(true);
		eprintln!("{name}: logs kept in {}", d.path().display());
	}
	Ok(d)
}

/// Starts a validator of the `local` chain named `name` with the dev session keys of `who`
/// (`alice`, `bob`, ...), fixed node key number `key` (a validator on a non-dev chain needs a
/// persistent libp2p key), a temporary database, booting from `boot` if given.
pub fn spawn_local_validator(
	name: &str,
	dir: &Path,
	who: &str,
	key: u64,
	boot: Option<&str>,
) -> Result<Node> {
	let flag = format!("--{who}");
	let key = format!("{key:064x}");
	let mut args = vec!["--chain", "local", &flag, "--validator", "--tmp", "--node-key", &key];
	if let Some(boot) = boot {
		args.extend(["--bootnodes", boot]);
	}
	Node::spawn(name, dir, &args)
}

/// Starts the `local` chain: Alice, Bob, Charlie and Dave as validators, each its own process,
/// Bob..Dave booting from Alice. Returns the temp dir (keep it alive) and the nodes.
pub async fn start_local_network(tag: &str) -> Result<(tempfile::TempDir, Vec<Node>)> {
	let dir = test_dir(tag)?;
	let alice = spawn_local_validator("alice", dir.path(), "alice", 1, None)?;
	let boot = alice.multiaddr(Duration::from_secs(60))?;
	let mut nodes = vec![alice];
	for (i, who) in ["bob", "charlie", "dave"].into_iter().enumerate() {
		nodes.push(spawn_local_validator(who, dir.path(), who, i as u64 + 2, Some(&boot))?);
	}
	for n in &nodes {
		n.rpc(Duration::from_secs(90)).await?;
	}
	Ok((dir, nodes))
}
