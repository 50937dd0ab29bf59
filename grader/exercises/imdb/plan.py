"""IMDb sentiment, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from grader.datasets import imdb as imdb_data
from grader.probe import ProbePlan


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
        "seconds_in_all": float(params.get("seconds_in_all", 240)),
    }
    return HeldBackPlan(spec=spec, inputs={}, labels=[reviews[index][1] for index in chosen])
