"""How well the product-fidelity score separates faithful clips from changed ones, and its speed.

    .venv/bin/python bench/fidelity_separation.py [--frames 25] [--repeats 5]
                                                  [--out bench/results/fidelity_separation.json]

Builds a labelled set from four product designs (svdapp's bottle, a tea carton with print
and a logo, a honey jar on a busy cloth, a plain mug without print; with and without alpha)
at 1024x576 and 576x1024:

- good: the product only moves as a whole — camera push-in, pull-out, pan, rotation, tilt,
  a 9:16 cover crop, a new backdrop, generator-like softness and noise, brightness flicker,
  and clips rendered by svdapp's own classic engine (incl. its 2.5D parallax);
- bad: by the last frames the label is bent by 3 % of the product's size, the hue turned
  35°, the product blurred until its text is unreadable, the label smeared or erased, the
  label bent in the last three frames only, or the product gone from the picture;
- in between: milder versions (1–2 % bend, 10–20° hue, half the blur) — no label, shown to
  see the scale;
- known limits: cases the score gets wrong on purpose or by design (see docs/fidelity.md).

Prints a Markdown table, and writes each clip's score and parts, the lowest good score, the
highest bad score and the margin between them, a good and a bad clip scored from H.264 files
at CRF 18–35, and the time to score 25 frames of 1024x576 (best of ``--repeats``, wall and
CPU, with the load average: the machine may be shared).
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

from svdapp import classic, fidelity, imageprep, video  # noqa: E402
from tests import fidelity_clips as fc  # noqa: E402
from tests.fidelity_clips import ClipSpec  # noqa: E402

WIDE, TALL = (1024, 576), (576, 1024)


def labelled(frames: int) -> list[tuple[str, ClipSpec | tuple[str, str, tuple[int, int]]]]:
    """(label, clip) pairs; a clip is a ClipSpec, or (product, classic style, size)."""
    c = lambda *a, **k: ClipSpec(*a, frames=frames, **k)  # noqa: E731
    good = [c("bottle", "push-in"), c("bottle", "pan", "soft", size=TALL), c("bottle-alpha", "still", "background"),
            c("bottle-alpha", "tilt", "exposure", amount=-0.08), c("carton-alpha", "pan"),
            c("carton-alpha", "tilt", size=TALL), c("carton", "pull-out"), c("carton", "rotate", "jitter", size=TALL),
            c("carton-alpha", "still"), c("carton", "cover"), c("jar", "rotate"), c("jar", "cover", size=TALL),
            c("jar", "still", "background"), c("jar-alpha", "push-in", "soft"), c("jar-alpha", "pan", size=TALL),
            ("bottle", "parallax", WIDE), ("carton-alpha", "parallax", TALL), ("jar", "parallax", WIDE),
            ("jar", "pan-left", TALL), c("mug", "rotate"), c("mug-alpha", "pan", size=TALL), c("jar", "far"),
            c("carton-alpha", "far", size=TALL)]
    bad = [c("bottle", "push-in", "warp"), c("carton-alpha", "pan", "warp", size=TALL), c("jar", "tilt", "warp"),
           c("bottle", "pan", "hue"), c("carton", "rotate", "hue", size=TALL), c("jar-alpha", "push-in", "hue"),
           c("bottle-alpha", "push-in", "blur"), c("carton", "pull-out", "blur", size=TALL), c("jar", "pan", "blur"),
           c("jar", "rotate", "smear"), c("bottle", "cover", "smear", size=TALL),
           c("carton-alpha", "push-in", "erase"), c("jar-alpha", "pull-out", "erase", size=TALL),
           c("carton", "push-in", "melt-end"), c("bottle", "pan", "melt-end", size=TALL), c("jar", "exit"),
           c("mug", "push-in", "hue"), c("mug-alpha", "pan", "hue", size=TALL)]
    between = [c("bottle", "push-in", "warp", amount=0.01), c("carton-alpha", "push-in", "warp", amount=0.01),
               c("jar", "push-in", "warp", amount=0.02), c("carton-alpha", "push-in", "hue", amount=10),
               c("jar", "push-in", "hue", amount=20), c("bottle", "push-in", "blur", amount=0.006),
               c("carton-alpha", "push-in", "blur", amount=0.006), c("jar", "push-in", "blur", amount=0.006),
               c("carton-alpha", "push-in", "blur", amount=0.003), c("jar", "push-in", "warp", amount=0.005)]
    limits = [c("bottle", "still", "background"), c("bottle", "push-in", "exposure", amount=0.1),
              c("mug-alpha", "still", "background")]
    return ([("good", s) for s in good] + [("bad", s) for s in bad] + [("between", s) for s in between]
            + [("limit", s) for s in limits])


_products: dict[str, fc.Product] = {}


def product(name: str) -> fc.Product:
    if name not in _products:
        _products[name] = fc.PRODUCTS[name]()
    return _products[name]


def frames_of(clip: ClipSpec | tuple[str, str, tuple[int, int]], count: int) -> tuple[str, np.ndarray]:
    if isinstance(clip, ClipSpec):
        return clip.name, fc.render_clip(clip, product(clip.product))
    name, style, size = clip
    p = product(name)
    rgb = np.asarray(imageprep.load_image(p.photo()))  # as the app loads it: transparency on white
    rendered = classic.render(rgb, size, count, style, alpha=classic.load_alpha(p.photo()))
    return f"{name}/classic-{style}/none/{size[0]}x{size[1]}", np.stack([rendered.clip[i] for i in range(count)])


def timing(repeats: int) -> dict:
    """25 frames of 1024x576: with the photo's preparation (GrabCut for a photo without alpha)
    and with a prepared reference (what scoring several seeds of one photo costs per video);
    and score_file on an H.264 MP4 (decoding included)."""
    out = {}
    for name in ("bottle", "carton-alpha"):
        p = product(name)
        frames = fc.render_clip(ClipSpec(name, "push-in", frames=25), p)
        photo = p.photo()
        fidelity.score_video(photo, frames)  # warm up
        ref = fidelity.load_reference(photo)
        key = f"{name}_25f_1024x576"
        out[f"{key}_with_photo"] = timed(lambda: fidelity.score_video(photo, frames), repeats)
        out[f"{key}_reference_only"] = timed(lambda: fidelity.load_reference(photo), repeats)
        out[f"{key}_frames_only"] = timed(lambda: fidelity.score_video(ref, frames), repeats)
        with tempfile.TemporaryDirectory() as tmp:
            mp4 = video.write_mp4(frames, Path(tmp) / "v.mp4", 25)
            photo.save(Path(tmp) / "p.png")
            out[f"{key}_score_file_mp4"] = timed(lambda: fidelity.score_file(mp4, Path(tmp) / "p.png"), repeats)
    return out


def compression(frames: int) -> list[dict]:
    """A good and a bad clip through H.264 at rising CRF (more compression), scored from file."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in (ClipSpec("carton-alpha", "pan", frames=frames), ClipSpec("jar", "push-in", "blur", frames=frames)):
            p = product(spec.product)
            photo = Path(tmp) / f"{spec.product}.png"
            p.photo().save(photo)
            clip = fc.render_clip(spec, p)
            for crf in (18, 23, 28, 35):
                mp4 = video.write_mp4(clip, Path(tmp) / "v.mp4", 25, crf=crf)
                r = fidelity.score_file(mp4, photo)
                out.append({"clip": spec.name, "crf": crf, "kbytes": round(mp4.stat().st_size / 1000, 1),
                            "score": r.product_fidelity, "detail": r.detail, "colour": r.colour})
                print(f"{spec.name} crf {crf}: {r.product_fidelity:.2f}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fidelity_separation.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    references: dict[str, fidelity.ProductReference] = {}
    rows = []
    for label, clip in labelled(args.frames):
        name, frames = frames_of(clip, args.frames)
        pname = name.split("/")[0]
        if pname not in references:
            references[pname] = fidelity.load_reference(product(pname).photo())
        t0 = time.perf_counter()
        r = fidelity.score_video(references[pname], frames)
        rows.append({"clip": name, "label": label, "score": r.product_fidelity, "shape": r.shape,
                     "detail": r.detail, "colour": r.colour, "found": r.found, "visible": r.visible,
                     "motion": r.motion,
                     "flicker": r.flicker, "worst_frame": r.worst_frame, "seconds": round(time.perf_counter() - t0, 3)})
        print(f"| {label:7s} | {name:46s} | {r.product_fidelity:5.2f} | {r.shape:4.2f} | {r.detail:4.2f} "
              f"| {r.colour:4.2f} | {r.found:4.2f} | {r.motion:5.1f} | {r.flicker:4.2f} |", flush=True)
    good = [r["score"] for r in rows if r["label"] == "good"]
    bad = [r["score"] for r in rows if r["label"] == "bad"]
    summary = {"good": len(good), "bad": len(bad), "min_good": min(good), "max_bad": max(bad),
               "margin": round(min(good) - max(bad), 4),
               "good_below_keep": sum(s < fidelity.KEEP_THRESHOLD for s in good),
               "bad_at_or_above_fail": sum(s >= fidelity.FAIL_THRESHOLD for s in bad)}
    print(json.dumps(summary))
    codec = compression(args.frames)
    times = timing(args.repeats)
    for key, value in times.items():
        print(f"{key}: best {value['best_s']} s, median {value['median_s']} s, cpu {value['cpu_s']} s")
    record = {
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "opencv_threads": cv2.getNumThreads(),
                    "load_avg_before": [round(v, 2) for v in load_before],
                    "load_avg_after": [round(v, 2) for v in os.getloadavg()]},
        "versions": {"python": platform.python_version(), "opencv": cv2.__version__, "numpy": np.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "frames_per_clip": args.frames,
        "thresholds": {"keep": fidelity.KEEP_THRESHOLD, "fail": fidelity.FAIL_THRESHOLD},
        "summary": summary, "clips": rows, "h264": codec, "timing": times,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if summary["margin"] > 0 else 1



if __name__ == "__main__":
    raise SystemExit(main())
