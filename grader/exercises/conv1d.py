"""Conv1D from scratch: a 'same'-padded cross-correlation layer, equal in behaviour to nn.Conv1d.

Kernel side: `probe` calls the student's class on inputs the grader chose and records raw outputs.
Grader side: `make_plan` chooses those inputs; the checks recover the layer's effective kernel and bias
from its responses to impulses and decide, in the grader's process, whether it is a convolution.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel

from grader.analysis import (class_problem, first_difference, forbidden_references, from_scratch_outcome, plural,
                             shape_text)
from grader.check import CheckContext, Outcome
from grader.probe import ParamInfo, ProbeData, ProbePlan
from grader.probe_runtime import class_status, grad_status, param_infos
from grader.registry import check

ATOL = 1e-4
RTOL = 1e-4
GROUPS = ("configs", "edge")


# --------------------------------------------------------------------------- plan (grader side)

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


# --------------------------------------------------------------------------- probe (kernel side)

class Construction(BaseModel):
    args: list[int]
    ok: bool
    params: list[ParamInfo] = []


class ConfigRun(BaseModel):
    config: list[int]
    constructed: bool = False
    output_shape: list[int] | None = None
    calls: list[str] = []


class ProbeValues(BaseModel):
    class_status: Literal["missing", "not_a_class", "not_a_module", "ok"] = "missing"
    class_kind: str = ""
    constructions: list[Construction] = []
    configs: list[ConfigRun] = []
    edge: list[ConfigRun] = []
    gradient_params: list[ParamInfo] = []


def _device_of(layer: torch.nn.Module) -> torch.device:
    return next((p.device for p in layer.parameters()), torch.device("cpu"))


def _probe_config(cls: type, key: str, config: list[int], seed: int, inputs: dict, rec) -> dict[str, Any]:
    from grader.probe_runtime import autograd_ops, trace_torch_calls

    _, channels_in, channels_out, width, _ = config
    run: dict[str, Any] = {"config": config}
    torch.manual_seed(seed)
    built, layer = rec.attempt(f"{key}/construct", cls, channels_in, channels_out, width)
    run["constructed"] = built and isinstance(layer, torch.nn.Module)
    if not run["constructed"]:
        return run
    device = _device_of(layer)
    with trace_torch_calls() as calls:
        ran, output = rec.attempt(f"{key}/forward", layer, inputs[f"{key}/x"].to(device).requires_grad_())
    run["calls"] = sorted(calls | autograd_ops(output))
    with torch.no_grad():
        if ran:
            rec.tensor(f"{key}/y", output)
            run["output_shape"] = list(output.shape) if isinstance(output, torch.Tensor) else None
            for name in ("basis", "zero"):
                ran, response = rec.attempt(f"{key}/{name}", layer, inputs[f"{key}/{name}"].to(device))
                if ran:
                    rec.tensor(f"{key}/{name}_out", response)
    return run


def _probe_gradients(cls: type, config: list[int], seed: int, x: torch.Tensor, rec) -> list[dict[str, Any]]:
    _, channels_in, channels_out, width, _ = config
    torch.manual_seed(seed)
    built, layer = rec.attempt("gradients", cls, channels_in, channels_out, width)
    if not built or not isinstance(layer, torch.nn.Module):
        return []
    ran, output = rec.attempt("gradients", layer, x.to(_device_of(layer)))
    if ran and isinstance(output, torch.Tensor) and output.is_floating_point():
        rec.attempt("gradients", lambda: (output.pow(2).sum() + output.sum()).backward())
    params = param_infos(layer)
    for info, (_, param) in zip(params, layer.named_parameters()):
        info["grad"] = grad_status(param)
    return params


def probe(namespace: dict[str, Any], plan: dict[str, Any], inputs: dict[str, torch.Tensor], rec) -> None:
    """Kernel side: construct the student's Conv1D and record its outputs on the grader's inputs."""
    status, kind = class_status(namespace, plan["class_name"])
    rec.put("class_status", status)
    rec.put("class_kind", kind)
    if status != "ok":
        return
    cls = namespace[plan["class_name"]]
    constructions = []
    for index, args in enumerate(plan["constructor_args"]):
        torch.manual_seed(plan["seed"] + index)
        built, layer = rec.attempt(f"construct/{index}", cls, *args)
        ok = built and isinstance(layer, torch.nn.Module)
        constructions.append({"args": args, "ok": ok, "params": param_infos(layer) if ok else []})
    rec.put("constructions", constructions)
    for group in GROUPS:
        runs = [
            _probe_config(cls, f"{group}/{index}", config, plan["seed"] + 100 + index, inputs, rec)
            for index, config in enumerate(plan[group])
        ]
        rec.put(group, runs)
    first = plan["configs"][0]
    rec.put("gradient_params", _probe_gradients(cls, first, plan["seed"], inputs["configs/0/x"], rec))


# --------------------------------------------------------------------------- checks (grader side)

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


@check("conv1d.constructible")
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


def _expected_shape(config: list[int]) -> list[int]:
    """[batch, out_channels, length]: 'same' padding keeps the length."""
    batch, _, channels_out, _, length = config
    return [batch, channels_out, length]


def _shape_verdict(run_error: str | None, shape: list[int] | None, config: list[int]) -> str | None:
    batch, _, channels_out, width, length = config
    expected = _expected_shape(config)
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
    shapes = {"chart": "table", "title": "Shapes, expected and got", "columns": ["call", "expected", "got", ""],
              "rows": [[_signature(run.config), shape_text(_expected_shape(run.config)), shape_text(run.output_shape),
                        "ok" if run.output_shape == _expected_shape(run.config) else "wrong"] for run in runs]}
    if not problems:
        return Outcome.passed(f"All {len(runs)} output shapes are [batch, out_channels, length].", shapes=shapes)
    return Outcome.partial(passed / len(runs), f"{len(problems)} of {len(runs)} shapes wrong; {problems[0]}.",
                           shapes=shapes)


@check("conv1d.shapes")
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


@check("conv1d.equivalence")
def equivalence(ctx: CheckContext) -> Outcome:
    """A weight-shared affine map equal to F.conv1d with the layer's own effective kernel and bias."""
    return _equivalence(ctx, "configs")


@check("conv1d.edge_cases")
def edge_cases(ctx: CheckContext) -> Outcome:
    """Shapes and equivalence on small inputs: batch 1, length 1, length shorter than the kernel."""
    return _equivalence(ctx, "edge")


@check("conv1d.gradients")
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


@check("conv1d.param_count")
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



@check("conv1d.from_scratch")
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
