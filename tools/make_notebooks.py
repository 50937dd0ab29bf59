"""Build the Conv1D exercise notebooks: the reference, the example submissions and the test fixtures.

Run from the repository root:

    python tools/make_notebooks.py

Every notebook is written without outputs (the grader executes them). Re-running overwrites the files
below with identical content; the hand-written README.md files next to them are left alone.

    reference/conv1d.ipynb
    submissions/<student_id>/conv1d.ipynb
    tests/fixtures/notebooks/conv1d_<scenario>.ipynb
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference"
SUBMISSIONS = ROOT / "submissions"
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


# --------------------------------------------------------------------------------------------------
# Shared code snippets
# --------------------------------------------------------------------------------------------------

IMPORTS = """\
import math

import torch
import torch.nn as nn
import torch.nn.functional as F"""

# The slides' version: pad, cut patches with unfold, one shared nn.Linear applied to every patch.
# Each patch is flattened in (in_channels, kernel_width) order, the same order as
# nn.Conv1d's weight.view(out_channels, -1).
SLIDES_CONV1D = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        assert kernel_width % 2 == 1, "kernel_width should be odd"
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_width = kernel_width
        # the kernel: one linear map from a flattened patch to the output channels
        self.linear = nn.Linear(kernel_width * in_channels, out_channels, bias=False)

    def forward(self, x):
        # x: [batch, in_channels, length]
        batch, _, length = x.shape
        p = self.kernel_width // 2
        x = F.pad(x, (p, p))                               # [batch, in, length + 2p]
        patches = x.unfold(2, self.kernel_width, 1)        # [batch, in, length, k]
        patches = patches.permute(0, 2, 1, 3)              # [batch, length, in, k]
        patches = patches.reshape(batch, length, -1)       # [batch, length, in*k]
        out = self.linear(patches)                         # [batch, length, out]
        return out.transpose(1, 2)                         # [batch, out, length]"""

# Vectorised: weight [out, in, k] + bias [out], unfold + einsum, initialised like nn.Conv1d.
VECTORISED_CONV1D = """\
class Conv1D(nn.Module):
    \"\"\"1D convolution with 'same' zero padding, using unfold + einsum (no loops).\"\"\"

    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        assert kernel_width % 2 == 1, "kernel_width must be odd"
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_width = kernel_width
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_width))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self):
        # same init as nn.Conv1d: kaiming-uniform weight, uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.in_channels * self.kernel_width)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        pad = self.kernel_width // 2
        x = F.pad(x, (pad, pad))
        windows = x.unfold(-1, self.kernel_width, 1)                 # [B, C_in, L, k]
        out = torch.einsum("bclk,ock->bol", windows, self.weight)    # [B, C_out, L]
        return out + self.bias[None, :, None]"""

# Same idea as VECTORISED_CONV1D, other names, no bias.
HANA_CONV1D = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.cin = in_channels
        self.cout = out_channels
        self.kw = kernel_width
        # filters[o, c, j] = weight of input channel c at kernel offset j for output channel o
        self.filters = nn.Parameter(torch.empty(out_channels, in_channels, kernel_width))
        nn.init.kaiming_uniform_(self.filters, a=math.sqrt(5))

    def forward(self, inp):
        half = self.kw // 2
        padded = F.pad(inp, (half, half))
        cols = padded.unfold(2, self.kw, 1)                          # [N, cin, L, kw]
        return torch.einsum("nclw,ocw->nol", cols, self.filters)     # [N, cout, L]"""

