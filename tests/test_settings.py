"""Token lookup order, .env support, masking, saving with mode 0600."""

import os
import stat

import pytest

from svdapp.settings import CACHED_LOGIN, DEFAULT_MODEL, load_settings, mask_token, save_token

TOKEN_VARS = ("HUGGINGFACE_HUB_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


@pytest.fixture
def clean(tmp_path, monkeypatch):
    for name in TOKEN_VARS + ("HF_TOKEN_PATH", "SVDAPP_MODEL", "SVDAPP_ENV_FILE", "SVDAPP_OUTPUTS", "SVDAPP_REVISION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_no_token_anywhere(clean):
    s = load_settings()
    assert s.token is None and s.token_source is None
    assert s.model == DEFAULT_MODEL


@pytest.mark.parametrize("name", TOKEN_VARS)
def test_each_variable_name_is_read(clean, monkeypatch, name):
    monkeypatch.setenv(name, "hf_fromenv1234")
    s = load_settings()
    assert s.token == "hf_fromenv1234" and s.token_source == name


def test_guide_name_wins_over_hf_names(clean, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_second0000")
    monkeypatch.setenv("HUGGINGFACE_HUB_TOKEN", "hf_first00000")
    assert load_settings().token == "hf_first00000"


def test_dotenv_is_read_and_environment_wins(clean, monkeypatch):
    (clean / ".env").write_text("HUGGINGFACE_HUB_TOKEN=hf_dotenv9999\nSVDAPP_MODEL=/models/svd\n")
    s = load_settings()
    assert (s.token, s.token_source, s.model) == ("hf_dotenv9999", ".env: HUGGINGFACE_HUB_TOKEN", "/models/svd")
    monkeypatch.setenv("HUGGINGFACE_HUB_TOKEN", "hf_environ777")
    assert load_settings().token == "hf_environ777"


def test_cached_login_is_the_last_resort(clean):
    (clean / "hf").mkdir()
    (clean / "hf" / "token").write_text("hf_cachedlogin42\n")
    s = load_settings()
    assert s.token == "hf_cachedlogin42" and s.token_source == CACHED_LOGIN


@pytest.mark.parametrize("token,masked", [("hf_abcdefghijklmnopa1b2", "hf_…a1b2"), (None, "(none)"),
                                          ("hf_abc", "hf_…"), ("plainsecretvalue", "…alue")])
def test_mask_shows_only_prefix_and_last_four(token, masked):
    assert mask_token(token) == masked
    if token and len(token) > 8:
        assert token[3:-4] not in mask_token(token)


def test_save_token_writes_0600_and_keeps_other_lines(clean):
    env = clean / ".env"
    env.write_text("SVDAPP_MODEL=/x\nHF_TOKEN=hf_old\n")
    save_token("hf_newtoken1234", env)
    text = env.read_text()
    assert "HUGGINGFACE_HUB_TOKEN=hf_newtoken1234" in text and "SVDAPP_MODEL=/x" in text and "hf_old" not in text
    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600
    assert load_settings().token == "hf_newtoken1234"
