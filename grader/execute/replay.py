"""Replay logic: a notebook's whole run over one or more kernels.

A kernel that dies (or is stopped for a limit) is replaced: in a restored work dir and a fresh runtime folder, a
fresh kernel re-runs the cells before the fatal one, skips it, runs the rest and is probed, so work after a crash
still counts. One notebook deadline and one whole-run deadline span every attempt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
from nbclient.exceptions import DeadKernelError

from grader.execute.client import INTERRUPT_GRACE_S, STARTUP_TIMEOUT_S, KernelLaunch, NotebookRunner
from grader.execute.limits import Deadline, MiB, Watchdog
from grader.results import CellRecord, ExecutionRecord, ProbeRecord
from grader.rubric import Timeouts
from grader.stage import restore

MAX_REPLAYS = 2


@dataclass
class Execution:
    """The record of one run plus what later stages need: the executed notebook and the probe cell's fate."""

    record: ExecutionRecord
    notebook: nbformat.NotebookNode
    host_disk_full: bool = False  # the machine's disk filled up while the notebook stayed under its own limit
    probe_stream: list[dict] = field(default_factory=list)  # the measuring messages the probe cell sent
    boot: dict | None = None  # the fingerprint the probed kernel sent as it booted
    start_error: str = ""  # why a kernel could not be started (the machine's doing: no student code ran in it yet)


@dataclass
class _Attempt:
    """What one kernel's run produced."""

    records: dict[int, CellRecord]
    probe: ProbeRecord | None
    fatal_index: int | None
    watchdog_fired: bool
    peak_bytes: int
    start_error: str = ""


def _attempt(runner: NotebookRunner, probe_source: Callable[[], str] | None, budget_s: float,
             deadline: Deadline) -> _Attempt:
    """Start the kernel (unless already started), run the cells until `deadline`; probe only if the kernel survived
    them.

    Every process dies after."""
    records: dict[int, CellRecord] = {}
    probe: ProbeRecord | None = None
    with Watchdog(budget_s, runner.kill_kernel) as watchdog:
        try:
            with runner.client.setup_kernel(**runner._start_arguments()):
                records = runner.run_cells(deadline)
                if probe_source is not None and runner.fatal_index is None:
                    probe = runner.run_probe(probe_source())
                runner.watch.poll()  # the tree as it is now, before shutdown orphans its background processes
        except DeadKernelError:
            runner.kernel_dead = True
        except RuntimeError as error:
            detail = runner.stderr.last_line() if runner.stderr else ""
            return _Attempt({}, None, None, watchdog.fired, runner.watch.peak_bytes,
                            f"{error}{f' ({detail})' if detail else ''}")
        finally:
            runner.watch.poll_disk()
            runner.close()
    if watchdog.fired:
        runner.fatal_index = None
    return _Attempt(records, probe, runner.fatal_index, watchdog.fired, runner.watch.peak_bytes)


def _overall_status(record: ExecutionRecord) -> tuple[str, str]:
    for status, text in (("memory_limit", "the memory limit stopped the kernel in cell {}"),
                         ("disk_limit", "the disk limit stopped the kernel in cell {}"),
                         ("kernel_died", "the kernel died in cell {}")):
        for cell in record.cells:
            if cell.status == status:
                return status, text.format(cell.number) + (f": {cell.error_message}" if cell.error_message else "")
    for cell in record.cells:
        if cell.status == "timeout":
            return "timeout", f"cell {cell.number} hit the time limit: {cell.error_message}"
    skipped = [cell.number for cell in record.cells if cell.status == "not_run"]
    if skipped:
        return "timeout", f"the notebook time limit stopped the run before cell {skipped[0]}"
    return "completed", ""


def _replay_message(skipped: list[int]) -> str:
    numbers = ", ".join(str(index + 1) for index in skipped)
    many = len(skipped) > 1
    return (f"after the kernel stopped, a fresh kernel re-ran the cells before cell{'s' if many else ''} {numbers}, "
            f"skipped {'them' if many else 'it'} and ran the rest, so the work after "
            f"{'them' if many else 'it'} could still be graded")


def _collapse_not_run(cells: list[CellRecord]) -> list[CellRecord]:
    """One record for each run of consecutive code cells that never ran (200 000 empty records are 50 MB of JSON)."""
    collapsed: list[CellRecord] = []
    for cell in cells:
        last = collapsed[-1] if collapsed else None
        if cell.status == "not_run" and last is not None and last.status == "not_run":
            last.last_number = cell.number
        else:
            collapsed.append(cell)
    return collapsed


