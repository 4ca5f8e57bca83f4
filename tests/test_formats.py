"""Every output format decodes with the right size and frame count, is written atomically,
and comes out of a real run of either engine; the WebM plays in Chromium."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import huggingface_hub  # noqa: F401  imported outside app_env: it reads HF_HUB_OFFLINE once, at import
import numpy as np
import pytest
from PIL import Image

from svdapp import classic, video
from svdapp.errors import InputError, OutputError
from svdapp.testimage import make_test_product

from .conftest import TINY_OVERRIDES, mp4_boxes, run_cli

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def clip():
    """30 frames, 160x90, of the classic push-in: one second at 30 fps."""
    return classic.render(make_test_product(320, 240), (160, 90), 30, "push-in").clip


def gif_info(path: Path) -> tuple[tuple[int, int], int, int | None]:
    with Image.open(path) as im:
        return im.size, im.n_frames, im.info.get("loop")


def test_mp4_webm_gif_and_poster_decode_with_the_right_size_and_count(clip, tmp_path):
    mp4 = video.probe(video.write_mp4(clip, tmp_path / "v.mp4", 30))
    assert (mp4.codec, mp4.pix_fmt, mp4.width, mp4.height, mp4.frames) == ("h264", "yuv420p", 160, 90, 30)
    boxes = mp4_boxes(tmp_path / "v.mp4")  # +faststart: a browser reads the index before the frames
    assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat"), boxes
    webm = video.probe(video.write_webm(clip, tmp_path / "v.webm", 30))
    assert (webm.codec, webm.pix_fmt, webm.width, webm.height, webm.frames) == ("vp9", "yuv420p", 160, 90, 30)
    assert abs(webm.duration - 1.0) < 0.05
    size, frames, loop = gif_info(video.write_gif(clip, tmp_path / "v.gif", 30))
    assert size == (160, 90) and frames == 15 and loop == 0  # 15 fps, loops forever
    poster = video.write_poster(clip[0], tmp_path / "poster.png")
    with Image.open(poster) as im:
        assert im.format == "PNG" and im.size == (160, 90)
        assert np.abs(np.asarray(im.convert("RGB")).astype(int) - clip[0]).mean() < 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poster.png", "v.gif", "v.mp4", "v.webm"]


def test_decoded_video_matches_the_rendered_frames(clip, tmp_path):
    decoded = video.read_frames(video.write_mp4(clip, tmp_path / "v.mp4", 30))
    assert np.abs(decoded.astype(int) - np.stack(list(clip))).mean() < 2.5
    decoded = video.read_frames(video.write_webm(clip, tmp_path / "v.webm", 30))
    assert np.abs(decoded.astype(int) - np.stack(list(clip))).mean() < 4


def test_rgb_frames_keep_their_colours_through_the_fast_path(tmp_path):
    from svdapp.finishing import as_clip

    frames = np.zeros((3, 64, 96, 3), np.uint8)
    frames[:, :32, :48] = (230, 20, 20)
    frames[:, 32:, 48:] = (20, 200, 40)
    frames[:, :32, 48:] = (30, 60, 220)
    plain = video.read_frames(video.write_mp4(frames, tmp_path / "plain.mp4", 10))
    fast = video.read_frames(video.write_mp4(as_clip(frames), tmp_path / "fast.mp4", 10))
    assert np.abs(fast.astype(int) - plain).mean() < 1.5
    assert np.abs(fast.astype(int) - frames).mean() < 3


def test_planes_are_laid_out_right_when_height_is_not_a_multiple_of_four(tmp_path):
    """4:5 is 1080x1350: half of 1350 is odd. Colours must survive the YUV fast path."""
    c = classic.render(make_test_product(200, 150), (96, 70), 4, "pan-left").clip
    decoded = video.read_frames(video.write_mp4(c, tmp_path / "v.mp4", 10))
    assert decoded.shape == (4, 70, 96, 3)
    assert np.abs(decoded.astype(int) - np.stack(list(c))).mean() < 2.5


def test_gif_stays_small_for_a_full_hd_portrait_clip(tmp_path):
    big = classic.render(make_test_product(640, 480), (1080, 1920), 30, "pan-right").clip
    path = video.write_gif(big, tmp_path / "big.gif", 30)
    size, frames, _ = gif_info(path)
    assert size == (270, 480) and frames == 15
    assert path.stat().st_size < 1_500_000  # one second; a 4 s loop stays a few MB


def test_odd_sized_frames_are_padded_to_even(tmp_path):
    frames = np.full((3, 45, 81, 3), 90, np.uint8)
    info = video.probe(video.write_webm(frames, tmp_path / "odd.webm", 10))
    assert (info.width, info.height, info.frames) == (82, 46, 3)


def test_formats_list():
    assert video.parse_formats("webm,gif") == ("mp4", "webm", "gif")
    assert video.parse_formats(["poster"]) == ("mp4", "poster")
    assert video.parse_formats("all") == ("mp4", "webm", "gif", "poster")
    assert video.parse_formats(None) == ("mp4",)
    with pytest.raises(InputError, match="Unknown format") as err:
        video.parse_formats("mp4,avi")
    assert "--formats" in err.value.hint


def test_failed_write_leaves_nothing(clip, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    for write in (lambda p: video.write_webm(clip, p, 30), lambda p: video.write_gif(clip, p, 30),
                  lambda p: video.write_poster(clip[0], p)):
        with pytest.raises(OutputError):
            write(blocker / "x.out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


# --- through run_request, both engines -------------------------------------------------------

def test_classic_job_writes_every_format_in_its_folder(app_env, tmp_path, product_photo):
    from svdapp.history import list_history
    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest

    result = run_request(GenerationRequest(image=product_photo, engine="classic", camera="pan-left",
                                           seconds=1.0, overrides={"fps": 12, "width": 192, "height": 128},
                                           loop="boomerang", formats=("webm", "gif", "poster")))
    folder = result.video.parent
    assert sorted(p.name for p in folder.iterdir()) == ["input.png", "meta.json", "poster.png", "video.gif",
                                                        "video.mp4", "video.webm"]
    assert (result.webm, result.gif, result.poster) == (folder / "video.webm", folder / "video.gif",
                                                       folder / "poster.png")
    for path in (result.video, result.webm):
        info = video.probe(path)
        assert (info.width, info.height, info.frames) == (192, 128, 12)
    assert gif_info(result.gif)[:2] == ((192, 128), 12)
    assert result.engine == "classic" and result.engine_label == "Classic motion, no AI"
    assert result.fallbacks == ()  # chosen, not fallen back to
    meta = json.loads(result.meta_path.read_text())
    assert meta["engine"] == "classic" and meta["engine_label"] == "Classic motion, no AI"
    assert meta["classic"]["camera"] == "pan-left" and meta["finishing"]["loop"] == "boomerang"
    assert meta["output"]["files"]["gif"] == str(result.gif)
    assert list_history(folder.parent)[0].meta.label == "Classic motion, no AI"
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".svdapp-tmp-")]


def test_classic_framing_with_out_path_names_files_beside_it(app_env, tmp_path, product_photo):
    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest

    out = tmp_path / "shop" / "bottle.mp4"
    result = run_request(GenerationRequest(image=product_photo, engine="classic", framing="4:5", seconds=0.5,
                                           overrides={"fps": 8}, background="blur", formats=("gif", "poster"),
                                           out=out))
    assert sorted(p.name for p in out.parent.iterdir()) == ["bottle-poster.png", "bottle.gif", "bottle.json",
                                                            "bottle.mp4"]
    info = video.probe(out)
    assert (info.width, info.height, info.frames) == (1080, 1350, 4)
    assert result.webm is None and result.poster == out.parent / "bottle-poster.png"


def test_svd_frames_go_through_the_same_finishing(app_env, tmp_path, product_photo):
    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest

    result = run_request(GenerationRequest(image=product_photo, engine="svd", overrides={**TINY_OVERRIDES, "seed": 1},
                                           interpolate=2, loop="boomerang", framing="1:1",
                                           formats=("gif", "poster"), out=tmp_path / "svd.mp4"))
    # 4 frames → 7 interpolated → boomerang 12, at 2 x 15 fps, padded from 128x64 into 128x128.
    assert (result.frames, result.width, result.height, result.fps) == (12, 128, 128, 30)
    info = video.probe(result.video)
    assert (info.frames, info.width, info.height) == (12, 128, 128)
    assert gif_info(result.gif)[:2] == ((128, 128), 6)
    meta = json.loads(result.meta_path.read_text())
    assert meta["engine"] == "svd" and meta["engine_frames"] == 4 and meta["memory_plan"] == "cpu"


def test_fresh_machine_without_gpu_or_model_makes_a_classic_video(app_env, tmp_path, product_photo):
    env = {**app_env, "SVDAPP_MODEL": "stabilityai/stable-video-diffusion-img2vid-xt-1-1"}
    out = run_cli(["--image", str(product_photo), "--out", "out.mp4", "--seconds", "1", "--formats", "poster"],
                  env, tmp_path, module="svd-make")
    assert out.returncode == 0, out.stderr
    assert "Classic motion, no AI" in out.stdout and "not downloaded" in out.stderr
    info = video.probe(tmp_path / "out.mp4")
    assert (info.width, info.height, info.frames, info.fps) == (1024, 576, 30, 30.0)
    assert (tmp_path / "out-poster.png").is_file()
    meta = json.loads((tmp_path / "out.json").read_text())
    assert meta["engine"] == "classic" and meta["engine_requested"] == "auto" and meta["model"] is None


def test_bad_finishing_flag_is_one_message_and_a_fix(app_env, tmp_path, product_photo):
    out = run_cli(["make", "--image", str(product_photo), "--engine", "classic", "--interpolate", "3"],
                  app_env, tmp_path)
    assert out.returncode == 2 and "Interpolation must be 1, 2 or 4" in out.stderr and "fix:" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "outputs").exists()


# --- the browser -----------------------------------------------------------------------------

@pytest.mark.browser
def test_webm_plays_in_chromium(clip, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    video.write_webm(clip, tmp_path / "clip.webm", 30)
    (tmp_path / "page.html").write_text('<video id="v" src="clip.webm" muted autoplay loop playsinline></video>')
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.goto((tmp_path / "page.html").as_uri())
            page.wait_for_function("() => { const v = document.getElementById('v');"
                                   " return v.readyState >= 2 && v.currentTime > 0.1; }", timeout=20000)
            state = page.evaluate("() => { const v = document.getElementById('v'); return {w: v.videoWidth,"
                                  " h: v.videoHeight, d: v.duration, err: v.error && v.error.code,"
                                  " vp9: v.canPlayType('video/webm; codecs=\"vp9\"')}; }")
        finally:
            browser.close()
    assert state["err"] is None and state["vp9"] == "probably"
    assert (state["w"], state["h"]) == (160, 90) and abs(state["d"] - 1.0) < 0.05


# --- which engine "auto" picks -----------------------------------------------------------------

@pytest.mark.parametrize("model,token,memory,gpu,engine,why", [
    ("tiny", None, "cpu", False, "svd", None),  # SVD on the processor was asked for by name
    ("tiny", None, "auto", False, "classic", "no CUDA GPU"),
    ("hub", None, "auto", False, "classic", "not downloaded"),
    ("hub", "hf_example", "auto", False, "classic", "no CUDA GPU"),
    ("tiny", None, "auto", True, "svd", None),
    ("hub", "hf_example", "auto", True, "svd", None),  # downloadable with the token
    ("hub", None, "auto", True, "classic", "not downloaded"),
])
def test_auto_engine_choice_and_its_reason(app_env, monkeypatch, tiny_model, product_photo, model, token, memory, gpu,
                                          engine, why):
    import svdapp.request
    from svdapp.request import GenerationRequest, resolve_engine
    from svdapp.settings import load_settings

    # whether there is a GPU is the one thing simulated (test_rules tests how the core finds out)
    monkeypatch.setattr(svdapp.request, "_has_cuda", lambda: gpu)
    monkeypatch.setenv("SVDAPP_MODEL", str(tiny_model) if model == "tiny" else "stabilityai/not-downloaded-here")
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    request = GenerationRequest(image=product_photo, overrides={"memory": memory} if memory != "auto" else {})
    choice = resolve_engine(request, load_settings())
    assert choice.engine == engine
    assert (choice.note is None) if why is None else (why in choice.note and "classic" in choice.note)
    assert resolve_engine(replace(request, engine="svd"), load_settings()).engine == "svd"
