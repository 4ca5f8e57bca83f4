"""A run as the user follows it, through ``run_request``: a cancel at every stage of both
engines stops it at its next step with nothing written and its frames freed, and the next run
works; out-of-memory notes reach meta.json, the command line and the page's result panel.

The SVD runs use the real engine on the tiny model; the notes come from the stand-in engine
(tests/fakeengine.py), which test_engine.py holds to the real runner's progress and cancel.
"""

from __future__ import annotations

import gc
import json
import threading
import weakref
from pathlib import Path

import pytest

from svdapp.errors import Cancelled
from svdapp.jobs import run_request
from svdapp.request import GenerationRequest
from svdapp.video import probe

from .conftest import TINY_OVERRIDES
from .fakeengine import fake_engine  # noqa: F401  (fixture)

LAST = -1  # the last report of a stage: its work is done


def svd_request(photo: Path, out: Path | None = None) -> GenerationRequest:
    """4 frames decoded one at a time, interpolated to 7: every SVD stage reports several steps."""
    return GenerationRequest(image=str(photo), engine="svd", interpolate=2, out=out,
                             overrides={**TINY_OVERRIDES, "decode_chunk": 1, "seed": 1})


def classic_request(photo: Path, out: Path | None = None) -> GenerationRequest:
    return GenerationRequest(image=str(photo), engine="classic", seconds=0.5, formats=("webm",), out=out,
                             overrides={"width": 128, "height": 64, "seed": 1})


@pytest.fixture
def held(monkeypatch):
    """Weak references to what a run holds in memory (the SVD latents and frames, the classic
    clip), and each time the SVD runner freed GPU memory."""
    from svdapp import classic, engine
    from svdapp.engine import runner

    refs, frees = [], []

    def hold(module, name, part):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            out = real(*args, **kwargs)
            refs.append(weakref.ref(part(out)))
            return out
        monkeypatch.setattr(module, name, wrapper)

    hold(runner, "_denoise", lambda latents: latents)
    hold(engine, "generate", lambda out: out.frames)
    hold(classic, "render", lambda out: out.clip)
    free = runner.free_memory
    monkeypatch.setattr(runner, "free_memory", lambda: (frees.append(1), free())[1])
    return refs, frees


def cancelled_at(request: GenerationRequest, stage: str, step: int) -> list[tuple[str, int, int]]:
    """Run ``request``, pressing Cancel when ``stage`` reports ``step`` (LAST: its last one); the
    reports seen. The Cancelled error is dropped as a shell drops it once shown."""
    cancel, seen = threading.Event(), []

    def progress(name, done, total):
        seen.append((name, done, total))
        if name == stage and done == (total if step == LAST else step):
            cancel.set()

    with pytest.raises(Cancelled):
        run_request(request, progress=progress, cancel=cancel)
    return seen


def assert_stopped_there(seen: list, stage: str, step: int) -> None:
    name, done, total = seen[-1]
    assert (name, done) == (stage, total if step == LAST else step), f"went on after the cancel: {seen[-4:]}"


CASES = {
    "svd": (svd_request, [("denoise", 1), ("decode", 1), ("interpolate", 1), ("encode", 1),
                          ("encode", LAST)]),  # the last: every file encoded, before the final move
    "classic": (classic_request, [("render", 0), ("encode", 1), ("webm", 1), ("webm", LAST)]),
}


@pytest.mark.parametrize("engine,stage,step", [(e, s, n) for e, (_, points) in CASES.items() for s, n in points])
def test_cancel_at_every_stage_writes_nothing_frees_the_frames_and_the_next_run_works(
        app_env, tmp_path, product_photo, held, engine, stage, step):
    make, _ = CASES[engine]
    refs, frees = held
    seen = cancelled_at(make(product_photo), stage, step)
    assert_stopped_there(seen, stage, step)
    outputs = tmp_path / "outputs"
    assert not outputs.exists() or list(outputs.iterdir()) == []  # no video, no staging folder
    gc.collect()
    assert all(ref() is None for ref in refs)  # nothing holds the latents or frames any more
    assert refs or stage == "denoise"  # (cancelled while denoising, there were none yet)
    if stage in ("denoise", "decode"):
        assert frees, "the engine did not free GPU memory after the cancel"

    result = run_request(make(product_photo))  # the next run, not cancelled
    info = probe(result.video)
    assert (info.codec, info.frames) == ("h264", 7 if engine == "svd" else 15)
    assert [p.parent.name for p in outputs.glob("*/meta.json")] == [result.video.parent.name]


@pytest.mark.parametrize("engine", list(CASES))
def test_cancel_before_the_final_move_leaves_nothing_beside_an_out_path(app_env, tmp_path, product_photo, engine):
    make, points = CASES[engine]
    out = tmp_path / "shop" / "clip.mp4"
    stage, step = points[-1]
    assert_stopped_there(cancelled_at(make(product_photo, out), stage, step), stage, step)
    assert list(out.parent.iterdir()) == []


# --- out-of-memory notes ------------------------------------------------------------------------

NOTES = ["Out of GPU memory while denoising with the high memory plan; retried with the normal plan.",
         "Out of GPU memory while decoding 8 frames at a time; decoded 4 at a time instead."]


def test_out_of_memory_notes_reach_meta_json_the_cli_and_the_result_panel(app_env, fake_engine, tmp_path,
                                                                          product_photo, capsys):
    from svdapp import cli
    from svdapp.history import read_result
    from svdapp.ui.views import result_markdown

    fake_engine.fallbacks, fake_engine.plan = list(NOTES), "normal"
    code = cli.main(["make", "--image", str(product_photo), "--width", "128", "--height", "64", "--frames", "4",
                     "--steps", "2", "--seed", "3"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert [line[len("note: "):] for line in err.splitlines() if line.startswith("note: ")] == NOTES
    (folder,) = (tmp_path / "outputs").iterdir()
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert (meta["fallbacks"], meta["memory_plan"], meta["decode_chunk_used"]) == (NOTES, "normal", 8)
    panel = result_markdown(read_result(folder).meta, "from history: " + folder.name)  # as D4 shows it
    assert [line[2:] for line in panel.split("\n\n") if line.startswith("⚠ ")] == NOTES
    assert "memory plan normal" in panel
