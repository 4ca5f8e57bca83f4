"""PipelineCache: the one place a pipeline is loaded, kept and arranged for a memory plan.

Loading SVD-XT takes seconds to minutes; it happens once per (model folder, dtype, device)
and every later generation reuses the object. Switching memory plans re-arranges the same
weights (offload hooks, guidance split) without reading them from disk again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers import StableVideoDiffusionPipeline
from diffusers.models.unets.unet_spatio_temporal_condition import UNetSpatioTemporalConditionOutput

from ..errors import SvdAppError
from . import accel, turbo
from .memory import MemoryPlan, free_memory


@dataclass
class CachedPipeline:
    pipe: StableVideoDiffusionPipeline
    folder: str
    dtype: torch.dtype
    device: str
    load_seconds: float
    plan: MemoryPlan | None = None
    speed: accel.Speed | None = None  # the speed mode the pipeline is arranged for
    compiled: bool = False


@dataclass
class PipelineCache:
    entries: dict[tuple[str, str, str], CachedPipeline] = field(default_factory=dict)
    loads: int = 0  # how many times weights were read from disk (tests assert on it)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def get(self, folder: str | Path, plan: MemoryPlan, speed: "str | accel.Speed | None" = None) -> CachedPipeline:
        """The pipeline for ``folder``, loaded if needed and arranged for ``plan`` and the
        ``speed`` mode (None: ``$SVDAPP_SPEED``, else exact). A mode's knobs are part of the
        arrangement: asking with other knobs arranges again."""
        key = (str(folder), str(plan.dtype), plan.device)
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None and entry.plan is not None and entry.plan.offload == "sequential" \
                    and plan.offload != "sequential":
                # Sequential offload leaves the weights on the meta device once its hooks are
                # removed: only a fresh load gives a pipeline that can move as a whole again.
                entry = None
            if entry is None:
                self.clear()  # one SVD pipeline in memory at a time: they are 4+ GB each
                entry = self._load(Path(folder), plan)
                self.entries[key] = entry
            speed = accel.resolve(speed)
            if entry.plan != plan or entry.speed != speed:
                entry.compiled = arrange(entry.pipe, plan, speed)
                entry.plan, entry.speed = plan, speed
            return entry

    def _load(self, folder: Path, plan: MemoryPlan) -> CachedPipeline:
        start = time.perf_counter()
        variant = weights_variant(folder, plan.dtype)
        try:
            pipe = StableVideoDiffusionPipeline.from_pretrained(folder, dtype=plan.dtype, variant=variant,
                                                                use_safetensors=True)
        except (OSError, ValueError, KeyError) as exc:
            raise SvdAppError(f"The model folder {folder} could not be loaded ({exc}).",
                              "Run `svdapp download` again, or point SVDAPP_MODEL at a complete SVD-XT folder.") from exc
        pipe.set_progress_bar_config(disable=True)
        self.loads += 1
        return CachedPipeline(pipe, str(folder), plan.dtype, plan.device, time.perf_counter() - start)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            free_memory()


def weights_variant(folder: Path, dtype: torch.dtype) -> str | None:
    """Load the fp16 files when they are there and either fit the dtype or are all there is
    (`svdapp download` fetches only the fp16 files; the CPU plan upcasts them)."""
    has_fp16 = any(folder.glob("unet/*.fp16.safetensors"))
    has_full = any(p for p in folder.glob("unet/*.safetensors") if ".fp16." not in p.name)
    return "fp16" if has_fp16 and (dtype == torch.float16 or not has_full) else None


def arrange(pipe: StableVideoDiffusionPipeline, plan: MemoryPlan, speed: accel.Speed) -> bool:
    """Place the pipeline's parts for ``plan`` (idempotent; undoes the previous plan) and
    apply the ``speed`` mode's levers; returns whether its blocks are compiled."""
    turbo.disable(pipe.unet)  # its wrappers sit on top of the hooks removed next
    pipe.remove_all_hooks()
    unet = pipe.unet
    unet.__dict__.pop("forward", None)  # drop a guidance-split wrapper from an earlier plan
    if plan.offload is None:
        pipe.to(plan.device)
    else:
        pipe.to("cpu")
        free_memory()
        if plan.offload == "model":
            pipe.enable_model_cpu_offload(device=plan.device)
        else:
            pipe.enable_sequential_cpu_offload(device=plan.device)
    set_feed_forward_chunking(unet, FF_CHUNK_ELEMENTS if plan.chunk_feed_forward else None)
    if plan.split_guidance:
        split_guidance_batch(unet)
    return accel.apply(pipe, plan, speed)


# Largest feed-forward hidden layer (elements) a low plan lets exist at once: 2^27 fp16
# values = 256 MiB. Slicing finer only adds kernel launches: diffusers' own chunking (one
# frame or one row at a time) measured 4.0 s/step against 0.63 unchunked on an H200.
FF_CHUNK_ELEMENTS = 1 << 27


class RowChunkedFeedForward(torch.nn.Module):
    """A feed-forward run on slices of its input rows, so its wide hidden layer (4-8x the
    channels) never exists for all rows at once. Rows are independent: same maths."""

    def __init__(self, ff: torch.nn.Module, max_elements: int):
        super().__init__()
        self.ff = ff
        self.max_elements = max_elements
        self.hidden = max(m.out_features for m in ff.modules() if isinstance(m, torch.nn.Linear))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // x.shape[-1]
        pieces = -(-rows * self.hidden // self.max_elements)
        if pieces <= 1:
            return self.ff(x)
        flat = x.reshape(rows, x.shape[-1])
        out = torch.cat([self.ff(part) for part in flat.chunk(pieces)])
        return out.reshape(*x.shape[:-1], out.shape[-1])


def set_feed_forward_chunking(unet: torch.nn.Module, max_elements: int | None) -> None:
    """Wrap (or unwrap, with None) every transformer block's feed-forward layers."""
    for module in unet.modules():
        for name in ("ff", "ff_in"):
            ff = getattr(module, name, None)
            if not isinstance(ff, torch.nn.Module) or not hasattr(module, "set_chunk_feed_forward"):
                continue
            inner = ff.ff if isinstance(ff, RowChunkedFeedForward) else ff
            setattr(module, name, RowChunkedFeedForward(inner, max_elements) if max_elements else inner)


def split_guidance_batch(unet: torch.nn.Module) -> None:
    """Run the unconditional and conditional halves of the CFG batch one after the other.

    Same maths as one batch of two, half the peak activation memory; costs a little speed.
    """
    batched_forward = unet.forward  # the offload hook's wrapper when there is one

    def forward(sample, timestep, encoder_hidden_states, added_time_ids, return_dict=True):
        if sample.shape[0] < 2:
            return batched_forward(sample, timestep, encoder_hidden_states, added_time_ids, return_dict=return_dict)
        n = sample.shape[0] // 2
        halves = [batched_forward(sample[s], timestep, encoder_hidden_states[s], added_time_ids[s],
                                  return_dict=False)[0] for s in (slice(0, n), slice(n, None))]
        out = torch.cat(halves)
        return UNetSpatioTemporalConditionOutput(sample=out) if return_dict else (out,)

    unet.forward = forward
