"""Isolation for untrusted notebooks: a bubblewrap command prefix and a scrubbed environment for each kernel.

Inside the sandbox the kernel sees a read-only minimal root (system libraries, a few files of /etc, this Python and
its site-packages, the grader package), its own work dir read-write, and the datasets it was given read-only.
Everything else (home folders, the course's rubrics/ and reference/, the output dir, other students' work dirs)
does not exist there. It has no network but its own loopback, its own PID namespace (so every process it starts dies
with it), and no capabilities.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import grader
from grader import portable

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")
# Only what programs need to start and find libraries, users, time zones and certificates; never shadow or keys.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "hosts", "host.conf",
             "localtime", "timezone", "ssl", "ca-certificates", "alternatives", "fonts", "mime.types", "os-release",
             "machine-id")
DEVICE_GLOBS = ("nvidia*", "dri")
# Variables the kernel may inherit; everything else (tokens, keys, agent sockets, proxies) is dropped.
KEEP_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_HOME", "CUDA_PATH",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PYTHONHASHSEED", "PYTORCH_CUDA_ALLOC_CONF")
KEEP_ENV_PREFIXES = ("LC_", "NVIDIA_")
HIDDEN_COURSE_DIRS = ("rubrics", "reference")
# No compiler toolchain inside: a notebook cannot build a C/C++/CUDA extension (load_inline, gcc) to hide a built-in
# from the trace. Each program is covered by an empty device file (running it fails); gcc's own back ends too.
TOOLCHAIN = re.compile(r"^(x86_64-linux-gnu-|aarch64-linux-gnu-)?(gcc|g\+\+|c\+\+|cc|c89|c99|cpp|clang|clang\+\+|"
                       r"clang-cpp|tcc|as|gold|ld|ld\.bfd|ld\.gold|ld\.lld|lld|nvcc|ninja|cc1|cc1plus|collect2|"
                       r"make|cmake|gfortran|rustc|go)(-\d+(\.\d+)*)?$")
TOOLCHAIN_DIRS = ("/usr/lib/gcc", "/usr/libexec/gcc", "/usr/lib/gcc-cross")


@dataclass(frozen=True)
class Availability:
    """Whether kernels can run in a sandbox here, and in one sentence why not."""

    available: bool
    reason: str = ""
    bwrap: str = ""


@dataclass
class Layout:
    """What one kernel may see: its work dir (read-write), read-only extras, and paths that must stay invisible."""

    workdir: Path
    readable: list[Path] = field(default_factory=list)
    hidden: list[Path] = field(default_factory=list)
    shm_bytes: int = 2**30
    runtime: Path | None = None  # this attempt's connection file and sockets: a fresh folder outside the work dir


@dataclass(frozen=True)
class Sandbox:
    """bubblewrap and what one notebook's kernels may see; each attempt adds its own runtime folder."""

    bwrap: str
    layout: Layout

    def prefix(self, runtime: Path | None) -> list[str]:
        return bwrap_prefix(self.bwrap, replace(self.layout, runtime=runtime))


def _probe_command(bwrap: str) -> list[str]:
    return [bwrap, *_base_args(), *_system_binds(), "--", "/bin/true"]


def availability() -> Availability:
    """Whether kernels can be sandboxed here: never off Linux or over TCP (GRADER_TRANSPORT=tcp), else bwrap's test."""
    problem = portable.sandbox_problem()
    return Availability(False, problem) if problem else _bwrap_availability()


@functools.lru_cache(maxsize=1)
def _bwrap_availability() -> Availability:
    """Find bwrap and try it once: some kernels or containers forbid the namespaces it needs."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Availability(False, "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)")
    try:
        run = subprocess.run(_probe_command(bwrap), capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Availability(False, f"bubblewrap could not be started ({error})", bwrap)
    if run.returncode != 0:
        detail = run.stderr.decode(errors="replace").strip().splitlines()
        return Availability(False, f"bubblewrap cannot create a sandbox here ({detail[-1] if detail else 'no detail'})",
                            bwrap)
    return Availability(True, "", bwrap)


def _base_args() -> list[str]:
    return ["--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--cap-drop", "ALL", "--hostname", "grader"]


def _system_binds() -> list[str]:
    """The system's programs and libraries, read-only; merged-/usr symlinks stay symlinks."""
    args: list[str] = []
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev", "--ro-bind-try", "/sys", "/sys"]
    for pattern in DEVICE_GLOBS:
        for device in sorted(Path("/dev").glob(pattern)):
            args += ["--dev-bind", str(device), str(device)]
    return args