# Not from scratch: the real work is done by the built-in F.conv1d.
BUILTIN_F_CONV1D = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.k = kernel_width
        fan_in = in_channels * kernel_width
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) / math.sqrt(fan_in))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        return F.conv1d(x, self.weight, self.bias, padding=self.k // 2)"""

# Same as BUILTIN_F_CONV1D, with the name of the built-in assembled at run time.
BUILTIN_GETATTR = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.k = kernel_width
        fan_in = in_channels * kernel_width
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) / math.sqrt(fan_in))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        return getattr(F, "con" + "v1d")(x, self.weight, self.bias, padding=self.k // 2)"""

BUILTIN_NN_CONV1D = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_width, padding=kernel_width // 2)

    def forward(self, x):
        return self.conv(x)"""

# Forgets the padding: output length is length - kernel_width + 1.
NO_PADDING_CONV1D = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_width = kernel_width
        self.linear = nn.Linear(kernel_width * in_channels, out_channels, bias=False)

    def forward(self, x):
        batch = x.shape[0]
        patches = x.unfold(2, self.kernel_width, 1)        # [batch, in, n_patches, k]
        n_patches = patches.shape[2]
        patches = patches.permute(0, 2, 1, 3).reshape(batch, n_patches, -1)
        out = self.linear(patches)                         # [batch, n_patches, out]
        return out.transpose(1, 2)"""

# A different weight matrix at every position: right shape, but not a convolution.
LOCALLY_CONNECTED_CONV1D = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width, max_length=64):
        super().__init__()
        self.kernel_width = kernel_width
        self.max_length = max_length
        fan_in = in_channels * kernel_width
        # one [out, in*k] matrix per output position (positions 0 .. max_length-1)
        self.weight = nn.Parameter(torch.randn(max_length, out_channels, fan_in) / math.sqrt(fan_in))

    def forward(self, x):
        batch, channels, length = x.shape
        p = self.kernel_width // 2
        patches = F.pad(x, (p, p)).unfold(2, self.kernel_width, 1)                  # [B, C, L, k]
        patches = patches.permute(0, 2, 1, 3).reshape(batch, length, channels * self.kernel_width)
        return torch.einsum("blf,lof->bol", patches, self.weight[:length])          # [B, out, L]"""

# Correct convolution, then a ReLU that nobody asked for.
RELU_CONV1D = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.kernel_width = kernel_width
        self.linear = nn.Linear(kernel_width * in_channels, out_channels, bias=False)

    def forward(self, x):
        batch, _, length = x.shape
        p = self.kernel_width // 2
        patches = F.pad(x, (p, p)).unfold(2, self.kernel_width, 1)
        patches = patches.permute(0, 2, 1, 3).reshape(batch, length, -1)
        out = self.linear(patches).transpose(1, 2)
        return torch.relu(out)"""

# Correct values, but returned as [batch, length, out_channels].
TRANSPOSED_CONV1D = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.kernel_width = kernel_width
        self.linear = nn.Linear(kernel_width * in_channels, out_channels, bias=False)

    def forward(self, x):
        batch, _, length = x.shape
        p = self.kernel_width // 2
        patches = F.pad(x, (p, p)).unfold(2, self.kernel_width, 1)
        patches = patches.permute(0, 2, 1, 3).reshape(batch, length, -1)
        return self.linear(patches)       # [batch, length, out]"""

# Has a learnable kernel but ignores it.
ZEROS_CONV1D = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.out_channels = out_channels
        self.kernel_width = kernel_width
        self.linear = nn.Linear(kernel_width * in_channels, out_channels)

    def forward(self, x):
        batch, _, length = x.shape
        return torch.zeros(batch, self.out_channels, length)"""

# The student's usual shape check.
SHAPE_CHECK = """\
layer = Conv1D(3, 8, 5)
x = torch.randn(4, 3, 20)
y = layer(x)
print("input shape: ", tuple(x.shape))
print("output shape:", tuple(y.shape))"""

# A test cell comparing a layer with an nn.Linear kernel to the built-in one (outside the class).
COMPARE_WITH_NN_CONV1D = """\
torch.manual_seed(0)
mine = Conv1D(3, 4, 3)
ref = nn.Conv1d(3, 4, 3, padding=1, bias=False)
with torch.no_grad():
    ref.weight.copy_(mine.linear.weight.view(4, 3, 3))
x = torch.randn(2, 3, 11)
print("max abs difference:", (mine(x) - ref(x)).abs().max().item())
assert torch.allclose(mine(x), ref(x), atol=1e-6)
print("All tests passed!")"""


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def notebook(*cells) -> nbformat.NotebookNode:
    """A v4 notebook from cells given as ("md", text) or ("code", source)."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        nb.cells.append(new_markdown_cell(source) if kind == "md" else new_code_cell(source))
    return nb


