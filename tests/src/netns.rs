//! A network the test builds from Linux network namespaces, for fault tests with real
//! processes: every member gets its own namespace with two links to the test's (root)
//! namespace:
//!
//! - a **data** link into one of two bridges, side A or side B, which are joined by a veth
//!   pair: the members' libp2p traffic. [`Lab::split`] takes that joining pair down (a clean
//!   partition of A from B), [`Lab::heal`] brings it back;
//! - a **management** link, a point-to-point /30 to the root namespace, that the test reaches
//!   the member's RPC through whatever the data network does. Members have no route to each
//!   other's management addresses.
//!
//! Nothing leaves this machine: the addresses are private (10.77.k.0/24 data, 10.78.k.0/24
//! management, `k` from the process id) and no namespace has a default route. Needs root
//! (or CAP_NET_ADMIN) and the `ip` tool. Everything is removed on drop.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// Why a lab cannot be built here, if it cannot: not root, or `ip netns` does not work.
pub fn unavailable() -> Option<String> {
	let probe = format!("stratos-probe-{}", std::process::id());
	match Command::new("ip").args(["netns", "add", &probe]).output() {
		Err(e) => Some(format!("the `ip` tool cannot be run: {e}")),
		Ok(out) if !out.status.success() => Some(format!(
			"`ip netns add` failed (network namespaces need root or CAP_NET_ADMIN): {}",
			String::from_utf8_lossy(&out.stderr).trim()
		)),
		Ok(_) => {
			let _ = Command::new("ip").args(["netns", "delete", &probe]).output();
			None
		},
	}
}

/// Builds a lab or decides that this run may skip the test that wanted one.
///
/// A fault test that cannot run fails, unless `STRATOS_SKIP_NETNS` is set (to why): then
/// `Ok(None)` and a line saying the test was skipped and why.
pub fn lab_or_skip(test: &str, members: usize, side_a: usize) -> Result<Option<Lab>> {
	if let Some(why) = unavailable() {
		if let Ok(reason) = std::env::var("STRATOS_SKIP_NETNS") {
			eprintln!("SKIPPED {test}: {why} (STRATOS_SKIP_NETNS: {reason})");
			return Ok(None);
		}
		bail!(
			"{test} needs network namespaces: {why}. Run it as root, or set \
			 STRATOS_SKIP_NETNS=<why> to skip it explicitly"
		);
	}
	Lab::new(members, side_a).map(Some)
}

/// The namespaces, bridges and links of one test; see the module docs.
pub struct Lab {
	prefix: String,
	subnet: u32,
	members: usize,
	namespaces: Vec<String>,
	bridges: Vec<String>,
	/// Root-side end of the veth pair joining the two bridges.
	joint: Option<String>,
}

fn ip(args: &[&str]) -> Result<()> {
	let out = Command::new("ip").args(args).output().context("running `ip`")?;
	if !out.status.success() {
		bail!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
	}
	Ok(())
}

impl Lab {
	/// `members` namespaces; members `0..side_a` on side A, the rest on side B.
	pub fn new(members: usize, side_a: usize) -> Result<Lab> {
		assert!(members <= 60 && side_a <= members, "a lab holds at most 60 members");
		let pid = std::process::id();
		// Interface names are at most 15 bytes: "s" + 5 digits + a short suffix.
		let prefix = format!("s{:05}", pid % 100_000);
		let mut lab = Lab {
			subnet: 1 + pid % 250,
			prefix,
			members,
			namespaces: Vec::new(),
			bridges: Vec::new(),
			joint: None,
		};
		lab.build(side_a)?;
		Ok(lab)
	}

