"""The SVD engine: the only package that imports torch and diffusers.

``generate`` turns a fitted photo and resolved settings into frames (an ``EngineOutput``),
on the one cached pipeline (``cache``), with the memory plan and out-of-memory ladder of
``memory``/``runner`` and the speed modes of ``accel``/``turbo``. ``speedtest`` times the
speed modes on this machine (``bench``).
"""

from __future__ import annotations

import os

# Must be set before torch touches CUDA. With the default allocator the low plan ran out of
# memory under an 8 GiB cap with 1.5 GiB reserved but unused (fragmentation); with expandable
# segments it completed (measured on an H100, 25 frames 1024x576).
if not (os.environ.get("PYTORCH_CUDA_ALLOC_CONF") or os.environ.get("PYTORCH_ALLOC_CONF")):
    os.environ["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"

from transformers.utils import logging as _transformers_logging  # noqa: E402

# Before diffusers imports transformers' image processors, which warn about torchvision.
_transformers_logging.set_verbosity_error()

import threading  # noqa: E402
import platform  # noqa: E402

from PIL import Image  # noqa: E402

from ..errors import SvdAppError, Suggestion  # noqa: E402
from ..presets import GenerationParams  # noqa: E402
from .cache import PipelineCache  # noqa: E402
from .bench import BenchReport, run_bench  # noqa: E402
from .device import DeviceInfo, device_info  # noqa: E402
from .memory import MemoryPlan, choose_plan  # noqa: E402
from ..engine_output import EngineOutput  # noqa: E402
from .runner import Progress, run  # noqa: E402

CACHE = PipelineCache()


def _quiet_libraries() -> None:
    """Our progress line is the progress: silence the libraries' bars and advice."""
    import diffusers
    import transformers
    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


_quiet_libraries()

__all__ = ["CACHE", "DeviceInfo", "EngineOutput", "device_info", "generate", "speedtest", "versions"]


def generate(folder: str, image: Image.Image, params: GenerationParams, seed: int,
             progress: Progress | None = None, cancel: threading.Event | None = None) -> EngineOutput:
    return run(CACHE, folder, image, params, _plan(params), seed, progress, cancel)


def speedtest(folder: str, image: Image.Image, params: GenerationParams, modes: tuple[str, ...], steps: int,
              progress: Progress | None = None, cancel: threading.Event | None = None) -> BenchReport:
    """Time ``modes`` on this machine for ``params``' video (engine.bench)."""
    return run_bench(CACHE, folder, image, params, _plan(params), modes, steps, progress, cancel)


def _plan(params: GenerationParams) -> MemoryPlan:
    plan = choose_plan(params.memory, device_info(), params.frames, params.width, params.height)
    if plan.device == "cpu" and params.memory != "cpu":
        raise SvdAppError(
            "No CUDA GPU was found; on the processor one 25-frame 1024x576 SVD video takes an hour "
            "or more (~160 TFLOP per step).",
            "Run on a computer with an NVIDIA GPU (8 GB+), or pass {fix} to run on the processor anyway.",
            Suggestion("memory", "cpu"))
    return plan


def versions() -> dict[str, str]:
    import diffusers
    import torch
    import transformers
    info = {"python": platform.python_version(), "torch": torch.__version__, "diffusers": diffusers.__version__,
            "transformers": transformers.__version__}
    if torch.cuda.is_available():
        info["cuda"] = str(torch.version.cuda)
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
