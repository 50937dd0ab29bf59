"""How a batch grades: its options, the limits a rubric and the command line set, the probe's seed."""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from dataclasses import dataclass
from pathlib import Path

import grader
from grader import sandbox
from grader.discover import Submission
from grader.results import Environment
from grader.rubric import Rubric

EXECUTION_SEED = 0


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
    threads: int | None = None  # each kernel's share of the CPU cores (None: all of them; see budget.kernel_threads)
    gpu_share: float = 0.0  # of its GPU the kernel may use, when other notebooks share it (a cluster task); 0: all


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
