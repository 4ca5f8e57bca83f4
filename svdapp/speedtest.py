"""Which speed mode to pick on this machine: ``svdapp bench`` and the web app's speed test.

Times the speed modes on the user's own GPU and model (``engine.bench``) for the chosen
preset, size and memory plan, and turns the measurements into a table and one piece of
advice. Torch is imported only when a test really runs.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping

from . import hub, imageprep, presets
from .errors import InputError, Suggestion, Words, as_flags
from .settings import Settings, load_settings
from .testimage import make_test_product
from .vocab import SpeedMode

if TYPE_CHECKING:
    from .engine.bench import BenchReport

DEFAULT_MODES = (SpeedMode.EXACT, SpeedMode.TURBO)  # the compiled modes wait minutes for their first compile
ALL_MODES = tuple(SpeedMode)
APPROXIMATE = (SpeedMode.TURBO, SpeedMode.TURBO_COMPILED)
COMPILED = (SpeedMode.COMPILED, SpeedMode.TURBO_COMPILED)


def parse_modes(text: str | None, include_compiled: bool = False) -> tuple[str, ...]:
    """``"exact,turbo"`` or ``"all"`` → the modes to time (exact is always timed)."""
    if not text:
        return ALL_MODES if include_compiled else DEFAULT_MODES
    names = ALL_MODES if text.strip().lower() == "all" else tuple(m.strip().lower() for m in text.split(",") if m.strip())
    unknown = [m for m in names if m not in ALL_MODES]
    if unknown:
        raise InputError(f"Unknown speed mode(s): {', '.join(unknown)}.", f"Use any of: {', '.join(ALL_MODES)}, or all.")
    return tuple(dict.fromkeys((SpeedMode.EXACT, *names)))


def run_speedtest(preset: str | None = None, overrides: Mapping[str, Any] | None = None, portrait: bool = False,
                  modes: tuple[str, ...] = DEFAULT_MODES, steps: int = 6, settings: Settings | None = None,
                  progress: Callable[[str, int, int], None] | None = None,
                  cancel: threading.Event | None = None) -> "BenchReport":
    """Time ``modes`` for the preset's video (its size, frames, plan) with a synthetic product."""
    settings = settings or load_settings()
    params = presets.resolve(preset, overrides, portrait)
    folder = hub.ensure_model(settings)
    from . import engine  # torch is imported only when a test really runs

    photo = imageprep.fit(make_test_product(1280, 960), params.width, params.height, params.fit)
    return engine.speedtest(str(folder), photo, params, modes, steps, progress, cancel)


def format_report(report: "BenchReport", words: Words = as_flags) -> str:
    """The measurements as a plain-text table, then the advice in a shell's ``words``."""
    return f"{format_table(report)}\n{advice(report, words)}"


def format_table(report: "BenchReport") -> str:
    lines = [f"{report.device}, {report.plan} memory plan, {report.frames} frames {report.width}x{report.height}: "
             f"measured on {report.steps_measured} steps, predicted for {report.steps_video}.",
             f"{'mode':26} {'s/step':>7} {'video (s)':>10} {'vs exact':>9} {'peak GiB':>9}  notes"]
    for t in report.timings:
        deviation = "same" if t.mode == SpeedMode.EXACT else f"{t.mean_abs_vs_exact:.1f}/255"
        peak = f"{t.peak_gib:.1f}" if t.peak_gib is not None else "-"
        notes = []
        if t.compile_s:
            notes.append(f"compiled first in {t.compile_s:.0f} s")
        if t.mode in COMPILED and not t.compiled:
            notes.append("could not compile here: plain kernels")
        lines.append(f"{label(t.mode):26} {t.s_per_step:7.2f} {t.predicted_video_s:10.1f} "
                     f"{deviation:>9} {peak:>9}  {'; '.join(notes)}".rstrip())
    for mode, error in report.failed.items():
        lines.append(f"{label(mode):26} failed: {error}")
    return "\n".join(lines)


def label(mode: str) -> str:
    return SpeedMode(mode).label + (" (approx.)" if mode in APPROXIMATE else "")


def advice(report: "BenchReport", words: Words = as_flags) -> str:
    """One sentence: the mode to pick, and what an approximate mode would give."""
    timed = {t.mode: t for t in report.timings}
    if SpeedMode.EXACT not in timed:
        return "No mode could be timed: see the errors above."
    exact_like = min((timed[m] for m in (SpeedMode.EXACT, SpeedMode.COMPILED) if m in timed),
                     key=lambda t: t.predicted_video_s)
    fastest = min(timed.values(), key=lambda t: t.predicted_video_s)

    def pick(mode: str) -> str:
        return words([Suggestion("speed", mode)])

    text = f"Pick {pick(exact_like.mode)}: {exact_like.predicted_video_s:.0f} s per video with exact frames."
    if fastest.mode != exact_like.mode:
        gain = exact_like.predicted_video_s / max(fastest.predicted_video_s, 1e-9)
        text += (f" {pick(fastest.mode)} is {gain:.1f}x faster ({fastest.predicted_video_s:.0f} s) with "
                 f"approximate frames: good for drafts and large catalogues.")
    if not any(m in timed for m in COMPILED):
        text += " Compiled modes were not timed: their first compile takes minutes."
    return text
