"""Build the forgery and evasion corpus: notebooks written by a student who has read the grader's source.

Run from the repository root:

    python tools/make_measure_notebooks.py

Each notebook is named after its route. The forgeries (`forgery_*`) define no working Conv1D of their own (honest code
that earns 0) and try to make the grader measure a correct layer anyway; the evasions (`evasion_*`) hide a built-in
convolution from the from-scratch check; the rnn_lm forgeries hide a built-in cell by faking the grader's kernel
helpers. What each must get is pinned by tests/test_measure.py.

    tests/fixtures/notebooks/forgery_<route>.ipynb, evasion_<route>.ipynb
"""

from __future__ import annotations

from make_notebooks import FIXTURES, IMPORTS, SLIDES_CONV1D, code, md, notebook, write
from make_rnn_notebooks import (RNN_IMPORTS, SLIDES_DATASET, SLIDES_MODEL, SLIDES_PREDICT, SLIDES_RNN, SLIDES_TRAIN,
                                STUDENT_CORPUS, STUDENT_RUN)

# A correct layer under another name: what every forgery tries to have measured in place of the missing Conv1D.
HONEST = SLIDES_CONV1D.replace("class Conv1D(", "class _Honest(")

# What the old probe cell looked like to a notebook: its source names the exercise and the work dir folder.
POST_RUN_CELL = HONEST + """

import glob, json, os, torch

def _forge(result):
    # After the grader's probe cell: run the probe again on the honest layer and overwrite what it wrote.
    cell = getattr(result.info, "raw_cell", "") or ""
    if "_grader_probe" not in cell:
        return
    namespace = dict(globals(), Conv1D=_Honest)
    exec(cell.replace("_grader_probe(globals())", "_grader_probe(namespace)"), {"namespace": namespace})

get_ipython().events.register("post_run_cell", _forge)"""

INPUT_TRANSFORMER = HONEST + """

def _swap(lines):
    # Rewrite the grader's probe cell before it runs, so that it probes the honest layer.
    return [line.replace("_grader_probe(globals())", "_grader_probe(dict(globals(), Conv1D=_Honest))")
            for line in lines]

get_ipython().input_transformers_post.append(_swap)"""

AST_TRANSFORMER = HONEST + """

import ast

class _Swap(ast.NodeTransformer):
    # Every name Conv1D the grader's cells load becomes the honest layer.
    def visit_Name(self, node):
        if node.id == "Conv1D":
            return ast.copy_location(ast.Name("_Honest", node.ctx), node)
        return node

get_ipython().ast_transformers.append(_Swap())"""

PATCHED_JSON = HONEST + """

import json, sys

_real_dumps = json.dumps

def _dumps(document, *args, **kwargs):
    # Whatever the probe measured, report the class as present and working.
    if isinstance(document, dict) and "values" in document:
        document["values"]["class_status"] = "ok"
    return _real_dumps(document, *args, **kwargs)

sys.modules["json"].dumps = _dumps"""

SET_PROFILE = HONEST + """

import sys

def _edit(frame, event, arg):
    # When the probe's recorder is called, put the honest layer in the namespace it reads.
    if event == "call" and frame.f_code.co_name in ("probe", "run") and "namespace" in frame.f_locals:
        frame.f_locals["namespace"]["Conv1D"] = _Honest

sys.setprofile(_edit)"""

DAEMON_THREAD = HONEST + """

import glob, os, threading, time

def _rewrite():
    # Keep rewriting whatever the probe saves, and keep the honest layer in place, for the rest of the kernel's life.
    while True:
        globals()["Conv1D"] = _Honest
        for path in glob.glob(os.path.join(os.getcwd(), ".grader-probe-*", "probe.json")):
            try:
                with open(path, "w") as handle:
                    handle.write('{"values": {"class_status": "ok"}, "errors": {}}')
            except OSError:
                pass
        time.sleep(0.01)

threading.Thread(target=_rewrite, daemon=True).start()"""

# The same routes, installed by the graded class itself while the probe builds it (they run in any kernel).
FROM_INIT = """\
import json, sys, threading

class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.linear = nn.Linear(in_channels * kernel_width, out_channels)
        sys.setprofile(lambda frame, event, arg: None)
        get_ipython().events.register("post_run_cell", lambda result: None)
        threading.Thread(target=lambda: __import__("time").sleep(30), daemon=True).start()

    def forward(self, x):
        return torch.zeros(x.shape[0], self.linear.out_features, x.shape[2])"""

