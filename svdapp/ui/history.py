"""The History gallery: which results a session may see (all of outputs/ on a local app, only
its own on a shared one), read back from each result folder's meta.json, and their thumbnails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..settings import load_settings


def read_meta(folder: str | Path) -> dict[str, Any] | None:
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (folder / "video.mp4").is_file():
        return None
    meta["folder"] = str(folder)
    return meta


def history_items(own: list[str], show_all: bool) -> list[dict[str, Any]]:
    """Newest first: everything in outputs/ (local app) or only this session's folders."""
    if show_all:
        from ..jobs import list_history
        return list_history(load_settings().outputs_dir)
    metas = [m for m in (read_meta(f) for f in own) if m is not None]
    return sorted(metas, key=lambda m: m.get("created", ""), reverse=True)


def gallery_value(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    value = []
    for meta in items:
        folder = Path(meta["folder"])
        thumb = folder / "input.png"
        out = meta.get("output", {})
        caption = f"{out.get('frames')}f · {float(out.get('duration_s') or 0):.1f}s"
        value.append((str(thumb if thumb.is_file() else folder / "video.mp4"), caption))
    return value
