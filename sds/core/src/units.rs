//! Human-readable sizes.

/// Parses "123", "10KB", "1.5GiB", "2TB" (SI and binary units) into bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
	let t = s.trim();
	let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
	let (num, unit) = t.split_at(split);
	let n: f64 = num.parse().map_err(|_| format!("invalid size {s:?}: expected e.g. 500GiB"))?;
	let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
		"" | "b" => 1,
		"kb" => 1_000,
		"mb" => 1_000_000,
		"gb" => 1_000_000_000,
		"tb" => 1_000_000_000_000,
		"kib" | "k" => 1 << 10,
		"mib" | "m" => 1 << 20,
		"gib" | "g" => 1 << 30,
		"tib" | "t" => 1 << 40,
		other => return Err(format!("invalid size {s:?}: unknown unit {other:?}")),
	};
	let v = n * mult as f64;
	if !(v.is_finite() && v >= 0.0 && v < u64::MAX as f64) {
		return Err(format!("invalid size {s:?}"));
	}
	Ok(v as u64)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn sizes() {
		assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
		assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
		assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
		assert_eq!(parse_size("1.5 GB").unwrap(), 1_500_000_000);
		assert!(parse_size("12 parsecs").is_err());
		assert!(parse_size("").is_err());
		assert!(parse_size("-1GB").is_err());
	}
}
