"""Past results: a result folder read back (``outputs/<id>/meta.json`` beside its video), and
the list of them in outputs/, newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .result import ResultMeta

TMP_PREFIX = ".svdapp-tmp-"  # a result still being written (jobs stages it under this name)
VIDEO_NAME = "video.mp4"
META_NAME = "meta.json"
THUMBNAIL_NAME = "input.png"


@dataclass(frozen=True)
class PastResult:
    folder: Path
    meta: ResultMeta

    @property
    def video(self) -> Path:
        return self.folder / VIDEO_NAME

    @property
    def thumbnail(self) -> Path:
        """The frame the engine started from, else the video itself."""
        still = self.folder / THUMBNAIL_NAME
        return still if still.is_file() else self.video


def read_result(folder: str | Path) -> PastResult | None:
    """The result in ``folder``, or None when it has no readable meta.json or no video."""
    folder = Path(folder)
    if folder.name.startswith(TMP_PREFIX) or not (folder / VIDEO_NAME).is_file():
        return None
    try:
        data = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return PastResult(folder, ResultMeta.from_json(data)) if isinstance(data, dict) else None


def newest_first(results: list[PastResult | None], limit: int | None = None) -> list[PastResult]:
    found = sorted((r for r in results if r is not None), key=lambda r: r.meta.created, reverse=True)
    return found[:limit]


def list_history(outputs_dir: Path, limit: int = 100) -> list[PastResult]:
    """Finished results in ``outputs_dir``, newest first."""
    if not outputs_dir.is_dir():
        return []
    return newest_first([read_result(meta.parent) for meta in outputs_dir.glob(f"*/{META_NAME}")], limit)
