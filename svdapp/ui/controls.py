"""The D3 form's controls: the choice lists, the Advanced accordion (one control per
GenerationParams field) and the Engine & finishing accordion (GenerationRequest fields)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from .. import presets, takes
from ..vocab import (INTERPOLATIONS, Camera, Engine, Fit, Format, Framing, Loop, MemoryPlan, Orientation, SpeedMode,
                     captions, values)
from .forms import CUSTOM

PRESET_CHOICES = [(p.label, p.name) for p in presets.PRESETS.values()] + [("Custom", CUSTOM)]
ENGINE_CHOICES = captions(Engine)
EXTRA_FORMATS = [(f.label, f.value) for f in Format if f != Format.MP4]
SPEED_CHOICES = [("Default — exact, unless SVDAPP_SPEED is set", ""), *captions(SpeedMode)]
ORIENTATIONS = [(o.label, o.value) for o in Orientation]
FITS = captions(Fit)


def generate_label(engine: str) -> str:
    """The Generate button names the engine that will run (auto: SVD, when it can)."""
    return f"Generate video ({'classic' if engine == Engine.CLASSIC else 'SVD'})"


def advanced_fields(start: dict[str, Any]) -> dict[str, gr.components.Component]:
    """The Advanced accordion; keys are GenerationParams field names."""
    with gr.Row():
        frames = gr.Slider(2, presets.MAX_FRAMES, value=start["frames"], step=1, label="Frames",
                           info="SVD-XT is tuned for 25", elem_id="field-frames")
        steps = gr.Slider(1, 150, value=start["steps"], step=1, label="Steps", info="denoising steps",
                          elem_id="field-steps")
    with gr.Row():
        fps = gr.Slider(1, 60, value=start["fps"], step=1, label="Playback fps", info="of the video file",
                        elem_id="field-fps")
        cond_fps = gr.Slider(1, 60, value=start["cond_fps"], step=1, label="Conditioning fps",
                             info="what the model is told (6 for SVD-XT 1.1)", elem_id="field-cond_fps")
    with gr.Row():
        motion = gr.Slider(1, 255, value=start["motion"], step=1, label="Motion strength",
                           info="motion bucket; higher moves more", elem_id="field-motion")
        noise_aug = gr.Slider(0.0, 1.0, value=start["noise_aug"], step=0.01, label="Noise augmentation",
                              info="higher departs more from the photo", elem_id="field-noise_aug")
    with gr.Row():
        width = gr.Slider(64, presets.MAX_SIDE, value=start["width"], step=64, label="Width", elem_id="field-width")
        height = gr.Slider(64, presets.MAX_SIDE, value=start["height"], step=64, label="Height", elem_id="field-height")
    with gr.Row():
        decode_chunk = gr.Slider(1, 25, value=start["decode_chunk"], step=1, label="Decode chunk",
                                 info="frames decoded at once; lower saves memory", elem_id="field-decode_chunk")
        memory = gr.Dropdown(values(MemoryPlan), value=start["memory"], label="Memory plan",
                             info="auto picks from free GPU memory", elem_id="field-memory")
    with gr.Row():
        speed = gr.Dropdown(SPEED_CHOICES, value=start["speed"], label="Speed", elem_id="field-speed",
                            info="turbo is approximate; compiled pays off after many videos of one size")
    with gr.Row():
        seed = gr.Number(value=None, precision=0, minimum=0, maximum=2**32 - 1, label="Seed", interactive=False,
                         info="untick Random seed to set it; the last run's seed lands here", elem_id="field-seed")
        random_seed = gr.Checkbox(value=True, label="Random seed", elem_id="field-random_seed")
    return {"frames": frames, "steps": steps, "fps": fps, "cond_fps": cond_fps, "motion": motion,
            "noise_aug": noise_aug, "width": width, "height": height, "decode_chunk": decode_chunk,
            "memory": memory, "speed": speed, "seed": seed, "random_seed": random_seed}


def takes_field() -> gr.Slider:
    """How many takes to make (a GenerationRequest field, like the finishing ones)."""
    return gr.Slider(1, takes.MAX_TAKES, value=1, step=1, label="Takes", elem_id="field-takes",
                     info="more than 1: quick previews (SVD: other seeds; classic: other camera moves), and the one "
                          "that keeps the product best becomes the video")


def finishing_fields() -> dict[str, gr.components.Component]:
    """Engine choice and the finishing steps; keys are GenerationRequest field names."""
    engine = gr.Radio(ENGINE_CHOICES, value=Engine.AUTO.value, label="Engine", elem_id="field-engine")
    with gr.Row():
        camera = gr.Dropdown(values(Camera), value=Camera.PUSH_IN.value, label="Camera move (classic engine)",
                             elem_id="field-camera")
        loop = gr.Radio(values(Loop), value=Loop.NONE.value, label="Loop", info="boomerang: there and back; crossfade: "
                        "seamless", elem_id="field-loop")
    with gr.Row():
        seconds = gr.Number(value=None, minimum=0, label="Length (s)", info="empty: the clip's own length",
                            elem_id="field-seconds")
        interpolate = gr.Radio([str(n) for n in INTERPOLATIONS], value="1", label="Frame interpolation",
                               info="× frames, smoother", elem_id="field-interpolate")
        framing = gr.Dropdown(values(Framing), value=Framing.NONE.value, label="Framing",
                              info="pad to a shape, no crop", elem_id="field-framing")
    formats = gr.CheckboxGroup(EXTRA_FORMATS, value=[], label="Also write", info="MP4 (H.264) is always made",
                               elem_id="field-formats")
    return {"engine": engine, "camera": camera, "loop": loop, "seconds": seconds,
            "interpolate": interpolate, "framing": framing, "formats": formats}
