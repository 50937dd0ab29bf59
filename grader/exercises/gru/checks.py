"""GRU from scratch, grader side: the checks, run in the grader's own process on what the probe measured."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal

import torch

from grader.check import CheckContext, Outcome
from grader.checks.analysis import class_problem, first_difference, plural, shape_text
from grader.checks.gate_layouts import (Gate, Layout, Mapping, Side, bias_vector, block_source, element_labels,
                                        flat_params, parse_layout, parse_layouts, recorded_params, weight_blocks,
                                        weight_source)
from grader.checks.recurrent import (ATOL, EQUIVALENCE_BATCH, RTOL, from_scratch_outcome, gradients_outcome,
                                     param_count_outcome, sentence, tolerance_gap)
from grader.exercise import CheckParams
from grader.exercises.gru.kernel import BACKGROUND, GROUPS, Role, element_roles
from grader.exercises.gru.plan import BEHAVIOUR_ROWS, FIT_ROWS
from grader.exercises.gru.schema import CellRun, LayerRun
from grader.kernel.recurrent import DRIVER_FLOOR, EFFECT, close, drivers, explain, logit
from grader.probe import ProbeData

SEARCH_BUDGET = 40_000   # candidate (mapping, form) pairs tried before giving up
BATCH_AXIS = "it steps over the batch axis"
MAX_CHUNKS = 6           # a GRU tensor holds at most 6 gate blocks (3 gates × input and hidden side)


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


def _bias_vectors(layout: Layout, gates: tuple[Gate, ...], bias: dict, hidden: int,
                  ) -> tuple[dict[Gate, torch.Tensor], dict[Gate, torch.Tensor]]:
    """Each gate's input-side and hidden-side bias under one assignment of bias chunks to (gate, side)."""
    zero = torch.zeros(hidden, dtype=torch.float64)
    b_x, b_h = dict.fromkeys(gates, zero), dict.fromkeys(gates, zero)
    for (u, c), (g, side) in bias.items():
        vector = bias_vector(layout, (u, c), hidden)
        if side == "x" or g != "n":
            b_x[g] = b_x[g] + vector
        else:
            b_h[g] = vector
    return b_x, b_h


