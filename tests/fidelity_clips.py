"""Synthetic product photos and videos with a known truth, for the product-fidelity scorer.

Shared by ``tests/test_fidelity.py`` and ``bench/fidelity_separation.py``. A clip is a camera
path (a photo → frame homography per frame) over a product photo whose content may change in
time: the product deformed, recoloured, blurred or smeared (bad clips), or only its
background animated (good clips). Everything is drawn here, with PIL and OpenCV, from fixed
numbers and seeded generators, so every run builds the same frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from svdapp.testimage import make_test_product

CAMERAS = ("still", "push-in", "pull-out", "pan", "rotate", "tilt", "cover", "far", "exit")
CHANGES = ("none", "background", "soft", "exposure", "jitter", "warp", "hue", "blur", "smear", "erase", "melt-end")


@dataclass(frozen=True)
class Product:
    """A product photo with its true mask and the box of its printed label (photo pixels)."""

    name: str
    rgb: np.ndarray  # H x W x 3 uint8, the photo as a camera saw it
    mask: np.ndarray  # H x W float32 0-1, where the product is
    label: tuple[int, int, int, int]  # x0, y0, x1, y1 of the printed label / logo area
    with_alpha: bool  # whether the photo is handed over with its transparency

    def photo(self) -> Image.Image:
        """The photo as a user uploads it: RGBA (product cut out) or RGB."""
        if not self.with_alpha:
            return Image.fromarray(self.rgb)
        alpha = np.clip(self.mask * 255 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(np.dstack([self.rgb, alpha]), "RGBA")

    @property
    def size(self) -> float:
        """The product's size: the long side of its bounding box, in photo pixels."""
        ys, xs = np.nonzero(self.mask > 0.5)
        return float(max(xs.max() - xs.min(), ys.max() - ys.min()) + 1)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def bottle(with_alpha: bool = False) -> Product:
    """svdapp's own test product (a bottle with an AQUA label), mask redrawn from its geometry."""
    w, h = 1280, 960
    rgb = np.asarray(make_test_product(w, h))
    cx, body_w = w * 0.5, w * 0.16
    top, bottom = h * 0.30, h * 0.82
    neck_w = body_w * 0.42
    mask = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(mask)
    d.rounded_rectangle([cx - body_w, top, cx + body_w, bottom], radius=int(body_w * 0.35), fill=255)
    d.rounded_rectangle([cx - neck_w, top - h * 0.07, cx + neck_w, top + h * 0.03], radius=int(neck_w * 0.3), fill=255)
    d.rounded_rectangle([cx - neck_w * 1.15, top - h * 0.13, cx + neck_w * 1.15, top - h * 0.065],
                        radius=int(neck_w * 0.2), fill=255)
    m = np.asarray(mask.filter(ImageFilter.GaussianBlur(1.0)), np.float32) / 255
    ly0, ly1 = top + (bottom - top) * 0.35, top + (bottom - top) * 0.68
    label = (int(cx - body_w), int(ly0), int(cx + body_w), int(ly1))
    if with_alpha:  # a cut-out shot: the backdrop goes, the product stays
        rgb = (rgb * m[..., None] + 255 * (1 - m[..., None])).astype(np.uint8)
    return Product("bottle-alpha" if with_alpha else "bottle", rgb, m, label, with_alpha)


