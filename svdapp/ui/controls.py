"""The D3 form's controls: the choice lists, the Advanced accordion (one control per
GenerationParams field) and the Engine & finishing accordion (GenerationRequest fields)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from .. import presets
from ..cli import CAMERAS, FRAMINGS, LOOPS  # plain tuples: importing motion/finishing would load OpenCV
from .forms import CUSTOM

PRESET_CHOICES = [(p.label, p.name) for p in presets.PRESETS.values()] + [("Custom", CUSTOM)]
ENGINE_CHOICES = [("Auto — SVD on an NVIDIA GPU, else classic", "auto"), ("Stable Video Diffusion", "svd"),
                  ("Classic camera motion (no AI, any CPU)", "classic")]
GENERATE_LABELS = {"auto": "Generate video (SVD)", "svd": "Generate video (SVD)", "classic": "Generate video (classic)"}
EXTRA_FORMATS = [("WebM (VP9)", "webm"), ("GIF", "gif"), ("Poster PNG", "poster")]
SPEED_CHOICES = [("Default — exact, unless SVDAPP_SPEED is set", ""), ("Exact — same frames as diffusers", "exact"),
                 ("Compiled — faster after a first compile of minutes", "compiled"),
                 ("Turbo — reuses deep features, approximate", "turbo")]
ORIENTATIONS = [("Landscape 16:9", "landscape"), ("Portrait 9:16", "portrait")]
FITS = [("Contain — whole photo, padded", "contain"), ("Cover — fill the frame, crop", "cover")]


def advanced_fields(values: dict[str, Any]) -> dict[str, gr.components.Component]:
    """The Advanced accordion; keys are GenerationParams field names."""
    with gr.Row():
        frames = gr.Slider(2, presets.MAX_FRAMES, value=values["frames"], step=1, label="Frames",
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
        width = gr.Slider(64, presets.MAX_SIDE, value=values["width"], step=64, label="Width", elem_id="field-width")
        height = gr.Slider(64, presets.MAX_SIDE, value=values["height"], step=64, label="Height", elem_id="field-height")
    with gr.Row():
        decode_chunk = gr.Slider(1, 25, value=values["decode_chunk"], step=1, label="Decode chunk",
                                 info="frames decoded at once; lower saves memory", elem_id="field-decode_chunk")
        memory = gr.Dropdown(list(presets.MEMORY_PLANS), value=values["memory"], label="Memory plan",
                             info="auto picks from free GPU memory", elem_id="field-memory")
    with gr.Row():
        speed = gr.Dropdown(SPEED_CHOICES, value=values["speed"], label="Speed", elem_id="field-speed",
                            info="turbo is approximate; compiled pays off after many videos of one size")
    with gr.Row():
        seed = gr.Number(value=None, precision=0, minimum=0, maximum=2**32 - 1, label="Seed", interactive=False,
                         info="untick Random seed to set it; the last run's seed lands here", elem_id="field-seed")
        random_seed = gr.Checkbox(value=True, label="Random seed", elem_id="field-random_seed")
    return {"frames": frames, "steps": steps, "fps": fps, "cond_fps": cond_fps, "motion": motion,
            "noise_aug": noise_aug, "width": width, "height": height, "decode_chunk": decode_chunk,
            "memory": memory, "speed": speed, "seed": seed, "random_seed": random_seed}


def finishing_fields() -> dict[str, gr.components.Component]:
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
