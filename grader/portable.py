"""What differs between Linux, macOS and Windows: open flags, opening files inside a folder, the kernel transport.

Nothing here imports a platform-only module; a flag a platform lacks is 0 there (Windows has no O_NOFOLLOW: links
are refused by an lstat check instead).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
from pathlib import Path

TRANSPORT_VARIABLE = "GRADER_TRANSPORT"

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
NOCTTY = getattr(os, "O_NOCTTY", 0)
DIRECTORY = getattr(os, "O_DIRECTORY", 0)
BINARY = getattr(os, "O_BINARY", 0)

# A folder handle: an open descriptor where the platform opens files relative to one, else the folder's path.
Folder = int | str


def forced_tcp() -> bool:
    """GRADER_TRANSPORT=tcp: kernels talk TCP on 127.0.0.1 and run unsandboxed, as on a platform without ipc."""
    return os.environ.get(TRANSPORT_VARIABLE, "").strip().lower() == "tcp"


def ipc_problem() -> str:
    """Why kernels cannot use ZMQ ipc sockets here ('' when they can)."""
    if forced_tcp():
        return f"{TRANSPORT_VARIABLE}=tcp asks for TCP on 127.0.0.1"
    if sys.platform == "win32" or not hasattr(socket, "AF_UNIX"):
        return "this system has no Unix sockets for ZMQ ipc"
    return ""


def sandbox_problem() -> str:
    """Why bubblewrap cannot be used here for platform reasons ('' when it may be tried)."""
    if forced_tcp():
        return (f"{TRANSPORT_VARIABLE}=tcp: kernels talk TCP on 127.0.0.1, which a sandbox without network cannot "
                "reach")
    if not sys.platform.startswith("linux"):
        return f"bubblewrap exists only on Linux (this is {sys.platform})"
    return ""


def relative_opens() -> bool:
    return os.open in os.supports_dir_fd and DIRECTORY != 0


def open_folder(path: Path) -> Folder:
    """Open a folder for opening files inside it without following links; raises OSError as os.open does."""
    if relative_opens():
        return os.open(path, os.O_RDONLY | DIRECTORY | NOFOLLOW | CLOEXEC)
    if Path(path).is_symlink() or not Path(path).is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    return str(path)


def close_folder(folder: Folder) -> None:
    if isinstance(folder, int):
        os.close(folder)


def open_in(folder: Folder, name: str, flags: int, mode: int = 0o644) -> int:
    """os.open of `name` inside `folder`, refusing a link."""
    if isinstance(folder, int):
        return os.open(name, flags | NOFOLLOW | CLOEXEC, mode, dir_fd=folder)
    path = os.path.join(folder, name)
    if os.path.lexists(path) and stat.S_ISLNK(os.lstat(path).st_mode):
        raise OSError(getattr(errno, "ELOOP", 40), f"{path} is a link")
    return os.open(path, flags | BINARY, mode)
