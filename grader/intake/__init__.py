"""Intake: an LMS export (Moodle or Canvas zip, or its unpacked folder) turned into the grader's submission layout.

Every file is matched to a student (the LMS's participant id) and to exercises (by name, else by what the notebook
defines); `OUT/intake.csv` lists every file and how it was matched, and `OUT/.grader/intake.json` keeps what later
commands need (names, submission times, how each graded notebook was chosen).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from grader.discover import RESERVED, STUDENT_ID
from grader.intake.extract import Extracted, ExportError, File, extract_zip, read_folder
from grader.intake.layouts import CANVAS, MOODLE, Owner, owner_of
from grader.intake.match import code_names, exercises_defined, exercises_named, version_of
from grader.intake.roster import RosterEntry
from grader.report import write_atomic
from grader.rubric import Rubric

__all__ = ["ExportError", "IntakeRun", "is_lms_export", "load_intake", "run_intake"]
INTAKE_COLUMNS = ["student", "student_name", "exercise", "file", "how", "status", "submitted_at", "note"]
HOW_TEXT = {"name": "by name", "defines": "by what it defines", "only": "the student's only notebook"}


@dataclass
class Candidate:
    file: File
    owner: Owner
    how: str


@dataclass
class Chosen:
    """The notebook graded for one (student, exercise), and how it was chosen."""

    file: str
    how: str
    submitted_at: str
    note: str = ""
    flagged: bool = False
    late_flag: bool = False


@dataclass
class IntakeRun:
    folder: Path
    names: dict[str, str] = field(default_factory=dict)            # student id → name the LMS gives
    chosen: dict[str, dict[str, Chosen]] = field(default_factory=dict)  # student → exercise → chosen notebook
    rows: list[dict[str, str]] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)                # roster students with nothing submitted

    def to_json(self) -> str:
        return json.dumps({"names": self.names, "expected": self.expected,
                           "chosen": {s: {e: asdict(c) for e, c in by.items()} for s, by in self.chosen.items()}},
                          indent=2, ensure_ascii=False)


def is_lms_export(path: Path) -> bool:
    """A zip, or a folder whose top entries are named the way Moodle or Canvas name them."""
    if path.is_file():
        return path.suffix.lower() == ".zip"
    return path.is_dir() and any(MOODLE.match(entry.name) or CANVAS.match(entry.name) for entry in path.iterdir())


def _owner(relative: str) -> Owner | None:
    """The LMS's owner, else (for a zip of the grader's own layout) the top folder as the student id."""
    owner = owner_of(relative)
    if owner is not None:
        return owner
    first, _, below = relative.partition("/")
    if below and STUDENT_ID.fullmatch(first) and first.lower() not in RESERVED:
        return Owner(first, "", "folder", below)
    return None


def _when(file: File, zone: tzinfo | None) -> str:
    """The file's time in the export, read in the LMS's time zone (zip entries carry local time, no zone)."""
    if file.modified is None:
        return ""
    stamp = file.modified.replace(tzinfo=zone) if zone is not None else file.modified
    return stamp.isoformat(timespec="minutes")


def _row(run: IntakeRun, student: str, exercise: str, file: str, how: str, status: str, submitted_at: str = "",
         note: str = "") -> None:
    run.rows.append({"student": student, "student_name": run.names.get(student, ""), "exercise": exercise,
                     "file": file, "how": how, "status": status, "submitted_at": submitted_at, "note": note})


def _newest_first(candidates: list[Candidate]) -> list[Candidate]:
    """Newest time in the export first; on a tie the higher copy number ("(2)", "-2"), then the name."""
    return sorted(candidates, key=lambda c: (c.file.modified or datetime.min, version_of(c.owner.path),
                                             c.owner.path), reverse=True)


def _candidates(notebooks: list[tuple[File, Owner]], rubrics: dict[str, Rubric]) -> dict[str, list[Candidate]]:
    """Per exercise: the notebooks whose name names it, else those that define what it needs."""
    by_name: dict[str, list[Candidate]] = {exercise: [] for exercise in rubrics}
    by_code: dict[str, list[Candidate]] = {exercise: [] for exercise in rubrics}
    for file, owner in notebooks:
        for exercise in exercises_named(owner.path, rubrics):
            by_name[exercise].append(Candidate(file, owner, "name"))
        for exercise in exercises_defined(code_names(file.local.read_bytes()), rubrics):
            by_code[exercise].append(Candidate(file, owner, "defines"))
    return {exercise: by_name[exercise] or by_code[exercise] for exercise in rubrics}


def _choose(run: IntakeRun, student: str, exercise: str, candidates: list[Candidate], zone: tzinfo | None) -> None:
    ordered = _newest_first(candidates)
    best = ordered[0]
    others = ordered[1:]
    note = ""
    if others:
        note = (f"ambiguous: {len(ordered)} candidates ({', '.join(c.owner.path for c in ordered)}); "
                f"graded the newest, {best.owner.path}")
    elif best.how == "only":
        note = "matched as the student's only notebook: its name and code name no exercise"
    if best.owner.late_flag:
        note = "; ".join(part for part in (note, "Canvas marks it LATE") if part)
    run.chosen.setdefault(student, {})[exercise] = Chosen(
        file=best.owner.path, how=best.how, submitted_at=_when(best.file, zone), note=note,
        flagged=bool(others) or best.how == "only", late_flag=best.owner.late_flag)
    _row(run, student, exercise, best.owner.path, HOW_TEXT[best.how], "graded", _when(best.file, zone), note)
    for other in others:
        _row(run, student, exercise, other.owner.path, HOW_TEXT[other.how], "not_graded", _when(other.file, zone),
             f"older than {best.owner.path}")


def _place(run: IntakeRun, student: str, exercise: str, source: Path) -> None:
    target = run.folder / student / f"{exercise}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _match_student(run: IntakeRun, student: str, notebooks: list[tuple[File, Owner]], rubrics: dict[str, Rubric],
                   zone: tzinfo | None) -> None:
    per_exercise = _candidates(notebooks, rubrics)
    if len(rubrics) == 1 and len(notebooks) == 1:
        exercise = next(iter(rubrics))
        if not per_exercise[exercise]:
            per_exercise[exercise] = [Candidate(notebooks[0][0], notebooks[0][1], "only")]
    (run.folder / student).mkdir(parents=True, exist_ok=True)
    used = set()
    for exercise, candidates in per_exercise.items():
        if not candidates:
            continue
        _choose(run, student, exercise, candidates, zone)
        chosen = run.chosen[student][exercise].file
        source = next(c.file.local for c in candidates if c.owner.path == chosen)
        _place(run, student, exercise, source)
        used.update(c.owner.path for c in candidates)
    for file, owner in notebooks:
        if owner.path not in used:
            _row(run, student, "", owner.path, "", "unmatched", _when(file, zone),
                 "neither its name nor its code names an exercise graded in this run")


def _valid_student(owner: Owner) -> bool:
    return bool(STUDENT_ID.fullmatch(owner.student)) and owner.student.lower() not in RESERVED


def _sort_files(found: Extracted, run: IntakeRun, zone: tzinfo | None) -> dict[str, list[tuple[File, Owner]]]:
    """Notebooks per student; every other file gets its intake row."""
    notebooks: dict[str, list[tuple[File, Owner]]] = {}
    for relative, reason in found.rejected:
        owner = _owner(relative)
        _row(run, owner.student if owner else "", "", relative, "", "rejected", "", reason)
    for file in found.files:
        owner = _owner(file.relative)
        if owner is None or not _valid_student(owner):
            _row(run, "", "", file.relative, "", "ignored", _when(file, zone), "not in a Moodle or Canvas layout")
            continue
        run.names.setdefault(owner.student, owner.name)
        notebooks.setdefault(owner.student, [])
        if file.relative.lower().endswith(".ipynb"):
            notebooks[owner.student].append((file, owner))
        else:
            _row(run, owner.student, "", owner.path, "", "ignored", _when(file, zone), "not a notebook")
    return notebooks


def _add_roster(run: IntakeRun, roster: list[RosterEntry], rubrics: dict[str, Rubric]) -> None:
    """Roster students with nothing in the export: empty folders, so every exercise is a not_submitted row."""
    by_name = {" ".join(name.split()).casefold(): student for student, name in run.names.items() if name}
    for entry in roster:
        if entry.student in run.names or " ".join(entry.name.split()).casefold() in by_name:
            continue
        student = entry.student if STUDENT_ID.fullmatch(entry.student or "") else re.sub(
            r"[^A-Za-z0-9._-]+", "_", entry.name).strip("_.-")
        if not student or student in run.names:
            continue
        run.names[student] = entry.name
        run.expected.append(student)
        (run.folder / student).mkdir(parents=True, exist_ok=True)
        for exercise in rubrics:
            _row(run, student, exercise, "", "roster", "not_submitted", "", "on the roster, nothing in the export")


def run_intake(source: Path, rubrics: dict[str, Rubric], out_dir: Path, zone: tzinfo | None = None,
               roster: list[RosterEntry] | None = None) -> IntakeRun:
    """Unpack and match the export into OUT/.grader/intake/submissions/<student>/<exercise>.ipynb; write intake.csv."""
    work = Path(out_dir) / ".grader" / "intake"
    shutil.rmtree(work, ignore_errors=True)
    unpacked = work / "unpacked"
    unpacked.mkdir(parents=True)
    found = extract_zip(source, unpacked) if source.is_file() else read_folder(source, unpacked)
    run = IntakeRun(folder=work / "submissions")
    run.folder.mkdir()
    for student, notebooks in sorted(_sort_files(found, run, zone).items()):
        _match_student(run, student, notebooks, rubrics, zone)
    _add_roster(run, roster or [], rubrics)
    shutil.rmtree(unpacked, ignore_errors=True)
    write_atomic(Path(out_dir) / "intake.csv", _csv(run.rows))
    write_atomic(Path(out_dir) / ".grader" / "intake.json", run.to_json())
    return run


def _cell(value: str) -> str:
    """A file or student name that a spreadsheet would run as a formula is written as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _csv(rows: list[dict[str, str]]) -> str:
    rows = [{key: _cell(value) for key, value in row.items()} for row in rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=INTAKE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: (r["student"], r["exercise"] or "~", r["status"], r["file"])))
    return buffer.getvalue()


def load_intake(out_dir: Path) -> IntakeRun | None:
    """What the last intake into OUT recorded, or None when OUT was graded from a plain folder."""
    path = Path(out_dir) / ".grader" / "intake.json"
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    run = IntakeRun(folder=path.parent / "intake" / "submissions", names=raw.get("names", {}),
                    expected=raw.get("expected", []))
    run.chosen = {s: {e: Chosen(**c) for e, c in by.items()} for s, by in raw.get("chosen", {}).items()}
    return run
