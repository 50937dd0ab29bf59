"""The student kit: it leaks nothing and its public verdicts equal the TA's; selfcheck(); TCP; no Linux-only
imports; a fresh install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from grader import cli, kit
from grader.cli import main
from grader.course import Course
from grader.rubric import RubricError

from conftest import FIXTURES, ROOT, SUBMISSIONS

SECRET = "ta-secret-" + "5e" * 24
HELD_BACK = "held-back test review: the ending nobody expected"
# Each exercise's passing and failing sides of the example class (an error status for conv1d): the kit's verdicts are
# compared on these, not on all 37 notebooks, which would grade the class twice (35 of CI's minutes).
KIT_SAMPLE = {"conv1d": ["adi_slides", "dewi_no_padding", "eko_syntax_error"], "gru": ["budi_vectorised", "putri_no_bias"],
              "rnn_lm": ["budi_vectorised", "hana_multi"], "lstm": ["adi_slides"], "imdb": ["indra_one_layer"],
              "indobert": ["budi_vectorised"]}
EXAMPLE_SAMPLE = [SUBMISSIONS / student / f"{exercise}.ipynb" for exercise, students in KIT_SAMPLE.items()
                  for student in students]
THIRD_PARTY = ("psutil", "zmq", "tornado.ioloop", "jupyter_client", "nbclient", "nbformat", "nbconvert", "ipykernel",
               "IPython", "torch", "pandas", "rich.console", "pydantic", "safetensors.torch", "jinja2", "yaml",
               "transformers", "tokenizers", "sqlite3", "subprocess", "multiprocessing", "asyncio")


def _conv1d_raw() -> dict:
    return yaml.safe_load((ROOT / "rubrics" / "conv1d.yaml").read_text())


def test_public_rubric_drops_hidden_checks_and_counts_them():
    document, withheld = kit.public_rubric(_conv1d_raw(), "conv1d.yaml")
    assert [check["id"] for check in document["checks"]] == ["constructible", "from_scratch", "shapes", "equivalence",
                                                              "gradients", "param_count", "convolution_vs_correlation"]
    assert withheld == kit.Withheld(1, 5.0)
    # The probe's inputs stay: public checks (from_scratch) read what the probe measured on all of them.
    assert document["probe"] == _conv1d_raw()["probe"]


def test_public_rubric_refuses_a_public_check_gated_by_a_hidden_one():
    raw = _conv1d_raw()
    for check in raw["checks"]:
        if check["id"] == "param_count":
            check["gate"] = "edge_cases"
    with pytest.raises(RubricError, match="public check 'param_count' is gated by hidden check"):
        kit.public_rubric(raw, "conv1d.yaml")


def test_no_module_imports_a_linux_only_api():
    """Every grader module imports with fcntl, resource, pwd, grp, termios unavailable and without the Linux-only
    open flags, as on Windows. The dependencies are imported first: on Linux they use these modules themselves."""
    script = (
        "import os, sys, pkgutil, importlib\n"
        f"for name in {THIRD_PARTY!r}:\n"
        "    importlib.import_module(name)\n"
        "for name in ('fcntl', 'resource', 'pwd', 'grp', 'termios', 'posix_ipc'):\n"
        "    sys.modules[name] = None\n"
        "for flag in ('O_NOFOLLOW', 'O_DIRECTORY', 'O_NOCTTY', 'O_NONBLOCK', 'O_CLOEXEC'):\n"
        "    if hasattr(os, flag): delattr(os, flag)\n"
        "import grader\n"
        "names = [info.name for info in pkgutil.walk_packages(grader.__path__, 'grader.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.split()[-1]) > 30


def test_forced_tcp_means_no_ipc_runtime_and_no_sandbox(monkeypatch):
    from grader import sandbox
    from grader.execute import client

    monkeypatch.setenv("GRADER_TRANSPORT", "tcp")
    assert client._runtime_dir() is None
    found = sandbox.availability()
    assert not found.available and "GRADER_TRANSPORT=tcp" in found.reason


# --------------------------------------------------------------------------- the kit itself (builds a wheel)

@pytest.fixture(scope="module")
def course_copy(tmp_path_factory) -> Path:
    """The shipped course as a TA keeps it: reference notebooks, a grading output folder with its secret, data."""
    course = tmp_path_factory.mktemp("course") / "dl-course"
    course.mkdir()
    for name in ("rubrics", "reference"):
        shutil.copytree(ROOT / name, course / name)
    shutil.copy2(ROOT / "requirements-kernel.txt", course / "requirements-kernel.txt")
    (course / "reports" / ".grader").mkdir(parents=True)
    (course / "reports" / ".grader" / "secret").write_text(SECRET)
    (course / "data").mkdir()
    (course / "data" / "imdb_test.txt").write_text(HELD_BACK)
    return course


@pytest.fixture(scope="module")
def student_kit(course_copy, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("published") / "kit"
    assert main(["kit", "--course", str(course_copy), "--out", str(out), "--name", "Deep Learning 2026"]) == 0
    return out


def _kit_texts(kit_dir: Path) -> dict[str, bytes]:
    """Every file under the kit, with the wheel's and the zip's members opened too."""
    texts: dict[str, bytes] = {}
    for path in [*kit_dir.rglob("*"), kit_dir.with_suffix(".zip")]:
        if not path.is_file():
            continue
        texts[str(path)] = path.read_bytes()
        if path.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    content = archive.read(member)
                    texts[f"{path}!{member}"] = content
                    if member.endswith(".whl"):
                        texts.update(_kit_texts_of_wheel(content, f"{path}!{member}"))
    return texts


def _kit_texts_of_wheel(content: bytes, where: str) -> dict[str, bytes]:
    import io

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {f"{where}!{member}": archive.read(member) for member in archive.namelist()}


@pytest.mark.slow
def test_kit_holds_what_students_need(student_kit):
    names = sorted(str(path.relative_to(student_kit)) for path in student_kit.rglob("*") if path.is_file())
    wheel = next(student_kit.glob("grader-*.whl")).name
    assert names == sorted(["README.md", "kit.json", "requirements-kernel.txt", wheel,
                            *(f"rubrics/{path.name}" for path in (ROOT / "rubrics").glob("*.yaml"))])
    summary = json.loads((student_kit / "kit.json").read_text())
    assert summary["course"] == "Deep Learning 2026" and summary["wheel"] == wheel
    conv1d = summary["exercises"]["conv1d"]
    assert (conv1d["hidden_checks"], conv1d["hidden_points"], conv1d["public_points"]) == (1, 5.0, 95.0)
    assert conv1d["rubric_sha256"] == kit._sha256(student_kit / "rubrics" / "conv1d.yaml")
    assert Course.load(student_kit).rubrics.keys() == Course.load(ROOT).rubrics.keys()
    readme = (student_kit / "README.md").read_text()
    assert "--index-url https://download.pytorch.org/whl/cpu" in readme
    assert f"!pip install /content/kit/{wheel}" in readme
    assert "1 hidden check worth 5 points" in readme
    assert student_kit.with_suffix(".zip").is_file()


@pytest.mark.slow
def test_kit_leaks_no_reference_code_hidden_check_or_secret(student_kit, course_copy):
    texts = _kit_texts(student_kit)
    assert any(name.endswith("!grader/cli.py") for name in texts), "the wheel's members were not searched"
    forbidden = {"the secret": SECRET, "held-back data": HELD_BACK}
    for notebook in sorted((course_copy / "reference").glob("*.ipynb")):
        for cell in nbformat.read(str(notebook), as_version=4).cells:
            if cell.cell_type == "code" and cell.source.strip():
                forbidden[f"a code cell of reference/{notebook.name}"] = cell.source.strip()
    hidden = [check for path in sorted((course_copy / "rubrics").glob("*.yaml"))
              for check in yaml.safe_load(path.read_text())["checks"] if check.get("visibility") == "hidden"]
    assert hidden, "the shipped course should have a hidden check to test with"
    grader_code = {name for name in texts if "!grader/" in name and name.endswith(".py")}
    for check in hidden:
        forbidden[f"hidden check {check['id']}'s title"] = check["title"]
        for key, value in check.get("params", {}).items():
            forbidden[f"hidden check {check['id']}'s param {key}"] = yaml.safe_dump({key: value})
        # The grader's own code implements every check type (as any installed grader does); everything else in the
        # kit (rubrics, README, kit.json, the wheel's metadata) must not name the hidden check at all.
        for name, content in texts.items():
            if name not in grader_code:
                assert check["id"].encode() not in content, f"{name} names hidden check {check['id']}"
    for name, content in texts.items():
        for what, text in forbidden.items():
            assert text.encode() not in content, f"{name} contains {what}"


# --------------------------------------------------------------------------- kit verdicts = TA verdicts

@pytest.fixture(scope="module")
def ta_results(tmp_path_factory):
    """The TA's quick grading of the sampled students, one `grader grade` run per exercise, run on first use."""
    out = tmp_path_factory.mktemp("ta") / "reports"
    (out / ".grader").mkdir(parents=True)
    (out / ".grader" / "secret").write_text(SECRET)
    graded: set[str] = set()

    def result(student: str, exercise: str) -> dict:
        if exercise not in graded:
            assert main(["grade", str(SUBMISSIONS), "--out", str(out), "--exercise", exercise, "--quick",
                         "--student", *KIT_SAMPLE[exercise]]) == 0
            graded.add(exercise)
        return json.loads((out / student / f"{exercise}.json").read_text())

    return result


