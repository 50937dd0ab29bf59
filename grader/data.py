"""Datasets and models that notebooks read offline: a registry, a cache, and read-only staging into work dirs.

A dataset module in grader/datasets/ registers a `Dataset` with `fetch` (download into the cache, with
checksums) and `synth` (build the small quick-mode stand-in locally, no network). Both write under
`cache_dir()/<name>/full` and `cache_dir()/<name>/quick`; a rubric lists the datasets its notebooks need.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


class DataMissing(Exception):
    """A dataset a rubric needs is not in the cache; the message says the command that stages it."""


@dataclass(frozen=True)
class Dataset:
    """How to obtain one dataset and what a kernel needs to see it.

    `fetch(target)` and `synth(target)` fill an empty folder; `workdir_name` is where it appears as
    `data/<workdir_name>` in every work dir; `staged_subdir`, when set, stages only that subfolder of the
    variant (the rest, e.g. held-back test items, stays with the grader); `kernel_env(staged)` gives extra
    environment variables for the kernel (e.g. HF_HOME) given the staged path inside the work dir.
    `synth_version` names the stand-in's recipe: a cached stand-in built by another recipe is rebuilt.
    """

    name: str
    description: str
    fetch: Callable[[Path], None]
    synth: Callable[[Path], None]
    workdir_name: str = ""
    staged_subdir: str = ""
    kernel_env: Callable[[Path], dict[str, str]] = field(default=lambda staged: {})
    synth_version: str = ""

    @property
    def staged_name(self) -> str:
        return self.workdir_name or self.name


_datasets: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    _datasets[dataset.name] = dataset
    return dataset


def load_builtin_datasets() -> dict[str, Dataset]:
    """Import every module in grader.datasets and return the registry."""
    import grader.datasets

    for info in pkgutil.iter_modules(grader.datasets.__path__):
        importlib.import_module(f"grader.datasets.{info.name}")
    return dict(_datasets)


def get(name: str) -> Dataset:
    known = load_builtin_datasets()
    if name not in known:
        raise DataMissing(f"unknown dataset {name!r} (known: {', '.join(sorted(known)) or 'none'})")
    return known[name]


def cache_dir() -> Path:
    """$GRADER_CACHE, else ~/.cache/grader."""
    return Path(os.environ.get("GRADER_CACHE") or Path.home() / ".cache" / "grader")


def variant(quick: bool) -> str:
    return "quick" if quick else "full"


def location(name: str, quick: bool) -> Path:
    """Where a dataset's variant lives in the cache, whether or not it is there yet."""
    return cache_dir() / name / variant(quick)


def require(name: str, quick: bool) -> Path:
    """The cached folder of a dataset, or DataMissing naming the command that provides it."""
    folder = location(name, quick)
    if not (folder / ".complete").is_file():
        command = f"grader data synth {name}" if quick else f"grader data fetch {name}"
        raise DataMissing(f"the {variant(quick)} {name} data is not staged in {folder.parent}: run `{command}`")
    return folder


def build(name: str, quick: bool) -> Path:
    """Fetch (full) or synthesise (quick) a dataset into the cache; a finished build is marked complete."""
    dataset = get(name)
    folder = location(name, quick)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".complete").unlink(missing_ok=True)
    (dataset.synth if quick else dataset.fetch)(folder)
    (folder / ".complete").write_text(_completion_mark(dataset, quick))
    return folder


def _completion_mark(dataset: Dataset, quick: bool) -> str:
    """What `.complete` holds: 'ok', plus the stand-in's recipe for a quick variant that names one."""
    return f"ok {dataset.synth_version}\n" if quick and dataset.synth_version else "ok\n"


def _built_by_current_recipe(name: str, quick: bool) -> bool:
    mark = location(name, quick) / ".complete"
    return mark.is_file() and mark.read_text() == _completion_mark(get(name), quick)


def prepare(names: set[str], quick: bool) -> list[str]:
    """Before grading: build missing quick-mode stand-ins (local, cheap); full data must already be fetched.

    Returns one sentence per dataset still missing; notebooks that need it are then graded as errors naming the
    command that stages it, and the rest of the class is graded as usual.
    """
    missing = []
    for name in sorted(names):
        if quick and not _built_by_current_recipe(name, quick):
            build(name, quick)
        try:
            require(name, quick)
        except DataMissing as problem:
            missing.append(str(problem))
    return missing


def stage_into(workdir: Path, names: list[str], quick: bool) -> dict[str, str]:
    """Symlink each dataset read-only as data/<name> in the work dir; return the kernel's extra environment."""
    env: dict[str, str] = {}
    if not names:
        return env
    data_dir = workdir / "data"
    data_dir.mkdir(exist_ok=True)
    for name in names:
        dataset = get(name)
        staged = data_dir / dataset.staged_name
        staged.symlink_to(require(name, quick) / dataset.staged_subdir, target_is_directory=True)
        env.update(dataset.kernel_env(staged))
    return env


def sha256_of(path: Path, chunk: int = 2**20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


DIGEST = re.compile(r"^[0-9a-f]{32}$|^[0-9a-f]{40}$|^[0-9a-f]{64}$")


def _digests(node: object, key: str = "") -> list[str]:
    """'md5 7c2ac02c…'-style entries for every checksum a MANIFEST.json records, wherever it nests them."""
    if isinstance(node, dict):
        return [entry for child_key, child in node.items() for entry in _digests(child, str(child_key))]
    if isinstance(node, str) and DIGEST.match(node):
        return [f"{key} {node[:12]}…"]
    return []


def checksums(folder: Path) -> str:
    """The checksums verified when the folder was staged, as recorded in its MANIFEST.json."""
    try:
        manifest = json.loads((folder / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return ""
    found = _digests(manifest)
    return "; ".join(found[:3]) + (f"; +{len(found) - 3} more" if len(found) > 3 else "")


def status() -> list[dict[str, str]]:
    """One row per (dataset, variant): staged or not, size on disk, the checksums verified when it was staged."""
    rows = []
    for name, dataset in sorted(load_builtin_datasets().items()):
        for quick in (False, True):
            folder = location(name, quick)
            complete = (folder / ".complete").is_file()
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if complete else 0
            rows.append({"dataset": name, "variant": variant(quick), "staged": "yes" if complete else "no",
                         "size_mb": f"{size / 2**20:.1f}" if complete else "", "path": str(folder),
                         "checksums": checksums(folder) if complete else "", "description": dataset.description})
    return rows
