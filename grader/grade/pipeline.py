"""Grades one submission: stage → execute → probe → check → score, and writes its result."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import sqlite3
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from time import monotonic

import nbformat
import psutil

import grader
from grader import data, gpu_share, gradebook, installs, kernel_env, measure, registry, report, sandbox
from grader.discover import Submission
from grader.execute import Execution, KernelLaunch, NotebookRunner, execute, start_kernel
from grader.grade.budget import kernel_threads, thread_variables
from grader.grade.options import (EXECUTION_SEED, Options, SandboxRequired, disk_limit_mb, environment,
                                  isolation_problem, memory_limit_mb, probe_seed)
from grader.grade.resume import fingerprint
from grader.results import GradeResult, SkippedLine
from grader.rubric import Rubric
from grader.stage import InvalidNotebook, Staged, read_submission, stage

SANDBOXED = "bubblewrap sandbox: read-only system, no network, only its work dir writable"
log = logging.getLogger("grader")


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
    shared_gpu = gpu_share.guard(options.device, options.gpu_share) if options.gpu_share else None
    if options.gpu_share and options.device.startswith("cuda:"):
        extra_env = {**extra_env, gpu_share.FRACTION_VARIABLE: f"{options.gpu_share:g}"}
    env = sandbox.kernel_env(env, workdir, {**extra_env, **kernel_env.kernel_variables(packages),
                                            "PYTHONPATH": grader_root, kernel_env.GRADING_VARIABLE: "1"})
    problem = isolation_problem(options)
    if problem:
        return KernelLaunch(env=env, isolated=False, isolation=f"not isolated: {problem}", gpu=shared_gpu)
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
                        sandbox=sandbox.Sandbox(sandbox.availability().bwrap, layout), gpu=shared_gpu)


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
    measuring: measure.MeasuringRun  # the measuring kernel, started with this one (see grader/measure.py)

    def close(self, keep_workdir: bool = False) -> None:
        """Stop every process of both kernels and (unless kept for debugging) remove the work dirs."""
        self.runner.close()
        self.measuring.close(keep_workdir)
        if not keep_workdir:
            shutil.rmtree(self.staged.workdir, ignore_errors=True)


def _launch_measuring_kernel(submission: Submission, rubric: Rubric, options: Options, raw: bytes, memory_mb: int,
                             disk_mb: int, packages: kernel_env.KernelEnv, run: measure.MeasuringRun) -> None:
    """Stage a work dir apart and launch the measuring kernel in it, with the notebook's cells as they are: the
    selection it runs is made while it boots (`MeasuringRun.runner.use_cells`)."""
    assert submission.notebook is not None
    staged = stage(submission.notebook, rubric.exercise, raw=raw)
    run.workdir = staged.workdir
    kernel_vars = data.stage_into(staged.workdir, rubric.data, options.quick)
    kernel_vars |= thread_variables(kernel_threads(rubric, options.threads))
    run.notebook, _ = installs.skip_installs(staged.notebook, packages)
    launch = kernel_launch(options, staged.workdir, kernel_vars, submission, memory_mb, packages)
    run.relaunch = lambda: start_kernel(run.notebook, staged.workdir, rubric.timeouts, EXECUTION_SEED, launch,
                                        memory_mb, disk_mb)
    run.runner = run.relaunch()
    run.launched_at = monotonic()


def _prepare_measuring(submission: Submission, rubric: Rubric, options: Options, raw: bytes, memory_mb: int,
                       disk_mb: int, packages: kernel_env.KernelEnv, run: measure.MeasuringRun):
    """In the measuring thread: for an exercise measured apart, a work dir staged apart, the measuring kernel and
    the plan; None for an exercise probed in the notebook. The kernel is launched before the exercise is loaded
    (which loads torch) when its package declares it measured apart, so that it boots beside the notebook's."""
    launch = (submission, rubric, options, raw, memory_mb, disk_mb, packages, run)
    if registry.declares_measured_apart(rubric.module_name):
        _launch_measuring_kernel(*launch)
    exercise = registry.load_exercise(rubric.module_name)
    run.decide(exercise.measured_apart)
    if not exercise.measured_apart:
        return None  # a kernel launched on the declaration's word is stopped by the run's close
    if run.runner is None:
        _launch_measuring_kernel(*launch)
    run.selected, run.left_out = measure.measuring_notebook(run.notebook)
    run.runner.use_cells(run.selected)
    from grader import probe

    run.exercise = exercise
    run.plan = probe.make_plan(exercise, rubric.probe, probe_seed(options.secret, measure.notebook_sha(raw),
                                                                rubric.exercise), options.quick)
    directory = probe.write_plan(run.plan, run.workdir)
    return lambda: probe.cell_source(exercise, directory, stream=True)


