"""Probe stage, grader side: choose the probe's inputs, build the probe cell, read back what it measured.

Only plain JSON (size-capped, schema-checked) and safetensors files cross from the work dir into the grader. The work
dir is the notebook's: every file there is opened relative to a folder descriptor, without following links, and
written only if it did not exist, so a link the notebook planted is refused, never followed.
"""

from __future__ import annotations

import ast
import errno
import importlib.util
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import BaseModel, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load, save

import grader
from grader import portable
from grader.exercise import KERNEL_PACKAGE
from grader.kernel.runtime import INPUTS_FILE, PLAN_FILE, TENSORS_FILE, VALUES_FILE

if TYPE_CHECKING:
    from grader.exercise import Exercise

VALUES_CAP_BYTES = 4 * 2**20
TENSORS_CAP_BYTES = 512 * 2**20


@dataclass
class ProbePlan:
    """What the grader sends into the kernel: a JSON spec and input tensors, chosen at grade time."""

    spec: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class ProbeData:
    """What came back: values validated by the exercise's schema, per-step errors, output tensors."""

    values: Any
    errors: dict[str, str]
    tensors: dict[str, torch.Tensor]


class ParamInfo(BaseModel):
    """One parameter as the probe saw it (grader.kernel.runtime.param_infos), with the fate of its gradient."""

    name: str
    shape: list[int]
    trainable: bool
    grad: Literal["none", "zero", "nonfinite", "ok", "not_measured"] = "not_measured"


class ProbeUnreadable(Exception):
    """The probe's output is missing, too large or malformed; the message is one sentence for the report."""


def make_plan(exercise: Exercise, params: dict[str, Any], seed: int, quick: bool) -> ProbePlan:
    """Ask the exercise for the probe's inputs, given the rubric's `probe:` section (validated by the rubric's
    loader against the exercise's plan_params)."""
    return exercise.plan(exercise.plan_params.model_validate(params), torch.Generator().manual_seed(seed), quick)


FILE_READ = os.O_RDONLY | portable.NONBLOCK | portable.NOCTTY
FILE_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL
TAMPERED = (errno.EEXIST, errno.ELOOP, errno.ENOTDIR, errno.ENOENT)


def _write_new(folder: portable.Folder, name: str, content: bytes) -> None:
    descriptor = portable.open_in(folder, name, FILE_CREATE)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


def write_plan(plan: ProbePlan, workdir: Path) -> Path:
    """Write the plan into a new directory whose name the notebook could not have known.

    A notebook that raced the grader (replaced the folder with a link, planted a file in it) gets ProbeUnreadable;
    any other OSError (a full disk) is the grader's own.
    """
    directory = workdir / f".grader-probe-{secrets.token_hex(8)}"
    try:
        directory.mkdir()
        folder = portable.open_folder(directory)
    except OSError as error:
        if error.errno in TAMPERED:
            raise ProbeUnreadable("the grader could not create the probe's folder: the notebook changed it") from None
        raise
    try:
        _write_new(folder, PLAN_FILE, json.dumps(plan.spec).encode())
        _write_new(folder, INPUTS_FILE, save({name: tensor.contiguous() for name, tensor in plan.inputs.items()}))
    except OSError as error:
        if error.errno in TAMPERED:
            raise ProbeUnreadable("the grader could not write the probe's inputs: the notebook planted a file or "
                                  "link in their folder") from None
        raise
    finally:
        portable.close_folder(folder)
    return directory


def _module_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ImportError(f"no module {name!r} to probe with")
    return Path(spec.origin)


