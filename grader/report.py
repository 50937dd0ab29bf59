"""Report stage: each (student, exercise) as JSON and HTML, and the class as grades.csv and index.html."""

from __future__ import annotations

import os
import statistics
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

import grader
from grader.execute import clip
from grader.results import CheckRecord, GradeResult, GradeStatus
from grader.rubric import Rubric

FIXED_COLUMNS = ["student", "exercise", "score", "max_score", "status"]
TRAILING_COLUMNS = ["percent", "duration_s", "message"]
NO_CHECK_VALUES = ("not_submitted", "invalid_notebook")
STATUSES: tuple[GradeStatus, ...] = ("graded", "not_submitted", "invalid_notebook", "error", "timeout", "kernel_died",
                                      "memory_limit")
DETAIL_ITEMS_CAP = 20
DETAIL_TEXT_CAP = 400
MESSAGE_CAP = 1_500
CSV_MESSAGE_CAP = 300
SLOWEST_COUNT = 10
HISTOGRAM_BINS = 10
HISTOGRAM_HEIGHT = 80.0
HISTOGRAM_TOP = 12.0  # room above the tallest bar for its count
HISTOGRAM_BAR_WIDTH = 28.0
HISTOGRAM_GAP = 4.0

STATUS_EXPLANATIONS: dict[str, str] = {
    "not_submitted": "No notebook for this exercise was found in your submission folder, so nothing was graded. "
                     "The file must be named {exercise}.ipynb.",
    "invalid_notebook": "The submitted file could not be opened as a Jupyter notebook (it may be empty, corrupted, "
                        "or another kind of file renamed to .ipynb), so none of it was run.",
    "error": "Grading could not finish normally. Checks that could not run earned no points; "
             "if the message below looks like a problem with the grader rather than your code, tell your TA.",
    "timeout": "Your notebook ran past its time limit and was stopped. Cells after that point did not run, "
               "and checks that needed them earned no points.",
    "memory_limit": "Your notebook used more memory than it is allowed, so the grader stopped it in the cell named "
                    "below. Look for a tensor or list that grows much larger than you meant it to.",
    "kernel_died": "The Python process running your notebook crashed (often from running out of memory, or a crash "
                   "inside a native library). Cells after that point did not run, and checks that needed them "
                   "earned no points.",
}

PROBE_EXPLANATIONS: dict[str, str] = {
    "ok": "After your cells, the grader ran its own cell to measure your code; it finished normally.",
    "error": "The grader's measuring cell, run after yours, failed; "
             "checks that needed its measurements earned no points.",
    "timeout": "The grader's measuring cell, run after yours, ran out of time.",
    "not_run": "The grader's measuring cell did not run.",
}

