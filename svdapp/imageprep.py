"""Load, validate and normalise the product photo, then fit it to the model's frame.

Whatever a user picks (EXIF-rotated phone photos, PNGs with transparency, CMYK or 16-bit
files, grayscale, animated images) becomes an upright 8-bit RGB picture, or an InputError
that says what is wrong with the file and what to do.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import InputError
from .vocab import Fit, parse

ImageSource = Union[str, os.PathLike, bytes, Image.Image]

MIN_SIDE = 64
MAX_PIXELS = 64_000_000  # 64 MP: any real photo; above that it is a decompression bomb
MAX_FILE_BYTES = 100 * 1024 * 1024
ImageFile.LOAD_TRUNCATED_IMAGES = False
_OPEN_LOCK = threading.Lock()


def load_image(source: ImageSource) -> Image.Image:
    """Return the photo as an upright RGB image, or raise InputError with the fix."""
    name = "The image"
    if isinstance(source, Image.Image):
        img = source
    else:
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        else:
            path = Path(source).expanduser()
            name = f"'{path.name}'"
            if not path.is_file():
                raise InputError(f"Image file not found: {path}", "Check the path (quote it if it has spaces).")
            try:
                size = path.stat().st_size
                if size > MAX_FILE_BYTES:
                    raise InputError(f"{name} is {size / 2**20:.0f} MB, too large to be a product photo.",
                                     "Use a JPEG or PNG under 100 MB.")
                data = path.read_bytes()
            except OSError as exc:  # no read permission, or the file vanished / a network drive dropped
                fix = "Check the file's permissions, or copy it to a local folder and pick the copy."
                raise InputError(f"{name} cannot be read ({exc.strerror or exc}).", fix) from None
        if not data:
            raise InputError(f"{name} is empty (0 bytes).", "Pick the photo again; the file may not have finished copying.")
        img = _open_bytes(data, name)
    return normalise(img, name)


def _open_bytes(data: bytes, name: str) -> Image.Image:
    try:
        # warnings filters are process-wide and catch_warnings is not thread-safe: serialise the
        # header parse (cheap; where PIL's bomb check runs) so concurrent uploads cannot leave the
        # "error" filter switched on for the whole process.
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise InputError(f"{name} is {w}x{h} pixels ({w * h / 1e6:.0f} MP), too large to process safely.",
                             "Resize it below 64 megapixels (e.g. 4000x3000) and try again.")
        img.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{name} claims to be enormous (a decompression bomb).",
                         "Use a normal photo below 64 megapixels.") from None
    except UnidentifiedImageError:
        raise InputError(f"{name} is not an image file, or in a format this app cannot read.",
                         "Use a JPEG, PNG or WebP photo.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{name} is damaged or cut off ({exc}).",
                         "Export or download the photo again and retry.") from None
    return img


def normalise(img: Image.Image, name: str = "the image") -> Image.Image:
    """Upright, 8-bit RGB, transparency flattened onto white."""
    if getattr(img, "is_animated", False):
        img.seek(0)  # animated GIF/WebP/PNG: the first frame is the product shot
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise InputError(f"{name} is {w}x{h} pixels, too large to process safely.",
                         "Resize it below 64 megapixels and try again.")
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # broken EXIF must not stop an otherwise good photo
        pass
    if min(img.size) < MIN_SIDE:
        raise InputError(f"{name} is only {img.size[0]}x{img.size[1]} pixels.",
                         f"Use a photo at least {MIN_SIDE}px on each side; 1024x576 or larger looks best.")

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = _to_8bit(img)
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("LA", "La", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        alpha = np.asarray(img.getchannel("A"))
        if alpha.max() == 0:
            raise InputError(f"{name} is fully transparent: there is nothing to animate.",
                             "Export the photo with its pixels visible (not an empty layer).")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer or float grey → 8-bit grey, keeping brightness (never stretching
    contrast: a dark 16-bit photo must stay dark)."""
    arr = np.asarray(img, dtype=np.float64)
    hi = float(arr.max()) if arr.size else 0.0
    if img.mode.startswith("I;16"):
        scale = 255.0 / 65535.0  # the file says 16 bits, whatever the brightest pixel is
    elif img.mode == "F" and hi <= 1.0:
        scale = 255.0  # float images are 0..1
    else:
        scale = 255.0 / 65535.0 if hi > 255 else 1.0
    return Image.fromarray(np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8), "L")


def fit(img: Image.Image, width: int, height: int, mode: str = Fit.CONTAIN,
        background: tuple[int, int, int] | None = None) -> Image.Image:
    """Exactly width x height. ``contain`` keeps the whole product and pads with a colour
    taken from the photo's edges; ``cover`` fills the frame and crops the overflow."""
    if parse(Fit, mode) == Fit.COVER:
        return ImageOps.fit(img, (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    scale = min(width / img.width, height / img.height)
    new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    resized = img.resize(new, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (width, height), background or edge_colour(img))
    canvas.paste(resized, ((width - new[0]) // 2, (height - new[1]) // 2))
    return canvas


def edge_colour(img: Image.Image) -> tuple[int, int, int]:
    """The median colour of the photo's border: the studio background, usually."""
    arr = np.asarray(img.convert("RGB"))
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    return tuple(int(v) for v in np.median(border, axis=0))
