"""Every kind of photo and setting a shop owner might pick: a correct video, or exit code 2
with one message and its fix, no traceback, and nothing partial in outputs/ or beside --out.

Most cases run in-process (``imageprep``, ``presets``, ``jobs.run_request`` and ``cli.main``)
with a stand-in engine that returns the fitted photo as frames, so the whole write path (real
H.264 encode, input.png, meta.json, atomic move) runs in milliseconds; the engine only ever sees
the fitted RGB frame, which these tests check directly. A few cases go through the installed
``svdapp`` command in a subprocess. The real tiny SVD model makes a video from the guide's
Korean file name in tests/test_token_leak.py (one real generation serves both checks).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from svdapp import cli, imageprep, presets
from svdapp.errors import InputError
from svdapp.jobs import run_request
from svdapp.request import GenerationRequest
from svdapp.video import probe, read_frames

from .conftest import TINY_ARGS, TINY_OVERRIDES, run_cli
from .fakeengine import fake_engine  # noqa: F401  (fixture)

KOREAN = "제품 사진 1.jpg"  # the guide's own example: Hangul and spaces


# -- building the photos ------------------------------------------------------------------

def _bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png(width: int, height: int, bit_depth: int = 8, colour_type: int = 2, rows: bytes | None = None) -> bytes:
    """A PNG written by hand: any header (a decompression bomb's too), any bit depth."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows or b"\0" * 64))
            + chunk(b"IEND", b""))


