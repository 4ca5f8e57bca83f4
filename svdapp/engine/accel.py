"""Speed modes for SVD; ``SVDAPP_SPEED`` picks one (read at each generation). The first two
keep diffusers' maths:

- ``exact`` (default): plain PyTorch kernels; frames bit-identical to plain diffusers.
- ``compiled``: the UNet's repeated blocks and the VAE decoder's blocks go through
  torch.compile (regional: each block class is traced once per input shape), cuDNN picks its
  fastest convolutions, and compiled code is cached on disk (``$SVDAPP_CACHE``, default
  ``~/.cache/svdapp``, /inductor, unless ``TORCHINDUCTOR_CACHE_DIR`` is set). Frames equal
  plain diffusers' within fp16 rounding. Measured on an H200 (docs/benchmarks.md): 1.27x
  per step, 2.4x faster decode, but about 3.5 minutes of compiling for each new video size
  and about a minute of re-tracing per process even with a warm cache, so it pays off only
  for a server that makes many videos of one size.
- ``turbo`` (approximate, opt-in): plain kernels, and the UNet's deep features are reused
  across denoising steps (``turbo.py``, DeepCache): two steps in three run only the UNet's
  full-resolution ends. Frames differ from exact mode; docs/benchmarks.md says by how much.
  Works on every memory plan (it keeps one feature map of the latent size x 640 channels
  per guidance half, about 0.6 GiB at 25 frames 1024x576).

Only the high and normal memory plans compile: the small plans' activation savings
(guidance split, chunked feed-forward, layer-by-layer offload) would each need their own
compile, for cards where the wait hurts most.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import InputError
from ..vocab import SpeedMode as SPEED_MODES
from . import turbo

SPEED_ENV = "SVDAPP_SPEED"
SPEEDS = SPEED_MODES
# Blocks that repeat through the UNet and the VAE decoder and hold nearly all their work.
UNET_BLOCKS = ("SpatioTemporalResBlock", "TransformerSpatioTemporalModel")
VAE_BLOCKS = ("MidBlockTemporalDecoder", "UpBlockTemporalDecoder")
# Each block class is compiled once per distinct input shape (about 20 for the SVD UNet at
# one video size); dynamo's default limit of 8 would silently fall back to eager.
RECOMPILE_LIMIT = 256


def speed(choice: str | None = None) -> str:
    """The mode asked for (``--speed``, the UI), else ``$SVDAPP_SPEED``, else exact."""
    value = (choice or os.environ.get(SPEED_ENV, "")).strip().lower() or "exact"
    if value not in SPEEDS:
        raise InputError(f"Unknown {SPEED_ENV} '{value}'.", f"Use one of: {', '.join(SPEEDS)}.")
    return value


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


def apply(pipe, plan, mode: str | None = None, backend: str = "inductor") -> bool:
    """Compile (or un-compile) ``pipe``'s blocks for a MemoryPlan and switch deep-feature reuse
    on for turbo (off otherwise); returns whether compiled.

    Idempotent: arranging the same pipeline for another plan keeps compiled code already made.
    ``backend`` other than inductor is for tests on the CPU (dynamo tracing without codegen).
    """
    mode = mode or speed()
    if mode == "turbo":
        turbo.enable(pipe.unet)
    else:
        turbo.disable(pipe.unet)
    small = plan.offload == "sequential" or plan.split_guidance or plan.chunk_feed_forward
    want = mode == "compiled" and not small and (backend != "inductor" or can_compile(plan.device))
    if plan.device == "cuda":
        # cuDNN autotuning goes with compiling (a one-off cost per shape; alone it measured
        # no gain); small plans keep it off: trial algorithms' workspaces fight a memory cap.
        torch.backends.cudnn.benchmark = want
    if want:
        configure_compiler()
    for module in blocks(pipe):
        if want and not is_compiled(module):
            # Static shapes: SVD runs a few fixed sizes, and static kernels are the fastest.
            module.compile(backend=backend, dynamic=False, fullgraph=False)
        elif not want and is_compiled(module):
            module._compiled_call_impl = None
    return want