def carton(with_alpha: bool = True) -> Product:
    """A tea carton (portrait photo): green box, white band with GREEN TEA, a red round logo,
    small print, stripes; a darker side face gives it depth. Cut out (RGBA) by default."""
    w, h = 900, 1100
    img = Image.new("RGB", (w, h), (250, 250, 250))
    mask = Image.new("L", (w, h), 0)
    d, dm = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    x0, y0, x1, y1 = 190, 140, 640, 960
    side = [(x1, y0), (x1 + 110, y0 - 60), (x1 + 110, y1 - 60), (x1, y1)]
    top_face = [(x0, y0), (x0 + 110, y0 - 60), (x1 + 110, y0 - 60), (x1, y0)]
    for poly, col in ((side, (22, 92, 52)), (top_face, (70, 160, 100))):
        d.polygon(poly, fill=col)
        dm.polygon(poly, fill=255)
    yy = np.linspace(0, 1, y1 - y0)[:, None]
    front = np.empty((y1 - y0, x1 - x0, 3), np.float32)
    front[...] = (np.array([40, 140, 80]) * (1.05 - 0.25 * yy))[:, None, :].reshape(y1 - y0, 1, 3)
    img.paste(Image.fromarray(np.clip(front, 0, 255).astype(np.uint8)), (x0, y0))
    dm.rectangle([x0, y0, x1, y1], fill=255)
    for i in range(6):  # thin gold stripes at the bottom
        yy0 = y1 - 120 + i * 18
        d.rectangle([x0, yy0, x1, yy0 + 6], fill=(214, 176, 72))
    band = (x0, y0 + 250, x1, y0 + 470)
    d.rectangle(band, fill=(246, 244, 236))
    d.text(((x0 + x1) / 2, band[1] + 70), "GREEN", fill=(20, 70, 40), font=_font(84), anchor="mm")
    d.text(((x0 + x1) / 2, band[1] + 160), "TEA", fill=(20, 70, 40), font=_font(84), anchor="mm")
    lx, ly, r = (x0 + x1) / 2, y0 + 140, 70  # the logo: a red disc with a white leaf and ring
    d.ellipse([lx - r, ly - r, lx + r, ly + r], fill=(200, 40, 40))
    d.ellipse([lx - r + 10, ly - r + 10, lx + r - 10, ly + r - 10], outline=(255, 255, 255), width=5)
    d.polygon([(lx - 35, ly + 25), (lx, ly - 40), (lx + 35, ly + 25), (lx, ly + 5)], fill=(255, 255, 255))
    d.text(((x0 + x1) / 2, band[3] + 60), "ORGANIC  20 BAGS  40 g", fill=(235, 240, 225), font=_font(30), anchor="mm")
    d.text(((x0 + x1) / 2, band[3] + 110), "Sencha from Shizuoka", fill=(235, 240, 225), font=_font(26), anchor="mm")
    rgb = np.asarray(img)
    m = np.asarray(mask.filter(ImageFilter.GaussianBlur(1.0)), np.float32) / 255
    label = (x0, ly - r, x1, band[3] + 130)
    name = "carton-alpha" if with_alpha else "carton"
    if not with_alpha:
        rgb = (rgb * m[..., None] + np.array([232, 228, 220]) * (1 - m[..., None])).astype(np.uint8)
    return Product(name, rgb, m, (int(label[0]), int(label[1]), int(label[2]), int(label[3])), with_alpha)


