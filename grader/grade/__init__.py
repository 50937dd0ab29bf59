"""Grading: one submission through every stage (`pipeline`), a whole class (`batch`), reuse of results (`resume`)."""

from grader.grade.batch import BatchPlan, WorkerPool, first_to_grade, grade_batch, start_first
from grader.grade.options import Job, Options, SandboxRequired, isolation_problem, probe_seed
from grader.grade.pipeline import Launched, grade_one, kernel_launch, start
from grader.grade.resume import fingerprint, stored_result

__all__ = ["BatchPlan", "first_to_grade", "Job", "Launched", "Options", "SandboxRequired", "fingerprint", "grade_batch", "grade_one",
           "isolation_problem", "kernel_launch", "probe_seed", "start", "start_first", "stored_result", "WorkerPool"]
