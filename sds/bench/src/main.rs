//! `sds-bench`: uploads and downloads a file (1 GiB by default) through `stratos-rn`
//! processes on loopback with the `sds` CLI (1 and 3 replicas; downloads to a file and to
//! standard output), and prints every figure against min(disk limit, CPU ceiling) measured
//! in the same run:
//!
//! * the disk right before and after every phase: `dd bs=4M conv=fdatasync` of the same
//!   size, then a cold sequential read of it (page cache dropped, when allowed); a phase's
//!   disk limit is what it needs of the disk (3 replicas on one disk: a third of the write
//!   rate; a download to a file: the slower of the nodes' reads and the client's writes);
//! * the CPU ceiling: the hash and cipher passes per byte the phase needs (SHA-256 slice
//!   hasher and noise's ChaCha20-Poly1305, measured in memory) spread over the cores;
//!
//! and the peak RSS of every process. Goals (issue 15): each figure ≥ 75% of its limit,
//! RSS ≤ 256 MiB per process.
//!
//! With `--chain ws://127.0.0.1:9944` (the network of `scripts/start-local-network.sh`
//! running) it also puts and gets the file through the meta nodes and prints those figures
//! against the direct ones of the same run (goal, issue 12: ≥ 95%). Downloads alternate
//! between the two paths `--rounds` times; medians are reported.

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::{
	io::{BufRead, BufReader, Read, Write},
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	time::Instant,
};

#[derive(Parser)]
#[command(
	name = "sds-bench",
	about = "Benchmark SDS upload/download against disk and hash baselines"
)]
struct Args {
	/// File size.
	#[arg(long, default_value = "1GiB")]
	size: String,
	/// Slice size.
	#[arg(long, default_value = "16MiB")]
	slice_size: String,
	/// Slices in flight.
	#[arg(long, default_value_t = 4)]
	parallel: usize,
	/// Connections the client opens to each node (`sds --connections`).
	#[arg(long, default_value_t = 4)]
	connections: u32,
	/// Work directory (on the disk to measure; not a tmpfs).
	#[arg(long, default_value = "/var/tmp/sds-bench")]
	dir: PathBuf,
	/// Only measure the baselines and hash candidates.
	#[arg(long)]
	baselines_only: bool,
	/// Also put and get through the meta nodes of the network whose chain RPC this is (the
	/// local network of `scripts/start-local-network.sh`: ws://127.0.0.1:9944), next to the
	/// direct data-plane figures of the same run.
	#[arg(long)]
	chain: Option<String>,
	/// Downloads of each kind (direct, through the meta nodes), alternating; medians are
	/// reported.
	#[arg(long, default_value_t = 3)]
	rounds: usize,
	/// The account that stores and downloads through the meta nodes (needs balance for the
	/// storage fee and reserved download credit; the start script gives //Alice//stash both).
	#[arg(long, default_value = "//Alice//stash")]
	account: String,
}

fn bin(name: &str) -> Result<PathBuf> {
	let me = std::env::current_exe()?;
	let p = me.parent().context("exe dir")?.join(name);
	if !p.exists() {
		bail!("{} not found: build the workspace first", p.display());
	}
	Ok(p)
}

fn drop_caches() -> bool {
	// SAFETY-free: plain sync + a write to procfs (needs root).
	let _ = Command::new("sync").status();
	std::fs::write("/proc/sys/vm/drop_caches", b"3\n").is_ok()
}

fn mbps(bytes: u64, secs: f64) -> f64 {
	bytes as f64 / 1e6 / secs
}

/// The highest of three measured rates: a baseline is what the machine can do, and one pass
/// slowed by other work (the kernel writing the input file back, a neighbour on the host)
/// would lower the ceiling and flatter every figure set against it.
fn fastest(mut rate: impl FnMut() -> f64) -> f64 {
	fastest_of((0..3).map(|_| rate()))
}

fn fastest_of(rates: impl IntoIterator<Item = f64>) -> f64 {
	rates.into_iter().fold(0.0, f64::max)
}

/// System-wide CPU time in use so far (user, system and interrupt time of every core), in
/// seconds (`/proc/stat`, counted in 1/100 s).
fn busy_seconds() -> Result<f64> {
	let stat = std::fs::read_to_string("/proc/stat")?;
	let cpu = stat.lines().next().context("empty /proc/stat")?;
	let f: Vec<u64> = cpu.split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0)).collect();
	// user, nice, system, (idle, iowait), irq, softirq
	let ticks = [0, 1, 2, 5, 6].iter().map(|&i| f.get(i).copied().unwrap_or(0)).sum::<u64>();
	Ok(ticks as f64 / 100.0)
}

