"""How a batch shares the machine: the default number of workers, each kernel's CPU threads, and the estimate of the
time left from measured durations per exercise (no notebook runs here)."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import ROOT

from grader.cli import main
from grader.discover import Submission
from grader.grade import budget
from grader.grade.progress import Tracker, estimate_left, expected_durations
from grader.results import CellRecord, ExecutionRecord, GradeResult
from grader.rubric import load_rubric


def test_default_workers_follow_the_cores_on_the_cpu_and_the_gpus_elsewhere():
    assert budget.default_workers(["cpu"], cores=2) == 2
    assert budget.default_workers(["cpu"], cores=1) == 1
    assert budget.default_workers(["cuda:0", "cuda:1"], cores=16) == 2
    assert budget.workers_for(None, ["cpu"], cores=8) == 8
    assert budget.workers_for(3, ["cpu"], cores=8) == 3


@pytest.mark.parametrize("value", ["0", "-2"])
def test_fewer_than_one_worker_is_refused_in_one_line(value, tmp_path, capsys):
    assert main(["grade", str(ROOT / "submissions"), "--out", str(tmp_path), "--workers", value]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"refused: --workers must be at least 1 (got {value})"
    assert not any(tmp_path.iterdir())  # refused before anything was graded or written


def test_available_cores_honours_affinity_and_a_cgroup_quota(monkeypatch):
    monkeypatch.setattr(budget.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(budget, "_cgroup_cores", lambda: None)
    assert budget.available_cores() == 4
    monkeypatch.setattr(budget, "_cgroup_cores", lambda: 2)
    assert budget.available_cores() == 2


def test_a_cgroup_quota_reads_as_whole_cores(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert budget._cgroup_cores(cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert budget._cgroup_cores(cpu_max) is None
    assert budget._cgroup_cores(tmp_path / "absent") is None


def test_each_kernel_gets_its_share_of_the_cores_capped_by_the_rubric_and_the_environment(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    conv1d, rnn_lm = load_rubric(ROOT / "rubrics" / "conv1d.yaml"), load_rubric(ROOT / "rubrics" / "rnn_lm.yaml")
    assert budget.thread_share(cores=2, workers=2) == 1
    assert budget.thread_share(cores=16, workers=4) == 4
    assert budget.thread_share(cores=2, workers=5) == 1
    assert budget.kernel_threads(conv1d, share=4) == 4
    assert budget.kernel_threads(rnn_lm, share=4) == 1  # the rubric's `threads: 1`
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert budget.kernel_threads(conv1d, share=4) == 2
    assert budget.thread_variables(3)["OMP_NUM_THREADS"] == "3"


def test_expected_duration_is_this_runs_mean_else_the_prior_else_the_mean_of_the_others():
    expected = expected_durations({"imdb": [100.0, 140.0]}, {"imdb": 900.0, "gru": 6.0}, {"imdb", "gru", "conv1d"})
    assert expected == {"imdb": 120.0, "gru": 6.0, "conv1d": 63.0}
    assert expected_durations({}, {}, {"conv1d"}) == {"conv1d": None}


def test_time_left_shares_the_work_among_workers_but_never_undercuts_the_longest_notebook():
    expected = {"conv1d": 4.0, "imdb": 100.0}
    # 10 conv1d queued (40 s) + one imdb 70 s into its 100 s (30 s left): 70 s of work on 2 workers
    assert estimate_left(expected, Counter({"conv1d": 10}), [("imdb", 70.0)], workers=2) == 35.0
    # the running imdb's 70 s left outlast the shared 110 s / 2
    assert estimate_left(expected, Counter({"conv1d": 10}), [("imdb", 30.0)], workers=2) == 70.0
    # one imdb left: two workers do not halve it
    assert estimate_left(expected, Counter({"imdb": 1}), [], workers=2) == 100.0
    # a notebook over its expected time counts as nearly done, not negative
    assert estimate_left(expected, Counter(), [("imdb", 150.0)], workers=1) == 0.0
    assert estimate_left({"gru": None}, Counter({"gru": 1}), [], workers=1) is None
    assert estimate_left(expected, Counter(), [], workers=1) == 0.0


def _result(student: str, exercise: str, seconds: float, ran: bool = True) -> GradeResult:
    execution = ExecutionRecord(cells=[CellRecord(number=1, status="ok")] if ran else [])
    return GradeResult(student=student, exercise=exercise, title=exercise, status="graded", max_score=100,
                       duration_s=seconds, execution=execution)


def test_tracker_moves_its_estimate_with_each_finished_notebook():
    now = [0.0]
    notebooks = [Submission(f"s{i}", exercise, ROOT / "x.ipynb") for i in range(3) for exercise in ("conv1d", "imdb")]
    tracker = Tracker(notebooks + [Submission("s9", "imdb", None)], workers=1, priors={"conv1d": 5.0},
                      clock=lambda: now[0])
    # imdb has neither a finished notebook nor a prior: guessed from conv1d's prior, and said so
    assert tracker.left_text() == "~0:30 left (imdb not yet timed)"
    tracker.started(notebooks[0])
    now[0] = 4.0
    assert tracker.running_text() == "s0/conv1d 0:04"
    tracker.finished(_result("s0", "conv1d", 4.0))
    tracker.started(notebooks[1])
    now[0] = 64.0
    tracker.finished(_result("s0", "imdb", 60.0))
    assert tracker.left_text() == "~2:08 left"
    # 2 conv1d × 4 s + 2 imdb × 60 s; the not-submitted slot costs nothing
    assert tracker.seconds_left() == 128.0
    tracker.started(notebooks[2])
    now[0] = 66.0
    tracker.finished(_result("s1", "conv1d", 2.0))  # the mean of conv1d falls to 3 s
    assert tracker.seconds_left() == 3.0 + 120.0
    tracker.finished(_result("s9", "imdb", 0.0, ran=False))  # reported without running: no measurement
    assert tracker.seconds_left() == 123.0
