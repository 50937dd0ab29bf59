"""The course's kernel environment: the packages student notebooks import beside the grader's own (Colab's stack).

A course lists them in `requirements-kernel.txt` beside `rubrics/` (a course without one gets this checkout's list).
`grader env build` installs what the grader's own Python lacks into a layer in the cache:

    <cache>/kernel-env/<key>/venv/...              a venv over the grader's Python; only its site-packages is used
    <cache>/kernel-env/<key>/manifest.json         what the layer holds; written last, so it marks a finished build

While pip resolves, every package of the grader's Python is pinned (a constraints file), so the layer never holds
a second numpy or torch. `<key>` hashes the requirements, this Python and the grader's installed packages: change
any of them and the layer is rebuilt. Kernels append the layer to `sys.path` after their own site-packages
(`BOOT_SOURCE`), and see it read-only inside the sandbox.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import site
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from grader import data
from grader.course import SOURCE_ROOT

REQUIREMENTS_FILE = "requirements-kernel.txt"
SITE_VARIABLE = "GRADER_KERNEL_SITE"
# Set in every kernel the grader starts: a selfcheck() call left in a notebook does nothing while it is graded.
GRADING_VARIABLE = "GRADER_KERNEL"
BUILD_COMMAND = "grader env build"
# Run by every kernel as it boots, before the student's first cell: the layer goes after the grader's own
# site-packages, so the grader's torch and numpy are never shadowed; site.addsitedir also reads its .pth files.
BOOT_SOURCE = (
    "import os as _g_os, site as _g_site\n"
    f"for _g_dir in _g_os.environ.get({SITE_VARIABLE!r}, '').split(_g_os.pathsep):\n"
    "    if _g_dir:\n"
    "        _g_site.addsitedir(_g_dir)\n"
    "globals().pop('_g_dir', None)\n"
    "del _g_os, _g_site\n"
)
NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
MIN_PIP = (22, 3)  # `pip --python`


class EnvError(Exception):
    """The kernel environment cannot be built; the message is one sentence for the TA."""


def normalize(name: str) -> str:
    """A package name as PyPI compares them (PEP 503): `Scikit_Learn` and `scikit-learn` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(text: str) -> list[str]:
    """The package names a requirements file asks for (options, comments and includes left out)."""
    names = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        found = NAME.match(line)
        if found and "://" not in line:
            names.append(normalize(found.group(1)))
    return names


def grader_site_dirs() -> list[Path]:
    """The grader's own site-packages (and user site): what every kernel imports from before the layer."""
    dirs = [Path(p) for p in site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(Path(site.getusersitepackages()))
    return [d for d in dirs if d.is_dir()]


@functools.lru_cache(maxsize=1)
def base_fingerprint() -> str:
    """The grader's installed packages, read from their metadata folders' names (fast: no file is opened)."""
    entries = sorted(entry for folder in grader_site_dirs() for entry in os.listdir(folder)
                     if entry.endswith((".dist-info", ".egg-info", ".egg-link")))
    return "\n".join([sys.version, platform.machine(), *entries])


def base_version(name: str) -> str | None:
    """The version of a package in the grader's own environment, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def env_root() -> Path:
    return data.cache_dir() / "kernel-env"


def requirements_path(course_root: Path | None) -> tuple[Path | None, bool]:
    """The requirements file kernels get, and whether it is the course's own (else this checkout's default)."""
    if course_root is not None and (Path(course_root) / REQUIREMENTS_FILE).is_file():
        return (Path(course_root) / REQUIREMENTS_FILE).resolve(), True
    default = SOURCE_ROOT / REQUIREMENTS_FILE
    return (default, False) if default.is_file() else (None, False)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class KernelEnv:
    """The environment kernels get for one course: the list, and the layer built from it (None: not built)."""

    requirements: Path | None
    own_file: bool = False
    names: tuple[str, ...] = ()
    key: str = ""
    layer: Path | None = None
    manifest: dict = field(default_factory=dict)
    stale: bool = False

    @property
    def site_dirs(self) -> list[Path]:
        """The layer's import folders (empty when not built)."""
        if self.layer is None:
            return []
        return [self.layer / relative for relative in self.manifest.get("site_dirs", [])]

    @property
    def missing(self) -> bool:
        """A list exists but no layer is built for it (the CLI says so once)."""
        return self.requirements is not None and self.layer is None

    def version(self, package: str) -> tuple[str, str] | None:
        """(version, where) of a package kernels can import: 'grader' (the grader's own) or 'layer'; else None."""
        layered = self.manifest.get("layer", {}).get(normalize(package))
        if layered:
            return layered, "layer"
        found = base_version(package)
        return (found, "grader") if found else None

    @property
    def built_key(self) -> str:
        """What a stored result depends on: the layer kernels got ('' when none)."""
        return self.key if self.layer is not None else ""

    def listed(self, package: str) -> bool:
        return normalize(package) in self.names

    def not_built_sentence(self) -> str:
        why = " (the grader's Python packages changed since it was built)" if self.stale else ""
        return (f"kernel environment not built{why}: run `{BUILD_COMMAND}`; until then notebooks see only the "
                f"grader's own packages, not all of {self.requirements}")


