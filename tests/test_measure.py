"""The measuring step: what the measuring kernel runs, and the forgery and evasion corpus
(tools/make_measure_notebooks.py), each held: the score its honest code earns, or status `tampered` with evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import sandbox
from grader.discover import Submission
from grader.grade import BatchPlan, Job, Options, grade_batch
from grader.measure_select import select
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
FORGERIES = ["forgery_post_run_cell_hook", "forgery_input_transformers_post", "forgery_ast_transformers",
             "forgery_patched_json_dumps", "forgery_setprofile_recorder", "forgery_daemon_thread_rewrites_output"]
EVASIONS = ["evasion_stack_inspecting_layer", "evasion_custom_autograd_function", "evasion_no_grad_straight_through",
            "evasion_torchscript_compilation_unit", "evasion_torchscript_built_in_init",
            "evasion_np_correlate_in_bang_cell", "evasion_cpp_extension_in_sandbox"]
CORPUS = [*FORGERIES, "forgery_installed_by_the_layer", *EVASIONS, "conv1d_correct_slides"]


def kept(source: str) -> str:
    return select([(0, source)]).sources[0]


def test_definitions_imports_and_constants_are_kept_everything_else_is_blanked() -> None:
    source = ("import torch\nfrom torch import nn\nN = 3\ndevice = torch.device('cpu')\n"
              "class A(nn.Module):\n    size = N\n    print('defining')\n    def f(self):\n        return 1\n"
              "a = A()\nget_ipython().events.register('post_run_cell', print)\nfor i in range(3):\n    pass\n")
    lines = kept(source).split("\n")
    assert lines[:4] == ["import torch", "from torch import nn", "N = 3", "device = torch.device('cpu')"]
    assert lines[5] == "    size = N" and lines[6] == "    pass" and lines[7] == "    def f(self):"
    assert lines[9:13] == ["", "", "", ""]
    assert len(lines) == len(source.split("\n"))


def test_calls_that_run_student_code_or_change_the_kernel_are_left_out() -> None:
    source = ("import sys, torch, threading\ndef hook(*a):\n    pass\nx = sorted([3, 1], key=hook)\n"
              "y = sys.setprofile(hook)\nunit = torch.jit.CompilationUnit('')\nz = len([1, 2])\n"
              "t = threading.Thread(target=hook)\n@hook\ndef g():\n    pass\n"
              "class B:\n    def __init_subclass__(cls):\n        pass\n")
    selection = select([(0, source)])
    lines = selection.sources[0].split("\n")
    assert lines[6] == "z = len([1, 2])"
    assert not any(lines[index] for index in (3, 4, 5, 7, 8, 9, 10))
    assert lines[12].strip() == "pass"
    assert len(selection.left_out) == 6


def test_magics_and_shell_lines_hide_no_definition() -> None:
    source = "files = !ls\n%matplotlib inline\nclass C:\n    pass\n"
    assert "class C:" in kept(source)
    assert "def f():" in kept("%%time\ndef f():\n    return 1\n")


def test_no_compiler_is_reachable_in_the_sandbox() -> None:
    masks = sandbox.toolchain_masks()
    covered = {masks[index + 2] for index in range(0, len(masks), 3) if masks[index] == "--ro-bind"}
    import shutil
    for program in ("gcc", "cc", "c++", "ld", "as", "ninja"):
        found = shutil.which(program)
        if found:
            assert str(Path(found).resolve()) in covered, program


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("measure")
    rubric = load_rubric(ROOT / "rubrics" / "conv1d.yaml")
    jobs = [Job(Submission(name, "conv1d", FIXTURES / f"{name}.ipynb"), rubric) for name in CORPUS]
    results = grade_batch(BatchPlan(jobs=jobs), Options(out_dir=out, secret="s", quick=True, course_root=ROOT),
                          lambda result: None)
    return {result.student: result for result in results}


@pytest.mark.slow
@pytest.mark.parametrize("name", FORGERIES)
def test_a_forgery_from_the_notebooks_top_level_earns_what_its_own_code_earns(corpus, name: str) -> None:
    result = corpus[name]
    assert result.status in ("graded", "tampered"), result.message
    assert result.score == 0, [check.message for check in result.checks]


@pytest.mark.slow
def test_a_forgery_installed_by_the_graded_class_is_tampered_with_evidence(corpus) -> None:
    result = corpus["forgery_installed_by_the_layer"]
    assert result.status == "tampered" and result.score == 0
    assert result.evidence and "grader override" in result.message
    assert any("setprofile" in item or "post_run_cell" in item or "thread" in item for item in result.evidence)


def _from_scratch(result) -> str:
    check = next(check for check in result.checks if check.id == "from_scratch")
    assert not check.passed, check.message
    return check.message


@pytest.mark.slow
@pytest.mark.parametrize("name, words", [
    ("evasion_stack_inspecting_layer", "inspect.stack"),
    ("evasion_custom_autograd_function", "aten.convolution"),
    ("evasion_no_grad_straight_through", "conv"),
    ("evasion_torchscript_compilation_unit", "TorchScript"),
    ("evasion_torchscript_built_in_init", "TorchScript"),
    ("evasion_np_correlate_in_bang_cell", "np.correlate"),
    ("evasion_cpp_extension_in_sandbox", "native code"),
])
def test_a_hidden_built_in_fails_from_scratch(corpus, name: str, words: str) -> None:
    result = corpus[name]
    assert result.status == "graded", result.message
    assert words.lower() in _from_scratch(result).lower() or words == "np.correlate" and "numpy" in _from_scratch(result)
    assert result.score <= 30


@pytest.mark.slow
def test_compilers_are_refused_inside_the_sandbox(corpus) -> None:
    if not sandbox.availability().available:
        pytest.skip(f"no sandbox here: {sandbox.availability().reason}")
    result = corpus["evasion_cpp_extension_in_sandbox"]
    printed = result.execution.cells[1].stdout
    assert "gcc refused" in printed and "ninja refused" in printed
    assert result.execution.cells[2].status == "error"


@pytest.mark.slow
def test_the_honest_layer_keeps_its_score(corpus) -> None:
    assert corpus["conv1d_correct_slides"].score == 100


RNN_LM_CORPUS = ["forgery_rnn_lm_fake_grader_modules", "forgery_rnn_lm_fake_grader_modules_in_init"]


@pytest.fixture(scope="module")
def rnn_lm_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("measure-rnn-lm")
    rubric = load_rubric(ROOT / "rubrics" / "rnn_lm.yaml")
    jobs = [Job(Submission(name, "rnn_lm", FIXTURES / f"{name}.ipynb"), rubric) for name in RNN_LM_CORPUS]
    results = grade_batch(BatchPlan(jobs=jobs), Options(out_dir=out, secret="s", quick=True, course_root=ROOT),
                          lambda result: None)
    return {result.student: result for result in results}


@pytest.mark.slow
def test_fake_grader_modules_planted_at_top_level_never_reach_the_measuring_kernel(rnn_lm_corpus) -> None:
    result = rnn_lm_corpus["forgery_rnn_lm_fake_grader_modules"]
    assert result.status == "graded", result.message
    message = _from_scratch(result)
    assert "rnn_tanh_cell" in message or "RNNCell" in message, message
    assert result.score <= 55


@pytest.mark.slow
def test_grader_modules_blinded_by_the_graded_cell_are_tampered_with_evidence(rnn_lm_corpus) -> None:
    result = rnn_lm_corpus["forgery_rnn_lm_fake_grader_modules_in_init"]
    assert result.status == "tampered" and result.score == 0, result.message
    assert any("trace_torch_calls replaced" in item for item in result.evidence), result.evidence
    assert any("sys.modules['grader.kernel.recurrent'] replaced" in item for item in result.evidence), result.evidence


@pytest.mark.slow
def test_a_graded_notebook_leaves_no_thread_or_open_file_behind(tmp_path: Path) -> None:
    """The measuring kernel runs in a thread of the grading process; its channels and its event loop closed with it.
    Before, each notebook left a worker two heartbeat threads and about 40 open files (`ulimit -n 256` stopped a
    worker within 8 notebooks: benchmarks/long_worker.py)."""
    from conftest import held_now, left_behind

    from grader.grade import grade_one

    rubric = load_rubric(ROOT / "rubrics" / "conv1d.yaml")
    notebook = Submission("s", "conv1d", FIXTURES / "conv1d_correct_slides.ipynb")

    def graded(folder: str) -> float:
        return grade_one(notebook, rubric, Options(out_dir=tmp_path / folder, secret="s", quick=True)).score

    assert graded("first") == 100  # the first grading opens what later ones reuse (the main thread's event loop)
    before = held_now()
    assert graded("second") == 100
    threads, more_files = left_behind(before)
    assert threads == [] and more_files <= 0
