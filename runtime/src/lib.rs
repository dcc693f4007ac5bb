//! # The Stratos runtime
//!
//! One runtime for every Stratos chain (dev, local, testnet): what differs between chains is
//! genesis data (validators, balances, governance timings, session length), never code.
//!
//! * consensus: Aura block authoring in 2 s slots, GRANDPA finality; the authority set comes from
//!   `pallet-session`, whose validator list `pallet-validator-set` manages under Root;
//! * money: `pallet-balances` with holds and freezes, fees by `pallet-transaction-payment`;
//! * governance: OpenGov (`pallet-referenda` with a Root track, `pallet-conviction-voting`,
//!   `pallet-scheduler`, `pallet-preimage`); a passed Root referendum can upgrade this runtime.
//!   `pallet-sudo` exists only on chains whose genesis gives it a key (dev, local).
//!
//! `lib.rs` composes; `configs/` holds each pallet's `Config`, `apis.rs` the runtime APIs,
//! `genesis_config_presets.rs` the presets the chain specs are built from.

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime` and `impl_runtime_apis` generate large items.
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

use alloc::vec::Vec;
// The `runtime` macro names pallets by module path; historical is a module of pallet-session.
use pallet_session::historical as pallet_session_historical;

pub mod apis;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarks;
pub mod configs;
pub mod genesis_config_presets;
#[cfg(test)]
mod pot_scale_tests;
#[cfg(test)]
mod tests;
pub mod weights;

use sp_runtime::{
	generic, impl_opaque_keys,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};
use sp_version::RuntimeVersion;

pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
pub use pallet_timestamp::Call as TimestampCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;

/// Opaque types, for the node: it does not need to know the runtime's extrinsic format.
pub mod opaque {
	use super::*;
	use sp_runtime::traits::Hash as HashT;

	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
	/// Opaque block hash type.
	pub type Hash = <BlakeTwo256 as HashT>::Output;
}

impl_opaque_keys! {
	/// The session keys of a validator: Aura (block authoring) and GRANDPA (finality).
	pub struct SessionKeys {
		pub aura: Aura,
		pub grandpa: Grandpa,
	}
}

/// The runtime version. `spec_version` is bumped by every release that changes behaviour.
#[cfg(not(feature = "upgrade-test"))]
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("stratos"),
	impl_name: alloc::borrow::Cow::Borrowed("stratos"),
	authoring_version: 1,
	spec_version: 103,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// The version of the `upgrade-test` build: the second runtime of the governance-upgrade test
/// is one `spec_version` ahead of the real one.
#[cfg(feature = "upgrade-test")]
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("stratos"),
	impl_name: alloc::borrow::Cow::Borrowed("stratos"),
	authoring_version: 1,
	spec_version: 104,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// Block time: one Aura slot. The same on every chain (it cannot change after genesis).
pub const MILLI_SECS_PER_BLOCK: u64 = 2000;
/// Aura slot duration.
pub const SLOT_DURATION: u64 = MILLI_SECS_PER_BLOCK;

/// Blocks per minute, hour and day at 2 s blocks.
pub const MINUTES: BlockNumber = 60_000 / (MILLI_SECS_PER_BLOCK as BlockNumber);
/// Blocks per hour.
pub const HOURS: BlockNumber = MINUTES * 60;
/// Blocks per day.
pub const DAYS: BlockNumber = HOURS * 24;

/// The token: STOS with 12 decimals (`docs/adr/0006-token-and-economics.md`).
pub const TOKEN_SYMBOL: &str = "STOS";
/// Decimals of STOS.
pub const TOKEN_DECIMALS: u8 = 12;
/// SS58 address prefix (generic Substrate).
pub const SS58_PREFIX: u16 = 42;
/// One STOS in plancks.
pub const UNITS: Balance = 1_000_000_000_000;
/// 0.01 STOS.
pub const CENTS: Balance = UNITS / 100;
/// 0.00001 STOS.
pub const MILLI_CENTS: Balance = CENTS / 1_000;
/// Minimum balance an account must keep to exist.
pub const EXISTENTIAL_DEPOSIT: Balance = CENTS;

/// Signature of a transaction (sr25519, ed25519 or ecdsa).
pub type Signature = MultiSignature;
/// An account: the public key of the signing scheme.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Balance of an account.
pub type Balance = u128;
/// Index of a transaction in the chain.
pub type Nonce = u32;
/// A hash of some data used by the chain.
pub type Hash = sp_core::H256;
/// An index to a block.
pub type BlockNumber = u32;
/// The address format for describing accounts.
pub type Address = MultiAddress<AccountId, ()>;
/// Block header type as expected by this runtime.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// A Block signed with a Justification.
pub type SignedBlock = generic::SignedBlock<Block>;
/// BlockId type as expected by this runtime.
pub type BlockId = generic::BlockId<Block>;

/// The transaction extensions, in the order polkadot-js and subxt expect to find them in the
/// metadata. All of them are FRAME's own, so every polkadot-js version knows them.
pub type TxExtension = (
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	frame_metadata_hash_extension::CheckMetadataHash<Runtime>,
);

/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;

/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

frame_support::parameter_types! {
	/// The dispute slash a chain that ran PoT storage v0 starts with.
	pub const PotDisputeSlash: Balance = genesis_config_presets::DISPUTE_SLASH;
}

/// Migrations of this release, beyond those pallets run themselves: PoT and file-registry
/// storage v0 → v1 (no-ops on chains that started at v1).
#[cfg(not(feature = "upgrade-test"))]
type Migrations = (
	pallet_pot::migrations::v1::MigrateToV1<Runtime, PotDisputeSlash>,
	pallet_file_registry::migrations::v1::MigrateToV1<Runtime>,
);
/// Migrations of the upgrade-test release: validator-set storage v0 → v1 as well.
#[cfg(feature = "upgrade-test")]
type Migrations = (
	pallet_pot::migrations::v1::MigrateToV1<Runtime, PotDisputeSlash>,
	pallet_file_registry::migrations::v1::MigrateToV1<Runtime>,
	pallet_validator_set::migrations::v1::MigrateV0ToV1<Runtime>,
);

/// Executive: dispatches calls to the pallets.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp;
	#[runtime::pallet_index(2)]
	pub type Balances = pallet_balances;
	#[runtime::pallet_index(3)]
	pub type TransactionPayment = pallet_transaction_payment;

	// Consensus. The order of these matters: the validator set feeds the session, which feeds
	// Aura's and GRANDPA's authorities.
	#[runtime::pallet_index(10)]
	pub type Authorship = pallet_authorship;
	#[runtime::pallet_index(11)]
	pub type ValidatorSet = pallet_validator_set;
	#[runtime::pallet_index(12)]
	pub type Session = pallet_session;
	#[runtime::pallet_index(13)]
	pub type Aura = pallet_aura;
	#[runtime::pallet_index(14)]
	pub type Grandpa = pallet_grandpa;
	// Session roots for key-ownership proofs, and proven offences (GRANDPA equivocations);
	// the handler only records them (ADR 0017).
	#[runtime::pallet_index(15)]
	pub type Historical = pallet_session_historical;
	#[runtime::pallet_index(16)]
	pub type Offences = pallet_offences;

	// Governance.
	#[runtime::pallet_index(20)]
	pub type Preimage = pallet_preimage;
	#[runtime::pallet_index(21)]
	pub type Scheduler = pallet_scheduler;
	#[runtime::pallet_index(22)]
	pub type Referenda = pallet_referenda;
	#[runtime::pallet_index(23)]
	pub type ConvictionVoting = pallet_conviction_voting;
	#[runtime::pallet_index(24)]
	pub type ChainParams = pallet_chain_params;

	// The storage network.
	#[runtime::pallet_index(30)]
	pub type NodeRegistry = pallet_node_registry;
	#[runtime::pallet_index(31)]
	pub type FileRegistry = pallet_file_registry;
	#[runtime::pallet_index(32)]
	pub type Pot = pallet_pot;

	// Only where the chain spec gives it a key.
	#[runtime::pallet_index(90)]
	pub type Sudo = pallet_sudo;
}

/// The chain properties polkadot-js reads (`system_properties`).
pub fn chain_properties() -> serde_json::Map<alloc::string::String, serde_json::Value> {
	let mut p = serde_json::Map::new();
	p.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	p.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	p.insert("ss58Format".into(), SS58_PREFIX.into());
	p
}
