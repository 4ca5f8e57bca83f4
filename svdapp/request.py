"""What a user asks for — one ``GenerationRequest``, whichever shell (CLI, page, API, batch)
built it — and the rule for which engine serves it, so every shell picks the same one."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .imageprep import ImageSource
from .presets import DEFAULT_PRESET
from .vocab import Camera, Engine, Format, Framing, Loop, parse

if TYPE_CHECKING:
    from .settings import Settings


@dataclass(frozen=True)
class Finish:
    """What finishing (svdapp.finishing) does to the engine's frames; the defaults change nothing."""

    seconds: float | None = None
    loop: str = Loop.NONE
    interpolate: int = 1
    framing: str = Framing.NONE
    background: str = "edge"  # edge | blur | a colour (#rrggbb, r,g,b or a CSS name)

    @property
    def is_identity(self) -> bool:
        return self.seconds is None and self.loop == Loop.NONE and self.interpolate == 1 \
            and self.framing == Framing.NONE


@dataclass(frozen=True)
class GenerationRequest:
    image: ImageSource
    preset: str = DEFAULT_PRESET
    overrides: Mapping[str, Any] = field(default_factory=dict)  # GenerationParams fields; None = preset's
    portrait: bool = False
    engine: str = Engine.AUTO  # see resolve_engine
    out: Path | None = None  # an .mp4 path; None → outputs/<id>/video.mp4
    image_name: str | None = None  # shown in the output folder name when image is not a path
    # Classic engine: the camera move.
    camera: str = Camera.PUSH_IN
    # Finishing, both engines (svdapp.finishing); these defaults leave SVD's frames untouched.
    seconds: float | None = None  # None: the engine's own length (classic: 4 s)
    loop: str = Loop.NONE
    interpolate: int = 1  # 1, 2 or 4 x the frames (optical flow)
    framing: str = Framing.NONE
    background: str = "edge"  # padding: edge | blur | a colour such as #ffffff
    formats: tuple[str, ...] = (Format.MP4,)  # mp4 always; plus webm, gif, poster
    # Takes (svdapp.takes): several seeds (SVD) or camera moves (classic), the best kept.
    takes: int | None = None  # None: one, or takes.DEFAULT_ATTEMPTS with min_fidelity
    min_fidelity: float | None = None  # takes become full attempts until one scores this (batch)

    @property
    def finish(self) -> Finish:
        return Finish(self.seconds, self.loop, self.interpolate, self.framing, self.background)


# GenerationParams fields only the SVD engine reads.
SVD_ONLY = ("steps", "motion", "noise_aug", "cond_fps", "decode_chunk", "memory", "speed")


def engine_asked(engine: str, overrides: Mapping[str, Any]) -> Engine:
    """The engine a request names. "auto" with an SVD-only setting means SVD: the user set
    something only SVD reads, and a classic video would silently drop it."""
    asked = parse(Engine, engine)
    if asked == Engine.AUTO and any(overrides.get(name) is not None for name in SVD_ONLY):
        return Engine.SVD
    return asked


@dataclass(frozen=True)
class EngineChoice:
    engine: Engine  # svd or classic, never auto
    note: str | None = None  # why auto chose classic, for the user


def resolve_engine(request: GenerationRequest, settings: "Settings") -> EngineChoice:
    """The engine that will run the request, and why when auto chose classic.

    auto → svd when an SVD-only setting is given (``engine_asked``), or when the model is
    usable (on disk, or downloadable with a token) and a CUDA GPU is there; otherwise classic.
    Cheap: no torch import when the model is missing or the machine has no NVIDIA driver.
    """
    asked = engine_asked(request.engine, request.overrides)
    if asked != Engine.AUTO:
        return EngineChoice(asked)
    from . import hub

    folder = hub.local_folder(settings)
    on_disk = folder is not None and hub.is_complete(folder)
    if not on_disk and not settings.token:
        return EngineChoice(Engine.CLASSIC, "Made with the classic engine (camera motion, no AI): the Stable Video "
                            "Diffusion model is not downloaded. Set HF_TOKEN and run `svdapp download` for AI video.")
    if _has_cuda():
        return EngineChoice(Engine.SVD)
    return EngineChoice(Engine.CLASSIC, "Made with the classic engine (camera motion, no AI): no CUDA GPU was found. "
                        "Stable Video Diffusion needs an NVIDIA GPU (8 GB+); choose the SVD engine with the cpu "
                        "memory plan to run it on the processor (hours).")


def _has_cuda() -> bool:
    if sys.platform.startswith("linux") and not os.path.exists("/proc/driver/nvidia/version"):
        return False  # no NVIDIA driver: skip importing torch (seconds) to learn the same
    if sys.platform == "darwin":
        return False
    from .engine.device import device_info
    return device_info().cuda_available
