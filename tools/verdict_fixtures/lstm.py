"""LSTM verdict fixtures: the slides' LSTM verbatim and with its typo fixed, d2l's LSTM from scratch, GitHub
implementations, parameter layouts of every kind (per gate, fused in any gate order, [x, h], 0/4H/8H biases, one
flat vector), and mistakes with the words the report must use."""

from __future__ import annotations

from make_lstm_notebooks import (IMPORTS, LSTM_TEST, SLIDES_LSTM_CELL, SLIDES_LSTM_CELL_VERBATIM, SLIDES_LSTM_LAYER,
                                 TITLE)
from make_notebooks import code, md

from verdict_fixtures import Fixture

HEADER = md(f"# {TITLE}\n\n**Student:** verdict fixture")

# d2l-ai/d2l-en chapter_recurrent-modern/lstm.md (the PyTorch LSTM from scratch): its parameters ([in, out] weights,
# one bias per gate, gates i, f, o and the candidate c) and its loop body as the cell (d2l.Module → nn.Module,
# get_lstm_params → attributes); its loop, time-major, steps over inputs.transpose(0, 1).
D2L_CELL = """\
class LSTMCell(nn.Module):
    def __init__(self, num_inputs, num_hiddens, sigma=0.01):
        super().__init__()
        self.num_inputs, self.num_hiddens = num_inputs, num_hiddens

        init_weight = lambda *shape: nn.Parameter(torch.randn(*shape) * sigma)
        triple = lambda: (init_weight(num_inputs, num_hiddens),
                          init_weight(num_hiddens, num_hiddens),
                          nn.Parameter(torch.zeros(num_hiddens)))
        self.W_xi, self.W_hi, self.b_i = triple()  # Input gate
        self.W_xf, self.W_hf, self.b_f = triple()  # Forget gate
        self.W_xo, self.W_ho, self.b_o = triple()  # Output gate
        self.W_xc, self.W_hc, self.b_c = triple()  # Candidate memory cell

    def forward(self, X, state):
        (H, C) = state
        I = torch.sigmoid((X @ self.W_xi) + (H @ self.W_hi) + self.b_i)
        F = torch.sigmoid((X @ self.W_xf) + (H @ self.W_hf) + self.b_f)
        O = torch.sigmoid((X @ self.W_xo) + (H @ self.W_ho) + self.b_o)
        C_tilda = torch.tanh((X @ self.W_xc) + (H @ self.W_hc) + self.b_c)
        C = F * C + I * C_tilda
        H = O * torch.tanh(C)
        return H, C"""

D2L_LAYER = """\
class LSTM(nn.Module):
    def __init__(self, num_inputs, num_hiddens, sigma=0.01):
        super().__init__()
        self.cell = LSTMCell(num_inputs, num_hiddens, sigma)

    def forward(self, inputs, state):
        outputs = []
        for X in inputs.transpose(0, 1):
            state = self.cell(X, state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state"""

# XuXingyu-98/Recurrent-models LSTM_cell.py as is (fused x2h/h2h, gates i, f, o, g, two biases per gate: 8H,
# hx=None default); Rnn_model.py's loop reduced to one layer, returning every step and the last state.
XUXINGYU_CELL = """\
class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        super(LSTMCell, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias

        self.x2h = nn.Linear(input_size, 4 * hidden_size, bias=bias)
        self.h2h = nn.Linear(hidden_size, 4 * hidden_size, bias=bias)

        self.reset_parameters()

    def reset_parameters(self):
        std = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            w.data.uniform_(-std, std)

    def forward(self, input, hx=None):
        if hx is None:
            hx = input.new_zeros(input.size(0), self.hidden_size, requires_grad=False)
            hx = (hx, hx)

        hx, cx = hx

        hi = self.x2h(input) + self.h2h(hx)
        i, f, o, g = torch.chunk(hi, 4, dim=-1)
        i = torch.sigmoid(i)
        f = torch.sigmoid(f)
        o = torch.sigmoid(o)
        g = torch.tanh(g)
        cy = f * cx + i * g
        hy = o * torch.tanh(cy)

        return (hy, cy)"""

