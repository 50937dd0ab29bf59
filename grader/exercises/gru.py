"""GRU from scratch: a GRUCell and a batch-first GRU layer that unrolls it, equal in behaviour to nn.GRU.

Kernel side: `probe` builds the student's classes, sets their parameters to values it draws from the grader's
seed, and records those values together with the outputs on the grader's inputs.
Grader side: the checks search how the recorded parameter tensors map onto a reference GRU of each standard
form (reset gate before or after the recurrent matmul, either update convention, with or without biases, any
gate order, fused or separate, transposed or not) and require equal outputs.
"""

from __future__ import annotations

import math
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

import torch
from pydantic import BaseModel

from grader.analysis import class_problem, first_difference, forbidden_references, plural, shape_text
from grader.analysis import from_scratch_outcome as scratch_verdict
from grader.check import CheckContext, Outcome
from grader.probe import ParamInfo, ProbeData, ProbePlan
from grader.probe_runtime import class_status, grad_status, param_infos
from grader.registry import check

ATOL = 1e-4
RTOL = 1e-4
SEARCH_BUDGET = 40_000   # candidate (mapping, form) pairs tried before giving up
PARAM_SCALE = 0.5        # the probe's parameter values: N(0, 0.5²) keeps gates away from saturation
EQUIVALENCE_BATCH = 12
GROUPS = ("configs", "square")
BATCH_AXIS = "it steps over the batch axis"


# --------------------------------------------------------------------------- plan (grader side)

def make_plan(params: dict[str, Any], generator: torch.Generator, quick: bool) -> ProbePlan:
    """Inputs for every configuration (batch, time, input, hidden): one step, a sequence, and a bigger batch."""
    spec = {
        "cell_class": params.get("cell_class", "GRUCell"),
        "layer_class": params.get("layer_class", "GRU"),
        "configs": params["configs"],
        "square": params.get("square", []),
        "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=generator)),
    }
    inputs: dict[str, torch.Tensor] = {}
    for group in GROUPS:
        for index, (batch, time, size_in, hidden) in enumerate(spec[group]):
            key = f"{group}/{index}"
            inputs[f"{key}/x_step"] = torch.randn(batch, size_in, generator=generator)
            inputs[f"{key}/h"] = torch.rand(batch, hidden, generator=generator) * 2 - 1
            inputs.update(recurrent_inputs(key, batch, time, size_in, hidden, generator))
    return ProbePlan(spec=spec, inputs=inputs)


