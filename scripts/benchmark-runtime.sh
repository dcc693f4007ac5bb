#!/usr/bin/env bash
# Regenerates the runtime's own weights on this machine (ADR 0003): FRAME's pallets that the
# runtime uses without weights of ours (system, balances, timestamp), the per-block and
# per-extrinsic base costs (`benchmark overhead`), and the RocksDB read/write costs
# (`benchmark storage`, on a state of $ACCOUNTS accounts). Prints the measured execution time
# of a full block of `transfer_keep_alive` (`benchmark extrinsic`) and the machine's figures
# against Substrate's reference hardware (`benchmark machine`).
#
# Not part of CI: it builds the node with `--profile production --features
# runtime-benchmarks` (shared with scripts/benchmark-pallets.sh; ~45 min cold on 2 cores).
# Usage: [ACCOUNTS=100000] [STRATOS_NODE=path] scripts/benchmark-runtime.sh [steps] [repeat]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
steps=${1:-50}
repeat=${2:-20}
accounts=${ACCOUNTS:-100000}
export SKIP_FRAME_STORAGE_ACCESS_TEST_RUNTIME_WASM_BUILD=1
# STRATOS_NODE=<path> uses an existing build (of this commit, with runtime-benchmarks).
if [ -z "${STRATOS_NODE:-}" ]; then
	cargo build --locked --profile production -p stratos-node --features runtime-benchmarks
fi
node="${STRATOS_NODE:-$CARGO_TARGET_DIR/production/stratos-node}"
out=runtime/src/weights
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for pallet in frame_system frame_system_extensions pallet_balances pallet_timestamp \
	pallet_transaction_payment; do
	echo ">> $pallet"
	"$node" benchmark pallet --chain dev --pallet "$pallet" --extrinsic '*' \
		--steps "$steps" --repeat "$repeat" --wasm-execution compiled \
		--output "$out/$pallet.rs"
done

echo ">> block and extrinsic overhead"
"$node" benchmark overhead --dev --weight-path "$out" --warmup 10 --repeat 100
# The generated files name sp-core/sp-weights, which the runtime reaches through frame-support.
sed -i -e 's/^use sp_core::parameter_types;/use frame_support::parameter_types;/' \
	-e 's/sp_weights::/frame_support::weights::/g' "$out/block_weights.rs" "$out/extrinsic_weights.rs"

echo ">> RocksDB weights on a state with $accounts extra accounts"
"$node" export-chain-spec --chain dev > "$work/dev.json"
python3 scripts/big-genesis.py "$work/dev.json" "$work/big.json" "$accounts"
# Write the genesis state into a database, then measure reads and writes in it. A write is
# timed as its share of committing 10,000 of them with the storage root: about what a full
# block of transfers writes (per key, 1,000 cost 44 µs here, 10,000 32 µs, 100,000 20 µs).
"$node" export-state --chain "$work/big.json" --base-path "$work/db" 0 > /dev/null
"$node" benchmark storage --chain "$work/big.json" --base-path "$work/db" --state-version 1 \
	--batch-size 10000 --template-path scripts/templates/db-weights.hbs \
	--weight-path "$out/db_weights.rs"

echo ">> a block of transfer_keep_alive, executed (not weighed)"
"$node" benchmark extrinsic --dev --pallet balances --extrinsic transfer_keep_alive
echo ">> this machine against Substrate's reference hardware"
"$node" benchmark machine --dev --allow-fail
cargo fmt --all
