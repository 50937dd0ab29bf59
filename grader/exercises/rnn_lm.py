"""RNN language model: an RNNCell and RNN from scratch, a word Dataset, a Model, and train/predict functions.

Kernel side: `probe` builds the student's pieces on the grader's inputs and texts, calls the student's `train`
with the grader's batch size and epoch count, and records raw measurements (outputs, logits, vocabularies).
Grader side: the checks compare the cell with nn.RNNCell under any parameter layout, read the Dataset's
semantics off its items, and compute the language model's cross-entropy themselves from the recorded logits.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel

from grader.analysis import class_problem, first_difference, plural, shape_text
from grader.check import CheckContext, Outcome
from grader.exercises.gru import (ATOL, EQUIVALENCE_BATCH, RTOL, build_and_call_cell, from_scratch_outcome, output_kind,
                                  parse_layout, recorded_params, recurrent_inputs, sentence, tolerance_gap,
                                  weight_blocks)
from grader.probe import ParamInfo, ProbeData, ProbePlan
from grader.probe_runtime import class_status
from grader.registry import check

CORPUS_WORDS = ("apel", "buku", "cabai", "daun", "ember", "garam", "ikan", "jeruk", "kopi", "lampu")
CORPUS_COUNTS = (8, 6, 5, 4, 3, 2, 1)   # distinct, so 'sorted by frequency' has exactly one answer
DOCUMENTS = 3

# The contract is definitions: measured in a fresh kernel that runs only them (grader/measure.py).
MEASURED_APART = True

# --------------------------------------------------------------------------- plan (grader side)

def _corpus(generator: torch.Generator) -> list[str]:
    """A few documents over a small vocabulary whose word counts all differ, shuffled by the grader's seed."""
    order = torch.randperm(len(CORPUS_WORDS), generator=generator).tolist()
    tokens = [CORPUS_WORDS[order[i]] for i, count in enumerate(CORPUS_COUNTS) for _ in range(count)]
    tokens = [tokens[i] for i in torch.randperm(len(tokens), generator=generator).tolist()]
    cuts = sorted(torch.randperm(len(tokens) - 1, generator=generator)[:DOCUMENTS - 1].add(1).tolist())
    bounds = [0, *cuts, len(tokens)]
    return [" ".join(tokens[start:end]) for start, end in zip(bounds, bounds[1:])]


def text_words(text: str) -> list[str]:
    """The rubric's text as the Dataset contract sees it: its lines joined with spaces, split on ' '."""
    return " ".join(lines(text)).split(" ")


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def make_plan(params: dict[str, Any], generator: torch.Generator, quick: bool) -> ProbePlan:
    """Cell and RNN inputs, a corpus for the Dataset, and the windows of the rubric's text the loss is measured on."""
    learn = params["learn"]
    words = text_words(learn["text"])
    windows = torch.randperm(len(words) - learn["sequence_length"], generator=generator)[:learn["eval_windows"]]
    spec = {
        "names": params["names"],
        "configs": params["configs"],
        "dataset": {"sequence_length": params["dataset_sequence_length"], "documents": _corpus(generator)},
        "learn": {**{k: v for k, v in learn.items() if k != "text"}, "documents": lines(learn["text"]),
                  "starts": sorted(windows.tolist())},
        "predict": params["predict"],
        "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
    }
    inputs: dict[str, torch.Tensor] = {}
    for index, (batch, time, size_in, hidden) in enumerate(spec["configs"]):
        inputs.update(recurrent_inputs(f"configs/{index}", batch, time, size_in, hidden, generator))
    return ProbePlan(spec=spec, inputs=inputs)


# --------------------------------------------------------------------------- probe (kernel side)

class CellRun(BaseModel):
    config: list[int]
    constructed: bool = False
    params: list[ParamInfo] = []
    output_kind: str = ""
    calls: list[str] = []


CellArgument = Literal["", "instance", "class"]


class RNNRun(BaseModel):
    config: list[int]
    constructed: bool = False
    cell_argument: CellArgument = ""     # what RNN(n_inputs, n_hiddens, cell) accepted as its cell
    cell_found: bool = False             # an instance of the student's cell class lives inside the RNN
    output_kind: str = ""
    outputs_shape: list[int] | None = None
    last_shape: list[int] | None = None
    calls: list[str] = []


class DatasetRun(BaseModel):
    constructed: bool = False
    length: int | None = None
    uniq_words: list[str] | None = None
    word_to_index: dict[str, int] | None = None
    index_to_word: list[tuple[int, str]] | None = None
    words: list[str] | None = None      # its own word list: an attribute holding the documents' words in order
    items: list[int] = []
    last_item_sizes: list[int] | None = None   # [len(x), len(y)] of dataset[len(dataset) - 1]


class ModelRun(BaseModel):
    constructed: bool = False
    vocab: dict[str, int] | None = None
    vocab_size: int | None = None
    state_kind: str = ""
    state_shape: list[int] | None = None
    output_kind: str = ""
    logits_shape: list[int] | None = None
    returned_state_shape: list[int] | None = None
    vocabulary: list[str] | None = None          # the learning Dataset's uniq_words
    dataset_length: int | None = None
    batch_size: int | None = None                # the batch size train() was called with
    trained: bool = False
    train_seconds: float | None = None
    parameter_count: int = 0
    parameters_with_gradient: int | None = None  # how many of the model's parameters a gradient reached in train()
    parameters_changed: bool | None = None
    partial_batch_size: int | None = None        # a batch size that leaves a smaller last batch, tried for 1 epoch
    partial_batch_ok: bool | None = None
    prediction: list[str] | None = None
    prediction_kind: str = ""


