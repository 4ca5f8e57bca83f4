"""Catalogue batches on a local Ray runtime with the tiny model, on the CPU.

Ray takes seconds to start on two cores, so the in-process tests share one runtime
(module fixture) and only the kill-and-resume test starts its own, through the CLI in a
subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import TINY_ARGS, TINY_OVERRIDES, TOKEN_VARS

from svdapp.batch import BatchOptions, read_manifest, run_batch
from svdapp.batch.catalog import load_catalog
from svdapp.batch.manifest import MANIFEST, MANIFEST_CSV, is_complete
from svdapp.batch.tasks import build_task
from svdapp.batch.workers import WorkerPlan, plan_workers
from svdapp.errors import InputError
from svdapp.video import probe, read_frames



def _photos(folder: Path, count: int) -> Path:
    from svdapp.testimage import write_test_product
    for i in range(count):
        write_test_product(folder / f"sku-{i}.jpg", 320 + 32 * i, 240)
    return folder


@pytest.fixture(scope="module")
def batch_env(tmp_path_factory, tiny_model):
    """Environment of a user pointing svdapp at the tiny model, for the whole module."""
    home = tmp_path_factory.mktemp("batch-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in TOKEN_VARS + ("HF_TOKEN_PATH", "SVDAPP_REVISION", "SVDAPP_OUTPUTS", "SVDAPP_ENV_FILE"):
            mp.delenv(name, raising=False)
        mp.setenv("SVDAPP_MODEL", str(tiny_model))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_HOME", str(home / "hf-home"))
        mp.setenv("SVDAPP_ENV_FILE", str(home / "no.env"))
        mp.chdir(home)
        yield dict(os.environ)


@pytest.fixture(scope="module")
def ray_runtime(batch_env):
    """One local Ray runtime for the in-process tests (run_batch uses a session that is open)."""
    import ray
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def first_batch(tmp_path_factory, ray_runtime):
    root = tmp_path_factory.mktemp("folder-batch")
    photos = _photos(root / "photos", 3)
    options = BatchOptions(input=photos, out_dir=root / "out", overrides=TINY_OVERRIDES)
    return options, run_batch(options)


def _done_records(out: Path) -> dict[str, dict]:
    return {sku: r for sku, r in read_manifest(out).items() if r["status"] == "done"}


def test_folder_of_three_photos_gives_three_videos_and_a_manifest(first_batch):
    options, summary = first_batch
    out = options.out_dir
    assert (summary.done, summary.failed, summary.skipped, summary.total) == (3, 0, 0, 3)
    assert summary.workers == 2 and summary.videos_per_hour > 0
    for sku in ("sku-0", "sku-1", "sku-2"):
        info = probe(out / sku / "video.mp4")
        assert (info.codec, info.frames, info.width, info.height) == ("h264", 4, 128, 64)
        meta = json.loads((out / sku / "video.json").read_text())
        assert meta["output"]["frames"] == 4
    records = _done_records(out)
    assert sorted(records) == ["sku-0", "sku-1", "sku-2"]
    assert all(isinstance(r["seed"], int) and r["timings"]["total"] > 0 and r["worker"] for r in records.values())
    rows = (out / MANIFEST_CSV).read_text().splitlines()
    assert rows[0].startswith("sku,status,image,video") and len(rows) == 4
    assert not list(out.glob("*/.svdapp-tmp-*"))


def test_rerun_does_nothing(first_batch):
    options, _ = first_batch
    out = options.out_dir
    manifest = (out / MANIFEST).read_bytes()
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("*/video.*")}
    summary = run_batch(options)
    assert (summary.done, summary.failed, summary.skipped) == (0, 0, 3)
    assert summary.workers == 0  # nothing to do: no worker was started
    assert (out / MANIFEST).read_bytes() == manifest
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/video.*")} == mtimes


def test_changed_settings_or_damaged_video_are_made_again(first_batch):
    options, _ = first_batch
    records = read_manifest(options.out_dir)
    product = next(p for p in load_catalog(options.input) if p.sku == "sku-0")
    task = build_task(product, options)
    assert is_complete(records["sku-0"], task, options.out_dir)
    other = build_task(product, BatchOptions(**{**options.__dict__, "overrides": {**TINY_OVERRIDES, "steps": 3}}))
    assert not is_complete(records["sku-0"], other, options.out_dir)
    damaged = {**records["sku-0"], "frames": 5}  # the file no longer matches its record
    assert not is_complete(damaged, task, options.out_dir)


def test_broken_photo_fails_alone_and_batch_matches_single_run(tmp_path, ray_runtime, product_photo):
    import torch

    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest

    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("sku,image,seed,orientation\n"
                       f"GOOD-1,{product_photo},7,\n"
                       "BROKEN-2,img/broken.jpg,,\n"
                       "MISSING-3,img/nope.jpg,,landscape\n"
                       f"BADSEED-4,{product_photo},seven,\n", encoding="utf-8")
    summary = run_batch(BatchOptions(input=catalog, out_dir=tmp_path / "out", overrides=TINY_OVERRIDES))

    assert (summary.done, summary.failed) == (1, 3)
    records = read_manifest(tmp_path / "out")
    assert records["GOOD-1"]["status"] == "done" and records["GOOD-1"]["seed"] == 7
    assert "broken.jpg" in records["BROKEN-2"]["error"] and records["BROKEN-2"]["hint"]
    assert "not found" in records["MISSING-3"]["error"]
    assert "seven" in records["BADSEED-4"]["error"]
    assert not (tmp_path / "out" / "BROKEN-2" / "video.mp4").exists()

    # On the CPU the result depends on torch's thread count (reductions are split differently);
    # a CPU worker has one thread (Ray sets OMP_NUM_THREADS from num_cpus=1), so the single run does too.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = run_request(GenerationRequest(image=str(product_photo), overrides={**TINY_OVERRIDES, "seed": 7},
                                               out=tmp_path / "single.mp4"))
    finally:
        torch.set_num_threads(threads)
    assert single.seed == 7
    np.testing.assert_array_equal(read_frames(tmp_path / "out" / "GOOD-1" / "video.mp4"),
                                  read_frames(single.video))


def test_resume_retries_fixed_photos_remakes_what_changed_or_vanished_and_skips_the_rest(tmp_path, ray_runtime):
    """The same command run again and again through ``run_batch``, as a user fixing their catalogue would."""
    from svdapp.batch.progress import format_summary
    from svdapp.testimage import write_test_product

    photos, out = tmp_path / "photos", tmp_path / "out"
    for sku in ("A", "B", "C"):
        write_test_product(photos / f"{sku}.jpg", 320, 240)
    (photos / "B.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut off")
    options = BatchOptions(input=photos, out_dir=out, engine="classic", workers=1, request_fields={"seconds": 0.5},
                           overrides={"width": 128, "height": 64, "seed": 5})

    def rerun(opts: BatchOptions = options) -> tuple[int, int, int]:
        summary = run_batch(opts)
        assert summary.total == 3 and f"{summary.done} done, {summary.failed} failed, {summary.skipped} skipped" \
            in format_summary(summary)
        return summary.done, summary.skipped, summary.failed

    def attempts(sku: str) -> list[str]:
        lines = (out / MANIFEST).read_text(encoding="utf-8").splitlines()
        return [r["status"] for r in map(json.loads, lines) if r["sku"] == sku]

    assert rerun() == (2, 0, 1)  # the broken photo fails alone
    write_test_product(photos / "B.jpg", 320, 240)  # the user fixes it
    assert rerun() == (1, 2, 0)  # only B is made
    assert attempts("B") == ["failed", "done"] and read_manifest(out)["B"]["status"] == "done"
    assert rerun() == (0, 3, 0)  # failed-then-done lines read as done
    made = {sku: (out / sku / "video.mp4").stat().st_mtime_ns for sku in ("A", "B")}

    (out / "C" / "video.mp4").unlink()  # a video deleted by hand is made again
    assert rerun() == (1, 2, 0) and probe(out / "C" / "video.mp4").frames == 15
    with (out / MANIFEST).open("a", encoding="utf-8") as fh:  # a later attempt at A failed (done-then-failed)
        fh.write(json.dumps({**read_manifest(out)["A"], "status": "failed", "error": "worker stopped"}) + "\n")
    assert rerun() == (1, 2, 0) and attempts("A") == ["done", "failed", "done"]
    assert (out / "B" / "video.mp4").stat().st_mtime_ns == made["B"]  # skipped means untouched

    longer = BatchOptions(**{**options.__dict__, "request_fields": {"seconds": 1.0}})  # changed settings
    assert rerun(longer) == (3, 0, 0)
    assert [probe(out / sku / "video.mp4").frames for sku in ("A", "B", "C")] == [30, 30, 30]
    assert rerun(longer) == (0, 3, 0)


def test_classic_engine_on_cpu_workers_with_per_row_camera(tmp_path, ray_runtime, product_photo):
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(f"sku,image,motion\nPAN,{product_photo},pan-left\nODD,{product_photo},wobble\n")
    options = BatchOptions(input=catalog, out_dir=tmp_path / "out", engine="classic",
                           overrides={"width": 128, "height": 64}, request_fields={"seconds": 1.0})
    summary = run_batch(options)
    assert (summary.done, summary.failed) == (1, 1)
    records = read_manifest(tmp_path / "out")
    assert records["PAN"]["engine"] == "classic" and probe(tmp_path / "out" / "PAN" / "video.mp4").frames > 1
    assert "wobble" in records["ODD"]["error"]


def test_product_fidelity_in_the_manifest_and_products_for_review_in_the_summary(tmp_path, ray_runtime,
                                                                                  product_photo):
    from PIL import Image

    from svdapp.batch import format_summary

    flat = tmp_path / "flat.png"
    Image.new("RGB", (320, 240), (200, 200, 200)).save(flat)  # no product to find: not measured, for review
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(f"sku,image\nBOTTLE,{product_photo}\nFLAT,{flat}\n")
    options = BatchOptions(input=catalog, out_dir=tmp_path / "out", engine="classic",
                           overrides={"width": 256, "height": 128},
                           request_fields={"seconds": 0.5, "min_fidelity": 0.8, "takes": 2})
    summary = run_batch(options)
    assert (summary.done, summary.failed) == (2, 0)
    records = read_manifest(tmp_path / "out")
    bottle, flat_record = records["BOTTLE"], records["FLAT"]
    assert bottle["product_fidelity"] >= 0.8 and bottle["motion"] > 0 and bottle["review"] is False
    assert bottle["takes"] == 1  # the first camera move passed: no second attempt
    assert flat_record["product_fidelity"] is None and flat_record["review"] is True
    assert "No product found" in flat_record["fidelity_error"]
    assert summary.reviews == (("FLAT", None),)
    assert "1 for review" in format_summary(summary) and "FLAT not measured" in format_summary(summary)
    header, *rows = (tmp_path / "out" / MANIFEST_CSV).read_text().splitlines()
    assert "product_fidelity,motion,review,takes" in header
    assert any(row.startswith("FLAT,done") and ",True," in row for row in rows)


def test_worker_plan_follows_the_cluster():
    gpus = {"CPU": 16.0, "GPU": 2.0}
    assert plan_workers(gpus, True, tasks=10) == WorkerPlan(2, 1, 4.0)
    assert plan_workers(gpus, True, tasks=10, gpus=1) == WorkerPlan(1, 1, 4.0)
    assert plan_workers(gpus, True, tasks=1) == WorkerPlan(1, 1, 4.0)
    assert plan_workers({"CPU": 2.0}, False, tasks=10) == WorkerPlan(2, 0, 1.0)
    assert plan_workers({"CPU": 2.0}, False, tasks=10, workers=4) == WorkerPlan(4, 0, 0.5)
    with pytest.raises(InputError, match="more GPUs than Ray sees"):
        plan_workers(gpus, True, tasks=10, gpus=3)
    with pytest.raises(InputError, match="no GPU"):
        plan_workers({"CPU": 2.0}, True, tasks=10)


def test_bad_catalogue_is_refused_before_ray_starts(tmp_path):
    catalog = tmp_path / "c.csv"
    catalog.write_text("name,file\nA,a.jpg\n")
    with pytest.raises(InputError, match="sku and image"):
        load_catalog(catalog)
    catalog.write_text("sku,image\nA,a.jpg\na,b.jpg\n")
    with pytest.raises(InputError, match="share the output folder"):
        load_catalog(catalog)
    with pytest.raises(InputError, match="No products"):
        load_catalog(_empty(tmp_path / "empty"))


def _empty(folder: Path) -> Path:
    folder.mkdir()
    return folder


def _cli(args: list[str], env: dict[str, str], cwd: Path, **kw) -> subprocess.Popen:
    script = Path(sys.executable).parent / "svdapp"
    return subprocess.Popen([str(script), "batch"] + args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, **kw)


def _wait_for_done(manifest: Path, proc: subprocess.Popen, deadline_s: float) -> int:
    """Poll the manifest until a product is recorded done (no fixed sleeps)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and proc.poll() is None:
        if manifest.is_file() and '"status": "done"' in manifest.read_text(encoding="utf-8"):
            return sum('"status": "done"' in line for line in manifest.read_text(encoding="utf-8").splitlines())
        time.sleep(0.05)
    raise AssertionError(f"no product finished in {deadline_s} s (exit code {proc.poll()})")


def test_batch_killed_half_way_completes_on_rerun(tmp_path, batch_env):
    photos = _photos(tmp_path / "photos", 3)
    out = tmp_path / "out"
    args = ["--input", str(photos), "--out", str(out), "--workers", "1"] + TINY_ARGS
    proc = _cli(args, batch_env, tmp_path)
    try:
        done_before = _wait_for_done(out / MANIFEST, proc, deadline_s=150)
    finally:
        # SIGKILL the whole process group we started: the driver and the Ray runtime it began.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert 1 <= done_before < 3

    rerun = _cli(args, batch_env, tmp_path)
    output, _ = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, output
    assert f"{done_before} skipped" in output and "3 done" not in output
    assert sorted(_done_records(out)) == ["sku-0", "sku-1", "sku-2"]
    for sku in ("sku-0", "sku-1", "sku-2"):
        assert probe(out / sku / "video.mp4").frames == 4
    assert not list(out.glob("*/.svdapp-tmp-*"))
