#!/usr/bin/env bash
# Rewrites chain-spec/testnet.json (plain) from the runtime's `testnet` preset.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --workspace --all-targets --locked
"$CARGO_TARGET_DIR/debug/stratos-node" export-chain-spec --chain testnet > chain-spec/testnet.json
echo "wrote chain-spec/testnet.json"
