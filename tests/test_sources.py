"""The result cache key: a stored result is reused only while every grader source file it depends on is unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, repo_rubric

from grader import gradebook, report, sources
from grader.discover import Submission
from grader.grade import Options, fingerprint, stored_result
from grader.results import GradeResult


@pytest.fixture()
def grader_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the grader package whose files the test may edit, standing in for the real one in the digest."""
    copy = tmp_path / "grader"
    shutil.copytree(sources.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sources, "PACKAGE", copy)
    return copy


def store(tmp_path: Path) -> tuple[Submission, Options]:
    """A stored conv1d result, recorded in the gradebook with today's fingerprint."""
    notebook = tmp_path / "s1" / "conv1d.ipynb"
    notebook.parent.mkdir()
    shutil.copyfile(FIXTURES / "conv1d_correct_slides.ipynb", notebook)
    submission, options = Submission("s1", "conv1d", notebook), Options(out_dir=tmp_path / "out", secret="s")
    rubric = repo_rubric("conv1d")
    key = fingerprint(submission, rubric, options)
    result = GradeResult(student="s1", exercise="conv1d", status="graded", score=100, max_score=100,
                         notebook=str(notebook), notebook_sha256=key.notebook_sha256)
    report.write_result(options.out_dir, result)
    gradebook.record(options.out_dir, result, key)
    assert stored_result(submission, rubric, options) is not None
    return submission, options


@pytest.mark.parametrize("edited", ["kernel/runtime.py", "kernel/recurrent.py", "exercises/conv1d/kernel.py",
                                    "exercises/conv1d/checks.py", "checks/analysis.py", "probe.py",
                                    "templates/student.html.j2"])
def test_editing_a_grader_source_invalidates_a_stored_result(grader_copy: Path, tmp_path: Path, edited: str):
    submission, options = store(tmp_path)
    with (grader_copy / edited).open("a", encoding="utf-8") as handle:
        handle.write("\n")
    assert stored_result(submission, repo_rubric("conv1d"), options) is None


def test_an_unchanged_grader_keeps_the_stored_result(grader_copy: Path, tmp_path: Path):
    submission, options = store(tmp_path)
    (grader_copy / "__pycache__").mkdir(exist_ok=True)
    (grader_copy / "__pycache__" / "probe.cpython-312.pyc").write_bytes(b"compiled")
    assert stored_result(submission, repo_rubric("conv1d"), options) is not None


def test_a_new_source_file_changes_the_digest(grader_copy: Path):
    before = sources.sources_sha256()
    (grader_copy / "exercises" / "conv1d" / "helpers.py").write_text("")
    assert sources.sources_sha256() != before


def test_an_exercise_package_outside_the_grader_is_covered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = tmp_path / "course_exercise"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = sources.exercise_sources_sha256("course_exercise")
    assert before != sources.sources_sha256()
    (package / "checks.py").write_text("")
    assert sources.exercise_sources_sha256("course_exercise") != before
    assert sources.exercise_sources_sha256("grader.exercises.conv1d") == sources.sources_sha256()
