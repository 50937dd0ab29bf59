"""Conv1D from scratch, kernel side: the probe, run inside the student's kernel beside their code."""

from __future__ import annotations

from typing import Any

import torch

from grader.kernel.runtime import autograd_ops, class_status, grad_status, param_infos, trace_torch_calls

GROUPS = ("configs", "edge")


def _device_of(layer: torch.nn.Module) -> torch.device:
    return next((p.device for p in layer.parameters()), torch.device("cpu"))


def _probe_config(cls: type, key: str, config: list[int], seed: int, inputs: dict, rec) -> dict[str, Any]:
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
