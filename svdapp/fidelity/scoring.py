"""The public scoring API: ``score_video`` follows the product through the frames, judges each
frame against the reference and sums the video up in a ``FidelityReport``; ``score_file``
does the same for a video file and the photo it was made from."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..classic import load_alpha
from ..errors import InputError
from ..imageprep import load_image
from .comparison import compare
from .frames import DECODE_SIDE, as_rgb, decoded, frame_iter
from .reference import ProductReference, load_reference
from .report import (COLOUR_RAMP, DETAIL_RAMP, SHAPE_RAMP, VISIBLE_RAMP, FidelityReport, FrameScore, ramp,
                     worst_count)
from .tracking import Aligned, align, box_in_frame, plausible, predict, product_scale, search, warp

WORK_AREA = 512 * 288  # pixels a frame is first looked at with (then: the product at ~CMP_SIDE)
MIN_AGREE = 0.35  # share of edge weight that must move with the whole to trust a frame
REDETECT_AGREE = 0.5  # below this, the product is also searched for from scratch (ORB)
LOOK_BACK = 12  # frames before the product's first sighting that are followed back from it


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


_LOST = FrameScore(0.0, 0.0, 0.0, 0.0, 0.0, False, None, None, None)


@dataclass(frozen=True, eq=False)
class _Judged:
    """One frame's verdict, and what the whole video's figures need from it."""

    score: FrameScore
    quad: np.ndarray | None = None  # the product's box corners, full-frame pixels
    lab: np.ndarray | None = None  # the product's mean Lab colour


def _judge(ref: ProductReference, work: np.ndarray, found: Aligned | None, ws: float, cache: dict) -> _Judged:
    if found is None or found.agree < MIN_AGREE or not plausible(found.h, ref, work.shape[1::-1]):
        return _Judged(_LOST)
    back = warp(work, found.h, (ref.gray.shape[1], ref.gray.shape[0]))
    visible = float((ref.mask * found.valid).sum() / ref.mask.sum())
    moved, similar, delta_e, lab = compare(ref, back, found.flow, found.valid, product_scale(ref, found.h), cache)
    parts = (ramp(moved, *SHAPE_RAMP), ramp(similar, *DETAIL_RAMP), ramp(delta_e, *COLOUR_RAMP))
    score = min(*parts, ramp(visible, *VISIBLE_RAMP))
    frame = FrameScore(round(score, 4), *(round(p, 4) for p in parts), round(visible, 4), True, round(moved, 3),
                       round(similar, 4), round(delta_e, 2))
    return _Judged(frame, box_in_frame(ref, found.h) / ws, lab)


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
    for i, frame in enumerate(frame_iter(frames)):
        rgb = as_rgb(frame, i)
        if first_shape is None:
            first_shape = rgb.shape
            ws = min(1.0, math.sqrt(WORK_AREA / (rgb.shape[0] * rgb.shape[1])))
        elif rgb.shape != first_shape:
            raise InputError(f"Frame {i} is {rgb.shape[1]}x{rgb.shape[0]}, frame 0 is "
                             f"{first_shape[1]}x{first_shape[0]}.", "Pass the frames of one video, all one size.")
        work, gray = _work(rgb, ws)
        found = align(ref, gray, predict(h_prev, h_before), dis) if h_prev is not None else None
        if found is None or found.agree < REDETECT_AGREE:
            h0, better = search(ref, rgb, gray, ws, first=h_prev is None)
            if better != ws:
                ws = better
                work, gray = _work(rgb, ws)
            again = align(ref, gray, h0, dis) if h0 is not None else None
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
                aligned = align(ref, o_gray, predict(h_back, h_after), dis)
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



def _report(judged: list[_Judged], frame_lab: list[np.ndarray], changes: list[float],
            separation: str) -> FidelityReport:
    scores = [j.score for j in judged]
    per = np.array([s.score for s in scores])
    worst = np.argsort(per, kind="stable")[:worst_count(len(per))]
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
    return score_video(ref, decoded(video, decode_side))
