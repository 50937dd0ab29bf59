"""Downloads for dataset fetchers: resumable HTTP (Range requests), size and MD5 checks, a progress bar, and
archive extraction that refuses members which would land outside the target folder."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path, PurePosixPath
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from grader.data import DataMissing

CHUNK_BYTES = 2**20
USER_AGENT = "grader-data-fetch/1"


class FetchError(DataMissing):
    """A download or extraction that cannot be used; the message says what went wrong and what to do."""


@dataclass(frozen=True)
class Source:
    """One file at an official address, with the size and MD5 its publisher gives."""

    url: str
    filename: str
    size: int
    md5: str


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _progress(console: Console | None) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def _open(url: str, offset: int, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - https/http addresses from our constants


def _resume_offset(response, offset: int) -> int:
    """Where the body starts: `offset` for a 206 that honours the range, 0 for a full 200 body."""
    if response.status == 206:
        content_range = response.headers.get("Content-Range", "")
        start = content_range.removeprefix("bytes ").split("-", 1)[0]
        if not start.isdigit() or int(start) != offset:
            raise FetchError(f"the server answered the range request with {content_range!r}, not bytes {offset}-")
        return offset
    return 0


def _transfer(source: Source, part: Path, progress: Progress, timeout: float) -> None:
    """Append the rest of the file to `part`; raise on a short body so the caller can retry from where it stopped."""
    offset = part.stat().st_size if part.exists() else 0
    if offset > source.size:
        part.unlink()
        offset = 0
    if offset == source.size:
        return
    try:
        response = _open(source.url, offset, timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            part.unlink()  # the server disowns our partial file: start again from nothing
        raise
    with response:
        start = _resume_offset(response, offset)
        task = progress.add_task(source.filename, total=source.size, completed=start)
        with part.open("ab" if start else "wb") as handle:
            while block := response.read(CHUNK_BYTES):
                handle.write(block)
                progress.advance(task, len(block))
    received = part.stat().st_size
    if received < source.size:
        raise FetchError(f"the connection closed after {received:,} of {source.size:,} bytes")


def download(source: Source, folder: Path, attempts: int = 5, timeout: float = 60.0, backoff_s: float = 2.0,
             console: Console | None = None) -> Path:
    """`folder/<filename>`, downloaded (resuming a partial `.part` file) and verified by size and MD5."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.filename
    if target.is_file() and target.stat().st_size == source.size and md5_of(target) == source.md5:
        return target
    part = folder / f"{source.filename}.part"
    problem = ""
    with _progress(console) as progress:
        for attempt in range(attempts):
            try:
                _transfer(source, part, progress, timeout)
                break
            except (FetchError, urllib.error.URLError, HTTPException, OSError) as error:
                problem = str(error)
                if attempt + 1 < attempts:
                    time.sleep(backoff_s * 2**attempt)
        else:
            raise FetchError(f"downloading {source.url} failed {attempts} times (last: {problem}); "
                             f"run the command again to resume from {part.stat().st_size if part.exists() else 0:,} bytes")
    actual = md5_of(part)
    if actual != source.md5:
        part.unlink()
        raise FetchError(f"{source.filename} has MD5 {actual}, expected {source.md5}: the download is corrupt or the "
                         "file changed upstream; the partial file was removed, run the command again")
    part.replace(target)
    return target


def safe_member_path(name: str) -> PurePosixPath:
    """The archive member's relative path, or FetchError when it is absolute or climbs out with '..'."""
    path = PurePosixPath(name.replace("\\", "/"))
    if not path.parts or path.is_absolute() or ":" in path.parts[0]:
        raise FetchError(f"the archive member {name!r} is not a relative path; refusing to extract the archive")
    if ".." in path.parts:
        raise FetchError(f"the archive member {name!r} climbs out of the target folder; refusing to extract the archive")
    return path


def extract_tar(archive: Path, destination: Path, keep: Callable[[PurePosixPath], bool]) -> int:
    """Extract the regular files that `keep` selects; any unsafe member (absolute, '..', link, device) aborts."""
    count = 0
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if member.isdir() and not PurePosixPath(member.name).parts:
                continue  # './' at the top of some archives: the destination itself
            path = safe_member_path(member.name)
            if member.issym() or member.islnk() or not (member.isfile() or member.isdir()):
                raise FetchError(f"the archive member {member.name!r} is a link or special file; refusing to extract")
            if not member.isfile() or not keep(path):
                continue
            target = destination.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            with source, target.open("wb") as handle:
                shutil.copyfileobj(source, handle, CHUNK_BYTES)
            count += 1
    return count


def extract_zip_member(archive: Path, member: str, target: Path) -> None:
    """Copy one named member of a zip file to `target` (zipfile checks its CRC as it reads)."""
    safe_member_path(member)
    with zipfile.ZipFile(archive) as bundle:
        if member not in bundle.namelist():
            raise FetchError(f"{archive.name} holds no {member}")
        partial = target.with_name(target.name + ".part")
        with bundle.open(member) as source, partial.open("wb") as handle:
            shutil.copyfileobj(source, handle, CHUNK_BYTES)
        partial.replace(target)
