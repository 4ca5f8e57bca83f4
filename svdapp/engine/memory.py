"""Memory plans (how much of the pipeline sits on the GPU at once) and the OOM ladder.

Like ComfyUI's VRAM states, a plan is picked from the card's free memory before loading
and can be overridden. Each plan trades speed for memory:

- high:    the whole pipeline on the GPU.
- normal:  model CPU offload: one component (image encoder, UNet, VAE) on the GPU at a time.
- low:     normal + the two guidance passes run one after the other (half the activations)
           + chunked feed-forward; decode chunk at most 2.
- minimal: sequential (layer-by-layer) CPU offload + the same activation savings; decode
           chunk 1. Slow, but it fits small cards.
- cpu:     no CUDA: float32 on the processor.

Figures behind the thresholds (full model, fp16, 25 frames 1024x576, H100, see DESIGN):
whole pipeline 15.1 GiB allocated; model offload 11.0; offload + chunking 7.6.
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

# GiB of free memory a plan needs for 25 frames at 1024x576 (measured peak + margin);
# activations grow with frames x pixels, so scale by that.
_NEEDS_AT_25 = {"high": 20.0, "normal": 13.0, "low": 7.0}


def estimate_gib(plan: str, frames: int, width: int, height: int) -> float:
    scale = (frames / 25) * (width * height) / (1024 * 576)
    weights = {"high": 4.5, "normal": 3.1, "low": 3.1}[plan]
    return weights + (_NEEDS_AT_25[plan] - weights) * scale


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
