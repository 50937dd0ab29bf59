"""Discover stage: find every (student, exercise) pair in a submissions folder."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # used with fullmatch: "alice\n" is no id
RESERVED = {"index.html", "grades.csv"}


@dataclass(frozen=True)
class Submission:
    """One gradable pair; `notebook` is None when the student did not submit this exercise."""

    student: str
    exercise: str
    notebook: Path | None


@dataclass
class Discovery:
    submissions: list[Submission] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _notebook_for(folder: Path, exercise: str) -> Path | None:
    """`<exercise>.ipynb`, matched without regard to case (students rename files on every OS)."""
    exact = folder / f"{exercise}.ipynb"
    if os.path.lexists(exact):  # a link is returned as it is: staging refuses it, and says so in the report
        return exact
    matches = [p for p in folder.iterdir() if p.name.lower() == f"{exercise}.ipynb"]
    return matches[0] if matches else None


def discover(root: Path, exercises: list[str], students: list[str] | None = None) -> Discovery:
    """Every student folder × every exercise, in a stable order; files that fit no slot are listed as ignored."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder of student submissions")
    found = Discovery()
    wanted = set(students) if students else None
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name.lower() in ("readme.md", "readme.txt"):
            continue
        if entry.is_symlink():
            found.ignored.append(f"{entry.name}: a symbolic link, not a student folder (links are never followed)")
            continue
        if not entry.is_dir():
            found.ignored.append(f"{entry.name}: not inside a student folder")
            continue
        if not STUDENT_ID.fullmatch(entry.name) or entry.name.lower() in RESERVED:
            found.ignored.append(f"{entry.name}/: not a usable student id (letters, digits, '.', '_', '-')")
            continue
        if wanted is not None and entry.name not in wanted:
            continue
        for exercise in exercises:
            found.submissions.append(Submission(entry.name, exercise, _notebook_for(entry, exercise)))
        expected = {f"{exercise}.ipynb" for exercise in exercises}
        for extra in sorted(entry.iterdir()):
            if extra.name.lower() not in expected and not extra.name.startswith("."):
                found.ignored.append(f"{entry.name}/{extra.name}: not a notebook named after an exercise")
    if wanted:
        missing = wanted - {s.student for s in found.submissions}
        found.ignored.extend(f"{student}: no such student folder" for student in sorted(missing))
    return found
