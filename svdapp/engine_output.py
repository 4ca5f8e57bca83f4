"""What an engine hands back to ``jobs``: the frames and how they were made.

Torch-free, so the SVD engine, ``jobs`` and the tests' stand-in engine share this one type
and cannot drift apart. The field names are those of the engine runner's first output type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .vocab import SpeedMode


@dataclass(frozen=True)
class EngineOutput:
    frames: np.ndarray  # N x H x W x 3 uint8
    plan: str  # the MemoryPlan the frames were made with, after any out-of-memory step down
    decode_chunk: int  # frames decoded at once, after any step down
    fallbacks: Sequence[str] = ()  # each step down, in words for the user
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage: load, denoise, decode
    load_seconds: float = 0.0  # loading the model for this run; 0 when it was loaded already
    speed: str = SpeedMode.EXACT  # the speed mode the pipeline ran in
    # What the speed mode reused (turbo: its interval, and the UNet calls run in full and on kept features).
    reuse: dict[str, Any] | None = None
