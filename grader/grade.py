"""Grades submissions: runs one (student, exercise) through every stage, or a whole class across workers."""

from __future__ import annotations

import errno
import hashlib
import importlib.metadata
import json
import logging
import multiprocessing
import os
import platform
import shutil
import sqlite3
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from time import monotonic
from typing import Callable

import nbformat
from pydantic import ValidationError

import grader
from grader import data, gradebook, installs, kernel_env, registry, report, sandbox, sources
from grader.discover import Submission
from grader.execute import Execution, KernelLaunch, NotebookRunner, execute, start_kernel
from grader.gradebook import Fingerprint
from grader.results import Environment, GradeResult, SkippedLine
from grader.rubric import Rubric
from grader.stage import InvalidNotebook, Staged, read_submission, sha256_of_submission, stage

EXECUTION_SEED = 0
SANDBOXED = "bubblewrap sandbox: read-only system, no network, only its work dir writable"
log = logging.getLogger("grader")


class SandboxRequired(Exception):
    """--require-sandbox was given and no sandbox can be made here; the message says why."""


@dataclass(frozen=True)
class Options:
    """How to grade: where results go, the secret behind probe inputs, quick mode, and the device to use."""

    out_dir: Path
    secret: str
    quick: bool = False
    device: str = "cpu"
    keep_workdirs: bool = False
    check_device: str = "cpu"
    isolate: bool = True
    require_sandbox: bool = False
    memory_limit_mb: int | None = None
    disk_limit_mb: int | None = None
    force: bool = False
    course_root: Path | None = None


@dataclass
class Job:
    submission: Submission
    rubric: Rubric


