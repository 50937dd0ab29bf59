"""RNN language model, kernel side: the probe, run inside the student's kernel beside their code."""

from __future__ import annotations

import random
import time
from typing import Any

import torch

from grader.kernel.recurrent import build_and_call_cell, output_kind
from grader.kernel.runtime import class_status, trace_torch_calls

try:
    import numpy
except ImportError:  # the course's kernels have it; a bare one need not
    numpy = None


def _item_tensor(value: Any) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def _probe_cell(cls: type, key: str, config: list[int], seed: int, inputs: dict, rec) -> dict[str, Any]:
    run, _, ran, output = build_and_call_cell(cls, key, config, seed, inputs[f"{key}/x_many"],
                                              inputs[f"{key}/h_many"], rec)
    if ran:
        rec.tensor(f"{key}/cell/out_many", output)
    return run


def _build_rnn(cell_cls: type, cls: type, key: str, size_in: int, hidden: int, seed: int, x: torch.Tensor,
               h0: torch.Tensor, rec) -> tuple[str, Any, Any, list[str]]:
    """RNN(n_inputs, n_hiddens, cell) given a cell instance, else the cell class (the slides' RNN builds its own
    cell from the class, a student's may take a built cell): (the argument that worked, rnn, its output, calls)."""
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
    _, time_steps, size_in, hidden = config
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
        for step in range(time_steps):
            ran, h = rec.attempt(f"{key}/rnn/unroll", cell, x[:, step], h)
            if not ran:
                break
            steps.append(h)
        if len(steps) == time_steps:
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
    random.seed(seed)
    torch.manual_seed(seed)
    if numpy is not None:
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
