"""The video side's input: frames as given (an array or any iterable of RGB pictures),
checked one by one, or decoded from a file with PyAV."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError

DECODE_SIDE = 1280  # score_file decodes frames at most this long on their long side


def frame_iter(frames: np.ndarray | Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[3] not in (3, 4) or frames.dtype != np.uint8:
            raise InputError(f"Frames must be an N x H x W x 3 uint8 array, got {frames.dtype} {frames.shape}.",
                             "Pass the video's RGB frames, e.g. np.stack(list_of_frames).")
        return iter(frames)
    if isinstance(frames, (str, bytes, os.PathLike, Image.Image)):
        raise InputError(f"Frames must be a sequence of RGB arrays, got {type(frames).__name__}.",
                         "For a video file call score_file(video_path, photo_path).")
    try:
        return iter(frames)
    except TypeError:
        raise InputError(f"Frames must be a sequence of RGB arrays, got {type(frames).__name__}.",
                         "Pass an N x H x W x 3 uint8 array or a list of H x W x 3 arrays.") from None


def as_rgb(frame: object, index: int) -> np.ndarray:
    arr = np.asarray(frame.convert("RGB")) if isinstance(frame, Image.Image) else np.asarray(frame)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 16:
        raise InputError(f"Frame {index} is not an H x W x 3 uint8 RGB picture (got {arr.dtype} {arr.shape}).",
                         "Pass 8-bit RGB frames, all the same size.")
    return np.ascontiguousarray(arr[..., :3])



def decoded(path: Path, side: int) -> Iterable[np.ndarray]:
    """The video's frames as RGB, shrunk (by the decoder) to at most ``side`` on the long side."""
    import av  # only files need it; score_video works on frames alone

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"'{path.name}' has no video stream.", "Pass the MP4 or WebM that svdapp wrote.")
            if container.format.name == "image2" or container.format.name.endswith("_pipe"):
                raise InputError(f"'{path.name}' is a still picture, not a video.",
                                 "Pass the video (the MP4 or WebM that svdapp wrote) first and the photo second.")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                scale = min(1.0, side / max(frame.width, frame.height))
                w, h = max(16, round(frame.width * scale)), max(16, round(frame.height * scale))
                yield frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="AREA")
    except av.FFmpegError as exc:
        raise InputError(f"'{path.name}' cannot be read as a video ({exc.strerror or exc}).",
                         "Check that the file is a complete MP4/WebM; re-export it if it was cut short.") from None
