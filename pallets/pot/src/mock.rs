//! A runtime for the pallet's unit tests and benchmarks: the real node and file registries,
//! three genesis meta nodes (accounts 1–3), five resource nodes (10–14), clients 20–29 and a
//! block author (40).

use crate::{self as pallet_pot, PotParams, Tier};
use frame_support::{derive_impl, parameter_types, traits::Hooks, PalletId};
use pallet_node_registry::{GenesisNode, NodeKind, GIB};
use sp_keystore::{testing::MemoryKeystore, KeystoreExt};
use sp_runtime::{traits::Convert, BuildStorage, Perbill};
use stratos_primitives::NodeId;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		NodeRegistry: pallet_node_registry,
		FileRegistry: pallet_file_registry,
		Pot: pallet_pot,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
	// Real database weights, so idle-time work is seen to stop within its budget.
	type DbWeight = frame_support::weights::constants::RocksDbWeight;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type DustRemoval = pallet_pot::BurnAndNote<Test>;
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
	type Burns = Pot;
	type WeightInfo = ();
}

parameter_types! {
	pub const FilePalletId: PalletId = PalletId(*b"sto/file");
	pub const PotPalletId: PalletId = PalletId(*b"sto/pot_");
}

impl pallet_file_registry::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type Nodes = NodeRegistry;
	type Challenges = ();
	type AdminOrigin = frame_system::EnsureRoot<u64>;
	type PalletId = FilePalletId;
	type MaxHolders = frame_support::traits::ConstU32<4>;
	type StorageFeePerGiB = frame_support::traits::ConstU64<900>;
	type GracePeriods = frame_support::traits::ConstU32<2>;
	type MaxSettlePeriods = frame_support::traits::ConstU32<5>;
	type VoteTtl = frame_support::traits::ConstU64<100>;
	type WeightInfo = ();
}

thread_local! {
	static PRICE: std::cell::Cell<Option<(u128, u128)>> = const { std::cell::Cell::new(None) };
}

/// Sets the price per byte [`reserve`] pays for credit (`None`: [`DEFAULT_PRICE`]).
pub fn set_price(price: Option<(u128, u128)>) {
	PRICE.with(|p| p.set(price));
}

/// A client key is its account number in the first eight bytes.
pub struct ClientKey;
impl Convert<[u8; 32], u64> for ClientKey {
	fn convert(key: [u8; 32]) -> u64 {
		u64::from_le_bytes(key[..8].try_into().expect("eight bytes"))
	}
}

/// The key of client account `a`.
pub fn client_key(a: u64) -> [u8; 32] {
	let mut k = [0u8; 32];
	k[..8].copy_from_slice(&a.to_le_bytes());
	k
}

impl pallet_pot::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type Nodes = NodeRegistry;
	type Credit = FileRegistry;
	type ClientAccount = ClientKey;
	type AdminOrigin = frame_system::EnsureRoot<u64>;
	type PalletId = PotPalletId;
	type MaxTopNodes = frame_support::traits::ConstU32<4>;
	type MaxChunk = frame_support::traits::ConstU32<4>;
	type MaxAuthors = frame_support::traits::ConstU32<4>;
	type KeptPeriods = frame_support::traits::ConstU32<2>;
	type WeightInfo = ();
}

/// Ledger period of the test chain.
pub const L: u64 = 10;
/// Issuance per period in the first tier.
pub const ISSUANCE: u64 = 10_000;
/// Balance of every funded account.
pub const FUNDS: u64 = 1_000_000;
/// Funds of the clients (accounts 20–29), who buy credit.
pub const CLIENT_FUNDS: u64 = 1 << 60;
/// Slashed from each reporter per upheld dispute.
pub const DISPUTE_SLASH: u64 = 50;
/// The block author.
pub const AUTHOR: u64 = 40;

/// The test chain's parameters: top 3, chunks of 2, maturity 1, 10 % meta, 10 % validators,
/// cap 50 %.
pub fn params() -> PotParams<u64, u64> {
	PotParams {
		period_length: L,
		commit_window: 2,
		reveal_window: 2,
		stream_window: 4,
		top_nodes: 3,
		chunk_size: 2,
		maturity: 1,
		meta_share: Perbill::from_percent(10),
		validator_share: Perbill::from_percent(10),
		wash_cap: Perbill::from_percent(50),
		tiers: vec![
			Tier { minted_below: 1_000_000, per_period: ISSUANCE },
			Tier { minted_below: 2_000_000, per_period: ISSUANCE / 2 },
		]
		.try_into()
		.expect("within bound"),
		dispute_window: 3,
		dispute_slash: DISPUTE_SLASH,
	}
}

