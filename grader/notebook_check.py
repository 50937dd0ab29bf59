"""`selfcheck("conv1d")` inside a running Jupyter or Colab kernel: the public checks on what the kernel holds now.

Nothing is executed again: the exercise's probe runs on the kernel's current namespace (classes, functions, trained
models), then the public checks run in this same process — the student checks their own code, so no kernel of its
own is needed. The TA's grading still re-executes the notebook from scratch in a sandbox.

The notebook's text (for the static checks) and its outputs (for checks that read printed figures) come from, in
order: the `notebook=` path, the file Jupyter says this kernel belongs to ($JPY_SESSION_NAME), Colab's copy of the
open notebook, else the kernel's input history (its cells' text, without outputs).
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import secrets
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

import grader
from grader import kit, student_view
from grader.course import SOURCE_ROOT
from grader.kernel_env import GRADING_VARIABLE
from grader.results import CellRecord, Environment, ExecutionRecord, GradeResult
from grader.rubric import Rubric, RubricError, load_rubric

KIT_FOLDERS = ("kit", "/content/kit")


class SelfCheckProblem(Exception):
    """selfcheck cannot run here; the message is one sentence for the student."""


def find_course(explicit: str | Path | None) -> Path:
    """`course=`, else $GRADER_COURSE, else here or a kit/ folder here (or Colab's /content/kit), else the grader's
    checkout."""
    candidates = [explicit] if explicit else [os.environ.get("GRADER_COURSE"), Path.cwd(), *KIT_FOLDERS, SOURCE_ROOT]
    for candidate in candidates:
        if candidate and (Path(candidate) / "rubrics").is_dir():
            return Path(candidate).resolve()
    where = str(explicit) if explicit else "here, in kit/ or in $GRADER_COURSE"
    raise SelfCheckProblem(f"no rubrics/ folder {'in ' if explicit else ''}{where}: pass course='path/to/the/kit'")


def _rubric(course: Path, exercise: str) -> Rubric:
    path = course / "rubrics" / f"{exercise}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (course / "rubrics").glob("*.yaml"))
        raise SelfCheckProblem(f"no exercise {exercise!r} in {course} (known: {', '.join(known)})")
    try:
        return load_rubric(path)
    except RubricError as error:
        raise SelfCheckProblem(error.lines[0]) from None


def _colab_notebook() -> dict[str, Any] | None:
    try:
        from google.colab import _message  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=10)
    except Exception:  # noqa: BLE001 - any failure of Colab's channel means: no copy from Colab
        return None
    return reply.get("ipynb") if isinstance(reply, dict) else None


def _history_notebook(namespace: dict[str, Any]) -> nbformat.NotebookNode:
    """The cells this kernel ran, in order, from IPython's input history (no outputs)."""
    sources = [source for source in namespace.get("In", [])[1:] if isinstance(source, str) and source.strip()]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])


def current_notebook(namespace: dict[str, Any], notebook: str | Path | None) -> tuple[nbformat.NotebookNode, str]:
    """The notebook the checks read, and where it came from (one phrase)."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    for path in (notebook, session if session.endswith(".ipynb") else None):
        if path and Path(path).is_file():
            return nbformat.read(str(path), as_version=4), f"the saved file {path}"
    colab = _colab_notebook()
    if colab is not None:
        return nbformat.reads(json.dumps(colab), as_version=4), "Colab's copy of this notebook"
    return _history_notebook(namespace), "this kernel's input history (no printed output)"


def execution_of(notebook: nbformat.NotebookNode) -> ExecutionRecord:
    """What the notebook's saved outputs say about each code cell, as a grading run records it."""
    from grader.execute.client import cell_record

    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    records: list[CellRecord] = [cell_record(number, cell, 0.0) for number, cell in enumerate(code_cells, start=1)]
    return ExecutionRecord(status="completed", cells=records, isolation="selfcheck: the student's own kernel")


def _caller_namespace() -> dict[str, Any]:
    """The interactive namespace: IPython's user namespace, else the globals of whoever called selfcheck."""
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None  # noqa: N806
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None:
        return shell.user_ns
    # [0] this function, [1] notebook_check.selfcheck, [2] grader.selfcheck, [3] the caller.
    return inspect.stack()[3].frame.f_globals


