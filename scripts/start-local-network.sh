#!/usr/bin/env bash
# Builds everything (first time: ~50 min on 2 cores) and starts the local Stratos network: a
# chain with its RPC on ws://127.0.0.1:9944, three meta nodes (stratos-meta, Alice/Bob/Charlie,
# ports 7500-7502) and four resource nodes (stratos-rn, Dave/Eve/Ferdie/Dave's stash, ports
# 7401-7404), all with the chain's well-known dev keys. It then buys and reserves download
# credit for the dev user //Alice//stash and prints a working `sds put` / `sds get`.
#
#   scripts/start-local-network.sh [--local] [--fresh]
#
# By default the chain is `dev-network`: one validator (Alice) authors and finalises 2 s
# blocks. `--local` runs the `local` chain instead: Alice, Bob, Charlie and Dave validate, each
# its own stratos-node process with its own data directory and log (GRANDPA needs 3 of the 4).
# Data lives in $STRATOS_DATA (default ~/.local/share/stratos/dev-network, or .../local-network
# with --local); a second run resumes the same network, `--fresh` wipes it first. Ctrl-C stops
# every process.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL="" FRESH=""
for arg in "$@"; do
	case "$arg" in
	--local) LOCAL=1 ;;
	--fresh) FRESH=1 ;;
	-h | --help)
		sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "unknown argument: $arg (expected --local and/or --fresh)" >&2
		exit 2
		;;
	esac
done

source scripts/setup.sh

if [ -n "$LOCAL" ]; then
	DATA="${STRATOS_DATA:-$HOME/.local/share/stratos/local-network}"
	SPEC=local
else
	DATA="${STRATOS_DATA:-$HOME/.local/share/stratos/dev-network}"
	SPEC=dev-network
fi
RPC_PORT="${STRATOS_RPC_PORT:-9944}"
if [ -n "$FRESH" ]; then rm -rf "$DATA"; fi
mkdir -p "$DATA"

# The binaries only: the same workspace features as the test build, so nothing is compiled
# twice when both are run.
echo ">> building (cargo build --workspace --locked)"
cargo build --workspace --locked
BIN="$CARGO_TARGET_DIR/debug"
CHAIN="ws://127.0.0.1:$RPC_PORT"

PIDS=""
declare -A LOG_OF # pid -> its log
stop() {
	echo
	echo ">> stopping"
	# shellcheck disable=SC2086
	kill $PIDS 2>/dev/null || true
	wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

# Validators: each with a fixed libp2p key (a validator needs a persistent one), its own base
# path and log. Alice's RPC is the network's; the others listen on the next ports.
if [ -n "$LOCAL" ]; then
	VALIDATORS=(alice bob charlie dave)
else
	VALIDATORS=(alice)
fi
BOOT=""
for i in "${!VALIDATORS[@]}"; do
	who=${VALIDATORS[$i]}
	key=$(printf '%064x' $((i + 1)))
	extra=()
	if [ -n "$LOCAL" ]; then
		base="$DATA/$who"
		log="$DATA/$who.log"
		[ -z "$BOOT" ] || extra=(--bootnodes "$BOOT")
		extra+=(--validator --prometheus-port $((9615 + i)))
	else
		base="$DATA/chain"
		log="$DATA/node.log"
		extra=(--force-authoring)
	fi
	"$BIN/stratos-node" --chain "$SPEC" "--$who" --base-path "$base" --node-key "$key" \
		--rpc-port $((RPC_PORT + i)) --rpc-cors all --port $((30333 + i)) --no-telemetry \
		--no-mdns --name "stratos-$who" "${extra[@]}" >"$log" 2>&1 &
	PIDS="$PIDS $!"
	LOG_OF[$!]=$log
	if [ -z "$BOOT" ]; then
		# The first validator's peer id, for the others to boot from.
		for _ in $(seq 1 60); do
			id=$(grep -o 'Local node identity is: [[:alnum:]]*' "$log" | head -1 | awk '{print $5}') || true
			[ -n "$id" ] && break
			sleep 0.5
		done
		BOOT="/ip4/127.0.0.1/tcp/30333/p2p/$id"
	fi
done
LOGS=$(for who in "${VALIDATORS[@]}"; do [ -n "$LOCAL" ] && echo "$DATA/$who.log" || echo "$DATA/node.log"; done)

rpc() {
	curl -s -H 'Content-Type: application/json' \
		-d "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":[${2:-}]}" \
		"http://127.0.0.1:$RPC_PORT"
}
fail() {
	echo "$1" >&2
	for log in $LOGS; do
		echo "----- $log -----" >&2
		tail -25 "$log" >&2
	done
	exit 1
}