XUXINGYU_LAYER = """\
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        super(LSTM, self).__init__()
        self.rnn_cell_list = nn.ModuleList()
        self.rnn_cell_list.append(LSTMCell(input_size, hidden_size, bias))

    def forward(self, input, hx=None):
        X = list(input.permute(1, 0, 2))
        for l in self.rnn_cell_list:
            for i in range(input.shape[1]):
                hx = l(X[i], hx)
                X[i] = hx[0]
        return torch.stack(X, dim=1), hx"""

# piEsposito/pytorch-lstm-by-hand LSTM.ipynb: CustomLSTM (W [in, 4H], U [H, 4H], one bias [4H], gates i, f, g, o)
# renamed LSTM, as is: a layer with no cell inside; the cell is its loop body with the same parameters.
ESPOSITO_CELL = """\
class LSTMCell(nn.Module):
    def __init__(self, input_sz, hidden_sz):
        super().__init__()
        self.input_sz = input_sz
        self.hidden_size = hidden_sz
        self.W = nn.Parameter(torch.Tensor(input_sz, hidden_sz * 4))
        self.U = nn.Parameter(torch.Tensor(hidden_sz, hidden_sz * 4))
        self.bias = nn.Parameter(torch.Tensor(hidden_sz * 4))
        self.init_weights()

    def init_weights(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            weight.data.uniform_(-stdv, stdv)

    def forward(self, x_t, init_states):
        h_t, c_t = init_states
        HS = self.hidden_size
        gates = x_t @ self.W + h_t @ self.U + self.bias
        i_t, f_t, g_t, o_t = (
            torch.sigmoid(gates[:, :HS]), # input
            torch.sigmoid(gates[:, HS:HS*2]), # forget
            torch.tanh(gates[:, HS*2:HS*3]),
            torch.sigmoid(gates[:, HS*3:]), # output
        )
        c_t = f_t * c_t + i_t * g_t
        h_t = o_t * torch.tanh(c_t)
        return h_t, c_t"""

ESPOSITO_LAYER = """\
class LSTM(nn.Module):
    def __init__(self, input_sz, hidden_sz):
        super().__init__()
        self.input_sz = input_sz
        self.hidden_size = hidden_sz
        self.W = nn.Parameter(torch.Tensor(input_sz, hidden_sz * 4))
        self.U = nn.Parameter(torch.Tensor(hidden_sz, hidden_sz * 4))
        self.bias = nn.Parameter(torch.Tensor(hidden_sz * 4))
        self.init_weights()

    def init_weights(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            weight.data.uniform_(-stdv, stdv)

    def forward(self, x,
                init_states=None):
        \"\"\"Assumes x is of shape (batch, sequence, feature)\"\"\"
        bs, seq_sz, _ = x.size()
        hidden_seq = []
        if init_states is None:
            h_t, c_t = (torch.zeros(bs, self.hidden_size).to(x.device),
                        torch.zeros(bs, self.hidden_size).to(x.device))
        else:
            h_t, c_t = init_states

        HS = self.hidden_size
        for t in range(seq_sz):
            x_t = x[:, t, :]
            # batch the computations into a single matrix multiplication
            gates = x_t @ self.W + h_t @ self.U + self.bias
            i_t, f_t, g_t, o_t = (
                torch.sigmoid(gates[:, :HS]), # input
                torch.sigmoid(gates[:, HS:HS*2]), # forget
                torch.tanh(gates[:, HS*2:HS*3]),
                torch.sigmoid(gates[:, HS*3:]), # output
            )
            c_t = f_t * c_t + i_t * g_t
            h_t = o_t * torch.tanh(c_t)
            hidden_seq.append(h_t.unsqueeze(0))
        hidden_seq = torch.cat(hidden_seq, dim=0)
        # reshape from shape (sequence, batch, feature) to (batch, sequence, feature)
        hidden_seq = hidden_seq.transpose(0, 1).contiguous()
        return hidden_seq, (h_t, c_t)"""

# TecXCTO/nn src/nn/Recurrent_Neural_Networks/lstm.py as is: one Linear over [x, h], gates i, f, g, o.
CONCAT_CELL = """\
class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.fc = nn.Linear(input_size + hidden_size, 4 * hidden_size)

    def forward(self, x, hidden):
        h, c = hidden
        gates = self.fc(torch.cat([x, h], dim=1))
        i, f, g, o = gates.chunk(4, 1)
        i = torch.sigmoid(i)
        f = torch.sigmoid(f)
        g = torch.tanh(g)
        o = torch.sigmoid(o)
        c_next = f * c + i * g
        h_next = o * torch.tanh(c_next)
        return h_next, c_next"""

