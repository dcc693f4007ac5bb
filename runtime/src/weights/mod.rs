//! Weights measured on this project's machine with a release build
//! (`scripts/benchmark-runtime.sh`, ADR 0003): FRAME's pallets that the runtime uses without
//! weights of its own (with the transaction extensions and the fee payment), the per-block
//! and per-extrinsic base costs, and the RocksDB read and write costs. The Stratos pallets
//! keep theirs in `pallets/*/src/weights.rs` (`scripts/benchmark-pallets.sh`); they charge
//! database access through `T::DbWeight`, so they use [`db_weights::RocksDbWeight`] too.

pub mod block_weights;
pub mod db_weights;
pub mod extrinsic_weights;
pub mod frame_system;
pub mod frame_system_extensions;
pub mod pallet_balances;
pub mod pallet_timestamp;
pub mod pallet_transaction_payment;
