"""Shared fixtures: a tiny SVD model saved to disk, a clean environment, a product photo.

No test touches the network: HF_HUB_OFFLINE is set, the hub cache is a temp folder, and
the model is loaded through the same ``from_pretrained`` path users take, from a folder
``save_pretrained`` wrote.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# huggingface_hub reads HF_HUB_OFFLINE once, at import: set it before anything imports it.
os.environ["HF_HUB_OFFLINE"] = "1"

# Tiny test sizes: on 2 CPU cores the tiny pipeline makes 4 frames of 128x64 in 2 steps in about
# 3 s; at 256x128 it takes about 32 s, nearly all in the temporal transformer's CPU attention.
TINY_ARGS = ["--width", "128", "--height", "64", "--frames", "4", "--steps", "2", "--memory", "cpu"]
TINY_OVERRIDES = {"width": 128, "height": 64, "frames": 4, "steps": 2, "memory": "cpu"}
TOKEN_VARS = ("HUGGINGFACE_HUB_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from svdapp.engine.random_weights import save_tiny
    return save_tiny(tmp_path_factory.mktemp("tiny-svd") / "model")


@pytest.fixture
def app_env(tmp_path, monkeypatch, tiny_model) -> dict[str, str]:
    """A clean process environment pointing at the tiny model; cwd is a temp folder."""
    for name in TOKEN_VARS + ("HF_TOKEN_PATH", "SVDAPP_REVISION", "SVDAPP_OUTPUTS", "SVDAPP_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SVDAPP_MODEL", str(tiny_model))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.chdir(tmp_path)
    return dict(os.environ)


@pytest.fixture(scope="session")
def product_photo(tmp_path_factory) -> Path:
    from svdapp.testimage import write_test_product
    return write_test_product(tmp_path_factory.mktemp("photos") / "product.jpg", 320, 240)


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 180, module: str = "svdapp"):
    """Run the installed entry points in a subprocess, as a user would."""
    import subprocess
    script = Path(sys.executable).parent / module  # the console script pip installed
    return subprocess.run([str(script)] + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def mp4_boxes(path: Path) -> list[str]:
    """The top-level boxes of an MP4 in file order: ftyp, moov, mdat… (+faststart puts moov before mdat)."""
    data, boxes, at = Path(path).read_bytes(), [], 0
    while at + 8 <= len(data):
        size, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8].decode("latin-1")
        if size == 1:  # a 64-bit size follows the type
            size = int.from_bytes(data[at + 8:at + 16], "big")
        elif size == 0:  # to the end of the file
            size = len(data) - at
        if size < 8:
            raise AssertionError(f"{path}: a box of {size} bytes at offset {at}")
        boxes.append(kind)
        at += size
    return boxes


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_table(heading: str) -> list[dict[str, str]]:
    """The first Markdown table under ``heading`` in the README, one dict per row (keys: its header)."""
    from itertools import dropwhile, takewhile

    text = README.read_text(encoding="utf-8")
    lines = text[text.index(heading):].splitlines()
    table = takewhile(lambda line: line.startswith("|"), dropwhile(lambda line: not line.startswith("|"), lines))
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in table]
    return [dict(zip(cells[0], row)) for row in cells[2:]]
