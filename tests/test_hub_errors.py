"""Hub failures → one message and one fix, built from huggingface_hub's own exception objects.

Responses are turned into exceptions by huggingface_hub's ``hf_raise_for_status`` (the code
path a real download takes), then wrapped the way diffusers wraps them.
"""

import errno

import pytest
from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
from huggingface_hub.utils import _http, hf_raise_for_status

from svdapp.errors import GatedRepoAccessError, HubError
from svdapp.hub import classify, ensure_model
from svdapp.settings import DEFAULT_MODEL, Settings

URL = f"https://huggingface.co/api/models/{DEFAULT_MODEL}/revision/main"
TOKEN = "hf_secretsecretsecretXY12"
# The HTTP library of the installed huggingface_hub: httpx2 from 2.x on, httpx before.
HTTP = getattr(_http, "httpx2", None) or _http.httpx


def hub_error(status: int, headers: dict | None = None, url: str = URL, body: bytes = b"{}") -> Exception:
    response = HTTP.Response(status, request=HTTP.Request("GET", url), headers=headers or {}, content=body)
    with pytest.raises(Exception) as info:
        hf_raise_for_status(response)
    return info.value


def wrapped(exc: Exception) -> OSError:
    """diffusers re-raises hub errors as OSError/EnvironmentError from the original."""
    try:
        try:
            raise exc
        except Exception as inner:
            raise OSError("Cannot load model: it is not a valid model folder") from inner
    except OSError as outer:
        return outer


@pytest.mark.parametrize("token", [TOKEN, None])
def test_gated_401_says_request_access_and_set_token(token):
    err = classify(wrapped(hub_error(401, {"X-Error-Code": "GatedRepo"})), Settings(token=token))
    assert isinstance(err, GatedRepoAccessError)
    assert "401 gated" in err.message
    assert f"huggingface.co/{DEFAULT_MODEL}" in err.hint and "HUGGINGFACE_HUB_TOKEN" in err.hint


def test_repo_not_found_without_token_is_reported_as_gated_needing_token():
    err = classify(hub_error(401, {"X-Error-Code": "RepoNotFound"}), Settings(token=None))
    assert isinstance(err, GatedRepoAccessError) and "none was found" in err.message
    assert "settings/tokens" in err.hint


def test_invalid_token_says_regenerate_and_masks_it():
    exc = hub_error(401, {"X-Error-Message": "Invalid credentials in Authorization header"},
                    url="https://huggingface.co/api/whoami-v2")
    err = classify(exc, Settings(token=TOKEN))
    assert "rejected" in err.message and "settings/tokens" in err.hint
    assert TOKEN not in str(err) and "…XY12" in err.message


def test_not_found_with_token():
    err = classify(hub_error(404, {"X-Error-Code": "RepoNotFound"}), Settings(token=TOKEN, model="nobody/nothing"))
    assert "nobody/nothing" in err.message and "SVDAPP_MODEL" in err.hint


def test_server_error_points_to_status_page():
    err = classify(hub_error(503), Settings(token=TOKEN))
    assert "503" in err.message and "status.huggingface.co" in err.hint


def test_connection_failure_says_how_to_run_offline():
    cause = HTTP.ConnectError("[Errno 111] Connection refused")
    try:
        try:
            raise cause
        except HTTP.ConnectError as inner:
            raise LocalEntryNotFoundError("An error happened while trying to locate the files") from inner
    except LocalEntryNotFoundError as exc:
        err = classify(exc, Settings(token=TOKEN))
    assert isinstance(err, HubError) and "Download failed" in err.message
    assert "HF_HUB_OFFLINE=1" in err.hint and "local folder" in err.hint


def test_offline_mode_without_cache():
    err = classify(OfflineModeIsEnabled("offline"), Settings())
    assert "HF_HUB_OFFLINE" in err.message and "svdapp download" in err.hint


def test_disk_full_during_download():
    err = classify(wrapped(OSError(errno.ENOSPC, "No space left on device")), Settings())
    assert "disk filled up" in err.message and "HF_HOME" in err.hint


@pytest.mark.parametrize("model", [".bench-cache/svd-xt-random", "/srv/models/svd", "~/svd", "C:\\models\\svd",
                                   "models/svd/unet"])
def test_a_model_folder_that_is_not_there_is_named_as_a_folder(model, tmp_path):
    with pytest.raises(HubError) as err:
        ensure_model(Settings(model=model, outputs_dir=tmp_path))
    assert f"SVDAPP_MODEL is '{model}': there is no such folder" in err.value.message
    assert "unset SVDAPP_MODEL" in err.value.hint
