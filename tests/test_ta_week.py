"""The TA's week end to end: a Moodle zip built from the example class (messy names, a nested zip, a late one, a
missing student) → intake → grade → override → review of a written answer → worksheet → feedback files."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
CLASS = ROOT / "submissions"
DUE = "2026-12-01T23:59+07:00"
ON_TIME, LATER, LATE = (2026, 12, 1, 20, 0, 0), (2026, 12, 1, 21, 0, 0), (2026, 12, 3, 9, 0, 0)
ANSWER = "Convolution flips the kernel before sliding it; cross-correlation does not. CNN layers never flip."
QUESTION = "conv1d.convolution_vs_correlation"


def with_written_answer(path: Path) -> bytes:
    """The student's notebook with the slides' bonus question answered under a loosely spelled heading."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("## Bonus: convolution versus Cross Correlation?"))
    notebook.cells.append(nbformat.v4.new_markdown_cell(ANSWER))
    return nbformat.writes(notebook).encode()


def nested_zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def moodle_zip(path: Path) -> Path:
    entries = {
        "Adi Pratama_1001_assignsubmission_file/Conv1D.ipynb":
            (with_written_answer(CLASS / "adi_slides" / "conv1d.ipynb"), ON_TIME),
        # two candidates: the newer "(1)" copy is graded and flagged, the older one listed
        "Budi Santoso_1002_assignsubmission_file/conv1d.ipynb": ((CLASS / "citra_builtin" / "conv1d.ipynb").read_bytes(),
                                                                 ON_TIME),
        "Budi Santoso_1002_assignsubmission_file/conv1d (1).ipynb":
            ((CLASS / "budi_vectorised" / "conv1d.ipynb").read_bytes(), LATER),
        # flat layout, a zip inside, a notebook named after nothing: matched by what it defines; uploaded late
        "Dewi Lestari_1004_assignsubmission_file_tugas.zip":
            (nested_zip("Tugas/my work.ipynb", (CLASS / "dewi_no_padding" / "conv1d.ipynb").read_bytes()), LATE),
        # the older folder layout with a trailing "_"
        "Hana Wijaya_1008_assignsubmission_file_/conv1d_final.ipynb":
            ((CLASS / "hana_multi" / "conv1d.ipynb").read_bytes(), ON_TIME),
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, (data, when) in entries.items():
            archive.writestr(zipfile.ZipInfo(name, when), data)
    return path


def table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def grades(out: Path) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in table(out / "grades.csv")}


def stored(out: Path, student: str) -> dict:
    return json.loads((out / student / "conv1d.json").read_text(encoding="utf-8"))


