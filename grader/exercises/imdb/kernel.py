"""IMDb sentiment, kernel side: the probe, run inside the student's kernel beside their code."""

from __future__ import annotations

import ast
import math
import numbers
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch



KINDS = ("rnn", "bilstm", "lstm", "gru")
FAILURES_BEFORE_GIVING_UP = 5


def _kind(model: torch.nn.Module) -> str | None:
    """'bilstm' (bidirectional LSTM, ≥ 2 layers), 'lstm' (any other LSTM), 'gru', 'rnn' (an nn.RNN), or None."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.RNNBase)]
    lstms = [m for m in layers if isinstance(m, torch.nn.LSTM)]
    if any(m.bidirectional and m.num_layers >= 2 for m in lstms):
        return "bilstm"
    if lstms:
        return "lstm"
    if any(isinstance(m, torch.nn.GRU) for m in layers):
        return "gru"
    return "rnn" if any(isinstance(m, torch.nn.RNN) for m in layers) else None


def _candidates(namespace: dict[str, Any], limit: int) -> list[tuple[torch.nn.Module, list[str], str]]:
    """Models bound to top-level names, grouped by kind; bare recurrent layers are parts, not classifiers."""
    found: dict[int, tuple[torch.nn.Module, list[str], str]] = {}
    for name, value in list(namespace.items()):
        if name.startswith("_") or not isinstance(value, torch.nn.Module) or isinstance(value, torch.nn.RNNBase):
            continue
        if id(value) in found:
            found[id(value)][1].append(name)
            continue
        kind = _kind(value)
        if kind is not None:
            found[id(value)] = (value, [name], kind)
    chosen = []
    for kind in KINDS:
        chosen += [entry for entry in found.values() if entry[2] == kind][-limit:]
    return chosen


def _structure(model: torch.nn.Module) -> dict[str, Any]:
    recurrent = [
        {"path": path, "type": type(m).__name__, "input_size": int(m.input_size), "hidden_size": int(m.hidden_size),
         "num_layers": int(m.num_layers), "bidirectional": bool(m.bidirectional)}
        for path, m in model.named_modules() if isinstance(m, torch.nn.RNNBase)
    ]
    owners = {path: type(m).__name__ for path, m in model.named_modules()
              if any(True for _ in m.parameters(recurse=False))}
    params = [{"name": name, "shape": list(p.shape), "trainable": bool(p.requires_grad)}
              for name, p in model.named_parameters()]
    return {"class_name": type(model).__name__, "module_types": owners, "recurrent": recurrent, "params": params}


class _Slot:
    """Where the review or the model goes in a call of the notebook's predict function."""

    def __init__(self, shown: str) -> None:
        self.shown = shown


REVIEW, MODEL = _Slot("review"), _Slot("model")


@dataclass
class _Layout:
    """One way to call the predict function: the review and the model in their slots, every other argument the
    value the notebook itself passes (its tokenizer, vocabulary, device)."""

    args: list[Any]
    kwargs: dict[str, Any]
    shown: str

    def call(self, predict: Callable[..., Any], model: torch.nn.Module, text: str) -> Any:
        def fill(value: Any) -> Any:
            return text if value is REVIEW else model if value is MODEL else value
        return predict(*[fill(a) for a in self.args], **{key: fill(v) for key, v in self.kwargs.items()})


def _slot(value: Any) -> Any:
    """MODEL for a model (a module holding a recurrent layer, not a loss), REVIEW for a text, else the value."""
    if isinstance(value, torch.nn.Module) and _kind(value) is not None:
        return MODEL
    return REVIEW if isinstance(value, str) else value


