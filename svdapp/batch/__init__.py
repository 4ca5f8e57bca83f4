"""Whole catalogues: one product video per photo, spread over every GPU with Ray.

``svdapp batch --input FOLDER|catalog.csv --out DIR`` makes ``DIR/<sku>/video.mp4`` plus
``DIR/<sku>/video.json`` (the metadata a single run writes) for each product, through the
same ``jobs.run_request`` that ``svdapp make`` uses: the same seed and settings give the
same video either way, and each product's files appear atomically. Resumable through
``DIR/manifest.jsonl``: a rerun skips finished products and retries the rest.

- ``catalog``: the folder or CSV, read into one Product per line;
- ``tasks``: the batch's options, and each product's request and fingerprint;
- ``manifest``: manifest.jsonl, its CSV view, resume checks, the output folder's lock;
- ``workers``: the Ray runtime, one worker per GPU, handing out products;
- ``progress``: progress lines with ETA, and the closing summary;
- ``run``: ``run_batch``, one batch from start to end.
"""

from .manifest import read_manifest
from .progress import BatchProgress, format_summary
from .run import run_batch
from .tasks import BatchOptions

__all__ = ["BatchOptions", "BatchProgress", "format_summary", "read_manifest", "run_batch"]
