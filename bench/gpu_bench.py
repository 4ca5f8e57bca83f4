"""Full-size SVD-XT on one GPU: plain diffusers against svdapp's engine, in one process.

The model is the released SVD-XT 1.1 architecture with random weights (same compute and
memory as the real ones; ``bench/svd_xt_configs.json``), saved once as fp16 safetensors
and loaded back through ``from_pretrained`` like a user's download.

    python bench/gpu_bench.py all --out DIR [--budget S] [--sections a,b,...]
    python bench/gpu_bench.py first-video --out DIR      # process start -> mp4 (jobs.run_request)
    python bench/gpu_bench.py warm-compile --out DIR     # a new process, compile cache warm
    python bench/gpu_bench.py takes --out DIR            # 4 takes + the kept seed's video vs one video

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
from svdapp.engine.turbo import TurboConfig  # noqa: E402
from svdapp.presets import resolve  # noqa: E402

GIB = 1024**3
CONFIGS = ROOT / "bench" / "svd_xt_configs.json"
# Kept between calls on a warm device machine: the repo's ignored .bench-cache/ survives them.
WORK = Path(os.environ.get("SVD_BENCH_WORK", ROOT / ".bench-cache"))
MODEL_DIR = Path(os.environ.get("SVD_BENCH_MODEL", WORK / "svd-xt-random"))
os.environ.setdefault("SVDAPP_CACHE", str(WORK / "svdapp-cache"))  # compiled kernels (warm-compile reads them)
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


def engine_run(cache: PipelineCache, p, plan: str, speed: "str | accel.Speed", cap_gib: float | None = None) -> dict:
    """svdapp's engine path (runner.run: cache, plan, OOM ladder, chunked decode)."""
    speed = accel.resolve(speed)
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
        out = run(cache, str(MODEL_DIR), image, p, chosen, SEED, progress, speed=speed)
        sync()
        t1 = time.perf_counter()
        load = out.timings.get("load", 0)
        result = {"video_s": round(t1 - t0 - load, 2), "s_per_step": per_step(stamps),
                  "first_step_s": round(stamps[0] - t0 - load, 2) if stamps else None,
                  "step_s": [round(b - a, 3) for a, b in zip(stamps, stamps[1:])],
                  "decode_s": round(out.timings.get("decode", 0), 2), "load_s": round(load, 2),
                  **peaks(), "plan_start": chosen.name, "plan_end": out.plan, "decode_chunk": out.decode_chunk,
                  "fallbacks": out.fallbacks, "frames_out": int(out.frames.shape[0]), "turbo": out.reuse,
                  "compiled": next(iter(cache.entries.values())).compiled, "frames": out.frames}
    except Exception as exc:  # recorded, not fatal: the next measurement still runs
        result = {"error": f"{type(exc).__name__}: {str(exc)[:300]}", **peaks(), "plan_start": chosen.name}
    finally:
        if cap_gib:
            torch.cuda.set_per_process_memory_fraction(1.0)
    memory.free_memory()
    result.update(speed=speed.mode, cap_gib=cap_gib, alloc_before_gib=round(base_alloc / GIB, 3),
                  alloc_after_gib=round(torch.cuda.memory_allocated() / GIB, 3) if CUDA else 0,
                  reserved_after_gib=round(torch.cuda.memory_reserved() / GIB, 3) if CUDA else 0)
    return result


def strip(r: dict) -> dict:
    return {k: v for k, v in r.items() if k != "frames"}


# --------------------------------------------------------------------------- sections


