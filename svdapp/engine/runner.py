"""One SVD generation: denoise to latents, decode in chunks, with the OOM ladder.

Denoising and decoding are separate so that an out-of-memory error while decoding only
shrinks the decode chunk and decodes again; the UNet's 25 steps are never run twice for
it. An OOM while denoising steps the memory plan down, then the frame count. Every step
down frees memory first and is recorded, in words a user understands.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ..errors import Cancelled, OutOfMemory
from ..presets import GenerationParams
from . import turbo
from .cache import PipelineCache
from .memory import MemoryPlan, free_memory, is_oom, next_frames, next_plan

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class _Cancel(Exception):
    """Raised inside the step callback; the SVD pipeline has no interrupt flag."""


@dataclass
class RunOutput:
    frames: np.ndarray  # N x H x W x 3 uint8
    plan: str
    decode_chunk: int
    fallbacks: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    load_seconds: float = 0.0
    speed: str = "exact"  # the accel speed mode the pipeline ran in
    reuse: dict[str, int] | None = None  # turbo: UNet calls run in full and on kept deep features


def run(cache: PipelineCache, folder: str, image: Image.Image, params: GenerationParams, plan: MemoryPlan,
        seed: int, progress: Progress | None = None, cancel: threading.Event | None = None) -> RunOutput:
    """Generate ``params.frames`` frames from the fitted ``image`` (already width x height)."""
    report = progress or (lambda stage, done, total: None)
    fallbacks: list[str] = []
    timings: dict[str, float] = {}
    loads_before = cache.loads

    while True:
        try:
            t0 = time.perf_counter()
            report("load", 0, 1)
            entry = cache.get(folder, plan, params.speed)
            timings["load"] = time.perf_counter() - t0
            report("load", 1, 1)
            t0 = time.perf_counter()
            latents = _denoise(entry.pipe, image, params, seed, report, cancel)
            timings["denoise"] = time.perf_counter() - t0
            break
        except _Cancel:
            free_memory()
            raise Cancelled() from None
        except Exception as exc:
            if not is_oom(exc):
                raise
            free_memory()
            lower = next_plan(plan)
            fewer = next_frames(params.frames)
            if lower is not None:
                fallbacks.append(f"Out of GPU memory while denoising with the {plan.name} memory plan; "
                                 f"retried with the {lower.name} plan.")
                plan = lower
            elif fewer is not None:
                fallbacks.append(f"Out of GPU memory while denoising {params.frames} frames on the {plan.name} "
                                 f"plan; retried with {fewer} frames.")
                params = replace(params, frames=fewer)
            else:
                raise OutOfMemory(
                    "Out of GPU memory even with the smallest settings. Tried: " + " ".join(fallbacks or [plan.name]),
                    "Close other programs using the GPU (games, browsers, other AI tools) and pick the "
                    "Low-memory portrait preset, or use --memory cpu.") from None

    chunk = min(params.decode_chunk, plan.max_decode_chunk or params.decode_chunk)
    while True:
        try:
            t0 = time.perf_counter()
            frames = _decode(entry.pipe, latents, chunk, report, cancel)
            timings["decode"] = time.perf_counter() - t0
            break
        except _Cancel:
            free_memory()
            raise Cancelled() from None
        except Exception as exc:
            if not is_oom(exc):
                raise
            free_memory()
            if chunk == 1:
                raise OutOfMemory("Out of GPU memory while decoding even one frame at a time. Tried: "
                                  + " ".join(fallbacks + [f"decode chunk {chunk}"]),
                                  "Close other programs using the GPU and pick the Low-memory portrait "
                                  "preset, or a smaller --width/--height.") from None
            fallbacks.append(f"Out of GPU memory while decoding {chunk} frames at a time; "
                             f"decoded {chunk // 2} at a time instead.")
            chunk //= 2
    del latents
    free_memory()
    deep = turbo.of(entry.pipe.unet)
    reuse = None if deep is None else {"interval": deep.interval, "unet_calls_full": deep.full_calls,
                                       "unet_calls_reused": deep.reused_calls}
    return RunOutput(frames, plan.name, chunk, fallbacks, timings,
                     entry.load_seconds if cache.loads > loads_before else 0.0, entry.speed or "exact", reuse)


def _denoise(pipe, image: Image.Image, p: GenerationParams, seed: int, report: Progress,
             cancel: threading.Event | None) -> torch.Tensor:
    deep = turbo.of(pipe.unet)

    def on_step_end(_pipe, step: int, _t, kwargs):
        if deep is not None:
            deep.step_done()
        report("denoise", step + 1, p.steps)
        if cancel is not None and cancel.is_set():
            raise _Cancel()
        return kwargs

    report("denoise", 0, p.steps)
    if cancel is not None and cancel.is_set():
        raise _Cancel()
    if deep is not None:
        deep.start(p.steps)
    # A CPU generator gives the same noise on any device: a seed means the same video everywhere.
    generator = torch.Generator("cpu").manual_seed(seed)
    try:
        with torch.inference_mode():
            out = pipe(image, height=p.height, width=p.width, num_frames=p.frames, num_inference_steps=p.steps,
                       min_guidance_scale=p.min_guidance, max_guidance_scale=p.max_guidance, fps=p.cond_fps,
                       motion_bucket_id=p.motion, noise_aug_strength=p.noise_aug, generator=generator,
                       output_type="latent", callback_on_step_end=on_step_end)
    finally:
        if deep is not None:
            deep.release()  # the kept features are not needed for decoding
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