def _program_dirs() -> list[Path]:
    """Where a program may be found: the system's and this Python's bin folders, and PATH."""
    folders = {Path("/usr/bin"), Path("/usr/local/bin"), Path("/bin"), Path("/usr/sbin"), Path(sys.prefix) / "bin",
               Path(sys.executable).parent}
    folders.update(Path(entry) for entry in os.environ.get("PATH", "").split(os.pathsep) if entry.startswith("/"))
    return sorted(folder for folder in folders if folder.is_dir())


@functools.lru_cache(maxsize=1)
def toolchain_masks() -> tuple[str, ...]:
    """bwrap arguments that cover every compiler, linker, assembler and build tool with an empty device file."""
    programs: set[Path] = set()
    # Only what the sandbox shows: a bind onto a path missing inside would stop bwrap.
    visible = [*SYSTEM_DIRS, sys.prefix, sys.base_prefix]
    for folder in _program_dirs():
        for entry in folder.iterdir():
            if TOOLCHAIN.match(entry.name):
                real = entry.resolve()
                if real.is_file() and any(_is_within(real, Path(root)) for root in visible):
                    programs.add(real)
    args: list[str] = []
    for program in sorted(programs):
        args += ["--ro-bind", "/dev/null", str(program)]
    for folder in TOOLCHAIN_DIRS:
        if Path(folder).is_dir() and Path(folder).resolve() == Path(folder):
            args += ["--tmpfs", folder]
    return tuple(args)


def _is_within(path: Path, other: Path) -> bool:
    return path == other or other in path.parents


def python_paths(secret_roots: list[Path]) -> list[Path]:
    """This Python, its site-packages and import paths, and the grader package; never a folder holding a secret."""
    candidates = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).parent,
                  Path(grader.__file__).resolve().parent}
    candidates.update(Path(p) for p in site.getsitepackages())
    user_site = site.getusersitepackages()
    if user_site:
        candidates.add(Path(user_site))
    candidates.update(Path(entry) for entry in sys.path if entry and Path(entry).is_absolute())
    paths = []
    for candidate in candidates:
        resolved = candidate.resolve()
        if not resolved.is_dir():
            continue
        # A source checkout on sys.path (an editable install) would expose its rubrics/ and reference/.
        if any(_is_within(secret, resolved) for secret in secret_roots):
            continue
        paths.append(resolved)
    # One bind per tree: a folder inside another bound folder is already visible.
    return sorted(p for p in set(paths) if not any(other in p.parents for other in paths))


def hidden_course_paths(course_root: Path | None) -> list[Path]:
    """rubrics/ and reference/ of the course and of this checkout: masked even if a bind happens to include them."""
    roots = {Path(grader.__file__).resolve().parent.parent}
    if course_root is not None:
        roots.add(Path(course_root).resolve())
    return sorted(root / name for root in roots for name in HIDDEN_COURSE_DIRS if (root / name).is_dir())


def symlink_targets(workdir: Path) -> list[Path]:
    """Datasets are staged as symlinks into the cache: the kernel needs their targets, read-only, at the same path."""
    targets = []
    for link in workdir.rglob("*"):
        if link.is_symlink():
            target = link.resolve()
            if target.exists() and not _is_within(target, workdir.resolve()):
                targets.append(target)
    return targets


