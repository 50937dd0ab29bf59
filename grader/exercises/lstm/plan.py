"""LSTM from scratch, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field

from grader.exercise import Params
from grader.exercises.lstm.kernel import GROUPS
from grader.probe import ProbePlan

EQUIVALENCE_BATCH = 32   # rows of the single-step observations the gates are read from
BEHAVIOUR_ROWS = 16      # design inputs for the one-element-at-a-time responses
FIT_ROWS = 48            # inputs a behavioural reading must reproduce, on each of two parameter draws


Config = Annotated[list[int], Field(min_length=4, max_length=4, description="batch, time, input, hidden")]


class PlanParams(Params):
    """The rubric's `probe:` section; `square` configurations have batch = time, to tell the axes apart."""

    cell_class: str = "LSTMCell"
    layer_class: str = "LSTM"
    configs: list[Config] = Field(min_length=1)
    square: list[Config] = []


def make_plan(params: PlanParams, generator: torch.Generator, quick: bool) -> ProbePlan:
    """Inputs for every configuration (batch, time, input, hidden): one step, single-step observations with the
    cell state shifted, a sequence, and (first group only) the behavioural design."""
    spec = {
        **params.model_dump(),
        "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
    }
    inputs: dict[str, torch.Tensor] = {}
    for group in GROUPS:
        for index, (batch, time, size_in, hidden) in enumerate(spec[group]):
            key = f"{group}/{index}"
            inputs.update(_state_inputs(f"{key}/step", batch, size_in, hidden, generator))
            inputs.update(_state_inputs(f"{key}/many", EQUIVALENCE_BATCH, size_in, hidden, generator))
            shift = torch.rand(EQUIVALENCE_BATCH, hidden, generator=generator) + 0.5
            sign = torch.randint(0, 2, (EQUIVALENCE_BATCH, hidden), generator=generator) * 2 - 1
            inputs[f"{key}/many/c_shift"] = inputs[f"{key}/many/c"] + shift * sign
            inputs[f"{key}/x"] = torch.randn(batch, time, size_in, generator=generator)
            inputs[f"{key}/h0"] = torch.rand(batch, hidden, generator=generator) * 2 - 1
            inputs[f"{key}/c0"] = torch.rand(batch, hidden, generator=generator) * 4 - 2
            if group == "configs":
                inputs.update(_state_inputs(f"{key}/design", BEHAVIOUR_ROWS, size_in, hidden, generator))
                inputs.update(_state_inputs(f"{key}/fit", FIT_ROWS, size_in, hidden, generator))
    return ProbePlan(spec=spec, inputs=inputs)


def _state_inputs(key: str, rows: int, size_in: int, hidden: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    return {f"{key}/x": torch.randn(rows, size_in, generator=generator) * 1.2,
            f"{key}/h": torch.rand(rows, hidden, generator=generator) * 2 - 1,
            f"{key}/c": torch.rand(rows, hidden, generator=generator) * 4 - 2}
