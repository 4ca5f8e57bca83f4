"""Finishing for both engines: length, loops, smoother motion, and the framings shops post to.

Frames flow through as a ``Clip``: a sequence rendered on demand, so a 30-second 1080x1920
video never has to sit in memory, and each output format pulls the frames it needs.

- ``interpolate``: 2x/4x frames from OpenCV optical flow (DIS or Farneback), each in-between
  frame warped from both neighbours and blended; no model download.
- ``loop``: none, boomerang (ping-pong), or a seamless crossfade whose last frame leads into
  the first with an ordinary step.
- ``fit_length``: stretch a loop to whole cycles filling ``--seconds``; a one-shot clip is cut
  or holds its last frame.
- ``frame_clip``: pad into 16:9, 9:16, 1:1 or 4:5 (never cropping the product) over the
  photo's edge colour, a blurred copy of the photo, or a colour the user gives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
from PIL import ImageColor

from .errors import InputError, Suggestion
from .request import Finish
from .vocab import INTERPOLATIONS, Framing, Loop, Stage, parse

# The usual size of each shape on the channels that use it (the classic engine renders at it).
CANVAS_SIZES: dict[Framing, tuple[int, int]] = {Framing.WIDE: (1920, 1080), Framing.TALL: (1080, 1920),
                                                Framing.SQUARE: (1080, 1080), Framing.PORTRAIT: (1080, 1350)}
FRAMING_ALIASES = {"": Framing.NONE, "original": Framing.NONE, "source": Framing.NONE}
FLOW_METHODS = ("dis", "farneback")
MAX_SECONDS = 60.0
MIN_SECONDS = 0.5
CROSSFADE_SHARE = 0.25  # of the clip spent fading the end into the start


@dataclass(frozen=True)
class Background:
    kind: str  # edge | blur | colour
    colour: tuple[int, int, int] | None = None


def validate(finish: Finish) -> Finish:
    """Return ``finish`` with values normalised, or raise an InputError naming the bad one."""
    loop = parse(Loop, finish.loop)
    framing = parse(Framing, finish.framing, FRAMING_ALIASES)
    factor = parse_interpolate(finish.interpolate)
    seconds = finish.seconds
    if seconds is not None:
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) \
                or not MIN_SECONDS <= seconds <= MAX_SECONDS:
            raise InputError(f"Seconds must be {MIN_SECONDS:g}–{MAX_SECONDS:g}, got {seconds}.",
                             "Use {fix} (a short product loop) up to 60.", Suggestion("seconds", 4))
        seconds = float(seconds)
    parse_background(finish.background)
    return Finish(seconds, loop, factor, framing, str(finish.background).strip())


def parse_interpolate(value: int | str) -> int:
    text = str(value).strip().lower().rstrip("x")
    factor = {"": 1, "off": 1, "none": 1}.get(text, None)
    if factor is None:
        try:
            factor = int(text)
        except ValueError:
            factor = -1
    if factor not in INTERPOLATIONS:
        raise InputError(f"Interpolation must be 1, 2 or 4, got '{value}'.",
                         "Use {fix} (twice the frames) or 4.", Suggestion("interpolate", 2))
    return factor


def parse_background(text: str) -> Background:
    value = str(text).strip().lower()
    if value in ("edge", "auto", ""):
        return Background("edge")
    if value in ("blur", "blurred"):
        return Background("blur")
    try:
        if "," in value:
            parts = tuple(int(p) for p in value.split(","))
            if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
                raise ValueError
            return Background("colour", parts)  # type: ignore[arg-type]
        if value[:1] != "#" and len(value) in (3, 6) and all(c in "0123456789abcdef" for c in value):
            value = "#" + value
        rgb = ImageColor.getrgb(value)
    except ValueError:
        raise InputError(f"Unknown background '{text}'.",
                         "Use edge (colour from the photo's border), blur, or a colour like #ffffff or 255,255,255.") from None
    return Background("colour", tuple(int(c) for c in rgb[:3]))  # type: ignore[arg-type]


# --- frames rendered on demand ---------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Clip(Sequence):
    """``length`` RGB frames made on demand by ``rgb(i)``; ``i420(i)``, when given, makes the
    same frame as YUV 4:2:0 planes (H*3/2 x W) for the encoders, skipping a conversion."""

    length: int
    rgb: Callable[[int], np.ndarray]
    i420: Callable[[int], np.ndarray] | None = None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.length))]
        return self.rgb(self._index(i))

    def yuv420(self, i: int) -> np.ndarray:
        i = self._index(i)
        if self.i420 is not None:
            return self.i420(i)
        return cv2.cvtColor(np.ascontiguousarray(self.rgb(i)), cv2.COLOR_RGB2YUV_I420)

    def _index(self, i: int) -> int:
        i = int(i)
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError(i)
        return i

    def remap(self, count: int, index: Callable[[int], int]) -> "Clip":
        """Another clip whose frame j is this clip's frame ``index(j)``."""
        return Clip(count, lambda j: self.rgb(index(j)),
                    (lambda j: self.i420(index(j))) if self.i420 is not None else None)