/// Loopback TCP: bytes moved from one socket to another on this machine per second of CPU
/// (both ends: the copies in and out of the kernel and its TCP work on the two cores; 64 KiB
/// writes, 256 KiB reads, as noise's frames and the nodes' read buffer). Every byte of a
/// download between processes on one machine crosses it once; the CPU ceiling leaves it out.
fn loopback_rate(bytes: u64) -> Result<f64> {
	let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
	let addr = listener.local_addr()?;
	let receiver = std::thread::spawn(move || -> std::io::Result<u64> {
		let (mut s, _) = listener.accept()?;
		let mut buf = vec![0u8; 256 << 10];
		let mut got = 0u64;
		loop {
			match s.read(&mut buf)? {
				0 => return Ok(got),
				n => got += n as u64,
			}
		}
	});
	let mut s = std::net::TcpStream::connect(addr)?;
	s.set_nodelay(true)?;
	let chunk = vec![0x5au8; 64 << 10];
	let start = busy_seconds()?;
	let mut sent = 0u64;
	while sent < bytes {
		s.write_all(&chunk)?;
		sent += chunk.len() as u64;
	}
	drop(s);
	let got = receiver.join().map_err(|_| anyhow::anyhow!("loopback receiver panicked"))??;
	let cpu = busy_seconds()? - start;
	if got != sent || cpu <= 0.0 {
		bail!("loopback: {got} of {sent} bytes arrived in {cpu} CPU-seconds");
	}
	Ok(mbps(sent, cpu))
}

/// Runs a command to completion; returns seconds, the child's peak RSS in KiB (its VmHWM,
/// sampled every 20 ms while it runs; `ru_maxrss` would include the forking parent's memory)
/// and its standard output and error.
fn run_measured(cmd: &mut Command) -> Result<(f64, u64, String, String)> {
	run_with_stdout(cmd, Stdio::piped())
}

/// [`run_measured`] with the child's standard output going to `stdout`.
fn run_with_stdout(cmd: &mut Command, stdout: Stdio) -> Result<(f64, u64, String, String)> {
	let t = Instant::now();
	let child = cmd.stdout(stdout).stderr(Stdio::piped()).spawn()?;
	let pid = child.id();
	let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
	let sampler = {
		let done = done.clone();
		std::thread::spawn(move || {
			let mut peak = 0;
			while !done.load(std::sync::atomic::Ordering::SeqCst) {
				peak = peak.max(peak_rss_kib(pid));
				std::thread::sleep(std::time::Duration::from_millis(20));
			}
			peak
		})
	};
	let out = child.wait_with_output()?;
	let secs = t.elapsed().as_secs_f64();
	done.store(true, std::sync::atomic::Ordering::SeqCst);
	let peak = sampler.join().unwrap_or(0);
	if !out.status.success() {
		bail!(
			"{cmd:?} failed: {}{}",
			String::from_utf8_lossy(&out.stdout),
			String::from_utf8_lossy(&out.stderr)
		);
	}
	Ok((
		secs,
		peak,
		String::from_utf8_lossy(&out.stdout).into_owned(),
		String::from_utf8_lossy(&out.stderr).into_owned(),
	))
}

fn peak_rss_kib(pid: u32) -> u64 {
	std::fs::read_to_string(format!("/proc/{pid}/status"))
		.ok()
		.and_then(|s| {
			s.lines()
				.find(|l| l.starts_with("VmHWM:"))
				.and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
		})
		.unwrap_or(0)
}

struct Rn(Child, String);

