"""Frames → a video file every browser and phone plays.

H.264 in MP4, yuv420p, even width and height, ``+faststart`` (the index up front so a
browser starts playing before the download ends), one frame per timestamp at the exact
fps. Encoded in-process with PyAV's bundled libx264: no system ffmpeg needed, and never
OpenCV's ``mp4v`` (browsers refuse it). Files are written to a temporary name and renamed,
so a failure never leaves half a video behind.

The extra formats: WebM (VP9, yuv420p, for sites that prefer open codecs), an animated GIF
(one palette for the whole clip, ordered dithering, at most 480 px and 15 fps so it stays a
few MB) and a poster PNG (the first frame, what a page shows before playing). Frames may be
an array, a list, or a lazily rendered clip that offers ``yuv420(i)`` (then no RGB→YUV
conversion is done here).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import av
import numpy as np

from .errors import InputError, OutputError, Suggestion
from .vocab import Format, values

Frames = Sequence[np.ndarray] | np.ndarray  # each H x W x 3 uint8 RGB
GIF_MAX_SIDE = 480
GIF_MAX_FPS = 15


def even_frame(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: repeat the last row/column when a side is odd."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


def write_mp4(frames: Frames, path: str | os.PathLike, fps: int, crf: int = 18,
              on_frame: Callable[[int, int], None] | None = None, preset: str = "medium") -> Path:
    """Encode RGB uint8 frames as H.264/yuv420p MP4 at ``fps``; return the final path.
    ``preset`` trades encode time for file size (x264's ultrafast … veryslow), not quality."""
    # One dict: assigning codec_context.options afterwards would replace these (it is the
    # same dict), silently dropping crf, preset and tune.
    options = {"crf": str(crf), "preset": preset, "tune": "film", "profile": "high"}
    return _atomic(path, lambda tmp: _encode(tmp, "mp4", "libx264", frames, fps, options, on_frame,
                                             {"movflags": "+faststart"}))


def _encode(tmp: Path, fmt: str, codec: str, frames: Frames, fps: int, options: dict[str, str],
            on_frame: Callable[[int, int], None] | None, container_options: dict[str, str] | None = None) -> None:
    """Every frame at its own timestamp 0, 1, 2, … in 1/fps units: exact count and rate."""
    if len(frames) == 0:
        raise ValueError("no frames to encode")
    with av.open(str(tmp), mode="w", format=fmt, options=container_options or {}) as container:
        first = even_frame(np.asarray(frames[0]))
        stream = container.add_stream(codec, rate=Fraction(int(fps), 1))
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, int(fps))
        stream.options = options
        total = len(frames)
        for i in range(total):
            vf = _video_frame(frames, i, first.shape[1], first.shape[0])
            vf.pts = i
            for packet in stream.encode(vf):
                container.mux(packet)
            if on_frame:
                on_frame(i + 1, total)
        for packet in stream.encode():
            container.mux(packet)


def _video_frame(frames: Frames, i: int, width: int, height: int) -> av.VideoFrame:
    """Frame i for an encoder: straight from YUV 4:2:0 planes when the clip renders them."""
    yuv420 = getattr(frames, "yuv420", None)
    if yuv420 is not None and width % 2 == 0 and height % 2 == 0:
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(yuv420(i)), format="yuv420p")
    return av.VideoFrame.from_ndarray(even_frame(np.ascontiguousarray(frames[i], dtype=np.uint8)), format="rgb24")


