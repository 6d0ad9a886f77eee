"""Shared by the PyTorch references and reports of the step benchmarks (bench/train,
bench/citris): the timing loop, measured as ``causalgen bench train|citris-step`` do
(``crates/cli/src/bench/timing.rs``), and reading the rounds ``bench/common.sh`` wrote.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable


def time_steps(step: Callable[[int], None], warmup: int, steps: int,
               sync: Callable[[], None]) -> dict:
    """Runs ``step(i)`` for ``warmup + steps`` steps and times the last ``steps``
    (``sync`` waits for the device): median wall ms, every step's ms, and CPU ms of all
    the process's threads per timed step."""
    times = []
    cpu_start = None
    for i in range(warmup + steps):
        if i == warmup:
            cpu_start = time.process_time()  # all threads of the process
        start = time.perf_counter()
        step(i)
        sync()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return {
        "ms_per_step": statistics.median(times),
        "ms_per_step_all": times,
        "cpu_ms_per_step": (time.process_time() - cpu_start) * 1e3 / steps,
    }


def rounds(out: Path, order: Callable[[str], list[int]]) -> list[tuple[str, dict[str, list]]]:
    """Per configuration (sorted by ``order``), the JSON results of every round per engine:
    ``ours``, ``ref`` (PyTorch) and ``reftuned`` (PyTorch with our malloc settings; may
    be empty)."""
    configs = sorted({p.name.split(".ours.")[0] for p in out.glob("*.ours.*.json")}, key=order)
    return [(config, {engine: [json.loads(p.read_text())
                               for p in sorted(out.glob(f"{config}.{engine}.*.json"))]
                      for engine in ("ours", "ref", "reftuned")})
            for config in configs]
