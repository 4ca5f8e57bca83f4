"""The one request → result contract every shell (CLI, UI, API, batch) uses."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .imageprep import ImageSource
from .presets import DEFAULT_PRESET
from .vocab import Camera, Engine, Format, Framing, Loop

if TYPE_CHECKING:
    from .settings import Settings


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


@dataclass(frozen=True)
class GenerationResult:
    video: Path
    meta_path: Path
    input_image: Path | None
    seed: int
    frames: int
    width: int
    height: int
    fps: int
    engine: str
    fallbacks: tuple[str, ...]
    timings: dict[str, float]
    meta: dict[str, Any]
    webm: Path | None = None
    gif: Path | None = None
    poster: Path | None = None
    engine_label: str = ""

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}


def resolve_engine(engine: str, settings: "Settings", memory: str = "auto") -> tuple[str, str | None]:
    """The engine that will run, and why auto chose classic (a note for the user) or None.

    auto → svd when the model is usable (on disk, or downloadable with a token) and a CUDA
    GPU is there, or when the user asked for SVD on the processor (--memory cpu); otherwise
    classic. Cheap: no torch import when the model is missing or the machine has no NVIDIA
    driver.
    """
    if engine != Engine.AUTO:
        return engine, None
    from . import hub

    folder = hub.local_folder(settings)
    on_disk = folder is not None and hub.is_complete(folder)
    if not on_disk and not settings.token:
        return Engine.CLASSIC, ("Made with the classic engine (camera motion, no AI): the Stable Video Diffusion model "
                           "is not downloaded. Set HF_TOKEN and run `svdapp download` for AI video.")
    if memory == "cpu":
        return Engine.SVD, None
    if _has_cuda():
        return Engine.SVD, None
    return Engine.CLASSIC, ("Made with the classic engine (camera motion, no AI): no CUDA GPU was found. "
                       "Stable Video Diffusion needs an NVIDIA GPU (8 GB+); --engine svd --memory cpu runs it "
                       "on the processor (hours).")


def _has_cuda() -> bool:
    if sys.platform.startswith("linux") and not os.path.exists("/proc/driver/nvidia/version"):
        return False  # no NVIDIA driver: skip importing torch (seconds) to learn the same
    if sys.platform == "darwin":
        return False
    from .engine.device import device_info
    return device_info().cuda_available
