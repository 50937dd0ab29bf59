"""The grader's own source files, hashed: a stored result is reused only while none of them changed."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def source_files(root: Path | None = None) -> list[Path]:
    """Every file of the grader package (code, templates, bundled data), in a stable order; caches excluded."""
    root = root or PACKAGE
    return sorted(path for path in root.rglob("*")
                  if path.is_file() and "__pycache__" not in path.relative_to(root).parts and path.suffix != ".pyc")


def sources_sha256(root: Path | None = None) -> str:
    """One digest over every source file's path and content: any edit to the exercise package, the kernel package,
    the checks package or the pipeline's core modules changes it."""
    root = root or PACKAGE
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def exercise_sources_sha256(package: str) -> str:
    """The digest a result depends on: the grader's sources, plus the exercise package's own files when it lies
    outside the grader (a rubric's `module:` may name one)."""
    try:
        spec = importlib.util.find_spec(package)
    except ImportError:
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    outside = [Path(folder).resolve() for folder in folders if not Path(folder).resolve().is_relative_to(PACKAGE)]
    if not outside:
        return sources_sha256()
    return hashlib.sha256("".join([sources_sha256(), *map(sources_sha256, outside)]).encode()).hexdigest()