_TEMPLATES = Environment(
    loader=PackageLoader("grader", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _number(value: float) -> str:
    """Points as a person writes them: 10, 7.5, 6.67."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s" if value >= 1 else f"{value:.2f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


_TEMPLATES.filters.update(clip=clip, number=_number, seconds=_seconds)


# ---------------------------------------------------------------- files


def _component(name: str) -> str:
    """A student or exercise id used as one path component; anything else would write outside OUT/<student>."""
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"{name!r} cannot be used as a file or folder name in the report folder")
    return name


def result_paths(out_dir: Path, student: str, exercise: str) -> tuple[Path, Path]:
    """(OUT/<student>/<exercise>.json, OUT/<student>/<exercise>.html)."""
    folder = Path(out_dir) / _component(student)
    name = _component(exercise)
    return folder / f"{name}.json", folder / f"{name}.html"


def _write_atomic(path: Path, text: str) -> None:
    """Write through a hidden temp file in the same folder, so a reader sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        # mkstemp makes the file owner-only; reports are meant to be read by TAs and web servers too.
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_result(out_dir: Path, result: GradeResult) -> None:
    """Write the result's JSON and its student report."""
    json_path, html_path = result_paths(out_dir, result.student, result.exercise)
    # The HTML goes first: load_results only sees a result once its JSON exists, so index.html never links nowhere.
    _write_atomic(html_path, student_html(result))
    _write_atomic(json_path, result.model_dump_json(indent=2))


def _validation_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{first['msg']}{f' at {where}' if where else ''}{more}"


def load_results(out_dir: Path) -> tuple[list[GradeResult], list[str]]:
    """Every OUT/<student>/<exercise>.json that is a GradeResult, sorted; plus one line per file that is not."""
    out_dir = Path(out_dir)
    results: list[GradeResult] = []
    problems: list[str] = []
    for path in sorted(out_dir.glob("*/*.json")):
        relative = path.relative_to(out_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        try:
            result = GradeResult.model_validate_json(path.read_bytes())
        except OSError as error:
            problems.append(f"{relative}: cannot be read ({error.strerror or error})")
            continue
        except ValidationError as error:
            problems.append(f"{relative}: not a grade result: {_validation_problem(error)}")
            continue
        if (result.student, result.exercise) != (relative.parts[0], path.stem):
            problems.append(f"{relative}: holds the result of {result.student}/{result.exercise}, "
                            "not of the student and exercise its path names")
            continue
        results.append(result)
    results.sort(key=lambda r: (r.student, r.exercise))
    return results, problems


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
    return frame.astype({column: "float64" for column in numeric})


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

    @property
    def problem(self) -> bool:
        return self.status != "graded"

    @property
    def short(self) -> bool:
        return self.score < self.max_score - 1e-9


def _histogram(percents: list[float]) -> list[Bin]:
    """Ten bins of percent; 100 % falls in the last bin, not an eleventh."""
    counts = [0] * HISTOGRAM_BINS
    width = 100 / HISTOGRAM_BINS
    for value in percents:
        counts[min(HISTOGRAM_BINS - 1, max(0, int(value // width)))] += 1
    tallest = max(counts) or 1
    bins = []
    for index, count in enumerate(counts):
        height = round(HISTOGRAM_HEIGHT * count / tallest, 1)
        bins.append(Bin(
            start=round(index * width), label=f"{index * width:.0f}–{(index + 1) * width:.0f}", count=count,
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
        graded=sum(row.status == "graded" for row in rows),
        mean=statistics.fmean(percents) if percents else None,
        median=statistics.median(percents) if percents else None,
        histogram=_histogram(percents),
        checks=_check_summaries(results, rubric),
        statuses={status: sum(row.status == status for row in rows) for status in STATUSES},
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
            href=_href(result.student, result.exercise),
        ))
    return rows


def index_html(results: list[GradeResult], rubrics: dict[str, Rubric], problems: Iterable[str] = ()) -> str:
    """The class summary page."""
    rows = _index_rows(results, rubrics)
    exercises = sorted(set(rubrics) | {r.exercise for r in results})
    summaries = [
        _exercise_summary(
            exercise,
            [row for row in rows if row.exercise == exercise],
            [r for r in results if r.exercise == exercise],
            rubrics.get(exercise),
        )
        for exercise in exercises
    ]
    return _TEMPLATES.get_template("index.html.j2").render(
        summaries=summaries,
        rows=rows,
        slowest=sorted(rows, key=lambda row: row.duration_s, reverse=True)[:SLOWEST_COUNT],
        students=len({row.student for row in rows}),
        problems=list(problems),
        statuses=STATUSES,
        not_isolated=sum(_ran_unisolated(result) for result in results),
        chart={"width": HISTOGRAM_BINS * (HISTOGRAM_BAR_WIDTH + HISTOGRAM_GAP), "bar": HISTOGRAM_BAR_WIDTH,
               "axis": HISTOGRAM_TOP + HISTOGRAM_HEIGHT, "height": HISTOGRAM_TOP + HISTOGRAM_HEIGHT + 16},
        version=grader.__version__,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _ran_unisolated(result: GradeResult) -> bool:
    """A kernel ran for this result outside the sandbox."""
    return result.execution.status != "not_run" and not result.execution.isolated


def write_summary(
    out_dir: Path, results: list[GradeResult], rubrics: dict[str, Rubric], problems: Iterable[str] = ()
) -> pd.DataFrame:
    """Write OUT/grades.csv and OUT/index.html; return the table written to the CSV."""
    out_dir = Path(out_dir)
    frame = grades_frame(results, rubrics)
    _write_atomic(out_dir / "grades.csv", frame.to_csv(index=False, float_format="%.2f", lineterminator="\n"))
    _write_atomic(out_dir / "index.html", index_html(results, rubrics, problems))
    return frame


# ---------------------------------------------------------------- student report


@dataclass
class Detail:
    """One entry of a check's details, shaped for the template: a list, a table, or a text."""

    label: str
    items: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    more: int = 0


def _detail(key: str, value: Any) -> Detail:
    label = key.replace("_", " ").capitalize()
    if isinstance(value, dict):
        pairs = [(clip(str(k), DETAIL_TEXT_CAP), clip(str(v), DETAIL_TEXT_CAP)) for k, v in value.items()]
        return Detail(label, pairs=pairs[:DETAIL_ITEMS_CAP], more=max(0, len(pairs) - DETAIL_ITEMS_CAP))
    if isinstance(value, (list, tuple)):
        items = [clip(str(item), DETAIL_TEXT_CAP) for item in value]
        return Detail(label, items=items[:DETAIL_ITEMS_CAP], more=max(0, len(items) - DETAIL_ITEMS_CAP))
    return Detail(label, text=clip(str(value), DETAIL_TEXT_CAP))


@dataclass
class CheckView:
    record: CheckRecord
    verdict: str
    gate_note: str
    details: list[Detail]


def _verdict(check: CheckRecord) -> str:
    if check.passed:
        return "pass"
    return "partial" if check.points > 0 else "fail"


def _gate_note(check: CheckRecord, titles: dict[str, str]) -> str:
    if not check.gated_by:
        return ""
    # score.py already opens the message with this sentence when the check would otherwise have earned points.
    if check.message.startswith("No credit because"):
        return ""
    names = ", ".join(f"'{titles.get(gate, gate)}'" for gate in check.gated_by)
    return f"No credit because {names} failed: this check only counts once that one passes."


def _check_views(checks: list[CheckRecord]) -> list[CheckView]:
    titles = {check.id: check.title for check in checks}
    return [
        CheckView(check, _verdict(check), _gate_note(check, titles),
                  [_detail(key, value) for key, value in check.details.items()])
        for check in checks
    ]


def student_html(result: GradeResult, show_hidden: bool = True) -> str:
    """The student's report; without hidden checks, the score shown covers the public checks only."""
    shown = [check for check in result.checks if show_hidden or check.visibility != "hidden"]
    withheld = [check for check in result.checks if not show_hidden and check.visibility == "hidden"]
    score = sum(check.points for check in shown) if withheld else result.score
    max_score = sum(check.max_points for check in shown) if withheld else result.max_score
    return _TEMPLATES.get_template("student.html.j2").render(
        result=result,
        checks=_check_views(shown),
        withheld_count=len(withheld),
        withheld_points=sum(check.max_points for check in withheld),
        score=score,
        max_score=max_score,
        percent=100.0 * score / max_score if max_score else 0.0,
        explanation=STATUS_EXPLANATIONS.get(result.status, "").format(exercise=result.exercise),
        probe_explanation=PROBE_EXPLANATIONS.get(result.execution.probe.status, ""),
        message_cap=MESSAGE_CAP,
        footer=_footer(result),
        not_isolated=_ran_unisolated(result),
    )


def _footer(result: GradeResult) -> list[str]:
    """Which file was graded and how long grading took, for a student who wants to match the report to a file."""
    parts = [f"notebook {result.notebook}"] if result.notebook else []
    parts += [f"sha256 {result.notebook_sha256[:12]}"] if result.notebook_sha256 else []
    parts += [f"grading took {_seconds(result.duration_s)}"] if result.duration_s else []
    return parts
