"""GRU from scratch: the form search on many layouts (in process), and every fixture through the whole pipeline."""

import pytest
import torch
import torch.nn as nn

from conftest import ROOT, grade_fixtures, grade_notebook, message, points, repo_rubric
from grader.exercises.gru import checks as gru_checks, kernel as gru_kernel, plan as gru_plan, schema as gru_schema
from grader.probe import ProbeData
from grader.kernel.runtime import Recorder

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


def run_search(module: nn.Module, forms=gru_checks.VALID_FORMS, size_in=I, hidden=H,
               **kwargs) -> gru_checks.SearchResult:
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
        x, h = torch.randn(12, size_in, generator=generator), torch.rand(12, hidden, generator=generator) * 2 - 1
        output = module(x, h)
    params = [(name, p.detach()) for name, p in module.named_parameters()]
    return gru_checks.search(params, size_in, hidden, x, h, output, forms, **kwargs)


@pytest.mark.parametrize("module, reset, update", [
    (TorchLayout(), "after", "old"),
    (D2L(), "before", "old"),
    (Concat(), "before", "new"),
    (SixBiases(), "after", "old"),
])
def test_search_finds_every_standard_layout(module, reset, update):
    found = run_search(module)
    assert found.form == gru_checks.Form(reset, update), found.problem
    assert found.tried < gru_checks.SEARCH_BUDGET


def test_search_names_where_each_gate_lives():
    assert run_search(D2L()).mapping.sources["W_hn"] == "W_hh (transposed)"
    assert run_search(Concat()).mapping.sources["W_hz"] == "gates.weight rows [6:12] h-part"
    assert run_search(TorchLayout()).mapping.sources["b_hn"] == "cell.bias_hh [12:18]"


def test_search_rejects_a_wrong_cell_and_keeps_the_closest_reading():
    found = run_search(Broken())
    assert found.form is None and found.closest is not None and not found.problem


def test_search_explains_parameters_that_fit_no_gru():
    assert "'proj.weight' [5, 4] has no place in a GRU" in run_search(Odd()).problem


class Stacked(nn.Module):
    """[3, I, H] input weights, [3, H, H] hidden weights, [3, H] biases (gates r z n), used as x @ W[g]."""

    def __init__(self, size_in=I, hidden=H):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(3, size_in, hidden))
        self.U = nn.Parameter(torch.zeros(3, hidden, hidden))
        self.b = nn.Parameter(torch.zeros(3, hidden))

    def forward(self, x, h):
        W, U, b = self.W, self.U, self.b
        r = torch.sigmoid(x @ W[0] + h @ U[0] + b[0])
        z = torch.sigmoid(x @ W[1] + h @ U[1] + b[1])
        n = torch.tanh(x @ W[2] + (r * h) @ U[2] + b[2])
        return (1 - z) * n + z * h


class GatesInside(nn.Module):
    """[H, 3, I] and [H, 3, H] weights through einsum, biases [2, 3H]; h' = z·n + (1−z)·h."""

    def __init__(self, size_in=I, hidden=H):
        super().__init__()
        self.hidden = hidden
        self.W = nn.Parameter(torch.zeros(hidden, 3, size_in))
        self.U = nn.Parameter(torch.zeros(hidden, 3, hidden))
        self.b = nn.Parameter(torch.zeros(2, 3 * hidden))

    def forward(self, x, h):
        gx = torch.einsum("bi,ogi->bgo", x, self.W) + self.b[0].view(3, self.hidden)
        gh = torch.einsum("bi,ogi->bgo", h, self.U) + self.b[1].view(3, self.hidden)
        r, z = torch.sigmoid(gx[:, 0] + gh[:, 0]), torch.sigmoid(gx[:, 1] + gh[:, 1])
        return z * torch.tanh(gx[:, 2] + r * gh[:, 2]) + (1 - z) * h


