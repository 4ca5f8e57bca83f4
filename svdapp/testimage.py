"""A synthetic product photo for trying the app without a real one.

A glossy bottle with a cap and a label, lit from the upper left, standing on a seamless
light-grey studio background with a soft contact shadow: the kind of packshot shops upload.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DEFAULT_PATH = Path("outputs/test_images/test_product.jpg")


def make_test_product(width: int = 1280, height: int = 960, hue: tuple[int, int, int] = (32, 110, 190)) -> Image.Image:
    w, h = width, height
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # studio sweep: lighter at the top-centre, gentle vignette
    bg = 236 - 18 * (yy / h) - 14 * (((xx - w / 2) / (w / 2)) ** 2)
    img = np.repeat(bg[..., None], 3, axis=2)

    cx, body_w = w * 0.5, w * 0.16
    top, bottom = h * 0.30, h * 0.82
    # contact shadow: a blurred ellipse under the bottle
    shadow = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shadow).ellipse([cx - body_w * 1.25, bottom - h * 0.025, cx + body_w * 1.35, bottom + h * 0.035],
                                   fill=150)
    shadow = np.asarray(shadow.filter(ImageFilter.GaussianBlur(h * 0.02)), dtype=np.float32) / 255
    img *= (1 - 0.45 * shadow)[..., None]

    # cylindrical shading across the body: lambert from the left plus a specular streak
    u = np.clip((xx - (cx - body_w)) / (2 * body_w), 0, 1)
    normal_x = u * 2 - 1
    lambert = np.clip(0.35 + 0.75 * np.sqrt(np.clip(1 - normal_x**2, 0, 1)) - 0.25 * normal_x, 0, 1.2)
    spec = np.exp(-((u - 0.28) ** 2) / 0.002) * 0.55
    colour = np.array(hue, np.float32)
    body = colour[None, None, :] * lambert[..., None] + 255 * spec[..., None]

    mask = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(mask)
    d.rounded_rectangle([cx - body_w, top, cx + body_w, bottom], radius=int(body_w * 0.35), fill=255)
    neck_w = body_w * 0.42
    d.rounded_rectangle([cx - neck_w, top - h * 0.07, cx + neck_w, top + h * 0.03], radius=int(neck_w * 0.3), fill=255)
    m = np.asarray(mask.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float32)[..., None] / 255
    img = img * (1 - m) + body * m

    # cap: dark metallic with its own highlight
    cap = Image.new("L", (w, h), 0)
    ImageDraw.Draw(cap).rounded_rectangle([cx - neck_w * 1.15, top - h * 0.13, cx + neck_w * 1.15, top - h * 0.065],
                                          radius=int(neck_w * 0.2), fill=255)
    cm = np.asarray(cap.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32)[..., None] / 255
    cap_col = (40 + 120 * lambert[..., None] + 200 * spec[..., None]) * np.ones(3, np.float32)
    img = img * (1 - cm) + cap_col * cm

    # label band with text
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(out)
    ly0, ly1 = top + (bottom - top) * 0.35, top + (bottom - top) * 0.68
    d.rectangle([cx - body_w * 0.98, ly0, cx + body_w * 0.98, ly1], fill=(246, 241, 228))
    try:
        font = ImageFont.load_default(size=max(12, int(h * 0.045)))
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    d.text((cx, (ly0 + ly1) / 2), "AQUA", fill=(30, 60, 110), font=font, anchor="mm")
    # shade the label like the body so it wraps around the cylinder
    arr = np.asarray(out, dtype=np.float32)
    band = (yy >= ly0) & (yy <= ly1) & (np.abs(xx - cx) <= body_w)
    arr[band] *= np.clip(0.55 + 0.5 * lambert[band], 0, 1.05)[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def write_test_product(path: str | Path = DEFAULT_PATH, width: int = 1280, height: int = 960) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    make_test_product(width, height).save(tmp, format="PNG" if path.suffix.lower() == ".png" else "JPEG", quality=92)
    tmp.replace(path)
    return path
