#!/usr/bin/env bash
# A/B of `sds cat` (download to standard output, verified) between two builds of the `sds`
# client against the same `stratos-rn` nodes: rounds alternate A and B, so the machine's
# drift (disk, other load) hits both alike; medians reported. Run-to-run spread of whole
# `sds-bench` runs is larger than most changes to the client; this isolates them.
# Usage: scripts/cat-ab.sh DIR_A DIR_B   (each holding `sds`; the nodes are DIR_B's
#        `stratos-rn`)   [SIZE=1GiB] [ROUNDS=8]
set -euo pipefail
[ $# -eq 2 ] || { sed -n 2,7p "$0"; exit 2; }
a=$1 b=$2 size=${SIZE:-1GiB} rounds=${ROUNDS:-8}
for d in "$a" "$b"; do [ -x "$d/sds" ] || { echo "no sds in $d" >&2; exit 1; }; done
[ -x "$b/stratos-rn" ] || { echo "no stratos-rn in $b" >&2; exit 1; }
w=/var/tmp/sds-cat-ab
# `start` runs in a command substitution (a subshell): each node's pid goes to a file.
cleanup() {
	for f in "$w"/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$w"
}
trap cleanup EXIT
rm -rf "$w" && mkdir -p "$w"
start() { # name -> the node's address
	"$b/stratos-rn" --listen /ip4/127.0.0.1/tcp/0 --capacity 1TiB --log warn --data-dir "$w/$1" >"$w/$1.out" 2>&1 &
	echo $! >"$w/$1.pid"
	for _ in $(seq 100); do grep -q STRATOS_RN_ADDR "$w/$1.out" && break; sleep 0.1; done
	grep STRATOS_RN_ADDR "$w/$1.out" | cut -d' ' -f2
}
n0=$(start rn0) n1=$(start rn1) n2=$(start rn2) solo=$(start solo)
three=(--quiet --slice-size 16MiB --parallel 4 --replicas 3 --node "$n0" --node "$n1" --node "$n2")
one=(--quiet --slice-size 16MiB --parallel 4 --replicas 1 --node "$solo")
head -c "$(numfmt --from=iec-i "${size%B}")" /dev/urandom >"$w/in.bin"
"$b/sds" --home "$w/c3" "${three[@]}" put "$w/in.bin" /ab.bin >/dev/null
"$b/sds" --home "$w/c1" "${one[@]}" put "$w/in.bin" /ab.bin >/dev/null
secs() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo "scale=3; ($e - $s) / 1000000000" | bc; }
declare -A t
for r in $(seq "$rounds"); do
	for v in A B; do
		[ $v = A ] && d=$a || d=$b
		t[$v,3]+="$(secs "$d/sds" --home "$w/c3" "${three[@]}" cat /ab.bin) "
		t[$v,1]+="$(secs "$d/sds" --home "$w/c1" "${one[@]}" cat /ab.bin) "
	done
	printf 'round %d done\n' "$r" >&2
done
median() { printf '%s\n' $1 | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
bytes=$(stat -c %s "$w/in.bin")
for n in 3 1; do
	ma=$(median "${t[A,$n]}") mb=$(median "${t[B,$n]}")
	echo ">> $n node(s) serving, $size to /dev/null, $rounds rounds (seconds: A ${t[A,$n]}| B ${t[B,$n]})"
	awk -v a="$ma" -v b="$mb" -v by="$bytes" 'BEGIN { printf "   median A %.3f s (%.0f MB/s), B %.3f s (%.0f MB/s): B takes %.1f%% of A'"'"'s time\n", a, by/1e6/a, b, by/1e6/b, 100*b/a }'
done
