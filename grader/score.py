"""Score stage: rubric points per check, partial credit, and gates."""

from __future__ import annotations

from grader.check import CheckRun
from grader.results import CheckRecord
from grader.rubric import Rubric

FULL = 1.0 - 1e-9


def score(rubric: Rubric, runs: list[CheckRun]) -> tuple[list[CheckRecord], float]:
    """Turn check outcomes into records with points; a check whose gate failed earns nothing."""
    fractions = {run.spec.id: run.outcome.fraction for run in runs}
    titles = {spec.id: spec.title for spec in rubric.checks}
    records = []
    for run in runs:
        spec, outcome = run.spec, run.outcome
        failed_gates = [gate for gate in spec.gate if fractions.get(gate, 0.0) < FULL]
        fraction = 0.0 if failed_gates else outcome.fraction
        message = outcome.message
        if failed_gates and outcome.fraction > 0:
            names = ", ".join(f"'{titles[gate]}'" for gate in failed_gates)
            message = f"No credit because {names} failed (this would otherwise earn {outcome.fraction:.0%}). {message}"
        records.append(
            CheckRecord(
                id=spec.id,
                title=spec.title,
                type=spec.type,
                visibility=spec.visibility,
                points=round(spec.points * fraction, 2),
                max_points=spec.points,
                passed=fraction >= FULL,
                fraction=fraction,
                message=message,
                gated_by=failed_gates,
                details=outcome.details,
            )
        )
    return records, round(sum(record.points for record in records), 2)
