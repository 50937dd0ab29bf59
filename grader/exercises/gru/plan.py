"""GRU from scratch, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field

from grader.checks.recurrent import recurrent_inputs
from grader.exercise import Params
from grader.exercises.gru.kernel import GROUPS
from grader.probe import ProbePlan


BEHAVIOUR_ROWS = 16        # design inputs for the one-element-at-a-time responses
FIT_ROWS = 48              # inputs a behavioural reading must reproduce, on each of two parameter draws


Config = Annotated[list[int], Field(min_length=4, max_length=4, description="batch, time, input, hidden")]


class PlanParams(Params):
    """The rubric's `probe:` section; `square` configurations have batch = time, to tell the axes apart."""

    cell_class: str = "GRUCell"
    layer_class: str = "GRU"
    configs: list[Config] = Field(min_length=1)
    square: list[Config] = []


def make_plan(params: PlanParams, generator: torch.Generator, quick: bool) -> ProbePlan:
    """Inputs for every configuration (batch, time, input, hidden): one step, a sequence, and a bigger batch."""
    spec = {
        **params.model_dump(),
        "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
    }
    inputs: dict[str, torch.Tensor] = {}
    for group in GROUPS:
        for index, (batch, time, size_in, hidden) in enumerate(spec[group]):
            key = f"{group}/{index}"
            inputs[f"{key}/x_step"] = torch.randn(batch, size_in, generator=generator)
            inputs[f"{key}/h"] = torch.rand(batch, hidden, generator=generator) * 2 - 1
            inputs.update(recurrent_inputs(key, batch, time, size_in, hidden, generator))
            if group == "configs":
                inputs.update(behaviour_inputs(key, size_in, hidden, generator))
    return ProbePlan(spec=spec, inputs=inputs)


def behaviour_inputs(key: str, size_in: int, hidden: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Inputs for reading a cell by behaviour: a small design batch for the one-element-at-a-time responses, and a
    larger batch the reading must reproduce on two parameter draws."""
    return {
        f"{key}/design_x": torch.randn(BEHAVIOUR_ROWS, size_in, generator=generator),
        f"{key}/design_h": torch.rand(BEHAVIOUR_ROWS, hidden, generator=generator) * 2 - 1,
        f"{key}/fit_x": torch.randn(FIT_ROWS, size_in, generator=generator) * 1.5,
        f"{key}/fit_h": torch.rand(FIT_ROWS, hidden, generator=generator) * 2 - 1,
    }
