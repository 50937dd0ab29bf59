"""The commands end to end: grade the example class, self-check, references, and a broken rubric."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from grader.cli import main

from conftest import FIXTURES, ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow

CONV1D_SCORES = {
    "adi_slides": (100, "graded"),
    "budi_vectorised": (100, "graded"),
    "citra_builtin": (30, "graded"),
    "dewi_no_padding": (61.25, "graded"),
    "eko_syntax_error": (0, "graded"),
    "fajar_empty": (0, "invalid_notebook"),
    "gita_prints_passed": (0, "graded"),
    "hana_multi": (100, "graded"),
}


@pytest.fixture(scope="module")
def class_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("class") / "reports"
    assert main(["grade", str(SUBMISSIONS), "--out", str(out), "--exercise", "conv1d", "--workers", "2"]) == 0
    return out


def test_grades_csv_has_every_score(class_report):
    grades = pd.read_csv(class_report / "grades.csv")
    assert list(grades.columns[:5]) == ["student", "exercise", "score", "max_score", "status"]
    rows = {row.student: (row.score, row.status) for row in grades.itertuples() if row.exercise == "conv1d"}
    for student, expected in CONV1D_SCORES.items():
        assert rows.pop(student) == expected, student
    assert all(status == "not_submitted" and score == 0 for score, status in rows.values())
    assert {"from_scratch", "equivalence", "edge_cases"} <= set(grades.columns)


def test_json_and_html_per_student(class_report):
    result = json.loads((class_report / "citra_builtin" / "conv1d.json").read_text())
    assert result["score"] == 30 and result["max_score"] == 100 and result["status"] == "graded"
    assert {check["id"] for check in result["checks"]} >= {"from_scratch", "equivalence"}
    assert result["environment"]["device"] == "cpu" and result["environment"]["torch"]
    assert all({"number", "status", "duration_s"} <= set(cell) for cell in result["execution"]["cells"])
    html = (class_report / "eko_syntax_error" / "conv1d.html").read_text()
    assert "SyntaxError" in html and "cell 4" in html


def test_class_summary_links_every_report(class_report):
    index = (class_report / "index.html").read_text()
    for student in CONV1D_SCORES:
        assert f'href="{student}/conv1d.html"' in index


def test_rerun_keeps_the_results(class_report):
    before = (class_report / "grades.csv").read_text()
    assert main(["grade", str(SUBMISSIONS), "--out", str(class_report), "--exercise", "conv1d",
                 "--student", "adi_slides"]) == 0
    after = pd.read_csv(class_report / "grades.csv")
    assert len(after) == len(pd.read_csv(pd.io.common.StringIO(before)))
    assert after.set_index("student").loc["citra_builtin", "score"] == 30


def test_check_passes_a_correct_notebook(tmp_path, capsys):
    notebook = tmp_path / "conv1d.ipynb"
    shutil.copy(FIXTURES / "conv1d_correct_bias.ipynb", notebook)
    assert main(["check", str(notebook)]) == 0
    out = capsys.readouterr().out
    assert "1 hidden check worth 5 points also counts" in out and "Edge cases" not in out


def test_check_fails_a_wrong_notebook_and_says_why(capsys):
    assert main(["check", str(FIXTURES / "conv1d_missing_padding.ipynb"), "--exercise", "conv1d"]) == 1
    assert "padding" in capsys.readouterr().out


def test_check_needs_to_know_the_exercise(capsys):
    assert main(["check", str(FIXTURES / "conv1d_missing_padding.ipynb")]) == 2
    assert "cannot tell which exercise" in capsys.readouterr().err


def test_check_reports_an_invalid_notebook(capsys):
    assert main(["check", str(FIXTURES / "conv1d_invalid_json.ipynb"), "--exercise", "conv1d"]) == 1
    assert "not valid notebook JSON" in capsys.readouterr().err


def test_reference_scores_full_marks():
    assert main(["reference", "--exercise", "conv1d"]) == 0


def test_broken_rubric_stops_before_anything_runs(tmp_path, capsys):
    course = tmp_path / "course"
    (course / "rubrics").mkdir(parents=True)
    text = (ROOT / "rubrics" / "conv1d.yaml").read_text().replace("points: 30", "pionts: 30")
    (course / "rubrics" / "conv1d.yaml").write_text(text)
    out = tmp_path / "reports"
    assert main(["--course", str(course), "grade", str(SUBMISSIONS), "--out", str(out)]) == 2
    assert "conv1d.yaml: checks[3] (id: equivalence).pionts: unknown key" in capsys.readouterr().err
    assert not out.exists()


def test_missing_full_data_costs_only_the_notebooks_that_need_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "empty-cache"))
    out = tmp_path / "reports"
    assert main(["grade", str(SUBMISSIONS), "--out", str(out), "--exercise", "conv1d", "imdb",
                 "--student", "adi_slides"]) == 0
    assert "missing data" in capsys.readouterr().err
    grades = pd.read_csv(out / "grades.csv").set_index("exercise")
    assert (grades.loc["conv1d", "score"], grades.loc["conv1d", "status"]) == (100, "graded")
    assert grades.loc["imdb", "status"] == "error"
    assert "grader data fetch imdb" in grades.loc["imdb", "message"]


def test_the_command_exits_with_mains_code_after_the_atexit_handlers(tmp_path):
    """`python -m grader.cli` (and the `grader` script, `grader.cli:run`) skips the interpreter's teardown, never the
    exit code, the output or an atexit handler."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("exercise: conv1d\nchecks: []\n")
    marker = tmp_path / "atexit-ran"
    script = ("import atexit, pathlib, sys\n"
              f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')\n"
              "from grader.cli import run\n"
              "run()\n")
    refused = subprocess.run([sys.executable, "-c", script, "rubric", "validate", str(broken)], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and "broken.yaml: checks:" in refused.stdout + refused.stderr
    assert marker.read_text() == "yes"
    valid = subprocess.run([sys.executable, "-m", "grader.cli", "rubric", "validate", str(ROOT / "rubrics" / "gru.yaml")],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert valid.returncode == 0, valid.stderr
