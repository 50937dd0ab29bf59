"""Feedback files for students: each student's reports (hidden checks counted, never described), named so that
Moodle's "Upload multiple feedback files in a zip" gives each folder to its student.

Moodle's importer reads the participant id from the second "_"-separated part of a folder or file name
(`<name>_<participant id>_<plugin type>_<plugin>`), so a folder is `Full Name_1234567_assignfeedback_file/`, with
any "_" in the name written as a space, as Moodle writes them in its own downloads.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

from grader.report import student_html, write_atomic
from grader.results import GradeResult

UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def folder_name(student: str, name: str) -> str:
    """The folder Moodle matches to the student; ids that are not Moodle participant ids keep their own name."""
    if not student.isdigit():
        return student
    shown = " ".join(UNSAFE.sub(" ", name.replace("_", " ")).split()) or "Participant"
    return f"{shown}_{student}_assignfeedback_file"


def _zip_folder(folder: Path, archive: Path, prefix: str = "") -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, f"{prefix}{path.relative_to(folder).as_posix()}")


def write_feedback(results: list[GradeResult], out_dir: Path) -> tuple[Path, list[Path]]:
    """OUT/feedback/<folder>/<exercise>.html per student, OUT/feedback_zips/<folder>.zip per student, and
    OUT/feedback.zip with every folder (the file to upload to Moodle). Returns the Moodle zip and the folders."""
    root, zips = Path(out_dir) / "feedback", Path(out_dir) / "feedback_zips"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(zips, ignore_errors=True)
    zips.mkdir(parents=True)
    folders: dict[str, Path] = {}
    for result in results:
        if result.status == "not_submitted":
            continue
        folder = folders.setdefault(result.student, root / folder_name(result.student, result.student_name))
        write_atomic(folder / f"{result.exercise}.html", student_html(result, show_hidden=False, count_hidden=True))
    for folder in folders.values():
        _zip_folder(folder, zips / f"{folder.name}.zip")
    bundle = Path(out_dir) / "feedback.zip"
    root.mkdir(parents=True, exist_ok=True)
    _zip_folder(root, bundle)
    return bundle, sorted(folders.values())