@pytest.mark.parametrize("size_in, hidden", [(4, 6), (3, 5)])
@pytest.mark.parametrize("module, reset, update, source", [
    (Stacked, "before", "old", ("W_xz", "W[1, :, :] (transposed)")),
    (GatesInside, "after", "new", ("b_hn", "b[1, 12:18]")),
])
def test_search_reads_tensors_of_any_rank_and_axis_order(module, reset, update, source, size_in, hidden):
    found = run_search(module(size_in, hidden), size_in=size_in, hidden=hidden)
    assert found.form == gru_checks.Form(reset, update), found.problem
    assert found.tried < 2000 and " as 3 input blocks" in found.reading
    if hidden == 6:
        assert found.mapping.sources[source[0]] == source[1]


# --------------------------------------------------------------------------- reading by behaviour, in process

class FlatVector(nn.Module):
    """Every parameter in one flat vector, sliced in forward; input weights halved, U stored transposed, six biases,
    h' = z·n + (1−z)·h: no reading of the tensor as gate blocks fits."""

    def __init__(self, size_in, hidden):
        super().__init__()
        self.size_in, self.hidden = size_in, hidden
        self.theta = nn.Parameter(torch.zeros(3 * hidden * (size_in + hidden) + 6 * hidden))

    def forward(self, x, h):
        i, k, t = self.size_in, self.hidden, self.theta
        w = t[:3 * k * i].view(3 * k, i) / 2
        u = t[3 * k * i:3 * k * (i + k)].view(k, 3 * k).T
        b = t[3 * k * (i + k):].view(2, 3 * k)
        gx, gh = x @ w.T + b[0], h @ u.T + b[1]
        r, z = torch.sigmoid(gx[:, :k] + gh[:, :k]), torch.sigmoid(gx[:, k:2 * k] + gh[:, k:2 * k])
        return z * torch.tanh(gx[:, 2 * k:] + r * gh[:, 2 * k:]) + (1 - z) * h


class WithUnusedState(D2L):
    def __init__(self, size_in, hidden):
        super().__init__()
        self.h0 = nn.Parameter(torch.zeros(H))


class NoResetCell(nn.Module):
    def __init__(self, size_in, hidden):
        super().__init__()
        self.x2h, self.h2h = nn.Linear(size_in, 2 * hidden), nn.Linear(hidden, 2 * hidden)

    def forward(self, x, h):
        (xz, xn), (hz, hn) = self.x2h(x).chunk(2, 1), self.h2h(h).chunk(2, 1)
        z = torch.sigmoid(xz + hz)
        return (1 - z) * torch.tanh(xn + hn) + z * h


