"""Conv1D verdict fixtures: the slides' code verbatim, the ways students vectorise or loop, demo cells whose names
look like torch's, and mistakes with the words the report must use."""

from __future__ import annotations

from make_notebooks import IMPORTS, VECTORISED_CONV1D, code, md

from verdict_fixtures import Fixture

HEADER = md("# Exercise 1 — Conv1D from scratch\n\n**Student:** verdict fixture")

# The slides (001_*.txt, "The codes, from the scratch"), three code blocks pasted as they are: the bias-free Linear,
# Conv1D with a loop over positions, and the shape check.
SLIDES_LINEAR = """\
import torch
import torch.nn as nn

class Linear(nn.Module):
    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.W = nn.Parameter(torch.Tensor(self.n_inputs, self.n_outputs))
        self.init_weights()

    def init_weights(self):
        for param in self.parameters():
            nn.init.uniform_(param, -0.1, 0.1)

    def forward(self, x):
        return x @ self.W"""

SLIDES_CONV1D = '''\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        """ kernel_width harus ganjil """
        super(Conv1D, self).__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_width = kernel_width
        self.pad_size = (self.kernel_width - 1) // 2
        self.kernel = Linear(kernel_width * in_channels, out_channels)

    def forward(self, x):
        # padding
        x = nn.functional.pad(x, (self.pad_size, self.pad_size), "constant", 0)

        l = []
        for i in range(self.pad_size, x.shape[2] - self.pad_size):
            patch = x[:, :, i - self.pad_size: i + self.pad_size + 1]
            patch = patch.reshape(x.shape[0], self.in_channels * self.kernel_width)
            l.append(self.kernel(patch))

        return torch.stack(l, dim=2)'''

SLIDES_DEMO = """\
seq = torch.tensor([[[1.,2.,3.,4.,5.], [5.,4.,3.,2.,1.]],
                    [[1.,2.,3.,4.,5.], [5.,4.,3.,2.,1.]]])

print(seq.shape)           # torch.size([2, 2, 5])

conv = Conv1D(2, 7, 3)

print(conv(seq).shape)     # torch.size([2, 7, 5])"""

# A demo cell whose names are torch's too: `conv1d` holds the student's layer, `out` is also a local in forward.
DEMO_NAMED_CONV1D = """\
conv1d = Conv1D(3, 8, 5)
x = torch.randn(4, 3, 20)
out = conv1d(x)
reference = nn.Conv1d(3, 8, 5, padding=2)
print(out.shape, reference(x).shape)"""

UNFOLD_MATMUL = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.k = kernel_width
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels * kernel_width) * 0.1)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        half = self.k // 2
        windows = F.pad(x, (half, half)).unfold(2, self.k, 1)        # [B, C, L, k]
        windows = windows.permute(0, 2, 1, 3).flatten(2)              # [B, L, C*k]
        return (windows @ self.weight.T + self.bias).transpose(1, 2)  # [B, out, L]"""

EINSUM_SHIFTS = """\
class Conv1D(nn.Module):
    \"\"\"One einsum per kernel offset over shifted copies of the padded input, summed.\"\"\"

    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.kernel_width = kernel_width
        self.weight = nn.Parameter(torch.randn(kernel_width, out_channels, in_channels) * 0.1)

    def forward(self, x):
        length = x.shape[-1]
        half = self.kernel_width // 2
        padded = F.pad(x, (half, half))
        out = 0
        for offset in range(self.kernel_width):
            out = out + torch.einsum("bcl,oc->bol", padded[:, :, offset:offset + length], self.weight[offset])
        return out"""

LOOP_POSITIONS = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.out_channels = out_channels
        self.kernel_width = kernel_width
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.1)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        batch, channels, length = x.shape
        half = self.kernel_width // 2
        padded = torch.zeros(batch, channels, length + 2 * half)
        padded[:, :, half:half + length] = x
        columns = []
        for position in range(length):
            window = padded[:, :, position:position + self.kernel_width]       # [B, C, k]
            values = [(window * self.weight[o]).sum(dim=(1, 2)) + self.bias[o] for o in range(self.out_channels)]
            columns.append(torch.stack(values, dim=1))                          # [B, out]
        return torch.stack(columns, dim=2)"""

# Pads only on the left (a causal convolution): the shape is right, the alignment is not 'same'.
CAUSAL_PADDING = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.k = kernel_width
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.1)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        windows = F.pad(x, (self.k - 1, 0)).unfold(2, self.k, 1)        # [B, C, L, k]
        return torch.einsum("bclk,ock->bol", windows, self.weight) + self.bias[None, :, None]"""

NUMPY_CORRELATE = """\
import numpy as np

class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.1)

    def forward(self, x):
        signal = x.detach().numpy()
        kernel = self.weight.detach().numpy()
        out = np.zeros((signal.shape[0], kernel.shape[0], signal.shape[2]), dtype=np.float32)
        for b in range(signal.shape[0]):
            for o in range(kernel.shape[0]):
                for c in range(kernel.shape[1]):
                    out[b, o] += np.correlate(signal[b, c], kernel[o, c], mode="same")
        return torch.from_numpy(out)"""

SHAPE_CHECK = """\
layer = Conv1D(3, 8, 5)
x = torch.randn(4, 3, 20)
print(layer(x).shape)"""


def _existing(name: str, band: float, why: str, words: tuple[str, ...] = ()) -> Fixture:
    """A fixture notebook written by tools/make_notebooks.py, registered with the score its old test asserted."""
    return Fixture(name, "conv1d", "student variant (tools/make_notebooks.py)", (band, band), why,
                   report_contains=words)


