#!/usr/bin/env bash
# Regenerates the weights of our pallets from their benchmarks (ADR 0005). Not part of CI:
# it builds the node in release mode with `runtime-benchmarks` (a second, larger build, about
# an hour on 2 cores) and runs every benchmark against the runtime wasm. Weights measured on
# a debug node over-estimate the optimised code.
# Usage: [PALLETS="pot ..."] scripts/benchmark-pallets.sh [steps] [repeat]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
steps=${1:-50}
repeat=${2:-20}
# frame-benchmarking-cli pulls in a test runtime whose wasm we never need.
export SKIP_FRAME_STORAGE_ACCESS_TEST_RUNTIME_WASM_BUILD=1
cargo build --release -p stratos-node --features stratos-node/runtime-benchmarks
node="$CARGO_TARGET_DIR/release/stratos-node"
for pallet in ${PALLETS:-validator-set chain-params node-registry file-registry pot}; do
	name="pallet_${pallet//-/_}"
	echo ">> $name"
	"$node" benchmark pallet --chain dev --pallet "$name" --extrinsic '*' \
		--steps "$steps" --repeat "$repeat" --wasm-execution compiled \
		--template scripts/templates/pallet-weights.hbs \
		--output "pallets/$pallet/src/weights.rs"
done
cargo fmt --all
# The debug workspace (and its shipped wasm) is untouched: the release build has its own
# artifacts.
