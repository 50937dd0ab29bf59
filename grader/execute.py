"""Execute stage: run a notebook's code cells in a fresh kernel, then the probe cell, recording every cell."""

from __future__ import annotations

import copy
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync

from grader.results import CellRecord, ExecutionRecord, ProbeRecord
from grader.rubric import Timeouts

STDOUT_CAP = 20_000
TRACEBACK_CAP = 8_000
INTERRUPT_GRACE_S = 10.0
STARTUP_TIMEOUT_S = 60.0
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class KernelLaunch:
    """How to start the kernel process: a command prefix (a sandbox) and its environment."""

    prefix: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))


class _GraderKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is this Python's ipykernel, optionally behind a launch prefix."""

    launch_prefix: list[str] = []

    @property
    def kernel_spec(self) -> KernelSpec:
        argv = [*self.launch_prefix, sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        return KernelSpec(argv=argv, display_name="grader", language="python", interrupt_mode="signal")


@dataclass
class Execution:
    """The record of one run plus what later stages need: the executed notebook and the probe cell's fate."""

    record: ExecutionRecord
    notebook: nbformat.NotebookNode


def clip(text: str, cap: int) -> str:
    """Keep the head and tail of a long text."""
    if len(text) <= cap:
        return text
    half = cap // 2
    return f"{text[:half]}\n… [{len(text) - cap} characters cut] …\n{text[-half:]}"


def _text_of(outputs: list) -> str:
    parts: list[str] = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output.get("text", ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", "") + "\n")
    return clip("".join(parts), STDOUT_CAP)


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
    stdout = _text_of(cell.get("outputs", []))
    if error is None:
        return CellRecord(number=number, status="ok", duration_s=duration_s, stdout=stdout)
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
        stdout=stdout,
    )


def seed_source(seed: int) -> str:
    """Source of the hidden first cell that seeds every random generator the course uses."""
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


class _Watchdog:
    """Kills the kernel's process group when the whole run outlives its deadline (a kernel that ignores interrupts)."""

    def __init__(self, seconds: float, kill: Callable[[], None]):
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire, args=(kill,))
        self._timer.daemon = True

    def _fire(self, kill: Callable[[], None]) -> None:
        self.fired = True
        kill()

    def __enter__(self) -> "_Watchdog":
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class NotebookRunner:
    """Runs one notebook cell by cell; every cell runs even after one raised."""

    def __init__(self, notebook: nbformat.NotebookNode, workdir: Path, timeouts: Timeouts, launch: KernelLaunch):
        self.notebook = copy.deepcopy(notebook)
        # nbclient stores every executed cell back at its index: grader cells get a slot past the student's.
        self.grader_slot = len(self.notebook.cells)
        self.notebook.cells.append(nbformat.v4.new_code_cell(""))
        self.timeouts = timeouts
        self.launch = launch
        self.workdir = workdir
        manager = _GraderKernelManager()
        manager.launch_prefix = launch.prefix
        self.client = NotebookClient(
            self.notebook,
            km=manager,
            timeout=int(timeouts.cell),
            allow_errors=True,
            interrupt_on_timeout=False,
            startup_timeout=int(STARTUP_TIMEOUT_S),
            record_timing=False,
            resources={"metadata": {"path": str(workdir)}},
        )
        self.kernel_dead = False

    def kill_kernel(self) -> None:
        """SIGKILL the kernel's whole process group."""
        provisioner = getattr(self.client.km, "provisioner", None)
        pgid = getattr(provisioner, "pgid", None)
        try:
            if pgid:
                os.killpg(pgid, signal.SIGKILL)
            elif provisioner is not None and provisioner.process is not None:
                provisioner.process.kill()
        except (ProcessLookupError, PermissionError):
            pass

    def _run_source(self, source: str, timeout: float) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell(source)
        self.client.timeout = max(1, int(timeout))
        self.client.execute_cell(cell, self.grader_slot, store_history=False)
        return cell

    def _recover_from_timeout(self) -> bool:
        """Interrupt the kernel; True when it answers again within the grace period."""
        run_sync(self.client.km.interrupt_kernel)()
        try:
            self._run_source("pass", INTERRUPT_GRACE_S)
        except (CellTimeoutError, DeadKernelError):
            self.kill_kernel()
            self.kernel_dead = True
            return False
        return True

    def _timed_cell(self, index: int, deadline: float) -> CellRecord:
        cell = self.notebook.cells[index]
        number = index + 1
        remaining = deadline - time.monotonic()
        self.client.timeout = max(1, int(min(self.timeouts.cell, remaining)))
        started = time.monotonic()
        try:
            self.client.execute_cell(cell, index)
        except CellTimeoutError:
            duration = time.monotonic() - started
            limit = "cell" if self.timeouts.cell <= remaining else "notebook"
            responsive = self._recover_from_timeout()
            message = f"stopped after {duration:.0f}s: the {limit} time limit is {self._limit_s(limit):.0f}s"
            if not responsive:
                message += "; the cell ignored the interrupt, so the kernel was stopped"
            return CellRecord(number=number, status="timeout", duration_s=duration, error_name="Timeout",
                              error_message=message, stdout=_text_of(cell.get("outputs", [])))
        except DeadKernelError:
            self.kernel_dead = True
            return CellRecord(number=number, status="kernel_died", duration_s=time.monotonic() - started,
                              error_name="KernelDied", error_message="the kernel process died while this cell ran")
        return cell_record(number, cell, time.monotonic() - started)

    def _limit_s(self, which: str) -> float:
        return self.timeouts.cell if which == "cell" else self.timeouts.notebook

    def run_cells(self, record: ExecutionRecord) -> None:
        """Run the student's code cells within the notebook deadline."""
        deadline = time.monotonic() + self.timeouts.notebook
        for index, cell in enumerate(self.notebook.cells[: self.grader_slot]):
            if cell.cell_type != "code":
                continue
            if self.kernel_dead or time.monotonic() >= deadline:
                record.cells.append(CellRecord(number=index + 1, status="not_run"))
                continue
            cell_result = self._timed_cell(index, deadline)
            record.cells.append(cell_result)
            if cell_result.status == "timeout" and time.monotonic() >= deadline - 1:
                deadline = time.monotonic()

    def run_probe(self, source: str) -> ProbeRecord:
        """Run the grader's probe cell in the same kernel."""
        if self.kernel_dead:
            return ProbeRecord(status="not_run", message="the kernel was no longer running")
        started = time.monotonic()
        try:
            cell = self._run_source(source, self.timeouts.probe)
        except CellTimeoutError:
            self._recover_from_timeout()
            return ProbeRecord(status="timeout", duration_s=time.monotonic() - started,
                               message=f"the probe did not finish within {self.timeouts.probe:.0f}s")
        except DeadKernelError:
            self.kernel_dead = True
            return ProbeRecord(status="error", duration_s=time.monotonic() - started,
                               message="the kernel died while the grader probed the notebook")
        duration = time.monotonic() - started
        error = _error_of(cell.get("outputs", []))
        if error is not None:
            return ProbeRecord(status="error", duration_s=duration,
                               message=f"{error.get('ename')}: {ANSI.sub('', str(error.get('evalue', '')))[:500]}")
        return ProbeRecord(status="ok", duration_s=duration)


