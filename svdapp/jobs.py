"""Run one request end to end and write its files atomically; list past results.

A result is ``outputs/<time>-<photo>-<seed>/{video.mp4,input.png,meta.json}`` plus the extra
formats asked for (``video.webm``, ``video.gif``, ``poster.png``), or the ``--out`` path plus a
``.json`` sidecar and ``<name>.webm``/``.gif``/``-poster.png`` beside it. Everything is written
into a hidden temporary folder first and moved into place at the end, so a failure or a
cancel leaves nothing.

Engines: ``svd`` (Stable Video Diffusion, GPU) or ``classic`` (camera motion, CPU); ``auto``
picks one (request.resolve_engine). Both go through finishing (loops, length, interpolation,
framing) before encoding.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import av
import numpy as np
from PIL import Image

from . import __version__, classic, finishing, hub, imageprep, presets
from .errors import Cancelled, InputError, OutputError
from .engine_output import EngineOutput
from .history import META_NAME, THUMBNAIL_NAME, TMP_PREFIX, VIDEO_NAME
from .request import Finish, GenerationRequest, resolve_engine
from .result import ClassicInfo, GenerationResult, InputInfo, OutputInfo, ResultMeta
from .settings import Settings, load_settings
from .video import output_error, parse_formats, write_gif, write_mp4, write_poster, write_webm
from .vocab import Camera, Engine, Format, Framing, Loop, Stage

Progress = Callable[[str, int, int], None]
CLASSIC_FPS = 30
CLASSIC_SECONDS = 4.0
MAX_CLASSIC_FPS = 60
# Encoding dominates the classic engine. At the same crf 18, x264 "superfast" encodes a 4 s
# 1080x1920 clip in 1.6 s instead of 3.4 s ("medium"); the file is 0.4 MB instead of 0.18 MB
# (docs/benchmarks.md). SVD's few frames keep "medium".
CLASSIC_X264_PRESET = "superfast"


def run_request(request: GenerationRequest, settings: Settings | None = None, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> GenerationResult:
    """Photo → video file(s) + metadata. Raises SvdAppError (with its fix) on any failure."""
    settings = settings or load_settings()
    report = progress or (lambda stage, done, total: None)
    params = presets.resolve(request.preset, request.overrides, request.portrait)
    finish = finishing.validate(request.finish)
    formats = parse_formats(request.formats)
    camera = classic.parse_camera(request.camera)
    seed = params.seed if params.seed is not None else secrets.randbelow(2**32)
    params = replace(params, seed=seed)
    started = time.perf_counter()

    choice = resolve_engine(request, settings)
    engine_name = choice.engine
    photo = imageprep.load_image(request.image)
    stem = request.image_name or (Path(request.image).stem if isinstance(request.image, (str, os.PathLike)) else "photo")
    final_video, final_meta, final_dir = _targets(request, settings, stem, seed)
    finals = {Format.MP4: final_video,
              **{f: _extra_target(final_video, final_dir, f) for f in formats if f != Format.MP4}}
    staging_parent = _writable_parent(final_dir.parent if final_dir is not None else final_video.parent, final_video)
    if engine_name == Engine.SVD:
        made = _make_svd(request, settings, params, photo, finish, progress, cancel)
    else:
        made = _make_classic(request, params, photo, finish, camera, report)
    if choice.note:
        made = replace(made, fallbacks=(choice.note, *made.fallbacks))
    frames, fps = made.frames, made.fps
    width, height = finishing.frame_size(frames)

    def tick(stage: str) -> Callable[[int, int], None]:
        """Progress for one encoder, and the place a cancel stops a long encode."""
        def on_frame(done: int, total: int) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            report(stage, done, total)
        return on_frame

    tmp_dir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=staging_parent))
    try:
        t0 = time.perf_counter()
        staged = {Format.MP4: write_mp4(frames, tmp_dir / VIDEO_NAME, fps, preset=made.x264_preset,
                                        on_frame=tick(Stage.ENCODE))}
        timings = {**made.timings, "encode": round(time.perf_counter() - t0, 3)}
        for fmt in formats:
            if fmt == Format.MP4:
                continue
            t0 = time.perf_counter()
            target = tmp_dir / finals[fmt].name
            if fmt == Format.WEBM:
                staged[fmt] = write_webm(frames, target, fps, on_frame=tick(Stage.WEBM))
            elif fmt == Format.GIF:
                staged[fmt] = write_gif(frames, target, fps, on_frame=tick(Stage.GIF))
            else:
                tick(Stage.POSTER)(0, 1)
                staged[fmt] = write_poster(np.asarray(frames[0]), target)
            timings[fmt.value] = round(time.perf_counter() - t0, 3)
        timings["total"] = round(time.perf_counter() - started, 3)
        if final_dir is not None:
            made.still.save(tmp_dir / THUMBNAIL_NAME)
        output = OutputInfo(len(frames), width, height, fps, round(len(frames) / fps, 3), video=str(final_video),
                            files={fmt.value: str(path) for fmt, path in finals.items()})
        meta = _metadata(request, settings, params, finish, engine_name, made, photo, output, timings)
        _write_json(tmp_dir / META_NAME, meta.to_json())
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if final_dir is not None:
            os.replace(tmp_dir, final_dir)
            tmp_dir = None
        else:
            moves = [(tmp_dir / META_NAME, final_meta),
                     *((staged[f], finals[f]) for f in staged if f != Format.MP4),
                     (staged[Format.MP4], final_video)]  # the video last: it is what a user looks for
            _move_all(moves)
    except OutputError as exc:  # a writer failed inside the staging folder: name the real target
        cause = exc.__cause__
        raise (output_error(cause, final_video) if isinstance(cause, OSError) else exc) from None
    except OSError as exc:
        raise output_error(exc, final_video) from None
    finally:
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    return GenerationResult(
        video=final_video, meta_path=final_meta, meta=meta,
        input_image=(final_dir / THUMBNAIL_NAME) if final_dir is not None else None,
        webm=finals.get(Format.WEBM), gif=finals.get(Format.GIF), poster=finals.get(Format.POSTER))


@dataclass(frozen=True)
class _Made:
    """What an engine plus finishing produced, ready to encode."""

    frames: Any  # N x H x W x 3 array or a finishing.Clip
    fps: int
    still: Image.Image  # the picture the engine started from (input.png)
    timings: dict[str, float]
    fallbacks: tuple[str, ...]
    meta_fields: dict[str, Any]  # the ResultMeta fields only this engine fills
    versions: dict[str, str]
    x264_preset: str = "medium"


def _make_svd(request: GenerationRequest, settings: Settings, params: presets.GenerationParams, photo: Image.Image,
              finish: finishing.Finish, progress: Progress | None, cancel: threading.Event | None) -> _Made:
    fitted = imageprep.fit(photo, params.width, params.height, params.fit)
    folder = hub.ensure_model(settings)
    from . import engine  # torch is imported only when a generation really runs

    out: EngineOutput = engine.generate(str(folder), fitted, params, params.seed, progress, cancel)
    t0 = time.perf_counter()
    frames, fps = finishing.finish(out.frames, params.fps, finish, on_progress=progress)
    timings = {k: round(v, 3) for k, v in out.timings.items()}
    if not finish.is_identity:
        timings["finish"] = round(time.perf_counter() - t0, 3)
    meta = dict(model_folder=str(folder), memory_plan=out.plan, decode_chunk_used=out.decode_chunk,
                speed_mode=out.speed, turbo_reuse=out.reuse, model_loaded_this_run=out.load_seconds > 0,
                model_load_s=round(out.load_seconds, 3), engine_frames=int(out.frames.shape[0]), engine_fps=params.fps)
    return _Made(frames, fps, fitted, timings, tuple(out.fallbacks), meta, engine.versions())


def _make_classic(request: GenerationRequest, params: presets.GenerationParams, photo: Image.Image,
                  finish: finishing.Finish, camera: Camera, report: Progress) -> _Made:
    """Camera motion over the photo, rendered straight at the final size and fps: the framing
    sets the canvas, interpolation sets a higher render rate, and a crossfade loop becomes a
    camera path that returns to its start (seamless with no ghosting)."""
    report(Stage.RENDER, 0, 1)
    t0 = time.perf_counter()
    base_fps = request.overrides.get("fps") or CLASSIC_FPS
    fps = min(MAX_CLASSIC_FPS, int(base_fps) * finish.interpolate)  # rendered at this rate: no flow needed
    if finish.seconds is not None:
        seconds = finish.seconds
    elif request.overrides.get("frames"):
        seconds = request.overrides["frames"] / base_fps
    else:
        seconds = CLASSIC_SECONDS
    count = max(2, round(seconds * fps))
    if finish.framing != Framing.NONE:
        size = finishing.canvas_size(finish.framing)
    else:
        size = (params.width, params.height)
    looped = finish.loop == Loop.BOOMERANG
    periodic = finish.loop == Loop.CROSSFADE
    alpha = classic.load_alpha(request.image) if camera == Camera.PARALLAX else None
    rendered = classic.render(photo, size, finishing.source_frames(count, Loop.BOOMERANG) if looped else count, camera,
                             finish.background, params.fit, alpha, periodic, params.seed)
    clip = finishing.loop(rendered.clip, Loop.BOOMERANG) if looped else rendered.clip
    clip = finishing.fit_length(clip, count, closed=finish.loop != Loop.NONE)
    timings = {"prepare": round(time.perf_counter() - t0, 3)}
    report(Stage.RENDER, 1, 1)
    meta = dict(classic=ClassicInfo(rendered.camera, rendered.camera.label, rendered.separation, round(count / fps, 3),
                                    size))
    import cv2

    versions = {"python": platform.python_version(), "opencv": cv2.__version__, "av": av.__version__,
                "numpy": np.__version__}
    return _Made(clip, fps, classic.still(photo, size, finish.background, params.fit), timings, rendered.notes, meta,
                 versions, x264_preset=CLASSIC_X264_PRESET)


def _extra_target(video: Path, final_dir: Path | None, fmt: str) -> Path:
    """Where an extra format goes: beside video.mp4 in the job folder, or beside --out."""
    if fmt == Format.POSTER:
        return video.with_name("poster.png") if final_dir is not None else video.with_name(f"{video.stem}-poster.png")
    return video.with_suffix(f".{fmt}")


def _targets(request: GenerationRequest, settings: Settings, stem: str, seed: int) -> tuple[Path, Path, Path | None]:
    if request.out is not None:
        video = Path(request.out).expanduser()
        if video.suffix.lower() != ".mp4":
            raise InputError(f"--out must end in .mp4, got '{video.name}'.", "For example: --out product.mp4")
        if video.is_dir():
            raise InputError(f"--out {video} is a folder.", "Give a file name, e.g. --out product.mp4")
        return video, video.with_suffix(".json"), None
    safe = re.sub(r"[^\w]+", "-", stem, flags=re.UNICODE).strip("-")[:40] or "photo"
    job_id = f"{datetime.now():%Y%m%d-%H%M%S}-{safe}-{seed}"
    final_dir = settings.outputs_dir / job_id
    n = 1
    while final_dir.exists():
        n += 1
        final_dir = settings.outputs_dir / f"{job_id}-{n}"
    return final_dir / VIDEO_NAME, final_dir / META_NAME, final_dir


def _move_all(moves: list[tuple[Path, Path]]) -> None:
    """Move staged files into place; if one move fails, take back the ones already made."""
    done: list[Path] = []
    try:
        for src, dst in moves:
            os.replace(src, dst)
            done.append(dst)
    except OSError:
        for dst in done:
            dst.unlink(missing_ok=True)
        raise


def _writable_parent(folder: Path, target: Path) -> Path:
    """The folder results are staged in; checked before any work so a bad --out fails fast."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), folder)
        raise OutputError(f"Cannot create the folder for {target.name}: {blocker} is a file, not a folder.",
                          "Choose another --out path (or SVDAPP_OUTPUTS), or move that file away.") from None
    except OSError as exc:
        raise output_error(exc, target) from None
    if not os.access(folder, os.W_OK):
        raise output_error(PermissionError(13, "Permission denied"), target)
    return folder


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _metadata(request: GenerationRequest, settings: Settings, params: presets.GenerationParams, finish: Finish,
              engine_name: Engine, made: _Made, photo: Image.Image, output: OutputInfo,
              timings: dict[str, float]) -> ResultMeta:
    """Everything needed to reproduce or audit the video; never the token."""
    svd = engine_name == Engine.SVD
    name = request.image_name or (Path(request.image).name if isinstance(request.image, (str, os.PathLike)) else None)
    return ResultMeta(
        app_version=__version__, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        engine=engine_name, engine_requested=request.engine, engine_label=engine_name.label,
        model=settings.model if svd else None, revision=(settings.revision or "main") if svd else None,
        preset=request.preset, seed=params.seed, settings=params, finishing=finish, fallbacks=made.fallbacks,
        timings_s=timings, versions=made.versions, input=InputInfo(name, photo.width, photo.height), output=output,
        **made.meta_fields)
