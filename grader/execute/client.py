"""The kernel client: start one sandboxed kernel, run cells in it under the limits watchers, record each cell.

What the kernel sends is capped: each ZMQ frame, each cell's kept output, each error's traceback.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

import nbformat
import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync

from grader.execute.limits import (FILE_LIMIT, PROCESS_LIMIT, RUN_MARKER, Deadline, MiB, ProcessWatch,
                                   exit_description)
from grader import gpu_share, portable
from grader.kernel_env import BOOT_SOURCE
from grader.kernel import MEASURE_MIME
from grader.results import CellRecord, ProbeRecord
from grader.rubric import Timeouts
from grader.sandbox import Sandbox
from grader.stage import WorkdirSnapshot, snapshot

STDOUT_CAP = 20_000
TRACEBACK_CAP = 8_000
OUTPUT_CAP_BYTES = 2 * 2**20  # of one cell's outputs the grader keeps; an endless print loop must not fill its memory
INTERRUPT_GRACE_S = 10.0
STARTUP_TIMEOUT_S = 60.0
REAP_TIMEOUT_S = 5.0
# Of one ZMQ frame the grader accepts from the kernel: a larger one drops the connection (ZMQ reconnects) and is lost,
# so a notebook cannot make the grader buffer and decode hundreds of MiB per message.
MESSAGE_CAP_BYTES = 32 * 2**20
STDERR_TAIL = 4_000
IPC_PATH_MAX = 100  # a Unix socket path must fit in 108 bytes
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
STREAM_CAP_BYTES = 512 * 2**20  # of the measured values one probe may stream to the grader
TRUNCATED = "\n… [the grader stopped recording this cell's output here: over {cap} MiB] …\n"


@dataclass
class KernelLaunch:
    """How to start the kernel process: its environment, the sandbox it runs in (if any), whether it is isolated."""

    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    isolated: bool = False
    isolation: str = ""
    sandbox: Sandbox | None = None
    gpu: gpu_share.GpuGuard | None = None  # the watchdog of a kernel that shares its GPU

    def prefix(self, runtime: Path | None) -> list[str]:
        """The command prefix of one attempt: its sandbox, with that attempt's runtime folder bound in."""
        return self.sandbox.prefix(runtime) if self.sandbox is not None else []


class _StderrTail:
    """Drains the kernel's stderr in a thread, keeping only its tail: enough to explain a kernel that never started."""

    def __init__(self, stream: IO[bytes]):
        self.text = b""
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        with stream:
            for chunk in iter(lambda: stream.read1(65536), b""):
                self.text = (self.text + chunk)[-STDERR_TAIL:]

    def last_line(self) -> str:
        lines = [line for line in self.text.decode(errors="replace").splitlines() if line.strip()]
        return ANSI.sub("", lines[-1].strip())[:300] if lines else ""


