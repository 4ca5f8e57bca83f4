"""A stand-in for ``svdapp.engine`` (no torch): each frame is the fitted photo.

For tests of everything around the engine (input checks, the write path, errors, progress,
cancel, out-of-memory notes): the engine's contract is "fitted RGB frame in, N x H x W x 3
uint8 frames out", and returning the fitted photo makes the video show exactly what the
model would have been given. It returns EngineOutput, the one type ``jobs`` reads from an
engine, so it cannot drift from it, and it behaves like the real runner where a user can
tell (test_engine.py compares the two): the same progress reports (load, each denoising
step, each decoded chunk), a cancel stops it at the same points with ``Cancelled``, and the
out-of-memory steps down a test puts in ``fallbacks`` come back as the real ones do.
``calls`` records every generation (its settings; ``images`` the frames given), so a test
can prove a bad request did no work.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import svdapp
from svdapp.engine_output import EngineOutput
from svdapp.errors import Cancelled


@pytest.fixture
def fake_engine(monkeypatch):
    calls, images = [], []
    engine = types.ModuleType("svdapp.engine")

    def generate(folder, image, params, seed, progress=None, cancel=None):
        report = progress or (lambda stage, done, total: None)

        def stop_if_cancelled():
            if cancel is not None and cancel.is_set():
                raise Cancelled()

        calls.append(params)
        images.append(np.asarray(image, dtype=np.uint8))
        report("load", 0, 1)
        report("load", 1, 1)
        report("denoise", 0, params.steps)
        stop_if_cancelled()
        for step in range(params.steps):  # the runner's step callback: report, then look for a cancel
            report("denoise", step + 1, params.steps)
            stop_if_cancelled()
        chunk = min(params.decode_chunk, engine.max_decode_chunk or params.decode_chunk)
        report("decode", 0, params.frames)
        for start in range(0, params.frames, chunk):  # the decoder looks before each chunk
            stop_if_cancelled()
            report("decode", min(start + chunk, params.frames), params.frames)
        return EngineOutput(np.stack([images[-1]] * params.frames), plan=engine.plan, decode_chunk=chunk,
                            fallbacks=tuple(engine.fallbacks), timings={"denoise": 0.0},
                            speed=params.speed or "exact")

    engine.generate, engine.calls, engine.images = generate, calls, images
    engine.plan, engine.max_decode_chunk = "cpu", None  # what a test's "card" ran with
    engine.fallbacks = []  # out-of-memory steps down a test wants this run to have met, in the runner's words
    engine.versions = lambda: {"python": sys.version.split()[0]}
    monkeypatch.setitem(sys.modules, "svdapp.engine", engine)
    monkeypatch.setattr(svdapp, "engine", engine, raising=False)
    return engine
