"""Full-size SVD-XT on one GPU: plain diffusers against svdapp's engine, in one process.

The model is the released SVD-XT 1.1 architecture with random weights (same compute and
memory as the real ones; ``bench/svd_xt_configs.json``), saved once as fp16 safetensors
and loaded back through ``from_pretrained`` like a user's download.

    python bench/gpu_bench.py all --out DIR [--budget S] [--sections a,b,...]
    python bench/gpu_bench.py first-video --model DIR --out DIR   # process start -> mp4

Everything is written to DIR/bench.json (updated after every measurement, so a run cut
short still leaves its numbers) and printed as one line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROCESS_START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from svdapp import engine  # noqa: E402  (sets the allocator before torch touches CUDA)
import torch  # noqa: E402
from svdapp.engine import accel, memory  # noqa: E402
from svdapp.engine.cache import PipelineCache  # noqa: E402
from svdapp.engine.runner import run  # noqa: E402
from svdapp.presets import resolve  # noqa: E402

GIB = 1024**3
CONFIGS = ROOT / "bench" / "svd_xt_configs.json"
MODEL_DIR = Path(os.environ.get("SVD_BENCH_MODEL", "/tmp/svd-xt-random"))
SEED = 1234
CUDA = torch.cuda.is_available()
# --tiny: the tiny test model on whatever device there is, to check this script end to end.
TINY = {"on": False, "steps": 2, "size": (4, 128, 64)}


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def params(frames: int, width: int, height: int, **overrides):
    if TINY["on"]:
        frames, width, height = TINY["size"]
        overrides["steps"] = min(overrides.get("steps", TINY["steps"]), TINY["steps"])
    return resolve(None, {"frames": frames, "width": width, "height": height, "seed": SEED, **overrides})


class Recorder:
    """Collects results into one JSON file, rewritten after each measurement."""

    def __init__(self, out: Path, budget: float):
        self.out, self.budget, self.t0 = out, budget, time.perf_counter()
        self.data: dict = {"card": torch.cuda.get_device_name(0) if CUDA else "cpu", "versions": engine.versions(),
                           "alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF"), "results": {}}
        out.mkdir(parents=True, exist_ok=True)

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.t0)

    def put(self, key: str, value) -> None:
        if isinstance(value, dict):
            value = {"card": self.data["card"], **value}
        self.data["results"][key] = value
        (self.out / "bench.json").write_text(json.dumps(self.data, indent=1, default=str))
        print(f"[{time.perf_counter() - self.t0:6.1f}s] {key}: {json.dumps(value, default=str)[:600]}", flush=True)


def product_photo(width: int, height: int):
    from svdapp.imageprep import fit
    from svdapp.testimage import make_test_product
    return fit(make_test_product(1280, 960), width, height, "contain")


def reset_peaks() -> None:
    memory.free_memory()
    sync()
    if CUDA:
        torch.cuda.reset_peak_memory_stats()


def peaks() -> dict:
    if not CUDA:
        return {}
    return {"peak_alloc_gib": round(torch.cuda.max_memory_allocated() / GIB, 2),
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 2)}


def per_step(stamps: list[float]) -> float | None:
    """Median step time, leaving out the first step (encoders, compile, autotune)."""
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return round(statistics.median(gaps), 4) if gaps else None


def deviation(a: np.ndarray, b: np.ndarray) -> dict:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    mse = float((diff.astype(np.float64) ** 2).mean())
    return {"max_abs": int(diff.max()), "mean_abs": round(float(diff.mean()), 4),
            "psnr_db": round(10 * np.log10(255**2 / mse), 2) if mse > 0 else float("inf")}


# --------------------------------------------------------------------------- model


def build_and_save(rec: Recorder) -> None:
    from svdapp.engine.random_weights import full_pipeline, tiny_pipeline
    t0 = time.perf_counter()
    pipe = tiny_pipeline() if TINY["on"] else full_pipeline(CONFIGS, torch.float16, "cuda", seed=0)
    sync()
    t1 = time.perf_counter()
    pipe.save_pretrained(MODEL_DIR, variant=None if TINY["on"] else "fp16", safe_serialization=True)
    t2 = time.perf_counter()
    params = {name: sum(p.numel() for p in getattr(pipe, name).parameters()) for name in ("unet", "vae", "image_encoder")}
    size = sum(f.stat().st_size for f in MODEL_DIR.rglob("*.safetensors"))
    del pipe
    memory.free_memory()
    rec.put("model", {"build_s": round(t1 - t0, 1), "save_s": round(t2 - t1, 1), "params": params,
                      "safetensors_gib": round(size / GIB, 2), "folder": str(MODEL_DIR)})


def load_vanilla(rec: Recorder):
    from diffusers import StableVideoDiffusionPipeline
    sync()
    t0 = time.perf_counter()
    pipe = StableVideoDiffusionPipeline.from_pretrained(MODEL_DIR, dtype=torch.float16 if CUDA else torch.float32,
                                                        variant=None if TINY["on"] else "fp16", use_safetensors=True)
    t1 = time.perf_counter()
    pipe.to("cuda" if CUDA else "cpu")
    sync()
    t2 = time.perf_counter()
    pipe.set_progress_bar_config(disable=True)
    rec.put("load", {"from_pretrained_s": round(t1 - t0, 2), "to_cuda_s": round(t2 - t1, 2),
                     "total_s": round(t2 - t0, 2), "note": "page cache warm (files just written)"})
    return pipe


# --------------------------------------------------------------------------- runs


def vanilla_run(pipe, p, steps: int | None = None) -> dict:
    """Plain diffusers, its defaults, the same inputs as the engine's run."""
    torch.backends.cudnn.benchmark = False
    image = product_photo(p.width, p.height)
    stamps: list[float] = []

    def on_step(_pipe, i, t, kwargs):
        sync()
        stamps.append(time.perf_counter())
        return kwargs

    reset_peaks()
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = pipe(image, height=p.height, width=p.width, num_frames=p.frames, num_inference_steps=steps or p.steps,
                   min_guidance_scale=p.min_guidance, max_guidance_scale=p.max_guidance, fps=p.cond_fps,
                   motion_bucket_id=p.motion, noise_aug_strength=p.noise_aug,
                   generator=torch.Generator("cpu").manual_seed(SEED), decode_chunk_size=p.decode_chunk,
                   output_type="np", callback_on_step_end=on_step)
    sync()
    t1 = time.perf_counter()
    frames = (np.asarray(out.frames[0]) * 255).round().astype(np.uint8)
    return {"video_s": round(t1 - t0, 2), "s_per_step": per_step(stamps), "decode_s": round(t1 - stamps[-1], 2),
            **peaks(), "frames": frames}


