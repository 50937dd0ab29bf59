"""The measuring step, grader side: a fresh kernel where the notebook's top-level code never ran, and the reading
of what a probe streamed.

For exercises whose contract is definitions (an `Exercise` spec with `measured_apart=True`), a second sandboxed
kernel, in a work dir staged apart, runs only the statements `measure_select` keeps, then the probe; each value
reaches the grader as an IOPub message as soon as it is measured. It starts with the notebook's own kernel and runs
beside it. Every probe (here or in the notebook's kernel) also reports tampering evidence, read by `verdict`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import errno
import hashlib
import shutil
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import nbformat

from grader.results import CellRecord, ExecutionRecord, MeasuringRecord, ProbeRecord

MEASURING_NOTE = "in the grader's measuring kernel, which runs only the notebook's imports and definitions"


@dataclass
class StreamVerdict:
    """What a probe's messages say: the values (None when unusable), why not, and any tampering evidence."""

    data: Any = None
    problem: str = ""
    evidence: list[str] = field(default_factory=list)


def _fingerprint_changes(boot: dict | None, seen: dict | None) -> list[str]:
    if not isinstance(boot, dict) or not isinstance(seen, dict):
        return []
    return [f"{name} is not the object it was when the kernel started (replaced, or its code swapped)"
            for name, identity in boot.items() if seen.get(name) != identity]


def _integrity_evidence(messages: list[dict], boot: dict | None) -> list[str]:
    evidence: list[str] = []
    for message in messages:
        kind, value = message.get("kind"), message.get("value")
        if kind == "tampered" and isinstance(value, list):
            evidence += [str(item) for item in value]
        elif kind == "integrity" and isinstance(value, dict):
            evidence += [str(item) for item in value.get("evidence", []) if isinstance(value.get("evidence"), list)]
            evidence += _fingerprint_changes(boot, value.get("fingerprint"))
        elif kind == "overflow":
            evidence.append("the probe's messages went over the grader's cap")
    return list(dict.fromkeys(evidence))


def _sequence_problem(messages: list[dict]) -> str:
    numbers = [message.get("seq") for message in messages]
    if numbers != list(range(len(numbers))):
        return "messages the grader's probe did not send arrived among its own (out of sequence)"
    return ""


def verdict(messages: list[dict], boot: dict | None, exercise: Any, streamed: bool) -> StreamVerdict:
    """Read a probe cell's messages: evidence of tampering, and (`streamed`) the measured values."""
    from grader.probe import ProbeUnreadable, validated
    from safetensors import SafetensorError
    from safetensors.torch import load

    evidence = _integrity_evidence(messages, boot)
    out_of_order = _sequence_problem(messages)
    if out_of_order and (streamed or messages):
        evidence.append(out_of_order)
    if evidence:
        return StreamVerdict(problem="the notebook tampered with the grader's measurement", evidence=evidence)
    if not streamed:
        return StreamVerdict()
    if not messages or messages[-1].get("kind") != "done":
        return StreamVerdict(problem="the measuring kernel's probe did not finish")
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    tensors: dict[str, Any] = {}
    for message in messages:
        kind, key, value = message.get("kind"), str(message.get("key", "")), message.get("value")
        if kind == "put":
            values[key] = value
        elif kind == "error":
            errors[key] = str(value)
        elif kind == "tensor":
            try:
                tensors[key] = load(base64.b64decode(str(value), validate=True))["t"]
            except (binascii.Error, SafetensorError, KeyError, ValueError) as error:
                return StreamVerdict(problem=f"the probe's tensor {key!r} could not be read ({error})")
    try:
        return StreamVerdict(data=validated(exercise, values, errors, tensors))
    except ProbeUnreadable as unreadable:
        return StreamVerdict(problem=str(unreadable))


def context_execution(notebook_record: ExecutionRecord, measuring_cells: dict[int, CellRecord]) -> ExecutionRecord:
    """The notebook's record, where a cell that ran there but failed in the measuring kernel shows that failure."""
    record = notebook_record.model_copy(deep=True)
    for position, cell in enumerate(record.cells):
        failed = measuring_cells.get(cell.number)
        if failed is not None and failed.status != "ok" and cell.status == "ok":
            failed = failed.model_copy()
            failed.error_message = f"{failed.error_message} ({MEASURING_NOTE})"
            record.cells[position] = failed
    return record