def _public_view(result: dict) -> list[tuple]:
    return [(c["id"], c["points"], c["max_points"], c["passed"], c["message"], c["gated_by"])
            for c in result["checks"] if c["visibility"] == "public"]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", EXAMPLE_SAMPLE, ids=lambda path: f"{path.parent.name}-{path.stem}")
def test_kit_check_gives_the_tas_public_verdicts(notebook, student_kit, ta_results, tmp_path, monkeypatch):
    ta = ta_results(notebook.parent.name, notebook.stem)
    # The same probe inputs as the TA's run (they derive from the secret); a student's run draws its own.
    monkeypatch.setattr(cli, "course_secret", lambda out_dir: SECRET)
    report = tmp_path / "result.json"
    code = main(["check", str(notebook), "--course", str(student_kit), "--report", str(report)])
    mine = json.loads(report.read_text())
    assert mine["status"] == ta["status"]
    assert _public_view(mine) == _public_view(ta)
    assert all(check["visibility"] == "public" for check in mine["checks"])
    public_points = sum(points for _, points, *_ in _public_view(ta))
    assert mine["score"] == pytest.approx(public_points)
    # A written answer (manual check) waits for a TA: `grader check` neither counts nor fails it.
    all_passed = ta["status"] not in ("invalid_notebook", "error") and all(
        check["passed"] for check in ta["checks"] if check["visibility"] == "public" and check["type"] != "manual")
    assert code == (0 if all_passed else 1)


