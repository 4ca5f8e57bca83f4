"""Wall and CPU time of a repeated call, and the processor's name, for the CPU benchmarks here.

On a shared machine the wall time grows with others' load and the CPU time much less, so
both are reported.
"""

from __future__ import annotations

import platform
import resource
import statistics
import time
from pathlib import Path

import numpy as np


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def timed(fn, repeats: int) -> dict:
    """Wall time (best and median of ``repeats``) and the CPU time of the best run."""
    runs, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), cpu_seconds()
        fn()
        runs.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
    best = int(np.argmin(runs))
    return {"best_s": round(runs[best], 3), "median_s": round(statistics.median(runs), 3),
            "cpu_s": round(cpus[best], 3), "runs": len(runs)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
