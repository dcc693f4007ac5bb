//! The storage network's pallets: node staking and the file registry
//! (`docs/adr/0009-staking-and-credit.md` explains the figures).

use frame_support::{parameter_types, traits::ConstU32, PalletId};
use frame_system::EnsureRoot;

use crate::{
	AccountId, Balance, Balances, FileRegistry, NodeRegistry, Pot, Runtime, RuntimeEvent,
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
	/// A meta-node vote (file, endorsement, reachability) lives an hour: long enough for
	/// every meta node to see the proposal, short enough that a vote whose electorate has
	/// moved on does not block a new one for long.
	pub const VoteTtl: crate::BlockNumber = crate::HOURS;
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
	type VoteTtl = VoteTtl;
	type Burns = Pot;
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
	type VoteTtl = VoteTtl;
	type WeightInfo = pallet_file_registry::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// The reward pot's account.
	pub const PotPalletId: PalletId = PalletId(*b"sto/pot_");
}

/// Most resource nodes rewarded per period.
pub const MAX_TOP_NODES: u32 = 256;
/// Most entries per report chunk: the largest chunk plus the settlement in the last one must
/// fit in a block (`a_full_report_chunk_fits_in_a_block`).
pub const MAX_CHUNK: u32 = 3_500;

/// Proof-of-Traffic (`docs/adr/0010-proof-of-traffic.md`); per-chain numbers are genesis
/// parameters (`genesis_config_presets.rs`).
impl pallet_pot::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type Nodes = NodeRegistry;
	type Credit = FileRegistry;
	type ClientAccount = sp_runtime::traits::ConvertInto;
	type AdminOrigin = EnsureRoot<AccountId>;
	type PalletId = PotPalletId;
	type MaxTopNodes = ConstU32<MAX_TOP_NODES>;
	type MaxChunk = ConstU32<MAX_CHUNK>;
	type MaxAuthors = ConstU32<{ super::MAX_AUTHORITIES }>;
	// 64 periods: over two days of hourly periods on the testnet, an hour on dev chains.
	type KeptPeriods = ConstU32<64>;
	type WeightInfo = pallet_pot::weights::SubstrateWeight<Runtime>;
}

/// Counts each block for its author's share of the period's validator issuance.
pub struct NoteAuthor;
impl pallet_authorship::EventHandler<AccountId, crate::BlockNumber> for NoteAuthor {
	fn note_author(author: AccountId) {
		Pot::note_author(author);
	}
}

/// Burns what governance slashes (referenda deposits) and records it in the issuance ledger.
pub struct BurnSlash;
impl frame_support::traits::OnUnbalanced<pallet_balances::NegativeImbalance<Runtime>>
	for BurnSlash
{
	fn on_nonzero_unbalanced(amount: pallet_balances::NegativeImbalance<Runtime>) {
		use frame_support::traits::Imbalance;
		Pot::note_burned(amount.peek());
		drop(amount);
	}
}
