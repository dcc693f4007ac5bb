#!/usr/bin/env bash
# Rewrites offchain/metadata/stratos.scale from the runtime (after changing the runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
STRATOS_UPDATE_METADATA=1 cargo test --locked -p stratos-tests --test it metadata
