"""Shared helpers: grade real notebooks through the whole pipeline, with rubrics loaded from the repo."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
import yaml
from filelock import FileLock

from grader.course import SOURCE_ROOT
from grader.discover import Submission
from grader.grade import Options, grade_one
from grader.results import GradeResult
from grader.rubric import Rubric, load_rubric, parse_rubric

# One OpenMP thread per kernel (kernels keep OMP_NUM_THREADS): on a 2-core CI runner two threads per kernel spin
# against the grader and each other (the IMDb fixtures took 1,144 s with two, 585 s with one).
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = SOURCE_ROOT
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
SUBMISSIONS = ROOT / "submissions"


def repo_rubric(exercise: str, **overrides: object) -> Rubric:
    """The shipped rubric, with top-level keys replaced (e.g. timeouts for a fast timeout test)."""
    rubric = load_rubric(ROOT / "rubrics" / f"{exercise}.yaml")
    if not overrides:
        return rubric
    raw = yaml.safe_load((ROOT / "rubrics" / f"{exercise}.yaml").read_text())
    raw.update(overrides)
    return parse_rubric(raw, f"{exercise}.yaml (test overrides)")


def grade_notebook(path: Path, rubric: Rubric, out_dir: Path, student: str = "student", quick: bool = True) -> GradeResult:
    """Run one notebook through every stage, as `grader grade` does."""
    options = Options(out_dir=out_dir, secret="test-secret", quick=quick)
    return grade_one(Submission(student, rubric.exercise, path), rubric, options)


def held_now() -> tuple[set[int], int]:
    """This process's threads and open file descriptors: what a finished grading must not add to."""
    return {thread.ident for thread in threading.enumerate()}, len(os.listdir("/proc/self/fd"))


def left_behind(before: tuple[set[int], int], wait_s: float = 5.0) -> tuple[list[str], int]:
    """Threads started since `before` that are still alive after `wait_s`, and how many more descriptors are open."""
    threads, files = before
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(thread.ident not in threads for thread in threading.enumerate()):
        time.sleep(0.1)
    return ([thread.name for thread in threading.enumerate() if thread.ident not in threads],
            len(os.listdir("/proc/self/fd")) - files)


GradeOnce = Callable[..., GradeResult]


def grade_fixtures(names: list[str], rubric: Rubric, grade_once: GradeOnce) -> dict[str, GradeResult]:
    """Grade several fixture notebooks (tests/fixtures/notebooks/<name>.ipynb), keyed by name."""
    return {name: grade_once(FIXTURES / f"{name}.ipynb", rubric, student=name) for name in names}


def points(result: GradeResult) -> dict[str, float]:
    return {check.id: check.points for check in result.checks}


def message(result: GradeResult, check_id: str) -> str:
    return next(check.message for check in result.checks if check.id == check_id)


@pytest.fixture(scope="session")
def grade_once(tmp_path_factory: pytest.TempPathFactory) -> GradeOnce:
    """`grade_notebook`, once per test run for a (notebook, rubric, student, quick) across the test processes: the
    verdict fixtures and the per-exercise tests read many of the same gradings. Kept as the result's JSON (never
    pickled); a test that needs the written reports or changes the grader's code on the way grades on its own."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if base.name.startswith("popen-gw") else base  # the run's folder, above each process's own
    cache = shared / "graded-once"
    cache.mkdir(exist_ok=True)

    def grade(path: Path, rubric: Rubric, student: str = "student", quick: bool = True) -> GradeResult:
        key = hashlib.sha256(b"\0".join([path.read_bytes(), rubric.model_dump_json().encode(),
                                          f"{student}|{quick}".encode()])).hexdigest()[:32]
        stored = cache / f"{key}.json"
        with FileLock(str(cache / f"{key}.lock")):
            if not stored.is_file():
                result = grade_notebook(path, rubric, cache / key, student=student, quick=quick)
                stored.write_text(result.model_dump_json(), encoding="utf-8")
        return GradeResult.model_validate_json(stored.read_text(encoding="utf-8"))

    return grade


def pytest_sessionstart(session: pytest.Session) -> None:
    """Quick stand-ins are built once, here, before parallel test processes (`-n 2`) could build them side by side."""
    if hasattr(session.config, "workerinput"):
        return
    from grader import data

    data.prepare(set(data.load_builtin_datasets()), quick=True)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `-n`, a test file stays in one process (its module fixtures grade once); the verdict fixtures, each
    graded on its own, are shared out one by one."""
    for item in items:
        module = item.module.__name__ if item.module is not None else ""
        if module != "test_verdicts":
            item.add_marker(pytest.mark.xdist_group(module))
