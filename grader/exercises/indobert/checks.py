"""Fine-tuning IndoBERT on SmSA, grader side: the checks, run in the grader's own process on what the probe measured."""

from __future__ import annotations

import itertools
import json
import math
import re
import weakref
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import torch

from grader import data as datasets
from grader.check import CheckContext, Outcome
from grader.checks.analysis import plural
from grader.exercise import CheckParams
from grader.exercises.indobert.kernel import WEIGHTS_PREFIX
from grader.exercises.indobert.schema import ModelConfig, ProbeValues
from grader.probe import ProbeData
from grader.results import CellRecord


LABEL2INDEX = {"positive": 0, "neutral": 1, "negative": 2}  # the IndoNLU tutorial's DocumentSentimentDataset
LABELS = tuple(LABEL2INDEX)
VOCAB_CAP = 500_000
FROM_SCRATCH_CHANGE = 0.5  # median relative change beyond which the weights cannot come from the checkpoint


class EvaluationProblem(Exception):
    """The exported model or tokenizer cannot be evaluated; the message is one sentence."""


Confusion = list[list[int]]  # rows: true label, columns: predicted label, both in LABELS order


def f1_per_class(confusion: Confusion) -> list[float]:
    scores = []
    for index in range(len(LABELS)):
        hits = confusion[index][index]
        predicted = sum(row[index] for row in confusion)
        actual = sum(confusion[index])
        precision = hits / predicted if predicted else 0.0
        recall = hits / actual if actual else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return scores


def accuracy_of(confusion: Confusion) -> float:
    count = sum(map(sum, confusion))
    return sum(confusion[i][i] for i in range(len(LABELS))) / count if count else 0.0


def f1_readings(confusion: Confusion) -> dict[str, float]:
    """The F1 values a notebook may have printed for these predictions: macro over the three labels (the
    assignment's), macro over the labels present in truth or predictions (scikit-learn's f1_score on label
    lists), and support-weighted."""
    scores = f1_per_class(confusion)
    present = [i for i in range(len(LABELS)) if sum(confusion[i]) or sum(row[i] for row in confusion)]
    supports = [sum(row) for row in confusion]
    total = sum(supports)
    return {"macro": sum(scores) / len(LABELS),
            "macro over the labels present": sum(scores[i] for i in present) / len(present) if present else 0.0,
            "weighted": sum(s * n for s, n in zip(scores, supports)) / total if total else 0.0}


def majority_baseline(confusion: Confusion) -> tuple[str, float, float]:
    """(majority label, its accuracy, its macro-F1): every review labelled with the most frequent true label."""
    supports = [sum(row) for row in confusion]
    index = max(range(len(LABELS)), key=supports.__getitem__)
    share = supports[index] / sum(supports) if sum(supports) else 0.0
    return LABELS[index], share, (2 * share / (1 + share) if share else 0.0) / len(LABELS)


def permuted(confusion: Confusion, order: tuple[int, ...]) -> Confusion:
    """The confusion matrix if prediction index i had meant label order[i] (columns moved accordingly)."""
    moved = [[0] * len(LABELS) for _ in LABELS]
    for truth, row in enumerate(confusion):
        for predicted, count in enumerate(row):
            moved[truth][order[predicted]] += count
    return moved


@dataclass
class Evaluation:
    """The grader's own measurement on the evaluation set; rows are true labels, columns predictions (LABELS order).
    `masked` holds the same model's predictions on the public test file against its masked labels."""

    confusion: Confusion
    label_source: str
    eval_name: str
    standin: bool
    masked: Confusion | None = None
    masked_name: str = ""

    @property
    def count(self) -> int:
        return sum(map(sum, self.confusion))

    @property
    def accuracy(self) -> float:
        return accuracy_of(self.confusion)

    @property
    def f1_per_class(self) -> dict[str, float]:
        return dict(zip(LABELS, f1_per_class(self.confusion)))

    @property
    def macro_f1(self) -> float:
        return sum(self.f1_per_class.values()) / len(LABELS)

    def confusion_table(self) -> dict[str, str]:
        return {f"true {label}": " · ".join(f"→ {other} {count}" for other, count in zip(LABELS, row))
                for label, row in zip(LABELS, self.confusion)}

    def model_note(self) -> str:
        if self.standin:
            return (" Quick mode: the model is the grader's tiny BERT stand-in, not IndoBERT, so this score tests"
                    " the training pipeline, not IndoBERT.")
        return ""