def _photo(w: int = 320, h: int = 240) -> Image.Image:
    """A product-ish photo: grey studio, a dark-blue box in the middle."""
    img = Image.new("RGB", (w, h), (230, 230, 230))
    img.paste((20, 40, 160), (w // 3, h // 4, 2 * w // 3, 3 * h // 4))
    return img


def _upright_red_top(w: int = 120, h: int = 240) -> Image.Image:
    img = Image.new("RGB", (w, h), (20, 40, 200))
    img.paste((220, 20, 20), (0, 0, w, h // 2))
    return img


def _exif_rotated_jpeg() -> bytes:
    """Stored sideways, EXIF orientation 6: a viewer turns it 90° clockwise → red on top."""
    stored = _upright_red_top().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _bytes(stored, "JPEG", exif=exif.tobytes(), quality=95)


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (160, 120), c) for c in ((200, 30, 30), (30, 200, 30), (30, 30, 200))]
    return _bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _palette_with_transparency() -> bytes:
    img = Image.new("P", (160, 120), 0)
    img.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    img.paste(1, (40, 30, 120, 90))
    return _bytes(img, "PNG", transparency=0)


def _rgba() -> Image.Image:
    img = Image.new("RGBA", (200, 150), (0, 0, 0, 0))
    img.paste((20, 40, 160, 255), (50, 40, 150, 110))
    return img


GOOD = {
    # name: (bytes, check on the normalised photo)
    "rgba-transparency": (lambda: _bytes(_rgba(), "PNG"),
                          lambda a: tuple(a[2, 2]) == (255, 255, 255) and tuple(a[75, 100]) == (20, 40, 160)),
    "cmyk-jpeg": (lambda: _bytes(Image.new("CMYK", (160, 120), (0, 255, 255, 0)), "JPEG", quality=95),
                  lambda a: a[60, 80, 0] > 230 and a[60, 80, 1:].max() < 30),  # CMYK red stays red
    "16bit-grey-png": (lambda: _png(160, 120, 16, 0, b"".join(b"\0" + b"\x80\x00" * 160 for _ in range(120))),
                       lambda a: abs(int(a[60, 80, 0]) - 128) <= 1),
    "16bit-grey-png-dark": (lambda: _png(160, 120, 16, 0, b"".join(b"\0" + b"\x00\x80" * 160 for _ in range(120))),
                            lambda a: a.max() <= 1),  # a nearly black 16-bit photo stays nearly black
    "16bit-rgb-png": (lambda: _png(160, 120, 16, 2, b"".join(b"\0" + b"\xff\xff\x00\x00\x00\x00" * 160
                                                              for _ in range(120))),
                      lambda a: tuple(a[60, 80]) == (255, 0, 0)),
    "grayscale": (lambda: _bytes(_photo().convert("L"), "JPEG"), lambda a: (a[..., 0] == a[..., 2]).all()),
    "palette-transparency": (_palette_with_transparency,
                             lambda a: tuple(a[2, 2]) == (255, 255, 255) and tuple(a[60, 80]) == (200, 30, 30)),
    "animated-gif": (_animated_gif, lambda a: a[60, 80, 0] > 150 and a[60, 80, 1] < 80),  # the first frame
    "exif-rotated": (_exif_rotated_jpeg,
                     lambda a: a.shape[:2] == (240, 120) and a[10, 60, 0] > 180 and a[230, 60, 2] > 150),
    "wide-20-to-1": (lambda: _bytes(_photo(2000, 100), "PNG"), lambda a: a.shape[:2] == (100, 2000)),
    "tall-1-to-20": (lambda: _bytes(_photo(100, 2000), "PNG"), lambda a: a.shape[:2] == (2000, 100)),
    "webp": (lambda: _bytes(_photo(), "WEBP"), lambda a: a.shape[:2] == (240, 320)),
}

BAD = {
    # name: (bytes, words in the message, words in the fix)
    "empty-file": (lambda: b"", "empty (0 bytes)", "Pick the photo again"),
    "truncated-jpeg": (lambda: _bytes(_photo(), "JPEG")[:1500], "damaged or cut off", "Export or download"),
    "truncated-png": (lambda: _bytes(_photo(), "PNG")[:200], "damaged or cut off", "Export or download"),
    "png-cut-in-header": (lambda: _bytes(_photo(), "PNG")[:30], "not an image", "JPEG, PNG or WebP"),
    "text-renamed-jpg": (lambda: b"Product: blue bottle\nPrice: 12.99\n" * 20, "not an image", "JPEG, PNG or WebP"),
    "tiny-10x10": (lambda: _bytes(Image.new("RGB", (10, 10), "red"), "PNG"), "only 10x10 pixels", "at least 64px"),
    "thin-2000x10": (lambda: _bytes(Image.new("RGB", (2000, 10), "red"), "PNG"), "only 2000x10", "at least 64px"),
    "bomb-100000x100000": (lambda: _png(100_000, 100_000), "decompression bomb", "below 64 megapixels"),
    "bomb-9000x8000": (lambda: _png(9000, 8000), "too large to process safely", "below 64 megapixels"),
    "fully-transparent": (lambda: _bytes(Image.new("RGBA", (200, 150), (255, 0, 0, 0)), "PNG"),
                          "fully transparent", "pixels visible"),
}


def _one_line(err: InputError) -> None:
    assert err.message and err.hint, err
    assert "\n" not in err.message and "\n" not in err.hint


# -- image preparation, in-process -------------------------------------------------------

@pytest.mark.parametrize("case", list(GOOD))
def test_odd_but_valid_photos_become_an_upright_rgb_frame(case, tmp_path):
    make, check = GOOD[case]
    path = tmp_path / f"{case}.img"
    path.write_bytes(make())
    img = imageprep.load_image(path)
    assert img.mode == "RGB"
    assert check(np.asarray(img)), case
    for mode in ("contain", "cover"):
        framed = imageprep.fit(img, 128, 64, mode)
        assert framed.size == (128, 64) and framed.mode == "RGB"


@pytest.mark.parametrize("case", list(BAD))
def test_bad_photos_get_one_message_and_a_fix(case, tmp_path):
    make, said, fix = BAD[case]
    path = tmp_path / "photo.jpg"
    path.write_bytes(make())
    with pytest.raises(InputError) as caught:
        imageprep.load_image(path)
    assert said in caught.value.message and fix in caught.value.hint, caught.value
    assert "'photo.jpg'" in caught.value.message  # names the file the user picked
    _one_line(caught.value)


@pytest.fixture
def decoded(monkeypatch) -> list:
    """Every image whose pixels are decoded (Pillow's ImageFile.load); nothing is decoded while it is
    patched, so a test only passes if the refusal comes before decoding."""
    from PIL import ImageFile
    sizes: list = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: sizes.append(self.size))
    return sizes


def test_bomb_is_refused_without_decoding(tmp_path, decoded):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(100_000, 100_000))
    assert path.stat().st_size < 200  # 10 gigapixels claimed by a 100-byte file
    with pytest.raises(InputError, match="decompression bomb"):
        imageprep.load_image(path)
    assert decoded == []


