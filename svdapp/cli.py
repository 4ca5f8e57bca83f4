"""Command line: ``svdapp make|inspect|check|test-image|download|bench|serve|batch`` and ``svd-make``.

A thin shell: parse flags into a GenerationRequest, show progress, print the result or
the error's one-line fix (exit code 2, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .console import plain_fallback
from .errors import SvdAppError, Suggestion, as_flags, describe_error
from .presets import PARAM_NAMES, PRESETS
from .request import SVD_ONLY, GenerationRequest
from .result import ResultMeta
from .takes import DEFAULT_ATTEMPTS, MAX_TAKES, NEAR_TIE, PREVIEW_STEPS
from .vocab import Camera, Choice, Engine, Fit, Format, Framing, Loop, MemoryPlan, SpeedMode, Stage, label_of, values

# `make` flags that are GenerationRequest fields of the same name (batch passes them on too).
REQUEST_FLAGS = ("engine", "camera", "seconds", "loop", "interpolate", "framing", "background", "formats", "takes")


def _add_make_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", required=True, help="product photo (JPEG, PNG, WebP, ...)")
    p.add_argument("--out", type=Path, help="output .mp4 (a .json with the settings is written beside it); "
                   "default: outputs/<time>-<photo>-<seed>/video.mp4")
    p.add_argument("--preset", choices=list(PRESETS), default="standard",
                   help="; ".join(f"{n}: {pr.description}" for n, pr in PRESETS.items()))
    p.add_argument("--frames", type=int, help="number of frames (preset's by default; SVD-XT is tuned for 25)")
    p.add_argument("--fps", type=int, help="playback frames per second of the video file")
    p.add_argument("--portrait", action="store_true", help="upright 9:16 video: swaps width and height")
    p.add_argument("--width", type=int, help="frame width, a multiple of 64 (default 1024)")
    p.add_argument("--height", type=int, help="frame height, a multiple of 64 (default 576)")
    p.add_argument("--fit", choices=values(Fit), help=_listing(Fit, "contain"))
    p.add_argument("--steps", type=int, help="denoising steps (default 25)")
    p.add_argument("--seed", type=int, help="random seed (random when absent; the one used is printed)")
    p.add_argument("--motion", type=int, help="motion bucket id 1-255 (default 127; higher moves more)")
    p.add_argument("--noise-aug", type=float, dest="noise_aug", help="noise augmentation 0-1 (default 0.02)")
    p.add_argument("--cond-fps", type=int, dest="cond_fps", help="fps the model is conditioned on (default 6)")
    p.add_argument("--decode-chunk", type=int, dest="decode_chunk", help="frames decoded at once (default 8)")
    p.add_argument("--memory", choices=values(MemoryPlan), help="memory plan: " + _listing(MemoryPlan, "auto"))
    p.add_argument("--speed", choices=values(SpeedMode),
                   help=_listing(SpeedMode, "exact") + " (the default is $SVDAPP_SPEED when set)")
    g = p.add_argument_group("engine and finishing")
    svd_flags = ", ".join(as_flags([Suggestion(name)]) for name in SVD_ONLY)
    g.add_argument("--engine", choices=values(Engine), default=Engine.AUTO.value,
                   help="svd: Stable Video Diffusion (NVIDIA GPU); classic: camera motion over the photo, no AI, "
                        "seconds on any CPU; auto (default): svd when a CUDA GPU and the model are there, or when "
                        f"an SVD-only flag is given ({svd_flags}), else classic")
    g.add_argument("--camera", choices=values(Camera), default=Camera.PUSH_IN.value,
                   help="classic engine's camera move (default push-in); parallax separates the product from its "
                        "background (alpha channel, else GrabCut) and drifts it against it")
    g.add_argument("--seconds", type=float, help="video length in seconds (classic default 4; svd: the clip's own "
                   "length; with a loop the clip repeats to fill it, without one the last frame holds)")
    g.add_argument("--loop", choices=values(Loop), default=Loop.NONE.value,
                   help="none (default); boomerang: forward then back; crossfade: the end fades into the start, "
                        "a seamless loop (classic: the camera glides back to where it started)")
    g.add_argument("--interpolate", default="1", metavar="{1,2,4}",
                   help="2 or 4 times the frames by optical flow (e.g. SVD's 25 frames at 15 fps → 49 at 30 fps)")
    g.add_argument("--framing", choices=values(Framing), default=Framing.NONE.value,
                   help="pad to 16:9, 9:16, 1:1 or 4:5 without cropping the product (classic renders at 1080 px, "
                        "e.g. 1080x1920 for 9:16); none keeps --width x --height")
    g.add_argument("--background", default="edge",
                   help="padding for --framing (and around the photo in classic videos): edge (photo's border "
                        "colour, default), blur (blurred photo) or a colour (#ffffff, 255,255,255, white)")
    g.add_argument("--formats", default=Format.MP4.value,
                   help="comma list of mp4 (always made), webm (VP9), gif, poster (PNG), or all; "
                        "e.g. --formats mp4,webm,gif,poster")
    p.add_argument_group("takes").add_argument(
        "--takes", type=int, metavar="N",
        help=f"make N takes (1-{MAX_TAKES}) and keep the one that keeps the product best (its product fidelity; "
             f"near-ties within {NEAR_TIE}: the one that moves more). SVD: N quick previews with seeds --seed, "
             f"--seed+1, ... (turbo, at most {PREVIEW_STEPS} steps, at the final size), then the kept seed in "
             "full; classic: N camera moves, starting with --camera. Default 1")


def _listing(kind: type[Choice], default: str) -> str:
    """``a: what a does (default); b: ...`` for a flag's help."""
    return "; ".join(f"{m}: {m.help}" + (" (default)" if m == default else "") for m in kind)


