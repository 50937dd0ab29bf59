"""A kernel's share of a GPU that other notebooks use too: a cap at boot, and a watchdog reading NVML from outside.

`torch.cuda.set_per_process_memory_fraction` at kernel boot makes PyTorch's allocator refuse to grow past the share
(an `OutOfMemoryError` in the student's cell, as on a smaller GPU). The notebook could lift that cap itself, and
memory outside PyTorch's allocator escapes it, so the grader also reads each GPU's compute processes through NVML
and stops a kernel whose processes hold more than their share (status `memory_limit`): a neighbour on the same GPU
is never harmed. Without NVML (no GPU, no driver, `nvidia-ml-py` not installed) the watchdog does nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterable

FRACTION_VARIABLE = "GRADER_GPU_MEMORY_FRACTION"
# Run by the kernel as it boots (after the kernel environment's BOOT_SOURCE): torch is imported only for a kernel
# given a share, and CUDA is left alone when the kernel sees no GPU.
BOOT_SOURCE = (
    "import os as _g_os\n"
    f"if _g_os.environ.get({FRACTION_VARIABLE!r}):\n"
    "    try:\n"
    "        import torch as _g_torch\n"
    "        if _g_torch.cuda.is_available():\n"
    f"            _g_torch.cuda.set_per_process_memory_fraction(float(_g_os.environ[{FRACTION_VARIABLE!r}]), 0)\n"
    "        del _g_torch\n"
    "    except Exception:\n"
    "        pass\n"
    "del _g_os\n"
)
MiB = 2**20

# One reading of a GPU's compute processes: (pid, bytes of GPU memory it holds; None when the driver does not say).
Reading = list[tuple[int, int | None]]


def used_by(readings: Iterable[Reading], pids: Collection[int]) -> int:
    """GPU memory held by the kernel's processes (`pids`), on every GPU read."""
    return sum(used or 0 for reading in readings for pid, used in reading if pid in pids)


def over_share(used_bytes: int, limit_bytes: int) -> bool:
    return limit_bytes > 0 and used_bytes > limit_bytes


@dataclass
class GpuGuard:
    """The GPU memory one kernel may hold, and how to read what its processes hold now."""

    limit_bytes: int
    fraction: float
    read: Callable[[], list[Reading]]  # every GPU's compute processes, read now

    def used(self, pids: Collection[int]) -> int:
        try:
            return used_by(self.read(), pids)
        except Exception:  # noqa: BLE001 - a driver hiccup must not stop grading; the next poll reads again
            return 0

    def message(self, used_bytes: int) -> str:
        return (f"the notebook's processes held {used_bytes / MiB:.0f} MiB of GPU memory, over their share of the "
                f"GPU ({self.fraction:g} of it: {self.limit_bytes / MiB:.0f} MiB), so the kernel was stopped")


@functools.lru_cache(maxsize=1)
def _nvml() -> Any | None:
    """The initialised pynvml module, or None when NVML cannot be used here."""
    try:
        import pynvml  # nvidia-ml-py, in the `cluster` extra
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - ImportError, or NVMLError without a driver or a GPU
        return None
    return pynvml


def _read_all(nvml: Any) -> list[Reading]:
    readings = []
    for index in range(nvml.nvmlDeviceGetCount()):
        processes = nvml.nvmlDeviceGetComputeRunningProcesses(nvml.nvmlDeviceGetHandleByIndex(index))
        readings.append([(process.pid, process.usedGpuMemory) for process in processes])
    return readings


def guard(device: str, fraction: float, nvml: Any | None = None) -> GpuGuard | None:
    """The watchdog's limit for a kernel given `fraction` of GPU `device` ("cuda:3"); None without NVML.

    The share is of the device's total memory; NVML's index must agree with CUDA's (set CUDA_DEVICE_ORDER=PCI_BUS_ID
    on a node whose GPUs differ). The kernel's processes are looked for on every GPU: it sees only its own.
    """
    nvml = nvml if nvml is not None else _nvml()
    if nvml is None or fraction <= 0 or not device.startswith("cuda:"):
        return None
    try:
        first = int(device.removeprefix("cuda:").split(",")[0])
        total = nvml.nvmlDeviceGetMemoryInfo(nvml.nvmlDeviceGetHandleByIndex(first)).total
    except Exception:  # noqa: BLE001 - an index NVML does not know: no watchdog rather than a wrong one
        return None
    return GpuGuard(limit_bytes=int(total * min(fraction, 1.0)), fraction=fraction, read=lambda: _read_all(nvml))
