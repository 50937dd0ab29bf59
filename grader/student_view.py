"""What a student sees of a result: the public checks, failing ones first, hidden ones counted and never described.

Shared by `grader check` (a terminal table, `--report` JSON) and `selfcheck()` in a notebook (an HTML table).
"""

from __future__ import annotations

import html

from grader.kit import Withheld
from grader.results import CellRecord, CheckRecord, GradeResult

PROBLEM_CELLS = ("error", "timeout", "kernel_died", "memory_limit", "disk_limit")
REEXECUTION_NOTE = ("This checked the kernel's current state without running anything again. The TA's grading "
                    "re-executes the notebook from scratch in a fresh kernel, so it may differ where the notebook "
                    "depends on cells run out of order or on state changed by hand.")


def public_checks(result: GradeResult) -> list[CheckRecord]:
    """The public checks, the failing ones first (each group in rubric order): the first row is the first to fix."""
    public = [check for check in result.checks if check.visibility == "public"]
    return [check for check in public if not check.passed] + [check for check in public if check.passed]


def withheld_of(result: GradeResult, kit_withheld: Withheld | None) -> Withheld:
    """Hidden checks: those the result holds (a full course) plus those a kit left out."""
    hidden = [check for check in result.checks if check.visibility == "hidden"]
    extra = kit_withheld or Withheld(0, 0.0)
    return Withheld(len(hidden) + extra.checks, sum(check.max_points for check in hidden) + extra.points)


def hidden_sentence(withheld: Withheld) -> str:
    if not withheld.checks:
        return ""
    plural = "s" if withheld.checks != 1 else ""
    points = f"{withheld.points:g} point{'s' if withheld.points != 1 else ''}"
    return (f"{withheld.checks} hidden check{plural} worth {points} also count{'' if plural else 's'} in the TA's "
            "grade: not shown here.")


REVIEW = "a TA reads it"


def verdict(check: CheckRecord) -> str:
    if check.type == "manual":
        return REVIEW
    return "pass" if check.passed else ("partial" if check.points > 0 else "fail")


def problem_cells(result: GradeResult) -> list[CellRecord]:
    return [cell for cell in result.execution.cells if cell.status in PROBLEM_CELLS]


def cell_line(cell: CellRecord) -> str:
    """'cell 4, line 7: NameError: name 'x' is not defined  →  y = x + 1' (plain text)."""
    where = f"cell {cell.number}" + (f", line {cell.error_line}" if cell.error_line else "")
    source = f"  →  {cell.error_source}" if cell.error_source else ""
    return f"{where}: {cell.error_name}: {cell.error_message}{source}"


def first_to_fix(result: GradeResult) -> str:
    """One sentence naming what to fix first: the first cell that failed, else the first failing public check."""
    cells = problem_cells(result)
    if cells:
        return f"Fix first: {cell_line(cells[0])}"
    failing = [check for check in public_checks(result) if not check.passed and check.type != "manual"]
    return f"Fix first: {failing[0].title}: {failing[0].message}" if failing else ""


def public_result(result: GradeResult) -> GradeResult:
    """The result as a TA's grading writes it, with only its public checks (and their points as the score); the max
    score leaves out the hidden checks' points, and bonus checks' points stay out of it as in the TA's."""
    public = [check for check in result.checks if check.visibility == "public"]
    hidden_points = sum(check.max_points for check in result.checks if check.visibility == "hidden")
    return result.model_copy(update={"checks": public,
                                     "score": round(sum(check.points for check in public), 2),
                                     "max_score": result.max_score - hidden_points})


def html_table(result: GradeResult, withheld: Withheld, note: str = REEXECUTION_NOTE) -> str:
    """The student's table as HTML for a notebook: the first thing to fix, each public check, the hidden count."""
    rows = "".join(
        f"<tr><td>{html.escape(check.title)}</td><td style='text-align:right'>{check.points:g}/{check.max_points:g}"
        f"</td><td style='color:{'green' if check.passed else ('darkorange' if check.points > 0 else 'red')}'>"
        f"<b>{verdict(check)}</b></td><td style='text-align:left'>{html.escape(check.message)}</td></tr>"
        for check in public_checks(result))
    public = [check for check in result.checks if check.visibility == "public"]
    earned, total = sum(check.points for check in public), sum(check.max_points for check in public)
    fix = first_to_fix(result)
    parts = [f"<h4>{html.escape(result.title or result.exercise)}: public checks {earned:g} / {total:g} points</h4>"]
    if fix:
        parts.append(f"<p><b>{html.escape(fix)}</b></p>")
    parts.append("<table><thead><tr><th>check</th><th>points</th><th>result</th><th>reason</th></tr></thead>"
                 f"<tbody>{rows}</tbody></table>")
    hidden = hidden_sentence(withheld)
    if hidden:
        parts.append(f"<p>{html.escape(hidden)}</p>")
    if result.message:
        parts.append(f"<p><i>Note: {html.escape(result.message)}</i></p>")
    if note:
        parts.append(f"<p><i>{html.escape(note)}</i></p>")
    return "<div class='grader-selfcheck'>" + "".join(parts) + "</div>"