impl Drop for Rn {
	fn drop(&mut self) {
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

fn start_rn(dir: &Path) -> Result<Rn> {
	let mut child = Command::new(bin("stratos-rn")?)
		.args(["--listen", "/ip4/127.0.0.1/tcp/0", "--capacity", "1TiB", "--log", "warn"])
		.arg("--data-dir")
		.arg(dir)
		.stdout(Stdio::piped())
		.spawn()?;
	let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
	loop {
		let line = lines.next().context("stratos-rn exited")??;
		if let Some(a) = line.strip_prefix("STRATOS_RN_ADDR ") {
			return Ok(Rn(child, a.to_string()));
		}
	}
}

fn write_input(path: &Path, size: u64) -> Result<()> {
	let mut f = std::fs::File::create(path)?;
	let mut x = 0x2545_f491_4f6c_dd1du64;
	let mut buf = vec![0u8; 4 << 20];
	let mut left = size;
	while left > 0 {
		for w in buf.chunks_mut(8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			w.copy_from_slice(&x.to_le_bytes()[..w.len()]);
		}
		let n = left.min(buf.len() as u64) as usize;
		f.write_all(&buf[..n])?;
		left -= n as u64;
	}
	f.sync_all()?;
	Ok(())
}

fn main() -> Result<()> {
	let args = Args::parse();
	let size = sds_core::units::parse_size(&args.size).map_err(anyhow::Error::msg)?;
	let _ = std::fs::remove_dir_all(&args.dir);
	std::fs::create_dir_all(&args.dir)
		.with_context(|| format!("cannot create {}", args.dir.display()))?;
	let dir = args.dir.canonicalize()?;
	println!(
		"sds-bench: {} bytes, slice {}, {} in flight, {} connections per node, in {}",
		size,
		args.slice_size,
		args.parallel,
		args.connections,
		dir.display()
	);
	// Debug (dev) and release binaries differ outside the data path's optimised crates.
	println!(
		"binaries: {} (sds, stratos-rn)",
		bin("sds")?.parent().map(|p| p.display().to_string()).unwrap_or_default()
	);

	// The disk right before the first phase; measured again after every phase.
	let mut disks = vec![disk(&dir, size)?];

	// The input file (written and synced before the phases start).
	let input = dir.join("input.bin");
	write_input(&input, size)?;

	// The slice hasher in memory.
	let mem = vec![0x5au8; 256 << 20];
	let hash = fastest(|| {
		let t = Instant::now();
		let mut h = stratos_primitives::merkle::SliceHasher::new();
		h.update(&mem);
		let _ = h.finish();
		mbps(mem.len() as u64, t.elapsed().as_secs_f64())
	});
	// The hash candidates (ADR 0007), over 64 KiB chunks like the slice hasher.
	let candidates: [(&str, fn(&[u8]) -> [u8; 32]); 3] = [
		("blake2b-256", sp_crypto_hashing::blake2_256),
		("sha2-256", sp_crypto_hashing::sha2_256),
		("keccak-256", sp_crypto_hashing::keccak_256),
	];
	let mut hash_rates = Vec::new();
	for (name, f) in candidates {
		let rate = fastest(|| {
			let t = Instant::now();
			for c in mem[..64 << 20].chunks(64 << 10) {
				std::hint::black_box(f(c));
			}
			mbps(64 << 20, t.elapsed().as_secs_f64())
		});
		hash_rates.push((name, rate));
	}
	// The transport cipher (noise's ChaCha20-Poly1305) over 64 KiB frames, one core.
	let aead = {
		use chacha20poly1305::{aead::AeadInPlace, ChaCha20Poly1305, KeyInit};
		let cipher = ChaCha20Poly1305::new(&[7u8; 32].into());
		let mut frame = mem[..64 << 10].to_vec();
		let rounds = 1024u64; // 64 MiB
		fastest(|| {
			let t = Instant::now();
			for i in 0..rounds {
				let mut nonce = [0u8; 12];
				nonce[..8].copy_from_slice(&i.to_le_bytes());
				let tag = cipher
					.encrypt_in_place_detached(&nonce.into(), &[], &mut frame)
					.expect("encrypts");
				std::hint::black_box(tag);
			}
			mbps(rounds * (64 << 10), t.elapsed().as_secs_f64())
		})
	};
	let aead_rustcrypto = aead;
	// ring's, which noise actually runs: the ceiling uses this one.
	let aead = {
		use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
		let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[7u8; 32]).expect("key"));
		let mut frame = mem[..64 << 10].to_vec();
		let rounds = 1024u64; // 64 MiB
		fastest(|| {
			let t = Instant::now();
			for i in 0..rounds {
				let mut nonce = [0u8; 12];
				nonce[..8].copy_from_slice(&i.to_le_bytes());
				let tag = key
					.seal_in_place_separate_tag(
						Nonce::assume_unique_for_key(nonce),
						Aad::empty(),
						&mut frame,
					)
					.expect("encrypts");
				let _ = std::hint::black_box(tag);
			}
			mbps(rounds * (64 << 10), t.elapsed().as_secs_f64())
		})
	};
	drop(mem);
	let loopback = fastest_of((0..3).map(|_| loopback_rate(size)).collect::<Result<Vec<_>>>()?);
	// CPU ceilings: the hash and cipher passes a phase needs per byte, spread perfectly over
	// every core, before any copy, syscall, framing or disk work.
	// * download: the node verifies each chunk as it reads it, the client as it receives it
	//   (2 hashes); noise encrypts and decrypts (2 cipher passes);
	// * upload with 3 replicas: the client hashes and encrypts; each of the 3 hops decrypts
	//   and hashes, the first two encrypt again to forward (4 hashes, 6 cipher passes);
	// * upload with 1 replica: 2 hashes, 2 cipher passes.
	let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
	let ceiling = |hashes: f64, ciphers: f64| cores / (hashes / hash + ciphers / aead);
	let (cpu_down, cpu_up3, cpu_up1) = (ceiling(2.0, 2.0), ceiling(4.0, 6.0), ceiling(2.0, 2.0));
	// The same, with one loopback crossing per byte: what a download between processes on
	// one machine can reach at most (on a network the crossing's two ends run on two
	// machines).
	let cpu_down_loopback = cores / (2.0 / hash + 2.0 / aead + 1.0 / loopback);

