"""D4's takes: a result made of several takes shows them side by side (their small preview GIFs)
with their scores, and lets the user keep another one instead — the form gets that result's
settings with the take's seed (or camera move) and one take, and Generate runs: the same as an
/generate call with that ``seed`` and ``takes=1``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from ..history import PastResult
from ..result import TakeInfo
from ..takes import take_name, take_score
from .forms import reuse_values


def takes_gallery(item: PastResult | None):
    """The takes of ``item`` with their scores, or a hidden gallery when it has none to show."""
    takes = item.meta.takes if item is not None else ()
    previews = [item.folder / take.preview for take in takes if take.preview]
    if len(previews) < 2 or len(previews) != len(takes) or not all(p.is_file() for p in previews):
        return gr.Gallery(value=None, visible=False)
    return gr.Gallery(value=[(str(path), caption(i, take)) for i, (path, take) in enumerate(zip(previews, takes))],
                      visible=True, selected_index=None)


def caption(index: int, take: TakeInfo) -> str:
    """``0.91 kept · 2 · seed 43``: the score first, since a thumbnail shows only the start."""
    return f"{take_score(take)}{' kept' if take.kept else ''} · {index + 1} · {take_name(take)}"


def pick(item: PastResult | None, index: int | None):
    """The take clicked in the gallery, and the button that keeps it (hidden for the kept one)."""
    takes = item.meta.takes if item is not None else ()
    if index is None or not 0 <= index < len(takes) or takes[index].kept:
        return None, gr.Button(visible=False)
    return index, gr.Button(value=f"Keep take {index + 1} instead ({take_name(takes[index])})", visible=True)


def keep_values(item: PastResult | None, index: int | None, photo: str | None) -> dict[str, Any]:
    """Form values that remake ``item`` from take ``index``: its settings, that take's seed (or
    camera move) and one take. Raises gr.Error when the photo in D2 is not the result's."""
    if item is None or index is None or not 0 <= index < len(item.meta.takes):
        raise gr.Error("Click a take first.")
    if not photo or Path(photo).name != item.meta.input.name:
        raise gr.Error(f"Put the photo this video was made from ({item.meta.input.name}) into D2 first: the take "
                       "is made again from it.")
    take = item.meta.takes[index]
    values = {**reuse_values(item.meta), "seed": take.seed, "takes": 1}
    if take.camera:
        values["camera"] = take.camera
    return values
