"""Memory plans (how much of the pipeline sits on the GPU at once) and the OOM ladder.

Like ComfyUI's VRAM states, a plan is picked from the card's free memory before loading
and can be overridden. Each plan trades speed for memory:

- high:    the whole pipeline on the GPU.
- normal:  model CPU offload: one component (image encoder, UNet, VAE) on the GPU at a time.
- low:     normal + the two guidance passes run one after the other (half the activations)
           + feed-forward layers run on slices of rows; decode chunk at most 2.
- minimal: sequential (layer-by-layer) CPU offload + the same activation savings; decode
           chunk 1. Slow, but it fits small cards.
- cpu:     no CUDA: float32 on the processor.

Figures behind the thresholds (full model, fp16, 25 frames 1024x576, decode chunk 8,
expandable segments, H200, bench/results and docs/benchmarks.md), peak allocated / reserved:
high 13.3 / 15.5 GiB; normal 10.8 / 12.8; low 5.3 / 5.6. The weights alone are 4.2 GiB
(UNet 2.84, image encoder 1.18, VAE 0.18); with model offload only the UNet's stay during
denoising.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import torch

from .device import GIB, DeviceInfo

LADDER = ("high", "normal", "low", "minimal")
FRAME_LADDER = (25, 15, 8)


@dataclass(frozen=True)
class MemoryPlan:
    name: str
    device: str  # "cuda" or "cpu"
    offload: str | None  # None, "model" or "sequential"
    split_guidance: bool
    chunk_feed_forward: bool
    max_decode_chunk: int | None

    @property
    def dtype(self) -> torch.dtype:
        return torch.float16 if self.device == "cuda" else torch.float32


PLANS = {
    "high": MemoryPlan("high", "cuda", None, False, False, None),
    "normal": MemoryPlan("normal", "cuda", "model", False, False, None),
    "low": MemoryPlan("low", "cuda", "model", True, True, 2),
    "minimal": MemoryPlan("minimal", "cuda", "sequential", True, True, 1),
    "cpu": MemoryPlan("cpu", "cpu", None, False, False, None),
}

# GiB of free memory a plan needs for 25 frames at 1024x576: measured peak reserved plus
# about 0.5-1.4 GiB of margin (H200, docs/benchmarks.md). Sizes are counted in 1024x576
# frames ("units"). Above 25 units the peak grows by the measured 25→50-frame slope; below,
# high and normal barely shrink (their peak is the fp32 VAE encode of the photo plus the
# weights: 15 frames peaked at 15.1 / 12.8 GiB against 15.5 / 12.8 at 25), low does.
_NEEDS_AT_25 = {"high": 16.0, "normal": 13.5, "low": 7.0}
_GIB_PER_UNIT_ABOVE = {"high": 0.23, "normal": 0.30, "low": 0.12}  # measured 0.22, 0.29, 0.11
_GIB_PER_UNIT_BELOW = {"high": 0.0, "normal": 0.0, "low": 0.08}  # measured 0.03, 0.0, 0.08


def estimate_gib(plan: str, frames: int, width: int, height: int) -> float:
    units = frames * (width * height) / (1024 * 576)
    if units >= 25:
        return _NEEDS_AT_25[plan] + _GIB_PER_UNIT_ABOVE[plan] * (units - 25)
    return _NEEDS_AT_25[plan] - _GIB_PER_UNIT_BELOW[plan] * (25 - units)


def choose_plan(requested: str, info: DeviceInfo, frames: int = 25, width: int = 1024,
                height: int = 576) -> MemoryPlan:
    """The plan to start with: the user's choice, or the fastest one that fits."""
    if not info.cuda_available:
        return PLANS["cpu"]
    if requested != "auto":
        return PLANS[requested]
    free = info.free_gib
    for name in ("high", "normal", "low"):
        if free >= estimate_gib(name, frames, width, height):
            return PLANS[name]
    return PLANS["minimal"]


def next_plan(plan: MemoryPlan) -> MemoryPlan | None:
    if plan.name not in LADDER:
        return None
    i = LADDER.index(plan.name)
    return PLANS[LADDER[i + 1]] if i + 1 < len(LADDER) else None


def next_frames(frames: int) -> int | None:
    return next((n for n in FRAME_LADDER if n < frames), None)


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
