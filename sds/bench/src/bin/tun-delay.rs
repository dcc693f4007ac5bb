//! `tun-delay`: joins two network namespaces through two TUN devices and delays every packet
//! by a fixed time each way, so TCP and QUIC see a real round-trip time (this kernel has no
//! `netem`; a TCP relay would hide the RTT from TCP's own congestion and flow control).
//!
//! Usage (as root): `tun-delay <ns-a> <ns-b> <one-way delay ms>`. The namespaces must exist
//! (`ip netns add`); `ns-a` gets 10.77.0.1/24 on `tda`, `ns-b` 10.77.0.2/24 on `tdb`, MTU
//! 9000. Runs until killed; prints `READY` once both ends are up.

// The one ioctl that attaches a TUN device has no safe wrapper in our dependencies.
#![allow(unsafe_code)]

use std::{
	collections::VecDeque,
	fs::File,
	io::{Read, Write},
	os::fd::AsRawFd,
	process::Command,
	sync::mpsc,
	time::{Duration, Instant},
};

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

#[repr(C)]
struct IfReq {
	name: [u8; 16],
	flags: libc::c_short,
	_pad: [u8; 22],
}

fn tun(name: &str) -> std::io::Result<File> {
	let f = std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun")?;
	let mut req = IfReq { name: [0; 16], flags: IFF_TUN | IFF_NO_PI, _pad: [0; 22] };
	req.name[..name.len()].copy_from_slice(name.as_bytes());
	// SAFETY: TUNSETIFF reads an `ifreq` (name and flags) from the pointer, which is valid
	// and large enough for the duration of the call.
	let r = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF as _, &mut req as *mut IfReq) };
	if r < 0 {
		return Err(std::io::Error::last_os_error());
	}
	Ok(f)
}

fn ip(args: &[&str]) {
	let st = Command::new("ip").args(args).status().expect("ip runs");
	assert!(st.success(), "ip {args:?} failed");
}

/// Reads packets from `from`, writes each to `to` once `delay` has passed since it arrived.
fn pipe(mut from: File, mut to: File, delay: Duration) {
	let (tx, rx) = mpsc::sync_channel::<(Instant, Vec<u8>)>(1 << 16);
	std::thread::spawn(move || {
		let mut buf = vec![0u8; 65536];
		loop {
			let n = from.read(&mut buf).expect("tun read");
			if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
				return;
			}
		}
	});
	std::thread::spawn(move || {
		let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
		loop {
			if queue.is_empty() {
				match rx.recv() {
					Ok(p) => queue.push_back(p),
					Err(_) => return,
				}
			}
			while let Ok(p) = rx.try_recv() {
				queue.push_back(p);
			}
			let (due, _) = queue.front().expect("not empty");
			let now = Instant::now();
			if *due > now {
				std::thread::sleep((*due - now).min(Duration::from_micros(200)));
				continue;
			}
			let (_, p) = queue.pop_front().expect("not empty");
			// A full device queue drops the packet, as a router would.
			let _ = to.write(&p);
		}
	});
}

fn main() {
	let args: Vec<String> = std::env::args().collect();
	if args.len() != 4 {
		eprintln!("usage: tun-delay <ns-a> <ns-b> <one-way delay ms>");
		std::process::exit(2);
	}
	let (ns_a, ns_b) = (&args[1], &args[2]);
	let delay = Duration::from_millis(args[3].parse().expect("delay in ms"));
	let a = tun("tda").expect("create tda (needs root and /dev/net/tun)");
	let b = tun("tdb").expect("create tdb");
	for (dev, ns, addr) in [("tda", ns_a, "10.77.0.1/24"), ("tdb", ns_b, "10.77.0.2/24")] {
		ip(&["link", "set", dev, "netns", ns]);
		ip(&["-n", ns, "link", "set", dev, "mtu", "9000", "up"]);
		ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
		ip(&["-n", ns, "link", "set", "lo", "up"]);
	}
	pipe(a.try_clone().expect("dup"), b.try_clone().expect("dup"), delay);
	pipe(b, a, delay);
	println!("READY");
	loop {
		std::thread::park();
	}
}
