"""Build the LSTM notebooks: the reference, example submissions and their test fixtures.

Run from the repository root:

    python tools/make_lstm_notebooks.py

Every notebook is written without outputs (the grader executes them); re-running gives identical files.

    reference/lstm.ipynb
    submissions/<student_id>/lstm.ipynb
    tests/fixtures/notebooks/lstm_<scenario>.ipynb
"""

from __future__ import annotations

from typing import Callable

import nbformat

from make_notebooks import FIXTURES, REFERENCE, ROOT, SUBMISSIONS, code, md, notebook, write

IMPORTS = """\
import torch
import torch.nn as nn"""

TITLE = "Exercise 6 — LSTM from scratch"

# The lecture slides (001_*.txt, "Long-Short Term Memory (LSTM)"), as printed: the cell declares its input-gate
# weight as W_i but its forward uses W_ii. The slide's second half lost its indentation in the text export; it is
# restored here as the code block it continues.
SLIDES_LSTM_CELL_VERBATIM = """\
class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(LSTMCell, self).__init__()
        self.hidden_size = hidden_size
        self.input_size = input_size

        # Input gate components
        self.W_i = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_hi = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_i = nn.Parameter(torch.Tensor(hidden_size))

        # Forget gate components
        self.W_if = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_hf = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_f = nn.Parameter(torch.Tensor(hidden_size))

        # Cell gate components
        self.W_ig = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_hg = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_g = nn.Parameter(torch.Tensor(hidden_size))

        # Output gate components
        self.W_io = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_ho = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_o = nn.Parameter(torch.Tensor(hidden_size))

        self.init_weights()

    def init_weights(self):
        for param in self.parameters():
            nn.init.uniform_(param, -0.1, 0.1)

    def forward(self, x, hidden):
        h_prev, c_prev = hidden

        i_t = torch.sigmoid(x @ self.W_ii.T + h_prev @ self.W_hi.T + self.b_i)
        f_t = torch.sigmoid(x @ self.W_if.T + h_prev @ self.W_hf.T + self.b_f)
        g_t = torch.tanh(x @ self.W_ig.T + h_prev @ self.W_hg.T + self.b_g)
        o_t = torch.sigmoid(x @ self.W_io.T + h_prev @ self.W_ho.T + self.b_o)

        c_t = f_t * c_prev + i_t * g_t
        h_t = o_t * torch.tanh(c_t)

        return (h_t, c_t)"""

# The one typo fixed: the input gate's weight is declared as W_ii, the name forward uses (and the equations'
# W_{ii}).
SLIDES_LSTM_CELL = SLIDES_LSTM_CELL_VERBATIM.replace("self.W_i = nn.Parameter", "self.W_ii = nn.Parameter")

SLIDES_LSTM_LAYER = """\
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(LSTM, self).__init__()
        self.hidden_size = hidden_size
        self.cell = LSTMCell(input_size, hidden_size)

    def forward(self, x, prev_state):
        batch_size, seq_len, _ = x.size()
        h, c = prev_state

        outputs = []
        for t in range(seq_len):
            x_t = x[:, t, :]
            (h, c) = self.cell(x_t, (h, c))
            outputs.append(h)

        return torch.stack(outputs, dim=1), (h, c)"""

# The reference: nn.LSTM's own form and layout (fused [4H, ·] weights in i, f, g, o order, two bias vectors).
REFERENCE_LSTM_CELL = """\
class LSTMCell(nn.Module):
    \"\"\"One LSTM step, in nn.LSTM's layout: every gate's input and recurrent weights in two fused Linears.\"\"\"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        # The four gates stacked in (i, f, g, o) order like nn.LSTM.
        self.x2h = nn.Linear(input_size, 4 * hidden_size)
        self.h2h = nn.Linear(hidden_size, 4 * hidden_size)

    def forward(self, x, state):
        # x: [batch, input_size], state: (h, c), each [batch, hidden_size]
        h, c = state
        i, f, g, o = (self.x2h(x) + self.h2h(h)).chunk(4, dim=1)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)   # input, forget and output gates
        g = torch.tanh(g)                                                 # candidate cell state
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, c"""