STACKED_CELL = """\
class LSTMCell(nn.Module):
    \"\"\"One tensor per kind holds all four gates: W [4, input, hidden], U [4, hidden, hidden], b [4, hidden].\"\"\"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        scale = hidden_size ** -0.5
        self.W = nn.Parameter(torch.randn(4, input_size, hidden_size) * scale)
        self.U = nn.Parameter(torch.randn(4, hidden_size, hidden_size) * scale)
        self.b = nn.Parameter(torch.zeros(4, hidden_size))

    def forward(self, x, state):
        h, c = state
        o, f, i, g = (x @ self.W[k] + h @ self.U[k] + self.b[k] for k in range(4))
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c"""

# One flat parameter vector sliced in forward (input weights halved, U stored transposed): no reading of the
# tensor as gate blocks fits, behaviour decides.
FLAT_VECTOR_CELL = """\
class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.sizes = (input_size, hidden_size)
        count = 4 * hidden_size * (input_size + hidden_size) + 4 * hidden_size
        self.theta = nn.Parameter(torch.randn(count) * 0.2)

    def forward(self, x, state):
        h, c = state
        i, k = self.sizes
        w = self.theta[:4 * k * i].view(4 * k, i) / 2
        u = self.theta[4 * k * i:4 * k * (i + k)].view(k, 4 * k).T
        b = self.theta[4 * k * (i + k):]
        gate_i, gate_f, gate_g, gate_o = (x @ w.T + h @ u.T + b).chunk(4, dim=1)
        c = torch.sigmoid(gate_f) * c + torch.sigmoid(gate_i) * torch.tanh(gate_g)
        return torch.sigmoid(gate_o) * torch.tanh(c), c"""

FORGET_UNUSED_CELL = SLIDES_LSTM_CELL.replace("c_t = f_t * c_prev + i_t * g_t", "c_t = c_prev + i_t * g_t")
SIGMOID_OUTPUT_CELL = SLIDES_LSTM_CELL.replace("h_t = o_t * torch.tanh(c_t)", "h_t = o_t * torch.sigmoid(c_t)")

BUILTIN_LAYER = """\
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, batch_first=True)

    def forward(self, x, state):
        h0, c0 = state
        outputs, (h_n, c_n) = self.rnn(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
        return outputs, (h_n[0], c_n[0])"""

BATCH_AXIS_LAYER = """\
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = LSTMCell(input_size, hidden_size)

    def forward(self, x, state):
        h, c = state
        outputs = []
        for t in range(x.shape[0]):
            h, c = self.cell(x[t], (h, c))
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h, c)"""

SQUARE_TEST = """\
layer = LSTM(10, 20)
x = torch.randn(5, 5, 10)
outputs, (h_T, c_T) = layer(x, (torch.zeros(5, 20), torch.zeros(5, 20)))
print(outputs.shape, h_T.shape, c_T.shape)"""

MATH_IMPORTS = IMPORTS + "\nimport math"


def _fixture(name: str, source: str, band: tuple[float, float], why: str, cell: str, layer: str,
             test: str = LSTM_TEST, words: tuple[str, ...] = ()) -> Fixture:
    return Fixture(name, "lstm", source, band, why, cells=(HEADER, code(MATH_IMPORTS), code(cell), code(layer),
                                                           code(test)), report_contains=words)


def _existing(name: str, band: float, why: str, words: tuple[str, ...] = ()) -> Fixture:
    """An example student's notebook, written by tools/make_lstm_notebooks.py."""
    return Fixture(name, "lstm", "student variant (tools/make_lstm_notebooks.py)", (band, band), why,
                   report_contains=words)


