"""Kernel side of the measuring step: tampering evidence, the dispatcher trace and the stream of measured values.

It runs inside a student's kernel, loaded afresh from its file by the probe cell. It only observes and reports;
the grader's process decides what the evidence means.
"""

from __future__ import annotations

import base64
import builtins
import functools
import io
import json
import os
import site
import sys
import sysconfig
import threading
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import save
from torch.utils._python_dispatch import TorchDispatchMode

from grader.kernel import MEASURE_MIME as MIME

SITE_VARIABLE = "GRADER_KERNEL_SITE"
# Objects the probe relies on to record and send what it measured: a notebook that replaces one could rewrite it.
WATCHED: tuple[tuple[Any, str], ...] = (
    (json, "dumps"), (json, "dump"), (json, "loads"), (json.JSONEncoder, "encode"), (json.JSONEncoder, "iterencode"),
    (builtins, "open"), (builtins, "isinstance"), (builtins, "getattr"), (io, "open"), (os, "open"), (os, "write"),
    (os, "replace"), (Path, "write_text"), (Path, "write_bytes"), (Path, "read_text"), (base64, "b64encode"),
    (torch.Tensor, "detach"), (torch.Tensor, "cpu"), (torch.Tensor, "clone"), (torch.Tensor, "contiguous"),
    (torch.Tensor, "as_subclass"), (torch.Tensor, "tolist"), (torch, "save"), (torch, "isfinite"),
    (torch, "manual_seed"), (threading, "Thread"),
)
WATCHED_MODULES = ("json", "json.encoder", "builtins", "os", "io", "base64", "torch", "safetensors",
                   "safetensors.torch", "threading", "IPython", "ipykernel", "ipykernel.zmqshell")


def _library_roots() -> tuple[str, ...]:
    """Folders of read-only installed code: the standard library, site-packages, the kernel layer, the grader."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values(),
             *site.getsitepackages(), str(Path(__file__).resolve().parent.parent), str(Path(torch.__file__).parent.parent)}
    roots.update(entry for entry in os.environ.get(SITE_VARIABLE, "").split(os.pathsep) if entry)
    user_site = site.getusersitepackages()
    if user_site and os.path.isdir(user_site):
        roots.add(user_site)
    return tuple(str(Path(root).resolve()) + os.sep for root in roots if root)


LIBRARY_ROOTS = _library_roots()


def _origin(obj: Any, depth: int = 0) -> str | None:
    """Where `obj`'s Python code was written (a file name), or None for compiled code with no source file."""
    if depth > 4:
        return None
    if isinstance(obj, functools.partial):
        if obj.func in (exec, eval, compile):
            return "<exec>"
        return _origin(obj.func, depth + 1)
    code = getattr(obj, "__code__", None)
    if code is not None and hasattr(code, "co_filename"):
        return code.co_filename
    inner = getattr(obj, "__func__", None)
    if inner is not None:
        return _origin(inner, depth + 1)
    if isinstance(obj, type):
        module = sys.modules.get(getattr(obj, "__module__", "") or "")
        return getattr(module, "__file__", None) or f"<module {obj.__module__}>"
    if callable(obj) and not isinstance(obj, (type(len), type(str.join))) and hasattr(type(obj), "__call__"):
        return _origin(type(obj), depth + 1)
    return None


def foreign(obj: Any) -> str | None:
    """The file of `obj`'s code when it was not written by an installed library (a notebook cell, exec'd text)."""
    origin = _origin(obj)
    if origin is None or origin.startswith("<frozen"):
        return None
    if origin.startswith("<module "):
        return None if origin in ("<module builtins>",) else origin
    resolved = os.path.realpath(origin) + ("" if origin.endswith(os.sep) else "")
    return None if resolved.startswith(LIBRARY_ROOTS) else origin


