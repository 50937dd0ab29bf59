"""Late submissions: the due time (`grader grade --due`, kept in OUT/.grader/lms.json) and the rubric's penalty rule."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

from grader.report import write_atomic
from grader.results import LateRecord, OverrideRecord
from grader.rubric import LatePenalty

SETTINGS = Path(".grader") / "lms.json"


def parse_due(text: str) -> datetime:
    """'2026-12-01T23:59+07:00' → an aware datetime; a due time without a zone is refused (which zone would it be?)."""
    try:
        due = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--due {text!r} is not an ISO 8601 time such as 2026-12-01T23:59+07:00") from None
    if due.tzinfo is None:
        raise ValueError(f"--due {text!r} has no time zone: write it as 2026-12-01T23:59+07:00")
    return due


def save_due(out_dir: Path, due: datetime) -> None:
    write_atomic(Path(out_dir) / SETTINGS, json.dumps({"due": due.isoformat()}))


def load_due(out_dir: Path) -> datetime | None:
    path = Path(out_dir) / SETTINGS
    if not path.is_file():
        return None
    due = json.loads(path.read_text(encoding="utf-8")).get("due")
    return datetime.fromisoformat(due) if due else None


def describe(rule: LatePenalty | None, max_score: float) -> str:
    if rule is None:
        return "the rubric sets no late penalty"
    grace = f" after {rule.grace_minutes:g} minutes' grace" if rule.grace_minutes else ""
    return (f"{rule.per_day:g}% of {max_score:g} points per started day late{grace}, at most {rule.cap:g}%")


def late_record(submitted_at: str, due: datetime | None, rule: LatePenalty | None, max_score: float,
                override: OverrideRecord | None = None) -> LateRecord | None:
    """How late and what it costs; None when on time or when there is no due time or submission time."""
    days = 0.0
    if submitted_at and due is not None:
        submitted = datetime.fromisoformat(submitted_at)
        if submitted.tzinfo is None:
            submitted = submitted.replace(tzinfo=due.tzinfo)
        grace = timedelta(minutes=rule.grace_minutes) if rule else timedelta()
        days = max(0.0, (submitted - due - grace).total_seconds() / 86400)
    if days <= 0 and override is None:
        return None
    penalty = 0.0
    if rule is not None and days > 0:
        penalty = round(min(rule.per_day * math.ceil(days), rule.cap) / 100 * max_score, 2)
    record = LateRecord(days_late=round(days, 3), penalty_points=penalty, rule=describe(rule, max_score))
    if override is not None:
        record.penalty_points, record.overridden = override.points, True
    return record
