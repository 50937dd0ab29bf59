"""Stage stage: validate the submitted notebook and give it a fresh work dir holding only what it needs."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

NOTEBOOK_CAP_BYTES = 50 * 2**20


class InvalidNotebook(Exception):
    """The file cannot be graded as a notebook; the message is one sentence for the report."""


@dataclass
class Staged:
    workdir: Path
    notebook: nbformat.NotebookNode
    notebook_path: Path


def load_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook, or raise InvalidNotebook saying what is wrong with the file."""
    try:
        size = path.stat().st_size
        if size > NOTEBOOK_CAP_BYTES:
            raise InvalidNotebook(f"the file is {size / 2**20:.0f} MiB, over the {NOTEBOOK_CAP_BYTES // 2**20} MiB limit")
        raw = path.read_bytes()
    except OSError as error:
        raise InvalidNotebook(f"the file cannot be read ({error.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidNotebook("the file is not text (is it a notebook, or another file renamed to .ipynb?)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidNotebook(f"the file is not valid notebook JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    if not isinstance(document, dict) or "cells" not in document:
        raise InvalidNotebook("the file is JSON but not a Jupyter notebook (it has no 'cells')")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 - nbformat raises many types for a malformed notebook
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidNotebook(f"the notebook does not follow the notebook format ({first_line[:200]})") from None
    if not notebook.cells:
        raise InvalidNotebook("the notebook has no cells")
    if not any(cell.cell_type == "code" and cell.source.strip() for cell in notebook.cells):
        raise InvalidNotebook("the notebook has no code")
    return notebook


def stage(notebook_path: Path, exercise: str, work_root: Path | None = None) -> Staged:
    """Copy the notebook into a new, private work dir; nothing else from the course or the class goes there."""
    notebook = load_notebook(notebook_path)
    workdir = Path(tempfile.mkdtemp(prefix=f"grader-{exercise}-", dir=work_root))
    target = workdir / f"{exercise}.ipynb"
    shutil.copyfile(notebook_path, target)
    return Staged(workdir=workdir, notebook=notebook, notebook_path=target)
