"""The command line exactly as the user's guide writes it, in a subprocess, on the tiny model."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from svdapp.video import probe, read_frames

from .conftest import TINY_ARGS, mp4_boxes, run_cli

TOKEN = "hf_TESTtokenNeverPrintMe9z8y"


def test_help_of_every_entry_point(app_env, tmp_path):
    commands = ("make", "check", "test-image", "download", "bench", "serve", "batch")
    for module, args, shown in (("svdapp", ["--help"], ("usage: svdapp", *commands)),
                                ("svd-make", ["--help"], ("usage: svd-make", "--portrait", "--engine")),
                                ("svdapp", ["make", "--help"], ("usage: svdapp make", "--portrait", "--engine"))):
        out = run_cli(args, app_env, tmp_path, module=module)
        assert out.returncode == 0, out.stderr
        assert all(text in out.stdout for text in shown), out.stdout
    import subprocess
    import sys
    mod = subprocess.run([sys.executable, "-m", "svdapp", "--help"], env=app_env, capture_output=True, text=True)
    assert mod.returncode == 0 and "test-image" in mod.stdout


def test_guide_command_makes_a_browser_playable_portrait_video(app_env, tmp_path, product_photo):
    env = {**app_env, "HUGGINGFACE_HUB_TOKEN": TOKEN}
    out = run_cli(["--image", str(product_photo), "--frames", "4", "--portrait", "--fps", "15", "--out", "out.mp4",
                   "--width", "128", "--height", "64", "--steps", "2", "--memory", "cpu", "--seed", "42"],
                  env, tmp_path, module="svd-make")
    assert out.returncode == 0, out.stderr
    info = probe(tmp_path / "out.mp4")
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.frames, info.fps, info.width, info.height) == (4, 15.0, 64, 128)
    assert info.height > info.width
    assert abs(info.duration - 4 / 15) < 0.01
    boxes = mp4_boxes(tmp_path / "out.mp4")
    assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat")  # +faststart: the index first
    meta = json.loads((tmp_path / "out.json").read_text())
    assert meta["seed"] == 42 and meta["settings"]["frames"] == 4 and meta["model"] == app_env["SVDAPP_MODEL"]
    assert meta["output"]["frames"] == 4 and meta["versions"]["torch"]
    assert "seed 42" in out.stdout
    for text in (out.stdout, out.stderr, (tmp_path / "out.json").read_text()):
        assert TOKEN not in text and TOKEN[3:-4] not in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".mp4", ".json")) == ["out.json", "out.mp4"]


def test_same_seed_same_video_and_random_seed_is_reported(app_env, tmp_path, product_photo):
    runs = []
    for name, seed in (("a.mp4", ["--seed", "7"]), ("b.mp4", ["--seed", "7"]), ("c.mp4", [])):
        out = run_cli(["make", "--image", str(product_photo), "--out", name, *TINY_ARGS, *seed], app_env, tmp_path)
        assert out.returncode == 0, out.stderr
        runs.append(read_frames(tmp_path / name))
    assert np.array_equal(runs[0], runs[1])
    seed_c = json.loads((tmp_path / "c.json").read_text())["seed"]
    assert isinstance(seed_c, int) and seed_c != 7
    assert not np.array_equal(runs[0], runs[2])


def test_default_output_folder(app_env, tmp_path, product_photo):
    out = run_cli(["make", "--image", str(product_photo), "--preset", "fast", *TINY_ARGS], app_env, tmp_path)
    assert out.returncode == 0, out.stderr
    folders = [p for p in (tmp_path / "outputs").iterdir()]
    assert len(folders) == 1 and folders[0].name.endswith(f"-product-{json.loads((folders[0] / 'meta.json').read_text())['seed']}")
    assert sorted(p.name for p in folders[0].iterdir()) == ["input.png", "meta.json", "video.mp4"]
    meta = json.loads((folders[0] / "meta.json").read_text())
    assert meta["preset"] == "fast" and meta["settings"]["fps"] == 15
    assert probe(folders[0] / "video.mp4").frames == 4


@pytest.mark.parametrize("args,message,fix", [
    (["--memory", "auto", "--engine", "svd"], "No CUDA GPU was found", "--memory cpu"),
    (["--width", "100"], "multiple of 64", "1024x576"),
    (["--frames", "0"], "Frames must be", "--frames 25"),
])
def test_errors_are_one_message_and_a_fix_with_nothing_written(app_env, tmp_path, product_photo, args, message, fix):
    base = ["--width", "128", "--height", "64", "--frames", "4", "--steps", "2", "--memory", "cpu"]
    no_gpu = {**app_env, "CUDA_VISIBLE_DEVICES": ""}  # a machine without a GPU, also where the suite has one
    out = run_cli(["make", "--image", str(product_photo), *base, *args], no_gpu, tmp_path)
    assert out.returncode == 2
    assert message in out.stderr and fix in out.stderr and "fix:" in out.stderr
    assert "Traceback" not in out.stderr
    outputs = tmp_path / "outputs"
    assert not outputs.exists() or not any(outputs.iterdir())


def test_not_an_image(app_env, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a photo")
    out = run_cli(["make", "--image", str(bad), "--out", "x.mp4", *TINY_ARGS], app_env, tmp_path)
    assert out.returncode == 2 and "not an image" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "x.json").exists()


def test_test_image_tool(app_env, tmp_path):
    out = run_cli(["test-image"], app_env, tmp_path)
    assert out.returncode == 0, out.stderr
    from PIL import Image
    img = Image.open(tmp_path / "outputs/test_images/test_product.jpg")
    arr = np.asarray(img.convert("RGB")).astype(float)
    assert img.size == (1280, 960)
    corner, centre = arr[:50, :50].mean(axis=(0, 1)), arr[400:600, 560:720].mean(axis=(0, 1))
    assert arr[:50, :50].std() < 8  # plain studio background
    assert np.abs(corner - centre).sum() > 60  # a distinct product in the middle
    assert arr[300:700, 450:830].std() > 20  # shading, not a flat blob


def test_check_reports_each_line_and_fails_without_gpu(app_env, tmp_path):
    out = run_cli(["check", "--offline"], {**app_env, "CUDA_VISIBLE_DEVICES": ""}, tmp_path)
    assert out.returncode == 1
    lines = out.stdout
    for name in ("Python", "PyTorch", "GPU", "Video encoder", "Hugging Face token", "Model access", "Disk"):
        assert name in lines
    assert "✗ GPU" in lines and "fix:" in lines and "✓ Model access" in lines


@pytest.mark.parametrize("encoding", ["cp949", "ascii"])
def test_commands_work_on_a_console_that_cannot_print_every_symbol(app_env, tmp_path, product_photo, encoding):
    """Output piped on a Korean Windows console (cp949) or an ASCII terminal: every command works, a made
    video is reported as made, and the symbols the console lacks come out as plain characters."""
    env = {**app_env, "PYTHONIOENCODING": encoding, "CUDA_VISIBLE_DEVICES": ""}

    def run(module: str, *args: str) -> tuple[int, str, str]:
        script = Path(sys.executable).parent / module
        proc = subprocess.run([str(script), *args], env=env, cwd=tmp_path, capture_output=True, timeout=180)
        # strict decoding: every byte written is text in the console's own encoding
        return proc.returncode, proc.stdout.decode(encoding), proc.stderr.decode(encoding)

    code, out, err = run("svdapp", "check", "--offline")
    assert code == 1 and "Traceback" not in err and "error" not in err, err
    assert "OK Python" in out and "X GPU" in out and "Not ready: fix the X lines above." in out

    code, out, err = run("svd-make", "--image", str(product_photo), "--engine", "classic", "--seconds", "0.5",
                         "--width", "128", "--height", "64", "--out", "clip.mp4")
    assert code == 0 and "error" not in err, err
    assert out.startswith("OK clip.mp4\n") and "engine: Classic motion, no AI" in out
    assert probe(tmp_path / "clip.mp4").frames == 15

    code, out, err = run("svdapp", "make", "--image", str(product_photo), "--frames", "0")
    assert code == 2 and "error: Frames must be 2-100, got 0." in err and "fix: Use --frames 25" in err

    code, out, err = run("svd-make", "--help")
    assert code == 0 and "--interpolate" in out and not err