	if args.baselines_only {
		let d = &disks[0];
		println!(
			"disk write {:.1} MB/s, read {:.1} MB/s ({}), slice hasher {hash:.1} MB/s",
			d.write,
			d.read,
			if d.cold { "cold" } else { "warm" }
		);
		for (name, rate) in &hash_rates {
			println!("{name}: {rate:.1} MB/s");
		}
		println!("chacha20-poly1305: {aead:.1} MB/s; loopback TCP {loopback:.1} MB/s per CPU-second; CPU ceilings on {cores} cores: download {cpu_down:.1} ({cpu_down_loopback:.1} with the loopback), upload x3 {cpu_up3:.1} MB/s");
		let _ = std::fs::remove_dir_all(&dir);
		return Ok(());
	}
	let sds = bin("sds")?;
	let flags = |c: &mut Command, home: &Path, nodes: &[&Rn], replicas: usize| {
		c.arg("--home").arg(home).args(["--quiet", "--slice-size", &args.slice_size]);
		c.args(["--parallel", &args.parallel.to_string(), "--replicas", &replicas.to_string()]);
		c.args(["--connections", &args.connections.to_string()]);
		for r in nodes {
			c.args(["--node", &r.1]);
		}
	};
	// One replica on a node of its own: a pipelined 3-replica upload should take about as
	// long as this, not three times as long; downloads from it are the 1-replica figures.
	let solo = start_rn(&dir.join("solo"))?;
	let solo_home = dir.join("client-solo");
	drop_caches();
	let mut put1 = Command::new(&sds);
	flags(&mut put1, &solo_home, &[&solo], 1);
	put1.arg("put").arg(&input).arg("/bench.bin");
	let (put1_s, _, _, _) = run_measured(&mut put1)?;
	let upload1 = mbps(size, put1_s);
	disks.push(disk(&dir, size)?);
	// Three resource nodes, three replicas.
	let rns: Vec<Rn> =
		(0..3).map(|i| start_rn(&dir.join(format!("rn{i}")))).collect::<Result<_>>()?;
	let three: Vec<&Rn> = rns.iter().collect();
	let home = dir.join("client");
	drop_caches();
	let mut put = Command::new(&sds);
	flags(&mut put, &home, &three, 3);
	put.arg("put").arg(&input).arg("/bench.bin");
	let (put_s, put_rss, _, _) = run_measured(&mut put)?;
	let upload = mbps(size, put_s);
	disks.push(disk(&dir, size)?);
	// The meta nodes' upload next; then the downloads alternate between the direct data
	// plane and the meta nodes, `rounds` times each (medians reported): one download of a
	// GiB varies by tens of percent on a shared 2-core machine.
	let meta = match &args.chain {
		Some(chain) => Some(MetaRun::put(&args, chain, &sds, &input, &dir, size)?),
		None => None,
	};
	let output = dir.join("output.bin");
	let (mut direct_gets, mut meta_gets, mut meta_walls) = (vec![], vec![], vec![]);
	let (mut get_rss, mut same) = (0, true);
	for _ in 0..args.rounds.max(1) {
		drop_caches();
		let mut get = Command::new(&sds);
		flags(&mut get, &home, &three, 3);
		get.args(["get", "/bench.bin"]).arg(&output);
		let (get_s, rss, _, _) = run_measured(&mut get)?;
		direct_gets.push(mbps(size, get_s));
		get_rss = get_rss.max(rss);
		same &= files_equal(&input, &output)?;
		let _ = std::fs::remove_file(&output);
		if let Some(m) = &meta {
			let (client_s, wall_s) = m.get(&sds, &input, &dir)?;
			meta_gets.push(mbps(size, client_s));
			meta_walls.push(mbps(size, wall_s));
		}
	}
	let download = median(&direct_gets);
	disks.push(disk(&dir, size)?);
	// To standard output (`sds cat`, read by this process and compared with the input as it
	// arrives), 3 replicas serving.
	let mut cat_gets = vec![];
	for _ in 0..args.rounds.max(1) {
		drop_caches();
		let mut cat = Command::new(&sds);
		flags(&mut cat, &home, &three, 3);
		cat.args(["cat", "/bench.bin"]);
		let (secs, rss) = run_to_null(&mut cat)?;
		cat_gets.push(mbps(size, secs));
		get_rss = get_rss.max(rss);
	}
	let cat3 = median(&cat_gets);
	// Once more, read by this process and compared with the input as it arrives.
	drop_caches();
	let mut cat = Command::new(&sds);
	flags(&mut cat, &home, &three, 3);
	cat.args(["cat", "/bench.bin"]);
	let (secs, _, equal) = run_streamed(&mut cat, &input)?;
	let cat3_checked = mbps(size, secs);
	same &= equal;
	disks.push(disk(&dir, size)?);
	// One replica serving: to a file, then to standard output.
	let (mut solo_gets, mut solo_cats) = (vec![], vec![]);
	for _ in 0..args.rounds.max(1) {
		drop_caches();
		let mut get = Command::new(&sds);
		flags(&mut get, &solo_home, &[&solo], 1);
		get.args(["get", "/bench.bin"]).arg(&output);
		let (get_s, _, _, _) = run_measured(&mut get)?;
		solo_gets.push(mbps(size, get_s));
		same &= files_equal(&input, &output)?;
		let _ = std::fs::remove_file(&output);
	}
	let get1 = median(&solo_gets);
	disks.push(disk(&dir, size)?);
	for _ in 0..args.rounds.max(1) {
		drop_caches();
		let mut cat = Command::new(&sds);
		flags(&mut cat, &solo_home, &[&solo], 1);
		cat.args(["cat", "/bench.bin"]);
		let (secs, _) = run_to_null(&mut cat)?;
		solo_cats.push(mbps(size, secs));
	}
	let cat1 = median(&solo_cats);
	disks.push(disk(&dir, size)?);
	// One node serving 64 streams at once (a download with 64 slices in flight): its peak
	// RSS is the goal's figure.
	drop_caches();
	let mut wide = Command::new(&sds);
	wide.arg("--home").arg(&solo_home).args(["--quiet", "--slice-size", &args.slice_size]);
	wide.args(["--parallel", "64", "--replicas", "1", "--node", &solo.1]);
	wide.args(["--connections", &args.connections.to_string()]);
	wide.args(["get", "/bench.bin"]).arg(&output);
	let (wide_s, _, _, _) = run_measured(&mut wide)?;
	same &= files_equal(&input, &output)?;
	let _ = std::fs::remove_file(&output);
	let solo_rss_64 = peak_rss_kib(solo.0.id());
	let mut rn_rss: Vec<u64> = rns.iter().map(|r| peak_rss_kib(r.0.id())).collect();
	rn_rss.push(peak_rss_kib(solo.0.id()));
	drop(three);
	drop(rns);
	drop(solo);
	if let Some(m) = &meta {
		m.rm(&sds, &dir);
	}

