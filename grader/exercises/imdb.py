"""IMDb sentiment: a basic RNN vs a 2-layer bidirectional LSTM (bentrevett/pytorch-sentiment-analysis 1 and 2).

Grader side: `make_plan` draws held-back test reviews (never staged into the work dir) with the seeded
generator; the checks parse the per-epoch and test lines from the cell outputs, and compute accuracy and
parameter counts themselves from what the probe measured.
Kernel side: `probe` finds the two trained models by structure (an nn.Module holding an nn.RNN; one holding a
bidirectional nn.LSTM with num_layers ≥ 2), records their parameters, and calls the notebook's
`predict_sentiment(model, sentence)` on each held-back review.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from pydantic import BaseModel

from grader.analysis import missing_definition, plural
from grader.check import CheckContext, Outcome
from grader.datasets import imdb as imdb_data
from grader.probe import ProbeData, ProbePlan
from grader.registry import check

KINDS = ("rnn", "bilstm", "lstm")
KIND_NAMES = {"rnn": "RNN", "bilstm": "BiLSTM", "lstm": "LSTM"}
FAILURES_BEFORE_GIVING_UP = 5
MIN_MEASURED = 20
SPARKS = "▁▂▃▄▅▆▇█"


# --------------------------------------------------------------------------- plan (grader side)

@dataclass
class HeldBackPlan(ProbePlan):
    """The probe plan, plus the held-back reviews' labels, which stay in the grader's process."""

    labels: list[int] = field(default_factory=list)


def make_plan(params: dict[str, Any], generator: torch.Generator, quick: bool) -> ProbePlan:
    """A sample of held-back reviews drawn at grade time; the kernel sees their texts, never their labels."""
    reviews = imdb_data.held_back(quick)
    size = min(len(reviews), int(params["sample"]["quick" if quick else "full"]))
    chosen = torch.randperm(len(reviews), generator=generator)[:size].tolist()
    spec = {
        "function": params.get("function", "predict_sentiment"),
        "texts": [reviews[index][0] for index in chosen],
        "max_candidates": int(params.get("max_candidates", 3)),
        "seconds_per_model": float(params.get("seconds_per_model", 120)),
    }
    return HeldBackPlan(spec=spec, inputs={}, labels=[reviews[index][1] for index in chosen])


# --------------------------------------------------------------------------- probe (kernel side)

class ParamInfo(BaseModel):
    name: str
    shape: list[int]
    trainable: bool


class LayerInfo(BaseModel):
    path: str
    type: str
    input_size: int = 0
    hidden_size: int = 0
    num_layers: int = 1
    bidirectional: bool = False


class ModelRecord(BaseModel):
    names: list[str]
    class_name: str
    kind: Literal["rnn", "bilstm", "lstm"]
    module_types: dict[str, str] = {}
    recurrent: list[LayerInfo] = []
    params: list[ParamInfo] = []
    probabilities: list[float | None] = []
    failures: int = 0
    first_error: str = ""
    stopped_early: str = ""


class ProbeValues(BaseModel):
    function_status: Literal["missing", "not_callable", "ok"] = "missing"
    models: list[ModelRecord] = []


def _kind(model: torch.nn.Module) -> str | None:
    """'bilstm' (bidirectional LSTM, ≥ 2 layers), 'lstm' (any other LSTM), 'rnn' (an nn.RNN), or None."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.RNNBase)]
    lstms = [m for m in layers if isinstance(m, torch.nn.LSTM)]
    if any(m.bidirectional and m.num_layers >= 2 for m in lstms):
        return "bilstm"
    if lstms:
        return "lstm"
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


def _measure(model: torch.nn.Module, predict: Any, texts: list[str], budget_s: float) -> dict[str, Any]:
    """Call predict(model, text) per review; stop when nothing works or the time budget is spent."""
    from grader.probe_runtime import describe_exception

    probabilities: list[float | None] = []
    failures, first_error, stopped = 0, "", ""
    started = time.monotonic()
    model.eval()
    with torch.no_grad():
        for text in texts:
            if time.monotonic() - started > budget_s:
                stopped = f"time budget of {budget_s:.0f}s spent"
                break
            try:
                value = float(predict(model, text))
                if not math.isfinite(value):
                    raise ValueError(f"predict_sentiment returned {value}")
            except Exception as error:  # noqa: BLE001 - student code may raise anything
                failures += 1
                first_error = first_error or describe_exception(error)
                value = None
            probabilities.append(value)
            if failures >= FAILURES_BEFORE_GIVING_UP and failures == len(probabilities):
                stopped = f"the first {failures} calls all failed"
                break
    return {"probabilities": probabilities, "failures": failures, "first_error": first_error, "stopped_early": stopped}


