"""Grades a class on a Ray cluster: one Ray task per (student, exercise); every output is written here, on the head.

The head reads each notebook (the checks `grade` always makes), sends its bytes, the rubric and the grading options
as plain data; the task grades it on its node with `grade_one` (its own work dir, sandbox, kernel and staged data)
and returns the result as JSON text. Nothing from a work dir is ever unpickled: Ray serialises only that dict of
strings. The head stores each result and its gradebook row as it arrives, so resume, the gradebook and `grades.csv`
work as with the local pool.

Resources come from the rubric (`resources: {gpu, cpus, memory_mb}`). Ray's fractional GPUs put several notebooks on
one GPU; the kernel sees only the GPU Ray assigned (`CUDA_VISIBLE_DEVICES`, set here: Ray leaves a CPU-only task
whatever the node had) and, on a shared GPU, only its share of the memory (`grader.gpu_share`). A task lost to its
node or worker dying is submitted once more; the notebook's own failures are results, never retried.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import grader
from grader import data, registry
from grader.discover import Submission
from grader.grade.options import Job, Options, environment
from grader.grade.pipeline import grade_one, log_failure, store
from grader.results import GradeResult
from grader.rubric import Rubric
from grader.stage import InvalidNotebook, read_submission

LOCAL = "local"
INSTALL_HINT = "pip install -e '.[cluster]'"
MiB = 2**20
SYSTEM_FAILURE_ATTEMPTS = 2  # a task lost to its node or worker is graded once more, elsewhere when the node is gone


class ClusterError(Exception):
    """Ray cannot be used for this run; the message is one sentence for the TA."""


@dataclass(frozen=True)
class Request:
    """What one notebook reserves on a node."""

    cpus: float
    gpus: float
    memory_mb: int

    @classmethod
    def of(cls, rubric: Rubric) -> "Request":
        return cls(rubric.resources.cpus, rubric.resources.gpu, rubric.reserved_memory_mb)

    def ray_options(self) -> dict[str, Any]:
        return {"num_cpus": self.cpus, "num_gpus": self.gpus, "memory": self.memory_mb * MiB}

    def describe(self) -> str:
        gpu = f", {self.gpus:g} GPU" if self.gpus else ""
        return f"{self.cpus:g} CPU{gpu}, {self.memory_mb} MiB of memory"


def fits(request: Request, node_resources: list[dict[str, float]]) -> bool:
    """Whether some node, empty, could run the task (else Ray would keep it waiting forever)."""
    return any(node.get("CPU", 0) >= request.cpus and node.get("GPU", 0) >= request.gpus
               and node.get("memory", 0) >= request.memory_mb * MiB for node in node_resources)


# --------------------------------------------------------------------------- on the node


_prepared: set[tuple[str, bool]] = set()


def _prepare_data(names: list[str], quick: bool) -> None:
    """Build this node's quick-mode stand-ins once per worker process; missing full data is graded as an error
    naming `grader data fetch`, as on the head."""
    wanted = {(name, quick) for name in names} - _prepared
    data.prepare({name for name, _ in wanted}, quick)
    _prepared.update(wanted)


def _node_name() -> str:
    import ray

    return f"{socket.gethostname()} (Ray node {ray.get_runtime_context().get_node_id()[:8]})"


def _has_nvidia_driver() -> bool:
    """Read without importing torch: a task given a fake GPU (a test cluster) checks on the CPU."""
    return Path("/proc/driver/nvidia/gpus").is_dir()


def grade_task(payload: dict[str, Any]) -> dict[str, Any]:
    """One (student, exercise) on this node: the notebook's bytes in, the result's JSON out."""
    import ray

    gpu_ids = [str(gpu) for gpu in ray.get_gpu_ids()]
    # Ray sets this for GPU tasks only; a CPU-only task would inherit the node's GPUs.
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
    node = _node_name()
    if payload["grader_version"] != grader.__version__:
        return {"problem": f"node {node} runs grader {grader.__version__}, the head {payload['grader_version']}: "
                           "install the same grader on every node", "node": node}
    rubric = Rubric.model_validate(payload["rubric"])
    registry.load_exercise(rubric.module_name)
    settings = payload["options"]
    _prepare_data(rubric.data, settings["quick"])
    course_root = Path(settings["course_root"]) if settings["course_root"] else None
    share = rubric.resources.gpu if gpu_ids and rubric.resources.gpu < 1 else 0.0
    with tempfile.TemporaryDirectory(prefix="grader-task-") as scratch:
        notebook = Path(scratch) / "submissions" / payload["student"] / payload["notebook_name"]
        notebook.parent.mkdir(parents=True)
        notebook.write_bytes(payload["notebook"])
        options = Options(
            out_dir=Path(scratch) / "out", secret=settings["secret"], quick=settings["quick"],
            device=f"cuda:{','.join(gpu_ids)}" if gpu_ids else "cpu",
            check_device="cuda:0" if gpu_ids and _has_nvidia_driver() else "cpu",
            keep_workdirs=settings["keep_workdirs"], isolate=settings["isolate"],
            require_sandbox=settings["require_sandbox"], memory_limit_mb=settings["memory_limit_mb"],
            disk_limit_mb=settings["disk_limit_mb"], force=True,
            course_root=course_root if course_root is not None and course_root.is_dir() else None, gpu_share=share)
        result = grade_one(Submission(payload["student"], rubric.exercise, notebook), rubric, options)
        assert result.environment is not None
        result.environment.node = node
        errors_log = options.out_dir / ".grader" / "errors.log"
        log = errors_log.read_text(encoding="utf-8", errors="replace") if errors_log.is_file() else ""
    return {"result": result.model_dump_json(), "retry": result.retry, "log": log, "node": node}


# --------------------------------------------------------------------------- on the head


@dataclass
class Connection:
    """The Ray this run grades on; a Ray this run started (or joined) is shut down or left at the end."""

    ray: Any
    owned: bool

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--cluster needs Ray, which is not installed here: {INSTALL_HINT}") from None
    return ray


def connect(address: str) -> Connection:
    """`local`: start a Ray on this machine; `auto` or `ray://HOST:PORT`: join a running cluster.

    A Ray this process already runs (a test's fake cluster) is used as it is.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return Connection(ray, owned=False)
    try:
        if address == LOCAL:
            ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {error}") from None
    return Connection(ray, owned=True)


def _failed(job: Job, options: Options, message: str) -> GradeResult:
    """A notebook the cluster could not grade: status error, one sentence, stored like any result."""
    result = GradeResult(student=job.submission.student, exercise=job.submission.exercise, title=job.rubric.title,
                         status="error", max_score=job.rubric.max_score, environment=environment(options),
                         message=message, notebook=str(job.submission.notebook or ""))
    return store(result, job.submission, job.rubric, options)


def _payload(job: Job, options: Options, raw: bytes) -> dict[str, Any]:
    assert job.submission.notebook is not None
    return {
        "student": job.submission.student, "notebook_name": job.submission.notebook.name, "notebook": raw,
        "rubric": job.rubric.model_dump(mode="json"), "grader_version": grader.__version__,
        "options": {"secret": options.secret, "quick": options.quick, "keep_workdirs": options.keep_workdirs,
                    "isolate": options.isolate, "require_sandbox": options.require_sandbox,
                    "memory_limit_mb": options.memory_limit_mb, "disk_limit_mb": options.disk_limit_mb,
                    "course_root": str(options.course_root.resolve()) if options.course_root else None},
    }


def _lost_sentence(error: Exception) -> str:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}{': ' + first_line[:200] if first_line else ''}"


