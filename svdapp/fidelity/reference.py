"""The photo side: the product cut from the photo (its alpha, else GrabCut) into a small
*reference* — its box at ``CMP_SIDE`` pixels — with everything a frame is followed and compared
by, computed once per photo (``load_reference``) and reused for every video of it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ..classic import grabcut_mask, load_alpha
from ..errors import InputError
from ..imageprep import load_image

CMP_SIDE = 256  # the reference: the product's box plus margin at this long side, pixels
MARGIN = 0.06  # of the product's size, added around its box in the reference
ALIGN_BLUR = 2.0  # Gaussian sigma (reference pixels) of the pictures the flow is measured on
INNER_PX = 5  # reference pixels kept clear of the product's outline when comparing
EDGE_MIN = 2.0  # gray levels per pixel: a reference pixel steeper than this is an edge
FIT_POINTS = 2500  # edge pixels the homography is fitted on, at most
MIN_FIT_POINTS = 300  # fewer edge pixels inside the product than this: its outline is used too
OUTLINE_BAND = 8  # then the frame is kept this many reference pixels beyond the outline
FIT_CONDITION = 2e-3  # weakest / strongest direction the inside's edges must pin, else the outline joins


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


def orb(n: int) -> cv2.ORB:
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
    kps, desc = orb(800).detectAndCompute(gray, cv2.dilate(solid, np.ones((9, 9), np.uint8)) * 255)
    return ProductReference(
        rgb=ref, gray=gray, soft=np.clip(smooth + 0.5, 0, 255).astype(np.uint8), mask=m, inner=inner, deep=deep,
        near=near, box=box, size=size, normals=normals, edges=edges,
        grid=np.float32(np.dstack(np.meshgrid(np.arange(gray.shape[1]), np.arange(gray.shape[0])))).reshape(-1, 1, 2),
        fit_xy=fit_xy, fit_normal=fit_normal,
        fit_weight=fit_weight, fit_rows=fit_rows, fit_norm=fit_norm,
        keypoints=np.float32([k.pt for k in kps]).reshape(-1, 2), descriptors=desc, separation=how)


def onto_reference(ref: ProductReference, back: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The frame's product over the reference's own background: whatever the video does around
    the product (another backdrop, moving water) then cannot pull the flow. Where the frame
    does not reach (the product partly out of the picture) the reference stands in."""
    near = ref.near * valid
    return cv2.blendLinear(back, reference, near, 1 - near)
