"""The one request → result contract every shell (CLI, UI, API, batch) uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .imageprep import ImageSource
from .presets import DEFAULT_PRESET

ENGINES = ("svd",)


@dataclass(frozen=True)
class GenerationRequest:
    image: ImageSource
    preset: str = DEFAULT_PRESET
    overrides: Mapping[str, Any] = field(default_factory=dict)  # GenerationParams fields; None = preset's
    portrait: bool = False
    engine: str = "svd"
    out: Path | None = None  # an .mp4 path; None → outputs/<id>/video.mp4
    image_name: str | None = None  # shown in the output folder name when image is not a path


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

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}
