"""Conv1D from scratch, grader side: the checks, run in the grader's own process on what the probe measured."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from grader.check import CheckContext, Outcome
from grader.checks.analysis import (class_problem, first_difference, forbidden_references, from_scratch_outcome, plural,
                                    shape_text)
from grader.exercise import CheckParams
from grader.exercises.conv1d.kernel import GROUPS
from grader.exercises.conv1d.schema import ConfigRun
from grader.probe import ProbeData


ATOL = 1e-4
RTOL = 1e-4


def _class_problem(ctx: CheckContext, data: ProbeData) -> str | None:
    """A sentence when there is no usable Conv1D class at all."""
    return class_problem(ctx.notebook, ctx.execution, ctx.plan.spec["class_name"], data.values.class_status,
                         data.values.class_kind)


def _usable(ctx: CheckContext) -> tuple[ProbeData, Outcome | None]:
    data = ctx.data()
    problem = _class_problem(ctx, data)
    return data, (Outcome.failed(problem[0].upper() + problem[1:] + ".") if problem else None)


def _signature(config: list[int]) -> str:
    batch, channels_in, channels_out, width, length = config
    return f"Conv1D({channels_in}, {channels_out}, {width}) on x {shape_text([batch, channels_in, length])}"


def _run_error(data: ProbeData, key: str) -> str | None:
    for step in ("construct", "forward"):
        if f"{key}/{step}" in data.errors:
            verb = "constructing" if step == "construct" else "calling"
            return f"{verb} it raised {data.errors[f'{key}/{step}']}"
    return None


def constructible(ctx: CheckContext) -> Outcome:
    """Conv1D(in, out, k) builds an nn.Module for every argument set."""
    data, unusable = _usable(ctx)
    if unusable:
        return unusable
    constructions = data.values.constructions
    failures = [
        f"Conv1D{tuple(c.args)} raised {data.errors.get(f'construct/{i}', 'an error')}"
        if not c.ok and f"construct/{i}" in data.errors
        else f"Conv1D{tuple(c.args)} did not return an nn.Module"
        for i, c in enumerate(constructions)
        if not c.ok
    ]
    fraction = (len(constructions) - len(failures)) / len(constructions) if constructions else 0.0
    if not failures:
        return Outcome.passed(f"Constructed with all {len(constructions)} argument sets.")
    return Outcome.partial(fraction, f"{len(failures)} of {len(constructions)} argument sets failed: {failures[0]}.")


def _shape_verdict(run_error: str | None, shape: list[int] | None, config: list[int]) -> str | None:
    batch, _, channels_out, width, length = config
    expected = [batch, channels_out, length]
    if run_error:
        return run_error
    if shape is None:
        return "forward did not return a tensor"
    if shape == expected:
        return None
    verdict = f"returned {shape_text(shape)}, expected {shape_text(expected)}"
    if shape == [batch, length, channels_out]:
        verdict += ": the output is [batch, length, out_channels], it needs transposing back"
    elif len(shape) == 3 and shape[:2] == expected[:2] and shape[2] == length - width + 1:
        verdict += f": the length shrank by kernel_width-1 = {width - 1}, so the 'same' padding is missing"
    return verdict


def _shapes(ctx: CheckContext, group: str) -> Outcome:
    data, unusable = _usable(ctx)
    if unusable:
        return unusable
    runs: list[ConfigRun] = getattr(data.values, group)
    problems = []
    for index, run in enumerate(runs):
        verdict = _shape_verdict(_run_error(data, f"{group}/{index}"), run.output_shape, run.config)
        if verdict:
            problems.append(f"{_signature(run.config)} {verdict}")
    passed = len(runs) - len(problems)
    shapes = {_signature(run.config): shape_text(run.output_shape) for run in runs}
    if not problems:
        return Outcome.passed(f"All {len(runs)} output shapes are [batch, out_channels, length].", shapes=shapes)
    return Outcome.partial(passed / len(runs), f"{len(problems)} of {len(runs)} shapes wrong; {problems[0]}.",
                           shapes=shapes)


def shapes(ctx: CheckContext) -> Outcome:
    """Output shape [batch, out_channels, length] over several configurations."""
    return _shapes(ctx, "configs")


def _effective_kernel(jacobian: torch.Tensor, config: list[int]) -> torch.Tensor:
    """Read the kernel off the impulse responses: K[o, c, j] = d y[o, p] / d x[c, p + j - k//2] at a middle p."""
    _, channels_in, channels_out, width, length = config
    half = width // 2
    kernel = torch.zeros(channels_out, channels_in, width, dtype=jacobian.dtype)
    for offset in range(width):
        shift = offset - half
        positions = range(max(0, -shift), min(length, length - shift))
        if positions:
            position = positions[len(positions) // 2]
            kernel[:, :, offset] = jacobian[:, position, :, position + shift]
    return kernel


def _nonlinearity_hint(output: torch.Tensor) -> str:
    if bool((output >= 0).all()) and float((output == 0).double().mean()) > 0.05:
        return f" Every output is ≥ 0 and {float((output == 0).double().mean()):.0%} are exactly 0: a ReLU on the output?"
    if bool((output.abs() < 1).all()):
        return " Every output lies strictly inside (-1, 1): a tanh or sigmoid on the output?"
    return ""


def _not_shared(jacobian: torch.Tensor, conv_jacobian: torch.Tensor) -> str:
    """Name one output/input pair where the layer's weight differs from the kernel it uses elsewhere."""
    gap = (jacobian - conv_jacobian).abs()
    out_channel, position, in_channel, source = (int(i) for i in (gap == gap.max()).nonzero()[0])
    return (f"the weights are not shared across positions (a locally-connected layer?): output channel {out_channel}"
            f" at position {position} weighs input channel {in_channel} at position {source} by"
            f" {jacobian[out_channel, position, in_channel, source].item():.4g}, but the same offset weighs"
            f" {conv_jacobian[out_channel, position, in_channel, source].item():.4g} at the middle of the sequence")


def _responds_to_input(data: ProbeData, group: str, index: int) -> bool:
    key = f"{group}/{index}"
    if f"{key}/basis_out" not in data.tensors or f"{key}/zero_out" not in data.tensors:
        return False
    basis_out, zero_out = data.tensors[f"{key}/basis_out"], data.tensors[f"{key}/zero_out"]
    return basis_out.shape[1:] == zero_out.shape[1:] and bool(((basis_out - zero_out).abs() > ATOL).any())


def _equivalence_verdict(data: ProbeData, key: str, config: list[int], x: torch.Tensor) -> str | None:
    """None when the layer at `key` is exactly a 'same'-padded cross-correlation; else why not."""
    batch, channels_in, channels_out, width, length = config
    error = _run_error(data, key)
    if error:
        return error
    for name in ("y", "basis_out", "zero_out"):
        if f"{key}/{name}" not in data.tensors:
            return data.errors.get(f"{key}/{name.removesuffix('_out')}", "forward did not return a tensor")
    output = data.tensors[f"{key}/y"].double()
    basis_out = data.tensors[f"{key}/basis_out"].double()
    zero_out = data.tensors[f"{key}/zero_out"].double()
    expected = (batch, channels_out, length)
    if tuple(output.shape) != expected:
        if tuple(output.shape) == (batch, length, channels_out):
            return f"the output is {shape_text(output.shape)}, i.e. [batch, length, out_channels]: transpose it back"
        if output.dim() == 3 and output.shape[2] == length - width + 1:
            return f"the output length is {output.shape[2]}, not {length}: the 'same' padding (kernel_width//2 zeros each side) is missing"
        return f"the output is {shape_text(output.shape)}, expected {shape_text(expected)}"
    if tuple(basis_out.shape) != (channels_in * length, channels_out, length) or tuple(zero_out.shape) != (1, channels_out, length):
        return "the layer returns differently shaped outputs for different batch sizes"
    bias = zero_out[0, :, 0]
    if not torch.allclose(zero_out[0], bias[:, None].expand(channels_out, length), atol=ATOL, rtol=RTOL):
        return "for an all-zero input the output differs between positions, so the bias is not the same at every position"
    # jacobian[o, p, c, q]: how output (o, p) responds to a unit impulse at input (c, q).
    jacobian = (basis_out - zero_out).reshape(channels_in, length, channels_out, length).permute(2, 3, 0, 1)
    linear_prediction = torch.einsum("opcq,bcq->bop", jacobian, x) + bias[None, :, None]
    if first_difference(output, linear_prediction, ATOL * 10, RTOL * 10):
        return "the output is not an affine function of the input (f(x) ≠ J·x + f(0))." + _nonlinearity_hint(output)
    kernel = _effective_kernel(jacobian, config)
    if float(kernel.abs().max()) == 0.0:
        return "the output does not depend on the input at all (every impulse response is zero)"
    conv_jacobian = F.conv1d(
        torch.eye(channels_in * length, dtype=torch.float64).reshape(-1, channels_in, length), kernel, padding=width // 2
    ).reshape(channels_in, length, channels_out, length).permute(2, 3, 0, 1)
    difference = first_difference(jacobian, conv_jacobian, ATOL, RTOL)
    if difference:
        reach = (jacobian.abs() > ATOL).nonzero()
        too_far = [(int(p), int(q)) for _, p, _, q in reach if abs(int(p) - int(q)) > width // 2]
        if too_far:
            p, q = too_far[0]
            return f"output position {p} depends on input position {q}, farther than kernel_width//2 = {width // 2}"
        return _not_shared(jacobian, conv_jacobian)
    reference = F.conv1d(x, kernel, bias, padding=width // 2)
    difference = first_difference(output, reference, ATOL, RTOL)
    return f"it differs from F.conv1d with its own kernel and bias: {difference}" if difference else None


def _equivalence(ctx: CheckContext, group: str) -> Outcome:
    data, unusable = _usable(ctx)
    if unusable:
        return unusable
    runs: list[ConfigRun] = getattr(data.values, group)
    problems = []
    for index, run in enumerate(runs):
        key = f"{group}/{index}"
        verdict = _equivalence_verdict(data, key, run.config, ctx.plan.inputs[f"{key}/x"].double())
        if verdict:
            problems.append(f"{_signature(run.config)}: {verdict}")
    if not problems:
        return Outcome.passed(f"Equal to nn.Conv1d (with the layer's own effective kernel and bias) on all {len(runs)} configurations.")
    return Outcome.partial((len(runs) - len(problems)) / len(runs),
                           f"{len(problems)} of {len(runs)} configurations differ from nn.Conv1d. {problems[0]}",
                           problems=problems)


def equivalence(ctx: CheckContext) -> Outcome:
    """A weight-shared affine map equal to F.conv1d with the layer's own effective kernel and bias."""
    return _equivalence(ctx, "configs")


def edge_cases(ctx: CheckContext) -> Outcome:
    """Shapes and equivalence on small inputs: batch 1, length 1, length shorter than the kernel."""
    return _equivalence(ctx, "edge")


def gradients(ctx: CheckContext) -> Outcome:
    """A backward pass reaches every trainable parameter with a finite, non-zero gradient."""
    data, unusable = _usable(ctx)
    if unusable:
        return unusable
    if "gradients" in data.errors:
        return Outcome.failed(f"The backward pass failed: {data.errors['gradients']}.")
    params = [p for p in data.values.gradient_params if p.trainable]
    if not params:
        return Outcome.failed("Conv1D has no trainable parameters, so nothing can learn.")
    reasons = {"none": "got no gradient (not used in forward, or detached)", "zero": "got an all-zero gradient",
               "nonfinite": "got a NaN or infinite gradient", "not_measured": "was not measured"}
    bad = [f"'{p.name}' {shape_text(p.shape)} {reasons[p.grad]}" for p in params if p.grad != "ok"]
    if not bad:
        return Outcome.passed(f"Gradients reach every trainable parameter ({plural(len(params), 'tensor')}).")
    return Outcome.partial((len(params) - len(bad)) / len(params), f"{len(bad)} of {len(params)} parameters: {bad[0]}.")


def param_count(ctx: CheckContext) -> Outcome:
    """Trainable parameters = out·in·k, plus out when the layer has a bias."""
    data, unusable = _usable(ctx)
    if unusable:
        return unusable
    built = [c for c in data.values.constructions if c.ok]
    if not built:
        return Outcome.failed("Conv1D could not be constructed, so its parameters could not be counted.")
    problems = []
    for construction in built:
        channels_in, channels_out, width = construction.args
        count = sum(math.prod(p.shape) for p in construction.params if p.trainable)
        weights = channels_out * channels_in * width
        if count not in (weights, weights + channels_out):
            problems.append(f"Conv1D({channels_in}, {channels_out}, {width}) has {count} trainable parameters;"
                            f" expected out·in·k = {weights} (or {weights + channels_out} with a bias)")
    if not problems:
        return Outcome.passed(f"Parameter counts are out·in·k (+ out for a bias) for all {len(built)} layers.")
    return Outcome.partial((len(built) - len(problems)) / len(built), problems[0] + ".")


class FromScratchParams(CheckParams):
    forbidden_names: list[str]
    forbidden_call_substrings: list[str]


def from_scratch(ctx: CheckContext, forbidden_names: list[str], forbidden_call_substrings: list[str]) -> Outcome:
    """No built-in convolution called while the forward runs; the source (names that resolve to torch, numpy or
    scipy objects) says where, and alone is only a warning."""
    class_name = ctx.plan.spec["class_name"]
    static = forbidden_references(ctx.notebook, [class_name], set(forbidden_names))
    data, unusable = _usable(ctx)
    if unusable:
        return unusable
    traced = [run.calls for group in GROUPS for run in getattr(data.values, group) if run.output_shape is not None]
    working = [(group, index) for group in GROUPS for index, _ in enumerate(getattr(data.values, group))
               if _responds_to_input(data, group, index)]
    if traced and not working:
        return Outcome.failed(f"Not verified: {class_name}'s output never depends on its input, so it computes no convolution at all.")
    return from_scratch_outcome(class_name, "convolution", static, traced, forbidden_call_substrings)
