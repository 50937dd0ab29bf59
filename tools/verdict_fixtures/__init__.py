"""Verdict fixtures: notebooks from code nobody here wrote (the course's slides, tutorials, public implementations)
and the ways students write, each with the score band a fair TA would give, decided before it was run.

One module per exercise (`tools/verdict_fixtures/<exercise>.py`) defines `FIXTURES: list[Fixture]`.
`python tools/make_verdict_fixtures.py` writes their notebooks into `tests/fixtures/notebooks/` and the manifest
`tests/fixtures/verdicts/<exercise>.yaml`, which `tests/test_verdicts.py` grades and `tools/verdicts.py` turns into
`docs/verdicts.md`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fixture:
    """One scenario: the notebook's cells (None: the notebook is written by another generator) and its verdict."""

    name: str
    exercise: str
    source: str
    band: tuple[float, float]
    why: str
    cells: tuple[tuple[str, str], ...] | None = None
    report_contains: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ("graded",)
    quick: bool = True
    tags: tuple[str, ...] = field(default=())

    def manifest_entry(self) -> dict:
        """The fields the test and the table read (the cells live in the notebook itself)."""
        return {
            "notebook": f"{self.name}.ipynb",
            "source": self.source,
            "band": list(self.band),
            "why": self.why,
            "report_contains": list(self.report_contains),
            "statuses": list(self.statuses),
            "quick": self.quick,
        }
