#!/usr/bin/env bash
# The testnet's chain specs (ADR 0016):
#
#   scripts/regenerate-testnet-spec.sh                 # genesis + boot nodes, only while the
#                                                      # testnet is not live
#   scripts/regenerate-testnet-spec.sh --bootnodes-only  # boot nodes only (always allowed)
#
# The full run rebuilds the node, writes `chain-spec/testnet.json` (plain: the runtime's
# `testnet` preset and this build's wasm), `chain-spec/testnet-raw.json` (its raw form, which
# the node embeds as `--chain testnet`) and `chain-spec/testnet-genesis-hash` (the genesis
# block hash a node booted from the raw spec reports), then rebuilds the node so it embeds the
# new raw spec. Boot nodes come from `chain-spec/testnet-bootnodes.txt` (one multiaddr per
# line); they are not part of the genesis, so `--bootnodes-only` may change them on a live
# network. Once `chain-spec/testnet-status` says `live`, the genesis is frozen: changes to it
# go through runtime upgrades, and the full run refuses.
set -euo pipefail
cd "$(dirname "$0")/.."

PLAIN=chain-spec/testnet.json
RAW=chain-spec/testnet-raw.json
HASH=chain-spec/testnet-genesis-hash
BOOTNODES=chain-spec/testnet-bootnodes.txt
STATUS=chain-spec/testnet-status

set_bootnodes() {
	python3 - "$BOOTNODES" "$@" <<'EOF'
import json, sys
nodes = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    if "/p2p/" not in line:
        sys.exit(f"{sys.argv[1]}: `{line}` has no /p2p/<peer id>")
    nodes.append(line)
for path in sys.argv[2:]:
    with open(path) as f:
        spec = json.load(f)
    spec["bootNodes"] = nodes
    with open(path, "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")
    print(f"{path}: {len(nodes)} boot node(s)")
EOF
}

if [ "${1:-}" = "--bootnodes-only" ]; then
	set_bootnodes "$PLAIN" "$RAW"
	echo "genesis unchanged ($(cat "$HASH")); rebuild the node to embed the new boot nodes"
	exit 0
fi
if [ -n "${1:-}" ]; then
	echo "usage: $0 [--bootnodes-only]" >&2
	exit 2
fi
if grep -q '^live' "$STATUS"; then
	echo "$STATUS says the testnet is live: its genesis is frozen." >&2
	echo "Change the runtime through a governance upgrade; boot nodes with --bootnodes-only." >&2
	exit 1
fi

source scripts/setup.sh
NODE="$CARGO_TARGET_DIR/debug/stratos-node"
# The node embeds the raw spec: a first run needs a placeholder to compile against.
[ -f "$RAW" ] || echo '{}' > "$RAW"
cargo build --workspace --locked

echo ">> plain spec from the runtime's testnet preset"
"$NODE" export-chain-spec --chain testnet-from-preset > "$PLAIN.tmp"
mv "$PLAIN.tmp" "$PLAIN"
set_bootnodes "$PLAIN"
echo ">> raw spec"
"$NODE" export-chain-spec --chain "$PLAIN" --raw > "$RAW.tmp"
mv "$RAW.tmp" "$RAW"

echo ">> genesis hash of a node booted from the raw spec"
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$NODE" --chain "$RAW" --base-path "$tmp" --rpc-port "$port" --port 0 --no-prometheus \
	--no-telemetry --no-mdns > "$tmp/node.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
if python3 - "$port" "$HASH" <<'EOF'
import json, sys, time, urllib.request
port, out = sys.argv[1], sys.argv[2]
req = json.dumps({"id": 1, "jsonrpc": "2.0", "method": "chain_getBlockHash", "params": [0]}).encode()
for _ in range(120):
    try:
        r = urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}", req, {"Content-Type": "application/json"}), timeout=2)
        h = json.load(r)["result"]
        open(out, "w").write(h + "\n")
        print(f"{out}: {h}")
        sys.exit(0)
    except Exception:
        time.sleep(0.5)
sys.exit("the node booted from the raw spec did not answer on RPC within 60 s")
EOF
then :; else tail -20 "$tmp/node.log" >&2; exit 1; fi

echo ">> rebuilding the node to embed the new raw spec"
cargo build --workspace --locked
echo "wrote $PLAIN, $RAW and $HASH; commit all three"