REFERENCE_LSTM_LAYER = """\
class LSTM(nn.Module):
    \"\"\"A single-layer, batch-first LSTM: the cell stepped over the time axis.\"\"\"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = LSTMCell(input_size, hidden_size)

    def forward(self, x, state):
        # x: [batch, time, input_size], state: (h0, c0), each [batch, hidden_size]
        h, c = state
        outputs = []
        for t in range(x.shape[1]):
            h, c = self.cell(x[:, t], (h, c))
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h, c)   # [batch, time, hidden], ([batch, hidden], [batch, hidden])"""

# Fused input and recurrent projections in (g, i, f, o) order, weights stored [in, 4H] and used as x @ W.
VECTORISED_LSTM_CELL = """\
class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.W = nn.Parameter(torch.randn(input_size, 4 * hidden_size) * 0.1)
        self.U = nn.Parameter(torch.randn(hidden_size, 4 * hidden_size) * 0.1)
        self.b = nn.Parameter(torch.zeros(4 * hidden_size))

    def forward(self, x, state):
        h, c = state
        g, i, f, o = (x @ self.W + h @ self.U + self.b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c"""

VECTORISED_LSTM_LAYER = """\
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = LSTMCell(input_size, hidden_size)

    def forward(self, x, state):
        outputs = []
        for x_t in x.unbind(dim=1):
            state = self.cell(x_t, state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state"""

SIGMOID_LSTM_CELL = SLIDES_LSTM_CELL.replace("g_t = torch.tanh(", "g_t = torch.sigmoid(")

BUILTIN_LSTM_CELL = """\
class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden_size)

    def forward(self, x, state):
        return self.cell(x, state)"""

LSTM_TEST = """\
cell = LSTMCell(10, 20)
layer = LSTM(10, 20)
x = torch.randn(3, 7, 10)
h0, c0 = torch.zeros(3, 20), torch.zeros(3, 20)
h1, c1 = cell(x[:, 0], (h0, c0))
print(h1.shape, c1.shape)            # [3, 20] [3, 20]
outputs, (h_T, c_T) = layer(x, (h0, c0))
print(outputs.shape, h_T.shape, c_T.shape)   # [3, 7, 20] [3, 20] [3, 20]"""