def unet_levers(rec: Recorder, pipe) -> None:
    """Eager levers on one UNet call at 25 frames 1024x576 (CFG batch 2): time (median of 3)
    and how far the output moves from the plain call. fp8 changes the UNet in place: last."""
    unet = pipe.unet
    g = torch.Generator("cuda").manual_seed(0)
    args = (torch.randn(2, 25, 8, 72, 128, device="cuda", dtype=torch.float16, generator=g),
            torch.tensor(700.0, device="cuda"),
            torch.randn(2, 1, 1024, device="cuda", dtype=torch.float16, generator=g),
            torch.tensor([[6, 127, 0.02]] * 2, device="cuda", dtype=torch.float16))

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return unet(*args, return_dict=False)[0].float()

    def time_unet(reps=3) -> float:
        call()
        sync()
        times = []
        for _ in range(reps):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            call()
            b.record()
            sync()
            times.append(a.elapsed_time(b) / 1000)
        return round(statistics.median(times), 4)

    def rel_err(out: torch.Tensor) -> float:
        return round(float((out - ref).norm() / ref.norm()), 5)

    res = {"eager_default": time_unet()}
    ref = call()
    convs = [m for m in unet.modules() if isinstance(m, torch.nn.Conv2d)]  # Conv3d has no channels_last
    try:
        for m in convs:
            m.to(memory_format=torch.channels_last)
        res["eager_channels_last_conv2d"] = time_unet()
        res["eager_channels_last_conv2d_rel_err"] = rel_err(call())
    except Exception as exc:
        res["eager_channels_last_conv2d"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    for m in convs:
        m.to(memory_format=torch.contiguous_format)
    try:
        from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_
        quantize_(unet, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()))
        res["eager_fp8_linear"] = time_unet()
        res["eager_fp8_linear_rel_err"] = rel_err(call())
    except Exception as exc:  # no torchao, or a card without fp8
        res["eager_fp8_linear"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    rec.put("unet_levers_s_per_call", res)


def vanilla(rec: Recorder, pipe) -> None:
    """Plain diffusers at 25 frames 1024x576 (after a 2-step warm-up); its frames are the
    reference every mode's deviation is measured against."""
    p = params(25, 1024, 576, memory="high")
    vanilla_run(pipe, p, steps=2)  # warm-up: cuDNN handles, allocator
    r = vanilla_run(pipe, p)
    np.save(WORK / "vanilla_25f_1024x576.npy", r.pop("frames"))
    rec.put("vanilla_25f_1024x576", r)


# Each lever alone and combined (eager, then on compiled blocks). Keys name the mode.
MODES = [
    ("exact", accel.Speed("exact")),
    ("turbo_deepcache_block_i3", accel.Speed("turbo", TurboConfig(branch="block", gate=1.0))),
    ("turbo_deepcache_layer_i3", accel.Speed("turbo", TurboConfig(gate=1.0))),
    ("turbo_tgate", accel.Speed("turbo", TurboConfig(interval=1))),
    ("turbo", accel.Speed("turbo")),
    ("compiled", accel.Speed("compiled")),
    ("turbo-compiled", accel.Speed("turbo-compiled")),
    ("turbo-compiled_deepcache_layer_i3", accel.Speed("turbo-compiled", TurboConfig(gate=1.0))),
    ("turbo-compiled_tgate", accel.Speed("turbo-compiled", TurboConfig(interval=1))),
]


def against_vanilla(rec: Recorder, r: dict) -> dict:
    van = rec.data["results"].get("vanilla_25f_1024x576", {})
    ref = WORK / "vanilla_25f_1024x576.npy"
    out = strip(r)
    if "frames" in r and ref.exists():
        out["vs_vanilla"] = deviation(r["frames"], np.load(ref))
    if "video_s" in r and "video_s" in van:
        out["speedup_vs_vanilla"] = round(van["video_s"] / r["video_s"], 3)
    return out


def modes(rec: Recorder, cache: PipelineCache, only: set[str] | None, plan: str = "high",
          cap_gib: float | None = None, suffix: str = "") -> None:
    """Every mode at 25 frames 1024x576, 25 steps; a compiled mode's first run compiles and is
    reported as compile_s, its second is the timed one."""
    p = params(25, 1024, 576, memory=plan)
    for key, speed in MODES:
        name = f"{key}{suffix}_25f_1024x576"
        if only and key not in only:
            continue
        compiles = speed.compiled and not any(e.compiled for e in cache.entries.values())
        if rec.left() < (300 if compiles else 40):
            rec.put(name, {"skipped": "budget"})
            continue
        first = engine_run(cache, p, plan, speed, cap_gib)
        if speed.compiled and "error" not in first:
            second = engine_run(cache, p, plan, speed, cap_gib)
            second["first_run_s"] = first["video_s"]
            second["compile_s"] = round(first["video_s"] - second["video_s"], 1)
            second["first_step_first_run_s"] = first["first_step_s"]
            second["decode_first_run_s"] = first["decode_s"]
            first = second
        rec.put(name, against_vanilla(rec, first))


def new_size(rec: Recorder, cache: PipelineCache) -> None:
    """Compiled mode at a size it has not seen (portrait), after the landscape compile: the
    first run's extra time is what a new video size costs."""
    p = params(25, 576, 1024, memory="high", steps=4)
    first = engine_run(cache, p, "high", "compiled")
    second = engine_run(cache, p, "high", "compiled")
    if "error" in first or "error" in second:
        rec.put("compiled_new_size_25f_576x1024", {"first": strip(first), "second": strip(second)})
        return
    rec.put("compiled_new_size_25f_576x1024", {
        "steps": 4, "first_run_s": first["video_s"], "second_run_s": second["video_s"],
        "new_size_compile_s": round(first["video_s"] - second["video_s"], 1),
        "first_step_s": [first["first_step_s"], second["first_step_s"]], "decode_s": [first["decode_s"], second["decode_s"]],
        "s_per_step": second["s_per_step"]})


def warm_compile(out: Path) -> None:
    """A new process with the compile cache on disk warm: how long before its first step, and
    its whole video, in compiled mode (run after the `modes` section compiled)."""
    t_import = time.perf_counter() - PROCESS_START
    cache = PipelineCache()
    p = params(25, 1024, 576, memory="high")
    r = engine_run(cache, p, "high", "compiled")
    data = {"card": torch.cuda.get_device_name(0) if CUDA else "cpu", "imports_s": round(t_import, 1),
            "process_to_video_s": round(time.perf_counter() - PROCESS_START, 1), **strip(r)}
    (out / "warm_compile.json").write_text(json.dumps(data, indent=1, default=str))
    print("warm_compile:", json.dumps(data, default=str)[:1500], flush=True)


def subprocess_section(rec: Recorder, what: str, out: Path, tiny: bool) -> None:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, what, "--out", str(out)] + (["--tiny"] if tiny else []),
                          cwd=ROOT, capture_output=True, text=True, timeout=max(60, rec.left() - 20))
    result = {"rc": proc.returncode, "wall_s": round(time.perf_counter() - t0, 1),
              "tail": (proc.stdout + proc.stderr)[-1500:]}
    data = out / f"{what.replace('-', '_')}.json"
    if data.exists():
        result["result"] = json.loads(data.read_text())
    rec.put(f"{what}_subprocess", result)


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


