"""Static reading of notebook source and the numeric comparison used in messages."""

import nbformat
import pytest
import torch

from grader.checks.analysis import Finding, first_difference, forbidden_references, from_scratch_outcome, missing_definition
from grader.results import CellRecord, ExecutionRecord

FORBIDDEN = {"conv1d", "Conv1d"}


def notebook(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_finds_builtin_in_the_class():
    nb = notebook("import torch.nn.functional as F", "class Conv1D:\n    def forward(self, x):\n        return F.conv1d(x, self.w)")
    [finding] = forbidden_references(nb, ["Conv1D"], FORBIDDEN)
    assert (finding.name, finding.cell, finding.line) == ("conv1d", 2, 3)
    assert "return F.conv1d(x, self.w)" in finding.sentence()


def test_follows_helpers_the_class_uses():
    nb = notebook("from torch.nn.functional import conv1d as c", "def helper(x, w):\n    return c(x, w)",
                  "class Conv1D:\n    def forward(self, x):\n        return helper(x, self.w)")
    findings = forbidden_references(nb, ["Conv1D"], FORBIDDEN)
    assert [(f.cell, f.resolved) for f in findings] == [(1, "torch.nn.functional.conv1d"), (2, "torch.nn.functional.conv1d")]


def test_ignores_test_cells_outside_the_class():
    nb = notebook("%matplotlib inline\nimport torch.nn as nn", "class Conv1D:\n    pass",
                  "reference = nn.Conv1d(3, 4, 3)\n!ls")
    assert forbidden_references(nb, ["Conv1D"], FORBIDDEN) == []


def test_missing_definition_names_the_failing_cell():
    nb = notebook("import torch", "class Conv1D(nn.Module)\n    pass")
    execution = ExecutionRecord(cells=[CellRecord(number=1, status="ok"),
                                       CellRecord(number=2, status="error", error_name="SyntaxError",
                                                  error_message="expected ':'", error_line=1)])
    assert missing_definition(nb, execution, "Conv1D") == (
        "Conv1D is defined in cell 2, but that cell failed at line 1 (SyntaxError: expected ':'), so Conv1D does not exist")
    assert missing_definition(notebook("x = 1"), ExecutionRecord(), "Conv1D") == "the notebook does not define Conv1D"


def test_first_difference_names_index_and_values():
    expected = torch.zeros(2, 3)
    actual = expected.clone()
    actual[1, 2] = 0.5
    assert first_difference(actual, expected, 1e-4, 1e-4).startswith("output[1, 2] = 0.5, expected 0")
    assert first_difference(expected, expected, 1e-4, 1e-4) is None
    assert "shape [3, 2]" in first_difference(torch.zeros(3, 2), expected, 1e-4, 1e-4)
    assert "not finite" in first_difference(torch.full((2, 3), float("nan")), expected, 1e-4, 1e-4)


def test_the_students_own_names_are_never_flagged():
    nb = notebook("import torch.nn as nn", "class GRU(nn.Module):\n    def forward(self, x):\n        return GRU.helper(x)",
                  "class Model(nn.Module):\n    def __init__(self):\n        self.a = GRU()\n        self.b = nn.GRU(3, 4)")
    [finding] = forbidden_references(nb, ["Model"], {"GRU"})
    assert (finding.cell, finding.line, finding.resolved) == (3, 4, "torch.nn.GRU")


GRU_NAMES = {"gru", "gru_cell", "GRU", "GRUCell", "_VF"}


def test_a_cell_kept_as_gru_cell_and_a_demo_gru_are_the_students():
    nb = notebook("import torch\nimport torch.nn as nn",
                  "class GRUCell(nn.Module):\n    def forward(self, x, h):\n        gru = torch.tanh(x)\n        return gru",
                  "class GRU(nn.Module):\n    def __init__(self, i, h):\n        super().__init__()\n"
                  "        self.gru_cell = GRUCell(i, h)\n    def forward(self, x, h):\n        out = self.gru_cell(x, h)\n"
                  "        return out, h",
                  "gru = GRU(10, 20)\nout, h = gru(x, h0)\nbuiltin = nn.GRU(10, 20)")
    assert forbidden_references(nb, ["GRUCell", "GRU"], GRU_NAMES) == []


def test_a_demo_conv1d_instance_is_no_helper():
    nb = notebook("import torch.nn as nn", "class Conv1D(nn.Module):\n    def forward(self, x):\n        out = x\n        return out",
                  "conv1d = Conv1D(2, 7, 3)\nout = conv1d(seq)\nref = nn.Conv1d(2, 7, 3)")
    assert forbidden_references(nb, ["Conv1D"], FORBIDDEN) == []


@pytest.mark.parametrize("source, resolved", [
    ("import torch\nclass GRU:\n    def f(self, x):\n        return torch._VF.gru(x)", "torch._VF.gru"),
    ("from torch.nn import GRUCell as Cell\nclass GRU:\n    def f(self):\n        return Cell(1, 2)", "torch.nn.GRUCell"),
    ("import torch.nn as nn\nclass GRU:\n    def f(self, x):\n        return getattr(nn, 'GRU')(x)", "torch.nn.GRU"),
    ("class GRU:\n    def f(self, x):\n        from torch import gru\n        return gru(x)", "torch.gru"),
    ("from torch import *\nclass GRU:\n    def f(self, x):\n        return gru(x)", "torch.gru"),
    ("import torch.nn as nn\nbuilt = nn.GRU(3, 4)\nclass GRU:\n    def f(self, x):\n        return built(x)", "torch.nn.GRU"),
])
def test_library_objects_are_resolved_through_aliases(source, resolved):
    assert [f.resolved for f in forbidden_references(notebook(source), ["GRU"], GRU_NAMES)][-1:] == [resolved]


def test_a_local_variable_shadows_the_library_name():
    nb = notebook("from torch.nn.functional import conv1d",
                  "class Conv1D:\n    def forward(self, x):\n        conv1d = self.kernel\n        return conv1d(x)")
    assert forbidden_references(nb, ["Conv1D"], FORBIDDEN) == []


NN_GRU = Finding("GRU", "torch.nn.GRU", 3, 4, "self.check = nn.GRU(3, 4)")
NP_CONVOLVE = Finding("convolve", "numpy.convolve", 2, 9, "out = np.convolve(a, b)")


def test_the_trace_decides_and_the_source_says_where():
    failed = from_scratch_outcome("GRU", "GRU", [NN_GRU], [["torch.gru", "torch.sigmoid"]], ["gru"])
    assert failed.fraction == 0 and "at run time: torch.gru. In the source: 'GRU' in cell 3, line 4" in failed.message


def test_a_static_hit_the_trace_does_not_confirm_is_a_warning():
    warned = from_scratch_outcome("GRU", "GRU", [NN_GRU], [["torch.sigmoid"]], ["gru"])
    assert warned.fraction == 1 and warned.message.count("Warning (no points lost)") == 1
    assert warned.details["warnings"] == [NN_GRU.sentence()]


def test_numpy_is_confirmed_by_tensors_handed_to_numpy():
    handed = from_scratch_outcome("Conv1D", "convolution", [NP_CONVOLVE], [["TensorBase.numpy"]], ["conv"])
    assert handed.fraction == 0 and "Tensors go to numpy at run time inside Conv1D (TensorBase.numpy)" in handed.message
    assert from_scratch_outcome("Conv1D", "convolution", [NP_CONVOLVE], [["torch.add"]], ["conv"]).fraction == 1


def test_code_that_never_ran_is_not_verified():
    assert from_scratch_outcome("GRU", "GRU", [], [], ["gru"]).message.startswith("Not verified")
    assert from_scratch_outcome("GRU", "GRU", [NN_GRU], [], ["gru"]).fraction == 0
