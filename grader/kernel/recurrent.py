"""Kernel side, shared by the recurrent exercises (gru, lstm, rnn_lm): build a cell with parameters drawn from the
grader's seed, call it once traced, name what it returned, record its gradients; and the primitives for reading a
gated cell by its behaviour, one parameter element at a time (run here to choose the second round of responses,
and again by the grader, which trusts only its own answer)."""

from __future__ import annotations

import itertools
import time
from typing import Any, Callable, Literal

import torch

from grader.kernel.runtime import class_status, grad_status, param_infos, trace_torch_calls

PARAM_SCALE = 0.5        # the probe's parameter values: N(0, 0.5²) keeps gates away from saturation
BEHAVIOUR_ELEMENTS = 4000  # a cell with more parameter elements is not read by behaviour
BEHAVIOUR_SECONDS = 20.0   # kernel time for the behavioural responses of one cell
EFFECT = 1e-5          # a change in an output smaller than this is no change (outputs are float32)
DRIVER_FLOOR = 0.1     # design rows whose driving input is smaller than this say little about a scale
Driver = tuple[Literal["x", "h", "b"], int]


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


def build_and_call_cell(cls: type, key: str, config: list[int], seed: int, x: torch.Tensor, state: Any,
                        rec) -> tuple[dict[str, Any], torch.nn.Module | None, bool, Any]:
    """Kernel side: build the student's cell with recorded random parameters and call it once on (x, state),
    traced; the state is h, or the pair (h, c) for an LSTM.

    Returns the run's record so far, the cell, whether the call succeeded, and its output.
    """
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
        ran, output = rec.attempt(f"{key}/cell/forward", cell, x, state)
    run["calls"] = sorted(calls)
    if ran:
        run["output_kind"] = output_kind(output)
    return run, cell, ran, output


def record_gradients(module: torch.nn.Module, output: Any, key: str, infos: list[dict[str, Any]], rec) -> None:
    """Backpropagate a loss that uses every output element; record what reached each parameter."""
    tensors = [t for t in (output if isinstance(output, (tuple, list)) else [output])
               if isinstance(t, torch.Tensor) and t.is_floating_point() and t.requires_grad]
    if tensors:
        rec.attempt(f"{key}/gradients", lambda: sum((t.pow(2).sum() + t.sum()) for t in tensors).backward())
    for info, (_, param) in zip(infos, module.named_parameters()):
        info["grad"] = grad_status(param)


def parameter_elements(params: list[torch.nn.Parameter]) -> list[tuple[int, tuple[int, ...]]]:
    """(parameter index, element index) of every parameter element, in named_parameters and row-major order."""
    return [(index, element) for index, param in enumerate(params)
            for element in itertools.product(*[range(size) for size in param.shape])]


def element_responses(cell: Callable[[torch.Tensor, torch.Tensor], Any], params: list, elements: list,
                      chosen: list[int], x: torch.Tensor, h: torch.Tensor, deadline: float) -> torch.Tensor:
    """The cell's outputs with each chosen element set to 1 in turn (the other parameters left as they are)."""
    outputs = []
    for number in chosen:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the cell's responses took over {BEHAVIOUR_SECONDS:.0f} s")
        index, element = elements[number]
        kept = params[index][element].item()
        params[index][element] = 1.0
        output = cell(x, h)
        params[index][element] = kept
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"it returned a {type(output).__name__}")
        outputs.append(output.detach().double())
    return torch.stack(outputs) if outputs else torch.zeros(0, *x.shape[:1], h.shape[1], dtype=torch.float64)


def logit(p: torch.Tensor) -> torch.Tensor:
    """log(p / (1 − p)); NaN outside (0, 1). (torch.logit is orders of magnitude slower on small CPU tensors.)"""
    return torch.log(p) - torch.log1p(-p)


def drivers(x: torch.Tensor, h: torch.Tensor) -> tuple[list[Driver], torch.Tensor]:
    """The quantities a gate weight multiplies — each input column, each hidden column, 1 for a bias — as the
    columns of one [rows, I + H + 1] matrix, with their names."""
    names: list[Driver] = [("x", i) for i in range(x.shape[1])] + [("h", m) for m in range(h.shape[1])] + [("b", 0)]
    return names, torch.cat([x, h, torch.ones(x.shape[0], 1, dtype=torch.float64)], dim=1)


def close(actual: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """Per column (or overall for vectors): every row within the tolerance of a response."""
    return ((actual - expected).abs() <= 2 * EFFECT + 1e-4 * expected.abs()).all(0)


def explain(observed: torch.Tensor, pre: torch.Tensor, from_pre: Callable[[torch.Tensor], torch.Tensor],
            valid: torch.Tensor, driver_matrix: tuple[list[Driver], torch.Tensor],
            ) -> tuple[Literal["x", "h", "b"], int, float, torch.Tensor] | None:
    """The first driver u (with its scale c) for which from_pre(c·u) reproduces `observed` on every `valid`
    design row, or None; c is the median of pre / u over the rows where both are usable."""
    names, matrix = driver_matrix
    usable = (valid & torch.isfinite(pre))[:, None] & (matrix.abs() > DRIVER_FLOOR)
    ratios = torch.where(usable, pre[:, None] / matrix, torch.nan)
    scales = ratios.nanmedian(0).values
    predicted = torch.where(valid[:, None], from_pre(scales * matrix), observed[:, None])
    fits = close(predicted, observed[:, None]) & (usable.sum(0) >= 3) & (scales.abs() > 1e-6)
    if not bool(fits.any()):
        return None
    column = int(fits.nonzero()[0])
    return (*names[column], float(scales[column]), matrix[:, column])


def probe_cells_and_layers(namespace: dict[str, Any], plan: dict[str, Any], inputs: dict[str, torch.Tensor], rec,
                           groups: tuple[str, ...], probe_cell: Callable[..., Any],
                           probe_layer: Callable[..., Any]) -> None:
    """Build the student's cell and layer classes on each configuration of each group and record what they compute
    (`probe_cell(cls, key, config, seed, inputs, rec)`, `probe_layer(layer_cls, cell_cls, key, config, seed, inputs,
    rec)`): the probe of every recurrent-cell exercise."""
    cell_status, cell_kind = class_status(namespace, plan["cell_class"])
    layer_status, layer_kind = class_status(namespace, plan["layer_class"])
    rec.put("cell_status", cell_status)
    rec.put("cell_kind", cell_kind)
    rec.put("layer_status", layer_status)
    rec.put("layer_kind", layer_kind)
    cell_cls, layer_cls = namespace.get(plan["cell_class"]), namespace.get(plan["layer_class"])
    cells: dict[str, list] = {}
    layers: dict[str, list] = {}
    for group in groups:
        cells[group], layers[group] = [], []
        for index, config in enumerate(plan[group]):
            seed = plan["seed"] + 1000 * (groups.index(group) + 1) + 10 * index
            if cell_status == "ok":
                cells[group].append(probe_cell(cell_cls, f"{group}/{index}", config, seed, inputs, rec))
            if layer_status == "ok":
                layers[group].append(probe_layer(layer_cls, cell_cls, f"{group}/{index}", config, seed + 5,
                                                 inputs, rec))
    rec.put("cells", cells)
    rec.put("layers", layers)
