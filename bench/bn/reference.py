#!/usr/bin/env python3
"""Reference half of the exact-inference benchmark: pyAgrum and pgmpy timings.

Why: ``causalgen bench bn`` times our Rust engine on bench/bn/queries.json;
this script times the two established Python libraries on the *same* queries
so ``bench/bn/report.py`` can put them side by side and check that every
engine returns the same posterior (to 1e-9).

Per network and engine, two measurements (loading the BIF is not timed):

* ``posterior``: P(target | evidence) from scratch.  pyAgrum: a fresh
  ``LazyPropagation(bn)``, ``setEvidence``, ``addTarget(target)``,
  ``makeInference``, ``posterior``.  pgmpy: ``VariableElimination(model)
  .query([target], evidence=...)``.
* ``all_marginals``: the posterior of every variable given the evidence.
  pyAgrum: one ``LazyPropagation`` (all targets), ``makeInference``, then
  ``posterior`` for each variable.  pgmpy: one VE query per non-evidence
  variable (pgmpy has no cheaper exact way; evidence variables are point
  masses and cost nothing).

Each measurement is repeated ``--repeats`` times, stopping early once 20 s
have been spent (at least one run).  Every (network, engine, measurement)
runs in its own worker subprocess: a runaway pgmpy query is killed after
``--pgmpy-budget-s`` (reported as ``null`` with status ``timeout``), memory is
capped with RLIMIT_AS, and the worker's peak RSS is reported.  pgmpy's
all-marginals loop also checks the budget between variables.

Both libraries get the CPTs through scripts/reference/bnload.py, i.e. with
double-precision values and rows divided by their sums, as the Rust engine
does.  pyAgrum uses its default thread count (all cores, like causalgen's
rayon kernels) unless ``--pyagrum-threads N`` is given; pgmpy is
single-threaded Python/numpy (BLAS threads are pinned to 1 in the workers).

Prints JSON to stdout:
  {"engine_versions": {...}, "results": [{"network", "engine", "nodes",
   "posterior_ms": [...] | null, "all_marginals_ms": [...] | null,
   "posterior": {"STATE": p} | null, "status": {...}, "peak_rss_mb": {...},
   "rss_after_load_mb": float}]}
The RSS figures are whole worker processes: Python plus both libraries plus
the parsed network (bnload imports pyAgrum and pgmpy), so compare the peak
with ``rss_after_load_mb`` rather than with the Rust process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "scripts/reference"
SPEND_S = 20.0  # stop repeating a measurement after this much time
LOAD_ALLOWANCE_S = 180.0  # hard-timeout slack for importing and parsing


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# worker side: one engine, one network, one measurement
# --------------------------------------------------------------------------

def _repeat(fn, repeats: int, budget_s: float | None):
    """Run fn() up to `repeats` times; stop after SPEND_S (or the budget)."""
    times, result = [], None
    start = time.perf_counter()
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1e3)
        spent = time.perf_counter() - start
        if spent > SPEND_S or (budget_s is not None and spent > budget_s):
            break
    return times, result


def _rss_mb() -> float | None:
    """Current resident set size (Linux), to separate the baseline from the peak."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return None


class Timeout(Exception):
    pass


def worker(args) -> dict:
    sys.path.insert(0, str(REFERENCE))
    import pyagrum as gum  # noqa: F401  (imported by bnload anyway)
    from bnload import find_bif, load_network

    q = json.loads(args.worker_query)
    net = load_network(find_bif(q["name"], args.data_dirs), q["name"])
    ev, target = q["evidence"], q["target"]
    out = {"nodes": len(net.names), "ms": None, "posterior": None, "status": "ok",
           "rss_after_load_mb": _rss_mb()}

    if args.worker_engine == "pyagrum":
        if args.pyagrum_threads > 0:
            gum.setNumberOfThreads(args.pyagrum_threads)
        bn, gev = net.gum, net.gum_evidence(ev)

        def posterior():
            ie = gum.LazyPropagation(bn)
            ie.setEvidence(gev)
            ie.addTarget(target)
            ie.makeInference()
            return ie.posterior(target).toarray()

        def all_marginals():
            ie = gum.LazyPropagation(bn)
            ie.setEvidence(gev)
            ie.makeInference()
            return [ie.posterior(v).toarray() for v in net.names]

        fn = posterior if args.worker_measure == "posterior" else all_marginals
        times, res = _repeat(fn, args.repeats, None)
        out["ms"] = times
        if args.worker_measure == "posterior":
            out["posterior"] = {s: float(p) for s, p in zip(net.states[target], res)}
        return out

    from pgmpy.inference import VariableElimination
    model = net.pgmpy
    budget = args.pgmpy_budget_s

    def pg_posterior():
        f = VariableElimination(model).query([target], evidence=dict(ev), show_progress=False)
        labels = [str(x) for x in f.state_names[target]]
        return [float(f.values[labels.index(s)]) for s in net.states[target]]

    free = [v for v in net.names if v not in ev]

    def pg_all_marginals():
        start = time.perf_counter()
        ve = VariableElimination(model)
        res = []
        for i, v in enumerate(free):
            if time.perf_counter() - start > budget:
                raise Timeout(f"timeout after {i}/{len(free)} variables")
            res.append(ve.query([v], evidence=dict(ev), show_progress=False))
        return res

    fn = pg_posterior if args.worker_measure == "posterior" else pg_all_marginals
    try:
        times, res = _repeat(fn, args.repeats, budget)
    except Timeout as e:
        out["status"] = str(e)
        return out
    out["ms"] = times
    if args.worker_measure == "posterior":
        out["posterior"] = dict(zip(net.states[target], res))
    return out


