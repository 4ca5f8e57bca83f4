"""What the page shows: an error's fix in the page's words (the control to change), the
model-input preview, and a result's summary and extra files (for a new run or a history item)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import gradio as gr

from ..errors import SvdAppError, Suggestion, Words
from ..result import ResultMeta
from ..vocab import Choice, Engine, Fit, Format, Framing, Loop, SpeedMode

# Where each setting an error can suggest lives on the page, and the set whose labels its
# control shows (None: it shows the values as they are).
CONTROLS: dict[str, tuple[str, type[Choice] | None]] = {
    "frames": ("Advanced → Frames", None), "steps": ("Advanced → Steps", None),
    "fps": ("Advanced → Playback fps", None), "cond_fps": ("Advanced → Conditioning fps", None),
    "motion": ("Advanced → Motion strength", None), "noise_aug": ("Advanced → Noise augmentation", None),
    "width": ("Advanced → Width", None), "height": ("Advanced → Height", None), "seed": ("Advanced → Seed", None),
    "decode_chunk": ("Advanced → Decode chunk", None), "memory": ("Advanced → Memory plan", None),
    "speed": ("Advanced → Speed", SpeedMode), "engine": ("Engine & finishing → Engine", Engine),
    "camera": ("Engine & finishing → Camera move", None), "loop": ("Engine & finishing → Loop", None),
    "seconds": ("Engine & finishing → Length (s)", None),
    "interpolate": ("Engine & finishing → Frame interpolation", None),
    "framing": ("Engine & finishing → Framing", None), "formats": ("Engine & finishing → Also write", None),
    "fit": ("D2 → Fit", Fit), "portrait": ("D2 → Orientation", None), "takes": ("D3 → Takes", None),
}


def control_words(suggestions: Sequence[Suggestion]) -> str:
    """``Advanced → Memory plan = cpu``: the page's words for suggested settings."""
    def one(s: Suggestion) -> str:
        where, kind = CONTROLS.get(s.setting, (s.setting, None))
        if s.value is None:
            return where
        return f"{where} = {kind(s.value).label if kind and s.value in kind else s.value}"

    return ", ".join(one(s) for s in suggestions)


def error_text(err: SvdAppError, words: Words = control_words) -> str:
    hint = err.fix(words)
    return f"{err.message} — {hint}" if hint else err.message


def preview_frame(image: str | None, width: Any, height: Any, fit: str):
    """Exactly the frame the model will receive (empty without a photo), its size in the label."""
    label = f"Model input · {int(width)}×{int(height)}"
    if not image:
        return gr.update(value=None, label=label)
    from ..imageprep import fit as fit_image, load_image
    try:
        # gr.update, not gr.Image(value=...): that would encode the frame in its own default format.
        return gr.update(value=fit_image(load_image(image), int(width), int(height), fit or "contain"), label=label)
    except SvdAppError as exc:
        gr.Warning(error_text(exc))
        return gr.update(value=None, label=label)


def model_note(meta: ResultMeta) -> str:
    if meta.engine != Engine.SVD:
        return ""
    return "model loaded for this run" if meta.model_loaded_this_run else "model already loaded"


def result_markdown(meta: ResultMeta, origin: str = "") -> str:
    s, out, fin = meta.settings, meta.output, meta.finishing
    lines = [f"**Seed {meta.seed}** · {out.frames} frames · {out.width}×{out.height} · {out.fps} fps · "
             f"{out.duration_s} s · H.264", f"Engine: {meta.label}"]
    if meta.fidelity is not None:
        from ..product_check import describe  # the scorer's OpenCV loads with the first result, not with the page
        text = describe(meta.fidelity, meta.engine, control_words)
        lines.append(f"**{text}**" if meta.fidelity.ok else f"⚠ {text}")
    if meta.engine == Engine.CLASSIC:
        camera = meta.classic.camera_label or meta.classic.camera if meta.classic else ""
        lines.append(f"Preset *{meta.preset}* · camera {camera} · fit {s.fit}")
    else:
        lines.append(f"Preset *{meta.preset}* · steps {s.steps} · motion {s.motion} · noise aug {s.noise_aug} · "
                     f"conditioning fps {s.cond_fps} · fit {s.fit} · memory plan {meta.memory_plan} · "
                     f"decode chunk {meta.decode_chunk_used} · speed {meta.speed_mode or SpeedMode.EXACT}")
    done = [f"loop {fin.loop}" if fin.loop != Loop.NONE else "",
            f"{fin.interpolate}× frames" if fin.interpolate != 1 else "",
            f"framing {fin.framing}" if fin.framing != Framing.NONE else "",
            f"{fin.seconds} s long" if fin.seconds else ""]
    if any(done):
        lines.append("Finishing: " + ", ".join(d for d in done if d))
    total = meta.timings_s.get("total")
    if total is not None:
        lines.append(f"Made in {total:.1f} s" + (f" ({origin})" if origin else ""))
    elif origin:
        lines.append(origin)
    lines += [f"⚠ {note}" for note in meta.fallbacks]
    return "\n\n".join(lines)


def other_files(meta: ResultMeta):
    """The extra formats of a result (WebM, GIF, poster) that exist on disk."""
    files = [p for fmt, p in meta.output.files.items() if fmt != Format.MP4 and Path(p).is_file()]
    return gr.File(value=files or None, visible=bool(files))
