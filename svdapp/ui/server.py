"""``svdapp serve``: who may reach the app (logins, the rules for a public link or a
non-loopback host) and launching it until Ctrl+C.

Once the app is reachable from other computers (``--share`` or a non-loopback ``--host``),
serve builds the app exposed: each session sees only the videos it made, and the token field is gone.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from ..errors import InputError, SvdAppError
from ..settings import load_settings
from .app import build_app
from .theme import CSS, MUTE_JS, theme


def parse_auth(pairs: list[str], auth_file: Path | None) -> list[tuple[str, str]]:
    """``user:pass`` strings (flags, then the file's lines) → Gradio's auth list."""
    lines = list(pairs or [])
    if auth_file is not None:
        try:
            text = Path(auth_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"Cannot read --auth-file {auth_file}: {exc.strerror}.",
                             "Give a text file with one user:password per line.") from None
        lines += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    auth = []
    for item in lines:
        user, sep, password = item.partition(":")
        if not sep or not user.strip() or not password:
            raise InputError(f"Login '{item.split(':')[0]}:…' is not in user:password form.",
                             "Write it as --auth alice:a-long-password (one per flag or line).")
        auth.append((user.strip(), password))
    return auth


def check_exposure(args: argparse.Namespace, auth: list[tuple[str, str]]) -> list[str]:
    """Refuse a public link without a login; return warnings to print loudly."""
    warnings = []
    if args.share and not auth:
        if not getattr(args, "insecure_no_auth", False):
            raise InputError("Refusing to create a public link without a login: anyone who finds the link "
                             "could use your GPU and see the videos made there.",
                             "Add --auth user:password (or --auth-file FILE), or pass --insecure-no-auth to "
                             "share without one anyway.")
        warnings.append("WARNING: public link WITHOUT a login (--insecure-no-auth): anyone with the link can "
                        "use your GPU.")
    if not args.share and is_exposed(args.host, False) and not auth:
        warnings.append(f"WARNING: listening on {args.host} without --auth: anyone on your network can use the app.")
    return warnings


def is_exposed(host: str, share: bool) -> bool:
    """True when people other than this computer's user can reach the app."""
    if share:
        return True
    if host in ("localhost", ""):
        return host == ""
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def serve(args: argparse.Namespace) -> int:
    """``svdapp serve`` / ``python launch.py``: open the app and block until Ctrl+C."""
    auth = parse_auth(args.auth, getattr(args, "auth_file", None))
    warnings = check_exposure(args, auth)
    settings = load_settings()
    outputs = settings.outputs_dir.resolve()
    outputs.mkdir(parents=True, exist_ok=True)
    demo = build_app(exposed=is_exposed(args.host, args.share))
    demo.queue(default_concurrency_limit=1)
    for line in warnings:
        print(line, file=sys.stderr)
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth or None,
                    auth_message="svdapp: log in with the user and password you were given.",
                    max_file_size=f"{args.max_upload_mb}mb", allowed_paths=[str(outputs)],
                    inbrowser=not args.no_browser, prevent_thread_lock=True, quiet=True,
                    theme=theme(), css=CSS, js=MUTE_JS, footer_links=["api"])
    except OSError as exc:
        raise SvdAppError(f"Could not listen on {args.host}:{args.port} ({exc}).",
                          f"Another program uses port {args.port}: stop it or pick another with --port "
                          f"{args.port + 1}.") from None
    print(f"svdapp is running at {demo.local_url}  (Ctrl+C to stop)", flush=True)
    if args.share:
        if demo.share_url:
            print(f"Public link: {demo.share_url}", flush=True)
        else:
            print("Could not create the public share link (no internet connection, or the tunnel service is "
                  f"unreachable). The app keeps running locally at {demo.local_url}; retry --share when online.",
                  file=sys.stderr, flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0