# --------------------------------------------------------------------------
# driver side
# --------------------------------------------------------------------------

def run_worker(args, engine: str, measure: str, query: dict) -> dict:
    cmd = [sys.executable, __file__, "--worker-engine", engine, "--worker-measure", measure,
           "--worker-query", json.dumps(query), "--repeats", str(args.repeats),
           "--pgmpy-budget-s", str(args.pgmpy_budget_s),
           "--pyagrum-threads", str(args.pyagrum_threads), "--data-dirs", *args.data_dirs]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    timeout = None
    if engine == "pgmpy":
        timeout = LOAD_ALLOWANCE_S + args.pgmpy_budget_s + SPEND_S
    mem = int(args.max_memory_gb * 2**30)

    def limit():
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = mem if hard == resource.RLIM_INFINITY else min(mem, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                           preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return {"ms": None, "posterior": None, "status": "timeout", "wall_s": timeout}
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        status = "out of memory" if "MemoryError" in p.stderr else f"error: {tail[:200]}"
        return {"ms": None, "posterior": None, "status": status, "wall_s": wall}
    res = json.loads(p.stdout)
    res["wall_s"] = wall
    return res


def engine_versions(pyagrum_threads: int) -> dict:
    code = ("import json, warnings; warnings.filterwarnings('ignore');"
            "import pyagrum, pgmpy, numpy;"
            "print(json.dumps({'pyagrum': pyagrum.__version__, 'pgmpy': pgmpy.__version__,"
            " 'numpy': numpy.__version__, 'threads': pyagrum.getNumberOfThreads()}))")
    v = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                  text=True, check=True).stdout)
    default_threads = v.pop("threads")
    v["python"] = platform.python_version()
    v["pyagrum_threads"] = pyagrum_threads if pyagrum_threads > 0 else default_threads
    return v


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=str(REPO / "bench/bn/queries.json"))
    ap.add_argument("--data-dirs", nargs="+",
                    default=[str(REPO.parent / "shared/data/bnlearn"),
                             str(REPO / "reference-data/bnlearn")])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pgmpy-budget-s", type=float, default=60.0,
                    help="per network and measurement; beyond it pgmpy reports null")
    ap.add_argument("--pyagrum-threads", type=int, default=0,
                    help="pyAgrum threads (default 0 = library default, all cores)")
    ap.add_argument("--max-memory-gb", type=float, default=16.0,
                    help="address-space cap for each worker process")
    ap.add_argument("--engines", default="pyagrum,pgmpy")
    ap.add_argument("--networks", default=None, help="comma-separated subset of the spec")
    # internal: worker mode
    ap.add_argument("--worker-engine", help=argparse.SUPPRESS)
    ap.add_argument("--worker-measure", help=argparse.SUPPRESS)
    ap.add_argument("--worker-query", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker_engine:
        import warnings
        warnings.filterwarnings("ignore")
        out = worker(args)
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return 0

    spec = json.loads(Path(args.spec).read_text())
    wanted = set(args.networks.split(",")) if args.networks else None
    results = []
    for q in spec["networks"]:
        if wanted and q["name"] not in wanted:
            continue
        for engine in args.engines.split(","):
            row = {"network": q["name"], "engine": engine, "nodes": None,
                   "posterior_ms": None, "all_marginals_ms": None, "posterior": None,
                   "status": {}, "peak_rss_mb": {}, "rss_after_load_mb": None}
            for measure in ("posterior", "all_marginals"):
                r = run_worker(args, engine, measure, q)
                row["nodes"] = r.get("nodes", row["nodes"])
                row[f"{measure}_ms"] = r["ms"]
                row["status"][measure] = r["status"]
                row["peak_rss_mb"][measure] = r.get("peak_rss_mb")
                row["rss_after_load_mb"] = r.get("rss_after_load_mb", row["rss_after_load_mb"])
                if measure == "posterior":
                    row["posterior"] = r["posterior"]
                med = f"{median(r['ms']):.3f} ms median of {len(r['ms'])}" if r["ms"] else "-"
                log(f"{q['name']:11s} {engine:8s} {measure:14s} {med:28s} "
                    f"[{r['status']}] worker wall {r.get('wall_s', 0):.1f}s")
            results.append(row)
    print(json.dumps({"engine_versions": engine_versions(args.pyagrum_threads),
                      "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
