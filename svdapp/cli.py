"""Command line: ``svdapp make|check|test-image|download|serve`` and ``svd-make``.

A thin shell: parse flags into a GenerationRequest, show progress, print the result or
the error's one-line fix (exit code 2, no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .errors import SvdAppError
from .presets import FIT_MODES, MEMORY_PLANS, PRESETS

STAGES = {"load": "Loading model", "denoise": "Denoising", "decode": "Decoding", "encode": "Encoding"}


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
    p.add_argument("--fit", choices=FIT_MODES, help="contain: whole photo, padded (default); cover: fill and crop")
    p.add_argument("--steps", type=int, help="denoising steps (default 25)")
    p.add_argument("--seed", type=int, help="random seed (random when absent; the one used is printed)")
    p.add_argument("--motion", type=int, help="motion bucket id 1-255 (default 127; higher moves more)")
    p.add_argument("--noise-aug", type=float, dest="noise_aug", help="noise augmentation 0-1 (default 0.02)")
    p.add_argument("--cond-fps", type=int, dest="cond_fps", help="fps the model is conditioned on (default 6)")
    p.add_argument("--decode-chunk", type=int, dest="decode_chunk", help="frames decoded at once (default 8)")
    p.add_argument("--memory", choices=MEMORY_PLANS, help="memory plan (default auto: picked from free VRAM)")


class ProgressLine:
    """One self-updating line on stderr: stage, step i/N, elapsed."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.start = time.perf_counter()
        self.tty = stream.isatty()
        self.last = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        label = STAGES.get(stage, stage)
        text = f"{label} {done}/{total}" if total > 1 else label
        text = f"[{time.perf_counter() - self.start:6.1f}s] {text}"
        if self.tty:
            self.stream.write("\r" + text.ljust(60))
            self.stream.flush()
        elif done in (0, total) and text != self.last and (stage != "load" or done == 0):
            self.stream.write(text + "\n")
            self.stream.flush()
        self.last = text

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")


def cmd_make(args: argparse.Namespace) -> int:
    from .jobs import run_request
    from .request import GenerationRequest

    overrides = {k: getattr(args, k) for k in ("frames", "fps", "width", "height", "steps", "seed", "motion",
                                               "noise_aug", "cond_fps", "decode_chunk", "memory", "fit")}
    request = GenerationRequest(image=args.image, preset=args.preset, overrides=overrides,
                                portrait=args.portrait, out=args.out)
    progress = ProgressLine()
    cancel = threading.Event()
    try:
        result = run_request(request, progress=progress, cancel=cancel)
    finally:
        progress.done()
    for note in result.fallbacks:
        print(f"note: {note}", file=sys.stderr)
    print(f"✓ {result.video}")
    print(f"  {result.frames} frames, {result.width}x{result.height}, {result.fps} fps, "
          f"{result.duration:.2f} s, H.264 — seed {result.seed} (reuse with --seed {result.seed})")
    print(f"  settings: {result.meta_path}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="svdapp", description="Product photo → short product video with "
                                     "Stable Video Diffusion img2vid-XT 1.1.")
    parser.add_argument("--version", action="version", version=f"svdapp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    make = sub.add_parser("make", help="make a video from a photo (same as svd-make)",
                          description="Make a product video from a photo.")
    _add_make_args(make)
    make.set_defaults(func=cmd_make)

    check = sub.add_parser("check", help="environment check (GPU, CUDA, VRAM, token, model access)",
                           description="Check that this machine can generate; each ✗ line says how to fix it. "
                                       "Exit code 0 only when a generation can run.")
    check.add_argument("--offline", action="store_true", help="do not ask the Hugging Face Hub")
    check.set_defaults(func=cmd_check)

    test = sub.add_parser("test-image", help="write a synthetic product photo to try the app with")
    test.add_argument("--out", type=Path, default=Path("outputs/test_images/test_product.jpg"),
                      help="where to write it (default: outputs/test_images/test_product.jpg)")
    test.add_argument("--width", type=int, default=1280)
    test.add_argument("--height", type=int, default=960)
    test.set_defaults(func=cmd_test_image)

    dl = sub.add_parser("download", help="download the model weights (fp16 only, ~4.6 GB) into the HF cache",
                        description="Download only the files the pipeline loads (configs + fp16 safetensors) "
                                    "into the normal Hugging Face cache. SVDAPP_MODEL may name another hub id "
                                    "or a local folder.")
    dl.set_defaults(func=cmd_download)

    serve = sub.add_parser("serve", help="open the web app (same as python launch.py)",
                           description="Start the web app on http://127.0.0.1:7860.")
    add_serve_args(serve)
    serve.set_defaults(func=cmd_serve)
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
        from .jobs import describe_error
        err = describe_error(exc)
        print(f"error: {err.message}\n  fix: {err.hint}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _run(lambda: args.func(args))


def svd_make(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="svd-make", description="Make a product video from a photo "
                                     "(same as `svdapp make`).")
    _add_make_args(parser)
    args = parser.parse_args(argv)
    return _run(lambda: cmd_make(args))
