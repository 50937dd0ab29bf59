"""Grader side, shared by the recurrent exercises (gru, lstm, rnn_lm): their inputs, tolerances, and the
from-scratch, gradient and parameter-count verdicts over a cell and its layer. Reading parameter tensors as gate blocks: grader.checks.gate_layouts."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from grader.check import CheckContext, Outcome
from grader.checks.analysis import forbidden_references, plural, shape_text
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


GRADIENT_REASONS = {"none": "got no gradient (not used in forward, or detached)", "zero": "got an all-zero gradient",
                    "nonfinite": "got a NaN or infinite gradient", "not_measured": "was not measured"}


def _gradient_run(runs: dict[str, list], which: str, groups: Sequence[str]) -> tuple[str, Any] | None:
    """The first configuration whose forward ran (its gradients were measured), else the first one built."""
    keyed = [(f"{group}/{i}/{which}", run) for group in groups for i, run in enumerate(runs.get(group, []))]
    return next((item for item in keyed if item[1].output_kind), next(iter(keyed), None))


def gradients_outcome(ctx: CheckContext, groups: Sequence[str], error_of: Callable[[Any, str], str | None]) -> Outcome:
    """A backward pass reaches every trainable parameter of the cell and the layer with a finite, non-zero gradient;
    `error_of(data, key)` is the probe's error for a run's forward and backward, if any."""
    data = ctx.data()
    names = (ctx.plan.spec["cell_class"], ctx.plan.spec["layer_class"])
    checked, bad = 0, []
    for which, name in zip(("cell", "layer"), names):
        found = _gradient_run(getattr(data.values, f"{which}s"), which, groups)
        if found is None:
            continue
        key, run = found
        error = error_of(data, key)
        if error or not run.output_kind:
            bad.append(f"{name}: {error or 'its forward never ran, so no gradient could be measured'}")
            checked += 1
            continue
        for param in (p for p in run.params if p.trainable):
            checked += 1
            if param.grad != "ok":
                bad.append(f"{name} '{param.name}' {shape_text(param.shape)} {GRADIENT_REASONS[param.grad]}")
    if not checked:
        return Outcome.failed(f"No trainable parameters were found in {names[0]} or {names[1]}, so nothing can learn.")
    if not bad:
        return Outcome.passed(f"Gradients reach every trainable parameter ({plural(checked, 'tensor')}).")
    return Outcome.partial((checked - len(bad)) / checked, f"{len(bad)} of {checked} parameters: {sentence(bad[0])}")


def param_count_outcome(ctx: CheckContext, gates: int, family: str,
                        cell_runs: Callable[[CheckContext], tuple[Any, list, Outcome | None]],
                        identify: Callable[[Any, dict, Any, str], tuple[Any, str]]) -> Outcome:
    """Trainable parameters of each cell built = gates·H·(I+H) plus its biases: those of the layout its behaviour
    was read as, else 0, gates·H or 2·gates·H. `family` names the layer in messages ("a GRU", "an LSTM")."""
    data, runs, unusable = cell_runs(ctx)
    if unusable:
        return unusable
    cell = ctx.plan.spec["cell_class"]
    built = [(f"configs/{i}", run) for i, run in enumerate(runs) if run.constructed]
    if not built:
        return Outcome.failed(f"{cell} could not be constructed, so its parameters could not be counted.")
    problems = []
    for key, run in built:
        _, _, size_in, hidden = run.config
        count = sum(math.prod(p.shape) for p in run.params if p.trainable)
        weights = gates * hidden * (size_in + hidden)
        found, _ = identify(data, ctx.plan.inputs, run, key)
        if found.behaviour:
            unused = found.behaviour.unused
            if unused:
                problems.append(f"{cell}({size_in}, {hidden}) has {count} trainable parameters; read by behaviour,"
                                f" {found.behaviour.active} act in its {family.split()[-1]} and {len(unused)} change"
                                f" nothing ({', '.join(unused[:3])}{', …' if len(unused) > 3 else ''})")
        elif found.form and found.mapping:
            expected = weights + found.mapping.biases * gates * hidden
            if count != expected:
                problems.append(f"{cell}({size_in}, {hidden}) has {count} trainable parameters; the reading found"
                                f" has {gates}·H·(I+H) + {found.mapping.biases * gates}·H = {expected}"
                                " (are some frozen?)")
        elif count not in (weights, weights + gates * hidden, weights + 2 * gates * hidden):
            problems.append(f"{cell}({size_in}, {hidden}) has {count} trainable parameters; {family} has"
                            f" {gates}·H·(I+H) = {weights}, plus {gates}·H = {gates * hidden} or"
                            f" {2 * gates}·H = {2 * gates * hidden} for biases")
    if not problems:
        return Outcome.passed(f"Parameter counts are {gates}·H·(I+H) plus the biases for all {len(built)} {cell}s.")
    return Outcome.partial((len(built) - len(problems)) / len(built), problems[0] + ".")
