"""On a CUDA GPU: svdapp's speed modes (exact, compiled) against plain diffusers, full-size model.

The model is SVD-XT 1.1's architecture with random weights (bench/svd_xt_configs.json),
saved to a temp folder and loaded through the engine like a download. The size is reduced
(8 frames, 512x320, 6 steps) so compiling and both runs take a couple of minutes.

    pytest -m gpu tests/test_gpu.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

CONFIGS = Path(__file__).resolve().parents[1] / "bench" / "svd_xt_configs.json"
SEED = 11


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """(folder, vanilla frames) for the reduced configuration."""
    from svdapp.engine.random_weights import full_pipeline
    from svdapp.presets import resolve
    folder = tmp_path_factory.mktemp("svd-xt") / "model"
    pipe = full_pipeline(CONFIGS, torch.float16, "cuda", seed=0)
    pipe.save_pretrained(folder, variant="fp16")
    pipe.set_progress_bar_config(disable=True)
    p = resolve(None, {"frames": 8, "width": 512, "height": 320, "steps": 6, "seed": SEED, "decode_chunk": 8})
    with torch.inference_mode():
        out = pipe(_photo(p), height=p.height, width=p.width, num_frames=p.frames, num_inference_steps=p.steps,
                   min_guidance_scale=p.min_guidance, max_guidance_scale=p.max_guidance, fps=p.cond_fps,
                   motion_bucket_id=p.motion, noise_aug_strength=p.noise_aug, decode_chunk_size=p.decode_chunk,
                   generator=torch.Generator("cpu").manual_seed(SEED), output_type="np")
    frames = (np.asarray(out.frames[0]) * 255).round().astype(np.uint8)
    del pipe, out
    torch.cuda.empty_cache()
    return folder, p, frames


def _photo(p):
    from svdapp.imageprep import fit
    from svdapp.testimage import make_test_product
    return fit(make_test_product(640, 480), p.width, p.height, "contain")


def _engine_frames(folder, p, speed, monkeypatch):
    from svdapp.engine import memory
    from svdapp.engine.cache import PipelineCache
    from svdapp.engine.runner import run
    monkeypatch.setenv("SVDAPP_SPEED", speed)
    cache = PipelineCache()
    out = run(cache, str(folder), _photo(p), p, memory.PLANS["high"], SEED)
    compiled = cache.entries[next(iter(cache.entries))].compiled
    cache.clear()
    return out.frames, compiled


def test_default_exact_mode_equals_plain_diffusers_bit_for_bit(saved_model, monkeypatch):
    folder, p, vanilla = saved_model
    frames, compiled = _engine_frames(folder, p, "exact", monkeypatch)
    assert not compiled
    assert frames.shape == vanilla.shape == (8, 320, 512, 3)
    assert np.array_equal(frames, vanilla)


def test_compiled_mode_matches_plain_diffusers_within_fp16_rounding(saved_model, monkeypatch, tmp_path):
    folder, p, vanilla = saved_model
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", os.environ.get("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor")))
    frames, compiled = _engine_frames(folder, p, "compiled", monkeypatch)
    assert compiled
    assert frames.shape == vanilla.shape
    diff = np.abs(frames.astype(np.int16) - vanilla.astype(np.int16))
    psnr = 10 * np.log10(255**2 / max(float((diff.astype(np.float64) ** 2).mean()), 1e-12))
    assert diff.mean() < 2.0 and psnr > 35, f"mean abs {diff.mean():.3f}, max {diff.max()}, PSNR {psnr:.1f} dB"
