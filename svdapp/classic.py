"""Classic engine: a product video from one photo by camera motion alone (no AI, CPU, seconds).

The photo is laid on a *stage* 12 % larger than the output frame, and a virtual camera moves
over it: slow push-in, pull-out, pan left/right, tilt up/down, or a 2.5D parallax in which the
product (separated by the photo's alpha channel, else by GrabCut seeded from the centre) drifts
against its background. Each frame is one affine warp of the stage at sub-pixel positions with
bilinear interpolation, so motion glides instead of stepping whole pixels; the camera's view
is kept inside the stage, so nothing beyond the picture's edges ever shows. Motion is eased
(slow start, slow stop), which also makes boomerang turns and loops seamless.

Frames are rendered on demand straight into YUV 4:2:0 planes, the encoder's own format (a
third of the work of warping RGB), and converted to RGB only for outputs that need it.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageOps

from .errors import InputError, Suggestion
from .finishing import Background, Box, Clip, parse_background, place
from .imageprep import ImageSource
from .vocab import Camera, parse

CAMERA_ALIASES = {"tilt": "tilt-up", "zoom-in": "push-in", "zoom-out": "pull-out", "zoom": "push-in",
                  "pan": "pan-right"}
STAGE_MARGIN = 1.12  # stage = frame x this: the zoom range, and the room a pan or tilt travels
PARALLAX_SHIFT = (0.07, 0.03)  # product, background: how far each drifts, as a share of the width
PARALLAX_ZOOM = (1.05, 1.02)
MASK_SIDE = 256  # GrabCut and inpainting run on a copy this size: the mask is feathered anyway


def parse_camera(camera: str) -> Camera:
    return parse(Camera, camera, CAMERA_ALIASES)


def ease(t: float) -> float:
    """Sine ease-in-out: zero speed at both ends, so turns and loop seams have no jolt."""
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, t)))


@dataclass(frozen=True)
class View:
    """Where the camera looks on the stage: centre (stage pixels) and zoom (1 = whole stage)."""

    cx: float
    cy: float
    zoom: float


@dataclass(frozen=True)
class Rendered:
    clip: Clip
    camera: Camera  # the move actually made
    separation: str | None  # alpha | grabcut | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Layer:
    """A stage picture as YUV 4:2:0 planes, with an optional premultiplied alpha."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    alpha: np.ndarray | None = None  # full-resolution 0-255
    alpha_half: np.ndarray | None = None
    bbox: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 of alpha > 0 on the stage


