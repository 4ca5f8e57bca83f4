"""Catalogue throughput with Ray: the same batch on 1 GPU and on 2 GPUs (issue 6/6: ≥ 1.8x).

The model is the released SVD-XT 1.1 architecture with random weights (``full_pipeline`` from
``bench/svd_xt_configs.json``), built once in a child process (so this driver never holds
GPU memory) and saved to local disk as fp16 safetensors; every Ray worker loads it through
``from_pretrained`` like a user's download. The photos are synthetic product shots.

    python bench/batch_throughput.py --out DIR [--photos 8] [--gpus 1,2] [--steps 25] [--frames 25]
                                     [--width 1024 --height 576] [--model /tmp/svd-xt-random]
    python bench/batch_throughput.py --out DIR --tiny --gpus 0   # the whole path on the CPU, tiny model

For each GPU count it runs ``svdapp.batch.run_batch`` (a fresh local Ray runtime, one actor
per GPU) over the same photos with the same seed and records:
  - wall_s: the whole batch as a user waits for it (Ray start, model load per GPU, every video);
  - steady: the videos finished after every worker had finished its first one, over that
    time (Ray start, imports and model loads excluded), the figure a long catalogue sees;
  - videos per hour for both, and the ratios of N GPUs to 1 GPU;
  - whether every video of the N-GPU run has the same frames as the 1-GPU run (same seed,
    same GPU model: the batch must not change results).
Everything goes to DIR/batch_throughput.json (rewritten after each run) and is printed.

On this workplace's 2-GPU machine (device tool, kind nvidia-h100-x2; its image has torch but
no ray, diffusers, av or python-dotenv): here, ``bash bench/batch_wheels.sh`` packs the
wheels into .whl/batch-00, .whl/batch-01, ... (≤ 60 MiB each). Then one call per folder, back
to back (the machine keeps ignored folders between calls only while warm, 30 s), each
carrying its own folder; all but the last run just ``ls .whl``; the last one runs:

    set -o pipefail; mkdir -p /tmp/w && cat .whl/batch-*/batch-part.* | tar -xf - -C /tmp/w &&
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade
      --target /tmp/site /tmp/w/*.whl && export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 &&
    python3 bench/batch_throughput.py --out /tmp/batch-bench --photos 8 2>&1 | tee $OUT/batch_throughput.log;
    cp /tmp/batch-bench/batch_throughput.json $OUT/

(timeout_s 600; about 6-7 minutes on H100s: model build + save ~1-2 min, 8 videos on 1 GPU
~3.5 min, on 2 GPUs ~2 min.) Report the figures in docs/benchmarks.md with the card named.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Ray workers inherit the environment of the Ray runtime this process starts: let them
# import svdapp from this checkout (on the GPU machine it is not pip-installed).
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

CONFIGS = ROOT / "bench" / "svd_xt_configs.json"
DEFAULT_MODEL = Path(os.environ.get("SVD_BENCH_MODEL", "/tmp/svd-xt-random"))
SEED = 1234


def build_model(folder: Path, tiny: bool) -> dict:
    """Build and save the random-weight model in a child process; reuse a complete folder."""
    if (folder / "model_index.json").is_file() and any(folder.glob("unet/*.safetensors")):
        return {"folder": str(folder), "reused": True}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--build-model", str(folder)] + (["--tiny"] if tiny else []),
                   check=True)
    return {"folder": str(folder), "reused": False, "build_and_save_s": round(time.perf_counter() - t0, 1)}


def _build_model_here(folder: Path, tiny: bool) -> None:
    import torch

    from svdapp.engine.random_weights import full_pipeline, tiny_pipeline
    if tiny:
        tiny_pipeline().save_pretrained(folder)
        return
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pipe = full_pipeline(CONFIGS, torch.float16, device, seed=0)
    pipe.save_pretrained(folder, variant="fp16", safe_serialization=True)


def write_photos(folder: Path, count: int) -> Path:
    from svdapp.testimage import write_test_product
    for i in range(count):
        path = folder / f"product-{i:03d}.jpg"
        if not path.is_file():
            write_test_product(path, 1280 + 64 * (i % 4), 960)
    return folder


def run_once(photos: Path, out: Path, gpus: int, overrides: dict) -> dict:
    from svdapp.batch import BatchOptions, BatchProgress, read_manifest, run_batch
    from svdapp.settings import load_settings
    engine = "svd"
    options = BatchOptions(input=photos, out_dir=out, engine=engine, overrides=overrides,
                           gpus=gpus if gpus > 0 else None, workers=None)
    summary = run_batch(options, load_settings(), BatchProgress())
    records = [r for r in read_manifest(out).values() if r["status"] == "done"]
    steady = steady_rate(records)
    return {"gpus": gpus, "workers": summary.workers, "done": summary.done, "failed": summary.failed,
            "failures": summary.failures, "wall_s": round(summary.seconds, 1),
            "videos_per_hour_wall": round(summary.videos_per_hour, 1),
            "steady_videos": steady[0] if steady else None, "steady_s": round(steady[1], 1) if steady else None,
            "videos_per_hour_steady": round(steady[0] * 3600 / steady[1], 1) if steady else None,
            "per_video_s": sorted(r["seconds"] for r in records),
            "load_s": sorted(r.get("timings", {}).get("load", 0) for r in records if r.get("timings", {}).get("load", 0) > 1),
            "fallbacks": sorted({f for r in records for f in r.get("fallbacks", [])}),
            "workers_used": sorted({r["worker"] for r in records})}


def steady_rate(records: list[dict]) -> tuple[int, float] | None:
    """(videos, seconds) after every worker finished its first video: imports, model loads and
    first-call warm-up are all behind; None when no worker made a second video."""
    stamp = lambda iso: datetime.fromisoformat(iso).timestamp()  # noqa: E731
    firsts: dict[str, float] = {}
    for r in records:
        firsts[r["worker"]] = min(firsts.get(r["worker"], float("inf")), stamp(r["finished"]))
    if not records or len(records) <= len(firsts):
        return None
    start, end = max(firsts.values()), max(stamp(r["finished"]) for r in records)
    later = sum(1 for r in records if stamp(r["finished"]) > start)
    return (later, end - start) if later and end > start else None


def same_frames(a: Path, b: Path, skus: list[str]) -> dict:
    import numpy as np

    from svdapp.video import read_frames
    worst = 0
    for sku in skus:
        fa, fb = read_frames(a / sku / "video.mp4"), read_frames(b / sku / "video.mp4")
        worst = max(worst, 255 if fa.shape != fb.shape else int(np.abs(fa.astype(int) - fb.astype(int)).max()))
    return {"identical": worst == 0, "max_abs_diff": worst}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/batch-bench"))
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--gpus", default="1,2", help="GPU counts to compare, the first is the baseline (0: CPU workers)")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--frames", type=int, default=25)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=576)
    ap.add_argument("--memory", default="auto")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--tiny", action="store_true", help="tiny model on the CPU (checks this script, no GPU)")
    ap.add_argument("--build-model", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_model:
        _build_model_here(args.build_model, args.tiny)
        return 0

    if args.tiny:
        args.model = args.model.with_name(args.model.name + "-tiny")
        args.steps, args.frames, args.width, args.height, args.memory = 2, 4, 128, 64, "cpu"
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"started": datetime.now().isoformat(timespec="seconds"), "host": os.uname().nodename,
                     "settings": {k: getattr(args, k) for k in ("photos", "steps", "frames", "width", "height",
                                                               "memory", "tiny")}}
    results["model"] = build_model(args.model, args.tiny)
    os.environ.update(SVDAPP_MODEL=str(args.model), HF_HUB_OFFLINE="1")
    os.environ.setdefault("HF_HOME", str(args.out / "hf-home"))
    results["gpu"] = _gpu_names()
    photos = write_photos(args.out / "photos", args.photos)
    overrides = {"steps": args.steps, "frames": args.frames, "width": args.width, "height": args.height,
                 "memory": args.memory, "seed": SEED}
    counts = [int(n) for n in args.gpus.split(",")]
    results["runs"] = []
    for n in counts:
        out = args.out / f"gpus-{n}"
        if out.exists():  # a fresh batch each time: a resumed one would skip everything
            import shutil
            shutil.rmtree(out)
        print(f"--- {n} GPU(s) ---", flush=True)
        results["runs"].append(run_once(photos, out, n, overrides))
        _save(args.out, results)
    base = results["runs"][0]
    skus = sorted(p.stem for p in photos.glob("*.jpg"))
    for run in results["runs"][1:]:
        run["ratio_wall"] = round(run["videos_per_hour_wall"] / base["videos_per_hour_wall"], 3) \
            if base["videos_per_hour_wall"] else None
        run["ratio_steady"] = round(run["videos_per_hour_steady"] / base["videos_per_hour_steady"], 3) \
            if base["videos_per_hour_steady"] and run["videos_per_hour_steady"] else None
        run["frames_vs_baseline"] = same_frames(args.out / f"gpus-{base['gpus']}", args.out / f"gpus-{run['gpus']}", skus)
    _save(args.out, results)
    print(json.dumps(results, indent=2))
    for run in results["runs"][1:]:
        print(f"throughput {run['gpus']} vs {base['gpus']} GPU(s): x{run['ratio_wall']} wall, "
              f"x{run['ratio_steady']} steady (target ≥ 1.8); frames identical: "
              f"{run['frames_vs_baseline']['identical']}")
    return 0


def _gpu_names() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return []


def _save(out: Path, results: dict) -> None:
    (out / "batch_throughput.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
