"""What the page shows: hints that name controls instead of CLI flags, error lines, the
model-input preview, and a result's summary and extra files (for a new run or a history item)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import SvdAppError

# CLI flags named in engine hints → where the same setting lives in this UI.
UI_NAMES = {"--memory": "Advanced → Memory plan", "--frames": "Advanced → Frames", "--steps": "Advanced → Steps",
            "--width": "Advanced → Width", "--height": "Advanced → Height", "--seed": "Advanced → Seed",
            "--decode-chunk": "Advanced → Decode chunk", "--fps": "Advanced → Playback fps",
            "--motion": "Advanced → Motion strength", "--noise-aug": "Advanced → Noise augmentation",
            "--cond-fps": "Advanced → Conditioning fps", "--speed": "Advanced → Speed", "--engine": "Engine & finishing → Engine",
            "--camera": "Engine & finishing → Camera move", "--loop": "Engine & finishing → Loop",
            "--framing": "Engine & finishing → Framing", "--formats": "Engine & finishing → Also write",
            "--fit": "D2 → Fit", "--portrait": "D2 → Orientation"}
FLAG_RUN = re.compile(r"--[a-z-]+(?: (?!--)[\w.,#-]+)?(?: --[a-z-]+(?: (?!--)[\w.,#-]+)?)*")
FLAG = re.compile(r"(--[a-z-]+)(?: ((?!--)[\w.,#-]+))?")


def ui_hint(hint: str) -> str:
    """Engine hints name CLI flags; in the browser, name the control instead.

    ``pass --engine svd --memory cpu`` → ``pass Engine & finishing → Engine = svd, Advanced → Memory plan = cpu``.
    """
    def one(m: re.Match) -> str:
        name = UI_NAMES.get(m.group(1))
        if name is None:
            return m.group(0)
        return f"{name} = {m.group(2)}" if m.group(2) else name

    return FLAG_RUN.sub(lambda run: ", ".join(one(m) for m in FLAG.finditer(run.group(0))), hint)


def error_text(err: SvdAppError) -> str:
    return f"{err.message} — {ui_hint(err.hint)}" if err.hint else err.message


def preview_frame(image: str | None, width: Any, height: Any, fit: str):
    """Exactly the frame the model will receive (empty without a photo), its size in the label."""
    label = f"Model input · {int(width)}×{int(height)}"
    if not image:
        return gr.Image(value=None, label=label)
    from ..imageprep import fit as fit_image, load_image
    try:
        return gr.Image(value=fit_image(load_image(image), int(width), int(height), fit or "contain"), label=label)
    except SvdAppError as exc:
        gr.Warning(error_text(exc))
        return gr.Image(value=None, label=label)


def model_note(meta: dict[str, Any]) -> str:
    if meta.get("engine") != "svd":
        return ""
    return "model loaded for this run" if meta.get("model_loaded_this_run") else "model already loaded"


def result_markdown(meta: dict[str, Any], origin: str = "") -> str:
    s, out = meta.get("settings", {}), meta.get("output", {})
    lines = [f"**Seed {meta.get('seed')}** · {out.get('frames')} frames · {out.get('width')}×{out.get('height')} · "
             f"{out.get('fps')} fps · {out.get('duration_s')} s · H.264"]
    lines.append(f"Engine: {meta.get('engine_label') or meta.get('engine')}")
    if meta.get("engine") == "classic":
        camera = meta.get("classic", {}).get("camera_label") or meta.get("classic", {}).get("camera")
        lines.append(f"Preset *{meta.get('preset')}* · camera {camera} · fit {s.get('fit')}")
    else:
        lines.append(f"Preset *{meta.get('preset')}* · steps {s.get('steps')} · motion {s.get('motion')} · "
                     f"noise aug {s.get('noise_aug')} · conditioning fps {s.get('cond_fps')} · fit {s.get('fit')} · "
                     f"memory plan {meta.get('memory_plan')} · decode chunk {meta.get('decode_chunk_used')} · "
                     f"speed {meta.get('speed_mode', 'exact')}")
    fin = meta.get("finishing") or {}
    done = [f"loop {fin['loop']}" if fin.get("loop") not in (None, "none") else "",
            f"{fin['interpolate']}× frames" if fin.get("interpolate") not in (None, 1) else "",
            f"framing {fin['framing']}" if fin.get("framing") not in (None, "none") else "",
            f"{fin['seconds']} s long" if fin.get("seconds") else ""]
    if any(done):
        lines.append("Finishing: " + ", ".join(d for d in done if d))
    timings = meta.get("timings_s", {})
    if timings.get("total") is not None:
        lines.append(f"Made in {timings['total']:.1f} s" + (f" ({origin})" if origin else ""))
    elif origin:
        lines.append(origin)
    for note in meta.get("fallbacks", []):
        lines.append(f"⚠ {ui_hint(note)}")
    return "\n\n".join(lines)


def other_files(meta: dict[str, Any]):
    """The extra formats of a result (WebM, GIF, poster) that exist on disk."""
    files = [p for fmt, p in ((meta.get("output") or {}).get("files") or {}).items()
             if fmt != "mp4" and Path(p).is_file()]
    return gr.File(value=files or None, visible=bool(files))
