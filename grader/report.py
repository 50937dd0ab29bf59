"""Report stage: each (student, exercise) as JSON and HTML, and the class as grades.csv and index.html."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from grader.charts import is_chart
from grader.execute import clip
from grader.results import CheckRecord, GradeResult

DETAIL_ITEMS_CAP = 20
DETAIL_TEXT_CAP = 400
MESSAGE_CAP = 1_500

STATUS_EXPLANATIONS: dict[str, str] = {
    "not_submitted": "No notebook for this exercise was found in your submission folder, so nothing was graded. "
                     "The file must be named {exercise}.ipynb.",
    "invalid_notebook": "The submitted file could not be opened as a Jupyter notebook (it may be empty, corrupted, "
                        "or another kind of file renamed to .ipynb), so none of it was run.",
    "error": "Grading could not finish normally. Checks that could not run earned no points; "
             "if the message below looks like a problem with the grader rather than your code, tell your TA.",
    "timeout": "Your notebook ran past its time limit and was stopped. Cells after that point did not run, "
               "and checks that needed them earned no points.",
    "memory_limit": "Your notebook used more memory than it is allowed, so the grader stopped it in the cell named "
                    "below. Look for a tensor or list that grows much larger than you meant it to.",
    "disk_limit": "Your notebook wrote more into its folder and /tmp than it is allowed, so the grader stopped it in "
                  "the cell named below. Look for files written in a loop, or a large file you did not mean to save.",
    "tampered": "The grader found signs that your notebook's code reached into the grader's own measurement (a hook, "
                "a trace function, a thread or a replaced function, listed below), so no score is given: your TA "
                "looks at the evidence and decides (`grader override`).",
    "kernel_died": "The Python process running your notebook crashed (often from running out of memory, or a crash "
                   "inside a native library). Cells after that point did not run, and checks that needed them "
                   "earned no points.",
}

PROBE_EXPLANATIONS: dict[str, str] = {
    "ok": "After your cells, the grader ran its own cell to measure your code; it finished normally.",
    "error": "The grader's measuring cell, run after yours, failed; "
             "checks that needed its measurements earned no points.",
    "timeout": "The grader's measuring cell, run after yours, ran out of time.",
    "not_run": "The grader's measuring cell did not run.",
}

TEMPLATES = Environment(
    loader=PackageLoader("grader", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _number(value: float) -> str:
    """Points as a person writes them: 10, 7.5, 6.67."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s" if value >= 1 else f"{value:.2f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


TEMPLATES.filters.update(clip=clip, number=_number, seconds=_seconds)


# ---------------------------------------------------------------- files


def _component(name: str) -> str:
    """A student or exercise id used as one path component; anything else would write outside OUT/<student>."""
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"{name!r} cannot be used as a file or folder name in the report folder")
    return name


def result_paths(out_dir: Path, student: str, exercise: str) -> tuple[Path, Path]:
    """(OUT/<student>/<exercise>.json, OUT/<student>/<exercise>.html)."""
    folder = Path(out_dir) / _component(student)
    name = _component(exercise)
    return folder / f"{name}.json", folder / f"{name}.html"


def write_atomic(path: Path, text: str) -> None:
    """Write through a hidden temp file in the same folder, so a reader sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        # mkstemp makes the file owner-only; reports are meant to be read by TAs and web servers too.
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_result(out_dir: Path, result: GradeResult) -> None:
    """Write the result's JSON and its student report."""
    json_path, html_path = result_paths(out_dir, result.student, result.exercise)
    # The HTML goes first: load_results only sees a result once its JSON exists, so index.html never links nowhere.
    write_atomic(html_path, student_html(result))
    write_atomic(json_path, result.model_dump_json(indent=2))


def _validation_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{first['msg']}{f' at {where}' if where else ''}{more}"


