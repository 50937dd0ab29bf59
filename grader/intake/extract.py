"""Safe reading of LMS exports: zips (nested ones too) and folders, never following links or leaving the target."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

MAX_TOTAL_BYTES = 2 * 2**30      # everything one export may unpack to
MAX_MEMBER_BYTES = 200 * 2**20   # one file (a notebook with its outputs is rarely over 20 MiB)
MAX_MEMBERS = 50_000
MAX_NESTING = 3                  # a zip inside a zip inside a zip
CHUNK = 2**20


class ExportError(Exception):
    """The export as a whole cannot be read (not a zip, or over the size cap); the message says why."""


@dataclass(frozen=True)
class File:
    """One file of the export: its path inside it ('/'-separated), where it now lies, and its time in the export."""

    relative: str
    local: Path
    modified: datetime | None


@dataclass
class Extracted:
    files: list[File] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (path in the export, why it was not taken)
    total_bytes: int = 0


def unsafe_reason(name: str) -> str:
    """Why a member name may not be extracted ('' when it may): absolute, '..', or a drive letter."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(normalised).parts:
        return "a path with '..'"
    if "\0" in normalised:
        return "a name with a NUL byte"
    return ""


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _copy_capped(source, target: Path, budget: int) -> int:
    """Copy at most `budget` bytes (the sizes a zip declares can lie); raises ExportError past it."""
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > budget:
                raise ExportError("unpacks to more than the size cap")
            out.write(chunk)
    return written


def _members(archive: zipfile.ZipFile, display: str, found: Extracted) -> list[zipfile.ZipInfo]:
    """The archive's regular files that may be extracted; the others are recorded as rejected."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ExportError(f"{display} holds {len(infos)} entries, more than {MAX_MEMBERS}")
    kept = []
    for info in infos:
        where = f"{display}!{info.filename}" if display else info.filename
        reason = unsafe_reason(info.filename) or ("a symbolic link" if _is_link(info) else "")
        if reason:
            found.rejected.append((where, f"not extracted: {reason}"))
        elif not info.is_dir():
            kept.append(info)
    return kept


def extract_zip(path: Path, target: Path, found: Extracted | None = None, prefix: str = "", depth: int = 0,
                uploaded: datetime | None = None) -> Extracted:
    """Unpack `path` under `target`; nested zips are unpacked in place of themselves (their folder keeps the zip's
    name without `.zip`). Paths in the result are relative to the top of the outermost export. The files of a
    nested zip take the time of the zip the student uploaded (`uploaded`): their own times are their laptop's."""
    found = found if found is not None else Extracted()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ExportError(f"{prefix or path.name}: not a readable zip ({error})") from None
    with archive:
        for info in _members(archive, prefix, found):
            relative = "/".join(p for p in (prefix, info.filename.replace("\\", "/").strip("/")) if p)
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            if info.file_size > MAX_MEMBER_BYTES:
                found.rejected.append((relative, f"not extracted: {info.file_size} bytes, over the "
                                                 f"{MAX_MEMBER_BYTES // 2**20} MiB cap for one file"))
                continue
            with archive.open(info) as source:
                found.total_bytes += _copy_capped(source, destination,
                                                  min(MAX_MEMBER_BYTES, MAX_TOTAL_BYTES - found.total_bytes))
            modified = uploaded or datetime(*info.date_time)
            _take(destination, relative, modified, found, target, depth)
    return found


def _take(local: Path, relative: str, modified: datetime | None, found: Extracted, target: Path, depth: int) -> None:
    """Record one extracted file; a nested zip is opened in its place."""
    if local.suffix.lower() != ".zip":
        found.files.append(File(relative, local, modified))
        return
    if depth + 1 >= MAX_NESTING:
        found.rejected.append((relative, f"not opened: zips nested more than {MAX_NESTING} deep"))
        return
    nested_prefix = relative[: -len(".zip")]
    moved = local.with_name(local.name + ".nested")
    local.rename(moved)
    try:
        extract_zip(moved, target, found, nested_prefix, depth + 1, modified)
    except ExportError as error:
        found.rejected.append((relative, f"not opened: {error}"))
    finally:
        moved.unlink(missing_ok=True)


def read_folder(root: Path, target: Path) -> Extracted:
    """An export already unpacked into a folder: its files are copied (links are never followed)."""
    found = Extracted()
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                found.rejected.append(((here / name).relative_to(root).as_posix(), "not read: a symbolic link"))
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink() and not d.startswith("."))
        for name in sorted(names):
            source = here / name
            relative = source.relative_to(root).as_posix()
            if name.startswith("."):
                continue
            if source.is_symlink() or not source.is_file():
                found.rejected.append((relative, "not read: a symbolic link or not a regular file"))
                continue
            size = source.stat().st_size
            if size > MAX_MEMBER_BYTES or found.total_bytes + size > MAX_TOTAL_BYTES:
                found.rejected.append((relative, "not read: over the size cap"))
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination, follow_symlinks=False)
            found.total_bytes += size
            _take(destination, relative, datetime.fromtimestamp(source.stat().st_mtime), found, target, 0)
    return found