Status = Literal["missing", "not_a_class", "not_a_module", "ok"]


class ProbeValues(BaseModel):
    status: dict[str, Status | Literal["not_a_function", "function"]] = {}
    kinds: dict[str, str] = {}
    cells: list[CellRun] = []
    rnns: list[RNNRun] = []
    dataset: DatasetRun = DatasetRun()
    model: ModelRun = ModelRun()


def _item_tensor(value: Any) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def _probe_cell(cls: type, key: str, config: list[int], seed: int, inputs: dict, rec) -> dict[str, Any]:
    run, _, ran, output = build_and_call_cell(cls, key, config, seed, inputs[f"{key}/x_many"],
                                              inputs[f"{key}/h_many"], rec)
    if ran:
        rec.tensor(f"{key}/cell/out_many", output)
    return run


def _build_rnn(cell_cls: type, cls: type, key: str, size_in: int, hidden: int, seed: int, x: torch.Tensor,
               h0: torch.Tensor, rec) -> tuple[CellArgument, Any, Any, list[str]]:
    """RNN(n_inputs, n_hiddens, cell) given a cell instance, else the cell class (the slides' RNN builds its own
    cell from the class, a student's may take a built cell): (the argument that worked, rnn, its output, calls)."""
    from grader.probe_runtime import trace_torch_calls

    for argument in ("instance", "class"):
        attempt = f"{key}/rnn/with_{argument}"
        torch.manual_seed(seed)
        built, cell = (True, cell_cls) if argument == "class" else rec.attempt(attempt, cell_cls, size_in, hidden)
        if built:
            built, rnn = rec.attempt(attempt, cls, size_in, hidden, cell)
        if not built:
            continue
        if not isinstance(rnn, torch.nn.Module):
            rec.errors[attempt] = f"RNN(...) returned a {type(rnn).__name__}, not an nn.Module"
            continue
        with torch.no_grad(), trace_torch_calls() as calls:
            ran, output = rec.attempt(attempt, rnn, x, h0)
        if ran:
            return argument, rnn, output, sorted(calls)
    return "", None, None, []


def _probe_rnn(cell_cls: type, cls: type, key: str, config: list[int], seed: int, inputs: dict, rec) -> dict[str, Any]:
    _, time, size_in, hidden = config
    x, h0 = inputs[f"{key}/x"], inputs[f"{key}/h0"]
    argument, rnn, output, calls = _build_rnn(cell_cls, cls, key, size_in, hidden, seed, x, h0, rec)
    run: dict[str, Any] = {"config": config, "constructed": bool(argument), "cell_argument": argument,
                           "calls": calls}
    if not argument:
        return run
    run["output_kind"] = output_kind(output)
    if isinstance(output, (tuple, list)) and len(output) == 2:
        for name, value in zip(("outputs", "last"), output):
            if isinstance(value, torch.Tensor):
                run[f"{name}_shape"] = list(value.shape)
                rec.tensor(f"{key}/rnn/{name}", value)
    # The reference for the outputs is the RNN's own cell, wherever it came from, stepped over time here.
    cell = next((module for module in rnn.modules() if isinstance(module, cell_cls)), None)
    run["cell_found"] = cell is not None
    if cell is None:
        return run
    with torch.no_grad():
        steps, h = [], h0
        for step in range(time):
            ran, h = rec.attempt(f"{key}/rnn/unroll", cell, x[:, step], h)
            if not ran:
                break
            steps.append(h)
        if len(steps) == time:
            rec.attempt(f"{key}/rnn/unroll", lambda: rec.tensor(f"{key}/rnn/unrolled", torch.stack(steps, dim=1)))
    return run


def _own_words(dataset: Any, words: list[str]) -> list[str] | None:
    """The Dataset's own word list, found by value whatever its name: a list of strings that is the documents'
    words in order, empty tokens allowed (the slides' `text += doc + " "` leaves a trailing '')."""
    for value in vars(dataset).values():
        if isinstance(value, (list, tuple)) and value and all(isinstance(word, str) for word in value) \
                and [word for word in value if word] == words:
            return [str(word) for word in value]
    return None


