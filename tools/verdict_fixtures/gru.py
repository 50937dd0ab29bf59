"""GRU verdict fixtures: the slides' LSTM style applied to a GRU, d2l's GRU from scratch, GitHub implementations,
parameter layouts of every shape, names that look like torch's, and mistakes with the words the report must use."""

from __future__ import annotations

from make_rnn_notebooks import GRU_TEST, IMPORTS, SLIDES_GRU_CELL
from make_notebooks import code, md

from verdict_fixtures import Fixture

HEADER = md("# Exercise 3 — GRU from scratch\n\n**Student:** verdict fixture")

# The slides' LSTMCell / LSTM (001_*.txt) with the GRU's gates: raw [hidden, input] Parameters per gate, the same
# init_weights, forward(x, hidden) with x @ W.T, and the LSTM layer's loop (the state is h alone).
SLIDES_STYLE_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(GRUCell, self).__init__()
        self.hidden_size = hidden_size
        self.input_size = input_size

        # Reset gate components
        self.W_ir = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_hr = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_r = nn.Parameter(torch.Tensor(hidden_size))

        # Update gate components
        self.W_iz = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_hz = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_z = nn.Parameter(torch.Tensor(hidden_size))

        # Candidate components
        self.W_in = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_hn = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_n = nn.Parameter(torch.Tensor(hidden_size))

        self.init_weights()

    def init_weights(self):
        for param in self.parameters():
            nn.init.uniform_(param, -0.1, 0.1)

    def forward(self, x, hidden):
        h_prev = hidden

        r_t = torch.sigmoid(x @ self.W_ir.T + h_prev @ self.W_hr.T + self.b_r)
        z_t = torch.sigmoid(x @ self.W_iz.T + h_prev @ self.W_hz.T + self.b_z)
        n_t = torch.tanh(x @ self.W_in.T + r_t * (h_prev @ self.W_hn.T) + self.b_n)
        h_t = (1 - z_t) * n_t + z_t * h_prev

        return h_t"""

SLIDES_STYLE_LAYER = """\
class GRU(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(GRU, self).__init__()
        self.hidden_size = hidden_size
        self.cell = GRUCell(input_size, hidden_size)

    def forward(self, x, prev_state):
        batch_size, seq_len, _ = x.size()
        h = prev_state

        outputs = []
        for t in range(seq_len):
            x_t = x[:, t, :]
            h = self.cell(x_t, h)
            outputs.append(h)

        return torch.stack(outputs, dim=1), h"""

# d2l-ai/d2l-en chapter_recurrent-modern/gru.md (GRUScratch): d2l.Module → nn.Module, save_hyperparameters →
# attributes, d2l.* → torch.*; its loop body is the cell, its loop (time-major) steps over x.transpose(0, 1).
D2L_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, num_inputs, num_hiddens, sigma=0.01):
        super().__init__()
        self.num_inputs, self.num_hiddens = num_inputs, num_hiddens

        init_weight = lambda *shape: nn.Parameter(torch.randn(*shape) * sigma)
        triple = lambda: (init_weight(num_inputs, num_hiddens),
                          init_weight(num_hiddens, num_hiddens),
                          nn.Parameter(torch.zeros(num_hiddens)))
        self.W_xz, self.W_hz, self.b_z = triple()  # Update gate
        self.W_xr, self.W_hr, self.b_r = triple()  # Reset gate
        self.W_xh, self.W_hh, self.b_h = triple()  # Candidate hidden state

    def forward(self, X, H=None):
        Z = torch.sigmoid(torch.matmul(X, self.W_xz) + (
            torch.matmul(H, self.W_hz) if H is not None else 0) + self.b_z)
        if H is None: H = torch.zeros_like(Z)
        R = torch.sigmoid(torch.matmul(X, self.W_xr) +
                          torch.matmul(H, self.W_hr) + self.b_r)
        H_tilde = torch.tanh(torch.matmul(X, self.W_xh) +
                             torch.matmul(R * H, self.W_hh) + self.b_h)
        H = Z * H + (1 - Z) * H_tilde
        return H"""

D2L_LAYER = """\
class GRU(nn.Module):
    def __init__(self, num_inputs, num_hiddens, sigma=0.01):
        super().__init__()
        self.cell = GRUCell(num_inputs, num_hiddens, sigma)

    def forward(self, inputs, H=None):
        outputs = []
        for X in inputs.transpose(0, 1):
            H = self.cell(X, H)
            outputs.append(H)
        return torch.stack(outputs, dim=1), H"""

# emadRad/lstm-gru-pytorch lstm_gru.ipynb: its GRUCell as is; GRUModel keeps the cell as self.gru_cell, minus the
# classifier head, returning every step; then a demo cell that calls the layer `gru`.
EMADRAD_CELL = '''\
class GRUCell(nn.Module):

    """
    An implementation of GRUCell.

    """

    def __init__(self, input_size, hidden_size, bias=True):
        super(GRUCell, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.x2h = nn.Linear(input_size, 3 * hidden_size, bias=bias)
        self.h2h = nn.Linear(hidden_size, 3 * hidden_size, bias=bias)
        self.reset_parameters()



    def reset_parameters(self):
        std = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            w.data.uniform_(-std, std)

    def forward(self, x, hidden):

        x = x.view(-1, x.size(1))

        gate_x = self.x2h(x)
        gate_h = self.h2h(hidden)

        gate_x = gate_x.squeeze()
        gate_h = gate_h.squeeze()

        i_r, i_i, i_n = gate_x.chunk(3, 1)
        h_r, h_i, h_n = gate_h.chunk(3, 1)


        resetgate = F.sigmoid(i_r + h_r)
        inputgate = F.sigmoid(i_i + h_i)
        newgate = F.tanh(i_n + (resetgate * h_n))

        hy = newgate + inputgate * (hidden - newgate)


        return hy'''

EMADRAD_LAYER = """\
class GRU(nn.Module):
    def __init__(self, input_dim, hidden_dim):
        super(GRU, self).__init__()
        # Hidden dimensions
        self.hidden_dim = hidden_dim

        self.gru_cell = GRUCell(input_dim, hidden_dim)

    def forward(self, x, h0):
        outs = []

        hn = h0

        for seq in range(x.size(1)):
            hn = self.gru_cell(x[:,seq,:], hn)
            outs.append(hn)

        return torch.stack(outs, dim=1), hn"""

DEMO_NAMED_GRU = """\
gru = GRU(10, 20)
x = torch.randn(3, 7, 10)
h0 = torch.zeros(3, 20)
out, h = gru(x, h0)
gru_cell = GRUCell(10, 20)
print(out.shape, h.shape, gru_cell(x[:, 0], h0).shape)"""

# XuXingyu-98/Recurrent-models GRU_cell.py as is (z and r from one Linear pair, the candidate from another, hx=None
# default); Rnn_model.py's loop reduced to one layer, returning every step and the last state.
XUXINGYU_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        super(GRUCell, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias

        self.x2h = nn.Linear(input_size, 2 * hidden_size, bias=bias)
        self.h2h = nn.Linear(hidden_size, 2 * hidden_size, bias=bias)

        self.x2r = nn.Linear(input_size, hidden_size, bias=bias)
        self.h2r = nn.Linear(hidden_size, hidden_size, bias=bias)

        self.reset_parameters()

    def reset_parameters(self):
        std = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            w.data.uniform_(-std, std)

    def forward(self, input, hx=None):
        if hx is None:
            hx = input.new_zeros(input.size(0), self.hidden_size, requires_grad=False)

        z, r = torch.chunk(self.x2h(input) + self.h2h(hx), 2, -1)
        z = torch.sigmoid(z)
        r = torch.sigmoid(r)
        g = torch.tanh(self.h2r(hx) * r + self.x2r(input))
        hy = z * hx + (1 - z) * g

        return hy"""

XUXINGYU_LAYER = """\
class GRU(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        super(GRU, self).__init__()
        self.rnn_cell_list = nn.ModuleList()
        self.rnn_cell_list.append(GRUCell(input_size, hidden_size, bias))

    def forward(self, input, hx=None):
        X = list(input.permute(1, 0, 2))
        for l in self.rnn_cell_list:
            for i in range(input.shape[1]):
                hx = l(X[i], hx)
                X[i] = hx
        return torch.stack(X, dim=1), hx"""

STACKED_3D_CELL = """\
class GRUCell(nn.Module):
    \"\"\"All three gates in one tensor each: W [3, input, hidden], U [3, hidden, hidden], b [3, hidden] (r, z, n).\"\"\"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        scale = hidden_size ** -0.5
        self.W = nn.Parameter(torch.randn(3, input_size, hidden_size) * scale)
        self.U = nn.Parameter(torch.randn(3, hidden_size, hidden_size) * scale)
        self.b = nn.Parameter(torch.zeros(3, hidden_size))

    def forward(self, x, h):
        r = torch.sigmoid(x @ self.W[0] + h @ self.U[0] + self.b[0])
        z = torch.sigmoid(x @ self.W[1] + h @ self.U[1] + self.b[1])
        n = torch.tanh(x @ self.W[2] + (r * h) @ self.U[2] + self.b[2])
        return (1 - z) * n + z * h"""

LAYER_WITH_GRU_CELL_ATTRIBUTE = """\
class GRU(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.gru_cell = GRUCell(input_size, hidden_size)

    def forward(self, x, h):
        out = []
        for t in range(x.shape[1]):
            h = self.gru_cell(x[:, t], h)
            out.append(h)
        out = torch.stack(out, dim=1)
        return out, h"""

EINSUM_CELL = """\
class GRUCell(nn.Module):
    \"\"\"Weights [hidden, gate, input] and [hidden, gate, hidden] through einsum; biases [2, 3·hidden].\"\"\"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.W = nn.Parameter(torch.randn(hidden_size, 3, input_size) * 0.3)
        self.U = nn.Parameter(torch.randn(hidden_size, 3, hidden_size) * 0.3)
        self.b = nn.Parameter(torch.zeros(2, 3 * hidden_size))

    def forward(self, x, h):
        gx = torch.einsum("bi,ogi->bgo", x, self.W) + self.b[0].view(3, self.hidden_size)
        gh = torch.einsum("bi,ogi->bgo", h, self.U) + self.b[1].view(3, self.hidden_size)
        r = torch.sigmoid(gx[:, 0] + gh[:, 0])
        z = torch.sigmoid(gx[:, 1] + gh[:, 1])
        n = torch.tanh(gx[:, 2] + r * gh[:, 2])
        return (1 - z) * n + z * h"""

H0_NONE_LAYER = """\
class GRU(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.cell = GRUCell(input_size, hidden_size)

    def forward(self, x, h0=None):
        if h0 is None:
            h0 = torch.zeros(x.shape[0], self.hidden_size)
        h = h0
        outputs = []
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h"""

H0_NONE_TEST = """\
layer = GRU(10, 20)
outputs, h_T = layer(torch.randn(3, 7, 10))       # h0 defaults to zeros
print(outputs.shape, h_T.shape)"""

# z lets the candidate in (h' = z·n + (1−z)·h), per-gate Linear layers, reset before the recurrent matmul.
UPDATE_TAKES_CANDIDATE_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.update = nn.Linear(input_size + hidden_size, hidden_size)
        self.reset = nn.Linear(input_size + hidden_size, hidden_size)
        self.candidate = nn.Linear(input_size + hidden_size, hidden_size)

    def forward(self, x, h):
        xh = torch.cat([x, h], dim=1)
        z = torch.sigmoid(self.update(xh))
        r = torch.sigmoid(self.reset(xh))
        h_tilde = torch.tanh(self.candidate(torch.cat([x, r * h], dim=1)))
        return z * h_tilde + (1 - z) * h"""

# One flat parameter vector sliced in forward: no reading of the tensor as gate blocks fits, behaviour decides.
FLAT_VECTOR_CELL = """\
class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.sizes = (input_size, hidden_size)
        count = 3 * hidden_size * (input_size + hidden_size) + 6 * hidden_size
        self.theta = nn.Parameter(torch.randn(count) * 0.2)

    def forward(self, x, h):
        i, k = self.sizes
        w_x = self.theta[:3 * k * i].view(3 * k, i)
        w_h = self.theta[3 * k * i:3 * k * (i + k)].view(3 * k, k)
        b_x, b_h = self.theta[3 * k * (i + k):].view(2, 3 * k)
        x_r, x_z, x_n = (x @ w_x.T + b_x).chunk(3, dim=1)
        h_r, h_z, h_n = (h @ w_h.T + b_h).chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        return (1 - z) * torch.tanh(x_n + r * h_n) + z * h"""

RESET_UNUSED_CELL = SLIDES_GRU_CELL.replace("n = torch.tanh(self.W_in(x) + r * self.W_hn(h))",
                                            "n = torch.tanh(self.W_in(x) + self.W_hn(h))")

BUILTIN_LAYER = """\
class GRU(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)

    def forward(self, x, h0):
        outputs, h_n = self.rnn(x, h0.unsqueeze(0))
        return outputs, h_n[0]"""

# A correct cell with a method that compares it against nn.GRUCell; the grader never calls that method.
CHECK_METHOD_CELL = SLIDES_GRU_CELL + """

    def compare_with_builtin(self, x, h):
        builtin = nn.GRUCell(x.shape[1], h.shape[1])
        return (builtin(x, h) - self(x, h)).abs().max()"""

SLIDES_LAYER = """\
class GRU(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.cell = GRUCell(input_size, hidden_size)

    def forward(self, x, h0):
        outputs = []
        h = h0
        for t in range(x.size(1)):
            h = self.cell(x[:, t, :], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h"""

MATH_IMPORTS = IMPORTS + "\nimport math\nimport torch.nn.functional as F"


def _fixture(name: str, source: str, band: tuple[float, float], why: str, cell: str, layer: str,
             test: str = GRU_TEST, words: tuple[str, ...] = ()) -> Fixture:
    return Fixture(name, "gru", source, band, why, cells=(HEADER, code(MATH_IMPORTS), code(cell), code(layer),
                                                          code(test)), report_contains=words)


def _existing(name: str, band: float, why: str, words: tuple[str, ...] = ()) -> Fixture:
    """A fixture notebook written by tools/make_rnn_notebooks.py, registered with the score its old test asserted."""
    return Fixture(name, "gru", "student variant (tools/make_rnn_notebooks.py)", (band, band), why,
                   report_contains=words)


FIXTURES: list[Fixture] = [
    _fixture("gru_slides_lstm_style", "lecture slides 001_*.txt: the LSTMCell / LSTM code with a GRU's gates",
             (100, 100), "the slides' own style (raw per-gate Parameters, x @ W.T, the LSTM layer's loop) done right",
             SLIDES_STYLE_CELL, SLIDES_STYLE_LAYER),
    _fixture("gru_d2l_scratch", "d2l-ai/d2l-en chapter_recurrent-modern/gru.md (GRUScratch), split into cell and layer",
             (100, 100), "d2l's GRU: [in, out] weights, reset before the matmul, h' = z·h + (1−z)·h̃, H=None default",
             D2L_CELL, D2L_LAYER),
    _fixture("gru_github_emadrad", "emadRad/lstm-gru-pytorch lstm_gru.ipynb (GRUCell, GRUModel as self.gru_cell)",
             (100, 100), "nn.GRU's form with fused x2h/h2h; the layer keeps its cell as self.gru_cell and the demo"
             " cell calls the layer gru: the student's own names", EMADRAD_CELL, EMADRAD_LAYER, DEMO_NAMED_GRU),
    _fixture("gru_github_xuxingyu", "XuXingyu-98/Recurrent-models GRU_cell.py and Rnn_model.py", (100, 100),
             "z and r from one [2H] Linear pair, the candidate from another, hx=None default: a correct GRU",
             XUXINGYU_CELL, XUXINGYU_LAYER),
    _fixture("gru_stacked_3d_weights", "student variant: [3, I, H], [3, H, H] and [3, H] parameters", (100, 100),
             "one tensor per kind holds all three gates; read as gate blocks along its first axis",
             STACKED_3D_CELL, SLIDES_LAYER, words=("w [3, 4, 6] as 3 input blocks",)),
    _fixture("gru_own_cell_named_gru_cell", "student variant: self.gru_cell = GRUCell(...), demo `gru = GRU(10, 20)`",
             (100, 100), "gru_cell and gru are the student's own objects, not torch's",
             SLIDES_GRU_CELL, LAYER_WITH_GRU_CELL_ATTRIBUTE, DEMO_NAMED_GRU),
    _fixture("gru_einsum_gate_axis", "student variant: einsum over [H, 3, I] / [H, 3, H] weights, [2, 3H] biases",
             (100, 100), "a correct GRU in nn.GRU's form with the gate index in the middle axis",
             EINSUM_CELL, SLIDES_LAYER),
    _fixture("gru_h0_none_default", "student variant: GRU.forward(x, h0=None) starts from zeros", (100, 100),
             "the contract's call passes h0; a default for it changes nothing", SLIDES_GRU_CELL, H0_NONE_LAYER,
             H0_NONE_TEST),
    _fixture("gru_update_takes_candidate", "student variant: Linear over [x, h] per gate, h' = z·ñ + (1−z)·h",
             (100, 100), "the other update convention and the reset before the matmul are both standard",
             UPDATE_TAKES_CANDIDATE_CELL, SLIDES_LAYER),
    _fixture("gru_flat_parameter_vector", "student variant: every parameter in one flat vector, sliced in forward",
             (100, 100), "a correct GRU whose single tensor fits no gate-block reading: read by behaviour",
             FLAT_VECTOR_CELL, SLIDES_LAYER, words=("matched by behaviour",)),
    _fixture("gru_reset_computed_unused", "student variant: r computed, the candidate uses W_hn h unscaled",
             (65, 75), "the cell is not a GRU (the reset gate does nothing); shapes, layer and gradients stand",
             RESET_UNUSED_CELL, SLIDES_LAYER, words=("reset gate r is computed but never scales h",)),
    _fixture("gru_builtin_gru_layer", "student variant: a correct GRUCell, but the layer wraps nn.GRU", (20, 30),
             "the layer is torch's GRU: from_scratch and the checks it gates go",
             SLIDES_GRU_CELL, BUILTIN_LAYER, words=("torch.gru", "self.rnn = nn.gru(")),
    _fixture("gru_builtin_only_in_a_check_method", "student variant: a comparison method builds nn.GRUCell",
             (100, 100), "nn.GRUCell appears in a method the GRU never calls: a warning, no points lost",
             CHECK_METHOD_CELL, SLIDES_LAYER, words=("warning (no points lost)",)),
    _existing("gru_correct_slides", 100, "one Linear per gate, nn.GRU's form"),
    _existing("gru_fused_zrn", 100, "fused projections in z, r, n order, h' = z·n + (1−z)·h", ("h' = z·n + (1−z)·h",)),
    _existing("gru_reset_before", 100, "d2l: reset applied to h before the matmul",
              ("reset w_hn (r·h), before the recurrent matmul",)),
    _existing("gru_no_bias", 100, "no biases, weights stored [in, 3H]"),
    _existing("gru_sigmoid_candidate", 70, "the candidate goes through a sigmoid", ("sigmoid where tanh belongs",)),
    _existing("gru_no_reset", 65, "only an update gate and a candidate", ("it has no reset gate",)),
    _existing("gru_batch_axis", 75, "the layer steps over the batch axis", ("it steps over the batch axis",)),
    _existing("gru_builtin_cell", 25, "nn.GRUCell inside the cell", ("self.cell = nn.grucell(input_size, hidden_size)",)),
]