def current(course_root: Path | None) -> KernelEnv:
    """The kernel environment of a course as it is now: cheap enough to ask once per notebook."""
    requirements, own = requirements_path(course_root)
    if requirements is None:
        return KernelEnv(None)
    text = requirements.read_text(encoding="utf-8")
    requirements_sha = _digest(text)
    key = _digest(requirements_sha, base_fingerprint())
    names = tuple(requirement_names(text))
    manifest = _read_manifest(env_root() / key)
    if manifest is None:
        return KernelEnv(requirements, own, names, key, stale=_built_for(requirements_sha))
    return KernelEnv(requirements, own, names, key, env_root() / key, manifest)


def kernel_variables(env: KernelEnv) -> dict[str, str]:
    """What a kernel's environment needs for BOOT_SOURCE to find the layer."""
    return {SITE_VARIABLE: os.pathsep.join(map(str, env.site_dirs))} if env.site_dirs else {}


def _read_manifest(layer: Path) -> dict | None:
    try:
        manifest = json.loads((layer / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _built_for(requirements_sha: str) -> bool:
    """Whether some layer was built from these requirements (for another state of the grader's packages)."""
    root = env_root()
    if not root.is_dir():
        return False
    return any((_read_manifest(layer) or {}).get("requirements_sha") == requirements_sha for layer in root.iterdir())


# --------------------------------------------------------------------------- building


def _check_pip() -> None:
    version = tuple(int(part) for part in re.findall(r"\d+", importlib.metadata.version("pip"))[:2])
    if version < MIN_PIP:
        raise EnvError(f"pip {'.'.join(map(str, version))} is too old to build the kernel environment: "
                       f"run `python -m pip install -U pip` (≥ {'.'.join(map(str, MIN_PIP))})")


def _constraints() -> str:
    """Every package of the grader's Python pinned to its installed version: pip may add packages, never replace."""
    pinned: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            pinned.setdefault(normalize(name), dist.version)
    return "".join(f"{name}=={version}\n" for name, version in sorted(pinned.items()))


def _run(command: list[str], log: IO[str] | None, cwd: Path) -> None:
    """Run a build step, its output to `log` (None: the terminal); a failure names the step's last line."""
    run = subprocess.run(command, cwd=cwd, text=True, check=False,
                         stdout=subprocess.PIPE if log is not None else None,
                         stderr=subprocess.STDOUT if log is not None else None)
    if log is not None and run.stdout:
        log.write(run.stdout)
    if run.returncode != 0:
        lines = [line for line in (run.stdout or "").splitlines() if line.strip()]
        detail = f": {lines[-1].strip()}" if lines else " (its output is above)"
        raise EnvError(f"`{' '.join(command[:4])} …` failed with exit code {run.returncode}{detail}")


def _venv_site_dirs(venv: Path) -> list[str]:
    """purelib and platlib of the venv, relative to its layer folder."""
    code = "import json, sysconfig; p = sysconfig.get_paths(); print(json.dumps([p['purelib'], p['platlib']]))"
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    dirs = []
    for path in json.loads(out.stdout):
        relative = str(Path(path).resolve().relative_to(venv.parent.resolve()))
        if relative not in dirs:
            dirs.append(relative)
    return dirs


def _top_level_modules(dist: importlib.metadata.Distribution) -> list[str]:
    """The import names a distribution provides (from top_level.txt, else from the files it installed)."""
    listed = (dist.read_text("top_level.txt") or "").split()
    if listed:
        return sorted(set(listed))
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".data", ".libs")) or first == ".." or first.startswith("__"):
            continue
        name = first.removesuffix(".py") if len(file.parts) == 1 else first
        if name.isidentifier():
            names.add(name)
    return sorted(names)


def _folder_bytes(folder: Path) -> int:
    return sum(path.lstat().st_size for path in folder.rglob("*") if not path.is_dir())


def _manifest(env: KernelEnv, layer: Path, site_dirs: list[str], seconds: float) -> dict:
    """What the layer holds: each package with its version and import names, and where each listed one comes from."""
    paths = [str(layer / relative) for relative in site_dirs]
    installed: dict[str, str] = {}
    modules: dict[str, list[str]] = {}
    for dist in importlib.metadata.distributions(path=paths):
        name = normalize(dist.metadata["Name"] or "")
        if name and name not in installed:
            installed[name] = dist.version
            modules[name] = _top_level_modules(dist)
    for name in env.names:
        if name not in modules and base_version(name):
            modules[name] = _top_level_modules(importlib.metadata.distribution(name))
    assert env.requirements is not None
    text = env.requirements.read_text(encoding="utf-8")
    listed = {name: {"version": installed.get(name) or base_version(name) or "",
                     "from": "layer" if name in installed else ("grader" if base_version(name) else "missing")}
              for name in env.names}
    return {"key": env.key, "requirements_file": str(env.requirements), "requirements_sha": _digest(text),
            "requirements": text.splitlines(), "python": platform.python_version(),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "build_seconds": round(seconds, 1),
            "size_bytes": _folder_bytes(layer), "site_dirs": site_dirs, "listed": listed,
            "layer": dict(sorted(installed.items())), "modules": dict(sorted(modules.items()))}


