"""Hub faults against a fake Hub on a loopback port: the real huggingface_hub code runs.

Every fault a shop owner can meet (gated repo, bad token, typo in the model id, Hub down,
no network, a download cut off, a full disk) must end as one message plus its fix, and a
retry after the fault is gone must succeed. ``HF_HUB_OFFLINE`` is unset here only; the
Hub is ``tests/fakehub.py`` on 127.0.0.1 (``HF_ENDPOINT``), nothing leaves the machine.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from .conftest import TINY_OVERRIDES, TOKEN_VARS, run_cli
from .fakehub import USER, FakeHub, model_repo_files
from svdapp import hub as svdhub
from svdapp.errors import GatedRepoAccessError, HubError, SvdAppError
from svdapp.settings import DEFAULT_MODEL, Settings

GOOD = "hf_GoodTokenForTestsOnly0123456789abcd"  # the fake Hub knows these two
OTHER = "hf_OtherAccountToken9876543210zyxwvu"
REVOKED = "hf_RevokedTokenNobodyKnows000000aaaa"
UNET = "unet/diffusion_pytorch_model.fp16.safetensors"
CHUNK = 64 * 1024  # download chunk in-process (the client's default is 10 MB, far above the tiny files)


class _NoSleep:
    """huggingface_hub's retry waits (1 s per resume, 1-8 s backoff) without the waiting."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture(scope="module")
def fake_hub(tiny_model):
    hub = FakeHub(DEFAULT_MODEL, model_repo_files(tiny_model), valid_tokens={GOOD, OTHER}).start()
    yield hub
    hub.stop()


