"""Where a course's rubrics and reference notebooks live, and the grader's per-output-dir secret."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from grader.rubric import Rubric, RubricError, check_against_exercise, load_rubrics

SOURCE_ROOT = Path(__file__).resolve().parent.parent


def find_course_root(explicit: Path | None = None) -> Path:
    """--course, else $GRADER_COURSE, else the current folder if it has rubrics/, else this checkout."""
    for candidate in (explicit, os.environ.get("GRADER_COURSE"), Path.cwd()):
        if candidate and (Path(candidate) / "rubrics").is_dir():
            return Path(candidate).resolve()
    if explicit:
        raise RubricError([f"{explicit}: no rubrics/ folder here"])
    return SOURCE_ROOT


@dataclass
class Course:
    root: Path
    rubrics: dict[str, Rubric]

    @classmethod
    def load(cls, explicit: Path | None = None, check_types: bool = True) -> "Course":
        """The course's rubrics, validated; `check_types=False` leaves `check_types()` for later (it loads torch)."""
        root = find_course_root(explicit)
        return cls(root=root, rubrics=load_rubrics(root / "rubrics", check_types))

    def check_types(self) -> None:
        """Every rubric against its exercise's spec (check types, params, datasets); else one line per problem."""
        lines: list[str] = []
        for rubric in self.rubrics.values():
            try:
                check_against_exercise(rubric, str(self.root / "rubrics" / f"{rubric.exercise}.yaml"))
            except RubricError as error:
                lines.extend(error.lines)
        if lines:
            raise RubricError(lines)

    def reference_notebook(self, exercise: str) -> Path:
        return self.root / "reference" / f"{exercise}.ipynb"

    def select(self, exercises: list[str] | None) -> dict[str, Rubric]:
        """The rubrics asked for; an unknown id is an error naming the known ones."""
        if not exercises:
            return self.rubrics
        unknown = [e for e in exercises if e not in self.rubrics]
        if unknown:
            raise RubricError([f"unknown exercise {', '.join(unknown)} (known: {', '.join(sorted(self.rubrics))})"])
        return {e: self.rubrics[e] for e in exercises}


def course_secret(out_dir: Path) -> str:
    """A random secret kept in the output dir (never in a work dir): probe inputs derive from it."""
    path = out_dir / ".grader" / "secret"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    path.write_text(secret)
    path.chmod(0o600)
    return secret
