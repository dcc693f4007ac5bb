#!/usr/bin/env bash
# Builds everything (first time: ~25 min on 2 cores) and starts the local Stratos network:
# a dev chain (Alice authors and finalises 2 s blocks) with its RPC on ws://127.0.0.1:9944.
# Data lives in $STRATOS_DATA (default ~/.local/share/stratos/dev); `--fresh` wipes it first.
# Ctrl-C stops the network.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

DATA="${STRATOS_DATA:-$HOME/.local/share/stratos/dev}"
RPC_PORT="${STRATOS_RPC_PORT:-9944}"
if [ "${1:-}" = "--fresh" ]; then rm -rf "$DATA"; fi
mkdir -p "$DATA"

echo ">> building (cargo build --workspace --all-targets --locked)"
cargo build --workspace --all-targets --locked
NODE="$CARGO_TARGET_DIR/debug/stratos-node"

"$NODE" --dev --base-path "$DATA/chain" --rpc-port "$RPC_PORT" --rpc-cors all \
	--name stratos-dev --no-telemetry >"$DATA/node.log" 2>&1 &
NODE_PID=$!
trap 'echo; echo ">> stopping"; kill $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 120); do
	if curl -s -H 'Content-Type: application/json' \
		-d '{"id":1,"jsonrpc":"2.0","method":"chain_getFinalizedHead","params":[]}' \
		"http://127.0.0.1:$RPC_PORT" | grep -q result; then
		break
	fi
	kill -0 $NODE_PID 2>/dev/null || { echo "stratos-node exited:"; tail -30 "$DATA/node.log"; exit 1; }
	sleep 1
done

cat <<MSG

  Stratos local network is up.
    chain RPC (WebSocket + HTTP): ws://127.0.0.1:$RPC_PORT
    polkadot-js apps:             https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A$RPC_PORT#/explorer
    Prometheus metrics:           http://127.0.0.1:9615/metrics
    node log:                     $DATA/node.log
    dev accounts (//Alice ... //Ferdie) hold 1,000,000 STOS each; Alice is Sudo.

  Ctrl-C stops it.
MSG
tail -f "$DATA/node.log" &
TAIL_PID=$!
trap 'echo; echo ">> stopping"; kill $NODE_PID $TAIL_PID 2>/dev/null; wait $NODE_PID 2>/dev/null || true' EXIT INT TERM
wait $NODE_PID
