"""Points set by people: overrides stored in the gradebook (who, when, why), applied to every result that is read.

An override replaces one check's points (or, for the check id `late`, the late penalty); it survives regrades because
it is applied after grading, every time results are stored (`apply`).
"""

from __future__ import annotations

import getpass
import os
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from grader import gradebook
from grader.results import OverrideRecord

LATE = "late"
SCHEMA = """
CREATE TABLE IF NOT EXISTS overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    exercise TEXT NOT NULL,
    check_id TEXT NOT NULL,
    points REAL NOT NULL,
    original_points REAL NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL
);
"""
Key = tuple[str, str, str]


def _connect(out_dir: Path) -> sqlite3.Connection:
    database = gradebook.path(out_dir)
    database.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(database, timeout=60)
    connection.executescript(SCHEMA)
    return connection


def who() -> str:
    """The person giving points: $GRADER_TA, else the login name."""
    try:
        return os.environ.get("GRADER_TA") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def add(out_dir: Path, key: Key, points: float, original_points: float, reason: str, by: str | None = None) -> OverrideRecord:
    """Store an override; the newest for a (student, exercise, check) is the one that counts."""
    record = OverrideRecord(points=points, original_points=original_points, reason=reason, by=by or who(),
                            at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    with closing(_connect(out_dir)) as connection, connection:
        connection.execute("INSERT INTO overrides (student, exercise, check_id, points, original_points, reason, by, "
                           "at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (*key, record.points, record.original_points, record.reason, record.by, record.at))
    return record


def history(out_dir: Path) -> list[dict[str, object]]:
    """Every override ever stored, oldest first."""
    if not gradebook.path(out_dir).is_file():
        return []
    with closing(_connect(out_dir)) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute("SELECT * FROM overrides ORDER BY id")]


def current(out_dir: Path) -> dict[Key, OverrideRecord]:
    """The override in force for each (student, exercise, check)."""
    latest: dict[Key, OverrideRecord] = {}
    for row in history(out_dir):
        latest[(str(row["student"]), str(row["exercise"]), str(row["check_id"]))] = OverrideRecord(
            points=float(row["points"]), original_points=float(row["original_points"]), reason=str(row["reason"]),
            by=str(row["by"]), at=str(row["at"]))
    return latest
