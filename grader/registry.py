"""Exercises found as packages under grader.exercises, each declaring one verified Exercise spec."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import replace

from grader.exercise import CheckType, Exercise, ExerciseError, verify

_exercises: dict[str, Exercise] = {}
_checks: dict[str, CheckType] = {}


def load_exercise(package: str) -> Exercise:
    """Import an exercise package and verify its spec (once per process); ExerciseError says what is wrong."""
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


def builtin_packages() -> list[str]:
    """Every package under grader/exercises: adding an exercise adds a folder there, nothing else."""
    import grader.exercises

    return [f"grader.exercises.{info.name}" for info in pkgutil.iter_modules(grader.exercises.__path__) if info.ispkg]


def load_builtin_exercises() -> dict[str, Exercise]:
    """Load every built-in exercise, keyed by id."""
    return {exercise.id: exercise for exercise in map(load_exercise, builtin_packages())}


def has_check(name: str) -> bool:
    return name in _checks


def get_check(name: str) -> CheckType:
    return _checks[name]


def check_names(prefix: str = "") -> list[str]:
    return sorted(name for name in _checks if name.startswith(prefix))