# --------------------------------------------------------------------------- TCP, selfcheck, a fresh install

@pytest.mark.slow
def test_tcp_transport_checks_unsandboxed_and_says_so(student_kit, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRADER_TRANSPORT", "tcp")
    notebook = tmp_path / "conv1d.ipynb"
    shutil.copy(FIXTURES / "conv1d_missing_padding.ipynb", notebook)
    report = tmp_path / "result.json"
    assert main(["check", str(notebook), "--course", str(student_kit), "--report", str(report)]) == 1
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if line.startswith("unsandboxed")]
    assert "Fix first: Output shape" in captured.out and "1 hidden check worth 5 points" in captured.out
    result = json.loads(report.read_text())
    assert result["score"] == 61.25 and not result["execution"]["isolated"]
    assert "GRADER_TRANSPORT=tcp" in result["execution"]["isolation"]


def _run_with_selfcheck(fixture: str, kit_dir: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    notebook = nbformat.read(str(FIXTURES / f"{fixture}.ipynb"), as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        f"from grader import selfcheck\nresult = selfcheck('conv1d', course={str(kit_dir)!r})\n"
        "print('SCORE', result.score, sorted(c.id for c in result.checks if not c.passed and c.type != 'manual'))"))
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env_path]))
    try:
        NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("fixture, score, failing", [
    ("conv1d_correct_bias", 95, []),
    ("conv1d_missing_padding", 61.25, ["equivalence", "shapes"]),
])
def test_selfcheck_in_a_running_notebook(fixture, score, failing, student_kit):
    outputs = _run_with_selfcheck(fixture, student_kit).cells[-1].outputs
    html = "".join(output.get("data", {}).get("text/html", "") for output in outputs)
    printed = "".join(output.get("text", "") for output in outputs if output.get("name") == "stdout")
    assert f"SCORE {score:g}" in printed.replace(".0 ", " ") and str(failing) in printed
    assert "re-executes the notebook from scratch" in html and "1 hidden check worth 5 points" in html
    assert "Edge cases" not in html
    if failing:
        assert html.index("Output shape") < html.index("Conv1D is defined")  # the first failing check first
        assert "returned [2, 4, 9], expected [2, 4, 11]" in html


@pytest.mark.slow
def test_selfcheck_does_nothing_while_the_ta_grades(tmp_path):
    from conftest import grade_notebook, repo_rubric

    source = nbformat.read(str(FIXTURES / "conv1d_correct_bias.ipynb"), as_version=4)
    source.cells.append(nbformat.v4.new_code_cell("from grader import selfcheck\nselfcheck('conv1d')"))
    path = tmp_path / "conv1d.ipynb"
    nbformat.write(source, str(path))
    result = grade_notebook(path, repo_rubric("conv1d"), tmp_path / "out")
    assert result.score == 100
    last = result.execution.cells[-1]
    assert last.status == "ok" and "skipped: this notebook is being graded" in last.stdout


@pytest.mark.slow
def test_fresh_clone_builds_a_kit_that_installs_and_checks(tmp_path):
    """Clone, build the kit, install its wheel into a new venv, check a notebook with nothing of the checkout on the
    path."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=300)
    clean = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "GRADER_COURSE")}
    kit_dir = tmp_path / "kit"
    subprocess.run([sys.executable, "-m", "grader.cli", "kit", "--out", str(kit_dir)], cwd=clone, check=True,
                   env={**clean, "PYTHONPATH": str(clone)}, timeout=600)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    wheel = next(kit_dir.glob("grader-*.whl"))
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True,
                   env=clean, timeout=300)
    home = tmp_path / "student"
    home.mkdir()
    shutil.copy(FIXTURES / "conv1d_missing_padding.ipynb", home / "conv1d.ipynb")
    where = subprocess.run([str(python), "-c", "import grader; print(grader.__file__)"], cwd=home, env=clean,
                           capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(venv), where
    run = subprocess.run([str(python), "-m", "grader.cli", "check", "conv1d.ipynb", "--course", str(kit_dir),
                          "--report", "result.json"], cwd=home, env=clean, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    result = json.loads((home / "result.json").read_text())
    assert result["score"] == 61.25 and result["max_score"] == 95
    assert "1 hidden check worth 5 points" in run.stdout