def probe_seed(secret: str, notebook_sha: str, exercise: str) -> int:
    """Same submission, same secret → same probe inputs; the notebook cannot know them in advance."""
    digest = hashlib.sha256(f"{secret}:{exercise}:{notebook_sha}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2**63)


def environment(options: Options) -> Environment:
    return Environment(python=platform.python_version(), torch=importlib.metadata.version("torch"), device=options.device,
                       grader_version=grader.__version__, quick=options.quick)


def memory_limit_mb(rubric: Rubric, options: Options) -> int:
    return options.memory_limit_mb or rubric.memory_limit_mb


def disk_limit_mb(rubric: Rubric, options: Options) -> int:
    return options.disk_limit_mb or rubric.disk_limit_mb


def isolation_problem(options: Options) -> str:
    """Why kernels will not be isolated ('' when they will); raises SandboxRequired when isolation is required."""
    if not options.isolate:
        problem = "isolation was turned off for this run"
    else:
        problem = sandbox.availability().reason
    if problem and options.require_sandbox:
        raise SandboxRequired(f"isolation is required (--require-sandbox) but {problem}")
    return problem


def kernel_launch(options: Options, workdir: Path, extra_env: dict[str, str], submission: Submission,
                  memory_mb: int, packages: kernel_env.KernelEnv | None = None) -> KernelLaunch:
    """The kernel sees only its assigned GPU (or none), what the staged datasets need, the course's kernel
    environment (`packages`, default: the course's as it is now) and (sandboxed) its work dir."""
    packages = packages if packages is not None else kernel_env.current(options.course_root)
    env = dict(os.environ)
    env["CUDA_VISIBLE_DEVICES"] = options.device.removeprefix("cuda:") if options.device.startswith("cuda:") else ""
    env["PYTHONHASHSEED"] = "0"
    # The probe imports the grader package the grader itself runs (a source checkout on PYTHONPATH included); in
    # the sandbox that folder holds nothing but the grader package.
    grader_root = str(Path(grader.__file__).resolve().parent.parent)
    env = sandbox.kernel_env(env, workdir, {**extra_env, **kernel_env.kernel_variables(packages),
                                            "PYTHONPATH": grader_root})
    problem = isolation_problem(options)
    if problem:
        return KernelLaunch(env=env, isolated=False, isolation=f"not isolated: {problem}")
    secret_roots = [Path(options.out_dir).resolve()]
    if options.course_root is not None:
        secret_roots.append(Path(options.course_root).resolve())
    if submission.notebook is not None:
        secret_roots.append(submission.notebook.resolve().parent.parent)
    layout = sandbox.Layout(
        workdir=workdir,
        readable=sandbox.python_paths(secret_roots) + sandbox.symlink_targets(workdir) + packages.site_dirs,
        hidden=sandbox.hidden_course_paths(options.course_root) + secret_roots,
        shm_bytes=memory_mb * 2**20,
    )
    return KernelLaunch(env=env, isolated=True, isolation=SANDBOXED,
                        sandbox=sandbox.Sandbox(sandbox.availability().bwrap, layout))


def _probe_problem(execution: Execution) -> str:
    record = execution.record
    if record.probe.status == "ok":
        return ""
    if record.status in ("kernel_died", "memory_limit", "disk_limit") and record.probe.status == "not_run":
        return record.message or "the kernel died before the grader could look at the notebook"
    return f"the grader's probe did not complete ({record.probe.message})"


@dataclass
class Launched:
    """A submission staged in its work dir with its first kernel already launched (booting and seeding itself)."""

    submission: Submission
    staged: Staged
    runner: NotebookRunner
    launch: KernelLaunch
    memory_mb: int
    packages: kernel_env.KernelEnv
    notebook: nbformat.NotebookNode  # what the kernel runs: the staged notebook, its `!pip install` lines skipped
    skipped: list[SkippedLine]
    disk_mb: int

    def close(self, keep_workdir: bool = False) -> None:
        """Stop every process of the kernel and (unless kept for debugging) remove the work dir."""
        self.runner.close()
        if not keep_workdir:
            shutil.rmtree(self.staged.workdir, ignore_errors=True)


def start(submission: Submission, rubric: Rubric, options: Options, raw: bytes | None = None) -> Launched:
    """stage, then launch the kernel; raises InvalidNotebook for a file that is not a usable notebook.

    `raw` is the submission's content when the caller has read it already (the file hashed is the file graded).
    """
    assert submission.notebook is not None
    staged = stage(submission.notebook, rubric.exercise, raw=raw)
    try:
        kernel_vars = data.stage_into(staged.workdir, rubric.data, options.quick)
        if rubric.threads:
            kernel_vars |= {name: str(rubric.threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        memory_mb, disk_mb = memory_limit_mb(rubric, options), disk_limit_mb(rubric, options)
        packages = kernel_env.current(options.course_root)
        runnable, skipped = installs.skip_installs(staged.notebook, packages)
        launch = kernel_launch(options, staged.workdir, kernel_vars, submission, memory_mb, packages)
        runner = start_kernel(runnable, staged.workdir, rubric.timeouts, EXECUTION_SEED, launch, memory_mb,
                              disk_mb)
    except BaseException:
        shutil.rmtree(staged.workdir, ignore_errors=True)
        raise
    return Launched(submission, staged, runner, launch, memory_mb, packages, runnable, skipped, disk_mb)


def _run_pipeline(result: GradeResult, submission: Submission, rubric: Rubric, options: Options,
                  launched: Launched | None, raw: bytes) -> None:
    """stage → execute → probe → check → score, filling `result` in place."""
    assert submission.notebook is not None
    if launched is None:
        launched = start(submission, rubric, options, raw)
    # These stages load torch (a second or more): imported once the kernel is booting, the two overlap.
    from grader import probe
    from grader.check import CheckContext, run_checks
    from grader.score import score

    staged = launched.staged
    try:
        exercise = registry.load_exercise(rubric.module_name)
        plan = probe.make_plan(exercise, rubric.probe, probe_seed(options.secret, result.notebook_sha256,
                                                                   rubric.exercise), options.quick)
        probe_dirs: list[Path] = []
        tampered: list[str] = []

        def probe_cell() -> str:
            try:
                probe_dirs.append(probe.write_plan(plan, staged.workdir))
            except probe.ProbeUnreadable as unwritable:
                tampered.append(str(unwritable))
                return "pass"
            return probe.cell_source(exercise, probe_dirs[-1])

        execution = execute(launched.notebook, staged.workdir, rubric.timeouts, EXECUTION_SEED, probe_cell,
                            launched.launch, launched.memory_mb, first_kernel=launched.runner,
                            disk_limit_mb=launched.disk_mb)
        execution.record.skipped = launched.skipped
        installs.explain_missing_modules(execution.record, launched.packages)
        result.execution = execution.record
        if execution.host_disk_full and execution.record.status != "disk_limit":
            # The notebook stayed under its own limit: what failed for lack of space says nothing about its code.
            raise OSError(errno.ENOSPC, "the machine's disk was full while this notebook ran")
        problem = tampered[0] if tampered else _probe_problem(execution)
        measured = None
        if not problem:
            try:
                measured = probe.read(exercise, probe_dirs[0])
            except probe.ProbeUnreadable as unreadable:
                problem = str(unreadable)
        context = CheckContext(rubric=rubric, spec=rubric.checks[0], plan=plan, probe=measured, probe_problem=problem,
                               execution=execution.record, notebook=staged.notebook, quick=options.quick,
                               device=options.check_device)
        runs = run_checks(context)
        result.checks, result.score = score(rubric, runs)
        result.status = {"completed": "graded", "timeout": "timeout", "kernel_died": "kernel_died",
                         "memory_limit": "memory_limit", "disk_limit": "disk_limit"}.get(execution.record.status,
                                                                                          "error")
        result.message = execution.record.message
        crashed = [run.spec.id for run in runs if run.crashed]
        if crashed:
            result.status = "error"
            result.message = f"the grader failed on check(s) {', '.join(crashed)}; the score may be too low"
    finally:
        launched.close(options.keep_workdirs)


def grade_one(submission: Submission, rubric: Rubric, options: Options,
              launched: Launched | None = None) -> GradeResult:
    """Grade one (student, exercise); never raises: a grader failure becomes status 'error' with one sentence.

    `launched` is this submission's work dir and kernel when `start_first` launched them early.
    """
    started = monotonic()
    result = GradeResult(student=submission.student, exercise=submission.exercise, title=rubric.title,
                         status="error", max_score=rubric.max_score, environment=environment(options),
                         graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if submission.notebook is None:
        result.status = "not_submitted"
        result.message = f"no {submission.exercise}.ipynb in the folder {submission.student}/"
    else:
        result.notebook = str(submission.notebook)
        try:
            raw = launched.staged.raw if launched is not None else read_submission(submission.notebook)
            result.notebook_sha256 = hashlib.sha256(raw).hexdigest()
            _run_pipeline(result, submission, rubric, options, launched, raw)
        except InvalidNotebook as invalid:
            result.status, result.message = "invalid_notebook", f"{submission.notebook.name}: {invalid}."
        except data.DataMissing as missing:
            result.status, result.message = "error", f"{missing}."
        except SandboxRequired as required:
            result.status, result.message = "error", f"not graded: {required}."
        except OSError as error:
            # The notebook was read; this failed on the grader's side (a full disk, a vanished folder): not the
            # student's doing, so the batch grades it again once the others are done.
            _failed(result, f"the grader could not finish ({error.strerror or error}); see the grader log")
            result.retry = True
            _log_failure(options.out_dir, submission, traceback.format_exc())
        except Exception as error:  # noqa: BLE001 - one notebook must never stop the batch
            _failed(result, f"the grader itself failed ({type(error).__name__}: {error}); see the grader log")
            _log_failure(options.out_dir, submission, traceback.format_exc())
    result.duration_s = round(monotonic() - started, 3)
    try:
        report.write_result(options.out_dir, result)
    except (OSError, ValueError):
        result.retry = True
        _log_failure(options.out_dir, submission, traceback.format_exc())
        return result
    if submission.notebook is not None and result.notebook_sha256:
        try:
            gradebook.record(options.out_dir, result, fingerprint(submission, rubric, options, result.notebook_sha256))
        except (sqlite3.Error, OSError):
            # The result itself is stored; without its gradebook row it is only regraded on the next run.
            _log_failure(options.out_dir, submission, traceback.format_exc())
    return result


def _failed(result: GradeResult, message: str) -> None:
    result.status, result.message, result.score, result.checks = "error", message, 0.0, []


def _sha256_or_empty(path: Path | None) -> str:
    return data.sha256_of(path) if path is not None and path.is_file() else ""


def fingerprint(submission: Submission, rubric: Rubric, options: Options, notebook_sha: str = "") -> Fingerprint:
    """Everything a stored result depends on; a rerun reuses the result only while all of it is unchanged."""
    assert submission.notebook is not None
    reference = options.course_root / "reference" / f"{rubric.exercise}.ipynb" if options.course_root else None
    settings = {"quick": options.quick, "memory_limit_mb": memory_limit_mb(rubric, options),
                "kernel_env": kernel_env.current(options.course_root).built_key,
                "disk_limit_mb": disk_limit_mb(rubric, options)}
    return Fingerprint(
        notebook_sha256=notebook_sha or sha256_of_submission(submission.notebook),
        rubric_sha256=hashlib.sha256(rubric.model_dump_json().encode()).hexdigest(),
        reference_sha256=_sha256_or_empty(reference),
        module_sha256=sources.exercise_sources_sha256(rubric.module_name),
        grader_version=grader.__version__,
        settings=json.dumps(settings, sort_keys=True),
    )


def stored_result(submission: Submission, rubric: Rubric, options: Options) -> GradeResult | None:
    """The stored result of this (student, exercise) when nothing it depends on changed since; else None."""
    if options.force or submission.notebook is None:
        return None
    try:
        current = fingerprint(submission, rubric, options)
        if gradebook.latest_hash(options.out_dir, submission.student, submission.exercise) != current.content_hash:
            return None
        json_path, _ = report.result_paths(options.out_dir, submission.student, submission.exercise)
        result = GradeResult.model_validate_json(json_path.read_bytes())
    except (OSError, ValueError, ValidationError, InvalidNotebook):
        return None
    return result if result.notebook_sha256 == current.notebook_sha256 else None


def _log_failure(out_dir: Path, submission: Submission, text: str) -> None:
    """Grader bugs go to a log for the TA, never into a student's report; a log that cannot be written (a full
    disk) goes to the logger instead: logging a failure never fails."""
    entry = f"--- {submission.student}/{submission.exercise}\n{text}\n"
    try:
        path = out_dir / ".grader" / "errors.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(entry)
    except OSError:
        log.error("%s", entry)


# --------------------------------------------------------------------------- a whole class

_worker_device = "cpu"


def _init_worker(devices: "multiprocessing.Queue[str]") -> None:
    """Pin this worker process to one device for its lifetime."""
    global _worker_device
    _worker_device = devices.get()
    if _worker_device.startswith("cuda:"):
        os.environ["CUDA_VISIBLE_DEVICES"] = _worker_device.removeprefix("cuda:")


def _grade_in_worker(job: Job, options: Options) -> GradeResult:
    registry.load_exercise(job.rubric.module_name)
    check_device = "cuda:0" if _worker_device.startswith("cuda:") else "cpu"
    pinned = Options(**{**options.__dict__, "device": _worker_device, "check_device": check_device})
    return grade_one(job.submission, job.rubric, pinned)


def _crashed_worker_result(job: Job, options: Options,
                           message: str = "the grading worker process crashed while grading this notebook") -> GradeResult:
    result = GradeResult(student=job.submission.student, exercise=job.submission.exercise, title=job.rubric.title,
                         status="error", max_score=job.rubric.max_score, environment=environment(options),
                         message=message, notebook=str(job.submission.notebook or ""))
    try:
        report.write_result(options.out_dir, result)
    except (OSError, ValueError):
        _log_failure(options.out_dir, job.submission, traceback.format_exc())
    return result


@dataclass
class BatchPlan:
    jobs: list[Job]
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    workers: int = 1


def _single_worker(options: Options, plan: BatchPlan) -> Options:
    return Options(**{**options.__dict__, "device": plan.devices[0], "check_device": plan.devices[0]})


def start_first(plan: BatchPlan, options: Options) -> Launched | None:
    """Launch the kernel of the first notebook a single-worker batch will grade, so it boots while the grader loads.

    None when there is nothing to start early (a pool of workers, nothing to grade, or a file that is no notebook:
    grading records why).
    """
    if plan.workers > 1:
        return None
    for job in plan.jobs:
        if job.submission.notebook is None or stored_result(job.submission, job.rubric, options) is not None:
            continue
        try:
            return start(job.submission, job.rubric, _single_worker(options, plan))
        except Exception:  # noqa: BLE001 - grade_one meets the same problem again and records it
            return None
    return None


def grade_batch(plan: BatchPlan, options: Options, on_result: Callable[[GradeResult], None],
                first: Launched | None = None) -> list[GradeResult]:
    """Grade every job; results are written as they finish, and a crashed worker costs only its own notebook.

    A job whose stored result is still valid (same content hash, see `stored_result`) is not graded again. A job the
    grader failed on its own side (`GradeResult.retry`: a full disk) is graded once more after the others.
    `first` is the kernel `start_first` launched for one of the jobs.
    """
    reused: list[GradeResult] = []
    pending: list[Job] = []
    for job in plan.jobs:
        stored = stored_result(job.submission, job.rubric, options)
        if stored is None:
            pending.append(job)
        else:
            reused.append(stored)
            on_result(stored)

    def unless_retried(result: GradeResult) -> None:
        if not result.retry:
            on_result(result)

    results = _grade_jobs(BatchPlan(jobs=pending, devices=plan.devices, workers=plan.workers), options,
                          unless_retried, first)
    again = {(r.student, r.exercise) for r in results if r.retry}
    if again:
        retry_jobs = [job for job in pending if (job.submission.student, job.submission.exercise) in again]
        retried = _grade_jobs(BatchPlan(jobs=retry_jobs, devices=plan.devices, workers=1), options, on_result)
        results = [r for r in results if not r.retry] + retried
    return reused + results


def _grade_jobs(plan: BatchPlan, options: Options, on_result: Callable[[GradeResult], None],
                first: Launched | None = None) -> list[GradeResult]:
    """Grade every job of the plan, in this process (one worker) or in a pool of worker processes."""
    if plan.workers <= 1:
        single = _single_worker(options, plan)
        results = []
        for job in plan.jobs:
            launched = first if first is not None and first.submission == job.submission else None
            results.append(grade_one(job.submission, job.rubric, single, launched))
            on_result(results[-1])
        return results
    if first is not None:
        first.close()
    return _grade_in_pool(plan, options, on_result)


def _run_pool(jobs: list[Job], workers: int, devices: list[str], options: Options,
              on_result: Callable[[GradeResult], None]) -> tuple[list[GradeResult], list[Job]]:
    """One pool over `jobs`; returns the results and the jobs lost to a crashed worker."""
    context = multiprocessing.get_context("spawn")
    slots = context.Queue()
    for slot in range(workers):
        slots.put(devices[slot % len(devices)])
    results: list[GradeResult] = []
    lost: list[Job] = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(slots,)) as pool:
        futures = {pool.submit(_grade_in_worker, job, options): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                results.append(future.result())
            except BrokenProcessPool:
                lost.append(job)
                continue
            except Exception as error:  # noqa: BLE001 - one worker's exception never ends the pool
                _log_failure(options.out_dir, job.submission, traceback.format_exc())
                results.append(_crashed_worker_result(
                    job, options, f"the grading worker failed ({type(error).__name__}: {error}); see the grader log"))
            on_result(results[-1])
    return results, lost


def _grade_in_pool(plan: BatchPlan, options: Options, on_result: Callable[[GradeResult], None]) -> list[GradeResult]:
    results, lost = _run_pool(plan.jobs, plan.workers, plan.devices, options, on_result)
    # A crash takes every job in flight down with it: retry each alone, so only the culprit is lost.
    for job in lost:
        retried, still_lost = _run_pool([job], 1, plan.devices, options, on_result)
        results.extend(retried)
        for crashed in still_lost:
            results.append(_crashed_worker_result(crashed, options))
            on_result(results[-1])
    return results
