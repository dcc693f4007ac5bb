//! Genesis presets: the per-chain data the chain specs in `chain-spec/` are built from.
//!
//! * `development`: Alice alone authors and finalises; 10-block sessions; governance decides
//!   in two minutes; Sudo is Alice.
//! * `local_testnet`: Alice, Bob, Charlie and Dave validate (GRANDPA needs 3 of 4); otherwise as
//!   `development`.
//! * `testnet`: three validators whose keys were generated for this chain (never the
//!   well-known dev keys); hour-long sessions, day-long referenda; no Sudo.
//!
//! Storage network at genesis: on `development` Alice runs the meta node and Bob, Charlie and
//! Dave run resource nodes; `local_testnet` has the storage network of `dev_network` (the
//! local network's: Alice, Bob and Charlie run meta nodes, Dave, Eve, Ferdie and Dave's stash
//! resource nodes; node keys: the well-known ed25519 dev keys); on `testnet` the three
//! validators run meta nodes with node keys generated for this chain.

use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use pallet_chain_params::GovernanceTimings;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_core::crypto::UncheckedFrom;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
use sp_runtime::Perbill;

use pallet_node_registry::{GenesisNode, NodeKind, GIB};
use stratos_primitives::NodeId;

use crate::{
	AccountId, Balance, BalancesConfig, BlockNumber, ChainParamsConfig, FileRegistryConfig,
	NodeRegistryConfig, PotConfig, Runtime, RuntimeGenesisConfig, SessionConfig, SessionKeys,
	SudoConfig, ValidatorSetConfig, DAYS, HOURS, MINUTES, UNITS,
};

/// Preset name of the public test network.
pub const TESTNET_RUNTIME_PRESET: &str = "testnet";

/// Balance of each endowed dev account: one million STOS.
pub const DEV_ENDOWMENT: u128 = 1_000_000 * UNITS;

/// Governance timings of the dev and local chains: a referendum can pass in about a minute.
pub const DEV_GOVERNANCE: GovernanceTimings<BlockNumber> = GovernanceTimings {
	prepare_period: 2,
	decision_period: 2 * MINUTES,
	confirm_period: 3,
	min_enactment_period: 2,
	undeciding_timeout: 2 * MINUTES,
	vote_locking_period: 10,
};

/// Governance timings of the testnet.
pub const TESTNET_GOVERNANCE: GovernanceTimings<BlockNumber> = GovernanceTimings {
	prepare_period: 10 * MINUTES,
	decision_period: DAYS,
	confirm_period: HOURS,
	min_enactment_period: 10 * MINUTES,
	undeciding_timeout: DAYS,
	vote_locking_period: DAYS,
};

/// Periods and credit of the storage network, per chain.
pub struct StorageParams {
	/// Blocks between `unbond` and `withdraw`.
	pub unbonding_period: BlockNumber,
	/// Blocks per storage period (fees are due per period).
	pub storage_period: BlockNumber,
	/// Blocks a credit reservation stays locked.
	pub reserve_lock: BlockNumber,
	/// Download credit in existence (bytes).
	pub credit_supply: u128,
	/// Proof-of-Traffic: ledger period and report windows.
	pub traffic: TrafficParams,
}

/// Proof-of-Traffic parameters of a chain (ADR 0010 has the table and the reasons).
pub struct TrafficParams {
	/// Blocks per ledger period.
	pub period_length: BlockNumber,
	/// Blocks to commit, to reveal, and to stream the accepted report.
	pub windows: (BlockNumber, BlockNumber, BlockNumber),
	/// Periods before a reward may be claimed.
	pub maturity: u32,
}

/// Issuance tiers (by total minted, per ledger period), the same on every chain: halving
/// every 5 million STOS minted, nothing new after 20 million.
pub const ISSUANCE_TIERS: [(Balance, Balance); 4] = [
	(5_000_000 * UNITS, 80 * UNITS),
	(10_000_000 * UNITS, 40 * UNITS),
	(15_000_000 * UNITS, 20 * UNITS),
	(20_000_000 * UNITS, 10 * UNITS),
];

/// Fewest distinct holders of a file on every chain: the replica floor (a self-downloader
/// can never hold the only copy). Governance may lower it on a tiny network.
pub const MIN_HOLDERS: u32 = 3;

/// Slashed from each reporter of a period for every upheld traffic dispute: 1% of a meta
/// node's deposit, so lying about one client costs more than its credit could be worth.
pub const DISPUTE_SLASH: Balance = 1_000 * UNITS;

