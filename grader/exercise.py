"""The Exercise spec an exercise package declares, and its verification when the package loads.

An exercise is a package `grader/exercises/<id>/`: `kernel.py` runs beside the student's code (the probe),
`plan.py` chooses the probe's inputs at grade time, `schema.py` holds the pydantic models of what crosses back,
`checks.py` judges it in the grader's process, and `__init__.py` declares `EXERCISE = Exercise(...)`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from grader.check import Outcome

KERNEL_PACKAGE = "grader.kernel"


class ExerciseError(Exception):
    """An exercise package whose spec cannot be used; one line per problem."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


class Params(BaseModel):
    """Parameters a rubric gives a check or the plan: an unknown key or a value of the wrong type is an error."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CheckParams(Params):
    """A check type's parameters (a check type without parameters uses this model as it is)."""


@dataclass(frozen=True)
class CheckType:
    """One check type: the grader-side function `function(ctx, **params) -> Outcome` and its params model."""

    function: Callable[..., "Outcome"]
    params: type[CheckParams] = CheckParams


@dataclass(frozen=True)
class Exercise:
    """What the core needs to know about an exercise; verified by `verify` when the package loads."""

    id: str
    title: str
    kernel: str                     # module run beside the student's code, loaded afresh from its file
    plan: Callable[..., Any]        # make_plan(params, generator, quick) -> ProbePlan, in the grader's process
    plan_params: type[Params]       # validates the rubric's `probe:` section; make_plan receives an instance
    schema: type[BaseModel]         # validates the probe's JSON values
    checks: dict[str, CheckType]
    probe: str = "probe"            # function in `kernel` the probe cell calls
    datasets: tuple[str, ...] = ()  # datasets (grader.datasets) the checks read: the rubric must stage them
    package: str = field(default="", compare=False)  # filled in by the registry: where this spec was found

    @property
    def source_dir(self) -> Path:
        """The exercise package's folder."""
        spec = importlib.util.find_spec(self.package)
        assert spec is not None and spec.submodule_search_locations
        return Path(next(iter(spec.submodule_search_locations)))


def grader_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a grader module in a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found.extend((node.lineno, name) for name in names if name == "grader" or name.startswith("grader."))
    return found


def kernel_side_problems(path: Path) -> list[str]:
    """Kernel-side code may import only the kernel package: the rest of the grader never enters the kernel."""
    return [f"{path}: line {line}: kernel-side code imports {module!r} (only {KERNEL_PACKAGE}.* may be imported "
            f"there)" for line, module in grader_imports(path)
            if module != KERNEL_PACKAGE and not module.startswith(KERNEL_PACKAGE + ".")]


def _kernel_problems(exercise: Exercise, where: str) -> list[str]:
    try:
        spec = importlib.util.find_spec(exercise.kernel)
    except ImportError:
        spec = None
    if spec is None or spec.origin is None:
        return [f"{where}: kernel: no module {exercise.kernel!r}"]
    lines = kernel_side_problems(Path(spec.origin))
    try:
        module = importlib.import_module(exercise.kernel)
    except Exception as error:  # noqa: BLE001 - any import failure is a broken spec, reported as one line
        return lines + [f"{where}: kernel: cannot import {exercise.kernel!r} ({type(error).__name__}: {error})"]
    if not callable(getattr(module, exercise.probe, None)):
        lines.append(f"{where}: probe: {exercise.kernel} defines no function {exercise.probe!r}")
    return lines


def _keyword_names(function: Callable[..., Any]) -> list[str] | None:
    """The parameters after the context argument, or None when the function does not take one."""
    parameters = list(inspect.signature(function).parameters.values())
    if not parameters:
        return None
    return [p.name for p in parameters[1:]]


def _check_problems(exercise: Exercise, where: str) -> list[str]:
    lines = []
    for name, check_type in exercise.checks.items():
        key = f"{where}: checks[{name!r}]"
        if not name.startswith(f"{exercise.id}."):
            lines.append(f"{key}: a check type's name starts with the exercise id ({exercise.id}.)")
        if not isinstance(check_type, CheckType):
            lines.append(f"{key}: expected a CheckType, got {type(check_type).__name__}")
            continue
        if not callable(check_type.function):
            lines.append(f"{key}.function: not callable")
            continue
        if not (isinstance(check_type.params, type) and issubclass(check_type.params, CheckParams)):
            lines.append(f"{key}.params: expected a CheckParams subclass, got {check_type.params!r}")
            continue
        names = _keyword_names(check_type.function)
        fields = list(check_type.params.model_fields)
        if names is None:
            lines.append(f"{key}.function: {check_type.function.__name__} takes no context argument")
        elif sorted(names) != sorted(fields):
            lines.append(f"{key}: {check_type.function.__name__} takes ({', '.join(names) or 'nothing'}) but its "
                         f"params model {check_type.params.__name__} declares ({', '.join(fields) or 'nothing'})")
    return lines


def verify(exercise: Any, package: str) -> list[str]:
    """Every problem with a package's declared spec, one line each; empty when it can be used."""
    where = package
    if not isinstance(exercise, Exercise):
        return [f"{where}: EXERCISE: expected an Exercise, got {type(exercise).__name__}"]
    lines = []
    if exercise.id != package.rpartition(".")[2]:
        lines.append(f"{where}: id: {exercise.id!r} does not match the package name {package.rpartition('.')[2]!r}")
    lines += _kernel_problems(exercise, where)
    if not callable(exercise.plan):
        lines.append(f"{where}: plan: not callable")
    if not (isinstance(exercise.plan_params, type) and issubclass(exercise.plan_params, Params)):
        lines.append(f"{where}: plan_params: expected a Params subclass, got {exercise.plan_params!r}")
    if not (isinstance(exercise.schema, type) and issubclass(exercise.schema, BaseModel)):
        lines.append(f"{where}: schema: expected a pydantic BaseModel subclass, got {exercise.schema!r}")
    if not exercise.checks:
        lines.append(f"{where}: checks: no check types declared")
    lines += _check_problems(exercise, where)
    lines += _dataset_problems(exercise, where)
    return lines


def _dataset_problems(exercise: Exercise, where: str) -> list[str]:
    from grader import data

    known = data.load_builtin_datasets()
    return [f"{where}: datasets: unknown dataset {name!r} (known: {', '.join(sorted(known))})"
            for name in exercise.datasets if name not in known]
