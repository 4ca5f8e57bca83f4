"""Classic engine: the camera really moves, smoothly, the right way, and never past the photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from svdapp import classic
from svdapp.errors import InputError
from svdapp.testimage import make_test_product
from svdapp.vocab import Camera

SIZE = (192, 108)
FRAMES = 24


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return make_test_product(320, 240)


def frames_of(clip) -> np.ndarray:
    return np.stack([clip[i] for i in range(len(clip))])


def blueness(frames: np.ndarray) -> np.ndarray:
    """Per pixel, how much of the blue bottle is there (0-1): a soft, sub-pixel-exact mask."""
    f = frames.astype(np.float32)
    return np.clip((f[..., 2] - f[..., 0] - 20) / 80, 0, 1)


def bottle(clip) -> np.ndarray:
    """Per pixel, how dark the (blue) bottle makes the picture, from the luma a player shows,
    softened so that its centre and size follow fractions of a pixel without aliasing."""
    h = clip[0].shape[0]
    luma = [cv2.GaussianBlur(clip.yuv420(i)[:h].astype(np.float32), (0, 0), 2) for i in range(len(clip))]
    return np.clip(200 - np.stack(luma), 0, None)


def centroid(weights: np.ndarray) -> np.ndarray:
    """(x, y) centre of mass of each frame's weights."""
    h, w = weights.shape[1:]
    total = weights.sum(axis=(1, 2))
    return np.stack([(weights * np.arange(w)).sum(axis=(1, 2)) / total,
                     (weights * np.arange(h)[:, None]).sum(axis=(1, 2)) / total], axis=1)


def steps(frames: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))


def test_frames_have_the_asked_count_size_and_yuv_layout(photo):
    clip = classic.render(photo, SIZE, 7, "push-in").clip
    assert len(clip) == 7
    assert clip[0].shape == (108, 192, 3) and clip[0].dtype == np.uint8
    assert clip.yuv420(3).shape == (162, 192)
    assert np.array_equal(clip[-1], clip[6])


def test_push_in_zooms_in_steadily_and_pull_out_zooms_out(photo):
    grow = bottle(classic.render(photo, SIZE, FRAMES, "push-in").clip).sum(axis=(1, 2))
    shrink = bottle(classic.render(photo, SIZE, FRAMES, "pull-out").clip).sum(axis=(1, 2))
    assert np.all(np.diff(grow) > 0), "the product must grow in every frame of a push-in"
    assert np.all(np.diff(shrink) < 0)
    assert 1.15 < grow[-1] / grow[0] < 1.35  # a gentle 12 % zoom: about 1.25x the area
    assert np.allclose(grow[::-1], shrink, rtol=0.01)


@pytest.mark.parametrize("camera,axis,sign", [("pan-right", 0, -1), ("pan-left", 0, 1),
                                             ("tilt-up", 1, 1), ("tilt-down", 1, -1)])
def test_pans_and_tilts_move_one_way_smoothly_without_jumps(photo, camera, axis, sign):
    clip = classic.render(photo, SIZE, FRAMES, camera).clip
    frames = frames_of(clip)
    pos = centroid(bottle(clip))
    velocity = np.diff(pos[:, axis]) * sign
    assert np.all(velocity > 0), f"{camera}: the scene must move the same way every frame"
    other = np.ptp(pos[:, 1 - axis])
    assert other < 0.25, f"{camera} must not drift on the other axis"  # well under a pixel
    mean_step = velocity.sum() / len(velocity)
    # Sine easing peaks at pi/2 x the mean speed; anything above that is a jump.
    assert velocity.max() <= 1.65 * mean_step
    # Sub-pixel motion: speed changes gradually (a whole-pixel renderer jerks 0 → 1 px).
    assert np.abs(np.diff(velocity)).max() < 0.3 * velocity.max()
    assert steps(frames).min() > 0