@pytest.mark.parametrize("size", [(8125, 8000), (9400, 9400)])  # 65 and 88 MP: below Pillow's own bomb limit
def test_a_valid_photo_of_65_to_89_megapixels_is_refused_before_decoding(tmp_path, decoded, size):
    width, height = size
    row = b"\0" + b"\x55" * -(-width // 8)  # filter byte + one-bit grey pixels: a whole, valid image
    path = tmp_path / "huge.png"
    path.write_bytes(_png(width, height, bit_depth=1, colour_type=0, rows=row * height))
    assert 64_000_000 < width * height < Image.MAX_IMAGE_PIXELS
    with Image.open(path) as im:  # Pillow opens it without complaint, and it is whole
        assert im.size == size
        im.verify()
    with pytest.raises(InputError) as caught:
        imageprep.load_image(path)
    assert decoded == []  # refused from the header alone: 65+ MP are never decoded
    assert f"{width}x{height} pixels" in caught.value.message and "too large to process safely" in caught.value.message
    assert "below 64 megapixels" in caught.value.hint


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(orientation):
    """Store the upright picture the way a camera with EXIF ``orientation`` would."""
    upright = _upright_red_top()
    undo = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
            7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}[orientation]
    stored = upright.transpose(undo) if undo is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    a = np.asarray(imageprep.load_image(_bytes(stored, "JPEG", exif=exif.tobytes(), quality=95))).astype(int)
    assert a.shape[:2] == (240, 120)
    assert a[10, 60, 0] > 180 and a[10, 60, 2] < 100 and a[230, 60, 2] > 150 and a[230, 60, 0] < 100


def test_broken_exif_orientation_is_ignored():
    exif = Image.Exif()
    exif[0x0112] = 99  # not an orientation
    img = imageprep.load_image(_bytes(_upright_red_top(), "JPEG", exif=exif.tobytes()))
    assert img.size == (120, 240)


def test_unreadable_file_gets_a_message_not_a_traceback(tmp_path, monkeypatch):
    photo = tmp_path / "locked.jpg"
    photo.write_bytes(_bytes(_photo(), "JPEG"))
    real = Path.read_bytes

    def read_bytes(self):  # tests run as root, who reads anything: be a user without permission
        if self == photo:
            raise PermissionError(13, "Permission denied")
        return real(self)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(InputError) as caught:
        imageprep.load_image(photo)
    assert "'locked.jpg' cannot be read (Permission denied)" in caught.value.message
    assert "permissions" in caught.value.hint


def test_a_fifo_or_device_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)  # reading it would wait forever
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(InputError, match="not found"):
            imageprep.load_image(path)


def test_a_file_too_big_to_be_a_photo_is_refused_unread(tmp_path):
    huge = tmp_path / "scan.tif"
    with open(huge, "wb") as fh:  # sparse: 101 MB on paper, nothing on disk
        fh.truncate(imageprep.MAX_FILE_BYTES + 1024 * 1024)
    with pytest.raises(InputError) as caught:
        imageprep.load_image(huge)
    assert "too large to be a product photo" in caught.value.message and "under 100 MB" in caught.value.hint


@pytest.mark.parametrize("case", ["truncated-jpeg", "text-renamed-jpg", "bomb-100000x100000", "empty-file"])
def test_uploaded_bytes_get_the_same_messages(case):
    """The UI and API hand over bytes, not a path."""
    make, said, fix = BAD[case]
    with pytest.raises(InputError) as caught:
        imageprep.load_image(make())
    assert said in caught.value.message and fix in caught.value.hint
    _one_line(caught.value)