def probe(namespace: dict[str, Any], plan: dict[str, Any], inputs: dict[str, torch.Tensor], rec) -> None:
    """Kernel side: find the models by structure and re-measure them through the notebook's predict function."""
    predict = namespace.get(plan["function"])
    status = "missing" if predict is None else ("ok" if callable(predict) else "not_callable")
    rec.put("function_status", status)
    models = []
    for model, names, kind in _candidates(namespace, plan["max_candidates"]):
        record = {"names": names, "kind": kind, **_structure(model)}
        if status == "ok":
            record.update(_measure(model, predict, plan["texts"], plan["seconds_per_model"]))
        models.append(record)
    rec.put("models", models)


# --------------------------------------------------------------------------- the training log (grader side)

NUMBER = r"(?P<value>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
EVENT = re.compile(
    r"(?P<epoch>(?<![a-z])epoch(?![a-z])\s*(?:[:#=]\s*)?\[?\s*(?P<epoch_number>\d+)(?:\s*(?:/|of)\s*\d+)?)"
    r"|(?P<split>(?<![a-z])(?:train(?:ing)?|val(?:id(?:ation)?)?|test))\.?[\s_\-]*acc(?:uracy)?\.?\s*(?:[:=]\s*)?"
    + NUMBER + r"\s*(?P<percent>%)?",
    re.IGNORECASE,
)
PARAM_COUNT = re.compile(
    r"(\d{1,3}(?:[,_ ]\d{3})+|\d+)\s+(?:trainable\s+)?param"
    r"|param(?:eter)?s?\b[^\n\d]{0,30}?[:=]\s*(\d{1,3}(?:[,_]\d{3})+|\d+)",
    re.IGNORECASE,
)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _accuracy(value: str, percent: str | None) -> float | None:
    """A printed accuracy as a fraction: '50.25%' and '0.5025' are both 0.5025; '50.25' (no %) is a percent."""
    number = float(value)
    fraction = number / 100 if percent or number > 1 else number
    return fraction if 0 <= fraction <= 1 else None


def _hint(text: str) -> str:
    """'lstm' or 'rnn' when the text names only one of the two models, else ''."""
    words = [word.lower() for word in IDENTIFIER.findall(text)]
    lstm = any("lstm" in word for word in words)
    rnn = any("rnn" in word and "lstm" not in word for word in words)
    return "lstm" if lstm and not rnn else "rnn" if rnn and not lstm else ""


@dataclass
class Epoch:
    number: int
    explicit: bool
    train: float | None = None
    valid: float | None = None


@dataclass
class Run:
    """One model's training as printed: its epochs, then (maybe) a test accuracy."""

    cell: int
    epochs: list[Epoch] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    test: float | None = None

    @property
    def hint(self) -> str:
        named = {hint for hint in self.hints if hint}
        return named.pop() if len(named) == 1 else ""


@dataclass
class TrainingLog:
    runs: dict[str, Run]            # 'rnn' and 'lstm' → the run printed for that model
    counts: list[tuple[int, str]]   # (printed parameter count, 'rnn' | 'lstm' | '')


@dataclass
class _Event:
    kind: str                  # 'epoch', 'train', 'valid', 'test', or 'hint' (a line naming a model)
    value: float
    cell: int
    hint: str


def _events(cell: int, stdout: str, source_hint: str) -> list[_Event]:
    events = []
    for line in re.split(r"[\r\n]+", stdout):
        line_hint = _hint(line) or source_hint
        if _hint(line) and not EVENT.search(line):
            events.append(_Event("hint", 0, cell, _hint(line)))  # 'Training the BiLSTM…': names the next run
        for match in EVENT.finditer(line):
            if match.group("epoch"):
                events.append(_Event("epoch", int(match.group("epoch_number")), cell, line_hint))
                continue
            accuracy = _accuracy(match.group("value"), match.group("percent"))
            if accuracy is None:
                continue
            split = match.group("split").lower()
            kind = "train" if split.startswith("train") else "valid" if split.startswith("val") else "test"
            events.append(_Event(kind, accuracy, cell, line_hint))
    return events


