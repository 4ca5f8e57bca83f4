"""CPU benchmark of the classic engine and finishing (the issue's speed targets).

    .venv/bin/python bench/bench_classic.py [--repeats 3] [--out bench/results/classic_cpu.json]

Measures, on this machine's CPU cores:
  - classic engine: a 4-second 1080x1920 30 fps push-in and parallax, rendered and encoded to
    H.264 (target: ≤ 3 s), plus render alone and the whole `run_request` (load photo → files);
  - 2x optical-flow interpolation of 25 frames at 1024x576 (target: ≤ 5 s), DIS and Farneback;
  - the extra formats (WebM, GIF, poster) of the same 1080x1920 clip.
Each figure is the best of ``--repeats`` runs (the machine may be shared; the median is kept
too) with the load average, so a busy machine shows in the record. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cputime import cpu_name, timed  # noqa: E402  (bench/, the script's own folder)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from svdapp import classic, finishing, video  # noqa: E402
from svdapp.jobs import CLASSIC_X264_PRESET  # noqa: E402
from svdapp.testimage import make_test_product  # noqa: E402

TARGETS = {"classic_push_in_1080x1920_4s": 3.0, "interpolate_2x_25f_1024x576_dis": 5.0}



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "classic_cpu.json")
    args = ap.parse_args()
    photo = make_test_product(1600, 1200)
    size, fps, seconds = (1080, 1920), 30, 4.0
    count = int(seconds * fps)
    results: dict[str, dict] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-classic-"))
    load_before = os.getloadavg()

    def classic(style: str, preset: str):
        def run():
            clip = classic.render(photo, size, count, style, seed=1).clip
            video.write_mp4(clip, tmp / "c.mp4", fps, preset=preset)
        return run

    def render_only(style: str):
        def run():
            clip = classic.render(photo, size, count, style, seed=1).clip
            for i in range(len(clip)):
                clip.yuv420(i)
        return run

    results["classic_push_in_1080x1920_4s"] = timed(classic("push-in", CLASSIC_X264_PRESET), args.repeats)
    results["classic_parallax_1080x1920_4s"] = timed(classic("parallax", CLASSIC_X264_PRESET), args.repeats)
    results["classic_push_in_render_only"] = timed(render_only("push-in"), args.repeats)
    results["classic_parallax_render_only"] = timed(render_only("parallax"), args.repeats)
    for preset in ("ultrafast", "superfast", "veryfast", "medium"):  # what the encoder's speed costs in size
        key = f"classic_push_in_x264_{preset}"
        results[key] = timed(classic("push-in", preset), 1)
        results[key]["mp4_bytes"] = (tmp / "c.mp4").stat().st_size
    classic("push-in", CLASSIC_X264_PRESET)()
    results["classic_push_in_1080x1920_4s"]["mp4_bytes"] = (tmp / "c.mp4").stat().st_size

    clip = classic.render(photo, size, count, "push-in", seed=1).clip
    results["webm_1080x1920_4s"] = timed(lambda: video.write_webm(clip, tmp / "c.webm", fps), 1)
    results["gif_1080x1920_4s"] = timed(lambda: video.write_gif(clip, tmp / "c.gif", fps), 1)
    results["poster_1080x1920"] = timed(lambda: video.write_poster(clip[0], tmp / "c.png"), 1)
    for key, name in (("webm_1080x1920_4s", "c.webm"), ("gif_1080x1920_4s", "c.gif"), ("poster_1080x1920", "c.png")):
        results[key]["bytes"] = (tmp / name).stat().st_size

    def end_to_end():
        from svdapp.jobs import run_request
        from svdapp.request import GenerationRequest
        from svdapp.settings import load_settings
        src = tmp / "photo.jpg"
        if not src.exists():
            photo.save(src, quality=92)
        run_request(GenerationRequest(image=src, engine="classic", framing="9:16", seconds=seconds,
                                      overrides={"fps": fps}, out=tmp / "job.mp4"), settings=load_settings())
    results["run_request_classic_9x16_4s"] = timed(end_to_end, args.repeats)

    # An SVD-sized clip with real motion: 25 frames of a pan at 1024x576.
    pan = np.stack(list(classic.render(photo, (1024, 576), 25, "pan-right").clip))
    for method in finishing.FLOW_METHODS:
        key = f"interpolate_2x_25f_1024x576_{method}"
        results[key] = timed(lambda m=method: finishing.interpolate(pan, 2, m), args.repeats if method == "dis" else 1)
    results["interpolate_4x_25f_1024x576_dis"] = timed(lambda: finishing.interpolate(pan, 4, "dis"), 1)

    for key, target in TARGETS.items():
        results[key]["target_s"] = target
        results[key]["meets_target"] = results[key]["best_s"] <= target
    record = {
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "opencv_threads": cv2.getNumThreads(),
                    "load_avg_before": [round(v, 2) for v in load_before],
                    "load_avg_after": [round(v, 2) for v in os.getloadavg()]},
        "versions": {"python": platform.python_version(), "opencv": cv2.__version__, "numpy": np.__version__,
                     "av": __import__("av").__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "classic_x264_preset": CLASSIC_X264_PRESET,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print("| measurement | best (s) | median (s) | CPU (s) | target (s) |\n|---|---|---|---|---|")
    for key, r in results.items():
        print(f"| {key} | {r['best_s']} | {r['median_s']} | {r['cpu_s']} | {r.get('target_s', '')} |")
    print(f"load average before/after: {record['machine']['load_avg_before']} / {record['machine']['load_avg_after']}")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
