//! A runtime for the pallet's unit tests and benchmarks: balances with holds, three genesis
//! meta nodes (accounts 1–3) and one genesis resource node (account 10).

use crate::{self as pallet_node_registry, GenesisNode, HeldReplicas, NodeKind, GIB};
use frame_support::{derive_impl, parameter_types};
use sp_core::{ed25519, Pair};
use sp_keystore::{testing::MemoryKeystore, KeystoreExt};
use sp_runtime::BuildStorage;
use std::{cell::RefCell, collections::BTreeMap};
use stratos_primitives::{registration::registration_payload, NodeId};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		NodeRegistry: pallet_node_registry,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
}

thread_local! {
	static REPLICAS: RefCell<BTreeMap<u64, u32>> = const { RefCell::new(BTreeMap::new()) };
}

/// Replicas per node, set by tests.
pub struct MockReplicas;
impl MockReplicas {
	pub fn set(who: u64, n: u32) {
		REPLICAS.with(|r| r.borrow_mut().insert(who, n));
	}
}
impl HeldReplicas<u64> for MockReplicas {
	fn replicas_held(who: &u64) -> u32 {
		REPLICAS.with(|r| r.borrow().get(who).copied().unwrap_or(0))
	}
}

parameter_types! {
	pub const ResourceDepositBase: u64 = 100;
	pub const DepositPerGiB: u64 = 10;
	pub const MetaDeposit: u64 = 1_000;
	pub const MaxAddressLen: u32 = 64;
	pub const MaxRegionLen: u32 = 16;
	pub const MaxMetaNodes: u32 = 8;
	pub const MinMetaNodes: u32 = 1;
}

impl pallet_node_registry::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type AdminOrigin = frame_system::EnsureRoot<u64>;
	type Replicas = MockReplicas;
	type ResourceDepositBase = ResourceDepositBase;
	type DepositPerGiB = DepositPerGiB;
	type MetaDeposit = MetaDeposit;
	type MaxAddressLen = MaxAddressLen;
	type MaxRegionLen = MaxRegionLen;
	type MaxMetaNodes = MaxMetaNodes;
	type MinMetaNodes = MinMetaNodes;
	type VoteTtl = frame_support::traits::ConstU64<100>;
	type Burns = ();
	type WeightInfo = ();
}

/// Unbonding period of the test chain.
pub const UNBONDING: u64 = 20;
/// Balance of every funded account.
pub const FUNDS: u64 = 1_000_000;

/// The node key of test node `seed`.
pub fn key(seed: u8) -> ed25519::Pair {
	ed25519::Pair::from_seed(&[seed; 32])
}

/// The node id of test node `seed`.
pub fn node_id(seed: u8) -> NodeId {
	NodeId(key(seed).public().0)
}

/// The signature node key `seed` gives `who`'s registration (current nonce).
pub fn sign_registration(seed: u8, who: u64, tag: &[u8]) -> [u8; 64] {
	let genesis: [u8; 32] = System::block_hash(0).0;
	let nonce = crate::KeyNonce::<Test>::get(node_id(seed));
	key(seed).sign(&registration_payload(tag, &genesis, &who, nonce)).0
}

fn genesis_node(account: u64, kind: NodeKind) -> GenesisNode<u64, u64> {
	let capacity = if kind == NodeKind::Resource { 10 * GIB } else { 0 };
	GenesisNode {
		account,
		kind,
		node_id: node_id(account as u8),
		address: "/ip4/127.0.0.1/tcp/7400".into(),
		capacity,
		region: "eu".into(),
		deposit: crate::Pallet::<Test>::required_deposit(kind, capacity),
	}
}

/// Genesis: accounts 1–30 funded; meta nodes 1, 2, 3; resource node 10.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let t = RuntimeGenesisConfig {
		system: Default::default(),
		balances: pallet_balances::GenesisConfig {
			balances: (1..=30).map(|a| (a, FUNDS)).collect(),
			..Default::default()
		},
		node_registry: pallet_node_registry::GenesisConfig {
			unbonding_period: UNBONDING,
			nodes: vec![
				genesis_node(1, NodeKind::Meta),
				genesis_node(2, NodeKind::Meta),
				genesis_node(3, NodeKind::Meta),
				genesis_node(10, NodeKind::Resource),
			],
		},
	}
	.build_storage()
	.expect("valid genesis");
	let mut ext = sp_io::TestExternalities::new(t);
	ext.register_extension(KeystoreExt::new(MemoryKeystore::new()));
	ext.execute_with(|| System::set_block_number(1));
	REPLICAS.with(|r| r.borrow_mut().clear());
	ext
}

/// Runs `test` on the default genesis, then checks the pallet's invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		NodeRegistry::do_try_state().expect("try_state invariants hold");
	});
}
