"""Fine-tuning IndoBERT on SmSA, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations

from typing import Any

import torch

from grader.probe import ProbePlan


TOKENIZER_CAP_BYTES = 3 * 2**20


def make_plan(params: dict[str, Any], generator: torch.Generator, quick: bool) -> ProbePlan:
    """No inputs: the probe only exports; the evaluation settings travel with the spec for the checks."""
    spec = {
        "model_name": params.get("model_name", "model"),
        "tokenizer_name": params.get("tokenizer_name", "tokenizer"),
        "num_labels": params.get("num_labels", 3),
        "tokenizer_cap_bytes": TOKENIZER_CAP_BYTES,
        "eval_file": params.get("eval_file", "valid_preprocess.tsv"),
        "masked_file": params.get("masked_file", "test_preprocess_masked_label.tsv"),
        "max_length": params.get("max_length", 512),
        "batch_size": params.get("batch_size", 32),
    }
    return ProbePlan(spec=spec, inputs={})
