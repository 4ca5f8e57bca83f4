"""Settings from the environment and `.env`: the Hugging Face token, the model, the outputs folder.

The user's guide names the token variable ``HUGGINGFACE_HUB_TOKEN``, which huggingface_hub
itself does not read (it reads ``HF_TOKEN``, the legacy ``HUGGING_FACE_HUB_TOKEN``, then the
cached ``hf auth login``). We accept all of them and pass the token explicitly to every hub
call. Real environment variables win over `.env`, as python-dotenv does by default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from .errors import InputError

DEFAULT_MODEL = "stabilityai/stable-video-diffusion-img2vid-xt-1-1"
TOKEN_VARIABLES = ("HUGGINGFACE_HUB_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
CACHED_LOGIN = "cached `hf auth login`"


@dataclass(frozen=True)
class Settings:
    token: str | None = field(default=None, repr=False)
    token_source: str | None = None  # variable name, ".env: NAME" or CACHED_LOGIN
    model: str = DEFAULT_MODEL
    revision: str | None = None
    outputs_dir: Path = Path("outputs")
    env_file: Path = Path(".env")

    @property
    def masked_token(self) -> str:
        return mask_token(self.token)

    @property
    def model_is_local(self) -> bool:
        return Path(self.model).expanduser().is_dir()


def mask_token(token: str | None) -> str:
    """``hf_abc…a1b2`` → ``hf_…a1b2``; never more than the prefix and last four characters."""
    if not token:
        return "(none)"
    prefix = "hf_" if token.startswith("hf_") else ""
    return f"{prefix}…{token[-4:]}" if len(token) > 8 else f"{prefix}…"


def _cached_login_token() -> str | None:
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    path = Path(os.environ.get("HF_TOKEN_PATH") or os.path.join(home, "token"))
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token or None


def _read_env_file(path: Path) -> dict[str, str]:
    """`.env` values, or an InputError with the fix when it is not UTF-8 text (Notepad's
    "Unicode" is UTF-16). "utf-8-sig" drops the BOM Notepad may put in front of the first name."""
    if not path.is_file():
        return {}
    try:
        values = dotenv_values(path, encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path} cannot be read as text ({type(exc).__name__}).",
                         f"Save {path.name} as plain UTF-8 text (one NAME=value per line).") from None
    return {k: v for k, v in values.items() if v}


def load_settings(env_file: str | os.PathLike | None = None) -> Settings:
    """Read settings from the process environment, then `.env`, then the cached login."""
    env_path = Path(env_file or os.environ.get("SVDAPP_ENV_FILE") or ".env")
    file_values = _read_env_file(env_path)

    def lookup(name: str) -> tuple[str | None, str | None]:
        if os.environ.get(name):
            return os.environ[name].strip(), name
        if file_values.get(name):
            return file_values[name].strip(), f".env: {name}"
        return None, None

    token, source = None, None
    for name in TOKEN_VARIABLES:
        token, source = lookup(name)
        if token:
            break
    if not token:
        token = _cached_login_token()
        source = CACHED_LOGIN if token else None

    return Settings(
        token=token,
        token_source=source,
        model=lookup("SVDAPP_MODEL")[0] or DEFAULT_MODEL,
        revision=lookup("SVDAPP_REVISION")[0],
        outputs_dir=Path(lookup("SVDAPP_OUTPUTS")[0] or "outputs"),
        env_file=env_path,
    )


def save_token(token: str, env_file: str | os.PathLike = ".env") -> Path:
    """Write ``HUGGINGFACE_HUB_TOKEN`` into `.env` with mode 0600, keeping its other lines."""
    path = Path(env_file)
    token = token.strip()
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        # a pasted line break would otherwise write extra NAME=value lines into .env
        raise InputError("That token is empty or contains spaces or line breaks.",
                         "Copy the token again from https://huggingface.co/settings/tokens.")
    lines = []
    if path.is_file():
        lines = [ln for ln in path.read_text(encoding="utf-8-sig").splitlines()
                 if not ln.split("=", 1)[0].strip().removeprefix("export ").strip() in TOKEN_VARIABLES]
    lines.append(f"HUGGINGFACE_HUB_TOKEN={token}")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