class SigmoidCandidate(nn.Module):
    def __init__(self, size_in, hidden):
        super().__init__()
        self.x2h, self.h2h = nn.Linear(size_in, 3 * hidden), nn.Linear(hidden, 3 * hidden)

    def forward(self, x, h):
        (xr, xz, xn), (hr, hz, hn) = self.x2h(x).chunk(3, 1), self.h2h(h).chunk(3, 1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        return (1 - z) * torch.sigmoid(xn + r * hn) + z * h


def probe_cell(cell_class, size_in=I, hidden=H):
    """The probe and the cell's identification, in this process (no kernel): one configuration."""
    params = gru_plan.PlanParams(configs=[[3, 5, size_in, hidden]])
    plan = gru_plan.make_plan(params, torch.Generator().manual_seed(5), quick=True)
    recorder = Recorder()
    gru_kernel.probe({"GRUCell": cell_class}, plan.spec, plan.inputs, recorder)
    data = ProbeData(gru_schema.ProbeValues.model_validate(recorder.values), recorder.errors, recorder.tensors)
    run = data.values.cells["configs"][0]
    return gru_checks.identify(data, plan.inputs, run, "configs/0")


def test_behaviour_reads_a_cell_whose_tensors_fit_no_block_reading():
    found, why = probe_cell(FlatVector)
    assert not why and found.behaviour is not None and found.form == gru_checks.Form("after", "new")
    assert found.reading.startswith("matched by behaviour")
    assert found.mapping.sources["W_hn"] == "theta (36 elements)"


def test_behaviour_names_elements_that_change_nothing():
    found, _ = probe_cell(WithUnusedState)
    assert found.form == gru_checks.Form("before", "old") and found.behaviour.unused[:2] == ["h0[0]", "h0[1]"]


@pytest.mark.parametrize("cell_class, words", [
    (NoResetCell, "it has no reset gate"),
    (SigmoidCandidate, "through a sigmoid where tanh belongs"),
])
def test_behaviour_does_not_rescue_a_wrong_cell(cell_class, words):
    found, why = probe_cell(cell_class)
    assert found.form is None and words in why


class WithHugeBuffer(D2L):
    def __init__(self, size_in, hidden):
        super().__init__()
        self.scratch = nn.Parameter(torch.zeros(5001))


def test_a_cell_too_big_to_read_by_behaviour_says_so():
    found, why = probe_cell(WithHugeBuffer)
    assert found.form is None
    assert why.endswith("read by its behaviour instead, its behaviour could not be measured: it has 5199 parameter"
                        " elements (at most 4000)")


def test_behaviour_says_what_it_saw():
    plan = gru_plan.make_plan(gru_plan.PlanParams(configs=[[3, 5, I, H]]), torch.Generator().manual_seed(5), quick=True)
    recorder = Recorder()
    gru_kernel.probe({"GRUCell": SigmoidCandidate}, plan.spec, plan.inputs, recorder)
    data = ProbeData(gru_schema.ProbeValues.model_validate(recorder.values), recorder.errors, recorder.tensors)
    reading = gru_checks.read_by_behaviour(data, plan.inputs, data.values.cells["configs"][0], "configs/0")
    assert reading.problem.startswith("with every parameter set to 0 a GRU returns h/2")


# --------------------------------------------------------------------------- every fixture, through the pipeline

NAMES = ["gru_fused_zrn", "gru_reset_before", "gru_sigmoid_candidate", "gru_no_reset", "gru_batch_axis",
         "gru_builtin_cell", "gru_stacked_3d_weights", "gru_flat_parameter_vector", "gru_builtin_only_in_a_check_method"]


@pytest.fixture(scope="module")
def graded(grade_once):
    return grade_fixtures(NAMES, repo_rubric("gru"), grade_once)


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
    assert "at run time: torch.gru_cell" in message(graded["gru_builtin_cell"], "from_scratch")


@pytest.mark.slow
def test_a_wrong_cell_unrolled_correctly_keeps_the_layer_points(graded):
    for name in ("gru_sigmoid_candidate", "gru_no_reset"):
        assert points(graded[name])["layer"] == 20


@pytest.mark.slow
def test_the_report_says_which_reading_matched(graded):
    stacked = graded["gru_stacked_3d_weights"].checks[3]
    reading = next(iter(stacked.details["forms"].values()))["reading"]
    assert reading.startswith("parameters read as: W [3, 4, 6] as 3 input blocks (transposed)")
    assert "read from its parameter tensors" in stacked.message
    flat = graded["gru_flat_parameter_vector"].checks[3]
    assert flat.points == 30 and "matched by behaviour" in flat.message
    assert next(iter(flat.details["forms"].values()))["parameters"]["W_hn"] == "theta (36 elements)"


@pytest.mark.slow
def test_a_builtin_that_never_runs_is_a_warning(graded):
    check = graded["gru_builtin_only_in_a_check_method"].checks[1]
    assert check.id == "from_scratch" and check.points == 15
    assert check.details["warnings"] == [
        "'GRUCell' in cell 3, line 24: builtin = nn.GRUCell(x.shape[1], h.shape[1]) (torch.nn.GRUCell)",
        "'GRUCell' in cell 3, line 25: return (builtin(x, h) - self(x, h)).abs().max() (torch.nn.GRUCell)"]
