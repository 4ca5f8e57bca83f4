"""The named endpoints for gradio_client: /generate (photo → video and metadata), /check
(the D1 checks as data) and /speedtest (the speed modes timed on this GPU), on hidden
components that are not part of the page."""

from __future__ import annotations

import json
from typing import Sequence

import gradio as gr

from .. import presets
from ..errors import SvdAppError, Suggestion
from ..speedtest import advice
from .environment import check_report, speed_test
from .forms import make_request
from .generation import CancelBoard, result_metadata, run_generation
from .views import error_text


def parameter_words(suggestions: Sequence[Suggestion]) -> str:
    """``memory="cpu"``: the API's words for suggested settings (its parameters are the settings' names)."""
    return ", ".join(s.setting if s.value is None else f"{s.setting}={json.dumps(s.value)}" for s in suggestions)


def add_endpoints(board: CancelBoard) -> None:
    """/generate and /check for gradio_client, on hidden components (not part of the page)."""
    with gr.Column(visible=False):
        image = gr.Image(type="filepath", label="image")
        preset = gr.Textbox(value=presets.DEFAULT_PRESET, label="preset")
        numbers = {name: gr.Number(value=None, label=name, precision=None if name == "noise_aug" else 0) for name in
                   ("frames", "steps", "fps", "cond_fps", "motion", "noise_aug", "width", "height",
                    "decode_chunk", "seed")}
        memory = gr.Textbox(value=None, label="memory")
        speed = gr.Textbox(value=None, label="speed")
        fit = gr.Textbox(value=None, label="fit")
        portrait = gr.Checkbox(value=False, label="portrait")
        texts = {name: gr.Textbox(value=None, label=name) for name in
                 ("engine", "camera", "loop", "framing", "formats")}
        seconds = gr.Number(value=None, label="seconds")
        interpolate = gr.Number(value=None, label="interpolate", precision=0)
        takes = gr.Number(value=None, label="takes", precision=0)
        video_out = gr.File(label="video")
        meta_out = gr.JSON(label="metadata")
        check_out = gr.JSON(label="checks")
        modes = gr.Textbox(value=None, label="modes")
        bench_out = gr.JSON(label="speed test")
        run = gr.Button()
        check = gr.Button()
        bench = gr.Button()

    def api_generate(image: str, preset: str = presets.DEFAULT_PRESET, frames: int | None = None,
                     steps: int | None = None, fps: int | None = None, cond_fps: int | None = None,
                     motion: int | None = None, noise_aug: float | None = None, width: int | None = None,
                     height: int | None = None, decode_chunk: int | None = None, seed: int | None = None,
                     memory: str | None = None, fit: str | None = None, portrait: bool = False,
                     engine: str | None = None, camera: str | None = None, loop: str | None = None,
                     framing: str | None = None, formats: str | None = None, seconds: float | None = None,
                     interpolate: int | None = None, speed: str | None = None, takes: int | None = None,
                     request: gr.Request = None, progress=gr.Progress()):
        """Photo → (video.mp4, metadata). Every setting but the photo is optional: None keeps the preset's
        (engine: auto; formats: a comma list of webm, gif, poster beside the MP4; speed: exact, compiled,
        turbo or turbo-compiled; takes: several previews, the one that keeps the product best becomes the
        video — metadata["takes"] lists them, metadata["fidelity"] scores the video)."""
        values = dict(frames=frames, steps=steps, fps=fps, cond_fps=cond_fps, motion=motion, noise_aug=noise_aug,
                      width=width, height=height, decode_chunk=decode_chunk, seed=seed, memory=memory, fit=fit,
                      speed=speed)
        extras = dict(engine=engine, camera=camera, loop=loop, framing=framing, formats=formats,
                      seconds=seconds, interpolate=interpolate, takes=takes)
        try:
            req = make_request(image, preset, values, extras)
            if portrait:
                from dataclasses import replace
                req = replace(req, portrait=True)
            result = run_generation(req, progress, board.arm(request.session_hash))
        except SvdAppError as exc:
            raise gr.Error(error_text(exc, parameter_words), title="Could not make the video") from None
        finally:
            board.disarm(request.session_hash)
        return str(result.video), result_metadata(result)

    run.click(api_generate, [image, preset, *numbers.values(), memory, fit, portrait, *texts.values(), seconds,
                             interpolate, speed, takes], [video_out, meta_out],
              api_name="generate", concurrency_id="gpu", concurrency_limit=1)
    check.click(lambda: check_report(), None, check_out, api_name="check", concurrency_limit=None)

    def api_speedtest(preset: str = presets.DEFAULT_PRESET, width: int | None = None, height: int | None = None,
                      frames: int | None = None, steps: int | None = None, memory: str | None = None,
                      modes: str | None = None, progress=gr.Progress()):
        """Time the speed modes (a comma list, default exact,turbo; all) for the preset's video on this
        machine: per mode s/step, predicted seconds per video, difference from exact, peak GPU memory;
        plus which mode to pick."""
        try:
            report = speed_test(preset, width, height, frames, steps, memory, modes, progress)
        except SvdAppError as exc:
            raise gr.Error(error_text(exc, parameter_words), title="Could not run the speed test") from None
        return {**report.to_dict(), "advice": advice(report, parameter_words)}

    bench.click(api_speedtest, [preset, numbers["width"], numbers["height"], numbers["frames"], numbers["steps"],
                                memory, modes], bench_out, api_name="speedtest", concurrency_id="gpu",
                concurrency_limit=1)
