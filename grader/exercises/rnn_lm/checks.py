"""RNN language model, grader side: the checks, run in the grader's own process on what the probe measured."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.check import CheckContext, Outcome
from grader.checks.analysis import class_problem, first_difference, plural, shape_text
from grader.checks.recurrent import (ATOL, EQUIVALENCE_BATCH, RTOL, from_scratch_outcome, parse_layout, recorded_params,
                                     sentence, tolerance_gap, weight_blocks)
from grader.exercise import CheckParams
from grader.exercises.rnn_lm.kernel import item_indices
from grader.exercises.rnn_lm.schema import DatasetRun, ModelRun, RNNRun
from grader.probe import ProbeData


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


class LearnsParams(CheckParams):
    min_drop: float


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


class FromScratchParams(CheckParams):
    forbidden_names: list[str]
    forbidden_attributes: list[str]
    forbidden_call_substrings: list[str]


def from_scratch(ctx: CheckContext, forbidden_names: list[str], forbidden_attributes: list[str],
                 forbidden_call_substrings: list[str]) -> Outcome:
    """No nn.RNN / nn.RNNCell (or rnn_tanh, _VF) called by RNNCell or RNN at run time; the source says where."""
    data = ctx.data()
    names = [ctx.plan.spec["names"]["cell"], ctx.plan.spec["names"]["rnn"]]
    traced = [run.calls for run in [*data.values.cells, *data.values.rnns] if run.output_kind]
    return from_scratch_outcome(ctx, names, forbidden_names + forbidden_attributes, traced, forbidden_call_substrings,
                                "RNN")
