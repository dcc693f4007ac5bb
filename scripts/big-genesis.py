#!/usr/bin/env python3
"""Adds N endowed accounts to a plain chain spec, so that `benchmark storage` measures reads
and writes in a state of realistic size instead of a fresh chain's few hundred keys.

Usage: big-genesis.py <plain spec in> <spec out> <accounts>
"""
import hashlib
import json
import os
import sys

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
PREFIX = 42  # SS58_PREFIX of the runtime


def b58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = ALPHABET[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def ss58(pubkey: bytes) -> str:
    body = bytes([PREFIX]) + pubkey
    checksum = hashlib.blake2b(b"SS58PRE" + body, digest_size=64).digest()[:2]
    return b58(body + checksum)


def main() -> None:
    src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    spec = json.load(open(src))
    genesis = spec["genesis"]["runtimeGenesis"]
    config = genesis.get("patch") or genesis.get("config")
    if config is None:
        sys.exit("the spec has neither a genesis patch nor a full config: pass a plain spec")
    balances = config.setdefault("balances", {}).setdefault("balances", [])
    # 1 STOS each (12 decimals): far above the existential deposit.
    balances.extend([ss58(os.urandom(32)), 10**12] for _ in range(count))
    spec["name"] += f" (+{count} accounts)"
    json.dump(spec, open(dst, "w"))


if __name__ == "__main__":
    main()
