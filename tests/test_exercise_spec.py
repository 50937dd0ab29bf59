"""The Exercise spec: every shipped package passes its verification; each rule refuses a broken spec with one line."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from pydantic import BaseModel

from grader import probe, registry
from grader.exercise import CheckParams, CheckType, Exercise, Params, kernel_side_problems, verify
from grader.sources import PACKAGE

PACKAGE_NAME = "spec_fixture"
KERNEL = '''
import torch

from grader.kernel.runtime import class_status


def probe(namespace, plan, inputs, rec):
    rec.put("status", class_status(namespace, "Thing")[0])
'''


class Values(BaseModel):
    status: str = "missing"


class Plan(Params):
    size: int = 3


class Limits(CheckParams):
    limit: float


def make_plan(params, generator, quick):
    return probe.ProbePlan(spec=params.model_dump())


def plain(ctx):
    """A check without parameters."""


def limited(ctx, limit: float):
    """A check with one parameter."""


@pytest.fixture()
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An exercise package on sys.path, outside the grader: spec_fixture/{__init__,kernel}.py."""
    folder = tmp_path / PACKAGE_NAME
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "kernel.py").write_text(KERNEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield folder
    for name in [n for n in sys.modules if n.startswith(PACKAGE_NAME)]:
        del sys.modules[name]


def spec(**changes) -> Exercise:
    good = Exercise(id=PACKAGE_NAME, title="A fixture", kernel=f"{PACKAGE_NAME}.kernel", plan=make_plan,
                    plan_params=Plan, schema=Values,
                    checks={f"{PACKAGE_NAME}.plain": CheckType(plain),
                            f"{PACKAGE_NAME}.limited": CheckType(limited, Limits)})
    return replace(good, **changes)


def test_every_shipped_exercise_is_discovered_and_verified():
    exercises = registry.load_builtin_exercises()
    assert {"conv1d", "gru", "rnn_lm", "imdb", "indobert"} <= set(exercises)
    for exercise in exercises.values():
        assert exercise.package == f"grader.exercises.{exercise.id}"
        assert verify(exercise, exercise.package) == []


def test_a_correct_spec_has_no_problems(package: Path):
    assert verify(spec(), PACKAGE_NAME) == []


def test_the_spec_must_be_an_exercise():
    assert verify({"id": "x"}, "grader.exercises.x") == ["grader.exercises.x: EXERCISE: expected an Exercise, got dict"]


def test_id_must_match_the_package(package: Path):
    assert verify(spec(id="other"), PACKAGE_NAME)[0] == (
        f"{PACKAGE_NAME}: id: 'other' does not match the package name '{PACKAGE_NAME}'")


def test_missing_kernel_module(package: Path):
    assert verify(spec(kernel=f"{PACKAGE_NAME}.no_kernel"), PACKAGE_NAME) == [
        f"{PACKAGE_NAME}: kernel: no module '{PACKAGE_NAME}.no_kernel'"]


def test_kernel_without_the_probe_function(package: Path):
    assert verify(spec(probe="measure"), PACKAGE_NAME) == [
        f"{PACKAGE_NAME}: probe: {PACKAGE_NAME}.kernel defines no function 'measure'"]


def test_kernel_importing_the_grader_side_is_refused(package: Path):
    (package / "kernel.py").write_text(KERNEL + "\nfrom grader.check import Outcome\n\n\ndef later():\n"
                                                "    import grader.probe\n")
    lines = verify(spec(), PACKAGE_NAME)
    assert len(lines) == 2
    assert lines[0].endswith("kernel.py: line 10: kernel-side code imports 'grader.check' (only grader.kernel.* may "
                             "be imported there)")
    assert "line 14: kernel-side code imports 'grader.probe'" in lines[1]


def test_the_shipped_kernel_side_imports_only_the_kernel_package():
    files = sorted((PACKAGE / "kernel").glob("*.py")) + sorted((PACKAGE / "exercises").glob("*/kernel.py"))
    assert len(files) >= 7
    assert [line for path in files for line in kernel_side_problems(path)] == []


def test_plan_schema_and_plan_params_must_have_the_right_kinds(package: Path):
    lines = verify(spec(plan="make_plan", plan_params=dict, schema=Values()), PACKAGE_NAME)
    assert lines == [f"{PACKAGE_NAME}: plan: not callable",
                     f"{PACKAGE_NAME}: plan_params: expected a Params subclass, got <class 'dict'>",
                     f"{PACKAGE_NAME}: schema: expected a pydantic BaseModel subclass, got Values(status='missing')"]


def test_check_types_are_named_after_the_exercise(package: Path):
    lines = verify(spec(checks={"other.plain": CheckType(plain)}), PACKAGE_NAME)
    assert lines == [f"{PACKAGE_NAME}: checks['other.plain']: a check type's name starts with the exercise id "
                     f"({PACKAGE_NAME}.)"]


def test_check_params_model_must_match_the_function(package: Path):
    lines = verify(spec(checks={f"{PACKAGE_NAME}.limited": CheckType(limited)}), PACKAGE_NAME)
    assert lines == [f"{PACKAGE_NAME}: checks['{PACKAGE_NAME}.limited']: limited takes (limit) but its params model "
                     "CheckParams declares (nothing)"]
    lines = verify(spec(checks={f"{PACKAGE_NAME}.plain": CheckType(plain, Plan)}), PACKAGE_NAME)
    assert lines == [f"{PACKAGE_NAME}: checks['{PACKAGE_NAME}.plain'].params: expected a CheckParams subclass, got "
                     f"{Plan!r}"]


def test_no_check_types_at_all(package: Path):
    assert verify(spec(checks={}), PACKAGE_NAME) == [f"{PACKAGE_NAME}: checks: no check types declared"]


def test_datasets_must_exist(package: Path):
    [line] = verify(spec(datasets=("imdb", "mnist")), PACKAGE_NAME)
    assert line.startswith(f"{PACKAGE_NAME}: datasets: unknown dataset 'mnist' (known: ")


def test_params_models_are_strict():
    assert Limits.model_validate({"limit": 1}).limit == 1.0
    for wrong in ({"limit": "1"}, {"limit": 1, "extra": 2}, {}):
        with pytest.raises(ValueError):
            Limits.model_validate(wrong)


# --------------------------------------------------------------------------- the probe cell loads the kernel package


def test_probe_cell_loads_every_kernel_module_in_import_order():
    loaded = [name for name, _ in probe.kernel_modules()]
    files = {f"grader.kernel.{path.stem}" for path in (PACKAGE / "kernel").glob("*.py") if path.stem != "__init__"}
    assert set(loaded) == files | {"grader.kernel"}
    assert loaded.index("grader.kernel.runtime") < loaded.index("grader.kernel.recurrent")


def test_probe_cell_runs_from_files_not_from_sys_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Modules the notebook replaced in sys.modules are loaded again from the grader's files by the probe cell."""
    exercise = registry.load_exercise("grader.exercises.conv1d")
    plan = probe.make_plan(exercise, {"constructor_args": [[1, 1, 1]], "configs": [[1, 1, 1, 1, 3]]}, 1, quick=True)
    cell = probe.cell_source(exercise, probe.write_plan(plan, tmp_path))
    directory = next(tmp_path.glob(".grader-probe-*"))
    forged = SimpleNamespace(run=lambda *args: None, probe=lambda *args: None)
    for name in ("grader.kernel", "grader.kernel.runtime", "grader.kernel.recurrent", exercise.kernel):
        monkeypatch.setitem(sys.modules, name, forged)
    exec(compile(cell, "<probe cell>", "exec"), {"Conv1D": torch.nn.Conv1d})
    data = probe.read(exercise, directory)
    assert data.values.class_status == "ok" and data.values.configs[0].output_shape == [1, 1, 3]
