"""Product fidelity of a generated video, for its metadata: which of the engine's frames are
scored, against which reference, and a ``FidelityInfo`` that never fails the run.

Scored are the engine's own frames, before finishing: framing pads only add backdrop, and
interpolation only adds in-between frames, neither of which the engine is to be judged by. At
most ``SCORE_FRAMES`` of them (evenly spread, and always the last ``LAST_FRAMES`` in a row, since
SVD melts a label towards the end and the score is the mean of the worst 10 % of frames), which
bounds the cost: 25 frames of 1024x576 take about 0.3-0.5 s on a CPU core (docs/fidelity.md).

A photo whose product cannot be found, or any other failure of the scorer, is recorded in
``FidelityInfo.error`` and shown; the video is written all the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from . import fidelity
from .errors import Suggestion, SvdAppError, Words, as_flags, describe_error
from .result import FidelityInfo
from .vocab import Engine, Stage

SCORE_FRAMES = 25  # frames scored at most: the scorer's budget is under a second for 25 of 1024x576
LAST_FRAMES = 3  # always scored, in a row

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class Check:
    """The photo side of the check, prepared once per run (every take is scored against it):
    the product's reference, or the error that prevents scoring."""

    engine: str
    reference: fidelity.ProductReference | None = None
    error: SvdAppError | None = None


def prepare(photo: Image.Image, alpha: np.ndarray | None, engine: str) -> Check:
    """The reference of the product in ``photo`` (with the photo's transparency ``alpha``, read
    from the photo as given: ``classic.load_alpha``), or why there is none."""
    try:
        return Check(engine, fidelity.load_reference(photo, alpha=alpha))
    except Exception as exc:  # a photo the scorer cannot use must not cost the user the video
        return Check(engine, error=describe_error(exc))


def frames_to_score(count: int) -> list[int]:
    """Which of ``count`` frames are scored: all up to SCORE_FRAMES, else that many spread evenly
    over the clip with the last LAST_FRAMES in a row."""
    if count <= SCORE_FRAMES:
        return list(range(count))
    head = np.linspace(0, count - LAST_FRAMES - 1, SCORE_FRAMES - LAST_FRAMES).round().astype(int)
    return [*dict.fromkeys(int(i) for i in head), *range(count - LAST_FRAMES, count)]


def score(check: Check, frames: Sequence[np.ndarray], progress: Progress) -> FidelityInfo:
    """The product fidelity of ``frames`` (an array or a lazily rendered clip), never raising
    for the scorer's sake: a failure is recorded in the result's ``error``."""
    progress(Stage.SCORE, 0, 1)
    if check.error is not None:
        info = FidelityInfo(error=check.error.message, hint=check.error.hint or None)
    else:
        picked = frames_to_score(len(frames))
        started = time.perf_counter()
        try:
            report = fidelity.score_video(check.reference, [np.asarray(frames[i]) for i in picked])
        except Exception as exc:  # never lose the video to its score
            err = describe_error(exc)
            info = FidelityInfo(error=err.message, hint=err.hint or None)
        else:
            info = _info(report, picked, len(frames), check.engine, time.perf_counter() - started)
    progress(Stage.SCORE, 1, 1)
    return info


def _info(report: fidelity.FidelityReport, picked: list[int], count: int, engine: str,
          seconds: float) -> FidelityInfo:
    finding = report.finding_at([i + 1 for i in picked], count)
    verdict = f"Product fidelity {report.product_fidelity:.2f}: {finding}"
    return FidelityInfo(
        product_fidelity=report.product_fidelity, ok=report.ok,
        verdict=verdict if report.ok else f"{verdict} {advice(engine)}", finding=finding, remarks=report.remarks,
        motion=report.motion, flicker=report.flicker, scene_change=report.scene_change, shape=report.shape,
        detail=report.detail, colour=report.colour, found=report.found, visible=report.visible,
        separation=report.separation, worst_frame=picked[report.worst_frame], per_frame=report.per_frame,
        scored=tuple(picked), seconds=round(seconds, 3))


def advice(engine: str, words: Words = as_flags) -> str:
    """What to try when the product changed, with settings in a shell's ``words``."""
    takes = words([Suggestion("takes", 4)])
    if engine == Engine.CLASSIC:  # camera moves never alter the product: it left the frame or was not found
        return (f"Try another camera move ({words([Suggestion('camera')])}), or several takes ({takes}) to "
                "keep the best one.")
    return f"{fidelity.advice(words)} Or make several takes ({takes}) and keep the best."


def describe(info: FidelityInfo, engine: str, words: Words = as_flags) -> str:
    """One line for a person: "Product kept: 0.93 ✓", or the verdict with what to try in a
    shell's ``words``, or why the product could not be checked."""
    if info.product_fidelity is None:
        return f"Product fidelity not measured: {info.error}" + (f" {info.hint}" if info.hint else "")
    if info.ok:
        return f"Product kept: {info.product_fidelity:.2f} ✓" + (f" {info.remarks}" if info.remarks else "")
    return f"Product fidelity {info.product_fidelity:.2f}: {info.finding} {advice(engine, words)}"


def with_requirement(info: FidelityInfo, min_fidelity: float | None) -> FidelityInfo:
    """``info`` with the score asked for, and whether the video falls short of it (or could
    not be measured) and so needs a person's look."""
    if min_fidelity is None:
        return info
    short = info.product_fidelity is None or info.product_fidelity < min_fidelity
    return replace(info, min_fidelity=min_fidelity, review=short)
