"""Conv1D: fixture notebooks through the whole pipeline — the details behind their scores (the scores themselves
are asserted by tests/test_verdicts.py from tests/fixtures/verdicts/conv1d.yaml)."""

import pytest

from conftest import FIXTURES, grade_fixtures, grade_notebook, message, repo_rubric

pytestmark = pytest.mark.slow

NAMES = ["conv1d_fails_midway", "conv1d_builtin_f_conv1d", "conv1d_builtin_nn_conv1d", "conv1d_builtin_getattr",
         "conv1d_missing_padding", "conv1d_locally_connected", "conv1d_relu_output", "conv1d_transposed_output",
         "conv1d_patches_allclose", "conv1d_writes_fake_results"]


@pytest.fixture(scope="module")
def graded(grade_once):
    return grade_fixtures(NAMES, repo_rubric("conv1d"), grade_once)


def test_every_lost_point_has_a_reason(graded):
    for result in graded.values():
        for check in result.checks:
            assert check.message.strip(), (result.student, check.id)


def test_builtin_is_named(graded):
    assert "'conv1d' in cell 2, line 10" in message(graded["conv1d_builtin_f_conv1d"], "from_scratch")
    assert "'Conv1d' in cell 2" in message(graded["conv1d_builtin_nn_conv1d"], "from_scratch")
    assert "at run time: aten.convolution.default, autograd.ConvolutionBackward0, torch.conv1d" in message(
        graded["conv1d_builtin_getattr"], "from_scratch")
    assert "No credit because 'From scratch (no built-in convolution)' failed" in message(
        graded["conv1d_builtin_getattr"], "equivalence")


def test_wrong_layers_are_diagnosed(graded):
    assert "'same' padding is missing" in message(graded["conv1d_missing_padding"], "shapes")
    assert "[batch, length, out_channels]" in message(graded["conv1d_transposed_output"], "shapes")
    assert "not shared across positions" in message(graded["conv1d_locally_connected"], "equivalence")
    assert "a ReLU on the output?" in message(graded["conv1d_relu_output"], "equivalence")
    assert "does not depend on the input" in message(graded["conv1d_patches_allclose"], "equivalence")
    assert "has 64 trainable parameters; expected out·in·k = 1" in message(graded["conv1d_locally_connected"], "param_count")


def test_patched_allclose_and_fake_files_gain_nothing(graded):
    cheat = graded["conv1d_patches_allclose"]
    assert cheat.checks[3].id == "equivalence" and cheat.checks[3].points == 0
    assert "All tests passed" in "".join(cell.stdout for cell in cheat.execution.cells)
    assert graded["conv1d_writes_fake_results"].score == 20


def test_failing_cell_is_recorded_and_execution_goes_on(graded):
    result = graded["conv1d_fails_midway"]
    failed = [cell for cell in result.execution.cells if cell.status == "error"]
    assert [(c.error_name, c.error_message) for c in failed] == [("ValueError", "oops")]
    assert result.execution.cells[-1].status == "ok"


def test_cell_timeout_recorded_and_checks_run_on_what_was_defined(tmp_path):
    rubric = repo_rubric("conv1d", timeouts={"cell": 3, "notebook": 60, "probe": 60})
    result = grade_notebook(FIXTURES / "conv1d_cell_timeout.ipynb", rubric, tmp_path)
    assert result.status == "timeout"
    assert [c.status for c in result.execution.cells][-2:] == ["timeout", "ok"]
    assert "cell 3 hit the time limit" in result.message
    assert result.score == 100


@pytest.mark.parametrize("fixture, reason", [
    ("conv1d_invalid_json", "not valid notebook JSON"),
    ("conv1d_no_cells", "no cells"),
    ("conv1d_wrong_file", "not text"),
])
def test_invalid_notebooks(tmp_path, fixture, reason):
    result = grade_notebook(FIXTURES / f"{fixture}.ipynb", repo_rubric("conv1d"), tmp_path)
    assert (result.status, result.score) == ("invalid_notebook", 0)
    assert reason in result.message and result.checks == []
