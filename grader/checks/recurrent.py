"""Grader side, shared by the recurrent exercises (gru, lstm, rnn_lm): their inputs, tolerances, and the
from-scratch verdict over a cell and its layer. Reading parameter tensors as gate blocks: grader.checks.gate_layouts."""

from __future__ import annotations

import torch

from grader.check import CheckContext, Outcome
from grader.checks.analysis import forbidden_references
from grader.checks.analysis import from_scratch_outcome as scratch_verdict

ATOL = 1e-4
RTOL = 1e-4
EQUIVALENCE_BATCH = 12


def recurrent_inputs(key: str, batch: int, time: int, size_in: int, hidden: int,
                     generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A batch of single steps for the cell equivalence search, and a sequence with its initial state."""
    return {
        f"{key}/x_many": torch.randn(EQUIVALENCE_BATCH, size_in, generator=generator) * 1.5,
        f"{key}/h_many": torch.rand(EQUIVALENCE_BATCH, hidden, generator=generator) * 2 - 1,
        f"{key}/x": torch.randn(batch, time, size_in, generator=generator),
        f"{key}/h0": torch.rand(batch, hidden, generator=generator) * 2 - 1,
    }


def tolerance_gap(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """How far outside the tolerance the worst element is (≤ 0: equal)."""
    return float(((actual - expected).abs() - (ATOL + RTOL * expected.abs())).max())


def sentence(text: str) -> str:
    """Capitalised, and ending in a full stop unless it already ends a sentence."""
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def from_scratch_outcome(ctx: CheckContext, class_names: list[str], forbidden_names: list[str],
                         traced: list[list[str]], substrings: list[str], what: str) -> Outcome:
    """No built-in recurrent layer called at run time, in a cell or its layer (the source says where)."""
    static = forbidden_references(ctx.notebook, class_names, set(forbidden_names))
    return scratch_verdict(" and ".join(class_names), what, static, traced, substrings)