def _describe(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(type(obj), "__qualname__", type(obj).__name__)
    return f"{name} (from {foreign(obj)})"


def _shell() -> Any:
    get_ipython = getattr(builtins, "get_ipython", None)
    return get_ipython() if callable(get_ipython) else None


def _hook_evidence(shell: Any) -> list[str]:
    """IPython event callbacks and input/AST transformers the notebook registered."""
    evidence: list[str] = []
    if shell is None:
        return evidence
    for event, callbacks in getattr(shell.events, "callbacks", {}).items():
        evidence += [f"an IPython '{event}' callback: {_describe(cb)}" for cb in callbacks if foreign(cb)]
    for attribute in ("input_transformers_post", "input_transformers_cleanup", "ast_transformers"):
        evidence += [f"an IPython {attribute} entry: {_describe(item)}" for item in getattr(shell, attribute, [])
                     if foreign(item)]
    manager = getattr(shell, "input_transformer_manager", None)
    for attribute in ("cleanup_transforms", "line_transforms", "token_transformers"):
        evidence += [f"an IPython input_transformer_manager.{attribute} entry: {_describe(item)}"
                     for item in getattr(manager, attribute, []) if foreign(item)]
    return evidence


def _thread_evidence() -> list[str]:
    evidence = []
    for thread in threading.enumerate():
        target = getattr(thread, "_target", None) or type(thread).run
        if foreign(target):
            evidence.append(f"a live thread '{thread.name}' running {_describe(target)}")
    return evidence


def _function_evidence() -> list[str]:
    evidence = []
    for owner, name in WATCHED:
        value = getattr(owner, name, None)
        if value is not None and foreign(value):
            owner_name = getattr(owner, "__name__", str(owner))
            evidence.append(f"{owner_name}.{name} replaced by {_describe(value)}")
    for name in WATCHED_MODULES:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if module is not None and name != "builtins" and (file is None or foreign_file(file)):
            evidence.append(f"sys.modules[{name!r}] replaced by an object from {file or 'no file'}")
    return evidence


def foreign_file(file: str) -> bool:
    return not os.path.realpath(file).startswith(LIBRARY_ROOTS)


def evidence() -> list[str]:
    """Every sign that the notebook's code reaches into what the probe uses; empty for an honest notebook."""
    found: list[str] = []
    for what, hook in (("sys.settrace", sys.gettrace()), ("sys.setprofile", sys.getprofile()),
                       ("threading.settrace", getattr(threading, "_trace_hook", None)),
                       ("threading.setprofile", getattr(threading, "_profile_hook", None))):
        if hook is not None:
            found.append(f"{what} is set to {_describe(hook)}")
    return found + _hook_evidence(_shell()) + _thread_evidence() + _function_evidence()


def fingerprint() -> dict[str, list[int]]:
    """The identity of every watched object outside torch (and of its code): sent once at boot and again by the
    probe, so the grader sees a code swap that keeps the object, which `evidence` alone misses. torch is left out:
    it rebinds some of its own functions as its submodules load (torch._dynamo wraps torch.manual_seed)."""
    prints: dict[str, list[int]] = {}
    for owner, name in WATCHED:
        if owner is torch or owner is torch.Tensor:
            continue
        value = getattr(owner, name, None)
        code = getattr(value, "__code__", None)
        prints[f"{getattr(owner, '__name__', owner)}.{name}"] = [id(value), id(code) if code is not None else 0]
    return prints


def _state() -> tuple:
    """A cheap summary of what a notebook would change to tamper, compared before every value is sent."""
    shell = _shell()
    hooks = () if shell is None else (
        tuple((event, tuple(map(id, callbacks))) for event, callbacks in shell.events.callbacks.items()),
        tuple(map(id, shell.input_transformers_post)), tuple(map(id, shell.ast_transformers)))
    return (sys.gettrace(), sys.getprofile(), tuple(sorted(t.ident or 0 for t in threading.enumerate())), hooks,
            tuple(id(getattr(owner, name, None)) for owner, name in WATCHED),
            tuple(id(sys.modules.get(name)) for name in WATCHED_MODULES))


def _grader_modules() -> dict[str, tuple[Any, dict[str, int]]]:
    """Every loaded grader module (the probe's own code) with the identity of each of its globals."""
    return {name: (module, {key: id(value) for key, value in vars(module).items()})
            for name, module in list(sys.modules.items()) if name == "grader" or name.startswith("grader.")}


def _module_changes(before: dict[str, tuple[Any, dict[str, int]]]) -> list[str]:
    """What changed in the grader's modules since `before`: a module replaced or planted, a global rebound."""
    changes: list[str] = []
    now = _grader_modules()
    for name, (module, globals_before) in before.items():
        current = now.get(name)
        if current is None:
            changes.append(f"sys.modules[{name!r}] removed")
            continue
        if current[0] is not module:
            changes.append(f"sys.modules[{name!r}] replaced by an object from "
                           f"{getattr(current[0], '__file__', None) or 'no file'}")
            continue
        for key, identity in current[1].items():
            if globals_before.get(key) != identity:
                changes.append(f"{name}.{key} replaced by {_describe(vars(module)[key])}")
    changes += [f"a module {name!r} planted in sys.modules (from {getattr(now[name][0], '__file__', None)})"
                for name in now.keys() - before.keys()]
    return changes


class Tampered(BaseException):
    """Raised by the stream when the notebook's code changed what the probe relies on; never caught by `attempt`."""


class Stream:
    """Sends each measured value to the grader as an IOPub message the moment it is recorded.

    Before each message it compares the kernel's state with the state when the probe began: a hook, thread or
    replacement the student's code left behind stops the stream with its evidence, before anything else is sent.
    """

    def __init__(self) -> None:
        shell = _shell()
        self._publish: Callable[..., None] = shell.display_pub.publish
        self._dumps = json.dumps
        self._sequence = 0
        self._baseline = _state()
        # The probe's own modules as they were loaded, before any student code ran: never re-baselined.
        self._modules = _grader_modules()

    def _emit(self, message: dict[str, Any]) -> None:
        message["seq"] = self._sequence
        self._sequence += 1
        self._publish({MIME: message}, metadata={})

    def check(self) -> None:
        """Raise Tampered (after sending the evidence) when the kernel's state changed since the probe began."""
        found = _module_changes(self._modules)
        state = _state()
        if state != self._baseline:
            found += evidence()
            if not found:
                # A library's own change (tqdm's monitor thread, a DataLoader's pin-memory thread): nothing to report.
                self._baseline = state
        if not found:
            return
        self._emit({"kind": "tampered", "key": "", "value": found})
        raise Tampered(found[0])

    def send(self, kind: str, key: str, value: Any) -> None:
        self.check()
        self._emit({"kind": kind, "key": key, "value": value})

    def tensor(self, key: str, value: torch.Tensor) -> None:
        self.check()
        encoded = base64.b64encode(save({"t": value})).decode("ascii")
        self._emit({"kind": "tensor", "key": key, "value": encoded})

    def integrity(self, moment: str) -> None:
        """Send the kernel's tampering evidence and fingerprint (at the probe's start and end)."""
        found = evidence() + _module_changes(self._modules)
        self._emit({"kind": "integrity", "key": moment, "value": {"evidence": found, "fingerprint": fingerprint()}})
        self._baseline = _state()

    def done(self) -> None:
        self.check()
        self._emit({"kind": "done", "key": "", "value": self._sequence})


class DispatchTracer(TorchDispatchMode):
    """Adds the name of every aten operator reaching the dispatcher to `names`: custom autograd Functions, no_grad
    blocks, TorchScript and C++ extensions calling ATen all pass through it."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps a mode's __torch_dispatch__ in torch._disable_dynamo unless told not to; the wrapper imports
        # torch._dynamo on the first traced call (1.5 s idle, 10 s on a loaded machine) for a compiler the probe
        # never uses.
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(str(func))
        return func(*args, **(kwargs or {}))


def dispatch_tracer(names: set[str]) -> DispatchTracer:
    """A dispatcher-level trace into `names`, of the class defined once as this module loads (once per probe)."""
    return DispatchTracer(names)


def boot_report() -> None:
    """Run by the grader right after the kernel boots, before any student cell: the fingerprint to compare."""
    _shell().display_pub.publish({MIME: {"kind": "boot", "key": "", "value": fingerprint(), "seq": -1}},
                                 metadata={})
