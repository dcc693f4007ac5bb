#!/usr/bin/env bash
# Builds everything (first time: ~50 min on 2 cores) and starts the local Stratos network from
# the `dev-network` preset: a chain (Alice authors and finalises 2 s blocks) with its RPC on
# ws://127.0.0.1:9944, three meta nodes (stratos-meta, Alice/Bob/Charlie, ports 7500-7502)
# and four resource nodes (stratos-rn, Dave/Eve/Ferdie/Dave's stash, ports 7401-7404), all
# with the chain's well-known dev keys. It then buys and reserves download credit for the dev
# user //Alice//stash and prints a working `sds put` / `sds get`.
# Data lives in $STRATOS_DATA (default ~/.local/share/stratos/dev-network); `--fresh` wipes
# it first. Ctrl-C stops the network.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

DATA="${STRATOS_DATA:-$HOME/.local/share/stratos/dev-network}"
RPC_PORT="${STRATOS_RPC_PORT:-9944}"
if [ "${1:-}" = "--fresh" ]; then rm -rf "$DATA"; fi
mkdir -p "$DATA"

echo ">> building (cargo build --workspace --all-targets --locked)"
cargo build --workspace --all-targets --locked
BIN="$CARGO_TARGET_DIR/debug"
CHAIN="ws://127.0.0.1:$RPC_PORT"

# A validator needs a persistent libp2p key; the local network's is fixed.
"$BIN/stratos-node" --chain dev-network --alice --force-authoring --base-path "$DATA/chain" \
	--node-key 0000000000000000000000000000000000000000000000000000000000000001 \
	--rpc-port "$RPC_PORT" --rpc-cors all --port 30333 --no-telemetry --name stratos-dev \
	>"$DATA/node.log" 2>&1 &
NODE_PID=$!
PIDS="$NODE_PID"
trap 'echo; echo ">> stopping"; kill $PIDS 2>/dev/null; wait $NODE_PID 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 120); do
	if curl -s -H 'Content-Type: application/json' \
		-d '{"id":1,"jsonrpc":"2.0","method":"chain_getFinalizedHead","params":[]}' \
		"http://127.0.0.1:$RPC_PORT" | grep -q result; then
		break
	fi
	kill -0 $NODE_PID 2>/dev/null || { echo "stratos-node exited:"; tail -30 "$DATA/node.log"; exit 1; }
	sleep 1
done

# Resource nodes: the preset registered them with these keys, ports and regions.
RNS=("//Dave 7401 eu" "//Eve 7402 us" "//Ferdie 7403 asia" "//Dave//stash 7404 eu")
for i in 0 1 2 3; do
	read -r suri port region <<<"${RNS[$i]}"
	"$BIN/stratos-rn" --chain "$CHAIN" --node-key-suri "$suri" --listen "/ip4/127.0.0.1/tcp/$port" \
		--data-dir "$DATA/rn$((i + 1))" --capacity 10GiB --region "$region" \
		--metrics "127.0.0.1:962$((i + 1))" >"$DATA/rn$((i + 1)).out" 2>"$DATA/rn$((i + 1)).log" &
	PIDS="$PIDS $!"
done

# Meta nodes: their accounts vote on chain and evaluate the election VRF.
METAS=("//Alice 7500" "//Bob 7501" "//Charlie 7502")
for i in 0 1 2; do
	read -r suri port <<<"${METAS[$i]}"
	mkdir -p "$DATA/meta$((i + 1))"
	echo "$suri" >"$DATA/meta$((i + 1))/account"
	chmod 600 "$DATA/meta$((i + 1))/account"
	"$BIN/stratos-meta" --chain "$CHAIN" --node-key-suri "$suri" --account-file "$DATA/meta$((i + 1))/account" \
		--listen "/ip4/127.0.0.1/tcp/$port" --data-dir "$DATA/meta$((i + 1))" \
		--metrics "127.0.0.1:970$((i + 1))" >"$DATA/meta$((i + 1)).out" 2>"$DATA/meta$((i + 1)).log" &
	PIDS="$PIDS $!"
done

export SDS_CHAIN="$CHAIN" SDS_ACCOUNT="//Alice//stash"
echo ">> waiting for a meta leader and the resource nodes' heartbeats"
ready=""
for _ in $(seq 1 90); do
	if status=$("$BIN/sds" status 2>/dev/null) && ! grep -q 'leader unknown' <<<"$status" &&
		[ "$(grep -c ' healthy' <<<"$status")" -ge 4 ]; then
		ready=1
		break
	fi
	sleep 2
done
[ -n "$ready" ] || { echo "the meta nodes did not become ready:"; tail -20 "$DATA"/meta*.log; exit 1; }

# Download credit for the dev user, so `sds get` works at once.
"$BIN/sds" credit buy 100 >/dev/null
"$BIN/sds" credit reserve 4GiB >/dev/null

cat <<MSG

  Stratos local network is up.
    chain RPC (WebSocket + HTTP): ws://127.0.0.1:$RPC_PORT
    polkadot-js apps:             https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A$RPC_PORT#/explorer
      (files: Developer > Chain state > fileRegistry.files)
    meta nodes:     127.0.0.1:7500-7502, metrics http://127.0.0.1:9701/metrics (…9702, …9703)
    resource nodes: 127.0.0.1:7401-7404, metrics http://127.0.0.1:9621/metrics (…9624)
    logs:           $DATA/{node,meta1..3,rn1..4}.log
    dev accounts (//Alice ... //Ferdie and their stashes) hold 1,000,000 STOS each.

  Store and fetch a file (the dev user //Alice//stash has 4 GiB of download credit reserved):
      export SDS_CHAIN=$CHAIN SDS_ACCOUNT=//Alice//stash
      $BIN/sds put README.md /docs/README.md
      $BIN/sds ls /docs
      $BIN/sds get /docs/README.md /tmp/README.copy
      $BIN/sds status

  Ctrl-C stops it.
MSG
tail -f "$DATA/node.log" >/dev/null &
TAIL_PID=$!
trap 'echo; echo ">> stopping"; kill $PIDS $TAIL_PID 2>/dev/null; wait $NODE_PID 2>/dev/null || true' EXIT INT TERM
wait $NODE_PID
