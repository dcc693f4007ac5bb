#!/usr/bin/env bash
# Rewrites offchain/metadata/stratos.scale from the runtime (after changing the runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The chain client is generated from this file: leave it out until the file is rewritten.
STRATOS_UPDATE_METADATA=1 cargo test --workspace --exclude stratos-chain-client --test it metadata
