"""Generation settings: the presets from the user's guide and how overrides apply to them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

from .errors import InputError, Suggestion
from .vocab import Fit, MemoryPlan, SpeedMode, parse

MAX_FRAMES = 100
MAX_SIDE = 2048


@dataclass(frozen=True)
class GenerationParams:
    """Everything that decides what the engine makes, fully resolved."""

    frames: int = 25
    fps: int = 15  # playback fps of the file
    width: int = 1024
    height: int = 576
    steps: int = 25
    motion: int = 127  # SVD motion_bucket_id
    noise_aug: float = 0.02
    cond_fps: int = 6  # SVD-XT 1.1 was fine-tuned with fps conditioning fixed at 6
    min_guidance: float = 1.0
    max_guidance: float = 3.0
    decode_chunk: int = 8
    memory: str = MemoryPlan.AUTO
    fit: str = Fit.CONTAIN
    seed: int | None = None
    speed: str | None = None  # SVD SpeedMode; None: $SVDAPP_SPEED, else exact

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    description: str
    params: GenerationParams


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("standard", "Standard", "25 frames @ 15 fps, 1024x576 — the guide's example",
               GenerationParams()),
        Preset("fast", "Fast", "15 frames @ 15 fps, 20 steps — a quick 1-second clip",
               GenerationParams(frames=15, fps=15, steps=20)),
        Preset("quality", "Quality", "50 frames @ 25 fps, 30 steps — a smooth 2-second clip",
               GenerationParams(frames=50, fps=25, steps=30, decode_chunk=4)),
        Preset("lowmem-portrait", "Low-memory portrait",
               "25 frames, 576x1024 (9:16), low memory plan, decode chunk 2 — for 8 GB cards",
               GenerationParams(frames=25, fps=15, width=576, height=1024, memory=MemoryPlan.LOW,
                                decode_chunk=2)),
    )
}
DEFAULT_PRESET = "standard"
PARAM_NAMES = tuple(f.name for f in fields(GenerationParams))


def resolve(preset: str | None = None, overrides: Mapping[str, Any] | None = None,
            portrait: bool = False) -> GenerationParams:
    """Preset values, then explicit overrides (``None`` means "keep the preset's"),
    then ``portrait`` turns the frame upright by swapping width and height."""
    name = (preset or DEFAULT_PRESET).strip().lower().replace("_", "-")
    if name not in PRESETS:
        raise InputError(f"Unknown preset '{preset}'.",
                         f"Use one of: {', '.join(PRESETS)}.")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(overrides) - set(PARAM_NAMES)
    if unknown:
        raise InputError(f"Unknown setting(s): {', '.join(sorted(unknown))}.",
                         f"Known settings: {', '.join(PARAM_NAMES)}.")
    params = replace(PRESETS[name].params, **overrides)
    if portrait and params.width > params.height:
        params = replace(params, width=params.height, height=params.width)
    return validate(params)


def validate(p: GenerationParams) -> GenerationParams:
    """``p`` with its choices normalised (``"CPU"`` → cpu), or an InputError naming the first
    bad value and what is allowed."""
    def need(ok: bool, what: str, fix: str, *suggestions: Suggestion) -> None:
        if not ok:
            raise InputError(what, fix, *suggestions)

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    need(is_int(p.frames) and 2 <= p.frames <= MAX_FRAMES, f"Frames must be 2–{MAX_FRAMES}, got {p.frames}.",
         "Use {fix} (the model's native length) or 14–50.", Suggestion("frames", 25))
    need(is_int(p.fps) and 1 <= p.fps <= 60, f"Playback fps must be 1–60, got {p.fps}.", "Use {fix} or 25.",
         Suggestion("fps", 15))
    need(is_int(p.steps) and 1 <= p.steps <= 150, f"Steps must be 1–150, got {p.steps}.", "Use {fix}.",
         Suggestion("steps", 25))
    for side, value in (("Width", p.width), ("Height", p.height)):
        need(is_int(value) and value >= 64 and value % 64 == 0 and value <= MAX_SIDE,
             f"{side} must be a multiple of 64 between 64 and {MAX_SIDE}, got {value}.",
             "Use 1024x576 (landscape) or 576x1024 (portrait).")
    need(is_int(p.motion) and 1 <= p.motion <= 255, f"Motion must be 1–255, got {p.motion}.",
         "Use {fix} (default); higher moves more.", Suggestion("motion", 127))
    need(isinstance(p.noise_aug, (int, float)) and 0.0 <= p.noise_aug <= 1.0,
         f"Noise augmentation must be 0.0–1.0, got {p.noise_aug}.", "Use {fix}.",
         Suggestion("noise_aug", 0.02))
    need(is_int(p.cond_fps) and 1 <= p.cond_fps <= 60, f"Conditioning fps must be 1–60, got {p.cond_fps}.",
         "Use {fix} (what SVD-XT 1.1 was tuned on).", Suggestion("cond_fps", 6))
    need(0 < p.min_guidance <= p.max_guidance <= 20, "Guidance must satisfy 0 < min ≤ max ≤ 20.",
         "Use min 1.0 and max 3.0.")
    need(is_int(p.decode_chunk) and 1 <= p.decode_chunk <= MAX_FRAMES,
         f"Decode chunk must be 1–{MAX_FRAMES}, got {p.decode_chunk}.", "Use {fix}, or 2 on small cards.",
         Suggestion("decode_chunk", 8))
    need(p.seed is None or (is_int(p.seed) and 0 <= p.seed < 2**32),
         f"Seed must be 0–{2**32 - 1}, got {p.seed}.", "Leave it out for a random seed.")
    return replace(p, memory=parse(MemoryPlan, p.memory), fit=parse(Fit, p.fit),
                   speed=None if p.speed is None else parse(SpeedMode, p.speed))