@dataclass
class _Task:
    job: Job
    payload: dict[str, Any]
    attempt: int = 1
    lost: str = ""  # why the previous attempt was lost


class _Run:
    """Submits tasks (a bounded number in flight), collects results as they finish, resubmits lost ones once."""

    def __init__(self, ray: Any, options: Options, on_result: Callable[[GradeResult], None]):
        self.ray = ray
        self.options = options
        self.on_result = on_result
        self.remote = ray.remote(grade_task)
        self.in_flight: dict[Any, _Task] = {}
        self.results: list[GradeResult] = []
        self.window = max(32, 2 * int(ray.cluster_resources().get("CPU", 1)))

    def _finish(self, result: GradeResult) -> None:
        self.results.append(result)
        self.on_result(result)

    def _submit(self, task: _Task) -> None:
        request = Request.of(task.job.rubric)
        remote = self.remote.options(**request.ray_options(), max_retries=0, retry_exceptions=False,
                                     name=f"grade {task.job.submission.student}/{task.job.submission.exercise}")
        self.in_flight[remote.remote(task.payload)] = task

    def _collect(self, ref: Any) -> None:
        task = self.in_flight.pop(ref)
        job = task.job
        try:
            answer = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as error:
            # The grader's own code raised on the node: a bug, not the notebook's doing and not the node's.
            log_failure(self.options.out_dir, job.submission, str(error))
            self._finish(_failed(job, self.options, f"the grading task failed on its node "
                                                    f"({type(getattr(error, 'cause', error)).__name__}); see the grader log"))
            return
        except self.ray.exceptions.RayError as error:
            # The node or the worker died (or Ray lost the task): nothing the notebook decided; once more.
            if task.attempt < SYSTEM_FAILURE_ATTEMPTS:
                self._submit(_Task(job, task.payload, task.attempt + 1, _lost_sentence(error)))
                return
            log_failure(self.options.out_dir, job.submission, traceback.format_exc())
            self._finish(_failed(job, self.options, f"not graded: its task was lost {task.attempt} times, the last "
                                                    f"time with {_lost_sentence(error)}"))
            return
        if "problem" in answer:
            self._finish(_failed(job, self.options, answer["problem"]))
            return
        self._finish(self._store(task, answer))

    def _store(self, task: _Task, answer: dict[str, Any]) -> GradeResult:
        job = task.job
        result = GradeResult.model_validate_json(answer["result"])
        result.notebook = str(job.submission.notebook)
        if task.lost:
            note = (f"Graded again on {answer['node']}: the first attempt was lost with its node or worker "
                    f"({task.lost}).")
            result.message = f"{result.message} {note}".strip()
        if answer["log"]:
            log_failure(self.options.out_dir, job.submission, answer["log"])
        stored = store(result, job.submission, job.rubric, self.options)
        stored.retry = stored.retry or answer["retry"]
        return stored

    def grade(self, jobs: list[Job]) -> list[GradeResult]:
        nodes = [node["Resources"] for node in self.ray.nodes() if node.get("Alive")]
        waiting: deque[_Task] = deque()
        for job in jobs:
            request = Request.of(job.rubric)
            if not fits(request, nodes):
                self._finish(_failed(job, self.options, f"not graded: no node of the cluster has what its rubric "
                                                        f"reserves ({request.describe()})"))
                continue
            try:
                assert job.submission.notebook is not None
                waiting.append(_Task(job, _payload(job, self.options, read_submission(job.submission.notebook))))
            except (InvalidNotebook, OSError):
                # Refused before any kernel: grading it here costs nothing and records why, as the pool does.
                self._finish(grade_one(job.submission, job.rubric, self.options))
        try:
            while waiting or self.in_flight:
                while waiting and len(self.in_flight) < self.window:
                    self._submit(waiting.popleft())
                ready, _ = self.ray.wait(list(self.in_flight), num_returns=1)
                for ref in ready:
                    self._collect(ref)
        finally:
            # Ctrl-C or an error here: the tasks still running are killed, and their kernels with them.
            for ref in self.in_flight:
                try:
                    self.ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - a task Ray already lost track of has nothing left to cancel
                    continue
        return self.results


def grade_on_cluster(jobs: list[Job], options: Options, on_result: Callable[[GradeResult], None],
                     address: str) -> list[GradeResult]:
    """Grade every job on Ray; notebooks with nothing to run (not submitted) are recorded here without Ray."""
    results = []
    runnable = []
    for job in jobs:
        if job.submission.notebook is None:
            results.append(grade_one(job.submission, job.rubric, options))
            on_result(results[-1])
        else:
            runnable.append(job)
    if not runnable:
        return results
    connection = connect(address)
    try:
        return results + _Run(connection.ray, options, on_result).grade(runnable)
    finally:
        connection.close()

