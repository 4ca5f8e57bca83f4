"""The web app through its named API (gradio_client) and the rules of ``svdapp serve``.

The app runs in a subprocess on a free loopback port with the tiny model saved to disk,
exactly as a user starts it; nothing here creates a share tunnel or touches the network.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .app_server import free_port, page_event, running_app, server_log
from svdapp.video import probe

from .conftest import TINY_OVERRIDES, run_cli
from .fakeengine import fake_engine  # noqa: F401  (fixture)


def test_check_and_generate_through_gradio_client(app_env, tmp_path, product_photo):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    no_gpu = {**app_env, "CUDA_VISIBLE_DEVICES": ""}  # the SVD runs below are on the processor anyway
    with running_app(no_gpu, tmp_path) as url:
        client = Client(url, verbose=False)
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {"/generate", "/check", "/speedtest"} <= set(api)
        optional = [p["parameter_name"] for p in api["/generate"]["parameters"] if p["parameter_has_default"]]
        assert set(TINY_OVERRIDES) | {"preset", "seed", "fps", "motion", "fit"} <= set(optional)

        report = client.predict(api_name="/check")
        checks = {c["name"]: c for c in report["checks"]}
        assert checks["Model access"]["ok"], checks["Model access"]
        assert checks["GPU"]["ok"] is False and checks["GPU"]["required"] and "NVIDIA" in checks["GPU"]["hint"]
        assert report["ready"] is False  # no GPU: not ready, and the GPU line says why

        first_video, first = client.predict(handle_file(product_photo), "fast", **TINY_OVERRIDES, api_name="/generate")
        second_video, second = client.predict(handle_file(product_photo), "fast", seed=7, speed="turbo",
                                              **TINY_OVERRIDES, api_name="/generate")

        info = probe(first_video)
        assert (info.codec, info.pix_fmt, info.frames, info.width, info.height) == ("h264", "yuv420p", 4, 128, 64)
        assert info.fps == 15.0  # the fast preset's playback fps, untouched by the overrides
        assert first["preset"] == "fast" and first["output"]["frames"] == 4
        assert first["model_loaded_this_run"] is True
        assert second["model_loaded_this_run"] is False
        assert second["seed"] == 7
        assert (first["speed_mode"], second["speed_mode"]) == ("exact", "turbo")
        saved = sorted(p.parent.name for p in (tmp_path / "outputs").glob("*/video.mp4"))
        assert len(saved) == 2 and saved[1].endswith("-7")  # the classic run below makes a third

        classic_video, classic = client.predict(handle_file(product_photo), "fast", engine="classic", seconds=1,
                                                formats="poster", width=128, height=64, api_name="/generate")
        assert classic["engine"] == "classic" and probe(classic_video).codec == "h264"
        assert Path(classic["output"]["files"]["poster"]).is_file()

        with pytest.raises(AppError) as bad:
            client.predict(handle_file(product_photo), "fast", **{**TINY_OVERRIDES, "width": 100},
                           api_name="/generate")
        assert "Width must be a multiple of 64" in str(bad.value) and "—" in str(bad.value)
        with pytest.raises(AppError, match="Unknown preset 'nope'"):
            client.predict(handle_file(product_photo), "nope", api_name="/generate")

        # the speed test through the API: each mode timed, and the advice in the API's words
        timed = client.predict("fast", 128, 64, 4, 2, "cpu", "turbo", api_name="/speedtest")
        assert [t["mode"] for t in timed["timings"]] == ["exact", "turbo"]
        assert (timed["frames"], timed["width"], timed["steps_video"]) == (4, 128, 2)
        assert timed["advice"].startswith('Pick speed="')

        # takes: every video is scored; with takes=2 both seeds are listed and the kept one is the video,
        # which a call with that seed and takes=1 makes again
        assert first["fidelity"]["product_fidelity"] is not None and first["takes"] == []
        taken_video, taken = client.predict(handle_file(product_photo), "fast", seed=20, takes=2, **TINY_OVERRIDES,
                                            api_name="/generate")
        assert [t["seed"] for t in taken["takes"]] == [20, 21] and sum(t["kept"] for t in taken["takes"]) == 1
        kept = next(t["seed"] for t in taken["takes"] if t["kept"])
        assert taken["seed"] == kept and all(Path(taken["folder"], t["preview"]).is_file() for t in taken["takes"])
        again_video, again = client.predict(handle_file(product_photo), "fast", seed=kept, takes=1, **TINY_OVERRIDES,
                                            api_name="/generate")
        assert again["takes"] == [] and Path(again_video).read_bytes() == Path(taken_video).read_bytes()
    assert "svdapp is running at http://127.0.0.1:" in server_log(tmp_path)


def test_share_without_auth_refuses_to_start(app_env, tmp_path):
    result = run_cli(["serve", "--share", "--no-browser", "--port", str(free_port())], app_env, tmp_path, timeout=60)
    assert result.returncode == 2
    assert "Refusing to create a public link without a login" in result.stderr
    assert "--auth" in result.stderr and "--insecure-no-auth" in result.stderr
    assert "Traceback" not in result.stderr


def test_ui_module_does_not_import_torch(app_env, tmp_path):
    # Every module of the package, not only what __init__ happens to import, then a whole app.
    code = ("import importlib, pkgutil, sys, svdapp.ui\n"
            "for m in pkgutil.iter_modules(svdapp.ui.__path__, 'svdapp.ui.'): importlib.import_module(m.name)\n"
            "svdapp.ui.build_app()\n"
            "print(sorted({'torch', 'diffusers'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], env=app_env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _args(**kw) -> argparse.Namespace:
    base = dict(host="127.0.0.1", share=False, insecure_no_auth=False)
    return argparse.Namespace(**{**base, **kw})


def test_auth_and_exposure_rules(tmp_path):
    from svdapp.errors import InputError
    from svdapp.ui.server import check_exposure, is_exposed, parse_auth

    logins = tmp_path / "logins.txt"
    logins.write_text("# team\nbob:pa:ss\n\n", encoding="utf-8")
    assert parse_auth(["alice:secret"], logins) == [("alice", "secret"), ("bob", "pa:ss")]
    with pytest.raises(InputError, match="user:password"):
        parse_auth(["alice"], None)
    with pytest.raises(InputError, match="Cannot read --auth-file"):
        parse_auth([], tmp_path / "missing.txt")

    with pytest.raises(InputError, match="Refusing"):
        check_exposure(_args(share=True), [])
    assert "WITHOUT a login" in check_exposure(_args(share=True, insecure_no_auth=True), [])[0]
    assert check_exposure(_args(share=True), [("a", "b")]) == []
    assert "anyone on your network" in check_exposure(_args(host="0.0.0.0"), [])[0]

    assert not is_exposed("127.0.0.1", False) and not is_exposed("localhost", False) and not is_exposed("::1", False)
    assert is_exposed("0.0.0.0", False) and is_exposed("192.168.1.5", False) and is_exposed("127.0.0.1", True)


def test_form_values_map_to_request_fields():
    from svdapp.ui.forms import changed_fields, make_request, overrides_from, preset_fields, turn

    assert preset_fields("lowmem-portrait")["height"] == 1024
    assert turn(1024, 576, "portrait") == (576, 1024) and turn(576, 1024, "landscape") == (1024, 576)
    assert overrides_from({"frames": 4.0, "noise_aug": 0.1, "memory": "cpu", "seed": None, "fit": "", "speed": ""}) == \
        {"frames": 4, "noise_aug": 0.1, "memory": "cpu"}
    assert overrides_from({"speed": "turbo"}) == {"speed": "turbo"}
    assert preset_fields("fast")["speed"] == ""  # the dropdown's "Default" choice
    req = make_request("photo.jpg", "custom", {"frames": 9})
    assert req.preset == "standard" and dict(req.overrides) == {"frames": 9}
    untouched = {**preset_fields("fast"), "seed": 5}
    assert changed_fields(untouched, "fast") == {"seed": 5}  # the form holds every field; only changes count
    assert changed_fields({**untouched, "steps": 30}, "fast") == {"steps": 30, "seed": 5}
    extras = make_request("p.jpg", "fast", {}, {"engine": "classic", "formats": "gif,poster", "seconds": 2,
                                                "interpolate": "2", "loop": "", "framing": None})
    assert (extras.engine, extras.formats, extras.seconds, extras.interpolate, extras.loop) == \
        ("classic", ("mp4", "gif", "poster"), 2.0, 2, "none")


def _fake_result(folder: Path, seed: int, created: str) -> None:
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(b"x")
    meta = {"seed": seed, "created": created, "preset": "fast", "output": {"frames": 4, "duration_s": 1.0}}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def test_history_of_a_shared_app_shows_only_the_sessions_own_results(app_env, tmp_path):
    from svdapp.ui.history import gallery_value, history_items

    mine, theirs = tmp_path / "outputs" / "a-mine-1", tmp_path / "outputs" / "b-theirs-2"
    _fake_result(mine, 1, "2026-01-01T00:00:00")
    _fake_result(theirs, 2, "2026-01-02T00:00:00")
    assert [r.meta.seed for r in history_items([str(mine)], show_all=False)] == [1]
    assert [r.meta.seed for r in history_items([str(mine)], show_all=True)] == [2, 1]  # local app: all of outputs/
    assert gallery_value(history_items([str(mine)], False)) == [(str(mine / "video.mp4"), "4f · 1.0s")]


def test_the_preview_is_exactly_the_frame_the_model_receives(app_env, fake_engine, tmp_path, product_photo):
    """D2's "Model input" as the page receives it (the server's reply and the file it links), pixel for
    pixel against the frame the engine is given for the same photo, size and fit."""
    import io

    import httpx
    import numpy as np
    from PIL import Image

    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest

    cases = [(128, 64, "contain"), (64, 128, "cover")]
    shown = {}
    with running_app(app_env, tmp_path) as url, httpx.Client(base_url=url, timeout=60) as http:
        with open(product_photo, "rb") as f:
            (uploaded,) = http.post("gradio_api/upload", files={"files": (product_photo.name, f, "image/jpeg")}).json()
        for width, height, fit in cases:
            _, reply = page_event(url, "preview_frame", {"path": uploaded, "meta": {"_type": "gradio.FileData"}},
                                  width, height, fit)
            update = reply["output"]["data"][0]
            assert update["label"] == f"Model input · {width}×{height}"
            image = Image.open(io.BytesIO(http.get(update["value"]["url"]).content))
            shown[width, height, fit] = np.asarray(image.convert("RGB"))
    for (width, height, fit), pixels in shown.items():
        overrides = {"width": width, "height": height, "fit": fit, "frames": 2, "steps": 1, "memory": "cpu"}
        run_request(GenerationRequest(image=str(product_photo), overrides=overrides, out=tmp_path / f"{fit}.mp4"))
        assert pixels.shape == fake_engine.images[-1].shape == (height, width, 3)
        np.testing.assert_array_equal(pixels, fake_engine.images[-1])