def busy_background(w: int, h: int, seed: int = 7, phase: float = 0.0) -> np.ndarray:
    """A busy patterned cloth in blues, greys and greens: stripes, blobs and fine noise.
    ``phase`` slides and recolours it (an animated backdrop)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.array([70, 100, 120], np.float32) + 25 * np.sin((xx + yy * 0.6 + phase * 400) / 23.0)[..., None]
    out = base + 18 * np.sin(xx / 7.0 + phase * 6)[..., None] * np.array([0.3, 1.0, 0.6])
    img = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(140):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(6, 40)
        x = (x + phase * 300) % w
        col = tuple(int(c) for c in rng.choice([[40, 80, 110], [110, 140, 150], [60, 120, 90], [150, 160, 170]]))
        d.ellipse([x - r, y - r, x + r, y + r], fill=col)
    arr = np.asarray(img).astype(np.float32) + rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    return np.clip(arr, 0, 255).astype(np.uint8)


def jar(with_alpha: bool = False) -> Product:
    """A honey jar (4:5 photo) with a white label, HONEY in brown, a hexagon logo and a red
    lid, standing on a busy patterned cloth."""
    w, h = 1080, 1350
    bg = busy_background(w, h)
    img = Image.new("RGB", (w, h), (0, 0, 0))
    mask = Image.new("L", (w, h), 0)
    d, dm = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    x0, x1, y0, y1 = 330, 750, 420, 1130
    body = np.zeros((h, w, 3), np.float32)
    xx = np.arange(w, dtype=np.float32)
    u = np.clip((xx - x0) / (x1 - x0), 0, 1)
    shade = 0.55 + 0.55 * np.sqrt(np.clip(1 - (2 * u - 1) ** 2, 0, 1)) + 0.5 * np.exp(-((u - 0.25) ** 2) / 0.003)
    body[...] = (np.array([225, 150, 30], np.float32)[None, :] * shade[:, None])[None]
    img = Image.fromarray(np.clip(body, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    dm.rounded_rectangle([x0, y0, x1, y1], radius=60, fill=255)
    d.rounded_rectangle([x0 + 20, y0 - 110, x1 - 20, y0 + 10], radius=18, fill=(185, 30, 35))
    dm.rounded_rectangle([x0 + 20, y0 - 110, x1 - 20, y0 + 10], radius=18, fill=255)
    for i in range(12):  # ridges on the lid
        xr = x0 + 40 + i * 30
        d.line([(xr, y0 - 100), (xr, y0)], fill=(140, 20, 25), width=4)
    lab = (x0 + 30, y0 + 190, x1 - 30, y0 + 520)
    d.rectangle(lab, fill=(248, 246, 238))
    d.text(((x0 + x1) / 2, lab[1] + 200), "HONEY", fill=(110, 60, 20), font=_font(90), anchor="mm")
    cxh, cyh, r = (x0 + x1) / 2, lab[1] + 85, 55
    d.polygon([(cxh + r * math.cos(a), cyh + r * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 7)[:-1]],
              outline=(200, 130, 20), fill=(250, 200, 60), width=6)
    d.text(((x0 + x1) / 2, lab[1] + 285), "Wildflower 500 g", fill=(90, 90, 90), font=_font(34), anchor="mm")
    m = np.asarray(mask.filter(ImageFilter.GaussianBlur(1.0)), np.float32) / 255
    prod = np.asarray(img).astype(np.float32)
    backdrop = np.full_like(bg, 255) if with_alpha else bg
    rgb = (prod * m[..., None] + backdrop * (1 - m[..., None])).astype(np.uint8)
    return Product("jar-alpha" if with_alpha else "jar", rgb, m, (lab[0], lab[1], lab[2], lab[3]), with_alpha)


def mug(with_alpha: bool = False) -> Product:
    """A plain glazed red mug without any print (only its shading and outline to follow), on
    the busy cloth, or cut out."""
    w, h = 1000, 800
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).rounded_rectangle([380, 220, 620, 620], radius=40, fill=255)
    ImageDraw.Draw(mask).ellipse([560, 300, 700, 520], outline=255, width=26)  # the handle
    m = np.asarray(mask.filter(ImageFilter.GaussianBlur(1.0)), np.float32) / 255
    u = np.clip((np.arange(w, dtype=np.float32) - 380) / 240, 0, 1)
    shade = 0.5 + 0.6 * np.sqrt(np.clip(1 - (2 * u - 1) ** 2, 0, 1)) + 0.35 * np.exp(-((u - 0.3) ** 2) / 0.004)
    body = np.broadcast_to((np.array([200, 40, 40], np.float32)[None, :] * shade[:, None])[None], (h, w, 3))
    backdrop = np.full((h, w, 3), 255, np.float32) if with_alpha else busy_background(w, h, seed=5)
    rgb = np.clip(body * m[..., None] + backdrop * (1 - m[..., None]), 0, 255).astype(np.uint8)
    return Product("mug-alpha" if with_alpha else "mug", rgb, m, (400, 320, 600, 520), with_alpha)


def scaled(p: Product, factor: float) -> Product:
    """The same product photographed with ``factor`` x the pixels."""
    h, w = p.mask.shape
    dims = (round(w * factor), round(h * factor))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    x0, y0, x1, y1 = (round(v * factor) for v in p.label)
    return Product(f"{p.name}x{factor:g}", cv2.resize(p.rgb, dims, interpolation=interp),
                   cv2.resize(p.mask, dims, interpolation=cv2.INTER_LINEAR), (x0, y0, x1, y1), p.with_alpha)


PRODUCTS: dict[str, Callable[[], Product]] = {
    "bottle": bottle, "bottle-alpha": lambda: bottle(True), "carton-alpha": carton,
    "carton": lambda: carton(False), "jar": jar, "jar-alpha": lambda: jar(True),
    "mug": mug, "mug-alpha": lambda: mug(True),
}


# --- camera --------------------------------------------------------------------------------

def placement(photo: tuple[int, int], frame: tuple[int, int], mode: str = "contain") -> np.ndarray:
    """Photo → frame homography that fits the photo whole (contain) or fills the frame (cover)."""
    (pw, ph), (fw, fh) = photo, frame
    s = min(fw / pw, fh / ph) if mode == "contain" else max(fw / pw, fh / ph)
    return np.array([[s, 0, (fw - s * pw) / 2], [0, s, (fh - s * ph) / 2], [0, 0, 1]], np.float64)


def camera_motion(kind: str, t: float, frame: tuple[int, int]) -> np.ndarray:
    """Frame → frame homography of the camera at progress t in [0, 1], about the centre."""
    fw, fh = frame
    c = np.array([[1, 0, fw / 2], [0, 1, fh / 2], [0, 0, 1]], np.float64)
    ci = np.linalg.inv(c)
    zoom, angle, dx, dy, tilt = 1.0, 0.0, 0.0, 0.0, 0.0
    if kind == "push-in":
        zoom = 1.0 + 0.3 * t
    elif kind == "pull-out":
        zoom = 1.3 - 0.3 * t
    elif kind == "pan":
        zoom, dx = 1.1, (0.5 - t) * 0.16 * fw
    elif kind == "rotate":
        zoom, angle = 1.1, math.radians(-4 + 8 * t)
    elif kind == "tilt":
        zoom, tilt = 1.05, 0.12 * t
    elif kind == "cover":  # a 9:16 crop of a landscape photo that drifts sideways and pushes in
        zoom, dx = 1.0 + 0.1 * t, (0.5 - t) * 0.06 * fw
    elif kind == "far":  # the product small in the picture (a third of its fitted size), drifting
        zoom, dx = 0.35, (0.5 - t) * 0.1 * fw
    elif kind == "exit":  # the camera swings away until the product has left the picture
        dx = -1.2 * fw * t * t
    elif kind != "still":
        raise ValueError(kind)
    ca, sa = math.cos(angle) * zoom, math.sin(angle) * zoom
    m = np.array([[ca, -sa, dx], [sa, ca, dy], [0, 0, 1]], np.float64)
    # Keystone: the far side of the picture shrinks, as when the camera tilts around the x axis.
    p = np.array([[1, 0, 0], [0, 1, 0], [0, tilt / fh, 1]], np.float64)
    return c @ p @ m @ ci


# --- changes to the product over time ----------------------------------------------------------

def _feather(box: tuple[int, int, int, int], shape: tuple[int, int], soft: float) -> np.ndarray:
    m = np.zeros(shape, np.float32)
    x0, y0, x1, y1 = box
    m[max(0, y0):y1, max(0, x0):x1] = 1
    if soft <= 0:
        return m
    # A huge Gaussian is slow at full size: blur a quarter-size copy and enlarge it.
    small = cv2.resize(m, (shape[1] // 4, shape[0] // 4), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), soft / 4)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _blend(changed: np.ndarray, original: np.ndarray, weight: np.ndarray) -> np.ndarray:
    w = weight[..., None]
    return (changed * w + original * (1 - w)).astype(np.uint8)


Change = Callable[[float], np.ndarray]  # strength (0 = none, 1 = full) → the photo's content


def warp_label(p: Product, amount: float) -> Change:
    """The label region bent by a smooth ripple peaking at ``amount`` x the product size."""
    h, w = p.mask.shape
    x0, y0, x1, y1 = p.label
    weight = _feather(p.label, (h, w), 0.08 * p.size) * p.mask
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx - x0) / max(1, x1 - x0), (yy - y0) / max(1, y1 - y0)
    a = amount * p.size
    dx = a * np.sin(2 * math.pi * v * 1.2) * weight
    dy = a * np.sin(2 * math.pi * u * 0.9 + 1.0) * weight
    return lambda g: cv2.remap(p.rgb, xx + g * dx, yy + g * dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def hue_shift(p: Product, degrees: float) -> Change:
    hsv = cv2.cvtColor(p.rgb, cv2.COLOR_RGB2HSV_FULL)

    def at(g: float) -> np.ndarray:
        turned = hsv.copy()
        turned[..., 0] = ((hsv[..., 0].astype(np.float32) + g * degrees * 256 / 360) % 256).astype(np.uint8)
        return _blend(cv2.cvtColor(turned, cv2.COLOR_HSV2RGB_FULL), p.rgb, p.mask)
    return at


def blur_product(p: Product, sigma_share: float) -> Change:
    """The product blurred with a Gaussian of up to ``sigma_share`` x the product size."""
    m = cv2.GaussianBlur(p.mask, (0, 0), 2.0)
    return lambda g: _blend(cv2.GaussianBlur(p.rgb, (0, 0), max(0.3, g * sigma_share * p.size)), p.rgb, m)


def smear_label(p: Product, strength: float) -> Change:
    """The label area smeared sideways and dragged down, as a melting diffusion model does."""
    h, w = p.mask.shape
    weight = _feather(p.label, (h, w), 0.03 * p.size) * p.mask
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    wave = np.sin(xx / (0.1 * p.size))

    def at(g: float) -> np.ndarray:
        smeared = cv2.blur(p.rgb, (max(3, int(g * strength * p.size) | 1), 1))
        smeared = cv2.remap(smeared, xx, yy - 0.5 * g * strength * p.size * wave, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
        return _blend(smeared, p.rgb, weight)
    return at


def erase_label(p: Product, share: float) -> Change:
    """The top ``share`` of the label painted over with the product's own colour (print gone)."""
    h, w = p.mask.shape
    x0, y0, x1, y1 = p.label
    box = (x0, y0, x1, int(y0 + share * (y1 - y0)))
    hole = (_feather(box, (h, w), 0) * (p.mask > 0.5)).astype(np.uint8) * 255
    filled = cv2.inpaint(p.rgb, hole, 9, cv2.INPAINT_TELEA)
    weight = cv2.GaussianBlur(hole.astype(np.float32) / 255, (0, 0), 3) * p.mask
    return lambda g: _blend(filled, p.rgb, weight * min(1.0, g))


