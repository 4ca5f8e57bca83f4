"""Product fidelity: camera moves keep the score high, a product that changes scores low.

Every clip is built here (``fidelity_clips``) from four product designs — svdapp's own
bottle, a tea carton with print and a logo, a honey jar on a busy cloth, a plain mug with no
print at all — with and without alpha, so the truth is known: the product either only moves
as a whole (≥ KEEP_THRESHOLD) or, by the last frames, is bent, recoloured, blurred, smeared or
erased (< FAIL_THRESHOLD).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from svdapp import classic, fidelity, imageprep, video
from svdapp.errors import InputError
from svdapp.testimage import make_test_product

from . import fidelity_clips as fc
from .fidelity_clips import ClipSpec

FRAMES = 8
_products: dict[str, fc.Product] = {}
_references: dict[str, fidelity.ProductReference] = {}


def product(name: str) -> fc.Product:
    if name not in _products:
        _products[name] = fc.PRODUCTS[name]()
    return _products[name]


def reference(name: str) -> fidelity.ProductReference:
    """The photo side once per product (GrabCut is the slow part), as a caller scoring many
    seeds of one photo would keep it."""
    if name not in _references:
        _references[name] = fidelity.load_reference(product(name).photo())
    return _references[name]


def score(spec: ClipSpec) -> fidelity.FidelityReport:
    return fidelity.score_video(reference(spec.product), fc.render_clip(spec, product(spec.product)))


GOOD = [
    ClipSpec("bottle", "push-in", frames=FRAMES),
    ClipSpec("bottle-alpha", "pull-out", size=(576, 1024), frames=FRAMES),
    ClipSpec("carton-alpha", "pan", frames=FRAMES),
    ClipSpec("carton", "tilt", size=(576, 1024), frames=FRAMES),
    ClipSpec("jar", "rotate", frames=FRAMES),
    ClipSpec("jar", "cover", size=(576, 1024), frames=FRAMES),
    ClipSpec("carton", "cover", frames=FRAMES),  # 16:9 cover of a tall photo: half the carton shows
    ClipSpec("carton-alpha", "still", "background", frames=FRAMES),
    ClipSpec("jar", "push-in", "background", frames=FRAMES),
    ClipSpec("bottle-alpha", "pan", "soft", frames=FRAMES),
    ClipSpec("mug", "rotate", frames=FRAMES),  # no print at all, on the busy cloth, no alpha
    ClipSpec("mug-alpha", "pan", size=(576, 1024), frames=FRAMES),
]

BAD = [
    ClipSpec("bottle", "push-in", "warp", frames=FRAMES),
    ClipSpec("carton-alpha", "pan", "warp", size=(576, 1024), frames=FRAMES),
    ClipSpec("bottle", "pan", "hue", frames=FRAMES),
    ClipSpec("jar", "push-in", "hue", size=(576, 1024), frames=FRAMES),
    ClipSpec("bottle-alpha", "push-in", "blur", frames=FRAMES),
    ClipSpec("carton", "rotate", "blur", frames=FRAMES),
    ClipSpec("jar", "tilt", "smear", frames=FRAMES),
    ClipSpec("carton-alpha", "push-in", "erase", frames=FRAMES),
    ClipSpec("jar-alpha", "pull-out", "erase", size=(576, 1024), frames=FRAMES),
    ClipSpec("mug", "pan", "hue", frames=FRAMES),
]


@pytest.mark.parametrize("spec", GOOD, ids=lambda s: s.name)
def test_a_product_that_only_moves_as_a_whole_scores_high(spec: ClipSpec) -> None:
    report = score(spec)
    assert report.product_fidelity >= fidelity.KEEP_THRESHOLD, report.to_dict()
    assert report.ok and report.found == 1.0
    assert "kept" in report.verdict
    assert ("cuts the product" in report.verdict) == (report.visible < fidelity.CROPPED)


@pytest.mark.parametrize("name, style", [("jar", "parallax"), ("carton-alpha", "pan-right")])
def test_the_classic_engine_keeps_the_product(name: str, style: str) -> None:
    """svdapp's own camera engine (a renderer this module shares nothing with but the mask):
    its 2.5D parallax moves the product against its inpainted background. Its lazily rendered
    Clip goes in as it is."""
    p = product(name)
    rendered = classic.render(np.asarray(imageprep.load_image(p.photo())), (576, 1024), FRAMES, style,
                             alpha=classic.load_alpha(p.photo()))
    report = fidelity.score_video(reference(name), rendered.clip)
    assert len(report.per_frame) == FRAMES
    assert report.product_fidelity >= fidelity.KEEP_THRESHOLD, report.to_dict()
    assert report.motion > 2


@pytest.mark.parametrize("spec", BAD, ids=lambda s: s.name)
def test_a_product_that_changes_scores_low(spec: ClipSpec) -> None:
    report = score(spec)
    assert report.product_fidelity < fidelity.FAIL_THRESHOLD, report.to_dict()
    assert not report.ok
    assert report.per_frame[0] >= fidelity.KEEP_THRESHOLD  # the first frame is still the photo
    assert "Try another seed" in report.verdict


def test_the_part_that_changed_is_named() -> None:
    hue = score(ClipSpec("jar", "push-in", "hue", frames=FRAMES))
    assert hue.colour < fidelity.FAIL_THRESHOLD <= min(hue.shape, hue.detail)
    assert "colour" in hue.verdict
    blur = score(ClipSpec("carton-alpha", "pan", "blur", frames=FRAMES))
    assert blur.detail < fidelity.FAIL_THRESHOLD <= blur.colour
    assert "print and detail" in blur.verdict


def test_a_melt_in_the_last_frames_only_still_fails() -> None:
    report = score(ClipSpec("carton-alpha", "push-in", "melt-end", frames=25))
    assert min(report.per_frame[:22]) >= fidelity.KEEP_THRESHOLD
    assert max(report.per_frame[22:]) < fidelity.FAIL_THRESHOLD
    assert report.product_fidelity < fidelity.FAIL_THRESHOLD
    assert report.worst_frame >= 22


def test_changes_grow_the_score_down_step_by_step() -> None:
    """Not a cliff: a slight blur keeps most of the score, a stronger one loses it."""
    scores = [score(ClipSpec("jar", "push-in", "blur", frames=5, amount=a)).product_fidelity
              for a in (0.003, 0.006, 0.012)]
    assert scores[0] >= fidelity.KEEP_THRESHOLD and scores[2] < fidelity.FAIL_THRESHOLD
    assert scores[0] > scores[1] > scores[2]


def test_a_still_video_keeps_the_product_but_reports_no_motion() -> None:
    still = score(ClipSpec("carton-alpha", "still", frames=FRAMES))
    moving = score(ClipSpec("carton-alpha", "push-in", frames=FRAMES))
    assert still.product_fidelity >= fidelity.KEEP_THRESHOLD
    assert still.motion < 0.1 and still.scene_change < 0.1
    assert "barely moves" in still.verdict
    assert moving.motion > 10 and moving.scene_change > 0.5  # a 1.3x push-in moves corners ~15 %
    assert "barely moves" not in moving.verdict


def test_flicker_is_higher_with_brightness_jitter() -> None:
    steady = score(ClipSpec("bottle", "push-in", frames=FRAMES))
    jitter = score(ClipSpec("bottle", "push-in", "jitter", frames=FRAMES))
    assert jitter.flicker > 1.0 > steady.flicker
    assert jitter.flicker > 5 * steady.flicker
    assert jitter.product_fidelity >= fidelity.KEEP_THRESHOLD  # a brighter frame is not another product


def test_a_product_that_leaves_the_frame_scores_zero_there() -> None:
    report = score(ClipSpec("jar", "exit", frames=FRAMES))
    assert report.frames[0].found and report.per_frame[0] >= fidelity.KEEP_THRESHOLD
    assert not report.frames[-1].found and report.per_frame[-1] == 0.0
    assert report.found < 1 and report.product_fidelity < fidelity.FAIL_THRESHOLD
    assert any("not found" in n for n in report.notes)
    assert "lost" in report.verdict


def test_a_product_replaced_by_noise_is_not_found_and_scores_zero() -> None:
    frames = fc.render_clip(ClipSpec("bottle", "push-in", frames=4), product("bottle"))
    rng = np.random.default_rng(0)
    frames[2:] = rng.integers(0, 256, frames[2:].shape, dtype=np.uint8)
    report = fidelity.score_video(reference("bottle"), frames)
    assert report.per_frame[:2] >= (fidelity.KEEP_THRESHOLD,) * 2
    assert report.per_frame[2:] == (0.0, 0.0)
    assert report.product_fidelity == 0.0


@pytest.mark.parametrize("photo_scale, size", [(0.5, (1024, 576)), (1.0, (1080, 1920))])
def test_scale_and_aspect_do_not_matter(photo_scale: float, size: tuple[int, int]) -> None:
    p = fc.scaled(product("carton-alpha"), photo_scale) if photo_scale != 1 else product("bottle")
    frames = fc.render_clip(ClipSpec(p.name, "push-in", size=size, frames=5), p)
    report = fidelity.score_video(p.photo(), frames)
    assert report.product_fidelity >= fidelity.KEEP_THRESHOLD, report.to_dict()


def test_a_product_filmed_small_is_still_found_and_judged() -> None:
    """A third of its fitted size (~130 px tall in 1024x576): too small to be found in the
    reduced frame the search starts with, found in the full one."""
    kept = score(ClipSpec("bottle", "far", frames=5))
    assert kept.found == 1.0 and kept.product_fidelity >= fidelity.KEEP_THRESHOLD, kept.to_dict()
    recoloured = score(ClipSpec("bottle", "far", "hue", frames=5))
    assert recoloured.product_fidelity < fidelity.FAIL_THRESHOLD


def test_photo_as_rgba_array_or_with_separate_alpha_gives_the_same_reference() -> None:
    p = product("carton-alpha")
    rgba = np.asarray(p.photo())
    frames = fc.render_clip(ClipSpec("carton-alpha", "pan", frames=4), p)
    a = fidelity.score_video(rgba, frames)
    b = fidelity.score_video(rgba[..., :3].copy(), frames, alpha=rgba[..., 3].copy())
    assert a.separation == b.separation == "alpha"
    assert a.per_frame == b.per_frame


def test_frames_may_be_an_iterable_and_the_result_is_deterministic() -> None:
    frames = fc.render_clip(ClipSpec("jar", "pan", "warp", frames=6), product("jar"))
    first = fidelity.score_video(product("jar").photo(), frames)
    again = fidelity.score_video(product("jar").photo(), (f for f in frames))
    assert first == again
    assert first.separation == "grabcut"


def test_report_is_json_ready() -> None:
    report = score(ClipSpec("bottle", "pan", "hue", frames=4))
    d = json.loads(json.dumps(report.to_dict()))
    assert set(d) >= {"product_fidelity", "per_frame", "motion", "flicker", "scene_change", "frames",
                      "worst_frame", "ok", "verdict", "thresholds"}
    assert len(d["per_frame"]) == len(d["frames"]) == 4
    assert d["ok"] is False and d["thresholds"] == {"keep": 0.8, "fail": 0.6}
    assert 0 <= d["product_fidelity"] <= 1


def test_summary_is_plain_ascii_for_any_console() -> None:
    for spec in (ClipSpec("bottle", "push-in", "jitter", frames=4), ClipSpec("jar", "exit", frames=6)):
        text = score(spec).summary()
        text.encode("ascii")
        assert text.startswith("Product fidelity:") and "motion" in text and "flicker" in text


def test_score_file_reads_an_h264_mp4(tmp_path: Path) -> None:
    p = product("carton-alpha")
    photo = tmp_path / "carton.png"
    p.photo().save(photo)
    good = video.write_mp4(fc.render_clip(ClipSpec("carton-alpha", "push-in", frames=10), p), tmp_path / "good.mp4", 8)
    bad = video.write_mp4(fc.render_clip(ClipSpec("carton-alpha", "push-in", "smear", frames=10), p),
                          tmp_path / "bad.mp4", 8, crf=23)
    kept = fidelity.score_file(good, photo)
    assert kept.product_fidelity >= fidelity.KEEP_THRESHOLD and len(kept.per_frame) == 10
    assert kept.separation == "alpha" and kept.motion > 10
    assert fidelity.score_file(bad, photo).product_fidelity < fidelity.FAIL_THRESHOLD


def test_score_file_without_alpha_on_a_portrait_video(tmp_path: Path) -> None:
    photo = tmp_path / "product.jpg"
    make_test_product(1280, 960).save(photo, quality=92)
    frames = fc.render_clip(ClipSpec("bottle", "pan", size=(576, 1024), frames=6), product("bottle"))
    report = fidelity.score_file(video.write_mp4(frames, tmp_path / "v.mp4", 8), photo)
    assert report.product_fidelity >= fidelity.KEEP_THRESHOLD and report.separation == "grabcut"


# --- what a user gets wrong --------------------------------------------------------------------

def _frames(n: int = 2) -> np.ndarray:
    return fc.render_clip(ClipSpec("bottle", "still", frames=n), product("bottle"))


def test_a_photo_without_a_product_is_refused() -> None:
    flat = np.full((480, 640, 3), 200, np.uint8)
    with pytest.raises(InputError, match="No product found") as err:
        fidelity.score_video(flat, _frames())
    assert "transparent background" in err.value.hint


def test_a_fully_transparent_photo_is_refused() -> None:
    with pytest.raises(InputError):
        fidelity.score_video(Image.new("RGBA", (320, 240), (0, 0, 0, 0)), _frames())


def test_a_video_with_no_frames_is_refused() -> None:
    with pytest.raises(InputError, match="no frames"):
        fidelity.score_video(reference("bottle"), np.zeros((0, 576, 1024, 3), np.uint8))
    with pytest.raises(InputError, match="no frames"):
        fidelity.score_video(reference("bottle"), [])


@pytest.mark.parametrize("frames", [
    np.zeros((2, 576, 1024, 3), np.float32),  # float frames
    np.zeros((576, 1024, 3), np.uint8),  # one frame, not a stack
    "clip.mp4",  # a path: that is score_file's job
    [np.zeros((576, 1024, 3), np.uint8), np.zeros((1024, 576, 3), np.uint8)],  # sizes differ
    [np.zeros((576, 1024), np.uint8)],  # gray
    42,
], ids=["float", "single-frame", "path", "mixed-sizes", "gray", "int"])
def test_frames_of_the_wrong_type_are_refused(frames) -> None:
    with pytest.raises(InputError) as err:
        fidelity.score_video(reference("bottle"), frames)
    assert err.value.hint


@pytest.mark.parametrize("photo", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32), "photo.png"],
                         ids=["gray-array", "float-array", "path"])
def test_photos_of_the_wrong_type_are_refused(photo) -> None:
    with pytest.raises(InputError) as err:
        fidelity.score_video(photo, _frames())
    assert err.value.hint


def test_an_alpha_next_to_a_prepared_reference_is_refused() -> None:
    with pytest.raises(InputError, match="alpha"):
        fidelity.score_video(reference("bottle"), _frames(), alpha=np.zeros((960, 1280), np.uint8))


def test_an_alpha_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(InputError, match="alpha"):
        fidelity.score_video(product("bottle").rgb, _frames(), alpha=np.zeros((10, 10), np.uint8))


def test_score_file_refuses_missing_and_broken_files(tmp_path: Path) -> None:
    photo = tmp_path / "p.png"
    product("bottle").photo().save(photo)
    with pytest.raises(InputError, match="not found"):
        fidelity.score_file(tmp_path / "missing.mp4", photo)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    with pytest.raises(InputError, match="cannot be read"):
        fidelity.score_file(broken, photo)
    with pytest.raises(InputError, match="not found"):
        fidelity.score_file(broken, tmp_path / "missing.png")


def test_the_module_is_torch_free() -> None:
    code = ("import sys, svdapp.fidelity; "
            "bad = [m for m in ('torch', 'diffusers', 'gradio', 'svdapp.engine', 'svdapp.cli', 'svdapp.ui') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
