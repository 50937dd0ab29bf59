"""Stage stage: validate the submitted notebook and give it a fresh work dir holding only what it needs.

A submission is read once, without following links and under a size cap, so a link to another student's notebook,
to /dev/zero or a FIFO is refused before anything is hashed or parsed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.reader import get_version

from grader import portable

NOTEBOOK_CAP_BYTES = 50 * 2**20
# Validating, running, statically scanning and reporting cost time per cell; a course notebook has a few hundred.
CELL_CAP = 10_000
READ_CHUNK = 2**20
# O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: a link is refused, not followed.
SAFE_OPEN = os.O_RDONLY | portable.NOFOLLOW | portable.NONBLOCK | portable.CLOEXEC | portable.NOCTTY | portable.BINARY


class InvalidNotebook(Exception):
    """The file cannot be graded as a notebook; the message is one sentence for the report."""


@dataclass
class Staged:
    workdir: Path
    notebook: nbformat.NotebookNode
    notebook_path: Path
    raw: bytes = b""


def _file_problem(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "the file is a symbolic link (submit the notebook itself)"
    return "the file is not a regular file"


def read_submission(path: Path) -> bytes:
    """The file's bytes, read without following a link and never more than the cap; else InvalidNotebook."""
    try:
        if Path(path).parent.is_symlink():
            raise InvalidNotebook("the file is inside a symbolic link, not a student folder")
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            raise InvalidNotebook(_file_problem(mode))
        descriptor = os.open(path, SAFE_OPEN)
    except OSError as error:
        raise InvalidNotebook(f"the file cannot be read ({error.strerror or error})") from None
    with os.fdopen(descriptor, "rb", buffering=0) as handle:
        # Checked again on the open file: the path may have been swapped since the lstat.
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InvalidNotebook(_file_problem(os.fstat(descriptor).st_mode))
        chunks: list[bytes] = []
        size = 0
        while block := handle.read(READ_CHUNK):
            size += len(block)
            if size > NOTEBOOK_CAP_BYTES:
                raise InvalidNotebook(f"the file is over the {NOTEBOOK_CAP_BYTES // 2**20} MiB limit")
            chunks.append(block)
    return b"".join(chunks)


def sha256_of_submission(path: Path) -> str:
    return hashlib.sha256(read_submission(path)).hexdigest()


def _cell_count(document: dict) -> int:
    """Cells of a v4 notebook, or of every worksheet of a v3 one; malformed parts count as none (validation says)."""
    cells = document.get("cells")
    if isinstance(cells, list):
        return len(cells)
    worksheets = document.get("worksheets")
    if not isinstance(worksheets, list):
        return 0
    return sum(len(sheet.get("cells", [])) for sheet in worksheets
               if isinstance(sheet, dict) and isinstance(sheet.get("cells", []), list))


def parse_notebook(raw: bytes) -> nbformat.NotebookNode:
    """Parse and validate a notebook's bytes (nbformat 3 is converted to 4), or raise InvalidNotebook saying why."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidNotebook("the file is not text (is it a notebook, or another file renamed to .ipynb?)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidNotebook(f"the file is not valid notebook JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    if not isinstance(document, dict) or ("cells" not in document and "worksheets" not in document):
        raise InvalidNotebook("the file is JSON but not a Jupyter notebook (it has no 'cells')")
    count = _cell_count(document)
    if count > CELL_CAP:
        raise InvalidNotebook(f"the notebook has {count} cells, over the {CELL_CAP} cell limit")
    try:
        major, minor = get_version(document)
        if major not in (3, 4):
            raise InvalidNotebook(f"the notebook format version {major} is not supported (3 and 4 are)")
        notebook = nbformat.versions[major].to_notebook_json(document, minor=minor)
        if major != 4:
            notebook = nbformat.convert(notebook, 4)
        nbformat.validate(notebook)
    except InvalidNotebook:
        raise
    except Exception as error:  # noqa: BLE001 - nbformat raises many types for a malformed notebook
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidNotebook(f"the notebook does not follow the notebook format ({first_line[:200]})") from None
    if not notebook.cells:
        raise InvalidNotebook("the notebook has no cells")
    if not any(cell.cell_type == "code" and cell.source.strip() for cell in notebook.cells):
        raise InvalidNotebook("the notebook has no code")
    return notebook


def load_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook, or raise InvalidNotebook saying what is wrong with the file."""
    return parse_notebook(read_submission(path))


def stage(notebook_path: Path, exercise: str, work_root: Path | None = None, raw: bytes | None = None) -> Staged:
    """Copy the notebook into a new, private work dir; nothing else from the course or the class goes there.

    `raw` is the submission as already read by `read_submission` (so the file graded is the file hashed).
    """
    raw = read_submission(notebook_path) if raw is None else raw
    notebook = parse_notebook(raw)
    workdir = Path(tempfile.mkdtemp(prefix=f"grader-{exercise}-", dir=work_root))
    target = workdir / f"{exercise}.ipynb"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | portable.NOFOLLOW | portable.CLOEXEC | portable.BINARY
    descriptor = os.open(target, flags, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(raw)
    return Staged(workdir=workdir, notebook=notebook, notebook_path=target, raw=raw)


# ---------------------------------------------------------------- a fresh work dir for each replay


@dataclass
class WorkdirSnapshot:
    """The work dir as staged, before any kernel ran: folders, links and (small) files, to be restored before a
    replay, so the replay starts from a clean folder and nothing the dead kernel planted (links, a full disk) is
    used by the grader or by bubblewrap."""

    folders: list[tuple[str, int]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, bytes, int]] = field(default_factory=list)


def snapshot(workdir: Path) -> WorkdirSnapshot:
    """Record the work dir's staged content (called while no kernel has run in it yet)."""
    taken = WorkdirSnapshot()
    for folder, names, files in os.walk(workdir):
        for name in sorted(names + files):
            path = Path(folder) / name
            relative = str(path.relative_to(workdir))
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                taken.links.append((relative, os.readlink(path)))
            elif stat.S_ISDIR(info.st_mode):
                taken.folders.append((relative, stat.S_IMODE(info.st_mode)))
            elif stat.S_ISREG(info.st_mode):
                taken.files.append((relative, path.read_bytes(), stat.S_IMODE(info.st_mode)))
    return taken


def clear(workdir: Path) -> None:
    """Remove everything inside the work dir without following a link (shutil.rmtree is link-safe on Linux)."""
    for entry in os.scandir(workdir):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass


def restore(workdir: Path, taken: WorkdirSnapshot) -> None:
    """Empty the work dir and recreate what was staged; every path is created anew, so none can be a planted link."""
    clear(workdir)
    for relative, mode in taken.folders:
        os.mkdir(workdir / relative, mode)
    for relative, target in taken.links:
        os.symlink(target, workdir / relative)
    for relative, content, mode in taken.files:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | portable.NOFOLLOW | portable.BINARY
        descriptor = os.open(workdir / relative, flags, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
