#!/usr/bin/env python3
"""Write bench/bn/queries.json, the benchmark's query spec.

Why a generator: the benchmark must ask every engine (causalgen, pyAgrum,
pgmpy) exactly the same, reproducible question per network.  For each network
we draw an ancestral sample with ``random.Random("causalgen-bench-<net>")``,
observe 3-5 random variables at their sampled states (so P(evidence) > 0), and
pick as target the variable farthest from the evidence in the undirected
graph (ties: first in declaration order), so that answering it needs
propagation across the network rather than a local computation.

Usage: bench/bn/make_queries.py [--data-dir DIR ...] [--out bench/bn/queries.json]
Needs the reference venv (pyagrum, pgmpy; see scripts/reference/requirements.txt)
and the BIF files (scripts/fetch-bnlearn for all but alarm).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts/reference"))

import pyagrum as gum  # noqa: E402

from bnload import Network, find_bif, load_network  # noqa: E402

NETWORKS = ["alarm", "hepar2", "win95pts", "andes", "pathfinder", "munin1"]


def distances_from(net: Network, sources: list[str]) -> dict[str, int]:
    """Undirected shortest-path distance from the nearest source."""
    nbrs = {v: set(net.parents[v]) for v in net.names}
    for v in net.names:
        for p in net.parents[v]:
            nbrs[p].add(v)
    dist = {s: 0 for s in sources}
    queue = deque(sources)
    while queue:
        v = queue.popleft()
        for u in sorted(nbrs[v], key=net.names.index):
            if u not in dist:
                dist[u] = dist[v] + 1
                queue.append(u)
    return dist


def make_query(net: Network) -> dict:
    rng = random.Random(f"causalgen-bench-{net.name}")
    sample = net.forward_sample(rng)
    k = rng.randint(3, 5)
    evidence_vars = sorted(rng.sample(net.names, k), key=net.names.index)
    evidence = {v: sample[v] for v in evidence_vars}
    dist = distances_from(net, evidence_vars)
    far = max(d for v, d in dist.items() if v not in evidence)
    target = next(v for v in net.names if v not in evidence and dist.get(v) == far)
    return {"name": net.name, "evidence": evidence, "target": target}, far


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", action="append", dest="data_dirs",
                    help="folders searched for <net>.bif (default: ../shared/data/bnlearn "
                         "and reference-data/bnlearn)")
    ap.add_argument("--out", default=str(REPO / "bench/bn/queries.json"))
    args = ap.parse_args()
    dirs = args.data_dirs or [REPO.parent / "shared/data/bnlearn", REPO / "reference-data/bnlearn"]

    networks = []
    for name in NETWORKS:
        net = load_network(find_bif(name, dirs), name)
        q, far = make_query(net)
        ie = gum.LazyPropagation(net.gum)
        ie.setEvidence(net.gum_evidence(q["evidence"]))
        ie.makeInference()
        pe = ie.evidenceProbability()
        assert pe > 0, (name, q)
        print(f"{name}: {len(q['evidence'])} evidence variables, target {q['target']} "
              f"at distance {far}, P(e) = {pe:.4g}", file=sys.stderr)
        networks.append(q)

    spec = {"generator": "bench/bn/make_queries.py", "networks": networks}
    Path(args.out).write_text(json.dumps(spec, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
