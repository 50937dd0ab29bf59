"""Score: points × fraction, and a failed gate takes the credit of the checks it guards."""

from grader.check import CheckRun, Outcome
from grader.rubric import parse_rubric
from grader.score import score

RUBRIC = parse_rubric({
    "exercise": "demo", "title": "Demo",
    "checks": [
        {"id": "scratch", "title": "From scratch", "points": 20, "type": "t"},
        {"id": "shapes", "title": "Shapes", "points": 30, "type": "t", "gate": "scratch"},
        {"id": "grads", "title": "Grads", "points": 50, "type": "t"},
    ],
}, "demo.yaml")


def runs(*fractions):
    return [CheckRun(spec, Outcome(fraction, f"m{index}")) for index, (spec, fraction) in enumerate(zip(RUBRIC.checks, fractions))]


def test_partial_credit_is_points_times_fraction():
    records, total = score(RUBRIC, runs(1.0, 0.5, 1 / 3))
    assert [r.points for r in records] == [20, 15, 16.67]
    assert total == 51.67
    assert [r.passed for r in records] == [True, False, False]


def test_failed_gate_takes_credit_and_says_why():
    records, total = score(RUBRIC, runs(0.0, 1.0, 1.0))
    assert records[1].points == 0 and records[1].gated_by == ["scratch"]
    assert records[1].message.startswith("No credit because 'From scratch' failed")
    assert total == 50


def test_gate_needs_full_pass():
    records, _ = score(RUBRIC, runs(0.99, 1.0, 0.0))
    assert records[1].points == 0
