"""Whole catalogues: one product video per photo, spread over every GPU with Ray.

``svdapp batch --input FOLDER|catalog.csv --out DIR`` makes ``DIR/<sku>/video.mp4`` plus
``DIR/<sku>/video.json`` (the metadata a single run writes) for each product, through the
same ``jobs.run_request`` that ``svdapp make`` uses: the same seed and settings give the
same video either way, and each product's files appear atomically.

Ray places one long-lived worker (an actor) on each GPU. An actor is one process for the
whole batch, so its ``engine.CACHE`` keeps the pipeline loaded between products: weights
are read once per GPU. With no GPU in play (the classic engine, or ``--memory cpu`` with
the tiny test model) there is one CPU worker per core. Without ``--address`` a local Ray
runtime is started for the batch and shut down after it; ``--address auto|ray://…``
joins an existing cluster: every node needs svdapp installed, the model reachable, and
the photos and the output folder on a shared filesystem under the same paths.

On a GPU the same seed and settings give the same frames as a single run on the same kind
of card. On the CPU the frames also depend on torch's thread count: a CPU worker runs with
one thread per reserved core (Ray sets ``OMP_NUM_THREADS``).

Resumable: ``DIR/manifest.jsonl`` gets one line per finished attempt, done or failed, and
the newest line for a SKU wins. A rerun skips a SKU whose newest line is ``done`` for the
same photo bytes and settings and whose video still decodes to the recorded frame count;
everything else runs again. A product that fails is recorded with its error and the rest
go on. ``DIR/manifest.csv`` is the same table for spreadsheets, rewritten as results come.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import sys
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TextIO

from . import presets
from .errors import InputError, SvdAppError
from .request import GenerationRequest
from .settings import Settings, load_settings

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
MANIFEST = "manifest.jsonl"
MANIFEST_CSV = "manifest.csv"
LOCK_FILE = ".batch.lock"
VIDEO_NAME = "video.mp4"
TMP_PREFIX = ".svdapp-tmp-"  # jobs.TMP_PREFIX; repeated so importing this module stays light
EXTRA_OUTPUTS = ("webm", "gif", "poster")  # GenerationResult paths beside the mp4, when asked for
CSV_COLUMNS = ("sku", "status", "image", "video", "meta", "seed", "preset", "engine", "frames", "width", "height",
               "fps", "seconds", "worker", "finished", "error", "hint")
ORIENTATIONS = {"": None, "landscape": False, "horizontal": False, "portrait": True, "vertical": True}
# What a worker process needs from the driver's environment (Ray does not forward it to a cluster).
FORWARDED_ENV = ("SVDAPP_MODEL", "SVDAPP_REVISION", "HF_HUB_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT",
                 "PYTORCH_CUDA_ALLOC_CONF", "SVDAPP_DEBUG")
MAX_RESTARTS = 1  # a worker process that dies (killed for memory, a crash) is started again once
MAX_CPUS_PER_GPU_WORKER = 4


@dataclass(frozen=True)
class Product:
    """One catalogue line: a SKU and its photo, with optional per-product settings."""

    sku: str
    image: Path
    preset: str | None = None
    seed: int | None = None
    portrait: bool | None = None
    motion: int | None = None  # SVD motion bucket (a number in the CSV's motion column)
    camera: str | None = None  # classic engine's camera move (a word there: push-in, pan-left, ...)
    problem: tuple[str, str] | None = None  # (message, hint) of a line that cannot run


@dataclass(frozen=True)
class BatchOptions:
    input: Path
    out_dir: Path
    preset: str = presets.DEFAULT_PRESET
    engine: str | None = None  # None: GenerationRequest's default
    overrides: Mapping[str, Any] = field(default_factory=dict)  # GenerationParams fields for every product
    request_fields: Mapping[str, Any] = field(default_factory=dict)  # other GenerationRequest fields (finishing...)
    portrait: bool = False
    gpus: int | None = None  # None: every GPU Ray sees
    workers: int | None = None  # CPU workers when no GPU is used; None: one per CPU
    address: str | None = None  # None: a local Ray runtime for this batch


@dataclass(frozen=True)
class Task:
    """What a worker needs for one product (picklable)."""

    sku: str
    request: GenerationRequest
    fingerprint: str


@dataclass(frozen=True)
class BatchSummary:
    total: int
    done: int
    failed: int
    skipped: int
    seconds: float
    workers: int
    out_dir: Path
    failures: tuple[tuple[str, str], ...] = ()  # (sku, message)
    interrupted: bool = False

    @property
    def not_run(self) -> int:
        return self.total - self.done - self.failed - self.skipped

    @property
    def videos_per_hour(self) -> float:
        return self.done * 3600 / self.seconds if self.done and self.seconds > 0 else 0.0

    @property
    def manifest(self) -> Path:
        return self.out_dir / MANIFEST


Report = Callable[[dict[str, Any]], None]


# ---------------------------------------------------------------- the catalogue

def load_catalog(source: str | os.PathLike) -> list[Product]:
    """A folder of photos (SKU = file name) or a CSV with columns sku, image[, preset, seed,
    orientation, motion]; image paths in a CSV are relative to the CSV's folder."""
    path = Path(source).expanduser()
    if path.is_dir():
        products = _folder_products(path)
    elif path.is_file() and path.suffix.lower() == ".csv":
        products = _csv_products(path)
    elif path.exists():
        raise InputError(f"--input {path} is neither a folder nor a .csv file.",
                         "Give a folder of product photos or a catalog.csv with columns sku,image.")
    else:
        raise InputError(f"--input {path} does not exist.", "Check the path (quote it if it has spaces).")
    if not products:
        raise InputError(f"No products found in {path}.",
                         f"Put photos ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder, or rows in the CSV.")
    _check_unique(products)
    return products


