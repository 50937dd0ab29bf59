"""How many notebooks a batch grades at once, and how many CPU threads each kernel gets: the cores, shared out."""

from __future__ import annotations

import os
from pathlib import Path

from grader.rubric import Rubric

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# One thread per kernel: several small notebooks at once use the cores better than one notebook on all of them
# (measured in docs/benchmarks.md), and OpenMP threads that outnumber free cores spin against each other.
THREADS_PER_KERNEL = 1


class BadWorkers(ValueError):
    """--workers asked for fewer than one worker; the message is one sentence for the TA."""


def _cgroup_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int | None:
    """The cores a cgroup v2 CPU quota allows ('200000 100000' → 2), or None without a quota."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, int(quota) // int(period))


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a container's CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cores()
    return max(1, min(cores, quota) if quota else cores)


def default_workers(devices: list[str], cores: int) -> int:
    """One worker per GPU on a GPU machine; on the CPU, one per THREADS_PER_KERNEL cores."""
    if devices != ["cpu"]:
        return len(devices)
    return max(1, cores // THREADS_PER_KERNEL)


def workers_for(requested: int | None, devices: list[str], cores: int) -> int:
    """--workers as given (at least 1), else the default for these devices and cores."""
    if requested is None:
        return default_workers(devices, cores)
    if requested < 1:
        raise BadWorkers(f"--workers must be at least 1 (got {requested})")
    return requested


def thread_share(cores: int, workers: int) -> int:
    """Each kernel's share of the cores when `workers` kernels run at once (at least one thread)."""
    return max(1, cores // max(1, workers))


def _ceiling_from_environment() -> int | None:
    """OMP_NUM_THREADS as the TA (or CI) set it for the grader: a ceiling for every kernel too."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def kernel_threads(rubric: Rubric, share: int | None) -> int:
    """The kernel's CPU threads: its share of the cores (all of them when alone), never more than the rubric's
    `threads` nor an OMP_NUM_THREADS set in the grader's environment."""
    limits = [share if share is not None else available_cores(), rubric.threads, _ceiling_from_environment()]
    return min(limit for limit in limits if limit is not None)


def thread_variables(threads: int) -> dict[str, str]:
    """The environment that caps OpenMP, MKL and OpenBLAS (torch's CPU thread pools) at `threads`."""
    return {name: str(threads) for name in THREAD_VARIABLES}
