"""Report stage, class level: OUT/grades.csv (pandas) and OUT/index.html, rebuilt from the stored results."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

import pandas as pd

import grader
from grader import dashboard
from grader.finalize import people_columns
from grader.report import TEMPLATES, ran_unisolated, write_atomic
from grader.results import CheckRecord, GradeResult, GradeStatus
from grader.rubric import Rubric

FIXED_COLUMNS = ["student", "exercise", "score", "max_score", "status"]
TRAILING_COLUMNS = ["percent", "duration_s", "message"]
NO_CHECK_VALUES = ("not_submitted", "invalid_notebook")
CSV_MESSAGE_CAP = 300
STATUSES: tuple[GradeStatus, ...] = ("graded", "not_submitted", "invalid_notebook", "error", "timeout", "kernel_died",
                                      "memory_limit", "disk_limit", "tampered")
SLOWEST_COUNT = 10
HISTOGRAM_BINS = 10
HISTOGRAM_HEIGHT = 80.0
HISTOGRAM_TOP = 12.0  # room above the tallest bar for its count
HISTOGRAM_BAR_WIDTH = 28.0
HISTOGRAM_GAP = 4.0


# ---------------------------------------------------------------- grades.csv


def _check_columns(results: list[GradeResult], rubrics: dict[str, Rubric]) -> list[str]:
    """Check ids in rubric order, exercises alphabetically; ids only seen in results (an old rubric) come last."""
    ids: list[str] = []
    for exercise in sorted(rubrics):
        ids.extend(check.id for check in rubrics[exercise].checks)
    for result in results:
        ids.extend(check.id for check in result.checks)
    return list(dict.fromkeys(ids))


def _column_name(check_id: str) -> str:
    """A check id that is also a fixed column's name ('score', 'message'…) gets a prefix, so no column is lost."""
    return f"check_{check_id}" if check_id in FIXED_COLUMNS + TRAILING_COLUMNS else check_id


def _max_score(result: GradeResult, rubrics: dict[str, Rubric]) -> float:
    """The result's max score; a result that never reached scoring (not submitted…) takes its rubric's."""
    rubric = rubrics.get(result.exercise)
    return result.max_score or (rubric.max_score if rubric else 0.0)


