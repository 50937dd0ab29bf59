"""Grades a whole class: one worker in this process or a pool pinned to devices, retries, an early first kernel."""

from __future__ import annotations

import multiprocessing
import os
import queue
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Callable

from grader import registry, report
from grader.discover import Submission
from grader.grade.budget import thread_variables
from grader.grade.cluster import grade_on_cluster
from grader.grade.options import Job, Options, environment
from grader.grade.pipeline import Launched, grade_one, log_failure, start
from grader.grade.resume import stored_result
from grader.results import GradeResult


_worker_device = "cpu"
_worker_started: "multiprocessing.Queue[tuple[str, str]] | None" = None
StartCallback = Callable[[Submission], None]
EVENT_POLL_S = 0.5


def _init_worker(devices: "multiprocessing.Queue[str]", started: "multiprocessing.Queue[tuple[str, str]]",
                 threads: int | None) -> None:
    """Pin this worker process to one device for its lifetime; its own torch (the checks) gets the kernels' share
    of the cores, set before torch is imported."""
    global _worker_device, _worker_started
    _worker_device = devices.get()
    _worker_started = started
    if _worker_device.startswith("cuda:"):
        os.environ["CUDA_VISIBLE_DEVICES"] = _worker_device.removeprefix("cuda:")
    if threads is not None:
        os.environ.update(thread_variables(threads))


def _warm_up(packages: list[str]) -> None:
    """Load the exercises (and torch with them) before the first job, while the grader finishes validating."""
    for package in packages:
        try:
            registry.load_exercise(package)
        except Exception:  # noqa: BLE001 - the job that needs it meets the same problem and records it
            continue


class WorkerPool:
    """Worker processes pinned to devices, spawned as soon as the batch is known: each imports the grader, torch and
    the batch's exercises while the grader validates the rubrics, instead of before its first notebook."""

    def __init__(self, workers: int, devices: list[str], threads: int | None, packages: list[str]):
        context = multiprocessing.get_context("spawn")
        slots = context.Queue()
        for slot in range(workers):
            slots.put(devices[slot % len(devices)])
        self.started: "multiprocessing.Queue[tuple[str, str]]" = context.Queue()
        self.executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                            initargs=(slots, self.started, threads))
        for _ in range(workers):  # one task per worker: the executor spawns a process for each
            self.executor.submit(_warm_up, packages)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _grade_in_worker(job: Job, options: Options) -> GradeResult:
    if _worker_started is not None:
        _worker_started.put((job.submission.student, job.submission.exercise))
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
        log_failure(options.out_dir, job.submission, traceback.format_exc())
    return result


@dataclass
class BatchPlan:
    jobs: list[Job]
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    workers: int = 1
    cluster: str | None = None  # a Ray address (`grader.grade.cluster`): grade there instead of a local pool


def one_at_a_time(plan: BatchPlan) -> bool:
    """Graded in this process: one worker, or a single notebook (a pool would only add a worker's start-up)."""
    return not plan.cluster and (plan.workers <= 1 or len(plan.jobs) <= 1)


def _single_worker(options: Options, plan: BatchPlan) -> Options:
    return Options(**{**options.__dict__, "device": plan.devices[0], "check_device": plan.devices[0]})


def first_to_grade(plan: BatchPlan, options: Options) -> Job | None:
    """The first job whose notebook must run (no stored result to reuse); None when a rerun reuses them all."""
    for job in plan.jobs:
        if job.submission.notebook is not None and stored_result(job.submission, job.rubric, options) is None:
            return job
    return None


def start_first(plan: BatchPlan, options: Options) -> Launched | WorkerPool | None:
    """What can start while the grader loads: the kernel of the first notebook a single-worker batch grades, or the
    worker processes of a pool.

    None when there is nothing to start early (a cluster, nothing to grade, or a file that is no notebook: grading
    records why).
    """
    job = first_to_grade(plan, options) if not plan.cluster else None
    if job is None:
        return None
    if not one_at_a_time(plan):
        packages = sorted({job.rubric.module_name for job in plan.jobs})
        return WorkerPool(plan.workers, plan.devices, options.threads, packages)
    try:
        return start(job.submission, job.rubric, _single_worker(options, plan))
    except Exception:  # noqa: BLE001 - grade_one meets the same problem again and records it
        return None


