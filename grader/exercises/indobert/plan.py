"""Fine-tuning IndoBERT on SmSA, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations


import torch
from pydantic import Field

from grader.exercise import Params
from grader.probe import ProbePlan


TOKENIZER_CAP_BYTES = 3 * 2**20


class PlanParams(Params):
    """The rubric's `probe:` section: the names the probe prefers, and how the grader evaluates the model."""

    model_name: str = "model"
    tokenizer_name: str = "tokenizer"
    num_labels: int = Field(3, gt=0)
    eval_file: str = "valid_preprocess.tsv"
    masked_file: str = "test_preprocess_masked_label.tsv"
    max_length: int = Field(512, gt=0)
    batch_size: int = Field(32, gt=0)


def make_plan(params: PlanParams, generator: torch.Generator, quick: bool) -> ProbePlan:
    """No inputs: the probe only exports; the evaluation settings travel with the spec for the checks."""
    spec = {**params.model_dump(), "tokenizer_cap_bytes": TOKENIZER_CAP_BYTES}
    return ProbePlan(spec=spec, inputs={})
