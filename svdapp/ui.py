"""The web app: Gradio Blocks for D1 (environment) → D2 (photo) → Generate → D4 (result, history).

A thin shell over ``jobs.run_request``: every control maps to one GenerationParams field by
name, a click builds one GenerationRequest, and the result (or the SvdAppError's message and
fix) is shown. Nothing here imports torch; the model loads on the first generation.

Sessions are kept apart (other SVD web UIs showed one user's images to another): uploads
and results live in per-session component values and ``gr.State``; cancel events are keyed
by the session. The history gallery shows every result in outputs/ only while the app is
reachable from this computer alone; once it is shared (``--share`` or a non-loopback
``--host``) each session sees only what it made itself, and the token cannot be changed.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from . import __version__, presets
from .cli import CAMERAS, FRAMINGS, LOOPS  # plain tuples: importing motion/finishing would load OpenCV
from .errors import Cancelled, InputError, SvdAppError
from .settings import Settings, load_settings, mask_token, save_token

TITLE = "svdapp"
TAGLINE = "Turn one product photo into a short, browser-ready product video with Stable Video Diffusion."
CUSTOM = "custom"
PRESET_CHOICES = [(p.label, p.name) for p in presets.PRESETS.values()] + [("Custom", CUSTOM)]
STAGE_LABELS = {"load": "Loading model", "denoise": "Denoising", "decode": "Decoding frames", "encode": "Encoding video"}
ENGINE_CHOICES = [("Auto — SVD on an NVIDIA GPU, else classic", "auto"), ("Stable Video Diffusion", "svd"),
                  ("Classic camera motion (no AI, any CPU)", "classic")]
GENERATE_LABELS = {"auto": "Generate video (SVD)", "svd": "Generate video (SVD)", "classic": "Generate video (classic)"}
EXTRA_FORMATS = [("WebM (VP9)", "webm"), ("GIF", "gif"), ("Poster PNG", "poster")]
ORIENTATIONS = [("Landscape 16:9", "landscape"), ("Portrait 9:16", "portrait")]
FITS = [("Contain — whole photo, padded", "contain"), ("Cover — fill the frame, crop", "cover")]
# Form fields that map one-to-one onto GenerationParams (fit lives in D2, seed has a checkbox).
FIELDS = ("frames", "steps", "fps", "cond_fps", "motion", "noise_aug", "width", "height", "decode_chunk", "memory")
# CLI flags named in engine hints → where the same setting lives in this UI.
UI_NAMES = {"--memory": "Advanced → Memory plan", "--frames": "Advanced → Frames", "--steps": "Advanced → Steps",
            "--width": "Advanced → Width", "--height": "Advanced → Height", "--seed": "Advanced → Seed",
            "--decode-chunk": "Advanced → Decode chunk", "--fps": "Advanced → Playback fps",
            "--motion": "Advanced → Motion strength", "--noise-aug": "Advanced → Noise augmentation",
            "--cond-fps": "Advanced → Conditioning fps", "--engine": "Engine & finishing → Engine",
            "--camera": "Engine & finishing → Camera move", "--loop": "Engine & finishing → Loop",
            "--framing": "Engine & finishing → Framing", "--formats": "Engine & finishing → Also write",
            "--fit": "D2 → Fit", "--portrait": "D2 → Orientation"}
FLAG_RUN = re.compile(r"--[a-z-]+(?: (?!--)[\w.,#-]+)?(?: --[a-z-]+(?: (?!--)[\w.,#-]+)?)*")
FLAG = re.compile(r"(--[a-z-]+)(?: ((?!--)[\w.,#-]+))?")

CSS = """
.gradio-container { max-width: 1440px !important; margin: 0 auto; }
#svd-header { display: flex; align-items: center; gap: 14px; padding: 6px 2px 2px; }
#svd-header .logo { width: 42px; height: 42px; border-radius: 10px; flex: none;
  background: linear-gradient(135deg, #4f46e5, #0ea5e9); display: grid; place-items: center; }
#svd-header h1 { font-size: 1.45rem; margin: 0; line-height: 1.2; }
#svd-header p { margin: 2px 0 0; opacity: .75; }
#svd-header .version { margin-left: auto; font-size: .8rem; opacity: .55; }
.step-title h3 { margin: 4px 0 0 !important; font-size: 1.02rem !important; }
.step-title h3 .step { display: inline-block; min-width: 2.1em; padding: 1px 6px; margin-right: 6px;
  border-radius: 6px; background: var(--primary-100); color: var(--primary-700); font-size: .8rem; }
#env-checks table { font-size: .88rem; margin: 0; width: 100%; }
#env-checks :is(table, thead, tbody, tr) { border: 0 !important; box-shadow: none !important; }
#env-checks td { vertical-align: top; padding: 2px 8px; border: none !important; }
#env-checks tr + tr td { border-top: 1px solid var(--border-color-primary) !important; }
#env-checks td:nth-child(2) { white-space: nowrap; }
#env-checks .ok { color: #16a34a; font-weight: 700; }
#env-checks .bad { color: #dc2626; font-weight: 700; }
#env-checks .warn { color: #d97706; font-weight: 700; }
#run-status { min-height: 1.6em; }
#result-info { font-size: .92rem; }
#generate-btn { font-size: 1.05rem; }
footer { opacity: .6; }
"""

# The result plays muted (browsers only autoplay muted media); gr.Video has no muted flag.
MUTE_JS = """() => {
  const mute = () => document.querySelectorAll('#result-video video').forEach(v => { v.muted = true; });
  new MutationObserver(mute).observe(document.body, {childList: true, subtree: true});
  mute();
}"""

LOGO = ('<svg width="24" height="24" viewBox="0 0 24 24" fill="none" stroke="white" stroke-width="2" '
        'stroke-linecap="round" stroke-linejoin="round"><rect x="3" y="5" width="13" height="14" rx="2"/>'
        '<path d="M16 10l5-3v10l-5-3z"/></svg>')


# ---------------------------------------------------------------- form values ----------

def preset_fields(name: str) -> dict[str, Any]:
    """The form values a preset stands for."""
    params = presets.PRESETS[name].params.to_dict()
    return {k: params[k] for k in FIELDS}


def orientation_of(width: int, height: int) -> str:
    return "portrait" if height > width else "landscape"


def turn(width: int, height: int, orientation: str) -> tuple[int, int]:
    """Width and height with the long side where the orientation wants it."""
    long, short = max(width, height), min(width, height)
    return (short, long) if orientation == "portrait" else (long, short)


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
        elif name in ("memory", "fit"):
            out[name] = str(value)
        else:
            out[name] = _int(value)
    return out


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


# ---------------------------------------------------------------- D1 environment -------

def check_report(settings: Settings | None = None) -> dict[str, Any]:
    """The D1 checks as data (the /check endpoint)."""
    from .envcheck import can_generate, run_checks
    checks = run_checks(settings or load_settings())
    return {"ready": can_generate(checks),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail, "hint": c.hint, "required": c.required}
                       for c in checks]}


def check_markdown(report: dict[str, Any]) -> str:
    rows = []
    for c in report["checks"]:
        mark = ('<span class="ok">✓</span>' if c["ok"] else
                '<span class="bad">✗</span>' if c["required"] else '<span class="warn">!</span>')
        fix = f"<br><small>Fix: {_escape(c['hint'])}</small>" if c["hint"] and not c["ok"] else ""
        rows.append(f"<tr><td>{mark}</td><td><b>{_escape(c['name'])}</b></td><td>{_escape(c['detail'])}{fix}</td></tr>")
    problems = sum(1 for c in report["checks"] if not c["ok"] and c["required"])
    summary = ("**Ready to generate.**" if report["ready"] else
               f"**Not ready: {problems} problem{'s' if problems != 1 else ''}.** Follow the fix on each ✗ line, "
               "then press Re-check.")
    return f"{summary}\n\n<table>{''.join(rows)}</table>"


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def env_view() -> tuple[str, Any]:
    """D1 text plus its panel: open with the problems, folded away once ready."""
    try:
        report = check_report()
    except Exception as exc:  # a broken check must still leave the page usable
        from .jobs import describe_error
        return f"✗ The environment check itself failed: {error_text(describe_error(exc))}", gr.Accordion(open=True)
    problems = sum(1 for c in report["checks"] if not c["ok"] and c["required"])
    label = ("D1 · Environment — ready ✓" if report["ready"] else
             f"D1 · Environment — {problems} problem{'s' if problems != 1 else ''} to fix")
    return check_markdown(report), gr.Accordion(label=label, open=not report["ready"])


def validate_token_ui(token: str) -> str:
    from .hub import validate_token
    if not (token or "").strip():
        return "Paste a token first (it starts with `hf_`)."
    try:
        name = validate_token(token, load_settings())
    except SvdAppError as exc:
        return f"✗ {error_text(exc)}"
    return f"✓ Token {mask_token(token.strip())} belongs to **{_escape(name)}**. Press *Save to .env* to keep it."


def save_token_ui(token: str) -> tuple[str, str]:
    """Save to .env (mode 0600); clear the field so the token is never sent back to the page."""
    if not (token or "").strip():
        return "", "Paste a token first (it starts with `hf_`)."
    if not token.strip().startswith("hf_"):
        return "", "✗ That does not look like a Hugging Face token — copy one from https://huggingface.co/settings/tokens."
    settings = load_settings()
    try:
        path = save_token(token, settings.env_file)
    except OSError as exc:
        return "", f"✗ Could not write {settings.env_file}: {exc.strerror} — check the folder is writable."
    return "", f"✓ Saved {mask_token(token.strip())} to `{path}` (readable only by you)."


# ---------------------------------------------------------------- D2 photo -------------

def preview_frame(image: str | None, width: Any, height: Any, fit: str):
    """Exactly the frame the model will receive (empty without a photo), its size in the label."""
    label = f"Model input · {int(width)}×{int(height)}"
    if not image:
        return gr.Image(value=None, label=label)
    from .imageprep import fit as fit_image, load_image
    try:
        return gr.Image(value=fit_image(load_image(image), int(width), int(height), fit or "contain"), label=label)
    except SvdAppError as exc:
        gr.Warning(error_text(exc))
        return gr.Image(value=None, label=label)


# ---------------------------------------------------------------- generation -----------

@dataclass
class CancelBoard:
    """One cancel Event per browser session; a session can only cancel its own run."""

    events: dict[str, threading.Event]
    lock: threading.Lock

    @classmethod
    def new(cls) -> "CancelBoard":
        return cls({}, threading.Lock())

    def arm(self, session: str) -> threading.Event:
        with self.lock:
            event = self.events[session] = threading.Event()
            return event

    def get(self, session: str) -> threading.Event:
        with self.lock:
            return self.events.get(session) or threading.Event()

    def cancel(self, session: str) -> bool:
        with self.lock:
            event = self.events.get(session)
        if event is None:
            return False
        event.set()
        return True

    def disarm(self, session: str) -> None:
        with self.lock:
            self.events.pop(session, None)


class ProgressReporter:
    """run_request's progress(stage, done, total) → gr.Progress with stage words and an ETA."""

    def __init__(self, progress: gr.Progress | None) -> None:
        self.progress = progress
        self.denoise_start: float | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.progress is None:
            return
        label = STAGE_LABELS.get(stage, stage)
        if stage == "denoise":
            label = f"{label} step {done}/{total}{self._eta(done, total)}"
        elif total > 1:
            label = f"{label} {done}/{total}"
        self.progress(done / total if total else None, desc=label)

    def _eta(self, done: int, total: int) -> str:
        now = time.perf_counter()
        if done == 0 or self.denoise_start is None:
            self.denoise_start = now
            return ""
        left = (now - self.denoise_start) / done * (total - done)
        return f" · about {left:.0f} s left" if left >= 1 else ""


def make_request(image: Any, preset: str, values: dict[str, Any], extras: dict[str, Any] | None = None):
    """Photo + preset + form values (+ engine and finishing choices) → one GenerationRequest."""
    from .request import GenerationRequest
    if not image:
        raise InputError("No product photo yet.", "Drop a photo into D2 (or paste one) first.")
    name = (preset or presets.DEFAULT_PRESET).strip().lower()
    base = presets.DEFAULT_PRESET if name == CUSTOM else name
    return GenerationRequest(image=image, preset=base, overrides=overrides_from(values),
                             **request_extras(extras or {}))


def request_extras(extras: dict[str, Any]) -> dict[str, Any]:
    """Engine and finishing choices (None/"" = the request's default) → GenerationRequest fields."""
    out: dict[str, Any] = {}
    for name in ("engine", "motion_style", "loop", "framing"):
        if extras.get(name):
            out[name] = str(extras[name])
    if extras.get("seconds") not in (None, "", 0):
        out["seconds"] = float(extras["seconds"])
    if extras.get("interpolate") not in (None, ""):
        out["interpolate"] = _int(extras["interpolate"])
    formats = extras.get("formats")
    if formats:
        if isinstance(formats, str):
            formats = [f.strip() for f in formats.split(",")]
        out["formats"] = tuple(dict.fromkeys(["mp4", *[f for f in formats if f]]))
    return out


def run_generation(request, progress: gr.Progress | None, cancel: threading.Event):
    """run_request with every failure turned into a readable gr.Error."""
    from .jobs import describe_error, run_request
    if cancel.is_set():  # cancelled while waiting in the queue: skip loading the model at all
        raise Cancelled()
    if progress is not None:
        progress(0, desc="Preparing the photo")
    try:
        result = run_request(request, load_settings(), progress=ProgressReporter(progress), cancel=cancel)
    except Cancelled:
        raise
    except Exception as exc:
        err = describe_error(exc)
        if not isinstance(exc, SvdAppError):
            import traceback
            traceback.print_exc()  # for the person running the server; the browser gets the one-line form
        raise gr.Error(error_text(err), title="Could not make the video") from None
    return result


def result_metadata(result) -> dict[str, Any]:
    return {**result.meta, "folder": str(result.video.parent)}


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
                     f"memory plan {meta.get('memory_plan')} · decode chunk {meta.get('decode_chunk_used')}")
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