@pytest.fixture
def hub_env(fake_hub, tmp_path, monkeypatch):
    """Point this process (and any CLI it starts) at the fake Hub with an empty cache."""
    import huggingface_hub
    from huggingface_hub import constants, file_download, hf_api
    from huggingface_hub.utils import _http

    fake_hub.reset()
    if fake_hub._server is None:
        fake_hub.start()
    for name in TOKEN_VARS + ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "SVDAPP_MODEL", "SVDAPP_REVISION",
                              "SVDAPP_OUTPUTS", "SVDAPP_ENV_FILE", "HF_TOKEN_PATH", "HF_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.chdir(tmp_path)
    # huggingface_hub reads its environment once, at import: redirect the already-imported module too.
    monkeypatch.setattr(constants, "ENDPOINT", fake_hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        fake_hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", CHUNK)
    monkeypatch.setattr(hf_api.api, "endpoint", fake_hub.url)  # auth_check / whoami use this instance
    sleeper = _NoSleep()
    monkeypatch.setattr(file_download, "time", sleeper)
    monkeypatch.setattr(_http, "time", sleeper)
    assert huggingface_hub.constants.ENDPOINT.startswith("http://127.0.0.1:")
    return fake_hub


def settings(token: str | None = GOOD, model: str = DEFAULT_MODEL, revision: str | None = None) -> Settings:
    return Settings(token=token, token_source="HF_TOKEN" if token else None, model=model, revision=revision)


def assert_complete(folder: Path, hub: FakeHub) -> None:
    assert svdhub.is_complete(folder)
    for name in ("model_index.json", "unet/config.json", UNET, "vae/diffusion_pytorch_model.fp16.safetensors",
                 "image_encoder/model.fp16.safetensors"):
        assert (folder / name).read_bytes() == hub.files[name], name


def assert_one_line(err: HubError, *tokens: str) -> None:
    assert err.message and err.hint
    assert "\n" not in err.message and "\n" not in err.hint
    for t in tokens:
        assert t not in str(err)


# -- success and the allow-list ------------------------------------------------------------

def test_download_fetches_only_what_the_pipeline_loads(hub_env):
    folder = svdhub.ensure_model(settings())
    assert_complete(folder, hub_env)
    requested = hub_env.requested_files()
    assert requested == {p for p in hub_env.files if p == "model_index.json" or
                         (p.count("/") == 1 and (p.endswith(".json") or p.endswith(".fp16.safetensors")))}
    for decoy in ("svd_xt_1_1.safetensors", "unet/diffusion_pytorch_model.safetensors", "README.md"):
        assert decoy not in requested
    assert hub_env.tokens_seen() == {GOOD}  # the token is sent, explicitly, to the Hub only

    # a second run is served from the cache: no file is fetched again, and no Hub is needed
    before = len(hub_env.requests)
    assert svdhub.ensure_model(settings()) == folder
    assert [r for r in hub_env.requests[before:] if "/resolve/" in r.path] == []
    hub_env.stop()
    assert svdhub.ensure_model(settings()) == folder
    assert svdhub.check_access(settings()).ok
    hub_env.start()


def test_downloaded_model_generates(hub_env, product_photo):
    """Download from the (fake) Hub, then generate on the processor, as `svdapp make` would."""
    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest
    result = run_request(GenerationRequest(image=str(product_photo), overrides=TINY_OVERRIDES),
                         settings=Settings(token=GOOD, outputs_dir=Path("outputs")))
    assert result.frames == 4


# -- each fault → message + fix, and a retry after the fault is gone succeeds ---------------

def _gated_no_token(hub):
    hub.gated = True
    return settings(token=None), lambda: hub.granted.add(GOOD), settings()


def _gated_not_granted(hub):
    hub.gated = True
    return settings(token=OTHER), lambda: hub.granted.add(OTHER), settings(token=OTHER)


def _invalid_token(hub):
    return settings(token=REVOKED), lambda: None, settings()


def _repo_typo(hub):
    return settings(model=DEFAULT_MODEL + "-typo"), lambda: None, settings()


def _bad_revision(hub):
    return settings(revision="v9.9"), lambda: None, settings()


def _server_error(hub):
    hub.fail_status = 500
    return settings(), lambda: setattr(hub, "fail_status", None), settings()


def _server_error_on_files(hub):
    hub.fail_status, hub.fail_files_only = 503, True
    return settings(), lambda: setattr(hub, "fail_status", None), settings()


def _fine_grained_403(hub):
    hub.forbidden.add(OTHER)
    return settings(token=OTHER), lambda: hub.forbidden.clear(), settings(token=OTHER)


def _rate_limited(hub):
    hub.fail_status = 429
    return settings(), lambda: setattr(hub, "fail_status", None), settings()


def _refused(hub):
    hub.stop()
    return settings(), hub.start, settings()


FAULTS = {
    # name: (setup, error class, words in the message, words in the fix)
    "gated-no-token": (_gated_no_token, GatedRepoAccessError, ["401 gated", "needs a Hugging Face token"],
                       ["huggingface.co/" + DEFAULT_MODEL, "settings/tokens", "HUGGINGFACE_HUB_TOKEN"]),
    "gated-not-granted": (_gated_not_granted, GatedRepoAccessError, ["401 gated", "not been granted access"],
                          ["Agree and access repository", "huggingface.co/" + DEFAULT_MODEL]),
    "invalid-token": (_invalid_token, HubError, ["rejected", "401 invalid credentials", "hf_…aaaa"],
                      ["Create a new read token", "settings/tokens"]),
    "404-repo": (_repo_typo, HubError, ["not found", DEFAULT_MODEL + "-typo"], ["Check SVDAPP_MODEL"]),
    "404-revision": (_bad_revision, HubError, ["Revision 'v9.9'", "does not exist"], ["SVDAPP_REVISION"]),
    "403-fine-grained": (_fine_grained_403, GatedRepoAccessError, ["403 forbidden", "hf_…xwvu"],
                         ["'read' permission", "huggingface.co/" + DEFAULT_MODEL]),
    "429": (_rate_limited, HubError, ["rate-limiting"], ["Wait a few minutes", "svdapp download"]),
    "500": (_server_error, HubError, ["server error (500)"], ["status.huggingface.co", "retry"]),
    "503-files": (_server_error_on_files, HubError, ["server error (503)"], ["status.huggingface.co", "retry"]),
    "connection-refused": (_refused, HubError, ["could not be reached"],
                           ["internet connection", "retry", "finished files are kept", "HF_HUB_OFFLINE=1"]),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_gives_message_and_fix_then_retry_succeeds(hub_env, fault):
    setup, kind, said, fix = FAULTS[fault]
    bad, clear, good = setup(hub_env)
    with pytest.raises(kind) as caught:
        svdhub.ensure_model(bad)
    err = caught.value
    assert type(err) is kind
    for words in said:
        assert words in err.message, (fault, err.message)
    for words in fix:
        assert words in err.hint, (fault, err.hint)
    assert_one_line(err, GOOD, OTHER, REVOKED)
    assert not list(Path(svdhub.cache_dir()).rglob("*.incomplete"))  # nothing half-written is left

    clear()
    assert_complete(svdhub.ensure_model(good), hub_env)


def test_503_on_files_is_retried_with_backoff_before_giving_up(hub_env):
    """A Hub blip on the file endpoint is retried (exponential backoff) before the message."""
    from huggingface_hub import file_download
    hub_env.fail_status, hub_env.fail_files_only = 503, True
    with pytest.raises(HubError):
        svdhub.ensure_model(settings())
    assert len(file_download.time.slept) >= 3  # the client backed off and retried, then we explained


# -- an interrupted download ----------------------------------------------------------------

def test_download_cut_off_half_way_resumes_with_a_range_request(hub_env):
    size = len(hub_env.files[UNET])
    cut = size // 2
    hub_env.cut[UNET] = (cut, 1)  # the connection drops once, half way through the UNet weights

    folder = svdhub.ensure_model(settings())

    assert_complete(folder, hub_env)
    gets = hub_env.gets(UNET)
    assert [g.range is None for g in gets] == [True, False], gets
    resumed_at = int(gets[1].range.removeprefix("bytes=").rstrip("-"))
    assert cut - CHUNK < resumed_at <= cut  # what had arrived (whole chunks) was kept
    assert hub_env.bytes_sent[UNET] == cut + (size - resumed_at)  # not cut + size: no restart from 0


def test_download_that_keeps_failing_says_retry_and_keeps_finished_files(hub_env):
    size = len(hub_env.files[UNET])
    hub_env.cut[UNET] = (size // 2, 99)  # the line drops at the same byte every time

    with pytest.raises(HubError) as caught:
        svdhub.ensure_model(settings())
    assert "could not be reached" in caught.value.message
    assert "finished files are kept" in caught.value.hint
    assert_one_line(caught.value, GOOD)
    assert not list(Path(svdhub.cache_dir()).rglob("*.incomplete"))
    assert svdhub.local_folder(settings()) is None  # a partial snapshot is never taken for a model

    done_before = {p: len(hub_env.gets(p)) for p in hub_env.files if p != UNET}
    hub_env.cut.clear()
    folder = svdhub.ensure_model(settings())
    assert_complete(folder, hub_env)
    # files that finished in the first attempt are not downloaded again
    assert {p: len(hub_env.gets(p)) for p in done_before} == done_before


# -- disk full while downloading ---------------------------------------------------------

def test_too_little_disk_is_refused_before_downloading(hub_env, monkeypatch):
    import shutil
    from collections import namedtuple
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100 * 2**30, 99 * 2**30, 1 * 2**30))
    with pytest.raises(HubError) as caught:
        svdhub.ensure_model(settings())
    assert "Only 1.0 GB free" in caught.value.message and "HF_HOME" in caught.value.hint
    assert not hub_env.requested_files()


def test_disk_filling_up_mid_download_says_free_space(hub_env, monkeypatch):
    from huggingface_hub import file_download
    real = file_download.http_get

    def full_disk(url, temp_file, **kw):
        if url.endswith(UNET):
            temp_file.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(url, temp_file, **kw)

    monkeypatch.setattr(file_download, "http_get", full_disk)
    with pytest.raises(HubError) as caught:
        svdhub.ensure_model(settings())
    assert "disk filled up" in caught.value.message
    assert "Free at least" in caught.value.hint and "HF_HOME" in caught.value.hint
    assert not list(Path(svdhub.cache_dir()).rglob("*.incomplete"))
    monkeypatch.setattr(file_download, "http_get", real)
    assert_complete(svdhub.ensure_model(settings()), hub_env)


def test_cache_folder_not_writable_says_set_hf_home(hub_env, monkeypatch, tmp_path):
    from huggingface_hub import constants
    (tmp_path / "blocker").write_text("a file where the cache folder should be")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "blocker" / "hub"))
    with pytest.raises(HubError) as caught:
        svdhub.ensure_model(settings())
    assert "cannot be written" in caught.value.message and "Set HF_HOME" in caught.value.hint
    assert_one_line(caught.value, GOOD)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    assert_complete(svdhub.ensure_model(settings()), hub_env)


