#!/usr/bin/env bash
# Installs what is needed and runs every check CI runs: formatting, clippy, the whole build
# (node + both runtime wasms), all tests (unit, end-to-end with real nodes, polkadot-js, the
# governance runtime upgrade) and the benchmark/try-runtime test suites.
set -euo pipefail
cd "$(dirname "$0")/.."
export STRATOS_NEED_NODEJS=1
source scripts/setup.sh
start=$(date +%s)
step() { echo; echo ">> [$(( $(date +%s) - start ))s] $*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "Grafana dashboard uses only exported metric names"
python3 scripts/check-dashboard.py

step "build the workspace (node, runtime wasm, upgrade-test wasm)"
# --timings: the per-crate profile of this build, in $CARGO_TARGET_DIR/cargo-timings/.
cargo build --workspace --all-targets --locked --timings

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "npm ci (polkadot-js test)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)

step "tests, in two lanes"
# The tests on the fixed-port meta network (named *meta_network_*, see
# offchain/meta/tests/procs) run one after another in a lane of their own, next to all the
# other tests: both lanes mostly wait for blocks (the traffic test keeps ~15% of the 2 cores
# busy), so together they take about as long as the longer lane.
cargo test --workspace --locked --no-run
lane_log="$CARGO_TARGET_DIR/meta-network-lane.log"
cargo test --workspace --locked meta_network_ -- --test-threads 1 > "$lane_log" 2>&1 &
lane=$!
status=0
cargo test --workspace --locked -- --test-threads 1 --skip meta_network_ || status=$?
lane_status=0
wait "$lane" || lane_status=$?
echo; echo ">> the meta-network lane (exit $lane_status):"
if [ "$lane_status" -eq 0 ]; then
	# Only what ran: every other test binary of the workspace ran with all its tests filtered out.
	grep -E '^test [^ ]+ \.\.\. |^test result: ok\. [1-9]' "$lane_log" || true
else
	cat "$lane_log"
fi
[ "$status" -eq 0 ] && [ "$lane_status" -eq 0 ] || { echo "tests failed (main lane exit $status, meta-network lane exit $lane_status)"; exit 1; }

step "benchmark and try-runtime test suites (runtime-benchmarks, try-runtime, upgrade-test)"
SKIP_WASM_BUILD=1 cargo test --locked \
	-p pallet-validator-set -p pallet-chain-params -p pallet-node-registry -p pallet-file-registry -p pallet-pot -p stratos-runtime \
	--features pallet-validator-set/runtime-benchmarks,pallet-validator-set/try-runtime,pallet-validator-set/upgrade-test,pallet-chain-params/runtime-benchmarks,pallet-chain-params/try-runtime,pallet-node-registry/runtime-benchmarks,pallet-node-registry/try-runtime,pallet-file-registry/runtime-benchmarks,pallet-file-registry/try-runtime,pallet-pot/runtime-benchmarks,pallet-pot/try-runtime,stratos-runtime/runtime-benchmarks,stratos-runtime/try-runtime,stratos-runtime/upgrade-test

step "all checks passed"
