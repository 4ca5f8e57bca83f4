"""What a finished run is: its files (``GenerationResult``) and its metadata (``ResultMeta``).

``ResultMeta`` is ``meta.json`` (or the ``.json`` beside an ``--out`` video): everything needed
to reproduce or audit the video, never the token. ``jobs`` builds it in one place and writes
``to_json()``; everything that reads a result back (history, the page, "Use these settings",
the API) goes through ``from_json``, which takes files from every earlier version: a key it
does not know is kept in ``extra`` (and written back), a key that is missing gets its default.

A section that only some runs have is an optional field defaulting to None (``classic``,
``turbo_reuse``, the SVD fields on a classic run, ``fidelity`` before it was measured): add a
new one the same way (a dataclass section also goes into ``SECTIONS``, a list of them into
``LIST_SECTIONS``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .presets import GenerationParams
from .request import Finish
from .vocab import Engine

APP = "svdapp"


@dataclass(frozen=True)
class InputInfo:
    """The photo as given."""

    name: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class OutputInfo:
    """The video as written."""

    frames: int = 0
    width: int = 0
    height: int = 0
    fps: int = 0
    duration_s: float = 0.0
    codec: str = "h264"
    pix_fmt: str = "yuv420p"
    video: str | None = None  # the MP4's final path
    files: dict[str, str] = field(default_factory=dict)  # format → final path, the MP4 included


@dataclass(frozen=True)
class ClassicInfo:
    """How the classic engine made its frames."""

    camera: str = ""
    camera_label: str = ""
    separation: str | None = None  # alpha | grabcut | None (parallax only)
    seconds: float = 0.0
    size: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class FidelityInfo:
    """How well the video keeps the product of the photo (``svdapp.fidelity``), measured on the
    engine's frames before finishing; or why it could not be measured (``error``, ``hint``)."""

    product_fidelity: float | None = None  # 0–1, kept from 0.8; None: not measured
    ok: bool | None = None  # product_fidelity reached the keep threshold
    verdict: str = ""  # one line: the score, what changed and what to try (command-line words)
    finding: str = ""  # the verdict without the score and the advice
    remarks: str = ""  # of a kept product: what else a viewer would notice (barely moves, flicker, a crop)
    motion: float | None = None  # how far the product travels, % of its size
    flicker: float | None = None
    scene_change: float | None = None
    shape: float | None = None
    detail: float | None = None
    colour: float | None = None
    found: float | None = None
    visible: float | None = None
    separation: str | None = None  # alpha | grabcut: how the product was cut from the photo
    worst_frame: int | None = None  # 0-based, among the engine's frames
    per_frame: tuple[float, ...] = ()
    scored: tuple[int, ...] = ()  # which engine frames were scored (0-based), one per per_frame
    seconds: float | None = None
    min_fidelity: float | None = None  # the score asked for (batch --min-fidelity)
    review: bool | None = None  # under min_fidelity (or not measured) after every take: a person should look
    error: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class TakeInfo:
    """One take of a run with several: what made it, how it scored, whether it was kept."""

    seed: int | None = None
    camera: str | None = None  # classic takes are camera moves
    steps: int | None = None  # SVD: the take's steps (previews run fewer than the final video)
    speed: str | None = None  # SVD: the take's speed mode
    product_fidelity: float | None = None
    motion: float | None = None
    kept: bool = False
    preview: str | None = None  # a small GIF of the take, relative to the result's folder
    error: str | None = None  # why it was not scored