	let cold = disks.iter().all(|d| d.cold);
	println!();
	println!(
		"baselines (same run, same disk; the disk measured before and after every phase: dd bs=4M conv=fdatasync, then a {} sequential read of that file)",
		if cold { "cold" } else { "WARM (could not drop caches)" }
	);
	for (i, d) in disks.iter().enumerate() {
		println!(
			"  disk {i}                    write {:8.1} MB/s   read {:8.1} MB/s",
			d.write, d.read
		);
	}
	println!("  slice hasher (SHA-256)    {hash:8.1} MB/s");
	for (name, rate) in &hash_rates {
		println!("  {name:<25} {rate:8.1} MB/s   (candidate, 64 KiB chunks)");
	}
	println!(
		"  ChaCha20-Poly1305, ring   {aead:8.1} MB/s   (one core, 64 KiB frames; what noise runs)"
	);
	println!("  ChaCha20-Poly1305, RustCrypto {aead_rustcrypto:4.1} MB/s");
	println!("  CPU ceiling, download     {cpu_down:8.1} MB/s   (2 hashes + 2 cipher passes per byte over {cores} cores)");
	println!("  CPU ceiling, upload x3    {cpu_up3:8.1} MB/s   (4 hashes + 6 cipher passes per byte over {cores} cores)");
	println!("  loopback TCP              {loopback:8.1} MB/s   (per CPU-second, both ends, 64 KiB writes)");
	println!("  CPU ceiling + loopback    {cpu_down_loopback:8.1} MB/s   (download: the ceiling's passes and one loopback crossing per byte)");
	println!("sds (each against min(disk limit, CPU ceiling); the disk limit from the larger of the measurements before and after the phase; goal >= 75%)");
	// Phases, in order, between disk measurements k and k + 1.
	let limit = |k: usize, disk_limit: fn(&Disk) -> f64, cpu: f64| {
		let d = disk_limit(&disks[k]).max(disk_limit(&disks[k + 1]));
		(d, cpu, d.min(cpu))
	};
	let line = |name: &str, rate: f64, (d, cpu, lim): (f64, f64, f64), what: &str| {
		println!(
			"  {name:<29} {rate:8.1} MB/s   {:4.0}% of {lim:.1} (disk {d:.1} [{what}], CPU {cpu:.1})",
			100.0 * rate / lim
		);
	};
	// Uploads: 1 or 3 copies written and synced on the one disk.
	line("upload, 1 replica", upload1, limit(0, |d| d.write, cpu_up1), "write");
	line("upload, 3 replicas", upload, limit(1, |d| d.write / 3.0, cpu_up3), "write / 3");
	println!(
		"  (3 replicas take {:.2}x the time of 1; store-and-forward would take ~3x)",
		put_s / put1_s
	);
	// To a file: the nodes read while the client writes (and finally syncs) on the same
	// disk; the two overlap, so the slower of them bounds it.
	let shared = |d: &Disk| d.read.min(d.write);
	line("download to file, 3 serve", download, limit(2, shared, cpu_down), "min(read, write)");
	line("download to stdout, 3 serve", cat3, limit(3, |d| d.read, cpu_down), "read");
	println!(
		"  {:<29} {cat3_checked:8.1} MB/s   (stdout read and compared by this process, once)",
		""
	);
	line("download to file, 1 serves", get1, limit(4, shared, cpu_down), "min(read, write)");
	line("download to stdout, 1 serves", cat1, limit(5, |d| d.read, cpu_down), "read");
	println!(
		"  {:<29} {:8}        stdout {:.0}% / {:.0}% (3 / 1 serve) of {cpu_down_loopback:.1}, the ceiling with the loopback",
		"",
		"",
		100.0 * cat3 / cpu_down_loopback,
		100.0 * cat1 / cpu_down_loopback
	);
	println!(
		"  64 streams from 1 node        {:8.1} MB/s   (to a file, --parallel 64)",
		mbps(size, wide_s)
	);
	println!("  downloads identical       {same}");
	println!(
		"  rounds (MB/s)             file {direct_gets:.1?}, stdout {cat_gets:.1?}, 1 replica file {solo_gets:.1?}, stdout {solo_cats:.1?}"
	);
	if let Some(m) = &meta {
		let (dl, wall) = (median(&meta_gets), median(&meta_walls));
		println!(
			"sds through the meta nodes ({}; 3 holders, same slice size and parallelism)",
			m.chain
		);
		println!(
			"  upload, 3 replicas        {:8.1} MB/s   {:5.1}% of the direct upload (goal >= 95%); placement, transfer, acks",
			m.upload,
			100.0 * m.upload / upload
		);
		println!(
			"  upload + on-chain record  {:8.1} s      (until the chain finalized the file record)",
			m.recorded_s
		);
		println!(
			"  download, verified        {dl:8.1} MB/s   {:5.1}% of the direct download (goal >= 95%); stat, tickets, transfer",
			100.0 * dl / download
		);
		println!(
			"  download, whole process   {wall:8.1} MB/s   {:5.1}% of the direct download; also connecting to the chain and finding the meta nodes",
			100.0 * wall / download
		);
		println!("  downloads identical       {}", m.same.get());
		println!("  rounds (MB/s)             direct {direct_gets:.1?}, meta {meta_gets:.1?}");
	}
	println!("peak RSS (goal <= 256 MiB each)");
	println!("  sds put                   {:8.1} MiB", put_rss as f64 / 1024.0);
	println!("  sds get / cat             {:8.1} MiB", get_rss as f64 / 1024.0);
	for (i, r) in rn_rss.iter().enumerate() {
		let name = if i == 3 { "stratos-rn solo".to_string() } else { format!("stratos-rn {i}") };
		println!("  {name:<25} {:8.1} MiB", *r as f64 / 1024.0);
	}
	println!(
		"  stratos-rn solo, by then  {:8.1} MiB   (after serving 64 streams at once)",
		solo_rss_64 as f64 / 1024.0
	);
	let _ = std::fs::remove_dir_all(&dir);
	if !same || meta.is_some_and(|m| !m.same.get()) {
		bail!("a download differs from the input");
	}
	Ok(())
}

