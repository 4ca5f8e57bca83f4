"""Product fidelity: does the product in a video still look like the product in the photo?

Shop owners fear a product that changes in an AI video: a label that melts, a logo that
smears, a colour that drifts. This package measures it, torch-free and in a fraction of a
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

The package, one job per module: ``report`` (thresholds, ``FrameScore``, ``FidelityReport``),
``reference`` (the photo side), ``tracking`` (following the product through the frames),
``comparison`` (a frame against the photo), ``frames`` (frames and files in) and ``scoring``
(``score_video``, ``score_file``).
"""

from .reference import ProductReference, load_reference
from .report import (COLOUR_RAMP, CROPPED, DETAIL_RAMP, FAIL_THRESHOLD, FLICKER_WARN, KEEP_THRESHOLD, SHAPE_RAMP,
                     STILL_MOTION, VISIBLE_RAMP, WORST_SHARE, FidelityReport, FrameScore, advice)
from .scoring import score_file, score_video

__all__ = ["COLOUR_RAMP", "CROPPED", "DETAIL_RAMP", "FAIL_THRESHOLD", "FLICKER_WARN", "KEEP_THRESHOLD", "SHAPE_RAMP",
           "STILL_MOTION", "VISIBLE_RAMP", "WORST_SHARE", "FidelityReport", "FrameScore", "ProductReference",
           "advice", "load_reference", "score_file", "score_video"]