def grade_batch(plan: BatchPlan, options: Options, on_result: Callable[[GradeResult], None],
                first: Launched | WorkerPool | None = None, on_start: StartCallback | None = None) -> list[GradeResult]:
    """Grade every job; results are written as they finish, and a crashed worker costs only its own notebook.

    A job whose stored result is still valid (same content hash, see `stored_result`) is not graded again. A job the
    grader failed on its own side (`GradeResult.retry`: a full disk) is graded once more after the others.
    `first` is what `start_first` set going (a kernel for one of the jobs, or the pool); `on_start` is told each job
    as a worker takes it up.
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

    started = on_start or (lambda submission: None)
    results = _grade_jobs(BatchPlan(jobs=pending, devices=plan.devices, workers=plan.workers, cluster=plan.cluster),
                          options, unless_retried, started, first)
    again = {(r.student, r.exercise) for r in results if r.retry}
    if again:
        retry_jobs = [job for job in pending if (job.submission.student, job.submission.exercise) in again]
        retried = _grade_jobs(BatchPlan(jobs=retry_jobs, devices=plan.devices, workers=1, cluster=plan.cluster),
                              options, on_result, started)
        results = [r for r in results if not r.retry] + retried
    return reused + results


def _grade_jobs(plan: BatchPlan, options: Options, on_result: Callable[[GradeResult], None],
                on_start: StartCallback, first: Launched | WorkerPool | None = None) -> list[GradeResult]:
    """Grade every job of the plan, in this process (one worker), in a pool of worker processes or on Ray."""
    if plan.cluster:
        if first is not None:
            first.close()
        return grade_on_cluster(plan.jobs, options, on_result, plan.cluster)
    pool = first if isinstance(first, WorkerPool) else None
    if one_at_a_time(plan):
        if pool is not None:
            pool.close()  # a pool for a batch left with one notebook to grade (the others' results reused)
        single = _single_worker(options, plan)
        results = []
        for job in plan.jobs:
            launched = first if isinstance(first, Launched) and first.submission == job.submission else None
            on_start(job.submission)
            results.append(grade_one(job.submission, job.rubric, single, launched))
            on_result(results[-1])
        return results
    return _grade_in_pool(plan, options, on_result, on_start, pool)


def _report_started(started: "multiprocessing.Queue[tuple[str, str]]", by_key: dict[tuple[str, str], Job],
                    on_start: StartCallback) -> None:
    while True:
        try:
            key = started.get_nowait()
        except queue.Empty:
            return
        if key in by_key:
            on_start(by_key[key].submission)


def _run_pool(jobs: list[Job], pool: WorkerPool, options: Options, on_result: Callable[[GradeResult], None],
              on_start: StartCallback) -> tuple[list[GradeResult], list[Job]]:
    """`jobs` on `pool` (closed at the end); returns the results and the jobs lost to a crashed worker."""
    by_key = {(job.submission.student, job.submission.exercise): job for job in jobs}
    results: list[GradeResult] = []
    lost: list[Job] = []
    try:
        futures = {pool.executor.submit(_grade_in_worker, job, options): job for job in jobs}
    except BrokenProcessPool:  # a worker died while warming up: every job is retried alone
        pool.close()
        return results, list(jobs)
    try:
        waiting = set(futures)
        while waiting:
            done, waiting = wait(waiting, timeout=EVENT_POLL_S, return_when=FIRST_COMPLETED)
            _report_started(pool.started, by_key, on_start)
            for future in done:
                job = futures[future]
                try:
                    results.append(future.result())
                except BrokenProcessPool:
                    lost.append(job)
                    continue
                except Exception as error:  # noqa: BLE001 - one worker's exception never ends the pool
                    log_failure(options.out_dir, job.submission, traceback.format_exc())
                    results.append(_crashed_worker_result(
                        job, options,
                        f"the grading worker failed ({type(error).__name__}: {error}); see the grader log"))
                on_result(results[-1])
    finally:
        pool.close()
    return results, lost


def _grade_in_pool(plan: BatchPlan, options: Options, on_result: Callable[[GradeResult], None],
                   on_start: StartCallback, pool: WorkerPool | None = None) -> list[GradeResult]:
    def fresh_pool(workers: int, jobs: list[Job]) -> WorkerPool:
        return WorkerPool(workers, plan.devices, options.threads, sorted({job.rubric.module_name for job in jobs}))

    results, lost = _run_pool(plan.jobs, pool or fresh_pool(plan.workers, plan.jobs), options, on_result, on_start)
    # A crash takes every job in flight down with it: retry each alone, so only the culprit is lost.
    for job in lost:
        retried, still_lost = _run_pool([job], fresh_pool(1, [job]), options, on_result, on_start)
        results.extend(retried)
        for crashed in still_lost:
            results.append(_crashed_worker_result(crashed, options))
            on_result(results[-1])
    return results
