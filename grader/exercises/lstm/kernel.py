"""LSTM from scratch, kernel side: the probe, run inside the student's kernel beside their code."""

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
BACKGROUND = 0.5         # the value the second round gives the g elements, so that the input gate shows


def _state_pair(value: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The (h, c) pair a cell or layer returned, or a TypeError saying what came instead."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(t, torch.Tensor) for t in value):
        return value[0], value[1]
    raise TypeError(f"{what} returned a {output_kind(value)}, not the pair (h, c)")


def _step(cell: torch.nn.Module, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _state_pair(cell(x, (h, c)), "the cell")


def _layer_parts(output: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(outputs, h_T, c_T) from a layer's (outputs, (h_T, c_T)), or a TypeError."""
    if not (isinstance(output, (tuple, list)) and len(output) == 2 and isinstance(output[0], torch.Tensor)):
        raise TypeError("the layer did not return (outputs, (h_T, c_T))")
    return (output[0], *_state_pair(output[1], "the layer's state"))


def _record_pairs(rec, key: str, first: tuple, second: tuple) -> None:
    for name, value in zip(("h1", "c1", "h2", "c2"), (*first, *second)):
        rec.tensor(f"{key}/{name}", value)


def _probe_cell(cls: type, key: str, config: list[int], seed: int, inputs: dict, rec) -> dict[str, Any]:
    hidden = config[3]
    step = [inputs[f"{key}/step/{name}"] for name in "xhc"]
    run, cell, ran, output = build_and_call_cell(cls, key, config, seed, step[0], (step[1], step[2]), rec)
    if not ran:
        return run
    run["output_shapes"] = [list(t.shape) for t in output if isinstance(t, torch.Tensor)] \
        if isinstance(output, (tuple, list)) else []
    many = [inputs[f"{key}/many/{name}"] for name in "xhc"]
    ran, first = rec.attempt(f"{key}/cell/many", _step, cell, *many)
    if not ran:
        return run
    with torch.no_grad():
        ran, second = rec.attempt(f"{key}/cell/shift", _step, cell, many[0], many[1], inputs[f"{key}/many/c_shift"])
    if ran:
        _record_pairs(rec, f"{key}/cell", first, second)
    record_gradients(cell, first, f"{key}/cell", run["params"], rec)
    if f"{key}/design/x" in inputs:
        _probe_behaviour(cell, key, hidden, seed + 7, inputs, rec)
    return run


def _probe_behaviour(cell: torch.nn.Module, key: str, hidden: int, seed: int, inputs: dict, rec) -> None:
    """Kernel side: what the grader needs to read the cell by behaviour when no reading of its tensors fits.

    The joint output [h', c'] on the fit batch under the probe's parameters and under a second draw; then, all
    parameters 0, the outputs with each element set to 1 alone; then, with the elements that act as g set to
    BACKGROUND, the outputs with each element that did nothing set to 1 (so the input gate shows). The parameters
    are restored afterwards. The grader redoes every classification itself and verifies the result on both draws.
    """
    params = [param for _, param in cell.named_parameters()]
    elements = parameter_elements(params)
    where = f"{key}/cell/behaviour"
    if len(elements) > BEHAVIOUR_ELEMENTS:
        rec.errors[where] = f"it has {len(elements)} parameter elements (at most {BEHAVIOUR_ELEMENTS})"
        return
    saved = [param.detach().clone() for param in params]

    def joint(x: torch.Tensor, hc: torch.Tensor) -> torch.Tensor:
        return torch.cat(_step(cell, x, hc[:, :hidden], hc[:, hidden:]), dim=1)

    def batch(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return inputs[f"{key}/{name}/x"], torch.cat([inputs[f"{key}/{name}/h"], inputs[f"{key}/{name}/c"]], dim=1)

    design, fit = batch("design"), batch("fit")

    def measure() -> None:
        deadline = time.perf_counter() + BEHAVIOUR_SECONDS
        rec.tensor(f"{where}/fit/0", joint(*fit))
        randomize_and_record(cell, seed, f"{where}/draw", rec)
        rec.tensor(f"{where}/fit/1", joint(*fit))
        for param in params:
            param.zero_()
        base = joint(*design)
        rec.tensor(f"{where}/base", base)
        singles = element_responses(joint, params, elements, list(range(len(elements))), *design, deadline)
        rec.tensor(f"{where}/single", singles)
        roles = element_roles(base.double(), singles, design[0].double(), design[1].double(), hidden)
        silent = [number for number, role in enumerate(roles) if role is None]
        for number, role in enumerate(roles):
            if role and role.gate == "g":
                index, element = elements[number]
                params[index][element] = BACKGROUND
        rec.tensor(f"{where}/background", joint(*design))
        rec.tensor(f"{where}/second", element_responses(joint, params, elements, silent, *design, deadline))

    try:
        with torch.no_grad():
            rec.attempt(where, measure)
    finally:
        with torch.no_grad():
            for param, value in zip(params, saved):
                param.copy_(value)


def _unroll(cell: torch.nn.Module, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, steps: int,
            axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The student's own cell stepped along `axis` of x: outputs stacked on dim 1, and the last cell state."""
    outputs = []
    for step in range(steps):
        h, c = _step(cell, x.select(axis, step), h, c)
        outputs.append(h)
    return torch.stack(outputs, dim=1), c


def _probe_layer(cls: type, cell_cls: Any, key: str, config: list[int], seed: int, inputs: dict,
                 rec) -> dict[str, Any]:
    batch, time, size_in, hidden = config
    run: dict[str, Any] = {"config": config}
    torch.manual_seed(seed)
    built, layer = rec.attempt(f"{key}/layer/construct", cls, size_in, hidden)
    run["constructed"] = built and isinstance(layer, torch.nn.Module)
    if not run["constructed"]:
        return run
    run["params"] = param_infos(layer)
    randomize_and_record(layer, seed + 2, f"{key}/layer", rec)
    x, h0, c0 = inputs[f"{key}/x"], inputs[f"{key}/h0"], inputs[f"{key}/c0"]
    with trace_torch_calls() as calls:
        ran, output = rec.attempt(f"{key}/layer/forward", layer, x, (h0, c0))
    run["calls"] = sorted(calls)
    if ran:
        run["output_kind"] = output_kind(output)
        parsed, parts = rec.attempt(f"{key}/layer/parts", _layer_parts, output)
        if parsed:
            run["outputs_shape"] = list(parts[0].shape)
            run["state_shapes"] = [list(part.shape) for part in parts[1:]]
            for name, value in zip(("outputs", "h_T", "c_T"), parts):
                rec.tensor(f"{key}/layer/{name}", value)
        record_gradients(layer, output if not parsed else parts, f"{key}/layer", run["params"], rec)
        _probe_layer_step(layer, key, inputs, rec)
    inner = [m for m in layer.modules() if m is not layer and isinstance(cell_cls, type) and isinstance(m, cell_cls)]
    run["has_cell"] = bool(inner)
    if inner:
        with torch.no_grad():
            ran, unrolled = rec.attempt(f"{key}/layer/unroll", _unroll, inner[0], x, h0, c0, time, 1)
            if ran:
                rec.tensor(f"{key}/layer/unrolled", unrolled[0])
                rec.tensor(f"{key}/layer/unrolled_c", unrolled[1])
            if batch == time:
                ran, walked = rec.attempt(f"{key}/layer/unroll_batch", _unroll, inner[0], x, h0, c0, batch, 0)
                if ran:
                    rec.tensor(f"{key}/layer/unrolled_batch", walked[0])
    return run


def _probe_layer_step(layer: torch.nn.Module, key: str, inputs: dict, rec) -> None:
    """The layer on one-step sequences, twice with only c0 shifted: a layer without a cell inside is read from these
    as a cell is."""
    many = [inputs[f"{key}/many/{name}"] for name in "xhc"]
    x = many[0][:, None]
    with torch.no_grad():
        ran, first = rec.attempt(f"{key}/layer/many", lambda: _layer_parts(layer(x, (many[1], many[2])))[1:])
        if ran:
            ran, second = rec.attempt(f"{key}/layer/shift", lambda: _layer_parts(
                layer(x, (many[1], inputs[f"{key}/many/c_shift"])))[1:])
        if ran:
            _record_pairs(rec, f"{key}/layer", first, second)


def probe(namespace: dict[str, Any], plan: dict[str, Any], inputs: dict[str, torch.Tensor], rec) -> None:
    """Kernel side: build the student's LSTMCell and LSTM on each configuration and record what they compute."""
    probe_cells_and_layers(namespace, plan, inputs, rec, GROUPS, _probe_cell, _probe_layer)


@dataclass(frozen=True)
class Role:
    """What one parameter element does in an LSTM: its gate ('?' when none explains it), whether it multiplies an
    input column, a hidden column or 1 (a bias), for which hidden unit, and its effective weight per unit value."""

    gate: str
    side: Literal["x", "h", "b"]
    unit: int
    column: int
    scale: float


def changed_units(delta: torch.Tensor) -> list[int]:
    """The hidden units whose output a response moved (delta: response − base, [rows, units])."""
    return (delta.abs().amax(0) > EFFECT).nonzero().flatten().tolist()


def element_roles(base: torch.Tensor, singles: torch.Tensor, x: torch.Tensor, hc: torch.Tensor,
                  hidden: int) -> list[Role | None]:
    """Each element's role from the joint outputs [h', c'] with it alone at 1 and every other parameter 0.

    With all parameters 0 an LSTM has i = f = o = ½ and g = 0, so c' = c/2 and h' = ½·tanh(c/2). One f element
    gives c'_j = σ(s·u)·c_j, one g element c'_j = c_j/2 + ½·tanh(s·u), one o element leaves c' and gives
    h'_j = σ(s·u)·tanh(c_j/2), u being an input column, a hidden column or 1; an i element changes nothing yet
    (g is 0). Used in the kernel (to choose the second round) and again by the grader, which trusts its own answer.
    """
    c = hc[:, hidden:]
    driver_matrix = drivers(x, hc[:, :hidden])
    squashed = torch.tanh(c / 2)
    roles: list[Role | None] = []
    for response in singles.double():
        delta = response - base
        cell_units, hidden_units = changed_units(delta[:, hidden:]), changed_units(delta[:, :hidden])
        if not cell_units and not hidden_units:
            roles.append(None)
            continue
        found = None
        if len(cell_units) == 1:
            j = cell_units[0]
            y, own = delta[:, hidden + j], c[:, j]
            forget = explain(y, logit(y / own + 0.5), lambda pre: (torch.sigmoid(pre) - 0.5) * own[:, None],
                             own.abs() > DRIVER_FLOOR, driver_matrix)
            candidate = explain(y, torch.atanh(2 * y), lambda pre: torch.tanh(pre) / 2,
                                torch.ones_like(y, dtype=torch.bool), driver_matrix)
            found = ("f", j, forget) if forget else ("g", j, candidate) if candidate else None
        elif not cell_units and len(hidden_units) == 1:
            j = hidden_units[0]
            y, own = delta[:, j], squashed[:, j]
            output = explain(y, logit(y / own + 0.5), lambda pre: (torch.sigmoid(pre) - 0.5) * own[:, None],
                             own.abs() > DRIVER_FLOOR, driver_matrix)
            found = ("o", j, output) if output else None
        if found and found[2]:
            side, column, scale, _ = found[2]
            roles.append(Role(found[0], side, found[1], column, scale))
        else:
            units = cell_units or hidden_units
            roles.append(Role("?", "b", units[0], len(units), 0.0))
    return roles