def execute(
    notebook: nbformat.NotebookNode,
    workdir: Path,
    timeouts: Timeouts,
    seed: int,
    probe_source: Callable[[], str] | None = None,
    launch: KernelLaunch | None = None,
    memory_limit_mb: int | None = None,
    first_kernel: NotebookRunner | None = None,
    disk_limit_mb: int | None = None,
) -> Execution:
    """Run every code cell, then the probe cell built by `probe_source()` (called only once the cells are done).

    When the kernel dies in a cell (or is stopped for a limit), up to MAX_REPLAYS fresh kernels replay the cells
    before it, skip it and run the rest, each in the work dir restored as staged; the records of cells after a fatal
    one come from the replay. One notebook deadline and one whole-run deadline span every attempt.
    `first_kernel` is the first kernel, already launched by `start_kernel` with the same arguments.
    """
    launch = launch or KernelLaunch()
    record = ExecutionRecord(isolated=launch.isolated, isolation=launch.isolation)
    started = time.monotonic()
    whole_run_s = STARTUP_TIMEOUT_S + timeouts.notebook + timeouts.probe + 3 * INTERRUPT_GRACE_S
    notebook_deadline = Deadline(timeouts.notebook)
    cells: dict[int, CellRecord] = {}
    skipped: list[int] = []
    outcome: _Attempt | None = None
    host_disk_full = False
    for attempt in range(MAX_REPLAYS + 1):
        if attempt == 0:
            runner = first_kernel or NotebookRunner(notebook, workdir, timeouts, launch, seed, memory_limit_mb,
                                                    disk_limit_mb=disk_limit_mb)
        else:
            restore(workdir, runner.pristine)
            boot_report = runner.boot_report
            runner = NotebookRunner(notebook, workdir, timeouts, launch, seed, memory_limit_mb, frozenset(skipped),
                                    disk_limit_mb, runner.pristine)
            runner.boot_report = boot_report
        outcome = _attempt(runner, probe_source, started + whole_run_s - time.monotonic(), notebook_deadline)
        record.memory_peak_mb = round(max(record.memory_peak_mb, outcome.peak_bytes / MiB), 1)
        record.disk_peak_mb = round(max(record.disk_peak_mb, runner.watch.disk_peak_bytes / MiB), 1)
        record.cpu_s = round(record.cpu_s + runner.watch.cpu_s, 2)
        host_disk_full = host_disk_full or runner.watch.host_disk_full
        if outcome.start_error:
            break
        cells.update({i: cell for i, cell in outcome.records.items() if i > max(skipped, default=-1)})
        record.probe = outcome.probe or record.probe
        if outcome.fatal_index is None or attempt == MAX_REPLAYS or outcome.watchdog_fired:
            break
        skipped.append(outcome.fatal_index)
    assert outcome is not None
    record.cells = _collapse_not_run([cells[index] for index in sorted(cells)])
    record.duration_s = time.monotonic() - started
    record.status, record.message = _overall_status(record)
    if outcome.start_error:
        record.status, record.message = "kernel_died", f"the kernel could not be started: {outcome.start_error}"
    elif outcome.watchdog_fired:
        record.status = "timeout"
        record.message = f"the whole run exceeded {whole_run_s:.0f}s and the kernel was stopped"
    if skipped:
        record.replayed = True
        record.replay_message = _replay_message(skipped)
        record.message = f"{record.message}; {record.replay_message}"
    runner.notebook.cells.pop()
    return Execution(record=record, notebook=runner.notebook, host_disk_full=host_disk_full,
                     probe_stream=runner.probe_stream, boot=runner.boot, start_error=outcome.start_error)


def start_kernel(notebook: nbformat.NotebookNode, workdir: Path, timeouts: Timeouts, seed: int,
                 launch: KernelLaunch | None = None, memory_limit_mb: int | None = None,
                 disk_limit_mb: int | None = None) -> NotebookRunner:
    """Launch the first kernel for `execute(..., first_kernel=)` now, so that it boots while the grader does other work."""
    runner = NotebookRunner(notebook, workdir, timeouts, launch or KernelLaunch(), seed, memory_limit_mb,
                            disk_limit_mb=disk_limit_mb)
    runner.start()
    return runner
