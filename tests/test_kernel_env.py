"""The course's kernel environment: built from requirements-kernel.txt into a layer the sandboxed kernel imports from;
`!pip install` lines skipped with a sentence; a missing package named in the report with how the TA adds it.

The tests marked slow build a layer from a local wheel (no network) or use the default one, which CI builds first
(`grader env build`): they fail, not skip, when it is missing.
"""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, repo_rubric

from grader import cli, installs, kernel_env, sandbox
from grader.discover import Submission
from grader.grade import Options, grade_one
from grader.results import CellRecord, ExecutionRecord, GradeResult

sys_path_tools = str(ROOT / "tools")
PROBE_PACKAGE = "kernel-probe-pkg"
PROBE_MODULE = "kernel_probe_pkg"
SLIDES_CELLS = None  # filled lazily from tools/make_notebooks.py (slow tests only)


def env_with(names: tuple[str, ...] = (), layer: dict[str, str] | None = None) -> kernel_env.KernelEnv:
    """A kernel environment listing `names`, built (with `layer` packages) or not."""
    built = layer is not None
    return kernel_env.KernelEnv(Path("/course/requirements-kernel.txt"), True, names, "k" if built else "",
                                Path("/nonexistent/layer") if built else None, {"layer": layer or {}})


def rewrite(source: str, env: kernel_env.KernelEnv | None = None):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x"), nbformat.v4.new_code_cell(source)])
    rewritten, skipped = installs.skip_installs(notebook, env or env_with())
    assert notebook.cells[1].source == source, "the student's notebook itself is left alone"
    return rewritten.cells[1].source, skipped


# --------------------------------------------------------------------------- `!pip install` lines


def test_pip_line_is_replaced_by_a_print_and_recorded() -> None:
    source = "!pip install torch\nimport torch\nx = 1"
    rewritten, skipped = rewrite(source)
    lines = rewritten.split("\n")
    assert len(lines) == 3 and lines[1:] == ["import torch", "x = 1"], "line numbers stay the student's"
    assert lines[0].startswith("print(") and "file=__import__('sys').stderr" in lines[0]
    [entry] = skipped
    assert (entry.cell, entry.line, entry.source) == (2, 1, "!pip install torch")
    assert entry.message.startswith("[grader] skipped `!pip install torch`: no network while grading; torch ")
    assert "is in the grading environment" in entry.message


@pytest.mark.parametrize("line", [
    "!pip install -q scikit-learn", "! pip install scikit-learn", "%pip install scikit-learn",
    "!pip3 install scikit-learn", "!python -m pip install scikit-learn", "!python3 -m pip install -U scikit-learn",
    "!{sys.executable} -m pip install scikit-learn", "!pip -q install scikit-learn", "!uv pip install scikit-learn",
    "    !pip install scikit-learn > /dev/null", "!pip install --upgrade --no-deps scikit-learn  # for metrics",
])
def test_pip_spellings_are_all_skipped(line: str) -> None:
    env = env_with(("scikit-learn",), {"scikit-learn": "1.9.1"})
    rewritten, [entry] = rewrite(f"if True:\n{line if line.startswith(' ') else '    ' + line}", env)
    ast.parse(rewritten)  # still valid Python, indentation kept
    assert entry.message.endswith("scikit-learn 1.9.1 is in the grading environment")


def test_missing_and_mismatched_packages_are_named() -> None:
    env = env_with(("transformers", "datasets"), None)
    _, [entry] = rewrite("!pip install transformers==0.1 kaggle datasets -r extra.txt git+https://x.org/y.git", env)
    message = entry.message
    assert "transformers " in message and "(the notebook asks for ==0.1)" in message
    assert "kaggle is not (the TA adds it to requirements-kernel.txt and runs `grader env build`)" in message
    assert "datasets is listed in requirements-kernel.txt but the kernel environment is not built" in message
    assert "the requirements in extra.txt cannot be installed while grading" in message
    assert "git+https://x.org/y.git cannot be installed while grading" in message


def test_continued_pip_line_keeps_the_line_count() -> None:
    rewritten, [entry] = rewrite("!pip install numpy \\\n    pandas\nimport numpy")
    assert rewritten.split("\n")[1:] == ["", "import numpy"]
    assert "numpy " in entry.message and "pandas " in entry.message


def test_shell_cells_get_an_echo_and_other_cell_magics_are_left_alone() -> None:
    rewritten, [entry] = rewrite("%%bash\npip install numpy\nls")
    assert rewritten.split("\n")[0::2] == ["%%bash", "ls"] and rewritten.split("\n")[1].startswith("echo '")
    assert entry.line == 2
    script = "%%writefile setup.sh\npip install numpy"
    assert rewrite(script) == (script, [])
    rewritten, [entry] = rewrite("%%capture\n!pip install numpy")
    assert rewritten.split("\n")[0] == "%%capture" and entry.line == 2