def engine_run(cache: PipelineCache, p, plan: str, speed: str, cap_gib: float | None = None) -> dict:
    """svdapp's engine path (runner.run: cache, plan, OOM ladder, chunked decode)."""
    os.environ[accel.SPEED_ENV] = speed
    image = product_photo(p.width, p.height)
    stamps: list[float] = []

    def progress(stage, done, total):
        if stage == "denoise" and done > 0:
            sync()
            stamps.append(time.perf_counter())

    cap_gib = cap_gib if CUDA else None
    if cap_gib:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap_gib * GIB / total))
    info = engine.device_info()
    if cap_gib:
        info = type(info)(**{**info.__dict__, "free_bytes": int(cap_gib * GIB)})
    chosen = memory.choose_plan(plan, info, p.frames, p.width, p.height)
    base_alloc = torch.cuda.memory_allocated() if CUDA else 0
    reset_peaks()
    t0 = time.perf_counter()
    try:
        out = run(cache, str(MODEL_DIR), image, p, chosen, SEED, progress)
        sync()
        t1 = time.perf_counter()
        result = {"video_s": round(t1 - t0, 2), "s_per_step": per_step(stamps),
                  "decode_s": round(out.timings.get("decode", 0), 2), "load_s": round(out.timings.get("load", 0), 2),
                  **peaks(), "plan_start": chosen.name, "plan_end": out.plan, "decode_chunk": out.decode_chunk,
                  "fallbacks": out.fallbacks, "frames_out": int(out.frames.shape[0]), "frames": out.frames}
    except Exception as exc:  # recorded, not fatal: the next measurement still runs
        result = {"error": f"{type(exc).__name__}: {str(exc)[:300]}", **peaks(), "plan_start": chosen.name}
    finally:
        if cap_gib:
            torch.cuda.set_per_process_memory_fraction(1.0)
    memory.free_memory()
    result.update(speed=speed, cap_gib=cap_gib, alloc_before_gib=round(base_alloc / GIB, 3),
                  alloc_after_gib=round(torch.cuda.memory_allocated() / GIB, 3) if CUDA else 0,
                  reserved_after_gib=round(torch.cuda.memory_reserved() / GIB, 3) if CUDA else 0)
    return result


