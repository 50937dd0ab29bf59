"""GRU from scratch: the form search on many layouts (in process), and every fixture through the whole pipeline."""

import pytest
import torch
import torch.nn as nn

from conftest import ROOT, grade_fixtures, grade_notebook, message, points, repo_rubric
from grader.exercises import gru

I, H = 4, 6


# --------------------------------------------------------------------------- the search, in process

class TorchLayout(nn.Module):
    """nn.GRU's own parameters (weight_ih [3H, I], …, r z n order)."""

    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(I, H)

    def forward(self, x, h):
        return self.cell(x, h)


class D2L(nn.Module):
    """[in, out] weights used as x @ W, 3 free biases, reset before the matmul."""

    def __init__(self):
        super().__init__()
        for gate in "zrh":
            setattr(self, f"W_x{gate}", nn.Parameter(torch.zeros(I, H)))
            setattr(self, f"W_h{gate}", nn.Parameter(torch.zeros(H, H)))
            setattr(self, f"b_{gate}", nn.Parameter(torch.zeros(H)))

    def forward(self, x, h):
        z = torch.sigmoid(x @ self.W_xz + h @ self.W_hz + self.b_z)
        r = torch.sigmoid(x @ self.W_xr + h @ self.W_hr + self.b_r)
        n = torch.tanh(x @ self.W_xh + (r * h) @ self.W_hh + self.b_h)
        return z * h + (1 - z) * n


class Concat(nn.Module):
    """Linear(I+H, 2H) on [x, h] for r, z; Linear(I+H, H) on [x, r·h]; h' = z·n + (1−z)·h."""

    def __init__(self):
        super().__init__()
        self.gates = nn.Linear(I + H, 2 * H)
        self.candidate = nn.Linear(I + H, H)

    def forward(self, x, h):
        r, z = torch.sigmoid(self.gates(torch.cat([x, h], 1))).chunk(2, 1)
        return z * torch.tanh(self.candidate(torch.cat([x, r * h], 1))) + (1 - z) * h


class SixBiases(nn.Module):
    """Separate [H, I] / [H, H] weights and six bias vectors whose names say nothing."""

    def __init__(self):
        super().__init__()
        self.w = nn.ParameterList([nn.Parameter(torch.zeros(H, I if k < 3 else H)) for k in range(6)])
        self.b = nn.ParameterList([nn.Parameter(torch.zeros(H)) for _ in range(6)])

    def forward(self, x, h):
        w, b = self.w, self.b
        r = torch.sigmoid(x @ w[1].T + b[4] + h @ w[5].T + b[0])
        z = torch.sigmoid(x @ w[0].T + b[2] + h @ w[3].T + b[5])
        n = torch.tanh(x @ w[2].T + b[1] + r * (h @ w[4].T + b[3]))
        return (1 - z) * n + z * h


class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(I, 5)

    def forward(self, x, h):
        return h


class Broken(TorchLayout):
    def forward(self, x, h):
        return super().forward(x, h) * 0.5


def run_search(module: nn.Module, forms=gru.VALID_FORMS, **kwargs) -> gru.SearchResult:
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
        x, h = torch.randn(12, I, generator=generator), torch.rand(12, H, generator=generator) * 2 - 1
        output = module(x, h)
    params = [(name, p.detach()) for name, p in module.named_parameters()]
    return gru.search(params, I, H, x, h, output, forms, **kwargs)


@pytest.mark.parametrize("module, reset, update", [
    (TorchLayout(), "after", "old"),
    (D2L(), "before", "old"),
    (Concat(), "before", "new"),
    (SixBiases(), "after", "old"),
])
def test_search_finds_every_standard_layout(module, reset, update):
    found = run_search(module)
    assert found.form == gru.Form(reset, update), found.problem
    assert found.tried < gru.SEARCH_BUDGET


def test_search_names_where_each_gate_lives():
    assert run_search(D2L()).mapping.sources["W_hn"] == "W_hh (transposed)"
    assert run_search(Concat()).mapping.sources["W_hz"] == "gates.weight rows [6:12] h-part"
    assert run_search(TorchLayout()).mapping.sources["b_hn"] == "cell.bias_hh [12:18]"


def test_search_rejects_a_wrong_cell_and_keeps_the_closest_reading():
    found = run_search(Broken())
    assert found.form is None and found.closest is not None and not found.problem


def test_search_explains_parameters_that_fit_no_gru():
    assert "'proj.weight' [5, 4] has no place in a GRU" in run_search(Odd()).problem


# --------------------------------------------------------------------------- every fixture, through the pipeline

FULL = {"constructible": 10, "from_scratch": 15, "shapes": 10, "cell": 30, "layer": 20, "gradients": 10,
        "param_count": 5}
EXPECTED = {
    "gru_correct_slides": FULL,
    "gru_fused_zrn": FULL,
    "gru_reset_before": FULL,
    "gru_no_bias": FULL,
    "gru_sigmoid_candidate": {**FULL, "cell": 0},
    "gru_no_reset": {**FULL, "cell": 0, "param_count": 0},
    "gru_batch_axis": {**FULL, "shapes": 5, "layer": 0},
    "gru_builtin_cell": {**FULL, "from_scratch": 0, "shapes": 0, "cell": 0, "layer": 0},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_fixtures(list(EXPECTED), repo_rubric("gru"), tmp_path_factory.mktemp("gru"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_fixture_scores(graded, name):
    result = graded[name]
    assert result.status == "graded", result.message
    assert points(result) == EXPECTED[name]


@pytest.mark.slow
def test_reference_scores_full(tmp_path):
    result = grade_notebook(ROOT / "reference" / "gru.ipynb", repo_rubric("gru"), tmp_path)
    assert (result.status, result.score) == ("graded", 100)


@pytest.mark.slow
def test_forms_and_mistakes_are_named(graded):
    assert "reset W_hn (r·h), before the recurrent matmul" in message(graded["gru_reset_before"], "cell")
    assert "h' = z·n + (1−z)·h" in message(graded["gru_fused_zrn"], "cell")
    assert "sigmoid where tanh belongs" in message(graded["gru_sigmoid_candidate"], "cell")
    assert "it has no reset gate" in message(graded["gru_no_reset"], "cell")
    assert "has 144 trainable parameters" in message(graded["gru_no_reset"], "param_count")
    assert "it steps over the batch axis" in message(graded["gru_batch_axis"], "layer")
    assert "stepping over dim 0 (batch, 3) instead of dim 1 (time, 5)" in message(graded["gru_batch_axis"], "shapes")
    assert "self.cell = nn.GRUCell(input_size, hidden_size)" in message(graded["gru_builtin_cell"], "from_scratch")


@pytest.mark.slow
def test_a_wrong_cell_unrolled_correctly_keeps_the_layer_points(graded):
    for name in ("gru_sigmoid_candidate", "gru_no_reset"):
        assert points(graded[name])["layer"] == 20
