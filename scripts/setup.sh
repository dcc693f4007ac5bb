#!/usr/bin/env bash
# Installs what building Stratos needs (idempotent; sourced by the other scripts):
# Debian packages for RocksDB/bindgen/protobuf, the wasm targets and rust-src for the runtime,
# Node.js for the polkadot-js test. Exports CARGO_TARGET_DIR (a persistent dir outside the repo).
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for pkg in clang libclang-dev protobuf-compiler; do
	dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${STRATOS_NEED_NODEJS:-0}" = 1 ] && ! command -v npm >/dev/null 2>&1; then
	missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo ">> apt-get install ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

installed_targets=$(rustup target list --installed)
for t in wasm32-unknown-unknown wasm32v1-none; do
	grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
done
installed_components=$(rustup component list --installed)
for c in rust-src clippy rustfmt; do
	grep -q "^$c" <<<"$installed_components" || rustup component add "$c"
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stratos/target}"
mkdir -p "$CARGO_TARGET_DIR"