# The chain is up when its finalised head moves past what this run started from.
echo ">> waiting for the chain (${#VALIDATORS[@]} validator(s)) to finalise blocks"
start_fin=""
up=""
for _ in $(seq 1 150); do
	for pid in $PIDS; do kill -0 "$pid" 2>/dev/null || { LOGS="${LOG_OF[$pid]}" && fail "$(basename "${LOG_OF[$pid]}" .log) exited"; }; done
	if head=$(rpc chain_getFinalizedHead) && hash=$(grep -o '0x[0-9a-f]*' <<<"$head") &&
		num=$(rpc chain_getHeader "\"$hash\"" | grep -o '"number":"0x[0-9a-f]*"' | grep -o '0x[0-9a-f]*'); then
		num=$((num))
		[ -n "$start_fin" ] || start_fin=$num
		if [ "$num" -gt "$start_fin" ]; then
			up=1
			break
		fi
	fi
	sleep 1
done
[ -n "$up" ] || fail "the chain did not finalise a block within 150 s"

# A resumed network keeps the runtime it stored; say when the built one is newer.
stored=$(rpc state_getRuntimeVersion | grep -o '"specVersion":[0-9]*' | grep -o '[0-9]*$')
built=$(grep -o 'spec_version: [0-9]*' runtime/src/lib.rs | head -1 | grep -o '[0-9]*$')
if [ "$stored" -lt "$built" ]; then
	echo "!! the stored chain runs runtime spec $stored, older than the built spec $built."
	echo "   Upgrade it through governance (see README), or start fresh: $0 ${LOCAL:+--local }--fresh"
elif [ "$stored" -gt "$built" ]; then
	echo "!! the stored chain runs runtime spec $stored, newer than the built spec $built."
fi

# Resource nodes: the preset registered them with these keys, ports and regions.
RNS=("//Dave 7401 eu" "//Eve 7402 us" "//Ferdie 7403 asia" "//Dave//stash 7404 eu")
for i in 0 1 2 3; do
	read -r suri port region <<<"${RNS[$i]}"
	"$BIN/stratos-rn" --chain "$CHAIN" --node-key-suri "$suri" --listen "/ip4/127.0.0.1/tcp/$port" \
		--data-dir "$DATA/rn$((i + 1))" --capacity 10GiB --region "$region" \
		--metrics "127.0.0.1:962$((i + 1))" >"$DATA/rn$((i + 1)).out" 2>"$DATA/rn$((i + 1)).log" &
	PIDS="$PIDS $!"
	LOG_OF[$!]="$DATA/rn$((i + 1)).log"
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
	LOG_OF[$!]="$DATA/meta$((i + 1)).log"
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
[ -n "$ready" ] || { LOGS=$(ls "$DATA"/meta*.log "$DATA"/rn*.log); fail "the meta and resource nodes did not become ready in 180 s"; }

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
    validators:     ${VALIDATORS[*]} (RPC ports $RPC_PORT..$((RPC_PORT + ${#VALIDATORS[@]} - 1)))
    logs:           $(echo $LOGS | tr ' ' '\n' | xargs -n1 basename | tr '\n' ' ')meta1..3.log rn1..4.log in $DATA
    dev accounts (//Alice ... //Ferdie and their stashes) hold 1,000,000 STOS each.

  Store and fetch a file (the dev user //Alice//stash has 4 GiB of download credit reserved):
      export SDS_CHAIN=$CHAIN SDS_ACCOUNT=//Alice//stash
      $BIN/sds put README.md /docs/README.md
      $BIN/sds ls /docs
      $BIN/sds get /docs/README.md /tmp/README.copy
      $BIN/sds status

  Ctrl-C stops it.
MSG
# Runs until Ctrl-C, or until one process dies: then everything stops, with that log's tail.
# shellcheck disable=SC2086
wait -n $PIDS || true
for pid in $PIDS; do
	kill -0 "$pid" 2>/dev/null || { LOGS="${LOG_OF[$pid]}" && fail "$(basename "${LOG_OF[$pid]}" .log) exited"; }
done
