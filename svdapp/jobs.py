"""Run one request end to end and write its files atomically.

A result is ``outputs/<time>-<photo>-<seed>/{video.mp4,input.png,meta.json}`` plus the extra
formats asked for (``video.webm``, ``video.gif``, ``poster.png``), or the ``--out`` path plus a
``.json`` sidecar and ``<name>.webm``/``.gif``/``-poster.png`` beside it. Everything is written
into a hidden temporary folder first and moved into place at the end, so a failure or a
cancel leaves nothing.

``run_request`` goes in three steps: ``_prepare`` checks and resolves everything that costs
nothing (settings, finishing, formats, takes, engine, photo, where the files go), ``_make`` runs
the engine — ``svd`` (Stable Video Diffusion, GPU) or ``classic`` (camera motion, CPU), ``auto``
picked by request.resolve_engine —, once or for several takes (``takes``), scores the product
fidelity of its frames (``product_check``) and finishes them (loops, length, interpolation,
framing), and ``_write`` encodes every format, the takes' previews and the metadata and moves
them into place.
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

from . import __version__, classic, finishing, hub, imageprep, presets, product_check, takes
from .errors import Cancelled, InputError, OutputError
from .engine_output import EngineOutput
from .history import META_NAME, THUMBNAIL_NAME, TMP_PREFIX, VIDEO_NAME
from .request import EngineChoice, Finish, GenerationRequest, resolve_engine
from .result import ClassicInfo, FidelityInfo, GenerationResult, InputInfo, OutputInfo, ResultMeta, TakeInfo
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
TAKES_FOLDER = "takes"  # a result folder's previews of its takes: takes/take-<i>.gif
TAKE_PREVIEW_FPS = 6


def run_request(request: GenerationRequest, settings: Settings | None = None, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> GenerationResult:
    """Photo → video file(s) + metadata. Raises SvdAppError (with its fix) on any failure."""
    settings = settings or load_settings()
    started = time.perf_counter()
    job = _prepare(request, settings)
    made = _make(job, settings, progress, cancel)
    job = _named_for(job, made, settings)
    meta = _write(job, made, settings, progress or (lambda stage, done, total: None), cancel, started)
    files = job.targets.files
    return GenerationResult(
        video=files[Format.MP4], meta_path=job.targets.meta, meta=meta,
        input_image=(job.targets.folder / THUMBNAIL_NAME) if job.targets.folder is not None else None,
        webm=files.get(Format.WEBM), gif=files.get(Format.GIF), poster=files.get(Format.POSTER))


@dataclass(frozen=True)
class _Targets:
    """Where a result's files go."""

    files: dict[Format, Path]  # every format asked for, the MP4 first
    meta: Path
    folder: Path | None  # outputs/<id>/, or None for --out (the files go beside it)
    staging: Path  # the folder the files are written in first: writable, checked


@dataclass(frozen=True)
class _Job:
    """A request checked and resolved: everything the run needs before any real work."""

    request: GenerationRequest
    params: presets.GenerationParams  # the seed included
    finish: Finish
    camera: Camera
    takes: takes.Plan
    engine: EngineChoice
    photo: Image.Image
    stem: str  # the photo's name, for the result's folder
    targets: _Targets


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
    params: presets.GenerationParams  # as made: the kept take's seed
    fidelity: FidelityInfo
    x264_preset: str = "medium"
    takes: tuple[TakeInfo, ...] = ()
    thumbnails: tuple[np.ndarray | None, ...] = ()  # each take's preview frames, when written


def _prepare(request: GenerationRequest, settings: Settings) -> _Job:
    """Every check that costs nothing, so a bad setting, photo or --out fails before the engine runs."""
    params = presets.resolve(request.preset, request.overrides, request.portrait)
    finish = finishing.validate(request.finish)
    formats = parse_formats(request.formats)
    camera = classic.parse_camera(request.camera)
    plan = takes.plan(request.takes, request.min_fidelity)
    params = replace(params, seed=params.seed if params.seed is not None else secrets.randbelow(2**32))
    choice = resolve_engine(request, settings)
    photo = imageprep.load_image(request.image)
    stem = request.image_name or (Path(request.image).stem if isinstance(request.image, (str, os.PathLike)) else "photo")
    targets = _targets(request, settings, stem, params.seed, formats)
    return _Job(request, params, finish, camera, plan, choice, photo, stem, targets)


