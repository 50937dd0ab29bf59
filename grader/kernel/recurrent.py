"""Kernel side, shared by the recurrent exercises (gru, rnn_lm): build a cell with parameters drawn from the
grader's seed, call it once traced, and name what it returned."""

from __future__ import annotations

from typing import Any

import torch

from grader.kernel.runtime import param_infos


PARAM_SCALE = 0.5        # the probe's parameter values: N(0, 0.5²) keeps gates away from saturation


def randomize_and_record(module: torch.nn.Module, seed: int, key: str, rec) -> None:
    """Give every parameter a value drawn from the grader's seed, and record it for the grader's search."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for index, (_, param) in enumerate(module.named_parameters()):
            param.copy_(torch.randn(param.shape, generator=generator, dtype=torch.float64) * PARAM_SCALE)
            rec.tensor(f"{key}/param/{index}", param)


def output_kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "tensor"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(type(item).__name__ if not isinstance(item, torch.Tensor) else "tensor" for item in value)
        return f"{type(value).__name__} ({inner})"
    return type(value).__name__


def build_and_call_cell(cls: type, key: str, config: list[int], seed: int, x: torch.Tensor, h: torch.Tensor,
                        rec) -> tuple[dict[str, Any], torch.nn.Module | None, bool, Any]:
    """Kernel side: build the student's cell with recorded random parameters and call it once, traced.

    Returns the run's record so far, the cell, whether the call succeeded, and its output.
    """
    from grader.kernel.runtime import trace_torch_calls

    _, _, size_in, hidden = config
    run: dict[str, Any] = {"config": config}
    torch.manual_seed(seed)
    built, cell = rec.attempt(f"{key}/cell/construct", cls, size_in, hidden)
    run["constructed"] = built and isinstance(cell, torch.nn.Module)
    if not run["constructed"]:
        return run, None, False, None
    run["params"] = param_infos(cell)
    randomize_and_record(cell, seed + 1, f"{key}/cell", rec)
    with torch.no_grad(), trace_torch_calls() as calls:
        ran, output = rec.attempt(f"{key}/cell/forward", cell, x, h)
    run["calls"] = sorted(calls)
    if ran:
        run["output_kind"] = output_kind(output)
    return run, cell, ran, output