class ProgressLine:
    """One self-updating line on stderr: stage, step i/N, elapsed."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.start = time.perf_counter()
        self.tty = stream.isatty()
        self.last = ""
        self.take = ""  # "Take 2/4 · ": the take the stages now reported belong to

    def __call__(self, stage: str, done: int, total: int) -> None:
        label = label_of(Stage, stage)
        text = f"{label} {done}/{total}" if total > 1 else label
        if stage in (Stage.TAKE, Stage.FINAL):
            self.take = f"{text} · "
        else:
            text = self.take + text
        text = f"[{time.perf_counter() - self.start:6.1f}s] {text}"
        if self.tty:
            self.stream.write("\r" + text.ljust(60))
            self.stream.flush()
        elif (done in (0, total) or stage == Stage.TAKE) and text != self.last and (stage != "load" or done == 0):
            self.stream.write(text + "\n")
            self.stream.flush()
        self.last = text

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")


def request_from_args(args: argparse.Namespace) -> GenerationRequest:
    """The GenerationRequest that ``make``'s flags stand for."""
    return GenerationRequest(image=args.image, preset=args.preset, overrides=_overrides(args),
                             portrait=args.portrait, out=args.out, **_request_fields(args))


def cmd_make(args: argparse.Namespace) -> int:
    from .jobs import run_request

    progress = ProgressLine()
    cancel = threading.Event()
    try:
        result = run_request(request_from_args(args), progress=progress, cancel=cancel)
    finally:
        progress.done()
    for note in result.fallbacks:
        print(f"note: {note}", file=sys.stderr)
    print(f"✓ {result.video}")
    print(f"  {result.frames} frames, {result.width}x{result.height}, {result.fps} fps, "
          f"{result.duration:.2f} s, H.264 — seed {result.seed} (reuse with --seed {result.seed})")
    print(f"  engine: {result.engine_label or result.engine}")
    for line in _fidelity_lines(result.meta):
        print(line)
    for fmt in (Format.WEBM, Format.GIF, Format.POSTER):
        if getattr(result, fmt) is not None:
            print(f"  {fmt.label}: {getattr(result, fmt)}")
    print(f"  settings: {result.meta_path}")
    return 0


