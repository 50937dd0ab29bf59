"""Gradescope's autograder format: one results.json per submission (score, and one test per check)."""

from __future__ import annotations

import json
from pathlib import Path

from grader.report import write_atomic
from grader.results import CheckRecord, GradeResult

OUTPUT_CAP = 2_000


def _test(check: CheckRecord, hidden_number: int) -> dict[str, object]:
    """A check as a Gradescope test; a hidden check is a hidden test: counted, never described."""
    hidden = check.visibility == "hidden"
    output = "" if hidden else check.message[:OUTPUT_CAP]
    if check.override and not hidden:
        output += f"\nSet to {check.override.points:g} by {check.override.by}: {check.override.reason}"
    return {"name": f"hidden check {hidden_number}" if hidden else check.title, "score": check.points, "max_score": check.max_points,
            "status": "passed" if check.passed else "failed", "output": output.strip(),
            "visibility": "hidden" if hidden else "visible"}


def results_json(result: GradeResult) -> dict[str, object]:
    """Gradescope's results.json: the top-level score is the final one (overrides in, late penalty out)."""
    lines = [f"{result.title or result.exercise}: {result.score:g} / {result.max_score:g} ({result.status})"]
    if result.message:
        lines.append(result.message[:OUTPUT_CAP])
    if result.late:
        lines.append(f"Late by {result.late.days_late:.2f} days: −{result.late.penalty_points:g} points "
                     f"({result.late.rule}).")
    if result.awaiting_review:
        lines.append(f"{result.awaiting_review} written answer(s) awaiting review by a TA.")
    return {"score": result.score, "execution_time": round(result.duration_s),
            "output": "\n".join(lines), "visibility": "visible",
            "tests": [_test(check, sum(c.visibility == "hidden" for c in result.checks[:index]) + 1)
                      for index, check in enumerate(result.checks)]}


def export(results: list[GradeResult], out_dir: Path) -> list[Path]:
    """OUT/gradescope/<student>/<exercise>/results.json for every submitted result."""
    written = []
    for result in results:
        if result.status == "not_submitted":
            continue
        path = Path(out_dir) / "gradescope" / result.student / result.exercise / "results.json"
        write_atomic(path, json.dumps(results_json(result), indent=2, ensure_ascii=False))
        written.append(path)
    return written
