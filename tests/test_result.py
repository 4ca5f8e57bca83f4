"""The result metadata: written once as meta.json, read back by one ``from_json`` for history,
the page and "Use these settings", from this version's files and earlier and later ones."""

from __future__ import annotations

import json
from pathlib import Path

from svdapp.history import list_history, read_result
from svdapp.result import ResultMeta

# meta.json as the first released version wrote it (no finishing, no speed mode, no classic).
FIRST_VERSION = {
    "app": "svdapp", "app_version": "0.1.0", "created": "2025-11-02T10:00:00+00:00", "engine": "svd",
    "engine_label": "Stable Video Diffusion img2vid-XT 1.1",
    "model": "stabilityai/stable-video-diffusion-img2vid-xt-1-1",
    "revision": "main", "model_folder": "/models/svd", "preset": "fast", "seed": 42,
    "settings": {"frames": 15, "fps": 15, "width": 1024, "height": 576, "steps": 20, "motion": 127, "noise_aug": 0.02,
                 "cond_fps": 6, "min_guidance": 1.0, "max_guidance": 3.0, "decode_chunk": 8, "memory": "auto",
                 "fit": "contain", "seed": 42},
    "memory_plan": "normal", "decode_chunk_used": 8, "fallbacks": [], "timings_s": {"total": 12.5},
    "versions": {"python": "3.11.7"}, "input": {"name": "bottle.jpg", "width": 1280, "height": 960},
    "output": {"frames": 15, "width": 1024, "height": 576, "fps": 15, "duration_s": 1.0, "codec": "h264",
               "pix_fmt": "yuv420p"},
}


def _folder(root: Path, name: str, meta: dict) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(b"\0")
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def test_what_is_written_reads_back_unchanged(app_env, tmp_path, product_photo):
    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest

    result = run_request(GenerationRequest(image=product_photo, engine="classic", camera="parallax", seconds=0.5,
                                           loop="crossfade", overrides={"fps": 8, "width": 128, "height": 64},
                                           formats=("poster",), takes=2))
    written = json.loads(result.meta_path.read_text(encoding="utf-8"))
    assert ResultMeta.from_json(written).to_json() == written
    assert written["fidelity"]["per_frame"] and [t["camera"] for t in written["takes"]] == ["parallax", "push-in"]
    assert result.meta.to_json() == written
    past = read_result(result.video.parent)
    assert past.meta == ResultMeta.from_json(written) and past.thumbnail.name == "input.png"
    kept = next(t["camera"] for t in written["takes"] if t["kept"])
    assert (past.meta.classic.camera, past.meta.finishing.loop, past.meta.settings.fps) == (kept, "crossfade", 8)
    assert written["output"]["files"]["poster"] == str(result.poster)


def test_history_lists_results_of_the_first_version_and_the_page_shows_them(tmp_path):
    from svdapp.ui.forms import reuse_values
    from svdapp.ui.views import result_markdown

    _folder(tmp_path, "old", FIRST_VERSION)
    (item,) = list_history(tmp_path)
    assert (item.meta.seed, item.meta.settings.steps, item.meta.speed_mode) == (42, 20, None)
    assert (item.meta.fidelity, item.meta.takes) == (None, ())  # not measured then: nothing to show
    shown = result_markdown(item.meta, "from history")
    assert "Product" not in shown
    assert "**Seed 42** · 15 frames · 1024×576" in shown and "speed exact" in shown and "memory plan normal" in shown
    values = reuse_values(item.meta)
    assert (values["steps"], values["seed"], values["engine"], values["preset"], values["speed"]) == \
        (20, 42, "svd", "fast", "")  # no engine_requested then: the engine that ran


def test_a_newer_file_with_sections_this_version_does_not_know_is_kept_whole(tmp_path):
    newer = {**FIRST_VERSION, "lighting": {"score": 0.91, "frames": [0.95, 0.91]}, "audio": [{"seed": 1}],
             "settings": {**FIRST_VERSION["settings"], "future_knob": 3}, "classic": None, "fallbacks": None}
    meta = ResultMeta.from_json(newer)
    assert meta.extra == {"lighting": newer["lighting"], "audio": newer["audio"]}
    assert meta.to_json()["lighting"] == newer["lighting"] and meta.fallbacks == ()
    assert [r.meta.seed for r in list_history(_folder(tmp_path, "new", newer).parent)] == [42]


def test_unreadable_or_unfinished_folders_are_left_out(tmp_path):
    _folder(tmp_path, "good", FIRST_VERSION)
    (_folder(tmp_path, "not-json", {}) / "meta.json").write_text("{cut off", encoding="utf-8")
    (_folder(tmp_path, "a-list", {}) / "meta.json").write_text("[1, 2]", encoding="utf-8")
    (_folder(tmp_path, "no-video", FIRST_VERSION) / "video.mp4").unlink()
    _folder(tmp_path, ".svdapp-tmp-x", FIRST_VERSION)
    assert [r.folder.name for r in list_history(tmp_path)] == ["good"]