class _LogBuilder:
    """Turns the events, in output order, into runs: an epoch number that does not go up starts a new run."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.current: Run | None = None
        self.pending_hint = ""

    def _open(self, event: _Event) -> Run:
        self.current = Run(cell=event.cell, hints=[self.pending_hint])
        self.pending_hint = ""
        self.runs.append(self.current)
        return self.current

    def hint(self, event: _Event) -> None:
        self.pending_hint = event.hint

    def epoch(self, event: _Event) -> None:
        number = int(event.value)
        last = self.current.epochs[-1] if self.current is not None and self.current.epochs else None
        if last is not None and number == last.number:
            last.explicit = True  # the same epoch announced twice ('Epoch 1/5' … 'Epoch 1/5 done')
            return
        run = self.current
        if run is None or (last is not None and number < last.number):
            run = self._open(event)
        run.epochs.append(Epoch(number, explicit=True))
        run.hints.append(event.hint)

    def accuracy(self, event: _Event) -> None:
        run = self.current
        if run is None or (event.hint and run.hint and event.hint != run.hint):
            run = self._open(event)  # without epoch numbers, only a change of model name shows a new run
        if not run.epochs:
            run.epochs.append(Epoch(1, explicit=False))
        epoch = run.epochs[-1]
        if not epoch.explicit and epoch.valid is not None:
            epoch = Epoch(epoch.number + 1, explicit=False)  # no epoch lines: a completed epoch ends at its valid value
            run.epochs.append(epoch)
        setattr(epoch, event.kind, event.value)
        run.hints.append(event.hint)

    def test(self, event: _Event) -> None:
        named = [run for run in self.runs if event.hint and run.hint == event.hint and run.test is None]
        open_run = self.current if self.current is not None and self.current.test is None else None
        target = named[-1] if named else open_run
        if target is None:
            untested = [run for run in self.runs if run.test is None]
            if not untested:
                return  # a test line with no training before it belongs to no run
            target = untested[-1]
        target.test = event.value
        if event.hint and not target.hint:
            target.hints.append(event.hint)  # 'BiLSTM test: …' right after an unnamed run names it
        if target is self.current:
            self.current = None

    def feed(self, event: _Event) -> None:
        {"epoch": self.epoch, "test": self.test, "hint": self.hint}.get(event.kind, self.accuracy)(event)


def _assign(runs: list[Run]) -> dict[str, Run]:
    """Which run is the RNN's and which the LSTM's: by the names near them, else in order (RNN first)."""
    runs = [run for run in runs if run.epochs]
    assigned = {label: [run for run in runs if run.hint == label][-1]
                for label in ("rnn", "lstm") if any(run.hint == label for run in runs)}
    unnamed = [run for run in runs if not run.hint]
    for label in ("rnn", "lstm"):
        if label not in assigned and unnamed:
            assigned[label] = unnamed.pop(0)
    return assigned


def training_log(ctx: CheckContext) -> TrainingLog:
    """Parse every cell's printed output into the two models' runs and the printed parameter counts."""
    builder = _LogBuilder()
    counts: list[tuple[int, str]] = []
    cells = ctx.notebook.get("cells", [])
    for record in ctx.execution.cells:
        source = "".join(cells[record.number - 1].get("source", "")) if record.number <= len(cells) else ""
        source_hint = _hint(source)
        for event in _events(record.number, record.stdout, source_hint):
            builder.feed(event)
        for line in record.stdout.splitlines():
            for match in PARAM_COUNT.finditer(line):
                digits = re.sub(r"[,_ ]", "", match.group(1) or match.group(2))
                counts.append((int(digits), _hint(line) or source_hint))
    return TrainingLog(runs=_assign(builder.runs), counts=counts)


# --------------------------------------------------------------------------- measurements (grader side)

@dataclass
class Measured:
    """One model as the grader sees it: its record, and its accuracy on the held-back reviews."""

    model: ModelRecord
    correct: int
    measured: int
    out_of_range: float | None

    @property
    def accuracy(self) -> float:
        return self.correct / self.measured if self.measured else 0.0

    @property
    def name(self) -> str:
        return f"`{self.model.names[0]}`"


def _measured(model: ModelRecord, labels: list[int]) -> Measured:
    values = model.probabilities
    outside = next((v for v in values if v is not None and not 0.0 <= v <= 1.0), None)
    correct = sum(v is not None and (v > 0.5) == bool(label) for v, label in zip(values, labels))
    return Measured(model, correct, len(values), outside)


def _models(ctx: CheckContext, kind: str) -> list[Measured]:
    data: ProbeData = ctx.data()
    labels = getattr(ctx.plan, "labels", [])
    return [_measured(m, labels) for m in data.values.models if m.kind == kind]


def _best(ctx: CheckContext, *kinds: str) -> Measured | None:
    """The model of the first kind that has one; among several, the one that scores best."""
    for kind in kinds:
        found = _models(ctx, kind)
        if found:
            return max(found, key=lambda m: m.accuracy)
    return None


def trainable_count(model: ModelRecord) -> int:
    return sum(math.prod(p.shape) for p in model.params if p.trainable)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _measurement_problem(ctx: CheckContext, model: Measured) -> str | None:
    """Why the model's re-measured accuracy cannot be trusted, or None."""
    data = ctx.data()
    name = ctx.plan.spec["function"]
    status = data.values.function_status
    if status == "missing":
        problem = missing_definition(ctx.notebook, ctx.execution, name)
        return f"The grader cannot re-measure the accuracy: {problem} (define {name}(model, sentence) -> probability)"
    if status == "not_callable":
        return f"{name} is not a function, so the grader cannot re-measure the accuracy"
    if model.model.failures and model.model.failures == model.measured:
        return f"{name}({model.model.names[0]}, review) failed on every review: {model.model.first_error}"
    if model.out_of_range is not None:
        return (f"{name}({model.model.names[0]}, review) returned {model.out_of_range:.4g}, not a probability in [0, 1]:"
                " apply torch.sigmoid to the model's output")
    if model.measured < MIN_MEASURED:
        return (f"only {model.measured} reviews could be scored through {name} ({model.model.stopped_early or 'too slow'}),"
                " too few to measure the accuracy")
    return None


