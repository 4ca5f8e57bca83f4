"""Finishing: smoother motion, loops without a visible seam, lengths, and framings that keep
the whole product in the picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from svdapp import finishing
from svdapp.errors import InputError
from svdapp.finishing import Finish


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture: enough detail for optical flow, no aliasing when shifted."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 8 + 4, w // 8 + 4, 3), dtype=np.uint8)
    big = cv2.resize(small, (w + 32, h + 32), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(big, (0, 0), 1.5)


def shifted(base: np.ndarray, dx: float, h: int, w: int) -> np.ndarray:
    m = np.array([[1, 0, 16 + dx], [0, 1, 16]], np.float64)
    return cv2.warpAffine(base, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


@pytest.fixture(scope="module")
def pan() -> np.ndarray:
    """A 9-frame camera pan, 4 px per frame, 96x64."""
    base = texture(64, 96)
    return np.stack([shifted(base, 4 * i, 64, 96) for i in range(9)])


def step_sizes(frames) -> np.ndarray:
    f = np.stack([np.asarray(frames[i]) for i in range(len(frames))]).astype(np.int16)
    return np.abs(np.diff(f, axis=0)).mean(axis=(1, 2, 3))


def seam(frames) -> float:
    return float(np.abs(np.asarray(frames[-1]).astype(np.int16) - np.asarray(frames[0])).mean())


@pytest.mark.parametrize("factor,count", [(1, 9), (2, 17), (4, 33)])
def test_interpolation_multiplies_the_frames(pan, factor, count):
    out = finishing.interpolate(pan, factor)
    assert out.shape == (count, 64, 96, 3)
    assert np.array_equal(out[0], pan[0]) and np.array_equal(out[-1], pan[-1])
    assert np.array_equal(out[factor], pan[1])


@pytest.mark.parametrize("method", finishing.FLOW_METHODS)
def test_in_between_frames_follow_the_motion_instead_of_cross_dissolving(method):
    base = texture(64, 96, seed=1)
    a, b, truth = shifted(base, 0, 64, 96), shifted(base, 6, 64, 96), shifted(base, 3, 64, 96)
    mid = finishing.interpolate(np.stack([a, b]), 2, method)[1]
    inner = (slice(8, -8), slice(10, -10))  # away from where content enters the frame
    error = np.abs(mid[inner].astype(np.int16) - truth[inner]).mean()
    dissolve = np.abs(cv2.addWeighted(a, 0.5, b, 0.5, 0)[inner].astype(np.int16) - truth[inner]).mean()
    assert error < 0.35 * dissolve, (error, dissolve)


def test_interpolated_pan_has_even_steps(pan):
    sizes = step_sizes(finishing.interpolate(pan, 2))
    assert sizes.max() < 1.5 * np.median(sizes)


def test_boomerang_plays_forward_then_back_with_no_jump(pan):
    out = finishing.loop(pan, "boomerang")
    assert len(out) == 16
    assert np.array_equal(out[8], pan[8]) and np.array_equal(out[9], pan[7]) and np.array_equal(out[15], pan[1])
    assert seam(out) <= step_sizes(out).max() + 1e-6


def test_crossfade_loop_seam_is_an_ordinary_step(pan):
    out = finishing.loop(pan, "crossfade")
    assert len(out) == 9 - 2
    steps = step_sizes(out)
    assert seam(out) <= np.median(steps) * 1.05  # last → first is one of the clip's own steps
    assert seam(pan) > 1.5 * seam(out)  # without the crossfade the loop would jump
    assert out.yuv420(0).shape == (96, 96)


def test_longer_loops_repeat_whole_cycles_and_stay_seamless(pan):
    cycle = finishing.loop(pan, "boomerang")
    out = finishing.fit_length(cycle, 37, closed=True)  # 16-frame cycle → 2 cycles retimed to 37
    assert len(out) == 37
    assert seam(out) <= step_sizes(out).max() + 1e-6
    assert step_sizes(out).max() <= 1.2 * step_sizes(cycle).max()


def test_one_shot_holds_its_last_frame_or_is_cut(pan):
    longer = finishing.fit_length(pan, 12, closed=False)
    assert len(longer) == 12 and np.array_equal(longer[11], pan[8]) and np.array_equal(longer[5], pan[5])
    assert len(finishing.fit_length(pan, 5, closed=False)) == 5


def test_finish_svd_clip_to_seconds_at_interpolated_fps(pan):
    frames, fps = finishing.finish(pan, 15, Finish(seconds=2.0, loop="boomerang", interpolate=2))
    assert fps == 30 and len(frames) == 60
    assert frames[0].shape == (64, 96, 3)


def test_default_finish_changes_nothing(pan):
    frames, fps = finishing.finish(pan, 15, Finish())
    assert frames is pan and fps == 15


@pytest.mark.parametrize("framing,size", [("16:9", (1024, 576)), ("9:16", (1024, 1820)), ("1:1", (1024, 1024)),
                                          ("4:5", (1024, 1280))])
def test_framing_sizes_never_enlarge_engine_frames(framing, size):
    assert finishing.canvas_size(framing, (1024, 576)) == size
    assert finishing.canvas_size(framing) == finishing.CANVAS_SIZES[framing]  # classic renders at the channel size


def product_frames() -> np.ndarray:
    """Three 160x96 frames: grey studio, a red product reaching close to the left and right edges."""
    frames = np.full((3, 96, 160, 3), 200, np.uint8)
    frames[:, 20:80, 4:156] = (220, 20, 20)
    return frames


@pytest.mark.parametrize("framing", ["16:9", "9:16", "1:1", "4:5"])
@pytest.mark.parametrize("background", ["edge", "blur", "#102030"])
def test_each_framing_keeps_the_whole_product_inside(framing, background):
    src = product_frames()
    out = finishing.frame_clip(src, framing, background)
    w, h = finishing.canvas_size(framing, (160, 96))
    frame = np.asarray(out[1])
    assert frame.shape == (h, w, 3) and len(out) == 3
    box = finishing.placement((160, 96), (w, h))
    assert 0 <= box.x and 0 <= box.y and box.x + box.w <= w and box.y + box.h <= h
    # The engine's frame sits whole and unscaled in the canvas: every product pixel is there.
    assert np.array_equal(frame[box.y:box.y + box.h, box.x:box.x + box.w], src[1])
    aspect_w, aspect_h = (int(v) for v in framing.split(":"))
    assert (w, h) != (160, 96) and abs(w / h - aspect_w / aspect_h) < 0.02


def test_padding_colours():
    src = product_frames()
    edge = np.asarray(finishing.frame_clip(src, "9:16", "edge")[0])
    assert tuple(edge[2, 2]) == (200, 200, 200)  # the photo's border colour: seamless padding
    user = np.asarray(finishing.frame_clip(src, "1:1", "255,128,0")[0])
    assert tuple(user[1, 1]) == (255, 128, 0)
    photo = np.zeros((96, 160, 3), np.uint8)
    photo[:, 80:] = 255
    blur = finishing.background_image(photo, (160, 288), "blur")
    row = blur[144].astype(int).mean(axis=1)
    assert row[0] < 60 and row[-1] > 195 and 60 < row[80] < 195  # the photo's light, softened


@pytest.mark.parametrize("options,message,hint", [
    (Finish(loop="spin"), "Unknown loop mode", "boomerang"),
    (Finish(framing="3:2"), "Unknown framing", "9:16"),
    (Finish(seconds=0.1), "Seconds must be", "--seconds 4"),
    (Finish(seconds=600), "Seconds must be", "--seconds 4"),
    (Finish(interpolate=3), "Interpolation must be", "--interpolate 2"),
    (Finish(background="sparkly"), "Unknown background", "blur"),
])
def test_bad_finishing_values_name_the_fix(options, message, hint):
    with pytest.raises(InputError, match=message) as err:
        finishing.validate(options)
    assert hint in err.value.hint


def test_validate_accepts_friendly_spellings():
    ok = finishing.validate(Finish(seconds=3, loop="Boomerang", interpolate="2x", framing="original",
                                   background="ffffff"))
    assert ok == Finish(3.0, "boomerang", 2, "none", "ffffff")
    assert finishing.parse_background("white").colour == (255, 255, 255)
