"""The web app: ``build_app`` lays out the page (``layout``) and wires its events, one function
per part: the environment (D1), the settings form (D2/D3), a generation (Generate, Cancel)
and the result with its history (D4). Cancel events are keyed by the session (CancelBoard).
"""

from __future__ import annotations

from typing import Callable

import gradio as gr

from .. import presets
from ..errors import Cancelled, SvdAppError
from ..history import PastResult
from .api import add_endpoints
from .controls import generate_label
from .environment import env_view, save_token_ui, speed_test_ui, validate_token_ui
from .forms import CUSTOM, changed_fields, make_request, orientation_of, preset_fields, reuse_values, turn
from .generation import CancelBoard, run_generation
from .history import gallery_value, history_items
from .layout import Page, lay_out
from .takes import keep_values, pick, takes_gallery
from .views import error_text, model_note, other_files, preview_frame, result_markdown

# Events that only update the page: not part of the API, never waiting in the GPU queue.
PAGE = dict(concurrency_limit=None, api_visibility="private")
INSTANT = dict(queue=False, api_visibility="private")


def build_app(exposed: bool = False) -> gr.Blocks:
    """The Blocks app. ``exposed`` hides the shared history and the token field."""
    board = CancelBoard.new()
    with gr.Blocks(title="svdapp — product photo to video", analytics_enabled=False,
                   delete_cache=(3600, 24 * 3600) if exposed else None) as demo:
        page = lay_out(exposed)
        wire_environment(demo, page)
        wire_form(demo, page)
        start = wire_generation(demo, page, board, exposed)
        wire_history(demo, page, exposed)
        wire_takes(page, start)
        add_endpoints(board)
    return demo


def wire_environment(demo: gr.Blocks, page: Page) -> None:
    """D1: the checks on opening and on Re-check; the speed test (in the GPU queue, for the
    form's preset and size); the token's Validate and Save."""
    checks = [page.env_checks, page.env_box]
    gr.on([demo.load, page.recheck.click], env_view, None, checks, **PAGE)
    form = page.form
    page.speed_test.click(speed_test_ui, [page.base_preset, form["width"], form["height"], form["frames"],
                                          form["steps"], form["memory"]], page.speed_report,
                          concurrency_id="gpu", concurrency_limit=1, api_visibility="private")
    if page.token is not None:
        box = page.token
        box.validate.click(validate_token_ui, box.token, box.message, **PAGE)
        box.save.click(save_token_ui, box.token, [box.token, box.message], **PAGE).then(env_view, None, checks, **PAGE)


def wire_form(demo: gr.Blocks, page: Page) -> None:
    """D2/D3: a preset fills the fields and touching a field makes the preset "Custom"; the
    preview follows the photo, fit and size; the orientation turns the size. The accordions that
    hold the fields fold once the page has loaded (they are built open: layout says why)."""
    form = page.form
    demo.load(lambda: (gr.Accordion(open=False), gr.Accordion(open=False)), None,
              [page.advanced_box, page.finishing_box], **INSTANT)
    gr.on([page.photo.change, page.fit.input, form["width"].change, form["height"].change], preview_frame,
          [page.photo, form["width"], form["height"], page.fit], page.preview, **PAGE)

    def choose_preset(name):
        if name == CUSTOM:
            return {page.preset_info: "Your own settings: open *Advanced*."}
        values = preset_fields(name)
        return {**{form[k]: v for k, v in values.items()}, page.base_preset: name,
                page.preset_info: presets.PRESETS[name].description,
                page.orientation: orientation_of(values["width"], values["height"])}

    page.preset.input(choose_preset, page.preset, [page.preset_info, page.base_preset, page.orientation,
                                                   *form.values()], **PAGE)
    gr.on([comp.input for name, comp in form.items() if name not in ("seed", "random_seed")],
          lambda: (CUSTOM, "Your own settings."), None, [page.preset, page.preset_info], **INSTANT)
    page.orientation.input(lambda orient, w, h: turn(int(w), int(h), orient),
                           [page.orientation, form["width"], form["height"]], [form["width"], form["height"]], **PAGE)
    page.extras["engine"].change(lambda engine: gr.Button(value=generate_label(engine)), page.extras["engine"],
                                 page.generate, **INSTANT)
    form["random_seed"].change(lambda random: gr.Number(interactive=not random), form["random_seed"], form["seed"],
                               **INSTANT)


def show(page: Page, item: PastResult, origin: str) -> dict:
    """D4 showing one result (new, or from the history) — the updates of ``page.shown``."""
    path = str(item.video)
    return {page.video: path, page.download: gr.update(value=path, visible=True), page.reuse: gr.update(visible=True),
            page.others: other_files(item.meta), page.info: result_markdown(item.meta, origin), page.selected: item,
            page.takes: takes_gallery(item), page.keep_take: gr.Button(visible=False), page.take_pick: None}


