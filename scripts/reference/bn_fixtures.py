#!/usr/bin/env python3
"""Generate reference fixtures for the Rust exact-inference engine (crates/bayesnet).

Why
---
The Rust engine must reproduce exact answers on the bnlearn networks.  This
script produces those answers once, from established libraries, and stores
them as JSON under ``crates/bayesnet/tests/fixtures/bnlearn/<net>.json``:

* posterior marginals of every variable (pyAgrum ``LazyPropagation``) for a
  handful of deterministic queries: no evidence, evidence on leaves, evidence
  on random variables, evidence on a collider and one of its parents, and
  ``do``-interventions (graph surgery) with and without evidence;
* ``P(evidence)`` of each query (in the mutilated network for ``do``);
* MPE assignments and their joint probability ``P(assignment, evidence)``.

Every query is cross-checked before anything is written.  On the five small
networks pyAgrum's marginals and P(e) are compared with pgmpy's
VariableElimination (on the mutilated model for ``do``) and must agree to
1e-9; the script aborts otherwise.  pgmpy's ``CausalInference`` is compared
too and its agreement is reported.  MPEs come from ``mpe.py`` (max-product VE,
because neither library's MPE works on these networks); their probability must
equal the product of CPT entries and the max-product value computed with
pgmpy's factor algebra, and they are compared with pyAgrum's ``mpe()`` where
that does not crash and with pgmpy's ``map_query`` where the joint is small
enough.  MPE queries whose optimum is tied are replaced by other evidence so
that every stored MPE assignment is unique.

Queries are drawn from ``random.Random("causalgen-fixtures-<net>")``, so a
rerun with the pinned library versions asks exactly the same questions and
finds the same MPEs.  pyAgrum's numbers themselves are NOT bit-reproducible:
it orders tensor products by memory address, so marginals and P(e) move by
1-3 ulp (~1e-16) from run to run, even within one process and with one thread.
``--verify`` regenerates in memory and compares with the stored files (same
queries, same MPE assignments, numbers within 1e-12) instead of writing.

See scripts/reference/README.md for how to run it.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import pyagrum as gum  # noqa: E402
import pgmpy  # noqa: E402
from pgmpy.factors import factor_product  # noqa: E402
from pgmpy.inference import CausalInference, VariableElimination  # noqa: E402

from bnload import Network, find_bif, load_network  # noqa: E402
from mpe import max_product_mpe, min_fill_order  # noqa: E402

REPO = HERE.parents[1]
GENERATOR = "scripts/reference/bn_fixtures.py"
SMALL = ["asia", "sachs", "child", "insurance", "alarm"]
BIG = ["hepar2", "win95pts", "andes", "pathfinder", "munin1"]
# MPE is skipped where max-product VE needs factors beyond ~5e7 entries
NO_MPE = {"munin1"}
TOL = 1e-9
# pgmpy's map_query materialises the joint: only usable on tiny networks
PGMPY_MAP_MAX_JOINT = 2e6
# how many targets to compare with pgmpy's CausalInference per do-query
CAUSAL_INFERENCE_TARGETS = 6


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# query generation
# --------------------------------------------------------------------------

def _pick(rng: random.Random, pool: list[str], k: int) -> list[str]:
    pool = list(pool)
    k = min(k, len(pool))
    return rng.sample(pool, k)


def make_queries(net: Network, rng: random.Random) -> list[dict]:
    """Deterministic marginal queries (evidence / do as label dicts)."""
    leaves = net.leaves()
    internal = [v for v in net.names if net.parents[v] and net.children(v)]
    colliders = [v for v in net.names if len(net.parents[v]) >= 2]
    queries = [{"evidence": {}, "do": {}}]

    # evidence on leaves (pure diagnostic reasoning)
    s = net.forward_sample(rng)
    ev = _pick(rng, leaves, 3)
    queries.append({"evidence": {v: s[v] for v in ev}, "do": {}})

    # evidence on random variables
    s = net.forward_sample(rng)
    ev = _pick(rng, net.names, 4)
    queries.append({"evidence": {v: s[v] for v in ev}, "do": {}})

    # a collider and one of its parents (explaining away)
    s = net.forward_sample(rng)
    if colliders:
        c = colliders[rng.randrange(len(colliders))]
        p = net.parents[c][rng.randrange(len(net.parents[c]))]
        ev = [c, p]
    else:
        ev = _pick(rng, net.names, 2)
    queries.append({"evidence": {v: s[v] for v in ev}, "do": {}})

    # do on one internal variable, no evidence
    x = internal[rng.randrange(len(internal))]
    queries.append({"evidence": {},
                    "do": {x: net.states[x][rng.randrange(len(net.states[x]))]}})

    # do on two variables + evidence on two of their descendants (or others)
    xs = _pick(rng, internal, 2)
    do = {x: net.states[x][rng.randrange(len(net.states[x]))] for x in xs}
    s = net.forward_sample(rng, do=do)
    desc = sorted(set().union(*(net.descendants(x) for x in xs)) - set(xs),
                  key=net.names.index)
    pool = desc if len(desc) >= 2 else [v for v in net.names if v not in do]
    ev = _pick(rng, pool, 2)
    queries.append({"evidence": {v: s[v] for v in ev}, "do": do})
    return queries


# --------------------------------------------------------------------------
# pyAgrum (values that get written)
# --------------------------------------------------------------------------

def gum_marginals(net: Network, evidence: dict, do: dict, targets: list[str]):
    bn = net.gum_mutilated(do) if do else net.gum
    ie = gum.LazyPropagation(bn)
    ie.setEvidence(net.gum_evidence(evidence))
    for v in targets:  # in declaration order: a set would make the order (and the
        ie.addTarget(v)  # last bits of the results) depend on PYTHONHASHSEED
    ie.makeInference()
    pe = float(ie.evidenceProbability()) if evidence else 1.0
    marg = {}
    for v in targets:
        arr = ie.posterior(v).toarray()
        marg[v] = {s: float(p) for s, p in zip(net.states[v], arr)}
    return pe, marg


# --------------------------------------------------------------------------
# pgmpy cross-checks
# --------------------------------------------------------------------------

def pgmpy_marginals(model, net: Network, evidence: dict, targets: list[str]):
    ve = VariableElimination(model)
    marg = {}
    for v in targets:
        if v in evidence:
            marg[v] = {s: (1.0 if s == evidence[v] else 0.0) for s in net.states[v]}
            continue
        # one query per variable: pgmpy 1.1.2 builds the joint of all query
        # variables even with joint=False (7.5 GiB on child)
        f = ve.query([v], evidence=dict(evidence) or None, show_progress=False)
        labels = [str(x) for x in f.state_names[v]]
        marg[v] = {s: float(f.values[labels.index(s)]) for s in net.states[v]}
    if evidence:
        joint = ve.query(list(evidence), joint=True, show_progress=False)
        pe = float(joint.get_value(**evidence))
    else:
        pe = 1.0
    return pe, marg


def max_abs_diff(a: dict, b: dict) -> float:
    return max(abs(a[v][s] - b[v][s]) for v in a for s in a[v])


def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def check(cond: bool, msg: str) -> None:
    if not cond:
        log("!" * 72)
        log("CROSS-CHECK FAILED: " + msg)
        log("!" * 72)
        raise SystemExit(1)


# --------------------------------------------------------------------------
# MPE
# --------------------------------------------------------------------------

def pgmpy_max_value(net: Network, evidence: dict) -> float:
    """max_x P(x, e) by max-product elimination with pgmpy's own factor algebra.

    pgmpy's public MPE entry points cannot be used (see mpe.py); this runs the
    same algorithm on pgmpy DiscreteFactors (pgmpy's product / maximize), which
    independently checks the value our numpy implementation reports.  The
    order is ours: pgmpy's MinFill heuristic builds a 2^36 factor on andes.
    """
    factors = []
    for cpd in net.pgmpy.get_cpds():
        f = cpd.to_factor()
        red = [(v, evidence[v]) for v in f.variables if v in evidence]
        if red:
            if len(red) == len(f.variables):
                factors.append(float(f.get_value(**dict(red))))
                continue
            f = f.reduce(red, inplace=False)
        factors.append(f)
    free = [v for v in net.names if v not in evidence]
    card = {v: len(net.states[v]) for v in net.names}
    scopes = [tuple(f.variables) for f in factors if not isinstance(f, float)]
    order = min_fill_order(free, scopes, card)
    constant = 1.0
    for var in order:
        involved = [f for f in factors if not isinstance(f, float) and var in f.variables]
        factors = [f for f in factors if isinstance(f, float) or var not in f.variables]
        phi = factor_product(*involved) if len(involved) > 1 else involved[0]
        if len(phi.variables) == 1:
            factors.append(float(np.max(phi.values)))
        else:
            factors.append(phi.maximize([var], inplace=False))
    for f in factors:
        assert isinstance(f, float), f
        constant *= f
    return constant


def mpe_query(net: Network, evidence: dict, crosscheck: bool, stats: dict):
    card = {v: len(net.states[v]) for v in net.names}
    ev_idx = net.gum_evidence(evidence)
    res = max_product_mpe(net.names, net.parents, net.tables, card, ev_idx)
    assignment = {v: net.states[v][i] for v, i in res.assignment.items()}
    prob = net.joint_probability(assignment)
    check(rel_diff(prob, res.value) < TOL,
          f"{net.name}: MPE product of CPT entries {prob!r} != max-product value {res.value!r}")
    check(prob > 0, f"{net.name}: MPE probability is zero")

    # pyAgrum's mpe(), where it does not crash
    try:
        ie = gum.LazyPropagation(net.gum)
        ie.setEvidence(ev_idx)
        inst = ie.mpe()
        g = {v: net.states[v][inst[v]] for v in net.names}
        gp = net.joint_probability(g)
        check(rel_diff(gp, prob) < TOL,
              f"{net.name}: pyAgrum mpe probability {gp!r} != ours {prob!r} (evidence {evidence})")
        if res.margin < 1 - 1e-9:
            check(g == assignment, f"{net.name}: pyAgrum mpe assignment differs from ours")
        stats["mpe_pyagrum_checked"] += 1
    except gum.GumException:  # "Empty tensor" bug, see mpe.py
        stats["mpe_pyagrum_crashed"] += 1

    pv = pgmpy_max_value(net, evidence)
    check(rel_diff(pv, prob) < TOL,
          f"{net.name}: pgmpy max-product value {pv!r} != our MPE probability {prob!r}")
    stats["mpe_pgmpy_maxproduct_checked"] += 1

    if crosscheck and math.prod(card.values()) <= PGMPY_MAP_MAX_JOINT:
        ve = VariableElimination(net.pgmpy)
        free = [v for v in net.names if v not in evidence]
        # variables must be explicit: with variables=None pgmpy ignores evidence
        a = ve.map_query(variables=free, evidence=dict(evidence) or None,
                         show_progress=False)
        a = {v: str(s) for v, s in a.items()}
        a.update(evidence)
        pp = net.joint_probability(a)
        check(rel_diff(pp, prob) < TOL,
              f"{net.name}: pgmpy map_query probability {pp!r} != ours {prob!r}")
        stats["mpe_pgmpy_checked"] += 1
    return assignment, prob, res.margin


# --------------------------------------------------------------------------
# one network
# --------------------------------------------------------------------------

def fixture_for(net: Network, crosscheck: bool, do_mpe: bool) -> tuple[dict, dict]:
    rng = random.Random(f"causalgen-fixtures-{net.name}")
    stats = {"max_marginal_diff": 0.0, "max_pe_rel_diff": 0.0,
             "ci_checked": 0, "ci_agree": 0, "ci_errors": 0, "ci_max_diff": 0.0,
             "ci_ev_checked": 0, "ci_ev_agree": 0, "ci_ev_max_diff": 0.0,
             "mpe_pyagrum_checked": 0, "mpe_pyagrum_crashed": 0,
             "mpe_pgmpy_checked": 0, "mpe_pgmpy_maxproduct_checked": 0, "mpe_replaced_ties": 0,
             "max_row_sum_err": 0.0}
    out_queries = []
    targets = list(net.names)
    for q in make_queries(net, rng):
        ev, do = q["evidence"], q["do"]
        t0 = time.perf_counter()
        pe, marg = gum_marginals(net, ev, do, targets)
        dt = time.perf_counter() - t0
        check(pe > 0, f"{net.name}: P(e)=0 for {q}")
        for v, row in marg.items():
            err = abs(sum(row.values()) - 1.0)
            stats["max_row_sum_err"] = max(stats["max_row_sum_err"], err)
            check(err < 1e-9, f"{net.name}.{v}: posterior sums to {sum(row.values())!r}")
        for v, s in list(ev.items()) + list(do.items()):
            check(marg[v][s] == 1.0, f"{net.name}.{v}: observed/intervened state not a point mass")
        log(f"  marginals ev={len(ev)} do={len(do)}: P(e)={pe:.6g}  pyAgrum {dt:.2f}s")

        if crosscheck:
            model = net.pgmpy_mutilated(do) if do else net.pgmpy
            ppe, pmarg = pgmpy_marginals(model, net, ev, targets)
            d = max_abs_diff(marg, pmarg)
            r = rel_diff(pe, ppe)
            stats["max_marginal_diff"] = max(stats["max_marginal_diff"], d)
            stats["max_pe_rel_diff"] = max(stats["max_pe_rel_diff"], r)
            check(d <= TOL, f"{net.name}: pyAgrum vs pgmpy marginals differ by {d:g} for {q}")
            check(r <= TOL, f"{net.name}: pyAgrum vs pgmpy P(e) {pe!r} vs {ppe!r} for {q}")
            if do:
                ci = CausalInference(net.pgmpy)
                cand = [v for v in net.names if v not in do and v not in ev]
                desc = [v for v in cand if any(v in net.descendants(x) for x in do)]
                for v in (desc + [v for v in cand if v not in desc])[:CAUSAL_INFERENCE_TARGETS]:
                    key = "ci_ev_" if ev else "ci_"
                    stats[key + "checked"] += 1
                    try:
                        f = ci.query([v], do=dict(do), evidence=dict(ev) or None,
                                     show_progress=False)
                        labels = [str(x) for x in f.state_names[v]]
                        dd = max(abs(float(f.values[labels.index(s)]) - marg[v][s])
                                 for s in net.states[v])
                        stats[key + "max_diff"] = max(stats[key + "max_diff"], dd)
                        if dd <= TOL:
                            stats[key + "agree"] += 1
                        else:
                            log(f"    note: pgmpy CausalInference differs on {v} by {dd:.3g}")
                    except Exception as e:  # noqa: BLE001 - report, do not fail
                        stats["ci_errors"] += 1
                        stats[key + "checked"] -= 1
                        log(f"    note: pgmpy CausalInference failed on {v}: "
                            f"{type(e).__name__}: {e}")
        out_queries.append({"kind": "marginals", "evidence": ev, "do": do,
                            "evidence_probability": pe, "marginals": marg})

    if do_mpe:
        # 1) no evidence (dropped if tied); 2) the first candidate evidence that
        # is not already satisfied by the unconditional MPE (otherwise the
        # answer would just repeat query 1) and whose MPE is unique.
        candidates = [q["evidence"] for q in out_queries[1:4]]
        for _ in range(8):
            s = net.forward_sample(rng)
            candidates.append({v: s[v] for v in _pick(rng, net.leaves(), 3)})
        t0 = time.perf_counter()
        base, prob, margin = mpe_query(net, {}, crosscheck, stats)
        log(f"  mpe ev=0: P(x)={prob:.6g} margin={margin:.6g} "
            f"({time.perf_counter() - t0:.2f}s)")
        if margin < 1 - 1e-9:
            out_queries.append({"kind": "mpe", "evidence": {}, "assignment": base,
                                "probability": prob})
        else:
            stats["mpe_replaced_ties"] += 1
            log("    MPE without evidence is tied: not stored")
        fallback = None
        for ev in candidates:
            if all(base[v] == st for v, st in ev.items()):
                continue
            t0 = time.perf_counter()
            assignment, prob, margin = mpe_query(net, ev, crosscheck, stats)
            log(f"  mpe ev={len(ev)}: P(x,e)={prob:.6g} margin={margin:.6g} "
                f"({time.perf_counter() - t0:.2f}s)")
            if margin >= 1 - 1e-9:
                stats["mpe_replaced_ties"] += 1
                log("    MPE is tied; trying other evidence")
                continue
            fallback = (ev, assignment, prob)
            break
        if fallback is None:
            log("    WARNING: no untied MPE query with informative evidence found")
        else:
            ev, assignment, prob = fallback
            free = {v: s for v, s in assignment.items() if v not in ev}
            out_queries.append({"kind": "mpe", "evidence": ev, "assignment": free,
                                "probability": prob})
    return {"network": net.name, "generator": GENERATOR,
            "libraries": {"pyagrum": gum.__version__, "pgmpy": pgmpy.__version__},
            "queries": out_queries}, stats


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------

def _j(x) -> str:
    return json.dumps(x, ensure_ascii=False, allow_nan=False)


def render(fx: dict) -> str:
    """JSON with one line per query header and one line per marginal."""
    lines = ["{",
             f' "network": {_j(fx["network"])},',
             f' "generator": {_j(fx["generator"])},',
             f' "libraries": {_j(fx["libraries"])},',
             ' "queries": [']
    qs = []
    for q in fx["queries"]:
        if q["kind"] == "marginals":
            body = ",\n".join(f"    {_j(v)}: {_j(row)}" for v, row in q["marginals"].items())
            qs.append(f'  {{"kind": "marginals", "evidence": {_j(q["evidence"])}, '
                      f'"do": {_j(q["do"])}, '
                      f'"evidence_probability": {_j(q["evidence_probability"])},\n'
                      f'   "marginals": {{\n{body}\n   }}}}')
        else:
            qs.append(f'  {{"kind": "mpe", "evidence": {_j(q["evidence"])},\n'
                      f'   "assignment": {_j(q["assignment"])},\n'
                      f'   "probability": {_j(q["probability"])}}}')
    lines.append(",\n".join(qs))
    lines += [" ]", "}"]
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == fx  # the renderer must not change anything
    return text


def compare_fixtures(old: dict, new: dict, tol: float = 1e-12) -> list[str]:
    """Differences that matter between two fixtures (numbers compared to `tol`)."""
    probs = []

    def num(path, a, b):
        if abs(a - b) > tol * max(1.0, abs(a), abs(b)) and rel_diff(a, b) > tol:
            probs.append(f"{path}: {a!r} vs {b!r}")

    if old.get("libraries") != new["libraries"]:
        probs.append(f"libraries {old.get('libraries')} vs {new['libraries']}")
    if len(old["queries"]) != len(new["queries"]):
        return probs + ["different number of queries"]
    for i, (a, b) in enumerate(zip(old["queries"], new["queries"])):
        keys = [k for k in b if not isinstance(b[k], (float, dict)) or k in ("evidence", "do", "assignment")]
        for k in keys:
            if a.get(k) != b[k]:
                probs.append(f"query {i} {k}: {a.get(k)} vs {b[k]}")
        if b["kind"] == "marginals":
            num(f"query {i} evidence_probability", a["evidence_probability"], b["evidence_probability"])
            if list(a["marginals"]) != list(b["marginals"]):
                probs.append(f"query {i}: different variables")
                continue
            for v, row in b["marginals"].items():
                if list(a["marginals"][v]) != list(row):
                    probs.append(f"query {i} {v}: different states")
                    continue
                for st, p in row.items():
                    num(f"query {i} {v}={st}", a["marginals"][v][st], p)
        else:
            num(f"query {i} probability", a["probability"], b["probability"])
    return probs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("networks", nargs="*", default=SMALL + BIG,
                    help="networks to generate (default: all ten)")
    ap.add_argument("--small-dir", default=str(REPO.parent / "shared/data/bnlearn"),
                    help="directory with the five small BIF files")
    ap.add_argument("--big-dir", default=str(REPO / "reference-data/bnlearn"),
                    help="directory with the large BIF files (scripts/fetch-bnlearn)")
    ap.add_argument("--out-dir", default=str(REPO / "crates/bayesnet/tests/fixtures/bnlearn"))
    ap.add_argument("--verify", action="store_true",
                    help="do not write; check the stored fixtures reproduce (numbers to 1e-12)")
    ap.add_argument("--crosscheck", choices=["small", "all", "none"], default="small",
                    help="which networks to cross-check against pgmpy (default: small)")
    args = ap.parse_args()

    gum.setNumberOfThreads(1)  # deterministic summation order => identical reruns
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    failed = False
    for name in args.networks:
        t0 = time.perf_counter()
        net = load_network(find_bif(name, [args.small_dir, args.big_dir]), name)
        rows, off, worst = net.raw_row_stats
        log(f"{name}: {len(net.names)} variables; raw CPT rows off 1 by >1e-12 (normalised): "
            f"{off}/{rows} (worst {worst:.3g})")
        cc = args.crosscheck == "all" or (args.crosscheck == "small" and name in SMALL)
        fx, stats = fixture_for(net, cc, name not in NO_MPE)
        text = render(fx)
        path = out / f"{name}.json"
        dt = time.perf_counter() - t0
        if args.verify:
            problems = compare_fixtures(json.loads(path.read_text()), fx)
            for p in problems[:20]:
                log("  MISMATCH " + p)
            failed = failed or bool(problems)
            log(f"{name}: {'differs from' if problems else 'reproduces'} {path} ({dt:.1f}s)")
        else:
            path.write_text(text)
            log(f"{name}: wrote {path} ({len(text) / 1024:.0f} KiB) in {dt:.1f}s; {stats}")
        summary.append((name, dt, len(text), cc, stats))

    log("\nsummary")
    for name, dt, size, cc, st in summary:
        log(f"  {name:11s} {dt:7.1f}s {size / 1024:6.0f} KiB  crosscheck={cc}  "
            f"marg.diff={st['max_marginal_diff']:.2g} P(e).rel={st['max_pe_rel_diff']:.2g} "
            f"CausalInference agrees: do only {st['ci_agree']}/{st['ci_checked']}, "
            f"do+evidence {st['ci_ev_agree']}/{st['ci_ev_checked']} "
            f"(max diff {st['ci_ev_max_diff']:.2g}), {st['ci_errors']} refused; "
            f"mpe pyAgrum ok/crash {st['mpe_pyagrum_checked']}/{st['mpe_pyagrum_crashed']}, "
            f"pgmpy map_query {st['mpe_pgmpy_checked']}, "
            f"pgmpy max-product {st['mpe_pgmpy_maxproduct_checked']}, ties replaced {st['mpe_replaced_ties']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