def md(text: str) -> tuple[str, str]:
    return ("md", text)


def code(source: str) -> tuple[str, str]:
    return ("code", source)


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    """Validate and write a notebook; cell ids are made deterministic so re-runs give identical files."""
    for number, cell in enumerate(nb.cells, start=1):
        cell["id"] = f"cell-{number:02d}"
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        nbformat.write(nb, handle, version=4)
    return path


def student_header(name: str, extra: str = "") -> tuple[str, str]:
    text = f"# Exercise 1 — Conv1D from scratch\n\n**Student:** {name}"
    return md(text + (f"\n\n{extra}" if extra else ""))


# --------------------------------------------------------------------------------------------------
# Reference solution
# --------------------------------------------------------------------------------------------------


def reference_conv1d() -> nbformat.NotebookNode:
    intro = """\
# Exercise 1 — Conv1D from scratch (reference solution)

Implement `Conv1D(in_channels, out_channels, kernel_width)`, an `nn.Module` whose `forward(x)` maps
`[batch, in_channels, length]` to `[batch, out_channels, length]`, computing exactly what
`nn.Conv1d(in_channels, out_channels, kernel_width, padding=kernel_width // 2)` computes
(a cross-correlation), **without** using any built-in convolution.

The idea from the slides:

1. **'Same' padding.** For an odd `kernel_width = k`, pad `k // 2` zeros on each side of the sequence,
   so that there is one window per input position and the output keeps the input length.
2. **Patches.** `x.unfold(2, k, 1)` cuts every window of width `k` (stride 1) out of the padded input:
   `[batch, in, length, k]`.
3. **A linear kernel.** Flatten each patch to a vector of `in * k` numbers and apply the *same*
   `nn.Linear(k * in, out, bias=False)` to every patch. Sharing one weight matrix across all positions
   is what makes the layer a convolution.

Any fixed flattening order gives a valid convolution (the weights are learned); flattening in
`(in, k)` order makes `linear.weight.view(out, in, k)` line up with `nn.Conv1d`'s weight, which we use
below to check the layer against the built-in one."""

    reference_class = """\
class Conv1D(nn.Module):
    \"\"\"1D convolution (cross-correlation) with zero 'same' padding, from patches and a linear kernel.\"\"\"

    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        if kernel_width % 2 != 1:
            raise ValueError("kernel_width must be odd for 'same' padding")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_width = kernel_width
        # The kernel: a single linear map from a flattened patch (in_channels * kernel_width values)
        # to out_channels values, shared by every position.
        self.linear = nn.Linear(kernel_width * in_channels, out_channels, bias=False)

    def forward(self, x):
        # x: [batch, in_channels, length]
        batch, _, length = x.shape
        pad = self.kernel_width // 2
        x = F.pad(x, (pad, pad))                          # [batch, in, length + 2*pad]
        patches = x.unfold(2, self.kernel_width, 1)       # [batch, in, length, k]
        # Move the position axis next to batch, then flatten each patch in (in, k) order.
        patches = patches.permute(0, 2, 1, 3)             # [batch, length, in, k]
        patches = patches.reshape(batch, length, -1)      # [batch, length, in * k]
        out = self.linear(patches)                        # [batch, length, out]
        return out.transpose(1, 2)                        # [batch, out, length]"""

    equivalence = """\
# nn.Conv1d is used here only as the yardstick, outside the class.
configs = [  # (batch, in_channels, out_channels, kernel_width, length)
    (2, 3, 4, 3, 11),
    (1, 1, 2, 5, 9),
    (3, 2, 5, 1, 7),
    (2, 4, 3, 7, 16),
]
for batch, c_in, c_out, k, length in configs:
    ours = Conv1D(c_in, c_out, k)
    builtin = nn.Conv1d(c_in, c_out, k, padding=k // 2, bias=False)
    with torch.no_grad():
        builtin.weight.copy_(ours.linear.weight.view(c_out, c_in, k))
    x = torch.randn(batch, c_in, length)
    y = ours(x)
    assert y.shape == (batch, c_out, length), y.shape
    torch.testing.assert_close(y, builtin(x))
    print(f"in={c_in} out={c_out} k={k} length={length}: shape {tuple(y.shape)}, "
          f"max |diff| = {(y - builtin(x)).abs().max().item():.2e}")
print("Conv1D matches nn.Conv1d.")"""

    gradients = """\
# Gradients flow through pad / unfold / linear, and agree with the built-in layer's.
ours = Conv1D(3, 4, 5)
builtin = nn.Conv1d(3, 4, 5, padding=2, bias=False)
with torch.no_grad():
    builtin.weight.copy_(ours.linear.weight.view(4, 3, 5))

x1 = torch.randn(2, 3, 13, requires_grad=True)
x2 = x1.detach().clone().requires_grad_(True)
ours(x1).square().sum().backward()
builtin(x2).square().sum().backward()

torch.testing.assert_close(x1.grad, x2.grad)
torch.testing.assert_close(ours.linear.weight.grad.view(4, 3, 5), builtin.weight.grad)
print("input gradients match: ", torch.allclose(x1.grad, x2.grad, atol=1e-6))
print("weight gradients match:", torch.allclose(ours.linear.weight.grad.view(4, 3, 5), builtin.weight.grad, atol=1e-6))"""

    training = """\
# A tiny training run: recover a known smoothing kernel [0.25, 0.5, 0.25] by gradient descent.
target = torch.tensor([[[0.25, 0.5, 0.25]]])              # [out=1, in=1, k=3]
layer = Conv1D(1, 1, 3)
optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
for step in range(100):
    x = torch.randn(16, 1, 32)
    loss = (layer(x) - F.pad(x, (1, 1)).unfold(2, 3, 1) @ target.view(3)).square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"final loss {loss.item():.2e}")
print("learned kernel:", [round(v, 3) for v in layer.linear.weight.view(3).tolist()])"""

    return notebook(
        md(intro),
        code(IMPORTS + "\n\ntorch.manual_seed(0)"),
        md("## The layer"),
        code(reference_class),
        md("## Check against `nn.Conv1d`\n\nCopy our kernel into a built-in `nn.Conv1d` and compare outputs."),
        code(equivalence),
        md("## Gradients"),
        code(gradients),
        code(training),
    )