def strip(r: dict) -> dict:
    return {k: v for k, v in r.items() if k != "frames"}


# --------------------------------------------------------------------------- sections


def unet_levers(rec: Recorder, pipe) -> None:
    """Eager levers on one UNet call at 25 frames 1024x576 (CFG batch 2), plus a profile."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    unet = pipe.unet
    g = torch.Generator("cuda").manual_seed(0)
    args = (torch.randn(2, 25, 8, 72, 128, device="cuda", dtype=torch.float16, generator=g),
            torch.tensor(700.0, device="cuda"),
            torch.randn(2, 1, 1024, device="cuda", dtype=torch.float16, generator=g),
            torch.tensor([[6, 127, 0.02]] * 2, device="cuda", dtype=torch.float16))

    def time_unet(reps=3) -> float:
        with torch.inference_mode():
            unet(*args, return_dict=False)
            torch.cuda.synchronize()
            times = []
            for _ in range(reps):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                unet(*args, return_dict=False)
                b.record()
                torch.cuda.synchronize()
                times.append(a.elapsed_time(b) / 1000)
        return round(statistics.median(times), 4)

    res = {}
    torch.backends.cudnn.benchmark = False
    res["eager_default"] = time_unet()
    for name in ("FLASH_ATTENTION", "CUDNN_ATTENTION", "EFFICIENT_ATTENTION"):
        try:
            with sdpa_kernel([getattr(SDPBackend, name)]):
                res[f"eager_sdpa_{name.lower()}"] = time_unet()
        except Exception as exc:
            res[f"eager_sdpa_{name.lower()}"] = f"{type(exc).__name__}: {str(exc)[:120]}"
    torch.backends.cudnn.benchmark = True
    res["eager_cudnn_benchmark"] = time_unet()
    torch.backends.cudnn.benchmark = False
    rec.put("unet_levers_s_per_call", res)

    from torch.profiler import ProfilerActivity, profile
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CUDA]) as prof:
        unet(*args, return_dict=False)
        torch.cuda.synchronize()
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=30)
    (rec.out / "profile_unet_eager.txt").write_text(table)
    print(table[:6000], flush=True)


def compare(rec: Recorder, vanilla_pipe, cache: PipelineCache, sizes, phase: str) -> None:
    """Vanilla, or the engine in compiled mode, for each size; ``phase`` "vanilla" or "engine"."""
    for frames, width, height in sizes:
        key = f"{frames}f_{width}x{height}"
        p = params(frames, width, height, memory="high")
        if phase == "vanilla":
            vanilla_run(vanilla_pipe, p, steps=2)  # warm-up: cuDNN handles, allocator
            r = vanilla_run(vanilla_pipe, p)
            np.save(f"/tmp/vanilla_{key}.npy", r.pop("frames"))
            rec.put(f"vanilla_{key}", r)
        else:
            first = engine_run(cache, p, "high", "compiled")
            if "error" in first:
                rec.put(f"engine_compiled_{key}", first)
                continue
            second = engine_run(cache, p, "high", "compiled")
            ref = np.load(f"/tmp/vanilla_{key}.npy")
            van = rec.data["results"][f"vanilla_{key}"]
            dev = deviation(second["frames"], ref) if second.get("frames") is not None else None
            rec.put(f"engine_compiled_{key}", {
                **strip(second), "first_run_s": first["video_s"],
                "compile_and_autotune_s": round(first["video_s"] - second["video_s"], 1),
                "vs_vanilla": dev,
                "speedup_video": round(van["video_s"] / second["video_s"], 3) if "video_s" in second else None,
                "speedup_step": round(van["s_per_step"] / second["s_per_step"], 3) if second.get("s_per_step") else None})


def eager_engine_vs_vanilla(rec: Recorder, cache: PipelineCache) -> None:
    """The engine's default (exact, uncompiled) path: frames must equal vanilla's bit for bit."""
    p = params(25, 1024, 576, memory="high")
    r = engine_run(cache, p, "high", "exact")
    ref = np.load("/tmp/vanilla_25f_1024x576.npy")
    rec.put("engine_exact_25f_1024x576", {**strip(r), "vs_vanilla": deviation(r["frames"], ref) if "frames" in r else None})


def turbo_runs(rec: Recorder, cache: PipelineCache) -> None:
    """Turbo (DeepCache) at several intervals against vanilla's frames: speed-up and PSNR."""
    from svdapp.engine import turbo
    p = params(25, 1024, 576, memory="high")
    ref = np.load("/tmp/vanilla_25f_1024x576.npy")
    van = rec.data["results"]["vanilla_25f_1024x576"]
    default = turbo.INTERVAL
    for interval in (3, 2, 5):
        key = f"engine_turbo_i{interval}_25f_1024x576"
        if rec.left() < 60:
            rec.put(key, {"skipped": "budget"})
            continue
        turbo.INTERVAL = interval
        r = engine_run(cache, p, "high", "turbo")
        rec.put(key, {**strip(r), "interval": interval, "vs_vanilla": deviation(r["frames"], ref) if "frames" in r else None,
                      "speedup_video": round(van["video_s"] / r["video_s"], 3) if "video_s" in r else None})
    turbo.INTERVAL = default


