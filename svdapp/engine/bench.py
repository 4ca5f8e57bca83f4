"""Time each speed mode on this machine's GPU and model (``svdapp bench``).

Each mode makes the same short video (a few steps, same seed, the chosen size and memory
plan). The time of one step is measured per kind of step: a full guided step (exact and
compiled), and for turbo the steps that reuse kept features or drop the unconditional half.
The time of a whole video is predicted from the real schedule of the requested step count,
plus the measured encoders and decode. Compiled modes run twice when their first run had to
compile: the compile time is reported apart from the speed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ..errors import Cancelled
from ..presets import GenerationParams
from ..vocab import Stage
from . import accel
from .cache import PipelineCache
from .memory import MemoryPlan, free_memory
from .runner import run
from .turbo import Step, TurboConfig

Progress = Callable[[str, int, int], None]
MIN_STEPS = 6  # the fewest steps whose turbo schedule holds every kind of step after the first
FULL_GUIDED = Step(full=True, guided=True)


@dataclass(frozen=True)
class ModeTiming:
    mode: str
    s_per_step: float  # the mean step of the requested video's schedule (after the first)
    predicted_video_s: float  # encoders + every step of the requested video + decode
    first_step_s: float  # encoders and the first step (after any compiling)
    decode_s: float
    peak_gib: float | None  # peak reserved GPU memory (None on the processor)
    compile_s: float | None  # the first run's extra time when it had to compile
    mean_abs_vs_exact: float | None  # frames against exact mode's, 0-255 (same seed and steps)
    max_abs_vs_exact: int | None
    compiled: bool  # whether the blocks really ran compiled (not on every card and plan)


@dataclass(frozen=True)
class BenchReport:
    device: str
    plan: str
    frames: int
    width: int
    height: int
    steps_measured: int
    steps_video: int
    timings: tuple[ModeTiming, ...]
    failed: dict[str, str]  # mode → what went wrong

    def to_dict(self) -> dict:
        return asdict(self)


def run_bench(cache: PipelineCache, folder: str, image: Image.Image, params: GenerationParams, plan: MemoryPlan,
              modes: tuple[str, ...], steps: int = MIN_STEPS, progress: Progress | None = None,
              cancel: threading.Event | None = None) -> BenchReport:
    """Time ``modes`` (exact always first: the others are compared with it) making the
    ``params`` video shortened to ``steps`` steps; predict a whole ``params.steps`` video."""
    steps = max(MIN_STEPS, steps)
    short = replace(params, steps=steps, seed=params.seed if params.seed is not None else 0)
    order = ["exact", *(m for m in accel.ORDER if m in modes and m != "exact")]
    measured: dict[str, dict] = {}
    failed: dict[str, str] = {}
    for i, mode in enumerate(order):
        report = _stage(progress, i, len(order))
        try:
            first = _timed_run(cache, folder, image, short, plan, accel.Speed(mode), report, cancel)
            compile_s = None
            if first["compiled"]:
                second = _timed_run(cache, folder, image, short, plan, accel.Speed(mode), report, cancel)
                compile_s = round(max(0.0, first["total_s"] - second["total_s"]), 1)
                first = second
            measured[mode] = {**first, "compile_s": compile_s}
        except Cancelled:
            raise
        except Exception as exc:  # one mode failing (OOM, no compiler) must not hide the others
            failed[mode] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            free_memory()
    timings = tuple(_timing(mode, measured, params.steps) for mode in order if mode in measured)
    device = torch.cuda.get_device_name(0) if plan.device == "cuda" else "processor"
    return BenchReport(device, plan.name, params.frames, params.width, params.height, steps, params.steps,
                       timings, failed)


def _stage(progress: Progress | None, done: int, total: int) -> Progress:
    """Report the mode about to be timed; return the progress the mode's runs report to."""
    if progress is None:
        return lambda stage, d, t: None
    progress(Stage.BENCH, done, total)
    return progress


def _sync(plan: MemoryPlan) -> None:
    if plan.device == "cuda":
        torch.cuda.synchronize()


def _timed_run(cache, folder, image, params, plan, speed, report, cancel) -> dict:
    stamps: list[float] = []

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage == "denoise" and done > 0:
            _sync(plan)
            stamps.append(time.perf_counter())
        report(stage, done, total)

    free_memory()
    if plan.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    out = run(cache, folder, image, params, plan, params.seed, on_progress, cancel, speed=speed)
    _sync(plan)
    end = time.perf_counter()
    load = out.timings.get("load", 0.0)
    entry = next(iter(cache.entries.values()))
    steps = [b - a for a, b in zip(stamps, stamps[1:])]
    schedule = speed.turbo.schedule(params.steps) if speed.uses_turbo else (FULL_GUIDED,) * params.steps
    return {"first_step_s": stamps[0] - t0 - load, "steps": list(zip(schedule[1:], steps)),
            "decode_s": out.timings.get("decode", 0.0), "total_s": end - t0 - load, "frames": out.frames,
            "peak_gib": torch.cuda.max_memory_reserved() / 2**30 if plan.device == "cuda" else None,
            "compiled": entry.compiled, "turbo": speed.turbo if speed.uses_turbo else None}


def _timing(mode: str, measured: dict[str, dict], video_steps: int) -> ModeTiming:
    m = measured[mode]
    base = measured.get("compiled" if accel.Speed(mode).compiled and "compiled" in measured else "exact", m)
    # A kind's steady cost is its fastest step; its first step also pays a one-off (cuDNN and
    # cuBLAS pick kernels for a new batch size: 0.86 s against 0.34 for turbo's first
    # unguided step on an H200), which a whole video pays once too.
    steady: dict[Step, float] = {}
    once: dict[Step, float] = {}
    for source in (base, m):  # the mode's own measurements win
        kinds: dict[Step, list[float]] = {}
        for kind, seconds in source["steps"]:
            kinds.setdefault(kind, []).append(seconds)
        for kind, times in kinds.items():
            steady[kind], once[kind] = min(times), times[0] - min(times)
    turbo: TurboConfig | None = m["turbo"]
    schedule = turbo.schedule(video_steps) if turbo is not None else (FULL_GUIDED,) * video_steps
    # a kind the short run did not show costs what a full guided step costs (never less)
    full = steady.get(FULL_GUIDED, max(steady.values()))
    denoise = sum(steady.get(kind, full) for kind in schedule[1:])
    denoise += sum(once.get(kind, 0.0) for kind in set(schedule[1:]))
    first = m["first_step_s"]
    predicted = first + denoise + m["decode_s"]
    mean_abs = max_abs = None
    if mode != "exact" and "exact" in measured:
        diff = np.abs(m["frames"].astype(np.int16) - measured["exact"]["frames"].astype(np.int16))
        mean_abs, max_abs = round(float(diff.mean()), 2), int(diff.max())
    return ModeTiming(mode, round(denoise / max(1, video_steps - 1), 3), round(predicted, 1), round(first, 2),
                      round(m["decode_s"], 2), round(m["peak_gib"], 2) if m["peak_gib"] is not None else None,
                      m["compile_s"], mean_abs, max_abs, m["compiled"])
