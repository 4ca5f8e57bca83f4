"""Product fidelity: does the product in a video still look like the product in the photo?

Shop owners fear a product that changes in an AI video: a label that melts, a logo that
smears, a colour that drifts. This module measures it, torch-free and in a fraction of a
second, so a clip can be checked, shown with its score, and chosen among seeds.

How. The product is cut from the photo (its alpha channel, else the classic engine's GrabCut
separation) into a small *reference*: its box at ``CMP_SIDE`` pixels. In each frame the product
is followed as one rigid/perspective whole: ORB features matched to the photo with RANSAC find
it (in the first frame, or when it is lost); then the frame is warped back onto the reference,
and dense optical flow, read only across the reference's edges and fitted with a robust
homography, pins it to a fraction of a pixel. The flow left after that fit is the part of the
product that did not move with the whole. Three things are compared, each in its worst patch
(a sixth of the product across) and each mapped to 0–1 by a linear ramp:

- shape: the leftover motion across edges (a bent label, a drooping logo), % of product size;
- detail: print and edges kept — SSIM's contrast term on fine detail (blur and smears lose
  it) and the whole SSIM on a softened picture (the same print, not another), the photo seen
  through no more pixels than the frame shows the product with;
- colour: the CIELAB difference, ΔE with lightness at half weight (a turned hue, a drift).

A frame scores the lowest of the three, and 0 where the product cannot be found or is mostly
out of the picture. The video scores the mean of its worst ``WORST_SHARE`` of frames, so a
product that melts only at the end still fails. ``motion`` and ``flicker`` come alongside, so
a still video cannot win by doing nothing. docs/fidelity.md has the numbers and the limits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .errors import InputError
from .imageprep import load_image
from .classic import grabcut_mask, load_alpha

KEEP_THRESHOLD = 0.8  # at or above: the product is kept as it is in the photo
FAIL_THRESHOLD = 0.6  # below: the product visibly changed (shape, print or colour)
WORST_SHARE = 0.1  # the video's score is the mean of its worst 10 % of frames (at least one)
STILL_MOTION = 1.0  # product motion (% of its diagonal) under which a video counts as still
FLICKER_WARN = 2.0  # flicker (ΔE) above which brightness visibly pumps

# Each part is 1 up to its "fine" value and 0 from its "bad" value, linear between.
SHAPE_RAMP = (0.4, 1.2)  # leftover motion across edges in the worst patch, % of the product
DETAIL_RAMP = (0.92, 0.62)  # print and edges kept (SSIM parts) in the worst patch
COLOUR_RAMP = (6.0, 14.0)  # ΔE in the worst patch
VISIBLE_RAMP = (0.4, 0.2)  # share of the product inside the frame: enough to judge it by?
CROPPED = 0.75  # less of the product than this in the picture: the verdict mentions it

CMP_SIDE = 256  # the reference: the product's box plus margin at this long side, pixels
MARGIN = 0.06  # of the product's size, added around its box in the reference
DECODE_SIDE = 1280  # score_file decodes frames at most this long on their long side
WORK_AREA = 512 * 288  # pixels a frame is first looked at with (then: the product at ~CMP_SIDE)
ALIGN_BLUR = 2.0  # Gaussian sigma (reference pixels) of the pictures the flow is measured on
SHARP_BLUR = 0.7  # Gaussian sigma (reference pixels) before the sharpness comparison
STRUCTURE_BLUR = 2.0  # and before the structure comparison
INNER_PX = 5  # reference pixels kept clear of the product's outline when comparing
PATCH_SHARE = 1 / 6  # a patch's side, as a share of the product's size
MIN_EDGES = 0.5  # mean edge strength (gray levels per pixel) a patch needs for its motion to count
MIN_DETAIL = 1.0  # mean local contrast (gray levels) a patch needs for its detail to count
EDGE_MIN = 2.0  # gray levels per pixel: a reference pixel steeper than this is an edge
FIT_POINTS = 2500  # edge pixels the homography is fitted on, at most
MIN_FIT_POINTS = 300  # fewer edge pixels inside the product than this: its outline is used too
OUTLINE_BAND = 8  # then the frame is kept this many reference pixels beyond the outline
FIT_CONDITION = 2e-3  # weakest / strongest direction the inside's edges must pin, else the outline joins
ALIGN_STEPS = 8  # warp → flow → fit rounds per frame, at most (2–3 when tracking smoothly)
STILL_PX = 0.25  # a fit that moves the product's corners less than this has converged
SMALL_STEP_PX = 1.0  # a step under this is taken without measuring the flow once more
AGREE_PX = 1.0  # an edge pixel within this of the fitted whole moves with it
MIN_AGREE = 0.35  # share of edge weight that must move with the whole to trust a frame
REDETECT_AGREE = 0.5  # below this, the product is also searched for from scratch (ORB)
MATCH_MIN = 0.6  # correlation a template match needs when ORB finds nothing
LOOK_BACK = 12  # frames before the product's first sighting that are followed back from it


@dataclass(frozen=True)
class FrameScore:
    """One frame: its score (the lowest of its parts), the parts (0–1, higher is better) and
    the measures behind them."""

    score: float
    shape: float
    detail: float
    colour: float
    visible: float  # share of the product inside the frame (0 when not found)
    found: bool  # whether the product was found in this frame
    moved: float | None  # leftover motion across edges in the worst patch, % of the product's size
    similarity: float | None  # print and edges kept (the lower SSIM part) in the worst patch
    delta_e: float | None  # colour difference in the worst patch, ΔE (None: product not found)


@dataclass(frozen=True)
class FidelityReport:
    """How faithfully a video shows the product of a photo.

    ``product_fidelity``: the video's score, 0–1, the mean of its worst frames (``per_frame``).
    ``motion``: how far the product travels: the largest mean move of its box's corners away
    from where they first were, % of the box's diagonal (a 1.3x push-in ≈ 15, a still 0).
    ``scene_change``: how much the whole picture changes from frame to frame (mean absolute
    difference, % of full scale), background included. ``flicker``: frame-to-frame jitter of
    the mean colour of the product (motion removed) or of the whole frame, whichever is larger
    (ΔE of the second difference, so a slow drift is not flicker; under 1 is steady, 3+ pumps).
    ``shape``/``detail``/``colour``: the parts' means over the worst frames. ``visible``: the
    smallest share of the product inside the picture (a crop is judged on what it shows, and
    only under VISIBLE_RAMP's 40 % does it lower the score).
    """

    product_fidelity: float
    per_frame: tuple[float, ...]
    motion: float
    scene_change: float
    flicker: float
    worst_frame: int  # 0-based
    shape: float
    detail: float
    colour: float
    found: float  # share of frames in which the product was found
    visible: float  # the smallest share of the product inside the picture, over those frames
    separation: str  # how the product was cut from the photo: "alpha" or "grabcut"
    frames: tuple[FrameScore, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the product is kept (score ≥ KEEP_THRESHOLD)."""
        return self.product_fidelity >= KEEP_THRESHOLD

    @property
    def verdict(self) -> str:
        """One line for a person (plain ASCII, for any console): kept, or what changed and
        what to try."""
        score = f"Product fidelity {self.product_fidelity:.2f}"
        if self.ok:
            extra = ""
            if self.motion < STILL_MOTION and self.scene_change < 0.5:
                extra = f" But the video barely moves (motion {self.motion:.1f} %)."
            if self.flicker > FLICKER_WARN:
                extra += f" Its brightness flickers (flicker {self.flicker:.1f})."
            if self.visible < CROPPED:
                extra += f" The frame cuts the product (down to {self.visible:.0%} of it in the picture)."
            return f"{score}: the product is kept.{extra}"
        if self.found < 1:
            lost = sum(not f.found for f in self.frames)
            what = f"it was lost - gone or changed beyond recognition - in {lost} of {len(self.frames)} frames"
        else:
            part = min((("its shape", self.shape), ("its print and detail", self.detail),
                        ("its colour", self.colour)), key=lambda kv: kv[1])[0]
            what = f"{part} changed most; worst at frame {self.worst_frame + 1} of {len(self.frames)}"
        level = "changed" if self.product_fidelity < FAIL_THRESHOLD else "may have changed"
        return (f"{score}: the product {level} ({what}). Try another seed, less motion (--motion 80), "
                f"or the classic engine (--engine classic), which never alters the product.")

    def summary(self) -> str:
        """A few plain-ASCII lines for a terminal: the score, its parts, motion and flicker,
        then the verdict."""
        worst = self.frames[self.worst_frame]
        return "\n".join([
            f"Product fidelity: {self.product_fidelity:.2f} (kept at >= {KEEP_THRESHOLD:.2f}, changed below "
            f"{FAIL_THRESHOLD:.2f})",
            f"  parts over the worst {_worst_count(len(self.frames))} of {len(self.frames)} frames: shape "
            f"{self.shape:.2f}, print/detail {self.detail:.2f}, colour {self.colour:.2f}",
            (f"  worst frame {self.worst_frame + 1}: leftover motion {worst.moved:.2f} % of the product, "
             f"detail kept {worst.similarity:.2f}, colour difference {worst.delta_e:.1f} dE" if worst.found
             else f"  worst frame {self.worst_frame + 1}: the product was not found"),
            f"  product found in {sum(f.found for f in self.frames)} of {len(self.frames)} frames "
            f"(cut from the photo by {self.separation}), at least {self.visible:.0%} of it in the picture",
            f"  motion {self.motion:.1f} % of the product's size, scene change {self.scene_change:.2f} %, "
            f"flicker {self.flicker:.2f} dE",
            self.verdict,
        ])

    def to_dict(self) -> dict:
        """Plain JSON-ready values, with ``ok``, ``verdict`` and the thresholds."""
        d = asdict(self)
        d["per_frame"] = list(self.per_frame)
        d["frames"] = [asdict(f) for f in self.frames]
        d["notes"] = list(self.notes)
        d.update(ok=self.ok, verdict=self.verdict, thresholds={"keep": KEEP_THRESHOLD, "fail": FAIL_THRESHOLD})
        return d


@dataclass(frozen=True, eq=False)
class ProductReference:
    """The photo side, computed once and reusable for many videos of the same photo (seeds)."""

    rgb: np.ndarray  # the product's box (plus margin) at CMP_SIDE on its long side
    gray: np.ndarray
    soft: np.ndarray  # gray softened by ALIGN_BLUR: what the flow is measured on
    mask: np.ndarray  # float32 0–1, where the product is
    inner: np.ndarray  # bool: the product shrunk by INNER_PX, where it is compared
    deep: np.ndarray  # bool: shrunk further, clear of the outline's softened edge: motion is read there
    near: np.ndarray  # float32 0–1: the product grown by a few pixels, where the frame is kept
    box: np.ndarray  # 4 x 2 float32: the corners of the product's box
    size: float  # the product's long side, reference pixels
    normals: np.ndarray  # H x W x 2 float32: unit gradient direction of the reference
    edges: np.ndarray  # float32: gradient magnitude, gray levels per pixel
    grid: np.ndarray  # (H*W) x 1 x 2 float32: every reference pixel's coordinates
    fit_xy: np.ndarray  # N x 2 int: the edge pixels the homography is fitted on
    fit_normal: np.ndarray  # N x 2 float32: their normals
    fit_weight: np.ndarray  # N float32
    fit_rows: np.ndarray  # N x 8 float64: how each pixel's normal motion depends on the 8 parameters
    fit_norm: np.ndarray  # 3 x 3: pixel → normalised coordinates of the fit
    keypoints: np.ndarray  # N x 2 float32: ORB keypoints, reference pixels
    descriptors: np.ndarray | None
    separation: str  # "alpha" or "grabcut"


# --- the photo side -----------------------------------------------------------------------------

def _ramp(value: float, fine: float, bad: float) -> float:
    return float(np.clip((value - bad) / (fine - bad), 0.0, 1.0))


def _photo_arrays(photo: Image.Image | np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Upright RGB (transparency flattened onto white, as the app does) and the alpha, if any."""
    if isinstance(photo, np.ndarray):
        if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] not in (3, 4):
            raise InputError(f"The photo must be an H x W x 3 or 4 uint8 array, got {photo.dtype} {photo.shape}.",
                             "Pass a PIL image, or np.asarray(Image.open(path).convert('RGB')).")
        if min(photo.shape[:2]) < 16:
            raise InputError(f"The photo is only {photo.shape[1]}x{photo.shape[0]} pixels.",
                             "Pass the product photo the video was made from.")
        rgb = photo[..., :3]
        if photo.shape[2] == 4 and alpha is None:
            alpha = photo[..., 3]
        if alpha is not None and np.shape(alpha) == rgb.shape[:2]:
            a = np.asarray(alpha, np.float32)[..., None] / 255
            rgb = (rgb * a + 255 * (1 - a) + 0.5).astype(np.uint8)
    elif isinstance(photo, Image.Image):
        if alpha is None:
            alpha = load_alpha(photo)
        rgb = np.asarray(load_image(photo))
    else:
        raise InputError(f"The photo must be a PIL image or a uint8 array, got {type(photo).__name__}.",
                         "Open it with PIL.Image.open(path), or call score_file(video_path, photo_path).")
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.shape != rgb.shape[:2] or alpha.dtype != np.uint8:
            raise InputError(f"The alpha must be a {rgb.shape[1]}x{rgb.shape[0]} uint8 array like the photo, "
                             f"got {alpha.dtype} {alpha.shape}.", "Pass the photo's own transparency, or none.")
        if alpha.min() >= 250:  # fully opaque: says nothing about where the product is
            alpha = None
    return np.ascontiguousarray(rgb), alpha


def _product_mask(rgb: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, str]:
    h, w = rgb.shape[:2]
    if alpha is not None:
        mask, how = alpha.astype(np.float32) / 255, "alpha"
    else:
        small = grabcut_mask(rgb, seed=0)
        if small is None:
            raise InputError("No product found in the photo: it has no transparency, and GrabCut found no "
                             "object standing clear of the background.",
                             "Use a PNG with a transparent background, or a photo of the product centred "
                             "on a plain backdrop.")
        mask, how = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), "grabcut"
    share = float((mask > 0.5).mean())
    if not 0.002 <= share <= 0.98:
        raise InputError(f"No product found in the photo ({how}: {share:.1%} of it is product).",
                         "Use a photo in which the product stands clear of its background.")
    return mask, how


def _orb(n: int) -> cv2.ORB:
    return cv2.ORB_create(nfeatures=n, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=21, fastThreshold=10)


def _crop(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The product's box plus MARGIN, resized to CMP_SIDE on its long side: RGB and mask."""
    ys, xs = np.nonzero(mask > 0.5)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    pad = MARGIN * max(x1 - x0, y1 - y0)
    x0, y0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    x1, y1 = min(rgb.shape[1], int(x1 + pad)), min(rgb.shape[0], int(y1 + pad))
    scale = CMP_SIDE / max(x1 - x0, y1 - y0)
    dims = (max(32, round((x1 - x0) * scale)), max(32, round((y1 - y0) * scale)))
    return (cv2.resize(rgb[y0:y1, x0:x1], dims, interpolation=cv2.INTER_AREA),
            cv2.resize(mask[y0:y1, x0:x1], dims, interpolation=cv2.INTER_AREA))


def _fit_rows(fx: np.ndarray, fy: np.ndarray, normals: np.ndarray, edges: np.ndarray,
              box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For edge pixels (fx, fy): their normals and weights, how their normal motion depends on
    the 8 parameters, and the normalisation of the coordinates."""
    normal = normals[fy, fx]
    weight = np.minimum(edges[fy, fx], 20.0).astype(np.float32)
    (x0, y0), (x1, y1) = box[0], box[2]
    cx, cy, s = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2
    norm = np.array([[1 / s, 0, -cx / s], [0, 1 / s, -cy / s], [0, 0, 1]], np.float64)
    x, y = (fx - cx) / s, (fy - cy) / s
    nx, ny = normal[:, 0].astype(np.float64), normal[:, 1].astype(np.float64)
    # Normal motion, in pixels, of pixel (x, y) under H = I + [[a b c] [d e f] [g h 0]] acting
    # on normalised coordinates, to first order.
    along = nx * x + ny * y
    rows = s * np.stack([nx * x, nx * y, nx, ny * x, ny * y, ny, -along * x, -along * y], axis=1)
    return normal, weight, rows, norm


def _fit_basis(solid: np.ndarray, edges: np.ndarray, normals: np.ndarray, deep: np.ndarray,
               box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """The edge pixels the homography is fitted on, with ``_fit_rows``'s arrays, and whether
    the product's outline had to be used."""
    # Edges inside the product only: its outline looks different over another backdrop (a dark
    # one makes it look fatter). The outline joins in when the inside is bare, or when its edges
    # cannot pin every direction (a plain cylinder's shading only runs across it).
    for outline in (False, True):
        region = cv2.dilate(solid, np.ones((5, 5), np.uint8)).astype(bool) if outline else deep
        fy, fx = np.nonzero(region & (edges > EDGE_MIN))
        step = max(1, math.ceil(len(fx) / FIT_POINTS))
        fx, fy = fx[::step], fy[::step]
        if len(fx) < MIN_FIT_POINTS and not outline:
            continue
        normal, weight, rows, norm = _fit_rows(fx, fy, normals, edges, box)
        spread = np.linalg.eigvalsh(rows.T @ (rows * weight[:, None].astype(np.float64)))
        if outline or spread[0] >= FIT_CONDITION * spread[-1]:
            break
    return np.stack([fx, fy], axis=1), normal, weight, rows, norm, outline


def load_reference(photo: Image.Image | np.ndarray, *, alpha: np.ndarray | None = None) -> ProductReference:
    """Find the product in ``photo`` and prepare everything a video is compared with, once
    (pass the result to ``score_video`` for every video of this photo). Raises InputError
    when the photo shows no product that can be told from its background."""
    rgb, alpha = _photo_arrays(photo, alpha)
    mask, how = _product_mask(rgb, alpha)
    ref, m = _crop(rgb, mask)
    gray = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)
    solid = (m > 0.5).astype(np.uint8)
    # Compared only away from the outline: what lies beyond it (the video's backdrop) reaches
    # a few pixels in through the blurs below, and must not count as the product.
    inner = cv2.erode(solid, np.ones((2 * INNER_PX + 1,) * 2, np.uint8)).astype(bool)
    deep_px = INNER_PX + round(ALIGN_BLUR)
    deep = cv2.erode(solid, np.ones((2 * deep_px + 1,) * 2, np.uint8)).astype(bool)
    ky, kx = np.nonzero(solid)
    box = np.float32([[kx.min(), ky.min()], [kx.max(), ky.min()], [kx.max(), ky.max()], [kx.min(), ky.max()]])
    size = float(max(kx.max() - kx.min(), ky.max() - ky.min()) + 1)

    # Aligned on a softened picture: near the pixel grid a fine pattern (thin stripes, small
    # print) aliases differently in photo and frame, and its flow would pull the fit astray.
    smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), ALIGN_BLUR)
    grad = np.dstack([cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1)]) / 8
    edges = np.sqrt((grad * grad).sum(axis=2))
    normals = grad / np.maximum(edges, 1e-3)[..., None]
    fit_xy, fit_normal, fit_weight, fit_rows, fit_norm, outline = _fit_basis(solid, edges, normals, deep, box)
    # The frame is kept in a tight band around the product: a wider one would carry the video's
    # backdrop in, and a dark backdrop next to the outline reads as the product grown by the
    # band's width. Unless the fit needs the outline (a product with a bare inside): then the
    # frame's own outline must show wherever the product has moved to.
    band = 2 * OUTLINE_BAND + 1 if outline else 3
    near = cv2.GaussianBlur(cv2.dilate(solid, np.ones((band, band), np.uint8)).astype(np.float32), (0, 0), 0.7)
    kps, desc = _orb(800).detectAndCompute(gray, cv2.dilate(solid, np.ones((9, 9), np.uint8)) * 255)
    return ProductReference(
        rgb=ref, gray=gray, soft=np.clip(smooth + 0.5, 0, 255).astype(np.uint8), mask=m, inner=inner, deep=deep,
        near=near, box=box, size=size, normals=normals, edges=edges,
        grid=np.float32(np.dstack(np.meshgrid(np.arange(gray.shape[1]), np.arange(gray.shape[0])))).reshape(-1, 1, 2),
        fit_xy=fit_xy, fit_normal=fit_normal,
        fit_weight=fit_weight, fit_rows=fit_rows, fit_norm=fit_norm,
        keypoints=np.float32([k.pt for k in kps]).reshape(-1, 2), descriptors=desc, separation=how)


