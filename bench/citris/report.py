#!/usr/bin/env python3
"""Table of ``bench/citris/run``: our CITRIS-NF flow step (``causalgen bench citris-step
--json``) against the PyTorch reference (``bench/citris/reference.py --json``), one row
per configuration.

Usage: report.py OUT_DIR  (reads OUT_DIR/<config>.{ours,ref,reftuned}.<round>.json)

ms/step is the median over the timed steps of a run and, of the rounds (each runs
ours, then PyTorch, alternating), the best one per engine: on a shared machine other
processes only ever add time.  Every round's value is listed too.  A configuration
whose two engines report different parameter counts is an error: the models differ.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from steps import rounds  # noqa: E402  (bench/steps.py)


def order(config: str) -> list[int]:
    """l16-k5-b16-f4-t1: threads, then latents."""
    numbers = {part[0]: int(part[1:]) for part in config.split("-")}
    return [numbers["t"], numbers["l"], numbers["b"], numbers["f"]]


def main() -> int:
    out = Path(sys.argv[1])
    rows = []
    for config, runs in rounds(out, order):
        ours, ref, tuned = runs["ours"], runs["ref"], runs["reftuned"]
        o, r = ours[0], ref[0]
        if o["parameters"] != r["parameters"]:
            raise SystemExit(f"{config}: {o['parameters']} parameters in ours, "
                             f"{r['parameters']} in the reference: not the same model")
        best = {name: min(x["ms_per_step"] for x in runs)
                for name, runs in (("ours", ours), ("ref", ref), ("tuned", tuned)) if runs}
        cpu_ours = min(x["cpu_ms_per_step"] for x in ours)
        cpu_ref = min(x["cpu_ms_per_step"] for x in ref)

        def listed(runs):
            return ", ".join(f"{x['ms_per_step']:.1f}" for x in runs)

        tuned_cell = f"{best['tuned']:.1f}" if "tuned" in best else "–"
        rows.append(
            f"| {o['latents']} | {o['variables']} | {o['batch']} × {o['samples']} "
            f"| {o['blocks']} | {o['parameters']:,} | {o['threads']} "
            f"| **{best['ours']:.1f}** | **{best['ref']:.1f}** "
            f"| **{best['ours'] / best['ref']:.2f}** | {tuned_cell} "
            f"| {cpu_ours:.1f} | {cpu_ref:.1f} "
            f"| {listed(ours)} / {listed(ref)}{' / ' + listed(tuned) if tuned else ''} |"
        )
    print("| latents | variables | pairs × samples | flow blocks | parameters | threads "
          "| ours ms/step | PyTorch ms/step | ours/PyTorch "
          "| PyTorch, our malloc settings, ms/step | ours CPU ms/step | PyTorch CPU ms/step "
          "| every round's ms/step: ours / PyTorch / PyTorch, our malloc |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    try:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    steps = len(json.loads(next(out.glob("*.ours.1.json")).read_text())["ms_per_step_all"])
    print(f"Load average at the end: {load}.  ms/step: median wall time of the {steps} timed "
          "steps of a run, best of the rounds; CPU ms/step: CPU time of all the process's "
          "threads over the timed steps, per step, best round.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
