"""Everything that talks to the Hugging Face Hub: access checks, download, error mapping.

The token is always passed explicitly (huggingface_hub does not read the guide's
``HUGGINGFACE_HUB_TOKEN``). Only what the pipeline loads is downloaded: the JSON configs
and the fp16 safetensors (the repo root also holds ~9.5 GB of single-file checkpoints).
Every hub failure becomes an SvdAppError with the exact fix.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import GatedRepoAccessError, HubError, SvdAppError
from .settings import DEFAULT_MODEL, Settings

ALLOW_PATTERNS = ["model_index.json", "*/*.json", "*/*.fp16.safetensors"]
DOWNLOAD_GIB = 4.6  # unet 3.05 + image encoder 1.26 + vae 0.2 GB in fp16, plus headroom
_UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR)  # the cache folder, not the network
REQUIRED = ("model_index.json", "unet/config.json", "vae/config.json", "image_encoder/config.json")
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")  # "name" or "owner/name"; a path is not one


def model_page(model: str) -> str:
    return f"https://huggingface.co/{model}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def classify(exc: BaseException, settings: Settings) -> SvdAppError:
    """Map any exception from huggingface_hub or diffusers' loading to message + fix."""
    from huggingface_hub import errors as hf

    model, page = settings.model, model_page(settings.model)
    token_fix = ("put it in .env as HUGGINGFACE_HUB_TOKEN=hf_… (or HF_TOKEN), "
                 "or run `hf auth login`")
    chain = _chain(exc)

    def find(kind):
        return next((e for e in chain if isinstance(e, kind)), None)

    if (e := find(SvdAppError)) is not None:
        return e
    if find(hf.GatedRepoError) is not None and not settings.token:
        return _no_token(model, page, token_fix)
    if find(hf.GatedRepoError) is not None:
        return GatedRepoAccessError(
            f"401 gated repo: the Hugging Face account of token {settings.masked_token} has not been granted "
            f"access to {model}.",
            f"Open {page}, log in, click 'Agree and access repository'; then make sure the token of that "
            f"account is used ({token_fix}).")
    if (e := find(hf.RevisionNotFoundError)) is not None:
        return HubError(f"Revision '{settings.revision}' of {model} does not exist.",
                        "Remove SVDAPP_REVISION or set it to a branch, tag or commit of the model.")
    if (e := find(hf.RepositoryNotFoundError)) is not None:
        if not settings.token:
            return _no_token(model, page, token_fix)
        return HubError(f"Model {model} was not found, or the token {settings.masked_token} cannot see it.",
                        f"Check SVDAPP_MODEL is spelled right and that this token's account has access at {page}.")
    if (e := find(hf.HfHubHTTPError)) is not None:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status == 401:
            return HubError(f"The Hugging Face token {settings.masked_token} was rejected (401 invalid credentials).",
                            "Create a new read token at https://huggingface.co/settings/tokens and "
                            f"{token_fix}.")
        if status == 403:
            return GatedRepoAccessError(
                f"403 forbidden: the token {settings.masked_token} may not read {model}.",
                f"Use a token with 'read' permission (fine-grained tokens need access to gated repos) "
                f"and make sure access was granted at {page}.")
        if status == 404:
            return HubError(f"Model {model} or one of its files was not found (404).",
                            "Check SVDAPP_MODEL, or point it at a local folder with the weights.")
        if status == 429:
            return HubError("The Hugging Face Hub is rate-limiting this machine (429).",
                            "Wait a few minutes and run `svdapp download` again.")
        if status is not None and status >= 500:
            return HubError(f"The Hugging Face Hub had a server error ({status}).",
                            "Check https://status.huggingface.co and retry in a few minutes; files already "
                            "downloaded are kept.")
    if any(getattr(e, "errno", None) == errno.ENOSPC for e in chain):
        return HubError("The disk filled up while downloading the model.",
                        f"Free at least {DOWNLOAD_GIB:.0f} GB in the Hugging Face cache ({cache_dir()}) "
                        "or set HF_HOME to a bigger disk, then retry.")
    unwritable = next((e for e in chain if isinstance(e, OSError) and e.errno in _UNWRITABLE), None)
    if unwritable is not None and not _is_connection_error(chain):  # a firewall's EACCES is a network fault
        return HubError(f"The Hugging Face cache {cache_dir()} cannot be written "
                        f"({unwritable.strerror or unwritable}).",
                        "Set HF_HOME to a folder you can write to, with at least "
                        f"{DOWNLOAD_GIB:.0f} GB free, then run `svdapp download` again.")
    if find(hf.OfflineModeIsEnabled) is not None or (
            find(hf.LocalEntryNotFoundError) is not None and not _is_connection_error(chain)
            and os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true")):  # a refused connection means it went online
        return HubError(f"Offline mode is on (HF_HUB_OFFLINE=1) and {model} is not in the local cache.",
                        "Unset HF_HUB_OFFLINE and run `svdapp download` once, or set SVDAPP_MODEL to a local "
                        "folder that holds the weights.")
    if _is_connection_error(chain) or find(hf.LocalEntryNotFoundError) is not None:
        return HubError(f"Download failed: the Hugging Face Hub could not be reached for {model}.",
                        "Check your internet connection (and proxy), check https://status.huggingface.co, then "
                        "retry — finished files are kept. To run offline, set SVDAPP_MODEL to a local folder "
                        "with the weights and HF_HUB_OFFLINE=1.")
    return HubError(f"Could not get {model}: {type(exc).__name__}: {exc}".splitlines()[0],
                    "Retry `svdapp download`; if it keeps failing, run `svdapp check` and follow its fixes.")


def _no_token(model: str, page: str, token_fix: str) -> GatedRepoAccessError:
    # Without a token the Hub cannot tell "gated" from "does not exist": both come back as 401.
    return GatedRepoAccessError(
        f"401 gated repo: {model} needs a Hugging Face token and none was found.",
        f"Request access at {page}, create a read token at https://huggingface.co/settings/tokens, "
        f"and {token_fix}.")


def _is_connection_error(chain: list[BaseException]) -> bool:
    names = ("ConnectError", "ConnectTimeout", "ReadTimeout", "TimeoutException", "RemoteProtocolError",
             "ReadError", "NetworkError", "ProxyError", "TransportError")
    return any(isinstance(e, (ConnectionError, TimeoutError)) or type(e).__name__ in names for e in chain)


def cache_dir() -> Path:
    from huggingface_hub import constants
    return Path(constants.HF_HUB_CACHE)


def is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED) and any(folder.glob("unet/*.safetensors"))