/// Entries per traffic-report chunk on every chain (governance may change it within
/// `MAX_CHUNK`): 10,000 resource nodes' report is 3 chunks (`pot_scale_tests`).
pub const REPORT_CHUNK: u32 = 3_400;

/// Dev and local chains: ten-minute storage periods, a minute and a half to unbond.
pub const DEV_STORAGE: StorageParams = StorageParams {
	unbonding_period: 45,
	storage_period: 10 * MINUTES,
	reserve_lock: 5 * MINUTES,
	credit_supply: 1 << 50,
	// One-minute ledger periods; rewards claimable two periods later.
	traffic: TrafficParams { period_length: MINUTES, windows: (10, 10, 10), maturity: 2 },
};

/// Testnet: daily storage fees, a week to unbond.
pub const TESTNET_STORAGE: StorageParams = StorageParams {
	unbonding_period: 7 * DAYS,
	storage_period: DAYS,
	reserve_lock: HOURS,
	credit_supply: 1 << 53,
	// The whitepaper's ten-minute ledger periods; rewards mature after six hours.
	traffic: TrafficParams {
		period_length: 10 * MINUTES,
		windows: (MINUTES, MINUTES, 8 * MINUTES),
		maturity: 36,
	},
};

/// Declared capacity of each dev resource node.
pub const DEV_RESOURCE_CAPACITY: u64 = 100 * GIB;

/// A genesis node with the deposit its kind and capacity require.
pub fn genesis_node(
	account: AccountId,
	kind: NodeKind,
	node_id: NodeId,
	address: &str,
	capacity: u64,
	region: &str,
) -> GenesisNode<AccountId, Balance> {
	let deposit = pallet_node_registry::Pallet::<Runtime>::required_deposit(kind, capacity);
	GenesisNode {
		account,
		kind,
		node_id,
		address: address.into(),
		capacity,
		region: region.into(),
		deposit,
	}
}

fn dev_node(
	who: Sr25519Keyring,
	key: Ed25519Keyring,
	kind: NodeKind,
	port: u16,
) -> GenesisNode<AccountId, Balance> {
	let capacity = if kind == NodeKind::Resource { DEV_RESOURCE_CAPACITY } else { 0 };
	let address = alloc::format!("/ip4/127.0.0.1/tcp/{port}");
	genesis_node(who.to_account_id(), kind, NodeId(key.public().0), &address, capacity, "local")
}

/// One validator: its account and its session keys.
pub struct Authority {
	/// The account (also its validator id).
	pub account: AccountId,
	/// Aura (sr25519) key.
	pub aura: AuraId,
	/// GRANDPA (ed25519) key.
	pub grandpa: GrandpaId,
}

fn dev_authority(sr: Sr25519Keyring, ed: Ed25519Keyring) -> Authority {
	Authority { account: sr.to_account_id(), aura: sr.public().into(), grandpa: ed.public().into() }
}

/// The genesis of a Stratos chain from its parts.
pub fn stratos_genesis(
	authorities: Vec<Authority>,
	endowed: Vec<(AccountId, u128)>,
	session_length: BlockNumber,
	governance: GovernanceTimings<BlockNumber>,
	sudo: Option<AccountId>,
	nodes: Vec<GenesisNode<AccountId, Balance>>,
	storage: StorageParams,
) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig { balances: endowed },
		validator_set: ValidatorSetConfig {
			validators: authorities.iter().map(|a| a.account.clone()).collect::<Vec<_>>(),
			session_length,
		},
		session: SessionConfig {
			keys: authorities
				.iter()
				.map(|a| {
					(
						a.account.clone(),
						a.account.clone(),
						SessionKeys { aura: a.aura.clone(), grandpa: a.grandpa.clone() },
					)
				})
				.collect::<Vec<_>>(),
		},
		chain_params: ChainParamsConfig { governance: Some(governance) },
		node_registry: NodeRegistryConfig { unbonding_period: storage.unbonding_period, nodes },
		file_registry: FileRegistryConfig {
			storage_period: storage.storage_period,
			reserve_lock: storage.reserve_lock,
			credit_supply: storage.credit_supply,
			min_holders: MIN_HOLDERS,
		},
		pot: PotConfig {
			period_length: storage.traffic.period_length,
			commit_window: storage.traffic.windows.0,
			reveal_window: storage.traffic.windows.1,
			stream_window: storage.traffic.windows.2,
			top_nodes: 100,
			// Ingests 10,000 nodes' entries in 3 chunks; one chunk books more than half of
			// what normal transactions may use, so an author never packs two into a block and
			// a block carries at most ~39% of report work (ADR 0010).
			chunk_size: REPORT_CHUNK,
			maturity: storage.traffic.maturity,
			meta_share: Perbill::from_percent(10),
			validator_share: Perbill::from_percent(10),
			wash_cap: Perbill::from_percent(50),
			tiers: ISSUANCE_TIERS.to_vec(),
			dispute_window: storage.traffic.windows.1,
			dispute_slash: DISPUTE_SLASH,
		},
		sudo: SudoConfig { key: sudo },
	})
}

