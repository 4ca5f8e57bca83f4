"""Several takes of one product video, and which one to keep.

A take is one seed (SVD) or one camera move (classic engine). Each is rendered and scored for
product fidelity (``product_check``); the kept take is the one that keeps the product best, and
among near-ties (within ``NEAR_TIE``) the one that moves more, so a still take cannot win by
doing nothing.

Two ways to take (``plan``):

- previews (``--takes N``): SVD renders N seeds as quick previews, in turbo with at most
  ``PREVIEW_STEPS`` steps at the final size (a seed's video keeps its look across speed modes at
  one size), then the kept seed in the chosen mode and steps as the final video. Classic takes
  are the final renders already (a camera move is exact), so the kept one is the video.
- attempts (``min_fidelity``, batch ``--min-fidelity``): full renders one after the other until
  one scores ``min_fidelity``; if none does, the best is kept and marked for review.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .errors import Cancelled, InputError, Suggestion
from .presets import GenerationParams
from .result import FidelityInfo, TakeInfo
from .vocab import Camera, SpeedMode, Stage

MAX_TAKES = 8
DEFAULT_ATTEMPTS = 3  # takes when min_fidelity is asked for without a number of takes
PREVIEW_STEPS = 10  # denoising steps of an SVD preview take (docs/fidelity.md says why)
NEAR_TIE = 0.02  # takes within this of the best score count as tied: the one that moves more is kept
THUMB_FRAMES = 12  # a take's preview GIF: this many frames at most,
THUMB_SIDE = 192  # this long on the long side

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Plan:
    """How many takes a request asks for, and how they are made."""

    count: int  # 1: no takes, the request's own seed and camera
    min_fidelity: float | None = None  # None: previews, the best kept; else attempts until one scores this

    @property
    def previews(self) -> bool:
        return self.count > 1 and self.min_fidelity is None


def plan(takes: int | None, min_fidelity: float | None) -> Plan:
    """The request's takes, checked (an InputError names the bad value and what is allowed)."""
    if min_fidelity is not None and not (isinstance(min_fidelity, (int, float)) and 0 <= min_fidelity <= 1):
        raise InputError(f"The minimum product fidelity must be between 0 and 1, got {min_fidelity}.",
                         "Use {fix} (0.8: the product kept as in the photo).", Suggestion("min_fidelity", 0.8))
    count = takes if takes is not None else DEFAULT_ATTEMPTS if min_fidelity is not None else 1
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_TAKES:
        raise InputError(f"Takes must be 1–{MAX_TAKES}, got {takes}.",
                         "Use {fix} (each take costs about half a turbo video), or 1 for a single video.",
                         Suggestion("takes", 4))
    return Plan(count, None if min_fidelity is None else float(min_fidelity))


def seeds(first: int, count: int) -> list[int]:
    """The seeds of ``count`` SVD takes: the request's own first, then the next ones."""
    return [(first + i) % 2**32 for i in range(count)]


def cameras(first: Camera, count: int) -> list[Camera]:
    """The camera moves of ``count`` classic takes (at most one of each): the request's first."""
    return [first, *(c for c in Camera if c != first)][:count]


def preview_params(params: GenerationParams) -> GenerationParams:
    """An SVD preview take: the final video's size and frames, turbo (turbo-compiled when the
    final is compiled, so the compiled blocks are kept), at most PREVIEW_STEPS steps."""
    speed = params.speed or os.environ.get("SVDAPP_SPEED", "").strip().lower()
    fast = SpeedMode.TURBO_COMPILED if speed in (SpeedMode.COMPILED, SpeedMode.TURBO_COMPILED) else SpeedMode.TURBO
    return replace(params, steps=min(params.steps, PREVIEW_STEPS), speed=fast)