def safe_sku(sku: str) -> str:
    """The SKU as a folder name: letters, digits, '.', '_' and '-' only."""
    return re.sub(r"[^\w.-]+", "-", sku.strip(), flags=re.UNICODE).strip(".-")[:100]


def _folder_products(folder: Path) -> list[Product]:
    photos = sorted(p for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    return [Product(sku=safe_sku(p.stem) or "photo", image=p.resolve()) for p in photos]


def _csv_products(path: Path) -> list[Product]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel's byte-order mark
            reader = csv.DictReader(fh)
            columns = {(name or "").strip().lower(): name for name in reader.fieldnames or ()}
            if "sku" not in columns or "image" not in columns:
                raise InputError(f"{path.name} needs the columns sku and image (found: {', '.join(columns) or 'none'}).",
                                 "First line: sku,image,preset,seed,orientation,motion (the last four optional).")
            rows = [{key: (row.get(name) or "").strip() for key, name in columns.items()} for row in reader]
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 text.", "Save the sheet as 'CSV UTF-8'.") from None
    except csv.Error as exc:
        raise InputError(f"{path.name} is not a readable CSV ({exc}).", "Save the sheet as CSV (comma separated).") from None
    return [_row_product(row, path.parent) for row in rows if any(row.values())]


def _row_product(row: dict[str, str], base: Path) -> Product:
    image = Path(row["image"]).expanduser() if row["image"] else Path()
    sku = safe_sku(row["sku"] or image.stem) or "product"
    image = (base / image).resolve() if row["image"] else base / f"<no image for {sku}>"
    try:
        if not row["image"]:
            raise InputError(f"Row '{sku}' has no image.", "Fill in the image column (a path relative to the CSV).")
        motion, camera = _motion_cell(row.get("motion", ""))
        return Product(sku=sku, image=image, preset=row.get("preset") or None,
                       seed=_int_cell(row, "seed", "a whole number 0–4294967295"),
                       portrait=_orientation(row.get("orientation", "")), motion=motion, camera=camera)
    except InputError as exc:
        return Product(sku=sku, image=image, problem=(exc.message, exc.hint))


def _int_cell(row: dict[str, str], column: str, allowed: str) -> int | None:
    text = row.get(column, "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{column} '{text}' is not a number.", f"Use {allowed}, or leave it empty.") from None


def _motion_cell(text: str) -> tuple[int | None, str | None]:
    """A number is SVD's motion bucket; a word is the classic engine's camera move."""
    if not text:
        return None, None
    try:
        return int(text), None
    except ValueError:
        return None, text


def _orientation(text: str) -> bool | None:
    key = text.strip().lower()
    if key not in ORIENTATIONS:
        raise InputError(f"Orientation '{text}' is not known.", "Use landscape or portrait, or leave it empty.")
    return ORIENTATIONS[key]


def _check_unique(products: Sequence[Product]) -> None:
    seen: dict[str, Product] = {}
    for product in products:
        other = seen.setdefault(product.sku.lower(), product)
        if other is not product:
            raise InputError(f"Two products would share the output folder '{product.sku}' "
                             f"({other.image.name} and {product.image.name}).",
                             "Give every product its own SKU (or rename one of the photos).")


# ---------------------------------------------------------------- tasks and the manifest

def build_task(product: Product, options: BatchOptions) -> Task:
    """The request for one product; raises InputError for settings that cannot run."""
    if product.problem:
        raise InputError(*product.problem)
    overrides = dict(options.overrides)
    if product.seed is not None:
        overrides["seed"] = product.seed
    if product.motion is not None:
        overrides["motion"] = product.motion
    preset = product.preset or options.preset
    portrait = options.portrait if product.portrait is None else product.portrait
    presets.resolve(preset, overrides, portrait)  # validates before any worker starts
    extra = dict(options.request_fields)
    if options.engine:
        extra["engine"] = options.engine
    if product.camera:
        extra["motion_style"] = product.camera
    request = GenerationRequest(image=str(product.image), preset=preset, overrides=overrides, portrait=portrait,
                                out=options.out_dir / product.sku / VIDEO_NAME, image_name=product.sku, **extra)
    return Task(product.sku, request, fingerprint(request))


def fingerprint(request: GenerationRequest) -> str:
    """Identity of what a product's video was made from: photo bytes and every setting."""
    try:
        photo = hashlib.sha256(Path(request.image).read_bytes()).hexdigest()
    except OSError:
        photo = "unreadable"
    data = {f.name: getattr(request, f.name) for f in fields(request) if f.name not in ("image", "out", "image_name")}
    data.update(photo=photo, overrides=dict(sorted(request.overrides.items())))
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


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
    from .video import probe
    try:
        return probe(video).frames == record.get("frames")
    except Exception:  # any decoder complaint means the file is not usable
        return False


def _repair_manifest_end(out_dir: Path) -> None:
    """A kill mid-write can leave a line without its newline: end it so the next line is whole."""
    path = out_dir / MANIFEST
    if path.is_file() and path.stat().st_size:
        with path.open("rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")


def _remove_stale_staging(out_dir: Path) -> None:
    """Staging folders left by a worker that was killed mid-write (run_request cleans up otherwise)."""
    for stale in out_dir.glob(f"*/{TMP_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
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

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _base_record(task: Task, status: str, worker: str, started: float, started_iso: str) -> dict[str, Any]:
    request = task.request
    return {"sku": task.sku, "status": status, "image": str(request.image), "preset": request.preset,
            "engine": request.engine, "portrait": request.portrait, "seed": request.overrides.get("seed"),
            "fingerprint": task.fingerprint, "worker": worker, "started": started_iso, "finished": _now(),
            "seconds": round(time.perf_counter() - started, 3), "error": None, "hint": None}


def failed_record(task: Task, error: SvdAppError, worker: str = "driver", started: float | None = None,
                  started_iso: str | None = None) -> dict[str, Any]:
    record = _base_record(task, "failed", worker, started or time.perf_counter(), started_iso or _now())
    record.update(error=error.message, hint=error.hint or None)
    return record


def generate_one(task: Task, settings: Settings, worker: str = "local") -> dict[str, Any]:
    """Make one product's video; every failure becomes a ``failed`` record, never an exception."""
    from .jobs import describe_error, run_request
    started, started_iso = time.perf_counter(), _now()
    try:
        result = run_request(task.request, settings)
    except Exception as exc:  # one product's failure must not stop the catalogue
        return failed_record(task, describe_error(exc), worker, started, started_iso)
    out_dir = Path(task.request.out).parent.parent
    record = _base_record(task, "done", worker, started, started_iso)
    record.update(video=result.video.relative_to(out_dir).as_posix(),
                  meta=result.meta_path.relative_to(out_dir).as_posix(), seed=result.seed,
                  engine=result.engine, frames=result.frames, width=result.width, height=result.height,
                  fps=result.fps, fallbacks=list(result.fallbacks), timings=result.timings,
                  settings=result.meta.get("settings"), engine_label=getattr(result, "engine_label", "") or None)
    for name in EXTRA_OUTPUTS:
        path = getattr(result, name, None)
        if path is not None:
            record[name] = Path(path).relative_to(out_dir).as_posix()
    return record


class BatchWorker:
    """One per GPU (or CPU slot): a long-lived process whose ``engine.CACHE`` keeps the pipeline."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = f"{name}@{socket.gethostname()}"

    def generate(self, task: Task) -> dict[str, Any]:
        return generate_one(task, self.settings, self.name)


# ---------------------------------------------------------------- Ray

@dataclass(frozen=True)
class WorkerPlan:
    count: int
    gpus_each: int
    cpus_each: float

    @property
    def label(self) -> str:
        return "gpu" if self.gpus_each else "cpu"


def plan_workers(resources: Mapping[str, float], uses_gpu: bool, tasks: int, gpus: int | None = None,
                 workers: int | None = None) -> WorkerPlan:
    """How many workers, and what each reserves, from what the Ray cluster offers."""
    have_gpus, have_cpus = int(resources.get("GPU", 0)), max(1.0, float(resources.get("CPU", 1)))
    if uses_gpu:
        if gpus is not None and gpus < 1:
            raise InputError("--gpus 0 leaves no GPU for the SVD engine.",
                             "Use --memory cpu (very slow) or --engine classic to run on processors only.")
        if have_gpus == 0:
            raise InputError("Ray sees no GPU, and the SVD engine needs one.",
                             "Run on a machine (or --address a cluster) with NVIDIA GPUs, or pass --memory cpu "
                             "(very slow) or --engine classic.")
        if gpus is not None and gpus > have_gpus:
            raise InputError(f"--gpus {gpus} asks for more GPUs than Ray sees ({have_gpus}).",
                             f"Use --gpus {have_gpus} or leave --gpus out to use them all.")
        count = min(gpus or have_gpus, tasks)
        cpus = have_cpus / count
        return WorkerPlan(count, 1, float(min(MAX_CPUS_PER_GPU_WORKER, int(cpus))) if cpus >= 1 else cpus)
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be 1 or more, got {workers}.", "Leave it out for one worker per CPU.")
    count = min(workers or int(have_cpus), tasks)
    return WorkerPlan(count, 0, 1.0 if count <= have_cpus else have_cpus / count)


def worker_env(settings: Settings) -> dict[str, str]:
    """Variables a worker process needs, passed explicitly (a cluster node has its own environment)."""
    env = {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}
    env["SVDAPP_MODEL"] = settings.model
    return env


@contextmanager
def ray_session(address: str | None) -> Iterator[Mapping[str, float]]:
    """Join ``address`` or start a local runtime; yields the cluster's resources.

    A session the caller opened already (a notebook, a test) is used as it is and left open.
    """
    import ray
    if ray.is_initialized():
        yield ray.cluster_resources()
        return
    common = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **common)
        else:
            ray.init(address="local", include_dashboard=False, **common)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError... for a bad address
        where = f"the Ray cluster at {address}" if address else "a local Ray runtime"
        raise SvdAppError(f"Could not start or reach {where} ({type(exc).__name__}: {exc}).",
                          "Leave --address out to run on this machine; for a cluster, run `ray start --head` "
                          "there and pass --address auto (on a node) or ray://HEAD:10001.") from None
    try:
        yield ray.cluster_resources()
    finally:
        ray.shutdown()


def _start_workers(plan: WorkerPlan, settings: Settings) -> list[Any]:
    import ray
    actor = ray.remote(BatchWorker).options(num_gpus=plan.gpus_each, num_cpus=plan.cpus_each,
                                            max_restarts=MAX_RESTARTS, max_task_retries=0,
                                            runtime_env={"env_vars": worker_env(settings)})
    return [actor.remote(settings, f"{plan.label}{i}") for i in range(plan.count)]


def _dispatch(workers: list[Any], tasks: Sequence[Task], on_record: Report, tick: Callable[[], None]) -> None:
    """Keep every worker busy with one product at a time until none are left."""
    import ray
    from ray.exceptions import RayActorError, RayError

    pending, in_flight, deaths = deque(tasks), {}, {id(w): 0 for w in workers}
    started: dict[Any, tuple[float, str]] = {}

    def submit(worker: Any) -> None:
        if pending:
            task = pending.popleft()
            ref = worker.generate.remote(task)
            in_flight[ref] = (worker, task)
            started[ref] = (time.perf_counter(), _now())

    for worker in workers:
        submit(worker)
    while in_flight:
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
        tick()
        if not ready:
            continue
        ref = ready[0]
        worker, task = in_flight.pop(ref)
        try:
            record = ray.get(ref)
        except RayActorError as exc:
            deaths[id(worker)] += 1
            record = failed_record(task, SvdAppError(
                f"The worker process stopped while making this video ({type(exc).__name__}).",
                "Often it ran out of memory (CPU RAM or GPU); run the batch again to retry this product."),
                "worker", *started[ref])
        except RayError as exc:
            record = failed_record(task, SvdAppError(f"Ray failed on this product: {str(exc).splitlines()[0]}",
                                                     "Run the batch again to retry this product."), "worker",
                                   *started[ref])
        on_record(record)
        if deaths[id(worker)] <= MAX_RESTARTS:
            submit(worker)
    if pending:
        raise SvdAppError(f"Every worker process stopped; {len(pending)} products were not made.",
                          "See manifest.jsonl for the products that failed, fix the cause, and rerun.")


# ---------------------------------------------------------------- progress

class BatchProgress:
    """Overall progress on stderr: a line per product, and a bar with ETA on a terminal."""

    def __init__(self, stream: TextIO | None = sys.stderr) -> None:
        self.stream = stream  # None: silent (library use, tests)
        self.tty = bool(stream is not None and stream.isatty())
        self.total = self.finished = self.failed = 0
        self.start = time.perf_counter()

    def begin(self, to_make: int, skipped: int, workers: str) -> None:
        self.total, self.start = to_make, time.perf_counter()
        note = f" ({skipped} already done, skipped)" if skipped else ""
        self._line(f"Making {to_make} video{'s' * (to_make != 1)} on {workers}{note}." if to_make
                   else f"Nothing to make: all {skipped} products are already done.")

    def __call__(self, record: dict[str, Any]) -> None:
        self.finished += 1
        self.failed += record["status"] != "done"
        mark = "✓" if record["status"] == "done" else "✗"
        detail = f"{record['seconds']:.1f} s, {record.get('worker', '')}"
        if record["status"] != "done":
            detail = record.get("error") or "failed"
        self._line(f"{self._counter()} {mark} {record['sku']} — {detail}  ·  {self._times()}")

    def tick(self) -> None:
        if self.tty and self.total:
            bar = self._bar()
            self.stream.write(f"\r\x1b[K{bar} {self._counter()}  {self._times()}")
            self.stream.flush()

    def eta(self) -> float | None:
        if not self.finished or self.finished >= self.total:
            return None
        return (time.perf_counter() - self.start) / self.finished * (self.total - self.finished)

    def _counter(self) -> str:
        width = len(str(self.total))
        pct = 100 * self.finished // self.total if self.total else 100
        return f"[{self.finished:>{width}}/{self.total}] {pct:3d}%"

    def _bar(self, width: int = 24) -> str:
        filled = width * self.finished // self.total if self.total else width
        return "█" * filled + "░" * (width - filled)

    def _times(self) -> str:
        eta = self.eta()
        return f"elapsed {_clock(time.perf_counter() - self.start)}" + (f", ETA {_clock(eta)}" if eta is not None else "")

    def _line(self, text: str) -> None:
        if self.stream is None:
            return
        prefix = "\r\x1b[K" if self.tty else ""
        self.stream.write(prefix + text + "\n")
        self.stream.flush()
        self.tick()

    def end(self) -> None:
        if self.tty and self.total:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a scheduler or `kill` stopping the batch) like Ctrl-C, so Ray and its
    workers are shut down and the summary is printed; killed outright, Ray leaves helpers behind."""
    import signal

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


# ---------------------------------------------------------------- the batch

def run_batch(options: BatchOptions, settings: Settings | None = None,
              progress: BatchProgress | None = None) -> BatchSummary:
    """Make every product's video that is not already done; returns the counts."""
    started = time.perf_counter()
    settings = _absolute_model(settings or load_settings())
    options = replace(options, out_dir=Path(options.out_dir).expanduser().resolve())
    products = load_catalog(options.input)
    params = presets.resolve(options.preset, options.overrides, options.portrait)  # bad flags fail here
    _check_engine(options.engine)
    out_dir = options.out_dir
    _make_out_dir(out_dir)
    with _locked(out_dir):
        _repair_manifest_end(out_dir)
        _remove_stale_staging(out_dir)
        records = read_manifest(out_dir)
        state = _BatchState(out_dir, records, progress or BatchProgress(None))
        todo = _plan(products, options, state)
        interrupted = False
        try:
            if todo:
                _run_on_ray(todo, options, settings, params, state)
            else:
                state.progress.begin(0, state.skipped, "")
        except KeyboardInterrupt:
            interrupted = True
        finally:
            state.progress.end()
            write_csv_view(out_dir, state.records)
    return BatchSummary(total=len(products), done=state.done, failed=len(state.failures), skipped=state.skipped,
                        seconds=time.perf_counter() - started, workers=state.workers, out_dir=out_dir,
                        failures=tuple(state.failures), interrupted=interrupted)


@dataclass
class _BatchState:
    """Counts and newest records while one batch runs (local to ``run_batch``)."""

    out_dir: Path
    records: dict[str, dict[str, Any]]
    progress: BatchProgress
    done: int = 0
    skipped: int = 0
    workers: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def record(self, record: dict[str, Any]) -> None:
        append_record(self.out_dir, record)
        self.records[record["sku"]] = record
        if record["status"] == "done":
            self.done += 1
        else:
            self.failures.append((record["sku"], record.get("error") or "failed"))
        write_csv_view(self.out_dir, self.records)


def _plan(products: Sequence[Product], options: BatchOptions, state: _BatchState) -> list[Task]:
    """Tasks still to make; lines that cannot run are recorded as failed, finished ones skipped."""
    todo: list[Task] = []
    for product in products:
        try:
            task = build_task(product, options)
        except InputError as exc:
            task = Task(product.sku, GenerationRequest(image=str(product.image), preset=product.preset or
                                                       options.preset, image_name=product.sku), "")
            state.record(failed_record(task, exc))
            continue
        if is_complete(state.records.get(product.sku), task, options.out_dir):
            state.skipped += 1
        else:
            todo.append(task)
    return todo


def _run_on_ray(todo: list[Task], options: BatchOptions, settings: Settings, params: presets.GenerationParams,
                state: _BatchState) -> None:
    engine = options.engine or _default_engine()
    if engine == "svd" and not options.address:
        from .hub import ensure_model
        ensure_model(settings)  # download once here, not once per worker; fail early without a model
    # After ray.init: Ray installs its own SIGTERM handler, which would exit without cleanup.
    with ray_session(options.address) as resources, sigterm_as_interrupt():
        uses_gpu = _uses_gpu(engine, params.memory, resources)
        plan = plan_workers(resources, uses_gpu, len(todo), options.gpus, options.workers)
        workers = _start_workers(plan, settings)
        state.workers = plan.count
        kind = "GPU" if plan.gpus_each else "CPU"
        state.progress.begin(len(todo), state.skipped, f"{plan.count} {kind} worker{'s' * (plan.count > 1)}")
        try:
            _dispatch(workers, todo, _reporting(state), state.progress.tick)
        finally:
            _stop_workers(workers)


def _reporting(state: _BatchState) -> Report:
    def on_record(record: dict[str, Any]) -> None:
        state.record(record)
        state.progress(record)
    return on_record


def _stop_workers(workers: list[Any]) -> None:
    import ray
    for worker in workers:
        try:
            ray.kill(worker)
        except Exception:  # already gone
            pass


def _uses_gpu(engine: str, memory: str, resources: Mapping[str, float]) -> bool:
    """GPU workers for SVD; "auto" takes the GPUs when there are some (each worker then picks
    svd or classic exactly as a single run does), CPU workers otherwise."""
    if memory == "cpu" or engine not in ("svd", "auto"):
        return False
    return engine == "svd" or resources.get("GPU", 0) > 0


def _default_engine() -> str:
    return next(f.default for f in fields(GenerationRequest) if f.name == "engine")


def _check_engine(engine: str | None) -> None:
    from .request import ENGINES
    if engine is not None and engine not in ENGINES:
        raise InputError(f"Unknown engine '{engine}'.", f"Use one of: {', '.join(ENGINES)}.")


def _absolute_model(settings: Settings) -> Settings:
    """A local model folder as an absolute path: workers may run in another directory."""
    if settings.model_is_local:
        return replace(settings, model=str(Path(settings.model).expanduser().resolve()))
    return settings


def _make_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the output folder {out_dir} ({exc.strerror}).",
                         "Pick a folder you can write to with --out.") from None
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"The output folder {out_dir} is not writable.", "Pick a folder you can write to with --out.")


def format_summary(summary: BatchSummary) -> str:
    """The closing lines a user sees: counts, speed, failures, where the manifest is."""
    head = (f"{summary.done} done, {summary.failed} failed, {summary.skipped} skipped (of {summary.total}) "
            f"in {_clock(summary.seconds)}")
    if summary.done:
        head += f" — {summary.videos_per_hour:.1f} videos/hour on {summary.workers} worker{'s' * (summary.workers != 1)}"
    lines = [("Interrupted: " if summary.interrupted else "Batch finished: ") + head]
    lines += [f"  ✗ {sku}: {message}" for sku, message in summary.failures[:20]]
    if len(summary.failures) > 20:
        lines.append(f"  … and {len(summary.failures) - 20} more")
    if summary.not_run:
        lines.append(f"  {summary.not_run} not made yet: run the same command again to continue.")
    elif summary.failed:
        lines.append("  Fix the failed products (see the error column) and run the same command again; "
                     "finished videos are skipped.")
    lines.append(f"Videos: {summary.out_dir}/<sku>/{VIDEO_NAME}   manifest: {summary.manifest} "
                 f"(table: {summary.out_dir / MANIFEST_CSV})")
    return "\n".join(lines)
