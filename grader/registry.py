"""Check types registered by name; exercise modules register theirs on import."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from grader.check import Outcome

CheckFunction = Callable[..., "Outcome"]

_checks: dict[str, CheckFunction] = {}


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check type: `@check("conv1d.shapes")` over `def shapes(ctx, **params) -> Outcome`."""

    def register(function: CheckFunction) -> CheckFunction:
        known = _checks.get(name)
        # The same source loaded again (the probe reloads exercise modules from their files) replaces itself.
        if known is not None and known.__code__.co_filename != function.__code__.co_filename:
            raise ValueError(f"check type {name!r} is registered twice")
        _checks[name] = function
        return function

    return register


GENERIC_CHECKS = "grader.manual"  # check types any rubric may use (`manual`)


def load_module(name: str):
    """Import an exercise module (which registers its check types), and the generic check types."""
    importlib.import_module(GENERIC_CHECKS)
    return importlib.import_module(name)


def load_builtin_exercises() -> None:
    """Import every module in grader.exercises."""
    import grader.exercises

    for info in pkgutil.iter_modules(grader.exercises.__path__):
        load_module(f"grader.exercises.{info.name}")


def has_check(name: str) -> bool:
    return name in _checks


def get_check(name: str) -> CheckFunction:
    return _checks[name]


def check_names(prefix: str = "") -> list[str]:
    return sorted(name for name in _checks if name.startswith(prefix))
