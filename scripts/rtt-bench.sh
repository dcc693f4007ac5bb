#!/usr/bin/env bash
# One download with an emulated round-trip time against the same download without it
# (issue 15: with 50 ms RTT, >= 50% of the loopback figure). Needs root.
#
# Two network namespaces joined by `tun-delay` (a TUN pair that holds every packet for
# DELAY_MS each way; this kernel has no netem). Three `stratos-rn` listen in the second
# namespace on 10.77.0.2; a client there reaches them over the local route (the loopback
# figure), a client in the first namespace through the delay (the RTT figure). Same nodes,
# same file, rounds alternating; medians reported.
# Usage: [SIZE=1GiB] [DELAY_MS=25] [ROUNDS=3] [PARALLEL=16] [CONNECTIONS=4] [TCP_BUFFERS=bytes] [TRANSPORT=tcp|quic] [PROFILE=debug|release] scripts/rtt-bench.sh
#   (after `cargo build --workspace`; with PROFILE=release after
#   `cargo build --release --bin sds --bin stratos-rn --bin sds-bench --bin tun-delay`)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stratos/target}"
bin="$CARGO_TARGET_DIR/${PROFILE:-debug}"
size=${SIZE:-1GiB}
delay=${DELAY_MS:-25}
rounds=${ROUNDS:-3}
parallel=${PARALLEL:-16}
connections=${CONNECTIONS:-4}
transport=${TRANSPORT:-tcp}
case "$transport" in
tcp) listen=/ip4/10.77.0.2/tcp/0 ;;
quic) listen=/ip4/10.77.0.2/udp/0/quic-v1 ;;
*) echo "TRANSPORT is tcp or quic" >&2; exit 2 ;;
esac
dir=/var/tmp/sds-rtt
a=sds-rtt-a
b=sds-rtt-b
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$a" 2>/dev/null || true
	ip netns del "$b" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
cleanup
mkdir -p "$dir"
ip netns add "$a"
ip netns add "$b"
if [ -n "${TCP_BUFFERS:-}" ]; then
	# Larger TCP buffer limits in both namespaces (e.g. TCP_BUFFERS=33554432): a connection
	# carries at most its send buffer per round trip.
	for ns in "$a" "$b"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_wmem="4096 16384 $TCP_BUFFERS" \
			net.ipv4.tcp_rmem="4096 131072 $TCP_BUFFERS"
	done
fi
"$bin/tun-delay" "$a" "$b" "$delay" >"$dir/delay.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q READY "$dir/delay.out" && break; sleep 0.1; done
grep -q READY "$dir/delay.out" || { cat "$dir/delay.out"; exit 1; }

nodes=()
for i in 0 1 2; do
	ip netns exec "$b" "$bin/stratos-rn" --listen "$listen" --capacity 1TiB \
		--log warn --data-dir "$dir/rn$i" >"$dir/rn$i.out" 2>&1 &
	pids+=($!)
done
for i in 0 1 2; do
	for _ in $(seq 100); do grep -q STRATOS_RN_ADDR "$dir/rn$i.out" && break; sleep 0.1; done
	nodes+=(--node "$(grep STRATOS_RN_ADDR "$dir/rn$i.out" | cut -d' ' -f2)")
done
# The round trip, measured as a TCP connect to a port nobody listens on (the refusal
# comes back after one round trip).
echo ">> one round trip through the delay:"
ip netns exec "$a" python3 -c "
import socket, time
for _ in range(3):
    t = time.time()
    try: socket.create_connection(('10.77.0.2', 9))
    except OSError: pass
    print('   %.1f ms' % (1000 * (time.time() - t)))"
head -c "$(numfmt --from=iec-i "${size%B}")" /dev/urandom >"$dir/in.bin"
sds() { ip netns exec "$1" "$bin/sds" --home "$dir/client" --quiet --parallel "$parallel" --connections "$connections" "${nodes[@]}" "${@:2}"; }
sds "$b" put "$dir/in.bin" /rtt.bin
rate() { # namespace -> MB/s of one verified download to a file
	rm -f "$dir/out.bin"
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	sds "$1" get /rtt.bin "$dir/out.bin" | sed -E 's/.* s, ([0-9.]+) MB\/s$/\1/'
	cmp -s "$dir/in.bin" "$dir/out.bin" || { echo "download differs" >&2; exit 1; }
}
local_rates=()
rtt_rates=()
for _ in $(seq "$rounds"); do
	local_rates+=("$(rate "$b")")
	rtt_rates+=("$(rate "$a")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
l=$(median "${local_rates[@]}")
r=$(median "${rtt_rates[@]}")
case "$transport" in
tcp) stack="TCP + noise + yamux" ;;
quic) stack="QUIC (TLS 1.3, its own streams)" ;;
esac
echo ">> download of $size, 3 replicas serving, 16 MiB slices, $parallel in flight, $connections connections per node, $stack"
echo "   no delay:          $l MB/s   (rounds ${local_rates[*]})"
echo "   RTT $((2 * delay)) ms:         $r MB/s   (rounds ${rtt_rates[*]})"
awk -v l="$l" -v r="$r" 'BEGIN { printf "   ratio:             %.0f%% (goal >= 50%%)\n", 100 * r / l }'
