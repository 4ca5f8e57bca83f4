"""Step D1 of the guide: can this machine make a video, and if not, what to do.

Each check is a line with ✓ or ✗ and, for ✗, the fix. ``required`` checks decide
whether a generation can run at all.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from . import hub
from .settings import Settings, load_settings

MIN_VRAM_GIB = 7.5  # an "8 GB" card reports about 7.6-8 GiB


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    required: bool = True

    def line(self) -> str:
        mark = "✓" if self.ok else ("✗" if self.required else "!")
        text = f"{mark} {self.name}: {self.detail}"
        return text + (f"\n    fix: {self.hint}" if self.hint and not self.ok else "")


def run_checks(settings: Settings | None = None, check_hub: bool = True) -> list[Check]:
    settings = settings or load_settings()
    checks = [_python()]
    checks += _gpu_checks()
    checks.append(_encoder())
    checks.append(_token(settings))
    checks.append(_model(settings, check_hub))
    checks.append(_disk(settings))
    return checks


def can_generate(checks: list[Check]) -> bool:
    return all(c.ok for c in checks if c.required)


def _python() -> Check:
    v = sys.version_info
    return Check("Python", v >= (3, 11), f"{v.major}.{v.minor}.{v.micro}", "Install Python 3.11 or newer.")


def _gpu_checks() -> list[Check]:
    try:
        from .engine.device import device_info
        info = device_info()
    except Exception as exc:  # a broken torch install must still give a readable check
        return [Check("PyTorch", False, f"cannot be imported ({exc})",
                      "Reinstall: pip install torch (the CUDA build for your GPU, see pytorch.org).")]
    cuda = f"CUDA {info.cuda_version}" if info.cuda_version else "CPU-only build"
    checks = [Check("PyTorch", True, f"{info.torch_version} ({cuda})")]
    if not info.cuda_available:
        hint = ("Install the CUDA build of PyTorch (pip install torch --index-url "
                "https://download.pytorch.org/whl/cu128) and an NVIDIA driver."
                if not info.cuda_version else "Check the NVIDIA driver is installed (nvidia-smi) and the GPU is visible.")
        checks.append(Check("GPU", False, "no CUDA GPU available — SVD needs an NVIDIA GPU with 8 GB+", hint))
        return checks
    checks.append(Check("GPU", True, f"{info.gpu_name} (compute {info.capability[0]}.{info.capability[1]})"))
    checks.append(Check("VRAM", info.total_gib >= MIN_VRAM_GIB,
                        f"{info.total_gib:.1f} GiB total, {info.free_gib:.1f} GiB free",
                        "SVD needs an 8 GB card; close other GPU programs, or use the Low-memory portrait preset."))
    return checks


def _encoder() -> Check:
    try:
        import av
        ok = "libx264" in av.codecs_available
    except Exception as exc:
        return Check("Video encoder", False, f"PyAV missing ({exc})", "pip install av")
    return Check("Video encoder", ok, "H.264 (libx264 via PyAV)" if ok else "PyAV has no libx264",
                 "Reinstall PyAV from PyPI: pip install --force-reinstall av")


def _token(settings: Settings) -> Check:
    if settings.token:
        return Check("Hugging Face token", True, f"{settings.masked_token} from {settings.token_source}", required=False)
    if settings.model_is_local:
        return Check("Hugging Face token", True, "not needed (local model folder)", required=False)
    return Check("Hugging Face token", False, "none found",
                 "Put HUGGINGFACE_HUB_TOKEN=hf_… in .env (or set HF_TOKEN), or run `hf auth login`.",
                 required=False)


def _model(settings: Settings, check_hub: bool) -> Check:
    if not check_hub and not settings.model_is_local:
        folder = hub.local_folder(settings)
        return Check("Model access", folder is not None,
                     f"{settings.model} downloaded" if folder else f"{settings.model} not downloaded (hub not checked)",
                     "Run `svdapp check` (it asks the hub) or `svdapp download`.")
    access = hub.check_access(settings)
    return Check("Model access", access.ok, access.detail, access.hint)


def _disk(settings: Settings) -> Check:
    if hub.local_folder(settings) is not None:
        return Check("Disk for weights", True, "weights already on disk", required=False)
    free = hub.free_disk_gib()
    if free is None:
        return Check("Disk for weights", False, f"cannot read free space of {hub.cache_dir()}",
                     "Check HF_HOME points at an existing folder.")
    return Check("Disk for weights", free >= hub.DOWNLOAD_GIB,
                 f"{free:.1f} GB free in {hub.cache_dir()} (weights need {hub.DOWNLOAD_GIB:.1f} GB)",
                 "Free disk space or set HF_HOME to a folder on a bigger disk.")
