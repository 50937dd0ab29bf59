"""What keeps a class fast: each kernel's thread budget reaches torch, and a rerun over an unchanged class reuses
every result without loading torch or starting a kernel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, repo_rubric

from grader.discover import Submission
from grader.grade import Options, grade_one

pytestmark = pytest.mark.slow

THREADS_CELL = "import torch\nprint('torch threads:', torch.get_num_threads())"
# Runs `grader grade` in a fresh interpreter whose kernel launcher fails loudly, then says which heavy modules loaded.
RERUN = """
import json, sys
import grader.grade.pipeline as pipeline

def no_kernel(*args, **kwargs):
    raise AssertionError("a rerun over an unchanged class started a kernel")

pipeline.start_kernel = no_kernel
from grader.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def _notebook_printing_threads(tmp_path: Path) -> Path:
    notebook = nbformat.read(ROOT / "reference" / "conv1d.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(THREADS_CELL))
    path = tmp_path / "conv1d.ipynb"
    nbformat.write(notebook, path)
    return path


def _printed_threads(tmp_path: Path, threads: int | None, rubric_threads: int | None = None) -> int:
    rubric = repo_rubric("conv1d", threads=rubric_threads) if rubric_threads else repo_rubric("conv1d")
    options = Options(out_dir=tmp_path / f"out{threads}-{rubric_threads}", secret="s", quick=True, threads=threads)
    result = grade_one(Submission("ana", "conv1d", _notebook_printing_threads(tmp_path)), rubric, options)
    assert result.status == "graded" and result.score == result.max_score, result.message
    assert 0 < result.execution.cpu_s < result.cpu_s  # the kernel's CPU, within the grading's
    printed = [cell.stdout for cell in result.execution.cells if "torch threads:" in cell.stdout]
    return int(printed[-1].split("torch threads:")[1].split()[0])


def test_the_kernel_runs_on_its_share_of_the_cores(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # conftest's ceiling would hide the share
    assert _printed_threads(tmp_path, threads=1) == 1
    assert _printed_threads(tmp_path, threads=2) == 2
    assert _printed_threads(tmp_path, threads=2, rubric_threads=1) == 1  # the rubric's `threads` is a ceiling


def test_a_rerun_over_an_unchanged_class_loads_no_torch_and_starts_no_kernel(tmp_path):
    submissions = tmp_path / "submissions"
    for student in ("ana", "ben"):
        (submissions / student).mkdir(parents=True)
        shutil.copy(ROOT / "reference" / "conv1d.ipynb", submissions / student / "conv1d.ipynb")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader.cli", "--course", str(ROOT), "grade", str(submissions), "--out", str(out),
               "--quick", "--workers", "1"]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    graded = {path: path.stat().st_mtime_ns for path in out.glob("*/conv1d.json")}
    assert len(graded) == 2
    rerun = subprocess.run([sys.executable, "-c", RERUN, "--course", str(ROOT), "grade", str(submissions), "--out",
                            str(out), "--quick", "--workers", "1"], cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    outcome = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert outcome == {"code": 0, "torch": False}
    assert {path: path.stat().st_mtime_ns for path in out.glob("*/conv1d.json")} == graded  # reused, not rewritten


def test_a_pool_reports_each_notebook_as_a_worker_takes_it_up(tmp_path):
    from grader.grade import BatchPlan, Job, grade_batch

    rubric = repo_rubric("conv1d")
    jobs = [Job(Submission(name, "conv1d", ROOT / "reference" / "conv1d.ipynb"), rubric) for name in ("ana", "ben")]
    events: list[tuple[str, str]] = []
    results = grade_batch(BatchPlan(jobs=jobs, workers=2), Options(out_dir=tmp_path, secret="s", quick=True, threads=1),
                          lambda result: events.append(("done", result.student)),
                          on_start=lambda submission: events.append(("started", submission.student)))
    assert sorted(r.score for r in results) == [100, 100]
    for student in ("ana", "ben"):
        assert events.index(("started", student)) < events.index(("done", student))


def test_a_pool_spawns_its_workers_before_grading_starts_and_grades_with_them(tmp_path):
    """`start_first` of a two-worker batch spawns the workers (they import torch while the rubrics are validated);
    the batch then grades on those very processes."""
    import psutil

    from grader.grade import BatchPlan, Job, WorkerPool, grade_batch, start_first

    rubric = repo_rubric("conv1d")
    jobs = [Job(Submission(name, "conv1d", ROOT / "reference" / "conv1d.ipynb"), rubric) for name in ("ana", "ben")]
    plan = BatchPlan(jobs=jobs, workers=2)
    options = Options(out_dir=tmp_path, secret="s", quick=True, threads=1)
    pool = start_first(plan, options)
    assert isinstance(pool, WorkerPool)

    def spawned_workers() -> set[int]:
        return {child.pid for child in psutil.Process().children() if "spawn_main" in " ".join(child.cmdline())}

    workers = spawned_workers()
    assert len(workers) == 2, "both workers are spawned before the first job is submitted"
    seen_while_grading: list[set[int]] = []
    results = grade_batch(plan, options, lambda result: None, pool,
                          on_start=lambda submission: seen_while_grading.append(spawned_workers()))
    assert sorted(r.score for r in results) == [100, 100]
    assert seen_while_grading == [workers, workers], "the jobs ran on the workers spawned early"