# Behaves as a convolution from scratch only when it finds the grader on its call stack; F.conv1d otherwise.
STACK_INSPECTING = """\
import inspect

class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.3)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        graded = any("grader" in frame.filename for frame in inspect.stack())
        k = self.weight.shape[2]
        if not graded:
            return F.conv1d(x, self.weight, self.bias, padding=k // 2)
        padded = F.pad(x, (k // 2, k // 2))
        windows = padded.unfold(2, k, 1)                       # [batch, in, length, k]
        return torch.einsum("bilk,oik->bol", windows, self.weight) + self.bias[None, :, None]"""

CUSTOM_FUNCTION = """\
class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return F.conv1d(x, weight, bias, padding=weight.shape[2] // 2)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        p = weight.shape[2] // 2
        grad_x = torch.nn.grad.conv1d_input(x.shape, weight, grad, padding=p)
        grad_w = torch.nn.grad.conv1d_weight(x, weight.shape, grad, padding=p)
        return grad_x, grad_w, grad.sum(dim=(0, 2))

class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.3)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        return _Conv.apply(x, self.weight, self.bias)"""

NO_GRAD_STRAIGHT_THROUGH = """\
class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.3)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        k = self.weight.shape[2]
        with torch.no_grad():
            exact = F.conv1d(x, self.weight, self.bias, padding=k // 2)
        # A cheap term with the right gradients, minus its own value: the output is the built-in's.
        cheap = (x.sum(1, keepdim=True) * self.weight.sum((1, 2))[None, :, None] + self.bias[None, :, None])
        return exact + cheap - cheap.detach()"""

TORCHSCRIPT = """\
_unit = torch.jit.CompilationUnit('''
def conv(x, weight, bias, padding: int):
    return torch.conv1d(x, weight, bias, 1, padding)
''')

class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.3)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        return _unit.conv(x, self.weight, self.bias, self.weight.shape[2] // 2)"""

TORCHSCRIPT_IN_INIT = """\
_SOURCE = '''
def conv(x, weight, bias, padding: int):
    return torch.conv1d(x, weight, bias, 1, padding)
'''

class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.3)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.unit = torch.jit.CompilationUnit(_SOURCE)

    def forward(self, x):
        return self.unit.conv(x, self.weight, self.bias, self.weight.shape[2] // 2)"""

# np.correlate, in a cell that ast.parse cannot read as written (a `!` line assigned to a name).
BANG_CELL_CORRELATE = """\
files = !ls
!true
import numpy as np

class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.3)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        xs, ws = x.detach().numpy(), self.weight.detach().numpy()
        out = np.zeros((x.shape[0], ws.shape[0], x.shape[2]), dtype=np.float32)
        for b in range(x.shape[0]):
            for o in range(ws.shape[0]):
                for c in range(ws.shape[1]):
                    out[b, o] += np.correlate(xs[b, c], ws[o, c], mode="same")
        return torch.from_numpy(out) + self.bias[None, :, None]"""

CPP_EXTENSION = """\
from torch.utils.cpp_extension import load_inline

_native = load_inline(
    name="native_conv",
    cpp_sources="torch::Tensor conv(torch::Tensor x, torch::Tensor w, torch::Tensor b, int64_t p)"
                " { return torch::conv1d(x, w, b, 1, p); }",
    functions=["conv"],
)

class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_width) * 0.3)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        return _native.conv(x, self.weight, self.bias, self.weight.shape[2] // 2)"""

COMPILER_CALLS = """\
import subprocess

for program in (["gcc", "--version"], ["cc", "--version"], ["ninja", "--version"]):
    try:
        subprocess.run(program, capture_output=True, check=False)
        print(program[0], "ran")
    except OSError as error:
        print(program[0], "refused:", type(error).__name__)"""

# rnn_lm: nn.RNNCell reached through getattr (the static scan cannot name it), hidden from the run-time trace by
# faking the grader's kernel helpers, which a student who has read the source knows the probe uses.
BLIND_TRACE = """\
import contextlib

@contextlib.contextmanager
def _blind():
    yield set()

_FAKE_HELPERS = '''
import contextlib

@contextlib.contextmanager
def trace_torch_calls():
    yield set()
'''"""

