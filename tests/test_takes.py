"""Takes: several seeds (SVD) or camera moves (classic), scored for product fidelity, the best kept.

The choice is proven with scores the test controls (``product_check.score`` replaced by a script
of (product_fidelity, motion) per call), since random-weight SVD frames keep no product at all.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from svdapp import product_check, takes
from svdapp.batch.tasks import Task
from svdapp.batch.workers import generate_one
from svdapp.errors import Cancelled, InputError
from svdapp.jobs import run_request
from svdapp.request import GenerationRequest
from svdapp.result import FidelityInfo
from svdapp.settings import load_settings
from svdapp.video import probe, read_frames

from .conftest import TINY_OVERRIDES
from .fakeengine import fake_engine  # noqa: F401  (fixture)


def scripted(monkeypatch, scores: list[tuple[float, float]]) -> list[int]:
    """Make product_check.score answer ``scores`` in turn (then the last one again); returns the
    number of frames each call was given."""
    given: list[int] = []

    def score(check, frames, progress):
        progress("score", 0, 1)
        fid, motion = scores[min(len(given), len(scores) - 1)]
        given.append(len(frames))
        progress("score", 1, 1)
        return FidelityInfo(product_fidelity=fid, motion=motion, ok=fid >= 0.8, finding="scripted",
                            verdict=f"Product fidelity {fid:.2f}: scripted")

    monkeypatch.setattr(product_check, "score", score)
    return given


# --- the rule -----------------------------------------------------------------------------------------

def test_the_best_score_is_kept_and_a_near_tie_goes_to_the_take_that_moves_more():
    assert takes.choose([(0.70, 9.0), (0.95, 1.0), (0.60, 20.0)]) == 1
    assert takes.choose([(0.93, 1.0), (0.92, 8.0), (0.50, 30.0)]) == 1  # within 0.02: more motion
    assert takes.choose([(0.93, 1.0), (0.90, 8.0)]) == 0  # 0.03 apart: the score decides
    assert takes.choose([(0.91, 5.0), (0.91, 5.0)]) == 0  # a full tie: the first
    # Ties are measured from the best take, not pairwise: 0.90 is 0.03 under the best and out.
    assert takes.choose([(0.90, 10.0), (0.915, 5.0), (0.93, 1.0)]) == 1
    assert takes.choose([(None, None), (0.2, 0.0)]) == 1  # a take that could not be scored loses
    assert takes.choose([(None, None), (None, None)]) == 0


def test_takes_are_checked_before_any_work():
    assert takes.plan(None, None) == takes.Plan(1)
    assert takes.plan(None, 0.8) == takes.Plan(takes.DEFAULT_ATTEMPTS, 0.8)
    assert takes.plan(4, None).previews and not takes.plan(4, 0.7).previews
    for bad in (0, takes.MAX_TAKES + 1, True, 2.5):
        with pytest.raises(InputError) as err:
            takes.plan(bad, None)
        assert "Takes must be" in err.value.message and err.value.hint == "Use --takes 4 (each take costs about " \
            "half a turbo video), or 1 for a single video."
    with pytest.raises(InputError, match="between 0 and 1"):
        takes.plan(None, 80)


def test_seeds_follow_the_first_and_cameras_start_with_the_one_asked_for():
    assert takes.seeds(2**32 - 1, 3) == [2**32 - 1, 0, 1]
    moves = takes.cameras("pan-left", 7)
    assert moves[0] == "pan-left" and len(set(moves)) == 7


def test_a_preview_is_turbo_with_few_steps_at_the_final_size(monkeypatch):
    from svdapp.presets import GenerationParams

    monkeypatch.delenv("SVDAPP_SPEED", raising=False)
    final = GenerationParams(steps=25, frames=25, width=1024, height=576, speed="exact")
    preview = takes.preview_params(final)
    assert (preview.steps, preview.speed, preview.frames, preview.width, preview.height) == \
        (takes.PREVIEW_STEPS, "turbo", 25, 1024, 576)
    assert takes.preview_params(GenerationParams(steps=4)).steps == 4
    assert takes.preview_params(GenerationParams(speed="compiled")).speed == "turbo-compiled"
    monkeypatch.setenv("SVDAPP_SPEED", "compiled")
    assert takes.preview_params(GenerationParams()).speed == "turbo-compiled"


# --- SVD ---------------------------------------------------------------------------------------------

def test_svd_takes_on_the_tiny_model_keep_the_best_and_render_its_seed_in_full(app_env, tmp_path, product_photo,
                                                                                monkeypatch):
    import svdapp.engine as engine

    calls = []
    generate = engine.generate

    def spy(folder, image, params, seed, progress=None, cancel=None):
        calls.append((seed, params.steps, params.speed))
        return generate(folder, image, params, seed, progress, cancel)

    monkeypatch.setattr(engine, "generate", spy)
    monkeypatch.setattr(takes, "PREVIEW_STEPS", 1)
    # Previews: 0.70; 0.91 still; 0.90 moving (a near-tie with the best: it is kept); then the final.
    given = scripted(monkeypatch, [(0.70, 5.0), (0.91, 0.5), (0.90, 9.0), (0.88, 8.0)])
    stages = []
    result = run_request(GenerationRequest(image=str(product_photo), engine="svd", takes=3,
                                           overrides={**TINY_OVERRIDES, "seed": 40}),
                         progress=lambda stage, done, total: stages.append((stage, done, total)))

    assert calls == [(40, 1, "turbo"), (41, 1, "turbo"), (42, 1, "turbo"), (42, 2, None)]
    assert given == [4, 4, 4, 4]
    meta = result.meta
    assert [(t.seed, t.product_fidelity, t.motion, t.kept) for t in meta.takes] == \
        [(40, 0.70, 5.0, False), (41, 0.91, 0.5, False), (42, 0.90, 9.0, True)]
    assert all((t.steps, t.speed) == (1, "turbo") for t in meta.takes)
    assert meta.seed == meta.settings.seed == 42 and meta.settings.steps == 2 and meta.speed_mode == "exact"
    assert meta.fidelity.product_fidelity == 0.88  # the final video's own score, not its preview's
    assert result.video.parent.name.endswith("-product-42")
    assert sorted(p.name for p in (result.video.parent / "takes").iterdir()) == [f"take-{i}.gif" for i in (1, 2, 3)]
    assert [t.preview for t in meta.takes] == [f"takes/take-{i}.gif" for i in (1, 2, 3)]
    assert [s for s in stages if s[0] in ("take", "final")] == [("take", 1, 3), ("take", 2, 3), ("take", 3, 3),
                                                                 ("final", 0, 1)]

    # Keeping a take is the same as asking for its seed with one take.
    again = run_request(GenerationRequest(image=str(product_photo), engine="svd", takes=1,
                                          overrides={**TINY_OVERRIDES, "seed": 42}, out=tmp_path / "again.mp4"))
    assert again.meta.takes == () and calls[-1] == (42, 2, None)
    np.testing.assert_array_equal(read_frames(result.video), read_frames(again.video))


def test_cancel_during_takes_writes_nothing(app_env, tmp_path, product_photo, monkeypatch):
    scripted(monkeypatch, [(0.5, 1.0)])
    cancel = threading.Event()

    def progress(stage, done, total):
        if (stage, done) == ("take", 2):
            cancel.set()  # Cancel pressed as the second take starts: it stops within one step

    with pytest.raises(Cancelled):
        run_request(GenerationRequest(image=str(product_photo), engine="svd", takes=3,
                                      overrides={**TINY_OVERRIDES, "seed": 1}), progress=progress, cancel=cancel)
    outputs = tmp_path / "outputs"
    assert not outputs.exists() or list(outputs.rglob("*")) == []


def test_one_take_makes_no_preview(app_env, fake_engine, product_photo, monkeypatch):
    given = scripted(monkeypatch, [(0.9, 3.0)])
    result = run_request(GenerationRequest(image=str(product_photo), engine="svd",
                                           overrides={**TINY_OVERRIDES, "seed": 9}))
    assert [(p.seed, p.steps, p.speed) for p in fake_engine.calls] == [(9, 2, None)]
    assert given == [4] and result.meta.takes == () and not (result.video.parent / "takes").exists()


# --- classic -----------------------------------------------------------------------------------------

def test_classic_takes_are_other_camera_moves_and_the_kept_one_is_the_video(app_env, tmp_path, product_photo):
    result = run_request(GenerationRequest(image=str(product_photo), engine="classic", camera="pan-left", takes=3,
                                           seconds=0.5, overrides={"width": 256, "height": 128, "seed": 3}))
    meta = result.meta
    cameras = [t.camera for t in meta.takes]
    assert cameras[0] == "pan-left" and len(set(cameras)) == 3
    kept = takes.choose([(t.product_fidelity, t.motion) for t in meta.takes])
    assert [t.kept for t in meta.takes] == [i == kept for i in range(3)]
    assert meta.classic.camera == cameras[kept]
    assert meta.fidelity.product_fidelity == meta.takes[kept].product_fidelity
    same = run_request(GenerationRequest(image=str(product_photo), engine="classic", camera=cameras[kept],
                                         seconds=0.5, overrides={"width": 256, "height": 128, "seed": 3},
                                         out=tmp_path / "same.mp4"))
    np.testing.assert_array_equal(read_frames(result.video), read_frames(same.video))


def test_eight_classic_takes_are_the_seven_camera_moves(app_env, tmp_path, product_photo):
    result = run_request(GenerationRequest(image=str(product_photo), engine="classic", takes=8, seconds=0.5,
                                           overrides={"width": 128, "height": 64}, out=tmp_path / "v.mp4"))
    assert len(result.meta.takes) == 7 and any("7 camera moves" in n for n in result.fallbacks)
    assert not (tmp_path / "takes").exists()  # previews only go into a result folder, for the page


# --- attempts until the product is kept (batch --min-fidelity) ---------------------------------------

def _task(photo: Path, out: Path, **fields) -> Task:
    return Task("SKU-1", GenerationRequest(image=str(photo), out=out / "SKU-1" / "video.mp4", image_name="SKU-1",
                                           **fields), "fp")


def test_min_fidelity_retries_with_new_seeds_until_one_passes(app_env, fake_engine, tmp_path, product_photo,
                                                            monkeypatch):
    scripted(monkeypatch, [(0.40, 2.0), (0.86, 1.0), (0.99, 9.0)])
    record = generate_one(_task(product_photo, tmp_path, engine="svd", min_fidelity=0.85,
                                overrides={**TINY_OVERRIDES, "seed": 10}), load_settings())
    assert record["status"] == "done", record
    assert [p.seed for p in fake_engine.calls] == [10, 11]  # full renders, stopped at the first that passed
    assert all(p.steps == 2 and p.speed is None for p in fake_engine.calls)
    assert (record["seed"], record["product_fidelity"], record["review"], record["takes"]) == (11, 0.86, False, 2)
    assert probe(tmp_path / record["video"]).frames == 4


def test_min_fidelity_keeps_the_best_for_review_when_none_passes(app_env, tmp_path, product_photo, monkeypatch):
    scripted(monkeypatch, [(0.40, 2.0), (0.61, 3.0), (0.55, 9.0)])
    record = generate_one(_task(product_photo, tmp_path, engine="classic", min_fidelity=0.8, seconds=0.5,
                                overrides={"width": 128, "height": 64}), load_settings())
    assert (record["product_fidelity"], record["motion"], record["review"], record["takes"]) == (0.61, 3.0, True, 3)
    import json
    meta = json.loads((tmp_path / record["meta"]).read_text())
    assert meta["fidelity"]["review"] is True and meta["fidelity"]["min_fidelity"] == 0.8
    assert [t["kept"] for t in meta["takes"]] == [False, True, False]
    assert meta["classic"]["camera"] == meta["takes"][1]["camera"]


def test_a_photo_without_a_product_still_gives_its_video_with_the_reason(app_env, tmp_path):
    from PIL import Image

    flat = tmp_path / "flat.png"
    Image.new("RGB", (320, 240), (200, 200, 200)).save(flat)
    result = run_request(GenerationRequest(image=str(flat), engine="classic", seconds=0.5, takes=3,
                                           min_fidelity=0.8, overrides={"width": 128, "height": 64}))
    assert probe(result.video).frames == 15
    fid = result.meta.fidelity
    assert fid.product_fidelity is None and "No product found" in fid.error and fid.hint
    assert fid.review is True and result.meta.takes == ()
    assert any("one take instead of 3" in note for note in result.fallbacks)
