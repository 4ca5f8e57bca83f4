"""The engine on the tiny model: one cached pipeline, the OOM ladder, cancel, split guidance.

OOM is injected by raising torch.cuda.OutOfMemoryError from the UNet or the VAE decoder,
exactly what a real card raises. The ladder's plans are moved onto the CPU so every step
of it runs here for real (arrange, guidance split, chunked feed-forward).
"""

import re
import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
from PIL import Image

from svdapp.engine import memory
from svdapp.engine.cache import PipelineCache
from svdapp.engine.runner import run
from svdapp.errors import Cancelled, OutOfMemory
from svdapp.presets import resolve

from .fakeengine import fake_engine  # noqa: F401  (fixture)

PARAMS = resolve(None, {"width": 128, "height": 64, "frames": 4, "steps": 2, "memory": "cpu", "decode_chunk": 4})


@pytest.fixture
def photo():
    img = Image.new("RGB", (128, 64), (230, 230, 230))
    img.paste((30, 90, 200), (44, 8, 84, 56))
    return img


@pytest.fixture
def cpu_ladder(monkeypatch):
    """high/normal/low/minimal with their activation savings, but on the CPU."""
    for name in memory.LADDER:
        monkeypatch.setitem(memory.PLANS, name, replace(memory.PLANS[name], device="cpu", offload=None))
    return memory.PLANS


