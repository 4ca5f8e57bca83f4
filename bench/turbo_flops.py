"""How much UNet work turbo mode (DeepCache) leaves, counted exactly, on the CPU in seconds.

Builds the full-size SVD-XT UNet on PyTorch's meta device (shapes only, no memory, no
weights) and counts matmul/convolution/attention FLOPs with ``FlopCounterMode`` for one full
UNet call and one call that reuses the kept deep features, at 25 frames 1024x576 with the
guidance batch of two. Not a timing: on a GPU part of the time goes to memory-bound work
(norms, elementwise), which sits mostly in the full-resolution blocks that turbo keeps, so
the wall-clock gain is smaller than the FLOP ratio. ``bench/gpu_bench.py --sections
vanilla,turbo`` measures that.

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
    deep = turbo.enable(unet)
    deep.start(a.steps)
    assert unet_flops(unet, args) == full  # step 0 runs in full and keeps the feature
    deep.step_done()
    reuse = unet_flops(unet, args)
    result = {"size": f"{a.frames}f {a.width}x{a.height}, guidance batch 2", "steps": a.steps,
              "full_call_tflop": round(full / 1e12, 2), "reuse_call_tflop": round(reuse / 1e12, 2),
              "reuse_fraction": round(reuse / full, 3), "by_interval": {}}
    for interval in (2, 3, 4, 5):
        fulls = sum(1 for s in range(a.steps) if s % interval == 0 or s == a.steps - 1)
        total = fulls * full + (a.steps - fulls) * reuse
        result["by_interval"][interval] = {"full_steps": fulls, "reuse_steps": a.steps - fulls,
                                           "unet_flop_ratio": round(a.steps * full / total, 2)}
    text = json.dumps(result, indent=1)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