def _video_request(takes: int = 1):
    """A request for a video of the test product through jobs.run_request (the bench's model,
    exact mode unless $SVDAPP_SPEED says otherwise) and the video's (frames, width, height)."""
    os.environ.update(SVDAPP_MODEL=str(MODEL_DIR), SVDAPP_OUTPUTS="/tmp/svd-outputs", HF_HUB_OFFLINE="1")
    os.environ.setdefault(accel.SPEED_ENV, "exact")
    from svdapp.request import GenerationRequest
    from svdapp.testimage import write_test_product
    photo = write_test_product("/tmp/product.jpg", 1280, 960)
    size = TINY["size"] if TINY["on"] else (25, 1024, 576)
    over = {"seed": SEED, "memory": "high" if CUDA else "cpu", "frames": size[0], "width": size[1], "height": size[2]}
    if TINY["on"]:
        over["steps"] = TINY["steps"]
    return GenerationRequest(image=photo, overrides=over, takes=takes if takes > 1 else None), size


def _video_facts(result, size) -> dict:
    from svdapp.video import probe
    info = probe(result.video)
    return {"timings": result.meta.timings_s, "fallbacks": list(result.meta.fallbacks),
            "video": {"codec": info.codec, "pix_fmt": info.pix_fmt, "width": info.width, "height": info.height,
                      "frames": info.frames, "duration": info.duration},
            "valid": info.frames == size[0] and (info.width, info.height) == size[1:] and info.codec == "h264"}


