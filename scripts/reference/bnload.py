"""Load a BIF network into pyAgrum *and* pgmpy with identical, full-precision CPTs.

Why this module exists
----------------------
The reference answers for the Rust engine come from two independent libraries,
but both have to see exactly the numbers written in the BIF file:

* pyAgrum's BIF parser (3.x) reads probabilities as 32-bit floats (``0.95`` comes
  back as ``0.949999988079071``), which would move results by ~1e-8 and make a
  1e-9 comparison meaningless.  pyAgrum's parser also rejects state labels that
  are not identifiers or integers (``Asy/Patch``, ``<5``, ``12+`` in child.bif).
* pgmpy parses the values as doubles and accepts those labels.

So we let *both* parsers read the file independently (pyAgrum from a copy in
which awkward labels are replaced by reversible ``qlab_<hex>`` tokens), check
that they agree on variables, declared state order, parents and on every CPT
entry up to float32 rounding, and then overwrite pyAgrum's CPTs with pgmpy's
double values (matched by state label, not by position).  Everything that
crosses this module's boundary uses the *original* labels.

CPT rows are divided by their sum (``normalise=True``, the default).  Several
bnlearn files have rows that sum to 1 +- 1e-7 (sachs, alarm, hepar2, pathfinder,
munin1; insurance +- 7.5e-10).  With such rows "P(evidence)" and even posteriors
depend on which barren nodes an algorithm drops, at the 1e-8..1e-7 level: raw,
pyAgrum and pgmpy disagree on sachs by 5e-9 relative.  Only a proper
distribution has one exact answer, so the references are computed for the
row-normalised network.  The raw deviation is reported by ``raw_row_stats``.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyagrum as gum

warnings.filterwarnings("ignore")  # pgmpy is chatty (FutureWarning, UserWarning)

from pgmpy.factors.discrete import TabularCPD  # noqa: E402
from pgmpy.readwrite import BIFReader  # noqa: E402

# Labels pyAgrum's BIF grammar accepts as they are.
_GUM_SAFE_LABEL = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$")
_VARIABLE_DECL = re.compile(r"type\s+discrete\s*\[\s*\d+\s*\]\s*\{([^}]*)\}")
_TOKEN = re.compile(r"[^\s,(){};|\[\]]+")

# Tolerance for "pyAgrum's float32 value == pgmpy's double value".
_FLOAT32_TOL = 2e-7


@dataclass
class Network:
    """One BIF network, loaded twice, with consistent naming."""

    name: str
    path: Path
    gum: gum.BayesNet  # CPTs hold pgmpy's double values
    pgmpy: object  # pgmpy DiscreteBayesianNetwork
    names: list[str]  # variables in BIF declaration order
    states: dict[str, list[str]]  # original labels, declared order
    parents: dict[str, list[str]]  # parents, BIF declaration order
    # per variable: CPT as ndarray with axes (parents..., variable) in
    # `parents` order; used for forward sampling and joint probabilities
    tables: dict[str, np.ndarray] = field(default_factory=dict)
    # (rows, rows with |sum-1| > 1e-12, worst |sum-1|) of the file's raw CPTs
    raw_row_stats: tuple[int, int, float] = (0, 0, 0.0)

    def children(self, var: str) -> list[str]:
        return [v for v in self.names if var in self.parents[v]]

    def leaves(self) -> list[str]:
        return [v for v in self.names if not self.children(v)]

    def topological_order(self) -> list[str]:
        order, seen = [], set()

        def visit(v):
            if v in seen:
                return
            seen.add(v)
            for p in self.parents[v]:
                visit(p)
            order.append(v)

        for v in self.names:
            visit(v)
        return order

    def descendants(self, var: str) -> set[str]:
        out, stack = set(), [var]
        while stack:
            for c in self.children(stack.pop()):
                if c not in out:
                    out.add(c)
                    stack.append(c)
        return out

    def state_index(self, var: str, label: str) -> int:
        return self.states[var].index(label)

    # ---- exact helpers -------------------------------------------------
    def joint_probability(self, assignment: dict[str, str],
                          do: dict[str, str] | None = None) -> float:
        """Product of CPT entries for a FULL assignment (mutilated if `do`)."""
        do = do or {}
        p = 1.0
        for v in self.names:
            if v in do:
                p *= 1.0 if assignment[v] == do[v] else 0.0
                continue
            idx = tuple(self.state_index(u, assignment[u]) for u in self.parents[v])
            p *= float(self.tables[v][idx + (self.state_index(v, assignment[v]),)])
        return p

    def forward_sample(self, rng: random.Random,
                       do: dict[str, str] | None = None) -> dict[str, str]:
        """Ancestral sample (of the mutilated network if `do`); P(sample) > 0."""
        do = do or {}
        sample: dict[str, str] = {}
        for v in self.topological_order():
            if v in do:
                sample[v] = do[v]
                continue
            idx = tuple(self.state_index(u, sample[u]) for u in self.parents[v])
            dist = self.tables[v][idx]
            u = rng.random() * float(dist.sum())
            acc, pick = 0.0, None
            for i, p in enumerate(dist):
                if p <= 0.0:
                    continue
                pick = i
                acc += float(p)
                if u < acc:
                    break
            sample[v] = self.states[v][pick]
        return sample

    # ---- graph surgery ---------------------------------------------------
    def gum_mutilated(self, do: dict[str, str]) -> gum.BayesNet:
        """pyAgrum copy where each do-variable lost its parents and got a point mass."""
        bn = gum.BayesNet(self.gum)
        for var, label in do.items():
            vid = bn.idFromName(var)
            for p in list(bn.parents(vid)):
                bn.eraseArc(p, vid)
            k = self.state_index(var, label)
            bn.cpt(vid).fillWith([1.0 if i == k else 0.0
                                  for i in range(len(self.states[var]))])
        return bn

    def pgmpy_mutilated(self, do: dict[str, str]):
        """pgmpy copy with the same surgery as :meth:`gum_mutilated`."""
        m = self.pgmpy.copy()
        for var, label in do.items():
            m.remove_cpds(m.get_cpds(var))
            m.remove_edges_from([(p, var) for p in list(m.get_parents(var))])
            k = self.state_index(var, label)
            m.add_cpds(TabularCPD(
                var, len(self.states[var]),
                [[1.0 if i == k else 0.0] for i in range(len(self.states[var]))],
                state_names={var: list(self.states[var])}))
        m.check_model()
        return m

    def gum_evidence(self, evidence: dict[str, str]) -> dict[str, int]:
        """Evidence for pyAgrum, as state indices (pyAgrum may hold renamed labels)."""
        return {v: self.state_index(v, s) for v, s in evidence.items()}


def _load_gum_raw(path: Path) -> tuple[gum.BayesNet, dict[str, str]]:
    """pyAgrum's own parse of `path`; returns (bn, {token_in_gum: original_label})."""
    text = path.read_text()
    labels = set()
    for body in _VARIABLE_DECL.findall(text):
        labels.update(l.strip() for l in body.split(","))
    renamed = {l: "qlab_" + l.encode().hex() for l in labels
               if not _GUM_SAFE_LABEL.match(l)}
    if renamed:
        text = _TOKEN.sub(lambda m: renamed.get(m.group(0), m.group(0)), text)
    fd, tmp = tempfile.mkstemp(suffix=".bif")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        bn = gum.loadBN(tmp)
    finally:
        os.unlink(tmp)
    return bn, {v: k for k, v in renamed.items()}