def test_a_crafted_pip_line_stays_a_string() -> None:
    """Quotes, newlines and code in the student's line end up inside one string literal, never as code."""
    crafted = "!pip install \"x'); import os; os.system('id'); print('\" $(touch /tmp/p) `id`"
    rewritten, [entry] = rewrite(crafted)
    tree = ast.parse(rewritten)
    [statement] = tree.body
    call = statement.value
    assert isinstance(call, ast.Call) and call.func.id == "print"
    assert isinstance(call.args[0], ast.Constant) and call.args[0].value == entry.message
    shell, _ = rewrite("%%bash\npip install \"$(touch /tmp/p)\" ';id'")
    assert re.fullmatch(r"echo '[^']*'(\"'\"'[^']*')* >&2", shell.split("\n")[1])


# --------------------------------------------------------------------------- ModuleNotFoundError


def failed_import(module: str) -> ExecutionRecord:
    return ExecutionRecord(cells=[CellRecord(number=2, status="error", error_name="ModuleNotFoundError",
                                             error_message=f"No module named '{module}'")])


@pytest.mark.parametrize(("module", "env", "words"), [
    ("skimage", env_with(), "lacks the package scikit-image; the TA adds it to requirements-kernel.txt and runs "
                            "`grader env build`"),
    ("cv2", env_with(), "lacks the package opencv-python;"),
    ("evaluate", env_with(), "lacks the package evaluate;"),
    ("my_helpers.io", env_with(), "has no module my_helpers; if it comes from a PyPI package, the TA adds that "
                                  "package to requirements-kernel.txt"),
    ("seaborn", env_with(("seaborn",)), "lacks the package seaborn (listed in requirements-kernel.txt, but the kernel "
                                        "environment is not built; the TA runs `grader env build`)"),
    ("torchvision", env_with(), "must match the grader's torch"),
    ("google.colab", env_with(), "exists only on Colab"),
    ("torch.legacy_stuff", env_with(), "has torch, but no module torch.legacy_stuff"),
])
def test_missing_module_sentence(module: str, env: kernel_env.KernelEnv, words: str) -> None:
    record = failed_import(module)
    installs.explain_missing_modules(record, env)
    message = record.cells[0].error_message
    assert message.startswith(f"No module named '{module}': ") and words in message


def test_lacking_packages_are_counted_per_notebook() -> None:
    results = [GradeResult(student=s, exercise="conv1d", status="graded", execution=failed_import(m))
               for s, m in (("a", "skimage"), ("b", "skimage.io"), ("c", "google.colab"), ("d", "torch.nope"))]
    assert installs.lacking_packages(results, env_with()) == {"scikit-image": 2}


def test_import_names_map_to_pypi_names() -> None:
    assert [installs.package_for(m) for m in ("sklearn", "cv2", "PIL.Image", "yaml", "tqdm.auto")] == [
        "scikit-learn", "opencv-python", "pillow", "pyyaml", "tqdm"]


# --------------------------------------------------------------------------- the course file and its state


