//! The second runtime of the governance-upgrade test (`tests/`), as a wasm blob.
//!
//! It is `stratos-runtime` with the `upgrade-test` feature: `spec_version` + 1 and
//! `pallet-validator-set` at storage version 1 with its v0 → v1 migration.
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(target_arch = "wasm32")]
pub use stratos_runtime::*;

#[cfg(not(target_arch = "wasm32"))]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));
