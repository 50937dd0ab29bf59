"""Kernel-side half of the probe stage: this module runs inside the student's kernel.

It only measures: it calls the student's code on inputs the grader wrote, and writes plain JSON and
plain tensors (safetensors) back. It never decides anything; the grader's own process does.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from safetensors.torch import load_file, save_file
from torch.overrides import TorchFunctionMode

from grader.kernel.measure import Stream, Tampered, dispatch_tracer

PLAN_FILE = "plan.json"
INPUTS_FILE = "inputs.safetensors"
VALUES_FILE = "probe.json"
TENSORS_FILE = "outputs.safetensors"
LIBRARY_DIRS = (str(Path(__file__).parents[1]), str(Path(torch.__file__).parent))  # the grader package, torch


def describe_exception(error: BaseException) -> str:
    """One sentence: the exception and the innermost line of student code that raised it."""
    frames = traceback.extract_tb(error.__traceback__)
    student_frames = [f for f in frames if not f.filename.startswith(LIBRARY_DIRS)]
    where = ""
    if student_frames:
        frame = student_frames[-1]
        where = f" (in {frame.name}, line {frame.lineno}: {(frame.line or '').strip()})"
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}{where}"[:600]


class _Sent(dict):
    """A dict whose every assignment is also sent at once, when the recorder streams."""

    def __init__(self, send: Callable[[str, Any], None] | None) -> None:
        super().__init__()
        self._send = send

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if self._send is not None:
            self._send(key, value)


class Recorder:
    """Collects what the probe measured: JSON values, tensors, and one-sentence errors."""

    def __init__(self, stream: Any = None) -> None:
        # With a stream (grader.kernel.measure.Stream, the measuring kernel) each value leaves the kernel as it is
        # recorded, before the student's code runs again.
        self.stream = stream
        self.values: dict[str, Any] = _Sent(self._send_value if stream is not None else None)
        self.errors: dict[str, str] = _Sent(self._send_error if stream is not None else None)
        self.tensors: dict[str, torch.Tensor] = {}

    def _send_value(self, key: str, value: Any) -> None:
        self.stream.send("put", key, json.loads(json.dumps(value, default=str)))

    def _send_error(self, key: str, message: str) -> None:
        self.stream.send("error", key, str(message))

    def put(self, key: str, value: Any) -> None:
        self.values[key] = value

    def error(self, key: str, message: str) -> None:
        self.errors[key] = message

    def tensor(self, key: str, value: Any) -> None:
        """Keep a detached CPU copy of a tensor the student's code returned; anything else is recorded as an error."""
        if not isinstance(value, torch.Tensor):
            self.error(key, f"expected a tensor, got {type(value).__name__}")
            return
        self.tensors[key] = value.detach().cpu().clone().contiguous().as_subclass(torch.Tensor)
        if self.stream is not None:
            self.stream.tensor(key, self.tensors[key])

    def attempt(self, key: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """Call student code; on an exception record one sentence under `key` and return (False, None)."""
        try:
            return True, function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - student code may raise anything
            self.error(key, describe_exception(error))
            return False, None

    def save(self, directory: Path) -> None:
        (directory / VALUES_FILE).write_text(json.dumps({"values": self.values, "errors": self.errors}, default=str))
        save_file(self.tensors, str(directory / TENSORS_FILE))


class _FunctionTracer(TorchFunctionMode):
    def __init__(self, names: set[str]):
        super().__init__()
        self.names = names

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.add(_qualified_name(func))
        return func(*args, **(kwargs or {}))


def _qualified_name(func: Any) -> str:
    name = getattr(func, "__name__", repr(func))
    owner = getattr(func, "__objclass__", None)
    if owner is not None:
        return f"{owner.__name__}.{name}"
    module = getattr(func, "__module__", None) or "torch"
    return f"{module}.{name}"


@contextlib.contextmanager
def trace_torch_calls() -> Iterator[set[str]]:
    """Names of the torch functions called inside, at the Python level (catches getattr tricks too), and of the aten
    operators that reached the dispatcher (custom autograd Functions, no_grad blocks, TorchScript, extensions)."""
    names: set[str] = set()
    with _FunctionTracer(names), dispatch_tracer(names):
        yield names


def autograd_ops(output: Any) -> set[str]:
    """Operator-level names from the autograd graph behind `output` (e.g. 'ConvolutionBackward0').

    Every route to a built-in kernel, torch.ops and _VF included, leaves its node here, without the cost of a
    dispatch-level tracer.
    """
    pending = [output.grad_fn] if isinstance(output, torch.Tensor) and output.grad_fn is not None else []
    seen: set[int] = set()
    names: set[str] = set()
    while pending:
        node = pending.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.add(f"autograd.{type(node).__name__}")
        pending.extend(next_node for next_node, _ in node.next_functions)
    return names


def class_status(namespace: dict[str, Any], name: str) -> tuple[str, str]:
    """Whether `name` in the student's namespace is an nn.Module subclass ('ok', 'missing', 'not_a_class',
    'not_a_module'), and the type of what is there."""
    cls = namespace.get(name)
    if cls is None:
        return "missing", ""
    kind = type(cls).__name__
    if not isinstance(cls, type):
        return "not_a_class", kind
    return ("ok" if issubclass(cls, torch.nn.Module) else "not_a_module"), kind


def param_infos(module: torch.nn.Module) -> list[dict[str, Any]]:
    """Name, shape and trainability of every parameter, in the shape of grader.probe.ParamInfo."""
    return [{"name": name, "shape": list(param.shape), "trainable": bool(param.requires_grad)}
            for name, param in module.named_parameters()]


def grad_status(param: torch.nn.Parameter) -> str:
    """What a backward pass left in the parameter's .grad: none, zero, nonfinite or ok."""
    if param.grad is None:
        return "none"
    if not torch.isfinite(param.grad).all():
        return "nonfinite"
    return "zero" if bool((param.grad == 0).all()) else "ok"


def run(module_name: str, function: str, directory: str, namespace: dict[str, Any], stream: bool = False) -> None:
    """Entry point of the probe cell: report tampering evidence, load the grader's inputs, call the exercise's probe
    function, and send (`stream`, the measuring kernel) or save (the notebook's kernel) what it measured."""
    channel = Stream()
    channel.integrity("start")
    folder = Path(directory)
    plan = json.loads((folder / PLAN_FILE).read_text())
    inputs = load_file(str(folder / INPUTS_FILE))
    module = importlib.import_module(module_name)
    recorder = Recorder(channel if stream else None)
    try:
        getattr(module, function)(namespace, plan, inputs, recorder)
    except Tampered:
        return
    except Exception as error:  # noqa: BLE001 - keep whatever was measured before the failure
        try:
            recorder.error("_probe", describe_exception(error))
        except Tampered:
            return
    channel.integrity("end")
    if stream:
        channel.done()
    else:
        recorder.save(folder)
