#!/usr/bin/env python3
"""Checks that the Grafana dashboard only queries metrics the Stratos processes export.

Every metric name in the dashboard's PromQL (`expr` of each target, and the queries of its
template variables) must be either
  * registered by `stratos-rn` (offchain/rn/src/main.rs) or `stratos-meta`
    (offchain/meta/src/node/mod.rs) -- read from the source: the names passed to
    Gauge::new / GaugeVec / Opts::new, directly, through a `defs` table or through a helper
    closure, joined to the registry's prefix (`Registry::new_custom(Some("stratos_rn"...))`);
  * or in SUBSTRATE_METRICS below: stratos-node's metrics, each seen in a scrape of a running
    node (re-check them with `--scrape http://127.0.0.1:9615/metrics`);
  * or `up`, which Prometheus writes for every target it scrapes.

Exits 1 and lists the unknown names (with the panels using them). Standard library only.

    scripts/check-dashboard.py [--dashboard FILE] [--scrape URL_OR_FILE] [--list]
"""

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "packaging" / "grafana" / "stratos-dashboard.json"
SOURCES = [
    ROOT / "offchain" / "rn" / "src" / "main.rs",
    ROOT / "offchain" / "meta" / "src" / "node" / "mod.rs",
]

# stratos-node (polkadot-sdk stable2609) metrics the dashboard may use. Each one appeared,
# under exactly this name, in `curl 127.0.0.1:19615/metrics` of
# `stratos-node --dev --tmp --prometheus-port 19615 --rpc-port 19944 --port 30999`
# (debug build, litep2p backend), 2026-12-05. Histograms are listed by the series names
# PromQL sees (`_bucket`, `_sum`, `_count`).
SUBSTRATE_METRICS = {
    "substrate_block_height",  # labels status="best"|"finalized"|"sync_target", chain
    "substrate_sub_libp2p_peers_count",
    "substrate_sync_peers",
    "substrate_sub_libp2p_is_major_syncing",
    "substrate_ready_transactions_number",
    "substrate_block_verification_and_import_time_bucket",
    "substrate_block_verification_and_import_time_sum",
    "substrate_block_verification_and_import_time_count",
    "substrate_finality_grandpa_round",
    "substrate_number_leaves",
    "substrate_build_info",  # labels name, version, chain
}

# Series Prometheus itself writes for every scrape target (not exported by any process).
PROMETHEUS_SYNTHETIC = {"up"}

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2",
}
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class SourceError(Exception):
    pass


def rust_string_literals_stripped(text):
    """The source without `//` comments (string literals kept)."""
    out = []
    for line in text.splitlines():
        # Good enough for these files: no "//" inside the string literals we care about.
        i = line.find("//")
        out.append(line if i < 0 else line[:i])
    return "\n".join(out)


def bracketed(text, start, open_ch="[", close_ch="]"):
    """The text from `start` (an opening bracket) to its matching closing bracket."""
    depth = 0
    i = start
    in_str = False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1
    raise SourceError(f"unbalanced {open_ch}{close_ch} at offset {start}")


def exported_names(path):
    """Metric names one Rust source file registers, with its registry's prefix."""
    text = rust_string_literals_stripped(path.read_text())
    prefixes = re.findall(r'Registry::new_custom\(\s*Some\(\s*"([^"]+)"', text)
    if len(prefixes) > 1:
        raise SourceError(f"{path}: {len(prefixes)} registries with prefixes; teach me which is which")
    if "Registry::new(" in text and prefixes:
        raise SourceError(f"{path}: registries with and without a prefix")
    prefix = prefixes[0] + "_" if prefixes else ""

    names = set()
    ctor = r"(?:Gauge|Counter|Histogram|IntGauge|IntCounter|GaugeVec|CounterVec|HistogramVec)"
    # 1. A literal passed straight to a constructor or to Opts::new / HistogramOpts::new.
    for m in re.finditer(ctor + r'(?:::<[^>]*>)?::new\(\s*"([^"]+)"', text):
        names.add(m.group(1))
    for m in re.finditer(r'\b(?:Histogram)?Opts::new\(\s*"([^"]+)"', text):
        names.add(m.group(1))

    # 2. A table of (name, help, f) tuples registered in a loop: `for (name, ..) in defs`
    #    with `::new(name, ..)` in the loop body.
    for m in re.finditer(r"for\s*\(\s*(\w+)\s*,[^)]*\)\s*in\s+(\w+)\s*\{", text):
        var, table = m.group(1), m.group(2)
        body = bracketed(text, m.end() - 1, "{", "}")
        if not re.search(r"::new\(\s*" + re.escape(var) + r"\s*,", body):
            continue
        decl = re.search(r"let\s+" + re.escape(table) + r"\b\s*(?::\s*\[[^=]*;\s*(\d+)\s*\])?\s*=\s*\[", text)
        if not decl:
            raise SourceError(f"{path}: cannot find the table `{table}` the metrics loop reads")
        array = bracketed(text, decl.end() - 1)
        # Each entry is a tuple whose first two fields are string literals (name, help).
        found = re.findall(r'\(\s*"([^"]+)"\s*,\s*"', array)
        if decl.group(1) and int(decl.group(1)) != len(found):
            raise SourceError(
                f"{path}: table `{table}` declares {decl.group(1)} entries, I found {len(found)} names"
            )
        names.update(found)

    # 3. A helper closure `let f = |name: &str, ..| ..Opts::new(name..` called as f("literal", ..).
    for m in re.finditer(r"let\s+(\w+)\s*=\s*\|\s*(\w+)\s*:\s*&str", text):
        helper, param = m.group(1), m.group(2)
        head = text[m.end() : m.end() + 400]
        if not re.search(r"(?:Opts|" + ctor + r")(?:::<[^>]*>)?::new\(\s*" + re.escape(param) + r"\b", head):
            continue
        for call in re.finditer(r"(?<![\w.])" + re.escape(helper) + r'\(\s*"([^"]+)"', text):
            names.add(call.group(1))

    if not names:
        raise SourceError(f"{path}: no metric registrations found; has the code changed shape?")
    full = {prefix + n for n in names}
    bad = sorted(n for n in full if not METRIC_NAME.match(n))
    if bad:
        raise SourceError(f"{path}: not valid Prometheus names: {bad}")
    return full


