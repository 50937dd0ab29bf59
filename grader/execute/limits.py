"""Limits watchers: the kernel's process tree, memory and disk polled from the grader; deadlines; the watchdog.

RLIMIT_AS is not used (it breaks CUDA): every limit is measured from outside the kernel and enforced by killing it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import psutil

from grader import disk
from grader.gpu_share import GpuGuard

PROCESS_LIMIT = 256
PSS_PROCESS_CAP = 64  # reading proportional memory costs ~10 ms a process: only the largest this many are read
POLL_S = 0.1
DISK_POLL_EVERY = 3  # polls: the work dir's size is walked every 0.3 s
FILE_LIMIT = 100_000  # files and folders a notebook may create (each costs the disk walk time)
GPU_POLL_EVERY = 5  # polls: GPU memory (NVML) is read every 0.5 s, when the kernel has a share of a GPU
RUN_MARKER = "GRADER_KERNEL_RUN"
MiB = 2**20


def _children_files_exist() -> bool:
    """Whether this operating system lists each thread's children in /proc (Linux built with CONFIG_PROC_CHILDREN)."""
    return Path(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children").is_file()


CHILDREN_FILES = _children_files_exist()


def _descendant_pids(root: int) -> list[int] | None:
    """The processes under `root`, from each thread's /proc children list; None when one cannot be read.

    psutil's `children(recursive=True)` reads the stat file of every process on the machine, a cost that grows with
    the machine (a busy lab server, a Ray node) at every poll of every kernel; this grows with the kernel's tree.
    """
    found: list[int] = []
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue  # it ended since its parent listed it
        except OSError:
            return None
        for thread in threads:
            try:
                with open(f"/proc/{pid}/task/{thread}/children", encoding="ascii") as listing:
                    children = [int(child) for child in listing.read().split()]
            except FileNotFoundError:
                continue
            except (OSError, ValueError):
                return None
            found += children
            pending += children
    return found


def _same_process(pid: int, created: float) -> psutil.Process | None:
    """The process `pid`, unless it ended and the number now belongs to another one."""
    try:
        process = psutil.Process(pid)
        return process if abs(process.create_time() - created) < 0.01 else None
    except psutil.Error:
        return None


class ProcessWatch:
    """Polls the kernel's process tree for memory and process count, and its folders for size; over a limit, it kills
    the kernel.

    Resident memory (cheap) is summed first; only when that sum reaches the limit is the proportional set size read,
    so pages that forked workers share with the kernel count once. What the grader's own process grew by since the
    cells began counts too: it is the kernel's output, buffered and decoded here. RLIMIT_AS is not used: it breaks
    CUDA. The folders' size is walked every DISK_POLL_EVERY polls.
    """

    def __init__(self, memory_limit_bytes: int | None, kill: Callable[[], None], marker: str,
                 disk_limit_bytes: int | None = None, disk_roots: list[Path] | None = None):
        self.memory_limit_bytes = memory_limit_bytes
        self.disk_limit_bytes = disk_limit_bytes
        self.disk_roots = disk_roots or []
        self.kill = kill
        self.marker = marker
        self.peak_bytes = 0
        self.disk_peak_bytes = 0
        self.disk_files = 0
        self.host_disk_full = False
        self.tripped = ""
        self.tripped_bytes = 0
        self.grader_bytes = 0
        self.seen: dict[int, float] = {}
        self.cpu_by_process: dict[tuple[int, float], float] = {}  # (pid, start time) → CPU seconds at the last poll
        self.started = time.time()
        self.gpu: GpuGuard | None = None  # set for a kernel that shares its GPU with other notebooks
        self.gpu_peak_bytes = 0
        self._root: psutil.Process | None = None
        self._grader = psutil.Process()
        self._grader_base: int | None = None
        self._polls = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, process: subprocess.Popen) -> None:
        try:
            self._root = psutil.Process(process.pid)
        except psutil.Error:
            return
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set() and not self.tripped:
            self.poll()
            self._stop.wait(POLL_S)

    def _tree(self) -> list[psutil.Process]:
        assert self._root is not None
        pids = _descendant_pids(self._root.pid) if CHILDREN_FILES else None
        if pids is None:
            try:
                return [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return []
        tree = [self._root]
        for pid in pids:
            try:
                tree.append(psutil.Process(pid))
            except psutil.Error:
                continue
        return tree

    def count_grader_from_now(self) -> None:
        """From now on, the grader's growth is the kernel's output (called as the cells begin)."""
        try:
            self._grader_base = self._grader.memory_info().rss
        except psutil.Error:
            self._grader_base = None

    def _grader_growth(self) -> int:
        if self._grader_base is None:
            return 0
        try:
            return max(0, self._grader.memory_info().rss - self._grader_base)
        except psutil.Error:
            return 0

    def poll(self) -> None:
        tree = self._tree()
        self._polls += 1
        if len(tree) > PROCESS_LIMIT:
            self._remember(tree)
            self._trip("process_limit", 0)
            return
        self._remember(tree)
        self.grader_bytes = self._grader_growth()
        used = _sum_memory(tree, "rss") + self.grader_bytes
        if self.memory_limit_bytes and used >= self.memory_limit_bytes:
            used = _sum_memory(_largest(tree, PSS_PROCESS_CAP), "pss") + self.grader_bytes
        self.peak_bytes = max(self.peak_bytes, used)
        if self.memory_limit_bytes and used >= self.memory_limit_bytes:
            self._trip("memory_limit", used)
            return
        if self._polls % DISK_POLL_EVERY == 1:
            self.poll_disk()
        if self.gpu is not None and self._polls % GPU_POLL_EVERY == 1:
            self.poll_gpu(self.gpu)

    def poll_gpu(self, gpu: GpuGuard) -> None:
        """GPU memory held by every process the kernel was seen to start; over its share, the kernel is stopped."""
        used = gpu.used(set(self.seen))
        self.gpu_peak_bytes = max(self.gpu_peak_bytes, used)
        if used > gpu.limit_bytes:
            self._trip("gpu_memory_limit", used)

    def poll_disk(self) -> None:
        """The size of the notebook's folders; also notes a machine whose disk is full (not the notebook's fault when
        its own folders are under the limit)."""
        if not self.disk_roots:
            return
        used = disk.usage(self.disk_roots, FILE_LIMIT)
        self.disk_peak_bytes = max(self.disk_peak_bytes, used.bytes)
        self.disk_files = used.files
        if self.disk_limit_bytes and (used.bytes >= self.disk_limit_bytes or used.files > FILE_LIMIT):
            self._trip("disk_limit", used.bytes)
        elif disk.host_full(self.disk_roots[0]):
            self.host_disk_full = True

    def _remember(self, tree: list[psutil.Process]) -> None:
        for process in tree:
            if process.pid not in self.seen:
                try:
                    self.seen[process.pid] = process.create_time()
                except psutil.Error:
                    pass
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            key = (process.pid, self.seen.get(process.pid, 0.0))
            # children's times are left out: a reaped child's would count twice (its own last poll, its parent's)
            self.cpu_by_process[key] = times.user + times.system

    @property
    def cpu_s(self) -> float:
        """CPU seconds of the kernel's tree as last polled (every POLL_S; a process that lived under that is missed)."""
        return sum(self.cpu_by_process.values())

    def _trip(self, reason: str, used: int) -> None:
        self.tripped, self.tripped_bytes = reason, used
        self.kill()

    def kill_all(self) -> None:
        """Kill every process the kernel was seen to start, and any that still carries this run's marker."""
        for pid, created in list(self.seen.items()):
            process = _same_process(pid, created)
            if process is not None:
                _kill(process)
        for process in psutil.process_iter(["create_time"]):
            if (process.info["create_time"] or 0) < self.started - 1:
                continue
            try:
                if process.environ().get(RUN_MARKER) == self.marker:
                    _kill(process)
            except psutil.Error:
                continue


def _sum_memory(tree: list[psutil.Process], kind: str) -> int:
    total = 0
    for process in tree:
        try:
            info = process.memory_full_info() if kind == "pss" else process.memory_info()
        except psutil.Error:
            continue
        total += getattr(info, kind, info.rss)
    return total


def _largest(tree: list[psutil.Process], count: int) -> list[psutil.Process]:
    """The `count` processes with the most resident memory (a fork bomb's many small copies are left out)."""
    if len(tree) <= count:
        return tree

    def resident(process: psutil.Process) -> int:
        try:
            return process.memory_info().rss
        except psutil.Error:
            return 0

    return sorted(tree, key=resident, reverse=True)[:count]


def _kill(process: psutil.Process) -> None:
    try:
        process.kill()
    except psutil.Error:
        pass


def exit_description(process: subprocess.Popen | None) -> str:
    code = process.poll() if process is not None else None
    if code is None:
        return ""
    if code < 0 or code > 128:
        number = -code if code < 0 else code - 128
        try:
            return f" (killed by signal {number}, {signal.Signals(number).name})"
        except ValueError:
            return f" (killed by signal {number})"
    return f" (exit code {code})"


class Deadline:
    """One notebook deadline for every attempt: it starts when the first kernel is ready for the first cell, and
    replays (their kernels' start included) spend what is left of it."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at: float | None = None

    def begin(self) -> float:
        if self.at is None:
            self.at = time.monotonic() + self.seconds
        return self.at


class Watchdog:
    """Kills the kernel when the whole attempt outlives its deadline (a kernel that ignores interrupts)."""

    def __init__(self, seconds: float, kill: Callable[[], None]):
        self.fired = False
        self._timer = threading.Timer(max(seconds, 1.0), self._fire, args=(kill,))
        self._timer.daemon = True

    def _fire(self, kill: Callable[[], None]) -> None:
        self.fired = True
        kill()

    def __enter__(self) -> "Watchdog":
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
