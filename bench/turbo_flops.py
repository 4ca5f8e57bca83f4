"""How much UNet work turbo mode leaves, counted exactly, on the CPU in seconds.

Builds the full-size SVD-XT UNet on PyTorch's meta device (shapes only, no memory, no
weights) and counts matmul/convolution/attention FLOPs with ``FlopCounterMode`` for each kind
of UNet call turbo makes (full or reusing the kept feature; with the guidance batch of two or
the conditional half alone), for both DeepCache branches, at 25 frames 1024x576. Then the
UNet work of a whole video for each lever alone and combined. Not a timing: memory-bound work
(norms, elementwise) sits mostly in the full-resolution layers that turbo keeps, so the
wall-clock gain is smaller than the FLOP ratio; ``bench/gpu_bench.py --sections modes``
measures that.

    python bench/turbo_flops.py [--frames 25 --width 1024 --height 576 --steps 25] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from diffusers import UNetSpatioTemporalConditionModel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from svdapp.engine import turbo  # noqa: E402


def unet_flops(unet, args) -> int:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        unet(*args)
    return counter.get_total_flops()


LEVERS = {  # name → TurboConfig; "turbo" is the mode's default
    "deepcache_block_i3": turbo.TurboConfig(branch="block", gate=1.0),
    "deepcache_layer_i3": turbo.TurboConfig(gate=1.0),
    "deepcache_layer_i5": turbo.TurboConfig(interval=5, gate=1.0),
    "tgate_gate0.4": turbo.TurboConfig(interval=1),
    "turbo": turbo.DEFAULT,
    "turbo_i5": turbo.TurboConfig(interval=5),
}


def call_costs(unet, args, branch: str) -> dict[tuple[bool, bool], int]:
    """FLOPs of one UNet call by (full, guided), for one DeepCache branch."""
    costs = {}
    one_step = turbo.TurboConfig(interval=2, branch=branch, gate=1.0)
    fast = turbo.enable(unet, one_step)
    for guided in (True, False):
        batch = args if guided else tuple(a[1:] if a.dim() else a for a in args)
        fast.start(3)  # full, reuse, full
        costs[(True, guided)] = unet_flops(unet, batch)
        fast.step_done()
        costs[(False, guided)] = unet_flops(unet, batch)
    turbo.disable(unet)
    return costs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=25)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=576)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    cfg = json.loads((ROOT / "bench" / "svd_xt_configs.json").read_text())["unet"]
    with torch.device("meta"):
        unet = UNetSpatioTemporalConditionModel(**cfg).half()
    unet = unet.to("meta")  # a few legacy-constructed parameters ignore the default device
    meta = dict(device="meta", dtype=torch.float16)
    args = (torch.empty(2, a.frames, 8, a.height // 8, a.width // 8, **meta), torch.tensor(700.0, device="meta"),
            torch.empty(2, 1, cfg["cross_attention_dim"], **meta), torch.empty(2, 3, **meta))
    full = unet_flops(unet, args)
    costs = {branch: call_costs(unet, args, branch) for branch in turbo.BRANCHES}
    assert costs["layer"][(True, True)] == costs["block"][(True, True)] == full
    result = {"size": f"{a.frames}f {a.width}x{a.height}", "steps": a.steps,
              "tflop_per_call": {f"{branch} {'full' if f else 'reuse'} {'guided' if g else 'cond-only'}":
                                 round(v / 1e12, 2) for branch, c in costs.items() for (f, g), v in c.items()},
              "reuse_fraction": {branch: round(c[(False, True)] / full, 3) for branch, c in costs.items()},
              "video": {}}
    for name, config in LEVERS.items():
        plan = config.schedule(a.steps)
        total = sum(costs[config.branch][(s.full, s.guided)] for s in plan)
        result["video"][name] = {**config.to_dict(), "full_steps": sum(s.full for s in plan),
                                 "guided_steps": sum(s.guided for s in plan),
                                 "unet_tflop": round(total / 1e12, 1),
                                 "unet_flop_ratio": round(a.steps * full / total, 2)}
    text = json.dumps(result, indent=1)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
