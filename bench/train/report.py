#!/usr/bin/env python3
"""Table of ``bench/train/run``: ours (``causalgen bench train --json``) against the
PyTorch reference (``bench/train/reference.py --json``), one row per configuration.

Usage: report.py OUT_DIR  (reads OUT_DIR/<config>.ours.<round>.json and
.ref.<round>.json, plus OUT_DIR/machine.json written by ``--machine``)
       report.py --machine THREADS  (prints machine.json: peak estimate, sgemm)

ms/step is the median over the timed steps of a run, and of the rounds (each runs
ours, then PyTorch, alternating) the best one per engine: on a shared machine other
processes only ever add time.  Every round's value is listed too.
GFLOP/s uses the analytic FLOP count of ours for both (same architecture).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from steps import rounds  # noqa: E402  (bench/steps.py)


def lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def peak(threads: int) -> dict:
    """cores × GHz × FP32 FLOPs/cycle, with the assumptions spelled out."""
    info = lscpu()
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = set()
    mhz = None
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
        if line.startswith("cpu MHz") and mhz is None:
            mhz = float(line.split(":", 1)[1])
    clock_note = "current clock from /proc/cpuinfo"
    if info.get("CPU max MHz"):
        mhz, clock_note = float(info["CPU max MHz"]), "lscpu max (boost) clock"
    vendor = info.get("Vendor ID", "")
    family = int(info.get("CPU family", "0") or 0)
    if "avx512f" in flags and vendor == "GenuineIntel":
        per_cycle, isa = 64, "AVX-512: 2 FMA units × 16 lanes × 2 (assumes 2 FMA units)"
    elif "avx512f" in flags and vendor == "AuthenticAMD" and family >= 26:
        per_cycle, isa = 64, "AVX-512 (Zen 5): 2 × 512-bit FMA × 2"
    elif "fma" in flags and "avx2" in flags:
        per_cycle, isa = 32, "2 × 256-bit FMA × 8 lanes × 2" + (
            " (Zen 4 runs AVX-512 as 2 × 256-bit)" if "avx512f" in flags else "")
    elif "avx" in flags:
        per_cycle, isa = 16, "AVX without FMA"
    else:
        per_cycle, isa = 8, "SSE"
    cores = threads
    ghz = (mhz or 0.0) / 1e3
    return {
        "model": info.get("Model name", "?"),
        "cores_used": cores,
        "ghz": ghz,
        "clock_note": clock_note,
        "flops_per_cycle": per_cycle,
        "isa_note": isa,
        "peak_gflops": cores * ghz * per_cycle,
    }


def sgemm(threads: int) -> float:
    """Best-of-5 GFLOP/s of a 2048² float32 matrix product in libtorch (MKL)."""
    import torch

    torch.set_num_threads(threads)
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(6):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    if sys.argv[1] == "--machine":
        threads = int(sys.argv[2])
        machine = peak(threads)
        machine["sgemm_gflops"] = sgemm(threads)
        print(json.dumps(machine))
        return 0
    out = Path(sys.argv[1])
    machine = json.loads((out / "machine.json").read_text())
    def order(config: str) -> list[int]:  # b64-s64-w32-t2: threads, then width, descending
        numbers = {part[0]: int(part[1:]) for part in config.split("-")}
        return [-numbers["t"], -numbers["w"], numbers["s"], numbers["b"]]

    rows = []
    for config, runs in rounds(out, order):
        ours, ref, tuned = runs["ours"], runs["ref"], runs["reftuned"]
        # Per engine, the best round: load from other processes only ever adds time.
        ms_ours, ms_ref = min(r["ms_per_step"] for r in ours), min(r["ms_per_step"] for r in ref)
        ms_tuned = min(r["ms_per_step"] for r in tuned) if tuned else None
        cpu_ours = min(r["cpu_ms_per_step"] for r in ours)
        cpu_ref = min(r["cpu_ms_per_step"] for r in ref)
        gflop = ours[0]["gflop_per_step"]
        o = ours[0]

        def listed(runs):
            return ", ".join(f"{r['ms_per_step']:.0f}" for r in runs)

        rows.append(
            f"| {o['batch']} | {o['size']}×{o['size']} | {o['width']} | {o['parameters']:,} "
            f"| {o['threads']} | {gflop:.1f} | **{ms_ours:.0f}** | **{ms_ref:.0f}** "
            f"| **{ms_ours / ms_ref:.2f}** | {gflop / ms_ours * 1e3:.1f} "
            f"| {gflop / ms_ref * 1e3:.1f} | {f'{ms_tuned:.0f}' if ms_tuned else '–'} "
            f"| {cpu_ours:.0f} | {cpu_ref:.0f} "
            f"| {listed(ours)} / {listed(ref)}{' / ' + listed(tuned) if tuned else ''} |"
        )
    print("| batch | image | width | parameters | threads | GFLOP/step | ours ms/step "
          "| PyTorch ms/step | ours/PyTorch | ours GFLOP/s | PyTorch GFLOP/s "
          "| PyTorch, our malloc settings, ms/step "
          "| ours CPU ms/step | PyTorch CPU ms/step | every round's ms/step: ours / PyTorch "
          "/ PyTorch, our malloc |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print(f"Machine: {machine['model']}, {machine['cores_used']} cores.  Peak estimate: "
          f"{machine['cores_used']} cores × {machine['ghz']:.2f} GHz ({machine['clock_note']}) × "
          f"{machine['flops_per_cycle']} FP32 FLOP/cycle ({machine['isa_note']}) = "
          f"**{machine['peak_gflops']:.0f} GFLOP/s**; a 2048² float32 matrix product in "
          f"libtorch (MKL) on all cores reaches **{machine['sgemm_gflops']:.0f} GFLOP/s** here.  "
          f"(The ~290 GFLOP/s quoted for this machine would need "
          f"{290 / machine['cores_used'] / machine['flops_per_cycle']:.1f} GHz at "
          f"{machine['flops_per_cycle']} FLOP/cycle.)")
    print(f"Load average at the end: {load_average()} (other processes share the cores; "
          "the rounds alternate ours and PyTorch).")
    steps = len(json.loads(next(out.glob("*.ours.1.json")).read_text())["ms_per_step_all"])
    print(f"ms/step: median wall time of the {steps} timed steps of a run, best of the rounds "
          "(each round runs every engine once, alternating); CPU ms/step: CPU time of all "
          "the process's threads over the timed steps, per step, best round.")
    print("Our process tunes glibc malloc for training (nn::device::tune_allocator: large "
          "blocks from the heap, freed memory kept); 'PyTorch, our malloc settings' runs the "
          "reference with the same settings through MALLOC_* environment variables.")
    print("GFLOP/step: analytic, 3 × 2 × multiply-adds of every convolution, transposed "
          "convolution and linear layer of the forward pass (nn::layers::macs).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
