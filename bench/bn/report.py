#!/usr/bin/env python3
"""Render the exact-inference benchmark as a markdown table.

Why: bench/bn/run collects two JSON files with the same shape, one from
``causalgen bench bn --json`` (our Rust engine) and one from
bench/bn/reference.py (pyAgrum, pgmpy).  This script joins them per network,
prints median times and ratios, and checks that every engine returned the same
posterior P(target | evidence) to 1e-9.  A disagreement, or a posterior that
does not sum to 1, is printed loudly and makes the exit status 1.

Usage: bench/bn/report.py OURS.json REF.json [--spec bench/bn/queries.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

TOL = 1e-9
ENGINES = ["causalgen", "pyagrum", "pgmpy"]
LABEL = {"causalgen": "causalgen", "pyagrum": "pyAgrum", "pgmpy": "pgmpy"}


def median(xs):
    if not xs:
        return None
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def fmt_ms(x) -> str:
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def machine_info() -> list[str]:
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return [f"- CPU: {cpu or platform.processor() or 'unknown'}",
            f"- cores: {os.cpu_count()} logical"
            + (f" ({len(os.sched_getaffinity(0))} available to this process)"
               if hasattr(os, "sched_getaffinity") else ""),
            f"- memory: {mem or 'unknown'}",
            f"- OS: {platform.platform()}"]


def note(status, ms) -> str:
    """'—' for missing timings, with the reason when it is not plain absence."""
    if ms is not None:
        return fmt_ms(median(ms))
    if status and status != "ok":
        return "timeout" if status.startswith("timeout") else status.split(":")[0]
    return "—"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ours")
    ap.add_argument("ref")
    ap.add_argument("--spec", default=str(Path(__file__).resolve().parent / "queries.json"))
    args = ap.parse_args()

    ours = json.loads(Path(args.ours).read_text())
    ref = json.loads(Path(args.ref).read_text())
    spec = json.loads(Path(args.spec).read_text()) if Path(args.spec).exists() else None
    rows = {}
    for r in ours.get("results", []) + ref.get("results", []):
        rows.setdefault(r["network"], {})[r["engine"]] = r
    order = [q["name"] for q in spec["networks"]] if spec else list(rows)
    order += [n for n in rows if n not in order]

    problems = []
    table = ["| network | nodes | posterior ms: causalgen / pyAgrum / pgmpy | causalgen ÷ pyAgrum "
             "| all marginals ms: causalgen / pyAgrum / pgmpy | causalgen ÷ pyAgrum | posteriors agree |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for net in order:
        if net not in rows:
            continue
        by = rows[net]
        nodes = next((by[e].get("nodes") for e in ENGINES if e in by and by[e].get("nodes")), None)
        post = {e: median(by[e]["posterior_ms"]) if e in by and by[e].get("posterior_ms") else None
                for e in ENGINES}
        allm = {e: median(by[e]["all_marginals_ms"]) if e in by and by[e].get("all_marginals_ms")
                else None for e in ENGINES}
        cell_p = " / ".join(note(by.get(e, {}).get("status", {}).get("posterior"),
                                 by.get(e, {}).get("posterior_ms")) for e in ENGINES)
        cell_a = " / ".join(note(by.get(e, {}).get("status", {}).get("all_marginals"),
                                 by.get(e, {}).get("all_marginals_ms")) for e in ENGINES)

        # agreement of P(target | evidence) across engines
        dists = {e: by[e]["posterior"] for e in ENGINES if e in by and by[e].get("posterior")}
        check = []
        for e, d in dists.items():
            s = sum(d.values())
            if abs(s - 1.0) > TOL:
                problems.append(f"{net}: {LABEL[e]} posterior sums to {s!r}")
                check.append(f"**{LABEL[e]} sums to {s:.12g}**")
        base = "causalgen" if "causalgen" in dists else next(iter(dists), None)
        worst = 0.0
        for e, d in dists.items():
            if e == base:
                continue
            if set(d) != set(dists[base]):
                problems.append(f"{net}: {LABEL[e]} and {LABEL[base]} report different states "
                                f"{sorted(d)} vs {sorted(dists[base])}")
                check.append(f"**states differ ({LABEL[e]})**")
                continue
            diff = max(abs(d[s] - dists[base][s]) for s in d)
            worst = max(worst, diff)
            if diff > TOL:
                problems.append(f"{net}: {LABEL[e]} differs from {LABEL[base]} by {diff:.3g}: "
                                f"{d} vs {dists[base]}")
                check.append(f"**MISMATCH {LABEL[e]} {diff:.2g}**")
        if len(dists) < 2:
            check.append(f"only {', '.join(LABEL[e] for e in dists) or 'no engine'}")
        elif not check:
            check.append(f"✓ ({len(dists)} engines, max diff {worst:.1g})")
        table.append(f"| {net} | {nodes or '?'} | {cell_p} | {fmt_ratio(post['causalgen'], post['pyagrum'])} "
                     f"| {cell_a} | {fmt_ratio(allm['causalgen'], allm['pyagrum'])} | {'; '.join(check)} |")

    out = ["## Exact inference on bnlearn networks", "",
           "Median wall time per query in milliseconds (loading the BIF file not timed); "
           "ratio < 1 means causalgen is faster than pyAgrum. "
           "'timeout' = pgmpy exceeded its per-network budget.", ""]
    out += table
    out += ["", "Machine:"] + machine_info()
    versions = dict(ref.get("engine_versions", {}))
    if ours.get("engine_versions"):
        versions.update(ours["engine_versions"])
    if versions:
        out.append("- engines: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print("\n".join(out))

    if problems:
        bar = "!" * 72
        msg = "\n".join([bar, "POSTERIOR CHECK FAILED (tolerance 1e-9):"] +
                        [f"  - {p}" for p in problems] + [bar])
        print("\n" + msg)
        print(msg, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