def measuring_notebook(notebook: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook as the measuring kernel runs it (same cells, same line numbers), and what it leaves out."""
    from grader.measure_select import select

    measured = copy.deepcopy(notebook)
    code = [(index, "".join(cell.get("source", ""))) for index, cell in enumerate(measured.cells)
            if cell.get("cell_type") == "code"]
    selection = select(code)
    for index, source in selection.sources.items():
        measured.cells[index].source = source
        measured.cells[index].outputs = []
    return measured, selection.left_out


@dataclass
class MeasuringRun:
    """The measuring kernel's whole run, in a thread started with the notebook's kernel."""

    # Launches the kernel (runner, workdir, notebook), loads the exercise (then `decide`s), selects the cells
    # (left_out) and makes the plan; returns what builds the probe cell, None when the exercise is probed in the
    # notebook.
    prepare: Callable[["MeasuringRun"], Any]
    timeouts: Any
    applies: bool = False
    decided: threading.Event = field(default_factory=threading.Event)
    runner: Any = None
    workdir: Any = None
    notebook: Any = None  # the staged notebook, `!pip install` lines skipped: what the selection is made from
    selected: Any = None  # the notebook as the measuring kernel runs it (`measuring_notebook`)
    relaunch: Callable[[], Any] | None = None  # a fresh runner like the first, for a kernel that died as it started
    plan: Any = None
    exercise: Any = None
    left_out: list[str] = field(default_factory=list)
    cells: dict[int, CellRecord] = field(default_factory=dict)
    probe: ProbeRecord = field(default_factory=ProbeRecord)
    messages: list[dict] = field(default_factory=list)
    boot: dict | None = None
    failure: BaseException | None = None
    duration_s: float = 0.0
    # time.monotonic() at the thread's start, the kernel's launch (set by `prepare`), its answer, the cells' end
    started_at: float = 0.0
    launched_at: float = 0.0
    ready_at: float = 0.0
    cells_done_at: float = 0.0
    waited_s: float = 0.0
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="grader-measuring", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from grader.execute.client import close_thread_event_loop
        from grader.execute.limits import Watchdog

        started = time.monotonic()
        try:
            probe_source = self.prepare(self)
            self.decide(probe_source is not None)
            if probe_source is None:
                return
            budget = 60 + self.timeouts.notebook + self.timeouts.probe + 30
            with Watchdog(budget, lambda: self.runner.kill_kernel()):
                try:
                    self._measure(probe_source)
                except RuntimeError:
                    # The kernel died before it answered (seen on a loaded machine): once more with a fresh one.
                    if self.ready_at or self.relaunch is None:
                        raise
                    self.runner.close()
                    self.runner = self.relaunch()
                    self.runner.use_cells(self.selected)
                    try:
                        self._measure(probe_source)
                    except RuntimeError as again:
                        if self.ready_at:
                            raise
                        # Twice before any cell ran: the machine's doing, graded again after the others.
                        raise OSError(errno.EAGAIN, f"the measuring kernel could not be started: {again}") from again
        except BaseException as error:  # noqa: BLE001 - reported by the pipeline as the grader's failure
            self.failure = error
        finally:
            self.decided.set()
            self.duration_s = time.monotonic() - started
            if self.runner is not None:
                self.runner.close()
            close_thread_event_loop()

    def _measure(self, probe_source: Callable[[], str]) -> None:
        from grader.execute.limits import Deadline

        with self.runner.client.setup_kernel(**self.runner._start_arguments()):
            self.ready_at = time.monotonic()
            self.cells = {record.number: record
                          for record in self.runner.run_cells(Deadline(self.timeouts.notebook)).values()}
            self.cells_done_at = time.monotonic()
            self.probe = self.runner.run_probe(probe_source())
            self.messages, self.boot = self.runner.probe_stream, self.runner.boot

    def decide(self, applies: bool) -> None:
        """Known once the exercise is loaded: the notebook's kernel need not wait for the rest of `prepare`."""
        if not self.decided.is_set():
            self.applies = applies
            self.decided.set()

    def measured_apart(self) -> bool:
        """Whether this exercise is measured here (known once the thread has loaded its module)."""
        self.decided.wait()
        if self.failure is not None:
            raise self.failure
        return self.applies

    def wait(self) -> None:
        waiting = time.monotonic()
        if self._thread is not None:
            self._thread.join()
        self.waited_s = time.monotonic() - waiting
        if self.failure is not None:
            raise self.failure

    def record(self) -> MeasuringRecord:
        """Where the measuring kernel's time went."""
        def span(start: float, end: float) -> float:
            return round(end - start, 3) if start and end else 0.0

        return MeasuringRecord(launched_after_s=span(self.started_at, self.launched_at),
                               boot_s=span(self.launched_at, self.ready_at),
                               cells_s=span(self.ready_at, self.cells_done_at), probe_s=round(self.probe.duration_s, 3),
                               waited_s=round(self.waited_s, 3))

    def close(self, keep_workdir: bool = False) -> None:
        if self._thread is not None and self._thread.is_alive() and self.runner is not None:
            self.runner.kill_kernel()
            self._thread.join(timeout=30)
        if self.workdir is not None and not keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def notebook_sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
