#!/usr/bin/env bash
# Builds everything (first time: ~50 min on 2 cores) and starts the local Stratos network:
# a dev chain (Alice authors and finalises 2 s blocks) with its RPC on ws://127.0.0.1:9944,
# and three resource nodes (stratos-rn on 127.0.0.1:7401-7403) that the `sds` client uses.
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
PIDS="$NODE_PID"
trap 'echo; echo ">> stopping"; kill $PIDS 2>/dev/null; wait $NODE_PID 2>/dev/null || true' EXIT INT TERM

# Three resource nodes; their keys and slices persist in $DATA/rn<i>.
RN_ADDRS=()
for i in 1 2 3; do
	"$CARGO_TARGET_DIR/debug/stratos-rn" --listen "/ip4/127.0.0.1/tcp/740$i" --data-dir "$DATA/rn$i" \
		--capacity 10GiB --region local --metrics "127.0.0.1:962$i" \
		>"$DATA/rn$i.out" 2>"$DATA/rn$i.log" &
	PIDS="$PIDS $!"
	addr=""
	for _ in $(seq 1 50); do
		addr=$(grep -m1 '^STRATOS_RN_ADDR ' "$DATA/rn$i.out" 2>/dev/null | cut -d' ' -f2 || true)
		[ -n "$addr" ] && break
		sleep 0.2
	done
	[ -n "$addr" ] || { echo "stratos-rn $i did not start:"; tail -20 "$DATA/rn$i.log"; exit 1; }
	RN_ADDRS+=("$addr")
done
SDS_NODES=$(IFS=,; echo "${RN_ADDRS[*]}")
echo "$SDS_NODES" >"$DATA/sds-nodes"

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

    resource nodes:               ${RN_ADDRS[0]}
                                  ${RN_ADDRS[1]}
                                  ${RN_ADDRS[2]}
      metrics: http://127.0.0.1:9621/metrics (…9622, …9623), logs: $DATA/rn<i>.log
    store and fetch files:
      export SDS_NODES=\$(cat $DATA/sds-nodes)
      $CARGO_TARGET_DIR/debug/sds put <file>
      $CARGO_TARGET_DIR/debug/sds get /<file name> <out>
      $CARGO_TARGET_DIR/debug/sds ls | status

  Ctrl-C stops it.
MSG
tail -f "$DATA/node.log" &
TAIL_PID=$!
trap 'echo; echo ">> stopping"; kill $PIDS $TAIL_PID 2>/dev/null; wait $NODE_PID 2>/dev/null || true' EXIT INT TERM
wait $NODE_PID
