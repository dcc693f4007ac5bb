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

step "tests"
cargo test --workspace --locked -- --test-threads 1

step "benchmark and try-runtime test suites (runtime-benchmarks, try-runtime, upgrade-test)"
SKIP_WASM_BUILD=1 cargo test --locked \
	-p pallet-validator-set -p pallet-chain-params -p pallet-node-registry -p pallet-file-registry -p pallet-pot -p stratos-runtime \
	--features pallet-validator-set/runtime-benchmarks,pallet-validator-set/try-runtime,pallet-validator-set/upgrade-test,pallet-chain-params/runtime-benchmarks,pallet-chain-params/try-runtime,pallet-node-registry/runtime-benchmarks,pallet-node-registry/try-runtime,pallet-file-registry/runtime-benchmarks,pallet-file-registry/try-runtime,pallet-pot/runtime-benchmarks,pallet-pot/try-runtime,stratos-runtime/runtime-benchmarks,stratos-runtime/try-runtime,stratos-runtime/upgrade-test

step "all checks passed"
