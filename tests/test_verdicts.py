"""Every verdict fixture (tests/fixtures/verdicts/*.yaml) through the whole pipeline: its score lies in the band a
fair TA gave it before it was run, and its report says what the TA would say."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, ROOT, GradeOnce, repo_rubric
from grader import data
from grader.report import student_html

MANIFESTS = ROOT / "tests" / "fixtures" / "verdicts"


def verdict_cases() -> list:
    cases = []
    for manifest in sorted(MANIFESTS.glob("*.yaml")):
        for entry in yaml.safe_load(manifest.read_text(encoding="utf-8")) or []:
            cases.append(pytest.param(manifest.stem, entry, id=Path(entry["notebook"]).stem))
    return cases


def report_text(result) -> str:
    """What a person reads: the rendered report without markup, plus every check's message and details."""
    page = html.unescape(re.sub(r"<[^>]+>", " ", student_html(result)))
    return " ".join([page, result.model_dump_json()]).lower()


@pytest.mark.slow
@pytest.mark.parametrize(("exercise", "entry"), verdict_cases())
def test_fixture_is_in_band(exercise: str, entry: dict, grade_once: GradeOnce) -> None:
    rubric = repo_rubric(exercise)
    data.prepare(set(rubric.data), quick=entry.get("quick", True))  # quick stand-ins are built here, as `grade` does
    result = grade_once(FIXTURES / entry["notebook"], rubric, student=Path(entry["notebook"]).stem,
                        quick=entry.get("quick", True))
    low, high = entry["band"]
    summary = f"{entry['notebook']}: {result.status} {result.score} ({entry['why']}); " + "; ".join(
        f"{check.id} {check.points}/{check.max_points}: {check.message}" for check in result.checks)
    assert result.status in entry["statuses"], summary
    assert low - 1e-6 <= result.score <= high + 1e-6, summary
    text = report_text(result)
    missing = [words for words in entry["report_contains"] if words.lower() not in text]
    assert not missing, f"report lacks {missing}: {summary}"
