#!/usr/bin/env bash
# The long fault tests, run by hand before a change that touches what they cover (results go
# in the issue's note). Each is an `#[ignore]`d test named `long_*` in tests/tests/it/:
#   equivocation.rs  a validator's keys in two processes: no conflicting finality, the GRANDPA
#                    equivocation reported on chain, the Aura one logged.
# Usage: scripts/test-long.sh [name filter]   (default: all long tests)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --workspace --all-targets --locked
cargo test --locked -p stratos-tests --test it "${1:-long_}" -- --ignored --test-threads 1 --nocapture