fn genesis_node(account: u64, kind: NodeKind) -> GenesisNode<u64, u64> {
	let capacity = if kind == NodeKind::Resource { GIB } else { 0 };
	GenesisNode {
		account,
		kind,
		node_id: node(account),
		address: "/ip4/127.0.0.1/tcp/7400".into(),
		capacity,
		region: "eu".into(),
		deposit: pallet_node_registry::Pallet::<Test>::required_deposit(kind, capacity),
	}
}

/// The node id of account `a`.
pub fn node(a: u64) -> NodeId {
	NodeId([a as u8; 32])
}

/// Genesis: accounts 1–40 funded; meta nodes 1–3; resource nodes 10–14; credit for sale at a
/// price that keeps the wash-traffic cap out of the way unless a test lowers it.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut nodes: Vec<_> = (1..=3).map(|a| genesis_node(a, NodeKind::Meta)).collect();
	nodes.extend((10..=14).map(|a| genesis_node(a, NodeKind::Resource)));
	let p = params();
	let t = RuntimeGenesisConfig {
		system: Default::default(),
		balances: pallet_balances::GenesisConfig {
			balances: (1..=40)
				.map(|a| (a, if (20..30).contains(&a) { CLIENT_FUNDS } else { FUNDS }))
				.collect(),
			..Default::default()
		},
		node_registry: pallet_node_registry::GenesisConfig { unbonding_period: 20, nodes },
		file_registry: pallet_file_registry::GenesisConfig {
			storage_period: 100,
			reserve_lock: 5,
			credit_supply: 1,
			min_holders: 3,
		},
		pot: pallet_pot::GenesisConfig {
			period_length: p.period_length,
			commit_window: p.commit_window,
			reveal_window: p.reveal_window,
			stream_window: p.stream_window,
			top_nodes: p.top_nodes,
			chunk_size: p.chunk_size,
			maturity: p.maturity,
			meta_share: p.meta_share,
			validator_share: p.validator_share,
			wash_cap: p.wash_cap,
			tiers: p.tiers.iter().map(|t| (t.minted_below, t.per_period)).collect(),
			dispute_window: p.dispute_window,
			dispute_slash: p.dispute_slash,
		},
	}
	.build_storage()
	.expect("valid genesis");
	set_price(None);
	let mut ext = sp_io::TestExternalities::new(t);
	ext.register_extension(KeystoreExt::new(MemoryKeystore::new()));
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Tokens per byte [`reserve`] pays unless a test sets another price: high enough that the
/// wash-traffic cap does not bind in tests about other rules.
pub const DEFAULT_PRICE: (u128, u128) = (100, 1);

/// Client `a` buys `bytes` of credit at the test's price (paying into the prepaid pool) and
/// reserves it; the credit supply grows by as much (so the file registry's conservation
/// invariant holds and the curve is not involved).
pub fn reserve(a: u64, bytes: u128) {
	use frame_support::traits::{fungible::Mutate, tokens::Preservation};
	let (num, den) = PRICE.with(|p| p.get()).unwrap_or(DEFAULT_PRICE);
	let value = (bytes * num / den) as u64;
	if value > 0 {
		Balances::transfer(&a, &FileRegistry::pool_account(), value, Preservation::Preserve)
			.unwrap_or_else(|e| {
				panic!("client {a} cannot pay {value} for {bytes} at {num}/{den}: {e:?}")
			});
		pallet_file_registry::PrepaidPool::<Test>::mutate(|p| *p += value);
		pallet_file_registry::CreditValue::<Test>::mutate(a, |v| *v += value);
	}
	pallet_file_registry::CreditSupply::<Test>::mutate(|s| *s += bytes);
	let r = pallet_file_registry::Reserved::<Test>::get(a).unwrap_or_default();
	pallet_file_registry::Reserved::<Test>::insert(
		a,
		pallet_file_registry::ReservedCredit { bytes: r.bytes + bytes, ..r },
	);
}

/// Runs blocks up to `n`, each authored by [`AUTHOR`].
pub fn run_to(n: u64) {
	while System::block_number() < n {
		let b = System::block_number() + 1;
		System::set_block_number(b);
		Pot::on_initialize(b);
		Pot::note_author(AUTHOR);
	}
}

/// Runs `test` on the default genesis, then checks every pallet's invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Pot::do_try_state().expect("pot invariants hold");
		FileRegistry::do_try_state().expect("file-registry invariants hold");
		NodeRegistry::do_try_state().expect("node-registry invariants hold");
	});
}
