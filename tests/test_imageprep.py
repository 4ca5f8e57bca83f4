"""The photo the model receives: upright, RGB, flattened, exactly width x height."""

import io

import numpy as np
import pytest
from PIL import Image

from svdapp.errors import InputError
from svdapp.imageprep import fit, load_image


def _jpeg_with_orientation(orientation: int) -> bytes:
    img = Image.new("RGB", (200, 100), (255, 255, 255))
    img.paste((255, 0, 0), (0, 0, 50, 100))  # red stripe on the left edge
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def test_exif_rotation_is_applied():
    img = load_image(_jpeg_with_orientation(6))  # 6 = rotate 90° clockwise to display
    assert img.size == (100, 200)
    arr = np.asarray(img).astype(int)
    red = (arr[..., 0] > 200) & (arr[..., 1] < 80)
    assert red[:40].mean() > 0.9 and red[60:].mean() < 0.05  # the left stripe is now at the top


def test_transparency_is_flattened_on_white():
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    img.paste((0, 0, 255, 255), (25, 25, 75, 75))
    out = np.asarray(load_image(img))
    assert out.shape == (100, 100, 3)
    assert tuple(out[5, 5]) == (255, 255, 255) and tuple(out[50, 50]) == (0, 0, 255)


def test_fully_transparent_is_refused():
    with pytest.raises(InputError, match="transparent"):
        load_image(Image.new("RGBA", (100, 100), (0, 0, 0, 0)))


@pytest.mark.parametrize("mode", ["L", "CMYK", "I;16", "P"])
def test_other_modes_become_rgb(mode):
    src = Image.new("RGB", (80, 80), (200, 120, 40))
    img = src.convert(mode) if mode != "I;16" else Image.fromarray(np.full((80, 80), 40000, np.uint16))
    buf = io.BytesIO()
    img.save(buf, "TIFF" if mode in ("CMYK", "I;16") else "PNG")
    out = load_image(buf.getvalue())
    assert out.mode == "RGB" and out.size == (80, 80)
    assert np.asarray(out).mean() > 30  # not black


@pytest.mark.parametrize("data,word", [(b"", "empty"), (b"hello, not an image", "not an image"),
                                       (None, "damaged"), (None, "too small")])
def test_bad_files_get_clear_messages(data, word):
    if word == "damaged":
        buf = io.BytesIO()
        Image.new("RGB", (300, 300), (9, 9, 9)).save(buf, "PNG")
        data = buf.getvalue()[: len(buf.getvalue()) // 2]
    if word == "too small":
        buf = io.BytesIO()
        Image.new("RGB", (10, 10)).save(buf, "PNG")
        data, word = buf.getvalue(), "only 10x10"
    with pytest.raises(InputError) as err:
        load_image(data)
    assert word in str(err.value).lower() or word in err.value.message
    assert err.value.hint


def test_huge_image_is_refused_before_decoding(tmp_path):
    # a PNG whose header claims 30000x30000 pixels but whose file is tiny
    buf = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buf, "PNG")
    with pytest.raises(InputError, match="too large|enormous"):
        load_image(buf.getvalue())


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_image(tmp_path / "nope.jpg")


def test_fit_contain_keeps_the_whole_product_and_pads_with_edge_colour():
    img = Image.new("RGB", (400, 400), (240, 240, 240))
    img.paste((200, 0, 0), (100, 100, 300, 300))
    out = fit(img, 1024, 576, "contain")
    arr = np.asarray(out)
    assert out.size == (1024, 576)
    assert tuple(arr[288, 20]) == (240, 240, 240)  # padding matches the studio background
    red = np.argwhere((arr[..., 0] > 150) & (arr[..., 1] < 80))
    assert red[:, 0].min() > 0 and red[:, 0].max() < 575  # product fully inside vertically


def test_fit_cover_fills_the_frame():
    out = fit(Image.new("RGB", (400, 400), (10, 200, 10)), 576, 1024, "cover")
    assert out.size == (576, 1024) and np.asarray(out)[0, 0, 1] > 150
