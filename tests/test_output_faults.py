"""Disk full or outputs not writable: one clear message with the fix, nothing half-written.

Tests run as root, where chmod does not stop writes, so the faults are made another way: an
output path whose parent is a regular file (a real ENOTDIR/EEXIST from the OS), ``os.access``
saying no, and ENOSPC raised in-process at each write of the result (video encode, input.png,
meta.json, the final atomic move). The engine is the stand-in of tests/fakeengine.py, so the
real write path (PyAV H.264 encode, staging folder, os.replace) runs in milliseconds.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from svdapp import cli, jobs, video
from svdapp.errors import OutputError
from svdapp.jobs import run_request
from svdapp.request import GenerationRequest

from .conftest import TINY_ARGS, TINY_OVERRIDES
from .fakeengine import fake_engine  # noqa: F401  (fixture)


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def request(photo: Path, out: Path | None = None) -> GenerationRequest:
    return GenerationRequest(image=str(photo), overrides={**TINY_OVERRIDES, "seed": 3}, out=out)


def leftovers(folder: Path) -> list[Path]:
    """Anything a failed run could leave: staging folders, .part files, a video or its sidecar."""
    return [p for p in folder.rglob("*") if p.name.startswith((".svdapp-tmp-", ".video.part", "."))
            or p.suffix in (".mp4", ".json", ".png")]


def test_out_folder_blocked_by_a_file(app_env, fake_engine, tmp_path, product_photo, capsys):
    (tmp_path / "videos").write_text("a file where the user expected a folder")
    code = cli.main(["make", "--image", str(product_photo), *TINY_ARGS, "--out", "videos/clip.mp4"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: ") and "videos" in err and "  fix: " in err
    assert len(err.strip().splitlines()) == 2
    assert not leftovers(tmp_path)


def test_outputs_setting_under_a_file(app_env, fake_engine, tmp_path, product_photo, monkeypatch):
    (tmp_path / "disk").write_text("not a folder")
    monkeypatch.setenv("SVDAPP_OUTPUTS", str(tmp_path / "disk" / "outputs"))
    with pytest.raises(OutputError) as caught:
        run_request(request(product_photo))
    assert caught.value.hint and "\n" not in caught.value.message
    assert not leftovers(tmp_path)


def test_outputs_not_writable(app_env, fake_engine, tmp_path, product_photo, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode == os.W_OK else real_access(p, mode, **kw))
    with pytest.raises(OutputError) as caught:
        run_request(request(product_photo))
    assert "permission denied" in caught.value.message and "SVDAPP_OUTPUTS" in caught.value.hint
    assert not leftovers(tmp_path)


# -- ENOSPC at each write of the result: in outputs/<id>/ and beside --out ------------------

def _fail_encode(monkeypatch):
    monkeypatch.setattr(video.av, "open", _enospc)


def _fail_input_png(monkeypatch):
    from PIL import Image
    real = Image.Image.save
    monkeypatch.setattr(Image.Image, "save", lambda self, fp, *a, **k: _enospc() if str(fp).endswith("input.png")
                        else real(self, fp, *a, **k))


def _fail_meta(monkeypatch):
    monkeypatch.setattr(jobs, "_write_json", _enospc)


def _fail_final_move(monkeypatch):
    """The move from the staging folder to the place the user sees (not the .json: see below)."""
    real = os.replace

    def replace(src, dst, **kw):
        if ".svdapp-tmp-" not in str(dst) and not str(dst).endswith(".json"):
            _enospc()
        return real(src, dst, **kw)
    monkeypatch.setattr(os, "replace", replace)


WRITE_FAULTS = {"encode": _fail_encode, "input.png": _fail_input_png, "meta.json": _fail_meta,
                "final-move": _fail_final_move}


@pytest.mark.parametrize("target,where", [("outputs", where) for where in WRITE_FAULTS]
                         + [("--out", where) for where in WRITE_FAULTS if where != "input.png"])  # --out: no input.png
def test_disk_full_leaves_nothing_and_the_retry_works(app_env, fake_engine, tmp_path, product_photo,
                                                      monkeypatch, where, target):
    out = tmp_path / "shop" / "clip.mp4" if target == "--out" else None
    with monkeypatch.context() as patch:
        WRITE_FAULTS[where](patch)
        with pytest.raises(OutputError) as caught:
            run_request(request(product_photo, out))
    err = caught.value
    assert "disk is full" in err.message and "Free some space" in err.hint, err
    assert "\n" not in err.message + err.hint
    assert not leftovers(tmp_path), leftovers(tmp_path)

    result = run_request(request(product_photo, out))  # space freed: the same request works
    assert result.video.is_file() and result.meta_path.is_file()


def test_disk_full_on_the_sidecar_move_leaves_no_orphan_video(app_env, fake_engine, tmp_path, product_photo,
                                                              monkeypatch):
    out = tmp_path / "shop" / "clip.mp4"
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst, **k: _enospc() if str(dst).endswith(".json")
                        else real(src, dst, **k))
    with pytest.raises(OutputError):
        run_request(request(product_photo, out))
    assert not leftovers(tmp_path), leftovers(tmp_path)


@pytest.mark.parametrize("out", ["videos/clip.mp4", "clip.mov"])
def test_unusable_out_is_refused_before_generating(app_env, fake_engine, tmp_path, product_photo, capsys, out):
    (tmp_path / "videos").write_text("a file")
    code = cli.main(["make", "--image", str(product_photo), *TINY_ARGS, "--out", out])
    assert code == 2
    assert fake_engine.calls == []