FIXTURES: list[Fixture] = [
    _existing("lstm_slides_fixed", 100, "the slides' LSTM with W_i declared as W_ii, the name its forward uses"),
    _fixture("lstm_slides_verbatim", "lecture slides 001_*.txt: LSTMCell and LSTM as printed", (10, 20),
             "forward reads self.W_ii, which the cell never declares: nothing runs, so only construction and the"
             " parameter count earn points", SLIDES_LSTM_CELL_VERBATIM, SLIDES_LSTM_LAYER,
             words=("attributeerror", "w_ii")),
    _fixture("lstm_d2l_scratch", "d2l-ai/d2l-en chapter_recurrent-modern/lstm.md (LSTM from scratch), loop body as"
             " the cell", (100, 100), "d2l's LSTM: [in, out] weights used as X @ W, gates i, f, o, c, one bias each",
             D2L_CELL, D2L_LAYER),
    _fixture("lstm_github_xuxingyu", "XuXingyu-98/Recurrent-models LSTM_cell.py and Rnn_model.py", (100, 100),
             "fused x2h/h2h in i, f, o, g order with two biases per gate (8H), hx=None default: a correct LSTM",
             XUXINGYU_CELL, XUXINGYU_LAYER, words=("x2h.bias [18:24] + h2h.bias [18:24]",)),
    _fixture("lstm_github_esposito", "piEsposito/pytorch-lstm-by-hand LSTM.ipynb (CustomLSTM as the layer, its loop"
             " body as the cell)", (100, 100), "W [in, 4H], U [H, 4H], one bias [4H]; the layer holds no cell, so"
             " its own parameters are read", ESPOSITO_CELL, ESPOSITO_LAYER),
    _fixture("lstm_concat_xh", "TecXCTO/nn src/nn/Recurrent_Neural_Networks/lstm.py", (100, 100),
             "one Linear over [x, h] for all four gates", CONCAT_CELL, SLIDES_LSTM_LAYER,
             words=("as 4 [x, h] blocks",)),
    _existing("lstm_fused_gifo", 100, "fused [in, 4H] weights in g, i, f, o order, one bias per gate"),
    _fixture("lstm_stacked_3d_weights", "student variant: [4, I, H], [4, H, H] and [4, H] parameters, gates o, f, i, g",
             (100, 100), "one tensor per kind holds all four gates; read as gate blocks along its first axis",
             STACKED_CELL, SLIDES_LSTM_LAYER),
    _fixture("lstm_flat_parameter_vector", "student variant: every parameter in one flat vector, sliced in forward",
             (100, 100), "a correct LSTM whose single tensor fits no gate-block reading: read by behaviour",
             FLAT_VECTOR_CELL, SLIDES_LSTM_LAYER, words=("matched by behaviour",)),
    _fixture("lstm_forget_unused", "student variant: the slides' LSTM with c_t = c_prev + i_t * g_t", (60, 75),
             "f is computed but never used: the cell is not an LSTM and f's parameters get no gradient; shapes and"
             " the layer stand", FORGET_UNUSED_CELL, SLIDES_LSTM_LAYER,
             words=("forget gate f is computed but never scales c",)),
    _existing("lstm_sigmoid_candidate", 70, "g goes through a sigmoid", ("g goes through a sigmoid where tanh belongs",)),
    _fixture("lstm_sigmoid_cell_output", "student variant: the slides' LSTM with h_t = o_t * torch.sigmoid(c_t)",
             (65, 75), "the cell is not an LSTM; everything else stands", SIGMOID_OUTPUT_CELL, SLIDES_LSTM_LAYER,
             words=("h' = o·σ(c')",)),
    _existing("lstm_builtin_cell", 25, "nn.LSTMCell inside the cell",
              ("torch.lstm_cell", "self.cell = nn.lstmcell(input_size, hidden_size)")),
    _fixture("lstm_builtin_layer", "student variant: a correct LSTMCell, but the layer wraps nn.LSTM", (20, 30),
             "the layer is torch's LSTM: from_scratch and the checks it gates go", SLIDES_LSTM_CELL, BUILTIN_LAYER,
             words=("torch.lstm", "self.rnn = nn.lstm(")),
    _fixture("lstm_batch_axis", "student variant: the layer steps over x[t] (the batch axis)", (70, 80),
             "the cell is right; the layer walks the batch axis", SLIDES_LSTM_CELL, BATCH_AXIS_LAYER, SQUARE_TEST,
             words=("it steps over the batch axis",)),
]