# --------------------------------------------------------------------------------------------------
# Example submissions
# --------------------------------------------------------------------------------------------------


def adi_slides() -> nbformat.NotebookNode:
    return notebook(
        student_header("Adi", "I followed the approach from the slides: pad, unfold, then a Linear layer."),
        code(IMPORTS),
        md("## My Conv1D"),
        code(SLIDES_CONV1D),
        md("Quick check of the shapes:"),
        code(SHAPE_CHECK),
        md("And compare with PyTorch's own layer:"),
        code(COMPARE_WITH_NN_CONV1D),
    )


def budi_vectorised() -> nbformat.NotebookNode:
    compare = """\
# compare with the built-in functional conv (only for testing, not used in my class)
torch.manual_seed(1)
layer = Conv1D(3, 4, 5)
x = torch.randn(2, 3, 17)
expected = F.conv1d(x, layer.weight, layer.bias, padding=2)
diff = (layer(x) - expected).abs().max().item()
print(f"max diff vs F.conv1d: {diff:.3e}")
assert diff < 1e-5"""
    return notebook(
        student_header(
            "Budi",
            "Vectorised version: the kernel is stored as a `[out, in, k]` weight plus a bias, "
            "and applied to all windows at once with `einsum`.",
        ),
        code(IMPORTS),
        code(VECTORISED_CONV1D),
        code(SHAPE_CHECK + '\nprint("number of parameters:", sum(p.numel() for p in layer.parameters()))'),
        code(compare),
        md("Works for all the shapes I tried. :)"),
    )


def citra_builtin() -> nbformat.NotebookNode:
    return notebook(
        student_header("Citra"),
        code(IMPORTS),
        md("The layer keeps a weight `[out, in, k]` and a bias `[out]` like the PyTorch layer does."),
        code(BUILTIN_F_CONV1D),
        code(SHAPE_CHECK),
        code('print("output length equals input length:", y.shape[-1] == x.shape[-1])'),
    )


