"""Grade every verdict fixture and write docs/verdicts.md: fixture, source, expected band, score, in band, why.

Run from the repository root (quick mode, one notebook at a time; about a minute per ten light notebooks):

    python tools/verdicts.py [--exercise ID ...]

`--results DIR` keeps every result in DIR and reuses those already there (a rerun grades only what is missing);
the output folder of a `python -m pytest tests/test_verdicts.py` run can be given too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import data  # noqa: E402
from grader.discover import Submission  # noqa: E402
from grader.grade import Options, grade_one  # noqa: E402
from grader.results import GradeResult  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402

MANIFESTS = ROOT / "tests" / "fixtures" / "verdicts"
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
DOC = ROOT / "docs" / "verdicts.md"


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def result_of(exercise: str, entry: dict, out_dir: Path, stored: Path | None) -> GradeResult:
    """The fixture's result: read from a test run's output folder when it is there, else graded now into `out_dir`."""
    name = Path(entry["notebook"]).stem
    stored_file = stored / name / f"{exercise}.json" if stored is not None else None
    if stored_file is not None and stored_file.is_file():
        return GradeResult.model_validate_json(stored_file.read_text(encoding="utf-8"))
    rubric = load_rubric(ROOT / "rubrics" / f"{exercise}.yaml")
    data.prepare(set(rubric.data), quick=entry.get("quick", True))  # as `grader grade` does: stand-ins up to date
    options = Options(out_dir=stored or out_dir, secret="verdicts", quick=entry.get("quick", True))
    return grade_one(Submission(name, exercise, FIXTURES / entry["notebook"]), rubric, options)


def grade_manifest(exercise: str, out_dir: Path, stored: Path | None) -> list[str]:
    """One table row per fixture of the exercise."""
    rows = []
    for entry in yaml.safe_load((MANIFESTS / f"{exercise}.yaml").read_text(encoding="utf-8")) or []:
        name = Path(entry["notebook"]).stem
        result = result_of(exercise, entry, out_dir, stored)
        low, high = entry["band"]
        in_band = low - 1e-6 <= result.score <= high + 1e-6 and result.status in entry["statuses"]
        band = f"{low:g}" if low == high else f"{low:g}–{high:g}"
        rows.append(f"| `{name}` | {cell(entry['source'])} | {band} | {result.score:g} ({result.status}) | "
                    f"{'yes' if in_band else '**NO**'} | {cell(entry['why'])} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise", nargs="*", help="only these exercises' manifests")
    parser.add_argument("--results", type=Path, help="keep results here and reuse those already there")
    args = parser.parse_args()
    exercises = args.exercise or sorted(path.stem for path in MANIFESTS.glob("*.yaml"))
    lines = [
        "# Verdict accuracy",
        "",
        "Every verdict fixture (`tests/fixtures/verdicts/*.yaml`, written by `tools/make_verdict_fixtures.py`) graded",
        "in quick mode by `python tools/verdicts.py`; the band is the score a fair TA would give, decided before the",
        "fixture was run. `tests/test_verdicts.py` asserts the same bands and the words each report must contain.",
        "Times are not shown: they depend on the machine's load.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="grader-verdicts-") as out:
        for exercise in exercises:
            lines += [f"## {exercise}", "", "| fixture | source | band | score | in band | why |",
                      "| --- | --- | --- | --- | --- | --- |"]
            lines += grade_manifest(exercise, Path(out), args.results)
            lines.append("")
    DOC.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