def choose(scores: Sequence[tuple[float | None, float | None]]) -> int:
    """The take to keep, from each take's (product_fidelity, motion): the best score, and among
    takes within NEAR_TIE of it the one that moves most. Takes that could not be scored count
    only when none could (then the first is kept)."""
    scored = [i for i, (fid, _) in enumerate(scores) if fid is not None]
    if not scored:
        return 0
    best = max(scores[i][0] for i in scored)
    tied = [i for i in scored if scores[i][0] >= best - NEAR_TIE - 1e-9]
    return max(tied, key=lambda i: (scores[i][1] or 0.0, scores[i][0]))


@dataclass(frozen=True, eq=False)
class Taken:
    """The takes of one run once they are made: each one's record, the kept one's render and
    fidelity, and a small preview of each (when asked for)."""

    takes: tuple[TakeInfo, ...]
    kept: int
    made: Any  # what ``render`` returned for the kept take (None when renders are not kept)
    fidelity: FidelityInfo  # the kept take's
    thumbnails: tuple[np.ndarray | None, ...]  # frames of a small preview per take
    seconds: float  # making and scoring every take


def run(candidates: Sequence[TakeInfo], render: Callable[[TakeInfo], Any], frames_of: Callable[[Any], Any],
        score: Callable[[Any], FidelityInfo], progress: Progress, cancel: threading.Event | None, *,
        stop_at: float | None = None, keep_renders: bool = True, thumbnails: bool = False) -> Taken:
    """Render and score each candidate (progress: Take i/N, then the take's own stages). With
    ``stop_at``, stop at the first take that scores it and keep that one; otherwise (or when none
    does) keep ``choose``'s. ``keep_renders``: hold every render until the choice (False: only the
    records and thumbnails are kept, for previews whose kept seed is rendered again)."""
    started = time.perf_counter()
    takes: list[TakeInfo] = []
    renders: list[Any] = []
    scores: list[FidelityInfo] = []
    thumbs: list[np.ndarray | None] = []
    kept = None
    for i, candidate in enumerate(candidates):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        progress(Stage.TAKE, i + 1, len(candidates))
        made = render(candidate)
        frames = frames_of(made)
        info = score(frames)
        takes.append(replace(candidate, product_fidelity=info.product_fidelity, motion=info.motion,
                             error=info.error))
        renders.append(made if keep_renders else None)
        scores.append(info)
        thumbs.append(thumbnail(frames) if thumbnails else None)
        if stop_at is not None and info.product_fidelity is not None and info.product_fidelity >= stop_at:
            kept = i
            break
    if kept is None:
        kept = choose([(t.product_fidelity, t.motion) for t in takes])
    takes[kept] = replace(takes[kept], kept=True)
    return Taken(tuple(takes), kept, renders[kept], scores[kept], tuple(thumbs), time.perf_counter() - started)


def take_name(take: TakeInfo) -> str:
    """What made a take: "seed 42", or its camera move ("Pan left")."""
    return Camera(take.camera).label if take.camera in Camera else f"seed {take.seed}"


def take_score(take: TakeInfo) -> str:
    """The score as shown: "0.93", or "not scored"."""
    return "not scored" if take.product_fidelity is None else f"{take.product_fidelity:.2f}"


def take_words(take: TakeInfo) -> str:
    """A take in a few words: "seed 42: 0.93 (kept)", "Pan left: 0.71"."""
    return f"{take_name(take)}: {take_score(take)}" + (" (kept)" if take.kept else "")


def thumbnail(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Up to THUMB_FRAMES frames spread over the clip, THUMB_SIDE on the long side (even sizes)."""
    import cv2

    picks = np.linspace(0, len(frames) - 1, min(len(frames), THUMB_FRAMES)).round().astype(int)
    first = np.asarray(frames[0])
    scale = min(1.0, THUMB_SIDE / max(first.shape[:2]))
    size = (max(2, 2 * math.ceil(first.shape[1] * scale / 2)), max(2, 2 * math.ceil(first.shape[0] * scale / 2)))
    return np.stack([cv2.resize(np.asarray(frames[int(i)]), size, interpolation=cv2.INTER_AREA) for i in picks])