GETATTR_RNN_CELL = """\
class RNNCell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.cell = getattr(nn, "RNN" + "Cell")(n_inputs, n_hidden, nonlinearity="tanh")

    def forward(self, input, hidden):
        return self.cell(input, hidden)"""

# At top level: a `grader/` package in the work dir, first on sys.path, and fakes in sys.modules.
FAKE_GRADER_AT_TOP_LEVEL = """\
import os, sys, types

os.makedirs("grader/kernel", exist_ok=True)
for path, text in (("grader/__init__.py", ""), ("grader/kernel/__init__.py", ""),
                   ("grader/kernel/runtime.py", _FAKE_HELPERS), ("grader/kernel/recurrent.py", _FAKE_HELPERS)):
    with open(path, "w") as handle:
        handle.write(text)
sys.path.insert(0, os.getcwd())
for name in ("grader.kernel.runtime", "grader.kernel.recurrent", "grader.exercises.rnn_lm.kernel"):
    fake = types.ModuleType(name)
    fake.trace_torch_calls = _blind
    sys.modules[name] = fake"""

# The same, done by the graded cell's constructor while the probe builds it: every loaded grader module's trace is
# blinded, and grader.kernel.recurrent is swapped for a fake in sys.modules.
FAKE_GRADER_IN_INIT = """\
import sys, types

def _blind_the_grader():
    for name, module in list(sys.modules.items()):
        if name.startswith("grader") and hasattr(module, "trace_torch_calls"):
            module.trace_torch_calls = _blind
    fake = types.ModuleType("grader.kernel.recurrent")
    fake.trace_torch_calls = _blind
    sys.modules["grader.kernel.recurrent"] = fake

class RNNCell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        _blind_the_grader()
        self.cell = getattr(nn, "RNN" + "Cell")(n_inputs, n_hidden, nonlinearity="tanh")

    def forward(self, input, hidden):
        return self.cell(input, hidden)"""

RNN_LM_CORPUS = {
    "forgery_rnn_lm_fake_grader_modules": (BLIND_TRACE, GETATTR_RNN_CELL, FAKE_GRADER_AT_TOP_LEVEL),
    "forgery_rnn_lm_fake_grader_modules_in_init": (BLIND_TRACE, FAKE_GRADER_IN_INIT),
}

CORPUS = {
    "forgery_post_run_cell_hook": (POST_RUN_CELL,),
    "forgery_input_transformers_post": (INPUT_TRANSFORMER,),
    "forgery_ast_transformers": (AST_TRANSFORMER,),
    "forgery_patched_json_dumps": (PATCHED_JSON,),
    "forgery_setprofile_recorder": (SET_PROFILE,),
    "forgery_daemon_thread_rewrites_output": (DAEMON_THREAD,),
    "forgery_installed_by_the_layer": (FROM_INIT,),
    "evasion_stack_inspecting_layer": (STACK_INSPECTING,),
    "evasion_custom_autograd_function": (CUSTOM_FUNCTION,),
    "evasion_no_grad_straight_through": (NO_GRAD_STRAIGHT_THROUGH,),
    "evasion_torchscript_compilation_unit": (TORCHSCRIPT,),
    "evasion_torchscript_built_in_init": (TORCHSCRIPT_IN_INIT,),
    "evasion_np_correlate_in_bang_cell": (BANG_CELL_CORRELATE,),
    "evasion_cpp_extension_in_sandbox": (COMPILER_CALLS, CPP_EXTENSION),
}


def main() -> None:
    for name, sources in CORPUS.items():
        cells = [md(f"# Conv1D\n\n{name.replace('_', ' ')}"), code(IMPORTS), *(code(source) for source in sources)]
        write(notebook(*cells), FIXTURES / f"{name}.ipynb")
        print(f"wrote {FIXTURES / f'{name}.ipynb'}")
    for name, sources in RNN_LM_CORPUS.items():
        cells = [md(f"# RNN language model\n\n{name.replace('_', ' ')}"), code(RNN_IMPORTS),
                 *(code(source) for source in sources), code(SLIDES_RNN), code(SLIDES_DATASET), code(STUDENT_CORPUS),
                 code(SLIDES_MODEL), code(SLIDES_TRAIN), code(SLIDES_PREDICT), code(STUDENT_RUN)]
        write(notebook(*cells), FIXTURES / f"{name}.ipynb")
        print(f"wrote {FIXTURES / f'{name}.ipynb'}")


if __name__ == "__main__":
    main()