def _tolerance(params: dict[str, Any], model: Measured) -> float:
    """Allowed gap, as a fraction, between the printed test accuracy and the re-measured one: a fixed margin plus
    z standard errors of the re-measurement (a sample of held-back reviews, not the notebook's test set)."""
    p = min(max(model.accuracy, 0.05), 0.95)
    return params["tolerance_points"] / 100 + params["tolerance_z"] * math.sqrt(p * (1 - p) / max(model.measured, 1))


def _failures_note(model: Measured) -> str:
    if not model.model.failures:
        return ""
    return f" ({plural(model.model.failures, 'call')} failed and count as wrong; first: {model.model.first_error})"


# --------------------------------------------------------------------------- checks (grader side)

def _epochs_problem(run: Run | None, label: str, epochs: int, model: Measured | None) -> str | None:
    if run is None:
        where = f" for {model.name}" if model else ""
        return (f"No per-epoch training lines{where} were found in the outputs (print e.g. "
                "'Epoch: 01 | Epoch Time: 0m 45s' and 'Train Acc: 50.25%' for every epoch)")
    if len(run.epochs) != epochs:
        numbers = [e.number for e in run.epochs]
        return (f"The {label}'s output shows {plural(len(run.epochs), 'epoch')} of training (epochs "
                f"{numbers[0]}–{numbers[-1]}, from cell {run.cell}); the exercise asks for {epochs}")
    return None


def _missing_model(ctx: CheckContext, kind: str) -> str:
    if kind == "rnn":
        return ("No basic RNN was found: no variable holds an nn.Module containing an nn.RNN "
                "(embedding → nn.RNN → linear)")
    lstm = _best(ctx, "lstm")
    if lstm is not None:
        layer = next((layer for layer in lstm.model.recurrent if "LSTM" in layer.type), lstm.model.recurrent[0])
        return (f"{lstm.name} holds an LSTM with num_layers={layer.num_layers} and bidirectional={layer.bidirectional};"
                " the advanced model needs a bidirectional LSTM with at least 2 layers")
    return "No advanced model was found: no variable holds an nn.Module containing a bidirectional nn.LSTM with num_layers ≥ 2"


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


