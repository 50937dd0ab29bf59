"""Report stage: JSON, student HTML, grades.csv and index.html from hand-built results (no kernels)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import yaml

from grader import report, summary
from grader.results import CellRecord, CheckRecord, Environment, ExecutionRecord, GradeResult, ProbeRecord
from grader.rubric import Rubric, parse_rubric

RUBRICS_DIR = Path(__file__).resolve().parents[1] / "rubrics"
SCRIPT = "<script>alert(1)</script>"
ENV = Environment(python="3.11.9", torch="2.4.0", device="cpu", grader_version="0.1.0", quick=False)
FROM_SCRATCH = "From scratch (no built-in convolution)"


@pytest.fixture(scope="module")
def rubrics() -> dict[str, Rubric]:
    conv1d = parse_rubric(yaml.safe_load((RUBRICS_DIR / "conv1d.yaml").read_text()), "conv1d.yaml")
    # A second exercise sharing the check id 'constructible', to pin down how shared ids become columns.
    mlp = parse_rubric({
        "exercise": "mlp", "title": "MLP", "checks": [
            {"id": "constructible", "title": "MLP is constructible", "points": 5, "type": "mlp.constructible"},
            {"id": "training", "title": "Loss goes down", "points": 15, "type": "mlp.training"},
        ]}, "mlp.yaml")
    return {"conv1d": conv1d, "mlp": mlp}


def check(rubric: Rubric, check_id: str, fraction: float, message: str = "", **extra) -> CheckRecord:
    spec = next(c for c in rubric.checks if c.id == check_id)
    return CheckRecord(
        id=spec.id, title=spec.title, type=spec.type, visibility=spec.visibility,
        points=round(spec.points * fraction, 2), max_points=spec.points, passed=fraction == 1.0,
        fraction=fraction, message=message or f"{spec.title}: ok.", **extra,
    )


def graded(student: str, rubric: Rubric, checks: list[CheckRecord], **extra) -> GradeResult:
    return GradeResult(
        student=student, exercise=rubric.exercise, title=rubric.title, status="graded",
        score=round(sum(c.points for c in checks), 2), max_score=rubric.max_score, checks=checks,
        execution=ExecutionRecord(status="completed", duration_s=3.2,
                                  cells=[CellRecord(number=2, status="ok", duration_s=0.5)],
                                  probe=ProbeRecord(status="ok", duration_s=1.0)),
        environment=ENV, graded_at="2024-05-01T10:00:00+00:00", **extra,
    )


@pytest.fixture(scope="module")
def results(rubrics: dict[str, Rubric]) -> list[GradeResult]:
    conv = rubrics["conv1d"]
    ids = [c.id for c in conv.checks if c.type != "manual"]  # the written answer (a bonus) is not graded here
    full = graded("alice", conv, [check(conv, i, 1.0) for i in ids], duration_s=12.5)
    partial_checks = [
        check(conv, "constructible", 1.0),
        check(conv, "from_scratch", 0.0, "Conv1D uses a built-in convolution: line 7 calls F.conv1d.",
              details={"found": ["F.conv1d (line 7)"]}),
        check(conv, "shapes", 0.0, gated_by=["from_scratch"],
              message=f"No credit because '{FROM_SCRATCH}' failed (this would otherwise earn 100%). All 4 shapes ok.",
              details={"shapes": {"b=2 in=3 out=4 k=3 L=11": "[2, 4, 11]", "b=1 in=1 out=2 k=5 L=9": "[1, 2, 9]"}}),
        check(conv, "equivalence", 0.0, "0 of 4 configurations agree.", gated_by=["from_scratch"],
              details={"problems": [f"config {n}: output[0, 0, {n}] is 1.5, expected 2.0" for n in range(25)]}),
        check(conv, "edge_cases", 0.0, "Edge cases were not checked.", gated_by=["from_scratch"]),
        check(conv, "gradients", 0.5, "1 of 2 parameters: 'bias' [4] got no gradient."),
        check(conv, "param_count", 1.0),
    ]
    partial = graded("bob", conv, partial_checks, duration_s=30.25, message="")
    missing = GradeResult(student="carol", exercise="conv1d", title=conv.title, status="not_submitted",
                          message="no conv1d.ipynb in carol/")
    invalid = GradeResult(student="dave", exercise="conv1d", title=conv.title, status="invalid_notebook",
                          message="the file is not valid notebook JSON (Expecting value at line 1, column 1)",
                          max_score=conv.max_score, duration_s=0.01)
    broken_cell = CellRecord(number=3, status="error", duration_s=0.1, error_name="ValueError",
                             error_message=f"bad {SCRIPT}", error_line=2, error_source=f"raise ValueError('{SCRIPT}')",
                             traceback=f"Traceback...\nValueError: bad {SCRIPT}", stdout=f"printed {SCRIPT}")
    failing = graded("eve", conv, [check(conv, i, 0.0, f"Not checked: {SCRIPT}.") for i in ids], duration_s=4.0)
    failing.execution.cells.append(broken_cell)
    failing.execution.probe = ProbeRecord(status="error", message=f"NameError: {SCRIPT}")
    mlp = rubrics["mlp"]
    other = graded("alice", mlp, [check(mlp, "constructible", 1.0), check(mlp, "training", 0.5)], duration_s=2.0)
    return [full, partial, missing, invalid, failing, other]


@pytest.fixture()
def out(tmp_path: Path, results: list[GradeResult], rubrics: dict[str, Rubric]) -> Path:
    for result in results:
        report.write_result(tmp_path, result)
    loaded, problems = report.load_results(tmp_path)
    summary.write_summary(tmp_path, loaded, rubrics, problems)
    return tmp_path


def test_autoescape_is_on_for_the_templates() -> None:
    assert report.TEMPLATES.autoescape("student.html.j2") is True
    assert report.TEMPLATES.autoescape("index.html.j2") is True


def test_result_paths(tmp_path: Path) -> None:
    assert report.result_paths(tmp_path, "alice", "conv1d") == (
        tmp_path / "alice" / "conv1d.json", tmp_path / "alice" / "conv1d.html")
    for bad in ("..", ".grader", "a/b", ""):
        with pytest.raises(ValueError):
            report.result_paths(tmp_path, bad, "conv1d")


def test_json_round_trips(out: Path, results: list[GradeResult]) -> None:
    loaded, problems = report.load_results(out)
    assert problems == []
    key = lambda r: (r.student, r.exercise)  # noqa: E731
    assert sorted(results, key=key) == loaded


def test_grades_csv_columns_and_values(out: Path, rubrics: dict[str, Rubric]) -> None:
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["student", "exercise", "score", "max_score", "status",
                       "constructible", "from_scratch", "shapes", "equivalence", "edge_cases", "gradients",
                       "param_count", "convolution_vs_correlation", "training", "percent", "duration_s", "message"]
    assert rows[1:] == [
        ["alice", "conv1d", "100.00", "100.00", "graded",
         "10.00", "20.00", "15.00", "30.00", "5.00", "10.00", "10.00", "", "", "100.00", "12.50", ""],
        ["alice", "mlp", "12.50", "20.00", "graded",
         "5.00", "", "", "", "", "", "", "", "7.50", "62.50", "2.00", ""],
        ["bob", "conv1d", "25.00", "100.00", "graded",
         "10.00", "0.00", "0.00", "0.00", "0.00", "5.00", "10.00", "", "", "25.00", "30.25", ""],
        ["carol", "conv1d", "0.00", "100.00", "not_submitted",
         "", "", "", "", "", "", "", "", "", "0.00", "0.00", "no conv1d.ipynb in carol/"],
        ["dave", "conv1d", "0.00", "100.00", "invalid_notebook",
         "", "", "", "", "", "", "", "", "", "0.00", "0.01",
         "the file is not valid notebook JSON (Expecting value at line 1, column 1)"],
        ["eve", "conv1d", "0.00", "100.00", "graded",
         "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "", "", "0.00", "4.00", ""],
    ]


def test_write_summary_returns_what_it_wrote(tmp_path: Path, results: list[GradeResult],
                                              rubrics: dict[str, Rubric]) -> None:
    frame = summary.write_summary(tmp_path, results, rubrics)
    assert list(frame["student"]) == ["alice", "alice", "bob", "carol", "dave", "eve"]
    assert frame.loc[2, "gradients"] == 5.0
    assert frame["training"].isna().sum() == 5


def test_check_id_named_like_a_fixed_column_keeps_both(tmp_path: Path) -> None:
    rubric = parse_rubric({"exercise": "odd", "title": "Odd", "checks": [
        {"id": "score", "title": "Scored", "points": 1, "type": "odd.score"}]}, "odd.yaml")
    result = graded("zoe", rubric, [check(rubric, "score", 1.0)])
    frame = summary.write_summary(tmp_path, [result], {"odd": rubric})
    assert list(frame.columns[4:7]) == ["status", "check_score", "percent"]


def test_index_links_to_every_report(out: Path, results: list[GradeResult]) -> None:
    index = (out / "index.html").read_text(encoding="utf-8")
    for result in results:
        link = f'href="{result.student}/{result.exercise}.html"'
        assert link in index
        assert (out / result.student / f"{result.exercise}.html").is_file()
    assert "<svg" in index and "http" not in index.replace("http-equiv", "")


def test_notebook_text_is_escaped_everywhere(out: Path) -> None:
    for path in out.rglob("*.html"):
        page = path.read_text(encoding="utf-8")
        # index.html carries one script, the grader's own (sorting and filtering); no page carries a notebook's.
        assert "<script>alert" not in page and page.count("<script") == (path.name == "index.html"), path
    eve = (out / "eve" / "conv1d.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in eve
    assert "ValueError" in eve and "line 2" in eve


def test_student_report_content(out: Path) -> None:
    bob = (out / "bob" / "conv1d.html").read_text(encoding="utf-8")
    assert "25 <span class=\"of\">/ 100 points · 25%" in bob
    assert "No credit because &#39;From scratch (no built-in convolution)&#39; failed" in bob
    assert bob.count("No credit because") == 3  # once from score.py's message, twice from gated_by notes
    assert "badge hidden" in bob
    assert "<li>F.conv1d (line 7)</li>" in bob
    assert "<td>b=2 in=3 out=4 k=3 L=11</td><td>[2, 4, 11]</td>" in bob
    assert "config 19:" in bob and "config 20:" not in bob and "… and 5 more" in bob
    carol = (out / "carol" / "conv1d.html").read_text(encoding="utf-8")
    assert "No notebook for this exercise was found" in carol and "named conv1d.ipynb" in carol
    dave = (out / "dave" / "conv1d.html").read_text(encoding="utf-8")
    assert report.STATUS_EXPLANATIONS["invalid_notebook"] in dave


def test_student_report_without_hidden_checks(results: list[GradeResult]) -> None:
    bob = results[1]
    html = report.student_html(bob, show_hidden=False)
    assert "Edge cases" not in html
    assert "Hidden checks (1, worth 5 points)" in html
    assert "25 <span class=\"of\">/ 95 points" in html


def test_load_results_reports_bad_files_and_loads_the_rest(out: Path) -> None:
    (out / "zed").mkdir()
    (out / "zed" / "conv1d.json").write_text("{not json", encoding="utf-8")
    (out / "zed" / "mlp.json").write_text('{"student": "zed"}', encoding="utf-8")
    (out / "mallory").mkdir()
    (out / "mallory" / "conv1d.json").write_text(
        (out / "alice" / "conv1d.json").read_text(encoding="utf-8"), encoding="utf-8")
    (out / ".grader").mkdir()
    (out / ".grader" / "state.json").write_text("{}", encoding="utf-8")
    (out / "alice" / ".conv1d.json.abc.tmp").write_text("{", encoding="utf-8")
    loaded, problems = report.load_results(out)
    assert [(r.student, r.exercise) for r in loaded] == [
        ("alice", "conv1d"), ("alice", "mlp"), ("bob", "conv1d"), ("carol", "conv1d"),
        ("dave", "conv1d"), ("eve", "conv1d")]
    assert len(problems) == 3
    assert problems[0].startswith("mallory/conv1d.json: holds the result of alice/conv1d")
    assert problems[1].startswith("zed/conv1d.json: not a grade result: Invalid JSON")
    assert problems[2].startswith("zed/mlp.json: not a grade result: Field required at exercise")
    assert all("\n" not in problem for problem in problems)
    summary.write_summary(out, loaded, {}, problems)
    assert "zed/conv1d.json" in (out / "index.html").read_text(encoding="utf-8")


def test_writes_leave_no_temp_files(out: Path) -> None:
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert names == ["alice", "alice/conv1d.html", "alice/conv1d.json", "alice/mlp.html", "alice/mlp.json",
                     "bob", "bob/conv1d.html", "bob/conv1d.json", "carol", "carol/conv1d.html", "carol/conv1d.json",
                     "dave", "dave/conv1d.html", "dave/conv1d.json", "eve", "eve/conv1d.html", "eve/conv1d.json",
                     "grades.csv", "index.html"]
    assert oct((out / "grades.csv").stat().st_mode & 0o777) == oct(0o644)


def test_failed_write_keeps_the_old_file(out: Path, results: list[GradeResult],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    json_path, _ = report.result_paths(out, "alice", "conv1d")
    before = json_path.read_text(encoding="utf-8")

    def refuse(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        report.write_result(out, results[0].model_copy(update={"score": 1.0}))
    assert json_path.read_text(encoding="utf-8") == before
    assert not [p for p in (out / "alice").iterdir() if p.name.startswith(".")]
