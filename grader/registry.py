"""Exercises found as packages under grader.exercises, each declaring one verified Exercise spec."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import threading
from dataclasses import replace
from pathlib import Path

from grader.exercise import CheckType, Exercise, ExerciseError, verify

_exercises: dict[str, Exercise] = {}
_checks: dict[str, CheckType] = {}
# The measuring kernel's thread loads the exercise while the grader's main thread may load it too.
_loading = threading.RLock()


def load_exercise(package: str) -> Exercise:
    """Import an exercise package and verify its spec (once per process); ExerciseError says what is wrong."""
    with _loading:
        return _load_exercise(package)


def _load_exercise(package: str) -> Exercise:
    known = _exercises.get(package)
    if known is not None:
        return known
    module = importlib.import_module(package)
    exercise = getattr(module, "EXERCISE", None)
    problems = verify(exercise, package)
    if problems:
        raise ExerciseError(problems)
    assert isinstance(exercise, Exercise)
    exercise = replace(exercise, package=package)
    for name in exercise.checks:
        owner = next((e.package for e in _exercises.values() if name in e.checks), None)
        if owner is not None:
            raise ExerciseError([f"{package}: checks[{name!r}]: already declared by {owner}"])
    _exercises[package] = exercise
    _checks.update(exercise.checks)
    return exercise


def declares_measured_apart(package: str) -> bool:
    """Whether the package's `__init__.py` declares `Exercise(..., measured_apart=True)`, read without importing it
    (the import loads torch): lets the measuring kernel start with the notebook's. Only a hint; the loaded spec
    decides, and a package this cannot read is taken as not measured apart."""
    try:
        spec = importlib.util.find_spec(package)
        origin = spec.origin if spec is not None else None
        tree = ast.parse(Path(origin).read_text(encoding="utf-8")) if origin else None
    except (ImportError, OSError, SyntaxError, ValueError):
        return False
    return tree is not None and any(
        isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Exercise"
        and any(keyword.arg == "measured_apart" and isinstance(keyword.value, ast.Constant)
                and keyword.value.value is True for keyword in node.keywords)
        for node in ast.walk(tree))


def builtin_packages() -> list[str]:
    """Every package under grader/exercises: adding an exercise adds a folder there, nothing else."""
    import grader.exercises

    return [f"grader.exercises.{info.name}" for info in pkgutil.iter_modules(grader.exercises.__path__) if info.ispkg]


def load_builtin_exercises() -> dict[str, Exercise]:
    """Load every built-in exercise, keyed by id."""
    return {exercise.id: exercise for exercise in map(load_exercise, builtin_packages())}


def generic_checks() -> dict[str, CheckType]:
    """Check types any rubric may use, whatever its exercise (`manual`: points a person gives after reading)."""
    from grader import manual

    return {"manual": CheckType(manual.manual, manual.ManualParams)}


def has_check(name: str) -> bool:
    return name in _checks or name in generic_checks()


def get_check(name: str) -> CheckType:
    return _checks.get(name) or generic_checks()[name]


def check_names(prefix: str = "") -> list[str]:
    return sorted(name for name in {**generic_checks(), **_checks} if name.startswith(prefix))
