"""Check stage: run each rubric check in the grader's own process on what the probe measured."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from grader import registry
from grader.results import ExecutionRecord
from grader.rubric import CheckSpec, Rubric

if TYPE_CHECKING:
    import nbformat  # only the type: the probe imports this module inside the student's kernel

    # Types only: grader.probe loads torch, which `grader grade` imports only once the first kernel is booting.
    from grader.probe import ProbeData, ProbePlan


class ProbeUnavailable(Exception):
    """Raised by a check that needs probe data when there is none; the message says why."""


@dataclass
class Outcome:
    """A check's verdict: the fraction of its points earned and one sentence a student can act on."""

    fraction: float
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, message: str, **details: Any) -> "Outcome":
        return cls(1.0, message, details)

    @classmethod
    def failed(cls, message: str, **details: Any) -> "Outcome":
        return cls(0.0, message, details)

    @classmethod
    def partial(cls, fraction: float, message: str, **details: Any) -> "Outcome":
        return cls(min(1.0, max(0.0, fraction)), message, details)


@dataclass
class CheckContext:
    """Everything a check may look at. None of it is live student code."""

    rubric: Rubric
    spec: CheckSpec
    plan: ProbePlan
    probe: ProbeData | None
    probe_problem: str
    execution: ExecutionRecord
    notebook: nbformat.NotebookNode
    quick: bool = False
    device: str = "cpu"

    def data(self) -> ProbeData:
        """The probe's data, or ProbeUnavailable with the reason it is missing."""
        if self.probe is None:
            raise ProbeUnavailable(self.probe_problem or "the grader could not probe this notebook")
        return self.probe


@dataclass
class CheckRun:
    spec: CheckSpec
    outcome: Outcome
    crashed: bool = False


def run_check(context: CheckContext) -> CheckRun:
    """Run one check; a crash inside the grader's check is recorded, never raised."""
    check_type = registry.get_check(context.spec.type)
    try:
        params = check_type.params.model_validate(context.spec.params)
        outcome = check_type.function(context, **{name: getattr(params, name) for name in type(params).model_fields})
    except ProbeUnavailable as missing:
        return CheckRun(context.spec, Outcome.failed(f"Not checked: {missing}."))
    except Exception as error:  # noqa: BLE001 - one broken check must not lose the others
        last = traceback.extract_tb(error.__traceback__)[-1]
        message = f"The grader failed on this check ({type(error).__name__}: {error}, {last.filename}:{last.lineno})."
        return CheckRun(context.spec, Outcome.failed(message), crashed=True)
    return CheckRun(context.spec, outcome)


def run_checks(base: CheckContext) -> list[CheckRun]:
    """Run every check of the rubric, in rubric order."""
    return [run_check(replace(base, spec=spec)) for spec in base.rubric.checks]
