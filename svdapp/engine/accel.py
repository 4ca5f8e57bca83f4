"""Speed modes for SVD: the ``--speed`` choice, else ``SVDAPP_SPEED`` (read at each
generation), else exact.

- ``exact`` (default): plain PyTorch kernels; frames bit-identical to plain diffusers.
- ``compiled``: the UNet's repeated blocks and the VAE decoder's blocks go through
  torch.compile (regional, static shapes: each block class is compiled once per input
  shape) with cuDNN autotuning, and compiled code is cached on disk (``$SVDAPP_CACHE``,
  default ``~/.cache/svdapp``, /inductor, unless ``TORCHINDUCTOR_CACHE_DIR`` is set). Frames
  equal plain diffusers' within fp16 rounding. Each new video size (and, for turbo, each
  guidance batch) waits for a compile of minutes (docs/benchmarks.md).
- ``turbo`` (approximate, opt-in): plain kernels and fewer UNet FLOPs (``turbo.py``:
  DeepCache as OneDiff runs it for SVD, plus T-GATE's dropped unconditional pass late in
  denoising). No compile wait.
- ``turbo-compiled``: turbo on compiled blocks, the fastest mode.

Only the high and normal plans compile: the small plans' activation savings (guidance split,
sliced feed-forward, layer-by-layer offload) would each need their own compile, on the cards
where the wait hurts most, and cuDNN's trial workspaces fight a memory cap. A plan that does
not compile runs the same maths on plain kernels.
"""

from __future__ import annotations

import os
from pathlib import Path

from dataclasses import dataclass, field

import torch

from ..errors import InputError
from ..vocab import SpeedMode
from . import turbo

SPEED_ENV = "SVDAPP_SPEED"
ORDER = tuple(SpeedMode)  # exact, compiled, turbo, turbo-compiled: each builds on the ones before
COMPILED_MODES = (SpeedMode.COMPILED, SpeedMode.TURBO_COMPILED)
TURBO_MODES = (SpeedMode.TURBO, SpeedMode.TURBO_COMPILED)
# Blocks that repeat through the UNet and the VAE decoder and hold nearly all their work.
UNET_BLOCKS = ("SpatioTemporalResBlock", "TransformerSpatioTemporalModel")
VAE_BLOCKS = ("MidBlockTemporalDecoder", "UpBlockTemporalDecoder")
# Each block class is compiled once per distinct input shape (about 20 for the SVD UNet at
# one video size); dynamo's default limit of 8 would silently fall back to eager.
RECOMPILE_LIMIT = 256


@dataclass(frozen=True)
class Speed:
    """A speed mode and its knobs; part of how a cached pipeline is arranged."""

    mode: str = SpeedMode.EXACT
    turbo: turbo.TurboConfig = field(default_factory=lambda: turbo.DEFAULT)
    backend: str = "inductor"  # torch.compile's; tests on the processor trace with "eager"

    @property
    def compiled(self) -> bool:
        return self.mode in COMPILED_MODES

    @property
    def uses_turbo(self) -> bool:
        return self.mode in TURBO_MODES


def resolve(choice: "str | Speed | None" = None) -> Speed:
    """The mode asked for (``--speed``, the UI, the API), else ``$SVDAPP_SPEED``, else exact."""
    if isinstance(choice, Speed):
        return choice
    value = (choice or os.environ.get(SPEED_ENV, "")).strip().lower() or SpeedMode.EXACT
    if value not in SpeedMode:
        raise InputError(f"Unknown {SPEED_ENV} '{value}'.", f"Use one of: {', '.join(SpeedMode)}.")
    return Speed(SpeedMode(value))


def cache_dir() -> Path:
    return Path(os.environ.get("SVDAPP_CACHE") or Path.home() / ".cache" / "svdapp")


def can_compile(device: str) -> bool:
    if device != "cuda" or not torch.cuda.is_available():
        return False
    try:
        import triton  # noqa: F401  (inductor's GPU code generator)
    except ImportError:
        return False
    return True


def configure_compiler() -> None:
    """Persistent compile cache and recompile limits; before the first compile."""
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir() / "inductor"))
    import torch._dynamo
    dyn = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):  # renamed in torch 2.6
        if hasattr(dyn, name):
            setattr(dyn, name, max(getattr(dyn, name), RECOMPILE_LIMIT))
    if hasattr(dyn, "accumulated_recompile_limit"):
        dyn.accumulated_recompile_limit = max(dyn.accumulated_recompile_limit, 4 * RECOMPILE_LIMIT)
    elif hasattr(dyn, "accumulated_cache_size_limit"):
        dyn.accumulated_cache_size_limit = max(dyn.accumulated_cache_size_limit, 4 * RECOMPILE_LIMIT)


def blocks(pipe) -> list[torch.nn.Module]:
    """The modules regional compilation wraps (UNet blocks, then VAE decoder blocks)."""
    found = [m for m in pipe.unet.modules() if type(m).__name__ in UNET_BLOCKS]
    found += [m for m in pipe.vae.decoder.modules() if type(m).__name__ in VAE_BLOCKS]
    return found


def is_compiled(module: torch.nn.Module) -> bool:
    return getattr(module, "_compiled_call_impl", None) is not None


def apply(pipe, plan, speed: Speed) -> bool:
    """Switch turbo on or off and compile (or un-compile) ``pipe``'s blocks for a MemoryPlan;
    returns whether the blocks are compiled.

    Idempotent: arranging the same pipeline for another plan keeps compiled code already made.
    Inductor compiles only on a CUDA GPU with triton; other backends (tests) compile anywhere.
    """
    backend = speed.backend
    if speed.uses_turbo:
        turbo.enable(pipe.unet, speed.turbo)
    else:
        turbo.disable(pipe.unet)
    small = plan.offload == "sequential" or plan.split_guidance or plan.chunk_feed_forward
    want = speed.compiled and not small and (backend != "inductor" or can_compile(plan.device))
    if plan.device == "cuda":
        torch.backends.cudnn.benchmark = want  # a one-off cost per shape, paid with the compile
    if want:
        configure_compiler()
    for module in blocks(pipe):
        if want and not is_compiled(module):
            # Static shapes with cuDNN autotuning: 0.453 s/step and a 171 s first compile on an
            # H200 (0.495 s and 212 s in an earlier run); dynamic shapes without it 0.537 s/step
            # and 441 s (docs/benchmarks.md).
            module.compile(backend=backend, dynamic=False, fullgraph=False)
        elif not want and is_compiled(module):
            module._compiled_call_impl = None
    return want