def start(submission: Submission, rubric: Rubric, options: Options, raw: bytes | None = None) -> Launched:
    """stage, then launch the kernel; raises InvalidNotebook for a file that is not a usable notebook.

    `raw` is the submission's content when the caller has read it already (the file hashed is the file graded).
    """
    assert submission.notebook is not None
    staged = stage(submission.notebook, rubric.exercise, raw=raw)
    try:
        kernel_vars = data.stage_into(staged.workdir, rubric.data, options.quick)
        kernel_vars |= thread_variables(kernel_threads(rubric, options.threads))
        memory_mb, disk_mb = memory_limit_mb(rubric, options), disk_limit_mb(rubric, options)
        packages = kernel_env.current(options.course_root)
        runnable, skipped = installs.skip_installs(staged.notebook, packages)
        launch = kernel_launch(options, staged.workdir, kernel_vars, submission, memory_mb, packages)
        runner = start_kernel(runnable, staged.workdir, rubric.timeouts, EXECUTION_SEED, launch, memory_mb,
                              disk_mb)
        measuring = measure.MeasuringRun(prepare=lambda run: _prepare_measuring(
            submission, rubric, options, staged.raw, memory_mb, disk_mb, packages, run), timeouts=rubric.timeouts)
        measuring.start()
    except BaseException:
        shutil.rmtree(staged.workdir, ignore_errors=True)
        raise
    return Launched(submission, staged, runner, launch, memory_mb, packages, runnable, skipped, disk_mb, measuring)


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
    measuring = launched.measuring
    try:
        exercise = registry.load_exercise(rubric.module_name)
        apart = measuring.measured_apart()
        plan = None if apart else probe.make_plan(
            exercise, rubric.probe, probe_seed(options.secret, result.notebook_sha256, rubric.exercise), options.quick)
        probe_dirs: list[Path] = []
        tampered: list[str] = []

        def probe_cell() -> str:
            if apart:
                return "pass"
            try:
                probe_dirs.append(probe.write_plan(plan, staged.workdir))
            except probe.ProbeUnreadable as unwritable:
                tampered.append(str(unwritable))
                return "pass"
            return probe.cell_source(exercise, probe_dirs[-1])

        launched.runner.boot_report = not apart
        execution = execute(launched.notebook, staged.workdir, rubric.timeouts, EXECUTION_SEED, probe_cell,
                            launched.launch, launched.memory_mb, first_kernel=launched.runner,
                            disk_limit_mb=launched.disk_mb)
        execution.record.skipped = launched.skipped
        installs.explain_missing_modules(execution.record, launched.packages)
        result.execution = execution.record
        if execution.start_error:
            # A kernel starts before any of the notebook's code runs in it: a machine too loaded to start one in time.
            raise OSError(errno.EAGAIN, f"a kernel could not be started: {execution.start_error}")
        if execution.host_disk_full and execution.record.status != "disk_limit":
            # The notebook stayed under its own limit: what failed for lack of space says nothing about its code.
            raise OSError(errno.ENOSPC, "the machine's disk was full while this notebook ran")
        checked_execution = execution.record
        if apart:
            measuring.wait()
            plan = measuring.plan
            execution.record.probe = measuring.probe
            execution.record.measuring = measuring.record()
            stream = measure.verdict(measuring.messages, measuring.boot, exercise, streamed=True)
            checked_execution = measure.context_execution(execution.record, measuring.cells)
            problem = stream.problem if stream.data is None else ""
            if stream.data is None and not stream.evidence and measuring.probe.status != "ok":
                problem = f"the grader's probe did not complete ({measuring.probe.message})"
            measured = stream.data
        else:
            stream = measure.verdict(execution.probe_stream, execution.boot, exercise, streamed=False)
            problem = tampered[0] if tampered else _probe_problem(execution)
            measured = None
            if not problem:
                try:
                    measured = probe.read(exercise, probe_dirs[0])
                except probe.ProbeUnreadable as unreadable:
                    problem = str(unreadable)
        if stream.evidence:
            _withhold(result, stream.evidence)
            return
        context = CheckContext(rubric=rubric, spec=rubric.checks[0], plan=plan, probe=measured, probe_problem=problem,
                               execution=checked_execution, notebook=staged.notebook, quick=options.quick,
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
    started, cpu_started = monotonic(), cpu_seconds()
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
            log_failure(options.out_dir, submission, traceback.format_exc())
        except Exception as error:  # noqa: BLE001 - one notebook must never stop the batch
            _failed(result, f"the grader itself failed ({type(error).__name__}: {error}); see the grader log")
            log_failure(options.out_dir, submission, traceback.format_exc())
    result.duration_s = round(monotonic() - started, 3)
    result.cpu_s = round(cpu_seconds() - cpu_started + result.execution.cpu_s, 2)
    return store(result, submission, rubric, options)


def store(result: GradeResult, submission: Submission, rubric: Rubric, options: Options) -> GradeResult:
    """Write the result and its gradebook row (what a rerun reuses); a result that cannot be written is retried."""
    try:
        report.write_result(options.out_dir, result)
    except (OSError, ValueError):
        result.retry = True
        log_failure(options.out_dir, submission, traceback.format_exc())
        return result
    if submission.notebook is not None and result.notebook_sha256:
        try:
            gradebook.record(options.out_dir, result, fingerprint(submission, rubric, options, result.notebook_sha256))
        except (sqlite3.Error, OSError):
            # The result itself is stored; without its gradebook row it is only regraded on the next run.
            log_failure(options.out_dir, submission, traceback.format_exc())
    return result


def _withhold(result: GradeResult, evidence: list[str]) -> None:
    """Status `tampered`: no score, the evidence in the report; a person decides."""
    result.status, result.score, result.checks = "tampered", 0.0, []
    result.evidence = evidence
    result.message = (f"score withheld: the notebook tampered with the grader's measurement ({evidence[0]}"
                      f"{f'; and {len(evidence) - 1} more sign(s), listed in the report' if len(evidence) > 1 else ''})"
                      "; the TA decides with `grader override`")


def cpu_seconds() -> float:
    """CPU time of the grader's own process: one worker grades one notebook at a time, so the difference around a
    grading is its share (the kernels' CPU is polled from their process trees, execution.cpu_s)."""
    own = psutil.Process().cpu_times()
    return own.user + own.system


def _failed(result: GradeResult, message: str) -> None:
    result.status, result.message, result.score, result.checks = "error", message, 0.0, []


def log_failure(out_dir: Path, submission: Submission, text: str) -> None:
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