def _make(job: _Job, settings: Settings, progress: Progress | None, cancel: threading.Event | None) -> _Made:
    """The engine's frames (of the kept take), scored and finished (loops, length, interpolation,
    framing)."""
    report = progress or (lambda stage, done, total: None)
    if job.engine.engine == Engine.SVD:
        made = _make_svd(job, settings, report, cancel)
    else:
        made = _make_classic(job, _cancellable(report, cancel), cancel)
    if job.engine.note:
        made = replace(made, fallbacks=(job.engine.note, *made.fallbacks))
    return made


def _write(job: _Job, made: _Made, settings: Settings, report: Progress, cancel: threading.Event | None,
           started: float) -> ResultMeta:
    """Encode every format and write the metadata into a staging folder, then move it all into
    place at once; a failure or a cancel leaves nothing."""
    targets = job.targets
    video = targets.files[Format.MP4]
    tmp_dir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=targets.staging))
    try:
        staged, timings = _encode(made, targets, tmp_dir, _ticker(report, cancel))
        timings["total"] = round(time.perf_counter() - started, 3)
        if targets.folder is not None:
            made.still.save(tmp_dir / THUMBNAIL_NAME)
            made = _write_previews(made, tmp_dir)
        width, height = finishing.frame_size(made.frames)
        count = len(made.frames)
        output = OutputInfo(count, width, height, made.fps, round(count / made.fps, 3), video=str(video),
                            files={fmt.value: str(path) for fmt, path in targets.files.items()})
        meta = _metadata(job, settings, made, output, timings)
        _write_json(tmp_dir / META_NAME, meta.to_json())
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if targets.folder is not None:
            os.replace(tmp_dir, targets.folder)
        else:
            # The video last: it is what a user looks for.
            _move_all([(tmp_dir / META_NAME, targets.meta),
                       *((staged[f], targets.files[f]) for f in staged if f != Format.MP4),
                       (staged[Format.MP4], video)])
    except OutputError as exc:  # a writer failed inside the staging folder: name the real target
        cause = exc.__cause__
        raise (output_error(cause, video) if isinstance(cause, OSError) else exc) from None
    except OSError as exc:
        raise output_error(exc, video) from None
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)  # gone already when it became the result's folder
    return meta


def _named_for(job: _Job, made: _Made, settings: Settings) -> _Job:
    """The job with its result folder named for the seed that was kept (takes change it)."""
    if job.targets.folder is None or made.params.seed == job.params.seed:
        return job
    return replace(job, targets=_targets(job.request, settings, job.stem, made.params.seed, tuple(job.targets.files)))


def _cancellable(report: Progress, cancel: threading.Event | None) -> Progress:
    """``report``, and the place a cancel stops scoring, finishing and the classic engine at their next
    step (like ``_ticker`` for encoders). Not for the SVD engine: it stops itself, freeing GPU memory."""
    def on_progress(stage: str, done: int, total: int) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        report(stage, done, total)
    return on_progress


def _ticker(report: Progress, cancel: threading.Event | None) -> Callable[[str], Callable[[int, int], None]]:
    """Progress for one encoder, and the place a cancel stops a long encode."""
    def tick(stage: str) -> Callable[[int, int], None]:
        def on_frame(done: int, total: int) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            report(stage, done, total)
        return on_frame
    return tick


def _encode(made: _Made, targets: _Targets, tmp_dir: Path,
            tick: Callable[[str], Callable[[int, int], None]]) -> tuple[dict[Format, Path], dict[str, float]]:
    """Every format into ``tmp_dir``; returns the files and the timings so far."""
    frames, fps = made.frames, made.fps
    staged: dict[Format, Path] = {}
    timings = dict(made.timings)
    for fmt, final in targets.files.items():
        t0 = time.perf_counter()
        target = tmp_dir / final.name
        if fmt == Format.MP4:
            staged[fmt] = write_mp4(frames, target, fps, preset=made.x264_preset, on_frame=tick(Stage.ENCODE))
        elif fmt == Format.WEBM:
            staged[fmt] = write_webm(frames, target, fps, on_frame=tick(Stage.WEBM))
        elif fmt == Format.GIF:
            staged[fmt] = write_gif(frames, target, fps, on_frame=tick(Stage.GIF))
        else:
            tick(Stage.POSTER)(0, 1)
            staged[fmt] = write_poster(np.asarray(frames[0]), target)
        timings["encode" if fmt == Format.MP4 else fmt.value] = round(time.perf_counter() - t0, 3)
    return staged, timings