def _mapping(layout: Layout, gates: tuple[Gate, ...], blocks: tuple[dict, dict], x_gate: dict, h_gate: dict,
             bias: dict, hidden: int, flags: tuple[bool, bool]) -> Mapping:
    blocks_x, blocks_h = blocks
    w_x = {g: blocks_x[ref] for ref, g in x_gate.items()}
    w_h = {g: blocks_h[ref] for ref, g in h_gate.items()}
    b_x, b_h = _bias_vectors(layout, gates, bias, hidden)
    sources: dict[str, str] = {}
    for side, assigned in (("x", x_gate), ("h", h_gate)):
        for ref, g in assigned.items():
            sources[f"W_{side}{g}"] = weight_source(layout, ref, side, hidden, flags)
    for (u, c), (g, side) in bias.items():
        sources[f"b_{side}{g}"] = block_source(layout.units[u], c, hidden)
    return Mapping(gates, w_x, w_h, b_x, b_h, sources, len(bias) // len(gates))


def _step_from_products(form: Form, gx: dict[Gate, torch.Tensor], gh: dict[Gate, torch.Tensor],
                        b_x: dict[Gate, torch.Tensor], b_h: dict[Gate, torch.Tensor], h: torch.Tensor,
                        w_hn: torch.Tensor) -> torch.Tensor:
    """gru_step from the gates' precomputed x·W and h·U products (the search's inner loop)."""
    activation = torch.tanh if form.candidate == "tanh" else torch.sigmoid
    z = torch.sigmoid(gx["z"] + b_x["z"] + gh["z"])
    if form.reset == "none":
        n = activation(gx["n"] + b_x["n"] + gh["n"] + b_h["n"])
    else:
        r = torch.sigmoid(gx["r"] + b_x["r"] + gh["r"])
        if form.reset == "after":
            n = activation(gx["n"] + b_x["n"] + r * (gh["n"] + b_h["n"]))
        else:
            n = activation(gx["n"] + b_x["n"] + (r * h) @ w_hn.T + b_h["n"])
    return (1 - z) * n + z * h if form.update == "old" else z * n + (1 - z) * h


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


@dataclass
class SearchResult:
    form: Form | None = None
    mapping: Mapping | None = None
    problem: str = ""
    tried: int = 0
    closest: tuple[float, Form, Mapping] | None = field(default=None, repr=False)
    reading: str = ""     # how the parameters were read (or BY_BEHAVIOUR), for the report
    seconds: float = 0.0
    behaviour: "BehaviourReading | None" = None


def _layout_problem(layout: Layout, gates: tuple[Gate, ...], hidden: int) -> str:
    """Why a reading of the parameters cannot make a GRU with these gates ('' when its block counts fit)."""
    counts = (len(layout.bearing("x")), len(layout.bearing("h")))
    if counts != (len(gates), len(gates)):
        return (f"its weights hold {counts[0]} input-to-hidden and {counts[1]} hidden-to-hidden blocks of"
                f" {hidden} rows; this form needs {len(gates)} of each")
    if layout.bias_chunks not in (0, len(gates), 2 * len(gates)):
        return (f"its biases hold {layout.bias_chunks}·H values; this form has 0, {len(gates)}·H or"
                f" {2 * len(gates)}·H")
    return ""


def search(params: list[tuple[str, torch.Tensor]], size_in: int, hidden: int, x: torch.Tensor, h: torch.Tensor,
           output: torch.Tensor, forms: list[Form], gates: tuple[Gate, ...] = ("r", "z", "n")) -> SearchResult:
    """The first (form, reading of the parameters as gate blocks, mapping of blocks onto gates) whose reference
    step reproduces `output`. Every reading of every tensor is tried, plain readings first; each reading gets an
    equal share of what is left of the budget, so one wrong reading cannot spend it all."""
    started = time.perf_counter()
    result = SearchResult()
    layouts = parse_layouts(params, size_in, hidden, "GRU", MAX_CHUNKS,
                            fits=lambda layout: not _layout_problem(layout, gates, hidden))
    if not layouts or layouts[0].problem:
        plain = parse_layout(params, size_in, hidden, "GRU", MAX_CHUNKS)
        result.problem = plain.problem or _layout_problem(plain, gates, hidden)
        return result
    x, h, output = x.double(), h.double(), output.double()
    closest: tuple | None = None
    for index, layout in enumerate(layouts):
        share = result.tried + (SEARCH_BUDGET - result.tried) // (len(layouts) - index)
        closest = _search_layout(layout, size_in, hidden, x, h, output, forms, gates, result, share, closest)
        if result.form:
            result.reading = "; ".join(unit.describe() for unit in layout.units)
            break
    if not result.form and result.tried >= SEARCH_BUDGET - len(forms):
        result.problem = f"no match among the first {SEARCH_BUDGET} ways to read its parameters"
    if closest and not result.form:
        gap, form, layout, blocks, x_gate, h_gate, bias, flags = closest
        result.closest = (gap, form, _mapping(layout, gates, blocks, x_gate, h_gate, bias, hidden, flags))
    result.seconds = time.perf_counter() - started
    return result


def _search_layout(layout: Layout, size_in: int, hidden: int, x: torch.Tensor, h: torch.Tensor, output: torch.Tensor,
                   forms: list[Form], gates: tuple[Gate, ...], result: SearchResult, budget: int,
                   closest: tuple | None) -> tuple | None:
    """Try every gate assignment, bias assignment and form under one reading until one matches or `result.tried`
    reaches `budget`; returns the closest candidate so far (built into a Mapping only at the end)."""
    for flags in layout.flags():
        blocks = weight_blocks(layout, hidden, size_in, *flags)
        products_x = {ref: x @ block.T for ref, block in blocks[0].items()}
        products_h = {ref: h @ block.T for ref, block in blocks[1].items()}
        for x_gate, h_gate in _gate_assignments(layout, gates):
            gx = {g: products_x[ref] for ref, g in x_gate.items()}
            gh = {g: products_h[ref] for ref, g in h_gate.items()}
            w_hn = next(blocks[1][ref] for ref, g in h_gate.items() if g == "n")
            for bias in _bias_assignments(layout, gates, x_gate, h_gate):
                b_x, b_h = _bias_vectors(layout, gates, bias, hidden)
                for form in forms:
                    result.tried += 1
                    gap = tolerance_gap(output, _step_from_products(form, gx, gh, b_x, b_h, h, w_hn))
                    if gap <= 0:
                        result.form = form
                        result.mapping = _mapping(layout, gates, blocks, x_gate, h_gate, bias, hidden, flags)
                        return None
                    if closest is None or gap < closest[0]:
                        closest = (gap, form, layout, blocks, x_gate, h_gate, bias, flags)
                if result.tried >= budget:
                    return closest
    return closest


BY_BEHAVIOUR = ("matched by behaviour: no reading of its tensors as gate blocks fits, so each parameter element"
                " was set alone to see which gate, input and unit it drives; read that way, its parameters make a GRU"
                f" whose outputs equal the cell's on two random parameter draws × {FIT_ROWS} inputs")


def _reset_role(delta: torch.Tensor, background: torch.Tensor, recurrent: torch.Tensor, h: torch.Tensor,
                driver_matrix: tuple[list, torch.Tensor]) -> Role | None:
    """The r role of an element that did nothing alone, from its effect once W_hn = `recurrent` is switched on.

    Then z = ½, so n = 2·h' − h. Reset after the recurrent matmul (nn.GRU): only unit j changes, with
    n_j = tanh(r_j·(U h)_j). Reset before it (Cho et al., d2l): every unit m changes, with
    n_m = tanh(Σ_l U[m, l]·r_l·h_l), r_l = ½ except r_j.
    """
    changed = (delta.abs().amax(0) > EFFECT).nonzero().flatten().tolist()
    if not changed:
        return None
    response = background + delta
    n = torch.atanh((2 * response - h).clamp(-1 + 1e-12, 1 - 1e-12))
    if len(changed) == 1:
        unit = changed[0]
        total = h @ recurrent[unit]
        rate = n[:, unit] / total
        found = explain(rate, logit(rate), torch.sigmoid, (total.abs() > DRIVER_FLOOR), driver_matrix)
        if found:
            side, column, scale, driver = found
            expected = (torch.tanh(torch.sigmoid(scale * driver) * total) + h[:, unit]) / 2
            if bool(close(expected, response[:, unit])):
                return Role("r", side, unit, column, scale, "after")
    strongest = int(delta.abs().amax(0).argmax())
    weights = recurrent[strongest]
    for unit in range(h.shape[1]):
        others = (h * weights).sum(1) / 2 - weights[unit] * h[:, unit] / 2
        rate = (n[:, strongest] - others) / (weights[unit] * h[:, unit])
        found = explain(rate, logit(rate), torch.sigmoid, h[:, unit].abs() > DRIVER_FLOOR, driver_matrix)
        if not found:
            continue
        side, column, scale, driver = found
        rates = torch.full_like(h, 0.5)
        rates[:, unit] = torch.sigmoid(scale * driver)
        if bool(close((torch.tanh((rates * h) @ recurrent.T) + h) / 2, response).all()):
            return Role("r", side, unit, column, scale, "before")
    return Role("?", "b", strongest, len(changed), 0.0)


@dataclass
class BehaviourReading:
    """A GRU read off the cell's behaviour: the form, the gate parameters under the probe's draw, where they live."""

    form: Form | None = None
    mapping: Mapping | None = None
    problem: str = ""
    active: int = 0
    unused: list[str] = field(default_factory=list)


def _behaviour_mapping(roles: dict[int, Role], theta: torch.Tensor, size_in: int, hidden: int,
                       hidden_side: set[int], update: str, labels: list[str]) -> Mapping:
    """The gate parameters the roles give for one draw of the parameters (element values `theta`)."""
    gates = ("r", "z", "n")
    w_x = {g: torch.zeros(hidden, size_in, dtype=torch.float64) for g in gates}
    w_h = {g: torch.zeros(hidden, hidden, dtype=torch.float64) for g in gates}
    b_x = {g: torch.zeros(hidden, dtype=torch.float64) for g in gates}
    b_h = {g: torch.zeros(hidden, dtype=torch.float64) for g in gates}
    owners: dict[str, dict[str, int]] = {}
    for element, role in roles.items():
        value = float(theta[element]) * role.scale
        if role.gate == "n" and (role.side == "h" or element in hidden_side):
            value *= 2   # read at r = ½
        if role.gate == "z" and update == "new":
            value = -value
        if role.side == "x":
            w_x[role.gate][role.unit, role.column] += value
            key = f"W_x{role.gate}"
        elif role.side == "h":
            w_h[role.gate][role.unit, role.column] += value
            key = f"W_h{role.gate}"
        elif element in hidden_side:
            b_h["n"][role.unit] += value
            key = "b_hn"
        else:
            b_x[role.gate][role.unit] += value
            key = f"b_x{role.gate}"
        name = labels[element].split("[")[0]
        owners.setdefault(key, {}).setdefault(name, 0)
        owners[key][name] += 1
    sources = {key: ", ".join(f"{name} ({plural(count, 'element')})" for name, count in names.items())
               for key, names in owners.items()}
    biases = sum(1 for role in roles.values() if role.side == "b")
    return Mapping(gates, w_x, w_h, b_x, b_h, sources, round(biases / (3 * hidden)))


def read_by_behaviour(data: ProbeData, inputs: dict[str, torch.Tensor], run: CellRun, key: str) -> BehaviourReading:
    """Read the cell as a GRU from its responses (see _probe_behaviour), then verify that reading on two random
    parameter draws: the outputs must equal the reference GRU it gives, to the usual tolerance."""
    _, _, size_in, hidden = run.config
    where = f"{key}/cell/behaviour"
    needed = ["fit/0", "fit/1", "base", "single", "background", "second"]
    if where in data.errors or any(f"{where}/{name}" not in data.tensors for name in needed):
        return BehaviourReading(problem=f"its behaviour could not be measured"
                                        f"{': ' + data.errors[where] if where in data.errors else ''}")
    tensors = {name: data.tensors[f"{where}/{name}"].double() for name in needed}
    design_x, design_h = inputs[f"{key}/design_x"].double(), inputs[f"{key}/design_h"].double()
    labels = element_labels(run.params)
    if tuple(tensors["single"].shape) != (len(labels), BEHAVIOUR_ROWS, hidden):
        return BehaviourReading(problem="its behaviour could not be measured (the responses have the wrong shape)")
    difference = first_difference(tensors["base"], design_h / 2, 2 * EFFECT, 1e-4)
    if difference:
        return BehaviourReading(problem="with every parameter set to 0 a GRU returns h/2 (z = σ(0) = ½, n = tanh(0) ="
                                        f" 0); this cell gives {difference}")
    first = element_roles(tensors["base"], tensors["single"], design_x, design_h)
    unexplained = next((number for number, role in enumerate(first) if role and role.gate == "?"), None)
    if unexplained is not None:
        role = first[unexplained]
        what = (f"changes {role.column} hidden units at once; a GRU weight acts on one unit" if role.column > 1 else
                f"changes hidden unit {role.unit} in a way no GRU weight (z or candidate n) explains")
        return BehaviourReading(problem=f"set alone, parameter element {labels[unexplained]} {what}")
    recurrent = torch.zeros(hidden, hidden, dtype=torch.float64)
    for role in first:
        if role and (role.gate, role.side) == ("n", "h"):
            recurrent[role.unit, role.column] += 2 * role.scale * BACKGROUND
    silent = [number for number, role in enumerate(first) if role is None]
    if tensors["second"].shape[0] != len(silent):
        return BehaviourReading(problem="its behaviour changed between the grader's two rounds of measurements")
    driver_matrix = drivers(design_x, design_h)
    roles = {number: role for number, role in enumerate(first) if role}
    unused = []
    for number, response in zip(silent, tensors["second"]):
        role = _reset_role(response - tensors["background"], tensors["background"], recurrent, design_h, driver_matrix)
        if role is None:
            unused.append(labels[number])
        elif role.gate == "?":
            return BehaviourReading(problem=f"parameter element {labels[number]} acts only once W_hn is switched on,"
                                            " but not as any reset-gate weight would")
        else:
            roles[number] = role
    return _verify_behaviour(data, inputs, run, key, roles, labels, unused)


def _missing_weight(roles: dict[int, Role], size_in: int, hidden: int) -> str | None:
    covered = {(role.gate, role.side, role.unit, role.column) for role in roles.values() if role.side != "b"}
    for gate in ("r", "z", "n"):
        for side, width in (("x", size_in), ("h", hidden)):
            for unit, column in itertools.product(range(hidden), range(width)):
                if (gate, side, unit, column) not in covered:
                    return f"W_{side}{gate}[{unit}, {column}]"
    return None


def _verify_behaviour(data: ProbeData, inputs: dict[str, torch.Tensor], run: CellRun, key: str,
                      roles: dict[int, Role], labels: list[str], unused: list[str]) -> BehaviourReading:
    _, _, size_in, hidden = run.config
    resets = {role.reset for role in roles.values() if role.gate == "r"}
    if not resets:
        return BehaviourReading(problem="no parameter acts as a reset gate r: none changes the candidate n once"
                                        " W_hn is switched on")
    if len(resets) > 1:
        return BehaviourReading(problem="its reset-gate weights disagree on where r acts (some after the recurrent"
                                        " matmul, some before it)")
    missing = _missing_weight(roles, size_in, hidden)
    if missing:
        return BehaviourReading(problem=f"no parameter element acts as the gate weight {missing}, so it is not a"
                                        f" full GRU (3·H·(I+H) = {3 * hidden * (size_in + hidden)} weights)")
    z_scales = [role.scale for role in roles.values() if role.gate == "z"]
    update = "new" if z_scales and all(scale < 0 for scale in z_scales) else "old"
    form = Form(resets.pop(), update)
    draws = [(flat_params(data, f"{key}/cell", len(run.params)), f"{key}/cell/behaviour/fit/0"),
             (flat_params(data, f"{key}/cell/behaviour/draw", len(run.params)), f"{key}/cell/behaviour/fit/1")]
    if any(theta is None or theta.numel() != len(labels) for theta, _ in draws):
        return BehaviourReading(problem="its parameters were not all recorded")
    fit_x, fit_h = inputs[f"{key}/fit_x"].double(), inputs[f"{key}/fit_h"].double()
    hidden_side = _split_candidate_biases(roles, form, draws[0][0], data.tensors[draws[0][1]].double(), fit_x, fit_h,
                                          size_in, hidden, labels)
    mapping = None
    for theta, output in draws:
        mapping_here = _behaviour_mapping(roles, theta, size_in, hidden, hidden_side, update, labels)
        difference = first_difference(data.tensors[output].double(), gru_step(form, mapping_here, fit_x, fit_h),
                                      ATOL, RTOL)
        if difference:
            return BehaviourReading(problem=f"read by its behaviour it would be a GRU ({form.describe()}), but with"
                                            f" random parameters its outputs differ: {difference}")
        mapping = mapping or mapping_here
    return BehaviourReading(form, mapping, active=len(roles), unused=unused)


def _split_candidate_biases(roles: dict[int, Role], form: Form, theta: torch.Tensor, output: torch.Tensor,
                            x: torch.Tensor, h: torch.Tensor, size_in: int, hidden: int, labels: list[str]) -> set[int]:
    """Which candidate biases sit inside r·(W_hn h + b_hn) (reset after the matmul): per unit, the split whose
    outputs on the fit batch come closest. Alone, at r = ½, the two kinds of bias differ only by a factor 2."""
    if form.reset != "after":
        return set()
    inside: set[int] = set()
    update = form.update
    for unit in range(hidden):
        candidates = [n for n, role in roles.items() if (role.gate, role.side, role.unit) == ("n", "b", unit)][:4]
        best: tuple[float, set[int]] | None = None
        for choice in itertools.product((False, True), repeat=len(candidates)):
            trial = {n for n, hidden_side in zip(candidates, choice) if hidden_side}
            mapping = _behaviour_mapping(roles, theta, size_in, hidden, inside | trial, update, labels)
            gap = float((gru_step(form, mapping, x, h)[:, unit] - output[:, unit]).abs().max())
            if best is None or gap < best[0]:
                best = (gap, trial)
        inside |= best[1] if best else set()
    return inside


def _class_problem(ctx: CheckContext, data: ProbeData, which: Literal["cell", "layer"]) -> str | None:
    return class_problem(ctx.notebook, ctx.execution, ctx.plan.spec[f"{which}_class"],
                         getattr(data.values, f"{which}_status"), getattr(data.values, f"{which}_kind"))


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
    table = _shape_table(data)
    if not problems:
        return Outcome.passed(f"GRUCell and GRU return the right shapes in all {plural(total // 2, 'configuration')}.",
                              shapes=table)
    return Outcome.partial((total - len(problems)) / total, f"{len(problems)} of {total} calls have the wrong shape."
                                                             f" {sentence(problems[0])}", problems=problems,
                           shapes=table)


def _shape_table(data: ProbeData) -> dict[str, Any]:
    """Every call's expected and returned shapes side by side (a table in the report)."""
    rows = []
    for run in data.values.cells.get("configs", []):
        batch, _, _, hidden = run.config
        got = shape_text(run.output_shape) if run.output_kind == "tensor" else (run.output_kind or "no result (the call failed)")
        rows.append([_cell_signature(run.config), shape_text([batch, hidden]), got,
                     "ok" if run.output_kind == "tensor" and run.output_shape == [batch, hidden] else "wrong"])
    for run in data.values.layers.get("configs", []):
        batch, time, _, hidden = run.config
        expected = f"outputs {shape_text([batch, time, hidden])}, h_T {shape_text([batch, hidden])}"
        pair = run.output_kind.startswith(("tuple (tensor, tensor)", "list (tensor, tensor)"))
        got = f"outputs {shape_text(run.outputs_shape)}, h_T {shape_text(run.last_shape)}" if pair else \
            (run.output_kind or "no result (the call failed)")
        rows.append([_layer_signature(run.config), expected, got, "ok" if got == expected else "wrong"])
    return {"chart": "table", "title": "Shapes, expected and got", "columns": ["call", "expected", "got", ""],
            "rows": rows}


_cache: dict[str, Any] = {}


def _cached(data: ProbeData, key: str, compute: Callable[[], Any]) -> Any:
    """Several checks ask the same questions of one notebook's probe data, so its last answers are kept."""
    if _cache.get("data") is not data:
        _cache.clear()
        _cache["data"] = data
    if key not in _cache:
        _cache[key] = compute()
    return _cache[key]


def cached_search(data: ProbeData, key: str, *args: Any, **kwargs: Any) -> SearchResult:
    """The form search for one probed module, computed once per notebook."""
    return _cached(data, key, lambda: search(*args, **kwargs))


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
    behaviour = _cached(data, f"{key}/behaviour", lambda: read_by_behaviour(data, inputs, run, key))
    if behaviour.form:
        return SearchResult(behaviour.form, behaviour.mapping, tried=found.tried, reading=BY_BEHAVIOUR,
                            behaviour=behaviour), ""
    why = _diagnose(data, key, params, size_in, hidden, probe_inputs, output, found)
    if why.startswith(("no standard GRU form", "its parameters do not fit")):
        why += f"; read by its behaviour instead, {behaviour.problem}"
    return found, why


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
            reading = found.reading if found.behaviour else f"parameters read as: {found.reading}"
            forms[_cell_signature(run.config)] = {"form": found.form.describe(), "reading": reading,
                                                  "parameters": found.mapping.sources}
        else:
            problems.append(f"{_cell_signature(run.config)}: {why}")
    if not problems:
        first = next(iter(forms.values()))
        how = "matched by behaviour" if first["reading"] == BY_BEHAVIOUR else "read from its parameter tensors"
        return Outcome.passed(f"GRUCell is a correct GRU ({first['form']}) in all {plural(len(runs), 'configuration')},"
                              f" {how} (details below).", forms=forms)
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
    # A layer that holds a GRUCell equals it unrolled, and the cell check decides whether that is a GRU.
    if found and found.form and found.form.torch_form:
        difference = _builtin_gru_difference(found, inputs[f"{key}/x"], inputs[f"{key}/h0"], outputs, last)
        if difference:
            return f"it differs from nn.GRU(batch_first=True) with its own weights: {difference}"
    return None


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


def gradients(ctx: CheckContext) -> Outcome:
    """A backward pass reaches every trainable parameter of GRUCell and GRU with a finite, non-zero gradient."""
    return gradients_outcome(ctx, GROUPS, lambda data, key: _error(data, key, ("forward", "gradients")))


def param_count(ctx: CheckContext) -> Outcome:
    """Trainable parameters = 3·H·(I+H), plus the form's biases (0, 3H or 6H)."""
    return param_count_outcome(ctx, 3, "a GRU", _cell_runs, identify)


class FromScratchParams(CheckParams):
    forbidden_names: list[str]
    forbidden_call_substrings: list[str]


def from_scratch(ctx: CheckContext, forbidden_names: list[str], forbidden_call_substrings: list[str]) -> Outcome:
    """No nn.GRU, nn.GRUCell, torch.gru, torch.gru_cell or _VF called at run time; the source names where."""
    data = ctx.data()
    names = [ctx.plan.spec["cell_class"], ctx.plan.spec["layer_class"]]
    traced = [run.calls for group in (data.values.cells, data.values.layers) for runs in group.values()
              for run in runs if run.output_kind]
    return from_scratch_outcome(ctx, names, forbidden_names, traced, forbidden_call_substrings, "GRU")