def wire_generation(demo: gr.Blocks, page: Page, board: CancelBoard, exposed: bool) -> Callable:
    """Generate (one at a time, in the GPU queue) and Cancel (this session's run only). Returns
    ``start``, which runs a generation from the form after another event (keeping a take)."""
    form, buttons = page.form, [page.generate, page.cancel]

    def arm(request: gr.Request):
        board.arm(request.session_hash)
        return (gr.update(interactive=False), gr.update(interactive=True),
                "Working… the video panel shows the queue position, stage and time left.")

    # Not named "generate": Gradio names even a private event after its function, and that name is the API's.
    def generate_from_form(data, request: gr.Request, progress=gr.Progress()):
        values = {name: data[comp] for name, comp in form.items() if name not in ("seed", "random_seed")}
        values.update(seed=None if data[form["random_seed"]] else data[form["seed"]], fit=data[page.fit])
        try:
            base = data[page.base_preset]
            req = make_request(data[page.photo], base, changed_fields(values, base),
                               {k: data[c] for k, c in page.extras.items()})
            result = run_generation(req, progress, board.get(request.session_hash))
        except Cancelled:
            gr.Info("Cancelled — nothing was written.")
            return {page.status: "Cancelled — nothing was written."}
        except SvdAppError as exc:
            raise gr.Error(error_text(exc), title="Could not make the video") from None
        for note in result.fallbacks:
            gr.Warning(note)
        own = [*data[page.own_results], str(result.video.parent)]
        items = history_items(own, not exposed)
        return {**show(page, PastResult(result.video.parent, result.meta), model_note(result.meta)),
                page.status: f"Done: `{result.video.parent.name}`", page.own_results: own, page.shown_items: items,
                page.gallery: gallery_value(items), form["seed"]: result.seed}

    def disarm(request: gr.Request):
        board.disarm(request.session_hash)
        return gr.update(interactive=True), gr.update(interactive=False)

    def cancel(request: gr.Request):
        if board.cancel(request.session_hash):
            return "Cancelling… (stops after the current step)"
        return gr.skip()

    inputs = {page.photo, page.fit, page.base_preset, page.own_results, *form.values(), *page.extras.values()}
    outputs = [*page.shown, page.status, page.own_results, page.shown_items, page.gallery, form["seed"]]

    def start(after: Callable) -> None:
        """``after`` (an event listener such as a button's click) arms Cancel, then the run goes."""
        run = after(arm, None, [*buttons, page.status], **INSTANT).then(
            generate_from_form, inputs, outputs, concurrency_id="gpu", concurrency_limit=1,
            show_progress_on=page.video, api_visibility="private")
        # .then alone is skipped in the browser after a gr.Error; success and failure cover both ends.
        for ended in (run.success, run.failure):
            ended(disarm, None, buttons, **INSTANT)

    start(page.generate.click)
    page.cancel.click(cancel, None, page.status, **INSTANT)

    def forget(request: gr.Request):
        board.disarm(request.session_hash)

    demo.unload(forget)
    return start


def wire_history(demo: gr.Blocks, page: Page, exposed: bool) -> None:
    """The gallery (on opening), showing a past result, and "Use these settings"."""
    def refresh(own):
        items = history_items(own, not exposed)
        return items, gallery_value(items)

    demo.load(refresh, page.own_results, [page.shown_items, page.gallery], **PAGE)

    def show_item(items, evt: gr.SelectData):
        if evt.index is None or evt.index >= len(items):
            return gr.skip()
        return show(page, items[evt.index], f"from history: {items[evt.index].folder.name}")

    page.gallery.select(show_item, page.shown_items, page.shown, **PAGE)

    targets = reuse_targets(page)

    def reuse(item):
        if not item:
            return gr.skip()
        values = reuse_values(item.meta)
        return {**{targets[k]: v for k, v in values.items()}, page.preset: CUSTOM,
                page.preset_info: f"Settings of seed {values['seed']} loaded; press Generate to remake it."}

    page.reuse.click(reuse, page.selected, [*targets.values(), page.preset, page.preset_info], **INSTANT)


def reuse_targets(page: Page) -> dict[str, gr.components.Component]:
    """The controls a past result's settings load into, by ``reuse_values``' keys."""
    return {**page.form, **page.extras, "fit": page.fit, "orientation": page.orientation, "preset": page.base_preset}


def wire_takes(page: Page, start: Callable) -> None:
    """D4's takes: clicking one offers to keep it; keeping it loads the result's settings with
    that take's seed (or camera move) and one take into the form, and generates."""
    def choose(item, evt: gr.SelectData):
        return pick(item, evt.index)

    page.takes.select(choose, page.selected, [page.take_pick, page.keep_take], **PAGE)
    targets = reuse_targets(page)

    def keep(item, index, photo):
        values = keep_values(item, index, photo)
        return {**{targets[k]: v for k, v in values.items()}, page.preset: CUSTOM,
                page.preset_info: f"Take {index + 1} kept: seed {values['seed']}, made again as the video."}

    start(page.keep_take.click(keep, [page.selected, page.take_pick, page.photo],
                               [*targets.values(), page.preset, page.preset_info], **INSTANT).success)