def load_network(path: str | Path, name: str | None = None,
                 normalise: bool = True) -> Network:
    """Parse `path` with pyAgrum and pgmpy, cross-validate, return a Network.

    With `normalise`, every CPT row is divided by its sum, in both libraries.
    """
    path = Path(path)
    name = name or path.stem
    bn, back = _load_gum_raw(path)
    model = BIFReader(str(path)).get_model()

    declared = re.findall(r"^\s*variable\s+([^\s{]+)", path.read_text(), re.M)
    gum_names = [bn.variable(i).name() for i in sorted(bn.nodes())]
    if gum_names != declared:
        raise AssertionError(f"{name}: pyAgrum variable names/order differ from the file")
    if set(model.nodes()) != set(declared):
        raise AssertionError(f"{name}: pgmpy variable names differ from the file")

    states, parents, tables = {}, {}, {}
    for v in declared:
        cpd = model.get_cpds(v)
        pg_states = [str(s) for s in cpd.state_names[v]]
        gum_states = [back.get(l, l) for l in bn.variable(v).labels()]
        if pg_states != gum_states:
            raise AssertionError(f"{name}.{v}: state labels differ: {gum_states} vs {pg_states}")
        states[v] = pg_states
        # pgmpy's TabularCPD keeps the parent order of the `probability (v | ...)` line
        parents[v] = [str(p) for p in cpd.variables[1:]]
        gum_par = list(bn.cpt(v).names[1:])
        if set(gum_par) != set(parents[v]):
            raise AssertionError(f"{name}.{v}: parents differ: {gum_par} vs {parents[v]}")

    rows = off = 0
    worst = 0.0
    for v in declared:
        cpd = model.get_cpds(v)
        vals = np.asarray(cpd.values, dtype=np.float64)  # axes: v, parents...
        sums = vals.sum(axis=0).ravel()
        rows += sums.size
        off += int((np.abs(sums - 1.0) > 1e-12).sum())
        worst = max(worst, float(np.abs(sums - 1.0).max()))
        # reorder each axis to the declared state order (match by label)
        for ax, var in enumerate(cpd.variables):
            order = [list(map(str, cpd.state_names[var])).index(s) for s in states[var]]
            vals = np.take(vals, order, axis=ax)
        ours = np.moveaxis(vals, 0, -1)  # axes: parents..., v
        tables[v] = np.ascontiguousarray(ours)

        # pyAgrum: names = (v, p1, .., pk) and toarray() axes are reversed
        cpt = bn.cpt(v)
        gnames = list(cpt.names)
        axes_of = {var: i for i, var in enumerate([v] + parents[v])}
        gum_axes = [axes_of[var] for var in reversed(gnames)]
        full = np.moveaxis(ours, -1, 0)  # axes: v, parents... (our order)
        as_gum = np.transpose(full, gum_axes)
        old = cpt.toarray()
        if old.shape != as_gum.shape or not np.allclose(old, as_gum, rtol=_FLOAT32_TOL,
                                                       atol=1e-12):
            raise AssertionError(f"{name}.{v}: CPT values differ between pyAgrum and pgmpy")
        if normalise:
            ours = ours / ours.sum(axis=-1, keepdims=True)
            tables[v] = np.ascontiguousarray(ours)
            as_gum = np.transpose(np.moveaxis(ours, -1, 0), gum_axes)
            cpd.normalize(inplace=True)
            check = np.moveaxis(ours, -1, 0)
            back_to_pg = np.asarray(cpd.values)
            for ax, var in enumerate(cpd.variables):
                order = [states[var].index(str(s)) for s in cpd.state_names[var]]
                check = np.take(check, order, axis=ax)
            if not np.allclose(back_to_pg, check, rtol=1e-15, atol=0):
                raise AssertionError(f"{name}.{v}: normalised CPTs differ")
            cpd.values = check.copy()  # bit-identical tables in both libraries
        cpt.fillWith(as_gum.flatten().tolist())
        if not np.array_equal(cpt.toarray(), as_gum):
            raise AssertionError(f"{name}.{v}: could not write CPT into pyAgrum")

    return Network(name=name, path=path, gum=bn, pgmpy=model, names=declared,
                   states=states, parents=parents, tables=tables,
                   raw_row_stats=(rows, off, worst))


def find_bif(name: str, dirs: list[str | Path]) -> Path:
    """First `<dir>/<name>.bif` that exists."""
    for d in dirs:
        p = Path(d) / f"{name}.bif"
        if p.is_file():
            return p
    raise FileNotFoundError(
        f"{name}.bif not found in {', '.join(map(str, dirs))} "
        "(run scripts/fetch-bnlearn for the large networks)")
