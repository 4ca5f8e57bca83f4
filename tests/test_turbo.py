"""Turbo speed mode (DeepCache + T-GATE) on the tiny model: the work it skips, and how far
its video is from exact mode's."""

import json
from dataclasses import replace

import numpy as np
import pytest

from svdapp.engine import accel, memory, turbo
from svdapp.engine.cache import PipelineCache
from svdapp.engine.runner import run
from svdapp.engine.turbo import Step, TurboConfig
from svdapp.presets import resolve

from .conftest import TINY_ARGS, run_cli

PARAMS = resolve(None, {"width": 128, "height": 64, "frames": 4, "steps": 7, "memory": "cpu", "decode_chunk": 4})
CPU_LOW = replace(memory.PLANS["low"], device="cpu", offload=None)  # guidance split, chunked feed-forward


@pytest.fixture(scope="module")
def photo():
    from PIL import Image
    img = Image.new("RGB", (128, 64), (230, 230, 230))
    img.paste((30, 90, 200), (44, 8, 84, 56))
    return img


@pytest.fixture(scope="module")
def shared(tiny_model, photo):
    """One cached pipeline and exact mode's video (seed 5), plus another seed's, for the module."""
    cache = PipelineCache()
    exact = generate(cache, tiny_model, photo, "exact").frames
    return cache, exact, generate(cache, tiny_model, photo, "exact", seed=6).frames


def generate(cache, folder, photo, speed="exact", plan=None, seed=5, params=PARAMS, config=None):
    chosen = accel.Speed(speed, config) if config is not None else accel.Speed(speed)
    return run(cache, str(folder), photo, params, plan or memory.PLANS["cpu"], seed=seed, speed=chosen)


def unet_of(cache):
    return next(iter(cache.entries.values())).pipe.unet


def count_batches(module) -> list[int]:
    """The batch size (frames x guidance halves) of every call of ``module``."""
    seen: list[int] = []
    module.register_forward_pre_hook(lambda _m, args, kwargs: seen.append(
        (args[0] if args else kwargs["hidden_states"]).shape[0]), with_kwargs=True)
    return seen