# The last submission's measurement; a weak reference, so its exported weights are freed once it is graded.
_cache: tuple[weakref.ref[ProbeData], str, Evaluation | EvaluationProblem] | None = None


def _staged(name: str, quick: bool) -> Path:
    return datasets.require(name, quick)


def _label_order(config: ModelConfig | None) -> tuple[dict[int, str], str]:
    """Index → label name: from model.config.id2label when it names the three labels, else the tutorial's."""
    names = {int(key): value.strip().lower() for key, value in (config.id2label if config else {}).items()
             if key.lstrip("-").isdigit()}
    if sorted(names.values()) == sorted(LABELS) and sorted(names) == list(range(len(LABELS))):
        return names, "model.config.id2label"
    return {index: label for label, index in LABEL2INDEX.items()}, "the tutorial's LABEL2INDEX"


def _tokenizer(document: dict[str, Any] | None, max_length: int):
    """Rebuild the student's tokenizer from its tokenizer.json (validated JSON, parsed by the tokenizers library)."""
    from tokenizers import Tokenizer

    if document is None:
        raise EvaluationProblem("the tokenizer could not be exported, so the grader cannot re-tokenise the evaluation set")
    vocab = (document.get("model") or {}).get("vocab")
    if not isinstance(vocab, dict) or not 0 < len(vocab) <= VOCAB_CAP:
        raise EvaluationProblem("the exported tokenizer has no usable vocabulary")
    try:
        tokenizer = Tokenizer.from_str(json.dumps(document))
    except Exception as error:  # noqa: BLE001 - the tokenizers library reports malformed JSON in its own way
        raise EvaluationProblem(f"the exported tokenizer could not be rebuilt ({str(error)[:200]})") from None
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def _model(snapshot: Path, weights: dict[str, torch.Tensor]):
    """The grader's BertForSequenceClassification: the staged config, the student's weights, strictly loaded."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig.from_json_file(str(snapshot / "config.json"))
    embeddings = weights.get("bert.embeddings.word_embeddings.weight")
    if embeddings is None or embeddings.dim() != 2 or embeddings.shape[1] != config.hidden_size:
        raise EvaluationProblem("the exported weights have no word embeddings of IndoBERT's width "
                                f"({config.hidden_size}); is the model a BertForSequenceClassification from IndoBERT?")
    config.vocab_size = int(embeddings.shape[0])
    config.num_labels = len(LABELS)
    model = BertForSequenceClassification(config)
    try:
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=False)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[-1].strip()
        raise EvaluationProblem(f"the exported weights do not fit IndoBERT's architecture ({first[:200]})") from None
    unexpected = [key for key in unexpected if not key.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        what = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise EvaluationProblem(f"the exported weights do not fit IndoBERT's architecture ({what})")
    return model.eval()


@torch.no_grad()
def _predict(model, encodings: list[list[int]], pad_id: int, batch_size: int, device: str) -> list[int]:
    """Predicted indices, batched by length so padding stays small."""
    model.to(device)
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i]))
    predictions = [0] * len(encodings)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        width = max(len(encodings[i]) for i in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, index in enumerate(chunk):
            ids[row, :len(encodings[index])] = torch.tensor(encodings[index])
            mask[row, :len(encodings[index])] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        for index, prediction in zip(chunk, logits.argmax(-1).tolist()):
            predictions[index] = prediction
    return predictions


def _confusion(rows: list[tuple[str, str]], predicted: list[int], index_to_label: dict[int, str]) -> Confusion:
    confusion = [[0] * len(LABELS) for _ in LABELS]
    for (_, truth), prediction in zip(rows, predicted):
        confusion[LABELS.index(truth)][LABELS.index(index_to_label[prediction])] += 1
    return confusion


def _measure(ctx: CheckContext, probe_data: ProbeData) -> Evaluation:
    from grader.datasets.indobert import manifest, snapshot_dir
    from grader.datasets.smsa import read_tsv

    spec = ctx.plan.spec
    model_root = _staged("indobert", ctx.quick)
    weights = {k.removeprefix(WEIGHTS_PREFIX): v for k, v in probe_data.tensors.items() if k.startswith(WEIGHTS_PREFIX)}
    if not weights:
        raise EvaluationProblem(f"the model's weights could not be exported ({probe_data.errors.get('weights', 'none came back')})")
    model = _model(snapshot_dir(model_root), weights)
    max_length = min(int(spec["max_length"]), model.config.max_position_embeddings)
    tokenizer = _tokenizer(probe_data.values.tokenizer_json, max_length)
    pad_id = tokenizer.token_to_id("[PAD]") or 0
    index_to_label, source = _label_order(probe_data.values.config)

    def confusion_on(path: Path) -> tuple[list[tuple[str, str]], Confusion]:
        rows = [row for row in read_tsv(path) if row[1] in LABELS]
        encodings = [encoding.ids for encoding in tokenizer.encode_batch([text for text, _ in rows])]
        return rows, _confusion(rows, _predict(model, encodings, pad_id, int(spec["batch_size"]), ctx.device),
                                index_to_label)

    smsa = _staged("smsa", ctx.quick)
    rows, confusion = confusion_on(smsa / spec["eval_file"])
    masked_path = smsa / spec["masked_file"]
    masked = confusion_on(masked_path)[1] if masked_path.is_file() else None
    eval_name = f"{spec['eval_file']} ({plural(len(rows), 'review')})"
    return Evaluation(confusion, source, eval_name, bool(manifest(model_root).get("standin")), masked,
                      spec["masked_file"])


def evaluation(ctx: CheckContext) -> Evaluation:
    """Measure once per submission (the checks share it); raise EvaluationProblem when it cannot be measured."""
    global _cache
    probe_data = ctx.data()
    key = ctx.plan.spec["eval_file"]
    if _cache is None or _cache[0]() is not probe_data or _cache[1] != key:
        try:
            result: Evaluation | EvaluationProblem = _measure(ctx, probe_data)
        except EvaluationProblem as problem:
            result = problem
        _cache = (weakref.ref(probe_data), key, result)
    if isinstance(_cache[2], EvaluationProblem):
        raise _cache[2]
    return _cache[2]


def _model_problem(ctx: CheckContext, values: ProbeValues, errors: dict[str, str]) -> str | None:
    """A sentence when there is no 3-label BertForSequenceClassification and tokenizer to evaluate."""
    spec = ctx.plan.spec
    if not values.transformers_ok:
        return f"The grader could not look for the model: {errors.get('transformers', 'transformers is missing')}."
    if not values.models:
        return ("No BertForSequenceClassification was found among the notebook's global variables; keep the "
                f"fine-tuned model in a variable such as `{spec['model_name']}`.")
    if not values.model_name:
        found = ", ".join(f"`{m.name}` ({m.num_labels} labels)" for m in values.models)
        return f"The BertForSequenceClassification must have num_labels={spec['num_labels']} (positive, neutral, negative); found {found}."
    if not values.tokenizers:
        return "No tokenizer (a transformers tokenizer, e.g. BertTokenizer) was found among the notebook's global variables."
    return None


def model_found(ctx: CheckContext) -> Outcome:
    """A BertForSequenceClassification with 3 labels and a tokenizer exist in the kernel after the notebook ran."""
    probe_data = ctx.data()
    values: ProbeValues = probe_data.values
    problem = _model_problem(ctx, values, probe_data.errors)
    if problem:
        return Outcome.failed(problem)
    tokenizer = next(t for t in values.tokenizers if t.name == values.tokenizer_name)
    return Outcome.passed(f"Found `{values.model_name}` (BertForSequenceClassification, {ctx.plan.spec['num_labels']} labels) "
                          f"and `{tokenizer.name}` ({tokenizer.kind}).")


def _relative_changes(ctx: CheckContext, probe_data: ProbeData) -> tuple[int, list[float]]:
    """(tensors compared, relative change of each encoder tensor vs the staged checkpoint, in its exported dtype)."""
    from safetensors import safe_open

    from grader.datasets.indobert import WEIGHTS, snapshot_dir

    exported = {k.removeprefix(WEIGHTS_PREFIX).removeprefix("bert."): v for k, v in probe_data.tensors.items()
                if k.startswith(WEIGHTS_PREFIX + "bert.")}
    changes = []
    with safe_open(str(snapshot_dir(_staged("indobert", ctx.quick)) / WEIGHTS), framework="pt") as checkpoint:
        for key in checkpoint.keys():
            mine = exported.get(key.removeprefix("bert."))
            if mine is None or not mine.is_floating_point():
                continue
            pretrained = checkpoint.get_tensor(key)
            if pretrained.shape != mine.shape:
                continue
            pretrained = pretrained.to(mine.dtype).double()
            changes.append(float((mine.double() - pretrained).norm() / pretrained.norm().clamp_min(1e-12)))
    return len(changes), changes


def _head_moved(probe_data: ProbeData) -> bool | None:
    """Whether the classifier head was updated: from_pretrained starts its bias at exactly zero, and any optimizer
    step on the head moves it. None when the model has no such bias."""
    bias = probe_data.tensors.get(WEIGHTS_PREFIX + "classifier.bias")
    return None if bias is None else bool(bias.float().abs().sum() > 0)


def _unchanged_encoder(values: ProbeValues, compared: int, head_moved: bool | None) -> str:
    """Why no encoder tensor moved: frozen (requires_grad=False), only the head optimised, or no optimizer step."""
    frozen = [name for name in values.frozen if name.startswith("bert.")]
    if frozen:
        return (f"The encoder was frozen (requires_grad=False on {len(frozen)} of its {values.encoder_parameters} "
                f"tensors, e.g. `{frozen[0]}`): only the classifier head was trained, so IndoBERT itself was not "
                f"fine-tuned and all {compared} encoder tensors are still the pretrained checkpoint's; leave the "
                "encoder trainable.")
    if head_moved:
        return (f"All {compared} encoder tensors are exactly the pretrained checkpoint's, but the classifier head "
                "moved (its bias, zero after from_pretrained, is not): only the classifier head was trained — the "
                "optimizer was given only the head's parameters, or the encoder was frozen while it trained; pass "
                "model.parameters() to the optimizer.")
    return (f"All {compared} encoder tensors and the classifier head are exactly as from_pretrained left them: "
            "training never updated the model (is optimizer.step() called after loss.backward()?).")


def fine_tuned(ctx: CheckContext) -> Outcome:
    """The encoder's weights differ from the staged pretrained checkpoint (training updated them)."""
    probe_data = ctx.data()
    values: ProbeValues = probe_data.values
    if not any(k.startswith(WEIGHTS_PREFIX) for k in probe_data.tensors):
        return Outcome.failed(f"The model's weights could not be exported ({probe_data.errors.get('weights', 'none came back')}).")
    compared, changes = _relative_changes(ctx, probe_data)
    if not compared:
        return Outcome.failed("The model shares no weights with the pretrained indobert-base-p1 checkpoint; "
                              "load it with BertForSequenceClassification.from_pretrained(\"indobenchmark/indobert-base-p1\", num_labels=3).")
    changed = sorted(change for change in changes if change > 0)
    details: dict[str, Any] = {"pretrained tensors compared": compared, "changed by training": len(changed)}
    if values.frozen:
        details["parameters with requires_grad=False"] = f"{len(values.frozen)}, e.g. {', '.join(values.frozen[:3])}"
    if not changed:
        return Outcome.failed(_unchanged_encoder(values, compared, _head_moved(probe_data)), **details)
    median = changed[len(changed) // 2]
    details["median relative change"] = f"{median:.2%}"
    if median > FROM_SCRATCH_CHANGE:
        return Outcome.failed(f"The encoder's weights are far from the pretrained checkpoint (median relative change "
                              f"{median:.0%}): build the model with from_pretrained, not from a fresh config.", **details)
    return Outcome.passed(f"Fine-tuned: {len(changed)} of {compared} pretrained encoder tensors changed "
                          f"(median relative change {median:.2%}).", **details)


@dataclass
class Bar:
    """The score a metric needs, the majority-class level partial credit starts from, and why (naming the mode)."""

    needed: float
    baseline: float
    why: str


class FullBar(CheckParams):
    """Full mode (IndoBERT itself): at least `minimum`, and within `within` of the reference's result."""

    reference: float
    within: float
    minimum: float = 0.0


class QuickBar(CheckParams):
    """Quick mode (the stand-in): beat the majority class by `margin`."""

    margin: float


def _bar(ctx: CheckContext, result: Evaluation, metric: str, full: FullBar, quick: QuickBar) -> Bar:
    """Quick mode (the stand-in) can only tell that the pipeline learns: beat the majority class by a margin.
    Full mode (IndoBERT) needs the minimum and closeness to the reference's result."""
    label, accuracy, macro_f1 = majority_baseline(result.confusion)
    baseline = accuracy if metric == "accuracy" else macro_f1
    if ctx.quick:
        return Bar(baseline + quick.margin, baseline,
                   f"decided in quick mode: beat the majority class (every review '{label}', {baseline:.2f}) by "
                   f"{quick.margin:.2f}; closeness to IndoBERT's results is judged in full mode")
    needed = max(full.minimum, full.reference - full.within)
    return Bar(needed, baseline, f"decided in full mode: at least {full.minimum:.2f} and within "
                                 f"{full.within:.2f} of the reference's {full.reference:.2f}")


def _scored(name: str, value: float, bar: Bar, result: Evaluation, details: dict[str, Any]) -> Outcome:
    """Full credit from the score needed, partial credit between the majority-class level and the score needed."""
    measured = f"{name} {value:.3f} on {result.eval_name}, measured by the grader"
    note = result.model_note()
    details.update({"label order": result.label_source, "majority-class level": f"{bar.baseline:.3f}",
                    "confusion matrix (rows: true label)": result.confusion_table()})
    if value >= bar.needed:
        return Outcome.passed(f"{measured} (needs {bar.needed:.2f}, {bar.why}).{note}", **details)
    fraction = (value - bar.baseline) / (bar.needed - bar.baseline) if bar.needed > bar.baseline else 0.0
    return Outcome.partial(fraction, f"{measured}, below the {bar.needed:.2f} needed ({bar.why}).{note}", **details)


def _evaluated(ctx: CheckContext) -> Evaluation | Outcome:
    try:
        return evaluation(ctx)
    except EvaluationProblem as problem:
        return Outcome.failed(f"Not measured: {problem}.")


class BarParams(CheckParams):
    full: FullBar
    quick: QuickBar


def macro_f1(ctx: CheckContext, full: FullBar, quick: QuickBar) -> Outcome:
    """Macro-F1 on the labelled evaluation set, re-measured in the grader's process."""
    result = _evaluated(ctx)
    if isinstance(result, Outcome):
        return result
    per_class = {label: f"{score:.3f}" for label, score in result.f1_per_class.items()}
    return _scored("Macro-F1", result.macro_f1, _bar(ctx, result, "macro_f1", full, quick), result,
                   {"F1 per class": per_class})


def accuracy(ctx: CheckContext, full: FullBar, quick: QuickBar) -> Outcome:
    """Accuracy on the labelled evaluation set, re-measured in the grader's process."""
    result = _evaluated(ctx)
    if isinstance(result, Outcome):
        return result
    return _scored("Accuracy", result.accuracy, _bar(ctx, result, "accuracy", full, quick), result, {})


#
# Metrics are read wherever a notebook reports them: printed lines ("(Epoch 1) VALID LOSS:0.19 ACC:0.93 F1:0.89",
# "val_f1=0.61", Trainer's {'eval_loss': …, 'eval_f1': …, 'epoch': 1.0} dicts), progress bars' final states on
# stderr (tqdm descriptions and postfixes), and tables (Trainer's notebook table and DataFrames, as HTML or plain
# text). A value's label is the text between it and the previous number: its last metric word names the metric,
# a split word (train, valid, eval, test…) in it or earlier on the line, or on a short heading line before it
# ("Running Validation..."), names the split.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])%?")
WORD = re.compile(r"[a-z]+\d*|\d+")
METRIC_WORDS = {"f1": "F1", "acc": "ACC", "accuracy": "ACC", "accur": "ACC", "loss": "LOSS", "rec": "REC",
                "recall": "REC", "pre": "PRE", "prec": "PRE", "precision": "PRE", "epoch": "epoch", "epochs": "epoch"}
SPLIT_WORDS = {"train": "TRAIN", "training": "TRAIN", "valid": "VALID", "validation": "VALID", "val": "VALID",
               "eval": "VALID", "evaluation": "VALID", "dev": "VALID", "test": "TEST", "testing": "TEST"}
TRAINING_LOG_WORDS = {"lr", "learning", "grad"}  # a line reporting these without a split is a training log
LABEL_WORDS = 3  # a value's metric is named by one of the last words before it ("Average training loss: 0.50")
BAR_PROGRESS = re.compile(r"\|\s*(\d+)/(\d+)\s*\[")  # tqdm's "| 3/19 [" counter
WARNING = re.compile(r"Warning\b|warnings\.warn|_warn_prf")  # warnings quote numbers and metric names


@dataclass
class Reported:
    """One split's metrics for one epoch, as the notebook reported them, and where."""

    split: str  # TRAIN, VALID, TEST or "" (not labelled)
    epoch: int | None
    metrics: dict[str, float]
    where: str


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _value(token: str, metric: str) -> float:
    value = float(token.rstrip("%"))
    if metric != "LOSS" and (token.endswith("%") or 1 < value <= 100):
        value /= 100
    return value


def _epoch(value: float) -> int:
    return max(1, math.ceil(value - 1e-9))


@dataclass
class _Context:
    """What a heading line ("======== Epoch 2 / 4 ========", "Running Validation...") says about the lines below."""

    split: str = ""
    epoch: int | None = None


def _line_reports(line: str, context: _Context, where: str) -> list[Reported]:
    """The metrics on one line, one Reported per split; a heading line updates `context` instead."""
    split, epoch, other_numbers = "", None, 0
    by_split: dict[str, dict[str, float]] = {}
    start = 0
    words_seen: list[str] = []
    for match in NUMBER.finditer(line):
        words = _words(line[start:match.start()])
        start = match.end()
        words_seen += words
        split = next((SPLIT_WORDS[w] for w in reversed(words) if w in SPLIT_WORDS), split)
        metric = next((METRIC_WORDS[w] for w in reversed(words[-LABEL_WORDS:]) if w in METRIC_WORDS), None)
        if metric == "epoch":
            epoch = _epoch(float(match.group().rstrip("%")))
            continue
        other_numbers += 1
        if metric:
            by_split.setdefault(split, {})[metric] = _value(match.group(), metric)
    if epoch is not None:
        context.epoch = epoch
    if not by_split:
        words_seen += _words(line[start:])
        heading = [SPLIT_WORDS[w] for w in words_seen if w in SPLIT_WORDS]
        if epoch is not None:
            context.split, context.epoch = "", epoch
        if heading and not other_numbers and len(words_seen) <= 6:
            context.split = heading[-1]
        return []
    training_log = TRAINING_LOG_WORDS & set(words_seen)
    reports = []
    for split_name, metrics in by_split.items():
        resolved = split_name or context.split or ("TRAIN" if training_log else "")
        reports.append(Reported(resolved, epoch if epoch is not None else context.epoch, metrics, where))
    return reports


def _text_reports(text: str, where: str) -> list[Reported]:
    context = _Context()
    return [report for line in final_states(text).splitlines() if not WARNING.search(line)
            for report in _line_reports(line, context, where)]


def final_states(text: str) -> str:
    """Progress bars rewrite their line with '\\r': keep each line's last state, and drop the states of a bar
    that a warning interrupted before it finished (the bar goes on, and finishes, on a later line)."""
    lines = []
    for line in text.split("\n"):
        state = next((part for part in reversed(line.split("\r")) if part.strip()), "")
        progress = BAR_PROGRESS.search(state)
        if state and not (progress and int(progress.group(1)) < int(progress.group(2))):
            lines.append(state)
    return "\n".join(lines)


def _column(name: str) -> tuple[str, str | None]:
    """(split, metric) a table column's name stands for."""
    words = _words(name)
    split = next((SPLIT_WORDS[w] for w in words if w in SPLIT_WORDS), "")
    metric = next((METRIC_WORDS[w] for w in reversed(words) if w in METRIC_WORDS), None)
    return split, metric


def _table_reports(header: list[str], rows: list[list[str]], where: str) -> list[Reported]:
    """One Reported per (row, split) of a metrics table; unlabelled metric columns beside validation columns
    (Trainer's table: Training Loss, Validation Loss, F1) are validation metrics."""
    columns = [_column(name) for name in header]
    if not any(metric not in (None, "epoch") for _, metric in columns):
        return []
    default = "VALID" if any(split == "VALID" for split, _ in columns) else ""
    reports = []
    for number, row in enumerate(rows, start=1):
        epoch, by_split = number, {}
        for (split, metric), cell in zip(columns, row):
            if metric is None or not NUMBER.fullmatch(cell.strip()):
                continue
            if metric == "epoch":
                epoch = _epoch(float(cell.strip().rstrip("%")))
            else:
                by_split.setdefault(split or default, {})[metric] = _value(cell.strip(), metric)
        reports += [Reported(split, epoch, metrics, where) for split, metrics in by_split.items()]
    return reports


class _Tables(HTMLParser):
    """Every <table> of an HTML fragment as rows of cell texts, header rows (thead) marked."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[tuple[bool, list[str]]]] = []
        self._head = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "thead":
            self._head = True
        elif tag == "tr" and self.tables:
            self.tables[-1].append((self._head, []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._head = False
        elif tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _html_reports(html_text: str, where: str) -> list[Reported]:
    parser = _Tables()
    parser.feed(html_text)
    reports = []
    for table in parser.tables:
        heads = [cells for head, cells in table if head]
        body = [cells for head, cells in table if not head and cells]
        if not heads and body:
            heads, body = [body[0]], body[1:]
        if not heads:
            continue
        header = list(heads[0])
        for extra in heads[1:]:  # pandas puts the index's name on a second header row
            header = [name or other for name, other in zip(header, extra + [""] * len(header))]
        reports += _table_reports(header, body, where)
    return reports


def _plain_table_reports(text: str, where: str) -> list[Reported]:
    """DataFrames printed as text: a header line, then rows of an index and values that end where their column's
    name ends (pandas right-aligns both; names may be one space apart, so the rows tell where columns end)."""
    reports: list[Reported] = []
    lines = text.splitlines()
    for index, header in enumerate(lines):
        if NUMBER.search(header) or not any(_column(word)[1] not in (None, "epoch") for word in header.split()):
            continue
        rows = []
        for line in lines[index + 1:]:
            tokens = [(match.group(), match.end()) for match in re.finditer(r"\S+", line)]
            if len(tokens) == 1 and not rows:
                continue  # the index's name
            if len(tokens) < 2 or not any(NUMBER.fullmatch(token) for token, _ in tokens[1:]):
                break
            rows.append(tokens)
        if not rows:
            continue
        ends = [end for _, end in rows[0][1:]]
        names = [header[start:end].strip() for start, end in zip([rows[0][0][1]] + ends, ends)]
        cells = []
        for tokens in rows:
            row = [""] * len(ends)
            for token, end in tokens[1:]:
                row[min(range(len(ends)), key=lambda i: abs(ends[i] - end))] = token
            cells.append(row)
        reports += _table_reports(names, cells, where)
    return reports


def _cell_reports(cell: CellRecord) -> list[Reported]:
    """A cell's printed and tabled reports, and its progress bars' for splits it reports nowhere else (a tqdm
    description often repeats the line printed after it)."""
    where = f"cell {cell.number}"
    tables = _html_reports(cell.html, f"{where}, displayed table") if cell.html else []
    if not tables:
        tables = _plain_table_reports(cell.stdout, f"{where}, table")
    shown = _text_reports(cell.stdout, f"{where}, output") + tables
    taken = {report.split for report in shown}
    bars = _text_reports(cell.stderr, f"{where}, progress bar (stderr)")
    return shown + [report for report in bars if report.split not in taken]


def notebook_reports(ctx: CheckContext) -> list[Reported]:
    """Every metric the notebook reported, cell by cell, in output order."""
    return [report for cell in ctx.execution.cells for report in _cell_reports(cell)]


def _curves(reports: list[Reported], reference: list[float]) -> dict[str, str]:
    """Per epoch: the notebook's train and valid figures beside the reference notebook's valid F1."""
    table: dict[str, str] = {}
    numbered = [report for report in reports if report.epoch is not None and report.split in ("TRAIN", "VALID")]
    for epoch in sorted({report.epoch for report in numbered} | set(range(1, len(reference) + 1))):
        parts = []
        for split in ("TRAIN", "VALID"):
            last = [report for report in numbered if report.split == split and report.epoch == epoch][-1:]
            for report in last:
                metric = "F1" if "F1" in report.metrics else next(iter(report.metrics))
                parts.append(f"{split.lower()} {metric if metric != 'LOSS' else 'loss'} {report.metrics[metric]:.2f}")
        if epoch <= len(reference):
            parts.append(f"reference valid F1 {reference[epoch - 1]:.2f}")
        table[f"epoch {epoch}"] = " · ".join(parts) or "not reported"
    return table


def _found_where(reports: list[Reported]) -> dict[str, str]:
    """Where each split's figures were read: the report says what it found even when it cannot attribute it."""
    found: dict[str, list[str]] = {}
    for report in reports:
        places = found.setdefault(report.split.lower() or "unlabelled", [])
        if report.where not in places:
            places.append(report.where)
    return {split: "; ".join(places) for split, places in found.items()}


def _mismatch(reported: Reported, valid: list[Reported], result: Evaluation, tolerance: float) -> str:
    """Why the final reported F1 is not the grader's: what it does match, if anything."""
    value, measured = reported.metrics["F1"], result.macro_f1
    printed = f"The final validation F1 reported ({value:.2f}, {reported.where})"
    if any(abs(report.metrics["F1"] - measured) <= tolerance for report in valid[:-1]):
        return (f"{printed} is not the final model's ({measured:.3f}); an earlier epoch's line matches: "
                "report the final model's metrics last.")
    if result.masked is not None:
        for reading, score in f1_readings(result.masked).items():
            if abs(value - score) <= tolerance:
                return (f"{printed} is what this model scores against the masked labels of {result.masked_name} "
                        f"({reading} F1 {score:.3f}): the metrics were computed on the public test file, whose "
                        "labels are hidden (masked), not on the validation set; evaluate on valid_preprocess.tsv "
                        f"(the grader measures {measured:.3f} there).")
    for reading, score in f1_readings(result.confusion).items():
        if reading != "macro" and abs(score - measured) > tolerance and abs(value - score) <= tolerance:
            return (f"{printed} is the {reading} F1 ({score:.3f}), not the macro-F1 the assignment asks for "
                    f"(the grader measures {measured:.3f}).")
    for order in itertools.permutations(range(len(LABELS))):
        score = sum(f1_per_class(permuted(result.confusion, order))) / len(LABELS)
        if order != tuple(range(len(LABELS))) and abs(value - score) <= tolerance < abs(value - measured):
            names = ", ".join(f"{index}: {LABELS[order[index]]}" for index in range(len(LABELS)))
            return (f"{printed} matches the grader's measurement only with the labels in another order ({names}, "
                    f"F1 {score:.3f}); the grader read the label order from {result.label_source}: set "
                    "model.config.id2label to the order you trained with.")
    return (f"{printed} is not reproduced: the grader measures {measured:.3f} with the same model and data "
            f"(tolerance {tolerance:.2f}).")


class ReferenceCurve(CheckParams):
    """The reference run's validation F1 per epoch, in each mode (empty: not compared)."""

    full: list[float] = []
    quick: list[float] = []


class ReportedMetricsParams(CheckParams):
    tolerance: float
    reference_curve: ReferenceCurve
    without_training_log: float = 0.6


def reported_metrics(ctx: CheckContext, tolerance: float, reference_curve: ReferenceCurve,
                     without_training_log: float = 0.6) -> Outcome:
    """Per-epoch training and validation metrics are reported, and the final validation F1 is the grader's."""
    reports = notebook_reports(ctx)
    curve = reference_curve.quick if ctx.quick else reference_curve.full
    details: dict[str, Any] = {"per-epoch figures against the reference": _curves(reports, curve),
                               "where the figures were read": _found_where(reports) or "nowhere"}
    valid = [report for report in reports if report.split == "VALID" and "F1" in report.metrics]
    unlabelled = [report for report in reports if report.split == "" and "F1" in report.metrics]
    note = ""
    if not valid and unlabelled:
        valid, note = unlabelled, " (F1 values not labelled train or valid, read as validation)"
    if not valid:
        return Outcome.failed("No validation F1 was reported (the grader read printed lines, progress bars and "
                              "displayed tables): report e.g. '(Epoch 1) VALID LOSS:0.3 ACC:0.90 F1:0.88 REC:0.87 "
                              "PRE:0.89' after every epoch.", **details)
    result = _evaluated(ctx)
    if isinstance(result, Outcome):
        return Outcome.failed(f"The reported metrics could not be compared with a re-measurement: {result.message}", **details)
    final, measured = valid[-1], result.macro_f1
    details["reported final valid F1"] = f"{final.metrics['F1']:.3f} ({final.where})"
    details["grader's valid F1"] = f"{measured:.3f}"
    if abs(final.metrics["F1"] - measured) > tolerance:
        return Outcome.failed(_mismatch(final, valid, result, tolerance), **details)
    matched = (f"validation F1 reported {plural(len(valid), 'time')}{note}; the final one, {final.metrics['F1']:.2f} "
               f"({final.where}), matches the grader's {measured:.3f} (tolerance {tolerance:.2f})")
    if not any(report.split == "TRAIN" for report in reports):
        return Outcome.partial(without_training_log, f"No training loss or metrics were reported; {matched}.",
                               **details)
    return Outcome.passed(f"Training figures and {matched}.", **details)
