"""The closed sets of svdapp, each once, with the words people see for them.

Engines, camera moves, loops, framings, output formats, memory plans, speed modes, fits,
orientations and progress stages are ``StrEnum``s: a member *is* its plain string, so argparse
choices, Gradio choices, API values and JSON stay plain strings, while code names the set it
means. Each member carries a ``label`` (its name for people: results, progress, pickers) and
a one-line ``help`` (what it does; CLI help and the page's choice captions).

Imported by every module and shell, so it imports nothing heavier than ``enum``.
"""

from __future__ import annotations

from enum import EnumType, StrEnum, nonmember
from typing import TypeVar

from .errors import InputError


class _ChoiceType(EnumType):
    # Python 3.12's rule, on 3.11 too: ``"text" in Camera`` is False for a non-member instead
    # of raising TypeError, so code that only wants a yes/no can ask without a try.
    def __contains__(cls, value: object) -> bool:
        return isinstance(value, str) and value in cls._value2member_map_


class Choice(StrEnum, metaclass=_ChoiceType):
    """A member of a closed set: the plain string value plus ``label`` and ``help``."""

    label: str
    help: str

    def __new__(cls, value: str, label: str, help: str = "") -> "Choice":
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.help = help
        return member

    @property
    def caption(self) -> str:
        """``label — help``: how a picker lists it."""
        return f"{self.label} — {self.help}" if self.help else self.label


class Engine(Choice):
    noun = nonmember("engine")
    AUTO = "auto", "Auto", "SVD on an NVIDIA GPU, else classic"
    SVD = "svd", "Stable Video Diffusion img2vid-XT 1.1"
    CLASSIC = "classic", "Classic motion, no AI", "camera moves over the photo, seconds on any CPU"


class Camera(Choice):
    """The classic engine's camera move."""

    noun = nonmember("camera move")
    PUSH_IN = "push-in", "Slow push-in"
    PULL_OUT = "pull-out", "Pull-out"
    PAN_LEFT = "pan-left", "Pan left"
    PAN_RIGHT = "pan-right", "Pan right"
    TILT_UP = "tilt-up", "Tilt up"
    TILT_DOWN = "tilt-down", "Tilt down"
    PARALLAX = "parallax", "2.5D parallax", "the product drifts against its background"


class Loop(Choice):
    noun = nonmember("loop mode")
    NONE = "none", "No loop"
    BOOMERANG = "boomerang", "Boomerang", "forward then back"
    CROSSFADE = "crossfade", "Crossfade", "the end fades into the start, a seamless loop"


class Framing(Choice):
    """A shape to pad the video into (never cropping the product)."""

    noun = nonmember("framing")
    NONE = "none", "Original shape"
    WIDE = "16:9", "16:9", "landscape"
    TALL = "9:16", "9:16", "shorts and stories"
    SQUARE = "1:1", "1:1", "square feeds"
    PORTRAIT = "4:5", "4:5", "portrait feeds"


class Format(Choice):
    """A file a result can have: the MP4 always, the others when asked for."""

    noun = nonmember("format")
    MP4 = "mp4", "MP4 (H.264)"
    WEBM = "webm", "WebM (VP9)"
    GIF = "gif", "GIF"
    POSTER = "poster", "Poster PNG"


class MemoryPlan(Choice):
    """How much of the SVD pipeline sits on the GPU (engine/memory.py holds what each does)."""

    noun = nonmember("memory plan")
    AUTO = "auto", "Auto", "picked from free GPU memory"
    HIGH = "high", "High", "whole pipeline on the GPU"
    NORMAL = "normal", "Normal", "one model component on the GPU at a time"
    LOW = "low", "Low", "offload plus smaller activations, for 8 GB cards"
    MINIMAL = "minimal", "Minimal", "layer-by-layer offload, slow"
    CPU = "cpu", "CPU", "on the processor, hours"


class SpeedMode(Choice):
    """SVD's speed modes (engine/accel.py says how each works)."""

    noun = nonmember("speed mode")
    EXACT = "exact", "Exact", "same frames as diffusers"
    COMPILED = "compiled", "Compiled", "faster after a first compile of minutes per video size"
    TURBO = "turbo", "Turbo", "reuses the UNet's deep features across steps, approximate"
    TURBO_COMPILED = "turbo-compiled", "Turbo compiled", "turbo on compiled blocks, approximate"


class Fit(Choice):
    """How the photo fills the model's frame."""

    noun = nonmember("fit")
    CONTAIN = "contain", "Contain", "whole photo, padded"
    COVER = "cover", "Cover", "fill the frame, crop"


class Orientation(Choice):
    noun = nonmember("orientation")
    LANDSCAPE = "landscape", "Landscape 16:9"
    PORTRAIT = "portrait", "Portrait 9:16"


class Stage(Choice):
    """What a run is doing, as reported to ``progress(stage, done, total)``."""

    noun = nonmember("stage")
    LOAD = "load", "Loading model"
    DENOISE = "denoise", "Denoising"
    DECODE = "decode", "Decoding frames"
    RENDER = "render", "Preparing camera motion"
    INTERPOLATE = "interpolate", "Interpolating frames"
    ENCODE = "encode", "Encoding video"
    WEBM = "webm", "Writing WebM"
    GIF = "gif", "Writing GIF"
    POSTER = "poster", "Writing poster"
    SCORE = "score", "Checking the product"  # product fidelity of the frames (svdapp.fidelity)
    TAKE = "take", "Take"  # take i of N (done = i): the stages that follow belong to it
    FINAL = "final", "Rendering the kept take"  # after the takes: the kept one, in full
    BENCH = "bench", "Timing speed modes"  # svdapp bench: one per mode, around that mode's runs


INTERPOLATIONS = (1, 2, 4)  # frame interpolation factors (optical flow)

C = TypeVar("C", bound=Choice)


def values(kind: type[Choice]) -> list[str]:
    """The plain strings of a set, in order (argparse and Gradio choices)."""
    return [member.value for member in kind]


def captions(kind: type[Choice]) -> list[tuple[str, str]]:
    """(caption, value) pairs for a Gradio picker."""
    return [(member.caption, member.value) for member in kind]


def parse(kind: type[C], text: object, aliases: dict[str, str] | None = None) -> C:
    """The member ``text`` names (case and spaces ignored, ``aliases`` allowed), or an
    InputError that lists the allowed values."""
    key = str(text).strip().lower()
    key = (aliases or {}).get(key, key)
    if key not in kind:
        raise InputError(f"Unknown {kind.noun} '{text}'.", f"Use one of: {', '.join(values(kind))}.")
    return kind(key)


def label_of(kind: type[Choice], value: object) -> str:
    """The label of ``value`` in ``kind``, or the value itself when it is not a member
    (progress from a newer engine, metadata from an older version)."""
    return kind(value).label if value in kind else str(value)