def _require_real_folder(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        raise RuntimeError(f"{path} is not a folder of the grader's (a link or a file replaced it); not binding it")


def bwrap_prefix(bwrap: str, layout: Layout) -> list[str]:
    """The command prefix that runs a kernel inside the sandbox described by `layout`."""
    workdir = layout.workdir.resolve()
    args = [bwrap, *_base_args(), *_system_binds()]
    readable = sorted(set(layout.readable))
    # bwrap mounts in order, a later mount hiding what lies under it. /tmp (the work dir's scratch folder) comes
    # before the work dir and the read-only paths, which often live in /tmp too; a read-only path that holds the
    # work dir must come before the work dir.
    around = [path for path in readable if _is_within(workdir, path)]
    for path in around:
        args += ["--ro-bind", str(path), str(path)]
    scratch = workdir / ".tmp"
    scratch.mkdir(exist_ok=True)
    # bwrap (root, on a lab server) follows links: the folders it binds writable must be the grader's own folders.
    # The work dir is restored before every replay, so a link the previous kernel planted here is gone by now.
    for folder in (workdir, scratch, *([layout.runtime] if layout.runtime else [])):
        _require_real_folder(folder)
    # /dev/shm is RAM, so it is capped like the kernel's memory.
    args += ["--bind", str(scratch), "/tmp", "--bind", str(workdir), str(workdir),
             "--size", str(layout.shm_bytes), "--tmpfs", "/dev/shm"]
    if layout.runtime is not None:
        args += ["--bind", str(layout.runtime), str(layout.runtime)]
    for path in readable:
        if path not in around:
            args += ["--ro-bind", str(path), str(path)]
    for path in layout.hidden:
        if any(_is_within(path, readable) for readable in layout.readable) or _is_within(path, workdir):
            args += ["--tmpfs", str(path)]
    # Last, so that no later bind (this Python's bin folder) uncovers one.
    args += list(toolchain_masks())
    # In its own PID namespace the kernel's parent is bwrap's init (PID 1): ipykernel must not take that for its
    # parent having died. --die-with-parent already ends the sandbox with the grader.
    args += ["--remount-ro", "/", "--chdir", str(workdir), "--setenv", "JPY_PARENT_PID", "1", "--"]
    return args


def kernel_env(source: dict[str, str], workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    """The kernel's environment: a short allow-list, the datasets' variables, and every cache inside the work dir."""
    env = {key: value for key, value in source.items()
           if key in KEEP_ENV or key.startswith(KEEP_ENV_PREFIXES)}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    home = workdir / ".home"
    private = {"HOME": home, "TMPDIR": workdir / ".tmp", "IPYTHONDIR": home / ".ipython",
               "XDG_CACHE_HOME": home / ".cache", "XDG_CONFIG_HOME": home / ".config",
               "XDG_DATA_HOME": home / ".local" / "share", "MPLCONFIGDIR": home / ".config" / "matplotlib",
               "JUPYTER_RUNTIME_DIR": home / ".jupyter-runtime", "TORCH_HOME": home / ".cache" / "torch"}
    for key, path in private.items():
        path.mkdir(parents=True, exist_ok=True)
        env[key] = str(path)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    package_root = str(Path(grader.__file__).resolve().parent.parent)
    if package_root not in site.getsitepackages():
        # A checkout (editable install, or PYTHONPATH): the probe must import this grader, wherever it lives, not
        # another copy the kernel's Python would find (or, sandboxed, not find).
        env["PYTHONPATH"] = package_root
    if site.ENABLE_USER_SITE and Path(site.getusersitepackages()).is_dir():
        # HOME moved into the work dir: keep finding packages the TA installed with `pip install --user`.
        env["PYTHONUSERBASE"] = site.getuserbase()
    env.update(extra)
    return env


def describe() -> str:
    """One line for the CLI and `grader doctor`."""
    found = availability()
    if found.available:
        return f"isolated: each kernel runs in a bubblewrap sandbox ({found.bwrap})"
    return f"NOT ISOLATED: {found.reason}; notebooks run with your user's full access"


_SELF_TEST = """
import os, socket, sys
from pathlib import Path
problems = []
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2).close()
    problems.append("the network is reachable")
except OSError:
    pass
for hidden in sys.argv[1:]:
    if Path(hidden).exists():
        problems.append(f"{hidden} is visible")
try:
    open("/usr/.grader-doctor", "w")
    problems.append("the system is writable")
except OSError:
    pass
open(".grader-doctor", "w").write("ok")
print("; ".join(problems) or "ok")
"""


def doctor() -> list[tuple[bool, str]]:
    """Each isolation requirement, checked for real: (passed, one line)."""
    found = availability()
    if not found.available:
        return [(False, found.reason)]
    lines = [(True, f"bubblewrap found at {found.bwrap} and able to create namespaces")]
    readable = python_paths([Path(grader.__file__).resolve().parent.parent])
    # The home folder itself may hold this Python (pyenv, conda): what else is in it must stay invisible.
    try:
        home_entries = sorted(entry for entry in Path.home().iterdir()
                              if not any(_is_within(path, entry) for path in readable))
    except OSError:
        home_entries = []
    hidden = [str(path) for path in hidden_course_paths(None) + home_entries[:20]]
    with tempfile.TemporaryDirectory(prefix="grader-doctor-") as scratch:
        workdir = Path(scratch)
        layout = Layout(workdir, readable, [])
        command = [*bwrap_prefix(found.bwrap, layout), sys.executable, "-c", _SELF_TEST, *hidden]
        run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                             env=kernel_env(dict(os.environ), workdir, {}))
        verdict = run.stdout.strip() or run.stderr.strip()[-300:]
        written = (workdir / ".grader-doctor").is_file()
    lines.append((verdict == "ok" and written,
                  "a sandboxed Python has no network, cannot see rubrics/, reference/ or your home folder, cannot "
                  "write outside its work dir" + ("" if verdict == "ok" else f": {verdict}")))
    return lines
