"""The page's layout: D1 (environment) → D2 (photo) → D3 (settings) → Generate → D4 (result,
history), as one ``Page`` of components that the wiring in ``app`` connects.

Everything a session owns lives in component values and ``gr.State``: its uploads, its
results, the history item it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .. import __version__, presets
from ..vocab import Engine, Fit
from .controls import (FITS, ORIENTATIONS, PRESET_CHOICES, advanced_fields, finishing_fields, generate_label,
                       takes_field)
from .forms import orientation_of, preset_fields
from .theme import LOGO, TAGLINE, TITLE


@dataclass(frozen=True)
class TokenBox:
    """D1's Hugging Face token field (only on an app that is not shared)."""

    token: gr.Textbox
    validate: gr.Button
    save: gr.Button
    message: gr.Markdown


@dataclass(frozen=True)
class Page:
    # Per-session state.
    own_results: gr.State  # this session's result folders
    shown_items: gr.State  # gallery index → PastResult, for this session's gallery
    base_preset: gr.State  # the preset the form stands on (it stays when the form becomes "Custom")
    selected: gr.State  # the PastResult shown in D4
    take_pick: gr.State  # the index of the take clicked in D4's takes
    # D1
    env_box: gr.Accordion
    env_checks: gr.Markdown
    recheck: gr.Button
    speed_test: gr.Button
    speed_report: gr.Markdown
    token: TokenBox | None
    # D2
    photo: gr.Image
    preview: gr.Image
    orientation: gr.Radio
    fit: gr.Radio
    # D3: form has a control per GenerationParams field, extras per GenerationRequest field
    preset: gr.Radio
    preset_info: gr.Markdown
    advanced_box: gr.Accordion  # holds form
    finishing_box: gr.Accordion  # holds extras
    form: dict[str, gr.components.Component]
    extras: dict[str, gr.components.Component]
    generate: gr.Button
    cancel: gr.Button
    status: gr.Markdown
    # D4
    video: gr.Video
    download: gr.DownloadButton
    reuse: gr.Button
    others: gr.File
    info: gr.Markdown
    takes: gr.Gallery  # the result's takes with their scores
    keep_take: gr.Button
    gallery: gr.Gallery

    @property
    def shown(self) -> list[gr.components.Component]:
        """What showing a result (new or from history) updates."""
        return [self.video, self.download, self.reuse, self.others, self.info, self.selected, self.takes,
                self.keep_take, self.take_pick]


