"""What a user sees of a batch: a line per product and a bar with ETA while it runs, the
counts and speed when it ends."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .manifest import MANIFEST, MANIFEST_CSV
from .tasks import VIDEO_NAME


@dataclass(frozen=True)
class BatchSummary:
    total: int
    done: int
    failed: int
    skipped: int
    seconds: float
    workers: int
    out_dir: Path
    failures: tuple[tuple[str, str], ...] = ()  # (sku, message)
    interrupted: bool = False
    reviews: tuple[tuple[str, float | None], ...] = ()  # (sku, product fidelity): done, but for a person to check

    @property
    def not_run(self) -> int:
        return self.total - self.done - self.failed - self.skipped

    @property
    def videos_per_hour(self) -> float:
        return self.done * 3600 / self.seconds if self.done and self.seconds > 0 else 0.0

    @property
    def manifest(self) -> Path:
        return self.out_dir / MANIFEST


class BatchProgress:
    """Overall progress on stderr: a line per product, and a bar with ETA on a terminal."""

    def __init__(self, stream: TextIO | None = sys.stderr) -> None:
        self.stream = stream  # None: silent (library use, tests)
        self.tty = bool(stream is not None and stream.isatty())
        self.total = self.finished = self.failed = 0
        self.start = time.perf_counter()

    def begin(self, to_make: int, skipped: int, workers: str) -> None:
        self.total, self.start = to_make, time.perf_counter()
        note = f" ({skipped} already done, skipped)" if skipped else ""
        self._line(f"Making {to_make} video{'s' * (to_make != 1)} on {workers}{note}." if to_make
                   else f"Nothing to make: all {skipped} products are already done.")

    def __call__(self, record: dict[str, Any]) -> None:
        self.finished += 1
        self.failed += record["status"] != "done"
        mark = ("⚠" if record.get("review") else "✓") if record["status"] == "done" else "✗"
        detail = f"{record['seconds']:.1f} s, {record.get('worker', '')}"
        if record.get("product_fidelity") is not None:
            detail += f", product fidelity {record['product_fidelity']:.2f}"
        if record.get("review"):
            detail += ", for review"
        if record["status"] != "done":
            detail = record.get("error") or "failed"
        self._line(f"{self._counter()} {mark} {record['sku']} — {detail}  ·  {self._times()}")

    def tick(self) -> None:
        if self.tty and self.total:
            bar = self._bar()
            self.stream.write(f"\r\x1b[K{bar} {self._counter()}  {self._times()}")
            self.stream.flush()

    def eta(self) -> float | None:
        if not self.finished or self.finished >= self.total:
            return None
        return (time.perf_counter() - self.start) / self.finished * (self.total - self.finished)

    def _counter(self) -> str:
        width = len(str(self.total))
        pct = 100 * self.finished // self.total if self.total else 100
        return f"[{self.finished:>{width}}/{self.total}] {pct:3d}%"

    def _bar(self, width: int = 24) -> str:
        filled = width * self.finished // self.total if self.total else width
        return "█" * filled + "░" * (width - filled)

    def _times(self) -> str:
        eta = self.eta()
        return f"elapsed {_clock(time.perf_counter() - self.start)}" + (f", ETA {_clock(eta)}" if eta is not None else "")

    def _line(self, text: str) -> None:
        if self.stream is None:
            return
        prefix = "\r\x1b[K" if self.tty else ""
        self.stream.write(prefix + text + "\n")
        self.stream.flush()
        self.tick()

    def end(self) -> None:
        if self.tty and self.total:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def format_summary(summary: BatchSummary) -> str:
    """The closing lines a user sees: counts, speed, failures, where the manifest is."""
    head = (f"{summary.done} done, {summary.failed} failed, {summary.skipped} skipped (of {summary.total}) "
            f"in {_clock(summary.seconds)}")
    if summary.done:
        head += f" — {summary.videos_per_hour:.1f} videos/hour on {summary.workers} worker{'s' * (summary.workers != 1)}"
    lines = [("Interrupted: " if summary.interrupted else "Batch finished: ") + head]
    lines += [f"  ✗ {sku}: {message}" for sku, message in summary.failures[:20]]
    if len(summary.failures) > 20:
        lines.append(f"  … and {len(summary.failures) - 20} more")
    if summary.reviews:
        scores = ", ".join(f"{sku} {'not measured' if score is None else f'{score:.2f}'}"
                           for sku, score in summary.reviews[:20])
        lines.append(f"  ⚠ {len(summary.reviews)} for review (under --min-fidelity after every take, or not "
                     f"measured): {scores}{' …' if len(summary.reviews) > 20 else ''} — the review column of "
                     f"{MANIFEST_CSV}")
    if summary.not_run:
        lines.append(f"  {summary.not_run} not made yet: run the same command again to continue.")
    elif summary.failed:
        lines.append("  Fix the failed products (see the error column) and run the same command again; "
                     "finished videos are skipped.")
    lines.append(f"Videos: {summary.out_dir}/<sku>/{VIDEO_NAME}   manifest: {summary.manifest} "
                 f"(table: {summary.out_dir / MANIFEST_CSV})")
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"
