"""One batch from start to end: read the catalogue, skip what is done, run the rest on Ray.

``run_batch`` checks the flags and the catalogue before Ray starts, holds the output folder's
lock while it runs, records every product's result in the manifest as it comes, and returns
the counts. A product that fails is recorded with its error and the rest go on; Ctrl-C or
SIGTERM stops the batch with the manifest whole, so the same command resumes it.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .. import presets, takes
from ..errors import InputError
from ..request import GenerationRequest, engine_asked
from ..settings import Settings, load_settings
from ..vocab import Engine, MemoryPlan
from .catalog import Product, load_catalog
from .manifest import (append_record, failed_record, is_complete, locked, read_manifest, remove_stale_staging,
                       repair_manifest_end, write_csv_view)
from .progress import BatchProgress, BatchSummary
from .tasks import BatchOptions, Task, build_task
from .workers import Report, dispatch, plan_workers, ray_session, start_workers, stop_workers


def run_batch(options: BatchOptions, settings: Settings | None = None,
              progress: BatchProgress | None = None) -> BatchSummary:
    """Make every product's video that is not already done; returns the counts."""
    started = time.perf_counter()
    settings = _absolute_model(settings or load_settings())
    options = replace(options, out_dir=Path(options.out_dir).expanduser().resolve())
    products = load_catalog(options.input)
    params = presets.resolve(options.preset, options.overrides, options.portrait)  # bad flags fail here
    takes.plan(options.request_fields.get("takes"), options.request_fields.get("min_fidelity"))
    engine = engine_asked(options.engine or _default_engine(), options.overrides)  # as each product's run decides
    out_dir = options.out_dir
    _make_out_dir(out_dir)
    with locked(out_dir):
        repair_manifest_end(out_dir)
        remove_stale_staging(out_dir)
        records = read_manifest(out_dir)
        state = _BatchState(out_dir, records, progress or BatchProgress(None))
        todo = _plan(products, options, state)
        interrupted = False
        try:
            if todo:
                _run_on_ray(todo, options, settings, engine, params.memory, state)
            else:
                state.progress.begin(0, state.skipped, "")
        except KeyboardInterrupt:
            interrupted = True
        finally:
            state.progress.end()
            write_csv_view(out_dir, state.records)
    return BatchSummary(total=len(products), done=state.done, failed=len(state.failures), skipped=state.skipped,
                        seconds=time.perf_counter() - started, workers=state.workers, out_dir=out_dir,
                        failures=tuple(state.failures), interrupted=interrupted, reviews=tuple(state.reviews))


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
    reviews: list[tuple[str, float | None]] = field(default_factory=list)

    def record(self, record: dict[str, Any]) -> None:
        append_record(self.out_dir, record)
        self.records[record["sku"]] = record
        if record["status"] == "done":
            self.done += 1
            if record.get("review"):
                self.reviews.append((record["sku"], record.get("product_fidelity")))
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


def _run_on_ray(todo: list[Task], options: BatchOptions, settings: Settings, engine: Engine, memory: str,
                state: _BatchState) -> None:
    if engine == Engine.SVD and not options.address:
        from ..hub import ensure_model
        ensure_model(settings)  # download once here, not once per worker; fail early without a model
    # After ray.init: Ray installs its own SIGTERM handler, which would exit without cleanup.
    with ray_session(options.address) as resources, sigterm_as_interrupt():
        uses_gpu = _uses_gpu(engine, memory, resources)
        plan = plan_workers(resources, uses_gpu, len(todo), options.gpus, options.workers)
        workers = start_workers(plan, settings)
        state.workers = plan.count
        kind = "GPU" if plan.gpus_each else "CPU"
        state.progress.begin(len(todo), state.skipped, f"{plan.count} {kind} worker{'s' * (plan.count > 1)}")
        try:
            dispatch(workers, todo, _reporting(state), state.progress.tick)
        finally:
            stop_workers(workers)


def _reporting(state: _BatchState) -> Report:
    def on_record(record: dict[str, Any]) -> None:
        state.record(record)
        state.progress(record)
    return on_record


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


def _uses_gpu(engine: str, memory: str, resources: Mapping[str, float]) -> bool:
    """GPU workers for SVD; "auto" takes the GPUs when there are some (each worker then picks
    svd or classic exactly as a single run does), CPU workers otherwise."""
    if memory == MemoryPlan.CPU or engine == Engine.CLASSIC:
        return False
    return engine == Engine.SVD or resources.get("GPU", 0) > 0


def _default_engine() -> str:
    return next(f.default for f in fields(GenerationRequest) if f.name == "engine")


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