def local_folder(settings: Settings) -> Path | None:
    """The model as a folder on disk without touching the network, or None."""
    if settings.model_is_local:
        return Path(settings.model).expanduser().resolve()
    from huggingface_hub import snapshot_download
    try:
        path = Path(snapshot_download(settings.model, revision=settings.revision, token=settings.token or False,
                                      allow_patterns=ALLOW_PATTERNS, local_files_only=True))
    except Exception:
        return None
    return path if is_complete(path) else None


def ensure_model(settings: Settings, tqdm_class=None) -> Path:
    """A local folder with the model: the user's folder, the cache, or a fresh download."""
    if settings.model_is_local:
        folder = Path(settings.model).expanduser().resolve()
        if not is_complete(folder):
            raise HubError(f"{folder} does not look like an SVD model folder (model_index.json or unet/ missing).",
                           "Point SVDAPP_MODEL at the folder that holds model_index.json, unet/, vae/, "
                           "image_encoder/.")
        return folder
    if not HUB_ID.fullmatch(settings.model):
        raise HubError(f"SVDAPP_MODEL is '{settings.model}': there is no such folder, and it is not a Hugging Face "
                       "model id.",
                       f"Check the path of the folder that holds model_index.json, or unset SVDAPP_MODEL to use "
                       f"{DEFAULT_MODEL}.")
    return local_folder(settings) or download(settings, tqdm_class=tqdm_class)


def download(settings: Settings, tqdm_class=None) -> Path:
    """Fetch only the files the pipeline loads, into the normal Hugging Face cache."""
    from huggingface_hub import snapshot_download
    check_disk_space()
    try:
        path = snapshot_download(settings.model, revision=settings.revision, token=settings.token or False,
                                 allow_patterns=ALLOW_PATTERNS, tqdm_class=tqdm_class)
    except Exception as exc:
        raise classify(exc, settings) from None
    folder = Path(path)
    if not is_complete(folder):
        raise HubError(f"The download of {settings.model} finished but files are missing in {folder}.",
                       "Run `svdapp download` again; if it repeats, the model repo may not have fp16 weights.")
    return folder


def check_disk_space(needed_gib: float = DOWNLOAD_GIB) -> None:
    free = free_disk_gib()
    if free is not None and free < needed_gib:
        raise HubError(f"Only {free:.1f} GB free where the model is stored ({cache_dir()}); "
                       f"the weights need {needed_gib:.1f} GB.",
                       "Free some disk space, or set HF_HOME to a folder on a bigger disk.")


def free_disk_gib() -> float | None:
    path = cache_dir()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free / 1024**3
    except OSError:
        return None


@dataclass(frozen=True)
class Access:
    ok: bool
    detail: str
    hint: str = ""


def check_access(settings: Settings) -> Access:
    """Can this machine load the model? Local folder, cache, or granted on the hub."""
    if settings.model_is_local:
        folder = Path(settings.model).expanduser()
        if is_complete(folder):
            return Access(True, f"local folder {folder}")
        return Access(False, f"{folder} is not a complete SVD model folder",
                      "Point SVDAPP_MODEL at the folder holding model_index.json, unet/, vae/, image_encoder/.")
    cached = local_folder(settings)
    if cached is not None:
        return Access(True, f"{settings.model} is downloaded ({cached})")
    from huggingface_hub import auth_check
    try:
        auth_check(settings.model, token=settings.token or False)
    except Exception as exc:
        err = classify(exc, settings)
        return Access(False, err.message, err.hint)
    return Access(True, f"access to {settings.model} granted; not downloaded yet (≈{DOWNLOAD_GIB:.1f} GB)",
                  "Run `svdapp download`, or it downloads on the first generation.")


def validate_token(token: str, settings: Settings) -> str:
    """Return the account name the token belongs to, or raise HubError."""
    from huggingface_hub import whoami
    if not token.strip().startswith("hf_"):
        raise HubError("That does not look like a Hugging Face token (they start with 'hf_').",
                       "Copy a read token from https://huggingface.co/settings/tokens.")
    try:
        info = whoami(token=token.strip())
    except Exception as exc:
        raise classify(exc, Settings(token=token, model=settings.model)) from None
    return str(info.get("name", "unknown"))