fn dev_endowed() -> Vec<(AccountId, u128)> {
	Sr25519Keyring::well_known().map(|k| (k.to_account_id(), DEV_ENDOWMENT)).collect()
}

/// `development`: Alice alone.
pub fn development_config_genesis() -> Value {
	stratos_genesis(
		vec![dev_authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_endowed(),
		10,
		DEV_GOVERNANCE,
		Some(Sr25519Keyring::Alice.to_account_id()),
		vec![
			dev_node(Sr25519Keyring::Alice, Ed25519Keyring::Alice, NodeKind::Meta, 7400),
			dev_node(Sr25519Keyring::Bob, Ed25519Keyring::Bob, NodeKind::Resource, 7401),
			dev_node(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie, NodeKind::Resource, 7402),
			dev_node(Sr25519Keyring::Dave, Ed25519Keyring::Dave, NodeKind::Resource, 7403),
		],
		DEV_STORAGE,
	)
}

/// Preset of the local network the README's first command starts: one validator (Alice),
/// three meta nodes, four resource nodes in three regions.
pub const DEV_NETWORK_RUNTIME_PRESET: &str = "dev_network";

fn dev_region_node(
	who: Sr25519Keyring,
	key: Ed25519Keyring,
	kind: NodeKind,
	port: u16,
	region: &str,
) -> GenesisNode<AccountId, Balance> {
	let capacity = if kind == NodeKind::Resource { DEV_RESOURCE_CAPACITY } else { 0 };
	let address = alloc::format!("/ip4/127.0.0.1/tcp/{port}");
	genesis_node(who.to_account_id(), kind, NodeId(key.public().0), &address, capacity, region)
}

/// `dev_network`: Alice validates alone (Sudo, fast governance, one-minute ledger periods);
/// Alice, Bob and Charlie run meta nodes on ports 7500–7502; Dave, Eve, Ferdie and Dave's
/// stash run resource nodes on ports 7401–7404 in regions eu, us, asia and eu. Every node's key
/// is the well-known dev key of its account (`//Dave`, `//Dave//stash`, ...).
pub fn dev_network_config_genesis() -> Value {
	stratos_genesis(
		vec![dev_authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_endowed(),
		10,
		DEV_GOVERNANCE,
		Some(Sr25519Keyring::Alice.to_account_id()),
		dev_network_nodes(),
		DEV_STORAGE,
	)
}

/// The storage nodes of the local network (`dev_network` and `local_testnet`).
fn dev_network_nodes() -> Vec<GenesisNode<AccountId, Balance>> {
	use Ed25519Keyring as E;
	use NodeKind::{Meta, Resource};
	use Sr25519Keyring as S;
	vec![
		dev_region_node(S::Alice, E::Alice, Meta, 7500, "eu"),
		dev_region_node(S::Bob, E::Bob, Meta, 7501, "us"),
		dev_region_node(S::Charlie, E::Charlie, Meta, 7502, "asia"),
		dev_region_node(S::Dave, E::Dave, Resource, 7401, "eu"),
		dev_region_node(S::Eve, E::Eve, Resource, 7402, "us"),
		dev_region_node(S::Ferdie, E::Ferdie, Resource, 7403, "asia"),
		dev_region_node(S::DaveStash, E::DaveStash, Resource, 7404, "eu"),
	]
}

/// `local_testnet`: Alice, Bob, Charlie and Dave validate; the storage network of
/// `dev_network` (what `scripts/start-local-network.sh --local` runs).
pub fn local_config_genesis() -> Value {
	stratos_genesis(
		vec![
			dev_authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			dev_authority(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			dev_authority(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
			dev_authority(Sr25519Keyring::Dave, Ed25519Keyring::Dave),
		],
		dev_endowed(),
		10,
		DEV_GOVERNANCE,
		Some(Sr25519Keyring::Alice.to_account_id()),
		dev_network_nodes(),
		DEV_STORAGE,
	)
}

/// Node keys (ed25519) of the testnet's genesis meta nodes, run by the three validators.
/// Generated for this chain with `stratos-node key generate --scheme ed25519`; the secrets
/// are not in this repository.
const TESTNET_META_NODE_KEYS: [[u8; 32]; 3] = [
	hex32("27d209e2fc24c7bfaec144ca40429a4c818c0a87b539c961e1e69785b53c7cdb"),
	hex32("8e8c215a59c35034f9bfcb6d4f6ff30ae2f595cef789ec4f7f226c4151a636e4"),
	hex32("a5e96480b86a061acd51f6693e9dff6f014a719eecd1beaa675bb6f191196bb9"),
];

/// Public keys of the testnet validators: (account sr25519, aura sr25519, grandpa ed25519).
/// Generated for this chain with `stratos-node key generate`; the secrets are held by the
/// operators, never in this repository.
const TESTNET_VALIDATORS: [([u8; 32], [u8; 32], [u8; 32]); 3] = [
	(
		hex32("b2c79225240395213221a39c564edb94faecd789a818ac47618e62f0798e4117"),
		hex32("64fdeb5f8a360d844949aca037f42bd11374cf101760b9de317688cb9473e530"),
		hex32("7ba4e7aad6caf98a92ecf3b5a394cb81b11522ee638c4a49b8c20455f3e70673"),
	),
	(
		hex32("d29b908c998ee14b1ea8d4796d5b21d421b9b165876535a8626ec6504e9cce4b"),
		hex32("d62223eb7433de7a625acc09ca3a22b5dc82df2f38df58704f0763c2f7b4766d"),
		hex32("0cb4d2bc9dcf5a0604d262985991d2fa1f45595026bd81bf8af58c8025ab8595"),
	),
	(
		hex32("2a6fefbe65bc1a963483777232be6edd3253d60372b52672f938d4573bcdbf7d"),
		hex32("f4748d54e31aba20088833f9e8c5a03d85814d88d1e934a49c4d4f9277ac6712"),
		hex32("c34dadf27fb860b5bc8fd1ea3ee0f49d3bdc8a5bd2e6586c4ed18ad2bc9a6933"),
	),
];

/// Decodes 64 lowercase hex digits at compile time.
const fn hex32(s: &str) -> [u8; 32] {
	const fn nibble(c: u8) -> u8 {
		match c {
			b'0'..=b'9' => c - b'0',
			b'a'..=b'f' => c - b'a' + 10,
			_ => panic!("hex32: not a lowercase hex digit"),
		}
	}
	let b = s.as_bytes();
	assert!(b.len() == 64, "hex32: need 64 hex digits");
	let mut out = [0u8; 32];
	let mut i = 0;
	while i < 32 {
		out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
		i += 1;
	}
	out
}

/// The testnet's initial token holder (treasury multisig to be): 10 million STOS.
const TESTNET_ENDOWMENT: u128 = 10_000_000 * UNITS;

/// `testnet`: three validators with their own keys, no Sudo.
pub fn testnet_config_genesis() -> Value {
	let authorities: Vec<Authority> = TESTNET_VALIDATORS
		.iter()
		.map(|(acc, aura, grandpa)| Authority {
			account: AccountId::from(*acc),
			aura: AuraId::unchecked_from(*aura),
			grandpa: GrandpaId::unchecked_from(*grandpa),
		})
		.collect();
	let endowed = authorities.iter().map(|a| (a.account.clone(), TESTNET_ENDOWMENT)).collect();
	let metas = authorities
		.iter()
		.zip(TESTNET_META_NODE_KEYS)
		.enumerate()
		.map(|(i, (a, key))| {
			let address = alloc::format!("/dns/meta{i}.testnet.stratos.invalid/tcp/7400");
			genesis_node(a.account.clone(), NodeKind::Meta, NodeId(key), &address, 0, "testnet")
		})
		.collect();
	stratos_genesis(authorities, endowed, HOURS, TESTNET_GOVERNANCE, None, metas, TESTNET_STORAGE)
}

/// The preset `id`, serialized as JSON.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		TESTNET_RUNTIME_PRESET => testnet_config_genesis(),
		DEV_NETWORK_RUNTIME_PRESET => dev_network_config_genesis(),
		_ => return None,
	};
	Some(
		serde_json::to_string(&patch)
			.expect("serialization to json is expected to work. qed.")
			.into_bytes(),
	)
}

/// The names of the presets.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
		PresetId::from(TESTNET_RUNTIME_PRESET),
		PresetId::from(DEV_NETWORK_RUNTIME_PRESET),
	]
}