def _overall_status(record: ExecutionRecord) -> tuple[str, str]:
    for cell in record.cells:
        if cell.status == "kernel_died":
            return "kernel_died", f"the kernel died in cell {cell.number}"
    for cell in record.cells:
        if cell.status == "timeout":
            return "timeout", f"cell {cell.number} hit the time limit: {cell.error_message}"
    skipped = [cell.number for cell in record.cells if cell.status == "not_run"]
    if skipped:
        return "timeout", f"the notebook time limit stopped the run before cell {skipped[0]}"
    return "completed", ""


def execute(
    notebook: nbformat.NotebookNode,
    workdir: Path,
    timeouts: Timeouts,
    seed: int,
    probe_source: Callable[[], str] | None = None,
    launch: KernelLaunch | None = None,
) -> Execution:
    """Run every code cell, then the probe cell built by `probe_source()` (called only once the cells are done)."""
    runner = NotebookRunner(notebook, workdir, timeouts, launch or KernelLaunch())
    record = ExecutionRecord()
    started = time.monotonic()
    whole_run_s = STARTUP_TIMEOUT_S + timeouts.notebook + timeouts.probe + 3 * INTERRUPT_GRACE_S
    with _Watchdog(whole_run_s, runner.kill_kernel) as watchdog:
        try:
            with runner.client.setup_kernel(cwd=str(workdir), env=runner.launch.env):
                runner._run_source(seed_source(seed), timeouts.cell)
                runner.run_cells(record)
                if probe_source is not None:
                    record.probe = runner.run_probe(probe_source())
        except DeadKernelError:
            runner.kernel_dead = True
        except RuntimeError as error:
            record.status, record.message = "kernel_died", f"the kernel could not be started: {error}"
            record.duration_s = time.monotonic() - started
            return Execution(record=record, notebook=runner.notebook)
    record.duration_s = time.monotonic() - started
    record.status, record.message = _overall_status(record)
    if watchdog.fired:
        record.status = "timeout"
        record.message = f"the whole run exceeded {whole_run_s:.0f}s and the kernel was stopped"
    runner.notebook.cells.pop()
    return Execution(record=record, notebook=runner.notebook)