def test_a_week_of_grading(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GRADER_TA", "rina")
    export, out = moodle_zip(tmp_path / "moodle.zip"), tmp_path / "reports"
    roster = tmp_path / "roster.csv"
    roster.write_text("Identifier,Full name\nParticipant 1001,Adi Pratama\nParticipant 1002,Budi Santoso\n"
                      "Participant 1004,Dewi Lestari\nParticipant 1008,Hana Wijaya\nParticipant 1009,Gita Absent\n")
    grade = ["grade", str(export), "--out", str(out), "--exercise", "conv1d", "--quick", "--due", DUE,
             "--roster", str(roster)]

    # 1. intake: every file listed with how it was matched
    assert main(grade) == 0
    intake = {(r["student"], r["file"]): r for r in table(out / "intake.csv")}
    assert intake[("1001", "Conv1D.ipynb")]["how"] == "by name"
    assert intake[("1002", "conv1d (1).ipynb")]["status"] == "graded"
    assert "ambiguous: 2 candidates" in intake[("1002", "conv1d (1).ipynb")]["note"]
    assert intake[("1002", "conv1d.ipynb")]["status"] == "not_graded"
    assert intake[("1004", "tugas/Tugas/my work.ipynb")]["how"] == "by what it defines"
    assert intake[("1004", "tugas/Tugas/my work.ipynb")]["submitted_at"] == "2026-12-03T09:00+07:00"
    assert intake[("1008", "conv1d_final.ipynb")]["how"] == "by name"
    assert intake[("1009", "")]["status"] == "not_submitted"

    # 2. grade: the example class's scores, the late penalty, the written answer awaiting review
    rows = grades(out)
    assert {s: (r["score"], r["status"]) for s, r in rows.items()} == {
        "1001": ("100.00", "graded"), "1002": ("100.00", "graded"), "1004": ("41.25", "graded"),
        "1008": ("100.00", "graded"), "1009": ("0.00", "not_submitted")}
    assert (rows["1004"]["late_days"], rows["1004"]["late_penalty"]) == ("1.38", "20.00")
    assert rows["1001"]["student_name"] == "Adi Pratama" and rows["1001"]["awaiting_review"] == "1"
    assert stored(out, "1002")["intake_flagged"] is True
    assert "Not final:" in (out / "1001" / "conv1d.html").read_text(encoding="utf-8")

    # 3. override a check and the late penalty: stored with who and why, kept through a regrade
    assert main(["override", "1004", "conv1d", "shapes", "10", "--reason", "padding explained", "--out", str(out)]) == 0
    assert main(["override", "1004", "conv1d", "late", "10", "--reason", "network outage", "--out", str(out)]) == 0
    assert grades(out)["1004"]["score"] == "57.50"  # 61.25 + (10 − 3.75) − 10
    assert main(grade + ["--student", "1004"]) == 0  # --student regrades the student even when nothing changed
    result = stored(out, "1004")
    shapes = next(c for c in result["checks"] if c["id"] == "shapes")
    assert (result["score"], shapes["points"], shapes["override"]["by"]) == (57.5, 10.0, "rina")
    assert result["late"]["overridden"] and result["late"]["penalty_points"] == 10
    assert "shapes: 3.75→10 by rina (padding explained)" in grades(out)["1004"]["overrides"]
    capsys.readouterr()
    assert main(["override", "--list", "--out", str(out)]) == 0
    assert "network outage" in capsys.readouterr().out

    # 4. review the written answer: a page with every answer, its saved form applied as overrides
    assert main(["review", "conv1d", "--out", str(out)]) == 0
    page = (out / "review" / "conv1d.html").read_text(encoding="utf-8")
    assert ANSWER in page and page.count('data-student=') == 4
    filled = tmp_path / "review-conv1d.csv"
    filled.write_text(f"student,exercise,check,points,reason\n1001,conv1d,{QUESTION.split('.')[1]},8,"
                      "\"right: the flip\"\n")
    assert main(["review", "--apply", str(filled), "--out", str(out)]) == 0
    adi = stored(out, "1001")
    assert (adi["score"], adi["awaiting_review"]) == (108.0, 0)

    # 5. the Moodle worksheet, filled by participant id
    worksheet = tmp_path / "grading_worksheet.csv"
    worksheet.write_text(
        "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
        "Last modified (submission),Last modified (grade),Feedback comments\n"
        + "".join(f"Participant {i},{n},{i}@example.com,Submitted,,100.00,Yes,-,-,\n" for i, n in (
            (1001, "Adi Pratama"), (1002, "Budi Santoso"), (1004, "Dewi Lestari"), (1009, "Gita Absent"))))
    assert main(["export", "moodle", "--worksheet", str(worksheet), "--out", str(out)]) == 0
    moodle = {row["Identifier"]: row for row in table(out / "moodle_worksheet.csv")}
    assert {i: row["Grade"] for i, row in moodle.items()} == {
        "Participant 1001": "100.00", "Participant 1002": "100.00", "Participant 1004": "57.50",
        "Participant 1009": ""}
    assert "padding explained" in moodle["Participant 1004"]["Feedback comments"]
    assert "Edge cases" not in moodle["Participant 1004"]["Feedback comments"]

    # 6. feedback files for Moodle's bulk upload, and Gradescope's results.json
    assert main(["feedback", "--out", str(out)]) == 0
    with zipfile.ZipFile(out / "feedback.zip") as archive:
        assert sorted(archive.namelist()) == [
            "Adi Pratama_1001_assignfeedback_file/conv1d.html", "Budi Santoso_1002_assignfeedback_file/conv1d.html",
            "Dewi Lestari_1004_assignfeedback_file/conv1d.html", "Hana Wijaya_1008_assignfeedback_file/conv1d.html"]
        dewi = archive.read("Dewi Lestari_1004_assignfeedback_file/conv1d.html").decode()
    assert "Hidden checks (1, worth 5 points)" in dewi and "Edge cases" not in dewi and "network outage" not in dewi
    assert main(["export", "gradescope", "--out", str(out)]) == 0
    assert json.loads((out / "gradescope" / "1004" / "conv1d" / "results.json").read_text())["score"] == 57.5
