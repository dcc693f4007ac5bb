//! `meta-bench`: the meta index's read path at scale, with its baseline measured in the same
//! run.
//!
//! * the existence filter (Bloom) over N (owner, path) keys: build time, negative lookups per
//!   second on one core, and the false-positive rate measured over absent keys;
//! * index lookups (`Index::lookup`: filter, then the ordered map) of present and absent
//!   paths, against the same map probed without the filter (the baseline).
//!
//! `meta-bench [N]` (default 10,000,000 keys; about 3 GiB of memory at that size).

use std::{collections::BTreeMap, hint::black_box, time::Instant};
use stratos_meta::{
	bloom::ExistenceFilter,
	index::{Index, Inode, State},
	path::NsPath,
};
use stratos_primitives::FileId;

fn key(owner: u32, i: u64) -> ([u8; 32], String) {
	let mut a = [0u8; 32];
	a[..4].copy_from_slice(&owner.to_le_bytes());
	(a, format!("/photos/{:02}/img-{i:010}.jpg", i % 97))
}

fn rate(n: u64, t: Instant) -> f64 {
	n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
	let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
	let owners = 1000u32;
	println!("meta-bench: {n} keys over {owners} owners");

	// Keys present: owner i % owners, index i.
	let t = Instant::now();
	let mut paths = BTreeMap::new();
	for i in 0..n {
		paths.insert(key((i % owners as u64) as u32, i), Inode::File(FileId([1; 32])));
	}
	println!("  index map built in {:.1} s", t.elapsed().as_secs_f64());

	let t = Instant::now();
	let filter = ExistenceFilter::build(paths.keys());
	let build_s = t.elapsed().as_secs_f64();
	println!("  Bloom filter built in {build_s:.1} s ({:.2} M keys/s)", n as f64 / build_s / 1e6);

	// Absent keys: indices past n.
	let probes = 2_000_000u64.min(n.max(1));
	let absent: Vec<_> = (0..probes).map(|i| key((i % owners as u64) as u32, n + i)).collect();
	let present: Vec<_> = (0..probes)
		.map(|i| {
			let j = (i * 7919) % n;
			key((j % owners as u64) as u32, j)
		})
		.collect();

	let t = Instant::now();
	let mut fp = 0u64;
	for k in &absent {
		if filter.may_contain(black_box(k)) {
			fp += 1;
		}
	}
	let neg = rate(probes, t);
	println!(
		"  Bloom negative lookups: {:.2} M/s on one core; false positives {fp} of {probes} = {:.3} % (goal ≥ 1 M/s, ≤ 1 %)",
		neg / 1e6,
		100.0 * fp as f64 / probes as f64
	);

	// The map alone (baseline) and the index (filter first) on the same keys.
	let t = Instant::now();
	let mut hits = 0u64;
	for k in &absent {
		hits += u64::from(paths.contains_key(black_box(k)));
	}
	let base_absent = rate(probes, t);
	assert_eq!(hits, 0);
	let state = State { paths, ..Default::default() };
	let index = Index::from_state([0; 32], state);
	let parsed_absent: Vec<_> =
		absent.iter().map(|(o, p)| (*o, NsPath::parse(p).unwrap())).collect();
	let parsed_present: Vec<_> =
		present.iter().map(|(o, p)| (*o, NsPath::parse(p).unwrap())).collect();
	let t = Instant::now();
	let mut found = 0u64;
	for (o, p) in &parsed_absent {
		found += u64::from(index.lookup(black_box(o), black_box(p)).is_some());
	}
	let idx_absent = rate(probes, t);
	assert_eq!(found, 0);
	let t = Instant::now();
	for (o, p) in &parsed_present {
		found += u64::from(index.lookup(black_box(o), black_box(p)).is_some());
	}
	let idx_present = rate(probes, t);
	assert_eq!(found, probes);
	println!(
		"  index lookups, absent paths: {:.2} M/s with the filter vs {:.2} M/s map only ({:.1}x)",
		idx_absent / 1e6,
		base_absent / 1e6,
		idx_absent / base_absent
	);
	println!("  index lookups, present paths: {:.2} M/s", idx_present / 1e6);
}
