"""D1 · Environment: the checks as data (also the /check endpoint) and as a table, the speed
test (which speed mode to pick on this GPU; also /speedtest), and the Hugging Face token
field (validate, save to .env)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from .. import presets
from ..errors import SvdAppError, describe_error
from ..settings import Settings, load_settings, mask_token, save_token
from ..speedtest import advice, format_table, parse_modes, run_speedtest
from .generation import ProgressReporter
from .views import control_words, error_text


def check_report(settings: Settings | None = None) -> dict[str, Any]:
    """The D1 checks as data (the /check endpoint)."""
    from ..envcheck import can_generate, run_checks
    checks = run_checks(settings or load_settings())
    return {"ready": can_generate(checks),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail, "hint": c.hint, "required": c.required}
                       for c in checks]}


def check_markdown(report: dict[str, Any]) -> str:
    rows = []
    for c in report["checks"]:
        mark = ('<span class="ok">✓</span>' if c["ok"] else
                '<span class="bad">✗</span>' if c["required"] else '<span class="warn">!</span>')
        fix = f"<br><small>Fix: {_escape(c['hint'])}</small>" if c["hint"] and not c["ok"] else ""
        rows.append(f"<tr><td>{mark}</td><td><b>{_escape(c['name'])}</b></td><td>{_escape(c['detail'])}{fix}</td></tr>")
    problems = sum(1 for c in report["checks"] if not c["ok"] and c["required"])
    summary = ("**Ready to generate.**" if report["ready"] else
               f"**Not ready: {problems} problem{'s' if problems != 1 else ''}.** Follow the fix on each ✗ line, "
               "then press Re-check.")
    return f"{summary}\n\n<table>{''.join(rows)}</table>"


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def env_view() -> tuple[str, Any]:
    """D1 text plus its panel: open with the problems, folded away once ready."""
    try:
        report = check_report()
    except Exception as exc:  # a broken check must still leave the page usable
        return f"✗ The environment check itself failed: {error_text(describe_error(exc))}", gr.Accordion(open=True)
    problems = sum(1 for c in report["checks"] if not c["ok"] and c["required"])
    label = ("D1 · Environment — ready ✓" if report["ready"] else
             f"D1 · Environment — {problems} problem{'s' if problems != 1 else ''} to fix")
    return check_markdown(report), gr.Accordion(label=label, open=not report["ready"])


def validate_token_ui(token: str) -> str:
    from ..hub import validate_token
    if not (token or "").strip():
        return "Paste a token first (it starts with `hf_`)."
    try:
        name = validate_token(token, load_settings())
    except SvdAppError as exc:
        return f"✗ {error_text(exc)}"
    return f"✓ Token {mask_token(token.strip())} belongs to **{_escape(name)}**. Press *Save to .env* to keep it."


def save_token_ui(token: str) -> tuple[str, str]:
    """Save to .env (mode 0600); clear the field so the token is never sent back to the page."""
    if not (token or "").strip():
        return "", "Paste a token first (it starts with `hf_`)."
    if not token.strip().startswith("hf_"):
        return "", "✗ That does not look like a Hugging Face token — copy one from https://huggingface.co/settings/tokens."
    settings = load_settings()
    try:
        path = save_token(token, settings.env_file)
    except SvdAppError as exc:  # e.g. a paste with a line break: say so, and empty the field all the same
        return "", f"✗ {error_text(exc)}"
    except OSError as exc:
        return "", f"✗ Could not write {settings.env_file}: {exc.strerror} — check the folder is writable."
    return "", f"✓ Saved {mask_token(token.strip())} to `{path}` (readable only by you)."


def speed_test(preset: str | None, width: float | None, height: float | None, frames: float | None,
               steps: float | None, memory: str | None, modes: str | None = None,
               progress: gr.Progress | None = None):
    """Time the speed modes for the form's video (a BenchReport); raises SvdAppError."""
    sizes = {"width": width, "height": height, "frames": frames, "steps": steps}
    overrides = {**{k: int(v) for k, v in sizes.items() if v is not None}, "memory": memory or None}
    return run_speedtest(preset if preset in presets.PRESETS else None, overrides, modes=parse_modes(modes),
                         progress=ProgressReporter(progress))


def speed_test_ui(preset: str, width: float, height: float, frames: float, steps: float, memory: str,
                  progress=gr.Progress()) -> str:
    """D1's speed test: the table and the advice in the page's words."""
    try:
        report = speed_test(preset, width, height, frames, steps, memory, progress=progress)
    except SvdAppError as exc:
        return f"✗ {error_text(exc)}"
    except Exception as exc:  # the page stays usable whatever the test hits
        return f"✗ {error_text(describe_error(exc))}"
    return f"```\n{format_table(report)}\n```\n\n**{advice(report, control_words)}**"