def test_motion_is_eased_slow_at_both_ends(photo):
    pos = centroid(bottle(classic.render(photo, SIZE, FRAMES, "pan-right").clip))[:, 0]
    speed = np.abs(np.diff(pos))
    middle = speed[len(speed) // 2 - 1:len(speed) // 2 + 1].mean()
    assert speed[0] < 0.2 * middle and speed[-1] < 0.2 * middle


@pytest.mark.parametrize("camera", list(Camera))
def test_camera_never_sees_past_the_photo(camera):
    size = (1080, 1920)
    stage = classic.stage_size(size)
    for p in np.linspace(0, 1, 41):
        view = classic.views_at(camera, float(p), stage, size)[0]  # parallax: [0] is the visible backdrop
        x0, y0, x1, y1 = classic.view_rect(view, stage, size)
        assert x0 >= -1e-6 and y0 >= -1e-6 and x1 <= stage[0] + 1e-6 and y1 <= stage[1] + 1e-6, (camera, p)


def test_periodic_path_loops_seamlessly(photo):
    frames = frames_of(classic.render(photo, SIZE, FRAMES, "push-in", periodic=True).clip)
    seam = np.abs(frames[-1].astype(np.int16) - frames[0]).mean()
    assert seam <= steps(frames).max()
    assert steps(frames).max() > 0.1


def _scene_with_marker() -> Image.Image:
    """The bottle plus a red mark on the back wall: something to track in the background."""
    img = make_test_product(320, 240)
    ImageDraw.Draw(img).ellipse([20, 30, 44, 54], fill=(220, 30, 30))
    return img


def redness(frames: np.ndarray) -> np.ndarray:
    f = frames.astype(np.float32)
    return np.clip((f[..., 0] - f[..., 2] - 60) / 80, 0, 1)


def test_parallax_moves_the_product_against_its_background():
    rendered = classic.render(_scene_with_marker(), SIZE, 16, "parallax", seed=3)
    assert rendered.separation == "grabcut" and rendered.camera == "parallax" and not rendered.notes
    frames = frames_of(rendered.clip)
    product = centroid(blueness(frames))[:, 0]
    wall = centroid(redness(frames))[:, 0]
    assert abs(product[-1] - product[0]) > 1.6 * abs(wall[-1] - wall[0]) > 0
    assert np.all(np.diff(product) < 0)  # the camera glides one way throughout
    assert steps(frames).max() < 4 * np.median(steps(frames))


def test_parallax_uses_the_alpha_channel_when_there_is_one(tmp_path):
    rgba = Image.new("RGBA", (240, 180), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rounded_rectangle([90, 40, 150, 150], radius=10, fill=(30, 90, 200, 255))
    path = tmp_path / "cutout.png"
    rgba.save(path)
    alpha = classic.load_alpha(path)
    assert alpha is not None and alpha.shape == (180, 240)
    from svdapp.imageprep import load_image
    rendered = classic.render(load_image(path), SIZE, 8, "parallax", alpha=alpha)
    assert rendered.separation == "alpha"
    assert classic.load_alpha(make_test_product(100, 80)) is None  # an opaque photo has none


def test_parallax_falls_back_to_push_in_when_nothing_stands_out():
    flat = Image.new("RGB", (200, 150), (128, 128, 128))
    rendered = classic.render(flat, SIZE, 4, "parallax")
    assert rendered.camera == "push-in" and rendered.notes and "push-in" in rendered.notes[0]


def test_frame_heights_that_are_not_a_multiple_of_four_render(photo):
    clip = classic.render(photo, (96, 70), 3, "parallax").clip  # like 1080x1350 (4:5)
    assert clip[1].shape == (70, 96, 3)


def test_bad_camera_and_size_say_what_to_use(photo):
    with pytest.raises(InputError, match="Unknown camera move") as err:
        classic.render(photo, SIZE, 4, "spin")
    assert "push-in" in err.value.hint
    with pytest.raises(InputError, match="even"):
        classic.render(photo, (191, 108), 4)
    assert classic.parse_camera("Tilt") == "tilt-up"


@pytest.mark.parametrize("size", [(192, 108), (108, 192), (120, 120), (120, 150)], ids=["16:9", "9:16", "1:1", "4:5"])
def test_product_stays_whole_in_every_frame_of_every_framing(photo, size):
    for camera in ("push-in", "pull-out", "pan-left", "tilt-down", "tilt-up"):
        clip = classic.render(photo, size, 6, camera).clip
        for i in range(len(clip)):
            dark = clip.yuv420(i)[:size[1]] < 150  # bottle, cap and its shadow; the studio is lighter
            assert dark.sum() > 0.03 * dark.size
            border = np.concatenate([dark[:2].ravel(), dark[-2:].ravel(), dark[:, :2].ravel(), dark[:, -2:].ravel()])
            assert not border.any(), f"{camera} frame {i} cuts the product at the edge of {size}"
