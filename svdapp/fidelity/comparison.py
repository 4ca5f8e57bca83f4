"""Comparing one frame, warped back onto the reference, with the photo: the leftover motion
across edges (shape), SSIM parts on print and edges (detail) and CIELAB ΔE (colour), each in
its worst patch, with the photo seen through no more pixels than the frame shows the product with."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .reference import ProductReference, onto_reference

SHARP_BLUR = 0.7  # Gaussian sigma (reference pixels) before the sharpness comparison
STRUCTURE_BLUR = 2.0  # and before the structure comparison
PATCH_SHARE = 1 / 6  # a patch's side, as a share of the product's size
MIN_EDGES = 0.5  # mean edge strength (gray levels per pixel) a patch needs for its motion to count
MIN_DETAIL = 1.0  # mean local contrast (gray levels) a patch needs for its detail to count


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


def compare(ref: ProductReference, back: np.ndarray, flow: np.ndarray, valid: np.ndarray, scale: float,
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

    back = onto_reference(ref, back, seen.rgb, valid)
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