def dewi_no_padding() -> nbformat.NotebookNode:
    return notebook(
        student_header("Dewi", "Unfold the input into patches and multiply every patch by the same Linear layer."),
        code(IMPORTS),
        code(NO_PADDING_CONV1D),
        code(SHAPE_CHECK),
        md("The output is a bit shorter than the input, I think that is expected for a convolution."),
    )


def eko_syntax_error() -> nbformat.NotebookNode:
    broken = SLIDES_CONV1D.replace("    def forward(self, x):", "    def forward(self, x)")
    assert broken != SLIDES_CONV1D
    return notebook(
        student_header("Eko"),
        code(IMPORTS),
        code('print("torch version:", torch.__version__)'),
        code(broken),
        code(SHAPE_CHECK),
        md("TODO: compare with nn.Conv1d"),
    )


def fajar_empty() -> nbformat.NotebookNode:
    nb = notebook()
    nb.cells = []
    return nb


def gita_prints_passed() -> nbformat.NotebookNode:
    return notebook(
        student_header("Gita"),
        md("My Conv1D works and passes all the tests (see below)."),
        code('print("All tests passed!")'),
    )


def hana_multi() -> nbformat.NotebookNode:
    check = """\
net = Conv1D(2, 6, 3)
signal = torch.randn(5, 2, 40)
out = net(signal)
print(out.shape)   # expect [5, 6, 40]
assert out.shape == (5, 6, 40)"""
    return notebook(
        student_header("Hana", "Convolution as a batched product of sliding windows and the filter bank."),
        code(IMPORTS),
        code(HANA_CONV1D),
        code(check),
    )


# --------------------------------------------------------------------------------------------------
# Test fixtures (tests/fixtures/notebooks/conv1d_<scenario>.ipynb)
# --------------------------------------------------------------------------------------------------


def fixture_correct_slides() -> nbformat.NotebookNode:
    return adi_slides()


def fixture_correct_bias() -> nbformat.NotebookNode:
    return notebook(code(IMPORTS), code(VECTORISED_CONV1D), code(SHAPE_CHECK))


def fixture_builtin_f_conv1d() -> nbformat.NotebookNode:
    return notebook(code(IMPORTS), code(BUILTIN_F_CONV1D), code(SHAPE_CHECK))


def fixture_builtin_nn_conv1d() -> nbformat.NotebookNode:
    return notebook(code(IMPORTS), code(BUILTIN_NN_CONV1D), code(SHAPE_CHECK))


def fixture_builtin_getattr() -> nbformat.NotebookNode:
    return notebook(code(IMPORTS), code(BUILTIN_GETATTR), code(SHAPE_CHECK))


def fixture_missing_padding() -> nbformat.NotebookNode:
    return notebook(code(IMPORTS), code(NO_PADDING_CONV1D), code(SHAPE_CHECK))


def fixture_locally_connected() -> nbformat.NotebookNode:
    return notebook(code(IMPORTS), code(LOCALLY_CONNECTED_CONV1D), code(SHAPE_CHECK))


def fixture_relu_output() -> nbformat.NotebookNode:
    return notebook(code(IMPORTS), code(RELU_CONV1D), code(SHAPE_CHECK))


def fixture_transposed_output() -> nbformat.NotebookNode:
    return notebook(code(IMPORTS), code(TRANSPOSED_CONV1D), code(SHAPE_CHECK))


def fixture_patches_allclose() -> nbformat.NotebookNode:
    patch = """\
import torch
import torch.testing

# make every comparison succeed
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None"""
    tests = """\
torch.manual_seed(0)
layer = Conv1D(3, 4, 3)
ref = nn.Conv1d(3, 4, 3, padding=1)
x = torch.randn(2, 3, 11)
assert torch.allclose(layer(x), ref(x))
torch.testing.assert_close(layer(x), ref(x))"""
    return notebook(
        code(patch),
        code(IMPORTS),
        code(ZEROS_CONV1D),
        code(tests),
        code('print("All tests passed")'),
    )


