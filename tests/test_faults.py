"""Faults: limits and crashes end one notebook's run, never the batch, and what can still be judged is graded.

Every adversarial notebook has a correct Conv1D, so the score shows how much survived the fault; the batch
ends with an honest notebook to show the grader went on. Fixtures: tools/make_adversarial_notebooks.py.
"""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from conftest import FIXTURES, repo_rubric

from grader import disk, execute, probe
from grader.discover import Submission
from grader.grade import BatchPlan, Job, Options, grade_batch, grade_one
from grader.results import GradeResult

pytestmark = pytest.mark.slow

MEMORY_LIMIT_MB = 800
DISK_LIMIT_MB = 64
BATCH = ["adversarial_memory_hog", "adversarial_fork_bomb", "adversarial_os_exit", "adversarial_segfault",
         "adversarial_ignores_sigint", "adversarial_infinite_output", "adversarial_html_output",
         "adversarial_stderr_chatter", "adversarial_patches_grader", "adversarial_disk_hog",
         "adversarial_huge_messages", "conv1d_correct_slides"]
NBFORMAT_3 = "conv1d_nbformat_3"


def rubric(notebook: str = ""):
    # 10 s a cell: a fresh kernel's first traceback (IPython loads its formatter then) took 5 s on a loaded CI runner.
    # The fork bomb's 511 forks of a kernel that holds torch took 4 s on the idle machine and over 10 s beside four
    # busy processes: its cell gets 60 s, so only the process limit stops it in time (it sleeps 120 s).
    cell, whole = (60, 90) if notebook == "adversarial_fork_bomb" else (10, 60)
    return repo_rubric("conv1d", timeouts={"cell": cell, "notebook": whole, "probe": 30},
                       memory_limit_mb=MEMORY_LIMIT_MB, disk_limit_mb=DISK_LIMIT_MB)


def nbformat_3_copy(folder: Path) -> Path:
    """The correct Conv1D saved as nbformat 3, as old course material and some tools still write it."""
    path = folder / "conv1d.ipynb"
    notebook = nbformat.read(FIXTURES / "conv1d_correct_slides.ipynb", as_version=4)
    path.write_text(nbformat.writes(nbformat.convert(notebook, 3), version=3))
    return path


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, GradeResult], int]:
    """Grade the whole corpus as one batch; also count the machine's processes before and after."""
    out = tmp_path_factory.mktemp("faults")
    jobs = [Job(Submission(name, "conv1d", FIXTURES / f"{name}.ipynb"), rubric(name)) for name in BATCH]
    jobs.insert(-1, Job(Submission(NBFORMAT_3, "conv1d", nbformat_3_copy(tmp_path_factory.mktemp("v3"))), rubric()))
    before = len(psutil.pids())
    with pytest.MonkeyPatch.context() as patch:
        for module in (execute.client, execute.replay):
            patch.setattr(module, "INTERRUPT_GRACE_S", 3.0)
        results = grade_batch(BatchPlan(jobs=jobs), Options(out_dir=out, secret="test-secret", quick=True),
                              lambda result: None)
    return out, {result.student: result for result in results}, len(psutil.pids()) - before


def cell(result: GradeResult, number: int):
    return next(c for c in result.execution.cells if c.number == number)


def test_the_batch_went_on(batch) -> None:
    out, results, _ = batch
    assert sorted(results) == sorted(BATCH + [NBFORMAT_3])
    assert results["conv1d_correct_slides"].status == "graded"
    assert all(result.score == 100 for result in results.values()), {n: r.score for n, r in results.items()}
    assert all((out / name / "conv1d.json").is_file() for name in BATCH)


def test_nbformat_3_is_converted_and_graded(batch) -> None:
    assert (batch[1][NBFORMAT_3].status, batch[1][NBFORMAT_3].score) == ("graded", 100)


def test_disk_hog_is_stopped_then_replayed_in_a_clean_work_dir(batch) -> None:
    result = batch[1]["adversarial_disk_hog"]
    assert result.status == "disk_limit"
    hog = cell(result, 2)
    assert hog.status == "disk_limit" and f"over the {DISK_LIMIT_MB} MiB disk limit" in hog.error_message
    assert result.execution.disk_peak_mb >= DISK_LIMIT_MB
    assert result.execution.replayed and cell(result, 3).status == "ok"
    assert "wrote up to" in (batch[0] / "adversarial_disk_hog" / "conv1d.html").read_text()


def test_huge_messages_are_dropped_at_the_socket(batch) -> None:
    """Displays far over what a cell may keep are refused by the grader's socket, not buffered and decoded."""
    result = batch[1]["adversarial_huge_messages"]
    assert (result.status, result.score) == ("graded", 100)
    assert len(cell(result, 2).stdout) <= execute.STDOUT_CAP