def reference_lstm() -> nbformat.NotebookNode:
    intro = f"""\
# {TITLE} (reference solution)

The slides' LSTM (Hochreiter & Schmidhuber, 1997), without `nn.LSTM` or `nn.LSTMCell`.

- `LSTMCell(input_size, hidden_size)`: `forward(x, (h, c))`, x `[batch, input_size]`, h and c
  `[batch, hidden_size]`, returns the new `(h, c)`.
- `LSTM(input_size, hidden_size)`: `forward(x, (h0, c0))`, x `[batch, time, input_size]` (batch first), returns
  `(outputs [batch, time, hidden_size], (h_T, c_T))`.

$$i = \\sigma(W_{{ii}} x + W_{{hi}} h + b_i) \\qquad f = \\sigma(W_{{if}} x + W_{{hf}} h + b_f) \\qquad
o = \\sigma(W_{{io}} x + W_{{ho}} h + b_o)$$
$$g = \\tanh(W_{{ig}} x + W_{{hg}} h + b_g) \\qquad c' = f \\odot c + i \\odot g \\qquad h' = o \\odot \\tanh(c')$$

Any layout of the weights is as good: one parameter per gate as in the slides, fused gates in any order,
one `Linear` over `[x, h]`, no biases, one or two per gate."""

    compare = """\
# nn.LSTM is used here only as the yardstick, outside our classes: copy our weights into it and compare.
torch.manual_seed(0)
for batch, time, size_in, hidden in [(3, 5, 4, 6), (2, 7, 3, 5), (1, 1, 8, 2)]:
    ours = LSTM(size_in, hidden)
    builtin = nn.LSTM(size_in, hidden, batch_first=True)
    with torch.no_grad():
        builtin.weight_ih_l0.copy_(ours.cell.x2h.weight)
        builtin.weight_hh_l0.copy_(ours.cell.h2h.weight)
        builtin.bias_ih_l0.copy_(ours.cell.x2h.bias)
        builtin.bias_hh_l0.copy_(ours.cell.h2h.bias)
    x, h0, c0 = torch.randn(batch, time, size_in), torch.randn(batch, hidden), torch.randn(batch, hidden)
    outputs, (h_T, c_T) = ours(x, (h0, c0))
    expected, (expected_h, expected_c) = builtin(x, (h0[None], c0[None]))
    assert outputs.shape == (batch, time, hidden) and h_T.shape == c_T.shape == (batch, hidden)
    torch.testing.assert_close(outputs, expected)
    torch.testing.assert_close(h_T, expected_h[0])
    torch.testing.assert_close(c_T, expected_c[0])
    print(f"batch={batch} time={time} input={size_in} hidden={hidden}: max |diff| = "
          f"{(outputs - expected).abs().max().item():.1e}")
print("LSTM matches nn.LSTM.")"""

    gradients = """\
# Every parameter receives a gradient.
layer = LSTM(4, 6)
outputs, (h_T, c_T) = layer(torch.randn(3, 5, 4), (torch.zeros(3, 6), torch.zeros(3, 6)))
(outputs.square().sum() + c_T.sum()).backward()
for name, param in layer.named_parameters():
    print(f"{name:16s} {tuple(param.shape)!s:10s} grad norm {param.grad.norm().item():.3f}")"""

    return notebook(md(intro), code(IMPORTS + "\n\ntorch.manual_seed(0)"), md("## The cell"),
                    code(REFERENCE_LSTM_CELL), md("## The layer"), code(REFERENCE_LSTM_LAYER),
                    md("## Check against `nn.LSTM`"), code(compare), code(gradients))


def lstm_student(name: str, note: str, cell: str, layer: str,
                 test: str = LSTM_TEST) -> Callable[[], nbformat.NotebookNode]:
    def build() -> nbformat.NotebookNode:
        text = f"# {TITLE}\n\n**Student:** {name}" + (f"\n\n{note}" if note else "")
        return notebook(md(text), code(IMPORTS), code(cell), code(layer), code(test))
    return build


LSTM_STUDENTS = {
    "adi_slides": ("lstm_slides_fixed", lstm_student(
        "Adi", "The slides' LSTM, with W_i declared as W_ii (the name forward uses).", SLIDES_LSTM_CELL,
        SLIDES_LSTM_LAYER)),
    "budi_vectorised": ("lstm_fused_gifo", lstm_student(
        "Budi", "Fused projections stored [in, 4H], gates in (g, i, f, o) order.", VECTORISED_LSTM_CELL,
        VECTORISED_LSTM_LAYER)),
    "rudi_sigmoid": ("lstm_sigmoid_candidate", lstm_student(
        "Rudi", "", SIGMOID_LSTM_CELL, SLIDES_LSTM_LAYER)),
    "umar_builtin": ("lstm_builtin_cell", lstm_student(
        "Umar", "", BUILTIN_LSTM_CELL, SLIDES_LSTM_LAYER)),
}


def main() -> None:
    written = [write(reference_lstm(), REFERENCE / "lstm.ipynb")]
    for student, (fixture, build) in LSTM_STUDENTS.items():
        written.append(write(build(), SUBMISSIONS / student / "lstm.ipynb"))
        written.append(write(build(), FIXTURES / f"{fixture}.ipynb"))
    for path in written:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
