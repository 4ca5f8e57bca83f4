"""One run from the browser: a cancel Event per session (CancelBoard), progress as stage words
with an ETA (ProgressReporter), and ``run_request`` with every failure turned into an SvdAppError."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..errors import Cancelled, SvdAppError, describe_error
from ..request import GenerationRequest
from ..result import GenerationResult
from ..settings import load_settings
from ..vocab import Stage, label_of


@dataclass
class CancelBoard:
    """One cancel Event per browser session; a session can only cancel its own run."""

    events: dict[str, threading.Event]
    lock: threading.Lock

    @classmethod
    def new(cls) -> "CancelBoard":
        return cls({}, threading.Lock())

    def arm(self, session: str) -> threading.Event:
        with self.lock:
            event = self.events[session] = threading.Event()
            return event

    def get(self, session: str) -> threading.Event:
        with self.lock:
            return self.events.get(session) or threading.Event()

    def cancel(self, session: str) -> bool:
        with self.lock:
            event = self.events.get(session)
        if event is None:
            return False
        event.set()
        return True

    def disarm(self, session: str) -> None:
        with self.lock:
            self.events.pop(session, None)


class ProgressReporter:
    """run_request's progress(stage, done, total) → gr.Progress with stage words and an ETA."""

    def __init__(self, progress: gr.Progress | None) -> None:
        self.progress = progress
        self.denoise_start: float | None = None
        self.take = ""  # "Take 2/4 · ": the take the stages now reported belong to

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.progress is None:
            return
        label = label_of(Stage, stage)
        if stage == Stage.DENOISE:
            label = f"{label} step {done}/{total}{self._eta(done, total)}"
        elif total > 1:
            label = f"{label} {done}/{total}"
        if stage in (Stage.TAKE, Stage.FINAL):
            self.take = f"{label} · "
        else:
            label = self.take + label
        self.progress(done / total if total else None, desc=label)

    def _eta(self, done: int, total: int) -> str:
        now = time.perf_counter()
        if done == 0 or self.denoise_start is None:
            self.denoise_start = now
            return ""
        left = (now - self.denoise_start) / done * (total - done)
        return f" · about {left:.0f} s left" if left >= 1 else ""


def run_generation(request: GenerationRequest, progress: gr.Progress | None,
                   cancel: threading.Event) -> GenerationResult:
    """run_request with every failure turned into an SvdAppError (the caller words its fix)."""
    from ..jobs import run_request
    if cancel.is_set():  # cancelled while waiting in the queue: skip loading the model at all
        raise Cancelled()
    if progress is not None:
        progress(0, desc="Preparing the photo")
    try:
        return run_request(request, load_settings(), progress=ProgressReporter(progress), cancel=cancel)
    except SvdAppError:
        raise
    except Exception as exc:
        import traceback
        traceback.print_exc()  # for the person running the server; the browser gets the one-line form
        raise describe_error(exc) from None


def result_metadata(result: GenerationResult) -> dict[str, Any]:
    """The metadata /generate returns: meta.json plus the result's folder."""
    return {**result.meta.to_json(), "folder": str(result.video.parent)}