# --- finding the product in a frame ---------------------------------------------------------------

def _detect(ref: ProductReference, gray: np.ndarray) -> np.ndarray | None:
    """Reference → frame homography from ORB matches and RANSAC, or None (also for an
    implausible one)."""
    if ref.descriptors is None or len(ref.descriptors) < 8:
        return None
    kps, desc = _orb(2000).detectAndCompute(gray, None)
    if desc is None or len(kps) < 8:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ref.descriptors, desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < 10:
        return None
    src = ref.keypoints[[m.queryIdx for m in good]]
    dst = np.float32([kps[m.trainIdx].pt for m in good])
    h, inliers = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 3.0, maxIters=2000, confidence=0.995)
    if h is None or inliers is None or int(inliers.sum()) < 10 or not _plausible(h, ref, gray.shape[::-1]):
        return None
    return h


def _match(ref: ProductReference, gray: np.ndarray) -> np.ndarray | None:
    """Reference → frame homography (position and size only) from the reference's picture
    itself, matched at a quarter of the resolution over a range of sizes: the fallback for a
    product with too little print for ORB (a plain mug). None when nothing fits well."""
    small = cv2.resize(gray, (max(8, gray.shape[1] // 4), max(8, gray.shape[0] // 4)), interpolation=cv2.INTER_AREA)
    best: tuple[float, float, tuple[int, int]] | None = None
    fits = min(small.shape) / (max(ref.gray.shape) / 4)  # the scale that fills the frame's short side
    for scale in fits * np.geomspace(0.15, 1.2, 12):
        w, h = round(ref.gray.shape[1] / 4 * scale), round(ref.gray.shape[0] / 4 * scale)
        if w < 8 or h < 8 or w > small.shape[1] or h > small.shape[0]:
            continue
        template = cv2.resize(ref.gray, (w, h), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(ref.mask, (w, h), interpolation=cv2.INTER_AREA)
        result = cv2.matchTemplate(small, template, cv2.TM_CCOEFF_NORMED, mask=mask)
        _, value, _, where = cv2.minMaxLoc(np.nan_to_num(result, nan=-1.0, posinf=-1.0, neginf=-1.0))
        if best is None or value > best[0]:
            best = (value, scale, where)
    if best is None or best[0] < MATCH_MIN:
        return None
    _, scale, (x, y) = best
    k = scale  # frame pixels (quarter size x 4) per reference pixel
    return np.array([[k, 0, 4 * x + 1.5], [0, k, 4 * y + 1.5], [0, 0, 1]], np.float64)


def _warp(img: np.ndarray, h: np.ndarray, size: tuple[int, int], border: int = 0) -> np.ndarray:
    """The frame seen through h (reference → frame): an image the size of the reference."""
    return cv2.warpPerspective(img, h, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def _onto_reference(ref: ProductReference, back: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The frame's product over the reference's own background: whatever the video does around
    the product (another backdrop, moving water) then cannot pull the flow. Where the frame
    does not reach (the product partly out of the picture) the reference stands in."""
    near = ref.near * valid
    return cv2.blendLinear(back, reference, near, 1 - near)


def _fit(ref: ProductReference, flow: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The homography (reference pixels) that best explains the flow across the edges inside
    the frame, robust to parts that moved on their own; and the share of edge weight that
    moves with it. None when too little of the product is in the frame to tell."""
    fx, fy = ref.fit_xy[:, 0], ref.fit_xy[:, 1]
    r = (flow[fy, fx] * ref.fit_normal).sum(axis=1).astype(np.float64)
    rows, w0 = ref.fit_rows, ref.fit_weight * valid[fy, fx]
    if w0.sum() < 0.2 * ref.fit_weight.sum():
        return None
    delta = np.zeros(8)
    for k in range(5):  # iteratively reweighted least squares: Huber, then Tukey
        res = r - rows @ delta
        a = np.abs(res)
        if k < 2:
            robust = np.where(a < 0.5, 1.0, 0.5 / np.maximum(a, 1e-9))
        else:
            robust = np.where(a < 1.5, (1 - (a / 1.5) ** 2) ** 2, 0.0)
        w = w0 * robust
        lhs = rows.T @ (rows * w[:, None]) + 1e-6 * np.eye(8)
        delta = np.linalg.solve(lhs, rows.T @ (w * r))
    agree = float(w0[np.abs(r - rows @ delta) < AGREE_PX].sum() / max(w0.sum(), 1e-9))
    a, b, c, d, e, f, g, h = delta
    step = np.array([[1 + a, b, c], [d, 1 + e, f], [g, h, 1.0]])
    return np.linalg.inv(ref.fit_norm) @ step @ ref.fit_norm, agree


@dataclass(frozen=True, eq=False)
class _Aligned:
    h: np.ndarray  # reference → working frame
    flow: np.ndarray  # what is left: reference → frame-warped-back optical flow
    agree: float
    valid: np.ndarray  # bool, reference pixels that the frame shows


def _align(ref: ProductReference, gray: np.ndarray, h: np.ndarray, dis: cv2.DISOpticalFlow) -> _Aligned | None:
    """Warp the frame back through h, measure the flow left, fit it, repeat until still."""
    size = (ref.gray.shape[1], ref.gray.shape[0])
    corners = ref.box.reshape(-1, 1, 2)
    agree = 0.0
    inside = np.full(gray.shape, 255, np.uint8)
    ref_mean, ref_std = cv2.meanStdDev(ref.gray, mask=ref.inner.view(np.uint8))
    for step in range(ALIGN_STEPS + 1):
        valid = _warp(inside, h, size) > 127
        seen = _warp(gray, h, size)
        # Brightness and contrast matched to the photo's first: an exposure drift is colour's
        # business, and must not read as motion. Within bounds: while the fit is still off,
        # the backdrop seen where the product should be would skew the match.
        mean, std = cv2.meanStdDev(seen, mask=(ref.inner & valid).view(np.uint8))
        gain = float(np.clip(float(ref_std[0, 0]) / max(float(std[0, 0]), 1.0), 0.8, 1.25))
        seen = cv2.convertScaleAbs(seen, alpha=gain, beta=float(ref_mean[0, 0]) - gain * float(mean[0, 0]))
        back = _onto_reference(ref, seen, ref.gray, valid)
        flow = dis.calc(ref.soft, cv2.GaussianBlur(back, (0, 0), ALIGN_BLUR), None)
        if step == ALIGN_STEPS:
            break
        fitted = _fit(ref, flow, valid)
        if fitted is None:
            return None
        d, agree = fitted
        moved = float(np.abs(cv2.perspectiveTransform(corners, d) - corners).max())
        if not math.isfinite(moved) or moved > ref.size:
            return None
        if moved < STILL_PX:
            break
        h = h @ d
        if moved < SMALL_STEP_PX:
            # A small last step: take it without measuring the flow again; what is left of the
            # flow is, to first order, the measured flow minus the step.
            flow = flow - (cv2.perspectiveTransform(ref.grid, d) - ref.grid).reshape(flow.shape)
            valid = _warp(inside, h, size) > 127
            break
    return _Aligned(h, flow, agree, valid)


def _plausible(h: np.ndarray, ref: ProductReference, frame: tuple[int, int]) -> bool:
    """A convex, not absurdly sized outline that overlaps the frame."""
    quad = _quad(ref, h)
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.astype(np.float32)):
        return False
    if not 0.01 < abs(cv2.contourArea(quad)) / abs(cv2.contourArea(ref.box)) < 100:
        return False
    fw, fh = frame
    return quad[:, 0].max() > 0 and quad[:, 0].min() < fw and quad[:, 1].max() > 0 and quad[:, 1].min() < fh


def _quad(ref: ProductReference, h: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(ref.box.reshape(-1, 1, 2), h).reshape(4, 2)


def _scale(ref: ProductReference, h: np.ndarray) -> float:
    """Frame pixels per reference pixel, over the product."""
    return math.sqrt(abs(cv2.contourArea(_quad(ref, h))) / abs(cv2.contourArea(ref.box)))


# --- comparing a frame with the photo --------------------------------------------------------------

def _local(value: np.ndarray, weight: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means of value over k x k patches, and the mean weight in each patch."""
    num = cv2.boxFilter(value * weight, -1, (k, k), borderType=cv2.BORDER_CONSTANT)
    den = cv2.boxFilter(weight, -1, (k, k), borderType=cv2.BORDER_CONSTANT)
    return num / np.maximum(den, 1e-6), den


_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2  # SSIM's stabilisers for 8-bit pictures


def _gauss(x: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), 1.5)  # SSIM's window


def _ssim_side(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A float32 gray picture with its local mean and variance: the half of SSIM that belongs
    to one side (the reference's is computed once per video)."""
    mean = _gauss(a)
    return a, mean, np.maximum(_gauss(a * a) - mean * mean, 0)


def _ssim_terms(ref: tuple[np.ndarray, np.ndarray, np.ndarray], b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SSIM and its contrast term, maps, between the reference side ``ref`` and picture b."""
    a, ma, va = ref
    _, mb, vb = _ssim_side(b)
    cov = _gauss(a * b) - ma * mb
    ssim = ((2 * ma * mb + _C1) * (2 * cov + _C2)) / ((ma * ma + mb * mb + _C1) * (va + vb + _C2))
    contrast = (2 * np.sqrt(va * vb) + _C2) / (va + vb + _C2)
    return ssim, contrast


def _high(values: np.ndarray) -> float:
    """About the 90th percentile (of a sample: the values are smooth patch means)."""
    return float(np.percentile(values[::7] if values.size > 700 else values, 90))


def _worst_patch(value: np.ndarray, weight: np.ndarray, k: int, full: np.ndarray) -> float:
    """The lowest weighted patch mean among patches on the product holding a fair share of
    the weight, the local contrast (a patch of flat colour has no print to lose)."""
    mean, amount = _local(value, weight, k)
    rich = full & (amount >= max(0.25 * _high(amount[full]), MIN_DETAIL))
    if not rich.any():
        return float((value * weight).sum() / max(float(weight.sum()), 1e-6))
    return float(mean[rich].min())


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.GaussianBlur(rgb, (0, 0), 2.0).astype(np.float32) / 255, cv2.COLOR_RGB2Lab)


@dataclass(frozen=True, eq=False)
class _Seen:
    """The reference as a frame showing the product at some scale would show it."""

    rgb: np.ndarray
    lab: np.ndarray
    sharp: tuple[np.ndarray, np.ndarray, np.ndarray]  # SSIM side of the finely softened gray
    structure: tuple[np.ndarray, np.ndarray, np.ndarray]  # and of the coarsely softened gray


def _soft(gray: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(gray.astype(np.float32), (0, 0), sigma)


def _seen_as(ref: ProductReference, scale: float, cache: dict) -> _Seen:
    """The reference as a frame showing the product at ``scale`` x the reference's size would
    show it: through fewer pixels, so a product filmed small is not blamed for detail no camera
    could keep. Cached per scale step of 5 %."""
    key = min(1.0, round(scale * 20) / 20)
    if key not in cache:
        rgb = ref.rgb
        if key < 0.95:
            w, h = rgb.shape[1], rgb.shape[0]
            small = cv2.resize(rgb, (max(8, round(w * key)), max(8, round(h * key))), interpolation=cv2.INTER_AREA)
            rgb = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        cache[key] = _Seen(rgb, _lab(rgb), _ssim_side(_soft(gray, SHARP_BLUR)),
                           _ssim_side(_soft(gray, STRUCTURE_BLUR)))
    return cache[key]


def _compare(ref: ProductReference, back: np.ndarray, flow: np.ndarray, valid: np.ndarray, scale: float,
             cache: dict) -> tuple[float, float, float, np.ndarray | None]:
    """Leftover motion (% of size), print kept (SSIM parts) and ΔE, each in its worst patch;
    and the product's mean Lab colour."""
    seen = _seen_as(ref, scale, cache)
    whole = bool(valid.all())  # the usual case: the product entirely in the picture
    key = "whole" if whole else None
    if key not in cache:
        weight = (ref.inner & valid).astype(np.float32)
        k = max(9, round(ref.size * PATCH_SHARE) | 1)
        _, cover = _local(weight, weight, k)
        full = cover >= 0.5  # patches mostly on the product
        if not full.any():
            full = cover >= 0.5 * cover.max()
        on_edges = (ref.deep & valid) * np.minimum(ref.edges, 20)
        cache[key] = (weight, k, full, on_edges)
    weight, k, full, on_edges = cache[key]
    if weight.sum() < 16:
        return 100.0, 0.0, 100.0, None

    # Only flow across an edge is measurable (along an edge any slide fits): take that part.
    across = np.abs((flow * ref.normals).sum(axis=2)) * (100 / ref.size)
    moved, amount = _local(across, on_edges, k)
    edgy = full & (amount >= max(0.25 * _high(amount[full]), MIN_EDGES))
    worst_moved = float(moved[edgy].max()) if edgy.any() else 0.0

    back = _onto_reference(ref, back, seen.rgb, valid)
    bgray = cv2.cvtColor(back, cv2.COLOR_RGB2GRAY)
    # Print and detail, two ways. Sharpness: SSIM's contrast term on the finest detail — how
    # much local contrast survives; blur and smears lose it, and being blind to where the
    # detail sits it forgives a fraction-of-a-pixel misfit. Structure: the whole SSIM on a
    # softened picture — whether the print is the same print, without being thrown by fine
    # patterns that alias differently in photo and frame.
    _, sharp = _ssim_terms(seen.sharp, _soft(bgray, SHARP_BLUR))
    same, _ = _ssim_terms(seen.structure, _soft(bgray, STRUCTURE_BLUR))
    worst_similar = min(_worst_patch(sharp, weight * np.sqrt(seen.sharp[2]), k, full),
                        _worst_patch(same, weight * np.sqrt(seen.structure[2]), k, full))

    blab = _lab(back)
    d = seen.lab - blab
    de = np.sqrt((0.5 * d[..., 0]) ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)
    diff, _ = _local(de, weight, k)
    worst_de = float(diff[full].max())
    return worst_moved, worst_similar, worst_de, np.float32(cv2.mean(blab, mask=weight.astype(np.uint8))[:3])


# --- the video -----------------------------------------------------------------------------------

def _frame_iter(frames: np.ndarray | Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[3] not in (3, 4) or frames.dtype != np.uint8:
            raise InputError(f"Frames must be an N x H x W x 3 uint8 array, got {frames.dtype} {frames.shape}.",
                             "Pass the video's RGB frames, e.g. np.stack(list_of_frames).")
        return iter(frames)
    if isinstance(frames, (str, bytes, os.PathLike, Image.Image)):
        raise InputError(f"Frames must be a sequence of RGB arrays, got {type(frames).__name__}.",
                         "For a video file call score_file(video_path, photo_path).")
    try:
        return iter(frames)
    except TypeError:
        raise InputError(f"Frames must be a sequence of RGB arrays, got {type(frames).__name__}.",
                         "Pass an N x H x W x 3 uint8 array or a list of H x W x 3 arrays.") from None


def _as_rgb(frame: object, index: int) -> np.ndarray:
    arr = np.asarray(frame.convert("RGB")) if isinstance(frame, Image.Image) else np.asarray(frame)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 16:
        raise InputError(f"Frame {index} is not an H x W x 3 uint8 RGB picture (got {arr.dtype} {arr.shape}).",
                         "Pass 8-bit RGB frames, all the same size.")
    return np.ascontiguousarray(arr[..., :3])


def _rescale(h: np.ndarray, factor: float) -> np.ndarray:
    """h (reference → frame) for the frame resized by ``factor`` (pixel centres kept)."""
    offset = 0.5 * factor - 0.5
    return np.array([[factor, 0, offset], [0, factor, offset], [0, 0, 1]]) @ h


def _work(rgb: np.ndarray, ws: float) -> tuple[np.ndarray, np.ndarray]:
    if ws < 0.999:
        dims = (max(16, round(rgb.shape[1] * ws)), max(16, round(rgb.shape[0] * ws)))
        rgb = cv2.resize(rgb, dims, interpolation=cv2.INTER_AREA)
    return rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _jitter(values: list[np.ndarray]) -> float:
    """Mean size of the second difference: what changes from frame to frame but not smoothly."""
    if len(values) < 3:
        return 0.0
    v = np.array(values, np.float64)
    return float(np.linalg.norm(v[1:-1] - (v[:-2] + v[2:]) / 2, axis=1).mean())


def _search(ref: ProductReference, rgb: np.ndarray, gray: np.ndarray, ws: float,
            first: bool) -> tuple[np.ndarray | None, float]:
    """Find the product from scratch in a frame (RGB, and gray at working scale ``ws``):
    its homography at the working scale to be used from now on, or None."""
    h = _detect(ref, gray)
    if h is None and first and ws < 0.99:  # a product filmed small: look closer
        h = _detect(ref, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        h = None if h is None else _rescale(h, ws)
    if h is None:
        h = _match(ref, gray)
    if h is None or not first:
        return h, ws
    # First sighting: look at the video from now on with the product at about the reference's
    # size (finer for a small product, coarser for a large one).
    better = float(np.clip(ws / _scale(ref, h), 0.05, 1.0))
    if abs(better / ws - 1) <= 0.2:
        return h, ws
    return _rescale(h, better / ws), better


_LOST = FrameScore(0.0, 0.0, 0.0, 0.0, 0.0, False, None, None, None)


@dataclass(frozen=True, eq=False)
class _Judged:
    """One frame's verdict, and what the whole video's figures need from it."""

    score: FrameScore
    quad: np.ndarray | None = None  # the product's box corners, full-frame pixels
    lab: np.ndarray | None = None  # the product's mean Lab colour


def _judge(ref: ProductReference, work: np.ndarray, found: _Aligned | None, ws: float, cache: dict) -> _Judged:
    if found is None or found.agree < MIN_AGREE or not _plausible(found.h, ref, work.shape[1::-1]):
        return _Judged(_LOST)
    back = _warp(work, found.h, (ref.gray.shape[1], ref.gray.shape[0]))
    visible = float((ref.mask * found.valid).sum() / ref.mask.sum())
    moved, similar, delta_e, lab = _compare(ref, back, found.flow, found.valid, _scale(ref, found.h), cache)
    parts = (_ramp(moved, *SHAPE_RAMP), _ramp(similar, *DETAIL_RAMP), _ramp(delta_e, *COLOUR_RAMP))
    score = min(*parts, _ramp(visible, *VISIBLE_RAMP))
    return _Judged(FrameScore(round(score, 4), *(round(p, 4) for p in parts), round(visible, 4), True,
                              round(moved, 3), round(similar, 4), round(delta_e, 2)), _quad(ref, found.h) / ws, lab)


def _predict(h_prev: np.ndarray, h_before: np.ndarray | None) -> np.ndarray:
    """Where the product should be now: the camera keeps its pace (last step applied again)."""
    return h_prev if h_before is None else h_prev @ np.linalg.inv(h_before) @ h_prev


def score_video(photo: Image.Image | np.ndarray | ProductReference, frames: np.ndarray | Iterable[np.ndarray], *,
                alpha: np.ndarray | None = None) -> FidelityReport:
    """How faithfully ``frames`` show the product of ``photo``.

    ``photo``: the product photo as a PIL image or H x W x 3/4 uint8 array (any size, however the
    video frames it), or a ``load_reference`` result to score many videos of one photo.
    ``frames``: N x H x W x 3 uint8 RGB, or an iterable of H x W x 3 frames. ``alpha``: H x W
    uint8 transparency that overrides the photo's own. Raises InputError for unusable input."""
    if isinstance(photo, ProductReference):
        if alpha is not None:
            raise InputError("An alpha was given with a prepared reference, which already has its mask.",
                             "Pass the alpha to load_reference(photo, alpha=...) instead.")
        ref = photo
    else:
        ref = load_reference(photo, alpha=alpha)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    cache: dict = {}
    judged: list[_Judged] = []
    frame_lab: list[np.ndarray] = []
    changes: list[float] = []
    unseen: list[np.ndarray] = []  # the last frames before the product was first found (RGB)
    first_shape: tuple[int, ...] | None = None
    ws = 1.0
    h_prev: np.ndarray | None = None
    h_before: np.ndarray | None = None
    prev_gray: np.ndarray | None = None
    for i, frame in enumerate(_frame_iter(frames)):
        rgb = _as_rgb(frame, i)
        if first_shape is None:
            first_shape = rgb.shape
            ws = min(1.0, math.sqrt(WORK_AREA / (rgb.shape[0] * rgb.shape[1])))
        elif rgb.shape != first_shape:
            raise InputError(f"Frame {i} is {rgb.shape[1]}x{rgb.shape[0]}, frame 0 is "
                             f"{first_shape[1]}x{first_shape[0]}.", "Pass the frames of one video, all one size.")
        work, gray = _work(rgb, ws)
        found = _align(ref, gray, _predict(h_prev, h_before), dis) if h_prev is not None else None
        if found is None or found.agree < REDETECT_AGREE:
            h0, better = _search(ref, rgb, gray, ws, first=h_prev is None)
            if better != ws:
                ws = better
                work, gray = _work(rgb, ws)
            again = _align(ref, gray, h0, dis) if h0 is not None else None
            if again is not None and (found is None or again.agree > found.agree):
                found = again
        mean = np.float32(cv2.mean(work)[:3]).reshape(1, 1, 3) / 255
        frame_lab.append(cv2.cvtColor(mean, cv2.COLOR_RGB2Lab).reshape(3))
        if prev_gray is not None and prev_gray.shape == gray.shape:
            changes.append(float(cv2.absdiff(gray, prev_gray).mean()) / 255 * 100)
        prev_gray = gray
        judged.append(_judge(ref, work, found, ws, cache))
        if not judged[-1].score.found:
            if h_prev is None:
                unseen = (unseen + [rgb])[-LOOK_BACK:]
            continue
        if h_prev is None and unseen:
            # Found at last: follow the product back through the frames that missed it (a
            # first frame turned too far for the search, say), as far as it can be followed.
            h_back, h_after = found.h, None
            for j, old in zip(range(i - 1, i - 1 - len(unseen), -1), reversed(unseen)):
                o_work, o_gray = _work(old, ws)
                aligned = _align(ref, o_gray, _predict(h_back, h_after), dis)
                back = _judge(ref, o_work, aligned, ws, cache)
                if aligned is None or not back.score.found:
                    break
                judged[j] = back
                h_back, h_after = aligned.h, h_back
            unseen = []
        h_before, h_prev = (h_prev if len(judged) > 1 and judged[-2].score.found else None), found.h
    if not judged:
        raise InputError("The video has no frames.", "Check that the file is a video and was written completely.")
    return _report(judged, frame_lab, changes, ref.separation)


def _worst_count(frames: int) -> int:
    return max(1, math.ceil(WORST_SHARE * frames))


def _report(judged: list[_Judged], frame_lab: list[np.ndarray], changes: list[float],
            separation: str) -> FidelityReport:
    scores = [j.score for j in judged]
    per = np.array([s.score for s in scores])
    worst = np.argsort(per, kind="stable")[:_worst_count(len(per))]
    seen = [j.quad for j in judged if j.quad is not None]
    motion = 0.0
    if seen:
        first = seen[0]
        diagonal = float(np.hypot(*(first.max(axis=0) - first.min(axis=0))))
        motion = max(float(np.linalg.norm(q - first, axis=1).mean()) for q in seen) / max(diagonal, 1e-6) * 100
    product_lab = [j.lab for j in judged if j.lab is not None]
    notes: list[str] = []
    lost = [i for i, s in enumerate(scores) if not s.found]
    if lost:
        notes.append(f"The product was not found in {len(lost)} of {len(scores)} frames (first: frame "
                     f"{lost[0] + 1}); those frames score 0.")
    mean = lambda name: round(float(np.mean([getattr(scores[i], name) for i in worst])), 4)  # noqa: E731
    return FidelityReport(
        product_fidelity=round(float(per[worst].mean()), 4), per_frame=tuple(float(v) for v in per),
        motion=round(motion, 2), scene_change=round(float(np.mean(changes)) if changes else 0.0, 3),
        flicker=round(max(_jitter(product_lab), _jitter(frame_lab)), 3), worst_frame=int(worst[0]),
        shape=mean("shape"), detail=mean("detail"), colour=mean("colour"),
        found=round(1 - len(lost) / len(scores), 4),
        visible=round(min((s.visible for s in scores if s.found), default=0.0), 4), separation=separation,
        frames=tuple(scores), notes=tuple(notes))


def _decoded(path: Path, side: int) -> Iterable[np.ndarray]:
    """The video's frames as RGB, shrunk (by the decoder) to at most ``side`` on the long side."""
    import av  # only files need it; score_video works on frames alone

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"'{path.name}' has no video stream.", "Pass the MP4 or WebM that svdapp wrote.")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                scale = min(1.0, side / max(frame.width, frame.height))
                w, h = max(16, round(frame.width * scale)), max(16, round(frame.height * scale))
                yield frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="AREA")
    except av.FFmpegError as exc:
        raise InputError(f"'{path.name}' cannot be read as a video ({exc.strerror or exc}).",
                         "Check that the file is a complete MP4/WebM; re-export it if it was cut short.") from None


def score_file(video_path: str | os.PathLike, photo_path: str | os.PathLike, *,
               decode_side: int = DECODE_SIDE) -> FidelityReport:
    """``score_video`` for a video file (any format PyAV reads) and the photo it was made from.
    Frames are decoded at most ``decode_side`` pixels on the long side (plenty: the product is
    compared at CMP_SIDE)."""
    video = Path(video_path).expanduser()
    if not video.is_file():
        raise InputError(f"Video file not found: {video}", "Check the path (quote it if it has spaces).")
    photo = load_image(photo_path)  # raises InputError for a missing or unreadable photo
    ref = load_reference(photo, alpha=load_alpha(photo_path))
    return score_video(ref, _decoded(video, decode_side))
