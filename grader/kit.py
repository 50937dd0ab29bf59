"""The student kit: what a TA publishes so students can self-check without the solutions.

A kit folder holds the course's rubrics with every hidden check removed (its entry, id, title, params, points), the
course's kernel package list, a README for students, a wheel of this grader, and kit.json (the course, the grader
version, each rubric's hash and how many hidden checks it withholds). Nothing else from the course is copied: no
reference notebooks, no datasets, no output folder (where the secret behind probe inputs lives).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

import grader
from grader.course import SOURCE_ROOT, Course
from grader.rubric import Rubric, RubricError, parse_rubric

KIT_FILE = "kit.json"
KERNEL_REQUIREMENTS = "requirements-kernel.txt"
# Only these parts of a source checkout go into the wheel's build: never rubrics/, reference/, submissions/, tests/.
WHEEL_SOURCES = ("pyproject.toml", "grader")


@dataclass(frozen=True)
class Withheld:
    """What a kit rubric leaves out, counted and never described."""

    checks: int
    points: float


def public_rubric(raw: dict[str, Any], source: str) -> tuple[dict[str, Any], Withheld]:
    """The rubric's YAML document without its hidden checks; RubricError when a public check's verdict would need one.

    A public check gated by a hidden one cannot get the TA's verdict from a kit that lacks the hidden check, so the
    kit is refused rather than made to disagree with the TA's grading.
    """
    rubric = parse_rubric(raw, source)
    hidden = {check.id for check in rubric.checks if check.visibility == "hidden"}
    problems = [f"{source}: public check {check.id!r} is gated by hidden check(s) "
                f"{', '.join(sorted(set(check.gate) & hidden))}: the kit cannot give its verdict without them; make "
                "them public or drop the gate" for check in rubric.checks
                if check.visibility == "public" and set(check.gate) & hidden]
    if problems:
        raise RubricError(problems)
    if hidden and len(hidden) == len(rubric.checks):
        raise RubricError([f"{source}: every check is hidden: a student kit would have nothing to check"])
    document = dict(raw)
    document["checks"] = [dict(check) for check in raw["checks"] if check.get("visibility", "public") != "hidden"]
    withheld = [check for check in rubric.checks if check.id in hidden]
    return document, Withheld(len(withheld), sum(check.points for check in withheld))


def _summary_line(rubric: Rubric) -> str:
    """The exercise module's one-line summary (its docstring's first line), read without importing it."""
    spec = importlib.util.find_spec(rubric.module_name)
    if spec is None or spec.origin is None:
        return rubric.title
    docstring = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))) or rubric.title
    return docstring.strip().splitlines()[0]


def _exercise_section(rubric: Rubric, withheld: Withheld) -> str:
    public = [check for check in rubric.checks if check.visibility == "public"]
    rows = "\n".join(f"| {check.title} | {check.points:g} |" for check in public)
    hidden = (f"\nThe TA's grading also runs {withheld.checks} hidden check{'s' if withheld.checks != 1 else ''} worth "
              f"{withheld.points:g} point{'s' if withheld.points != 1 else ''} that this kit does not include.\n"
              if withheld.checks else "")
    return (f"### `{rubric.exercise}`: {rubric.title}\n\n{_summary_line(rubric)}\n\n"
            f"Save it as `{rubric.exercise}.ipynb`. Public checks:\n\n| check | points |\n| --- | --- |\n{rows}\n"
            f"{hidden}")


README_TEMPLATE = """# {course}: self-check kit

This folder lets you check your notebooks the way your TA grades them, before you submit. It holds the public part
of each exercise's rubric and the grader itself (`{wheel}`); it holds no solutions.

## Install

Python 3.10 or newer. On a laptop without an NVIDIA GPU, install PyTorch's CPU build first (a plain
`pip install torch` on Linux downloads several GB of CUDA libraries):

```bash
pip install torch=={torch} --index-url https://download.pytorch.org/whl/cpu
pip install {wheel}
```

With an NVIDIA GPU, install the CUDA build PyTorch's site names for your machine, then the grader's wheel.

## Check a notebook

```bash
grader check conv1d.ipynb --course path/to/this/folder
```

(Run it inside this folder and `--course` can be left out.) The notebook runs from scratch in a fresh kernel, on your
GPU when there is one; the table lists the failing checks first, each with the input that broke it, what was expected
and what your code gave, and the line of your code when one failed. The exit code is 0 only when every public check
passes. `--report result.json` writes the same JSON your TA's grading writes, public checks only.

Where bubblewrap is not available (macOS, Windows, Colab, a Linux without it) your notebook runs unsandboxed, with
your own permissions: the terminal says so in one line. It is your own code.

## Check from inside the notebook

```python
from grader import selfcheck
selfcheck("conv1d")            # or selfcheck("conv1d", course="path/to/this/folder")
```

This checks what your kernel holds right now (classes, functions, trained models) without running anything again,
and shows the table in the notebook. The TA's grading re-executes the notebook from scratch, so it can differ where
your notebook depends on cells run out of order or on state you changed by hand.

