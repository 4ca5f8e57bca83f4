"""A stand-in for ``svdapp.engine`` (no torch): each frame is the fitted photo.

For tests of everything around the engine (input checks, the write path, errors): the
engine's contract is "fitted RGB frame in, N x H x W x 3 uint8 frames out", and returning
the fitted photo makes the video show exactly what the model would have been given. It
returns EngineOutput, the one type ``jobs`` reads from an engine, so it cannot drift from it.
``calls`` records every generation, so a test can prove a bad request did no work.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import svdapp
from svdapp.engine_output import EngineOutput


@pytest.fixture
def fake_engine(monkeypatch):
    calls = []

    def generate(folder, image, params, seed, progress=None, cancel=None):
        calls.append(params)
        arr = np.asarray(image, dtype=np.uint8)
        return EngineOutput(np.stack([arr] * params.frames), plan="cpu", decode_chunk=params.decode_chunk,
                            timings={"denoise": 0.0}, speed=params.speed or "exact")

    engine = types.ModuleType("svdapp.engine")
    engine.generate, engine.calls = generate, calls
    engine.versions = lambda: {"python": sys.version.split()[0]}
    monkeypatch.setitem(sys.modules, "svdapp.engine", engine)
    monkeypatch.setattr(svdapp, "engine", engine, raising=False)
    return engine