def _atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` and rename tmp onto ``path``; on failure leave nothing behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise output_error(exc, path) from exc
    except BaseException:
        _remove(tmp)
        raise
    return path


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # the folder itself is the problem: there is nothing to remove
        pass


def write_webm(frames: Frames, path: str | os.PathLike, fps: int, crf: int = 32,
               on_frame: Callable[[int, int], None] | None = None) -> Path:
    """VP9/yuv420p in WebM at ``fps`` (constant quality ``crf``, libvpx's real-time speed
    so a 1080x1920 clip encodes in seconds); return the final path."""
    options = {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "7", "row-mt": "1",
               "threads": str(max(1, min(8, os.cpu_count() or 1)))}
    return _atomic(path, lambda tmp: _encode(tmp, "webm", "libvpx-vp9", frames, fps, options, on_frame))


def gif_plan(size: tuple[int, int], fps: int, max_side: int = GIF_MAX_SIDE,
             max_fps: int = GIF_MAX_FPS) -> tuple[tuple[int, int], int]:
    """(GIF size, keep every n-th frame): at most ``max_side`` px and ``max_fps``, so a
    product loop stays a few MB; GIF delays are in 1/100 s, so the step keeps them exact-ish."""
    w, h = size
    scale = min(1.0, max_side / max(w, h))
    gw, gh = max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)
    step = max(1, -(-int(fps) // max_fps))
    return (gw, gh), step


def write_gif(frames: Frames, path: str | os.PathLike, fps: int, max_side: int = GIF_MAX_SIDE,
              max_fps: int = GIF_MAX_FPS, on_frame: Callable[[int, int], None] | None = None) -> Path:
    """An endlessly looping GIF: one palette made from the whole clip (ffmpeg's palettegen),
    Bayer dithering (stable from frame to frame, unlike error diffusion) and only the changed
    rectangle stored per frame. Returns the final path."""
    if len(frames) == 0:
        raise ValueError("no frames to encode")
    first = np.asarray(frames[0])
    (gw, gh), step = gif_plan((first.shape[1], first.shape[0]), fps, max_side, max_fps)
    rate = Fraction(int(fps), step)
    picks = range(0, len(frames), step)

    def write(tmp: Path) -> None:
        graph = av.filter.Graph()
        src = graph.add_buffer(width=gw, height=gh, format="rgb24", time_base=1 / rate)
        split = graph.add("split")
        gen = graph.add("palettegen", "max_colors=256:stats_mode=full:reserve_transparent=0")
        use = graph.add("paletteuse", "dither=bayer:bayer_scale=3:diff_mode=rectangle")
        sink = graph.add("buffersink")
        src.link_to(split)
        split.link_to(use, 0, 0)
        split.link_to(gen, 1, 0)
        gen.link_to(use, 0, 1)
        use.link_to(sink)
        graph.configure()
        with av.open(str(tmp), mode="w", format="gif", options={"loop": "0"}) as container:
            stream = container.add_stream("gif", rate=rate)
            stream.width, stream.height = gw, gh
            stream.pix_fmt = "pal8"
            out_i = 0

            def drain() -> None:
                nonlocal out_i
                while True:
                    try:
                        frame = graph.pull()
                    except (av.error.BlockingIOError, av.error.EOFError):
                        return
                    frame.pts = out_i
                    frame.time_base = 1 / rate
                    out_i += 1
                    for packet in stream.encode(frame):
                        container.mux(packet)

            for n, i in enumerate(picks):
                vf = _small_frame(frames, i, (gw, gh))
                vf.pts = n
                vf.time_base = 1 / rate
                graph.push(vf)
                if on_frame:
                    on_frame(n + 1, len(picks))
            graph.push(None)
            drain()
            for packet in stream.encode():
                container.mux(packet)

    return _atomic(path, write)


def _small_frame(frames: Frames, i: int, size: tuple[int, int]) -> av.VideoFrame:
    """Frame i shrunk to ``size`` as RGB; from the YUV planes when the clip renders them
    (shrinking first makes the RGB conversion of a 1080x1920 frame 16x cheaper)."""
    import cv2

    yuv420 = getattr(frames, "yuv420", None)
    if yuv420 is None:
        small = cv2.resize(np.ascontiguousarray(frames[i], dtype=np.uint8), size, interpolation=cv2.INTER_AREA)
        return av.VideoFrame.from_ndarray(small, format="rgb24")
    buf = yuv420(i)
    h, w = buf.shape[0] * 2 // 3, buf.shape[1]
    flat, n, q = buf.reshape(-1), w * h, (w // 2) * (h // 2)
    gw, gh = size
    out = np.empty((gh * 3 // 2, gw), np.uint8)
    o, on, oq = out.reshape(-1), gw * gh, (gw // 2) * (gh // 2)
    o[:on] = cv2.resize(flat[:n].reshape(h, w), size, interpolation=cv2.INTER_AREA).reshape(-1)
    for k in range(2):
        plane = flat[n + k * q:n + (k + 1) * q].reshape(h // 2, w // 2)
        o[on + k * oq:on + (k + 1) * oq] = cv2.resize(plane, (gw // 2, gh // 2), interpolation=cv2.INTER_AREA).reshape(-1)
    return av.VideoFrame.from_ndarray(out, format="yuv420p").reformat(format="rgb24")


def write_poster(frame: np.ndarray, path: str | os.PathLike) -> Path:
    """One frame as a PNG (what a web page shows before the video plays)."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), "RGB")
    return _atomic(path, lambda tmp: image.save(tmp, format="PNG", optimize=False, compress_level=6))


def parse_formats(formats: str | Sequence[str] | None) -> tuple[Format, ...]:
    """'webm,gif' or ['webm', 'gif'] → ('mp4', 'webm', 'gif'): the MP4 is always made (history,
    players and the UI all rely on it); 'all' means every format."""
    if formats is None:
        return (Format.MP4,)
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    names = [str(f).strip().lower().lstrip(".") for f in items if str(f).strip()]
    if "all" in names:
        return tuple(Format)
    names = [Format.POSTER if n in ("png", "poster.png") else n for n in names]
    unknown = [n for n in names if n not in Format]
    if unknown:
        raise InputError(f"Unknown format(s): {', '.join(unknown)}.",
                         f"Use a comma list of {', '.join(values(Format))} (or all), e.g. {{fix}}.",
                         Suggestion("formats", "mp4,webm,gif"))
    return tuple(f for f in Format if f == Format.MP4 or f in names)


def output_error(exc: OSError, path: Path) -> OutputError:
    """Turn a write failure into a message that says which folder and what to do."""
    if exc.errno == errno.ENOSPC:
        return OutputError(f"The disk is full; could not write {path.name}.",
                           f"Free some space on the disk holding {path.parent} and try again.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"Cannot write to {path.parent} (permission denied).",
                           "Pick another --out folder or set SVDAPP_OUTPUTS to a writable folder.")
    return OutputError(f"Could not write {path}: {exc.strerror or exc}.", "Check the folder exists and is writable.")


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    pix_fmt: str
    width: int
    height: int
    frames: int
    fps: float
    duration: float


def probe(path: str | os.PathLike) -> VideoInfo:
    """Decode the whole file and report what a player would see."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        duration = float(container.duration / av.time_base) if container.duration else count / float(stream.average_rate)
        return VideoInfo(stream.codec_context.name, stream.codec_context.pix_fmt or "", stream.width, stream.height,
                         count, float(stream.average_rate or 0), duration)


def read_frames(path: str | os.PathLike) -> np.ndarray:
    """All frames as N x H x W x 3 uint8 RGB (tests, previews, interpolation)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
