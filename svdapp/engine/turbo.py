"""Turbo: fewer UNet FLOPs per video, by two published approximations used together.

- **DeepCache** (Ma et al., CVPR 2024), in the form OneDiff ships for SVD (interval 3,
  ``cache_layer_id=0, cache_block_id=0``): every ``interval``-th step runs the whole UNet and
  keeps the output of the first layer of its last up block; the steps in between run only
  ``conv_in``, the first layer of the first down block and the last layers of the last up
  block on that kept feature (about 31 % of a full call's time on an H200). ``branch="block"``
  is the coarser cache this module had before (whole first down / last up block, 52 %).
- **T-GATE** (Liu et al., 2024; its ``TgateSVDLoader``: ``gate_step=10`` of 25): from the
  gate step on, the unconditional half of classifier-free guidance is dropped and the UNet
  runs on the conditional half alone, at half the batch.

The schedule is fixed before the run (``TurboConfig.schedule``): which steps run in full and
which are guided. The gate step and the last step always run in full. Frames differ from
exact mode; docs/benchmarks.md gives the deviation next to the speed-up.

The UNet's blocks (not the compiled regions inside them) are wrapped, so offload hooks, the
split guidance batch and compiled blocks keep working. The runner says where a generation
starts and where each step ends; each UNet call within a step (two when the guidance batch
is split) keeps its own feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from diffusers.models.unets.unet_spatio_temporal_condition import UNetSpatioTemporalConditionOutput

ATTR = "_svdapp_turbo"
BRANCHES = ("layer", "block")


class Step(NamedTuple):
    full: bool  # the whole UNet runs (else the shallow layers on the kept feature)
    guided: bool  # both halves of classifier-free guidance (else the conditional half alone)


@dataclass(frozen=True)
class TurboConfig:
    interval: int = 3  # DeepCache: a full UNet call every `interval` steps (1: never reuse)
    branch: str = "layer"  # which shallow part runs on reuse steps (see the module docstring)
    gate: float = 0.4  # T-GATE: the share of steps that keep guidance (10 of 25); 1.0 keeps it always

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ValueError("interval must be at least 1")
        if self.branch not in BRANCHES:
            raise ValueError(f"branch must be one of {BRANCHES}")
        if not 0.0 < self.gate <= 1.0:
            raise ValueError("gate must be in (0, 1]")

    def gate_step(self, steps: int) -> int:
        """The first step without guidance (``steps`` when guidance is never dropped)."""
        return steps if self.gate >= 1.0 else min(steps, max(1, round(self.gate * steps)))

    def schedule(self, steps: int) -> tuple[Step, ...]:
        gate = self.gate_step(steps)
        plan = []
        for i in range(steps):
            start = 0 if i < gate else gate  # the gate step starts a new cache cycle
            plan.append(Step(full=(i - start) % self.interval == 0 or i == steps - 1, guided=i < gate))
        return tuple(plan)

    def to_dict(self) -> dict[str, Any]:
        return {"interval": self.interval, "branch": self.branch, "gate": self.gate}


DEFAULT = TurboConfig()


class Turbo:
    def __init__(self, unet: torch.nn.Module, config: TurboConfig = DEFAULT):
        if len(unet.down_blocks) < 2 or len(unet.up_blocks) < 2:
            raise ValueError("turbo needs a UNet with at least two down and two up blocks")
        self.unet, self.config = unet, config
        self.kept: dict[int, torch.Tensor] = {}  # UNet call within the step → kept feature
        self.res_counts: dict[int, int] = {}  # down block → how many skip features it returns
        self.plan: tuple[Step, ...] = ()
        self.step = 0
        self.call = -1
        self.full_calls = self.reused_calls = self.unguided_steps = 0

    # ---- the runner's side
    def start(self, steps: int) -> None:
        """A new generation of ``steps`` steps: forget every kept feature."""
        self.plan, self.step, self.call = self.config.schedule(steps), 0, -1
        self.release()
        self.full_calls = self.reused_calls = 0
        self.unguided_steps = sum(not s.guided for s in self.plan)

    def step_done(self) -> None:
        before = self.current()
        self.step += 1
        self.call = -1
        if self.current().guided != before.guided:
            self.release()  # the halves change: features kept per call no longer line up

    def release(self) -> None:
        """Drop the kept features (the counts stay for the run's metadata)."""
        self.kept.clear()

    def current(self) -> Step:
        return self.plan[self.step] if self.step < len(self.plan) else Step(True, True)

    def reusing(self) -> bool:
        return not self.current().full and self.call in self.kept

    def summary(self) -> dict[str, Any]:
        return {**self.config.to_dict(), "gate_step": self.config.gate_step(len(self.plan)),
                "unet_calls_full": self.full_calls, "unet_calls_reused": self.reused_calls,
                "steps_without_guidance": self.unguided_steps}

    # ---- wrapping the UNet
    def attach(self) -> None:
        unet = self.unet
        self._hook = unet.time_proj.register_forward_pre_hook(self._new_call)  # once per UNet call
        self._outer = unet.__dict__.get("forward")  # an offload hook or the guidance split, if any
        _wrap(unet, self._gated(unet.forward))
        layer = self.config.branch == "layer"
        if layer:
            _wrap(unet.down_blocks[0], self._first_down(unet.down_blocks[0]))
        for i, block in enumerate(unet.down_blocks[1:], start=1):
            _wrap(block, self._down(i, block.forward))
        _wrap(unet.mid_block, self._passthrough(unet.mid_block.forward))
        for block in unet.up_blocks[:-1 if layer else -2]:
            _wrap(block, self._passthrough(block.forward))
        if layer:
            _wrap(unet.up_blocks[-1], self._last_up(unet.up_blocks[-1]))
        else:
            _wrap(unet.up_blocks[-2], self._last_deep_up(unet.up_blocks[-2].forward))
        setattr(unet, ATTR, self)

    def detach(self) -> None:
        unet = self.unet
        self._hook.remove()
        for block in [*unet.down_blocks, unet.mid_block, *unet.up_blocks]:
            block.__dict__.pop("forward", None)
        if self._outer is None:
            unet.__dict__.pop("forward", None)
        else:
            unet.forward = self._outer
        self.release()
        delattr(unet, ATTR)

    def _new_call(self, _module, _args) -> None:
        self.call += 1
        if self.reusing():
            self.reused_calls += 1
        else:
            self.full_calls += 1

    def _gated(self, forward):
        def unet_forward(sample, timestep, encoder_hidden_states, added_time_ids, return_dict=True):
            if self.current().guided or sample.shape[0] < 2:
                return forward(sample, timestep, encoder_hidden_states, added_time_ids, return_dict=return_dict)
            # The pipeline still builds the guidance batch [unconditional, conditional] and
            # mixes the halves; returning the conditional prediction twice makes its mix
            # uncond + g * (cond - uncond) equal cond, as T-GATE's loop does after the gate.
            n = sample.shape[0] // 2
            cond = forward(sample[n:], timestep, encoder_hidden_states[n:], added_time_ids[n:],
                           return_dict=False)[0]
            out = torch.cat([cond, cond])
            return UNetSpatioTemporalConditionOutput(sample=out) if return_dict else (out,)
        return unet_forward

    def _first_down(self, block):
        forward = block.forward

        def down(hidden_states: torch.Tensor, *args: Any, **kwargs: Any):
            if not self.reusing():
                sample, res = forward(hidden_states, *args, **kwargs)
                self.res_counts[0] = len(res)
                return sample, res
            resnet, attn = _layers(block)[0]
            h = _run_layer(resnet, attn, hidden_states, kwargs)
            # only res[0] is read on a reuse step (by the last up block's second layer)
            return h, (h,) * self.res_counts[0]
        return down

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

    def _last_up(self, block):
        """The last up block's own loop (diffusers' Up/CrossAttnUpBlockSpatioTemporal), so that
        the output of its first layer can be kept, and later layers run from it."""
        def up(hidden_states: torch.Tensor, res_hidden_states_tuple: tuple[torch.Tensor, ...], *args: Any,
               **kwargs: Any):
            kwargs = _named(("temb", "encoder_hidden_states", "image_only_indicator", "upsample_size"), args, kwargs)
            res = list(res_hidden_states_tuple)
            layers = _layers(block)
            first = 0
            if self.reusing():
                hidden_states, first = self.kept[self.call], 1
                res.pop()  # the skip feature of the first layer, which is not run
            for i, (resnet, attn) in enumerate(layers[first:], start=first):
                hidden_states = _run_layer(resnet, attn, torch.cat([hidden_states, res.pop()], dim=1), kwargs)
                if i == 0:
                    self.kept[self.call] = hidden_states
            for upsampler in block.upsamplers or ():
                hidden_states = upsampler(hidden_states, kwargs.get("upsample_size"))
            return hidden_states
        return up


def _layers(block) -> list[tuple[torch.nn.Module, torch.nn.Module | None]]:
    attentions = getattr(block, "attentions", None) or [None] * len(block.resnets)
    return list(zip(block.resnets, attentions))


def _named(names: tuple[str, ...], args: tuple, kwargs: dict) -> dict:
    return {**dict(zip(names, args)), **kwargs}


def _run_layer(resnet, attn, hidden_states: torch.Tensor, kwargs: dict) -> torch.Tensor:
    indicator = kwargs.get("image_only_indicator")
    hidden_states = resnet(hidden_states, kwargs.get("temb"), image_only_indicator=indicator)
    if attn is not None:
        hidden_states = attn(hidden_states, encoder_hidden_states=kwargs.get("encoder_hidden_states"),
                             image_only_indicator=indicator, return_dict=False)[0]
    return hidden_states


def _wrap(module: torch.nn.Module, forward) -> None:
    module.forward = forward  # an instance attribute: nn.Module.__call__ finds it first


def of(unet: torch.nn.Module) -> Turbo | None:
    return getattr(unet, ATTR, None)


def enable(unet: torch.nn.Module, config: TurboConfig = DEFAULT) -> Turbo:
    """Attach (or keep) turbo with ``config`` on ``unet``; idempotent."""
    current = of(unet)
    if current is not None and current.config == config:
        return current
    disable(unet)
    current = Turbo(unet, config)
    current.attach()
    return current


def disable(unet: torch.nn.Module) -> None:
    current = of(unet)
    if current is not None:
        current.detach()
