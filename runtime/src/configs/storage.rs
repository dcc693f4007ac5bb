//! The storage network's pallets: node staking and the file registry
//! (`docs/adr/0009-staking-and-credit.md` explains the figures).

use frame_support::{parameter_types, traits::ConstU32, PalletId};
use frame_system::EnsureRoot;

use crate::{
	AccountId, Balance, Balances, FileRegistry, NodeRegistry, Runtime, RuntimeEvent,
	RuntimeHoldReason, CENTS, UNITS,
};

parameter_types! {
	/// A resource node's deposit: 1,000 STOS …
	pub const ResourceDepositBase: Balance = 1_000 * UNITS;
	/// … plus 1 STOS per declared GiB (a 10 TiB node holds 11,240 STOS).
	pub const DepositPerGiB: Balance = UNITS;
	/// A meta node's deposit: meta nodes route, index and audit, so they stake more.
	pub const MetaDeposit: Balance = 100_000 * UNITS;
	/// The prepaid pool's account.
	pub const FileRegistryPalletId: PalletId = PalletId(*b"sto/file");
	/// 0.01 STOS per GiB of content per storage period.
	pub const StorageFeePerGiB: Balance = CENTS;
}

/// Most active meta nodes: every vote (in both pallets) snapshots at most this many accounts.
pub const MAX_META_NODES: u32 = 64;

impl pallet_node_registry::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type AdminOrigin = EnsureRoot<AccountId>;
	type Replicas = FileRegistry;
	type ResourceDepositBase = ResourceDepositBase;
	type DepositPerGiB = DepositPerGiB;
	type MetaDeposit = MetaDeposit;
	type MaxAddressLen = ConstU32<128>;
	type MaxRegionLen = ConstU32<32>;
	type MaxMetaNodes = ConstU32<MAX_META_NODES>;
	type MinMetaNodes = ConstU32<1>;
	type WeightInfo = pallet_node_registry::weights::SubstrateWeight<Runtime>;
}

impl pallet_file_registry::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type Nodes = NodeRegistry;
	// The storage-challenge pallet comes later; until then nobody is found failing.
	type Challenges = ();
	type AdminOrigin = EnsureRoot<AccountId>;
	type PalletId = FileRegistryPalletId;
	type MaxHolders = ConstU32<16>;
	type StorageFeePerGiB = StorageFeePerGiB;
	type GracePeriods = ConstU32<3>;
	type MaxSettlePeriods = ConstU32<24>;
	type WeightInfo = pallet_file_registry::weights::SubstrateWeight<Runtime>;
}