# ---------------------------------------------------------------- history --------------

def read_meta(folder: str | Path) -> dict[str, Any] | None:
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (folder / "video.mp4").is_file():
        return None
    meta["folder"] = str(folder)
    return meta


def history_items(own: list[str], show_all: bool) -> list[dict[str, Any]]:
    """Newest first: everything in outputs/ (local app) or only this session's folders."""
    if show_all:
        from .jobs import list_history
        return list_history(load_settings().outputs_dir)
    metas = [m for m in (read_meta(f) for f in own) if m is not None]
    return sorted(metas, key=lambda m: m.get("created", ""), reverse=True)


def gallery_value(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    value = []
    for meta in items:
        folder = Path(meta["folder"])
        thumb = folder / "input.png"
        out = meta.get("output", {})
        caption = f"{out.get('frames')}f · {float(out.get('duration_s') or 0):.1f}s"
        value.append((str(thumb if thumb.is_file() else folder / "video.mp4"), caption))
    return value


# ---------------------------------------------------------------- the app --------------

def is_exposed(host: str, share: bool) -> bool:
    """True when people other than this computer's user can reach the app."""
    if share:
        return True
    if host in ("localhost", ""):
        return host == ""
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def theme() -> gr.themes.Base:
    # System fonts only: a Google font would make every page load wait on the network.
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
                          font=["Inter", "ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "monospace"])


def build_app(exposed: bool = False) -> gr.Blocks:
    """The Blocks app. ``exposed`` hides the shared history and the token field."""
    board = CancelBoard.new()
    start = presets.DEFAULT_PRESET
    start_values = preset_fields(start)

    with gr.Blocks(title="svdapp — product photo to video", analytics_enabled=False,
                   delete_cache=(3600, 24 * 3600) if exposed else None) as demo:
        own_results = gr.State([])  # this session's result folders
        shown_items = gr.State([])  # gallery index → meta, for this session's gallery
        base_preset = gr.State(start)
        selected = gr.State(None)  # meta of the history item shown in D4

        gr.HTML(f'<div id="svd-header"><div class="logo">{LOGO}</div><div><h1>{TITLE}</h1>'
                f'<p>{TAGLINE}</p></div><span class="version">v{__version__}</span></div>')

        with gr.Accordion("D1 · Environment — checking…", open=True, elem_id="env") as env_box:
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    env_md = gr.Markdown("Checking this machine…", elem_id="env-checks")
                    recheck = gr.Button("Re-check", size="sm", elem_id="recheck-btn")
                with gr.Column(scale=2):
                    if exposed:
                        gr.Markdown("<small>The Hugging Face token can only be changed from the computer running "
                                    "the app (this app is shared).</small>")
                    else:
                        with gr.Group():
                            token = gr.Textbox(label="Hugging Face token", type="password", placeholder="hf_…",
                                               info="Needed once to download the gated model. Stored in .env "
                                                    "(mode 0600); never shown again.", elem_id="token")
                            with gr.Row():
                                validate_btn = gr.Button("Validate", size="sm")
                                save_btn = gr.Button("Save to .env", size="sm")
                        token_md = gr.Markdown()

        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=440):
                gr.Markdown("### <span class='step'>D2</span>Product photo", elem_classes="step-title")
                with gr.Row(equal_height=True):
                    photo = gr.Image(label="Product photo", type="filepath", sources=["upload", "clipboard"],
                                     height=260, elem_id="photo")
                    preview = gr.Image(label="Model input", interactive=False, height=260,
                                       elem_id="preview", buttons=[])
                with gr.Row():
                    orientation = gr.Radio(ORIENTATIONS, value=orientation_of(start_values["width"],
                                                                              start_values["height"]),
                                           label="Orientation", elem_id="orientation")
                    fit = gr.Radio(FITS, value="contain", label="Fit", elem_id="fit")

                gr.Markdown("### <span class='step'>D3</span>Settings", elem_classes="step-title")
                preset = gr.Radio(PRESET_CHOICES, value=start, label="Preset", elem_id="preset")
                preset_info = gr.Markdown(presets.PRESETS[start].description, elem_id="preset-info")
                with gr.Accordion("Advanced", open=False, elem_id="advanced"):
                    form = _advanced_fields(start_values)
                with gr.Accordion("Engine & finishing", open=False, elem_id="finishing"):
                    extras = _finishing_fields()

                with gr.Row():
                    generate_btn = gr.Button(GENERATE_LABELS["auto"], variant="primary", size="lg", scale=3,
                                             elem_id="generate-btn")
                    cancel_btn = gr.Button("Cancel", variant="stop", size="lg", scale=1, interactive=False,
                                           elem_id="cancel-btn")
                status = gr.Markdown("", elem_id="run-status")

            with gr.Column(scale=6, min_width=440):
                gr.Markdown("### <span class='step'>D4</span>Result", elem_classes="step-title")
                video = gr.Video(label="Video", autoplay=True, loop=True, interactive=False, height=420,
                                 elem_id="result-video", buttons=["download"])
                with gr.Row():
                    download = gr.DownloadButton("Download MP4", visible=False, size="md", elem_id="download-btn")
                    reuse_btn = gr.Button("Use these settings", visible=False, size="md", elem_id="reuse-btn")
                others = gr.File(label="Other formats", file_count="multiple", visible=False, interactive=False,
                                 elem_id="other-files")
                info = gr.Markdown("Your video appears here.", elem_id="result-info")

                gr.Markdown("### History", elem_classes="step-title")
                gr.Markdown("<small>" + ("Only the videos made in this browser session (the app is shared, so other "
                                         "people's videos stay private)." if exposed else
                                         "Every video in outputs/ on this computer. Click one to show it.") + "</small>")
                gallery = gr.Gallery(label="History", show_label=False, columns=5, height=190, allow_preview=False,
                                     object_fit="cover", interactive=False, fit_columns=False, buttons=[],
                                     elem_id="history")

        # ---- D1
        demo.load(env_view, None, [env_md, env_box], concurrency_limit=None, api_visibility="private")
        recheck.click(env_view, None, [env_md, env_box], concurrency_limit=None, api_visibility="private")
        if not exposed:
            validate_btn.click(validate_token_ui, token, token_md, concurrency_limit=None, api_visibility="private")
            save_btn.click(save_token_ui, token, [token, token_md], concurrency_limit=None,
                           api_visibility="private").then(
                env_view, None, [env_md, env_box], concurrency_limit=None, api_visibility="private")

        # ---- D2 / presets: fields fill from a preset; touching a field makes the preset "Custom"
        preview_inputs = [photo, form["width"], form["height"], fit]
        for trigger in (photo.change, fit.input):
            trigger(preview_frame, preview_inputs, preview, concurrency_limit=None, api_visibility="private")

        def choose_preset(name):
            if name == CUSTOM:
                return {preset_info: "Your own settings: open *Advanced*."}
            values = preset_fields(name)
            updates = {form[k]: v for k, v in values.items()}
            updates.update({base_preset: name, preset_info: presets.PRESETS[name].description,
                            orientation: orientation_of(values["width"], values["height"])})
            return updates

        preset.input(choose_preset, preset, [preset_info, base_preset, orientation, *form.values()],
                     concurrency_limit=None, api_visibility="private")
        for name, comp in form.items():
            if name not in ("seed", "random_seed"):
                comp.input(lambda: (CUSTOM, "Your own settings."), None, [preset, preset_info],
                           queue=False, api_visibility="private")
        for side in (form["width"], form["height"]):  # also when a preset or the orientation sets them
            side.change(preview_frame, preview_inputs, preview, concurrency_limit=None, api_visibility="private")

        def turn_fields(orient, width, height):
            w, h = turn(int(width), int(height), orient)
            return w, h

        orientation.input(turn_fields, [orientation, form["width"], form["height"]],
                          [form["width"], form["height"]], concurrency_limit=None, api_visibility="private")

        extras["engine"].change(lambda engine: gr.Button(value=GENERATE_LABELS.get(engine, GENERATE_LABELS["svd"])),
                                extras["engine"], generate_btn, queue=False, api_visibility="private")
        form["random_seed"].change(lambda random: gr.Number(interactive=not random), form["random_seed"],
                                   form["seed"], queue=False, api_visibility="private")

        # ---- Generate / Cancel
        def arm(request: gr.Request):
            board.arm(request.session_hash)
            return (gr.update(interactive=False), gr.update(interactive=True),
                    "Working… the video panel shows the queue position, stage and time left.")

        def generate_from_form(data, request: gr.Request, progress=gr.Progress()):
            values = {name: data[comp] for name, comp in form.items() if name not in ("seed", "random_seed")}
            values["seed"] = None if data[form["random_seed"]] else data[form["seed"]]
            values["fit"] = data[fit]
            try:
                req = make_request(data[photo], data[base_preset], values, {k: data[c] for k, c in extras.items()})
                result = run_generation(req, progress, board.get(request.session_hash))
            except Cancelled:
                gr.Info("Cancelled — nothing was written.")
                return {status: "Cancelled — nothing was written."}
            except SvdAppError as exc:
                raise gr.Error(error_text(exc), title="Could not make the video") from None
            for note in result.fallbacks:
                gr.Warning(ui_hint(note))
            meta = result_metadata(result)
            own = [*data[own_results], str(result.video.parent)]
            items = history_items(own, not exposed)
            return {video: str(result.video), download: gr.update(value=str(result.video), visible=True),
                    others: other_files(meta),
                    reuse_btn: gr.update(visible=True), info: result_markdown(meta, model_note(meta)),
                    status: f"Done: `{result.video.parent.name}`", own_results: own, shown_items: items,
                    gallery: gallery_value(items), selected: meta, form["seed"]: result.seed}

        def disarm(request: gr.Request):
            board.disarm(request.session_hash)
            return gr.update(interactive=True), gr.update(interactive=False)

        def cancel(request: gr.Request):
            if board.cancel(request.session_hash):
                return "Cancelling… (stops after the current step)"
            return gr.skip()

        gen_inputs = {photo, fit, base_preset, own_results, *form.values(), *extras.values()}
        gen_outputs = [video, download, others, reuse_btn, info, status, own_results, shown_items, gallery, selected,
                       form["seed"]]
        run = generate_btn.click(arm, None, [generate_btn, cancel_btn, status], queue=False,
                                 api_visibility="private").then(
            generate_from_form, gen_inputs, gen_outputs, concurrency_id="gpu", concurrency_limit=1,
            show_progress_on=video, api_visibility="private")
        # .then alone is skipped in the browser after a gr.Error; success and failure cover both ends.
        run.success(disarm, None, [generate_btn, cancel_btn], queue=False, api_visibility="private")
        run.failure(disarm, None, [generate_btn, cancel_btn], queue=False, api_visibility="private")
        cancel_btn.click(cancel, None, status, queue=False, api_visibility="private")

        def forget(request: gr.Request):
            board.disarm(request.session_hash)

        demo.unload(forget)

        # ---- History
        def refresh_history(own):
            items = history_items(own, not exposed)
            return items, gallery_value(items)

        demo.load(refresh_history, own_results, [shown_items, gallery], concurrency_limit=None,
                  api_visibility="private")

        def show_item(items, evt: gr.SelectData):
            if evt.index is None or evt.index >= len(items):
                return gr.skip()
            meta = items[evt.index]
            path = str(Path(meta["folder"]) / "video.mp4")
            return {video: path, download: gr.update(value=path, visible=True), reuse_btn: gr.update(visible=True),
                    others: other_files(meta),
                    info: result_markdown(meta, f"from history: {Path(meta['folder']).name}"), selected: meta}

        gallery.select(show_item, shown_items, [video, download, others, reuse_btn, info, selected],
                       concurrency_limit=None,
                       api_visibility="private")

        def reuse(meta):
            if not meta:
                return gr.skip()
            s = meta.get("settings", {})
            updates = {form[k]: s[k] for k in FIELDS if k in s}
            updates.update({form["seed"]: s.get("seed"), form["random_seed"]: False, preset: CUSTOM,
                            preset_info: f"Settings of seed {s.get('seed')} loaded; press Generate to remake it.",
                            fit: s.get("fit", "contain"),
                            orientation: orientation_of(s.get("width", 1024), s.get("height", 576))})
            if meta.get("preset") in presets.PRESETS:
                updates[base_preset] = meta["preset"]
            fin = meta.get("finishing") or {}
            updates.update({extras["engine"]: meta.get("engine_requested") or meta.get("engine") or "auto",
                            extras["loop"]: fin.get("loop") or "none", extras["seconds"]: fin.get("seconds"),
                            extras["interpolate"]: str(fin.get("interpolate") or 1),
                            extras["framing"]: fin.get("framing") or "none"})
            camera = (meta.get("classic") or {}).get("camera")
            if camera in CAMERAS:
                updates[extras["motion_style"]] = camera
            return updates

        reuse_btn.click(reuse, selected, [*form.values(), *extras.values(), preset, preset_info, fit, orientation,
                                          base_preset],
                        queue=False, api_visibility="private")

        _api_endpoints(board)
    return demo


def _advanced_fields(values: dict[str, Any]) -> dict[str, gr.components.Component]:
    """The Advanced accordion; keys are GenerationParams field names."""
    lim = presets
    with gr.Row():
        frames = gr.Slider(2, lim.MAX_FRAMES, value=values["frames"], step=1, label="Frames",
                           info="SVD-XT is tuned for 25", elem_id="field-frames")
        steps = gr.Slider(1, 150, value=values["steps"], step=1, label="Steps", info="denoising steps",
                          elem_id="field-steps")
    with gr.Row():
        fps = gr.Slider(1, 60, value=values["fps"], step=1, label="Playback fps", info="of the video file",
                        elem_id="field-fps")
        cond_fps = gr.Slider(1, 60, value=values["cond_fps"], step=1, label="Conditioning fps",
                             info="what the model is told (6 for SVD-XT 1.1)", elem_id="field-cond_fps")
    with gr.Row():
        motion = gr.Slider(1, 255, value=values["motion"], step=1, label="Motion strength",
                           info="motion bucket; higher moves more", elem_id="field-motion")
        noise_aug = gr.Slider(0.0, 1.0, value=values["noise_aug"], step=0.01, label="Noise augmentation",
                              info="higher departs more from the photo", elem_id="field-noise_aug")
    with gr.Row():
        width = gr.Slider(64, lim.MAX_SIDE, value=values["width"], step=64, label="Width", elem_id="field-width")
        height = gr.Slider(64, lim.MAX_SIDE, value=values["height"], step=64, label="Height", elem_id="field-height")
    with gr.Row():
        decode_chunk = gr.Slider(1, 25, value=values["decode_chunk"], step=1, label="Decode chunk",
                                 info="frames decoded at once; lower saves memory", elem_id="field-decode_chunk")
        memory = gr.Dropdown(list(lim.MEMORY_PLANS), value=values["memory"], label="Memory plan",
                             info="auto picks from free GPU memory", elem_id="field-memory")
    with gr.Row():
        seed = gr.Number(value=None, precision=0, minimum=0, maximum=2**32 - 1, label="Seed", interactive=False,
                         info="untick Random seed to set it; the last run's seed lands here", elem_id="field-seed")
        random_seed = gr.Checkbox(value=True, label="Random seed", elem_id="field-random_seed")
    return {"frames": frames, "steps": steps, "fps": fps, "cond_fps": cond_fps, "motion": motion,
            "noise_aug": noise_aug, "width": width, "height": height, "decode_chunk": decode_chunk,
            "memory": memory, "seed": seed, "random_seed": random_seed}


def _finishing_fields() -> dict[str, gr.components.Component]:
    """Engine choice and the finishing steps; keys are GenerationRequest field names."""
    engine = gr.Radio(ENGINE_CHOICES, value="auto", label="Engine", elem_id="field-engine")
    with gr.Row():
        motion_style = gr.Dropdown(list(CAMERAS), value="push-in", label="Camera move (classic engine)",
                                   elem_id="field-motion_style")
        loop = gr.Radio(list(LOOPS), value="none", label="Loop", info="boomerang: there and back; crossfade: "
                        "seamless", elem_id="field-loop")
    with gr.Row():
        seconds = gr.Number(value=None, minimum=0, label="Length (s)", info="empty: the clip's own length",
                            elem_id="field-seconds")
        interpolate = gr.Radio(["1", "2", "4"], value="1", label="Frame interpolation", info="× frames, smoother",
                               elem_id="field-interpolate")
        framing = gr.Dropdown(list(FRAMINGS), value="none", label="Framing", info="pad to a shape, no crop",
                              elem_id="field-framing")
    formats = gr.CheckboxGroup(EXTRA_FORMATS, value=[], label="Also write", info="MP4 (H.264) is always made",
                               elem_id="field-formats")
    return {"engine": engine, "motion_style": motion_style, "loop": loop, "seconds": seconds,
            "interpolate": interpolate, "framing": framing, "formats": formats}


def other_files(meta: dict[str, Any]):
    """The extra formats of a result (WebM, GIF, poster) that exist on disk."""
    files = [p for fmt, p in ((meta.get("output") or {}).get("files") or {}).items()
             if fmt != "mp4" and Path(p).is_file()]
    return gr.File(value=files or None, visible=bool(files))


def _api_endpoints(board: CancelBoard) -> None:
    """/generate and /check for gradio_client, on hidden components (not part of the page)."""
    with gr.Column(visible=False):
        image = gr.Image(type="filepath", label="image")
        preset = gr.Textbox(value=presets.DEFAULT_PRESET, label="preset")
        numbers = {name: gr.Number(value=None, label=name, precision=None if name == "noise_aug" else 0) for name in
                   ("frames", "steps", "fps", "cond_fps", "motion", "noise_aug", "width", "height",
                    "decode_chunk", "seed")}
        memory = gr.Textbox(value=None, label="memory")
        fit = gr.Textbox(value=None, label="fit")
        portrait = gr.Checkbox(value=False, label="portrait")
        texts = {name: gr.Textbox(value=None, label=name) for name in
                 ("engine", "camera", "loop", "framing", "formats")}
        seconds = gr.Number(value=None, label="seconds")
        interpolate = gr.Number(value=None, label="interpolate", precision=0)
        video_out = gr.File(label="video")
        meta_out = gr.JSON(label="metadata")
        check_out = gr.JSON(label="checks")
        run = gr.Button()
        check = gr.Button()

    def api_generate(image: str, preset: str = presets.DEFAULT_PRESET, frames: int | None = None,
                     steps: int | None = None, fps: int | None = None, cond_fps: int | None = None,
                     motion: int | None = None, noise_aug: float | None = None, width: int | None = None,
                     height: int | None = None, decode_chunk: int | None = None, seed: int | None = None,
                     memory: str | None = None, fit: str | None = None, portrait: bool = False,
                     engine: str | None = None, camera: str | None = None, loop: str | None = None,
                     framing: str | None = None, formats: str | None = None, seconds: float | None = None,
                     interpolate: int | None = None, request: gr.Request = None, progress=gr.Progress()):
        """Photo → (video.mp4, metadata). Every setting but the photo is optional: None keeps the preset's
        (engine: auto; formats: a comma list of webm, gif, poster beside the MP4)."""
        values = dict(frames=frames, steps=steps, fps=fps, cond_fps=cond_fps, motion=motion, noise_aug=noise_aug,
                      width=width, height=height, decode_chunk=decode_chunk, seed=seed, memory=memory, fit=fit)
        extras = dict(engine=engine, motion_style=camera, loop=loop, framing=framing, formats=formats,
                      seconds=seconds, interpolate=interpolate)
        try:
            req = make_request(image, preset, values, extras)
            if portrait:
                from dataclasses import replace
                req = replace(req, portrait=True)
            result = run_generation(req, progress, board.arm(request.session_hash))
        except SvdAppError as exc:
            raise gr.Error(error_text(exc), title="Could not make the video") from None
        finally:
            board.disarm(request.session_hash)
        return str(result.video), result_metadata(result)

    run.click(api_generate, [image, preset, *numbers.values(), memory, fit, portrait, *texts.values(), seconds,
                             interpolate], [video_out, meta_out],
              api_name="generate", concurrency_id="gpu", concurrency_limit=1)
    check.click(lambda: check_report(), None, check_out, api_name="check", concurrency_limit=None)


# ---------------------------------------------------------------- serve ----------------

def parse_auth(pairs: list[str], auth_file: Path | None) -> list[tuple[str, str]]:
    """``user:pass`` strings (flags, then the file's lines) → Gradio's auth list."""
    lines = list(pairs or [])
    if auth_file is not None:
        try:
            text = Path(auth_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"Cannot read --auth-file {auth_file}: {exc.strerror}.",
                             "Give a text file with one user:password per line.") from None
        lines += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    auth = []
    for item in lines:
        user, sep, password = item.partition(":")
        if not sep or not user.strip() or not password:
            raise InputError(f"Login '{item.split(':')[0]}:…' is not in user:password form.",
                             "Write it as --auth alice:a-long-password (one per flag or line).")
        auth.append((user.strip(), password))
    return auth


def check_exposure(args: argparse.Namespace, auth: list[tuple[str, str]]) -> list[str]:
    """Refuse a public link without a login; return warnings to print loudly."""
    warnings = []
    if args.share and not auth:
        if not getattr(args, "insecure_no_auth", False):
            raise InputError("Refusing to create a public link without a login: anyone who finds the link "
                             "could use your GPU and see the videos made there.",
                             "Add --auth user:password (or --auth-file FILE), or pass --insecure-no-auth to "
                             "share without one anyway.")
        warnings.append("WARNING: public link WITHOUT a login (--insecure-no-auth): anyone with the link can "
                        "use your GPU.")
    if not args.share and is_exposed(args.host, False) and not auth:
        warnings.append(f"WARNING: listening on {args.host} without --auth: anyone on your network can use the app.")
    return warnings


def serve(args: argparse.Namespace) -> int:
    """``svdapp serve`` / ``python launch.py``: open the app and block until Ctrl+C."""
    auth = parse_auth(args.auth, getattr(args, "auth_file", None))
    warnings = check_exposure(args, auth)
    settings = load_settings()
    outputs = settings.outputs_dir.resolve()
    outputs.mkdir(parents=True, exist_ok=True)
    demo = build_app(exposed=is_exposed(args.host, args.share))
    demo.queue(default_concurrency_limit=1)
    for line in warnings:
        print(line, file=sys.stderr)
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth or None,
                    auth_message="svdapp: log in with the user and password you were given.",
                    max_file_size=f"{args.max_upload_mb}mb", allowed_paths=[str(outputs)],
                    inbrowser=not args.no_browser, prevent_thread_lock=True, quiet=True,
                    theme=theme(), css=CSS, js=MUTE_JS, footer_links=["api"])
    except OSError as exc:
        raise SvdAppError(f"Could not listen on {args.host}:{args.port} ({exc}).",
                          f"Another program uses port {args.port}: stop it or pick another with --port "
                          f"{args.port + 1}.") from None
    print(f"svdapp is running at {demo.local_url}  (Ctrl+C to stop)", flush=True)
    if args.share:
        if demo.share_url:
            print(f"Public link: {demo.share_url}", flush=True)
        else:
            print("Could not create the public share link (no internet connection, or the tunnel service is "
                  f"unreachable). The app keeps running locally at {demo.local_url}; retry --share when online.",
                  file=sys.stderr, flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0
