//! Node keys: the ed25519 key that is a node's libp2p identity, its on-chain node id and the
//! key it signs receipts, acknowledgements, authorisations and tickets with. Shared by
//! `stratos-rn` and `stratos-meta`.

use crate::Error;
use libp2p::identity::Keypair;
use sp_core::Pair;
use std::path::Path;

fn key_error(msg: String) -> Error {
	Error::Key(msg)
}

/// Loads the key (a 32-byte secret in hex) from `path`, or creates one there with mode 0600.
pub fn load_or_create_key(path: &Path) -> Result<Keypair, Error> {
	use std::{io::Write, os::unix::fs::OpenOptionsExt};
	match std::fs::read_to_string(path) {
		Ok(text) => {
			let mut bytes = hex::decode(text.trim())
				.map_err(|_| key_error(format!("node key file {} is not hex", path.display())))?;
			Keypair::ed25519_from_bytes(&mut bytes).map_err(|_| {
				key_error(format!(
					"node key file {} does not hold a 32-byte ed25519 secret",
					path.display()
				))
			})
		},
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
			let key = Keypair::generate_ed25519();
			let secret = key.clone().try_into_ed25519().expect("ed25519").secret();
			let io = |what: &str, e: std::io::Error| key_error(format!("cannot {what}: {e}"));
			if let Some(dir) = path.parent() {
				std::fs::create_dir_all(dir)
					.map_err(|e| io(&format!("create {}", dir.display()), e))?;
			}
			let mut f = std::fs::OpenOptions::new()
				.write(true)
				.create_new(true)
				.mode(0o600)
				.open(path)
				.map_err(|e| io(&format!("create node key file {}", path.display()), e))?;
			writeln!(f, "{}", hex::encode(secret.as_ref()))
				.and_then(|()| f.sync_all())
				.map_err(|e| io(&format!("write node key file {}", path.display()), e))?;
			tracing::info!(path = %path.display(), "created a new node key");
			Ok(key)
		},
		Err(e) => Err(key_error(format!("cannot read node key file {}: {e}", path.display()))),
	}
}

/// The key derived from a secret URI (the well-known dev keys, e.g. `//Alice`).
pub fn key_from_suri(suri: &str) -> Result<Keypair, Error> {
	let pair = sp_core::ed25519::Pair::from_string(suri, None)
		.map_err(|e| key_error(format!("invalid node key URI: {e:?}")))?;
	let mut seed = pair.seed();
	Keypair::ed25519_from_bytes(&mut seed).map_err(|e| key_error(format!("invalid node key: {e}")))
}

/// The key as an `sp_core` pair (to sign a registration).
pub fn ed25519_pair(key: &Keypair) -> Result<sp_core::ed25519::Pair, Error> {
	let secret = key
		.clone()
		.try_into_ed25519()
		.map_err(|_| key_error("the node key is not ed25519".into()))?
		.secret();
	let seed: [u8; 32] = secret
		.as_ref()
		.try_into()
		.map_err(|_| key_error("the node key is not a 32-byte seed".into()))?;
	Ok(sp_core::ed25519::Pair::from_seed(&seed))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_key_is_created_once_reloaded_and_derived_consistently() {
		let dir = tempfile::tempdir().unwrap();
		let p = dir.path().join("k/node-key");
		let a = load_or_create_key(&p).unwrap();
		let b = load_or_create_key(&p).unwrap();
		assert_eq!(a.public(), b.public());
		std::fs::write(&p, "zz").unwrap();
		assert!(load_or_create_key(&p).unwrap_err().to_string().contains("not hex"));
		let alice = key_from_suri("//Alice").unwrap();
		let pair = ed25519_pair(&alice).unwrap();
		assert_eq!(crate::node_id(&alice).0, pair.public().0);
		assert_eq!(
			pair.public(),
			sp_core::ed25519::Pair::from_string("//Alice", None).unwrap().public()
		);
	}
}
