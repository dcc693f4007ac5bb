//! End-to-end tests against real `stratos-node` processes (one test binary, one module each).
//!
//! Node tests need the node binary built (`cargo build -p stratos-node`); the README's test
//! command builds everything first. They run one at a time (`--test-threads 1` in the test
//! script): a debug validator needs a core to keep its 2 s slots.

mod cli;
mod dev_chain;
mod equivocation;
mod faults;
mod local_network;
mod metadata;
mod polkadot_js;
mod runtime_upgrade;
mod testnet_spec;