@check("imdb.rnn_trained")
def rnn_trained(ctx: CheckContext, epochs: int) -> Outcome:
    """An nn.Module holding an nn.RNN exists, and its training printed `epochs` epochs."""
    model = _best(ctx, "rnn")
    if model is None:
        return Outcome.failed(_sentence(_missing_model(ctx, "rnn")))
    problem = _epochs_problem(training_log(ctx).runs.get("rnn"), "RNN", epochs, model)
    if problem:
        return Outcome.failed(_sentence(problem))
    return Outcome.passed(f"{model.name} ({model.model.class_name}, with an nn.RNN) trained for {epochs} epochs.")


def _report(ctx: CheckContext, kinds: tuple[str, ...], label: str, params: dict[str, Any]) -> Outcome:
    """Every epoch's train and valid accuracy and a test accuracy are printed, and the test accuracy is reproduced."""
    model = _best(ctx, *kinds)
    run = training_log(ctx).runs.get("rnn" if kinds[0] == "rnn" else "lstm")
    if model is None:
        return Outcome.failed(_sentence(_missing_model(ctx, kinds[0])) + " Nothing to compare the printed accuracies with.")
    if run is None:
        return Outcome.failed(_sentence(_epochs_problem(None, label, params["epochs"], model)))
    gaps = [f"epoch {e.number} has no {split} accuracy" for e in run.epochs
            for split, value in (("train", e.train), ("valid", e.valid)) if value is None]
    if gaps:
        return Outcome.failed(f"The {label}'s per-epoch lines are incomplete: {gaps[0]} "
                              f"({plural(len(gaps), 'gap')} in all); print train and valid accuracy every epoch.")
    if run.test is None:
        return Outcome.failed(f"No test accuracy line (e.g. 'Test Loss: 0.340 | Test Acc: 85.30%') was found after "
                              f"the {label}'s training.")
    problem = _measurement_problem(ctx, model)
    if problem:
        return Outcome.failed(_sentence(problem))
    tolerance = _tolerance(params, model)
    gap = abs(run.test - model.accuracy)
    details = {"printed_test_accuracy": _pct(run.test), "re_measured": f"{_pct(model.accuracy)} on "
               f"{model.measured} held-back reviews", "tolerance": f"±{100 * tolerance:.1f} points"}
    if gap > tolerance:
        details["flag"] = "printed test accuracy not reproduced"
        return Outcome.failed(
            f"The printed test accuracy {_pct(run.test)} is not reproduced: {model.name} scores "
            f"{_pct(model.accuracy)} on {model.measured} held-back reviews the grader chose (allowed gap "
            f"±{100 * tolerance:.1f} points){_failures_note(model)}. Print the accuracy of the model you keep.",
            **details)
    return Outcome.passed(
        f"Train and valid accuracy printed for all {len(run.epochs)} epochs and test accuracy {_pct(run.test)}; "
        f"the grader re-measured {model.name} at {_pct(model.accuracy)} on {model.measured} held-back reviews "
        f"(within ±{100 * tolerance:.1f} points){_failures_note(model)}.", **details)


@check("imdb.rnn_report")
def rnn_report(ctx: CheckContext, epochs: int, tolerance_points: float, tolerance_z: float) -> Outcome:
    """The RNN's per-epoch train/valid accuracy and test accuracy are printed; the test accuracy is reproduced."""
    return _report(ctx, ("rnn",), "RNN", {"epochs": epochs, "tolerance_points": tolerance_points,
                                          "tolerance_z": tolerance_z})


def _threshold(ctx: CheckContext, min_accuracy: float, quick_reference_accuracy: float, quick_margin: float) -> tuple[float, str]:
    if not ctx.quick:
        return min_accuracy, f"{_pct(min_accuracy)}"
    threshold = quick_reference_accuracy - quick_margin
    return threshold, (f"{_pct(threshold)} in quick mode (the reference notebook's {_pct(quick_reference_accuracy)} "
                       f"on the same data, minus {100 * quick_margin:.0f} points)")


