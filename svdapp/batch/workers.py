"""The Ray side of a batch: the runtime, one long-lived worker per GPU, and handing out products.

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
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..errors import InputError, SvdAppError, describe_error
from ..settings import Settings
from .manifest import EXTRA_OUTPUTS, base_record, failed_record, fidelity_fields, now_iso
from .tasks import Task

# What a worker process needs from the driver's environment (Ray does not forward it to a cluster).
FORWARDED_ENV = ("SVDAPP_MODEL", "SVDAPP_REVISION", "HF_HUB_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT",
                 "PYTORCH_CUDA_ALLOC_CONF", "SVDAPP_DEBUG", "SVDAPP_SPEED")
MAX_RESTARTS = 1  # a worker process that dies (killed for memory, a crash) is started again once
MAX_CPUS_PER_GPU_WORKER = 4

Report = Callable[[dict[str, Any]], None]


def generate_one(task: Task, settings: Settings, worker: str = "local") -> dict[str, Any]:
    """Make one product's video; every failure becomes a ``failed`` record, never an exception."""
    from ..jobs import run_request
    started, started_iso = time.perf_counter(), now_iso()
    try:
        result = run_request(task.request, settings)
    except Exception as exc:  # one product's failure must not stop the catalogue
        return failed_record(task, describe_error(exc), worker, started, started_iso)
    out_dir = Path(task.request.out).parent.parent
    record = base_record(task, "done", worker, started, started_iso)
    record.update(video=result.video.relative_to(out_dir).as_posix(),
                  meta=result.meta_path.relative_to(out_dir).as_posix(), seed=result.seed,
                  engine=result.engine, frames=result.frames, width=result.width, height=result.height,
                  fps=result.fps, fallbacks=list(result.fallbacks), timings=result.timings,
                  settings=result.meta.to_json()["settings"], engine_label=result.engine_label or None,
                  **fidelity_fields(result.meta))
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


def start_workers(plan: WorkerPlan, settings: Settings) -> list[Any]:
    import ray
    actor = ray.remote(BatchWorker).options(num_gpus=plan.gpus_each, num_cpus=plan.cpus_each,
                                            max_restarts=MAX_RESTARTS, max_task_retries=0,
                                            runtime_env={"env_vars": worker_env(settings)})
    return [actor.remote(settings, f"{plan.label}{i}") for i in range(plan.count)]


def stop_workers(workers: list[Any]) -> None:
    import ray
    for worker in workers:
        try:
            ray.kill(worker)
        except Exception:  # already gone
            pass


def dispatch(workers: list[Any], tasks: Sequence[Task], on_record: Report, tick: Callable[[], None]) -> None:
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
            started[ref] = (time.perf_counter(), now_iso())

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