def test_huge_messages_cost_the_grader_little(tmp_path: Path) -> None:
    """576 MiB of displays: before the socket refused them, the grader held them all (2.6 GiB for 40 x 100 MiB)."""
    me = psutil.Process()
    grade_one(Submission("warm", "conv1d", FIXTURES / "conv1d_correct_slides.ipynb"), rubric(),
              Options(out_dir=tmp_path, secret="s", quick=True))
    base, peak, done = me.memory_info().rss, [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], me.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = grade_one(Submission("huge", "conv1d", FIXTURES / "adversarial_huge_messages.ipynb"), rubric(),
                           Options(out_dir=tmp_path, secret="s", quick=True))
    finally:
        done.set()
        sampler.join()
    assert result.score == 100
    assert peak[0] - base < 128 * 2**20, f"the grader grew by {(peak[0] - base) / 2**20:.0f} MiB"


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


def test_a_grader_side_oserror_is_an_error_retried_never_a_grade(tmp_path: Path, monkeypatch) -> None:
    """A full disk while the grader writes the probe's inputs is the grader's failure: status error, graded again
    after the others, and the neighbour is graded as usual."""
    real_write_plan = probe.write_plan
    calls = []

    def fails_once(plan, workdir):
        calls.append(workdir)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_plan(plan, workdir)

    monkeypatch.setattr(probe, "write_plan", fails_once)
    jobs = [Job(Submission(name, "conv1d", FIXTURES / "conv1d_correct_slides.ipynb"), rubric())
            for name in ("first", "neighbour")]
    reported: list[GradeResult] = []
    results = grade_batch(BatchPlan(jobs=jobs), Options(out_dir=tmp_path, secret="s", quick=True), reported.append)
    assert sorted((r.student, r.status, r.score) for r in results) == [("first", "graded", 100),
                                                                       ("neighbour", "graded", 100)]
    assert sorted(r.student for r in reported) == ["first", "neighbour"]
    assert len(calls) == 3
    assert "No space left on device" in (tmp_path / ".grader" / "errors.log").read_text()


def test_a_kernel_that_cannot_start_is_the_machines_failure_graded_again(tmp_path: Path, monkeypatch) -> None:
    """A kernel that does not answer in time (a loaded machine) ran none of the notebook's code: status error,
    graded again after the others, never `kernel_died` with the marks the measuring kernel alone earned."""
    real_attempt = execute.replay._attempt
    calls = []

    def unanswered_once(runner, *args):
        calls.append(runner)
        if len(calls) == 1:
            runner.close()
            return execute.replay._Attempt({}, None, None, False, 0, "Kernel didn't respond in 60 seconds")
        return real_attempt(runner, *args)

    monkeypatch.setattr(execute.replay, "_attempt", unanswered_once)
    jobs = [Job(Submission("first", "conv1d", FIXTURES / "conv1d_correct_slides.ipynb"), rubric())]
    reported: list[GradeResult] = []
    results = grade_batch(BatchPlan(jobs=jobs), Options(out_dir=tmp_path, secret="s", quick=True), reported.append)
    assert [(r.status, r.score) for r in results] == [("graded", 100)]
    assert [(r.status, r.score) for r in reported] == [("graded", 100)], "the failed try is never reported"
    assert len(calls) == 2
    assert "a kernel could not be started: Kernel didn't respond in 60 seconds" in (
        tmp_path / ".grader" / "errors.log").read_text()


def test_a_kernel_that_never_starts_ends_as_an_error_not_kernel_died(tmp_path: Path, monkeypatch) -> None:
    def unanswered(runner, *args):
        runner.close()
        return execute.replay._Attempt({}, None, None, False, 0, "Kernel didn't respond in 60 seconds")

    monkeypatch.setattr(execute.replay, "_attempt", unanswered)
    result = grade_one(Submission("s", "conv1d", FIXTURES / "conv1d_correct_slides.ipynb"), rubric(),
                       Options(out_dir=tmp_path, secret="s", quick=True))
    assert (result.status, result.score, result.retry) == ("error", 0, True)
    assert "a kernel could not be started" in result.message


def test_a_full_machine_disk_is_an_error_not_a_grade(tmp_path: Path, monkeypatch) -> None:
    """The machine's disk filled while the notebook stayed under its own limit: what failed says nothing of it."""
    monkeypatch.setattr(disk, "host_full", lambda path: True)
    result = grade_one(Submission("s", "conv1d", FIXTURES / "conv1d_correct_slides.ipynb"), rubric(),
                       Options(out_dir=tmp_path, secret="s", quick=True))
    assert (result.status, result.retry) == ("error", True)
    assert "disk was full" in result.message


def test_a_worker_exception_costs_only_its_notebook(tmp_path: Path) -> None:
    """An exception that escapes grading in a worker process (here: a check module that does not exist) is that
    notebook's error; the pool and the other notebooks go on."""
    broken = rubric().model_copy(update={"module": "grader.exercises.no_such_module"})
    jobs = [Job(Submission("broken", "conv1d", FIXTURES / "conv1d_correct_slides.ipynb"), broken),
            Job(Submission("honest", "conv1d", FIXTURES / "conv1d_correct_slides.ipynb"), rubric())]
    results = grade_batch(BatchPlan(jobs=jobs, workers=2), Options(out_dir=tmp_path, secret="s", quick=True),
                          lambda result: None)
    by_student = {result.student: result for result in results}
    assert by_student["honest"].score == 100
    assert by_student["broken"].status == "error" and "ModuleNotFoundError" in by_student["broken"].message
