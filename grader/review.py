"""`grader review`: every student's written answer to each manual check on one offline page with a points field;
the page saves the TA's points as CSV or JSON, and `grader review --apply FILE` stores them as overrides."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from grader import overrides
from grader.report import TEMPLATES, write_atomic
from grader.results import GradeResult
from grader.rubric import Rubric

FIELDS = ["student", "exercise", "check", "points", "reason"]


@dataclass
class Answer:
    student: str
    name: str
    answer: str
    message: str
    points: float | None
    reason: str


@dataclass
class ManualCheck:
    id: str
    title: str
    max_points: float
    answers: list[Answer] = field(default_factory=list)


def manual_checks(rubric: Rubric, results: list[GradeResult]) -> list[ManualCheck]:
    """Each manual check of the rubric with every submitted student's answer (or why there is none)."""
    found = []
    for spec in rubric.checks:
        if spec.type != "manual":
            continue
        entry = ManualCheck(spec.id, spec.title, spec.points)
        for result in results:
            check = next((c for c in result.checks if c.id == spec.id), None)
            if result.exercise != rubric.exercise or check is None:
                continue
            entry.answers.append(Answer(
                student=result.student, name=result.student_name, answer=str(check.details.get("answer", "")),
                message=check.message, points=check.override.points if check.override else None,
                reason=check.override.reason if check.override else ""))
        found.append(entry)
    return found


def write_review(out_dir: Path, rubric: Rubric, results: list[GradeResult]) -> Path:
    """OUT/review/<exercise>.html."""
    checks = manual_checks(rubric, results)
    page = TEMPLATES.get_template("review.html.j2").render(rubric=rubric, checks=checks, fields=FIELDS)
    path = Path(out_dir) / "review" / f"{rubric.exercise}.html"
    write_atomic(path, page)
    return path


@dataclass(frozen=True)
class Entry:
    student: str
    exercise: str
    check: str
    points: float
    reason: str


def read_filled(path: Path) -> tuple[list[Entry], list[str]]:
    """The points a TA entered (CSV or JSON saved by the review page); rows without points are skipped."""
    text = path.read_text(encoding="utf-8-sig")
    rows = json.loads(text) if path.suffix.lower() == ".json" else list(csv.DictReader(io.StringIO(text)))
    entries, problems = [], []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or str(row.get("points", "")).strip() == "":
            continue
        try:
            points = float(str(row["points"]).replace(",", "."))
            entries.append(Entry(str(row["student"]), str(row["exercise"]), str(row["check"]), points,
                                 str(row.get("reason") or "").strip() or "written answer reviewed"))
        except (KeyError, ValueError):
            problems.append(f"{path.name} row {number}: needs student, exercise, check and a number of points")
    return entries, problems


def apply(out_dir: Path, entries: list[Entry], results: list[GradeResult], by: str | None = None) -> tuple[int, list[str]]:
    """Store each entry as an override after checking it names a graded check and fits its points."""
    by_key = {(r.student, r.exercise): r for r in results}
    stored, problems = 0, []
    for entry in entries:
        result = by_key.get((entry.student, entry.exercise))
        check = next((c for c in result.checks if c.id == entry.check), None) if result else None
        if check is None:
            problems.append(f"{entry.student}/{entry.exercise}/{entry.check}: no such graded check")
            continue
        if not 0 <= entry.points <= check.max_points:
            problems.append(f"{entry.student}/{entry.exercise}/{entry.check}: {entry.points:g} is outside 0–"
                            f"{check.max_points:g}")
            continue
        original = check.override.original_points if check.override else check.points
        overrides.add(out_dir, (entry.student, entry.exercise, entry.check), entry.points, original, entry.reason, by)
        stored += 1
    return stored, problems