def _argument_value(node: ast.AST, namespace: dict[str, Any]) -> Any:
    """The value a simple argument (literal, name, attribute chain) has now; LookupError for anything else."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return ""
    if isinstance(node, ast.Name) and node.id in namespace:
        return namespace[node.id]
    if isinstance(node, ast.Attribute):
        try:
            return getattr(_argument_value(node.value, namespace), node.attr)
        except AttributeError as error:
            raise LookupError(node.attr) from error
    raise LookupError(type(node).__name__)


def _call_site_layout(node: ast.Call, namespace: dict[str, Any], name: str) -> _Layout | None:
    """The layout of one of the notebook's own calls: which argument is the review, which the model."""
    try:
        args = [_slot(_argument_value(a, namespace)) for a in node.args]
        kwargs = {k.arg: _slot(_argument_value(k.value, namespace)) for k in node.keywords if k.arg}
    except LookupError:
        return None
    values = [*args, *kwargs.values()]
    if sum(v is MODEL for v in values) != 1 or sum(v is REVIEW for v in values) != 1 or len(kwargs) < len(node.keywords):
        return None
    shown = [value.shown if isinstance(value, _Slot) else ast.unparse(a) for value, a in zip(args, node.args)]
    shown += [f"{key}={value.shown if isinstance(value, _Slot) else ast.unparse(k.value)}"
              for (key, value), k in zip(kwargs.items(), node.keywords)]
    return _Layout(args, kwargs, f"{name}({', '.join(shown)})")


def _call_site_layouts(namespace: dict[str, Any], name: str) -> list[_Layout]:
    """How the notebook itself calls the function, read from the kernel's input history, latest first."""
    history = namespace.get("_ih")
    layouts = []
    for source in reversed(history if isinstance(history, list) else []):
        try:
            tree = ast.parse(source if isinstance(source, str) else "")
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
                layout = _call_site_layout(node, namespace, name)
                if layout is not None and layout.shown not in [known.shown for known in layouts]:
                    layouts.append(layout)
    return layouts


def _signature_layouts(predict: Callable[..., Any], namespace: dict[str, Any], name: str) -> list[_Layout]:
    """From the signature alone: parameters named like a global that is neither a model nor a text take that
    global (the tutorials' tokenizer, vocab, device); the model and the review take the two left, in either order
    (the model first, as in the legacy tutorial's predict_sentiment(model, sentence))."""
    import inspect

    try:
        parameters = list(inspect.signature(predict).parameters.values())
    except (TypeError, ValueError):
        return []
    fixed: dict[str, Any] = {}
    open_names = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD, parameter.POSITIONAL_ONLY):
            continue
        has_default = parameter.default is not parameter.empty
        if has_default and not isinstance(parameter.default, torch.nn.Module):
            continue
        if not has_default and parameter.name in namespace and _slot(namespace[parameter.name]) is namespace[parameter.name]:
            fixed[parameter.name] = namespace[parameter.name]
        else:
            open_names.append(parameter.name)
    if len(open_names) != 2:
        return []
    layouts = []
    for model, review in (open_names, open_names[::-1]):
        kwargs = {**fixed, review: REVIEW, model: MODEL}
        shown = ", ".join(f"{key}={value.shown if isinstance(value, _Slot) else key}" for key, value in kwargs.items())
        layouts.append(_Layout([], kwargs, f"{name}({shown})"))
    return layouts


class _FirstArguments(torch.nn.Module):
    """Passes a model only as many positional arguments as its forward takes: the legacy tutorial's
    predict_sentiment calls model(text, lengths), which its own basic RNN's forward(text) does not take."""

    def __init__(self, model: torch.nn.Module, count: int) -> None:
        super().__init__()
        self.model = model
        self.count = count

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args[:self.count])


def _adapters(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str]]:
    """The model as is, then (when its forward takes a fixed number of arguments) trimmed to that number."""
    import inspect

    options = [(model, "")]
    try:
        parameters = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return options
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return options
    count = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
    note = (f"{type(model).__name__}.forward takes {count} argument{'' if count == 1 else 's'} and predict_sentiment passes the model "
            f"more, so the grader passed only the first {count} (the lengths were left out)")
    return options + [(_FirstArguments(model, count), note)]