## Google Colab

Upload this folder (or its zip) to `/content/kit`, then in a cell:

```
!pip install /content/kit/{wheel}
!grader check /content/conv1d.ipynb --course /content/kit
```

The grader uses Colab's GPU when the runtime has one.

## What this kit cannot tell you

Hidden checks exist and count towards your grade: this kit counts them but does not include or describe them.
Inputs are drawn afresh for every run, so a notebook that passes here still meets new inputs when the TA grades it.

## Exercises

{sections}
"""


def student_readme(course_name: str, rubrics: dict[str, Rubric], withheld: dict[str, Withheld], wheel: str) -> str:
    sections = "\n".join(_exercise_section(rubrics[exercise], withheld[exercise]) for exercise in sorted(rubrics))
    return README_TEMPLATE.format(course=course_name, wheel=wheel, sections=sections,
                                  torch=importlib.metadata.version("torch"))


def build_wheel(out_dir: Path, readme: str) -> Path:
    """A wheel of this grader, built from a copy of the checkout's package (its README replaced by the students')."""
    if not (SOURCE_ROOT / "pyproject.toml").is_file():
        raise RubricError([f"cannot build the grader's wheel: {SOURCE_ROOT} is not a source checkout "
                           "(pyproject.toml missing); run `grader kit` from a clone of the grader"])
    with tempfile.TemporaryDirectory(prefix="grader-wheel-") as scratch:
        source = Path(scratch) / "src"
        source.mkdir()
        shutil.copy2(SOURCE_ROOT / "pyproject.toml", source / "pyproject.toml")
        shutil.copytree(SOURCE_ROOT / "grader", source / "grader",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (source / "README.md").write_text(readme, encoding="utf-8")
        wheels = Path(scratch) / "wheels"
        isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
        run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "--quiet",
                              "--wheel-dir", str(wheels), str(source)], capture_output=True, text=True, check=False)
        built = sorted(wheels.glob("grader-*.whl"))
        if run.returncode != 0 or not built:
            detail = (run.stderr or run.stdout).strip().splitlines()
            raise RubricError([f"building the grader's wheel failed: {detail[-1] if detail else 'no output'}"])
        target = out_dir / built[0].name
        shutil.copy2(built[0], target)
    return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_kit(course: Course, out_dir: Path, course_name: str | None = None) -> Path:
    """Write the kit into `out_dir` (which must not exist or be empty) and `out_dir`.zip beside it; returns the zip."""
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise RubricError([f"{out_dir}: not empty; the kit is written into a new folder"])
    if course.root == out_dir or course.root in out_dir.parents:
        raise RubricError([f"{out_dir}: inside the course folder; write the kit elsewhere"])
    name = course_name or course.root.name
    documents, withheld = {}, {}
    for exercise in sorted(course.rubrics):
        path = course.root / "rubrics" / f"{exercise}.yaml"
        documents[exercise], withheld[exercise] = public_rubric(yaml.safe_load(path.read_text(encoding="utf-8")),
                                                                str(path))
    public = {exercise: parse_rubric(document, exercise) for exercise, document in documents.items()}
    (out_dir / "rubrics").mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict[str, Any]] = {}
    for exercise, document in documents.items():
        target = out_dir / "rubrics" / f"{exercise}.yaml"
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=None)
        target.write_text(text, encoding="utf-8")
        entries[exercise] = {"rubric_sha256": _sha256(target), "title": public[exercise].title,
                             "public_checks": len(public[exercise].checks),
                             "public_points": public[exercise].max_score,
                             "hidden_checks": withheld[exercise].checks, "hidden_points": withheld[exercise].points}
    requirements = course.root / KERNEL_REQUIREMENTS
    if requirements.is_file():
        shutil.copy2(requirements, out_dir / KERNEL_REQUIREMENTS)
    wheel_name = f"grader-{grader.__version__}-py3-none-any.whl"
    readme = student_readme(name, public, withheld, wheel_name)
    wheel = build_wheel(out_dir, readme.replace(wheel_name, "grader-*.whl"))
    (out_dir / "README.md").write_text(readme.replace(wheel_name, wheel.name), encoding="utf-8")
    kit = {"course": name, "grader_version": grader.__version__, "wheel": wheel.name,
           "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "exercises": entries}
    (out_dir / KIT_FILE).write_text(json.dumps(kit, indent=2) + "\n", encoding="utf-8")
    return Path(shutil.make_archive(str(out_dir), "zip", root_dir=out_dir.parent, base_dir=out_dir.name))


def withheld_in(course_root: Path, exercise: str) -> Withheld | None:
    """What a kit's rubric for `exercise` withholds (from kit.json); None when the course is not a kit."""
    path = Path(course_root) / KIT_FILE
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))["exercises"][exercise]
        return Withheld(int(entry["hidden_checks"]), float(entry["hidden_points"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def json_summary(kit_dir: Path) -> dict[str, Any]:
    """The kit's kit.json."""
    return json.loads((Path(kit_dir) / KIT_FILE).read_text(encoding="utf-8"))