def item_indices(word_count: int, length: int) -> list[int]:
    """The items both sides look at: the first two, the middle one and the last one."""
    return sorted({0, 1, (word_count - length) // 2, word_count - length - 1})


def _probe_dataset(cls: type, spec: dict, rec) -> dict[str, Any]:
    run: dict[str, Any] = {}
    length = spec["sequence_length"]
    built, dataset = rec.attempt("dataset/construct", cls, length, list(spec["documents"]))
    run["constructed"] = built
    if not built:
        return run
    ok, size = rec.attempt("dataset/len", lambda: int(len(dataset)))
    run["length"] = size if ok else None
    if ok and size > 0:
        ok, sizes = rec.attempt("dataset/last_item", lambda: [int(_item_tensor(v).numel()) for v in dataset[size - 1]])
        run["last_item_sizes"] = sizes if ok else None
    for name, convert in (("uniq_words", lambda: [str(w) for w in dataset.uniq_words]),
                          ("word_to_index", lambda: {str(w): int(i) for w, i in dataset.word_to_index.items()}),
                          ("index_to_word", lambda: [(int(i), str(w)) for i, w in dict(dataset.index_to_word).items()])):
        ok, value = rec.attempt(f"dataset/{name}", convert)
        run[name] = value if ok else None
    words = " ".join(spec["documents"]).split(" ")
    ok, own = rec.attempt("dataset/words", _own_words, dataset, words)
    run["words"] = own if ok else None
    run["items"] = []
    for index in item_indices(len(own or words), length):
        ok, item = rec.attempt(f"dataset/item/{index}", lambda i=index: tuple(_item_tensor(v) for v in dataset[i]))
        if ok and len(item) == 2:
            rec.tensor(f"dataset/item/{index}/x", item[0])
            rec.tensor(f"dataset/item/{index}/y", item[1])
            run["items"].append(index)
    return run


def _logits_of(output: Any) -> Any:
    """The logits, whether forward returned (logits, state) as asked or the logits alone."""
    return output[0] if isinstance(output, (tuple, list)) and output else output


def _eval_logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return _logits_of(model(x, model.init_state(x.shape[0])))


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed % 2**32)


def training_batch(dataset_length: int | None, batch_size: int) -> int:
    """The largest batch size from `batch_size` down to half of it that splits the Dataset into full batches, else
    `batch_size`: the slides' train() keeps one state of batch_size rows for a whole epoch, so a smaller last batch
    breaks it; whether a loop copes with one is asked separately (partial_batch)."""
    if dataset_length:
        for size in range(batch_size, (batch_size + 1) // 2 - 1, -1):
            if dataset_length % size == 0:
                return size
    return batch_size


def partial_batch(dataset_length: int | None, batch_size: int) -> int | None:
    """A batch size just above `batch_size` that leaves a smaller last batch, if the Dataset's length is known."""
    if not dataset_length:
        return None
    return next((size for size in range(batch_size + 1, batch_size + 9) if dataset_length % size), None)


def _train_watched(train: Any, dataset: Any, model: torch.nn.Module, batch_size: int, epochs: int, key: str,
                   rec) -> dict[str, Any]:
    """Call the student's train() and record whether gradients reached the model and its parameters moved."""
    import time

    params = [param for param in model.parameters() if param.requires_grad]
    reached: set[int] = set()
    handles = [param.register_hook(lambda grad, i=i: reached.add(i)) for i, param in enumerate(params)]
    before = [param.detach().clone() for param in params]
    started = time.monotonic()
    try:
        trained, _ = rec.attempt(key, train, dataset, model, batch_size, epochs)
    finally:
        for handle in handles:
            handle.remove()
    return {"trained": trained, "train_seconds": round(time.monotonic() - started, 3),
            "parameter_count": len(params), "parameters_with_gradient": len(reached),
            "parameters_changed": any(not torch.equal(old, param.detach()) for old, param in zip(before, params))}


def _probe_model(namespace: dict, names: dict, spec: dict, predict_spec: dict, seed: int, rec) -> dict[str, Any]:
    run: dict[str, Any] = {}
    length = spec["sequence_length"]
    torch.set_num_threads(1)   # the models are tiny: one thread is faster, and parallel graders do not thrash
    _seed_everything(seed)
    built, dataset = rec.attempt("learn/dataset", namespace[names["dataset"]], length, list(spec["documents"]))
    if not built:
        return run
    built, model = rec.attempt("model/construct", namespace[names["model"]], dataset)
    run["constructed"] = built and isinstance(model, torch.nn.Module)
    if not run["constructed"]:
        return run
    words = " ".join(spec["documents"]).split(" ")
    ok, vocab = rec.attempt("learn/vocab", lambda: {w: int(dataset.word_to_index[w]) for w in set(words)})
    if not ok:
        return run
    run["vocab"] = vocab
    ok, vocabulary = rec.attempt("learn/vocab_size", lambda: [str(word) for word in dataset.uniq_words])
    run["vocabulary"], run["vocab_size"] = (vocabulary, len(vocabulary)) if ok else (None, None)
    ok, size = rec.attempt("learn/len", lambda: int(len(dataset)))
    run["dataset_length"] = size if ok else None
    x = torch.tensor([[vocab[w] for w in words[s:s + length]] for s in spec["starts"]])
    rec.tensor("learn/x", x)
    ok, state = rec.attempt("model/init_state", model.init_state, x.shape[0])
    if ok:
        run["state_kind"] = output_kind(state)
        run["state_shape"] = list(state.shape) if isinstance(state, torch.Tensor) else None
        ok, output = rec.attempt("model/forward", model, x, state)
        if ok:
            run["output_kind"] = output_kind(output)
            logits = _logits_of(output)
            run["logits_shape"] = list(logits.shape) if isinstance(logits, torch.Tensor) else None
            if isinstance(output, (tuple, list)) and len(output) == 2 and isinstance(output[1], torch.Tensor):
                run["returned_state_shape"] = list(output[1].shape)
    ok, before = rec.attempt("learn/before", _eval_logits, model, x)
    if ok:
        rec.tensor("learn/logits_before", before)
    train, predict = namespace.get(names["train"]), namespace.get(names["predict"])
    if callable(train):
        run["batch_size"] = training_batch(run["dataset_length"], spec["batch_size"])
        _seed_everything(seed + 1)
        run.update(_train_watched(train, dataset, model, run["batch_size"], spec["max_epochs"], "learn/train", rec))
        ok, after = rec.attempt("learn/after", _eval_logits, model, x)
        if ok:
            rec.tensor("learn/logits_after", after)
    if callable(predict):
        run.update(_probe_predict(predict, dataset, model, predict_spec, seed + 2, rec))
    if run.get("trained"):
        run.update(_probe_partial_batch(namespace[names["model"]], train, dataset, run, seed + 3, rec))
    return run


def _probe_partial_batch(model_cls: type, train: Any, dataset: Any, run: dict, seed: int, rec) -> dict[str, Any]:
    """One epoch on a fresh Model with a batch size that leaves a smaller last batch: advice, never points."""
    size = partial_batch(run["dataset_length"], run["batch_size"])
    if size is None:
        return {}
    _seed_everything(seed)
    built, fresh = rec.attempt("learn/partial_batch", model_cls, dataset)
    if not built:
        return {}
    trained, _ = rec.attempt("learn/partial_batch", train, dataset, fresh, size, 1)
    return {"partial_batch_size": size, "partial_batch_ok": trained}


def _probe_predict(predict: Any, dataset: Any, model: torch.nn.Module, plan: dict, seed: int, rec) -> dict[str, Any]:
    _seed_everything(seed)
    ok, words = rec.attempt("predict", predict, dataset, model, plan["prompt"], plan["next_words"])
    if not ok:
        return {}
    kind = output_kind(words)
    if isinstance(words, str):
        words = words.split(" ")
    if isinstance(words, (list, tuple)) and all(isinstance(w, str) for w in words):
        return {"prediction": list(words), "prediction_kind": kind}
    return {"prediction_kind": kind}


def probe(namespace: dict[str, Any], plan: dict[str, Any], inputs: dict[str, torch.Tensor], rec) -> None:
    """Kernel side: probe the cell, the RNN, the Dataset, and the Model through train and predict."""
    names = plan["names"]
    status, kinds = {}, {}
    for role in ("cell", "rnn", "dataset", "model"):
        status[role], kinds[role] = class_status(namespace, names[role])
    if status["dataset"] == "not_a_module":   # a torch.utils.data.Dataset need not be an nn.Module
        status["dataset"] = "ok"
    for role in ("train", "predict"):
        status[role] = "function" if callable(namespace.get(names[role])) else (
            "missing" if names[role] not in namespace else "not_a_function")
    rec.put("status", status)
    rec.put("kinds", kinds)
    cells, rnns = [], []
    for index, config in enumerate(plan["configs"]):
        seed = plan["seed"] + 10 * index
        if status["cell"] == "ok":
            cells.append(_probe_cell(namespace[names["cell"]], f"configs/{index}", config, seed, inputs, rec))
            if status["rnn"] == "ok":
                rnns.append(_probe_rnn(namespace[names["cell"]], namespace[names["rnn"]], f"configs/{index}", config,
                                       seed + 5, inputs, rec))
    rec.put("cells", cells)
    rec.put("rnns", rnns)
    if status["dataset"] == "ok":
        rec.put("dataset", _probe_dataset(namespace[names["dataset"]], plan["dataset"], rec))
    if status["dataset"] == "ok" and status["model"] == "ok":
        rec.put("model", _probe_model(namespace, names, plan["learn"], plan["predict"], plan["seed"] + 100, rec))


# --------------------------------------------------------------------------- checks (grader side)

ROLE_TITLES = {"cell": "RNNCell", "rnn": "RNN", "dataset": "Dataset", "model": "Model", "train": "train",
               "predict": "predict"}


def _role_problem(ctx: CheckContext, data: ProbeData, role: str) -> str | None:
    """A sentence when the student's class or function for `role` is missing or of the wrong kind."""
    name = ctx.plan.spec["names"][role]
    status = data.values.status.get(role, "missing")
    if status == "not_a_function":
        return f"{name} is not a function."
    problem = class_problem(ctx.notebook, ctx.execution, name, status, data.values.kinds.get(role, ""))
    return sentence(problem) if problem else None


def _first_problem(ctx: CheckContext, data: ProbeData, roles: tuple[str, ...]) -> Outcome | None:
    for role in roles:
        problem = _role_problem(ctx, data, role)
        if problem:
            return Outcome.failed(problem)
    return None


def _error(data: ProbeData, *keys: str) -> str | None:
    for key in keys:
        if key in data.errors:
            return data.errors[key]
    return None


ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "no activation": lambda t: t}


def rnn_cell_search(params: list[tuple[str, torch.Tensor]], size_in: int, hidden: int, x: torch.Tensor,
                    h: torch.Tensor, output: torch.Tensor) -> tuple[str | None, str, dict[str, str]]:
    """(activation, '', parameter roles) when the cell is act(W_x x + W_h h + b) for some reading of its
    parameters, tanh read through nn.RNNCell itself; else (None, why not, {})."""
    layout = parse_layout(params, size_in, hidden, "RNN cell")
    if layout.problem:
        return None, f"its parameters do not fit an RNN cell: {layout.problem}", {}
    counts = (len(layout.bearing("x")), len(layout.bearing("h")))
    if counts != (1, 1):
        return None, (f"its weights hold {counts[0]} input-to-hidden and {counts[1]} hidden-to-hidden blocks of"
                      f" {hidden} rows; an RNN cell has one of each"), {}
    biases = [unit for unit in layout.units if unit.kind == "bias"]
    if any(unit.chunks != 1 for unit in biases):
        return None, f"its biases are not [{hidden}] vectors", {}
    bias = sum((unit.matrix for unit in biases), torch.zeros(hidden, dtype=torch.float64))
    x, h, output = x.double(), h.double(), output.double()
    closest: tuple[float, str] | None = None
    for flags in layout.flags():
        blocks_x, blocks_h = weight_blocks(layout, hidden, size_in, *flags)
        (w_x,), (w_h,) = blocks_x.values(), blocks_h.values()
        reference = torch.nn.RNNCell(size_in, hidden, nonlinearity="tanh").double()
        with torch.no_grad():
            reference.weight_ih.copy_(w_x)
            reference.weight_hh.copy_(w_h)
            reference.bias_ih.copy_(bias)
            reference.bias_hh.zero_()
            expected = reference(x, h)
        roles = {"W_xh": next(u.name for u in layout.units if u.kind in ("x", "xh")),
                 "W_hh": next(u.name for u in layout.units if u.kind in ("h", "xh")),
                 "bias": " + ".join(u.name for u in biases) or "none"}
        if tolerance_gap(output, expected) <= 0:
            return "tanh", "", roles
        pre = x @ w_x.T + h @ w_h.T + bias
        for name, activation in ACTIVATIONS.items():
            if name != "tanh" and tolerance_gap(output, activation(pre)) <= 0:
                return name, "", roles
        gap = tolerance_gap(output, expected)
        if closest is None or gap < closest[0]:
            closest = (gap, first_difference(output, expected, ATOL, RTOL) or "")
    detail = f": the closest reading gives {closest[1]}" if closest else ""
    return None, f"it is not tanh(W_xh·input + W_hh·hidden + b) for any reading of its parameters{detail}", {}


def _cell_signature(config: list[int]) -> str:
    return f"RNNCell({config[2]}, {config[3]})"


@check("rnn_lm.cell")
def cell(ctx: CheckContext) -> Outcome:
    """RNNCell equals nn.RNNCell(nonlinearity='tanh') under some reading of its parameters."""
    data = ctx.data()
    unusable = _first_problem(ctx, data, ("cell",))
    if unusable:
        return unusable
    runs, problems, roles = data.values.cells, [], {}
    for index, run in enumerate(runs):
        key = f"configs/{index}/cell"
        _, _, size_in, hidden = run.config
        params = recorded_params(data, key, run.params)
        output = data.tensors.get(f"{key}/out_many")
        error = _error(data, f"{key}/construct", f"{key}/forward", f"{key}/out_many")
        if error or params is None or output is None:
            problems.append(f"{_cell_signature(run.config)}: {error or 'it could not be run'}")
            continue
        if not params:
            problems.append(f"{_cell_signature(run.config)}: it has no parameters (use nn.Parameter or nn.Linear)")
            continue
        if tuple(output.shape) != (EQUIVALENCE_BATCH, hidden):
            problems.append(f"{_cell_signature(run.config)} returned {shape_text(output.shape)} for input"
                            f" [{EQUIVALENCE_BATCH}, {size_in}] and hidden [{EQUIVALENCE_BATCH}, {hidden}]; expected"
                            f" [{EQUIVALENCE_BATCH}, {hidden}]")
            continue
        inputs = ctx.plan.inputs
        activation, why, found = rnn_cell_search(params, size_in, hidden, inputs[f"configs/{index}/x_many"],
                                                 inputs[f"configs/{index}/h_many"], output)
        if activation == "tanh":
            roles[_cell_signature(run.config)] = found
        elif activation:
            problems.append(f"{_cell_signature(run.config)} computes {activation}(W_xh·input + W_hh·hidden + b);"
                            f" the slides' cell uses tanh")
        else:
            problems.append(f"{_cell_signature(run.config)}: {why}")
    if not runs:
        return Outcome.failed("RNNCell was not probed.")
    if not problems:
        return Outcome.passed(f"RNNCell equals nn.RNNCell(nonlinearity='tanh') in {plural(len(runs), 'configuration')}.",
                              parameters=roles)
    return Outcome.partial((len(runs) - len(problems)) / len(runs),
                           f"{len(problems)} of {len(runs)} cells differ from nn.RNNCell. {sentence(problems[0])}",
                           problems=problems)


def _rnn_problem(data: ProbeData, run: RNNRun, key: str, cell_name: str) -> str | None:
    batch, time, _, hidden = run.config
    if not run.constructed:
        return (f"it could not be built and called when given an instance of {cell_name} as its cell"
                f" ({_error(data, f'{key}/with_instance') or 'no error recorded'}), nor when given the class"
                f" {cell_name} itself ({_error(data, f'{key}/with_class') or 'no error recorded'})")
    if not run.output_kind.startswith(("tuple (tensor, tensor)", "list (tensor, tensor)")):
        return f"it returned a {run.output_kind}; it must return (outputs, last_hidden)"
    if run.outputs_shape != [batch, time, hidden]:
        hint = ": stack the steps on dim 1" if run.outputs_shape == [time, batch, hidden] else ""
        return f"outputs is {shape_text(run.outputs_shape)}, expected [batch, time, hidden] = " \
               f"{shape_text([batch, time, hidden])}{hint}"
    if run.last_shape not in ([batch, hidden], [1, batch, hidden]):
        return f"last_hidden is {shape_text(run.last_shape)}, expected [batch, hidden] = {shape_text([batch, hidden])}"
    if not run.cell_found:
        return (f"no {cell_name} lives inside it, so the grader cannot step its cell over time to compare; keep the"
                f" cell it is given (or builds from the class it is given) as an attribute")
    unrolled = data.tensors.get(f"{key}/unrolled")
    if unrolled is None:
        return f"its cell could not be stepped over time ({_error(data, f'{key}/unroll') or 'no tensor'})"
    outputs, last = data.tensors[f"{key}/outputs"].double(), data.tensors[f"{key}/last"].double()
    difference = first_difference(outputs, unrolled.double(), ATOL, RTOL)
    if difference:
        return f"outputs differ from its cell stepped over x[:, t] for t = 0 … {time - 1}: {difference}"
    difference = first_difference(last.reshape(batch, hidden), outputs[:, -1], ATOL, RTOL)
    if difference:
        return f"last_hidden is not outputs[:, -1], the hidden state after the last step: {difference}"
    return None


@check("rnn_lm.rnn")
def rnn(ctx: CheckContext) -> Outcome:
    """RNN(n_inputs, n_hiddens, cell) steps the cell over the time axis; last_hidden = outputs[:, -1]."""
    data = ctx.data()
    unusable = _first_problem(ctx, data, ("cell", "rnn"))
    if unusable:
        return unusable
    runs, cell_name = data.values.rnns, ctx.plan.spec["names"]["cell"]
    problems = [f"RNN({run.config[2]}, {run.config[3]}, cell) on inputs {shape_text(run.config[:3])}: {why}"
                for index, run in enumerate(runs)
                if (why := _rnn_problem(data, run, f"configs/{index}/rnn", cell_name))]
    if not runs:
        return Outcome.failed("RNN was not probed.")
    if not problems:
        taken = {run.cell_argument for run in runs}
        how = f"builds its cell from the class {cell_name} it is given" if taken == {"class"} else \
            f"steps the {cell_name} instance it is given"
        return Outcome.passed(f"RNN {how}, unrolls it over time and returns the last hidden state"
                              f" ({plural(len(runs), 'configuration')}).", cell_argument=sorted(taken))
    return Outcome.partial((len(runs) - len(problems)) / len(runs), f"{len(problems)} of {len(runs)} RNNs are"
                           f" wrong. {sentence(problems[0])}", problems=problems)


def dataset_words(spec: dict, run: DatasetRun) -> list[str]:
    """The word list the Dataset is judged against: its own (the documents' words, with any empty tokens its
    joining left), else the documents' words as the grader splits them."""
    return run.words if run.words is not None else " ".join(spec["documents"]).split(" ")


def _dataset_findings(spec: dict, run: DatasetRun, data: ProbeData) -> dict[str, str | None]:
    """Each part of the Dataset contract → None when it holds, else why not; judged against its own word list."""
    length = spec["sequence_length"]
    words = dataset_words(spec, run)
    counts = {word: words.count(word) for word in dict.fromkeys(words)}
    found: dict[str, str | None] = {}
    expected_length = len(words) - length
    if run.length is None:
        found["length"] = f"calling len() on the Dataset raised {_error(data, 'dataset/len') or 'an error'}"
    elif run.length != expected_length:
        found["length"] = (f"the Dataset has {run.length} items, expected {expected_length} = {len(words)} words −"
                           f" sequence_length {length}{_short_last_item(run, length)}")
    else:
        found["length"] = None
    uniq = run.uniq_words
    if uniq is None:
        found["vocabulary"] = f"uniq_words could not be read ({_error(data, 'dataset/uniq_words')})"
    elif sorted(uniq) != sorted(counts):
        missing = [word for word in counts if word not in uniq]
        extra = [word for word in dict.fromkeys(uniq) if word not in counts]
        found["vocabulary"] = (f"uniq_words has {len(uniq)} entries for {len(counts)} distinct words"
                               f"{'' if len(set(uniq)) == len(uniq) else ' (with repeats)'}"
                               f"{f'; missing {missing[0]!r}' if missing else ''}"
                               f"{f'; {extra[0]!r} is no word of the documents' if extra else ''}")
    elif any(counts[a] < counts[b] for a, b in zip(uniq, uniq[1:])):
        wrong = next((a, b) for a, b in zip(uniq, uniq[1:]) if counts[a] < counts[b])
        found["vocabulary"] = (f"uniq_words is not sorted by frequency: '{wrong[0]}' ({counts[wrong[0]]}×) comes"
                               f" before '{wrong[1]}' ({counts[wrong[1]]}×)")
    else:
        found["vocabulary"] = None
    found["indices"] = _index_problem(run, data)
    found["items"] = _items_problem(spec, run, data, words)
    return found


def _short_last_item(run: DatasetRun, length: int) -> str:
    """What the extra items look like when len() counts too many: the last one is cut short."""
    sizes = run.last_item_sizes
    if not sizes or len(sizes) != 2 or sizes == [length, length]:
        return ""
    return (f"; its last item, dataset[{run.length - 1}], holds {sizes[0]} input and {sizes[1]} target words instead"
            f" of {length}, so a DataLoader cannot stack it with the others")


def _index_problem(run: DatasetRun, data: ProbeData) -> str | None:
    if run.word_to_index is None or run.index_to_word is None or run.uniq_words is None:
        return f"word_to_index / index_to_word could not be read " \
               f"({_error(data, 'dataset/word_to_index', 'dataset/index_to_word', 'dataset/uniq_words')})"
    for index, word in enumerate(run.uniq_words):
        if run.word_to_index.get(word) != index:
            return f"word_to_index['{word}'] is {run.word_to_index.get(word)}, but '{word}' is uniq_words[{index}]"
    backwards = dict(run.index_to_word)
    for index, word in enumerate(run.uniq_words):
        if backwards.get(index) != word:
            return f"index_to_word[{index}] is {backwards.get(index)!r}, but uniq_words[{index}] is '{word}'"
    return None


def _items_problem(spec: dict, run: DatasetRun, data: ProbeData, words: list[str]) -> str | None:
    length = spec["sequence_length"]
    lookup = run.word_to_index or {}
    for index in item_indices(len(words), length):
        if index not in run.items:
            return f"dataset[{index}] raised {_error(data, f'dataset/item/{index}') or 'an error'}"
        if any(word not in lookup for word in words[index:index + length + 1]):
            return "word_to_index does not cover every word of the documents"
        want_x = torch.tensor([lookup[w] for w in words[index:index + length]])
        want_y = torch.tensor([lookup[w] for w in words[index + 1:index + length + 1]])
        x, y = data.tensors[f"dataset/item/{index}/x"], data.tensors[f"dataset/item/{index}/y"]
        if x.tolist() != want_x.tolist():
            return f"dataset[{index}] input is {x.tolist()}, expected words[{index}:{index + length}] = {want_x.tolist()}"
        if y.tolist() != want_y.tolist():
            shifted = next((k for k in (0, 2, -1) if 0 <= index + k and
                            y.tolist() == [lookup.get(w) for w in words[index + k:index + k + length]]), None)
            hint = f" (that is the input shifted by {shifted}, not by one word)" if shifted is not None else ""
            return (f"dataset[{index}] target is {y.tolist()}, expected words[{index + 1}:{index + length + 1}] ="
                    f" {want_y.tolist()}{hint}")
    return None


def _empty_token_note(spec: dict, run: DatasetRun) -> str:
    """Says so when the Dataset's own word list holds empty tokens, which it counts consistently (as the slides do)."""
    empty = dataset_words(spec, run).count("")
    if not empty:
        return ""
    return (f" (its word list also holds {plural(empty, 'empty word')} '', left by joining the documents with"
            f" spaces as the slides do; length, vocabulary and items count {'it' if empty == 1 else 'them'}"
            f" consistently)")


@check("rnn_lm.dataset")
def dataset(ctx: CheckContext) -> Outcome:
    """Dataset on the grader's corpus: length, vocabulary by frequency, index maps, items shifted by one."""
    data = ctx.data()
    unusable = _first_problem(ctx, data, ("dataset",))
    if unusable:
        return unusable
    run = data.values.dataset
    if not run.constructed:
        return Outcome.failed(f"Dataset(sequence_length, documents) raised {_error(data, 'dataset/construct')}.")
    spec = ctx.plan.spec["dataset"]
    found = _dataset_findings(spec, run, data)
    problems = [why for why in found.values() if why]
    if not problems:
        return Outcome.passed("Dataset: length, vocabulary sorted by frequency, index maps and shifted items all"
                              f" correct on the grader's corpus{_empty_token_note(spec, run)}.")
    return Outcome.partial((len(found) - len(problems)) / len(found), f"{len(problems)} of {len(found)} parts of the"
                           f" Dataset are wrong. {sentence(problems[0])}", problems=problems)


@check("rnn_lm.model")
def model(ctx: CheckContext) -> Outcome:
    """Model(dataset): init_state(batch) works; forward(x [batch, time], state) returns (logits [batch, time, vocab], state)."""
    data = ctx.data()
    unusable = _first_problem(ctx, data, ("dataset", "model"))
    if unusable:
        return unusable
    run = data.values.model
    learn = ctx.plan.spec["learn"]
    batch, time = len(learn["starts"]), learn["sequence_length"]
    if not run.constructed:
        error = _error(data, "learn/dataset", "model/construct")
        return Outcome.failed(f"Model(dataset) could not be built: {error or 'it did not return an nn.Module'}.")
    if run.vocab is None:
        return Outcome.failed(f"dataset.word_to_index does not cover the grader's text"
                              f" ({_error(data, 'learn/vocab')}).")
    error = _error(data, "model/init_state", "model/forward")
    if error:
        return Outcome.failed(f"Calling init_state({batch}) and then the model on x [{batch}, {time}] raised {error}.")
    expected = [batch, time, run.vocab_size]
    problems = []
    if run.logits_shape != expected:
        hint = ": put the vocabulary last" if run.logits_shape == [batch, run.vocab_size, time] else ""
        problems.append(f"the logits are {shape_text(run.logits_shape)}, expected [batch, time, vocab] ="
                        f" {shape_text(expected)}{hint}")
    if not run.output_kind.startswith(("tuple (tensor", "list (tensor")) or not run.output_kind.count(","):
        problems.append(f"Model.forward returned a {run.output_kind}; it must return (logits, state) so the state"
                        f" can be passed on")
    if not problems:
        return Outcome.passed(f"Model returns (logits {shape_text(expected)}, state) for x [{batch}, {time}].")
    return Outcome.partial((2 - len(problems)) / 2, sentence(problems[0]), problems=problems)


def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    return float(F.cross_entropy(logits.double().reshape(-1, logits.shape[-1]), targets.reshape(-1)))


def _train_call(batch: int, epochs: int) -> str:
    return f"train(dataset, model, {batch}, {epochs})"


def _last_batch(length: int | None, batch: int) -> str:
    """' (its N items end in a batch of k)' when `batch` does not split the Dataset evenly."""
    if not length or length % batch == 0:
        return ""
    return f" (the Dataset's {length} items end in a batch of {length % batch})"


def _no_learning_cause(run: ModelRun) -> str | None:
    """What the grader saw when training left the model as it was, said in the student's terms."""
    if run.parameters_with_gradient == 0:
        return ("no gradient reached any of the model's parameters during train(): loss.backward() is never called"
                " on a loss computed from the model's output")
    if run.parameters_changed is False:
        reached, total = run.parameters_with_gradient, run.parameter_count
        which = f"all {total}" if reached == total else f"{reached} of the {total}"
        return (f"loss.backward() ran (gradients reached {which} parameter tensors of the model), but no parameter"
                f" changed: train() never calls optimizer.step() (or its optimizer holds other parameters than the"
                f" model's)")
    return None


def _partial_batch_note(run: ModelRun, data: ProbeData) -> str:
    """Advice, worth no points: the student's loop fails on a smaller last batch."""
    if run.partial_batch_ok is not False or not run.partial_batch_size or not run.dataset_length:
        return ""
    size = run.partial_batch_size
    return (f" Note (no points): {_train_call(size, 1)} raised {_error(data, 'learn/partial_batch') or 'an error'}"
            f"{_last_batch(run.dataset_length, size)}: this loop cannot handle a last batch smaller than batch_size."
            f" The grader trained with batch size {run.batch_size}, which splits the Dataset evenly; a state of"
            f" x.shape[0] rows per batch, or DataLoader(..., drop_last=True), handles any batch size.")


@check("rnn_lm.learns")
def learns(ctx: CheckContext, min_drop: float) -> Outcome:
    """The grader's cross-entropy on its own text falls by at least `min_drop` nats after the student's train()."""
    data = ctx.data()
    unusable = _first_problem(ctx, data, ("dataset", "model", "train"))
    if unusable:
        return unusable
    run, learn = data.values.model, ctx.plan.spec["learn"]
    if run.vocab is None or "learn/logits_before" not in data.tensors:
        why = _error(data, "learn/dataset", "model/construct", "learn/vocab", "learn/before")
        return Outcome.failed(f"The loss could not be measured before training: {why or 'the model did not run'}.")
    call = _train_call(run.batch_size or learn["batch_size"], learn["max_epochs"])
    if not run.trained:
        return Outcome.failed(f"{call} raised {_error(data, 'learn/train')}"
                              f"{_last_batch(run.dataset_length, run.batch_size or learn['batch_size'])}.")
    if "learn/logits_after" not in data.tensors:
        return Outcome.failed(f"The model failed after training: {_error(data, 'learn/after')}.")
    words = " ".join(learn["documents"]).split(" ")
    length = learn["sequence_length"]
    targets = torch.tensor([[run.vocab[w] for w in words[s + 1:s + length + 1]] for s in learn["starts"]])
    before, after = data.tensors["learn/logits_before"], data.tensors["learn/logits_after"]
    expected = [len(learn["starts"]), length, run.vocab_size]
    for logits in (before, after):
        if list(logits.shape) != expected:
            return Outcome.failed(f"The logits are {shape_text(logits.shape)}, not [batch, time, vocab] ="
                                  f" {shape_text(expected)}, so the grader cannot measure the loss.")
        if not torch.isfinite(logits).all():
            return Outcome.failed("The logits contain NaN or infinite values, so the loss cannot be measured.")
    loss_before, loss_after = _cross_entropy(before, targets), _cross_entropy(after, targets)
    drop = loss_before - loss_after
    text = f"On a text it never saw, the cross-entropy went from {loss_before:.3f} to {loss_after:.3f} after {call}"
    details = {"loss_before": round(loss_before, 4), "loss_after": round(loss_after, 4),
               "train_seconds": run.train_seconds, "batch_size": run.batch_size, "dataset_length": run.dataset_length,
               "partial_batch_ok": run.partial_batch_ok}
    note = _partial_batch_note(run, data)
    if drop >= min_drop:
        return Outcome.passed(f"{text}: it learns.{note}", **details)
    cause = _no_learning_cause(run)
    hint = f": {cause}." if cause else f"; it should fall by at least {min_drop}."
    return Outcome.partial(max(0.0, drop) / min_drop, f"{text}{hint}{note}", **details)


@check("rnn_lm.predict")
def predict(ctx: CheckContext) -> Outcome:
    """predict(dataset, model, text, next_words) returns the prompt's words plus next_words words of the vocabulary."""
    data = ctx.data()
    unusable = _first_problem(ctx, data, ("dataset", "model", "predict"))
    if unusable:
        return unusable
    run, spec = data.values.model, ctx.plan.spec["predict"]
    prompt, count = spec["prompt"].split(" "), spec["next_words"]
    call = f"predict(dataset, model, {spec['prompt']!r}, {count})"
    if "predict" in data.errors:
        return Outcome.failed(f"{call} raised {data.errors['predict']}.")
    if run.prediction is None:
        return Outcome.failed(f"{call} returned a {run.prediction_kind or 'nothing'}, not a list of words.")
    words, vocab = run.prediction, set(run.vocabulary if run.vocabulary is not None else run.vocab or {})
    problems = []
    if words[:len(prompt)] != prompt:
        problems.append(f"it does not start with the prompt's words {prompt} (it starts {words[:len(prompt)]})")
    if len(words) != len(prompt) + count:
        problems.append(f"it returned {len(words)} words; expected the {len(prompt)} prompt words + {count} new ones")
    unknown = [w for w in words[len(prompt):] if w not in vocab]
    if unknown:
        problems.append(f"'{unknown[0]}' is not in the vocabulary")
    if not problems:
        return Outcome.passed(f"{call} returned the prompt and {count} words from the vocabulary: "
                              f"{' '.join(words)!r}.")
    return Outcome.partial((3 - len(problems)) / 3, f"{call}: {problems[0]}.", problems=problems, returned=words)


@check("rnn_lm.from_scratch")
def from_scratch(ctx: CheckContext, forbidden_names: list[str], forbidden_attributes: list[str],
                 forbidden_call_substrings: list[str]) -> Outcome:
    """No nn.RNN / nn.RNNCell (or rnn_tanh, _VF) called by RNNCell or RNN at run time; the source says where."""
    data = ctx.data()
    names = [ctx.plan.spec["names"]["cell"], ctx.plan.spec["names"]["rnn"]]
    traced = [run.calls for run in [*data.values.cells, *data.values.rnns] if run.output_kind]
    return from_scratch_outcome(ctx, names, forbidden_names + forbidden_attributes, traced, forbidden_call_substrings,
                                "RNN")