# -- check_access (auth_check) and validate_token (whoami) ---------------------------------

def test_check_access_reports_each_fault(hub_env):
    ok = svdhub.check_access(settings())
    assert ok.ok and "access to" in ok.detail and "svdapp download" in ok.hint

    hub_env.gated = True
    no = svdhub.check_access(settings())
    assert not no.ok and "401 gated" in no.detail and "Agree and access repository" in no.hint
    hub_env.granted.add(GOOD)
    assert svdhub.check_access(settings()).ok

    bad = svdhub.check_access(settings(token=REVOKED))
    assert not bad.ok and "rejected" in bad.detail and REVOKED not in bad.detail + bad.hint

    hub_env.fail_status = 500
    down = svdhub.check_access(settings())
    assert not down.ok and "server error (500)" in down.detail
    hub_env.fail_status = None

    hub_env.stop()
    off = svdhub.check_access(settings())
    assert not off.ok and "could not be reached" in off.detail
    hub_env.start()
    assert svdhub.check_access(settings()).ok
    assert [r.path for r in hub_env.requests if "auth-check" in r.path]  # the real endpoint was asked


def test_validate_token(hub_env):
    assert svdhub.validate_token(f"  {GOOD}\n", settings(token=None)) == USER
    with pytest.raises(HubError) as caught:
        svdhub.validate_token(REVOKED, settings(token=None))
    assert "rejected" in caught.value.message and "hf_…aaaa" in caught.value.message
    assert_one_line(caught.value, REVOKED)
    with pytest.raises(HubError) as caught:
        svdhub.validate_token("my password", settings(token=None))
    assert "start with 'hf_'" in caught.value.message
    hub_env.stop()
    with pytest.raises(HubError) as caught:
        svdhub.validate_token(GOOD, settings(token=None))
    assert "could not be reached" in caught.value.message
    hub_env.start()