def plans(rec: Recorder, cache: PipelineCache, steps: int) -> None:
    """Each plan's peak memory and time per step (default exact mode, uncompiled)."""
    order = [(25, "high"), (25, "normal"), (25, "low"), (15, "high"), (15, "low"), (50, "high"), (50, "low"),
             (15, "normal"), (50, "normal"), (25, "minimal"), (15, "minimal"), (50, "minimal")]
    for frames, plan in order:
        if rec.left() < 60:
            rec.put(f"plan_{plan}_{frames}f", {"skipped": "budget"})
            continue
        p = params(frames, 1024, 576, steps=steps, memory=plan)
        rec.put(f"plan_{plan}_{frames}f_1024x576", strip(engine_run(cache, p, plan, "exact")))


def caps(rec: Recorder, cache: PipelineCache, steps: int, auto_only: bool = False) -> None:
    """The issue's caps: low 7 GiB and minimal 5 GiB at 25 frames portrait; auto at 7/12/16/24."""
    runs = [] if auto_only else [("low", 7, 25, 576, 1024), ("minimal", 5, 25, 576, 1024)]
    runs += [("auto", cap, 25, 1024, 576) for cap in (7, 12, 16, 24)]
    for plan, cap, frames, w, h in runs:
        key = f"cap{cap}_{plan}_{frames}f_{w}x{h}"
        if rec.left() < 60:
            rec.put(key, {"skipped": "budget"})
            continue
        p = params(frames, w, h, steps=steps, memory=plan)
        rec.put(key, strip(engine_run(cache, p, plan, "exact", cap_gib=cap)))


def forced_high(rec: Recorder, cache: PipelineCache, steps: int, runs, prefix: str, keep_s: float) -> None:
    """The high plan forced under memory caps: real OOMs, which the ladder must turn into
    recorded fallbacks and a finished run (auto picks a plan that fits and never hits OOM)."""
    for cap, frames in runs:
        key = f"{prefix}_cap{cap}_high_{frames}f" + ("_1024x576" if prefix == "oom" else "")
        if rec.left() < keep_s:
            rec.put(key, {"skipped": "budget"})
            continue
        p = params(frames, 1024, 576, steps=steps, memory="high")
        rec.put(key, strip(engine_run(cache, p, "high", "exact", cap_gib=cap)))


