"""A roster CSV: the students a course expects, by id and name, whatever its headers are called."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

ID_HEADERS = ("identifier", "participant", "id number", "idnumber", "student id", "student_id", "npm", "nim", "nrp",
              "userid", "user id", "id", "student", "username")
NAME_HEADERS = ("full name", "fullname", "name", "nama", "nama lengkap", "student name")
TRAILING_DIGITS = re.compile(r"(\d+)\s*$")


@dataclass(frozen=True)
class RosterEntry:
    student: str
    name: str


def read_csv_rows(path: Path) -> list[list[str]]:
    """A CSV's rows; the delimiter (comma, semicolon, tab) and a UTF-8 byte-order mark are detected."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]


def _column(header: list[str], wanted: tuple[str, ...]) -> int | None:
    lowered = [cell.strip().lower() for cell in header]
    for name in wanted:
        if name in lowered:
            return lowered.index(name)
    return None


def participant_id(value: str) -> str:
    """'Participant 1234567' (any language) → '1234567'; other ids are kept as they are."""
    value = value.strip()
    digits = TRAILING_DIGITS.search(value)
    return digits.group(1) if digits and not value.isdigit() and " " in value else value


def read_roster(path: Path) -> list[RosterEntry]:
    """Roster entries; without a recognisable header the first column is the id and the second the name."""
    rows = read_csv_rows(path)
    if not rows:
        return []
    id_column, name_column = _column(rows[0], ID_HEADERS), _column(rows[0], NAME_HEADERS)
    body = rows[1:] if id_column is not None or name_column is not None else rows
    if id_column is None and name_column is None:
        id_column, name_column = 0, 1 if len(rows[0]) > 1 else None
    entries = []
    for row in body:
        student = participant_id(row[id_column]) if id_column is not None and id_column < len(row) else ""
        name = row[name_column].strip() if name_column is not None and name_column < len(row) else ""
        if student or name:
            entries.append(RosterEntry(student, name))
    return entries
