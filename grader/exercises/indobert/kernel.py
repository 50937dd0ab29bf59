"""Fine-tuning IndoBERT on SmSA, kernel side: the probe, run inside the student's kernel beside their code."""

from __future__ import annotations

import json
from typing import Any

import torch


FROZEN_NAMES_CAP = 2000
WEIGHTS_PREFIX = "weights/"


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
    parameters = list(model.named_parameters())
    rec.put("frozen", [key for key, parameter in parameters if not parameter.requires_grad][:FROZEN_NAMES_CAP])
    rec.put("encoder_parameters", sum(key.startswith("bert.") for key, _ in parameters))
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
