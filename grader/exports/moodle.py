"""Moodle's offline grading worksheet: read the TA's download, fill Grade and Feedback comments, keep the rest.

Moodle's importer finds its columns by their (localised) header names, so the copy keeps every header and column as
downloaded. The grader finds them by position and content, in any language: the Identifier column holds
"<localised word> <participant id>"; Maximum grade is the first column whose values are one and the same number, Grade
is the column before it, "Last modified (submission)" two after it, and Feedback comments is the last column unless
that column is "Last modified (grade)" (its header then starts like the submission one: comments are disabled).
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path

from grader.results import GradeResult

PARTICIPANT = re.compile(r"^\D+?\s*(\d+)$")
ENGLISH = {"identifier": "Identifier", "grade": "Grade", "max_grade": "Maximum grade",
           "submitted": "Last modified (submission)", "feedback": "Feedback comments"}


class WorksheetError(Exception):
    """The file is not a Moodle grading worksheet the grader can fill; the message says why."""


@dataclass
class Worksheet:
    header: list[str]
    rows: list[list[str]]
    delimiter: str = ","
    bom: bool = False
    identifier: int = 0
    grade: int = -1
    max_grade: int | None = None
    submitted: int | None = None
    feedback: int | None = None
    notes: list[str] = field(default_factory=list)

    def participant(self, row: list[str]) -> str:
        found = PARTICIPANT.match(row[self.identifier].strip()) if self.identifier < len(row) else None
        return found.group(1) if found else ""

    def full_name(self, row: list[str]) -> str:
        return row[self.identifier + 1].strip() if self.identifier + 1 < len(row) else ""


def _number(value: str) -> float | None:
    try:
        return float(value.strip().replace(",", "."))
    except ValueError:
        return None


def _by_english(header: list[str]) -> dict[str, int]:
    lowered = [cell.strip().lower() for cell in header]
    return {key: lowered.index(name.lower()) for key, name in ENGLISH.items() if name.lower() in lowered}


def _common_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix([a.strip().lower(), b.strip().lower()]))


def _locate(sheet: Worksheet) -> None:
    """Find the columns by header (English) or by position and content (any language)."""
    known = _by_english(sheet.header)
    body = sheet.rows
    ids = [i for i in range(len(sheet.header)) if body and sum(bool(PARTICIPANT.match(r[i].strip())) for r in body
                                                              if i < len(r)) >= max(1, len(body) // 2)]
    sheet.identifier = known.get("identifier", ids[0] if ids else 0)
    if "grade" in known:
        sheet.grade = known["grade"]
        sheet.max_grade = known.get("max_grade")
    else:
        for index in range(sheet.identifier + 2, len(sheet.header) - 1):
            values = {_number(r[index]) for r in body}
            # "Grade can be changed" (Yes/No in the Moodle's language) follows: a Grade column that happens to hold
            # one number for everyone is not taken for the maximum.
            follows_words = all(_number(r[index + 1]) is None for r in body)
            if len(values) == 1 and None not in values and follows_words:
                sheet.max_grade, sheet.grade = index, index - 1
                break
    if sheet.grade < 0:
        raise WorksheetError("no Grade column found: the file does not look like Moodle's grading worksheet "
                             "(download it from the assignment: View all submissions → Download grading worksheet)")
    sheet.submitted = known.get("submitted", sheet.max_grade + 2 if sheet.max_grade is not None
                                and sheet.max_grade + 2 < len(sheet.header) else None)
    last = len(sheet.header) - 1
    if "feedback" in known:
        sheet.feedback = known["feedback"]
    elif sheet.submitted is not None and last > sheet.submitted and \
            _common_prefix(sheet.header[last], sheet.header[sheet.submitted]) < 6:
        sheet.feedback = last
    else:
        sheet.notes.append("no Feedback comments column: enable 'Feedback comments' in the assignment's settings and "
                           "download the worksheet again to send comments")


def read_worksheet(path: Path) -> Worksheet:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig", errors="replace")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 1:
        raise WorksheetError(f"{path}: empty file")
    width = len(rows[0])
    sheet = Worksheet(header=rows[0], rows=[row + [""] * (width - len(row)) for row in rows[1:]],
                      delimiter=delimiter, bom=raw.startswith(b"\xef\xbb\xbf"))
    _locate(sheet)
    return sheet


def submission_times(sheet: Worksheet, zone: tzinfo | None) -> dict[str, str]:
    """participant id → ISO time from "Last modified (submission)" where it parses (English month names)."""
    from dateutil import parser as date_parser

    times: dict[str, str] = {}
    if sheet.submitted is None:
        return times
    for row in sheet.rows:
        value = row[sheet.submitted].strip()
        student = sheet.participant(row)
        if not student or not value or value == "-":
            continue
        try:
            stamp = date_parser.parse(value, fuzzy=True)
        except (ValueError, OverflowError):
            continue
        if stamp.tzinfo is None and zone is not None:
            stamp = stamp.replace(tzinfo=zone)
        times[student] = stamp.isoformat(timespec="minutes")
    return times


def feedback_comment(results: list[GradeResult]) -> str:
    """Short HTML for the Feedback comments column: per exercise the total, late penalty, public checks and a count
    of the hidden ones (never described)."""
    parts = []
    for result in results:
        lines = [f"<b>{html.escape(result.title or result.exercise)}</b>: {result.score:g} / {result.max_score:g}"]
        if result.awaiting_review:
            lines.append(f"{result.awaiting_review} written answer(s) awaiting review")
        if result.late and result.late.penalty_points:
            lines.append(f"late by {result.late.days_late:.2f} days: −{result.late.penalty_points:g} points")
        hidden = [c for c in result.checks if c.visibility == "hidden"]
        for check in result.checks:
            if check.visibility == "hidden":
                continue
            text = f"{html.escape(check.title)}: {check.points:g}/{check.max_points:g}"
            if check.override:
                text += f" — set by {html.escape(check.override.by)}: {html.escape(check.override.reason)}"
            elif not check.passed:
                text += f" — {html.escape(check.message[:300])}"
            lines.append(text)
        if hidden:
            lines.append(f"{len(hidden)} hidden check(s): {sum(c.points for c in hidden):g}/"
                         f"{sum(c.max_points for c in hidden):g} points")
        if result.status not in ("graded",):
            lines.append(html.escape(f"status {result.status}: {result.message[:300]}"))
        parts.append("<p>" + "<br>".join(lines) + "</p>")
    return "".join(parts)


@dataclass
class Filled:
    path: Path
    filled: int
    unmatched: list[str]
    notes: list[str]


def _results_for(sheet: Worksheet, row: list[str], by_student: dict[str, list[GradeResult]],
                 by_name: dict[str, list[GradeResult]]) -> list[GradeResult]:
    found = by_student.get(sheet.participant(row))
    if found:
        return found
    return by_name.get(" ".join(sheet.full_name(row).split()).casefold(), [])


def fill(sheet: Worksheet, results: list[GradeResult], out_path: Path) -> Filled:
    """Write the filled copy: Grade (scaled to the worksheet's maximum grade) and Feedback comments."""
    by_student: dict[str, list[GradeResult]] = {}
    by_name: dict[str, list[GradeResult]] = {}
    for result in results:
        by_student.setdefault(result.student, []).append(result)
        if result.student_name:
            by_name.setdefault(" ".join(result.student_name.split()).casefold(), []).append(result)
    filled, unmatched, notes = 0, [], list(sheet.notes)
    for row in sheet.rows:
        mine = _results_for(sheet, row, by_student, by_name)
        if not mine or all(r.status == "not_submitted" for r in mine):
            unmatched.append(row[sheet.identifier])
            continue
        score, max_score = sum(r.score for r in mine), sum(r.max_score for r in mine)
        top = _number(row[sheet.max_grade]) if sheet.max_grade is not None else None
        grade = score / max_score * top if top and max_score else score
        if top is not None and grade > top:
            notes.append(f"{row[sheet.identifier]}: {grade:.2f} with bonus points written as the maximum, {top:g}")
            grade = top
        row[sheet.grade] = f"{grade:.2f}"
        if sheet.feedback is not None:
            row[sheet.feedback] = feedback_comment(mine)
        filled += 1
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sheet.delimiter, lineterminator="\n")
    writer.writerow(sheet.header)
    writer.writerows(sheet.rows)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(("\ufeff" if sheet.bom else "") + buffer.getvalue(), encoding="utf-8")
    return Filled(out_path, filled, unmatched, notes)
