"""Speed modes and the low plan's chunked feed-forward, on the tiny model (CPU)."""

from dataclasses import replace

import pytest
import torch

from svdapp.engine import accel, memory
from svdapp.engine.cache import RowChunkedFeedForward, set_feed_forward_chunking
from svdapp.engine.random_weights import tiny_pipeline
from svdapp.errors import InputError


def test_speed_mode_defaults_to_exact_and_rejects_unknown(monkeypatch):
    monkeypatch.delenv(accel.SPEED_ENV, raising=False)
    assert accel.resolve() == accel.Speed("exact")
    for value, mode in (("Compiled", "compiled"), ("turbo", "turbo"), (" TURBO-compiled ", "turbo-compiled")):
        monkeypatch.setenv(accel.SPEED_ENV, value)
        assert accel.resolve().mode == mode
    assert accel.resolve("exact").mode == "exact"  # an explicit choice wins
    monkeypatch.setenv(accel.SPEED_ENV, "warp")
    with pytest.raises(InputError, match="SVDAPP_SPEED"):
        accel.resolve()


def test_only_big_plans_compile_and_arranging_again_undoes_it():
    pipe = tiny_pipeline()
    on_cpu = {name: replace(memory.PLANS[name], device="cpu", offload=None) for name in memory.LADDER}
    traced = accel.Speed("compiled", backend="eager")
    assert accel.apply(pipe, on_cpu["high"], traced) and accel.apply(pipe, on_cpu["normal"], traced)
    assert all(accel.is_compiled(m) for m in accel.blocks(pipe)) and accel.blocks(pipe)
    assert not accel.apply(pipe, on_cpu["low"], traced)  # guidance split, sliced feed-forward: plain kernels
    assert not any(accel.is_compiled(m) for m in accel.blocks(pipe))
    assert accel.apply(pipe, on_cpu["high"], accel.Speed("turbo-compiled", backend="eager"))
    assert not accel.apply(pipe, on_cpu["high"], accel.Speed("exact"))
    assert not any(accel.is_compiled(m) for m in accel.blocks(pipe))
    # with the real backend, compiling needs CUDA + triton: never on the processor
    assert not accel.apply(pipe, memory.PLANS["cpu"], accel.Speed("compiled"))


def test_chunked_feed_forward_is_the_same_maths_and_unwraps():
    unet = tiny_pipeline().unet
    sample = torch.randn(2, 4, 8, 8, 16)
    args = (sample, torch.tensor(10.0), torch.randn(2, 1, 32), torch.randn(2, 3))
    with torch.inference_mode():
        plain = unet(*args).sample
        set_feed_forward_chunking(unet, 4000)  # small enough that every block slices
        wrapped = [m for m in unet.modules() if isinstance(m, RowChunkedFeedForward)]
        chunked = unet(*args).sample
        set_feed_forward_chunking(unet, None)
        again = unet(*args).sample
    assert len(wrapped) >= 4  # spatial ff, temporal ff_in and ff
    torch.testing.assert_close(chunked, plain, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, RowChunkedFeedForward) for m in unet.modules())
    assert torch.equal(again, plain)
