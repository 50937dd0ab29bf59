"""What people decided, applied to a graded result: overrides, manual checks awaiting review, the late penalty, and
the LMS's name and submission time. Idempotent: a result is finalized again after every regrade or new override."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from grader import late, overrides, report
from grader.intake import IntakeRun, load_intake
from grader.results import CheckRecord, GradeResult, OverrideRecord
from grader.rubric import Rubric
from grader.score import FULL

MANUAL = "manual"
HOW = {"name": "matched by name", "defines": "matched by what it defines", "only": "the student's only notebook"}


def _apply_override(check: CheckRecord, override: OverrideRecord | None) -> None:
    base = check.override.original_points if check.override else check.points
    if override is None:
        if check.override is not None:
            check.points, check.override = base, None
    else:
        check.points = override.points
        check.override = override.model_copy(update={"original_points": base})
    check.fraction = min(1.0, max(0.0, check.points / check.max_points)) if check.max_points else 1.0
    check.passed = check.fraction >= FULL
    check.awaiting_review = check.type == MANUAL and check.override is None and "answer" in check.details


def _apply_intake(result: GradeResult, intake: IntakeRun | None) -> None:
    if intake is None:
        return
    result.student_name = intake.names.get(result.student, result.student_name)
    chosen = intake.chosen.get(result.student, {}).get(result.exercise)
    if chosen is None:
        if result.status == "not_submitted":
            result.message = ("on the roster, nothing in the LMS export" if result.student in intake.expected else
                              f"no notebook in this student's LMS submission matched {result.exercise} (see intake.csv)")
        return
    result.submitted_at = chosen.submitted_at
    result.intake = f"{HOW.get(chosen.how, chosen.how)}: {chosen.file}" + (f"; {chosen.note}" if chosen.note else "")
    result.intake_flagged = chosen.flagged


def finalize(result: GradeResult, rubric: Rubric | None, current: dict[overrides.Key, OverrideRecord],
             intake: IntakeRun | None, due: datetime | None) -> GradeResult:
    """Apply everything people decided; the score is the checks' points minus the late penalty (never below 0)."""
    _apply_intake(result, intake)
    for check in result.checks:
        _apply_override(check, current.get((result.student, result.exercise, check.id)))
    result.awaiting_review = sum(check.awaiting_review for check in result.checks)
    late_override = current.get((result.student, result.exercise, overrides.LATE))
    rule = rubric.late_penalty if rubric is not None else None
    result.late = None if result.status == "not_submitted" else late.late_record(
        result.submitted_at, due, rule, result.max_score, late_override)
    penalty = result.late.penalty_points if result.late else 0.0
    result.score = round(max(0.0, sum(check.points for check in result.checks) - penalty), 2)
    return result


def finalize_stored(out_dir: Path, rubrics: dict[str, Rubric], only: set[tuple[str, str]] | None = None) -> int:
    """Finalize every stored result (or the (student, exercise) pairs in `only`) and rewrite those that changed."""
    results, _ = report.load_results(out_dir)
    current = overrides.current(out_dir)
    intake, due = load_intake(out_dir), late.load_due(out_dir)
    changed = 0
    for result in results:
        if only is not None and (result.student, result.exercise) not in only:
            continue
        before = result.model_dump_json()
        finalize(result, rubrics.get(result.exercise), current, intake, due)
        if result.model_dump_json() != before:
            report.write_result(out_dir, result)
            changed += 1
    return changed


def _override_text(result: GradeResult) -> str:
    parts = [f"{check.id}: {check.override.original_points:g}→{check.override.points:g} by {check.override.by} "
             f"({check.override.reason})" for check in result.checks if check.override]
    if result.late and result.late.overridden:
        parts.append(f"late penalty: {result.late.penalty_points:g} ({result.late.rule})")
    return "; ".join(parts)


def people_columns(results: list[GradeResult]) -> dict[str, list[object]]:
    """grades.csv's columns after `message`, each only when some result has it: the LMS's name and submission time,
    lateness, manual checks awaiting review, overrides."""
    columns: dict[str, list[object]] = {
        "student_name": [r.student_name for r in results],
        "submitted_at": [r.submitted_at for r in results],
        "late_days": [r.late.days_late if r.late else None for r in results],
        "late_penalty": [r.late.penalty_points if r.late else None for r in results],
        "awaiting_review": [r.awaiting_review or "" for r in results],
        "overrides": [_override_text(r) for r in results],
    }
    return {name: values for name, values in columns.items() if any(v not in ("", None) for v in values)}