def build(course_root: Path | None, log: IO[str] | None = None, force: bool = False) -> KernelEnv:
    """Install the course's list into a fresh layer (unless one is already built for it); returns the result."""
    env = current(course_root)
    if env.requirements is None:
        raise EnvError(f"no {REQUIREMENTS_FILE} in the course folder nor in the grader's checkout: nothing to build")
    if env.layer is not None and not force:
        return env
    _check_pip()
    root = env_root()
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # Built aside and renamed into place: an interrupted build never looks finished.
    scratch = Path(tempfile.mkdtemp(prefix=f".build-{env.key}-", dir=root))
    try:
        venv = scratch / "venv"
        _run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], log, scratch)
        constraints = scratch / "constraints.txt"
        constraints.write_text(_constraints(), encoding="utf-8")
        _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
              "--disable-pip-version-check", "--no-input", "--prefer-binary", "--no-warn-script-location",
              "-r", str(env.requirements), "-c", str(constraints)], log, env.requirements.parent)
        site_dirs = _venv_site_dirs(venv)
        manifest = _manifest(env, scratch, site_dirs, time.monotonic() - started)
        (scratch / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        target = root / env.key
        if target.exists():
            shutil.rmtree(target)
        scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return current(course_root)


# --------------------------------------------------------------------------- status and doctor


def rows(env: KernelEnv) -> list[dict[str, str]]:
    """One row per listed package: its version and where kernels import it from."""
    where = {"layer": "kernel environment", "grader": "grader's environment"}
    table = []
    for name in env.names:
        found = env.version(name)
        table.append({"package": name, "version": found[0] if found else "",
                      "from": where[found[1]] if found else ("missing" if env.layer else "not built")})
    return table


def summary(env: KernelEnv) -> str:
    """One line: which list, built or not, where, how big."""
    if env.requirements is None:
        return f"no {REQUIREMENTS_FILE}: kernels see only the grader's own packages"
    which = "the course's" if env.own_file else "the grader's default list,"
    if env.layer is None:
        why = " (the grader's Python packages changed since it was built)" if env.stale else ""
        return f"kernel environment for {which} {env.requirements}: not built{why}; run `{BUILD_COMMAND}`"
    size = env.manifest.get("size_bytes", 0) / 2**20
    return (f"kernel environment for {which} {env.requirements}: built in {env.layer} "
            f"({len(env.manifest.get('layer', {}))} packages added to the grader's, {size:.0f} MiB, "
            f"built {env.manifest.get('built_at', '?')} in {env.manifest.get('build_seconds', '?')} s)")


_SANDBOX_CHECK = """
import importlib.util, os, site, sys
for folder in os.environ["GRADER_KERNEL_SITE"].split(os.pathsep):
    site.addsitedir(folder)
missing = [name for name in sys.argv[1:] if importlib.util.find_spec(name) is None]
print("missing: " + ", ".join(missing) if missing else "ok")
"""


def sandbox_check(env: KernelEnv) -> tuple[bool, str]:
    """Whether a sandboxed Python finds every listed package's modules (nothing is imported)."""
    from grader import sandbox

    found = sandbox.availability()
    modules = sorted({module for name in env.names for module in env.manifest.get("modules", {}).get(name, [])})
    with tempfile.TemporaryDirectory(prefix="grader-doctor-env-") as scratch:
        workdir = Path(scratch)
        layout = sandbox.Layout(workdir, sandbox.python_paths([SOURCE_ROOT]) + env.site_dirs, [])
        kernel_env = sandbox.kernel_env(dict(os.environ), workdir, kernel_variables(env))
        command = [*sandbox.bwrap_prefix(found.bwrap, layout), sys.executable, "-c", _SANDBOX_CHECK, *modules]
        run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=kernel_env)
    verdict = run.stdout.strip() or run.stderr.strip()[-300:]
    return verdict == "ok", (f"a sandboxed kernel finds every listed package ({len(modules)} modules)"
                             + ("" if verdict == "ok" else f": {verdict}"))


def doctor(course_root: Path | None) -> list[tuple[str, str]]:
    """('ok' | 'warn' | 'FAIL', line) for the kernel environment: built or not, where, what it holds."""
    from grader import sandbox

    env = current(course_root)
    if env.requirements is None:
        return [("warn", summary(env))]
    lines = [("ok" if env.layer else "warn", summary(env))]
    for row in rows(env):
        status = "ok" if row["version"] else "warn"
        lines.append((status, f"  {row['package']} {row['version'] or '—'} ({row['from']})"))
    if env.layer is not None and sandbox.availability().available:
        passed, line = sandbox_check(env)
        lines.append(("ok" if passed else "FAIL", line))
    return lines
