#!/usr/bin/env bash
# Chain throughput and finality latency of a fresh chain on this machine (docs/performance.md):
# starts the chain, runs `stratos-bench latency` (idle) and `stratos-bench transfers` (under
# load), prints each node's block authoring and import times from its Prometheus metrics, and
# stops the chain.
#
#   scripts/chain-bench.sh dev|local [--node PATH] [--runtime WASM] [--seconds 60]
#                                    [--in-flight 4000] [--samples 20] [-- NODE ARGS...]
#
# `dev`: one validator (`--chain dev`, Alice). `local`: the `local` chain's 4 validators, each
# its own process, Bob..Dave booting from Alice. The node defaults to the release build
# `$CARGO_TARGET_DIR/production/stratos-node` (`cargo build --locked --profile production -p
# stratos-node`, ~45 min cold on 2 cores); `--runtime` starts the chain from that wasm instead
# of the one the node embeds (its chain spec is exported and its `code` replaced). The bench
# client is the workspace's `stratos-bench`, on the same 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/stratos/target}

chain=${1:?usage: scripts/chain-bench.sh dev|local [--node PATH] [--runtime WASM] [--seconds N]}
shift
node="$CARGO_TARGET_DIR/production/stratos-node"
runtime=""
seconds=60
in_flight=4000
samples=20
while [ $# -gt 0 ]; do
	case "$1" in
	--node) node=$2; shift 2 ;;
	--runtime) runtime=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--in-flight) in_flight=$2; shift 2 ;;
	--samples) samples=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "unknown argument: $1" >&2; exit 2 ;;
	esac
done
node_args=("$@")
case "$chain" in dev | local) ;; *) echo "chain must be dev or local, not $chain" >&2; exit 2 ;; esac
[ -x "$node" ] || { echo "no node binary at $node (build it: cargo build --locked --profile production -p stratos-node)" >&2; exit 1; }
cargo build --locked --workspace --bin stratos-bench -q
bench="$CARGO_TARGET_DIR/debug/stratos-bench"

dir=$(mktemp -d /tmp/chain-bench.XXXXXX)
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "logs: $dir"
}
trap stop EXIT

spec=$chain
if [ -n "$runtime" ]; then
	"$node" export-chain-spec --chain "$chain" > "$dir/spec.json" 2>/dev/null
	python3 - "$dir/spec.json" "$runtime" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["genesis"]["runtimeGenesis"]["code"] = "0x" + open(sys.argv[2], "rb").read().hex()
json.dump(spec, open(sys.argv[1], "w"))
EOF
	spec="$dir/spec.json"
fi

start() { # name index flags...
	local name=$1 i=$2
	shift 2
	"$node" --chain "$spec" --validator --base-path "$dir/$name" --name "$name" \
		--node-key "$(printf '%064x' $((i + 1)))" --rpc-port $((9944 + i)) \
		--prometheus-port $((9615 + i)) --listen-addr "/ip4/127.0.0.1/tcp/$((30333 + i))" \
		--no-mdns --no-telemetry "$@" "${node_args[@]}" > "$dir/$name.log" 2>&1 &
	pids+=($!)
}
names=(alice)
if [ "$chain" = dev ]; then
	start alice 0 --alice --force-authoring
else
	names=(alice bob charlie dave)
	start alice 0 --alice
	boot=/ip4/127.0.0.1/tcp/30333/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp
	for i in 1 2 3; do start "${names[$i]}" "$i" "--${names[$i]}" --bootnodes "$boot"; done
fi

python3 - "${#names[@]}" <<'EOF'
import json, sys, time, urllib.request
n = int(sys.argv[1])
def finalized(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}", json.dumps({"id": 1, "jsonrpc": "2.0", "method": "chain_getHeader", "params": [json.loads(urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}", b'{"id":1,"jsonrpc":"2.0","method":"chain_getFinalizedHead"}', {"content-type": "application/json"}), timeout=5).read())["result"]]}).encode(), {"content-type": "application/json"})
    return int(json.loads(urllib.request.urlopen(req, timeout=5).read())["result"]["number"], 16)
deadline = time.time() + 120
while True:
    try:
        if all(finalized(9944 + i) >= 2 for i in range(n)):
            break
    except Exception:
        pass
    if time.time() > deadline:
        sys.exit("the chain did not finalize block 2 within 120 s: see the logs")
    time.sleep(1)
EOF
echo ">> $chain chain up (${#names[@]} validator process(es)), node $node${runtime:+, runtime $runtime}"
"$bench" latency --samples "$samples"
count=$(((seconds + 40) * 2000))
"$bench" transfers --seconds "$seconds" --warmup 10 --count "$count" --in-flight "$in_flight"

echo ">> block times per node (Prometheus histograms: count, mean, buckets)"
python3 - "${names[@]}" <<'EOF'
import sys, urllib.request
for i, name in enumerate(sys.argv[1:]):
    text = urllib.request.urlopen(f"http://127.0.0.1:{9615 + i}/metrics", timeout=5).read().decode()
    def hist(metric):
        s = c = None
        buckets = []
        for line in text.splitlines():
            if line.startswith(metric + "_sum"):
                s = float(line.split()[-1])
            elif line.startswith(metric + "_count"):
                c = float(line.split()[-1])
            elif line.startswith(metric + "_bucket"):
                le = line.split('le="')[1].split('"')[0]
                buckets.append((le, float(line.split()[-1])))
        return s, c, buckets
    for metric, what in [("substrate_proposer_block_constructed", "authoring (build a block)"),
                         ("substrate_block_verification_and_import_time", "import (verify + execute + commit)")]:
        s, c, b = hist(metric)
        if not c:
            continue
        cum = " ".join(f"≤{le}s:{int(n)}" for le, n in b if le != "+Inf")
        print(f"{name}: {what}: {int(c)} blocks, mean {s / c * 1000:.0f} ms; {cum}")
EOF
