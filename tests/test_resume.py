"""Crash safety and resume: a batch killed midway resumes where it stopped and writes the same grades.csv; a stored
result is reused only while the notebook, rubric, reference and grader are unchanged; grading is deterministic.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT

from grader import gradebook

pytestmark = pytest.mark.slow

STUDENTS = {"s1": "conv1d_correct_slides", "s2": "conv1d_missing_padding"}


def grade(submissions: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "grader.cli", "grade", str(submissions), "--out", str(out), "--quick",
               "--exercise", "conv1d", *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()


def rows(out: Path, drop: tuple[str, ...] = ("duration_s",)) -> list[dict[str, str]]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(handle)]


def attempts_by_student(out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for attempt in gradebook.attempts(out):
        counts[str(attempt["student"])] = counts.get(str(attempt["student"]), 0) + 1
    return counts


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("submissions")
    for student, fixture in STUDENTS.items():
        (root / student).mkdir()
        shutil.copyfile(FIXTURES / f"{fixture}.ipynb", root / student / "conv1d.ipynb")
    return root


@pytest.fixture(scope="module")
def clean_run(submissions: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    finish(grade(submissions, out))
    return out


@pytest.fixture(scope="module")
def resumed_run(submissions: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """Kill -9 the grader once the first result is stored, then run it again."""
    out = tmp_path_factory.mktemp("killed")
    process = grade(submissions, out)
    deadline = time.monotonic() + 180
    while not list(out.glob("*/conv1d.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before_kill = {path.parent.name for path in out.glob("*/conv1d.json")}
    assert done_before_kill and done_before_kill != set(STUDENTS), "the kill must land mid-batch"
    finish(grade(submissions, out))
    return out, done_before_kill


def test_killed_batch_resumes_and_writes_the_same_csv(clean_run: Path, resumed_run) -> None:
    out, done_before_kill = resumed_run
    assert rows(out) == rows(clean_run)
    assert [row["status"] for row in rows(out)] == ["graded", "graded"]
    assert [row["score"] for row in rows(out)] == ["100.00", "61.25"]
    counts = attempts_by_student(out)
    assert all(counts[student] == 1 for student in done_before_kill), counts
    assert sorted(counts) == sorted(STUDENTS)


def test_rerun_reuses_everything_and_changes_nothing(resumed_run, submissions: Path) -> None:
    out, _ = resumed_run
    before_csv, before_counts = (out / "grades.csv").read_text(), attempts_by_student(out)
    finish(grade(submissions, out))
    assert attempts_by_student(out) == before_counts
    assert (out / "grades.csv").read_text() == before_csv


def test_student_and_force_regrade_with_the_same_score(resumed_run, submissions: Path) -> None:
    out, _ = resumed_run
    before = attempts_by_student(out)
    finish(grade(submissions, out, "--student", "s1"))
    history = [a for a in gradebook.attempts(out) if a["student"] == "s1"]
    assert len(history) == before["s1"] + 1
    # Same submission, same per-course secret: same probe inputs, same score, same content hash.
    assert len({a["score"] for a in history}) == 1 and len({a["content_hash"] for a in history}) == 1
    finish(grade(submissions, out, "--force"))
    assert attempts_by_student(out) == {s: n + 1 + (s == "s1") for s, n in before.items()}


def test_a_changed_notebook_is_regraded(resumed_run, submissions: Path) -> None:
    out, _ = resumed_run
    before = attempts_by_student(out)
    notebook = submissions / "s2" / "conv1d.ipynb"
    original = notebook.read_bytes()
    try:
        notebook.write_bytes(original.replace(b'"cells": [', b'"cells": [{"cell_type": "markdown", "id": "new", '
                                                               b'"metadata": {}, "source": "edited"}, ', 1))
        finish(grade(submissions, out))
    finally:
        notebook.write_bytes(original)
    after = attempts_by_student(out)
    assert after == {"s1": before["s1"], "s2": before["s2"] + 1}
