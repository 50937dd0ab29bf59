"""People's judgement and grades out: overrides, manual checks, late penalties, Moodle's worksheet, Gradescope's
results.json, feedback files and the review page, on results built here (no kernels)."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from grader import finalize, late, overrides, report, review
from grader.exports import gradescope, moodle
from grader.feedback import folder_name, write_feedback
from grader.intake import Chosen, IntakeRun
from grader.manual import heading_match, manual
from grader.results import CheckRecord, GradeResult, LateRecord, OverrideRecord
from grader.rubric import Rubric, load_rubric

ROOT = Path(__file__).resolve().parent.parent
ZONE = timezone(timedelta(hours=7))
DUE = datetime(2026, 12, 1, 23, 59, tzinfo=ZONE)


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return load_rubric(ROOT / "rubrics" / "conv1d.yaml", check_types=False)


def record(rubric: Rubric, check_id: str, fraction: float, **details) -> CheckRecord:
    spec = next(c for c in rubric.checks if c.id == check_id)
    return CheckRecord(id=spec.id, title=spec.title, type=spec.type, visibility=spec.visibility,
                       points=round(spec.points * fraction, 2), max_points=spec.points, passed=fraction == 1.0,
                       fraction=fraction, message=f"{spec.title}: {'ok' if fraction == 1 else 'wrong'}.",
                       details=details)


def result(rubric: Rubric, student: str = "1001", fractions: dict[str, float] | None = None,
           answer: str = "Convolution flips the kernel.") -> GradeResult:
    fractions = fractions or {}
    checks = [record(rubric, spec.id, fractions.get(spec.id, 1.0 if spec.type != "manual" else 0.0),
                     **({"answer": answer} if spec.type == "manual" and answer else {}))
              for spec in rubric.checks]
    return GradeResult(student=student, exercise="conv1d", title=rubric.title, status="graded",
                       score=sum(c.points for c in checks), max_score=rubric.max_score, checks=checks)


def test_conv1d_has_a_manual_bonus_check(rubric) -> None:
    spec = next(c for c in rubric.checks if c.type == "manual")
    assert spec.bonus and rubric.max_score == 100
    assert rubric.late_penalty is not None and rubric.late_penalty.per_day == 10


# ---------------------------------------------------------------- manual: the written answer


@pytest.mark.parametrize("heading", ["Convolution vs cross-correlation", "## Q3. convolution versus cross correlation?",
                                     "CONVOLUTION VS. CROSSCORRELATION", "Cross-correlation vs convolution",
                                     "Convolusion vs cross-corelation"])
def test_headings_are_matched_loosely(heading) -> None:
    assert heading_match("Convolution vs cross-correlation", heading) >= 0.75


@pytest.mark.parametrize("heading", ["Convolution implementation", "Testing the layer", "Cross-entropy loss"])
def test_other_headings_are_not_the_question(heading) -> None:
    assert heading_match("Convolution vs cross-correlation", heading) < 0.75


def context(*cells) -> SimpleNamespace:
    return SimpleNamespace(notebook=nbformat.v4.new_notebook(cells=list(cells)))


def test_manual_check_finds_the_answer_under_its_heading() -> None:
    ctx = context(nbformat.v4.new_markdown_cell("# Conv1D"), nbformat.v4.new_code_cell("x = 1"),
                  nbformat.v4.new_markdown_cell("## Bonus: Convolution *versus* Cross Correlation\nIt flips"),
                  nbformat.v4.new_markdown_cell("the kernel; CNNs do not."),
                  nbformat.v4.new_markdown_cell("## Testing\nnot part of it"))
    outcome = manual(ctx, heading=["Convolution vs cross-correlation"])
    assert outcome.fraction == 0.0 and outcome.message.startswith("Awaiting review")
    assert outcome.details["answer"] == "It flips\nthe kernel; CNNs do not."
    assert outcome.details["cell"] == 3


def test_manual_check_without_an_answer_says_what_it_looked_for() -> None:
    missing = manual(context(nbformat.v4.new_markdown_cell("# Conv1D")), heading="Convolution vs cross-correlation")
    assert "no heading like \"Convolution vs cross-correlation\"" in missing.message and "answer" not in missing.details
    empty = manual(context(nbformat.v4.new_markdown_cell("### Convolution vs cross-correlation"),
                           nbformat.v4.new_markdown_cell("## Next")), heading="Convolution vs cross-correlation")
    assert "has no answer under it" in empty.message


# ---------------------------------------------------------------- finalize: overrides, review, late


def test_awaiting_review_until_a_person_gives_points(rubric) -> None:
    graded = finalize.finalize(result(rubric), rubric, {}, None, None)
    assert graded.awaiting_review == 1 and graded.score == 100
    manual_check = next(c for c in graded.checks if c.type == "manual")
    assert manual_check.awaiting_review
    assert "awaiting review" in report.student_html(graded)
    given = OverrideRecord(points=8, original_points=0, reason="flips the kernel", by="rina", at="2026-12-02T00:00")
    graded = finalize.finalize(graded, rubric, {("1001", "conv1d", manual_check.id): given}, None, None)
    assert graded.awaiting_review == 0 and graded.score == 108


def test_an_override_survives_a_regrade_and_a_second_finalize(rubric) -> None:
    given = {("1001", "conv1d", "shapes"): OverrideRecord(points=12, original_points=0, reason="regrade request",
                                                          by="rina", at="2026-12-02T00:00")}
    once = finalize.finalize(result(rubric, fractions={"shapes": 0.25}), rubric, given, None, None)
    twice = finalize.finalize(once.model_copy(deep=True), rubric, given, None, None)
    regraded = finalize.finalize(result(rubric, fractions={"shapes": 0.25}), rubric, given, None, None)
    for graded in (once, twice, regraded):
        shapes = next(c for c in graded.checks if c.id == "shapes")
        assert (shapes.points, shapes.override.original_points, graded.score) == (12, 3.75, 97)
    html = report.student_html(once)
    assert "Set to 12 by rina" in html and "the grader gave 3.75" in html and "regrade request" in html


@pytest.mark.parametrize("submitted, days, penalty", [
    ("2026-12-01T23:00+07:00", None, None),
    ("2026-12-02T00:30+07:00", 0.022, 10.0),
    ("2026-12-03T09:00+07:00", 1.376, 20.0),
    ("2026-12-20T09:00+07:00", 18.376, 50.0),   # the rubric's cap
    ("2026-12-01T17:30:00+00:00", 0.022, 10.0),  # the same instant written in UTC
    ("2026-12-02T00:30", 0.022, 10.0),           # no zone: the due time's
])
def test_late_penalty_per_started_day_with_a_cap(rubric, submitted, days, penalty) -> None:
    record_ = late.late_record(submitted, DUE, rubric.late_penalty, 100)
    assert (record_ and record_.days_late, record_ and record_.penalty_points) == (days, penalty)


def test_late_penalty_is_subtracted_shown_and_overridable(rubric) -> None:
    intake = IntakeRun(folder=Path("."), names={"1001": "Adi Pratama"})
    intake.chosen = {"1001": {"conv1d": Chosen(file="Conv1D.ipynb", how="name",
                                               submitted_at="2026-12-03T09:00+07:00")}}
    graded = finalize.finalize(result(rubric, answer=""), rubric, {}, intake, DUE)
    assert graded.late == LateRecord(days_late=1.376, penalty_points=20, rule=late.describe(rubric.late_penalty, 100))
    assert (graded.score, graded.student_name, graded.intake) == (80, "Adi Pratama", "matched by name: Conv1D.ipynb")
    assert "<b>Late:</b>" in report.student_html(graded)
    waived = {("1001", "conv1d", overrides.LATE): OverrideRecord(points=0, original_points=20, reason="sick note",
                                                                 by="rina", at="2026-12-04T00:00")}
    graded = finalize.finalize(graded, rubric, waived, intake, DUE)
    assert graded.late.overridden and graded.score == 100
    columns = finalize.people_columns([graded])
    assert columns["late_penalty"] == [0] and "late penalty: 0" in columns["overrides"][0]


def test_overrides_are_stored_in_the_gradebook_with_who_when_why(tmp_path) -> None:
    overrides.add(tmp_path, ("1001", "conv1d", "shapes"), 5, 3.75, "first", by="rina")
    overrides.add(tmp_path, ("1001", "conv1d", "shapes"), 12, 3.75, "second look", by="budi")
    assert len(overrides.history(tmp_path)) == 2
    current = overrides.current(tmp_path)[("1001", "conv1d", "shapes")]
    assert (current.points, current.by, current.reason) == (12, "budi", "second look")
    assert (tmp_path / ".grader" / "gradebook.sqlite").is_file()


# ---------------------------------------------------------------- review page


def test_review_page_and_its_saved_form(tmp_path, rubric) -> None:
    answered = finalize.finalize(result(rubric, "1001", answer="<b>flip</b> the kernel"), rubric, {}, None, None)
    silent = finalize.finalize(result(rubric, "1002", answer=""), rubric, {}, None, None)
    path = review.write_review(tmp_path, rubric, [answered, silent])
    page = path.read_text(encoding="utf-8")
    assert path == tmp_path / "review" / "conv1d.html"
    assert "&lt;b&gt;flip&lt;/b&gt; the kernel" in page  # shown as written, never rendered
    assert page.count('class="points"') == 2 and "Save CSV" in page and "Save JSON" in page
    assert not re.search(r"(src|href)=\"https?://", page)  # offline: no CDN
    filled = tmp_path / "filled.csv"
    filled.write_text("student,exercise,check,points,reason\n1001,conv1d,convolution_vs_correlation,8,good\n"
                      "1002,conv1d,convolution_vs_correlation,,\n1002,conv1d,convolution_vs_correlation,11,too many\n"
                      "1003,conv1d,convolution_vs_correlation,2,nobody\n")
    entries, problems = review.read_filled(filled)
    stored, rejected = review.apply(tmp_path, entries, [answered, silent], by="rina")
    assert (stored, problems) == (1, [])
    assert rejected == ["1002/conv1d/convolution_vs_correlation: 11 is outside 0–10",
                        "1003/conv1d/convolution_vs_correlation: no such graded check"]
    as_json = tmp_path / "filled.json"
    as_json.write_text(json.dumps([{"student": "1002", "exercise": "conv1d", "check": "convolution_vs_correlation",
                                    "points": 3, "reason": ""}]))
    assert review.read_filled(as_json)[0][0].reason == "written answer reviewed"


# ---------------------------------------------------------------- exports


ENGLISH = ("Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
           "Last modified (submission),Online text,Last modified (grade),Feedback comments\n"
           "Participant 1001,Adi Pratama,adi@example.com,Submitted for grading,,50.00,Yes,"
           "\"Tuesday, 1 December 2026, 10:00 PM\",,-,\n"
           "Participant 1002,Budi Santoso,budi@example.com,No submission,,50.00,Yes,-,,-,\n")
# Indonesian headers (any language works: columns are found by position and content), semicolons, a BOM
LOCAL = ("\ufeffPengenal;Nama lengkap;Status;Nilai;Nilai maksimum;Nilai dapat diubah;Terakhir diubah (pengiriman);"
         "Terakhir diubah (nilai);Komentar umpan balik\n"
         "Peserta 1001;Adi Pratama;Dikirim;;100,00;Ya;-;-;\n")


def test_moodle_worksheet_filled_by_participant_id(tmp_path, rubric) -> None:
    sheet_path = tmp_path / "grading_worksheet.csv"
    sheet_path.write_text(ENGLISH, encoding="utf-8")
    sheet = moodle.read_worksheet(sheet_path)
    assert (sheet.identifier, sheet.grade, sheet.max_grade, sheet.submitted, sheet.feedback) == (0, 4, 5, 7, 10)
    assert moodle.submission_times(sheet, ZONE) == {"1001": "2026-12-01T22:00+07:00"}
    graded = finalize.finalize(result(rubric, fractions={"shapes": 0.0, "edge_cases": 0.0}), rubric, {}, None, None)
    filled = moodle.fill(sheet, [graded], tmp_path / "moodle_worksheet.csv")
    assert (filled.filled, filled.unmatched) == (1, ["Participant 1002"])
    with open(filled.path, newline="", encoding="utf-8") as handle:
        written = list(csv.reader(handle))
    assert written[0] == ENGLISH.splitlines()[0].split(",")
    assert written[1][4] == "40.00"  # 80 of 100 points on Moodle's 50-point scale
    comment = written[1][10]
    assert "Output shape [batch, out_channels, length]: 0/15" in comment and "1 hidden check(s): 0/5 points" in comment
    assert "Edge cases" not in comment and "awaiting review" in comment
    assert written[2][4] == ""


def test_localised_worksheet_found_by_position_and_content(tmp_path, rubric) -> None:
    sheet_path = tmp_path / "lembar.csv"
    sheet_path.write_text(LOCAL, encoding="utf-8")
    sheet = moodle.read_worksheet(sheet_path)
    assert (sheet.grade, sheet.max_grade, sheet.feedback, sheet.delimiter) == (3, 4, 8, ";")
    filled = moodle.fill(sheet, [result(rubric, answer="")], tmp_path / "out.csv")
    text = filled.path.read_text(encoding="utf-8")
    assert text.startswith("\ufeffPengenal;") and "Peserta 1001;Adi Pratama;Dikirim;100.00;" in text


def test_worksheet_without_feedback_column_says_so(tmp_path, rubric) -> None:
    sheet_path = tmp_path / "w.csv"
    sheet_path.write_text("Pengenal,Nama,Nilai,Maks,Ubah,Terakhir diubah (pengiriman),Terakhir diubah (nilai)\n"
                          "Peserta 7,X,,10,Ya,-,-\n", encoding="utf-8")
    sheet = moodle.read_worksheet(sheet_path)
    assert sheet.feedback is None and "enable 'Feedback comments'" in sheet.notes[0]
    with pytest.raises(moodle.WorksheetError):
        (tmp_path / "no.csv").write_text("a,b\nc,d\n")
        moodle.read_worksheet(tmp_path / "no.csv")


def test_gradescope_results_json(rubric) -> None:
    graded = finalize.finalize(result(rubric, fractions={"edge_cases": 0.0}), rubric, {}, None, None)
    data = gradescope.results_json(graded)
    assert data["score"] == 95
    tests = {t["name"]: t for t in data["tests"]}
    assert set(next(iter(tests.values()))) == {"name", "score", "max_score", "status", "output", "visibility"}
    assert tests["hidden check 1"] == {"name": "hidden check 1", "score": 0.0, "max_score": 5.0, "status": "failed",
                                       "output": "", "visibility": "hidden"}
    assert tests["Conv1D is defined and constructible"]["status"] == "passed"
    assert "awaiting review" in data["output"]


def test_feedback_folders_named_for_moodles_bulk_upload(tmp_path, rubric) -> None:
    assert folder_name("1001", "Adi_Pratama") == "Adi Pratama_1001_assignfeedback_file"
    assert folder_name("1001", "") == "Participant_1001_assignfeedback_file"
    assert folder_name("alice", "Alice") == "alice"
    graded = finalize.finalize(result(rubric, fractions={"edge_cases": 0.0}), rubric, {}, None, None)
    graded.student_name = "Adi Pratama"
    absent = GradeResult(student="1002", exercise="conv1d", status="not_submitted")
    bundle, folders = write_feedback([graded, absent], tmp_path)
    assert [f.name for f in folders] == ["Adi Pratama_1001_assignfeedback_file"]
    page = (folders[0] / "conv1d.html").read_text(encoding="utf-8")
    assert "Edge cases" not in page and "Hidden checks (1, worth 5 points) earned 0 points" in page
    assert "95" in page
    with zipfile.ZipFile(bundle) as archive:
        assert archive.namelist() == ["Adi Pratama_1001_assignfeedback_file/conv1d.html"]
    with zipfile.ZipFile(tmp_path / "feedback_zips" / "Adi Pratama_1001_assignfeedback_file.zip") as archive:
        assert archive.namelist() == ["conv1d.html"]


def test_a_grade_column_with_one_number_for_everyone_is_not_the_maximum(tmp_path) -> None:
    sheet_path = tmp_path / "regraded.csv"
    sheet_path.write_text("Pengenal;Nama;Nilai;Nilai maksimum;Dapat diubah;Diubah (pengiriman);Diubah (nilai);Komentar\n"
                          "Peserta 1;A;80,00;100,00;Ya;-;-;\nPeserta 2;B;80,00;100,00;Ya;-;-;\n", encoding="utf-8")
    sheet = moodle.read_worksheet(sheet_path)
    assert (sheet.grade, sheet.max_grade, sheet.submitted, sheet.feedback) == (2, 3, 5, 7)