def promql_metric_names(expr):
    """Metric names a PromQL expression selects (Grafana variables tolerated)."""
    names = set(re.findall(r'__name__\s*=~?\s*"([^"]+)"', expr))
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"'(?:\\.|[^'\\])*'", "''", e)
    e = re.sub(r"`[^`]*`", "``", e)
    e = re.sub(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]", " ", e)  # Grafana variables
    e = re.sub(r"\{[^{}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\[\]]*\]", " ", e)  # ranges and subqueries
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", e)
    for m in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)", e):
        tok = m.group(1)
        if tok.lower() in PROMQL_KEYWORDS:
            continue
        if re.match(r"\s*\(", e[m.end() :]):  # a function call
            continue
        names.add(tok)
    return names


def variable_query_names(query):
    """Metric names a Grafana Prometheus template-variable query uses."""
    q = query.strip()
    m = re.match(r"label_values\(\s*(.*)\)\s*$", q, re.S)
    if m:
        args = m.group(1)
        # label_values(label) has no metric; label_values(<selector>, label) has one.
        if "," not in args:
            return set()
        selector = args.rsplit(",", 1)[0]
        return promql_metric_names(selector)
    m = re.match(r"query_result\(\s*(.*)\)\s*$", q, re.S)
    if m:
        return promql_metric_names(m.group(1))
    m = re.match(r"metrics\(", q)
    if m:
        return set()
    return promql_metric_names(q)


def dashboard_uses(dashboard):
    """{metric name: [where it is used]} for the dashboard's queries."""
    uses = {}

    def add(names, where):
        for n in names:
            uses.setdefault(n, []).append(where)

    def walk(node, title):
        if isinstance(node, dict):
            title = node.get("title", title)
            expr = node.get("expr")
            if isinstance(expr, str) and expr.strip():
                add(promql_metric_names(expr), f"panel {title!r}")
            for k, v in node.items():
                if k != "templating":
                    walk(v, title)
        elif isinstance(node, list):
            for v in node:
                walk(v, title)

    walk({k: v for k, v in dashboard.items() if k != "templating"}, dashboard.get("title"))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var.get("query")
        if isinstance(q, dict):
            q = q.get("query", "")
        if isinstance(q, str) and q.strip():
            add(variable_query_names(q), f"variable ${var.get('name')}")
        d = var.get("definition")
        if isinstance(d, str) and d.strip():
            add(variable_query_names(d), f"variable ${var.get('name')}")
    return uses


def scraped_names(source):
    """Series names in a Prometheus text exposition (URL or file)."""
    if re.match(r"https?://", source):
        with urllib.request.urlopen(source, timeout=10) as r:
            text = r.read().decode()
    else:
        text = Path(source).read_text()
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dashboard", type=Path, default=DASHBOARD)
    ap.add_argument("--scrape", help="also check SUBSTRATE_METRICS against a node's /metrics (URL or saved file)")
    ap.add_argument("--list", action="store_true", help="print the known metric names and exit")
    args = ap.parse_args()

    try:
        exported = {}
        for src in SOURCES:
            for n in exported_names(src):
                exported[n] = src.relative_to(ROOT)
    except (SourceError, OSError) as e:
        print(f"check-dashboard: {e}", file=sys.stderr)
        return 2
    known = set(exported) | SUBSTRATE_METRICS | PROMETHEUS_SYNTHETIC
    if args.list:
        for n in sorted(known):
            if n in PROMETHEUS_SYNTHETIC:
                print(n, "Prometheus (per target)")
            else:
                print(n, exported.get(n, "stratos-node (allow-list)"))
        return 0

    failed = False
    if args.scrape:
        seen = scraped_names(args.scrape)
        missing = sorted(SUBSTRATE_METRICS - seen)
        if missing:
            failed = True
            print(f"allow-listed stratos-node metrics absent from {args.scrape}:", file=sys.stderr)
            for n in missing:
                print(f"  {n}", file=sys.stderr)

    try:
        dashboard = json.loads(args.dashboard.read_text())
    except (OSError, json.JSONDecodeError) as e:
        print(f"check-dashboard: cannot read {args.dashboard}: {e}", file=sys.stderr)
        return 2
    uses = dashboard_uses(dashboard)
    if not uses:
        print(f"check-dashboard: no PromQL found in {args.dashboard}", file=sys.stderr)
        return 2
    unknown = sorted(n for n in uses if n not in known)
    if unknown:
        failed = True
        print(f"{args.dashboard}: metrics no Stratos process exports:", file=sys.stderr)
        for n in unknown:
            print(f"  {n}  (used in {', '.join(sorted(set(uses[n])))})", file=sys.stderr)
    if failed:
        return 1
    print(
        f"check-dashboard: ok: {len(uses)} metric names used, all exported "
        f"({len(exported)} from stratos-rn/stratos-meta sources, {len(SUBSTRATE_METRICS)} allow-listed stratos-node metrics)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
