"""IndoBERT on SmSA: fine-tune indobenchmark/indobert-base-p1 for 3-way sentiment, as in the IndoNLU tutorial.

Kernel side: `probe` finds the student's BertForSequenceClassification and tokenizer by type and exports the
model's weights (tensors) and the tokenizer's tokenizer.json and the label names (JSON). Grader side: the checks
load those into the grader's own BertForSequenceClassification (built from the staged, trusted config.json),
re-measure macro-F1 and accuracy on the labelled evaluation set, compare the weights with the staged pretrained
checkpoint, and compare the notebook's printed per-epoch metrics with the re-measurement.
"""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from grader import data as datasets
from grader.analysis import plural
from grader.check import CheckContext, Outcome
from grader.probe import ProbeData, ProbePlan
from grader.registry import check

LABEL2INDEX = {"positive": 0, "neutral": 1, "negative": 2}  # the IndoNLU tutorial's DocumentSentimentDataset
LABELS = tuple(LABEL2INDEX)
TOKENIZER_CAP_BYTES = 3 * 2**20
VOCAB_CAP = 500_000
WEIGHTS_PREFIX = "weights/"
FROM_SCRATCH_CHANGE = 0.5  # median relative change beyond which the weights cannot come from the checkpoint


# --------------------------------------------------------------------------- plan (grader side)

def make_plan(params: dict[str, Any], generator: torch.Generator, quick: bool) -> ProbePlan:
    """No inputs: the probe only exports; the evaluation settings travel with the spec for the checks."""
    spec = {
        "model_name": params.get("model_name", "model"),
        "tokenizer_name": params.get("tokenizer_name", "tokenizer"),
        "num_labels": params.get("num_labels", 3),
        "tokenizer_cap_bytes": TOKENIZER_CAP_BYTES,
        "eval_file": params.get("eval_file", "valid_preprocess.tsv"),
        "max_length": params.get("max_length", 512),
        "batch_size": params.get("batch_size", 32),
    }
    return ProbePlan(spec=spec, inputs={})


# --------------------------------------------------------------------------- probe (kernel side)

class Found(BaseModel):
    name: str
    kind: str
    num_labels: int = 0


class ModelConfig(BaseModel):
    num_labels: int
    id2label: dict[str, str] = {}
    vocab_size: int = 0
    hidden_size: int = 0


class ProbeValues(BaseModel):
    transformers_ok: bool = False
    models: list[Found] = []
    tokenizers: list[Found] = []
    model_name: str = ""
    tokenizer_name: str = ""
    config: ModelConfig | None = None
    weight_count: int = 0
    tokenizer_json: dict[str, Any] | None = None


def _instances(namespace: dict[str, Any], kind: type) -> list[tuple[str, Any]]:
    """Global variables holding an instance of `kind`, in definition order (IPython's _/Out history skipped)."""
    return [(name, value) for name, value in list(namespace.items())
            if not name.startswith("_") and name not in ("Out", "In") and isinstance(value, kind)]


def _choose(found: list[tuple[str, Any]], preferred: str, keep: Any = lambda value: True) -> tuple[str, Any] | None:
    """The object named `preferred` if it qualifies, else the last one defined that does."""
    usable = [(name, value) for name, value in found if keep(value)]
    return next((item for item in usable if item[0] == preferred), usable[-1] if usable else None)


def _export_model(name: str, model: Any, rec) -> None:
    rec.put("model_name", name)
    config = model.config
    rec.put("config", {"num_labels": int(config.num_labels),
                       "id2label": {str(key): str(value) for key, value in (config.id2label or {}).items()},
                       "vocab_size": int(config.vocab_size), "hidden_size": int(config.hidden_size)})
    ok, state = rec.attempt("weights", model.state_dict)
    if ok:
        for key, tensor in state.items():
            rec.tensor(WEIGHTS_PREFIX + key, tensor)
        rec.put("weight_count", len(state))


