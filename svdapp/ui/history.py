"""The History gallery: which results a session may see (all of outputs/ on a local app, only
its own on a shared one) and their thumbnails."""

from __future__ import annotations

from ..history import PastResult, list_history, newest_first, read_result
from ..settings import load_settings


def history_items(own: list[str], show_all: bool) -> list[PastResult]:
    """Newest first: everything in outputs/ (local app) or only this session's folders."""
    if show_all:
        return list_history(load_settings().outputs_dir)
    return newest_first([read_result(folder) for folder in own])


def gallery_value(items: list[PastResult]) -> list[tuple[str, str]]:
    return [(str(item.thumbnail), f"{item.meta.output.frames}f · {item.meta.output.duration_s:.1f}s")
            for item in items]