FIXTURES: list[Fixture] = [
    Fixture("conv1d_slides_verbatim", "conv1d", "lecture slides 001_*.txt: Linear, Conv1D and the shape check, verbatim",
            (100, 100), "the slides' own code is a correct from-scratch Conv1D (bias-free Linear as the kernel)",
            cells=(HEADER, code(SLIDES_LINEAR), code(SLIDES_CONV1D), code(SLIDES_DEMO))),
    Fixture("conv1d_demo_named_conv1d", "conv1d", "student variant: a correct layer, then a demo cell `conv1d = "
            "Conv1D(...)` and an nn.Conv1d reference outside the class", (100, 100),
            "the demo's `conv1d` and `out` are the student's own names; nn.Conv1d outside the class is no helper",
            cells=(HEADER, code(IMPORTS), code(VECTORISED_CONV1D), code(DEMO_NAMED_CONV1D))),
    Fixture("conv1d_unfold_matmul", "conv1d", "student variant: Tensor.unfold and one matmul with [out, in·k] weights",
            (100, 100), "a correct vectorised cross-correlation with 'same' padding and a bias",
            cells=(HEADER, code(IMPORTS), code(UNFOLD_MATMUL), code(SHAPE_CHECK))),
    Fixture("conv1d_einsum_shifts", "conv1d", "student variant: one einsum per kernel offset, summed", (100, 100),
            "a correct cross-correlation, weights stored [k, out, in]",
            cells=(HEADER, code(IMPORTS), code(EINSUM_SHIFTS), code(SHAPE_CHECK))),
    Fixture("conv1d_loop_positions", "conv1d", "student variant: Python loops over positions and output channels",
            (100, 100), "slow but correct: every output is the window times the kernel plus the bias",
            cells=(HEADER, code(IMPORTS), code(LOOP_POSITIONS), code(SHAPE_CHECK))),
    Fixture("conv1d_causal_padding", "conv1d", "student variant: pads k−1 zeros on the left only", (65, 80),
            "right shapes, but each output sees the k previous positions instead of the centred window: equivalence"
            " and edge cases are lost wherever that differs (not for kernel width 1), as for conv1d_missing_padding",
            cells=(HEADER, code(IMPORTS), code(CAUSAL_PADDING), code(SHAPE_CHECK)),
            report_contains=("depends on input position", "farther than kernel_width//2")),
    Fixture("conv1d_numpy_correlate", "conv1d", "student variant: np.correlate on the detached tensors", (10, 30),
            "the convolution is numpy's, not the student's, and no gradient reaches the weights",
            cells=(HEADER, code(IMPORTS), code(NUMPY_CORRELATE), code(SHAPE_CHECK)),
            report_contains=("numpy.correlate", "tensors go to numpy")),
    Fixture("conv1d_written_answer_indonesian", "conv1d", "lecture slides 001_*.txt: the slides' Conv1D and its "
            "\"300 point!\" question answered under an Indonesian heading (student variant)", (100, 100),
            "the layer is correct; the written answer is found under 'Konvolusi vs Korelasi Silang' and waits for a TA "
            "(a bonus outside the 100 points)",
            cells=(HEADER, code(SLIDES_LINEAR), code(SLIDES_CONV1D), code(SLIDES_DEMO),
                   md("### Soal bonus: Konvolusi vs. Korelasi Silang"),
                   md("Konvolusi membalik kernel sebelum digeser; korelasi silang tidak. Jadi CNN sebenarnya "
                      "melakukan korelasi silang.")),
            report_contains=("awaiting review", "Konvolusi vs. Korelasi Silang")),
    _existing("conv1d_correct_slides", 100, "the slides' method (pad, patches, one shared Linear) vectorised with unfold"),
    _existing("conv1d_correct_bias", 100, "unfold + einsum with a bias, initialised like nn.Conv1d"),
    _existing("conv1d_fails_midway", 100, "an unrelated cell raises; the layer defined after it is correct"),
    _existing("conv1d_builtin_f_conv1d", 30, "F.conv1d does the work: from_scratch and the checks it gates go",
              ("'conv1d' in cell 2, line 10",)),
    _existing("conv1d_builtin_nn_conv1d", 30, "nn.Conv1d inside the class", ("'conv1d' in cell 2",)),
    _existing("conv1d_builtin_getattr", 30, "F.conv1d reached through getattr(F, 'con' + 'v1d'): caught at run time",
              ("at run time: aten.convolution.default", "autograd.convolutionbackward0, torch.conv1d")),
    _existing("conv1d_missing_padding", 61.25, "no padding: the output is shorter", ("'same' padding is missing",)),
    _existing("conv1d_locally_connected", 56.67, "a different kernel at every position", ("not shared across positions",)),
    _existing("conv1d_relu_output", 65, "a ReLU nobody asked for on the output", ("a relu on the output?",)),
    _existing("conv1d_transposed_output", 51.67, "returns [batch, length, out_channels]",
              ("[batch, length, out_channels]",)),
    _existing("conv1d_patches_allclose", 20, "patches torch.allclose and returns zeros: gains nothing",
              ("does not depend on the input",)),
    _existing("conv1d_writes_fake_results", 20, "writes fake result files next to a layer that returns zeros"),
    _existing("conv1d_prints_passed", 0, "prints 'All tests passed!' and defines nothing"),
]