def mean_abs(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_schedule_follows_the_published_settings():
    plan = TurboConfig().schedule(25)
    # T-GATE's SVD default: guidance for the first 10 of 25 steps
    assert [s.guided for s in plan] == [True] * 10 + [False] * 15
    # DeepCache every 3rd step, restarting at the gate; the last step always in full
    assert [i for i, s in enumerate(plan) if s.full] == [0, 3, 6, 9, 10, 13, 16, 19, 22, 24]
    assert TurboConfig(interval=1, gate=1.0).schedule(5) == (Step(True, True),) * 5


def test_turbo_skips_the_deep_blocks_and_the_unconditional_half(tiny_model, photo, shared):
    cache, exact, other_seed = shared
    unet = unet_of(cache)
    deep = count_batches(unet.mid_block.resnets[0])
    shallow = count_batches(unet.down_blocks[0].resnets[0])
    fast = generate(cache, tiny_model, photo, "turbo")
    # 7 steps: guided 0-2, gate at 3; full at 0, 3 and the last (6), reuse on 1, 2, 4, 5
    frames = PARAMS.frames
    assert deep == [2 * frames, frames, frames]
    assert shallow == [2 * frames] * 3 + [frames] * 4  # the first layer runs on every step
    assert fast.speed == "turbo"
    assert fast.reuse == {"interval": 3, "branch": "layer", "gate": 0.4, "gate_step": 3, "unet_calls_full": 3,
                          "unet_calls_reused": 4, "steps_without_guidance": 4}
    assert fast.frames.shape == exact.shape
    # an approximation of exact mode: not equal, but far closer than another seed's video
    assert not np.array_equal(fast.frames, exact)
    assert mean_abs(fast.frames, exact) < 0.5 * mean_abs(other_seed, exact)


@pytest.mark.parametrize("branch", turbo.BRANCHES)
def test_turbo_with_every_step_in_full_and_guided_is_exact(tiny_model, photo, shared, branch):
    cache, exact, _ = shared
    out = generate(cache, tiny_model, photo, "turbo", config=TurboConfig(interval=1, branch=branch, gate=1.0))
    assert out.reuse["unet_calls_reused"] == 0 and out.reuse["steps_without_guidance"] == 0
    assert np.array_equal(out.frames, exact)


def test_each_lever_alone_stays_near_exact(tiny_model, photo, shared):
    cache, exact, other_seed = shared
    for config in (TurboConfig(gate=1.0), TurboConfig(branch="block", gate=1.0), TurboConfig(interval=1)):
        out = generate(cache, tiny_model, photo, "turbo", config=config)
        assert out.reuse["interval"] == config.interval and out.reuse["branch"] == config.branch
        assert not np.array_equal(out.frames, exact), config
        assert mean_abs(out.frames, exact) < 0.5 * mean_abs(other_seed, exact), config


def test_other_knobs_arrange_the_cached_pipeline_again(tiny_model, photo, shared):
    """A benchmark that changes the interval between runs must get the interval it asked for."""
    cache = shared[0]
    every_2nd = generate(cache, tiny_model, photo, "turbo", config=TurboConfig(interval=2, gate=1.0))
    every_5th = generate(cache, tiny_model, photo, "turbo", config=TurboConfig(interval=5, gate=1.0))
    assert (every_2nd.reuse["unet_calls_full"], every_5th.reuse["unet_calls_full"]) == (4, 3)  # 0,2,4,6 / 0,5,6
    assert not np.array_equal(every_2nd.frames, every_5th.frames)
    assert cache.loads == 1  # arranged again, not loaded again


def test_split_guidance_keeps_one_feature_per_half(tiny_model, photo):
    params = replace(PARAMS, decode_chunk=2)  # the temporal VAE decoder mixes frames within low's chunk
    cache = PipelineCache()
    batched = generate(cache, tiny_model, photo, "turbo", params=params).frames
    split = generate(cache, tiny_model, photo, "turbo", plan=CPU_LOW, params=params)
    # guided steps call the UNet once per half; after the gate, once per step
    assert split.reuse["unet_calls_full"] + split.reuse["unet_calls_reused"] == 2 * 3 + 4
    assert split.reuse["unet_calls_reused"] == 2 * 2 + 2
    assert np.abs(split.frames.astype(int) - batched.astype(int)).max() <= 1  # same maths, rounding at most


def test_leaving_turbo_restores_the_exact_unet(tiny_model, photo):
    cache = PipelineCache()
    first = generate(cache, tiny_model, photo, "exact").frames
    generate(cache, tiny_model, photo, "turbo")
    unet = unet_of(cache)
    assert turbo.of(unet) is not None
    again = generate(cache, tiny_model, photo, "exact")
    assert turbo.of(unet) is None and again.reuse is None
    assert not any("forward" in m.__dict__ for m in unet.modules())
    assert np.array_equal(again.frames, first)
    # under the low plan the guidance split stays in place when turbo leaves
    generate(cache, tiny_model, photo, "turbo", plan=CPU_LOW)
    generate(cache, tiny_model, photo, "exact", plan=CPU_LOW)
    assert turbo.of(unet) is None and "forward" in unet.__dict__


def test_turbo_on_compiled_blocks_matches_turbo(tiny_model, photo):
    """turbo-compiled traces every block with dynamic shapes (dynamo with the eager backend: no
    code generation on the processor); the guidance batch halves after the gate without
    breaking the graphs."""
    cache = PipelineCache()
    plain = generate(cache, tiny_model, photo, "turbo").frames
    out = run(cache, str(tiny_model), photo, PARAMS, memory.PLANS["cpu"], seed=5,
              speed=accel.Speed("turbo-compiled", backend="eager"))
    entry = next(iter(cache.entries.values()))
    assert entry.compiled and all(accel.is_compiled(m) for m in accel.blocks(entry.pipe))
    assert out.speed == "turbo-compiled" and out.reuse["unet_calls_reused"] == 4
    assert np.abs(out.frames.astype(int) - plain.astype(int)).max() <= 1


def test_turbo_from_the_cli_is_recorded_in_the_metadata(tiny_model, app_env, tmp_path, product_photo):
    out = tmp_path / "turbo.mp4"
    res = run_cli(["make", "--image", str(product_photo), *TINY_ARGS, "--steps", "4", "--seed", "3", "--speed",
                   "turbo", "--out", str(out)], {**app_env, "SVDAPP_SPEED": "compiled"}, tmp_path)
    assert res.returncode == 0, res.stderr
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["speed_mode"] == "turbo" and meta["settings"]["speed"] == "turbo"  # the flag beats the variable
    # 4 steps: guided 0, gate at 2 (0.4 x 4), full at 0, 2 and the last (3); step 1 reuses
    assert meta["turbo_reuse"]["unet_calls_full"] == 3 and meta["turbo_reuse"]["unet_calls_reused"] == 1
    assert meta["turbo_reuse"]["gate_step"] == 2


def test_the_environment_sets_the_default_speed(tiny_model, photo, monkeypatch):
    monkeypatch.setenv(accel.SPEED_ENV, "turbo")
    out = run(PipelineCache(), str(tiny_model), photo, PARAMS, memory.PLANS["cpu"], seed=5)
    assert out.speed == "turbo" and out.reuse["unet_calls_reused"] == 4
    assert accel.resolve("exact").mode == "exact"  # an explicit choice wins over $SVDAPP_SPEED
