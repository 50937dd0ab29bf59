"""The gradebook: every grading attempt (who, what, when, score, hashes) in OUT/.grader/gradebook.sqlite.

The results themselves live in OUT/<student>/<exercise>.json; the gradebook keeps their history and the content
hash that tells a rerun whether a stored result can be reused.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.results import GradeResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    exercise TEXT NOT NULL,
    graded_at TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    duration_s REAL NOT NULL,
    isolated INTEGER NOT NULL,
    notebook_sha256 TEXT NOT NULL,
    rubric_sha256 TEXT NOT NULL,
    reference_sha256 TEXT NOT NULL,
    module_sha256 TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_pair ON attempts (student, exercise, id);
"""


@dataclass(frozen=True)
class Fingerprint:
    """What a grade depends on besides the secret: the notebook, the rubric, the reference, the checks' code."""

    notebook_sha256: str
    rubric_sha256: str
    reference_sha256: str
    module_sha256: str
    grader_version: str
    settings: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def path(out_dir: Path) -> Path:
    return Path(out_dir) / ".grader" / "gradebook.sqlite"


def _connect(out_dir: Path) -> sqlite3.Connection:
    database = path(out_dir)
    database.parent.mkdir(parents=True, exist_ok=True)
    # Workers of one batch write concurrently: wait for the lock rather than fail.
    connection = sqlite3.connect(database, timeout=60)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(SCHEMA)
    return connection


def record(out_dir: Path, result: GradeResult, fingerprint: Fingerprint) -> None:
    """Append one attempt."""
    with closing(_connect(out_dir)) as connection, connection:
        connection.execute(
            "INSERT INTO attempts (student, exercise, graded_at, status, score, max_score, duration_s, isolated, "
            "notebook_sha256, rubric_sha256, reference_sha256, module_sha256, grader_version, content_hash, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.student, result.exercise, result.graded_at, result.status, result.score, result.max_score,
             result.duration_s, int(result.execution.isolated), fingerprint.notebook_sha256,
             fingerprint.rubric_sha256, fingerprint.reference_sha256, fingerprint.module_sha256,
             fingerprint.grader_version, fingerprint.content_hash, result.message),
        )


def latest_hash(out_dir: Path, student: str, exercise: str) -> str | None:
    """The content hash of the last attempt for (student, exercise), if any."""
    if not path(out_dir).is_file():
        return None
    with closing(_connect(out_dir)) as connection:
        row = connection.execute(
            "SELECT content_hash FROM attempts WHERE student = ? AND exercise = ? ORDER BY id DESC LIMIT 1",
            (student, exercise),
        ).fetchone()
    return row[0] if row else None


def attempts(out_dir: Path, student: str | None = None) -> list[dict[str, object]]:
    """Every attempt, oldest first (optionally one student's)."""
    if not path(out_dir).is_file():
        return []
    with closing(_connect(out_dir)) as connection:
        connection.row_factory = sqlite3.Row
        query = "SELECT * FROM attempts" + (" WHERE student = ?" if student else "") + " ORDER BY id"
        return [dict(row) for row in connection.execute(query, (student,) if student else ())]