def test_extreme_aspect_ratios_keep_the_whole_product_when_contained():
    for w, h in ((2000, 100), (100, 2000)):
        img = Image.new("RGB", (w, h), (230, 230, 230))
        # a red end (a quarter of the long side): must survive "contain"
        img.paste((200, 0, 0), (0, 0, w // 4 if w > h else w, h // 4 if h > w else h))
        framed = np.asarray(imageprep.fit(img, 128, 64, "contain")).astype(int)
        red = (framed[..., 0] > 150) & (framed[..., 1] < 90)
        assert red.sum() >= 40, (w, h)


# -- bad settings --------------------------------------------------------------------------

BAD_SETTINGS = [
    ({"frames": 0}, "Frames must be", "--frames 25"),
    ({"frames": -1}, "Frames must be", "--frames 25"),
    ({"fps": 0}, "fps must be", "--fps 15"),
    ({"steps": 0}, "Steps must be", "--steps 25"),
    ({"width": 100}, "multiple of 64", "1024x576"),
    ({"height": 50}, "multiple of 64", "1024x576"),
    ({"motion": 0}, "Motion must be", "--motion 127"),
]


@pytest.mark.parametrize("overrides,said,fix", BAD_SETTINGS)
def test_bad_settings_are_refused_before_any_work(overrides, said, fix):
    with pytest.raises(InputError) as caught:
        presets.resolve("fast", overrides)
    assert said in caught.value.message and fix in caught.value.hint
    _one_line(caught.value)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(InputError) as caught:
        presets.resolve("ultra")
    assert "Unknown preset 'ultra'" in caught.value.message
    assert all(name in caught.value.hint for name in presets.PRESETS)


# -- through run_request and the CLI, with a stand-in engine (tests/fakeengine.py) ---------

def nothing_written(tmp_path: Path, *keep: Path) -> None:
    outputs = tmp_path / "outputs"
    assert not outputs.exists() or not any(outputs.iterdir()), list(outputs.iterdir())
    left = {p for p in tmp_path.iterdir() if p.name not in ("hf-home",)} - set(keep)
    assert not left, left


@pytest.mark.parametrize("case", ["truncated-jpeg", "text-renamed-jpg", "bomb-100000x100000", "tiny-10x10",
                                  "fully-transparent", "empty-file"])
def test_run_request_refuses_bad_photos_and_writes_nothing(app_env, fake_engine, tmp_path, case):
    make, said, _fix = BAD[case]
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make())
    for out in (None, tmp_path / "clip.mp4"):
        with pytest.raises(InputError, match=said.split()[0]):
            run_request(GenerationRequest(image=str(photo), overrides=TINY_OVERRIDES, out=out))
    assert fake_engine.calls == []
    nothing_written(tmp_path, photo)


@pytest.mark.parametrize("preset,overrides,said", [("fast", o, w) for o, w, _f in BAD_SETTINGS]
                         + [("ultra", {}, "Unknown preset 'ultra'")])
def test_run_request_refuses_bad_settings_and_writes_nothing(app_env, fake_engine, tmp_path, preset, overrides, said):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(_bytes(_photo(), "JPEG"))
    with pytest.raises(InputError) as caught:
        run_request(GenerationRequest(image=str(photo), preset=preset, overrides={**TINY_OVERRIDES, **overrides}))
    assert said in caught.value.message and caught.value.hint
    assert fake_engine.calls == []
    nothing_written(tmp_path, photo)


@pytest.mark.parametrize("case", ["exif-rotated", "cmyk-jpeg", "16bit-grey-png", "palette-transparency",
                                  "animated-gif", "wide-20-to-1", "tall-1-to-20"])
def test_run_request_makes_a_video_of_the_upright_photo(app_env, fake_engine, tmp_path, case):
    make, _check = GOOD[case]
    photo = tmp_path / f"{case}.png"
    photo.write_bytes(make())
    result = run_request(GenerationRequest(image=str(photo), overrides={**TINY_OVERRIDES, "seed": 7}))
    info = probe(result.video)
    assert (info.codec, info.pix_fmt, info.width, info.height, info.frames) == ("h264", "yuv420p", 128, 64, 4)
    assert sorted(p.name for p in result.video.parent.iterdir()) == ["input.png", "meta.json", "video.mp4"]
    fed = np.asarray(Image.open(result.input_image)).astype(int)
    if case == "exif-rotated":  # the frame the model sees is upright: red on top, blue below
        col = fed[:, 64]
        assert col[8, 0] > 150 and col[8, 2] < 100 and col[56, 2] > 120 and col[56, 0] < 100
        first = read_frames(result.video)[0].astype(int)
        assert first[8, 64, 0] > 150 and first[56, 64, 2] > 120  # and so is the video
    assert not [p for p in (tmp_path / "outputs").iterdir() if p.name.startswith(".")]


def _main(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse refuses a flag before our code runs
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _assert_refused(code: int, err: str, said: str, fix: str | None = "fix:") -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert said in err, err
    if fix:
        assert fix in err, err
    if "usage:" not in err:  # our own errors: exactly one error line and one fix line
        assert [ln.split(":")[0].strip() for ln in err.strip().splitlines()] == ["error", "fix"], err


@pytest.mark.parametrize("args,said,fix", [
    (["--frames", "0"], "Frames must be", "--frames 25"),
    (["--frames", "-1"], "Frames must be", "--frames 25"),
    (["--fps", "0"], "fps must be", "--fps 15"),
    (["--steps", "0"], "Steps must be", "--steps 25"),
    (["--width", "100"], "multiple of 64", "1024x576"),
    (["--preset", "ultra"], "invalid choice: 'ultra'", "choose from"),
    (["--frames", "many"], "invalid int value: 'many'", None),
])
def test_cli_bad_settings(app_env, fake_engine, tmp_path, capsys, args, said, fix):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(_bytes(_photo(), "JPEG"))
    code, out, err = _main(["make", "--image", str(photo), *TINY_ARGS, *args, "--out", "clip.mp4"], capsys)
    _assert_refused(code, err, said, fix)
    assert fake_engine.calls == []
    nothing_written(tmp_path, photo)


@pytest.mark.parametrize("case", list(BAD))
def test_cli_bad_photos(app_env, fake_engine, tmp_path, capsys, case):
    make, said, fix = BAD[case]
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make())
    code, out, err = _main(["make", "--image", str(photo), *TINY_ARGS, "--out", "clip.mp4"], capsys)
    _assert_refused(code, err, said, fix)
    nothing_written(tmp_path, photo)


@pytest.mark.parametrize("case", list(GOOD))
def test_cli_odd_photos_make_a_video(app_env, fake_engine, tmp_path, capsys, case):
    make, _check = GOOD[case]
    photo = tmp_path / f"{case}.img"
    photo.write_bytes(make())
    code, out, err = _main(["make", "--image", str(photo), *TINY_ARGS, "--out", "clip.mp4"], capsys)
    assert code == 0, err
    assert "Traceback" not in err and out.startswith("✓ ")
    info = probe(tmp_path / "clip.mp4")
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 128, 64, 4)
    assert sorted(p.name for p in tmp_path.iterdir() if p != photo) == ["clip.json", "clip.mp4"]


