"""Faults: limits and crashes end one notebook's run, never the batch, and what can still be judged is graded.

Every adversarial notebook has a correct Conv1D, so the score shows how much survived the fault; the batch
ends with an honest notebook to show the grader went on. Fixtures: tools/make_adversarial_notebooks.py.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from conftest import FIXTURES, repo_rubric

from grader import execute
from grader.discover import Submission
from grader.grade import BatchPlan, Job, Options, grade_batch
from grader.results import GradeResult

pytestmark = pytest.mark.slow

MEMORY_LIMIT_MB = 800
BATCH = ["adversarial_memory_hog", "adversarial_fork_bomb", "adversarial_os_exit", "adversarial_segfault",
         "adversarial_ignores_sigint", "adversarial_infinite_output", "adversarial_html_output",
         "adversarial_stderr_chatter", "adversarial_patches_grader", "conv1d_correct_slides"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, GradeResult], int]:
    """Grade the whole corpus as one batch; also count the machine's processes before and after."""
    out = tmp_path_factory.mktemp("faults")
    rubric = repo_rubric("conv1d", timeouts={"cell": 5, "notebook": 60, "probe": 30}, memory_limit_mb=MEMORY_LIMIT_MB)
    jobs = [Job(Submission(name, "conv1d", FIXTURES / f"{name}.ipynb"), rubric) for name in BATCH]
    before = len(psutil.pids())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(execute, "INTERRUPT_GRACE_S", 3.0)
        results = grade_batch(BatchPlan(jobs=jobs), Options(out_dir=out, secret="test-secret", quick=True),
                              lambda result: None)
    return out, {result.student: result for result in results}, len(psutil.pids()) - before


def cell(result: GradeResult, number: int):
    return next(c for c in result.execution.cells if c.number == number)


def test_the_batch_went_on(batch) -> None:
    out, results, _ = batch
    assert sorted(results) == sorted(BATCH)
    assert results["conv1d_correct_slides"].status == "graded"
    assert all(result.score == 100 for result in results.values()), {n: r.score for n, r in results.items()}
    assert all((out / name / "conv1d.json").is_file() for name in BATCH)


def test_memory_hog_is_stopped_with_the_peak_and_the_cell(batch) -> None:
    result = batch[1]["adversarial_memory_hog"]
    assert result.status == "memory_limit"
    hog = cell(result, 2)
    assert hog.status == "memory_limit"
    assert f"over the {MEMORY_LIMIT_MB} MiB memory limit" in hog.error_message
    assert result.execution.memory_peak_mb >= MEMORY_LIMIT_MB
    assert result.execution.replayed and "cell 2" in result.message
    assert "peak memory" in (batch[0] / "adversarial_memory_hog" / "conv1d.html").read_text()


def test_fork_bomb_is_stopped_and_leaves_nothing(batch) -> None:
    result = batch[1]["adversarial_fork_bomb"]
    bomb = cell(result, 2)
    assert bomb.status in ("kernel_died", "timeout")
    assert "ProcessLimit" in bomb.error_name or "kernel was stopped" in bomb.error_message
    assert result.execution.replayed
    assert batch[2] < 20, f"{batch[2]} more processes after the batch than before"


def test_dead_kernel_is_replayed_around_the_fatal_cell(batch) -> None:
    result = batch[1]["adversarial_os_exit"]
    assert result.status == "kernel_died"
    assert cell(result, 2).status == "kernel_died" and "exit code 1" in cell(result, 2).error_message
    assert cell(result, 4).stdout == "after exit: the rest still ran\n"
    assert result.execution.replayed and result.execution.probe.status == "ok"
    assert "a fresh kernel re-ran the cells before cell 2, skipped it" in result.message
    assert "Replayed:" in (batch[0] / "adversarial_os_exit" / "conv1d.html").read_text()


def test_segfault_is_recorded_and_replayed(batch) -> None:
    result = batch[1]["adversarial_segfault"]
    assert result.status == "kernel_died"
    assert cell(result, 2).status == "kernel_died" and "SIGSEGV" in cell(result, 2).error_message
    assert cell(result, 4).stdout == "after exit: the rest still ran\n"
    assert result.execution.replayed and result.score == 100


def test_patching_the_grader_in_the_kernel_changes_nothing(batch) -> None:
    result = batch[1]["adversarial_patches_grader"]
    assert (result.status, result.score) == ("graded", 100)
    assert result.execution.probe.status == "ok"


def test_kernel_ignoring_interrupts_is_killed_then_replayed(batch) -> None:
    result = batch[1]["adversarial_ignores_sigint"]
    assert result.status == "timeout"
    stuck = cell(result, 2)
    assert stuck.status == "timeout" and "ignored the interrupt" in stuck.error_message
    assert result.execution.replayed and cell(result, 3).status == "ok"


def test_endless_output_is_cut_and_the_rest_runs(batch) -> None:
    out, results, _ = batch
    result = results["adversarial_infinite_output"]
    flood = cell(result, 2)
    assert flood.status == "timeout" and "spam" in flood.stdout
    assert len(flood.stdout) <= execute.STDOUT_CAP + 200
    assert not result.execution.replayed and cell(result, 3).status == "ok"
    assert (out / "adversarial_infinite_output" / "conv1d.json").stat().st_size < 200_000


def test_html_and_script_outputs_are_escaped(batch) -> None:
    out, results, _ = batch
    assert results["adversarial_html_output"].status == "graded"
    assert cell(results["adversarial_html_output"], 2).error_name == "ValueError"
    for path in out.rglob("*.html"):
        assert "<script" not in path.read_text(encoding="utf-8"), path
    assert "&lt;script&gt;" in (out / "adversarial_html_output" / "conv1d.html").read_text(encoding="utf-8")


def test_stderr_chatter_costs_nothing(batch) -> None:
    result = batch[1]["adversarial_stderr_chatter"]
    assert result.status == "graded" and result.score == 100
    assert all(c.status == "ok" for c in result.execution.cells)