@check("imdb.bilstm_trained")
def bilstm_trained(ctx: CheckContext, epochs: int, min_accuracy: float, quick_reference_accuracy: float,
                   quick_margin: float) -> Outcome:
    """A bidirectional LSTM with ≥ 2 layers exists, trained `epochs` epochs, and reaches the accuracy bar."""
    model = _best(ctx, "bilstm")
    if model is None:
        return Outcome.failed(_sentence(_missing_model(ctx, "bilstm")))
    problem = _epochs_problem(training_log(ctx).runs.get("lstm"), "BiLSTM", epochs, model) \
        or _measurement_problem(ctx, model)
    if problem:
        return Outcome.failed(_sentence(problem))
    threshold, bar = _threshold(ctx, min_accuracy, quick_reference_accuracy, quick_margin)
    layer = next((layer for layer in model.model.recurrent if layer.bidirectional and layer.num_layers >= 2),
                 model.model.recurrent[0])
    shape = f"{layer.num_layers}-layer bidirectional LSTM, hidden size {layer.hidden_size}"
    verdict = f"{model.name} ({shape}) scores {_pct(model.accuracy)} on {model.measured} held-back reviews"
    if model.accuracy < threshold:
        return Outcome.failed(f"{verdict}{_failures_note(model)}; it must reach {bar}.")
    return Outcome.passed(f"{verdict}, trained for {epochs} epochs; the bar is {bar}.")


@check("imdb.bilstm_report")
def bilstm_report(ctx: CheckContext, epochs: int, tolerance_points: float, tolerance_z: float) -> Outcome:
    """The advanced model's per-epoch accuracies and test accuracy are printed; the test accuracy is reproduced."""
    return _report(ctx, ("bilstm", "lstm"), "BiLSTM", {"epochs": epochs, "tolerance_points": tolerance_points,
                                                       "tolerance_z": tolerance_z})


# --------------------------------------------------------------------------- parameter counts

def _layer_direction(name: str) -> tuple[str, int, bool]:
    """'rnn.weight_hh_l1_reverse' → ('rnn', 1, True)."""
    owner, _, leaf = name.rpartition(".")
    match = re.search(r"_l(\d+)(_reverse)?$", leaf)
    return owner, int(match.group(1)) if match else 0, bool(match and match.group(2))


def breakdown(model: ModelRecord) -> dict[str, str]:
    """Trainable parameters layer by layer (each recurrent layer and direction apart), with the arithmetic."""
    recurrent = {layer.path for layer in model.recurrent}
    rows: dict[str, list[ParamInfo]] = {}
    for param in (p for p in model.params if p.trainable):
        owner, layer, reverse = _layer_direction(param.name)
        if owner in recurrent:
            kind = model.module_types.get(owner, "RNN")
            label = f"{kind} `{owner}` layer {layer + 1}, {'backward' if reverse else 'forward'}"
        else:
            label = f"{model.module_types.get(owner, 'module')} `{owner or model.class_name}`"
        rows.setdefault(label, []).append(param)
    table = {}
    for label, params in rows.items():
        terms = [" × ".join(f"{size:,}" for size in p.shape) or "1" for p in params]
        total = sum(math.prod(p.shape) for p in params)
        table[label] = f"{' + '.join(terms)} = {total:,}" if len(terms) > 1 or "×" in terms[0] else f"{total:,}"
    table["Total (trainable)"] = f"{trainable_count(model):,}"
    return table


def tutorial_count(kind: str, vocab: int = 25_002, embedding: int = 100, hidden: int = 256, output: int = 1,
                   layers: int = 2) -> int:
    """The tutorial's count: embedding, then 4 gates (LSTM) or 1 (RNN) per layer and direction, then the linear."""
    if kind == "rnn":
        return vocab * embedding + hidden * (embedding + hidden) + 2 * hidden + hidden * output + output
    total = vocab * embedding
    for layer in range(layers):
        inputs = embedding if layer == 0 else 2 * hidden
        total += 2 * (4 * hidden * (inputs + hidden) + 2 * 4 * hidden)
    return total + 2 * hidden * output + output


def _count_hint(printed: int, model: ModelRecord) -> str:
    biases = sum(math.prod(p.shape) for p in model.params if p.trainable and "bias" in p.name.rpartition(".")[2])
    frozen = sum(math.prod(p.shape) for p in model.params if not p.trainable)
    real = trainable_count(model)
    if biases and real - printed == biases:
        return f": the printed number leaves out the {biases:,} bias values"
    if frozen and printed - real == frozen:
        return f": the printed number includes {frozen:,} frozen (requires_grad=False) parameters"
    if printed == tutorial_count("bilstm"):
        return ": that is the tutorial's number, but this model's sizes (vocabulary, layers) differ"
    return ""


