"""What the machine offers: torch, CUDA, the GPU and its memory."""

from __future__ import annotations

from dataclasses import dataclass

import torch

GIB = 1024**3


@dataclass(frozen=True)
class DeviceInfo:
    torch_version: str
    cuda_available: bool
    cuda_version: str | None
    gpu_name: str | None = None
    capability: tuple[int, int] | None = None
    total_bytes: int = 0
    free_bytes: int = 0

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB

    @property
    def free_gib(self) -> float:
        return self.free_bytes / GIB


def device_info(index: int = 0) -> DeviceInfo:
    if not torch.cuda.is_available():
        return DeviceInfo(torch.__version__, False, torch.version.cuda)
    free, total = torch.cuda.mem_get_info(index)
    return DeviceInfo(torch.__version__, True, torch.version.cuda, torch.cuda.get_device_name(index),
                      torch.cuda.get_device_capability(index), total, free)