def _fidelity_lines(meta: ResultMeta) -> list[str]:
    """The takes and the product fidelity among the result lines: a ✓ line, or a warning with
    what to try."""
    from .product_check import describe
    from .takes import take_words

    lines = []
    if meta.takes:
        lines.append("  takes: " + ", ".join(take_words(t) for t in meta.takes))
    if meta.fidelity is not None:
        text = describe(meta.fidelity, meta.engine)
        lines.append(f"  {text}" if meta.fidelity.ok else f"warning: {text}")
    return lines


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The GenerationParams flags (None: not given, the preset's)."""
    return {name: getattr(args, name) for name in PARAM_NAMES if hasattr(args, name)}


def _request_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields = {name: getattr(args, name) for name in REQUEST_FLAGS if hasattr(args, name)}
    if isinstance(fields.get("formats"), str):
        fields["formats"] = tuple(fields["formats"].split(","))
    return fields


def cmd_inspect(args: argparse.Namespace) -> int:
    from .fidelity import score_file

    report = score_file(args.video, args.photo)
    print(json.dumps(report.to_dict(), indent=1) if args.json else report.summary())
    return 0


def _add_inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", type=Path, metavar="VIDEO", help="the video to score (MP4, WebM, ...)")
    p.add_argument("--photo", type=Path, required=True, help="the product photo the video was made from")
    p.add_argument("--json", action="store_true",
                   help="print every figure as JSON: product_fidelity, per_frame, motion, flicker, the parts, "
                        "each frame's measures, ok and verdict")


def cmd_check(args: argparse.Namespace) -> int:
    from .envcheck import can_generate, run_checks
    checks = run_checks(check_hub=not args.offline)
    for c in checks:
        print(c.line())
    ok = can_generate(checks)
    print("Ready to generate." if ok else "Not ready: fix the ✗ lines above.")
    return 0 if ok else 1


def cmd_test_image(args: argparse.Namespace) -> int:
    from .testimage import write_test_product
    path = write_test_product(args.out, args.width, args.height)
    print(f"✓ test product photo: {path}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from .hub import ensure_model
    from .settings import load_settings
    settings = load_settings()
    if settings.token:
        print(f"token: {settings.masked_token} ({settings.token_source})")
    folder = ensure_model(settings)
    print(f"✓ {settings.model} is ready in {folder}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .ui import serve
    return serve(args)


def add_serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--share", action="store_true", help="also create a public gradio.live link (needs --auth)")
    p.add_argument("--auth", action="append", default=[], metavar="USER:PASS",
                   help="require a login; repeat for several users")
    p.add_argument("--auth-file", type=Path, help="file with one USER:PASS per line")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="allow --share without --auth (anyone with the link can use your GPU)")
    p.add_argument("--max-upload-mb", type=int, default=25, help="largest photo accepted (default 25 MB)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import BatchOptions, BatchProgress, format_summary, run_batch

    fields = {**_request_fields(args), "min_fidelity": args.min_fidelity}
    options = BatchOptions(input=args.input, out_dir=args.out, preset=args.preset, engine=fields.pop("engine"),
                           overrides=_overrides(args), request_fields=fields, portrait=args.portrait, gpus=args.gpus,
                           workers=args.workers, address=args.address)
    summary = run_batch(options, progress=BatchProgress())
    print(format_summary(summary))
    if summary.interrupted:
        return 130
    return 1 if summary.failed else 0


def add_batch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", type=Path, required=True, metavar="FOLDER|catalog.csv",
                   help="a folder of product photos (SKU = file name) or a CSV with columns sku,image and "
                        "optional preset,seed,orientation,motion (image paths relative to the CSV)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output folder: DIR/<sku>/video.mp4 + video.json, DIR/manifest.jsonl and manifest.csv")
    p.add_argument("--gpus", type=int, help="GPU workers, one per GPU (default: every GPU Ray sees)")
    p.add_argument("--workers", type=int, help="CPU workers when no GPU is used (default: one per CPU)")
    p.add_argument("--address", metavar="auto|ray://HOST:10001",
                   help="join a running Ray cluster (default: start a local Ray runtime for this batch)")
    p.add_argument("--min-fidelity", type=float, dest="min_fidelity", metavar="X",
                   help="a video whose product fidelity (0-1) is under X is made again with the next seed (classic: "
                        f"the next camera move), up to --takes attempts ({DEFAULT_ATTEMPTS} when --takes is not "
                        "given), until one reaches X; if none does, the best is kept and marked review in the "
                        "manifest. E.g. 0.8: the product kept as in the photo")
    # The generation flags of `make` (same names, help and checks), for every product;
    # a CSV row's preset/seed/orientation/motion wins over them.
    template = argparse.ArgumentParser(add_help=False)
    _add_make_args(template)
    for action in template._actions:
        if action.dest in ("preset", "portrait") or action.dest in PARAM_NAMES or action.dest in REQUEST_FLAGS:
            p._add_action(action)


def cmd_bench(args: argparse.Namespace) -> int:
    from .speedtest import format_report, parse_modes, run_speedtest

    modes = parse_modes(args.modes, args.compile)
    overrides = {name: getattr(args, name) for name in ("frames", "width", "height", "steps", "memory", "seed")}
    progress = ProgressLine()
    try:
        report = run_speedtest(args.preset, overrides, args.portrait, modes, args.bench_steps, progress=progress)
    finally:
        progress.done()
    print(json.dumps(report.to_dict(), indent=1) if args.json else format_report(report))
    return 0


def _add_bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=list(PRESETS), default="standard",
                   help="the video to predict (size, frames, steps, memory plan; default standard)")
    p.add_argument("--portrait", action="store_true", help="upright 9:16 video: swaps width and height")
    p.add_argument("--frames", type=int, help="number of frames (preset's by default)")
    p.add_argument("--width", type=int, help="frame width, a multiple of 64")
    p.add_argument("--height", type=int, help="frame height, a multiple of 64")
    p.add_argument("--steps", type=int, help="denoising steps of the predicted video (preset's by default)")
    p.add_argument("--memory", choices=values(MemoryPlan), help="memory plan (default auto: picked from free VRAM)")
    p.add_argument("--seed", type=int, help="seed of the test runs (default 0)")
    p.add_argument("--modes", help="comma list of speed modes to time, or all (default: exact,turbo; "
                   "exact is always timed, the others are compared with it)")
    p.add_argument("--compile", action="store_true",
                   help="also time compiled and turbo-compiled (their first compile takes minutes per video size)")
    p.add_argument("--bench-steps", type=int, default=6, dest="bench_steps",
                   help="denoising steps each mode runs (default and minimum 6)")
    p.add_argument("--json", action="store_true", help="print the measurements as JSON")


def _add_check_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--offline", action="store_true", help="do not ask the Hugging Face Hub")


def _add_test_image_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("outputs/test_images/test_product.jpg"),
                   help="where to write it (default: outputs/test_images/test_product.jpg)")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=960)