def _make_svd(job: _Job, settings: Settings, report: Progress, cancel: threading.Event | None) -> _Made:
    params, finish, plan = job.params, job.finish, job.takes
    fitted = imageprep.fit(job.photo, params.width, params.height, params.fit)
    folder = hub.ensure_model(settings)
    from . import engine  # torch is imported only when a generation really runs

    def render(p: presets.GenerationParams) -> EngineOutput:
        return engine.generate(str(folder), fitted, p, p.seed, report, cancel)

    check = product_check.prepare(job.photo, classic.load_alpha(job.request.image), Engine.SVD)
    each = takes.preview_params(params) if plan.previews else params
    taken, notes = _takes(job, check, report, cancel, lambda take: render(replace(each, seed=take.seed)),
                          lambda out: out.frames, [TakeInfo(seed=seed, steps=each.steps, speed=each.speed)
                                                   for seed in takes.seeds(params.seed, plan.count)])
    if taken is not None:
        params = replace(params, seed=taken.takes[taken.kept].seed)
    if taken is None or plan.previews:  # the one video, or the kept preview's seed rendered in full
        out = render(params)
        fidelity = product_check.score(check, out.frames, _cancellable(report, cancel))
    else:  # the kept attempt is the video
        out, fidelity = taken.made, taken.fidelity
    t0 = time.perf_counter()
    frames, fps = finishing.finish(out.frames, params.fps, finish, on_progress=_cancellable(report, cancel))
    timings = {k: round(v, 3) for k, v in out.timings.items()} | _takes_timing(taken)
    if not finish.is_identity:
        timings["finish"] = round(time.perf_counter() - t0, 3)
    meta = dict(model_folder=str(folder), memory_plan=out.plan, decode_chunk_used=out.decode_chunk,
                speed_mode=out.speed, turbo_reuse=out.reuse, model_loaded_this_run=out.load_seconds > 0,
                model_load_s=round(out.load_seconds, 3), engine_frames=int(out.frames.shape[0]), engine_fps=params.fps)
    return _Made(frames, fps, fitted, timings, (*notes, *out.fallbacks), meta, engine.versions(), params, fidelity,
                 **_takes_fields(taken))


def _make_classic(job: _Job, report: Progress, cancel: threading.Event | None) -> _Made:
    """Camera motion over the photo, rendered straight at the final size and fps: the framing
    sets the canvas, interpolation sets a higher render rate, and a crossfade loop becomes a
    camera path that returns to its start (seamless with no ghosting)."""
    request, params, finish, photo = job.request, job.params, job.finish, job.photo
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
    alpha = classic.load_alpha(request.image)
    frames = finishing.source_frames(count, Loop.BOOMERANG) if looped else count

    def render(camera: Camera) -> classic.Rendered:
        report(Stage.RENDER, 0, 1)
        rendered = classic.render(photo, size, frames, camera, finish.background, params.fit,
                                  alpha if camera == Camera.PARALLAX else None, periodic, params.seed)
        report(Stage.RENDER, 1, 1)
        return rendered

    check = product_check.prepare(photo, alpha, Engine.CLASSIC)
    cameras = takes.cameras(job.camera, job.takes.count)
    taken, notes = _takes(job, check, report, cancel, lambda take: render(Camera(take.camera)),
                          lambda rendered: rendered.clip,
                          [TakeInfo(seed=params.seed, camera=camera) for camera in cameras])
    if taken is None:
        rendered = render(job.camera)
        fidelity = product_check.score(check, rendered.clip, report)
    else:  # a camera move is exact: the kept take is the video
        rendered, fidelity = taken.made, taken.fidelity
        if len(cameras) < job.takes.count:
            notes = (*notes, f"The classic engine has {len(cameras)} camera moves: {len(cameras)} takes, "
                             f"not {job.takes.count}.")
    clip = finishing.loop(rendered.clip, Loop.BOOMERANG) if looped else rendered.clip
    clip = finishing.fit_length(clip, count, closed=finish.loop != Loop.NONE)
    timings = {"prepare": round(time.perf_counter() - t0, 3)} | _takes_timing(taken)
    meta = dict(classic=ClassicInfo(rendered.camera, rendered.camera.label, rendered.separation, round(count / fps, 3),
                                    size))
    import cv2

    versions = {"python": platform.python_version(), "opencv": cv2.__version__, "av": av.__version__,
                "numpy": np.__version__}
    return _Made(clip, fps, classic.still(photo, size, finish.background, params.fit), timings,
                 (*notes, *rendered.notes), meta, versions, params, fidelity, x264_preset=CLASSIC_X264_PRESET,
                 **_takes_fields(taken))


