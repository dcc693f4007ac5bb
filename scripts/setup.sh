#!/usr/bin/env bash
# Installs what building Stratos needs (idempotent; sourced by the other scripts):
# Debian packages for RocksDB/bindgen/protobuf, the wasm targets and rust-src for the runtime,
# Node.js for the polkadot-js test. Exports CARGO_TARGET_DIR (a persistent dir outside the repo).
set -euo pipefail

# Debian packages. As root they are installed; otherwise through `sudo` if it works without a
# password prompt; otherwise the one apt line to run is printed and setup stops.
missing=()
for pkg in clang libclang-dev protobuf-compiler curl; do
	dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
# The polkadot-js test needs Node.js >= 18 (@polkadot/api's engines field).
NODEJS_MIN=18
if [ "${STRATOS_NEED_NODEJS:-0}" = 1 ]; then
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		missing+=(nodejs npm)
	fi
fi
if [ ${#missing[@]} -gt 0 ]; then
	apt_line="apt-get install -y ${missing[*]}"
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=""
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO="sudo"
	else
		echo "setup: missing Debian packages: ${missing[*]}" >&2
		echo "setup: run this once as root, then run this command again:" >&2
		echo "    apt-get update && $apt_line" >&2
		exit 1
	fi
	echo ">> $apt_line"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "${STRATOS_NEED_NODEJS:-0}" = 1 ]; then
	node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
	if [ "$node_major" -lt "$NODEJS_MIN" ]; then
		echo "setup: Node.js $(node --version 2>/dev/null || echo '(none)') is too old: the polkadot-js test needs >= $NODEJS_MIN." >&2
		echo "setup: Debian 12's nodejs package is 18; on older systems install Node.js $NODEJS_MIN or newer and run again." >&2
		exit 1
	fi
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