def _split(i420: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of an I420 buffer (H*3/2 x W)."""
    flat = i420.reshape(-1)
    n, q = w * h, (w // 2) * (h // 2)
    return flat[:n].reshape(h, w), flat[n:n + q].reshape(h // 2, w // 2), flat[n + q:n + 2 * q].reshape(h // 2, w // 2)


def _planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = rgb.shape[:2]
    i420 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
    return tuple(np.ascontiguousarray(p) for p in _split(i420, w, h))  # type: ignore[return-value]


def _matrix(view: View, stage: tuple[int, int], size: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """Output pixel → stage pixel (for WARP_INVERSE_MAP), pixel centres mapped exactly.
    ``scale`` 0.5 gives the matrix for the half-size chroma planes."""
    w, h = size
    k = min(stage[0] / w, stage[1] / h) / view.zoom  # stage pixels per output pixel
    cx, cy = view.cx * scale, view.cy * scale
    ow, oh = w * scale, h * scale
    return np.array([[k, 0.0, cx - 0.5 + (0.5 - ow / 2) * k],
                     [0.0, k, cy - 0.5 + (0.5 - oh / 2) * k]], np.float64)


def view_rect(view: View, stage: tuple[int, int], size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The stage rectangle (x0, y0, x1, y1) the camera shows at ``view``."""
    k = min(stage[0] / size[0], stage[1] / size[1]) / view.zoom
    return (view.cx - size[0] * k / 2, view.cy - size[1] * k / 2, view.cx + size[0] * k / 2, view.cy + size[1] * k / 2)


def _clamp(view: View, stage: tuple[int, int], size: tuple[int, int]) -> View:
    """Keep the whole view on the stage: the camera never sees past the picture."""
    k = min(stage[0] / size[0], stage[1] / size[1]) / view.zoom
    half_w, half_h = size[0] * k / 2, size[1] * k / 2
    cx = min(max(view.cx, half_w), stage[0] - half_w)
    cy = min(max(view.cy, half_h), stage[1] - half_h)
    return View(cx, cy, view.zoom)


def views_at(camera: str, p: float, stage: tuple[int, int], size: tuple[int, int]) -> list[View]:
    """The view(s) at eased progress p in [0, 1]: one, or [background, product] for parallax."""
    camera = parse_camera(camera)
    sw, sh = stage
    full = min(sw / size[0], sh / size[1])  # zoom at which one stage pixel is one output pixel
    c = (sw / 2, sh / 2)
    if camera == Camera.PUSH_IN:
        return [View(*c, full ** p)]
    if camera == Camera.PULL_OUT:
        return [View(*c, full ** (1 - p))]
    travel_x = (sw - size[0]) / 2  # room either side at zoom ``full`` (one stage pixel per pixel)
    travel_y = (sh - size[1]) / 2
    if camera in (Camera.PAN_LEFT, Camera.PAN_RIGHT):
        sign = 1 if camera == Camera.PAN_RIGHT else -1
        return [_clamp(View(c[0] + sign * (2 * p - 1) * travel_x, c[1], full), stage, size)]
    if camera in (Camera.TILT_UP, Camera.TILT_DOWN):
        sign = -1 if camera == Camera.TILT_UP else 1
        return [_clamp(View(c[0], c[1] + sign * (2 * p - 1) * travel_y, full), stage, size)]
    views = []  # parallax
    for shift, zoom in zip(reversed(PARALLAX_SHIFT), reversed(PARALLAX_ZOOM)):
        z = full * zoom ** p
        dx = (p - 0.5) * shift * size[0] * full / z  # camera moves right: the scene drifts left
        views.append(View(c[0] + dx, c[1], z))
    return [_clamp(views[0], stage, size), views[1]]


def _warp(plane: np.ndarray, m: np.ndarray, size: tuple[int, int], border: int = cv2.BORDER_REFLECT) -> np.ndarray:
    return cv2.warpAffine(plane, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border)


def _render_plain(layer: _Layer, view: View, stage: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    out = np.empty((h * 3 // 2, w), np.uint8)
    y, u, v = _split(out, w, h)
    y[...] = _warp(layer.y, _matrix(view, stage, size), size)
    half = (w // 2, h // 2)
    mc = _matrix(view, stage, size, 0.5)
    u[...] = _warp(layer.u, mc, half)
    v[...] = _warp(layer.v, mc, half)
    return out


def _composite(dst: np.ndarray, layer_plane: np.ndarray, alpha: np.ndarray, m: np.ndarray,
               roi: tuple[int, int, int, int]) -> None:
    """dst[roi] = warped premultiplied layer + dst * (1 - warped alpha), in place."""
    x0, y0, x1, y1 = roi
    if x1 <= x0 or y1 <= y0:
        return
    shifted = m.copy()
    shifted[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
    size = (x1 - x0, y1 - y0)
    fg = _warp(layer_plane, shifted, size, cv2.BORDER_CONSTANT)
    a = _warp(alpha, shifted, size, cv2.BORDER_CONSTANT)
    region = dst[y0:y1, x0:x1]
    region[...] = cv2.add(cv2.multiply(region, cv2.subtract(255, a), scale=1 / 255), fg)


def _roi(bbox: tuple[int, int, int, int], m: np.ndarray, size: tuple[int, int], scale: float) -> tuple[int, int, int, int]:
    """Output rectangle that can show the stage box ``bbox`` under inverse map ``m``."""
    inv = cv2.invertAffineTransform(m)
    x0, y0, x1, y1 = (v * scale for v in bbox)
    pts = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
    out = pts @ inv[:, :2].T + inv[:, 2]
    lo = np.floor(out.min(axis=0)) - 2
    hi = np.ceil(out.max(axis=0)) + 2
    return (int(max(0, lo[0])), int(max(0, lo[1])), int(min(size[0], hi[0])), int(min(size[1], hi[1])))


def _render_parallax(bg: _Layer, fg: _Layer, views: list[View], stage: tuple[int, int],
                     size: tuple[int, int]) -> np.ndarray:
    w, h = size
    out = _render_plain(bg, views[0], stage, size)
    yplane, u, v = _split(out, w, h)
    m = _matrix(views[1], stage, size)
    assert fg.alpha is not None and fg.alpha_half is not None and fg.bbox is not None
    _composite(yplane, fg.y, fg.alpha, m, _roi(fg.bbox, m, size, 1.0))
    half = (w // 2, h // 2)
    mc = _matrix(views[1], stage, size, 0.5)
    roi = _roi(fg.bbox, mc, half, 0.5)
    _composite(u, fg.u, fg.alpha_half, mc, roi)
    _composite(v, fg.v, fg.alpha_half, mc, roi)
    return out


def i420_to_rgb(i420: np.ndarray) -> np.ndarray:
    """YUV 4:2:0 → RGB with interpolated chroma, as a video player shows it (OpenCV's own
    conversion repeats each chroma sample over 2x2 pixels, which makes colour edges step)."""
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(i420), format="yuv420p").to_ndarray(format="rgb24")


# --- separating the product from its background ----------------------------------------------

def load_alpha(source: ImageSource) -> np.ndarray | None:
    """The photo's transparency (upright, 0-255) when it has any, else None."""
    try:
        if isinstance(source, Image.Image):
            img = source
        elif isinstance(source, (bytes, bytearray)):
            img = Image.open(io.BytesIO(bytes(source)))
        else:
            img = Image.open(Path(os.fspath(source)).expanduser())
        if getattr(img, "is_animated", False):
            img.seek(0)
        if img.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and not (img.mode == "P" and "transparency" in img.info):
            return None
        img = ImageOps.exif_transpose(img) or img
        alpha = np.asarray(img.convert("RGBA").getchannel("A"))
    except Exception:  # the photo itself was already validated; no alpha is the safe answer
        return None
    return alpha if alpha.min() < 250 and alpha.max() > 0 else None


def grabcut_mask(photo: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """A soft 0-1 product mask (MASK_SIDE on its long side) from GrabCut, seeded with the
    border as background and the inside as probable product; None when it finds no clear
    object (nothing, or nearly the whole photo)."""
    h, w = photo.shape[:2]
    scale = MASK_SIDE / max(h, w)
    small = cv2.resize(photo, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    # Everything inside a thin border is "probably product", the border is background:
    # GrabCut then learns both colour models and peels the backdrop off the inside.
    mask = np.full((sh, sw), cv2.GC_PR_FGD, np.uint8)
    band = max(2, round(min(sh, sw) * 0.04))
    mask[:band] = mask[-band:] = cv2.GC_BGD
    mask[:, :band] = mask[:, -band:] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(int(seed) % (2**31))
    try:
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return None
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if count <= 1:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    fg = (labels == biggest).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    share = fg.mean()
    if not 0.01 <= share <= 0.8:
        return None
    return cv2.GaussianBlur(fg.astype(np.float32), (0, 0), 1.0)


def _fit_mask(mask: np.ndarray, box: Box, stage: tuple[int, int]) -> np.ndarray:
    """The mask resized into the photo's box on the stage (0-1 float32, stage size)."""
    out = np.zeros((stage[1], stage[0]), np.float32)
    m = cv2.resize(mask.astype(np.float32), (box.w, box.h), interpolation=cv2.INTER_LINEAR)
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(stage[0], box.x + box.w), min(stage[1], box.y + box.h)
    out[y0:y1, x0:x1] = m[y0 - box.y:y1 - box.y, x0 - box.x:x1 - box.x]
    return out


def _layers(stage_rgb: np.ndarray, mask: np.ndarray) -> tuple[_Layer, _Layer]:
    """Background with the product painted out (so its edge never leaves a hole when the
    product drifts), and the product as a premultiplied layer with its alpha."""
    h, w = stage_rgb.shape[:2]
    scale = MASK_SIDE * 1.5 / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = cv2.resize(stage_rgb, size, interpolation=cv2.INTER_AREA)
    hole = (cv2.resize(mask, size, interpolation=cv2.INTER_AREA) > 0.05).astype(np.uint8)
    grow = max(3, round(max(size) * 0.03))
    hole = cv2.dilate(hole, np.ones((grow, grow), np.uint8))
    filled = cv2.inpaint(small, hole * 255, 5, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 2.0)
    cover = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), 1.5)
    cover = cv2.resize(cover, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    bg_rgb = (stage_rgb * (1 - cover) + filled * cover).astype(np.uint8)

    alpha = np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8)
    # Premultiply the planes themselves (Y*a, U*a, V*a): blending is linear in them, so
    # bg*(1-a) + fg*a composites correctly in YUV without going back to RGB.
    y_full, u_full, v_full = _planes(stage_rgb)
    a_half = cv2.resize(alpha, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    y = cv2.multiply(y_full, alpha, scale=1 / 255)
    u = cv2.multiply(u_full, a_half, scale=1 / 255)
    v = cv2.multiply(v_full, a_half, scale=1 / 255)
    ys, xs = np.nonzero(alpha)
    bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    fg = _Layer(y, u, v, alpha, a_half, bbox)
    return _Layer(*_planes(bg_rgb)), fg


# --- the engine ------------------------------------------------------------------------------

def stage_size(size: tuple[int, int]) -> tuple[int, int]:
    """Frame size x STAGE_MARGIN, rounded to even numbers (the chroma planes are half size)."""
    return tuple(int(math.ceil(s * STAGE_MARGIN / 2)) * 2 for s in size)  # type: ignore[return-value]


def render(photo: Image.Image | np.ndarray, size: tuple[int, int], frames: int, camera: str = Camera.PUSH_IN,
           background: Background | str = "edge", fit: str = "contain", alpha: np.ndarray | None = None,
           periodic: bool = False, seed: int = 0) -> Rendered:
    """``frames`` frames of ``size`` (even w, h) moving the camera over the photo.

    ``periodic``: the camera goes out and comes back (progress 0 → 1 → 0) with frame
    ``frames`` equal to frame 0, so the clip loops seamlessly by itself. ``alpha``: the
    photo's transparency, used to separate the product for parallax (else GrabCut).
    """
    camera = parse_camera(camera)
    w, h = size
    if w % 2 or h % 2 or w < 16 or h < 16:
        raise InputError(f"Frame size must be even and at least 16x16, got {w}x{h}.", "Use e.g. 1080x1920.")
    if frames < 1:
        raise InputError(f"Frames must be at least 1, got {frames}.", "Use {fix}.", Suggestion("seconds", 4))
    rgb = np.asarray(photo.convert("RGB")) if isinstance(photo, Image.Image) else np.asarray(photo)
    bg = parse_background(background) if isinstance(background, str) else background
    stage = stage_size(size)
    stage_rgb, box = place(rgb, stage, bg, fit)
    notes: list[str] = []
    separation = None
    fg = None
    if camera == Camera.PARALLAX:
        if alpha is not None and alpha.shape[:2] == rgb.shape[:2]:
            mask, separation = alpha.astype(np.float32) / 255, "alpha"
        else:
            mask, separation = grabcut_mask(rgb, seed), "grabcut"
        stage_mask = _fit_mask(mask, box, stage) if mask is not None else None
        if stage_mask is None or stage_mask.max() < 0.5:
            notes.append("Parallax: could not tell the product from its background; used a slow push-in instead.")
            camera, separation = Camera.PUSH_IN, None
        else:
            base, fg = _layers(stage_rgb, stage_mask)
    if fg is None:
        base = _Layer(*_planes(stage_rgb))

    def progress(i: int) -> float:
        if periodic:
            return 0.5 - 0.5 * math.cos(2 * math.pi * i / frames)
        return ease(i / (frames - 1)) if frames > 1 else 0.0

    def i420(i: int) -> np.ndarray:
        views = views_at(camera, progress(i), stage, size)
        if fg is not None:
            return _render_parallax(base, fg, views, stage, size)
        return _render_plain(base, views[0], stage, size)

    def to_rgb(i: int) -> np.ndarray:
        return i420_to_rgb(i420(i))

    return Rendered(Clip(frames, to_rgb, i420), camera, separation, tuple(notes))


def still(photo: Image.Image | np.ndarray, size: tuple[int, int], background: Background | str = "edge",
          fit: str = "contain") -> Image.Image:
    """The photo as the first frame of a push-in frames it: saved as the job's input.png."""
    rgb = np.asarray(photo.convert("RGB")) if isinstance(photo, Image.Image) else np.asarray(photo)
    canvas, _ = place(rgb, size, parse_background(background) if isinstance(background, str) else background, fit)
    return Image.fromarray(canvas)


__all__ = ["CAMERA_ALIASES", "Rendered", "View", "ease", "grabcut_mask", "load_alpha", "parse_camera", "render",
           "stage_size", "still", "view_rect", "views_at"]
