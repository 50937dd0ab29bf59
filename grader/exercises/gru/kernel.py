"""GRU from scratch, kernel side: the probe, run inside the student's kernel beside their code."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import torch

from grader.kernel.recurrent import (BEHAVIOUR_ELEMENTS, BEHAVIOUR_SECONDS, DRIVER_FLOOR, EFFECT, build_and_call_cell,
                                     drivers, element_responses, explain, logit, output_kind, parameter_elements,
                                     probe_cells_and_layers, randomize_and_record, record_gradients)
from grader.kernel.runtime import param_infos, trace_torch_calls

GROUPS = ("configs", "square")
BACKGROUND = 0.5           # the value the second round gives the candidate weights W_hn so the reset gate shows


def _probe_cell(cls: type, key: str, config: list[int], seed: int, inputs: dict, rec) -> dict[str, Any]:
    run, cell, ran, output = build_and_call_cell(cls, key, config, seed, inputs[f"{key}/x_step"],
                                                 inputs[f"{key}/h"], rec)
    if not ran:
        return run
    if isinstance(output, torch.Tensor):
        run["output_shape"] = list(output.shape)
    ran, output = rec.attempt(f"{key}/cell/many", cell, inputs[f"{key}/x_many"], inputs[f"{key}/h_many"])
    if ran:
        rec.tensor(f"{key}/cell/out_many", output)
        record_gradients(cell, output, f"{key}/cell", run["params"], rec)
        if f"{key}/design_x" in inputs:
            _probe_behaviour(cell, key, seed + 7, inputs, rec)
    return run


def _probe_behaviour(cell: torch.nn.Module, key: str, seed: int, inputs: dict, rec) -> None:
    """Kernel side: what the grader needs to read the cell by behaviour when no reading of its tensors fits.

    The outputs on the fit batch under the probe's parameters and under a second draw; then, all parameters 0,
    the outputs with each element set to 1 alone; then, with the elements that act as W_hn set to BACKGROUND,
    the outputs with each element that did nothing set to 1 (so the reset gate shows). The parameters are
    restored afterwards. The grader redoes every classification itself and verifies the result on both draws.
    """
    params = [param for _, param in cell.named_parameters()]
    elements = parameter_elements(params)
    where = f"{key}/cell/behaviour"
    if len(elements) > BEHAVIOUR_ELEMENTS:
        rec.errors[where] = f"it has {len(elements)} parameter elements (at most {BEHAVIOUR_ELEMENTS})"
        return
    saved = [param.detach().clone() for param in params]
    design = (inputs[f"{key}/design_x"], inputs[f"{key}/design_h"])
    fit = (inputs[f"{key}/fit_x"], inputs[f"{key}/fit_h"])

    def measure() -> None:
        deadline = time.perf_counter() + BEHAVIOUR_SECONDS
        rec.tensor(f"{where}/fit/0", cell(*fit))
        randomize_and_record(cell, seed, f"{where}/draw", rec)
        rec.tensor(f"{where}/fit/1", cell(*fit))
        for param in params:
            param.zero_()
        base = cell(*design)
        rec.tensor(f"{where}/base", base)
        singles = element_responses(cell, params, elements, list(range(len(elements))), *design, deadline)
        rec.tensor(f"{where}/single", singles)
        roles = element_roles(base.detach().double(), singles, *design)
        background = [number for number, role in enumerate(roles) if role and (role.gate, role.side) == ("n", "h")]
        silent = [number for number, role in enumerate(roles) if role is None]
        for number in background:
            index, element = elements[number]
            params[index][element] = BACKGROUND
        rec.tensor(f"{where}/background", cell(*design))
        rec.tensor(f"{where}/second", element_responses(cell, params, elements, silent, *design, deadline))

    try:
        with torch.no_grad():
            rec.attempt(where, measure)
    finally:
        with torch.no_grad():
            for param, value in zip(params, saved):
                param.copy_(value)


def _unroll(cell: torch.nn.Module, x: torch.Tensor, h: torch.Tensor, steps: int, axis: int) -> torch.Tensor:
    """The student's own cell stepped along `axis` of x, outputs stacked on dim 1."""
    outputs = []
    for step in range(steps):
        h = cell(x.select(axis, step), h)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def _probe_layer(cls: type, cell_cls: Any, key: str, config: list[int], seed: int, inputs: dict, rec) -> dict[str, Any]:
    batch, time, size_in, hidden = config
    run: dict[str, Any] = {"config": config}
    torch.manual_seed(seed)
    built, layer = rec.attempt(f"{key}/layer/construct", cls, size_in, hidden)
    run["constructed"] = built and isinstance(layer, torch.nn.Module)
    if not run["constructed"]:
        return run
    run["params"] = param_infos(layer)
    randomize_and_record(layer, seed + 2, f"{key}/layer", rec)
    x, h0 = inputs[f"{key}/x"], inputs[f"{key}/h0"]
    with trace_torch_calls() as calls:
        ran, output = rec.attempt(f"{key}/layer/forward", layer, x, h0)
    run["calls"] = sorted(calls)
    if ran:
        run["output_kind"] = output_kind(output)
        if isinstance(output, (tuple, list)) and len(output) == 2:
            for name, value in zip(("outputs", "last"), output):
                if isinstance(value, torch.Tensor):
                    run[f"{name}_shape"] = list(value.shape)
                    rec.tensor(f"{key}/layer/{name}", value)
        record_gradients(layer, output, f"{key}/layer", run["params"], rec)
    inner = [m for m in layer.modules() if m is not layer and isinstance(cell_cls, type) and isinstance(m, cell_cls)]
    run["has_cell"] = bool(inner)
    if inner:
        with torch.no_grad():
            ran, unrolled = rec.attempt(f"{key}/layer/unroll", _unroll, inner[0], x, h0, time, 1)
            if ran:
                rec.tensor(f"{key}/layer/unrolled", unrolled)
            if batch == time:
                ran, walked = rec.attempt(f"{key}/layer/unroll_batch", _unroll, inner[0], x, h0, batch, 0)
                if ran:
                    rec.tensor(f"{key}/layer/unrolled_batch", walked)
    return run