def _kernel_imports(path: Path) -> set[str]:
    """The kernel-package modules a kernel-side file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith(KERNEL_PACKAGE + ".")}


def kernel_modules() -> list[tuple[str, Path]]:
    """Every module of the kernel package, each after the kernel modules it imports: the order they load in."""
    package = _module_file(KERNEL_PACKAGE)
    files = {KERNEL_PACKAGE: package} | {f"{KERNEL_PACKAGE}.{path.stem}": path
                                         for path in sorted(package.parent.glob("*.py")) if path.name != "__init__.py"}
    ordered: list[tuple[str, Path]] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise ImportError(f"the kernel package imports itself in a circle: {' -> '.join(chain + (name,))}")
        if any(done == name for done, _ in ordered):
            return
        for needed in sorted(_kernel_imports(files[name]) & files.keys()):
            visit(needed, chain + (name,))
        ordered.append((name, files[name]))

    for name in files:
        visit(name, ())
    return ordered


def cell_source(exercise: Exercise, directory: Path, stream: bool = False) -> str:
    """The probe cell: run the exercise's kernel-side probe over the student's namespace.

    Every `grader` module is dropped from the kernel's sys.modules and the package is loaded afresh from its own
    folder (so `grader.*` imports resolve there, never to a `grader/` the notebook wrote on sys.path); then every
    module of the kernel package and the exercise's kernel module, afresh from their files: nothing the notebook
    patched or replaced is used. `stream`: values leave as IOPub messages as they are measured (the measuring
    kernel), else as files.
    """
    package = Path(grader.__file__).resolve()
    loads = [(name, str(path)) for name, path in kernel_modules()]
    loads.append((exercise.kernel, str(_module_file(exercise.kernel))))
    return (
        "def _grader_probe(namespace):\n"
        "    import importlib.util, sys\n"
        "    for name in [name for name in sys.modules if name == 'grader' or name.startswith('grader.')]:\n"
        "        del sys.modules[name]\n"
        f"    spec = importlib.util.spec_from_file_location('grader', {str(package)!r},\n"
        f"                                                  submodule_search_locations=[{str(package.parent)!r}])\n"
        "    sys.modules['grader'] = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(sys.modules['grader'])\n"
        "    for name, path in " + repr(loads) + ":\n"
        "        spec = importlib.util.spec_from_file_location(name, path)\n"
        "        module = importlib.util.module_from_spec(spec)\n"
        "        sys.modules[name] = module\n"
        "        spec.loader.exec_module(module)\n"
        f"    sys.modules['{KERNEL_PACKAGE}.runtime'].run({exercise.kernel!r}, {exercise.probe!r}, "
        f"{str(directory)!r}, namespace, {stream!r})\n"
        "_grader_probe(globals())\n"
        "del _grader_probe\n"
    )


def _read_capped(path: Path, cap: int) -> bytes:
    """A regular file's bytes, at most `cap`, opened without following a link (in its folder or as itself)."""
    try:
        folder = portable.open_folder(path.parent)
    except OSError:
        raise ProbeUnreadable(f"the probe wrote no {path.name} (its folder is gone or was replaced)") from None
    try:
        descriptor = portable.open_in(folder, path.name, FILE_READ)
    except OSError:
        raise ProbeUnreadable(f"the probe wrote no {path.name}") from None
    finally:
        portable.close_folder(folder)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ProbeUnreadable(f"the probe's {path.name} is not a regular file")
        content = handle.read(cap + 1)
    if len(content) > cap:
        raise ProbeUnreadable(f"the probe's {path.name} is over the {cap / 2**20:.0f} MiB limit")
    return content


def read(exercise: Exercise, directory: Path) -> ProbeData:
    """Load and validate what the probe wrote; raise ProbeUnreadable with one sentence when it cannot be used."""
    try:
        document = json.loads(_read_capped(directory / VALUES_FILE, VALUES_CAP_BYTES))
    except (ValueError, UnicodeDecodeError) as error:
        raise ProbeUnreadable(f"the probe's {VALUES_FILE} is not valid JSON ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("errors", {}), dict):
        raise ProbeUnreadable(f"the probe's {VALUES_FILE} does not have the expected structure")
    content = _read_capped(directory / TENSORS_FILE, TENSORS_CAP_BYTES)
    try:
        tensors = load(content)
    except (SafetensorError, OSError) as error:
        raise ProbeUnreadable(f"the probe's tensors could not be read ({error})") from None
    return validated(exercise, document.get("values", {}), document.get("errors", {}), tensors)


def validated(exercise: Exercise, values: Any, errors: dict, tensors: dict[str, torch.Tensor]) -> ProbeData:
    """The probe's values checked against the exercise's schema (ProbeUnreadable with the first failure)."""
    try:
        values = exercise.schema.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProbeUnreadable(f"the probe's values failed the schema at {where}: {first['msg']}") from None
    errors = {str(key): str(message)[:1000] for key, message in errors.items()}
    return ProbeData(values=values, errors=errors, tensors=tensors)