def test_cli_missing_photo_and_folder_as_photo(app_env, fake_engine, tmp_path, capsys):
    for image in ("no such photo.jpg", str(tmp_path)):
        code, out, err = _main(["make", "--image", image, *TINY_ARGS], capsys)
        _assert_refused(code, err, "Image file not found", "Check the path")
    nothing_written(tmp_path)


def test_cli_korean_path_with_spaces(app_env, fake_engine, tmp_path, capsys):
    folder = tmp_path / "상품 사진"
    folder.mkdir()
    photo = folder / KOREAN
    photo.write_bytes(_bytes(_photo(), "JPEG"))
    code, out, err = _main(["make", "--image", str(photo), *TINY_ARGS], capsys)
    assert code == 0, err
    (made,) = (tmp_path / "outputs").iterdir()
    assert "제품-사진-1" in made.name
    assert probe(made / "video.mp4").frames == 4


# -- the installed command in a subprocess (what a user really runs) ------------------------

def test_subprocess_bad_photos_exit_2_without_traceback(app_env, tmp_path):
    cases = {"truncated-jpeg": "truncated.jpg", "bomb-100000x100000": "bomb.png", "text-renamed-jpg": "notes.jpg"}
    for case, name in cases.items():
        make, said, fix = BAD[case]
        (tmp_path / name).write_bytes(make())
        proc = run_cli(["make", "--image", name, *TINY_ARGS, "--out", "clip.mp4"], app_env, tmp_path, timeout=60)
        _assert_refused(proc.returncode, proc.stderr, said, fix)
    proc = run_cli(["make", "--image", "notes.jpg", "--preset", "ultra"], app_env, tmp_path, timeout=60)
    _assert_refused(proc.returncode, proc.stderr, "invalid choice: 'ultra'", "choose from")
    nothing_written(tmp_path, *(tmp_path / n for n in cases.values()))