class _GraderKernelManager(AsyncKernelManager):
    """This Python's ipykernel, optionally behind a launch prefix; interrupts travel as messages, not signals.

    Behind bubblewrap the kernel is in its own PID namespace: a signal to the process we started would reach bwrap,
    not the kernel. `on_launch` is told the process as soon as it exists, so it is watched from its first second.
    """

    launch_prefix: list[str] = []
    on_launch: Callable[[subprocess.Popen], None] = staticmethod(lambda process: None)

    @property
    def kernel_spec(self) -> KernelSpec:
        argv = [*self.launch_prefix, sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        return KernelSpec(argv=argv, display_name="grader", language="python", interrupt_mode="message")

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        await super()._async_launch_kernel(kernel_cmd, **kw)
        assert self.provisioner is not None
        self.on_launch(self.provisioner.process)

    def client(self, **kwargs: Any) -> Any:
        """The client's sockets refuse frames over MESSAGE_CAP_BYTES (set before its channels open)."""
        client = super().client(**kwargs)
        client.context.setsockopt(zmq.MAXMSGSIZE, MESSAGE_CAP_BYTES)
        return client


class _CappedClient(NotebookClient):
    """A notebook client that keeps at most OUTPUT_CAP_BYTES of outputs per cell and clips errors."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.output_bytes: dict[int, int] = {}
        self._readers: set[asyncio.Task] = set()
        # The measuring stream: accepted only while a grader cell runs, never stored among a cell's outputs.
        self.collecting = False
        self.stream: list[dict] = []
        self.stream_bytes = 0

    async def _async_poll_output_msg(self, parent_msg_id: str, cell: nbformat.NotebookNode, cell_index: int) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._readers.add(task)
        try:
            await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)
        finally:
            self._readers.discard(task)

    async def async_execute_cell(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().async_execute_cell(*args, **kwargs)
        except CellTimeoutError:
            # nbclient leaves a timed-out cell's output reader running; it would steal later cells' messages.
            for task in list(self._readers):
                task.cancel()
            raise

    execute_cell = run_sync(async_execute_cell)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        content = msg.get("content", {})
        if msg["msg_type"] == "display_data" and MEASURE_MIME in content.get("data", {}):
            self._collect(content["data"][MEASURE_MIME])
            return None
        if msg["msg_type"] == "error":
            content["evalue"] = clip(str(content.get("evalue", "")), TRACEBACK_CAP)
            content["traceback"] = [clip(str(line), TRACEBACK_CAP) for line in content.get("traceback", [])[-40:]]
            return super().output(outs, msg, display_id, cell_index)
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self.output_bytes.get(cell_index, 0)
        self.output_bytes[cell_index] = used + size
        if used + size <= OUTPUT_CAP_BYTES:
            return super().output(outs, msg, display_id, cell_index)
        if used > OUTPUT_CAP_BYTES:
            return None
        if msg["msg_type"] == "stream":
            content["text"] = str(content.get("text", ""))[: OUTPUT_CAP_BYTES - used]
            super().output(outs, msg, display_id, cell_index)
        outs.append(nbformat.v4.new_output("stream", name="stdout", text=TRUNCATED.format(cap=OUTPUT_CAP_BYTES // MiB)))
        return None


    def _collect(self, message: Any) -> None:
        size = len(json.dumps(message)) if self.collecting else 0
        if self.collecting and isinstance(message, dict) and self.stream_bytes + size <= STREAM_CAP_BYTES:
            self.stream.append(message)
            self.stream_bytes += size
        elif self.collecting:
            self.stream.append({"kind": "overflow", "key": "", "value": STREAM_CAP_BYTES})
            self.collecting = False


def close_thread_event_loop() -> None:
    """Close the event loop nbclient gave this thread: a finished thread's loop (an epoll and a socket pair) is closed
    only by a full garbage collection, so a worker held three more descriptors per notebook until one ran."""
    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
    except RuntimeError:
        return
    if not loop.is_running():
        loop.close()
    policy.set_event_loop(None)


def clip(text: str, cap: int) -> str:
    """Keep the head and tail of a long text."""
    if len(text) <= cap:
        return text
    half = cap // 2
    return f"{text[:half]}\n… [{len(text) - cap} characters cut] …\n{text[-half:]}"


def _text_of(outputs: list) -> str:
    """What the cell printed to stdout and the plain-text form of what it displayed."""
    parts: list[str] = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output.get("text", ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", "") + "\n")
    return clip("".join(parts), STDOUT_CAP)


def _stderr_of(outputs: list) -> str:
    """What the cell wrote to stderr (progress bars' postfixes, logging), as a terminal shows it: a line
    rewritten with '\\r' (a progress bar's every update) keeps only its last state, so long runs fit the cap."""
    text = "".join(output.get("text", "") for output in outputs
                   if output.get("output_type") == "stream" and output.get("name") == "stderr")
    shown = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))
    return clip(shown, STDOUT_CAP)


def _html_of(outputs: list) -> str:
    """The text/html form of what the cell displayed (a DataFrame's full table), never rendered by the grader."""
    text = "\n".join(output.get("data", {}).get("text/html", "") for output in outputs
                     if output.get("output_type") in ("execute_result", "display_data"))
    return clip(text.strip(), STDOUT_CAP)


def _outputs_of(cell: nbformat.NotebookNode) -> dict[str, str]:
    """Every place a cell reports to: stdout (and displays as text), stderr, displayed HTML."""
    outputs = cell.get("outputs", [])
    return {"stdout": _text_of(outputs), "stderr": _stderr_of(outputs), "html": _html_of(outputs)}


def _error_of(outputs: list) -> dict | None:
    for output in outputs:
        if output.get("output_type") == "error":
            return output
    return None


def _error_line(traceback: str, error_message: str) -> int | None:
    """Line number inside the failing cell, from IPython's 'Cell In[3], line 5' frame or a SyntaxError."""
    frame = re.search(r"Cell In\s*\[[^\]]*\],\s*line\s*(\d+)", traceback)
    if frame:
        return int(frame.group(1))
    syntax = re.search(r"line (\d+)\)?\s*$", error_message)
    return int(syntax.group(1)) if syntax else None


def cell_record(number: int, cell: nbformat.NotebookNode, duration_s: float) -> CellRecord:
    """Turn an executed cell into its record (status ok or error)."""
    error = _error_of(cell.get("outputs", []))
    reported = _outputs_of(cell)
    if error is None:
        return CellRecord(number=number, status="ok", duration_s=duration_s, **reported)
    traceback = ANSI.sub("", "\n".join(error.get("traceback", [])))
    message = ANSI.sub("", str(error.get("evalue", "")))
    line = _error_line(traceback, message)
    source_lines = cell.source.splitlines()
    source = source_lines[line - 1].strip() if line and 0 < line <= len(source_lines) else ""
    return CellRecord(
        number=number,
        status="error",
        duration_s=duration_s,
        error_name=str(error.get("ename", "Error")),
        error_message=clip(message, 2_000),
        error_line=line,
        error_source=source,
        traceback=clip(traceback, TRACEBACK_CAP),
        **reported,
    )


def seed_source(seed: int) -> str:
    """Code the kernel runs as it starts (before it reports ready) to seed every random generator the course uses."""
    return (
        "import random as _g_random\n"
        f"_g_random.seed({seed})\n"
        "try:\n"
        "    import numpy as _g_numpy\n"
        f"    _g_numpy.random.seed({seed % 2**32})\n"
        "except ImportError:\n"
        "    pass\n"
        "import torch as _g_torch\n"
        f"_g_torch.manual_seed({seed})\n"
        "del _g_random, _g_torch\n"
        "globals().pop('_g_numpy', None);\n"
    )


# ipykernel sends what a cell printed every flush interval (0.2 s) as one message, however large: a print loop on a fast
# idle machine filled more than MESSAGE_CAP_BYTES in that time, so every message was dropped and the report showed no
# output at all. Flushed every 20 ms, a message stays a few MiB. (Only the notebook's own report can lose by undoing it.)
FLUSH_SOURCE = (
    "import sys as _g_sys\n"
    "for _g_stream in (_g_sys.stdout, _g_sys.stderr):\n"
    "    if hasattr(_g_stream, 'flush_interval'):\n"
    "        _g_stream.flush_interval = 0.02\n"
    "del _g_sys, _g_stream\n"
)


# Sent once the kernel is seeded, before the first student cell: what the probe's fingerprint is compared with.
BOOT_REPORT = "from grader.kernel import measure as _g_measure\n_g_measure.boot_report()\ndel _g_measure\n"


def _runtime_dir() -> Path | None:
    """A fresh folder (mode 0700) for one attempt's connection file and ipc sockets, outside the work dir: nothing in
    it can be a link a notebook planted. None when its path is too long for a socket or the system has no ipc
    sockets (or GRADER_TRANSPORT=tcp): TCP on 127.0.0.1 instead."""
    if portable.ipc_problem():
        return None
    folder = Path(tempfile.mkdtemp(prefix="grader-kernel-"))
    if len(str(folder / "kernel-00000")) > IPC_PATH_MAX:
        folder.rmdir()
        return None
    return folder


class NotebookRunner:
    """One kernel's run over the notebook: cells in `skip` are left out; every other cell runs even after one raised."""

    def __init__(self, notebook: nbformat.NotebookNode, workdir: Path, timeouts: Timeouts, launch: KernelLaunch,
                 seed: int, memory_limit_mb: int | None = None, skip: frozenset[int] = frozenset(),
                 disk_limit_mb: int | None = None, pristine: WorkdirSnapshot | None = None):
        # The work dir as staged, taken before any kernel ran in it: each replay starts from it.
        self.pristine = pristine if pristine is not None else snapshot(workdir)
        self.notebook = copy.deepcopy(notebook)
        # nbclient stores every executed cell back at its index: grader cells get a slot past the student's.
        self.grader_slot = len(self.notebook.cells)
        self.notebook.cells.append(nbformat.v4.new_code_cell(""))
        self.timeouts = timeouts
        self.launch = launch
        self.workdir = workdir
        self.seed = seed
        self.skip = skip
        self.marker = secrets.token_hex(8)
        self.runtime = _runtime_dir()
        self.watch = ProcessWatch(memory_limit_mb * MiB if memory_limit_mb else None, self.kill_kernel, self.marker,
                                  disk_limit_mb * MiB if disk_limit_mb else None,
                                  [workdir, *([self.runtime] if self.runtime else [])])
        self.watch.gpu = launch.gpu
        self.memory_limit_mb = memory_limit_mb
        self.disk_limit_mb = disk_limit_mb
        self.stderr: _StderrTail | None = None
        manager = _GraderKernelManager()
        manager.launch_prefix = launch.prefix(self.runtime)
        manager.on_launch = self._launched
        runtime = self.runtime
        if runtime is not None:
            # Sockets in the runtime folder, not TCP ports: no network inside the sandbox, no port other users reach.
            manager.transport = "ipc"
            manager.ip = str(runtime / "kernel")
            manager.connection_file = str(runtime / "connection.json")
        self.client = _CappedClient(
            self.notebook,
            km=manager,
            timeout=int(timeouts.cell),
            allow_errors=True,
            interrupt_on_timeout=False,
            startup_timeout=int(STARTUP_TIMEOUT_S),
            record_timing=False,
            shutdown_kernel="immediate",
            resources={"metadata": {"path": str(workdir)}},
        )
        self.client.extra_arguments = [
            f"--IPKernelApp.exec_lines={BOOT_SOURCE}{gpu_share.BOOT_SOURCE}{FLUSH_SOURCE}{seed_source(seed)}"]
        self.kernel_dead = False
        # The boot fingerprint is compared only where the probe runs in this kernel (not for exercises measured apart).
        self.boot_report = True
        self.boot: dict | None = None  # the fingerprint grader.kernel.measure sent before any student cell ran
        self.collected: list[dict] = []  # the measuring messages of the last grader cell that collected them
        self.probe_stream: list[dict] = []  # the probe cell's
        self.fatal_index: int | None = None
        self.current_index: int | None = None

    def start(self) -> None:
        """Launch the kernel process without waiting for it: it boots and seeds itself while the caller works."""
        try:
            run_sync(self.client.async_start_new_kernel)(**self._start_arguments())
        except RuntimeError:
            # Not fatal here: the run retries the start and records why it failed, as for any kernel.
            return

    def use_cells(self, notebook: nbformat.NotebookNode) -> None:
        """Run these cells instead of the ones given at launch (as many, in the same order): the measuring kernel's
        selection is made while its kernel boots."""
        assert len(notebook.cells) == self.grader_slot
        self.notebook.cells[: self.grader_slot] = copy.deepcopy(notebook.cells)

    def _start_arguments(self) -> dict[str, Any]:
        return {"cwd": str(self.workdir), "env": self.env(), "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}

    def _launched(self, process: subprocess.Popen) -> None:
        if process.stderr is not None:
            self.stderr = _StderrTail(process.stderr)
        self.watch.start(process)

    @property
    def process(self) -> subprocess.Popen | None:
        provisioner = getattr(self.client.km, "provisioner", None)
        return getattr(provisioner, "process", None)

    def kill_kernel(self) -> None:
        """SIGKILL the kernel's process group and every process it was seen to start."""
        provisioner = getattr(self.client.km, "provisioner", None)
        pgid = getattr(provisioner, "pgid", None)
        try:
            if pgid:
                os.killpg(pgid, signal.SIGKILL)
            elif self.process is not None:
                self.process.kill()
        except (ProcessLookupError, PermissionError):
            pass
        self.watch.kill_all()
        self._reap()

    def close(self) -> None:
        """Stop watching, kill every process of the kernel, close its channels, remove this attempt's runtime
        folder."""
        self.watch.stop()
        self.kill_kernel()
        self._close_channels()
        if self.runtime is not None:
            shutil.rmtree(self.runtime, ignore_errors=True)

    def _close_channels(self) -> None:
        """nbclient stops a client's channels only when it made the kernel manager, and this one is ours: left open,
        every kernel's heartbeat thread went on pinging it once a second for the rest of the batch (two per
        notebook; after a few hundred notebooks they used a core between them)."""
        channels, self.client.kc = self.client.kc, None
        if channels is not None:
            channels.stop_channels()
        context = getattr(self.client.km, "context", None)
        if context is not None and not context.closed:
            context.destroy(linger=0)

    def _reap(self) -> None:
        """Collect the killed kernel's exit status, so a long batch leaves no zombie process per notebook."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass

    def env(self) -> dict[str, str]:
        return {**self.launch.env, RUN_MARKER: self.marker}

    def _run_source(self, source: str, timeout: float, collect: bool = False) -> nbformat.NotebookNode:
        """Run a grader cell; with `collect`, keep the measuring messages it sends (client.stream)."""
        cell = nbformat.v4.new_code_cell(source)
        self.client.timeout = max(1, int(timeout))
        self.client.output_bytes.pop(self.grader_slot, None)
        self.client.stream, self.client.stream_bytes, self.client.collecting = [], 0, collect
        try:
            self.client.execute_cell(cell, self.grader_slot, store_history=False)
        finally:
            self.client.collecting = False
            if collect:
                self.collected = self.client.stream
        return cell

    def _recover_from_timeout(self) -> bool:
        """Interrupt the kernel; True when it answers again within the grace period."""
        # The timed-out cell's cancelled output reader can swallow one later IOPub message; nbclient would then wait
        # its full iopub_timeout for this empty cell's output.
        iopub_timeout, self.client.iopub_timeout = self.client.iopub_timeout, 1
        try:
            run_sync(self.client.km.interrupt_kernel)()
            self._run_source("pass", INTERRUPT_GRACE_S)
        except (CellTimeoutError, DeadKernelError, RuntimeError):
            self.kill_kernel()
            self.kernel_dead = True
            return False
        finally:
            self.client.iopub_timeout = iopub_timeout
        return True

    def _died(self, number: int, duration: float) -> CellRecord:
        """The record of a cell during which the kernel died or was stopped for a limit."""
        self.kernel_dead = True
        if self.watch.tripped == "memory_limit":
            used = self.watch.tripped_bytes / MiB
            held = self.watch.grader_bytes / MiB
            output = f" ({held:.0f} MiB of it in the grader, holding the notebook's output)" if held >= 64 else ""
            return CellRecord(number=number, status="memory_limit", duration_s=duration, error_name="MemoryLimit",
                              error_message=f"the notebook's processes used {used:.0f} MiB{output}, over the "
                                            f"{self.memory_limit_mb} MiB memory limit, so the kernel was stopped")
        if self.watch.tripped == "gpu_memory_limit" and self.watch.gpu is not None:
            return CellRecord(number=number, status="memory_limit", duration_s=duration, error_name="GpuMemoryLimit",
                              error_message=self.watch.gpu.message(self.watch.tripped_bytes))
        if self.watch.tripped == "disk_limit":
            what = (f"more than {FILE_LIMIT} files" if self.watch.disk_files > FILE_LIMIT
                    else f"{self.watch.tripped_bytes / MiB:.0f} MiB")
            return CellRecord(number=number, status="disk_limit", duration_s=duration, error_name="DiskLimit",
                              error_message=f"the notebook wrote {what} into its work dir and /tmp, over the "
                                            f"{self.disk_limit_mb} MiB disk limit, so the kernel was stopped")
        if self.watch.tripped == "process_limit":
            return CellRecord(number=number, status="kernel_died", duration_s=duration, error_name="ProcessLimit",
                              error_message=f"the notebook started more than {PROCESS_LIMIT} processes at once, "
                                            "so the kernel was stopped")
        return CellRecord(number=number, status="kernel_died", duration_s=duration, error_name="KernelDied",
                          error_message=f"the kernel process died while this cell ran{exit_description(self.process)}")

    def _timed_cell(self, index: int, deadline: float) -> CellRecord:
        cell = self.notebook.cells[index]
        number = index + 1
        remaining = deadline - time.monotonic()
        self.client.timeout = max(1, int(min(self.timeouts.cell, remaining)))
        self.client.output_bytes.pop(index, None)
        self.current_index = index
        started = time.monotonic()
        try:
            self.client.execute_cell(cell, index)
        except CellTimeoutError:
            duration = time.monotonic() - started
            limit = "cell" if self.timeouts.cell <= remaining else "notebook"
            responsive = self._recover_from_timeout()
            if not responsive and self.watch.tripped:
                return self._died(number, duration)
            message = f"stopped after {duration:.0f}s: the {limit} time limit is {self._limit_s(limit):.0f}s"
            if not responsive:
                message += "; the cell ignored the interrupt, so the kernel was stopped"
            return CellRecord(number=number, status="timeout", duration_s=duration, error_name="Timeout",
                              error_message=message, **_outputs_of(cell))
        except DeadKernelError:
            return self._died(number, time.monotonic() - started)
        return cell_record(number, cell, time.monotonic() - started)

    def _limit_s(self, which: str) -> float:
        return self.timeouts.cell if which == "cell" else self.timeouts.notebook

    def reseed(self) -> None:
        """Seed again right before the first cell: after exec_lines seeded the kernel, IPython may still draw from
        `random` while it starts (IPython 9 picks its banner's tip each time a client asks for kernel_info)."""
        try:
            self._run_source(seed_source(self.seed) + (BOOT_REPORT if self.boot_report else ""), STARTUP_TIMEOUT_S,
                             collect=True)
            self.boot = next((m.get("value") for m in self.collected if m.get("kind") == "boot"), None)
        except CellTimeoutError:
            self.kill_kernel()
            raise DeadKernelError("the kernel did not answer the grader's seeding cell") from None

    def run_cells(self, notebook_deadline: Deadline) -> dict[int, CellRecord]:
        """Run the student's code cells until the notebook deadline (one for all attempts); records keyed by index."""
        self.watch.count_grader_from_now()
        self.reseed()
        deadline = notebook_deadline.begin()
        records: dict[int, CellRecord] = {}
        for index, cell in enumerate(self.notebook.cells[: self.grader_slot]):
            if cell.cell_type != "code" or index in self.skip:
                continue
            if self.kernel_dead or time.monotonic() >= deadline:
                records[index] = CellRecord(number=index + 1, status="not_run")
                continue
            records[index] = self._timed_cell(index, deadline)
            if self.kernel_dead and time.monotonic() < deadline:
                self.fatal_index = index
            if records[index].status == "timeout" and time.monotonic() >= deadline - 1:
                deadline = time.monotonic()
        return records

    def run_probe(self, source: str) -> ProbeRecord:
        """Run the grader's probe cell in the same kernel."""
        if self.kernel_dead:
            return ProbeRecord(status="not_run", message="the kernel was no longer running")
        started = time.monotonic()
        self.collected = []
        try:
            cell = self._run_source(source, self.timeouts.probe, collect=True)
            self.probe_stream = self.collected
        except CellTimeoutError:
            self.probe_stream = self.collected
            self._recover_from_timeout()
            return ProbeRecord(status="timeout", duration_s=time.monotonic() - started,
                               message=f"the probe did not finish within {self.timeouts.probe:.0f}s")
        except DeadKernelError:
            self.kernel_dead = True
            reason = ("the memory limit stopped the kernel" if self.watch.tripped in ("memory_limit", "gpu_memory_limit")
                      else "the kernel died")
            return ProbeRecord(status="error", duration_s=time.monotonic() - started,
                               message=f"{reason} while the grader probed the notebook")
        duration = time.monotonic() - started
        error = _error_of(cell.get("outputs", []))
        if error is not None:
            return ProbeRecord(status="error", duration_s=duration,
                               message=f"{error.get('ename')}: {ANSI.sub('', str(error.get('evalue', '')))[:500]}")
        return ProbeRecord(status="ok", duration_s=duration)