def first_video(out: Path) -> None:
    """Process start → finished mp4 through jobs.run_request ($SVDAPP_SPEED, default exact)."""
    from svdapp.jobs import run_request
    request, size = _video_request()
    stages: dict[str, float] = {}
    result = run_request(request, progress=lambda s, d, t: stages.setdefault(s, time.perf_counter() - PROCESS_START))
    data = {"card": torch.cuda.get_device_name(0) if CUDA else "cpu", "process_to_video_s": round(time.perf_counter() - PROCESS_START, 1),
            "stage_first_seen_s": {k: round(v, 1) for k, v in stages.items()}, **_video_facts(result, size)}
    (out / "first_video.json").write_text(json.dumps(data, indent=1, default=str))
    print("first_video:", json.dumps(data, default=str), flush=True)


def takes_video(out: Path, count: int = 4) -> None:
    """Issue 14: one video with ``count`` takes (turbo previews, scored, the best seed rendered
    again in exact mode) against one plain exact video, both warm, in one process."""
    from svdapp.jobs import run_request
    request, size = _video_request()
    run_request(request)  # loads the model and warms the kernels: not timed
    data: dict = {"card": torch.cuda.get_device_name(0) if CUDA else "cpu", "takes": count}
    for key, req in (("one_video", request), (f"takes_{count}", _video_request(count)[0])):
        t0 = time.perf_counter()
        result = run_request(req)
        data[key] = {"wall_s": round(time.perf_counter() - t0, 2), **_video_facts(result, size)}
        data[key]["takes"] = [{"seed": t.seed, "product_fidelity": t.product_fidelity, "motion": t.motion,
                               "kept": t.kept} for t in result.meta.takes]
    data["takes_vs_one_video"] = round(data[f"takes_{count}"]["wall_s"] / data["one_video"]["wall_s"], 2)
    (out / "takes.json").write_text(json.dumps(data, indent=1, default=str))
    print("takes:", json.dumps(data, default=str)[:3000], flush=True)


SECTIONS = ("model", "vanilla", "levers", "takes", "modes", "new-size", "warm-compile", "low", "first-video", "plans", "caps",
            "ladder", "matrix")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("all", "first-video", "warm-compile", "takes"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget", type=float, default=540)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--modes", default="", help="only these keys of MODES (default: all)")
    ap.add_argument("--plan-steps", type=int, default=4)
    ap.add_argument("--ladder-steps", type=int, default=25)
    ap.add_argument("--tiny", action="store_true", help="tiny model, to check the script on a CPU")
    args = ap.parse_args()
    TINY["on"] = args.tiny
    args.out.mkdir(parents=True, exist_ok=True)
    if args.what == "first-video":
        return first_video(args.out)
    if args.what == "warm-compile":
        return warm_compile(args.out)
    if args.what == "takes":
        return takes_video(args.out)

    rec = Recorder(args.out, args.budget)
    todo = set(args.sections.split(","))
    only = set(filter(None, args.modes.split(","))) or None
    WORK.mkdir(parents=True, exist_ok=True)
    if "model" in todo or not (MODEL_DIR / "model_index.json").exists():
        build_and_save(rec)
    if todo & {"levers", "vanilla"}:
        vanilla_pipe = load_vanilla(rec)
        if "vanilla" in todo:
            vanilla(rec, vanilla_pipe)
        if "levers" in todo and not args.tiny:
            unet_levers(rec, vanilla_pipe)
        del vanilla_pipe
        memory.free_memory()

    if "takes" in todo and rec.left() > 150:  # before any compile, in its own process
        subprocess_section(rec, "takes", args.out, args.tiny)
    cache = PipelineCache()
    if "modes" in todo:
        modes(rec, cache, only)
    if "new-size" in todo and rec.left() > 90:
        new_size(rec, cache)
    if "warm-compile" in todo and rec.left() > 120:
        cache.clear()
        subprocess_section(rec, "warm-compile", args.out, args.tiny)
    if "low" in todo:  # every mode under the low plan on a 7 GiB card
        modes(rec, cache, only, plan="low", cap_gib=7, suffix="_low_cap7")
    if "first-video" in todo and rec.left() > 120:
        cache.clear()
        subprocess_section(rec, "first-video", args.out, args.tiny)
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