def first_video(out: Path) -> None:
    """Process start → finished mp4 through jobs.run_request (warm compile cache)."""
    os.environ.update(SVDAPP_MODEL=str(MODEL_DIR), SVDAPP_OUTPUTS="/tmp/svd-outputs", HF_HUB_OFFLINE="1")
    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest
    from svdapp.testimage import write_test_product
    from svdapp.video import probe
    photo = write_test_product("/tmp/product.jpg", 1280, 960)
    stages: dict[str, float] = {}
    size = TINY["size"] if TINY["on"] else (25, 1024, 576)
    over = {"seed": SEED, "memory": "high" if CUDA else "cpu", "frames": size[0], "width": size[1], "height": size[2]}
    if TINY["on"]:
        over["steps"] = TINY["steps"]
    os.environ.setdefault(accel.SPEED_ENV, "compiled")
    result = run_request(GenerationRequest(image=photo, overrides=over),
                         progress=lambda s, d, t: stages.setdefault(s, time.perf_counter() - PROCESS_START))
    info = probe(result.video)
    data = {"card": torch.cuda.get_device_name(0) if CUDA else "cpu", "process_to_video_s": round(time.perf_counter() - PROCESS_START, 1),
            "stage_first_seen_s": {k: round(v, 1) for k, v in stages.items()}, "timings": result.timings,
            "fallbacks": result.fallbacks, "video": {"codec": info.codec, "pix_fmt": info.pix_fmt, "width": info.width,
                                                     "height": info.height, "frames": info.frames,
                                                     "duration": info.duration},
            "valid": info.frames == size[0] and (info.width, info.height) == size[1:] and info.codec == "h264"}
    (out / "first_video.json").write_text(json.dumps(data, indent=1, default=str))
    print("first_video:", json.dumps(data, default=str), flush=True)


SECTIONS = ("model", "levers", "vanilla", "exact", "compiled", "turbo", "first-video", "plans", "caps", "ladder",
            "sizes", "matrix")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("all", "first-video"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget", type=float, default=540)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--plan-steps", type=int, default=4)
    ap.add_argument("--ladder-steps", type=int, default=25)
    ap.add_argument("--sizes", default="15x1024x576,50x1024x576,25x576x1024")
    ap.add_argument("--tiny", action="store_true", help="tiny model, to check the script on a CPU")
    args = ap.parse_args()
    TINY["on"] = args.tiny
    if args.what == "first-video":
        return first_video(args.out)

    rec = Recorder(args.out, args.budget)
    todo = set(args.sections.split(","))
    main_size = [(25, 1024, 576)]
    extra = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",") if s]
    if "model" in todo or not (MODEL_DIR / "model_index.json").exists():
        build_and_save(rec)
    vanilla_pipe = load_vanilla(rec) if todo & {"levers", "vanilla"} else None
    if "levers" in todo and not args.tiny:
        unet_levers(rec, vanilla_pipe)
    if "vanilla" in todo:
        compare(rec, vanilla_pipe, None, main_size + (extra if "sizes" in todo else []), "vanilla")
    del vanilla_pipe
    memory.free_memory()

    cache = PipelineCache()
    if "exact" in todo:
        eager_engine_vs_vanilla(rec, cache)
    if "compiled" in todo:
        compare(rec, None, cache, main_size, "engine")
    if "turbo" in todo:
        turbo_runs(rec, cache)
    if "first-video" in todo and rec.left() > 120:
        cache.clear()
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "first-video", "--out", str(args.out)]
                              + (["--tiny"] if args.tiny else []), cwd=ROOT,
                              capture_output=True, text=True, timeout=max(60, rec.left() - 30))
        rec.put("first_video_subprocess", {"rc": proc.returncode, "wall_s": round(time.perf_counter() - t0, 1),
                                           "tail": (proc.stdout + proc.stderr)[-1500:]})
    if "sizes" in todo:
        for size in extra:
            if rec.left() < 150:
                rec.put(f"engine_compiled_{size[0]}f_{size[1]}x{size[2]}", {"skipped": "budget"})
                continue
            compare(rec, None, cache, [size], "engine")
    if todo & {"caps", "caps_auto"}:
        caps(rec, cache, args.plan_steps, auto_only="caps" not in todo)
    if "ladder" in todo:
        forced_high(rec, cache, args.ladder_steps, ((10, 25), (12, 50)), "ladder", keep_s=90)
    if "matrix" in todo:  # issue 7: 8/12/16 GiB x 15/25/50 frames
        forced_high(rec, cache, args.plan_steps, [(c, f) for c in (8, 12, 16) for f in (15, 25, 50)], "oom",
                    keep_s=40)
    if "plans" in todo:
        plans(rec, cache, args.plan_steps)
    rec.put("bench_wall_s", round(time.perf_counter() - PROCESS_START, 1))


if __name__ == "__main__":
    main()
