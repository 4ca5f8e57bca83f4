"""Run one request end to end and write its files atomically; list past results.

A result is ``outputs/<time>-<photo>-<seed>/{video.mp4,input.png,meta.json}`` (or the
``--out`` path plus a ``.json`` sidecar). Everything is written into a hidden temporary
folder first and moved into place at the end, so a failure or a cancel leaves nothing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import __version__, hub, imageprep, presets
from .errors import Cancelled, InputError, SvdAppError
from .request import ENGINES, GenerationRequest, GenerationResult
from .settings import Settings, load_settings
from .video import output_error, write_mp4

Progress = Callable[[str, int, int], None]
TMP_PREFIX = ".svdapp-tmp-"


def run_request(request: GenerationRequest, settings: Settings | None = None, progress: Progress | None = None,
                cancel: threading.Event | None = None) -> GenerationResult:
    """Photo → video file + metadata. Raises SvdAppError (with its fix) on any failure."""
    settings = settings or load_settings()
    report = progress or (lambda stage, done, total: None)
    if request.engine not in ENGINES:
        raise InputError(f"Unknown engine '{request.engine}'.", f"Use one of: {', '.join(ENGINES)}.")
    params = presets.resolve(request.preset, request.overrides, request.portrait)
    seed = params.seed if params.seed is not None else secrets.randbelow(2**32)
    params = replace(params, seed=seed)
    started = time.perf_counter()

    photo = imageprep.load_image(request.image)
    fitted = imageprep.fit(photo, params.width, params.height, params.fit)

    folder = hub.ensure_model(settings)
    from . import engine  # torch is imported only when a generation really runs

    out = engine.generate(str(folder), fitted, params, seed, progress, cancel)
    frames = out.frames

    stem = request.image_name or (Path(request.image).stem if isinstance(request.image, (str, os.PathLike)) else "photo")
    final_video, final_meta, final_dir = _targets(request, settings, stem, seed)
    staging_parent = final_dir.parent if final_dir is not None else final_video.parent
    tmp_dir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=_writable_parent(staging_parent)))
    try:
        t0 = time.perf_counter()
        video_tmp = write_mp4(frames, tmp_dir / "video.mp4", params.fps,
                              on_frame=lambda i, n: report("encode", i, n))
        timings = {**{k: round(v, 3) for k, v in out.timings.items()}, "encode": round(time.perf_counter() - t0, 3)}
        timings["total"] = round(time.perf_counter() - started, 3)
        if final_dir is not None:
            fitted.save(tmp_dir / "input.png")
        meta = _meta(request, settings, params, out, frames, timings, folder, photo, engine.versions())
        meta["output"]["video"] = str(final_video)
        _write_json(tmp_dir / "meta.json", meta)
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if final_dir is not None:
            os.replace(tmp_dir, final_dir)
            tmp_dir = None
        else:
            os.replace(video_tmp, final_video)
            os.replace(tmp_dir / "meta.json", final_meta)
    except OSError as exc:
        raise output_error(exc, final_video) from None
    finally:
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    return GenerationResult(
        video=final_video, meta_path=final_meta,
        input_image=(final_dir / "input.png") if final_dir is not None else None,
        seed=seed, frames=int(frames.shape[0]), width=int(frames.shape[2]), height=int(frames.shape[1]),
        fps=params.fps, engine=request.engine, fallbacks=tuple(out.fallbacks), timings=timings, meta=meta)


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
    return final_dir / "video.mp4", final_dir / "meta.json", final_dir


def _writable_parent(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, folder / "video.mp4") from None
    if not os.access(folder, os.W_OK):
        raise output_error(PermissionError(13, "Permission denied"), folder / "video.mp4")
    return folder


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _meta(request, settings, params, out, frames, timings, folder, photo, versions) -> dict[str, Any]:
    """Everything needed to reproduce or audit the video; never the token."""
    return {
        "app": "svdapp",
        "app_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": request.engine,
        "engine_label": "Stable Video Diffusion img2vid-XT 1.1",
        "model": settings.model,
        "revision": settings.revision or "main",
        "model_folder": str(folder),
        "preset": request.preset,
        "seed": params.seed,
        "settings": params.to_dict(),
        "memory_plan": out.plan,
        "decode_chunk_used": out.decode_chunk,
        "fallbacks": list(out.fallbacks),
        "timings_s": timings,
        "versions": versions,
        "input": {"name": request.image_name or (Path(request.image).name if isinstance(request.image, (str, os.PathLike)) else None),
                  "width": photo.width, "height": photo.height},
        "output": {"frames": int(frames.shape[0]), "width": int(frames.shape[2]), "height": int(frames.shape[1]),
                   "fps": params.fps, "duration_s": round(frames.shape[0] / params.fps, 3),
                   "codec": "h264", "pix_fmt": "yuv420p"},
    }


def list_history(outputs_dir: Path, limit: int = 100) -> list[dict[str, Any]]:
    """Finished results, newest first: each meta.json plus its folder."""
    items = []
    if not outputs_dir.is_dir():
        return items
    for meta_path in outputs_dir.glob("*/meta.json"):
        if meta_path.parent.name.startswith(TMP_PREFIX) or not (meta_path.parent / "video.mp4").is_file():
            continue
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        meta["folder"] = str(meta_path.parent)
        items.append(meta)
    items.sort(key=lambda m: m.get("created", ""), reverse=True)
    return items[:limit]


def describe_error(exc: BaseException) -> SvdAppError:
    """Any exception → the SvdAppError a user sees (unknown ones keep their first line)."""
    if isinstance(exc, SvdAppError):
        return exc
    return SvdAppError(f"Unexpected error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                       "Run `svdapp check`; if it passes, report this message with the command you ran.")
