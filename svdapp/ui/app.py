"""The page: build_app lays out D1 (environment) → D2 (photo) → D3 (settings) → Generate →
D4 (result, history) and wires their events.

Everything a session owns stays in its component values and ``gr.State``: its uploads, its
results, the history item it shows. Cancel events are keyed by the session (CancelBoard).
"""

from __future__ import annotations

import gradio as gr

from .. import __version__, presets
from ..errors import Cancelled, SvdAppError
from ..history import PastResult
from ..vocab import Engine, Fit
from .api import add_endpoints
from .controls import FITS, ORIENTATIONS, PRESET_CHOICES, advanced_fields, finishing_fields, generate_label
from .environment import env_view, save_token_ui, validate_token_ui
from .forms import CUSTOM, changed_fields, make_request, orientation_of, preset_fields, reuse_values, turn
from .generation import CancelBoard, run_generation
from .history import gallery_value, history_items
from .theme import LOGO, TAGLINE, TITLE
from .views import error_text, model_note, other_files, preview_frame, result_markdown


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
                    fit = gr.Radio(FITS, value=Fit.CONTAIN.value, label="Fit", elem_id="fit")

                gr.Markdown("### <span class='step'>D3</span>Settings", elem_classes="step-title")
                preset = gr.Radio(PRESET_CHOICES, value=start, label="Preset", elem_id="preset")
                preset_info = gr.Markdown(presets.PRESETS[start].description, elem_id="preset-info")
                with gr.Accordion("Advanced", open=False, elem_id="advanced"):
                    form = advanced_fields(start_values)
                with gr.Accordion("Engine & finishing", open=False, elem_id="finishing"):
                    extras = finishing_fields()

                with gr.Row():
                    generate_btn = gr.Button(generate_label(Engine.AUTO), variant="primary", size="lg", scale=3,
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

        extras["engine"].change(lambda engine: gr.Button(value=generate_label(engine)),
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
                req = make_request(data[photo], data[base_preset], changed_fields(values, data[base_preset]),
                                   {k: data[c] for k, c in extras.items()})
                result = run_generation(req, progress, board.get(request.session_hash))
            except Cancelled:
                gr.Info("Cancelled — nothing was written.")
                return {status: "Cancelled — nothing was written."}
            except SvdAppError as exc:
                raise gr.Error(error_text(exc), title="Could not make the video") from None
            for note in result.fallbacks:
                gr.Warning(note)
            item = PastResult(result.video.parent, result.meta)
            own = [*data[own_results], str(result.video.parent)]
            items = history_items(own, not exposed)
            return {video: str(result.video), download: gr.update(value=str(result.video), visible=True),
                    others: other_files(result.meta),
                    reuse_btn: gr.update(visible=True), info: result_markdown(result.meta, model_note(result.meta)),
                    status: f"Done: `{result.video.parent.name}`", own_results: own, shown_items: items,
                    gallery: gallery_value(items), selected: item, form["seed"]: result.seed}

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
            item = items[evt.index]
            path = str(item.video)
            return {video: path, download: gr.update(value=path, visible=True), reuse_btn: gr.update(visible=True),
                    others: other_files(item.meta),
                    info: result_markdown(item.meta, f"from history: {item.folder.name}"), selected: item}

        gallery.select(show_item, shown_items, [video, download, others, reuse_btn, info, selected],
                       concurrency_limit=None,
                       api_visibility="private")

        def reuse(item):
            if not item:
                return gr.skip()
            values = reuse_values(item.meta)
            targets = {**form, **extras, "fit": fit, "orientation": orientation, "preset": base_preset}
            updates = {targets[k]: v for k, v in values.items()}
            updates.update({preset: CUSTOM, preset_info: f"Settings of seed {values['seed']} loaded; press Generate "
                                                         "to remake it."})
            return updates

        reuse_btn.click(reuse, selected, [*form.values(), *extras.values(), preset, preset_info, fit, orientation,
                                          base_preset],
                        queue=False, api_visibility="private")

        add_endpoints(board)
    return demo