def _export_tokenizer(name: str, tokenizer: Any, cap: int, rec) -> None:
    rec.put("tokenizer_name", name)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        rec.errors["tokenizer"] = f"{type(tokenizer).__name__} has no tokenizers (Rust) backend to export"
        return
    ok, text = rec.attempt("tokenizer", backend.to_str)
    if not ok:
        return
    if len(text) > cap:
        rec.errors["tokenizer"] = f"the tokenizer's tokenizer.json is {len(text) / 2**20:.1f} MiB, over {cap / 2**20:.0f} MiB"
        return
    rec.put("tokenizer_json", json.loads(text))


def probe(namespace: dict[str, Any], plan: dict[str, Any], inputs: dict[str, torch.Tensor], rec) -> None:
    """Kernel side: export the fine-tuned classifier's weights and its tokenizer; decide nothing."""
    try:
        import transformers
    except ImportError as error:
        rec.errors["transformers"] = f"transformers cannot be imported ({error})"
        return
    rec.put("transformers_ok", True)
    models = _instances(namespace, transformers.BertForSequenceClassification)
    rec.put("models", [{"name": name, "kind": type(model).__name__, "num_labels": int(model.config.num_labels)}
                       for name, model in models])
    tokenizers = _instances(namespace, transformers.PreTrainedTokenizerBase)
    rec.put("tokenizers", [{"name": name, "kind": type(tokenizer).__name__} for name, tokenizer in tokenizers])
    model = _choose(models, plan["model_name"], lambda m: int(m.config.num_labels) == plan["num_labels"])
    if model is not None:
        _export_model(*model, rec)
    tokenizer = _choose(tokenizers, plan["tokenizer_name"])
    if tokenizer is not None:
        _export_tokenizer(*tokenizer, plan["tokenizer_cap_bytes"], rec)


# --------------------------------------------------------------------------- evaluation (grader side)

class EvaluationProblem(Exception):
    """The exported model or tokenizer cannot be evaluated; the message is one sentence."""