def _quick_unless_fetched(rubric: Rubric) -> bool:
    """Quick mode, as `grader check` by default; full mode when the rubric names datasets and every one is fetched
    (`grader data fetch`): a model trained on the real data is then measured on real held-out reviews."""
    from grader import data

    names = set(rubric.data)
    if names and not data.prepare(names, quick=False):
        return False
    missing = data.prepare(names, quick=True)
    if missing:
        raise SelfCheckProblem(missing[0])
    return True


def _probe_here(rubric: Rubric, exercise: Any, namespace: dict[str, Any], quick: bool) -> tuple[Any, Any, str]:
    """Run the exercise's kernel side (its probe) on `namespace` in this process; (plan, data or None, problem)."""
    import torch

    from grader import probe
    from grader.kernel import runtime

    plan = probe.make_plan(exercise, rubric.probe, secrets.randbits(62), quick)
    scratch = Path(tempfile.mkdtemp(prefix="grader-selfcheck-"))
    try:
        folder = probe.write_plan(plan, scratch)
        state = torch.random.get_rng_state()
        try:
            runtime.run(exercise.kernel, exercise.probe, str(folder), namespace)
        finally:
            torch.random.set_rng_state(state)  # the student's own random stream goes on as before
        try:
            return plan, probe.read(exercise, folder), ""
        except probe.ProbeUnreadable as unreadable:
            return plan, None, str(unreadable)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_namespace(exercise: str, namespace: dict[str, Any], course: str | Path | None = None,
                    notebook: str | Path | None = None) -> tuple[GradeResult, kit.Withheld, str]:
    """Probe `namespace` and run the course's public checks; (result, hidden checks withheld, notebook source)."""
    import torch

    from grader import registry
    from grader.check import CheckContext, run_checks
    from grader.score import score

    root = find_course(course)
    full = _rubric(root, exercise)
    rubric = full.model_copy(update={"checks": [c for c in full.checks if c.visibility == "public"]})
    quick = _quick_unless_fetched(rubric)
    exercise_spec = registry.load_exercise(rubric.module_name)
    text, source = current_notebook(namespace, notebook)
    plan, measured, problem = _probe_here(rubric, exercise_spec, namespace, quick)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    context = CheckContext(rubric=rubric, spec=rubric.checks[0], plan=plan, probe=measured, probe_problem=problem,
                           execution=execution_of(text), notebook=text, quick=quick, device=device)
    checks, earned = score(rubric, run_checks(context))
    result = GradeResult(student="you", exercise=exercise, title=full.title, status="graded", score=earned,
                         max_score=rubric.max_score, checks=checks, execution=context.execution,
                         graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         environment=Environment(python=platform.python_version(),
                                                 torch=torch.__version__, device=device,
                                                 grader_version=grader.__version__, quick=quick))
    hidden = [c for c in full.checks if c.visibility == "hidden"]
    kit_withheld = kit.withheld_in(root, exercise) or kit.Withheld(0, 0.0)
    withheld = kit.Withheld(len(hidden) + kit_withheld.checks,
                                     sum(c.points for c in hidden) + kit_withheld.points)
    return result, withheld, source


def selfcheck(exercise: str, course: str | Path | None = None,
              notebook: str | Path | None = None) -> GradeResult | None:
    """Check what this kernel defines now against the exercise's public checks and show the table."""
    if os.environ.get(GRADING_VARIABLE):
        print(f"selfcheck({exercise!r}) skipped: this notebook is being graded.")
        return None
    try:
        result, withheld, source = check_namespace(exercise, _caller_namespace(), course, notebook)
    except SelfCheckProblem as problem:
        print(f"selfcheck({exercise!r}): {problem}")
        return None
    note = f"{student_view.REEXECUTION_NOTE} The notebook's text was read from {source}."
    _show(student_view.html_table(result, withheld, note), result, withheld, note)
    return result


def _show(html: str, result: GradeResult, withheld: kit.Withheld, note: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        get_ipython = None  # noqa: N806
    if get_ipython is not None and get_ipython() is not None:
        display(HTML(html))
        return
    for check in student_view.public_checks(result):
        print(f"{student_view.verdict(check):7} {check.points:g}/{check.max_points:g}  {check.title}: {check.message}")
    for line in (student_view.hidden_sentence(withheld), note):
        if line:
            print(line)