def as_clip(frames: Sequence[np.ndarray] | np.ndarray) -> Clip:
    if isinstance(frames, Clip):
        return frames
    return Clip(len(frames), lambda i: frames[i])


def _mix(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """(1 - w) * a + w * b, rounded, for uint8 frames or YUV planes."""
    if w <= 0.0:
        return a
    if w >= 1.0:
        return b
    return cv2.addWeighted(a, 1.0 - w, b, w, 0.0)


def _blend(clip: Clip, count: int, pick: Callable[[int], tuple[int, int, float]]) -> Clip:
    """Frame j = mix of clip[a] and clip[b] with weight w, where (a, b, w) = pick(j)."""
    def rgb(j: int) -> np.ndarray:
        a, b, w = pick(j)
        return _mix(clip.rgb(a), clip.rgb(b), w) if 0 < w < 1 else clip.rgb(b if w >= 1 else a)

    def i420(j: int) -> np.ndarray:
        a, b, w = pick(j)
        return _mix(clip.yuv420(a), clip.yuv420(b), w) if 0 < w < 1 else clip.yuv420(b if w >= 1 else a)

    return Clip(count, rgb, i420)


# --- loops and length ------------------------------------------------------------------------

def loop(frames: Sequence[np.ndarray] | np.ndarray, mode: str) -> Clip:
    """none: as is; boomerang: forward then back (2n-2 frames, each turn an ordinary step);
    crossfade: the last quarter fades into the first, so the clip is n - n//4 frames long and
    its last → first step is an ordinary one."""
    clip = as_clip(frames)
    n = len(clip)
    mode = parse(Loop, mode)
    if mode == Loop.NONE or n < 2:
        return clip
    if mode == Loop.BOOMERANG:
        if n < 3:
            return clip
        return clip.remap(2 * n - 2, lambda j: j if j < n else 2 * n - 2 - j)
    k = crossfade_overlap(n)  # crossfade
    if k == 0:
        return clip
    cycle = n - k
    # Frame i < k shows the tail (cycle + i) fading into the head (i) with weight i/k:
    # frame 0 is pure tail, so cycle-1 → 0 is the clip's own ordinary step.
    return _blend(clip, cycle, lambda i: (cycle + i, i, i / k) if i < k else (i, i, 0.0))


def crossfade_overlap(n: int) -> int:
    return max(1, int(round(n * CROSSFADE_SHARE))) if n >= 4 else 0


def source_frames(count: int, mode: str) -> int:
    """How many frames an engine that can make any number should render so that ``loop``
    gives exactly ``count`` frames (the classic engine uses this)."""
    if mode == Loop.BOOMERANG:
        return max(2, count // 2 + 1)
    if mode == Loop.CROSSFADE:
        n = count
        while n - crossfade_overlap(n) < count:
            n += 1
        return n
    return count


def fit_length(frames: Sequence[np.ndarray] | np.ndarray, count: int | None, closed: bool) -> Clip:
    """Exactly ``count`` frames. A loop (``closed``) repeats whole cycles and is retimed by at
    most half a cycle to fill the time, blending neighbouring frames, so it still loops
    seamlessly; a one-shot clip is cut, or holds its last frame (the product comes to rest)."""
    clip = as_clip(frames)
    n = len(clip)
    if count is None or count == n:
        return clip
    if not closed:
        return clip.remap(count, lambda j: min(j, n - 1))
    cycles = max(1, round(count / n))
    ratio = cycles * n / count

    def pick(j: int) -> tuple[int, int, float]:
        pos = j * ratio
        a = int(math.floor(pos + 1e-9))
        w = pos - a
        if w < 0.02:
            w = 0.0
        elif w > 0.98:
            a, w = a + 1, 0.0
        return a % n, (a + 1) % n, w

    return _blend(clip, count, pick)


# --- smoother motion: optical-flow frame interpolation -----------------------------------------

def interpolate(frames: Sequence[np.ndarray] | np.ndarray, factor: int, method: str = "dis",
                on_pair: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(n-1)*factor + 1 frames: the originals, and between each pair ``factor - 1`` frames
    warped from both neighbours along the optical flow and blended by their distance."""
    frames = np.asarray(frames)
    n = len(frames)
    if factor == 1 or n < 2:
        return frames
    if factor not in INTERPOLATIONS:
        raise InputError(f"Interpolation must be 1, 2 or 4, got {factor}.", "Use {fix} or 4.",
                         Suggestion("interpolate", 2))
    if method not in FLOW_METHODS:
        raise InputError(f"Unknown optical-flow method '{method}'.", f"Use one of: {', '.join(FLOW_METHODS)}.")
    h, w = frames.shape[1:3]
    flow = _flow_function(method)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = np.empty(((n - 1) * factor + 1, h, w, 3), np.uint8)
    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    # 4 channels: OpenCV's remap has a much faster path for them than for 3.
    rgba = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2RGBA) for f in frames]
    for i in range(n - 1):
        out[i * factor] = frames[i]
        forward = flow(grey[i], grey[i + 1])
        backward = flow(grey[i + 1], grey[i])
        for s in range(1, factor):
            t = s / factor
            a = cv2.remap(rgba[i], gx - t * forward[..., 0], gy - t * forward[..., 1],
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            b = cv2.remap(rgba[i + 1], gx - (1 - t) * backward[..., 0], gy - (1 - t) * backward[..., 1],
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            out[i * factor + s] = cv2.cvtColor(cv2.addWeighted(a, 1 - t, b, t, 0.0), cv2.COLOR_RGBA2RGB)
        if on_pair:
            on_pair(i + 1, n - 1)
    out[-1] = frames[-1]
    return out


def _flow_function(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if method == "dis":
        dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        return lambda a, b: dis.calc(a, b, None)
    return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 3, 5, 1.1, 0)


# --- framings and backgrounds ----------------------------------------------------------------

def _even(v: float) -> int:
    return max(2, int(round(v / 2)) * 2)


def canvas_size(framing: str, content: tuple[int, int] | None = None) -> tuple[int, int]:
    """The frame size of a framing: the channel's usual size (1080x1920 for 9:16 …), shrunk
    when ``content`` (w, h) would otherwise be enlarged, so engine pixels are never upscaled."""
    if framing == Framing.NONE:
        if content is None:
            raise ValueError("framing 'none' needs the content size")
        return _even(content[0]), _even(content[1])
    cw, ch = CANVAS_SIZES[framing]
    if content is not None:
        scale = min(cw / content[0], ch / content[1])
        if scale > 1:
            cw, ch = _even(cw / scale), _even(ch / scale)
    return cw, ch


def edge_colour(rgb: np.ndarray) -> tuple[int, int, int]:
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    return tuple(int(v) for v in np.median(border, axis=0))  # type: ignore[return-value]


def background_image(photo: np.ndarray, size: tuple[int, int], background: Background | str) -> np.ndarray:
    """A w x h RGB backdrop: the photo's border colour, a blurred photo filling the frame,
    or a solid colour."""
    bg = parse_background(background) if isinstance(background, str) else background
    w, h = size
    if bg.kind == "blur":
        ph, pw = photo.shape[:2]
        # Blur small, then enlarge: as soft as a huge Gaussian for a fraction of the cost.
        small_w, small_h = max(8, w // 24), max(8, h // 24)
        scale = max(small_w / pw, small_h / ph)
        tmp = cv2.resize(photo, (max(1, round(pw * scale)), max(1, round(ph * scale))), interpolation=cv2.INTER_AREA)
        y0, x0 = (tmp.shape[0] - small_h) // 2, (tmp.shape[1] - small_w) // 2
        tmp = cv2.GaussianBlur(tmp[y0:y0 + small_h, x0:x0 + small_w], (0, 0), 1.5, borderType=cv2.BORDER_REFLECT)
        return cv2.resize(tmp, (w, h), interpolation=cv2.INTER_CUBIC)
    colour = bg.colour if bg.kind == "colour" else edge_colour(photo)
    return np.full((h, w, 3), colour, np.uint8)


@dataclass(frozen=True)
class Box:
    """Where a picture sits on a canvas: left, top, width, height (may reach past the edges)."""

    x: int
    y: int
    w: int
    h: int


def placement(src: tuple[int, int], size: tuple[int, int], mode: str = "contain") -> Box:
    sw, sh = src
    w, h = size
    scale = min(w / sw, h / sh) if mode == "contain" else max(w / sw, h / sh)
    pw, ph = max(1, round(sw * scale)), max(1, round(sh * scale))
    return Box((w - pw) // 2, (h - ph) // 2, pw, ph)


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (img.shape[1], img.shape[0]) == size:
        return img
    shrink = size[0] < img.shape[1]
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def paste(canvas: np.ndarray, img: np.ndarray, box: Box) -> np.ndarray:
    """Put ``img`` (resized to the box) on a copy of ``canvas``, clipped at the edges."""
    out = canvas.copy()
    img = resize(img, (box.w, box.h))
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(out.shape[1], box.x + box.w), min(out.shape[0], box.y + box.h)
    out[y0:y1, x0:x1] = img[y0 - box.y:y1 - box.y, x0 - box.x:x1 - box.x]
    return out


def place(photo: np.ndarray, size: tuple[int, int], background: Background | str,
          mode: str = "contain") -> tuple[np.ndarray, Box]:
    """The photo on a w x h canvas: whole and centred (contain) over the backdrop, or filling
    it (cover); returns the canvas and where the photo sits."""
    box = placement((photo.shape[1], photo.shape[0]), size, mode)
    return paste(background_image(photo, size, background), photo, box), box


def frame_clip(frames: Sequence[np.ndarray] | np.ndarray, framing: str, background: Background | str) -> Clip:
    """Each frame whole and centred in the framing's canvas over one still backdrop made
    from the first frame, so nothing is cropped and the padding does not flicker."""
    clip = as_clip(frames)
    if framing == Framing.NONE or len(clip) == 0:
        return clip
    first = np.asarray(clip[0])
    content = (first.shape[1], first.shape[0])
    size = canvas_size(framing, content)
    if size == content:
        return clip
    backdrop = background_image(first, size, background)
    box = placement(content, size, "contain")
    return Clip(len(clip), lambda i: paste(backdrop, np.asarray(clip[i]), box))


# --- everything, in order --------------------------------------------------------------------

def finish(frames: Sequence[np.ndarray] | np.ndarray, fps: int, options: Finish, method: str = "dis",
           on_progress: Callable[[str, int, int], None] | None = None) -> tuple[Clip | np.ndarray, int]:
    """Interpolate → loop → length → framing. Returns the frames (unchanged when the options
    are all defaults) and the playback fps (fps x interpolation factor)."""
    if options.is_identity:
        return frames, fps
    report = on_progress or (lambda stage, done, total: None)
    if options.interpolate > 1:
        frames = interpolate(frames, options.interpolate, method,
                             on_pair=lambda d, t: report(Stage.INTERPOLATE, d, t))
        fps *= options.interpolate
    clip = loop(frames, options.loop)
    count = None if options.seconds is None else max(2, round(options.seconds * fps))
    clip = fit_length(clip, count, closed=options.loop != Loop.NONE)
    return frame_clip(clip, options.framing, options.background), fps


def frame_size(frames: Sequence[np.ndarray] | np.ndarray) -> tuple[int, int]:
    """(width, height) of the first frame."""
    first = np.asarray(frames[0])
    return int(first.shape[1]), int(first.shape[0])