def _commands() -> tuple[tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int],
                               str, str | None], ...]:
    """``svdapp``'s commands: name, flags, what runs, help line, description."""
    return (
        ("make", _add_make_args, cmd_make, "make a video from a photo (same as svd-make)",
         "Make a product video from a photo."),
        ("inspect", _add_inspect_args, cmd_inspect, "score how well a video keeps the product of its photo",
         "Score how well a video keeps the product of the photo it was made from: its product fidelity, 0-1 "
         "(shape, print and detail, and colour compared in their worst patch, over the worst 10 % of frames), "
         "the product's motion and flicker, and a verdict with what to try. Exit code 0 when it could be scored, "
         "2 when the video or the photo cannot be used."),
        ("check", _add_check_args, cmd_check, "environment check (GPU, CUDA, VRAM, token, model access)",
         "Check that this machine can generate; each ✗ line says how to fix it. "
         "Exit code 0 only when a generation can run."),
        ("test-image", _add_test_image_args, cmd_test_image, "write a synthetic product photo to try the app with",
         None),
        ("download", lambda p: None, cmd_download, "download the model weights (fp16 only, ~4.6 GB) into the HF cache",
         "Download only the files the pipeline loads (configs + fp16 safetensors) into the normal Hugging Face "
         "cache. SVDAPP_MODEL may name another hub id or a local folder."),
        ("bench", _add_bench_args, cmd_bench, "time the speed modes on this GPU and say which to pick",
         "Time each speed mode on this machine's GPU and model (a few steps each, same seed, the preset's size "
         "and memory plan): time per step, predicted time per video, difference from exact frames and peak GPU "
         "memory, then which mode to pick."),
        ("serve", add_serve_args, cmd_serve, "open the web app (same as python launch.py)",
         "Start the web app on http://127.0.0.1:7860."),
        ("batch", add_batch_args, cmd_batch,
         "make a video for every product of a folder or catalog.csv (Ray, all GPUs)",
         "Make one video per product across every GPU with Ray. Resumable: run the same command again to skip "
         "finished products and retry failed ones. Exit code 0 when every product is done, 1 when some failed."),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="svdapp", description="Product photo → short product video with "
                                     "Stable Video Diffusion img2vid-XT 1.1 (NVIDIA GPU), or with classic camera "
                                     "motion on any computer.")
    parser.add_argument("--version", action="version", version=f"svdapp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, add_args, func, help, description in _commands():
        command = sub.add_parser(name, help=help, description=description)
        add_args(command)
        command.set_defaults(func=func)
    return parser


def _run(func: Callable[[], int]) -> int:
    try:
        return func()
    except SvdAppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  fix: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\nCancelled; nothing was written.", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("SVDAPP_DEBUG"):
            raise
        err = describe_error(exc)
        print(f"error: {err.message}\n  fix: {err.hint}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    plain_fallback()  # before anything prints, --help included
    args = build_parser().parse_args(argv)
    return _run(lambda: args.func(args))


def svd_make(argv: Sequence[str] | None = None) -> int:
    plain_fallback()
    parser = argparse.ArgumentParser(prog="svd-make", description="Make a product video from a photo "
                                     "(same as `svdapp make`). Without an NVIDIA GPU or the model, the classic "
                                     "engine (camera motion, no AI) makes it.")
    _add_make_args(parser)
    args = parser.parse_args(argv)
    return _run(lambda: cmd_make(args))
