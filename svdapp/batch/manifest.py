"""The output folder's record of a batch: ``manifest.jsonl``, its CSV view, and resume checks.

``DIR/manifest.jsonl`` gets one line per finished attempt, done or failed, and the newest
line for a SKU wins. A rerun skips a SKU whose newest line is ``done`` for the same photo
bytes and settings and whose video still decodes to the recorded frame count; everything
else runs again. ``DIR/manifest.csv`` is the same table for spreadsheets, rewritten as
results come. A lock keeps a second batch out of the folder while one writes to it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..errors import InputError, SvdAppError
from ..history import TMP_PREFIX
from ..result import FidelityInfo, ResultMeta
from ..vocab import Format
from .tasks import Task

MANIFEST = "manifest.jsonl"
MANIFEST_CSV = "manifest.csv"
LOCK_FILE = ".batch.lock"
EXTRA_OUTPUTS = tuple(f.value for f in Format if f != Format.MP4)  # GenerationResult paths, when asked for
CSV_COLUMNS = ("sku", "status", "image", "video", "meta", "seed", "preset", "engine", "frames", "width", "height",
               "fps", "seconds", "product_fidelity", "motion", "review", "takes", "worker", "finished", "error", "hint")


def read_manifest(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The newest record per SKU; a line cut off by a kill is ignored."""
    records: dict[str, dict[str, Any]] = {}
    path = out_dir / MANIFEST
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("sku"):
            records[record["sku"]] = record
    return records


def append_record(out_dir: Path, record: dict[str, Any]) -> None:
    """One JSON line per attempt, flushed to disk before the next product counts as done."""
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    with (out_dir / MANIFEST).open("a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def write_csv_view(out_dir: Path, records: Mapping[str, dict[str, Any]]) -> Path:
    """``manifest.csv``: the newest record per SKU, one row each, replaced atomically."""
    path = out_dir / MANIFEST_CSV
    tmp = out_dir / f".{MANIFEST_CSV}.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for sku in sorted(records):
            writer.writerow({k: ("" if v is None else v) for k, v in records[sku].items()})
    os.replace(tmp, path)
    return path


def is_complete(record: dict[str, Any] | None, task: Task, out_dir: Path) -> bool:
    """Done earlier from the same photo and settings, and the video is still there and whole."""
    if not record or record.get("status") != "done" or record.get("fingerprint") != task.fingerprint:
        return False
    video = out_dir / str(record.get("video"))
    files = [video, out_dir / str(record.get("meta"))] + [out_dir / record[k] for k in EXTRA_OUTPUTS if record.get(k)]
    if not all(f.is_file() for f in files):
        return False
    from ..video import probe
    try:
        return probe(video).frames == record.get("frames")
    except Exception:  # any decoder complaint means the file is not usable
        return False


def repair_manifest_end(out_dir: Path) -> None:
    """A kill mid-write can leave a line without its newline: end it so the next line is whole."""
    path = out_dir / MANIFEST
    if path.is_file() and path.stat().st_size:
        with path.open("rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")


def remove_stale_staging(out_dir: Path) -> None:
    """Staging folders left by a worker that was killed mid-write (run_request cleans up otherwise)."""
    for stale in out_dir.glob(f"*/{TMP_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """One batch per output folder: two would interleave the manifest and overwrite videos."""
    try:
        import fcntl
    except ImportError:  # not on Linux/macOS: no lock
        yield
        return
    with (out_dir / LOCK_FILE).open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(f"Another batch is already writing to {out_dir}.",
                             "Wait for it to finish, or give this one another --out folder.") from None
        yield


# ---------------------------------------------------------------- records

def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def base_record(task: Task, status: str, worker: str, started: float, started_iso: str) -> dict[str, Any]:
    """The fields every manifest line has, done or failed."""
    request = task.request
    return {"sku": task.sku, "status": status, "image": str(request.image), "preset": request.preset,
            "engine": request.engine, "portrait": request.portrait, "seed": request.overrides.get("seed"),
            "fingerprint": task.fingerprint, "worker": worker, "started": started_iso, "finished": now_iso(),
            "seconds": round(time.perf_counter() - started, 3), "error": None, "hint": None}


def fidelity_fields(meta: ResultMeta) -> dict[str, Any]:
    """A done product's product fidelity and motion, whether a person should look at it (under
    --min-fidelity after every take, or not measured), how many takes it had, and why it could
    not be scored."""
    info = meta.fidelity or FidelityInfo()
    return {"product_fidelity": info.product_fidelity, "motion": info.motion, "review": bool(info.review),
            "takes": len(meta.takes) or 1, "fidelity_error": info.error}


def failed_record(task: Task, error: SvdAppError, worker: str = "driver", started: float | None = None,
                  started_iso: str | None = None) -> dict[str, Any]:
    record = base_record(task, "failed", worker, started or time.perf_counter(), started_iso or now_iso())
    record.update(error=error.message, hint=error.hint or None)
    return record