def lay_out(exposed: bool) -> Page:
    """The page's components, inside an open ``gr.Blocks``. ``exposed``: no token field, and
    the history text says only this session's videos are listed."""
    start = presets.DEFAULT_PRESET
    start_values = preset_fields(start)
    state = dict(own_results=gr.State([]), shown_items=gr.State([]), base_preset=gr.State(start),
                 selected=gr.State(None), take_pick=gr.State(None))

    gr.HTML(f'<div id="svd-header"><div class="logo">{LOGO}</div><div><h1>{TITLE}</h1>'
            f'<p>{TAGLINE}</p></div><span class="version">v{__version__}</span></div>')

    with gr.Accordion("D1 · Environment — checking…", open=True, elem_id="env") as env_box:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                env_checks = gr.Markdown("Checking this machine…", elem_id="env-checks")
                with gr.Row():
                    recheck = gr.Button("Re-check", size="sm", elem_id="recheck-btn")
                    speed_test = gr.Button("Speed test (about a minute)", size="sm", elem_id="speedtest-btn")
                speed_report = gr.Markdown("", elem_id="speedtest-report")
            with gr.Column(scale=2):
                token = _token_box(exposed)

    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=440):
            gr.Markdown("### <span class='step'>D2</span>Product photo", elem_classes="step-title")
            with gr.Row(equal_height=True):
                photo = gr.Image(label="Product photo", type="filepath", sources=["upload", "clipboard"],
                                 height=260, elem_id="photo")
                # PNG: exactly the model's frame (Gradio's default WebP is lossy, 40+ levels off).
                preview = gr.Image(label="Model input", interactive=False, height=260, format="png",
                                   elem_id="preview", buttons=[])
            with gr.Row():
                orientation = gr.Radio(ORIENTATIONS, value=orientation_of(start_values["width"],
                                                                          start_values["height"]),
                                       label="Orientation", elem_id="orientation")
                fit = gr.Radio(FITS, value=Fit.CONTAIN.value, label="Fit", elem_id="fit")

            gr.Markdown("### <span class='step'>D3</span>Settings", elem_classes="step-title")
            preset = gr.Radio(PRESET_CHOICES, value=start, label="Preset", elem_id="preset")
            preset_info = gr.Markdown(presets.PRESETS[start].description, elem_id="preset-info")
            takes = takes_field()
            # Built open so that their fields render with the page; app.wire_form folds them once it has
            # loaded. Gradio creates a closed accordion's fields only when it is first opened and gives
            # them their values a frame later: what a user typed in that moment could be reset.
            with gr.Accordion("Advanced", open=True, elem_id="advanced") as advanced_box:
                form = advanced_fields(start_values)
            with gr.Accordion("Engine & finishing", open=True, elem_id="finishing") as finishing_box:
                extras = {**finishing_fields(), "takes": takes}

            with gr.Row():
                generate = gr.Button(generate_label(Engine.AUTO), variant="primary", size="lg", scale=3,
                                     elem_id="generate-btn")
                cancel = gr.Button("Cancel", variant="stop", size="lg", scale=1, interactive=False,
                                   elem_id="cancel-btn")
            status = gr.Markdown("", elem_id="run-status")

        with gr.Column(scale=6, min_width=440):
            gr.Markdown("### <span class='step'>D4</span>Result", elem_classes="step-title")
            video = gr.Video(label="Video", autoplay=True, loop=True, interactive=False, height=420,
                             elem_id="result-video", buttons=["download"])
            with gr.Row():
                download = gr.DownloadButton("Download MP4", visible=False, size="md", elem_id="download-btn")
                reuse = gr.Button("Use these settings", visible=False, size="md", elem_id="reuse-btn")
            others = gr.File(label="Other formats", file_count="multiple", visible=False, interactive=False,
                             elem_id="other-files")
            info = gr.Markdown("Your video appears here.", elem_id="result-info")
            take_views = gr.Gallery(label="Takes — click one to keep it instead", columns=3, rows=1, height=None,
                                    fit_columns=False, allow_preview=False, object_fit="contain", interactive=False,
                                    visible=False, buttons=[], elem_id="takes")
            keep_take = gr.Button("Keep this take instead", visible=False, size="md", elem_id="keep-take-btn")

            gr.Markdown("### History", elem_classes="step-title")
            gr.Markdown("<small>" + ("Only the videos made in this browser session (the app is shared, so other "
                                     "people's videos stay private)." if exposed else
                                     "Every video in outputs/ on this computer. Click one to show it.") + "</small>")
            gallery = gr.Gallery(label="History", show_label=False, columns=5, height=190, allow_preview=False,
                                 object_fit="cover", interactive=False, fit_columns=False, buttons=[],
                                 elem_id="history")

    return Page(**state, env_box=env_box, env_checks=env_checks, recheck=recheck, speed_test=speed_test,
                speed_report=speed_report, token=token, photo=photo,
                preview=preview, orientation=orientation, fit=fit, preset=preset, preset_info=preset_info,
                advanced_box=advanced_box, finishing_box=finishing_box, form=form, extras=extras, generate=generate,
                cancel=cancel, status=status, video=video, download=download, reuse=reuse, others=others,
                info=info, takes=take_views, keep_take=keep_take, gallery=gallery)


def _token_box(exposed: bool) -> TokenBox | None:
    if exposed:
        gr.Markdown("<small>The Hugging Face token can only be changed from the computer running "
                    "the app (this app is shared).</small>")
        return None
    with gr.Group():
        token = gr.Textbox(label="Hugging Face token", type="password", placeholder="hf_…",
                           info="Needed once to download the gated model. Stored in .env "
                                "(mode 0600); never shown again.", elem_id="token")
        with gr.Row():
            validate = gr.Button("Validate", size="sm")
            save = gr.Button("Save to .env", size="sm")
    return TokenBox(token, validate, save, gr.Markdown())