def probability_of_positive(value: Any) -> float:
    """P(positive) from what the predict function returned: a probability (legacy tutorial), a (class, probability
    of that class) pair (current tutorial), two class probabilities, or 'pos'/'neg'."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().flatten().tolist()
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, (list, tuple)) and len(value) == 2:
        first, second = (v.item() if isinstance(v, torch.Tensor) else v for v in value)
        if isinstance(first, numbers.Integral) and first in (0, 1) and isinstance(second, numbers.Real):
            confidence = max(float(second), 1 - float(second))   # the predicted class decides
            return confidence if first == 1 else 1 - confidence
        if isinstance(first, numbers.Real) and isinstance(second, numbers.Real) and abs(first + second - 1) < 1e-3:
            return float(second)
    if isinstance(value, str) and value.strip().lower() in ("pos", "positive", "neg", "negative"):
        return 1.0 if value.strip().lower().startswith("pos") else 0.0
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"it returned {type(value).__name__} {str(value)[:60]!r}, not a probability or a "
                        "(class, probability) pair")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"it returned {result}")
    return result


@dataclass
class _Caller:
    """How one model is scored: the layout that worked and the model object it is given."""

    layout: _Layout
    model: torch.nn.Module
    adapted: str


def _find_caller(predict: Callable[..., Any], layouts: list[_Layout], model: torch.nn.Module,
                 text: str) -> tuple[_Caller, float]:
    """The first (adapter, layout) under which the call returns a probability; raises the first error otherwise."""
    first_error: Exception | None = None
    for candidate, adapted in _adapters(model):
        for layout in layouts:
            try:
                return _Caller(layout, candidate, adapted), probability_of_positive(layout.call(predict, candidate, text))
            except Exception as error:  # noqa: BLE001 - student code may raise anything
                first_error = first_error or error
    raise first_error if first_error is not None else TypeError("no way to call it with a model and a review")


def _measure(model: torch.nn.Module, predict: Any, layouts: list[_Layout], texts: list[str],
             budget_s: float) -> dict[str, Any]:
    """Score each review through the predict function; stop when nothing works or the time budget is spent."""
    from grader.kernel.runtime import describe_exception

    probabilities: list[float | None] = []
    failures, first_error, stopped = 0, "", ""
    caller: _Caller | None = None
    started = time.monotonic()
    model.eval()
    with torch.no_grad():
        for text in texts:
            if time.monotonic() - started > budget_s:
                stopped = f"time budget of {budget_s:.0f}s spent"
                break
            try:
                if caller is None:
                    caller, value = _find_caller(predict, layouts, model, text)
                else:
                    value = probability_of_positive(caller.layout.call(predict, caller.model, text))
            except Exception as error:  # noqa: BLE001 - student code may raise anything
                failures += 1
                first_error = first_error or describe_exception(error)
                value = None
            probabilities.append(value)
            if failures >= FAILURES_BEFORE_GIVING_UP and failures == len(probabilities):
                stopped = f"the first {failures} calls all failed"
                break
    shown = caller.layout.shown if caller else (layouts[0].shown if layouts else "")
    return {"probabilities": probabilities, "failures": failures, "first_error": first_error, "stopped_early": stopped,
            "call": shown, "adapted": caller.adapted if caller else ""}


def probe(namespace: dict[str, Any], plan: dict[str, Any], inputs: dict[str, torch.Tensor], rec) -> None:
    """Kernel side: find the models by structure and re-measure them through the notebook's predict function."""
    name = plan["function"]
    predict = namespace.get(name)
    status = "missing" if predict is None else ("ok" if callable(predict) else "not_callable")
    rec.put("function_status", status)
    layouts = (_call_site_layouts(namespace, name) + _signature_layouts(predict, namespace, name)
               if status == "ok" else [])
    models = []
    deadline = time.monotonic() + plan.get("seconds_in_all", math.inf)
    for model, names, kind in _candidates(namespace, plan["max_candidates"]):
        record = {"names": names, "kind": kind, **_structure(model)}
        if status == "ok":
            budget = max(0.0, min(plan["seconds_per_model"], deadline - time.monotonic()))
            record.update(_measure(model, predict, layouts, plan["texts"], budget))
        models.append(record)
    rec.put("models", models)