# --- clips -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipSpec:
    product: str
    camera: str = "push-in"
    change: str = "none"
    size: tuple[int, int] = (1024, 576)
    frames: int = 25
    amount: float | None = None  # the change's strength at the end; None = its default

    @property
    def name(self) -> str:
        amount = "" if self.amount is None else f"@{self.amount:g}"
        return f"{self.product}/{self.camera}/{self.change}{amount}/{self.size[0]}x{self.size[1]}"


DEFAULT_AMOUNT = {"warp": 0.03, "hue": 35.0, "blur": 0.012, "smear": 0.12, "erase": 0.6, "melt-end": 0.04,
                  "jitter": 0.06, "background": 1.0, "none": 0.0, "soft": 0.7, "exposure": 0.1}
BAD_CHANGES = ("warp", "hue", "blur", "smear", "erase", "melt-end")
GOOD_CHANGES = ("none", "background", "soft", "exposure", "jitter")


def _change(p: Product, change: str, amount: float) -> Callable[[float, int, int], np.ndarray]:
    """(t, i, n) → the photo content of frame i of n at progress t; a change grows as t² so it
    is full by the end, except ``melt-end``: perfect until the last three frames."""
    if change in ("none", "background", "jitter", "soft", "exposure"):
        return lambda t, i, n: p.rgb
    if change == "melt-end":
        bend = warp_label(p, amount)
        return lambda t, i, n: bend((i - (n - 4)) / 3) if i >= n - 3 else p.rgb
    make = {"warp": warp_label, "hue": hue_shift, "blur": blur_product, "smear": smear_label,
            "erase": erase_label}[change]
    at = make(p, amount)
    return lambda t, i, n: at(t * t) if t > 0 else p.rgb


