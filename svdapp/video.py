"""Frames → a video file every browser and phone plays.

H.264 in MP4, yuv420p, even width and height, ``+faststart`` (the index up front so a
browser starts playing before the download ends), one frame per timestamp at the exact
fps. Encoded in-process with PyAV's bundled libx264: no system ffmpeg needed, and never
OpenCV's ``mp4v`` (browsers refuse it). Files are written to a temporary name and renamed,
so a failure never leaves half a video behind.
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

from .errors import OutputError

Frames = Sequence[np.ndarray] | np.ndarray  # each H x W x 3 uint8 RGB


def even_frame(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: repeat the last row/column when a side is odd."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


def write_mp4(frames: Frames, path: str | os.PathLike, fps: int, crf: int = 18,
              on_frame: Callable[[int, int], None] | None = None) -> Path:
    """Encode RGB uint8 frames as H.264/yuv420p MP4 at ``fps``; return the final path."""
    path = Path(path)
    if len(frames) == 0:
        raise ValueError("no frames to encode")
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            first = even_frame(np.asarray(frames[0]))
            stream = container.add_stream("libx264", rate=Fraction(int(fps), 1))
            stream.width, stream.height = first.shape[1], first.shape[0]
            stream.pix_fmt = "yuv420p"
            stream.time_base = Fraction(1, int(fps))
            stream.options = {"crf": str(crf), "preset": "medium", "tune": "film"}
            stream.codec_context.options = {"profile": "high"}
            total = len(frames)
            for i, frame in enumerate(frames):
                vf = av.VideoFrame.from_ndarray(even_frame(np.ascontiguousarray(frame, dtype=np.uint8)), format="rgb24")
                vf.pts = i
                for packet in stream.encode(vf):
                    container.mux(packet)
                if on_frame:
                    on_frame(i + 1, total)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(exc, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


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
