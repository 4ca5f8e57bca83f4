"""Form and API values → one GenerationRequest: what a preset fills in, width/height for an
orientation, and the mapping of each control onto a GenerationParams or GenerationRequest field.

Plain functions without Gradio, so the web form and the /generate endpoint share them.
"""

from __future__ import annotations

from typing import Any

from .. import presets
from ..errors import InputError
from ..result import ResultMeta
from ..vocab import Camera, Engine, Orientation

CUSTOM = "custom"
# Form fields that map one-to-one onto GenerationParams (fit lives in D2, seed has a checkbox).
FIELDS = ("frames", "steps", "fps", "cond_fps", "motion", "noise_aug", "width", "height", "decode_chunk", "memory",
          "speed")


def preset_fields(name: str) -> dict[str, Any]:
    """The form values a preset stands for."""
    params = presets.PRESETS[name].params.to_dict()
    return {k: "" if params[k] is None else params[k] for k in FIELDS}  # "": the default speed


def changed_fields(values: dict[str, Any], preset: str) -> dict[str, Any]:
    """The form's values without those still equal to the preset's. The form holds every field;
    only what the user changed is an override (an untouched SVD-only field must not choose SVD)."""
    base = preset_fields(_base(preset))
    return {k: v for k, v in values.items() if k not in base or v != base[k]}


def _base(preset: str | None) -> str:
    """The preset a form stands on ("custom" stands on the default)."""
    name = (preset or presets.DEFAULT_PRESET).strip().lower()
    return presets.DEFAULT_PRESET if name == CUSTOM else name


def reuse_values(meta: ResultMeta) -> dict[str, Any]:
    """A past result's settings as form values: every GenerationParams field of the form, the
    seed (fixed), fit and orientation, its preset (when still known), the engine asked for and
    the finishing; keys are field names, plus "random_seed", "orientation" and "preset"."""
    s, fin = meta.settings, meta.finishing
    values = {k: "" if getattr(s, k) is None else getattr(s, k) for k in FIELDS}
    values.update(seed=s.seed, random_seed=False, fit=s.fit, orientation=orientation_of(s.width, s.height),
                  engine=meta.engine_requested or meta.engine or Engine.AUTO, loop=fin.loop, seconds=fin.seconds,
                  interpolate=str(fin.interpolate), framing=fin.framing, takes=1)  # the seed kept: one take remakes it
    if meta.preset in presets.PRESETS:
        values["preset"] = meta.preset
    if meta.classic is not None and meta.classic.camera in Camera:
        values["camera"] = meta.classic.camera
    return values


def orientation_of(width: int, height: int) -> Orientation:
    return Orientation.PORTRAIT if height > width else Orientation.LANDSCAPE


def turn(width: int, height: int, orientation: str) -> tuple[int, int]:
    """Width and height with the long side where the orientation wants it."""
    long, short = max(width, height), min(width, height)
    return (short, long) if orientation == Orientation.PORTRAIT else (long, short)


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and not value.is_integer():
        raise InputError(f"Expected a whole number, got {value}.", "Type a whole number (no decimals).")
    return int(value)


def overrides_from(values: dict[str, Any]) -> dict[str, Any]:
    """Form/API values (None or "" = the preset's) → GenerationParams overrides."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or value == "":
            continue
        if name == "noise_aug":
            out[name] = float(value)
        elif name in ("memory", "fit", "speed"):
            out[name] = str(value)
        else:
            out[name] = _int(value)
    return out


def make_request(image: Any, preset: str, values: dict[str, Any], extras: dict[str, Any] | None = None):
    """Photo + preset + form values (+ engine and finishing choices) → one GenerationRequest."""
    from ..request import GenerationRequest
    if not image:
        raise InputError("No product photo yet.", "Drop a photo into D2 (or paste one) first.")
    return GenerationRequest(image=image, preset=_base(preset), overrides=overrides_from(values),
                             **request_extras(extras or {}))


def request_extras(extras: dict[str, Any]) -> dict[str, Any]:
    """Engine and finishing choices (None/"" = the request's default) → GenerationRequest fields."""
    out: dict[str, Any] = {}
    for name in ("engine", "camera", "loop", "framing"):
        if extras.get(name):
            out[name] = str(extras[name])
    if extras.get("seconds") not in (None, "", 0):
        out["seconds"] = float(extras["seconds"])
    if extras.get("interpolate") not in (None, ""):
        out["interpolate"] = _int(extras["interpolate"])
    if extras.get("takes") not in (None, ""):
        out["takes"] = _int(extras["takes"])
    formats = extras.get("formats")
    if formats:
        if isinstance(formats, str):
            formats = [f.strip() for f in formats.split(",")]
        out["formats"] = tuple(dict.fromkeys(["mp4", *[f for f in formats if f]]))
    return out
