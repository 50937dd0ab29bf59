"""The TA's page, by student: one row per student with a total and a cell per exercise, and what to look at
(failures, lateness, overrides, reviews awaited, similarity flags). summary.py renders it into index.html."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from grader.results import GradeResult

SIMILARITY_CSV = "similarity.csv"
SIMILARITY_HTML = "similarity.html"
# A notebook stopped by one of these and replayed in a fresh kernel can still earn every point.
REPLAYABLE = ("kernel_died", "memory_limit", "disk_limit")
NO_NOTEBOOK = ("not_submitted",)

Flags = dict[tuple[str, str], list[tuple[str, float]]]


def replayed_to_full_marks(result: GradeResult) -> bool:
    """Crashed, replayed around the crash, and earned every point: not a failure for the TA to chase."""
    return (result.status in REPLAYABLE and result.execution.replayed and result.max_score > 0
            and result.score >= result.max_score - 1e-9)


def failed(result: GradeResult) -> bool:
    """Did not grade normally (an invalid notebook, an error, a time or resource limit), unless replayed to full marks."""
    return result.status not in ("graded", "not_submitted") and not replayed_to_full_marks(result)


def report_href(student: str, exercise: str) -> str:
    return f"{quote(student)}/{quote(exercise)}.html"


@dataclass
class ExerciseCell:
    """One student's result for one exercise, as the by-student table shows it."""

    exercise: str
    score: float
    max_score: float
    status: str
    href: str
    failed: bool
    replayed: bool
    late_days: float
    overrides: int
    awaiting_review: int
    similar: list[tuple[str, float]]

    @property
    def submitted(self) -> bool:
        return self.status not in NO_NOTEBOOK

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


@dataclass
class StudentRow:
    student: str
    name: str
    cells: dict[str, ExerciseCell] = field(default_factory=dict)

    def _sum(self, attribute: str) -> float:
        return sum(getattr(cell, attribute) for cell in self.cells.values())

    @property
    def total(self) -> float:
        return self._sum("score")

    @property
    def max_total(self) -> float:
        return self._sum("max_score")

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max_total if self.max_total else 0.0

    @property
    def submitted(self) -> int:
        return sum(cell.submitted for cell in self.cells.values())

    @property
    def late_days(self) -> float:
        return max((cell.late_days for cell in self.cells.values()), default=0.0)

    @property
    def overrides(self) -> int:
        return int(self._sum("overrides"))

    @property
    def awaiting_review(self) -> int:
        return int(self._sum("awaiting_review"))

    @property
    def similar(self) -> list[str]:
        """Classmates a similarity flag pairs this student with, each once."""
        return sorted({other for cell in self.cells.values() for other, _ in cell.similar})

    @property
    def status(self) -> str:
        """What the row needs from the TA, the most urgent first."""
        if any(cell.failed for cell in self.cells.values()):
            return "failed"
        if self.awaiting_review:
            return "awaiting review"
        return "ok"


def _cell(result: GradeResult, max_score: float, flags: Flags) -> ExerciseCell:
    late = getattr(result, "late", None)
    return ExerciseCell(
        exercise=result.exercise, score=result.score, max_score=max_score, status=result.status,
        href=report_href(result.student, result.exercise), failed=failed(result),
        replayed=replayed_to_full_marks(result),
        late_days=float(getattr(late, "days_late", 0.0) or 0.0) if late else 0.0,
        overrides=sum(getattr(check, "override", None) is not None for check in result.checks),
        awaiting_review=int(getattr(result, "awaiting_review", 0) or 0),
        similar=flags.get((result.student, result.exercise), []),
    )


def student_rows(results: list[GradeResult], max_scores: dict[str, float], flags: Flags) -> list[StudentRow]:
    """One row per student, a cell per exercise they have a result for, sorted by student id."""
    rows: dict[str, StudentRow] = {}
    for result in sorted(results, key=lambda r: (r.student, r.exercise)):
        row = rows.setdefault(result.student, StudentRow(result.student, getattr(result, "student_name", "") or ""))
        row.name = row.name or getattr(result, "student_name", "") or ""
        row.cells[result.exercise] = _cell(result, result.max_score or max_scores.get(result.exercise, 0.0), flags)
    return list(rows.values())


def read_flags(out_dir: Path) -> Flags:
    """(student, exercise) → the classmates OUT/similarity.csv flags them with, and how alike; {} without one."""
    path = Path(out_dir) / SIMILARITY_CSV
    flags: Flags = {}
    if not path.is_file():
        return flags
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("flagged") != "1":
                continue
            value = float(row["similarity"])
            flags.setdefault((row["student_a"], row["exercise"]), []).append((row["student_b"], value))
            flags.setdefault((row["student_b"], row["exercise"]), []).append((row["student_a"], value))
    return flags
