"""The fidelity report: the thresholds and ramps that turn measures into 0–1 scores, one
frame's score (``FrameScore``) and the video's (``FidelityReport``) with its verdict in words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import Suggestion, Words, as_flags

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


# What to try when an SVD video changed the product (each shell words the settings its own way).
ADVICE = (Suggestion("motion", 80), Suggestion("engine", "classic"))


def advice(words: Words = as_flags) -> str:
    """What to try when the product changed, with settings in a shell's ``words``."""
    motion, engine = (words([s]) for s in ADVICE)
    return (f"Try another seed, less motion ({motion}), or the classic engine ({engine}), which never alters "
            "the product.")


def ramp(value: float, fine: float, bad: float) -> float:
    """1 up to ``fine``, 0 from ``bad``, linear between."""
    return float(np.clip((value - bad) / (fine - bad), 0.0, 1.0))


def worst_count(frames: int) -> int:
    """How many of a video's frames its score is the mean of."""
    return max(1, math.ceil(WORST_SHARE * frames))


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
        text = f"Product fidelity {self.product_fidelity:.2f}: {self.finding}"
        return text if self.ok else f"{text} {advice()}"

    @property
    def remarks(self) -> str:
        """What else a viewer would notice in a video that keeps the product ("" when nothing):
        it barely moves, its brightness flickers, the frame cuts the product."""
        extra = []
        if self.motion < STILL_MOTION and self.scene_change < 0.5:
            extra.append(f"But the video barely moves (motion {self.motion:.1f} %).")
        if self.flicker > FLICKER_WARN:
            extra.append(f"Its brightness flickers (flicker {self.flicker:.1f}).")
        if self.visible < CROPPED:
            extra.append(f"The frame cuts the product (down to {self.visible:.0%} of it in the picture).")
        return " ".join(extra)

    @property
    def finding(self) -> str:
        """The verdict without the score and the advice: "the product is kept." (plus what else
        a viewer would notice), or what changed and where."""
        return self.finding_at(range(1, len(self.frames) + 1), len(self.frames))

    def finding_at(self, numbers: Sequence[int], total: int) -> str:
        """``finding`` with the frames named by ``numbers`` (1-based, one per scored frame) out of
        ``total``: the video's own frame numbers when only some of its frames were scored."""
        if self.ok:
            return "the product is kept." + (f" {self.remarks}" if self.remarks else "")
        checked = "" if total == len(self.frames) else " checked"
        if self.found < 1:
            lost = sum(not f.found for f in self.frames)
            what = (f"it was lost - gone or changed beyond recognition - in {lost} of {len(self.frames)}"
                    f"{checked} frames")
        else:
            part = min((("its shape", self.shape), ("its print and detail", self.detail),
                        ("its colour", self.colour)), key=lambda kv: kv[1])[0]
            what = f"{part} changed most; worst at frame {numbers[self.worst_frame]} of {total}"
        level = "changed" if self.product_fidelity < FAIL_THRESHOLD else "may have changed"
        return f"the product {level} ({what})."

    def summary(self) -> str:
        """A few plain-ASCII lines for a terminal: the score, its parts, motion and flicker,
        then the verdict."""
        worst = self.frames[self.worst_frame]
        return "\n".join([
            f"Product fidelity: {self.product_fidelity:.2f} (kept at >= {KEEP_THRESHOLD:.2f}, changed below "
            f"{FAIL_THRESHOLD:.2f})",
            f"  parts over the worst {worst_count(len(self.frames))} of {len(self.frames)} frames: shape "
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