/// The disk at one moment.
struct Disk {
	/// `dd bs=4M conv=fdatasync` of the benchmark's size, MB/s.
	write: f64,
	/// Sequential read of that file, MB/s (cold when the page cache could be dropped).
	read: f64,
	cold: bool,
}

fn disk(dir: &Path, size: u64) -> Result<Disk> {
	let dd_file = dir.join("dd.bin");
	let count = size.div_ceil(4 << 20).max(1);
	let t = Instant::now();
	let st = Command::new("dd")
		.args([
			"if=/dev/zero",
			&format!("of={}", dd_file.display()),
			"bs=4M",
			&format!("count={count}"),
			"conv=fdatasync",
		])
		.stderr(Stdio::null())
		.status()?;
	if !st.success() {
		bail!("dd failed");
	}
	let write = mbps(count * (4 << 20), t.elapsed().as_secs_f64());
	let cold = drop_caches();
	let t = Instant::now();
	let mut f = std::fs::File::open(&dd_file)?;
	let mut buf = vec![0u8; 4 << 20];
	let mut total = 0u64;
	loop {
		let n = f.read(&mut buf)?;
		if n == 0 {
			break;
		}
		total += n as u64;
	}
	let read = mbps(total, t.elapsed().as_secs_f64());
	std::fs::remove_file(&dd_file)?;
	Ok(Disk { write, read, cold })
}

