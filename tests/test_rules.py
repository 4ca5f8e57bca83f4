"""Rules live in the core, so every shell behaves the same: which engine a request gets, and an
error's suggested fix, which each shell words its own way."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from svdapp import cli
from svdapp.errors import InputError, Suggestion
from svdapp.request import SVD_ONLY, EngineChoice, GenerationRequest, engine_asked, resolve_engine
from svdapp.settings import load_settings
from svdapp.vocab import Engine

from .fakeengine import fake_engine  # noqa: F401  (fixture)

# One value each for the settings only SVD reads, as a user would give them.
SVD_SETTINGS = {"steps": 20, "motion": 180, "noise_aug": 0.1, "cond_fps": 7, "decode_chunk": 2, "memory": "low",
                "speed": "turbo"}


@pytest.fixture
def no_gpu(app_env, monkeypatch):
    """A machine with the model on disk but no CUDA GPU, wherever the suite runs."""
    import svdapp.request
    monkeypatch.setattr(svdapp.request, "_has_cuda", lambda: False)


@pytest.fixture
def with_gpu(app_env, monkeypatch):
    """A machine with the model on disk and a CUDA GPU, wherever the suite runs: the one function
    that tells the core whether there is a GPU says yes (nothing here runs on a GPU)."""
    import svdapp.request
    monkeypatch.setattr(svdapp.request, "_has_cuda", lambda: True)


def _shell_requests(photo, setting: str, value) -> dict[str, GenerationRequest]:
    """The request each shell builds when a user gives ``setting`` and leaves the engine on auto."""
    from svdapp.batch.catalog import Product
    from svdapp.batch.tasks import BatchOptions, build_task
    from svdapp.ui.forms import changed_fields, make_request, preset_fields

    flag = f"--{setting.replace('_', '-')}"
    args = cli.build_parser().parse_args(["make", "--image", str(photo), flag, str(value)])
    form = {**preset_fields("standard"), setting: value, "seed": None}
    batch = BatchOptions(input=photo.parent, out_dir=photo.parent / "out", overrides={setting: value})
    return {"cli": cli.request_from_args(args),
            "api": make_request(str(photo), "standard", {setting: value}),
            "page": make_request(str(photo), "standard", changed_fields(form, "standard")),
            "batch": build_task(Product(sku="sku", image=photo), batch).request}


def test_svd_only_settings_are_the_rule_everywhere():
    assert set(SVD_SETTINGS) == set(SVD_ONLY)
    assert engine_asked("auto", {"steps": 30}) == "svd"
    assert engine_asked("auto", {"frames": 14, "fps": 10, "width": 512, "seed": 3, "steps": None}) == "auto"
    assert engine_asked("classic", {"steps": 30}) == "classic"  # a named engine is never overruled


@pytest.mark.parametrize("setting", sorted(SVD_SETTINGS))
def test_an_svd_only_setting_means_svd_in_every_shell(no_gpu, product_photo, setting):
    settings = load_settings()
    requests = _shell_requests(product_photo, setting, SVD_SETTINGS[setting])
    assert {shell: resolve_engine(r, settings).engine for shell, r in requests.items()} == \
        {"cli": "svd", "api": "svd", "page": "svd", "batch": "svd"}


def test_without_svd_only_settings_every_shell_falls_back_to_classic(no_gpu, product_photo):
    settings = load_settings()
    for shell, request in _shell_requests(product_photo, "frames", 14).items():
        choice = resolve_engine(request, settings)
        assert choice.engine == "classic" and "no CUDA GPU" in choice.note, shell


def test_with_a_gpu_auto_means_svd_in_every_shell(with_gpu, product_photo):
    settings = load_settings()
    for shell, request in _shell_requests(product_photo, "frames", 14).items():
        assert resolve_engine(request, settings) == EngineChoice(Engine.SVD), shell


def test_with_a_gpu_the_cli_runs_svd_on_auto_without_a_note(with_gpu, fake_engine, tmp_path, product_photo, capsys):
    code = cli.main(["make", "--image", str(product_photo), "--width", "128", "--height", "64", "--frames", "4",
                     "--out", "clip.mp4"])
    err = capsys.readouterr().err
    assert code == 0, err
    meta = json.loads((tmp_path / "clip.json").read_text())
    assert (meta["engine"], meta["engine_requested"], meta["fallbacks"]) == ("svd", "auto", [])
    assert len(fake_engine.calls) == 1 and "note:" not in err


GIB = 2**30


@pytest.mark.parametrize("free_gib,preset,memory,plan", [
    (40, "standard", None, "high"), (14, "standard", None, "normal"), (8, "standard", None, "low"),
    (5, "standard", None, "minimal"), (12, "quality", None, "low"),  # 50 frames need more
    (40, "lowmem-portrait", None, "low"),  # the preset's own plan, even on a big card
    (40, "standard", "minimal", "minimal"), (40, "standard", "cpu", "cpu"),  # the user's choice wins
])
def test_with_a_gpu_the_engine_starts_on_the_plan_that_fits_its_free_memory(monkeypatch, free_gib, preset, memory,
                                                                             plan):
    from svdapp import engine
    from svdapp.engine.device import DeviceInfo
    from svdapp.presets import resolve

    card = DeviceInfo("2", True, "12.8", "NVIDIA H200", (9, 0), 141 * GIB, int(free_gib * GIB))
    monkeypatch.setattr(engine, "device_info", lambda: card)
    started = []
    monkeypatch.setattr(engine, "run", lambda cache, folder, image, params, chosen, *rest: started.append(chosen))
    params = resolve(preset, {"memory": memory})
    engine.generate("model", None, params, 1)
    assert [p.name for p in started] == [plan]


def test_has_cuda_asks_torch_only_when_an_nvidia_driver_is_there(monkeypatch):
    import svdapp.engine.device
    import svdapp.request as request
    from svdapp.engine.device import DeviceInfo

    driver = {"present": False}
    monkeypatch.setattr(request, "os", SimpleNamespace(path=SimpleNamespace(exists=lambda path: driver["present"])))
    monkeypatch.setattr(request, "sys", SimpleNamespace(platform="linux"))
    with monkeypatch.context() as no_torch:
        no_torch.setitem(sys.modules, "svdapp.engine.device", None)  # importing it would fail the test
        assert request._has_cuda() is False
    driver["present"] = True
    for cuda in (True, False):
        monkeypatch.setattr(svdapp.engine.device, "device_info", lambda: DeviceInfo("2", cuda, "12.8"))
        assert request._has_cuda() is cuda


def test_a_csv_motion_number_means_svd_and_a_word_the_classic_camera(no_gpu, tmp_path, product_photo):
    from svdapp.batch.catalog import load_catalog
    from svdapp.batch.tasks import BatchOptions, build_task

    catalog = tmp_path / "catalog.csv"
    catalog.write_text(f"sku,image,motion\nbucket,{product_photo},200\nmove,{product_photo},pan-left\n")
    options = BatchOptions(input=catalog, out_dir=tmp_path / "out")
    bucket, move = (build_task(p, options).request for p in load_catalog(catalog))
    assert resolve_engine(bucket, load_settings()).engine == "svd"
    assert resolve_engine(move, load_settings()).engine == "classic" and move.camera == "pan-left"


def test_the_cli_runs_svd_for_an_svd_only_flag_and_records_what_was_asked(no_gpu, fake_engine, tmp_path,
                                                                          product_photo, capsys):
    code = cli.main(["make", "--image", str(product_photo), "--steps", "2", "--width", "128", "--height", "64",
                     "--frames", "4", "--out", "clip.mp4"])
    assert code == 0, capsys.readouterr().err
    meta = json.loads((tmp_path / "clip.json").read_text())
    assert (meta["engine"], meta["engine_requested"]) == ("svd", "auto") and len(fake_engine.calls) == 1


# --- a suggested fix, in each shell's words ---------------------------------------------------

def test_a_suggestion_is_a_flag_in_the_cli_a_control_on_the_page_and_a_parameter_in_the_api(app_env, tmp_path,
                                                                                             capsys):
    from svdapp import presets
    from svdapp.testimage import write_test_product
    from svdapp.ui.api import parameter_words
    from svdapp.ui.views import error_text

    with pytest.raises(InputError) as caught:  # the same error every shell gets from the core
        presets.resolve("fast", {"frames": 0})
    err = caught.value
    assert err.suggestions == (Suggestion("frames", 25),)
    assert err.hint == "Use --frames 25 (the model's native length) or 14–50."
    assert error_text(err) == ("Frames must be 2–100, got 0. — "
                               "Use Advanced → Frames = 25 (the model's native length) or 14–50.")
    assert error_text(err, parameter_words).endswith("Use frames=25 (the model's native length) or 14–50.")

    photo = write_test_product(tmp_path / "p.png", 96, 64)
    assert cli.main(["make", "--image", str(photo), "--frames", "0"]) == 2
    assert "  fix: Use --frames 25 (the model's native length) or 14–50." in capsys.readouterr().err


def test_the_page_names_a_chosen_engine_by_its_label():
    from svdapp.errors import SvdAppError
    from svdapp.ui.views import error_text

    err = SvdAppError("SVD is off.", "Pick {fix}.", Suggestion("engine", "svd"), Suggestion("memory", "cpu"))
    assert err.hint == "Pick --engine svd --memory cpu."
    assert error_text(err) == ("SVD is off. — Pick Engine & finishing → Engine = Stable Video Diffusion "
                               "img2vid-XT 1.1, Advanced → Memory plan = cpu.")


def test_the_no_gpu_error_suggests_the_cpu_plan_in_the_page_words(app_env, tiny_model, product_photo,
                                                                 monkeypatch):
    from svdapp import engine
    from svdapp.engine.device import DeviceInfo
    from svdapp.errors import SvdAppError
    from svdapp.imageprep import fit, load_image
    from svdapp.presets import resolve
    from svdapp.ui.views import error_text

    # a machine without a GPU, also where the suite runs on one: the engine asks device_info alone
    monkeypatch.setattr(engine, "device_info", lambda: DeviceInfo("2", False, None))
    params = resolve("fast", {"width": 128, "height": 64, "frames": 4, "steps": 1})
    with pytest.raises(SvdAppError) as caught:
        engine.generate(str(tiny_model), fit(load_image(product_photo), 128, 64), params, 1)
    assert "--memory cpu" in caught.value.hint
    assert "pass Advanced → Memory plan = cpu to run on the processor anyway" in error_text(caught.value)