def load_results(out_dir: Path) -> tuple[list[GradeResult], list[str]]:
    """Every OUT/<student>/<exercise>.json that is a GradeResult, sorted; plus one line per file that is not."""
    out_dir = Path(out_dir)
    results: list[GradeResult] = []
    problems: list[str] = []
    for path in sorted(out_dir.glob("*/*.json")):
        relative = path.relative_to(out_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        try:
            result = GradeResult.model_validate_json(path.read_bytes())
        except OSError as error:
            problems.append(f"{relative}: cannot be read ({error.strerror or error})")
            continue
        except ValidationError as error:
            problems.append(f"{relative}: not a grade result: {_validation_problem(error)}")
            continue
        if (result.student, result.exercise) != (relative.parts[0], path.stem):
            problems.append(f"{relative}: holds the result of {result.student}/{result.exercise}, "
                            "not of the student and exercise its path names")
            continue
        results.append(result)
    results.sort(key=lambda r: (r.student, r.exercise))
    return results, problems


# ---------------------------------------------------------------- student report


@dataclass
class Detail:
    """One entry of a check's details, shaped for the template: a list, a table, or a text."""

    label: str
    items: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    more: int = 0
    image: str = ""  # a chart, as a data: URI
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _chart_detail(label: str, spec: dict[str, Any]) -> Detail:
    """A table spec as a table, any other chart drawn (matplotlib, loaded only for reports that have a chart)."""
    if spec["chart"] == "table":
        rows = [[clip(str(cell), DETAIL_TEXT_CAP) for cell in row] for row in spec.get("rows", [])]
        return Detail(spec.get("title") or label, columns=[str(c) for c in spec.get("columns", [])],
                      rows=rows[:DETAIL_ITEMS_CAP], more=max(0, len(rows) - DETAIL_ITEMS_CAP))
    from grader import charts

    try:
        return Detail(label, image=charts.draw(spec))
    except ValueError as problem:
        return Detail(label, text=str(problem))


def _detail(key: str, value: Any) -> Detail:
    label = key.replace("_", " ").capitalize()
    if is_chart(value):
        return _chart_detail(label, value)
    if isinstance(value, dict):
        pairs = [(clip(str(k), DETAIL_TEXT_CAP), clip(str(v), DETAIL_TEXT_CAP)) for k, v in value.items()]
        return Detail(label, pairs=pairs[:DETAIL_ITEMS_CAP], more=max(0, len(pairs) - DETAIL_ITEMS_CAP))
    if isinstance(value, (list, tuple)):
        items = [clip(str(item), DETAIL_TEXT_CAP) for item in value]
        return Detail(label, items=items[:DETAIL_ITEMS_CAP], more=max(0, len(items) - DETAIL_ITEMS_CAP))
    return Detail(label, text=clip(str(value), DETAIL_TEXT_CAP))


@dataclass
class CheckView:
    record: CheckRecord
    verdict: str
    gate_note: str
    details: list[Detail]


def _verdict(check: CheckRecord) -> str:
    if check.awaiting_review:
        return "awaiting review"
    if check.passed:
        return "pass"
    return "partial" if check.points > 0 else "fail"


def _gate_note(check: CheckRecord, titles: dict[str, str]) -> str:
    if not check.gated_by:
        return ""
    # score.py already opens the message with this sentence when the check would otherwise have earned points.
    if check.message.startswith("No credit because"):
        return ""
    names = ", ".join(f"'{titles.get(gate, gate)}'" for gate in check.gated_by)
    return f"No credit because {names} failed: this check only counts once that one passes."


def _check_views(checks: list[CheckRecord]) -> list[CheckView]:
    titles = {check.id: check.title for check in checks}
    return [
        CheckView(check, _verdict(check), _gate_note(check, titles),
                  [_detail(key, value) for key, value in check.details.items()])
        for check in checks
    ]


def student_html(result: GradeResult, show_hidden: bool = True, count_hidden: bool = False) -> str:
    """The student's report; without hidden checks, the score shown covers the public checks only, unless
    `count_hidden` (feedback files): then the total is the real one and hidden checks are counted, never described."""
    shown = [check for check in result.checks if show_hidden or check.visibility != "hidden"]
    withheld = [check for check in result.checks if not show_hidden and check.visibility == "hidden"]
    partial_total = bool(withheld) and not count_hidden
    score = sum(check.points for check in shown) if partial_total else result.score
    max_score = sum(check.max_points for check in shown) if partial_total else result.max_score
    return TEMPLATES.get_template("student.html.j2").render(
        result=result,
        checks=_check_views(shown),
        withheld_count=len(withheld),
        withheld_points=sum(check.max_points for check in withheld),
        withheld_earned=sum(check.points for check in withheld),
        count_hidden=count_hidden,
        score=score,
        max_score=max_score,
        percent=100.0 * score / max_score if max_score else 0.0,
        explanation=STATUS_EXPLANATIONS.get(result.status, "").format(exercise=result.exercise),
        probe_explanation=PROBE_EXPLANATIONS.get(result.execution.probe.status, ""),
        message_cap=MESSAGE_CAP,
        footer=_footer(result),
        not_isolated=ran_unisolated(result),
    )


def ran_unisolated(result: GradeResult) -> bool:
    """A kernel ran for this result outside the sandbox."""
    return result.execution.status != "not_run" and not result.execution.isolated


def _footer(result: GradeResult) -> list[str]:
    """Which file was graded and how long grading took, for a student who wants to match the report to a file."""
    parts = [f"notebook {result.notebook}"] if result.notebook else []
    parts += [f"sha256 {result.notebook_sha256[:12]}"] if result.notebook_sha256 else []
    parts += [f"grading took {_seconds(result.duration_s)}"] if result.duration_s else []
    return parts