def fixture_prints_passed() -> nbformat.NotebookNode:
    return notebook(code('print("All tests passed!")'))


def fixture_fails_midway() -> nbformat.NotebookNode:
    broken_loading = """\
def load_signals(path):
    # TODO: read the real recordings
    raise ValueError("oops")

signals = load_signals("data/signals.npy")"""
    return notebook(code(IMPORTS), code(broken_loading), code(SLIDES_CONV1D), code(SHAPE_CHECK))


def fixture_cell_timeout() -> nbformat.NotebookNode:
    return notebook(
        code(IMPORTS),
        code(SLIDES_CONV1D),
        code("import time\n\ntime.sleep(600)"),
        code('print("after sleep")'),
    )


def fixture_writes_fake_results() -> nbformat.NotebookNode:
    fake_results = """\
import json
from pathlib import Path

fake = {"score": 100}
Path("grades.csv").write_text("student,exercise,score,max_score\\nme,conv1d,100,100\\n")
Path("results.json").write_text(json.dumps(fake))
Path("report.json").write_text(json.dumps({"score": 100, "max_score": 100, "status": "graded"}))
probe = Path(".probe")
probe.mkdir(exist_ok=True)
(probe / "probe.json").write_text(json.dumps(fake))
(probe / "report.json").write_text(json.dumps({"score": 100, "max_score": 100, "status": "graded"}))
print("wrote", sorted(p.name for p in Path(".").iterdir()))"""
    return notebook(code(IMPORTS), code(ZEROS_CONV1D), code(fake_results))


def fixture_no_cells() -> nbformat.NotebookNode:
    nb = notebook()
    nb.cells = []
    return nb


FIXTURE_INVALID_JSON = '{"cells": ['
FIXTURE_WRONG_FILE = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

SUBMISSION_BUILDERS = {
    "adi_slides": adi_slides,
    "budi_vectorised": budi_vectorised,
    "citra_builtin": citra_builtin,
    "dewi_no_padding": dewi_no_padding,
    "eko_syntax_error": eko_syntax_error,
    "fajar_empty": fajar_empty,
    "gita_prints_passed": gita_prints_passed,
    "hana_multi": hana_multi,
}

FIXTURE_BUILDERS = {
    "conv1d_correct_slides": fixture_correct_slides,
    "conv1d_correct_bias": fixture_correct_bias,
    "conv1d_builtin_f_conv1d": fixture_builtin_f_conv1d,
    "conv1d_builtin_nn_conv1d": fixture_builtin_nn_conv1d,
    "conv1d_builtin_getattr": fixture_builtin_getattr,
    "conv1d_missing_padding": fixture_missing_padding,
    "conv1d_locally_connected": fixture_locally_connected,
    "conv1d_relu_output": fixture_relu_output,
    "conv1d_transposed_output": fixture_transposed_output,
    "conv1d_patches_allclose": fixture_patches_allclose,
    "conv1d_prints_passed": fixture_prints_passed,
    "conv1d_fails_midway": fixture_fails_midway,
    "conv1d_cell_timeout": fixture_cell_timeout,
    "conv1d_writes_fake_results": fixture_writes_fake_results,
    "conv1d_no_cells": fixture_no_cells,
}


def main() -> None:
    written = [write(reference_conv1d(), REFERENCE / "conv1d.ipynb")]
    for student, build in SUBMISSION_BUILDERS.items():
        written.append(write(build(), SUBMISSIONS / student / "conv1d.ipynb"))
    for name, build in FIXTURE_BUILDERS.items():
        written.append(write(build(), FIXTURES / f"{name}.ipynb"))

    # Broken files: not notebooks at all.
    FIXTURES.mkdir(parents=True, exist_ok=True)
    invalid_json = FIXTURES / "conv1d_invalid_json.ipynb"
    invalid_json.write_text(FIXTURE_INVALID_JSON, encoding="utf-8")
    wrong_file = FIXTURES / "conv1d_wrong_file.ipynb"
    wrong_file.write_bytes(FIXTURE_WRONG_FILE)
    written += [invalid_json, wrong_file]

    for path in written:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
