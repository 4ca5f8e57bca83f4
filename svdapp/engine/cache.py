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
from .memory import MemoryPlan, free_memory


@dataclass
class CachedPipeline:
    pipe: StableVideoDiffusionPipeline
    folder: str
    dtype: torch.dtype
    device: str
    load_seconds: float
    plan: MemoryPlan | None = None


@dataclass
class PipelineCache:
    entries: dict[tuple[str, str, str], CachedPipeline] = field(default_factory=dict)
    loads: int = 0  # how many times weights were read from disk (tests assert on it)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def get(self, folder: str | Path, plan: MemoryPlan) -> CachedPipeline:
        """The pipeline for ``folder``, loaded if needed and arranged for ``plan``."""
        key = (str(folder), str(plan.dtype), plan.device)
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                self.clear()  # one SVD pipeline in memory at a time: they are 4+ GB each
                entry = self._load(Path(folder), plan)
                self.entries[key] = entry
            if entry.plan != plan:
                arrange(entry.pipe, plan)
                entry.plan = plan
            return entry

    def _load(self, folder: Path, plan: MemoryPlan) -> CachedPipeline:
        start = time.perf_counter()
        variant = "fp16" if plan.dtype == torch.float16 and any(folder.glob("*/*.fp16.safetensors")) else None
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


def arrange(pipe: StableVideoDiffusionPipeline, plan: MemoryPlan) -> None:
    """Place the pipeline's parts for ``plan`` (idempotent; undoes the previous plan)."""
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
    set_feed_forward_chunking(unet, 1 if plan.chunk_feed_forward else None)
    if plan.split_guidance:
        split_guidance_batch(unet)


def set_feed_forward_chunking(unet: torch.nn.Module, chunk_size: int | None) -> None:
    for module in unet.modules():
        if hasattr(module, "set_chunk_feed_forward"):
            module.set_chunk_feed_forward(chunk_size=chunk_size, dim=0)


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
