"""Conv1D from scratch, grader side: the probe's inputs, chosen at grade time from the secret seed."""

from __future__ import annotations

from typing import Any

import torch

from grader.exercises.conv1d.kernel import GROUPS
from grader.probe import ProbePlan


def _config_inputs(key: str, config: list[int], generator: torch.Generator) -> dict[str, torch.Tensor]:
    batch, channels_in, _, _, length = config
    return {
        f"{key}/x": torch.randn(batch, channels_in, length, generator=generator),
        f"{key}/basis": torch.eye(channels_in * length).reshape(channels_in * length, channels_in, length),
        f"{key}/zero": torch.zeros(1, channels_in, length),
    }


def make_plan(params: dict[str, Any], generator: torch.Generator, quick: bool) -> ProbePlan:
    """Random inputs for every configuration (batch, in, out, k, length), impulses, and a zero input."""
    spec = {
        "class_name": params.get("class_name", "Conv1D"),
        "constructor_args": params["constructor_args"],
        "configs": params["configs"],
        "edge": params.get("edge", []),
        "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
    }
    inputs: dict[str, torch.Tensor] = {}
    for group in GROUPS:
        for index, config in enumerate(spec[group]):
            inputs.update(_config_inputs(f"{group}/{index}", config, generator))
    return ProbePlan(spec=spec, inputs=inputs)