def recurrent_inputs(key: str, batch: int, time: int, size_in: int, hidden: int,
                     generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A batch of single steps for the cell equivalence search, and a sequence with its initial state."""
    return {
        f"{key}/x_many": torch.randn(EQUIVALENCE_BATCH, size_in, generator=generator) * 1.5,
        f"{key}/h_many": torch.rand(EQUIVALENCE_BATCH, hidden, generator=generator) * 2 - 1,
        f"{key}/x": torch.randn(batch, time, size_in, generator=generator),
        f"{key}/h0": torch.rand(batch, hidden, generator=generator) * 2 - 1,
    }


# --------------------------------------------------------------------------- probe (kernel side)

class CellRun(BaseModel):
    config: list[int]
    constructed: bool = False
    params: list[ParamInfo] = []
    output_kind: str = ""
    output_shape: list[int] | None = None
    calls: list[str] = []


class LayerRun(BaseModel):
    config: list[int]
    constructed: bool = False
    params: list[ParamInfo] = []
    output_kind: str = ""
    outputs_shape: list[int] | None = None
    last_shape: list[int] | None = None
    has_cell: bool = False
    calls: list[str] = []


class ProbeValues(BaseModel):
    cell_status: Literal["missing", "not_a_class", "not_a_module", "ok"] = "missing"
    cell_kind: str = ""
    layer_status: Literal["missing", "not_a_class", "not_a_module", "ok"] = "missing"
    layer_kind: str = ""
    cells: dict[str, list[CellRun]] = {}
    layers: dict[str, list[LayerRun]] = {}


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


def record_gradients(module: torch.nn.Module, output: Any, key: str, infos: list[dict[str, Any]], rec) -> None:
    """Backpropagate a loss that uses every output element; record what reached each parameter."""
    tensors = [t for t in (output if isinstance(output, (tuple, list)) else [output])
               if isinstance(t, torch.Tensor) and t.is_floating_point() and t.requires_grad]
    if tensors:
        rec.attempt(f"{key}/gradients", lambda: sum((t.pow(2).sum() + t.sum()) for t in tensors).backward())
    for info, (_, param) in zip(infos, module.named_parameters()):
        info["grad"] = grad_status(param)


def build_and_call_cell(cls: type, key: str, config: list[int], seed: int, x: torch.Tensor, h: torch.Tensor,
                        rec) -> tuple[dict[str, Any], torch.nn.Module | None, bool, Any]:
    """Kernel side: build the student's cell with recorded random parameters and call it once, traced.

    Returns the run's record so far, the cell, whether the call succeeded, and its output.
    """
    from grader.probe_runtime import trace_torch_calls

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
    return run


def _unroll(cell: torch.nn.Module, x: torch.Tensor, h: torch.Tensor, steps: int, axis: int) -> torch.Tensor:
    """The student's own cell stepped along `axis` of x, outputs stacked on dim 1."""
    outputs = []
    for step in range(steps):
        h = cell(x.select(axis, step), h)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def _probe_layer(cls: type, cell_cls: Any, key: str, config: list[int], seed: int, inputs: dict, rec) -> dict[str, Any]:
    from grader.probe_runtime import trace_torch_calls

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
    cell_status, cell_kind = class_status(namespace, plan["cell_class"])
    layer_status, layer_kind = class_status(namespace, plan["layer_class"])
    rec.put("cell_status", cell_status)
    rec.put("cell_kind", cell_kind)
    rec.put("layer_status", layer_status)
    rec.put("layer_kind", layer_kind)
    cell_cls, layer_cls = namespace.get(plan["cell_class"]), namespace.get(plan["layer_class"])
    cells: dict[str, list] = {}
    layers: dict[str, list] = {}
    for group in GROUPS:
        cells[group], layers[group] = [], []
        for index, config in enumerate(plan[group]):
            seed = plan["seed"] + 1000 * (GROUPS.index(group) + 1) + 10 * index
            if cell_status == "ok":
                cells[group].append(_probe_cell(cell_cls, f"{group}/{index}", config, seed, inputs, rec))
            if layer_status == "ok":
                layers[group].append(_probe_layer(layer_cls, cell_cls, f"{group}/{index}", config, seed + 5,
                                                  inputs, rec))
    rec.put("cells", cells)
    rec.put("layers", layers)


# --------------------------------------------------------------------------- the form search (grader side)

Gate = str
Side = Literal["x", "h"]


@dataclass(frozen=True)
class Form:
    """How a GRU combines its gates: where the reset gate acts, which way z points, the candidate's activation."""

    reset: Literal["after", "before", "none"]
    update: Literal["old", "new"]   # "old": h' = (1-z)*n + z*h (nn.GRU); "new": h' = z*n + (1-z)*h
    candidate: Literal["tanh", "sigmoid"] = "tanh"

    @property
    def valid(self) -> bool:
        return self.reset != "none" and self.candidate == "tanh"

    @property
    def torch_form(self) -> bool:
        return self.reset == "after" and self.update == "old" and self.candidate == "tanh"

    def describe(self) -> str:
        reset = {"after": "r·(W_hn h + b_hn), after the recurrent matmul (as nn.GRU)",
                 "before": "W_hn (r·h), before the recurrent matmul (Cho et al. / d2l)",
                 "none": "no reset gate: n uses W_hn h unscaled"}[self.reset]
        update = "h' = (1−z)·n + z·h" if self.update == "old" else "h' = z·n + (1−z)·h"
        candidate = "" if self.candidate == "tanh" else ", candidate through sigmoid"
        return f"{update}, reset {reset}{candidate}"


VALID_FORMS = [Form(reset, update) for reset in ("after", "before") for update in ("old", "new")]
DIAGNOSTIC_FORMS = [Form(reset, update, "sigmoid") for reset in ("after", "before") for update in ("old", "new")] + [
    Form("none", update) for update in ("old", "new")]


@dataclass
class Unit:
    """One parameter tensor, normalised to [k·H, in] rows (or [k·H] for a bias)."""

    name: str
    kind: Literal["x", "h", "xh", "bias"]
    matrix: torch.Tensor
    chunks: int
    square: bool = False       # [H, H]: the shape cannot tell whether it is stored [out, in] or [in, out]
    transposed: bool = False   # stored [in, k·H]
    tied_to: int | None = None  # a bias that belongs with this weight unit, chunk for chunk


@dataclass
class Layout:
    units: list[Unit]
    problem: str = ""

    def bearing(self, side: Side) -> list[tuple[int, int]]:
        kinds = ("x", "xh") if side == "x" else ("h", "xh")
        return [(u, c) for u, unit in enumerate(self.units) if unit.kind in kinds for c in range(unit.chunks)]

    @property
    def bias_chunks(self) -> int:
        return sum(unit.chunks for unit in self.units if unit.kind == "bias")

    def flags(self) -> Iterator[tuple[bool, bool]]:
        """(square matrices transposed, concatenated weights ordered [h, x]) options worth trying."""
        squares = [False, True] if any(unit.square for unit in self.units) else [False]
        orders = [False, True] if any(unit.kind == "xh" for unit in self.units) else [False]
        return itertools.product(squares, orders)


def _stem(name: str) -> tuple[str, str]:
    """(module path, name stripped of weight/bias words): 'x2h.weight' → ('x2h', ''), 'b_ih' → ('', 'ih')."""
    prefix, _, last = name.rpartition(".")
    stem = last.lower()
    for word in ("weight", "bias", "w", "b"):
        if stem.startswith(word):
            stem = stem[len(word):].lstrip("_")
            break
    return prefix, stem


def parse_layout(params: list[tuple[str, torch.Tensor]], size_in: int, hidden: int, what: str = "GRU") -> Layout:
    """Sort each parameter into input weights, hidden weights, [x, h] weights or biases, by its shape alone."""
    widths = {size_in: "x", hidden: "h", size_in + hidden: "xh"}
    units: list[Unit] = []
    for name, value in params:
        value = value.double()
        if value.dim() == 1 and value.numel() % hidden == 0 and value.numel() > 0:
            units.append(Unit(name, "bias", value, value.numel() // hidden))
            continue
        if value.dim() == 2:
            rows, cols = value.shape
            if cols in widths and rows % hidden == 0:
                units.append(Unit(name, widths[cols], value, rows // hidden, square=rows == cols))
                continue
            if rows in widths and cols % hidden == 0:
                units.append(Unit(name, widths[rows], value.T, cols // hidden, transposed=True))
                continue
        return Layout(units, f"parameter '{name}' {shape_text(value.shape)} has no place in a {what} with"
                             f" input size {size_in} and hidden size {hidden}")
    weights = {_stem(unit.name): u for u, unit in enumerate(units) if unit.kind != "bias"}
    stems = [_stem(unit.name) for unit in units if unit.kind != "bias"]
    for unit in units:
        target = weights.get(_stem(unit.name))
        if unit.kind == "bias" and target is not None and stems.count(_stem(unit.name)) == 1 \
                and units[target].chunks == unit.chunks:
            unit.tied_to = target
    return Layout(units)


@dataclass
class Mapping:
    """Which rows of which parameter play each gate's role, and the resulting reference parameters."""

    gates: tuple[Gate, ...]
    w_x: dict[Gate, torch.Tensor]
    w_h: dict[Gate, torch.Tensor]
    b_x: dict[Gate, torch.Tensor]
    b_h: dict[Gate, torch.Tensor]
    sources: dict[str, str]
    biases: int   # bias values per gate and hidden unit: 0, 1 or 2


def _source(unit: Unit, chunk: int, hidden: int, part: str = "", transposed: bool = False) -> str:
    """Where a gate's block lives, for the report: 'i2h.weight rows [6:12]', 'W_xz (transposed)'."""
    text = unit.name
    if unit.chunks > 1:
        axis = "" if unit.kind == "bias" else ("columns " if unit.transposed else "rows ")
        text += f" {axis}[{chunk * hidden}:{(chunk + 1) * hidden}]"
    text += f" {part}" if part else ""
    return text + (" (transposed)" if unit.transposed or transposed else "")


def weight_blocks(layout: Layout, hidden: int, size_in: int, square_t: bool, hx: bool,
                   ) -> tuple[dict[tuple[int, int], torch.Tensor], dict[tuple[int, int], torch.Tensor]]:
    """[H, I] input blocks and [H, H] hidden blocks keyed by (unit, chunk), under the given layout flags."""
    blocks_x, blocks_h = {}, {}
    for u, unit in enumerate(layout.units):
        if unit.kind == "bias":
            continue
        for c in range(unit.chunks):
            rows = unit.matrix[c * hidden:(c + 1) * hidden]
            if unit.kind == "x":
                blocks_x[(u, c)] = rows
            elif unit.kind == "h":
                blocks_h[(u, c)] = rows.T if unit.square and square_t else rows
            else:
                x_part, h_part = (rows[:, hidden:], rows[:, :hidden]) if hx else (rows[:, :size_in], rows[:, size_in:])
                blocks_x[(u, c)], blocks_h[(u, c)] = x_part, h_part
    return blocks_x, blocks_h


def _gate_assignments(layout: Layout, gates: tuple[Gate, ...]) -> Iterator[tuple[dict, dict]]:
    """Every way to give each gate one input block and one hidden block ([x, h] blocks stay together)."""
    x_bearing, h_bearing = layout.bearing("x"), layout.bearing("h")
    h_only = [ref for ref in h_bearing if ref not in x_bearing]
    for x_order in itertools.permutations(gates):
        x_gate = dict(zip(x_bearing, x_order))
        tied = {ref: x_gate[ref] for ref in h_bearing if ref in x_gate}
        rest = [g for g in gates if g not in tied.values()]
        for h_order in itertools.permutations(rest):
            yield x_gate, {**tied, **dict(zip(h_only, h_order))}


def _bias_assignments(layout: Layout, gates: tuple[Gate, ...], x_gate: dict, h_gate: dict,
                      ) -> Iterator[dict[tuple[int, int], tuple[Gate, Side]]]:
    """Every way to give the bias chunks to (gate, side) slots: none, one per gate, or one per gate and side."""
    chunks = [(u, c) for u, unit in enumerate(layout.units) if unit.kind == "bias" for c in range(unit.chunks)]
    per_gate = len(chunks) // len(gates)
    if not chunks:
        yield {}
        return
    slots = [(g, side) for g in gates for side in (("x",) if per_gate == 1 else ("x", "h"))]
    fixed: dict[tuple[int, int], tuple[Gate, Side]] = {}
    for u, c in chunks:
        target = layout.units[u].tied_to
        if target is None:
            continue
        kind = layout.units[target].kind
        gate = (x_gate if kind != "h" else h_gate)[(target, c)]
        side: Side = "h" if kind == "h" and per_gate == 2 else "x"
        slot = (gate, side)
        if slot not in slots or slot in fixed.values():
            other = (gate, "x" if side == "h" else "h")
            if gate == "n" or other not in slots or other in fixed.values():
                return
            slot = other
        fixed[(u, c)] = slot
    free = [ref for ref in chunks if ref not in fixed]
    open_slots = [slot for slot in slots if slot not in fixed.values()]
    seen: set[tuple] = set()
    for order in itertools.permutations(open_slots):
        assignment = {**fixed, **dict(zip(free, order))}
        # For r and z the two biases only add up, so which side holds which makes no difference.
        key = tuple(sorted((ref, slot if slot[0] == "n" else (slot[0], "x")) for ref, slot in assignment.items()))
        if key not in seen:
            seen.add(key)
            yield assignment


def _mapping(layout: Layout, gates: tuple[Gate, ...], blocks: tuple[dict, dict], x_gate: dict, h_gate: dict,
             bias: dict, hidden: int, flags: tuple[bool, bool]) -> Mapping:
    blocks_x, blocks_h = blocks
    zero = torch.zeros(hidden, dtype=torch.float64)
    w_x = {g: blocks_x[ref] for ref, g in x_gate.items()}
    w_h = {g: blocks_h[ref] for ref, g in h_gate.items()}
    b_x, b_h = dict.fromkeys(gates, zero), dict.fromkeys(gates, zero)
    sources: dict[str, str] = {}
    for ref, g in x_gate.items():
        unit = layout.units[ref[0]]
        part = "" if unit.kind == "x" else ("[h, x] x-part" if flags[1] else "x-part")
        sources[f"W_x{g}"] = _source(unit, ref[1], hidden, part)
    for ref, g in h_gate.items():
        unit = layout.units[ref[0]]
        part = "" if unit.kind == "h" else ("[h, x] h-part" if flags[1] else "h-part")
        sources[f"W_h{g}"] = _source(unit, ref[1], hidden, part, transposed=unit.square and flags[0])
    for (u, c), (g, side) in bias.items():
        vector = layout.units[u].matrix[c * hidden:(c + 1) * hidden]
        if side == "x" or g != "n":
            b_x[g] = b_x[g] + vector
        else:
            b_h[g] = vector
        sources[f"b_{side}{g}"] = _source(layout.units[u], c, hidden)
    return Mapping(gates, w_x, w_h, b_x, b_h, sources, len(bias) // len(gates))


def gru_step(form: Form, mapping: Mapping, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One step of the reference GRU of the given form, in float64."""
    activation = torch.tanh if form.candidate == "tanh" else torch.sigmoid
    pre = {g: x @ mapping.w_x[g].T + mapping.b_x[g] for g in mapping.gates}
    z = torch.sigmoid(pre["z"] + h @ mapping.w_h["z"].T)
    if form.reset == "none":
        n = activation(pre["n"] + h @ mapping.w_h["n"].T + mapping.b_h["n"])
    else:
        r = torch.sigmoid(pre["r"] + h @ mapping.w_h["r"].T)
        if form.reset == "after":
            n = activation(pre["n"] + r * (h @ mapping.w_h["n"].T + mapping.b_h["n"]))
        else:
            n = activation(pre["n"] + (r * h) @ mapping.w_h["n"].T + mapping.b_h["n"])
    return (1 - z) * n + z * h if form.update == "old" else z * n + (1 - z) * h


def gru_unroll(form: Form, mapping: Mapping, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The reference GRU over x [batch, time, input], outputs [batch, time, hidden]."""
    outputs = []
    for step in range(x.shape[1]):
        h = gru_step(form, mapping, x[:, step], h)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def tolerance_gap(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """How far outside the tolerance the worst element is (≤ 0: equal)."""
    return float(((actual - expected).abs() - (ATOL + RTOL * expected.abs())).max())


@dataclass
class SearchResult:
    form: Form | None = None
    mapping: Mapping | None = None
    problem: str = ""
    tried: int = 0
    closest: tuple[float, Form, Mapping] | None = field(default=None, repr=False)


def search(params: list[tuple[str, torch.Tensor]], size_in: int, hidden: int, x: torch.Tensor, h: torch.Tensor,
           output: torch.Tensor, forms: list[Form], gates: tuple[Gate, ...] = ("r", "z", "n")) -> SearchResult:
    """The first (form, mapping of the parameters onto gates) whose reference step reproduces `output`."""
    layout = parse_layout(params, size_in, hidden)
    result = SearchResult()
    if layout.problem:
        result.problem = layout.problem
        return result
    counts = (len(layout.bearing("x")), len(layout.bearing("h")))
    if counts != (len(gates), len(gates)):
        result.problem = (f"its weights hold {counts[0]} input-to-hidden and {counts[1]} hidden-to-hidden blocks of"
                          f" {hidden} rows; this form needs {len(gates)} of each")
        return result
    if layout.bias_chunks not in (0, len(gates), 2 * len(gates)):
        result.problem = (f"its biases hold {layout.bias_chunks}·H values; this form has 0, {len(gates)}·H or"
                          f" {2 * len(gates)}·H")
        return result
    x, h, output = x.double(), h.double(), output.double()
    for flags in layout.flags():
        blocks = weight_blocks(layout, hidden, size_in, *flags)
        for x_gate, h_gate in _gate_assignments(layout, gates):
            for bias in _bias_assignments(layout, gates, x_gate, h_gate):
                mapping = _mapping(layout, gates, blocks, x_gate, h_gate, bias, hidden, flags)
                for form in forms:
                    result.tried += 1
                    gap = tolerance_gap(output, gru_step(form, mapping, x, h))
                    if gap <= 0:
                        result.form, result.mapping = form, mapping
                        return result
                    if result.closest is None or gap < result.closest[0]:
                        result.closest = (gap, form, mapping)
                    if result.tried >= SEARCH_BUDGET:
                        result.problem = f"no match among the first {SEARCH_BUDGET} ways to read its parameters"
                        return result
    return result


# --------------------------------------------------------------------------- checks (grader side)

def _class_problem(ctx: CheckContext, data: ProbeData, which: Literal["cell", "layer"]) -> str | None:
    return class_problem(ctx.notebook, ctx.execution, ctx.plan.spec[f"{which}_class"],
                         getattr(data.values, f"{which}_status"), getattr(data.values, f"{which}_kind"))


def sentence(text: str) -> str:
    """Capitalised, and ending in a full stop unless it already ends a sentence."""
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def _cell_signature(config: list[int]) -> str:
    batch, _, size_in, hidden = config
    return f"GRUCell({size_in}, {hidden}) on x {shape_text([batch, size_in])}, h {shape_text([batch, hidden])}"


def _layer_signature(config: list[int]) -> str:
    batch, time, size_in, hidden = config
    return f"GRU({size_in}, {hidden}) on x {shape_text([batch, time, size_in])}"


def _error(data: ProbeData, key: str, steps: tuple[str, ...] = ("construct", "forward")) -> str | None:
    verbs = {"construct": "constructing it", "forward": "calling it", "many": "calling it", "unroll": "stepping its"
             " GRUCell over time", "gradients": "the backward pass"}
    for step in steps:
        if f"{key}/{step}" in data.errors:
            return f"{verbs[step]} raised {data.errors[f'{key}/{step}']}"
    return None


@check("gru.constructible")
def constructible(ctx: CheckContext) -> Outcome:
    """GRUCell(input, hidden) and GRU(input, hidden) build nn.Modules for every configuration."""
    data = ctx.data()
    problems = [sentence(p) for p in (_class_problem(ctx, data, "cell"), _class_problem(ctx, data, "layer")) if p]
    runs = [(f"{ctx.plan.spec[f'{which}_class']}{tuple(run.config[2:])}", run, f"{group}/{i}/{which}")
            for which, field_name in (("cell", "cells"), ("layer", "layers"))
            for group, group_runs in getattr(data.values, field_name).items() for i, run in enumerate(group_runs)]
    failed = [sentence(f"{name}: {_error(data, key, ('construct',)) or 'it did not return an nn.Module'}")
              for name, run, key in runs if not run.constructed]
    expected = 2 * (len(ctx.plan.spec["configs"]) + len(ctx.plan.spec["square"]))
    built = len(runs) - len(failed)
    if built == expected:
        return Outcome.passed(f"GRUCell and GRU constructed for all {plural(expected // 2, 'configuration')}.")
    return Outcome.partial(built / expected, f"{expected - built} of {expected} constructions failed."
                                             f" {(problems + failed)[0]}")


def _cell_shape_problem(data: ProbeData, run: CellRun, key: str) -> str | None:
    batch, _, _, hidden = run.config
    error = _error(data, f"{key}/cell")
    if error or not run.constructed:
        return error or "it could not be constructed"
    if not run.output_kind:
        return "its forward did not run"
    if run.output_kind != "tensor":
        hint = ": a GRU has a single state h (no cell state c), return the new h alone" \
            if run.output_kind.startswith(("tuple", "list")) else ""
        return f"it returned a {run.output_kind}, not the new h tensor{hint}"
    if run.output_shape != [batch, hidden]:
        return f"it returned {shape_text(run.output_shape)}, expected [batch, hidden] = {shape_text([batch, hidden])}"
    return None


def _layer_shape_problem(data: ProbeData, run: LayerRun, key: str) -> str | None:
    batch, time, _, hidden = run.config
    error = _error(data, f"{key}/layer")
    if error or not run.constructed:
        if error and batch != time and "size" in error.lower():
            error += f"; is it stepping over dim 0 (batch, {batch}) instead of dim 1 (time, {time})?"
        return error or "it could not be constructed"
    if not run.output_kind.startswith(("tuple (tensor, tensor)", "list (tensor, tensor)")):
        return f"it returned a {run.output_kind}; it must return (outputs, h_T)"
    if run.outputs_shape != [batch, time, hidden]:
        verdict = f"outputs is {shape_text(run.outputs_shape)}, expected [batch, time, hidden] = " \
                  f"{shape_text([batch, time, hidden])}"
        if run.outputs_shape == [time, batch, hidden]:
            verdict += ": stack the steps on dim 1 (batch first)"
        return verdict
    if run.last_shape != [batch, hidden]:
        return f"h_T is {shape_text(run.last_shape)}, expected [batch, hidden] = {shape_text([batch, hidden])}"
    return None


@check("gru.shapes")
def shapes(ctx: CheckContext) -> Outcome:
    """GRUCell returns [batch, hidden]; GRU returns ([batch, time, hidden], [batch, hidden]); all sizes differ."""
    data = ctx.data()
    problems: list[str] = []
    total = 0
    for which in ("cell", "layer"):
        problem = _class_problem(ctx, data, which)
        runs = getattr(data.values, f"{which}s").get("configs", [])
        total += len(ctx.plan.spec["configs"])
        if problem:
            problems.extend([sentence(problem)] * len(ctx.plan.spec["configs"]))
            continue
        for index, run in enumerate(runs):
            shape_problem = (_cell_shape_problem if which == "cell" else _layer_shape_problem)(
                data, run, f"configs/{index}")
            if shape_problem:
                signature = (_cell_signature if which == "cell" else _layer_signature)(run.config)
                problems.append(f"{signature}: {shape_problem}")
    if not problems:
        return Outcome.passed(f"GRUCell and GRU return the right shapes in all {plural(total // 2, 'configuration')}.")
    return Outcome.partial((total - len(problems)) / total, f"{len(problems)} of {total} calls have the wrong shape."
                                                             f" {sentence(problems[0])}", problems=problems)


def recorded_params(data: ProbeData, key: str, infos: list[ParamInfo]) -> list[tuple[str, torch.Tensor]] | None:
    values = [data.tensors.get(f"{key}/param/{i}") for i in range(len(infos))]
    if any(value is None for value in values):
        return None
    return [(info.name, value) for info, value in zip(infos, values)]


_cache: dict[str, Any] = {}


def cached_search(data: ProbeData, key: str, *args: Any, **kwargs: Any) -> SearchResult:
    """The form search for one probed module; several checks ask, so the last notebook's answers are kept."""
    if _cache.get("data") is not data:
        _cache.clear()
        _cache["data"] = data
    if key not in _cache:
        _cache[key] = search(*args, **kwargs)
    return _cache[key]


def identify(data: ProbeData, inputs: dict[str, torch.Tensor], run: CellRun, key: str) -> tuple[SearchResult, str]:
    """The standard form matching the cell at `key`, or a failed search and a sentence saying what differs."""
    _, _, size_in, hidden = run.config
    params = recorded_params(data, f"{key}/cell", run.params)
    output = data.tensors.get(f"{key}/cell/out_many")
    if params is None or output is None:
        return SearchResult(), _error(data, f"{key}/cell", ("construct", "forward", "many")) or data.errors.get(
            f"{key}/cell/out_many", "it returned no tensor")
    if not params:
        return SearchResult(), "it has no parameters (use nn.Parameter or nn.Linear so they can be learned)"
    if tuple(output.shape) != (EQUIVALENCE_BATCH, hidden):
        return SearchResult(), f"it returned {shape_text(output.shape)} for {EQUIVALENCE_BATCH} rows"
    probe_inputs = (inputs[f"{key}/x_many"], inputs[f"{key}/h_many"])
    found = cached_search(data, f"{key}/valid", params, size_in, hidden, *probe_inputs, output, VALID_FORMS)
    if found.form:
        return found, ""
    return found, _diagnose(data, key, params, size_in, hidden, probe_inputs, output, found)


def _diagnose(data: ProbeData, key: str, params: list, size_in: int, hidden: int, inputs: tuple, output: torch.Tensor,
              found: SearchResult) -> str:
    """Name what differs from a GRU, where a diagnostic form (no reset gate, sigmoid candidate) explains it."""
    two_gates = cached_search(data, f"{key}/two", params, size_in, hidden, *inputs, output, DIAGNOSTIC_FORMS[-2:],
                              gates=("z", "n"))
    if two_gates.form:
        return ("it has no reset gate: its parameters make only an update gate z and a candidate n ="
                " tanh(W x + U h + b); a GRU also needs r = σ(W_r x + U_r h + b_r) scaling h inside the candidate")
    if found.problem:
        return f"its parameters do not fit a GRU: {found.problem}"
    diagnostic = cached_search(data, f"{key}/diagnostic", params, size_in, hidden, *inputs, output, DIAGNOSTIC_FORMS)
    if diagnostic.form and diagnostic.form.candidate == "sigmoid":
        return "the candidate state n goes through a sigmoid where tanh belongs (n = tanh(W_n x + … ))"
    if diagnostic.form:
        return "the reset gate r is computed but never scales h (or W_hn h) inside the candidate n"
    closest = found.closest
    detail = ""
    if closest:
        _, form, mapping = closest
        reference = gru_step(form, mapping, inputs[0].double(), inputs[1].double())
        detail = f"; the closest reading ({form.describe()}) gives {first_difference(output, reference, ATOL, RTOL)}"
    return (f"no standard GRU form (reset before or after the recurrent matmul, either update convention, with or"
            f" without biases) reproduces its outputs under any of {found.tried} ways to read its parameters{detail}")


def _cell_runs(ctx: CheckContext) -> tuple[ProbeData, list[CellRun], Outcome | None]:
    data = ctx.data()
    problem = _class_problem(ctx, data, "cell")
    return data, data.values.cells.get("configs", []), Outcome.failed(sentence(problem)) if problem else None


@check("gru.cell")
def cell(ctx: CheckContext) -> Outcome:
    """The cell equals a reference GRU of some standard form under some mapping of its parameters."""
    data, runs, unusable = _cell_runs(ctx)
    if unusable:
        return unusable
    problems, forms = [], {}
    for index, run in enumerate(runs):
        key = f"configs/{index}"
        shape_problem = _cell_shape_problem(data, run, key)
        found, why = identify(data, ctx.plan.inputs, run, key) if not shape_problem else (SearchResult(), shape_problem)
        if found.form and found.mapping:
            forms[_cell_signature(run.config)] = {"form": found.form.describe(), "parameters": found.mapping.sources}
        else:
            problems.append(f"{_cell_signature(run.config)}: {why}")
    if not problems:
        first = next(iter(forms.values()))
        return Outcome.passed(f"GRUCell is a correct GRU ({first['form']}) in all {plural(len(runs), 'configuration')}.",
                              forms=forms)
    return Outcome.partial((len(runs) - len(problems)) / len(runs) if runs else 0.0,
                           f"{len(problems)} of {len(runs)} GRUCells are not a GRU. {sentence(problems[0])}",
                           problems=problems, forms=forms)


def _layer_reference(data: ProbeData, run: LayerRun, key: str, inputs: dict) -> tuple[torch.Tensor | None, str,
                                                                                     SearchResult | None]:
    """What the layer must output: its own GRUCell unrolled, or else the GRU its own parameters make; and why not."""
    if f"{key}/layer/unrolled" in data.tensors:
        return data.tensors[f"{key}/layer/unrolled"].double(), "its own GRUCell stepped over time", None
    if run.has_cell:
        return None, _error(data, f"{key}/layer", ("unroll",)) or "its GRUCell could not be stepped over time", None
    _, _, size_in, hidden = run.config
    params = recorded_params(data, f"{key}/layer", run.params)
    outputs = data.tensors.get(f"{key}/layer/outputs")
    if not params or outputs is None:
        return None, "it holds no GRUCell and no parameters the grader can read", None
    x, h0 = inputs[f"{key}/x"], inputs[f"{key}/h0"]
    found = cached_search(data, f"{key}/layer", params, size_in, hidden, x[:, 0], h0, outputs[:, 0], VALID_FORMS)
    if not (found.form and found.mapping):
        return None, ("it holds no GRUCell, and its own parameters make no standard GRU whose first step reproduces"
                      " its first output"), None
    return gru_unroll(found.form, found.mapping, x.double(), h0.double()), "the GRU its parameters make", found


def _builtin_gru_difference(found: SearchResult, x: torch.Tensor, h0: torch.Tensor, outputs: torch.Tensor,
                            last: torch.Tensor) -> str | None:
    """For the nn.GRU form: the layer against nn.GRU(batch_first=True) loaded with the mapped weights."""
    mapping = found.mapping
    assert mapping is not None
    hidden = h0.shape[1]
    gru = torch.nn.GRU(x.shape[2], hidden, batch_first=True).double()
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.cat([mapping.w_x[g] for g in "rzn"]))
        gru.weight_hh_l0.copy_(torch.cat([mapping.w_h[g] for g in "rzn"]))
        gru.bias_ih_l0.copy_(torch.cat([mapping.b_x[g] for g in "rzn"]))
        gru.bias_hh_l0.copy_(torch.cat([mapping.b_h[g] for g in "rzn"]))
        expected, expected_last = gru(x.double(), h0.double()[None])
    return first_difference(outputs, expected, ATOL, RTOL) or first_difference(last, expected_last[0], ATOL, RTOL)


def _layer_problem(data: ProbeData, run: LayerRun, key: str, inputs: dict) -> str | None:
    batch, time, _, _ = run.config
    shape_problem = _layer_shape_problem(data, run, key)
    if shape_problem:
        return shape_problem
    outputs, last = data.tensors[f"{key}/layer/outputs"].double(), data.tensors[f"{key}/layer/last"].double()
    expected, what, found = _layer_reference(data, run, key, inputs)
    if expected is None:
        return what
    difference = first_difference(outputs, expected, ATOL, RTOL)
    if difference:
        walked = data.tensors.get(f"{key}/layer/unrolled_batch")
        if walked is not None and (first_difference(outputs, walked.double(), ATOL, RTOL) is None or
                                   first_difference(outputs, walked.double().transpose(0, 1), ATOL, RTOL) is None):
            return BATCH_AXIS + ": x is [batch, time, input], so step t must take x[:, t], not x[t]"
        return f"outputs differ from {what}: {difference}"
    if first_difference(last, outputs[:, -1], ATOL, RTOL):
        return f"h_T is not outputs[:, -1] (the state after the last of the {time} steps): " \
               f"{first_difference(last, outputs[:, -1], ATOL, RTOL)}"
    if found is None and run.params:
        _, _, size_in, hidden = run.config
        params = recorded_params(data, f"{key}/layer", run.params)
        x, h0 = inputs[f"{key}/x"], inputs[f"{key}/h0"]
        if params:
            found = cached_search(data, f"{key}/layer", params, size_in, hidden, x[:, 0], h0, outputs[:, 0],
                                  VALID_FORMS)
    if found and found.form and found.form.torch_form:
        difference = _builtin_gru_difference(found, inputs[f"{key}/x"], inputs[f"{key}/h0"], outputs, last)
        if difference:
            return f"it differs from nn.GRU(batch_first=True) with its own weights: {difference}"
    return None


@check("gru.layer")
def layer(ctx: CheckContext) -> Outcome:
    """GRU equals its own GRUCell unrolled over the time axis, h_T = outputs[:, -1]; nn.GRU for the torch form."""
    data = ctx.data()
    problem = _class_problem(ctx, data, "layer")
    if problem:
        return Outcome.failed(sentence(problem))
    runs = [(f"{group}/{i}", run) for group in GROUPS for i, run in enumerate(data.values.layers.get(group, []))]
    problems = [f"{_layer_signature(run.config)}: {why}" for key, run in runs
                if (why := _layer_problem(data, run, key, ctx.plan.inputs))]
    # A layer that steps over the batch axis only runs when batch == time; lead with that diagnosis.
    problems.sort(key=lambda problem: BATCH_AXIS not in problem)
    if not problems:
        return Outcome.passed(f"GRU steps its GRUCell over the time axis and returns h_T = outputs[:, -1]"
                              f" ({plural(len(runs), 'configuration')}).")
    return Outcome.partial((len(runs) - len(problems)) / len(runs) if runs else 0.0,
                           f"{len(problems)} of {len(runs)} GRU layers are wrong. {sentence(problems[0])}",
                           problems=problems)


def _gradient_run(runs: dict[str, list], which: str) -> tuple[str, Any] | None:
    """The first configuration whose forward ran (its gradients were measured), else the first one built."""
    keyed = [(f"{group}/{i}/{which}", run) for group in GROUPS for i, run in enumerate(runs.get(group, []))]
    return next((item for item in keyed if item[1].output_kind), next(iter(keyed), None))


@check("gru.gradients")
def gradients(ctx: CheckContext) -> Outcome:
    """A backward pass reaches every trainable parameter of GRUCell and GRU with a finite, non-zero gradient."""
    data = ctx.data()
    reasons = {"none": "got no gradient (not used in forward, or detached)", "zero": "got an all-zero gradient",
               "nonfinite": "got a NaN or infinite gradient", "not_measured": "was not measured"}
    checked, bad = 0, []
    for which, name in (("cell", ctx.plan.spec["cell_class"]), ("layer", ctx.plan.spec["layer_class"])):
        found = _gradient_run(getattr(data.values, f"{which}s"), which)
        if found is None:
            continue
        key, run = found
        error = _error(data, key, ("forward", "gradients"))
        if error or not run.output_kind:
            bad.append(f"{name}: {error or 'its forward never ran, so no gradient could be measured'}")
            checked += 1
            continue
        for param in (p for p in run.params if p.trainable):
            checked += 1
            if param.grad != "ok":
                bad.append(f"{name} '{param.name}' {shape_text(param.shape)} {reasons[param.grad]}")
    if not checked:
        return Outcome.failed("No trainable parameters were found in GRUCell or GRU, so nothing can learn.")
    if not bad:
        return Outcome.passed(f"Gradients reach every trainable parameter ({plural(checked, 'tensor')}).")
    return Outcome.partial((checked - len(bad)) / checked, f"{len(bad)} of {checked} parameters: {sentence(bad[0])}")


@check("gru.param_count")
def param_count(ctx: CheckContext) -> Outcome:
    """Trainable parameters = 3·H·(I+H), plus the form's biases (0, 3H or 6H)."""
    data, runs, unusable = _cell_runs(ctx)
    if unusable:
        return unusable
    built = [(f"configs/{i}", run) for i, run in enumerate(runs) if run.constructed]
    if not built:
        return Outcome.failed("GRUCell could not be constructed, so its parameters could not be counted.")
    problems = []
    for key, run in built:
        _, _, size_in, hidden = run.config
        count = sum(math.prod(p.shape) for p in run.params if p.trainable)
        weights = 3 * hidden * (size_in + hidden)
        found, _ = identify(data, ctx.plan.inputs, run, key)
        if found.form and found.mapping:
            expected = weights + found.mapping.biases * 3 * hidden
            if count != expected:
                problems.append(f"GRUCell({size_in}, {hidden}) has {count} trainable parameters; the form found has"
                                f" 3·H·(I+H) + {found.mapping.biases * 3}·H = {expected} (are some frozen?)")
        elif count not in (weights, weights + 3 * hidden, weights + 6 * hidden):
            problems.append(f"GRUCell({size_in}, {hidden}) has {count} trainable parameters; a GRU has 3·H·(I+H) ="
                            f" {weights}, plus 3·H = {3 * hidden} or 6·H = {6 * hidden} for biases")
    if not problems:
        return Outcome.passed(f"Parameter counts are 3·H·(I+H) plus the biases for all {len(built)} GRUCells.")
    return Outcome.partial((len(built) - len(problems)) / len(built), problems[0] + ".")



def from_scratch_outcome(ctx: CheckContext, class_names: list[str], forbidden_names: list[str],
                         traced: list[list[str]], substrings: list[str], what: str) -> Outcome:
    """Shared by the GRU and RNN exercises: no built-in recurrent layer called at run time (the source says where)."""
    static = forbidden_references(ctx.notebook, class_names, set(forbidden_names))
    return scratch_verdict(" and ".join(class_names), what, static, traced, substrings)


@check("gru.from_scratch")
def from_scratch(ctx: CheckContext, forbidden_names: list[str], forbidden_call_substrings: list[str]) -> Outcome:
    """No nn.GRU, nn.GRUCell, torch.gru, torch.gru_cell or _VF called at run time; the source names where."""
    data = ctx.data()
    names = [ctx.plan.spec["cell_class"], ctx.plan.spec["layer_class"]]
    traced = [run.calls for group in (data.values.cells, data.values.layers) for runs in group.values()
              for run in runs if run.output_kind]
    return from_scratch_outcome(ctx, names, forbidden_names, traced, forbidden_call_substrings, "GRU")
