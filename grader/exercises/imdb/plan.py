"""IMDb sentiment, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from pydantic import Field

from grader.datasets import imdb as imdb_data
from grader.exercise import Params
from grader.probe import ProbePlan


@dataclass
class HeldBackPlan(ProbePlan):
    """The probe plan, plus the held-back reviews' labels, which stay in the grader's process."""

    labels: list[int] = field(default_factory=list)


class Sample(Params):
    """How many held-back reviews each model is measured on."""

    full: int = Field(gt=0)
    quick: int = Field(gt=0)


class PlanParams(Params):
    """The rubric's `probe:` section."""

    function: str = "predict_sentiment"
    sample: Sample
    max_candidates: int = Field(3, gt=0)
    seconds_per_model: float = Field(120, gt=0)
    seconds_in_all: float = Field(240, gt=0)


def make_plan(params: PlanParams, generator: torch.Generator, quick: bool) -> ProbePlan:
    """A sample of held-back reviews drawn at grade time; the kernel sees their texts, never their labels."""
    reviews = imdb_data.held_back(quick)
    size = min(len(reviews), params.sample.quick if quick else params.sample.full)
    chosen = torch.randperm(len(reviews), generator=generator)[:size].tolist()
    spec = {
        "function": params.function,
        "texts": [reviews[index][0] for index in chosen],
        "max_candidates": params.max_candidates,
        "seconds_per_model": params.seconds_per_model,
        "seconds_in_all": params.seconds_in_all,
    }
    return HeldBackPlan(spec=spec, inputs={}, labels=[reviews[index][1] for index in chosen])