@dataclass(frozen=True)
class ResultMeta:
    app: str = APP
    app_version: str = ""
    created: str = ""  # ISO 8601, UTC
    engine: str = ""  # the engine that ran: svd | classic
    engine_requested: str | None = None  # None in files written before it was recorded
    engine_label: str = ""
    model: str | None = None  # SVD only, like revision
    revision: str | None = None
    preset: str = ""
    seed: int | None = None
    settings: GenerationParams = field(default_factory=GenerationParams)
    finishing: Finish = field(default_factory=Finish)
    memory_plan: str | None = None
    decode_chunk_used: int | None = None
    fallbacks: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    input: InputInfo = field(default_factory=InputInfo)
    output: OutputInfo = field(default_factory=OutputInfo)
    # SVD runs only.
    model_folder: str | None = None
    speed_mode: str | None = None
    turbo_reuse: dict[str, Any] | None = None  # EngineOutput.reuse
    model_loaded_this_run: bool | None = None
    model_load_s: float | None = None
    engine_frames: int | None = None  # frames the engine made, before finishing
    engine_fps: int | None = None
    # Classic runs only.
    classic: ClassicInfo | None = None
    # Both engines: the product fidelity of the video, and every take when there were several.
    fidelity: FidelityInfo | None = None
    takes: tuple[TakeInfo, ...] = ()
    # Keys this version does not know (a newer version wrote them): kept and written back.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The engine that made it, in words."""
        return self.engine_label or (Engine(self.engine).label if self.engine in Engine else self.engine)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of meta.json (plain strings, numbers, lists and dicts only)."""
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "extra"}
        return {**data, **_plain(self.extra)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ResultMeta":
        """Any version's meta.json object → ResultMeta; never fails on a missing or unknown key."""
        meta = _build(cls, data)
        return replace(meta, extra={k: v for k, v in data.items() if k not in _names(cls)})


# The fields of ResultMeta that are objects in meta.json, and their types; and those that are
# lists of objects.
SECTIONS: dict[str, type] = {"settings": GenerationParams, "finishing": Finish, "input": InputInfo,
                             "output": OutputInfo, "classic": ClassicInfo, "fidelity": FidelityInfo}
LIST_SECTIONS: dict[str, type] = {"takes": TakeInfo}


def _names(kind: type) -> set[str]:
    return {f.name for f in fields(kind)}


def _build(kind: type, data: Mapping[str, Any]) -> Any:
    """``kind`` from a JSON object: unknown keys and nulls dropped (the defaults stand in),
    lists made tuples where the field holds one, sections built from their objects."""
    values = {}
    for f in fields(kind):
        value = data.get(f.name)
        if value is None or f.name == "extra":
            continue
        if f.name in SECTIONS and kind is ResultMeta:
            if not isinstance(value, Mapping):
                continue
            value = _build(SECTIONS[f.name], value)
        elif f.name in LIST_SECTIONS and kind is ResultMeta:
            if not isinstance(value, list):
                continue
            value = tuple(_build(LIST_SECTIONS[f.name], v) for v in value if isinstance(v, Mapping))
        elif isinstance(value, list) and isinstance(f.default, tuple):
            value = tuple(value)
        values[f.name] = value
    return kind(**values)


def _plain(value: Any) -> Any:
    """JSON-ready: dataclasses as objects, StrEnum members as their strings, tuples as lists."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


@dataclass(frozen=True)
class GenerationResult:
    """A finished run: where its files are, and its metadata."""

    video: Path
    meta_path: Path
    input_image: Path | None
    meta: ResultMeta
    webm: Path | None = None
    gif: Path | None = None
    poster: Path | None = None

    # What a caller looks at first, straight from the metadata.
    seed = property(lambda self: self.meta.seed)
    frames = property(lambda self: self.meta.output.frames)
    width = property(lambda self: self.meta.output.width)
    height = property(lambda self: self.meta.output.height)
    fps = property(lambda self: self.meta.output.fps)
    duration = property(lambda self: self.frames / self.fps)
    engine = property(lambda self: self.meta.engine)
    engine_label = property(lambda self: self.meta.label)
    fallbacks = property(lambda self: self.meta.fallbacks)
    fidelity = property(lambda self: self.meta.fidelity)
    timings = property(lambda self: self.meta.timings_s)

    def to_dict(self) -> dict[str, Any]:
        paths = {k: str(v) if v is not None else None for k, v in
                 (("video", self.video), ("meta_path", self.meta_path), ("input_image", self.input_image),
                  ("webm", self.webm), ("gif", self.gif), ("poster", self.poster))}
        return {**paths, "seed": self.seed, "frames": self.frames, "width": self.width, "height": self.height,
                "fps": self.fps, "engine": self.engine, "engine_label": self.engine_label,
                "fallbacks": list(self.fallbacks), "timings": self.timings, "meta": self.meta.to_json()}