def test_requirement_names_and_state_before_building(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    (tmp_path / "requirements-kernel.txt").write_text(
        "# comment\n--no-index\nScikit_Learn>=1  # metrics\nmatplotlib\n-r more.txt\ngit+https://x.org/y.git\n")
    env = kernel_env.current(tmp_path)
    assert env.names == ("scikit-learn", "matplotlib") and env.own_file and env.missing and env.site_dirs == []
    assert "not built" in kernel_env.summary(env) and "grader env build" in env.not_built_sentence()
    default = kernel_env.current(tmp_path / "elsewhere")
    assert default.requirements == ROOT / "requirements-kernel.txt" and not default.own_file
    assert "torch" not in default.names and {"matplotlib", "scikit-learn", "nltk"} <= set(default.names)


# --------------------------------------------------------------------------- building and grading (slow)


def write_probe_wheel(folder: Path) -> None:
    """A pure-Python wheel, so the build test needs no network."""
    folder.mkdir(parents=True)
    info = "kernel_probe_pkg-1.0.dist-info"
    files = {f"{PROBE_MODULE}/__init__.py": "VALUE = 'from the kernel environment'\n",
             f"{info}/METADATA": "Metadata-Version: 2.1\nName: kernel-probe-pkg\nVersion: 1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(folder / "kernel_probe_pkg-1.0-py3-none-any.whl", "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)


def colab_notebook(path: Path, *cells: str) -> Path:
    """The slides' Conv1D after a first cell of Colab-style set-up lines."""
    import sys

    sys.path.insert(0, sys_path_tools)
    from make_notebooks import IMPORTS, SLIDES_CONV1D, code, notebook, write

    return write(notebook(*(code(cell) for cell in cells), code(IMPORTS), code(SLIDES_CONV1D)), path)


def grade(path: Path, out: Path, course: Path | None = None) -> GradeResult:
    options = Options(out_dir=out, secret="test-secret", quick=True, course_root=course)
    return grade_one(Submission("student", "conv1d", path), repo_rubric("conv1d"), options)


@pytest.mark.slow
def test_built_layer_is_imported_in_the_sandbox_and_missing_without_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    course = tmp_path / "course"
    (course / "rubrics").mkdir(parents=True)
    write_probe_wheel(course / "wheels")
    (course / "requirements-kernel.txt").write_text(f"--no-index\n--find-links wheels\n{PROBE_PACKAGE}\n")
    notebook = colab_notebook(tmp_path / "conv1d.ipynb",
                              f"!pip install {PROBE_PACKAGE}\nimport {PROBE_MODULE}\nprint({PROBE_MODULE}.VALUE)")

    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "empty-cache"))
    without = grade(notebook, tmp_path / "out-without", course)
    first = without.execution.cells[0]
    assert first.error_name == "ModuleNotFoundError"
    assert (f"lacks the package {PROBE_PACKAGE} (listed in requirements-kernel.txt, but the kernel environment is "
            "not built; the TA runs `grader env build`)") in first.error_message
    assert "listed in requirements-kernel.txt but the kernel environment is not built" in \
        without.execution.skipped[0].message

    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    assert cli.main(["--course", str(course), "env", "build"]) == 0
    built = capsys.readouterr().out
    assert PROBE_PACKAGE in built and "kernel environment" in built
    env = kernel_env.current(course)
    assert env.manifest["layer"] == {PROBE_PACKAGE: "1.0"}, "only what the grader lacks goes into the layer"
    assert env.manifest["modules"][PROBE_PACKAGE] == [PROBE_MODULE]
    assert cli.main(["env", "status", "--course", str(course)]) == 0
    assert re.search(rf"{PROBE_PACKAGE}\s*│\s*1\.0\s*│\s*kernel environment", capsys.readouterr().out)

    doctor = kernel_env.doctor(course)
    assert doctor[0][0] == "ok" and str(env.layer) in doctor[0][1]
    assert any(f"{PROBE_PACKAGE} 1.0 (kernel environment)" in line for _, line in doctor)
    if sandbox.availability().available:
        assert doctor[-1] == ("ok", "a sandboxed kernel finds every listed package (1 modules)")

    with_env = grade(notebook, tmp_path / "out-with", course)
    first = with_env.execution.cells[0]
    assert first.status == "ok" and "from the kernel environment" in first.stdout
    assert with_env.execution.isolated == sandbox.availability().available
    assert with_env.execution.skipped[0].message.endswith(f"{PROBE_PACKAGE} 1.0 is in the grading environment")
    assert with_env.score == with_env.max_score


def default_env() -> kernel_env.KernelEnv:
    env = kernel_env.current(None)
    if env.layer is None:
        pytest.fail(f"the default kernel environment is needed: {env.not_built_sentence()}")
    return env


@pytest.mark.slow
def test_matplotlib_plots_headless_in_the_sandbox_with_the_default_env(tmp_path: Path) -> None:
    env = default_env()
    assert "matplotlib" in env.manifest["listed"]
    notebook = colab_notebook(tmp_path / "conv1d.ipynb",
                              "import matplotlib\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n"
                              "print(matplotlib.get_backend(), matplotlib.get_cachedir())")
    result = grade(notebook, tmp_path / "out")
    first = result.execution.cells[0]
    assert first.status == "ok", first.error_message
    assert "<Figure size" in first.stdout, "the inline backend displayed the figure"
    backend, cache = first.stdout.strip().splitlines()[-1].split()
    assert backend.endswith("backend_inline") and "/.home/" in cache, "matplotlib's cache lies in the work dir"
    assert "temporary cache directory" not in first.stderr and "not a writable directory" not in first.stderr
    assert result.execution.isolated == sandbox.availability().available
    assert result.score == result.max_score


@pytest.mark.slow
def test_doctor_lists_the_default_env(capsys: pytest.CaptureFixture) -> None:
    env = default_env()
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "kernel environment for the course's" in out and str(env.layer) in out
    for package in ("matplotlib", "seaborn", "scikit-learn", "nltk", "datasets"):
        assert re.search(rf"{package} \S+ \((kernel|grader's) environment\)", out), package


@pytest.mark.slow
def test_a_failed_build_says_why_and_leaves_nothing_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    course = tmp_path / "course"
    (course / "rubrics").mkdir(parents=True)
    (course / "requirements-kernel.txt").write_text(f"--no-index\n{PROBE_PACKAGE}\n")
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    assert cli.main(["env", "build", "--course", str(course)]) == 1
    assert "failed" in capsys.readouterr().err
    assert kernel_env.current(course).missing and list((tmp_path / "cache" / "kernel-env").iterdir()) == []