fn files_equal(a: &Path, b: &Path) -> Result<bool> {
	let (mut a, mut b) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
	let (mut x, mut y) = (vec![0u8; 4 << 20], vec![0u8; 4 << 20]);
	loop {
		let n = read_full(&mut a, &mut x)?;
		let m = read_full(&mut b, &mut y)?;
		if n != m || x[..n] != y[..m] {
			return Ok(false);
		}
		if n == 0 {
			return Ok(true);
		}
	}
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
	let mut n = 0;
	while n < buf.len() {
		match r.read(&mut buf[n..])? {
			0 => break,
			k => n += k,
		}
	}
	Ok(n)
}

/// Runs a command with its standard output to /dev/null; returns seconds and the child's
/// peak RSS in KiB.
fn run_to_null(cmd: &mut Command) -> Result<(f64, u64)> {
	let null = Stdio::from(std::fs::File::create("/dev/null")?);
	run_with_stdout(cmd, null).map(|(secs, peak, _, _)| (secs, peak))
}

/// Runs a command that writes a file's bytes to standard output; compares them with
/// `expected` as they arrive. Returns seconds, the child's peak RSS in KiB and whether the
/// bytes were the file's.
fn run_streamed(cmd: &mut Command, expected: &Path) -> Result<(f64, u64, bool)> {
	let t = Instant::now();
	let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
	let pid = child.id();
	let mut out = child.stdout.take().context("stdout")?;
	let mut want = std::fs::File::open(expected)?;
	let (mut got, mut exp) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
	let (mut equal, mut peak, mut sampled) = (true, 0, Instant::now());
	loop {
		let n = read_full(&mut out, &mut got)?;
		let m = read_full(&mut want, &mut exp[..n.max(1)])?;
		if n == 0 {
			equal &= m == 0;
			break;
		}
		equal &= n == m && got[..n] == exp[..m];
		if sampled.elapsed().as_millis() >= 20 {
			peak = peak.max(peak_rss_kib(pid));
			sampled = Instant::now();
		}
	}
	let o = child.wait_with_output()?;
	let secs = t.elapsed().as_secs_f64();
	if !o.status.success() {
		bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
	}
	Ok((secs, peak, equal))
}

