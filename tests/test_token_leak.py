"""The Hugging Face token never leaks: not in stdout/stderr, errors, meta.json or any file written.

A token is set both in the environment and in `.env` (two different secrets, so either one
leaking is caught), then the user's commands run for real: `svdapp make` with the tiny model
(a real generation), `svdapp download`, `svdapp check --offline`, a bad photo, a failing hub
access and an `--out` run. Only the masked form (``hf_…`` + last four) may appear. (The hub
fault messages are checked for the token in test_hub_faults.py.)
"""

from __future__ import annotations

import json

import pytest

from svdapp import hub as svdhub
from svdapp.errors import InputError
from svdapp.jobs import run_request
from svdapp.request import GenerationRequest
from svdapp.settings import load_settings, save_token
from svdapp.video import probe

from .conftest import TINY_ARGS, TINY_OVERRIDES, run_cli
from .fakeengine import fake_engine  # noqa: F401  (fixture)

ENV_TOKEN = "hf_EnvSecretDoNotLeak7Qm2Zx9Lp4Rt8Vw1"
DOTENV_TOKEN = "hf_DotenvSecretDoNotLeak3Kc6Yb0Nh5Sg2"
SECRETS = (ENV_TOKEN, DOTENV_TOKEN, ENV_TOKEN[3:-4], DOTENV_TOKEN[3:-4])  # whole, and the hidden middle


def assert_no_secret(text: str, where: str) -> None:
    for s in SECRETS:
        assert s not in text, f"token leaked in {where}"


def assert_no_secret_in_files(folder) -> int:
    n = 0
    for path in folder.rglob("*"):
        if path.is_file() and path.name != ".env":
            data = path.read_bytes()
            for s in SECRETS:
                assert s.encode() not in data, f"token leaked in {path}"
            n += 1
    return n


def test_cli_runs_never_show_the_token(app_env, tmp_path, product_photo):
    """Also the real-model case of test_bad_inputs.py: the guide's Korean file name, with spaces."""
    (tmp_path / ".env").write_text(f"HUGGINGFACE_HUB_TOKEN={DOTENV_TOKEN}\nSVDAPP_SEED_NOTE=x\n")
    env = {**app_env, "HF_TOKEN": ENV_TOKEN}
    photo = tmp_path / "내 사진" / "제품 사진 1.jpg"
    photo.parent.mkdir()
    photo.write_bytes(product_photo.read_bytes())
    runs = {
        "make": ["make", "--image", str(photo), *TINY_ARGS, "--seed", "5"],
        "download": ["download"],
        "check": ["check", "--offline"],
        "bad photo": ["make", "--image", ".env", *TINY_ARGS],
    }
    for name, args in runs.items():
        proc = run_cli(args, env, tmp_path)
        assert_no_secret(proc.stdout + proc.stderr, name)
        assert "Traceback" not in proc.stderr, proc.stderr
        if name in ("download", "check"):
            assert "hf_…" in proc.stdout  # the token is shown, masked, so the user knows which one is used
        if name.startswith("make"):
            assert proc.returncode == 0, proc.stderr

    (meta_path,) = (tmp_path / "outputs").glob("*/meta.json")
    assert meta_path.parent.name.endswith("-제품-사진-1-5")
    info = probe(meta_path.parent / "video.mp4")
    assert (info.codec, info.pix_fmt, info.width, info.height, info.frames) == ("h264", "yuv420p", 128, 64, 4)
    meta = json.loads(meta_path.read_text())
    assert meta["input"]["name"] == "제품 사진 1.jpg"
    assert "token" not in json.dumps(meta).lower()
    assert meta["seed"] == 5
    assert assert_no_secret_in_files(tmp_path) >= 3  # video.mp4, input.png, meta.json (+ anything else)