	fn build(&mut self, side_a: usize) -> Result<()> {
		let p = self.prefix.clone();
		for side in ["a", "b"] {
			let br = format!("{p}b{side}");
			ip(&["link", "add", &br, "type", "bridge"])?;
			self.bridges.push(br.clone());
			ip(&["link", "set", &br, "up"])?;
		}
		let (xa, xb) = (format!("{p}xa"), format!("{p}xb"));
		ip(&["link", "add", &xa, "type", "veth", "peer", "name", &xb])?;
		self.joint = Some(xa.clone());
		ip(&["link", "set", &xa, "master", &self.bridges[0], "up"])?;
		ip(&["link", "set", &xb, "master", &self.bridges[1], "up"])?;
		for i in 0..self.members {
			let ns = format!("{p}-{i}");
			ip(&["netns", "add", &ns])?;
			self.namespaces.push(ns.clone());
			ip(&["-n", &ns, "link", "set", "lo", "up"])?;
			// Data link into this member's side.
			let (dh, dn) = (format!("{p}d{i}h"), format!("{p}d{i}n"));
			ip(&["link", "add", &dh, "type", "veth", "peer", "name", &dn, "netns", &ns])?;
			let bridge = &self.bridges[usize::from(i >= side_a)];
			ip(&["link", "set", &dh, "master", bridge, "up"])?;
			ip(&["-n", &ns, "addr", "add", &format!("{}/24", self.data_ip(i)), "dev", &dn])?;
			ip(&["-n", &ns, "link", "set", &dn, "up"])?;
			// Management link to the root namespace.
			let (mh, mn) = (format!("{p}m{i}h"), format!("{p}m{i}n"));
			ip(&["link", "add", &mh, "type", "veth", "peer", "name", &mn, "netns", &ns])?;
			ip(&["addr", "add", &format!("10.78.{}.{}/30", self.subnet, 4 * i + 1), "dev", &mh])?;
			ip(&["link", "set", &mh, "up"])?;
			ip(&["-n", &ns, "addr", "add", &format!("{}/30", self.mgmt_ip(i)), "dev", &mn])?;
			ip(&["-n", &ns, "link", "set", &mn, "up"])?;
		}
		Ok(())
	}

	/// The namespace of member `i` (for `ip netns exec`).
	pub fn namespace(&self, i: usize) -> &str {
		&self.namespaces[i]
	}

	/// Member `i`'s address on the data network.
	pub fn data_ip(&self, i: usize) -> String {
		format!("10.77.{}.{}", self.subnet, i + 1)
	}

	/// Member `i`'s address on its management link (reachable from the test).
	pub fn mgmt_ip(&self, i: usize) -> String {
		format!("10.78.{}.{}", self.subnet, 4 * i + 2)
	}

	/// Gives the test's (root) namespace an address on side A's bridge and returns it, so
	/// that processes the test runs outside the lab (and the members) reach each other over
	/// the data network: side A's members lose them with [`Lab::isolate`], side B's with
	/// [`Lab::split`]. Removed with the bridge on drop.
	pub fn attach_host(&self) -> Result<String> {
		let host = format!("10.77.{}.254", self.subnet);
		ip(&["addr", "add", &format!("{host}/24"), "dev", &self.bridges[0]])?;
		Ok(host)
	}

	/// Cuts member `i` off the data network (its link into its bridge goes down): it keeps
	/// running and keeps its management link, but reaches no other member and no process
	/// outside the lab, and none reaches it.
	pub fn isolate(&self, i: usize) -> Result<()> {
		ip(&["link", "set", &format!("{}d{i}h", self.prefix), "down"])
	}

	/// Undoes [`Lab::isolate`].
	pub fn rejoin(&self, i: usize) -> Result<()> {
		ip(&["link", "set", &format!("{}d{i}h", self.prefix), "up"])
	}

	/// Partitions side A from side B.
	pub fn split(&self) -> Result<()> {
		ip(&["link", "set", self.joint.as_deref().expect("built"), "down"])
	}

	/// Joins the two sides again.
	pub fn heal(&self) -> Result<()> {
		ip(&["link", "set", self.joint.as_deref().expect("built"), "up"])
	}
}

impl Drop for Lab {
	fn drop(&mut self) {
		// Deleting a namespace deletes its veth ends, and with them their root-side peers.
		for ns in &self.namespaces {
			let _ = ip(&["netns", "delete", ns]);
		}
		if let Some(joint) = &self.joint {
			let _ = ip(&["link", "delete", joint]);
		}
		for br in &self.bridges {
			let _ = ip(&["link", "delete", br]);
		}
	}
}