def probe(namespace: dict[str, Any], plan: dict[str, Any], inputs: dict[str, torch.Tensor], rec) -> None:
    """Kernel side: build the student's GRUCell and GRU on each configuration and record what they compute."""
    probe_cells_and_layers(namespace, plan, inputs, rec, GROUPS, _probe_cell, _probe_layer)


@dataclass(frozen=True)
class Role:
    """What one parameter element does in a GRU: gate z, n or r ('?' when no GRU weight explains it); on an input
    column, a hidden column or as a bias; for which hidden unit; its effective weight per unit value (an n
    element's effect is read at r = ½); and, for r, whether the reset acts after or before the recurrent matmul."""

    gate: str
    side: Literal["x", "h", "b"]
    unit: int
    column: int
    scale: float
    reset: str = ""


def element_roles(base: torch.Tensor, singles: torch.Tensor, x: torch.Tensor, h: torch.Tensor) -> list[Role | None]:
    """Each element's role from the outputs with it alone at 1 and every other parameter 0 (None: no effect).

    With all parameters 0 a GRU has z = r = ½ and n = 0, so one z element gives h'_j = σ(c·u)·h_j and one n
    element gives h'_j = ½·tanh(c·u) + ½·h_j, u being an input column, a hidden column or 1 (a bias); an r
    element changes nothing yet (n is 0 whatever r is). Used in the kernel (to choose the second round) and
    again by the grader, which trusts only its own answer.
    """
    base, x, h = base.double(), x.double(), h.double()
    driver_matrix = drivers(x, h)
    roles: list[Role | None] = []
    for response in singles.double():
        delta = response - base
        units = (delta.abs().amax(0) > EFFECT).nonzero().flatten().tolist()
        if not units:
            roles.append(None)
            continue
        unit, found = units[0], None
        if len(units) == 1:
            y, own = delta[:, unit], h[:, unit]
            gate = explain(y, logit(y / own + 0.5), lambda pre: (torch.sigmoid(pre) - 0.5) * own[:, None],
                           own.abs() > DRIVER_FLOOR, driver_matrix)
            candidate = explain(y, torch.atanh(2 * y), lambda pre: torch.tanh(pre) / 2,
                                torch.ones_like(y, dtype=torch.bool), driver_matrix)
            found = ("z", gate) if gate else ("n", candidate) if candidate else None
        if found:
            side, column, scale, _ = found[1]
            roles.append(Role(found[0], side, unit, column, scale))
        else:
            roles.append(Role("?", "b", unit, len(units), 0.0))
    return roles
