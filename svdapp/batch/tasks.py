"""What a batch makes of each product: its options, and the request a worker runs.

``build_task`` turns a catalogue line and the batch's options into the same
``GenerationRequest`` that ``svdapp make`` would run, aimed at ``DIR/<sku>/video.mp4``, and
fingerprints it (photo bytes and every setting) so a rerun can tell what is already done.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .. import presets
from ..errors import InputError
from ..request import GenerationRequest
from .catalog import Product

VIDEO_NAME = "video.mp4"
# Request fields newer than the first manifests: left out of the fingerprint at their default, so a
# product finished before they existed still counts as done.
ADDED_LATER = ("takes", "min_fidelity")


@dataclass(frozen=True)
class BatchOptions:
    input: Path
    out_dir: Path
    preset: str = presets.DEFAULT_PRESET
    engine: str | None = None  # None: GenerationRequest's default
    overrides: Mapping[str, Any] = field(default_factory=dict)  # GenerationParams fields for every product
    request_fields: Mapping[str, Any] = field(default_factory=dict)  # other GenerationRequest fields (finishing...)
    portrait: bool = False
    gpus: int | None = None  # None: every GPU Ray sees
    workers: int | None = None  # CPU workers when no GPU is used; None: one per CPU
    address: str | None = None  # None: a local Ray runtime for this batch


@dataclass(frozen=True)
class Task:
    """What a worker needs for one product (picklable)."""

    sku: str
    request: GenerationRequest
    fingerprint: str


def build_task(product: Product, options: BatchOptions) -> Task:
    """The request for one product; raises InputError for settings that cannot run."""
    if product.problem:
        raise InputError(*product.problem)
    overrides = dict(options.overrides)
    if product.seed is not None:
        overrides["seed"] = product.seed
    if product.motion is not None:
        overrides["motion"] = product.motion
    preset = product.preset or options.preset
    portrait = options.portrait if product.portrait is None else product.portrait
    presets.resolve(preset, overrides, portrait)  # validates before any worker starts
    extra = dict(options.request_fields)
    if options.engine:
        extra["engine"] = options.engine
    if product.camera:
        extra["camera"] = product.camera
    request = GenerationRequest(image=str(product.image), preset=preset, overrides=overrides, portrait=portrait,
                                out=options.out_dir / product.sku / VIDEO_NAME, image_name=product.sku, **extra)
    return Task(product.sku, request, fingerprint(request))


def fingerprint(request: GenerationRequest) -> str:
    """Identity of what a product's video was made from: photo bytes and every setting."""
    try:
        photo = hashlib.sha256(Path(request.image).read_bytes()).hexdigest()
    except OSError:
        photo = "unreadable"
    data = {f.name: getattr(request, f.name) for f in fields(request) if f.name not in ("image", "out", "image_name")
            and not (f.name in ADDED_LATER and getattr(request, f.name) == f.default)}
    data.update(photo=photo, overrides=dict(sorted(request.overrides.items())))
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
