"""What a batch is doing now: which notebooks are running, and the time left, estimated from measured durations.

The time a notebook takes depends on its exercise (a Conv1D notebook seconds, an IMDb one minutes), so the estimate
keeps one expected duration per exercise: the mean of this run's finished notebooks of that exercise, and until the
first one finishes, a prior (the median of that exercise's earlier attempts in the gradebook).
"""

from __future__ import annotations

import sqlite3
import statistics
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Callable

from grader import gradebook
from grader.discover import Submission
from grader.results import GradeResult

PRIOR_ATTEMPTS = 50  # of each exercise's most recent attempts in the gradebook
RUNNING_SHOWN = 4


def expected_durations(observed: dict[str, list[float]], priors: dict[str, float],
                       exercises: set[str]) -> dict[str, float | None]:
    """Seconds one notebook of each exercise is expected to take: this run's mean, else the prior, else the mean
    of the exercises that have either (None when no exercise has)."""
    known = {exercise: statistics.fmean(observed[exercise]) if observed.get(exercise) else priors.get(exercise)
             for exercise in exercises}
    measured = [seconds for seconds in known.values() if seconds is not None]
    fallback = statistics.fmean(measured) if measured else None
    return {exercise: seconds if seconds is not None else fallback for exercise, seconds in known.items()}


def estimate_left(expected: dict[str, float | None], queued: Counter[str], running: list[tuple[str, float]],
                  workers: int) -> float | None:
    """Seconds until the batch ends: the work left shared by the workers, but never less than the longest single
    notebook still to finish. `running` holds (exercise, seconds it has run); None while nothing is known."""
    remaining = [expected.get(exercise) for exercise, count in queued.items() for _ in range(count)]
    remaining += [None if expected.get(exercise) is None else max(0.0, expected[exercise] - elapsed)  # type: ignore[operator]
                  for exercise, elapsed in running]
    if not remaining:
        return 0.0
    if any(seconds is None for seconds in remaining):
        return None
    known = [seconds for seconds in remaining if seconds is not None]
    return max(sum(known) / max(1, workers), max(known))


def gradebook_priors(out_dir: Path, exercises: set[str]) -> dict[str, float]:
    """The median duration of each exercise's most recent attempts in this output folder's gradebook."""
    try:
        attempts = gradebook.attempts(out_dir)
    except (sqlite3.Error, OSError):  # an unreadable gradebook only means no prior
        return {}
    durations: dict[str, list[float]] = {}
    for attempt in attempts:
        if attempt["exercise"] in exercises and attempt["status"] not in ("invalid_notebook", "error"):
            durations.setdefault(str(attempt["exercise"]), []).append(float(attempt["duration_s"]))  # type: ignore[arg-type]
    return {exercise: statistics.median(values[-PRIOR_ATTEMPTS:]) for exercise, values in durations.items()}


@dataclass
class _Slot:
    exercise: str
    submitted: bool


class Tracker:
    """Follows one batch through its start and result events (from any thread) and says what it is doing."""

    def __init__(self, submissions: list[Submission], workers: int, priors: dict[str, float],
                 clock: Callable[[], float] = monotonic):
        self._slots = {(s.student, s.exercise): _Slot(s.exercise, s.notebook is not None) for s in submissions}
        self._queued = set(self._slots)
        self._running: dict[tuple[str, str], float] = {}
        self._observed: dict[str, list[float]] = {}
        self._priors = priors
        self._workers = workers
        self._clock = clock
        self._lock = threading.Lock()

    def started(self, submission: Submission) -> None:
        key = (submission.student, submission.exercise)
        with self._lock:
            self._queued.discard(key)
            if submission.notebook is not None:
                self._running[key] = self._clock()

    def finished(self, result: GradeResult) -> None:
        """A result arrived: a notebook that ran adds its duration to its exercise's measurements."""
        key = (result.student, result.exercise)
        with self._lock:
            self._queued.discard(key)
            was_running = self._running.pop(key, None) is not None
            if was_running and result.execution.cells:
                self._observed.setdefault(result.exercise, []).append(result.duration_s)

    def _outstanding(self) -> tuple[Counter[str], list[tuple[str, float]]]:
        now = self._clock()
        queued = Counter(self._slots[key].exercise for key in self._queued if self._slots[key].submitted)
        return queued, [(key[1], now - since) for key, since in self._running.items()]

    def seconds_left(self) -> float | None:
        with self._lock:
            queued, running = self._outstanding()
            expected = expected_durations(self._observed, self._priors, set(queued) | {e for e, _ in running})
        return estimate_left(expected, queued, running, self._workers)

    def untimed(self) -> list[str]:
        """Exercises still to grade that have neither a finished notebook in this run nor a prior."""
        with self._lock:
            queued, running = self._outstanding()
            outstanding = set(queued) | {exercise for exercise, _ in running}
        return sorted(e for e in outstanding if not self._observed.get(e) and e not in self._priors)

    def running_text(self) -> str:
        """'adi/imdb 0:42, budi/conv1d 0:03': the notebooks being graded, longest-running first."""
        with self._lock:
            now = self._clock()
            running = sorted(self._running.items(), key=lambda item: item[1])
        shown = [f"{student}/{exercise} {_clock_text(now - since)}" for (student, exercise), since in
                 running[:RUNNING_SHOWN]]
        more = len(running) - RUNNING_SHOWN
        return ", ".join(shown) + (f" +{more} more" if more > 0 else "")

    def left_text(self) -> str:
        """'~2:10 left', and which exercises the figure guesses at because none of theirs has finished yet."""
        seconds = self.seconds_left()
        if seconds is None:
            return "estimating…"
        untimed = self.untimed()
        return f"~{_clock_text(seconds)} left" + (f" ({', '.join(untimed)} not yet timed)" if untimed else "")


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
