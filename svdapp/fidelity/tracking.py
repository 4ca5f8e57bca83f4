"""Following the product through a video's frames as one rigid/perspective whole: found by ORB
features matched to the photo with RANSAC (or, for a product with too little print, by template
matching), then pinned to a fraction of a pixel by dense optical flow read across the
reference's edges and fitted with a robust homography, frame after frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .reference import ALIGN_BLUR, ProductReference, onto_reference, orb

ALIGN_STEPS = 8  # warp → flow → fit rounds per frame, at most (2–3 when tracking smoothly)
STILL_PX = 0.25  # a fit that moves the product's corners less than this has converged
SMALL_STEP_PX = 1.0  # a step under this is taken without measuring the flow once more
AGREE_PX = 1.0  # an edge pixel within this of the fitted whole moves with it
MATCH_MIN = 0.6  # correlation a template match needs when ORB finds nothing


def _detect(ref: ProductReference, gray: np.ndarray) -> np.ndarray | None:
    """Reference → frame homography from ORB matches and RANSAC, or None (also for an
    implausible one)."""
    if ref.descriptors is None or len(ref.descriptors) < 8:
        return None
    kps, desc = orb(2000).detectAndCompute(gray, None)
    if desc is None or len(kps) < 8:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ref.descriptors, desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < 10:
        return None
    src = ref.keypoints[[m.queryIdx for m in good]]
    dst = np.float32([kps[m.trainIdx].pt for m in good])
    h, inliers = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 3.0, maxIters=2000, confidence=0.995)
    if h is None or inliers is None or int(inliers.sum()) < 10 or not plausible(h, ref, gray.shape[::-1]):
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


def warp(img: np.ndarray, h: np.ndarray, size: tuple[int, int], border: int = 0) -> np.ndarray:
    """The frame seen through h (reference → frame): an image the size of the reference."""
    return cv2.warpPerspective(img, h, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=border)


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
class Aligned:
    h: np.ndarray  # reference → working frame
    flow: np.ndarray  # what is left: reference → frame-warped-back optical flow
    agree: float
    valid: np.ndarray  # bool, reference pixels that the frame shows


def align(ref: ProductReference, gray: np.ndarray, h: np.ndarray, dis: cv2.DISOpticalFlow) -> Aligned | None:
    """Warp the frame back through h, measure the flow left, fit it, repeat until still."""
    size = (ref.gray.shape[1], ref.gray.shape[0])
    corners = ref.box.reshape(-1, 1, 2)
    agree = 0.0
    inside = np.full(gray.shape, 255, np.uint8)
    ref_mean, ref_std = cv2.meanStdDev(ref.gray, mask=ref.inner.view(np.uint8))
    for step in range(ALIGN_STEPS + 1):
        valid = warp(inside, h, size) > 127
        seen = warp(gray, h, size)
        # Brightness and contrast matched to the photo's first: an exposure drift is colour's
        # business, and must not read as motion. Within bounds: while the fit is still off,
        # the backdrop seen where the product should be would skew the match.
        mean, std = cv2.meanStdDev(seen, mask=(ref.inner & valid).view(np.uint8))
        gain = float(np.clip(float(ref_std[0, 0]) / max(float(std[0, 0]), 1.0), 0.8, 1.25))
        seen = cv2.convertScaleAbs(seen, alpha=gain, beta=float(ref_mean[0, 0]) - gain * float(mean[0, 0]))
        back = onto_reference(ref, seen, ref.gray, valid)
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
            valid = warp(inside, h, size) > 127
            break
    return Aligned(h, flow, agree, valid)


def plausible(h: np.ndarray, ref: ProductReference, frame: tuple[int, int]) -> bool:
    """A convex, not absurdly sized outline that overlaps the frame."""
    quad = box_in_frame(ref, h)
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.astype(np.float32)):
        return False
    if not 0.01 < abs(cv2.contourArea(quad)) / abs(cv2.contourArea(ref.box)) < 100:
        return False
    fw, fh = frame
    return quad[:, 0].max() > 0 and quad[:, 0].min() < fw and quad[:, 1].max() > 0 and quad[:, 1].min() < fh


def box_in_frame(ref: ProductReference, h: np.ndarray) -> np.ndarray:
    """The corners of the product's box in the frame (4 x 2), through h (reference → frame)."""
    return cv2.perspectiveTransform(ref.box.reshape(-1, 1, 2), h).reshape(4, 2)


def product_scale(ref: ProductReference, h: np.ndarray) -> float:
    """Frame pixels per reference pixel, over the product."""
    return math.sqrt(abs(cv2.contourArea(box_in_frame(ref, h))) / abs(cv2.contourArea(ref.box)))



def _rescale(h: np.ndarray, factor: float) -> np.ndarray:
    """h (reference → frame) for the frame resized by ``factor`` (pixel centres kept)."""
    offset = 0.5 * factor - 0.5
    return np.array([[factor, 0, offset], [0, factor, offset], [0, 0, 1]]) @ h


def search(ref: ProductReference, rgb: np.ndarray, gray: np.ndarray, ws: float,
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
    better = float(np.clip(ws / product_scale(ref, h), 0.05, 1.0))
    if abs(better / ws - 1) <= 0.2:
        return h, ws
    return _rescale(h, better / ws), better



def predict(h_prev: np.ndarray, h_before: np.ndarray | None) -> np.ndarray:
    """Where the product should be now: the camera keeps its pace (last step applied again)."""
    return h_prev if h_before is None else h_prev @ np.linalg.inv(h_before) @ h_prev