def test_errors_and_settings_never_show_the_token(app_env, fake_engine, tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(f"HUGGINGFACE_HUB_TOKEN={DOTENV_TOKEN}\n")
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    settings = load_settings()
    assert settings.token == DOTENV_TOKEN  # the guide's variable wins, from .env
    assert_no_secret(repr(settings), "repr(Settings)")
    assert_no_secret(settings.masked_token, "masked token")

    # a hub model that is not in the (offline) cache: the error names the model, not the token.
    # huggingface_hub reads HF_HUB_OFFLINE at import, which may predate app_env: force it here too.
    from huggingface_hub import constants
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("SVDAPP_MODEL", "stabilityai/stable-video-diffusion-img2vid-xt-1-1")
    photo = tmp_path / "p.png"
    from PIL import Image
    Image.new("RGB", (200, 120), "white").save(photo)
    try:
        run_request(GenerationRequest(image=str(photo), overrides=TINY_OVERRIDES))
    except Exception as exc:  # noqa: BLE001  (any error type: only its text matters here)
        assert_no_secret(str(exc) + repr(exc), "run_request error")
    else:
        raise AssertionError("an offline hub model without cache must fail")
    access = svdhub.check_access(load_settings())
    assert_no_secret(access.detail + access.hint, "check_access")
    # the --out sidecar is the same meta dict, written beside the video
    monkeypatch.setenv("SVDAPP_MODEL", app_env["SVDAPP_MODEL"])
    out = tmp_path / "shop" / "clip.mp4"
    result = run_request(GenerationRequest(image=str(photo), overrides=TINY_OVERRIDES, out=out))
    assert result.meta_path.name == "clip.json"
    assert assert_no_secret_in_files(tmp_path) >= 3


def test_a_pasted_line_break_cannot_write_extra_lines_into_env(tmp_path):
    env = tmp_path / ".env"
    env.write_text("SVDAPP_OUTPUTS=videos\n")
    with pytest.raises(InputError) as caught:
        save_token(f"{ENV_TOKEN}\nSVDAPP_MODEL=/tmp/evil", env)
    assert "line breaks" in caught.value.message and ENV_TOKEN not in str(caught.value)
    assert env.read_text() == "SVDAPP_OUTPUTS=videos\n"
    save_token(f"  {ENV_TOKEN}\n", env)  # surrounding whitespace of a paste is fine
    assert env.read_text() == f"SVDAPP_OUTPUTS=videos\nHUGGINGFACE_HUB_TOKEN={ENV_TOKEN}\n"
    assert env.stat().st_mode & 0o777 == 0o600


def test_notepad_env_files(tmp_path, monkeypatch):
    for name in ("HUGGINGFACE_HUB_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    bom = tmp_path / "bom.env"
    bom.write_bytes(f"\ufeffHUGGINGFACE_HUB_TOKEN={DOTENV_TOKEN}\n".encode())
    assert load_settings(bom).token == DOTENV_TOKEN
    save_token(ENV_TOKEN, bom)  # replaces the BOM-prefixed line instead of keeping the old token
    assert DOTENV_TOKEN not in bom.read_text(encoding="utf-8")
    assert load_settings(bom).token == ENV_TOKEN

    utf16 = tmp_path / "utf16.env"
    utf16.write_text(f"HF_TOKEN={DOTENV_TOKEN}\n", encoding="utf-16")
    with pytest.raises(InputError) as caught:
        load_settings(utf16)
    assert "cannot be read as text" in caught.value.message and "UTF-8" in caught.value.hint
    assert_no_secret(str(caught.value), "unreadable .env error")


def test_the_web_token_field_never_echoes_the_token(app_env, tmp_path, tiny_model):
    """D1's Validate and Save, called as the page calls them: no reply and no line of the server's log
    holds the token (only its masked form); Save empties the field and keeps the token in .env alone."""
    from .app_server import page_event, running_app, server_log
    from .fakehub import USER, FakeHub, model_repo_files

    hub = FakeHub(svdhub.DEFAULT_MODEL, model_repo_files(tiny_model), valid_tokens={ENV_TOKEN}).start()
    env = {**{k: v for k, v in app_env.items() if k != "HF_HUB_OFFLINE"}, "HF_ENDPOINT": hub.url}
    try:
        with running_app(env, tmp_path) as url:
            replies = {
                "valid": page_event(url, "validate_token_ui", f" {ENV_TOKEN}\n"),
                "rejected": page_event(url, "validate_token_ui", DOTENV_TOKEN),
                "no hf_": page_event(url, "validate_token_ui", ENV_TOKEN[3:]),
                "two lines": page_event(url, "save_token_ui", f"{DOTENV_TOKEN}\nSVDAPP_MODEL=/tmp/evil"),
                "saved": page_event(url, "save_token_ui", f" {ENV_TOKEN}\n"),
            }
    finally:
        hub.stop()
    for name, (raw, _) in replies.items():
        assert_no_secret(raw, f"the reply to {name}")
    assert_no_secret(server_log(tmp_path), "the server log")
    shown = {name: message["output"]["data"] for name, (_, message) in replies.items()}
    masked = f"hf_…{ENV_TOKEN[-4:]}"
    assert shown["valid"] == [f"✓ Token {masked} belongs to **{USER}**. Press *Save to .env* to keep it."]
    assert "rejected" in shown["rejected"][0] and f"hf_…{DOTENV_TOKEN[-4:]}" in shown["rejected"][0]
    assert "start with 'hf_'" in shown["no hf_"][0]
    assert shown["two lines"][0] == "" and "line breaks" in shown["two lines"][1]  # field emptied, reason said
    assert shown["saved"] == ["", f"✓ Saved {masked} to `.env` (readable only by you)."]
    assert (tmp_path / ".env").read_text() == f"HUGGINGFACE_HUB_TOKEN={ENV_TOKEN}\n"
