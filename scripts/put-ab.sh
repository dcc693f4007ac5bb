#!/usr/bin/env bash
# A/B of uploads between two builds of `stratos-rn`: each round puts the same 1 GiB with 3
# replicas to three fresh nodes of build A, then to three fresh nodes of build B (the client
# is B's `sds`), so the machine's drift hits both alike. Prints each round's seconds.
# Usage: scripts/put-ab.sh DIR_A DIR_B   (each holding `stratos-rn`; DIR_B also `sds`)
#        [SIZE=1GiB] [ROUNDS=6]
set -euo pipefail
[ $# -eq 2 ] || { sed -n 2,6p "$0"; exit 2; }
a=$1 b=$2 size=${SIZE:-1GiB} rounds=${ROUNDS:-6}
for f in "$a/stratos-rn" "$b/stratos-rn" "$b/sds"; do [ -x "$f" ] || { echo "no $f" >&2; exit 1; }; done
w=/var/tmp/sds-put-ab
trap 'rm -rf "$w"' EXIT
rm -rf "$w" && mkdir -p "$w"
head -c "$(numfmt --from=iec-i "${size%B}")" /dev/urandom >"$w/in.bin"
run() { # build dir -> seconds of one put
	local d=$1 pids=() nodes=() s e i
	rm -rf "$w/n" && mkdir -p "$w/n"
	for i in 0 1 2; do
		"$d/stratos-rn" --listen /ip4/127.0.0.1/tcp/0 --capacity 1TiB --log warn \
			--data-dir "$w/n/rn$i" >"$w/n/rn$i.out" 2>&1 &
		pids+=($!)
	done
	for i in 0 1 2; do
		for _ in $(seq 100); do grep -q STRATOS_RN_ADDR "$w/n/rn$i.out" && break; sleep 0.1; done
		nodes+=(--node "$(grep STRATOS_RN_ADDR "$w/n/rn$i.out" | cut -d' ' -f2)")
	done
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	s=$(date +%s%N)
	"$b/sds" --home "$w/n/client" --quiet --slice-size 16MiB --parallel 4 --replicas 3 \
		"${nodes[@]}" put "$w/in.bin" /ab.bin >/dev/null
	e=$(date +%s%N)
	kill "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null || true
	echo "scale=3; ($e - $s) / 1000000000" | bc
}
for r in $(seq "$rounds"); do
	echo "round $r: A $(run "$a") s, B $(run "$b") s"
done