def render_clip(spec: ClipSpec, product: Product | None = None) -> np.ndarray:
    """The N x H x W x 3 uint8 frames of ``spec`` (deterministic)."""
    p = product or PRODUCTS[spec.product]()
    ph, pw = p.mask.shape
    fw, fh = spec.size
    amount = DEFAULT_AMOUNT[spec.change] if spec.amount is None else spec.amount
    mode = "cover" if spec.camera == "cover" else "contain"
    base = placement((pw, ph), (fw, fh), mode)
    pad = tuple(int(c) for c in np.median(np.concatenate([p.rgb[0], p.rgb[-1]]), axis=0))
    out = np.empty((spec.frames, fh, fw, 3), np.uint8)
    rng = np.random.default_rng(3)
    content_at = _change(p, spec.change, amount)
    if spec.change == "background":
        wide = busy_background(pw + pw // 3, ph, seed=11)
        # The studio light stays: the new backdrop keeps the old one's shading and the
        # product's contact shadow (which belongs to the floor, not to the product).
        luma = cv2.cvtColor(p.rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        shade = np.clip(luma / np.median(np.concatenate([luma[0], luma[-1]])), 0.3, 1.2)
        shade = np.where(p.mask > 0.5, 1.0, shade)[..., None]
    for i in range(spec.frames):
        t = i / max(1, spec.frames - 1)
        content = content_at(t, i, spec.frames)
        if spec.change == "background":  # the backdrop slides and changes colour; the product stays
            x = int(t * amount * (pw // 3))
            tint = np.array([1.0 + 0.3 * t, 1.0, 1.0 - 0.3 * t], np.float32)
            content = _blend(content, np.clip(wide[:, x:x + pw] * tint * shade, 0, 255), p.mask)
        h = camera_motion(spec.camera, t, (fw, fh)) @ base
        scale = math.sqrt(abs(np.linalg.det(h[:2, :2])))
        if scale < 0.9:  # shrink first, as a lens (or any decent renderer) does: no aliasing
            content = cv2.resize(content, (round(pw * scale), round(ph * scale)), interpolation=cv2.INTER_AREA)
            h = h @ np.diag([pw / content.shape[1], ph / content.shape[0], 1.0])
        frame = cv2.warpPerspective(content, h, (fw, fh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=pad)
        if spec.change == "jitter":  # brightness flicker: every frame a random gain
            frame = np.clip(frame * (1 + amount * rng.uniform(-1, 1)), 0, 255).astype(np.uint8)
        elif spec.change == "soft":  # what a generator and an encoder do to every frame: a
            # little softness (Gaussian of ``amount`` frame pixels) and a little noise
            noise = rng.normal(0, 2.5, frame.shape).astype(np.float32)
            frame = np.clip(cv2.GaussianBlur(frame, (0, 0), amount) + noise, 0, 255).astype(np.uint8)
        elif spec.change == "exposure":  # the whole picture slowly brightens by ``amount``
            frame = np.clip(frame * (1 + amount * t), 0, 255).astype(np.uint8)
        out[i] = frame
    return out