@check("imdb.param_count")
def param_count(ctx: CheckContext) -> Outcome:
    """The printed trainable-parameter count equals the advanced model's real count; the report explains it."""
    model = _best(ctx, "bilstm", "lstm")
    if model is None:
        return Outcome.failed(_sentence(_missing_model(ctx, "bilstm")) + " There is no count to check.")
    real = trainable_count(model.model)
    details = {"layer_by_layer": breakdown(model.model),
               "with_the_tutorial_sizes": f"{tutorial_count('bilstm'):,} (2-layer BiLSTM), {tutorial_count('rnn'):,} "
                                          "(RNN): vocabulary 25,002, embedding 100, hidden 256, output 1"}
    rnn = _best(ctx, "rnn")
    if rnn is not None:
        details["rnn_layer_by_layer"] = breakdown(rnn.model)
    counts = training_log(ctx).counts
    if real in [count for count, _ in counts]:
        return Outcome.passed(f"The notebook prints {real:,} trainable parameters, the real count of {model.name}.",
                              **details)
    if not counts:
        return Outcome.failed(f"No parameter count was found in the outputs; print it, e.g. 'The model has {real:,} "
                              "trainable parameters'.", **details)
    named = [count for count, hint in counts if hint == "lstm"]
    printed = named[-1] if named else min((count for count, _ in counts), key=lambda count: abs(count - real))
    return Outcome.failed(f"The notebook prints {printed:,} trainable parameters, but {model.name} has {real:,}"
                          f"{_count_hint(printed, model.model)}.", **details)


# --------------------------------------------------------------------------- summary

def _spark(values: list[float | None]) -> str:
    """A tiny accuracy curve on a fixed 40–100% scale, so the two models' curves compare."""
    marks = []
    for value in values:
        level = 0 if value is None else round((min(max(value, 0.4), 1.0) - 0.4) / 0.6 * (len(SPARKS) - 1))
        marks.append("·" if value is None else SPARKS[level])
    return "".join(marks)


def _column(run: Run | None, model: Measured | None, ctx: CheckContext) -> dict[str, str]:
    column = {"model": f"{model.name} ({model.model.class_name})" if model else "not found",
              "params": f"{trainable_count(model.model):,}" if model else "—"}
    epochs = run.epochs if run else []
    for epoch in epochs:
        column[f"Epoch {epoch.number} train / valid accuracy"] = f"{_pct(epoch.train)} / {_pct(epoch.valid)}"
    column["printed"] = _pct(run.test if run else None)
    usable = model is not None and _measurement_problem(ctx, model) is None
    column["measured"] = f"{_pct(model.accuracy)} (n={model.measured})" if usable else "—"
    curve = lambda split: _spark([getattr(e, split) for e in epochs]) if epochs else "—"  # noqa: E731
    column["train_curve"] = f"{curve('train')} {_pct(epochs[0].train)} → {_pct(epochs[-1].train)}" if epochs else "—"
    column["valid_curve"] = f"{curve('valid')} {_pct(epochs[0].valid)} → {_pct(epochs[-1].valid)}" if epochs else "—"
    return column


@check("imdb.summary")
def summary(ctx: CheckContext) -> Outcome:
    """RNN vs BiLSTM side by side: parameters, per-epoch accuracy, printed and re-measured test accuracy, curves."""
    log = training_log(ctx)
    rnn = _column(log.runs.get("rnn"), _best(ctx, "rnn"), ctx)
    lstm = _column(log.runs.get("lstm"), _best(ctx, "bilstm", "lstm"), ctx)
    labels = {"model": "Model", "params": "Trainable parameters", "printed": "Test accuracy, printed",
              "measured": "Test accuracy, re-measured by the grader", "train_curve": "Train accuracy curve",
              "valid_curve": "Valid accuracy curve"}
    keys = list(dict.fromkeys([*rnn, *lstm]))
    order = [k for k in ("model", "params") if k in keys] + [k for k in keys if k.startswith("Epoch")] + \
            [k for k in ("printed", "measured", "train_curve", "valid_curve") if k in keys]
    table = {labels.get(key, key): f"RNN {rnn.get(key, '—')}  |  BiLSTM {lstm.get(key, '—')}" for key in order}
    return Outcome.passed("Side by side below: RNN | BiLSTM.", side_by_side=table)
