"""One SVD generation: denoise to latents, decode in chunks, with the OOM ladder.

Denoising and decoding are separate so that an out-of-memory error while decoding only
shrinks the decode chunk and decodes again; the UNet's 25 steps are never run twice for
it. An OOM while denoising steps the memory plan down, then the frame count. Every step
down frees memory first and is recorded, in words a user understands.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable, TypeVar

import numpy as np
import torch
from PIL import Image

from ..engine_output import EngineOutput
from ..errors import Cancelled, OutOfMemory, Suggestion
from ..presets import GenerationParams
from . import accel, turbo
from .cache import PipelineCache
from .memory import MemoryPlan, free_memory, is_oom, next_frames, next_plan

Progress = Callable[[str, int, int], None]  # (stage, done, total)
T = TypeVar("T")


class _Cancel(Exception):
    """Raised inside the step callback; the SVD pipeline has no interrupt flag."""


def run(cache: PipelineCache, folder: str, image: Image.Image, params: GenerationParams, plan: MemoryPlan,
        seed: int, progress: Progress | None = None, cancel: threading.Event | None = None,
        speed: accel.Speed | None = None) -> EngineOutput:
    """Generate ``params.frames`` frames from the fitted ``image`` (already width x height).

    ``speed`` overrides ``params.speed`` with explicit knobs (the benchmark's turbo variants)."""
    report = progress or (lambda stage, done, total: None)
    speed = accel.resolve(speed or params.speed)
    fallbacks: list[str] = []
    timings: dict[str, float] = {}
    loads_before = cache.loads
    state = {"plan": plan, "params": params}

    def denoise():
        t0 = time.perf_counter()
        report("load", 0, 1)
        entry = cache.get(folder, state["plan"], speed)
        timings["load"] = time.perf_counter() - t0
        report("load", 1, 1)
        t0 = time.perf_counter()
        latents = _denoise(entry.pipe, image, state["params"], seed, report, cancel)
        timings["denoise"] = time.perf_counter() - t0
        return entry, latents

    def smaller_denoise() -> None:
        plan, params = state["plan"], state["params"]
        lower, fewer = next_plan(plan), next_frames(params.frames)
        if lower is not None:
            fallbacks.append(f"Out of GPU memory while denoising with the {plan.name} memory plan; "
                             f"retried with the {lower.name} plan.")
            state["plan"] = lower
        elif fewer is not None:
            fallbacks.append(f"Out of GPU memory while denoising {params.frames} frames on the {plan.name} "
                             f"plan; retried with {fewer} frames.")
            state["params"] = replace(params, frames=fewer)
        else:
            raise OutOfMemory(
                "Out of GPU memory even with the smallest settings. Tried: " + " ".join(fallbacks or [plan.name]),
                "Close other programs using the GPU (games, browsers, other AI tools) and pick the "
                "Low-memory portrait preset, or use {fix}.", Suggestion("memory", "cpu")) from None

    entry, latents = _with_ladder(denoise, smaller_denoise)
    plan, params = state["plan"], state["params"]
    state["chunk"] = min(params.decode_chunk, plan.max_decode_chunk or params.decode_chunk)

    def decode() -> np.ndarray:
        t0 = time.perf_counter()
        frames = _decode(entry.pipe, latents, state["chunk"], report, cancel)
        timings["decode"] = time.perf_counter() - t0
        return frames

    def smaller_decode() -> None:
        chunk = state["chunk"]
        if chunk == 1:
            raise OutOfMemory("Out of GPU memory while decoding even one frame at a time. Tried: "
                              + " ".join(fallbacks + [f"decode chunk {chunk}"]),
                              "Close other programs using the GPU and pick the Low-memory portrait "
                              "preset, or a smaller {fix}.", Suggestion("width"), Suggestion("height")) from None
        fallbacks.append(f"Out of GPU memory while decoding {chunk} frames at a time; "
                         f"decoded {chunk // 2} at a time instead.")
        state["chunk"] = chunk // 2

    frames = _with_ladder(decode, smaller_decode)
    del latents
    free_memory()
    fast = turbo.of(entry.pipe.unet)
    return EngineOutput(frames, plan.name, state["chunk"], tuple(fallbacks), timings,
                        entry.load_seconds if cache.loads > loads_before else 0.0, speed.mode,
                        fast.summary() if fast is not None else None)


def _with_ladder(attempt: Callable[[], T], step_down: Callable[[], None]) -> T:
    """Run ``attempt`` until it succeeds. After an out-of-memory error, free memory and call
    ``step_down`` (which makes the next attempt smaller, or raises OutOfMemory when nothing
    smaller is left); after a cancel, free memory and raise Cancelled."""
    while True:
        try:
            return attempt()
        except _Cancel:
            free_memory()
            raise Cancelled() from None
        except Exception as exc:
            if not is_oom(exc):
                raise
            free_memory()
            step_down()


def _denoise(pipe, image: Image.Image, p: GenerationParams, seed: int, report: Progress,
             cancel: threading.Event | None) -> torch.Tensor:
    fast = turbo.of(pipe.unet)

    def on_step_end(_pipe, step: int, _t, kwargs):
        if fast is not None:
            fast.step_done()
        report("denoise", step + 1, p.steps)
        if cancel is not None and cancel.is_set():
            raise _Cancel()
        return kwargs

    report("denoise", 0, p.steps)
    if cancel is not None and cancel.is_set():
        raise _Cancel()
    if fast is not None:
        fast.start(p.steps)
    # A CPU generator gives the same noise on any device: a seed means the same video everywhere.
    generator = torch.Generator("cpu").manual_seed(seed)
    try:
        with torch.inference_mode():
            out = pipe(image, height=p.height, width=p.width, num_frames=p.frames, num_inference_steps=p.steps,
                       min_guidance_scale=p.min_guidance, max_guidance_scale=p.max_guidance, fps=p.cond_fps,
                       motion_bucket_id=p.motion, noise_aug_strength=p.noise_aug, generator=generator,
                       output_type="latent", callback_on_step_end=on_step_end)
    finally:
        if fast is not None:
            fast.release()  # the kept features are not needed for decoding
    return out.frames


def _decode(pipe, latents: torch.Tensor, chunk: int, report: Progress,
            cancel: threading.Event | None) -> np.ndarray:
    """Latents (1, F, C, h, w) → uint8 frames, ``chunk`` frames through the VAE at a time."""
    vae = pipe.vae
    # Multiply by the reciprocal as diffusers does: dividing rounds differently in fp16.
    flat = latents.flatten(0, 1) * (1 / vae.config.scaling_factor)
    total = flat.shape[0]
    out = []
    report("decode", 0, total)
    with torch.inference_mode():
        for i in range(0, total, chunk):
            if cancel is not None and cancel.is_set():
                raise _Cancel()
            part = flat[i:i + chunk]
            decoded = vae.decode(part.to(vae.dtype), num_frames=part.shape[0]).sample
            pixels = ((decoded.float() / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
            out.append(pixels.permute(0, 2, 3, 1).cpu().numpy())
            report("decode", min(i + chunk, total), total)
    return np.concatenate(out)
