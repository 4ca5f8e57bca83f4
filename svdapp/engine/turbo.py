"""Turbo speed mode: reuse the UNet's deep features across denoising steps (DeepCache).

Between adjacent denoising steps the UNet's low-resolution (deep) features change little
(Ma et al., "DeepCache", CVPR 2024). Every ``interval``-th step, and the last one, runs the
whole UNet and keeps the input of its last up block; the steps in between run only the
full-resolution ends (``conv_in``, the first down block, the last up block) on that kept
feature. Approximate: frames differ from exact mode (docs/benchmarks.md gives the deviation
next to the speed-up).

The deep blocks are wrapped, not the UNet's forward, so offload hooks and the split guidance
batch keep working. The runner says where a generation starts and where each step ends;
each UNet call within a step (two when the guidance batch is split) keeps its own feature.
"""

from __future__ import annotations

from typing import Any

import torch

INTERVAL = 3  # one full step, then two that reuse it
ATTR = "_svdapp_deepcache"


class DeepCache:
    def __init__(self, unet: torch.nn.Module, interval: int = INTERVAL):
        if interval < 1:
            raise ValueError("interval must be at least 1")
        if len(unet.down_blocks) < 2 or len(unet.up_blocks) < 2:
            raise ValueError("DeepCache needs a UNet with at least two down and two up blocks")
        self.unet, self.interval = unet, interval
        self.kept: dict[int, torch.Tensor] = {}  # UNet call within the step → input of the last up block
        self.res_counts: dict[int, int] = {}  # down block → how many skip features it returns
        self.full_calls = self.reused_calls = 0
        self.start(0)

    # ---- the runner's side
    def start(self, steps: int) -> None:
        """A new generation of ``steps`` steps: forget every kept feature."""
        self.steps, self.step, self.call = steps, 0, -1
        self.release()
        self.full_calls = self.reused_calls = 0

    def step_done(self) -> None:
        self.step += 1
        self.call = -1

    def release(self) -> None:
        """Drop the kept features (the counts stay for the run's metadata)."""
        self.kept.clear()

    def reusing(self) -> bool:
        last = self.steps and self.step == self.steps - 1
        return self.step % self.interval != 0 and not last and self.call in self.kept

    # ---- wrapping the UNet
    def attach(self) -> None:
        unet = self.unet
        self._hook = unet.time_proj.register_forward_pre_hook(self._new_call)  # once per UNet call
        for i, block in enumerate(unet.down_blocks[1:], start=1):
            _wrap(block, self._down(i, block.forward))
        _wrap(unet.mid_block, self._passthrough(unet.mid_block.forward))
        for block in unet.up_blocks[:-2]:
            _wrap(block, self._passthrough(block.forward))
        _wrap(unet.up_blocks[-2], self._last_deep_up(unet.up_blocks[-2].forward))
        setattr(unet, ATTR, self)

    def detach(self) -> None:
        unet = self.unet
        self._hook.remove()
        for block in [*unet.down_blocks[1:], unet.mid_block, *unet.up_blocks[:-1]]:
            block.__dict__.pop("forward", None)
        self.release()
        delattr(unet, ATTR)

    def _new_call(self, _module, _args) -> None:
        self.call += 1
        if self.reusing():
            self.reused_calls += 1
        else:
            self.full_calls += 1

    def _down(self, index: int, forward):
        def down(hidden_states: torch.Tensor, *args: Any, **kwargs: Any):
            if self.reusing():  # its outputs only feed blocks that are skipped too
                return hidden_states, (hidden_states,) * self.res_counts[index]
            sample, res = forward(hidden_states, *args, **kwargs)
            self.res_counts[index] = len(res)
            return sample, res
        return down

    def _passthrough(self, forward):
        def deep(hidden_states: torch.Tensor, *args: Any, **kwargs: Any):
            return hidden_states if self.reusing() else forward(hidden_states, *args, **kwargs)
        return deep

    def _last_deep_up(self, forward):
        def up(hidden_states: torch.Tensor, *args: Any, **kwargs: Any):
            if self.reusing():
                return self.kept[self.call]
            out = forward(hidden_states, *args, **kwargs)
            self.kept[self.call] = out
            return out
        return up


def _wrap(module: torch.nn.Module, forward) -> None:
    module.forward = forward  # an instance attribute: nn.Module.__call__ finds it first


def of(unet: torch.nn.Module) -> DeepCache | None:
    return getattr(unet, ATTR, None)


def enable(unet: torch.nn.Module, interval: int | None = None) -> DeepCache:
    """Attach (or keep) DeepCache on ``unet``, every ``interval``-th step in full; idempotent."""
    interval = interval or INTERVAL
    cache = of(unet)
    if cache is not None and cache.interval == interval:
        return cache
    disable(unet)
    cache = DeepCache(unet, interval)
    cache.attach()
    return cache


def disable(unet: torch.nn.Module) -> None:
    cache = of(unet)
    if cache is not None:
        cache.detach()
