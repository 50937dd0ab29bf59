"""LSTM from scratch: the gate-by-gate reading of many parameter layouts, the behavioural reading and the diagnoses
(in process, through the kernel-side probe without a kernel); the reference through the whole pipeline. Every
example and verdict fixture is graded by tests/test_verdicts.py."""

import pytest
import torch
import torch.nn as nn

from conftest import ROOT, grade_notebook, repo_rubric
from grader.exercises.lstm import (checks as lstm_checks, kernel as lstm_kernel, plan as lstm_plan,
                                   schema as lstm_schema)
from grader.kernel.runtime import Recorder
from grader.probe import ProbeData

I, H = 4, 6


def pre(module: nn.Module, gate: str, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """x W_xg + h W_hg + b_g for modules that keep one parameter per gate and side."""
    return x @ getattr(module, f"W_x{gate}").T + h @ getattr(module, f"W_h{gate}").T + getattr(module, f"b_{gate}")


class PerGate(nn.Module):
    """The slides' layout: [H, I] and [H, H] weights and one bias per gate."""

    def __init__(self, size_in=I, hidden=H):
        super().__init__()
        for gate in "ifgo":
            setattr(self, f"W_x{gate}", nn.Parameter(torch.zeros(hidden, size_in)))
            setattr(self, f"W_h{gate}", nn.Parameter(torch.zeros(hidden, hidden)))
            setattr(self, f"b_{gate}", nn.Parameter(torch.zeros(hidden)))

    def gates(self, x, h):
        return {gate: pre(self, gate, x, h) for gate in "ifgo"}

    def forward(self, x, state):
        h, c = state
        p = self.gates(x, h)
        c = torch.sigmoid(p["f"]) * c + torch.sigmoid(p["i"]) * torch.tanh(p["g"])
        return torch.sigmoid(p["o"]) * torch.tanh(c), c


class TorchLayout(nn.Module):
    """nn.LSTMCell's own parameters: weight_ih [4H, I], weight_hh [4H, H], two biases [4H], gates i f g o."""

    def __init__(self, size_in=I, hidden=H):
        super().__init__()
        self.cell = nn.LSTMCell(size_in, hidden)

    def forward(self, x, state):
        return self.cell(x, state)


class FusedOrder(nn.Module):
    """Weights stored [in, 4H] used as x @ W, biases [2, 4H], gates in (o, g, f, i) order."""

    def __init__(self, size_in=I, hidden=H):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(size_in, 4 * hidden))
        self.U = nn.Parameter(torch.zeros(hidden, 4 * hidden))
        self.b = nn.Parameter(torch.zeros(2, 4 * hidden))

    def forward(self, x, state):
        h, c = state
        o, g, f, i = (x @ self.W + self.b[0] + h @ self.U + self.b[1]).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class ConcatHX(nn.Module):
    """One bias-free Linear over [h, x] (hidden first), gates (f, i, o, g)."""

    def __init__(self, size_in=I, hidden=H):
        super().__init__()
        self.gates = nn.Linear(hidden + size_in, 4 * hidden, bias=False)

    def forward(self, x, state):
        h, c = state
        f, i, o, g = self.gates(torch.cat([h, x], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class EightBiases(PerGate):
    """Per-gate weights and eight unnamed bias vectors, two per gate."""

    def __init__(self, size_in=I, hidden=H):
        super().__init__(size_in, hidden)
        self.extra = nn.ParameterList([nn.Parameter(torch.zeros(hidden)) for _ in range(4)])

    def gates(self, x, h):
        return {gate: pre(self, gate, x, h) + self.extra[k] for k, gate in enumerate("gofi")}


class FlatVector(nn.Module):
    """Every parameter in one flat vector, input weights halved, U stored transposed: no block reading fits."""

    def __init__(self, size_in=I, hidden=H):
        super().__init__()
        self.size_in, self.hidden = size_in, hidden
        self.theta = nn.Parameter(torch.zeros(4 * hidden * (size_in + hidden) + 4 * hidden))

    def forward(self, x, state):
        h, c = state
        i, k, t = self.size_in, self.hidden, self.theta
        w = t[:4 * k * i].view(4 * k, i) / 2
        u = t[4 * k * i:4 * k * (i + k)].view(k, 4 * k).T
        a, f, g, o = (x @ w.T + h @ u.T + t[4 * k * (i + k):]).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(a) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class WithUnusedState(PerGate):
    def __init__(self, size_in=I, hidden=H):
        super().__init__(size_in, hidden)
        self.h0 = nn.Parameter(torch.zeros(hidden))


class ForgetUnused(PerGate):
    def forward(self, x, state):
        h, c = state
        p = self.gates(x, h)
        c = c + torch.sigmoid(p["i"]) * torch.tanh(p["g"])
        return torch.sigmoid(p["o"]) * torch.tanh(c), c


class SigmoidCandidate(PerGate):
    def forward(self, x, state):
        h, c = state
        p = self.gates(x, h)
        c = torch.sigmoid(p["f"]) * c + torch.sigmoid(p["i"]) * torch.sigmoid(p["g"])
        return torch.sigmoid(p["o"]) * torch.tanh(c), c


class SigmoidOutput(PerGate):
    def forward(self, x, state):
        h, c = state
        p = self.gates(x, h)
        c = torch.sigmoid(p["f"]) * c + torch.sigmoid(p["i"]) * torch.tanh(p["g"])
        return torch.sigmoid(p["o"]) * torch.sigmoid(c), c


class NoCellStateInput(PerGate):
    """f computed, but c' = i·g: the previous cell state is dropped."""

    def forward(self, x, state):
        h, c = state
        p = self.gates(x, h)
        c = torch.sigmoid(p["i"]) * torch.tanh(p["g"]) + 0 * torch.sigmoid(p["f"])
        return torch.sigmoid(p["o"]) * torch.tanh(c), c


class ThreeGates(nn.Module):
    """No forget-gate parameters at all: fused [3H] projections."""

    def __init__(self, size_in=I, hidden=H):
        super().__init__()
        self.x2h, self.h2h = nn.Linear(size_in, 3 * hidden), nn.Linear(hidden, 3 * hidden)

    def forward(self, x, state):
        h, c = state
        i, g, o = (self.x2h(x) + self.h2h(h)).chunk(3, 1)
        c = c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class ReturnsH(PerGate):
    def forward(self, x, state):
        return super().forward(x, state)[0]


def probe_cell(cell_class, size_in=I, hidden=H):
    """The probe and the cell's identification, in this process (no kernel): one configuration."""
    params = lstm_plan.PlanParams(configs=[[3, 5, size_in, hidden]])
    plan = lstm_plan.make_plan(params, torch.Generator().manual_seed(5), quick=True)
    recorder = Recorder()
    lstm_kernel.probe({"LSTMCell": cell_class}, plan.spec, plan.inputs, recorder)
    data = ProbeData(lstm_schema.ProbeValues.model_validate(recorder.values), recorder.errors, recorder.tensors)
    run = data.values.cells["configs"][0]
    return lstm_checks.identify(data, plan.inputs, run, "configs/0")


# --------------------------------------------------------------------------- readings of the tensors

@pytest.mark.parametrize("size_in, hidden", [(4, 6), (5, 3)])
@pytest.mark.parametrize("cell_class, reading, source", [
    (PerGate, "W_xi [6, 4] as 1 input block", ("W_hg", "W_hg")),
    (TorchLayout, "cell.weight_ih [24, 4] as 4 input blocks", ("b_o", "cell.bias_ih [18:24] + cell.bias_hh [18:24]")),
    (FusedOrder, "W [4, 24] as 4 input blocks (transposed)", ("W_xi", "W columns [18:24] (transposed)")),
    (ConcatHX, "gates.weight [24, 10] as 4 [x, h] blocks", ("W_hf", "gates.weight rows [0:6] [h, x] h-part")),
    (EightBiases, "extra.3 [6] as 1 bias vector", ("b_i", "b_i + extra.3")),
])
def test_every_layout_is_read_from_its_tensors(cell_class, reading, source, size_in, hidden):
    found, why = probe_cell(cell_class, size_in, hidden)
    assert not why and found.form == lstm_checks.VALID_FORM and found.behaviour is None
    if hidden == 6:
        assert reading in found.reading and found.mapping.sources[source[0]] == source[1]
    assert found.tried < 200


def test_the_bias_count_follows_the_reading():
    assert probe_cell(ConcatHX)[0].mapping.biases == 0
    assert probe_cell(PerGate)[0].mapping.biases == 1
    assert probe_cell(TorchLayout)[0].mapping.biases == 2


# --------------------------------------------------------------------------- reading by behaviour

def test_behaviour_reads_a_cell_whose_tensors_fit_no_block_reading():
    found, why = probe_cell(FlatVector)
    assert not why and found.behaviour is not None and found.form == lstm_checks.VALID_FORM
    assert found.reading.startswith("matched by behaviour")
    assert found.mapping.sources["W_hi"] == "theta (36 elements)"


def test_behaviour_names_elements_that_change_nothing():
    found, why = probe_cell(WithUnusedState)
    assert not why and found.behaviour.unused[:2] == ["h0[0]", "h0[1]"]


def test_behaviour_says_what_it_saw():
    class NoParameters(nn.Module):
        def __init__(self, size_in, hidden):
            super().__init__()

        def forward(self, x, state):
            return state

    assert "no parameters" in probe_cell(NoParameters)[1]
    params = lstm_plan.PlanParams(configs=[[3, 5, I, H]])
    plan = lstm_plan.make_plan(params, torch.Generator().manual_seed(5), quick=True)
    recorder = Recorder()
    lstm_kernel.probe({"LSTMCell": SigmoidOutput}, plan.spec, plan.inputs, recorder)
    data = ProbeData(lstm_schema.ProbeValues.model_validate(recorder.values), recorder.errors, recorder.tensors)
    reading = lstm_checks.read_by_behaviour(data, plan.inputs, data.values.cells["configs"][0], "configs/0")
    assert reading.problem.startswith("with every parameter set to 0 an LSTM returns c' = c/2")


# --------------------------------------------------------------------------- diagnoses

@pytest.mark.parametrize("cell_class, words", [
    (ForgetUnused, "the forget gate f is computed but never scales c"),
    (SigmoidCandidate, "the candidate g goes through a sigmoid where tanh belongs"),
    (SigmoidOutput, "h' = o·σ(c')"),
    (NoCellStateInput, "c' does not depend on the previous cell state c"),
    (ThreeGates, "its weights hold 3 input-to-hidden and 3 hidden-to-hidden blocks"),
])
def test_mistakes_are_named_and_not_rescued_by_behaviour(cell_class, words):
    found, why = probe_cell(cell_class)
    assert found.form is None and words in why, why


def test_a_cell_returning_h_alone_is_named():
    found, why = probe_cell(ReturnsH)
    assert found.form is None and "not the pair (h, c)" in why


def test_a_wrong_reading_is_caught_by_the_verification():
    class Scaled(PerGate):
        def forward(self, x, state):
            h, c = super().forward(x, state)
            return h * 0.999, c

    found, why = probe_cell(Scaled)
    assert found.form is None and why.startswith("no LSTM reading of its parameters reproduces its outputs")


# --------------------------------------------------------------------------- the whole pipeline

@pytest.mark.slow
def test_reference_scores_full(tmp_path):
    result = grade_notebook(ROOT / "reference" / "lstm.ipynb", repo_rubric("lstm"), tmp_path)
    assert (result.status, result.score) == ("graded", 100)
