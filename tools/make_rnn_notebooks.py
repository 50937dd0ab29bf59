"""Build the GRU and RNN language model notebooks: references, example submissions and test fixtures.

Run from the repository root:

    python tools/make_rnn_notebooks.py

Every notebook is written without outputs (the grader executes them); re-running gives identical files.

    reference/gru.ipynb, reference/rnn_lm.ipynb
    submissions/<student_id>/gru.ipynb, submissions/<student_id>/rnn_lm.ipynb
    tests/fixtures/notebooks/gru_<scenario>.ipynb, tests/fixtures/notebooks/rnn_lm_<scenario>.ipynb
"""

from __future__ import annotations

from typing import Callable

import nbformat

from make_notebooks import FIXTURES, REFERENCE, ROOT, SUBMISSIONS, code, md, notebook, write

IMPORTS = """\
import torch
import torch.nn as nn"""


def header(exercise: str, name: str, extra: str = "") -> tuple[str, str]:
    text = f"# {exercise}\n\n**Student:** {name}"
    return md(text + (f"\n\n{extra}" if extra else ""))


# --------------------------------------------------------------------------------------------------
# GRU: cells
# --------------------------------------------------------------------------------------------------

# The reference: nn.GRU's own form and layout (fused [3H, ·] weights in r, z, n order, reset after the matmul).
REFERENCE_GRU_CELL = """\
class GRUCell(nn.Module):
    \"\"\"One GRU step, in nn.GRU's form: the reset gate scales the recurrent term after its matmul.\"\"\"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        # All three gates' input and recurrent weights at once, stacked in (r, z, n) order like nn.GRU.
        self.x2h = nn.Linear(input_size, 3 * hidden_size)
        self.h2h = nn.Linear(hidden_size, 3 * hidden_size)

    def forward(self, x, h):
        # x: [batch, input_size], h: [batch, hidden_size]
        x_r, x_z, x_n = self.x2h(x).chunk(3, dim=1)
        h_r, h_z, h_n = self.h2h(h).chunk(3, dim=1)
        r = torch.sigmoid(x_r + h_r)          # reset gate
        z = torch.sigmoid(x_z + h_z)          # update gate
        n = torch.tanh(x_n + r * h_n)         # candidate state
        return (1 - z) * n + z * h            # z keeps the old state"""

REFERENCE_GRU_LAYER = """\
class GRU(nn.Module):
    \"\"\"A single-layer, batch-first GRU: the cell stepped over the time axis.\"\"\"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = GRUCell(input_size, hidden_size)

    def forward(self, x, h0):
        # x: [batch, time, input_size], h0: [batch, hidden_size]
        h = h0
        outputs = []
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h   # [batch, time, hidden], [batch, hidden]"""