@pytest.fixture
def unet_calls(monkeypatch):
    """Count UNet forward calls (each half of a split guidance batch counts once)."""
    calls = {"n": 0, "oom_left": 0, "oom_if_frames_over": None,
             "error": lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")}
    original = UNetSpatioTemporalConditionModel.forward

    def forward(self, sample, *args, **kwargs):
        calls["n"] += 1
        limit = calls["oom_if_frames_over"]
        if calls["oom_left"] > 0 or (limit is not None and sample.shape[1] > limit):
            calls["oom_left"] = max(0, calls["oom_left"] - 1)
            raise calls["error"]()
        return original(self, sample, *args, **kwargs)

    monkeypatch.setattr(UNetSpatioTemporalConditionModel, "forward", forward)
    return calls


def test_second_generation_reuses_the_loaded_pipeline(tiny_model, photo):
    cache = PipelineCache()
    plan = memory.PLANS["cpu"]
    first = run(cache, str(tiny_model), photo, PARAMS, plan, seed=1)
    second = run(cache, str(tiny_model), photo, PARAMS, plan, seed=2)
    assert cache.loads == 1
    assert first.load_seconds > 0 and second.load_seconds == 0
    assert first.frames.shape == second.frames.shape == (4, 64, 128, 3)
    assert not np.array_equal(first.frames, second.frames)  # different seeds, different videos


def test_same_seed_same_frames(tiny_model, photo):
    cache = PipelineCache()
    a = run(cache, str(tiny_model), photo, PARAMS, memory.PLANS["cpu"], seed=7).frames
    b = run(cache, str(tiny_model), photo, PARAMS, memory.PLANS["cpu"], seed=7).frames
    assert np.array_equal(a, b)


def test_oom_in_decode_retries_decode_only_with_smaller_chunks(tiny_model, photo, unet_calls, monkeypatch):
    original = AutoencoderKLTemporalDecoder.decode

    def decode(self, z, *args, **kwargs):
        if z.shape[0] > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory while decoding")
        return original(self, z, *args, **kwargs)

    monkeypatch.setattr(AutoencoderKLTemporalDecoder, "decode", decode)
    params = replace(PARAMS, frames=8, decode_chunk=8)
    out = run(PipelineCache(), str(tiny_model), photo, params, memory.PLANS["cpu"], seed=3)
    assert out.frames.shape[0] == 8 and out.decode_chunk == 1
    assert unet_calls["n"] == params.steps  # the UNet ran once per step: denoising was not repeated
    assert [re.search(r"decoding (\d+) frames at a time; decoded (\d+) at a time", f).groups()
            for f in out.fallbacks] == [("8", "4"), ("4", "2"), ("2", "1")]


def test_oom_in_denoise_steps_the_memory_plan_down(tiny_model, photo, cpu_ladder, unet_calls):
    cache = PipelineCache()
    # the temporal VAE decoder mixes frames within a chunk, so compare at low's decode chunk
    params = replace(PARAMS, decode_chunk=2)
    reference = run(cache, str(tiny_model), photo, params, cpu_ladder["high"], seed=11).frames
    unet_calls["oom_left"] = 2  # high and normal run out of memory, low fits
    out = run(cache, str(tiny_model), photo, params, cpu_ladder["high"], seed=11)
    assert out.plan == "low" and cache.loads == 1
    assert [f.split(";")[1].strip() for f in out.fallbacks] == ["retried with the normal plan.",
                                                                 "retried with the low plan."]
    # low splits the guidance batch and chunks feed-forward: same maths, same video
    diff = np.abs(out.frames.astype(int) - reference.astype(int))
    assert diff.max() <= 1


def test_oom_on_the_smallest_plan_walks_the_frame_ladder_from_50(tiny_model, photo, cpu_ladder, unet_calls):
    """The real frame ladder (50 → 25 → 15 → 8, as the README writes it), met through a plain
    RuntimeError("CUDA error: out of memory"), the form some CUDA errors take."""
    unet_calls["oom_if_frames_over"] = 8
    unet_calls["error"] = lambda: RuntimeError("CUDA error: out of memory")
    params = replace(PARAMS, frames=50, steps=1)
    out = run(PipelineCache(), str(tiny_model), photo, params, cpu_ladder["minimal"], seed=5)
    assert out.frames.shape == (8, 64, 128, 3) and out.plan == "minimal"
    assert [re.search(r"denoising (\d+) frames on the minimal plan; retried with (\d+) frames", f).groups()
            for f in out.fallbacks] == [("50", "25"), ("25", "15"), ("15", "8")]


def test_the_readme_s_memory_plans_and_ladders_are_the_engine_s():
    from .conftest import README, readme_table

    rows = {row["plan"].strip("`"): row["what it does"]
            for row in readme_table("### Memory plans and the out-of-memory ladder")}
    plans = [memory.PLANS["high"]]
    while (lower := memory.next_plan(plans[-1])) is not None:
        plans.append(lower)
    assert list(rows) == [p.name for p in plans] == list(memory.LADDER)
    assert "decode chunk ≤ 2" in rows["low"] and memory.PLANS["low"].max_decode_chunk == 2
    assert "decode chunk 1" in rows["minimal"] and memory.PLANS["minimal"].max_decode_chunk == 1
    written = re.search(r"then to fewer frames\s+\(([^)]*)\)", README.read_text(encoding="utf-8")).group(1)
    ladder = [int(n) for n in written.split("→")]
    assert ladder == [50, 25, 15, 8]
    frames = [50]
    while (fewer := memory.next_frames(frames[-1])) is not None:
        frames.append(fewer)
    assert frames == ladder


@pytest.mark.parametrize("error,oom", [
    (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
    (RuntimeError("CUDA error: out of memory"), True),
    (RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 7.79 GiB total capacity)"), True),
    (RuntimeError("CUDA error: an illegal memory access was encountered"), False),
    (ValueError("out of memory"), False),
])
def test_what_counts_as_out_of_memory(error, oom):
    assert memory.is_oom(error) is oom


def test_an_error_that_is_not_oom_is_not_stepped_around(tiny_model, photo, cpu_ladder, unet_calls):
    unet_calls["oom_left"] = 1
    unet_calls["error"] = lambda: RuntimeError("CUDA error: an illegal memory access was encountered")
    with pytest.raises(RuntimeError, match="illegal memory access"):
        run(PipelineCache(), str(tiny_model), photo, PARAMS, cpu_ladder["high"], seed=5)
    assert unet_calls["n"] == 1  # no retry on another plan


def test_exhausted_ladder_says_what_was_tried_and_what_to_do(tiny_model, photo, cpu_ladder, unet_calls):
    unet_calls["oom_left"] = 10**6
    with pytest.raises(OutOfMemory) as err:
        run(PipelineCache(), str(tiny_model), photo, PARAMS, cpu_ladder["normal"], seed=5)
    msg = str(err.value)
    assert "normal memory plan" in msg and "low plan" in msg and "minimal plan" in msg
    assert "Low-memory portrait" in err.value.hint and "Close other programs" in err.value.hint


def test_cancel_stops_within_one_step(tiny_model, photo, unet_calls):
    cancel = threading.Event()
    seen = []

    def progress(stage, done, total):
        seen.append((stage, done))
        if stage == "denoise" and done == 1:
            cancel.set()

    params = replace(PARAMS, steps=6)
    with pytest.raises(Cancelled):
        run(PipelineCache(), str(tiny_model), photo, params, memory.PLANS["cpu"], seed=1, progress=progress,
            cancel=cancel)
    assert unet_calls["n"] == 1 and ("decode", 0) not in seen


def test_choose_plan_from_free_memory():
    from svdapp.engine.device import GIB, DeviceInfo

    def card(free_gib):
        return DeviceInfo("2", True, "12", "GPU", (8, 9), int(24 * GIB), int(free_gib * GIB))

    assert memory.choose_plan("auto", DeviceInfo("2", False, None)).name == "cpu"
    assert memory.choose_plan("auto", card(23)).name == "high"
    assert memory.choose_plan("auto", card(6)).name == "minimal"
    assert memory.choose_plan("low", card(23)).name == "low"
    picked = [memory.choose_plan("auto", card(g)).name for g in (5, 7.5, 9, 12, 16, 24, 40)]
    assert picked == sorted(picked, key=memory.LADDER[::-1].index)  # more memory never picks a smaller plan


def test_the_stand_in_engine_reports_and_cancels_like_the_real_one(tiny_model, photo, fake_engine):
    """tests/fakeengine.py stands in for this runner in the tests of everything around it: the same
    progress reports, and a cancel stops both at the same report with Cancelled."""
    params = replace(PARAMS, decode_chunk=2)

    def reports(generate, stop_at=None):
        seen, cancel = [], threading.Event()

        def progress(stage, done, total):
            seen.append((stage, done, total))
            if (stage, done) == stop_at:
                cancel.set()
        try:
            generate(progress, cancel)
        except Cancelled:
            return seen, True
        return seen, False

    def real(progress, cancel):
        return run(PipelineCache(), str(tiny_model), photo, params, memory.PLANS["cpu"], 1, progress, cancel)

    def fake(progress, cancel):
        return fake_engine.generate("model", photo, params, 1, progress, cancel)

    everything = reports(real)
    assert everything == reports(fake) and everything[0][-1] == ("decode", 4, 4)
    assert reports(real, ("decode", 2)) == reports(fake, ("decode", 2)) == (everything[0][:-1], True)
    for stage, done, _ in everything[0][2:]:  # the stand-in stops at every report after loading
        seen, cancelled = reports(fake, (stage, done))
        assert seen[-1][:2] == (stage, done) and cancelled == ((stage, done) != ("decode", 4))  # decoded: done
