"""Disk use: how much a notebook wrote into its folders, and whether the machine's disk is (nearly) full.

Counted from the allocated blocks, without following links (staged datasets are links), so a sparse file costs what it
really uses and a link to a large host folder costs nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

HOST_RESERVE_BYTES = 64 * 2**20  # below this much free space, the machine's disk counts as full


@dataclass(frozen=True)
class Usage:
    bytes: int
    files: int


def usage(roots: list[Path], file_cap: int) -> Usage:
    """Allocated bytes and entries under `roots`; stops counting entries once over `file_cap`."""
    total = files = 0
    pending = [str(root) for root in roots]
    while pending and files <= file_cap:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            files += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                pending.append(entry.path)
    return Usage(total, files)


def free_bytes(path: Path) -> int:
    """Free space on the file system holding `path` (what an unprivileged writer could still use)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return HOST_RESERVE_BYTES


def host_full(path: Path) -> bool:
    return free_bytes(path) < HOST_RESERVE_BYTES