def _takes(job: _Job, check: product_check.Check, report: Progress, cancel: threading.Event | None,
           render: Callable[[TakeInfo], Any], frames_of: Callable[[Any], Any],
           candidates: list[TakeInfo]) -> tuple[takes.Taken | None, tuple[str, ...]]:
    """The request's takes (None when it asks for one, or when none can be scored) and notes
    for the user. Ends by reporting the kept take's stage: what follows belongs to it."""
    plan = job.takes
    if plan.count == 1:
        return None, ()
    if check.error is not None:
        return None, (f"Made one take instead of {plan.count}: the product cannot be checked "
                      f"({check.error.message})",)
    taken = takes.run(candidates, render, frames_of, lambda frames: product_check.score(check, frames, report),
                      report, cancel, stop_at=plan.min_fidelity, keep_renders=not plan.previews or
                      job.engine.engine == Engine.CLASSIC, thumbnails=job.targets.folder is not None)
    report(Stage.FINAL, 0, 1)
    return taken, ()


def _takes_fields(taken: takes.Taken | None) -> dict[str, Any]:
    return {} if taken is None else {"takes": taken.takes, "thumbnails": taken.thumbnails}


def _takes_timing(taken: takes.Taken | None) -> dict[str, float]:
    return {} if taken is None else {"takes": round(taken.seconds, 3)}


def _write_previews(made: _Made, folder: Path) -> _Made:
    """Each take's small preview GIF into ``folder``/takes/, named in its record."""
    if not any(t is not None for t in made.thumbnails):
        return made
    (folder / TAKES_FOLDER).mkdir()
    named = []
    for i, (take, thumb) in enumerate(zip(made.takes, made.thumbnails), 1):
        if thumb is not None:
            name = f"{TAKES_FOLDER}/take-{i}.gif"
            write_gif(thumb, folder / name, TAKE_PREVIEW_FPS)
            take = replace(take, preview=name)
        named.append(take)
    return replace(made, takes=tuple(named))


def _extra_target(video: Path, final_dir: Path | None, fmt: str) -> Path:
    """Where an extra format goes: beside video.mp4 in the job folder, or beside --out."""
    if fmt == Format.POSTER:
        return video.with_name("poster.png") if final_dir is not None else video.with_name(f"{video.stem}-poster.png")
    return video.with_suffix(f".{fmt}")


def _targets(request: GenerationRequest, settings: Settings, stem: str, seed: int,
             formats: tuple[Format, ...]) -> _Targets:
    """Where the result's files go, checked before any work so a bad --out fails fast."""
    video, meta, folder = _places(request, settings, stem, seed)
    files = {Format.MP4: video, **{f: _extra_target(video, folder, f) for f in formats if f != Format.MP4}}
    staging = _writable_parent(folder.parent if folder is not None else video.parent, video)
    return _Targets(files, meta, folder, staging)


def _places(request: GenerationRequest, settings: Settings, stem: str, seed: int) -> tuple[Path, Path, Path | None]:
    """The video, its metadata and (without --out) the result's folder, named for the seed."""
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
    """The folder results are staged in, created and checked."""
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


def _metadata(job: _Job, settings: Settings, made: _Made, output: OutputInfo, timings: dict[str, float]) -> ResultMeta:
    """Everything needed to reproduce or audit the video; never the token."""
    request, engine_name = job.request, job.engine.engine
    svd = engine_name == Engine.SVD
    name = request.image_name or (Path(request.image).name if isinstance(request.image, (str, os.PathLike)) else None)
    return ResultMeta(
        app_version=__version__, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        engine=engine_name, engine_requested=request.engine, engine_label=engine_name.label,
        model=settings.model if svd else None, revision=(settings.revision or "main") if svd else None,
        preset=request.preset, seed=made.params.seed, settings=made.params, finishing=job.finish,
        fallbacks=made.fallbacks, timings_s=timings, versions=made.versions,
        input=InputInfo(name, job.photo.width, job.photo.height), output=output,
        fidelity=product_check.with_requirement(made.fidelity, job.takes.min_fidelity), takes=made.takes,
        **made.meta_fields)
