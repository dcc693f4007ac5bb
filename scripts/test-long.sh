#!/usr/bin/env bash
# The long fault tests, run by hand before a change that touches what they cover (results go
# in the issue's note). Each is an `#[ignore]`d test named `long_*`:
#   tests/tests/it/equivocation.rs  a validator's keys in two processes: no conflicting
#                    finality, the GRANDPA equivocation reported on chain, the Aura one logged.
#   tests/tests/it/runtime_upgrade.rs  the runtime upgrade by referendum on 4 validators
#                    while four accounts keep transferring: none lost, none applied unseen.
#   offchain/meta/tests/faults.rs   resource nodes killed mid-download and mid-upload: no
#                    acknowledged file lost, a failed upload says so and a retry stores it.
#                    (Its meta-leader partition test is not long: CI runs it.)
# Usage: scripts/test-long.sh [name filter]   (default: all long tests)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --workspace --all-targets --locked
# --workspace (not -p): the same feature resolution as the build above, nothing rebuilt.
cargo test --workspace --locked --test it "${1:-long_}" -- --ignored --test-threads 1 --nocapture
cargo test --workspace --locked --test faults "${1:-long_}" -- --ignored --nocapture
