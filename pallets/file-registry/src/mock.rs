//! A runtime for the pallet's unit tests and benchmarks: the real node registry with three
//! genesis meta nodes (accounts 1–3) and five resource nodes (accounts 10–14).

use crate::{self as pallet_file_registry, StorageChallenges};
use frame_support::{derive_impl, parameter_types, PalletId};
use pallet_node_registry::{GenesisNode, NodeKind, GIB};
use sp_keystore::{testing::MemoryKeystore, KeystoreExt};
use sp_runtime::BuildStorage;
use std::{cell::RefCell, collections::BTreeSet};
use stratos_primitives::NodeId;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		NodeRegistry: pallet_node_registry,
		FileRegistry: pallet_file_registry,
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

parameter_types! {
	pub const MaxMetaNodes: u32 = 8;
}

impl pallet_node_registry::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type AdminOrigin = frame_system::EnsureRoot<u64>;
	type Replicas = FileRegistry;
	type ResourceDepositBase = frame_support::traits::ConstU64<100>;
	type DepositPerGiB = frame_support::traits::ConstU64<10>;
	type MetaDeposit = frame_support::traits::ConstU64<1_000>;
	type MaxAddressLen = frame_support::traits::ConstU32<64>;
	type MaxRegionLen = frame_support::traits::ConstU32<16>;
	type MaxMetaNodes = MaxMetaNodes;
	type MinMetaNodes = frame_support::traits::ConstU32<1>;
	type VoteTtl = frame_support::traits::ConstU64<100>;
	type Burns = ();
	type WeightInfo = ();
}

thread_local! {
	static FAILED: RefCell<BTreeSet<(u64, u32)>> = const { RefCell::new(BTreeSet::new()) };
}

/// Challenge failures set by tests.
pub struct MockChallenges;
impl MockChallenges {
	pub fn fail(holder: u64, period: u32) {
		FAILED.with(|f| f.borrow_mut().insert((holder, period)));
	}
}
impl StorageChallenges<u64> for MockChallenges {
	fn failed(holder: &u64, period: u32) -> bool {
		FAILED.with(|f| f.borrow().contains(&(*holder, period)))
	}
}

parameter_types! {
	pub const FilePalletId: PalletId = PalletId(*b"sto/file");
	/// 1 GiB costs 900 per period: 300 per holder with three holders.
	pub const StorageFeePerGiB: u64 = 900;
}

impl pallet_file_registry::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type Nodes = NodeRegistry;
	type Challenges = MockChallenges;
	type AdminOrigin = frame_system::EnsureRoot<u64>;
	type PalletId = FilePalletId;
	type MaxHolders = frame_support::traits::ConstU32<4>;
	type StorageFeePerGiB = StorageFeePerGiB;
	type GracePeriods = frame_support::traits::ConstU32<2>;
	type MaxSettlePeriods = frame_support::traits::ConstU32<5>;
	type VoteTtl = frame_support::traits::ConstU64<100>;
	type WeightInfo = ();
}

/// Storage period of the test chain.
pub const PERIOD: u64 = 10;
/// Reservation lock of the test chain.
pub const LOCK: u64 = 5;
/// Credit supply at genesis.
pub const SUPPLY: u128 = 1_000_000_000;
/// Balance of every funded account.
pub const FUNDS: u64 = 1_000_000;

fn genesis_node(account: u64, kind: NodeKind) -> GenesisNode<u64, u64> {
	let capacity = if kind == NodeKind::Resource { GIB } else { 0 };
	GenesisNode {
		account,
		kind,
		node_id: NodeId([account as u8; 32]),
		address: "/ip4/127.0.0.1/tcp/7400".into(),
		capacity,
		region: "eu".into(),
		deposit: pallet_node_registry::Pallet::<Test>::required_deposit(kind, capacity),
	}
}

/// Genesis: accounts 1–30 funded; meta nodes 1–3; resource nodes 10–14.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut nodes: Vec<_> = (1..=3).map(|a| genesis_node(a, NodeKind::Meta)).collect();
	nodes.extend((10..=14).map(|a| genesis_node(a, NodeKind::Resource)));
	let t = RuntimeGenesisConfig {
		system: Default::default(),
		balances: pallet_balances::GenesisConfig {
			balances: (1..=30).map(|a| (a, FUNDS)).collect(),
			..Default::default()
		},
		node_registry: pallet_node_registry::GenesisConfig { unbonding_period: 20, nodes },
		file_registry: pallet_file_registry::GenesisConfig {
			storage_period: PERIOD,
			reserve_lock: LOCK,
			credit_supply: SUPPLY,
			// Most tests record files with fewer holders; the floor is tested on its own.
			min_holders: 1,
		},
	}
	.build_storage()
	.expect("valid genesis");
	let mut ext = sp_io::TestExternalities::new(t);
	ext.register_extension(KeystoreExt::new(MemoryKeystore::new()));
	ext.execute_with(|| System::set_block_number(1));
	FAILED.with(|f| f.borrow_mut().clear());
	ext
}

/// Runs `test` on the default genesis, then checks both pallets' invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		FileRegistry::do_try_state().expect("file-registry invariants hold");
		NodeRegistry::do_try_state().expect("node-registry invariants hold");
	});
}
