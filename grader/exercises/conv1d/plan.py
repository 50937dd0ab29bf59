"""Conv1D from scratch, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field

from grader.exercise import Params
from grader.exercises.conv1d.kernel import GROUPS
from grader.probe import ProbePlan


def _config_inputs(key: str, config: list[int], generator: torch.Generator) -> dict[str, torch.Tensor]:
    batch, channels_in, _, _, length = config
    return {
        f"{key}/x": torch.randn(batch, channels_in, length, generator=generator),
        f"{key}/basis": torch.eye(channels_in * length).reshape(channels_in * length, channels_in, length),
        f"{key}/zero": torch.zeros(1, channels_in, length),
    }


Config = Annotated[list[int], Field(min_length=5, max_length=5, description="batch, in, out, kernel width, length")]


class PlanParams(Params):
    """The rubric's `probe:` section."""

    class_name: str = "Conv1D"
    constructor_args: list[Annotated[list[int], Field(min_length=3, max_length=3)]] = Field(min_length=1)
    configs: list[Config] = Field(min_length=1)
    edge: list[Config] = []


def make_plan(params: PlanParams, generator: torch.Generator, quick: bool) -> ProbePlan:
    """Random inputs for every configuration (batch, in, out, k, length), impulses, and a zero input."""
    spec = {
        **params.model_dump(),
        "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
    }
    inputs: dict[str, torch.Tensor] = {}
    for group in GROUPS:
        for index, config in enumerate(spec[group]):
            inputs.update(_config_inputs(f"{group}/{index}", config, generator))
    return ProbePlan(spec=spec, inputs=inputs)
