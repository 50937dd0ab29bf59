"""Resume: a stored result is reused while nothing it depends on changed (its fingerprint in the gradebook)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

import grader
from grader import data, gradebook, kernel_env, report, sources
from grader.discover import Submission
from grader.gradebook import Fingerprint
from grader.grade.options import Options, disk_limit_mb, memory_limit_mb
from grader.results import GradeResult
from grader.rubric import Rubric
from grader.stage import InvalidNotebook, sha256_of_submission


def _sha256_or_empty(path: Path | None) -> str:
    return data.sha256_of(path) if path is not None and path.is_file() else ""


def fingerprint(submission: Submission, rubric: Rubric, options: Options, notebook_sha: str = "") -> Fingerprint:
    """Everything a stored result depends on; a rerun reuses the result only while all of it is unchanged."""
    assert submission.notebook is not None
    reference = options.course_root / "reference" / f"{rubric.exercise}.ipynb" if options.course_root else None
    settings = {"quick": options.quick, "memory_limit_mb": memory_limit_mb(rubric, options),
                "kernel_env": kernel_env.current(options.course_root).built_key,
                "disk_limit_mb": disk_limit_mb(rubric, options)}
    return Fingerprint(
        notebook_sha256=notebook_sha or sha256_of_submission(submission.notebook),
        rubric_sha256=hashlib.sha256(rubric.model_dump_json().encode()).hexdigest(),
        reference_sha256=_sha256_or_empty(reference),
        module_sha256=sources.exercise_sources_sha256(rubric.module_name),
        grader_version=grader.__version__,
        settings=json.dumps(settings, sort_keys=True),
    )


def stored_result(submission: Submission, rubric: Rubric, options: Options) -> GradeResult | None:
    """The stored result of this (student, exercise) when nothing it depends on changed since; else None."""
    if options.force or submission.notebook is None:
        return None
    try:
        current = fingerprint(submission, rubric, options)
        if gradebook.latest_hash(options.out_dir, submission.student, submission.exercise) != current.content_hash:
            return None
        json_path, _ = report.result_paths(options.out_dir, submission.student, submission.exercise)
        result = GradeResult.model_validate_json(json_path.read_bytes())
    except (OSError, ValueError, ValidationError, InvalidNotebook):
        return None
    return result if result.notebook_sha256 == current.notebook_sha256 else None
