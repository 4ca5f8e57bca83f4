"""Every video's product fidelity: scored on the engine's frames, kept in meta.json, shown by the
CLI and the page; and ``svdapp inspect`` for any video and its photo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from svdapp import product_check
from svdapp.cli import _fidelity_lines
from svdapp.jobs import run_request
from svdapp.request import GenerationRequest
from svdapp.result import FidelityInfo, ResultMeta, TakeInfo
from svdapp.ui.views import result_markdown

from .conftest import run_cli
from .fakeengine import fake_engine  # noqa: F401  (fixture)


def test_at_most_25_frames_are_scored_spread_evenly_with_the_last_three_in_a_row():
    assert product_check.frames_to_score(25) == list(range(25))
    for count in (26, 49, 120, 240):
        picked = product_check.frames_to_score(count)
        assert len(picked) == 25 and picked[0] == 0 and picked == sorted(set(picked))
        assert picked[-3:] == [count - 3, count - 2, count - 1]
        gaps = [b - a for a, b in zip(picked[:-4], picked[1:-3])]
        assert max(gaps) - min(gaps) <= 1  # evenly spread before the end


def test_both_engines_write_the_score_into_their_metadata(app_env, fake_engine, tmp_path, product_photo):
    svd = run_request(GenerationRequest(image=str(product_photo), engine="svd", interpolate=2, framing="1:1",
                                        overrides={"width": 512, "height": 256, "frames": 4, "steps": 2, "seed": 1,
                                                   "memory": "cpu"}))
    fid = svd.meta.fidelity
    # The engine's 4 frames were scored, not the 7 interpolated and padded ones: the product kept, but still.
    assert fid.scored == (0, 1, 2, 3) and len(fid.per_frame) == 4 and svd.meta.output.frames == 7
    assert fid.ok and fid.product_fidelity >= 0.8 and fid.motion < 1 and "barely moves" in fid.remarks
    assert fid.separation == "grabcut" and fid.error is None and fid.seconds > 0

    classic = run_request(GenerationRequest(image=str(product_photo), engine="classic", framing="9:16", seconds=2))
    fid = classic.meta.fidelity
    assert classic.meta.output.frames == 60 and (classic.meta.output.width, classic.meta.output.height) == (1080, 1920)
    assert len(fid.scored) == 25 and fid.scored[-3:] == (57, 58, 59)  # bounded, the end always in
    assert fid.ok and fid.motion > 1

    for result in (svd, classic):
        written = json.loads(result.meta_path.read_text(encoding="utf-8"))
        assert written["fidelity"]["product_fidelity"] == result.meta.fidelity.product_fidelity
        assert ResultMeta.from_json(written).fidelity == result.meta.fidelity


KEPT = FidelityInfo(product_fidelity=0.93, ok=True, finding="the product is kept.", motion=12.0)
CHANGED = FidelityInfo(product_fidelity=0.41, ok=False, motion=9.0,
                       finding="the product changed (its colour changed most; worst at frame 25 of 25).")
UNMEASURED = FidelityInfo(error="No product found in the photo: it has no transparency.",
                          hint="Use a PNG with a transparent background.")


def _meta(fidelity: FidelityInfo | None, engine: str = "svd", **fields) -> ResultMeta:
    return ResultMeta(engine=engine, seed=5, fidelity=fidelity, **fields)


def test_the_command_line_says_kept_or_warns_with_what_to_try():
    assert _fidelity_lines(_meta(KEPT)) == ["  Product kept: 0.93 ✓"]
    (warning,) = _fidelity_lines(_meta(CHANGED))
    assert warning == ("warning: Product fidelity 0.41: the product changed (its colour changed most; worst at frame "
                       "25 of 25). Try another seed, less motion (--motion 80), or the classic engine (--engine "
                       "classic), which never alters the product. Or make several takes (--takes 4) and keep the "
                       "best.")
    (classic,) = _fidelity_lines(_meta(CHANGED, "classic"))
    assert "Try another camera move (--camera)" in classic and "--engine classic" not in classic
    assert _fidelity_lines(_meta(UNMEASURED)) == [
        "warning: Product fidelity not measured: No product found in the photo: it has no transparency. Use a PNG "
        "with a transparent background."]
    takes = (TakeInfo(seed=5, product_fidelity=0.93, kept=True), TakeInfo(seed=6, product_fidelity=0.5))
    assert _fidelity_lines(_meta(KEPT, takes=takes))[0] == "  takes: seed 5: 0.93 (kept), seed 6: 0.50"
    assert _fidelity_lines(_meta(None)) == []  # a result from before scoring


def test_the_page_shows_the_score_with_its_own_words_for_the_fix():
    assert "**Product kept: 0.93 ✓**" in result_markdown(_meta(KEPT))
    text = result_markdown(_meta(CHANGED))
    assert "⚠ Product fidelity 0.41: the product changed (its colour changed most" in text
    assert "less motion (Advanced → Motion strength = 80)" in text and "D3 → Takes = 4" in text
    assert "⚠ Product fidelity not measured: No product found" in result_markdown(_meta(UNMEASURED))


@pytest.fixture
def made_video(app_env, tmp_path, product_photo) -> Path:
    """A video made by the command line, as a user would, and its photo."""
    out = run_cli(["make", "--image", str(product_photo), "--engine", "classic", "--seconds", "1", "--width", "256",
                   "--height", "128", "--out", "clip.mp4"], app_env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "  Product kept: 1.00 ✓" in out.stdout.splitlines()
    return tmp_path / "clip.mp4"


def test_inspect_prints_the_scores_and_json(app_env, tmp_path, product_photo, made_video):
    out = run_cli(["inspect", str(made_video), "--photo", str(product_photo)], app_env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Product fidelity: 1.00") and "motion" in out.stdout and "flicker" in out.stdout
    assert "the product is kept" in out.stdout

    out = run_cli(["inspect", str(made_video), "--photo", str(product_photo), "--json"], app_env, tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["product_fidelity"] == 1.0 and len(report["per_frame"]) == 30 and report["ok"] is True
    assert {"motion", "flicker", "scene_change", "frames", "verdict", "thresholds"} <= set(report)


def test_inspect_refuses_what_it_cannot_score_with_a_fix(app_env, tmp_path, product_photo, made_video):
    flat = tmp_path / "flat.png"
    Image.new("RGB", (320, 240), (200, 200, 200)).save(flat)
    cases = [([str(tmp_path / "missing.mp4"), "--photo", str(product_photo)], "Video file not found"),
             ([str(product_photo), "--photo", str(product_photo)], "is a still picture, not a video"),
             ([str(made_video), "--photo", str(flat)], "No product found in the photo")]
    for args, said in cases:
        out = run_cli(["inspect", *args], app_env, tmp_path)
        assert out.returncode == 2 and said in out.stderr, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("  fix: ")