# -- the CLI a user types ------------------------------------------------------------------

def _cli_env(hub: FakeHub, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TOKEN_VARS + ("HF_HUB_OFFLINE",)}
    env.update(HF_ENDPOINT=hub.url, PYTHONUNBUFFERED="1", **extra)
    return env


def assert_clean_failure(proc, *secrets: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(("error:", "  fix:"))]
    assert [ln.split(":")[0].strip() for ln in lines] == ["error", "fix"], proc.stderr
    for s in secrets:
        assert s not in proc.stdout + proc.stderr


def test_cli_download_gated_then_granted(hub_env, tmp_path):
    hub_env.gated = True
    proc = run_cli(["download"], _cli_env(hub_env), tmp_path, timeout=60)
    assert_clean_failure(proc)
    assert "401 gated" in proc.stderr and "huggingface.co/" + DEFAULT_MODEL in proc.stderr

    hub_env.granted.add(GOOD)
    (tmp_path / ".env").write_text(f"HUGGINGFACE_HUB_TOKEN={GOOD}\n")
    proc = run_cli(["download"], _cli_env(hub_env), tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "is ready in" in proc.stdout and "hf_…abcd" in proc.stdout
    assert GOOD not in proc.stdout + proc.stderr
    assert svdhub.is_complete(Path(proc.stdout.split(" is ready in ")[1].strip()))


def test_cli_download_invalid_token_and_no_network(hub_env, tmp_path):
    proc = run_cli(["download"], _cli_env(hub_env, HF_TOKEN=REVOKED), tmp_path, timeout=60)
    assert_clean_failure(proc, REVOKED)
    assert "rejected (401 invalid credentials)" in proc.stderr

    hub_env.stop()
    proc = run_cli(["download"], _cli_env(hub_env, HF_TOKEN=GOOD), tmp_path, timeout=60)
    assert_clean_failure(proc, GOOD)
    assert "could not be reached" in proc.stderr and "HF_HUB_OFFLINE=1" in proc.stderr
    hub_env.start()


def test_cli_check_shows_the_hub_fault_with_its_fix(hub_env, tmp_path):
    hub_env.gated = True
    proc = run_cli(["check"], _cli_env(hub_env, HF_TOKEN=OTHER), tmp_path, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if "Model access" in ln)
    assert line.startswith("✗") and "not been granted access" in line
    assert "Agree and access repository" in proc.stdout
    assert OTHER not in proc.stdout + proc.stderr
    assert "hf_…" in proc.stdout  # the token line shows it masked