@dataclass
class Evaluation:
    """The grader's own measurement on the evaluation set; rows are true labels, columns predictions (LABELS order)."""

    confusion: list[list[int]]
    label_source: str
    eval_name: str
    standin: bool

    @property
    def count(self) -> int:
        return sum(map(sum, self.confusion))

    @property
    def accuracy(self) -> float:
        return sum(self.confusion[i][i] for i in range(len(LABELS))) / self.count if self.count else 0.0

    @property
    def f1_per_class(self) -> dict[str, float]:
        scores = {}
        for index, label in enumerate(LABELS):
            hits = self.confusion[index][index]
            predicted = sum(row[index] for row in self.confusion)
            actual = sum(self.confusion[index])
            precision = hits / predicted if predicted else 0.0
            recall = hits / actual if actual else 0.0
            scores[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return scores

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
    rows = read_tsv(_staged("smsa", ctx.quick) / spec["eval_file"])
    encodings = [encoding.ids for encoding in tokenizer.encode_batch([text for text, _ in rows])]
    index_to_label, source = _label_order(probe_data.values.config)
    predicted = _predict(model, encodings, pad_id, int(spec["batch_size"]), ctx.device)
    confusion = [[0] * len(LABELS) for _ in LABELS]
    for (_, truth), prediction in zip(rows, predicted):
        confusion[LABELS.index(truth)][LABELS.index(index_to_label[prediction])] += 1
    eval_name = f"{spec['eval_file']} ({plural(len(rows), 'review')})"
    return Evaluation(confusion, source, eval_name, bool(manifest(model_root).get("standin")))


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


# --------------------------------------------------------------------------- checks (grader side)

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


@check("indobert.model")
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


@check("indobert.fine_tuned")
def fine_tuned(ctx: CheckContext) -> Outcome:
    """The encoder's weights differ from the staged pretrained checkpoint (training updated them)."""
    probe_data = ctx.data()
    if not any(k.startswith(WEIGHTS_PREFIX) for k in probe_data.tensors):
        return Outcome.failed(f"The model's weights could not be exported ({probe_data.errors.get('weights', 'none came back')}).")
    compared, changes = _relative_changes(ctx, probe_data)
    if not compared:
        return Outcome.failed("The model shares no weights with the pretrained indobert-base-p1 checkpoint; "
                              "load it with BertForSequenceClassification.from_pretrained(\"indobenchmark/indobert-base-p1\", num_labels=3).")
    changed = sorted(change for change in changes if change > 0)
    details = {"pretrained tensors compared": compared, "changed by training": len(changed)}
    if not changed:
        return Outcome.failed(f"All {compared} encoder tensors are exactly the pretrained checkpoint's: training never "
                              "updated the model (is optimizer.step() called after loss.backward()?).", **details)
    median = changed[len(changed) // 2]
    details["median relative change"] = f"{median:.2%}"
    if median > FROM_SCRATCH_CHANGE:
        return Outcome.failed(f"The encoder's weights are far from the pretrained checkpoint (median relative change "
                              f"{median:.0%}): build the model with from_pretrained, not from a fresh config.", **details)
    return Outcome.passed(f"Fine-tuned: {len(changed)} of {compared} pretrained encoder tensors changed "
                          f"(median relative change {median:.2%}).", **details)


def _threshold(ctx: CheckContext, full: dict[str, float], quick: dict[str, float]) -> tuple[float, float, str]:
    """(score needed, chance level, how it was set): full mode needs the minimum and the reference's margin."""
    if ctx.quick:
        needed = quick["reference"] - quick["within"]
        why = f"the reference notebook's quick run scores {quick['reference']:.2f}, margin {quick['within']:.2f}"
        return needed, quick["chance"], why
    needed = max(full.get("minimum", 0.0), full["reference"] - full["within"])
    why = f"at least {full.get('minimum', 0.0):.2f} and within {full['within']:.2f} of the reference's {full['reference']:.2f}"
    return needed, full["chance"], why


def _scored(name: str, value: float, threshold: tuple[float, float, str], result: Evaluation,
            details: dict[str, Any]) -> Outcome:
    """Full credit from the score needed, partial credit between the chance level (every review labelled with
    the majority class) and the score needed."""
    needed, chance, why = threshold
    measured = f"{name} {value:.3f} on {result.eval_name}, measured by the grader"
    note = result.model_note()
    details.update({"label order": result.label_source, "confusion matrix (rows: true label)": result.confusion_table()})
    if value >= needed:
        return Outcome.passed(f"{measured} (needs {needed:.2f}: {why}).{note}", **details)
    fraction = (value - chance) / (needed - chance) if needed > chance else 0.0
    return Outcome.partial(fraction, f"{measured}, below the {needed:.2f} needed ({why}).{note}", **details)


def _evaluated(ctx: CheckContext) -> Evaluation | Outcome:
    try:
        return evaluation(ctx)
    except EvaluationProblem as problem:
        return Outcome.failed(f"Not measured: {problem}.")


@check("indobert.macro_f1")
def macro_f1(ctx: CheckContext, full: dict[str, float], quick: dict[str, float]) -> Outcome:
    """Macro-F1 on the labelled evaluation set, re-measured in the grader's process."""
    result = _evaluated(ctx)
    if isinstance(result, Outcome):
        return result
    per_class = {label: f"{score:.3f}" for label, score in result.f1_per_class.items()}
    return _scored("Macro-F1", result.macro_f1, _threshold(ctx, full, quick), result, {"F1 per class": per_class})


@check("indobert.accuracy")
def accuracy(ctx: CheckContext, full: dict[str, float], quick: dict[str, float]) -> Outcome:
    """Accuracy on the labelled evaluation set, re-measured in the grader's process."""
    result = _evaluated(ctx)
    if isinstance(result, Outcome):
        return result
    return _scored("Accuracy", result.accuracy, _threshold(ctx, full, quick), result, {})


# --------------------------------------------------------------------------- the notebook's own report

METRIC = re.compile(r"\b(LOSS|ACC|F1|REC|PRE)\s*[:=]\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)")
SPLIT = re.compile(r"\b(TRAIN|VALID)\b")
EPOCH = re.compile(r"\bEpoch\s*\(?\s*(\d+)", re.IGNORECASE)


@dataclass
class EpochLine:
    split: str
    epoch: int
    metrics: dict[str, float]


def epoch_lines(ctx: CheckContext) -> list[EpochLine]:
    """Every printed line naming TRAIN or VALID with an F1 value, in output order."""
    lines: list[EpochLine] = []
    for cell in ctx.execution.cells:
        for text in cell.stdout.splitlines():
            split, metrics = SPLIT.search(text), dict(METRIC.findall(text))
            if split and "F1" in metrics:
                epoch = EPOCH.search(text)
                count = sum(line.split == split.group(1) for line in lines) + 1
                lines.append(EpochLine(split.group(1), int(epoch.group(1)) if epoch else count,
                                       {key: float(value) for key, value in metrics.items()}))
    return lines


def _curves(lines: list[EpochLine], reference: list[float]) -> dict[str, str]:
    """Per epoch: the notebook's train and valid F1 beside the reference notebook's valid F1."""
    table: dict[str, str] = {}
    epochs = sorted({line.epoch for line in lines} | set(range(1, len(reference) + 1)))
    for epoch in epochs:
        parts = [f"{split.lower()} F1 {line.metrics['F1']:.2f}" for split in ("TRAIN", "VALID")
                 for line in lines if line.split == split and line.epoch == epoch][-2:]
        if epoch <= len(reference):
            parts.append(f"reference valid F1 {reference[epoch - 1]:.2f}")
        table[f"epoch {epoch}"] = " · ".join(parts) or "not reported"
    return table


@check("indobert.reported_metrics")
def reported_metrics(ctx: CheckContext, tolerance: float, reference_curve: dict[str, list[float]]) -> Outcome:
    """Per-epoch TRAIN and VALID metric lines are printed, and the final valid F1 is what the grader measures."""
    lines = epoch_lines(ctx)
    curve = reference_curve["quick" if ctx.quick else "full"]
    details: dict[str, Any] = {"per-epoch F1 against the reference": _curves(lines, curve)}
    train = [line for line in lines if line.split == "TRAIN"]
    valid = [line for line in lines if line.split == "VALID"]
    if not train or not valid:
        missing = " and ".join(split for split, found in (("TRAIN", train), ("VALID", valid)) if not found)
        return Outcome.failed(f"No {missing} metric lines were printed: print e.g. '(Epoch 1) VALID LOSS:0.3 ACC:0.90 "
                              "F1:0.88 REC:0.87 PRE:0.89' after every epoch.", **details)
    result = _evaluated(ctx)
    if isinstance(result, Outcome):
        return Outcome.failed(f"The printed metrics could not be compared with a re-measurement: {result.message}", **details)
    reported, measured = valid[-1].metrics["F1"], result.macro_f1
    details["printed final valid F1"] = f"{reported:.3f}"
    details["grader's valid F1"] = f"{measured:.3f}"
    epochs = f"{plural(len(train), 'TRAIN line')} and {plural(len(valid), 'VALID line')}"
    if abs(reported - measured) <= tolerance:
        return Outcome.passed(f"Printed {epochs}; the final valid F1 {reported:.2f} matches the grader's "
                              f"{measured:.3f} (tolerance {tolerance:.2f}).", **details)
    hint = (" The grader read the label order from " + result.label_source +
            "; if your labels are in another order, set model.config.id2label.")
    if any(abs(line.metrics["F1"] - measured) <= tolerance for line in valid):
        return Outcome.failed(f"The last printed valid F1 ({reported:.2f}) is not the final model's ({measured:.3f}); "
                              "an earlier epoch's line matches: print the final model's metrics last.", **details)
    return Outcome.failed(f"The printed final valid F1 {reported:.2f} is not reproduced: the grader measures {measured:.3f} "
                          f"with the same model and data (tolerance {tolerance:.2f}).{hint}", **details)