# The slides' LSTM style: one nn.Linear per gate and per input.
SLIDES_GRU_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        # reset gate
        self.W_ir = nn.Linear(input_size, hidden_size)
        self.W_hr = nn.Linear(hidden_size, hidden_size)
        # update gate
        self.W_iz = nn.Linear(input_size, hidden_size)
        self.W_hz = nn.Linear(hidden_size, hidden_size)
        # candidate
        self.W_in = nn.Linear(input_size, hidden_size)
        self.W_hn = nn.Linear(hidden_size, hidden_size)

    def forward(self, x, h):
        r = torch.sigmoid(self.W_ir(x) + self.W_hr(h))
        z = torch.sigmoid(self.W_iz(x) + self.W_hz(h))
        n = torch.tanh(self.W_in(x) + r * self.W_hn(h))
        h_new = (1 - z) * n + z * h
        return h_new"""

SLIDES_GRU_LAYER = """\
class GRU(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cell = GRUCell(input_size, hidden_size)

    def forward(self, x, h0):
        outputs = []
        h = h0
        for t in range(x.size(1)):
            h = self.cell(x[:, t, :], h)
            outputs.append(h)
        outputs = torch.stack(outputs, dim=1)
        return outputs, h"""

# Fused weights chunked in (z, r, n) order, and the other update convention: z lets the candidate in.
FUSED_ZRN_GRU_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_proj = nn.Linear(input_size, 3 * hidden_size)
        self.hidden_proj = nn.Linear(hidden_size, 3 * hidden_size)

    def forward(self, x, h):
        zi, ri, ni = self.input_proj(x).chunk(3, -1)
        zh, rh, nh = self.hidden_proj(h).chunk(3, -1)
        z = torch.sigmoid(zi + zh)
        r = torch.sigmoid(ri + rh)
        n = torch.tanh(ni + r * nh)
        return z * n + (1 - z) * h"""

VECTORISED_GRU_LAYER = """\
class GRU(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = GRUCell(input_size, hidden_size)

    def forward(self, x, h0):
        h = h0
        steps = []
        for x_t in x.unbind(dim=1):
            h = self.cell(x_t, h)
            steps.append(h)
        return torch.stack(steps, dim=1), h"""

# d2l / Cho et al. 2014: weights stored [in, out] and used as x @ W, reset applied to h before the matmul.
D2L_GRU_CELL = """\
def init_weight(*shape):
    return nn.Parameter(torch.randn(*shape) * 0.01)


class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.W_xz, self.W_hz, self.b_z = init_weight(input_size, hidden_size), init_weight(hidden_size, hidden_size), nn.Parameter(torch.zeros(hidden_size))
        self.W_xr, self.W_hr, self.b_r = init_weight(input_size, hidden_size), init_weight(hidden_size, hidden_size), nn.Parameter(torch.zeros(hidden_size))
        self.W_xh, self.W_hh, self.b_h = init_weight(input_size, hidden_size), init_weight(hidden_size, hidden_size), nn.Parameter(torch.zeros(hidden_size))

    def forward(self, X, H):
        Z = torch.sigmoid(X @ self.W_xz + H @ self.W_hz + self.b_z)
        R = torch.sigmoid(X @ self.W_xr + H @ self.W_hr + self.b_r)
        H_tilde = torch.tanh(X @ self.W_xh + (R * H) @ self.W_hh + self.b_h)
        return Z * H + (1 - Z) * H_tilde"""

# Raw parameters stored transposed ([in, 3H], used as x @ W), no biases.
NO_BIAS_GRU_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        k = hidden_size ** -0.5
        self.W = nn.Parameter(torch.empty(input_size, 3 * hidden_size).uniform_(-k, k))
        self.U = nn.Parameter(torch.empty(hidden_size, 3 * hidden_size).uniform_(-k, k))

    def forward(self, x, h):
        H = self.hidden_size
        wx = x @ self.W
        uh = h @ self.U
        r = torch.sigmoid(wx[:, :H] + uh[:, :H])
        z = torch.sigmoid(wx[:, H:2 * H] + uh[:, H:2 * H])
        n = torch.tanh(wx[:, 2 * H:] + r * uh[:, 2 * H:])
        return (1 - z) * n + z * h"""

SIGMOID_GRU_CELL = SLIDES_GRU_CELL.replace("n = torch.tanh(", "n = torch.sigmoid(")

NO_RESET_GRU_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.W_iz = nn.Linear(input_size, hidden_size)
        self.W_hz = nn.Linear(hidden_size, hidden_size)
        self.W_in = nn.Linear(input_size, hidden_size)
        self.W_hn = nn.Linear(hidden_size, hidden_size)

    def forward(self, x, h):
        z = torch.sigmoid(self.W_iz(x) + self.W_hz(h))
        n = torch.tanh(self.W_in(x) + self.W_hn(h))
        return (1 - z) * n + z * h"""

# Treats x as [time, batch, input]: steps over dim 0.
BATCH_AXIS_GRU_LAYER = """\
class GRU(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = GRUCell(input_size, hidden_size)

    def forward(self, x, h0):
        h = h0
        outputs = []
        for t in range(x.shape[0]):
            h = self.cell(x[t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h"""

BUILTIN_GRU_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = nn.GRUCell(input_size, hidden_size)

    def forward(self, x, h):
        return self.cell(x, h)"""

GRU_TEST = """\
cell = GRUCell(10, 20)
layer = GRU(10, 20)
x = torch.randn(3, 7, 10)
h0 = torch.zeros(3, 20)
print(cell(x[:, 0], h0).shape)      # [3, 20]
outputs, h_T = layer(x, h0)
print(outputs.shape, h_T.shape)     # [3, 7, 20], [3, 20]"""

GRU_SQUARE_TEST = """\
layer = GRU(10, 20)
x = torch.randn(5, 5, 10)
outputs, h_T = layer(x, torch.zeros(5, 20))
print(outputs.shape, h_T.shape)"""


# --------------------------------------------------------------------------------------------------
# GRU: notebooks
# --------------------------------------------------------------------------------------------------

GRU_TITLE = "Exercise 3 — GRU from scratch"


def reference_gru() -> nbformat.NotebookNode:
    intro = f"""\
# {GRU_TITLE} (reference solution)

We built an LSTM from scratch; now the same for a GRU (Cho et al., 2014), without `nn.GRU` or `nn.GRUCell`.

- `GRUCell(input_size, hidden_size)`: `forward(x, h)`, x `[batch, input_size]`, h `[batch, hidden_size]`,
  returns the new h `[batch, hidden_size]`.
- `GRU(input_size, hidden_size)`: `forward(x, h0)`, x `[batch, time, input_size]` (batch first), returns
  `(outputs [batch, time, hidden_size], h_T [batch, hidden_size])`.

The equations, in `nn.GRU`'s form:

$$r = \\sigma(W_{{ir}} x + b_{{ir}} + W_{{hr}} h + b_{{hr}}) \\qquad z = \\sigma(W_{{iz}} x + b_{{iz}} + W_{{hz}} h + b_{{hz}})$$
$$n = \\tanh(W_{{in}} x + b_{{in}} + r \\odot (W_{{hn}} h + b_{{hn}})) \\qquad h' = (1 - z) \\odot n + z \\odot h$$

Other standard forms are just as correct: the reset gate applied before the recurrent matmul
($W_{{hn}}(r \\odot h)$, as in Cho et al. and d2l), the update written as $h' = z \\odot n + (1-z) \\odot h$,
with or without biases, and any layout of the weights."""

    compare = """\
# nn.GRU is used here only as the yardstick, outside our classes: copy our weights into it and compare.
torch.manual_seed(0)
for batch, time, size_in, hidden in [(3, 5, 4, 6), (2, 7, 3, 5), (1, 1, 8, 2)]:
    ours = GRU(size_in, hidden)
    builtin = nn.GRU(size_in, hidden, batch_first=True)
    with torch.no_grad():
        builtin.weight_ih_l0.copy_(ours.cell.x2h.weight)
        builtin.weight_hh_l0.copy_(ours.cell.h2h.weight)
        builtin.bias_ih_l0.copy_(ours.cell.x2h.bias)
        builtin.bias_hh_l0.copy_(ours.cell.h2h.bias)
    x, h0 = torch.randn(batch, time, size_in), torch.randn(batch, hidden)
    outputs, h_T = ours(x, h0)
    expected, expected_h = builtin(x, h0[None])
    assert outputs.shape == (batch, time, hidden) and h_T.shape == (batch, hidden)
    torch.testing.assert_close(outputs, expected)
    torch.testing.assert_close(h_T, expected_h[0])
    print(f"batch={batch} time={time} input={size_in} hidden={hidden}: max |diff| = "
          f"{(outputs - expected).abs().max().item():.1e}")
print("GRU matches nn.GRU.")"""

    gradients = """\
# Every parameter receives a gradient.
layer = GRU(4, 6)
outputs, h_T = layer(torch.randn(3, 5, 4), torch.zeros(3, 6))
(outputs.square().sum() + h_T.sum()).backward()
for name, param in layer.named_parameters():
    print(f"{name:16s} {tuple(param.shape)!s:10s} grad norm {param.grad.norm().item():.3f}")"""

    return notebook(md(intro), code(IMPORTS + "\n\ntorch.manual_seed(0)"), md("## The cell"), code(REFERENCE_GRU_CELL),
                    md("## The layer"), code(REFERENCE_GRU_LAYER), md("## Check against `nn.GRU`"), code(compare),
                    code(gradients))


def gru_student(name: str, note: str, cell: str, layer: str, test: str = GRU_TEST) -> Callable[[], nbformat.NotebookNode]:
    def build() -> nbformat.NotebookNode:
        return notebook(header(GRU_TITLE, name, note), code(IMPORTS), code(cell), code(layer), code(test))
    return build


GRU_STUDENTS = {
    "adi_slides": ("gru_correct_slides", gru_student(
        "Adi", "Like the LSTM from the slides: one Linear per gate.", SLIDES_GRU_CELL, SLIDES_GRU_LAYER)),
    "budi_vectorised": ("gru_fused_zrn", gru_student(
        "Budi", "Fused projections, gates in (z, r, n) order; z lets the candidate in.", FUSED_ZRN_GRU_CELL,
        VECTORISED_GRU_LAYER)),
    "hana_multi": ("gru_reset_before", gru_student(
        "Hana", "Following d2l: the reset gate is applied to H before the matmul.", D2L_GRU_CELL, SLIDES_GRU_LAYER)),
    "putri_no_bias": ("gru_no_bias", gru_student(
        "Putri", "No biases; weights stored as [in, 3H].", NO_BIAS_GRU_CELL, VECTORISED_GRU_LAYER)),
    "rudi_sigmoid": ("gru_sigmoid_candidate", gru_student(
        "Rudi", "", SIGMOID_GRU_CELL, SLIDES_GRU_LAYER)),
    "sari_no_reset": ("gru_no_reset", gru_student(
        "Sari", "A simpler GRU with just the update gate.", NO_RESET_GRU_CELL, SLIDES_GRU_LAYER)),
    "tono_batch_axis": ("gru_batch_axis", gru_student(
        "Tono", "", SLIDES_GRU_CELL, BATCH_AXIS_GRU_LAYER, GRU_SQUARE_TEST)),
    "umar_builtin": ("gru_builtin_cell", gru_student(
        "Umar", "", BUILTIN_GRU_CELL, SLIDES_GRU_LAYER)),
}


# --------------------------------------------------------------------------------------------------
# RNN language model: code
# --------------------------------------------------------------------------------------------------

RNN_IMPORTS = """\
from collections import Counter

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader"""

# The slides' cell: tanh(hidden·W_hh + input·W_xh + b), weights stored [in, out].
SLIDES_RNN_CELL = """\
class RNNCell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.n_inputs = n_inputs
        self.n_hidden = n_hidden
        self.W_xh = nn.Parameter(torch.randn(n_inputs, n_hidden) * 0.1)
        self.W_hh = nn.Parameter(torch.randn(n_hidden, n_hidden) * 0.1)
        self.b_h = nn.Parameter(torch.zeros(n_hidden))

    def forward(self, input, hidden):
        # input: [batch, n_inputs], hidden: [batch, n_hidden]
        return torch.tanh(hidden @ self.W_hh + input @ self.W_xh + self.b_h)"""

SLIDES_RNN = """\
class RNN(nn.Module):
    def __init__(self, n_inputs, n_hiddens, cell):
        super().__init__()
        self.n_inputs = n_inputs
        self.n_hiddens = n_hiddens
        self.cell = cell

    def forward(self, inputs, prev_hidden):
        # inputs: [batch, time, emb], prev_hidden: [batch, hidden]
        hidden = prev_hidden
        outputs = []
        for t in range(inputs.shape[1]):
            hidden = self.cell(inputs[:, t], hidden)
            outputs.append(hidden)
        return torch.stack(outputs, dim=1), hidden"""

SLIDES_DATASET = """\
class Dataset(torch.utils.data.Dataset):
    def __init__(self, sequence_length, documents):
        self.sequence_length = sequence_length
        self.words = self.load_words(documents)
        self.uniq_words = self.get_uniq_words()
        self.index_to_word = {index: word for index, word in enumerate(self.uniq_words)}
        self.word_to_index = {word: index for index, word in enumerate(self.uniq_words)}
        self.words_indexes = [self.word_to_index[w] for w in self.words]

    def load_words(self, documents):
        return " ".join(documents).split(" ")

    def get_uniq_words(self):
        word_counts = Counter(self.words)
        return sorted(word_counts, key=word_counts.get, reverse=True)

    def __len__(self):
        return len(self.words_indexes) - self.sequence_length

    def __getitem__(self, index):
        return (
            torch.tensor(self.words_indexes[index:index + self.sequence_length]),
            torch.tensor(self.words_indexes[index + 1:index + self.sequence_length + 1]),
        )"""

SLIDES_MODEL = """\
class Model(nn.Module):
    def __init__(self, dataset, embedding_dim=32, hidden_size=64):
        super().__init__()
        self.hidden_size = hidden_size
        n_vocab = len(dataset.uniq_words)
        self.embedding = nn.Embedding(n_vocab, embedding_dim)
        self.rnn = RNN(embedding_dim, hidden_size, RNNCell(embedding_dim, hidden_size))
        self.fc = nn.Linear(hidden_size, n_vocab)

    def forward(self, x, prev_state):
        embed = self.embedding(x)                     # [batch, time, emb]
        output, state = self.rnn(embed, prev_state)   # [batch, time, hidden]
        logits = self.fc(output)                      # [batch, time, vocab]
        return logits, state

    def init_state(self, batch_size):
        return torch.zeros(batch_size, self.hidden_size)"""

SLIDES_TRAIN = """\
def train(dataset, model, batch_size=32, max_epochs=10):
    model.train()
    dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(max_epochs):
        for batch, (x, y) in enumerate(dataloader):
            state = model.init_state(x.shape[0])
            optimizer.zero_grad()
            y_pred, state = model(x, state)
            loss = criterion(y_pred.transpose(1, 2), y)
            loss.backward()
            optimizer.step()
        print({"epoch": epoch, "loss": round(loss.item(), 3)})"""

SLIDES_PREDICT = """\
def predict(dataset, model, text, next_words=100):
    model.eval()
    words = text.split(" ")
    state = model.init_state(1)
    for i in range(next_words):
        x = torch.tensor([[dataset.word_to_index[w] for w in words[i:]]])
        with torch.no_grad():
            y_pred, state = model(x, model.init_state(1))
        last_word_logits = y_pred[0][-1]
        p = torch.nn.functional.softmax(last_word_logits, dim=0).numpy()
        word_index = np.random.choice(len(last_word_logits), p=p)
        words.append(dataset.index_to_word[word_index])
    return words"""

STUDENT_CORPUS = """\
documents = [
    "the cat sat on the mat",
    "the dog sat on the rug",
    "the cat saw the dog",
    "the dog saw the cat on the mat",
    "a bird sat on the dog",
] * 4
dataset = Dataset(4, documents)
print(len(dataset), "items,", len(dataset.uniq_words), "words:", dataset.uniq_words[:6])"""

STUDENT_RUN = """\
torch.manual_seed(0)
model = Model(dataset)
train(dataset, model, batch_size=16, max_epochs=3)
print(predict(dataset, model, "the cat", next_words=5))"""

# One nn.Linear over [input, hidden].
CONCAT_RNN_CELL = """\
class RNNCell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.linear = nn.Linear(n_inputs + n_hidden, n_hidden)

    def forward(self, input, hidden):
        return torch.tanh(self.linear(torch.cat([input, hidden], dim=1)))"""

# Two nn.Linear layers (stored [out, in]); the recurrent one without a bias.
LINEAR_RNN_CELL = """\
class RNNCell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.i2h = nn.Linear(n_inputs, n_hidden)
        self.h2h = nn.Linear(n_hidden, n_hidden, bias=False)

    def forward(self, input, hidden):
        return torch.tanh(self.i2h(input) + self.h2h(hidden))"""

# The reference follows the slides' signature: RNN(n_inputs, n_hiddens, cell) builds its cell from the class.
REFERENCE_RNN = SLIDES_RNN.replace("        self.cell = cell\n", "        self.cell = cell(n_inputs, n_hiddens)\n")

REFERENCE_MODEL = SLIDES_MODEL.replace("RNN(embedding_dim, hidden_size, RNNCell(embedding_dim, hidden_size))",
                                       "RNN(embedding_dim, hidden_size, RNNCell)")

OFF_BY_ONE_DATASET = SLIDES_DATASET.replace(
    "return len(self.words_indexes) - self.sequence_length",
    "return len(self.words_indexes) - self.sequence_length - 1")

NO_STEP_TRAIN = SLIDES_TRAIN.replace("            optimizer.step()\n", "")

SIGMOID_RNN_CELL = SLIDES_RNN_CELL.replace("return torch.tanh(", "return torch.sigmoid(")

# Returns the initial hidden state instead of the last one.
FIRST_HIDDEN_RNN = SLIDES_RNN.replace("return torch.stack(outputs, dim=1), hidden",
                                      "return torch.stack(outputs, dim=1), prev_hidden")

LOGITS_ONLY_MODEL = SLIDES_MODEL.replace("""        output, state = self.rnn(embed, prev_state)   # [batch, time, hidden]
        logits = self.fc(output)                      # [batch, time, vocab]
        return logits, state""", """        output, state = self.rnn(embed, prev_state)
        return self.fc(output)""")

LOGITS_ONLY_TRAIN = SLIDES_TRAIN.replace("y_pred, state = model(x, state)", "y_pred = model(x, state)")

# Generated words only, without the prompt.
NO_PROMPT_PREDICT = """\
def predict(dataset, model, text, next_words=100):
    model.eval()
    words = text.split(" ")
    generated = []
    for i in range(next_words):
        x = torch.tensor([[dataset.word_to_index[w] for w in (words + generated)[i:]]])
        with torch.no_grad():
            y_pred = model(x, model.init_state(1))
        p = torch.softmax(y_pred[0][-1], dim=0).numpy()
        generated.append(dataset.index_to_word[np.random.choice(len(p), p=p)])
    return generated"""

BUILTIN_RNN_CELL = """\
class RNNCell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.cell = nn.RNNCell(n_inputs, n_hidden, nonlinearity="tanh")

    def forward(self, input, hidden):
        return self.cell(input, hidden)"""


# --------------------------------------------------------------------------------------------------
# RNN language model: notebooks
# --------------------------------------------------------------------------------------------------

RNN_TITLE = "Exercise 4 — RNN language model"


def reference_rnn_lm() -> nbformat.NotebookNode:
    intro = f"""\
# {RNN_TITLE} (reference solution)

A word-level language model with a recurrent network written from scratch, following the slides:

- `RNNCell(n_inputs, n_hidden)`: `forward(input, hidden) = tanh(hidden·W_hh + input·W_xh + b)`.
- `RNN(n_inputs, n_hiddens, cell)`: builds `cell(n_inputs, n_hiddens)` from the class it is given;
  `forward(inputs [batch, time, emb], prev_hidden [batch, hidden])` returns
  `(outputs [batch, time, hidden], last_hidden)`.
- `Dataset(sequence_length, documents)`: the documents joined with spaces and split on `' '`; `uniq_words`
  sorted by frequency; item `i` is `(words[i:i+L], words[i+1:i+L+1])` as index tensors.
- `Model(dataset)`: embedding → RNN → linear; `forward(x [batch, time], state)` returns
  `(logits [batch, time, vocab], state)`; `init_state(batch_size)`.
- `train(dataset, model, batch_size, max_epochs)` and `predict(dataset, model, text, next_words)`."""

    check_cell = """\
# The cell equals nn.RNNCell (used only as the yardstick, outside our classes).
cell = RNNCell(4, 6)
builtin = nn.RNNCell(4, 6, nonlinearity="tanh")
with torch.no_grad():
    builtin.weight_ih.copy_(cell.W_xh.T)
    builtin.weight_hh.copy_(cell.W_hh.T)
    builtin.bias_ih.copy_(cell.b_h)
    builtin.bias_hh.zero_()
x, h = torch.randn(3, 4), torch.randn(3, 6)
torch.testing.assert_close(cell(x, h), builtin(x, h))
rnn = RNN(4, 6, RNNCell)
outputs, last = rnn(torch.randn(3, 5, 4), h)
assert outputs.shape == (3, 5, 6) and torch.equal(last, outputs[:, -1])
print("RNNCell matches nn.RNNCell; RNN outputs", tuple(outputs.shape))"""

    run = """\
torch.manual_seed(0)
np.random.seed(0)
model = Model(dataset)
train(dataset, model, batch_size=16, max_epochs=4)
print(" ".join(predict(dataset, model, "the cat", next_words=8)))"""

    return notebook(md(intro), code(RNN_IMPORTS), md("## The recurrent cell and network"), code(SLIDES_RNN_CELL),
                    code(REFERENCE_RNN), code(check_cell), md("## Data"), code(SLIDES_DATASET), code(STUDENT_CORPUS),
                    md("## Model, training and generation"), code(REFERENCE_MODEL), code(SLIDES_TRAIN),
                    code(SLIDES_PREDICT), code(run))


def rnn_student(name: str, note: str, cell: str = SLIDES_RNN_CELL, rnn: str = SLIDES_RNN,
                dataset: str = SLIDES_DATASET, model: str = SLIDES_MODEL, train: str = SLIDES_TRAIN,
                predict: str = SLIDES_PREDICT) -> Callable[[], nbformat.NotebookNode]:
    def build() -> nbformat.NotebookNode:
        return notebook(header(RNN_TITLE, name, note), code(RNN_IMPORTS), code(cell), code(rnn), code(dataset),
                        code(STUDENT_CORPUS), code(model), code(train), code(predict), code(STUDENT_RUN))
    return build


RNN_STUDENTS = {
    "adi_slides": ("rnn_lm_correct_slides", rnn_student("Adi", "As in the slides.")),
    "budi_vectorised": ("rnn_lm_concat_cell", rnn_student(
        "Budi", "One Linear over [input, hidden].", cell=CONCAT_RNN_CELL)),
    "hana_multi": ("rnn_lm_linear_cell", rnn_student(
        "Hana", "Two Linear layers in the cell.", cell=LINEAR_RNN_CELL)),
    "rudi_sigmoid": ("rnn_lm_sloppy", rnn_student(
        "Rudi", "", cell=SIGMOID_RNN_CELL, rnn=FIRST_HIDDEN_RNN, model=LOGITS_ONLY_MODEL, train=LOGITS_ONLY_TRAIN,
        predict=NO_PROMPT_PREDICT)),
    "umar_builtin": ("rnn_lm_builtin_cell", rnn_student("Umar", "", cell=BUILTIN_RNN_CELL)),
    "wati_off_by_one": ("rnn_lm_off_by_one", rnn_student("Wati", "", dataset=OFF_BY_ONE_DATASET)),
    "yudi_no_step": ("rnn_lm_no_step", rnn_student("Yudi", "", train=NO_STEP_TRAIN)),
}


def main() -> None:
    written = [write(reference_gru(), REFERENCE / "gru.ipynb"), write(reference_rnn_lm(), REFERENCE / "rnn_lm.ipynb")]
    for exercise, students in (("gru", GRU_STUDENTS), ("rnn_lm", RNN_STUDENTS)):
        for student, (fixture, build) in students.items():
            written.append(write(build(), SUBMISSIONS / student / f"{exercise}.ipynb"))
            written.append(write(build(), FIXTURES / f"{fixture}.ipynb"))
    for path in written:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