def _one_line(text: str, cap: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= cap else flat[: cap - 1] + "…"


def _csv_row(result: GradeResult, rubrics: dict[str, Rubric], check_ids: list[str]) -> dict[str, Any]:
    max_score = _max_score(result, rubrics)
    row: dict[str, Any] = {
        "student": result.student,
        "exercise": result.exercise,
        "score": round(result.score, 2),
        "max_score": round(max_score, 2),
        "status": result.status,
    }
    points = {} if result.status in NO_CHECK_VALUES else {check.id: check.points for check in result.checks}
    for check_id in check_ids:
        row[_column_name(check_id)] = round(points[check_id], 2) if check_id in points else None
    row["percent"] = round(100.0 * result.score / max_score, 2) if max_score else 0.0
    row["duration_s"] = round(result.duration_s, 2)
    row["message"] = _one_line(result.message, CSV_MESSAGE_CAP)
    return row


def grades_frame(results: list[GradeResult], rubrics: dict[str, Rubric]) -> pd.DataFrame:
    """The grades.csv table: one row per (student, exercise)."""
    check_ids = _check_columns(results, rubrics)
    columns = FIXED_COLUMNS + [_column_name(i) for i in check_ids] + TRAILING_COLUMNS
    ordered = sorted(results, key=lambda r: (r.student, r.exercise))
    frame = pd.DataFrame([_csv_row(r, rubrics, check_ids) for r in ordered], columns=columns)
    numeric = ["score", "max_score", *(_column_name(i) for i in check_ids), "percent", "duration_s"]
    frame = frame.astype({column: "float64" for column in numeric})
    for name, values in people_columns(ordered).items():
        frame[name] = values
    return frame


# ---------------------------------------------------------------- index.html


@dataclass
class Bin:
    """One bar of the score histogram, in SVG user units."""

    start: int
    label: str
    count: int
    x: float
    y: float
    height: float


@dataclass
class CheckSummary:
    title: str
    hidden: bool
    max_points: float
    passed: int
    partial: int
    total: int

    @property
    def rate(self) -> float:
        return 100.0 * self.passed / self.total if self.total else 0.0


@dataclass
class ExerciseSummary:
    exercise: str
    title: str
    max_score: float
    rows: int
    submitted: int
    graded: int
    mean: float | None
    median: float | None
    histogram: list[Bin]
    checks: list[CheckSummary]
    statuses: dict[str, int] = field(default_factory=dict)
    replayed: int = 0


@dataclass
class Row:
    """One (student, exercise) as the index lists it."""

    student: str
    exercise: str
    score: float
    max_score: float
    percent: float
    status: str
    message: str
    duration_s: float
    href: str
    replayed: bool = False  # crashed, replayed, full marks: not a problem

    @property
    def problem(self) -> bool:
        return self.status != "graded" and not self.replayed

    @property
    def short(self) -> bool:
        return self.score < self.max_score - 1e-9


def _histogram(percents: list[float]) -> list[Bin]:
    """Ten bins of percent below 100, and full marks in a bin of their own: the bar a TA looks for first."""
    counts = [0] * (HISTOGRAM_BINS + 1)
    width = 100 / HISTOGRAM_BINS
    for value in percents:
        full = value >= 100 - 1e-9
        counts[HISTOGRAM_BINS if full else min(HISTOGRAM_BINS - 1, max(0, int(value // width)))] += 1
    tallest = max(counts) or 1
    bins = []
    for index, count in enumerate(counts):
        height = round(HISTOGRAM_HEIGHT * count / tallest, 1)
        label = "100" if index == HISTOGRAM_BINS else f"{index * width:.0f}–<{(index + 1) * width:.0f}"
        bins.append(Bin(
            start=round(index * width), label=label, count=count,
            x=index * (HISTOGRAM_BAR_WIDTH + HISTOGRAM_GAP), y=HISTOGRAM_TOP + HISTOGRAM_HEIGHT - height, height=height,
        ))
    return bins


def _check_summaries(results: list[GradeResult], rubric: Rubric | None) -> list[CheckSummary]:
    """Pass counts per check, over the results that have a record of it."""
    records: dict[str, list[CheckRecord]] = {}
    for result in results:
        for check in result.checks:
            records.setdefault(check.id, []).append(check)
    order = [check.id for check in rubric.checks] if rubric else []
    order += [i for i in records if i not in order]
    specs = {check.id: check for check in rubric.checks} if rubric else {}
    summaries = []
    for check_id in order:
        found = records.get(check_id, [])
        spec = specs.get(check_id)
        title = spec.title if spec else found[0].title
        hidden = (spec.visibility if spec else found[0].visibility) == "hidden"
        max_points = spec.points if spec else found[0].max_points
        summaries.append(CheckSummary(
            title=title, hidden=hidden, max_points=max_points,
            passed=sum(r.passed for r in found),
            partial=sum(not r.passed and r.points > 0 for r in found),
            total=len(found),
        ))
    return summaries


def _exercise_summary(
    exercise: str, rows: list[Row], results: list[GradeResult], rubric: Rubric | None
) -> ExerciseSummary:
    submitted = [row for row in rows if row.status != "not_submitted"]
    percents = [row.percent for row in submitted]
    title = rubric.title if rubric else next((r.title for r in results if r.title), exercise)
    return ExerciseSummary(
        exercise=exercise,
        title=title,
        max_score=rubric.max_score if rubric else max((row.max_score for row in rows), default=0.0),
        rows=len(rows),
        submitted=len(submitted),
        graded=sum(row.status == "graded" or row.replayed for row in rows),
        mean=statistics.fmean(percents) if percents else None,
        median=statistics.median(percents) if percents else None,
        histogram=_histogram(percents),
        checks=_check_summaries(results, rubric),
        statuses={status: sum(row.status == status and not row.replayed for row in rows) for status in STATUSES},
        replayed=sum(row.replayed for row in rows),
    )


def _href(student: str, exercise: str) -> str:
    return f"{quote(student)}/{quote(exercise)}.html"


def _index_rows(results: list[GradeResult], rubrics: dict[str, Rubric]) -> list[Row]:
    rows = []
    for result in sorted(results, key=lambda r: (r.student, r.exercise)):
        max_score = _max_score(result, rubrics)
        rows.append(Row(
            student=result.student, exercise=result.exercise, score=result.score, max_score=max_score,
            percent=100.0 * result.score / max_score if max_score else 0.0, status=result.status,
            message=_one_line(result.message, CSV_MESSAGE_CAP), duration_s=result.duration_s,
            href=_href(result.student, result.exercise), replayed=dashboard.replayed_to_full_marks(result),
        ))
    return rows


def index_html(results: list[GradeResult], rubrics: dict[str, Rubric], problems: Iterable[str] = (),
               flags: dashboard.Flags | None = None, similarity_page: bool = False) -> str:
    """The TA's page: students by row (sortable, filterable), then each exercise graded, then every result."""
    rows = _index_rows(results, rubrics)
    # Only exercises with results: a rubric nobody was graded against would be an empty section.
    exercises = sorted({r.exercise for r in results})
    people = dashboard.student_rows(results, {e: r.max_score for e, r in rubrics.items()}, flags or {})
    summaries = [
        _exercise_summary(
            exercise,
            [row for row in rows if row.exercise == exercise],
            [r for r in results if r.exercise == exercise],
            rubrics.get(exercise),
        )
        for exercise in exercises
    ]
    return TEMPLATES.get_template("index.html.j2").render(
        summaries=summaries,
        rows=[row for row in rows if row.status != "not_submitted"],
        unsubmitted=[row for row in rows if row.status == "not_submitted"],
        people=[person for person in people if person.submitted],
        absent=[person for person in people if not person.submitted],
        exercises=exercises,
        similarity_page=similarity_page,
        slowest=sorted((row for row in rows if row.duration_s), key=lambda row: row.duration_s,
                       reverse=True)[:SLOWEST_COUNT],
        students=len({row.student for row in rows}),
        problems=list(problems),
        statuses=STATUSES,
        not_isolated=sum(ran_unisolated(result) for result in results),
        chart={"width": (HISTOGRAM_BINS + 1) * (HISTOGRAM_BAR_WIDTH + HISTOGRAM_GAP), "bar": HISTOGRAM_BAR_WIDTH,
               "axis": HISTOGRAM_TOP + HISTOGRAM_HEIGHT, "height": HISTOGRAM_TOP + HISTOGRAM_HEIGHT + 16},
        version=grader.__version__,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_summary(
    out_dir: Path, results: list[GradeResult], rubrics: dict[str, Rubric], problems: Iterable[str] = ()
) -> pd.DataFrame:
    """Write OUT/grades.csv and OUT/index.html; return the table written to the CSV."""
    out_dir = Path(out_dir)
    frame = grades_frame(results, rubrics)
    write_atomic(out_dir / "grades.csv", frame.to_csv(index=False, float_format="%.2f", lineterminator="\n"))
    similarity_page = (out_dir / dashboard.SIMILARITY_HTML).is_file()
    write_atomic(out_dir / "index.html", index_html(results, rubrics, problems, dashboard.read_flags(out_dir),
                                                    similarity_page))
    return frame