/// The median of some figures.
fn median(v: &[f64]) -> f64 {
	let mut v = v.to_vec();
	v.sort_by(f64::total_cmp);
	match v.len() {
		0 => 0.0,
		n if n % 2 == 1 => v[n / 2],
		n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
	}
}

/// A file put through real meta nodes, to be fetched and removed again.
struct MetaRun {
	chain: String,
	account: String,
	slice_size: String,
	parallel: usize,
	remote: String,
	/// The client's own upload figure (placement, pipelined transfer, signed acks,
	/// completion); recording on chain is timed apart.
	upload: f64,
	recorded_s: f64,
	same: std::cell::Cell<bool>,
}

impl MetaRun {
	fn cmd(&self, sds: &Path, home: &Path) -> Command {
		let mut c = Command::new(sds);
		c.arg("--home").arg(home).args(["--quiet", "--slice-size", &self.slice_size]);
		c.args(["--parallel", &self.parallel.to_string()]);
		c.args(["--chain", &self.chain, "--account", &self.account]);
		c
	}

	fn put(
		args: &Args,
		chain: &str,
		sds: &Path,
		input: &Path,
		dir: &Path,
		size: u64,
	) -> Result<Self> {
		let mut run = MetaRun {
			chain: chain.to_string(),
			account: args.account.clone(),
			slice_size: args.slice_size.clone(),
			parallel: args.parallel,
			remote: format!(
				"/sds-bench/{}.bin",
				std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis()
			),
			upload: 0.0,
			recorded_s: 0.0,
			same: std::cell::Cell::new(true),
		};
		drop_caches();
		let mut put = run.cmd(sds, &dir.join("meta-client"));
		put.arg("put").arg(input).arg(&run.remote);
		let (recorded_s, _, _, err) = run_measured(&mut put)?;
		// "uploaded N bytes in S s (R MB/s); waiting for the chain to record it"
		let upload_s: f64 = err
			.lines()
			.find_map(|l| l.strip_prefix(&format!("uploaded {size} bytes in ")))
			.and_then(|rest| rest.split(' ').next())
			.and_then(|secs| secs.parse().ok())
			.with_context(|| format!("sds put did not report its upload time: {err}"))?;
		run.upload = mbps(size, upload_s);
		run.recorded_s = recorded_s;
		Ok(run)
	}

	/// Gets the file into a fresh directory with another home (nothing local but the
	/// account); returns the client's own time (stat, tickets, verified transfer) and the
	/// whole process's.
	fn get(&self, sds: &Path, input: &Path, dir: &Path) -> Result<(f64, f64)> {
		drop_caches();
		let output = dir.join("meta-output.bin");
		let mut get = self.cmd(sds, &dir.join("meta-client-2"));
		get.arg("get").arg(&self.remote).arg(&output);
		let (wall_s, _, out, _) = run_measured(&mut get)?;
		// "fetched /p -> out (N bytes, verified against F) in S s, R MB/s"
		let client_s: f64 = out
			.rsplit_once(") in ")
			.and_then(|(_, rest)| rest.split(' ').next())
			.and_then(|secs| secs.parse().ok())
			.with_context(|| format!("sds get did not report its download time: {out}"))?;
		if std::fs::read(input).ok() != std::fs::read(&output).ok() {
			self.same.set(false);
		}
		let _ = std::fs::remove_file(&output);
		Ok((client_s, wall_s))
	}

	fn rm(&self, sds: &Path, dir: &Path) {
		let mut rm = self.cmd(sds, &dir.join("meta-client"));
		rm.arg("rm").arg(&self.remote);
		if let Err(e) = run_measured(&mut rm) {
			eprintln!("could not remove {} again: {e}", self.remote);
		}
	}
}
