"""Turbo speed mode (DeepCache: deep UNet features reused across steps) on the tiny model."""

import json
from dataclasses import replace

import numpy as np

from svdapp.engine import accel, memory, turbo
from svdapp.engine.cache import PipelineCache
from svdapp.engine.runner import run
from svdapp.presets import resolve

from .conftest import TINY_ARGS, run_cli
from .test_engine import photo  # noqa: F401  (the same 128x64 fixture)

PARAMS = resolve(None, {"width": 128, "height": 64, "frames": 4, "steps": 7, "memory": "cpu", "decode_chunk": 4})


def generate(cache, folder, photo, monkeypatch, speed, plan=None, seed=5, params=PARAMS):
    monkeypatch.setenv(accel.SPEED_ENV, speed)
    return run(cache, str(folder), photo, params, plan or memory.PLANS["cpu"], seed=seed)


def deep_block_calls(cache) -> dict:
    """Count runs of the UNet's middle block (skipped on reuse steps)."""
    unet = next(iter(cache.entries.values())).pipe.unet
    calls = {"n": 0}
    unet.mid_block.resnets[0].register_forward_pre_hook(lambda *_: calls.__setitem__("n", calls["n"] + 1))
    return calls


def mean_abs(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_turbo_runs_two_steps_in_three_on_kept_features(tiny_model, photo, monkeypatch):
    cache = PipelineCache()
    exact = generate(cache, tiny_model, photo, monkeypatch, "exact")
    calls = deep_block_calls(cache)
    fast = generate(cache, tiny_model, photo, monkeypatch, "turbo")
    # 7 steps, one UNet call each: full at steps 0, 3 and the last (6); 1, 2, 4, 5 reuse
    assert calls["n"] == 3
    assert fast.speed == "turbo" and fast.reuse == {"interval": 3, "unet_calls_full": 3, "unet_calls_reused": 4}
    assert fast.frames.shape == exact.frames.shape
    other_seed = generate(cache, tiny_model, photo, monkeypatch, "exact", seed=6)
    # an approximation of exact mode: not equal, but far closer than another seed's video
    assert not np.array_equal(fast.frames, exact.frames)
    assert mean_abs(fast.frames, exact.frames) < 0.5 * mean_abs(other_seed.frames, exact.frames)


def test_turbo_with_every_step_in_full_is_exact(tiny_model, photo, monkeypatch):
    monkeypatch.setattr(turbo, "INTERVAL", 1)
    cache = PipelineCache()
    exact = generate(cache, tiny_model, photo, monkeypatch, "exact").frames
    out = generate(cache, tiny_model, photo, monkeypatch, "turbo")
    assert out.reuse["unet_calls_reused"] == 0
    assert np.array_equal(out.frames, exact)


def test_split_guidance_keeps_one_feature_per_half(tiny_model, photo, monkeypatch):
    low = replace(memory.PLANS["low"], device="cpu", offload=None)  # guidance split, chunked feed-forward
    params = replace(PARAMS, decode_chunk=2)  # the temporal VAE decoder mixes frames within low's chunk
    cache = PipelineCache()
    batched = generate(cache, tiny_model, photo, monkeypatch, "turbo", params=params).frames
    split = generate(cache, tiny_model, photo, monkeypatch, "turbo", plan=low, params=params)
    assert split.reuse == {"interval": 3, "unet_calls_full": 6, "unet_calls_reused": 8}
    assert np.abs(split.frames.astype(int) - batched.astype(int)).max() <= 1  # same maths, rounding at most


def test_leaving_turbo_restores_the_exact_unet(tiny_model, photo, monkeypatch):
    cache = PipelineCache()
    first = generate(cache, tiny_model, photo, monkeypatch, "exact").frames
    generate(cache, tiny_model, photo, monkeypatch, "turbo")
    unet = next(iter(cache.entries.values())).pipe.unet
    assert turbo.of(unet) is not None
    again = generate(cache, tiny_model, photo, monkeypatch, "exact")
    assert turbo.of(unet) is None and again.reuse is None
    assert not any("forward" in m.__dict__ for m in unet.modules())
    assert np.array_equal(again.frames, first)


def test_turbo_from_the_cli_is_recorded_in_the_metadata(tiny_model, app_env, tmp_path, product_photo):
    out = tmp_path / "turbo.mp4"
    res = run_cli(["make", "--image", str(product_photo), *TINY_ARGS, "--steps", "4", "--seed", "3", "--speed",
                   "turbo", "--out", str(out)], {**app_env, "SVDAPP_SPEED": "compiled"}, tmp_path)
    assert res.returncode == 0, res.stderr
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["speed_mode"] == "turbo" and meta["settings"]["speed"] == "turbo"  # the flag beats the variable
    assert meta["turbo_reuse"] == {"interval": 3, "unet_calls_full": 2, "unet_calls_reused": 2}


def test_the_environment_sets_the_default_speed(tiny_model, photo, monkeypatch):
    monkeypatch.setenv(accel.SPEED_ENV, "turbo")
    out = run(PipelineCache(), str(tiny_model), photo, PARAMS, memory.PLANS["cpu"], seed=5)
    assert out.speed == "turbo" and out.reuse["unet_calls_reused"] == 4
    assert accel.speed("exact") == "exact"  # an explicit choice wins over $SVDAPP_SPEED
