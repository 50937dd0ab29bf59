"""LSTM from scratch, grader side: the checks, run in the grader's own process on what the probe measured.

They read the recorded parameters as gate blocks in any layout (grader.checks.gate_layouts) and find each gate from
what the outputs reveal: o = h' / tanh(c'), f = Δc' / Δc, then i and g from c' − f·c; when no reading of the
tensors fits, the cell is read by its behaviour, one parameter element at a time.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal

import torch

from grader.check import CheckContext, Outcome
from grader.checks.analysis import class_problem, first_difference, plural, shape_text
from grader.checks.gate_layouts import (BlockRef, Layout, Mapping, bias_vector, block_source, element_labels,
                                        flat_params, parse_layout, parse_layouts, recorded_params, weight_blocks,
                                        weight_source)
from grader.checks.recurrent import ATOL, RTOL, from_scratch_outcome, gradients_outcome, param_count_outcome, sentence
from grader.exercise import CheckParams
from grader.exercises.lstm.kernel import GROUPS, Role, changed_units, element_roles
from grader.exercises.lstm.plan import BEHAVIOUR_ROWS, EQUIVALENCE_BATCH, FIT_ROWS
from grader.exercises.lstm.schema import CellRun, LayerRun
from grader.kernel.recurrent import DRIVER_FLOOR, EFFECT, drivers, explain, logit
from grader.probe import ProbeData

GATES = ("i", "f", "g", "o")
MAX_CHUNKS = 8           # an LSTM tensor holds at most 8 gate blocks (4 gates × input and hidden side)
BATCH_AXIS = "it steps over the batch axis"


# --------------------------------------------------------------------------- the reference LSTM (grader side)

@dataclass(frozen=True)
class Form:
    """How an LSTM combines its gates. Only the first is an LSTM; the others name a student's mistake."""

    candidate: Literal["tanh", "sigmoid"] = "tanh"   # g = act(W_g x + U_g h + b_g)
    output: Literal["tanh", "sigmoid"] = "tanh"      # h' = o · act(c')
    forget: Literal["used", "unused"] = "used"       # c' = f·c + i·g, or c + i·g

    @property
    def valid(self) -> bool:
        return self == Form()

    def describe(self) -> str:
        cell = "c' = f·c + i·g" if self.forget == "used" else "c' = c + i·g (f unused)"
        candidate = "" if self.candidate == "tanh" else ", g through a sigmoid"
        output = "h' = o·tanh(c')" if self.output == "tanh" else "h' = o·σ(c')"
        return f"{cell}, {output}{candidate}"


VALID_FORM = Form()
DIAGNOSTIC_FORMS = [Form(forget="unused"), Form(candidate="sigmoid"), Form(output="sigmoid")]
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}


def lstm_step(form: Form, mapping: Mapping, x: torch.Tensor, h: torch.Tensor,
              c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the reference LSTM of the given form, in float64."""
    pre = {g: x @ mapping.w_x[g].T + h @ mapping.w_h[g].T + mapping.b_x[g] + mapping.b_h[g] for g in GATES}
    i, f, o = (torch.sigmoid(pre[gate]) for gate in "ifo")
    g = ACTIVATIONS[form.candidate](pre["g"])
    c_new = (f * c if form.forget == "used" else c) + i * g
    return o * ACTIVATIONS[form.output](c_new), c_new


def lstm_unroll(form: Form, mapping: Mapping, x: torch.Tensor, h: torch.Tensor,
                c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference LSTM over x [batch, time, input]: outputs [batch, time, hidden] and the last cell state."""
    outputs = []
    for step in range(x.shape[1]):
        h, c = lstm_step(form, mapping, x[:, step], h, c)
        outputs.append(h)
    return torch.stack(outputs, dim=1), c


# --------------------------------------------------------------------------- reading the tensors (grader side)

GATE_TOLERANCE = 2e-3   # a gate's pre-activation, read back through logit from float32 outputs
SATURATION = 0.01       # gate values closer than this to 0 or 1 say too little about their pre-activation


@dataclass
class Observation:
    """One probed module on single steps: inputs x, h, c and c shifted, outputs (h1, c1) and (h2, c2), float64."""

    x: torch.Tensor
    h: torch.Tensor
    c: torch.Tensor
    c_shift: torch.Tensor
    h1: torch.Tensor
    c1: torch.Tensor
    h2: torch.Tensor
    c2: torch.Tensor


@dataclass
class SearchResult:
    form: Form | None = None
    mapping: Mapping | None = None
    problem: str = ""
    tried: int = 0
    stage: int = -1           # how far the closest reading got: 0 o, 1 f, 2 i and g, 3 verified to the end
    closest: str = ""         # what the closest reading gave, for the report
    reading: str = ""
    behaviour: "BehaviourReading | None" = None


@dataclass(frozen=True)
class Pair:
    """The input block and hidden block one gate would use ([x, h] blocks: the same ref twice)."""

    x: BlockRef
    h: BlockRef


@dataclass
class Blocks:
    """One layout under one set of flags, with the products x·Wᵀ and h·Uᵀ of every block precomputed."""

    layout: Layout
    flags: tuple[bool, bool]
    weights: tuple[dict[BlockRef, torch.Tensor], dict[BlockRef, torch.Tensor]]
    products_x: dict[BlockRef, torch.Tensor]
    products_h: dict[BlockRef, torch.Tensor]
    pairs: list[Pair]
    biases: dict[BlockRef, torch.Tensor]
    owners: dict[BlockRef, BlockRef | None]   # a bias tied to a weight unit belongs to that weight's gate
    per_gate: int

    def pre(self, pair: Pair, bias: tuple[BlockRef, ...]) -> torch.Tensor:
        total = self.products_x[pair.x] + self.products_h[pair.h]
        for ref in bias:
            total = total + self.biases[ref]
        return total


def _layout_problem(layout: Layout, hidden: int) -> str:
    """Why a reading of the parameters cannot make an LSTM ('' when its block counts fit)."""
    counts = (len(layout.bearing("x")), len(layout.bearing("h")))
    if counts != (4, 4):
        return (f"its weights hold {counts[0]} input-to-hidden and {counts[1]} hidden-to-hidden blocks of"
                f" {hidden} rows; an LSTM needs 4 of each (gates i, f, g, o)")
    if layout.bias_chunks not in (0, 4, 8):
        return f"its biases hold {layout.bias_chunks}·H values; an LSTM has 0, 4·H or 8·H"
    return ""


def _blocks(layout: Layout, flags: tuple[bool, bool], size_in: int, hidden: int, obs: Observation) -> Blocks:
    weights = weight_blocks(layout, hidden, size_in, *flags)
    x_refs, h_refs = layout.bearing("x"), layout.bearing("h")
    pairs = [Pair(x, h) for x in x_refs for h in h_refs if (x in h_refs or h in x_refs) == (x == h)]
    owners = {}
    for ref in layout.bias_refs():
        target = layout.units[ref[0]].tied_to
        owners[ref] = (target, ref[1]) if target is not None else None
    return Blocks(layout, flags, weights, {ref: obs.x @ w.T for ref, w in weights[0].items()},
                  {ref: obs.h @ w.T for ref, w in weights[1].items()}, pairs,
                  {ref: bias_vector(layout, ref, hidden) for ref in layout.bias_refs()}, owners,
                  layout.bias_chunks // 4)


def _bias_choices(blocks: Blocks, pair: Pair, free: list[BlockRef]) -> Iterator[tuple[BlockRef, ...]]:
    """The bias chunks a gate using `pair` may take from `free`: the ones tied to its weights, then any untied."""
    required = tuple(ref for ref in free if blocks.owners[ref] in (pair.x, pair.h))
    untied = [ref for ref in free if blocks.owners[ref] is None]
    if len(required) > blocks.per_gate:
        return
    for extra in itertools.combinations(untied, blocks.per_gate - len(required)):
        yield required + extra


def _gate_matches(blocks: Blocks, target: torch.Tensor, mask: torch.Tensor, pairs: list[Pair],
                  free: list[BlockRef], result: SearchResult) -> Iterator[tuple[Pair, tuple[BlockRef, ...]]]:
    """The (pair, bias chunks) whose pre-activation equals `target` (an observed gate's logit) on the masked rows."""
    for pair in pairs:
        result.tried += 1
        residual = target - blocks.products_x[pair.x] - blocks.products_h[pair.h]
        residual = torch.where(mask, residual, torch.nan)
        offset = residual.nanmedian(0).values
        spread = (residual - offset).abs().nan_to_num(0.0).amax()
        if bool(spread > GATE_TOLERANCE) or bool((mask.sum(0) < 3).any()):
            continue
        for bias in _bias_choices(blocks, pair, free):
            total = sum((blocks.biases[ref] for ref in bias), torch.zeros_like(offset))
            if bool((total - offset).abs().max() <= GATE_TOLERANCE):
                yield pair, bias


def _disjoint(pairs: list[Pair], used: Pair) -> list[Pair]:
    return [pair for pair in pairs if pair.x != used.x and pair.h != used.h]


def _observed_gates(form: Form, obs: Observation) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                                             torch.Tensor]:
    """What the outputs reveal under `form`: o's and f's logits with their usable rows, and i·g."""
    squashed = ACTIVATIONS[form.output](obs.c1)
    o = obs.h1 / squashed
    mask_o = (squashed.abs() > 0.2) & (o > SATURATION) & (o < 1 - SATURATION)
    f = (obs.c1 - obs.c2) / (obs.c - obs.c_shift)
    mask_f = (f > SATURATION) & (f < 1 - SATURATION)
    product = obs.c1 - (f * obs.c if form.forget == "used" else obs.c)
    return logit(o.clamp(1e-12, 1 - 1e-12)), mask_o, logit(f.clamp(1e-12, 1 - 1e-12)), mask_f, product


def _match_form(form: Form, blocks: Blocks, obs: Observation, result: SearchResult) -> Mapping | None:
    """Gate by gate: o from h' / act(c'), f from Δc' / Δc (unless unused), then i and g from c' − f·c, every
    candidate verified on both observations to the usual tolerance."""
    logit_o, mask_o, logit_f, mask_f, product = _observed_gates(form, obs)
    everything = list(blocks.biases)
    for o_pair, o_bias in _gate_matches(blocks, logit_o, mask_o, blocks.pairs, everything, result):
        result.stage = max(result.stage, 0)
        left = _disjoint(blocks.pairs, o_pair)
        free = [ref for ref in everything if ref not in o_bias]
        if form.forget == "unused":
            found = _match_input_and_candidate(form, blocks, obs, product, left, free, {"o": (o_pair, o_bias)},
                                               result)
            if found:
                return found
            continue
        for f_pair, f_bias in _gate_matches(blocks, logit_f, mask_f, left, free, result):
            result.stage = max(result.stage, 1)
            found = _match_input_and_candidate(form, blocks, obs, product, _disjoint(left, f_pair),
                                               [ref for ref in free if ref not in f_bias],
                                               {"o": (o_pair, o_bias), "f": (f_pair, f_bias)}, result)
            if found:
                return found
    return None


def _match_input_and_candidate(form: Form, blocks: Blocks, obs: Observation, product: torch.Tensor, pairs: list[Pair],
                               free: list[BlockRef], known: dict, result: SearchResult) -> Mapping | None:
    """i and g from the two (three, when f is unused) pairs left: σ(pre_i)·act(pre_g) must equal c' − f·c."""
    for i_pair, g_pair in itertools.permutations(pairs, 2):
        if i_pair.x == g_pair.x or i_pair.h == g_pair.h:
            continue
        for i_bias in _bias_choices(blocks, i_pair, free):
            rest = [ref for ref in free if ref not in i_bias]
            for g_bias in _bias_choices(blocks, g_pair, rest):
                result.tried += 1
                estimate = torch.sigmoid(blocks.pre(i_pair, i_bias)) * ACTIVATIONS[form.candidate](
                    blocks.pre(g_pair, g_bias))
                if bool((estimate - product).abs().max() > GATE_TOLERANCE):
                    continue
                result.stage = max(result.stage, 2)
                gates = {**known, "i": (i_pair, i_bias), "g": (g_pair, g_bias)}
                if "f" not in gates:
                    f_pairs = _disjoint(_disjoint(pairs, i_pair), g_pair)
                    f_bias = tuple(ref for ref in rest if ref not in g_bias)
                    if len(f_pairs) != 1:
                        continue
                    gates["f"] = (f_pairs[0], f_bias)
                mapping = _mapping(blocks, gates)
                difference = _verify(form, mapping, obs)
                if difference is None:
                    return mapping
                result.stage, result.closest = 3, difference
    return None


def _mapping(blocks: Blocks, gates: dict[str, tuple[Pair, tuple[BlockRef, ...]]]) -> Mapping:
    layout, hidden = blocks.layout, next(iter(blocks.weights[1].values())).shape[0]
    w_x = {g: blocks.weights[0][pair.x] for g, (pair, _) in gates.items()}
    w_h = {g: blocks.weights[1][pair.h] for g, (pair, _) in gates.items()}
    zero = torch.zeros(hidden, dtype=torch.float64)
    b_x = {g: sum((blocks.biases[ref] for ref in bias), zero) for g, (_, bias) in gates.items()}
    sources = {}
    for g in GATES:
        pair, bias = gates[g]
        sources[f"W_x{g}"] = weight_source(layout, pair.x, "x", hidden, blocks.flags)
        sources[f"W_h{g}"] = weight_source(layout, pair.h, "h", hidden, blocks.flags)
        if bias:
            sources[f"b_{g}"] = " + ".join(block_source(layout.units[u], c, hidden) for u, c in bias)
    return Mapping(GATES, w_x, w_h, b_x, dict.fromkeys(GATES, zero), sources, blocks.per_gate)


def _verify(form: Form, mapping: Mapping, obs: Observation) -> str | None:
    """None when the reference LSTM gives both observations' (h', c'), else the first difference."""
    for c, h_out, c_out in ((obs.c, obs.h1, obs.c1), (obs.c_shift, obs.h2, obs.c2)):
        h_ref, c_ref = lstm_step(form, mapping, obs.x, obs.h, c)
        difference = first_difference(h_out, h_ref, ATOL, RTOL) or first_difference(c_out, c_ref, ATOL, RTOL)
        if difference:
            return difference
    return None


def search(params: list[tuple[str, torch.Tensor]], size_in: int, hidden: int, obs: Observation,
           forms: list[Form]) -> SearchResult:
    """The first (form, reading of the parameters as gate blocks, gate of each block) that reproduces both
    observations. Every reading of every tensor is tried, plain readings first (at most 64)."""
    result = SearchResult()
    layouts = parse_layouts(params, size_in, hidden, "LSTM", MAX_CHUNKS,
                            fits=lambda layout: not _layout_problem(layout, hidden))
    if not layouts or layouts[0].problem:
        plain = parse_layout(params, size_in, hidden, "LSTM", MAX_CHUNKS)
        result.problem = plain.problem or _layout_problem(plain, hidden)
        return result
    for layout in layouts:
        for flags in layout.flags():
            blocks = _blocks(layout, flags, size_in, hidden, obs)
            for form in forms:
                mapping = _match_form(form, blocks, obs, result)
                if mapping:
                    result.form, result.mapping, result.reading = form, mapping, layout.describe()
                    return result
    return result


# --------------------------------------------------------------------------- reading by behaviour (grader side)

BY_BEHAVIOUR = ("matched by behaviour: no reading of its tensors as gate blocks fits, so each parameter element"
                " was set alone to see which gate, input and unit it drives; read that way, its parameters make an"
                f" LSTM whose outputs equal the cell's on two random parameter draws × {FIT_ROWS} inputs")


def _input_role(delta: torch.Tensor, background: torch.Tensor, c: torch.Tensor, hidden: int,
                driver_matrix: tuple) -> Role | None:
    """The i role of an element that did nothing alone, from its effect once the g elements are switched on:
    then c'_j = c_j/2 + σ(s·u)·g_j, with g_j = 2·(c'_j − c_j/2) read off the background."""
    cell_units = changed_units(delta[:, hidden:])
    if not cell_units and not changed_units(delta[:, :hidden]):
        return None
    if len(cell_units) != 1:
        return Role("?", "b", (cell_units or [0])[0], len(cell_units), 0.0)
    j = cell_units[0]
    g = 2 * (background[:, hidden + j] - c[:, j] / 2)
    y = delta[:, hidden + j]
    found = explain(y, logit(y / g + 0.5), lambda pre: (torch.sigmoid(pre) - 0.5) * g[:, None],
                    g.abs() > DRIVER_FLOOR, driver_matrix)
    if not found:
        return Role("?", "b", j, 1, 0.0)
    side, column, scale, _ = found
    return Role("i", side, j, column, scale)


@dataclass
class BehaviourReading:
    """An LSTM read off the cell's behaviour: the gate parameters under the probe's draw and where they live."""

    form: Form | None = None
    mapping: Mapping | None = None
    problem: str = ""
    active: int = 0
    unused: list[str] = field(default_factory=list)


def _behaviour_mapping(roles: dict[int, Role], theta: torch.Tensor, size_in: int, hidden: int,
                       labels: list[str]) -> Mapping:
    """The gate parameters the roles give for one draw of the parameters (element values `theta`)."""
    w_x = {g: torch.zeros(hidden, size_in, dtype=torch.float64) for g in GATES}
    w_h = {g: torch.zeros(hidden, hidden, dtype=torch.float64) for g in GATES}
    b_x = {g: torch.zeros(hidden, dtype=torch.float64) for g in GATES}
    owners: dict[str, dict[str, int]] = {}
    for element, role in roles.items():
        value = float(theta[element]) * role.scale
        if role.side == "x":
            w_x[role.gate][role.unit, role.column] += value
        elif role.side == "h":
            w_h[role.gate][role.unit, role.column] += value
        else:
            b_x[role.gate][role.unit] += value
        key = f"W_{role.side}{role.gate}" if role.side != "b" else f"b_{role.gate}"
        name = labels[element].split("[")[0]
        owners.setdefault(key, {}).setdefault(name, 0)
        owners[key][name] += 1
    sources = {key: ", ".join(f"{name} ({plural(count, 'element')})" for name, count in names.items())
               for key, names in owners.items()}
    biases = sum(1 for role in roles.values() if role.side == "b")
    zero = {g: torch.zeros(hidden, dtype=torch.float64) for g in GATES}
    return Mapping(GATES, w_x, w_h, b_x, zero, sources, round(biases / (4 * hidden)))


def _missing_weight(roles: dict[int, Role], size_in: int, hidden: int) -> str | None:
    covered = {(role.gate, role.side, role.unit, role.column) for role in roles.values() if role.side != "b"}
    for gate in GATES:
        for side, width in (("x", size_in), ("h", hidden)):
            for unit, column in itertools.product(range(hidden), range(width)):
                if (gate, side, unit, column) not in covered:
                    return f"W_{side}{gate}[{unit}, {column}]"
    return None


def read_by_behaviour(data: ProbeData, inputs: dict[str, torch.Tensor], run: CellRun, key: str) -> BehaviourReading:
    """Read the cell as an LSTM from its responses (see _probe_behaviour), then verify that reading on two random
    parameter draws: the outputs must equal the reference LSTM it gives, to the usual tolerance."""
    _, _, size_in, hidden = run.config
    where = f"{key}/cell/behaviour"
    needed = ["fit/0", "fit/1", "base", "single", "background", "second"]
    if where in data.errors or any(f"{where}/{name}" not in data.tensors for name in needed):
        return BehaviourReading(problem=f"its behaviour could not be measured"
                                        f"{': ' + data.errors[where] if where in data.errors else ''}")
    tensors = {name: data.tensors[f"{where}/{name}"].double() for name in needed}
    x = inputs[f"{key}/design/x"].double()
    hc = torch.cat([inputs[f"{key}/design/h"], inputs[f"{key}/design/c"]], dim=1).double()
    labels = element_labels(run.params)
    if tuple(tensors["single"].shape) != (len(labels), BEHAVIOUR_ROWS, 2 * hidden):
        return BehaviourReading(problem="its behaviour could not be measured (the responses have the wrong shape)")
    c = hc[:, hidden:]
    expected = torch.cat([torch.tanh(c / 2) / 2, c / 2], dim=1)
    difference = first_difference(tensors["base"], expected, 2 * EFFECT, 1e-4)
    if difference:
        return BehaviourReading(problem="with every parameter set to 0 an LSTM returns c' = c/2 and h' = ½·tanh(c/2)"
                                        f" (i = f = o = ½, g = 0); this cell gives {difference}")
    first = element_roles(tensors["base"], tensors["single"], x, hc, hidden)
    unexplained = next((number for number, role in enumerate(first) if role and role.gate == "?"), None)
    if unexplained is not None:
        role = first[unexplained]
        what = (f"changes {role.column} units at once; an LSTM weight acts on one unit" if role.column > 1 else
                f"changes unit {role.unit} in a way no LSTM weight (f, g or o) explains")
        return BehaviourReading(problem=f"set alone, parameter element {labels[unexplained]} {what}")
    silent = [number for number, role in enumerate(first) if role is None]
    if tensors["second"].shape[0] != len(silent):
        return BehaviourReading(problem="its behaviour changed between the grader's two rounds of measurements")
    driver_matrix = drivers(x, hc[:, :hidden])
    roles = {number: role for number, role in enumerate(first) if role}
    unused = []
    for number, response in zip(silent, tensors["second"]):
        role = _input_role(response - tensors["background"], tensors["background"], c, hidden, driver_matrix)
        if role is None:
            unused.append(labels[number])
        elif role.gate == "?":
            return BehaviourReading(problem=f"parameter element {labels[number]} acts only once g is switched on,"
                                            " but not as any input-gate weight would")
        else:
            roles[number] = role
    return _verify_behaviour(data, inputs, run, key, roles, labels, unused)


def _verify_behaviour(data: ProbeData, inputs: dict[str, torch.Tensor], run: CellRun, key: str,
                      roles: dict[int, Role], labels: list[str], unused: list[str]) -> BehaviourReading:
    _, _, size_in, hidden = run.config
    missing = _missing_weight(roles, size_in, hidden)
    if missing:
        return BehaviourReading(problem=f"no parameter element acts as the gate weight {missing}, so it is not a"
                                        f" full LSTM (4·H·(I+H) = {4 * hidden * (size_in + hidden)} weights)")
    draws = [(flat_params(data, f"{key}/cell", len(run.params)), f"{key}/cell/behaviour/fit/0"),
             (flat_params(data, f"{key}/cell/behaviour/draw", len(run.params)), f"{key}/cell/behaviour/fit/1")]
    if any(theta is None or theta.numel() != len(labels) for theta, _ in draws):
        return BehaviourReading(problem="its parameters were not all recorded")
    fit = [inputs[f"{key}/fit/{name}"].double() for name in "xhc"]
    mapping = None
    for theta, output in draws:
        mapping_here = _behaviour_mapping(roles, theta, size_in, hidden, labels)
        difference = first_difference(data.tensors[output].double(),
                                      torch.cat(lstm_step(VALID_FORM, mapping_here, *fit), dim=1), ATOL, RTOL)
        if difference:
            return BehaviourReading(problem=f"read by its behaviour it would be an LSTM, but with random parameters"
                                            f" its outputs [h', c'] differ: {difference}")
        mapping = mapping or mapping_here
    return BehaviourReading(VALID_FORM, mapping, active=len(roles), unused=unused)


# --------------------------------------------------------------------------- checks (grader side)

def _class_problem(ctx: CheckContext, data: ProbeData, which: Literal["cell", "layer"]) -> str | None:
    return class_problem(ctx.notebook, ctx.execution, ctx.plan.spec[f"{which}_class"],
                         getattr(data.values, f"{which}_status"), getattr(data.values, f"{which}_kind"))


def _cell_signature(config: list[int]) -> str:
    batch, _, size_in, hidden = config
    return f"LSTMCell({size_in}, {hidden}) on x {shape_text([batch, size_in])}, (h, c) {shape_text([batch, hidden])}"


def _layer_signature(config: list[int]) -> str:
    batch, time, size_in, hidden = config
    return f"LSTM({size_in}, {hidden}) on x {shape_text([batch, time, size_in])}"


VERBS = {"construct": "constructing it", "forward": "calling it", "many": "calling it", "shift": "calling it",
         "parts": "reading its output", "unroll": "stepping its LSTMCell over time", "gradients": "the backward pass"}


def _error(data: ProbeData, key: str, steps: tuple[str, ...] = ("construct", "forward")) -> str | None:
    for step in steps:
        if f"{key}/{step}" in data.errors:
            return f"{VERBS[step]} raised {data.errors[f'{key}/{step}']}"
    return None


_cache: dict[str, Any] = {}


def _cached(data: ProbeData, key: str, compute: Callable[[], Any]) -> Any:
    """Several checks ask the same questions of one notebook's probe data, so its last answers are kept."""
    if _cache.get("data") is not data:
        _cache.clear()
        _cache["data"] = data
    if key not in _cache:
        _cache[key] = compute()
    return _cache[key]


def observation(data: ProbeData, inputs: dict[str, torch.Tensor], config_key: str, which: str) -> Observation | None:
    """The single-step observations of the cell or layer at `config_key`, or None when they were not recorded."""
    outputs = [data.tensors.get(f"{config_key}/{which}/{name}") for name in ("h1", "c1", "h2", "c2")]
    if any(output is None for output in outputs):
        return None
    given = [inputs[f"{config_key}/many/{name}"].double() for name in ("x", "h", "c", "c_shift")]
    return Observation(*given, *(output.double() for output in outputs))


def _observation_problem(obs: Observation, hidden: int) -> str | None:
    for name in ("h1", "c1", "h2", "c2"):
        value = getattr(obs, name)
        if tuple(value.shape) != (EQUIVALENCE_BATCH, hidden):
            return f"its {name[0]}' is {shape_text(value.shape)} for {EQUIVALENCE_BATCH} rows"
    return None


def identify(data: ProbeData, inputs: dict[str, torch.Tensor], run: CellRun, key: str) -> tuple[SearchResult, str]:
    """The LSTM the cell at `key` computes, or a failed search and a sentence saying what differs."""
    _, _, size_in, hidden = run.config
    params = recorded_params(data, f"{key}/cell", run.params)
    obs = observation(data, inputs, key, "cell")
    if params is None or obs is None:
        return SearchResult(), _error(data, f"{key}/cell", ("construct", "forward", "many", "shift")) or \
            "it returned no (h', c') pair"
    if not params:
        return SearchResult(), "it has no parameters (use nn.Parameter or nn.Linear so they can be learned)"
    problem = _observation_problem(obs, hidden)
    if problem:
        return SearchResult(), problem
    found = _cached(data, f"{key}/valid", lambda: search(params, size_in, hidden, obs, [VALID_FORM]))
    if found.form:
        return found, ""
    behaviour = _cached(data, f"{key}/behaviour", lambda: read_by_behaviour(data, inputs, run, key))
    if behaviour.form:
        return SearchResult(behaviour.form, behaviour.mapping, tried=found.tried, reading=BY_BEHAVIOUR,
                            behaviour=behaviour), ""
    why = _diagnose(data, key, params, size_in, hidden, obs, found)
    if why.startswith(("no LSTM", "its parameters do not fit")):
        why += f"; read by its behaviour instead, {behaviour.problem}"
    return found, why


STAGES = ("o = h' / tanh(c') (its output gate) is σ of no input block + hidden block + bias of its parameters",
          "o is found, but f = Δc' / Δc (its forget gate, read by shifting c alone) is σ of no block pair + bias left",
          "o and f are found, but c' − f·c is σ(·)·tanh(·) of no two block pairs left (the gates i and g)",
          "every gate is found, but")


def _diagnose(data: ProbeData, key: str, params: list, size_in: int, hidden: int, obs: Observation,
              found: SearchResult) -> str:
    """Name what differs from an LSTM, where a diagnostic form (forget gate unused, a sigmoid for a tanh) or the
    observations explain it."""
    if found.problem:
        return f"its parameters do not fit an LSTM: {found.problem}"
    shifted = (obs.c1 - obs.c2).abs().max()
    if bool(shifted <= EFFECT):
        return "c' does not depend on the previous cell state c: the term f·c is missing (c' = f·c + i·g)"
    diagnostic = _cached(data, f"{key}/diagnostic", lambda: search(params, size_in, hidden, obs, DIAGNOSTIC_FORMS))
    if diagnostic.form == Form(forget="unused"):
        return ("the forget gate f is computed but never scales c: c' = c + i·g, where an LSTM has"
                " c' = f·c + i·g")
    if diagnostic.form == Form(candidate="sigmoid"):
        return "the candidate g goes through a sigmoid where tanh belongs (g = tanh(W_g x + U_g h + b_g))"
    if diagnostic.form == Form(output="sigmoid"):
        return "h' = o·σ(c'): the new cell state goes through a sigmoid where tanh belongs (h' = o·tanh(c'))"
    where = STAGES[found.stage + 1] if found.stage < 2 else f"{STAGES[3]} the closest reading gives {found.closest}"
    return f"no LSTM reading of its parameters reproduces its outputs ({found.tried} tried): {where}"


def constructible(ctx: CheckContext) -> Outcome:
    """LSTMCell(input, hidden) and LSTM(input, hidden) build nn.Modules for every configuration."""
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
        return Outcome.passed(f"LSTMCell and LSTM constructed for all {plural(expected // 2, 'configuration')}.")
    return Outcome.partial(built / expected, f"{expected - built} of {expected} constructions failed."
                                             f" {(problems + failed)[0]}")


def _cell_shape_problem(data: ProbeData, run: CellRun, key: str) -> str | None:
    batch, _, _, hidden = run.config
    error = _error(data, f"{key}/cell")
    if error or not run.constructed:
        return error or "it could not be constructed"
    if not run.output_kind:
        return "its forward did not run"
    if not run.output_kind.startswith(("tuple (tensor, tensor)", "list (tensor, tensor)")):
        hint = ": an LSTM cell returns its new hidden state and its new cell state" \
            if run.output_kind == "tensor" else ""
        return f"it returned a {run.output_kind}, not the pair (h', c'){hint}"
    for name, shape in zip(("h'", "c'"), run.output_shapes):
        if shape != [batch, hidden]:
            return f"its {name} is {shape_text(shape)}, expected [batch, hidden] = {shape_text([batch, hidden])}"
    return None


def _layer_shape_problem(data: ProbeData, run: LayerRun, key: str) -> str | None:
    batch, time, _, hidden = run.config
    error = _error(data, f"{key}/layer")
    if error or not run.constructed:
        if error and batch != time and "size" in error.lower():
            error += f"; is it stepping over dim 0 (batch, {batch}) instead of dim 1 (time, {time})?"
        return error or "it could not be constructed"
    if run.outputs_shape is None:
        return f"it returned a {run.output_kind}; it must return (outputs, (h_T, c_T))"
    if run.outputs_shape != [batch, time, hidden]:
        verdict = f"outputs is {shape_text(run.outputs_shape)}, expected [batch, time, hidden] = " \
                  f"{shape_text([batch, time, hidden])}"
        if run.outputs_shape == [time, batch, hidden]:
            verdict += ": stack the steps on dim 1 (batch first)"
        return verdict
    for name, shape in zip(("h_T", "c_T"), run.state_shapes):
        if shape != [batch, hidden]:
            return f"{name} is {shape_text(shape)}, expected [batch, hidden] = {shape_text([batch, hidden])}"
    return None


def shapes(ctx: CheckContext) -> Outcome:
    """LSTMCell returns (h', c') [batch, hidden] each; LSTM returns ([batch, time, hidden], ([batch, hidden] × 2))."""
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
        return Outcome.passed(f"LSTMCell and LSTM return the right shapes in all {plural(total // 2, 'configuration')}.")
    return Outcome.partial((total - len(problems)) / total, f"{len(problems)} of {total} calls have the wrong shape."
                                                             f" {sentence(problems[0])}", problems=problems)


def _cell_runs(ctx: CheckContext) -> tuple[ProbeData, list[CellRun], Outcome | None]:
    data = ctx.data()
    problem = _class_problem(ctx, data, "cell")
    return data, data.values.cells.get("configs", []), Outcome.failed(sentence(problem)) if problem else None


def cell(ctx: CheckContext) -> Outcome:
    """The cell equals a reference LSTM under some reading of its parameters (or of its behaviour)."""
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
        return Outcome.passed(f"LSTMCell is a correct LSTM ({first['form']}) in all"
                              f" {plural(len(runs), 'configuration')}, {how} (details below).", forms=forms)
    return Outcome.partial((len(runs) - len(problems)) / len(runs) if runs else 0.0,
                           f"{len(problems)} of {len(runs)} LSTMCells are not an LSTM. {sentence(problems[0])}",
                           problems=problems, forms=forms)


def _layer_reference(data: ProbeData, run: LayerRun, key: str, inputs: dict,
                     ) -> tuple[tuple[torch.Tensor, torch.Tensor] | None, str]:
    """What the layer must output (outputs, c_T): its own LSTMCell unrolled, or else the LSTM its own parameters
    make; and what that is, or why there is none."""
    if f"{key}/layer/unrolled" in data.tensors and f"{key}/layer/unrolled_c" in data.tensors:
        return ((data.tensors[f"{key}/layer/unrolled"].double(), data.tensors[f"{key}/layer/unrolled_c"].double()),
                "its own LSTMCell stepped over time")
    if run.has_cell:
        return None, _error(data, f"{key}/layer", ("unroll",)) or "its LSTMCell could not be stepped over time"
    _, _, size_in, hidden = run.config
    params = recorded_params(data, f"{key}/layer", run.params)
    obs = observation(data, inputs, key, "layer")
    if not params or obs is None or _observation_problem(obs, hidden):
        return None, "it holds no LSTMCell, and the grader could not read an LSTM from its parameters"
    found = _cached(data, f"{key}/layer", lambda: search(params, size_in, hidden, obs, [VALID_FORM]))
    if not (found.form and found.mapping):
        return None, "it holds no LSTMCell, and its own parameters make no LSTM that reproduces its first step"
    x, h0, c0 = (inputs[f"{key}/{name}"].double() for name in ("x", "h0", "c0"))
    return lstm_unroll(found.form, found.mapping, x, h0, c0), "the LSTM its parameters make"


def _layer_problem(data: ProbeData, run: LayerRun, key: str, inputs: dict) -> str | None:
    shape_problem = _layer_shape_problem(data, run, key)
    if shape_problem:
        return shape_problem
    outputs, h_last, c_last = (data.tensors[f"{key}/layer/{name}"].double() for name in ("outputs", "h_T", "c_T"))
    expected, what = _layer_reference(data, run, key, inputs)
    if expected is None:
        return what
    difference = first_difference(outputs, expected[0], ATOL, RTOL)
    if difference:
        walked = data.tensors.get(f"{key}/layer/unrolled_batch")
        if walked is not None and (first_difference(outputs, walked.double(), ATOL, RTOL) is None or
                                   first_difference(outputs, walked.double().transpose(0, 1), ATOL, RTOL) is None):
            return BATCH_AXIS + ": x is [batch, time, input], so step t must take x[:, t], not x[t]"
        return f"outputs differ from {what}: {difference}"
    if first_difference(h_last, outputs[:, -1], ATOL, RTOL):
        return f"h_T is not outputs[:, -1] (the state after the last step): " \
               f"{first_difference(h_last, outputs[:, -1], ATOL, RTOL)}"
    if first_difference(c_last, expected[1], ATOL, RTOL):
        return f"c_T is not the cell state after the last step: {first_difference(c_last, expected[1], ATOL, RTOL)}"
    return None


def layer(ctx: CheckContext) -> Outcome:
    """LSTM equals its own LSTMCell unrolled over the time axis, returning (outputs, (h_T, c_T))."""
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
        return Outcome.passed(f"LSTM steps its LSTMCell over the time axis and returns (outputs, (h_T, c_T))"
                              f" ({plural(len(runs), 'configuration')}).")
    return Outcome.partial((len(runs) - len(problems)) / len(runs) if runs else 0.0,
                           f"{len(problems)} of {len(runs)} LSTM layers are wrong. {sentence(problems[0])}",
                           problems=problems)


def gradients(ctx: CheckContext) -> Outcome:
    """A backward pass reaches every trainable parameter of LSTMCell and LSTM with a finite, non-zero gradient."""
    return gradients_outcome(ctx, GROUPS, lambda data, key: _error(data, key, ("forward", "many", "gradients")))


def param_count(ctx: CheckContext) -> Outcome:
    """Trainable parameters = 4·H·(I+H), plus the biases found (0, 4H or 8H)."""
    return param_count_outcome(ctx, 4, "an LSTM", _cell_runs, identify)


class FromScratchParams(CheckParams):
    forbidden_names: list[str]
    forbidden_call_substrings: list[str]


def from_scratch(ctx: CheckContext, forbidden_names: list[str], forbidden_call_substrings: list[str]) -> Outcome:
    """No nn.LSTM, nn.LSTMCell, torch.lstm, torch.lstm_cell or _VF called at run time; the source names where."""
    data = ctx.data()
    names = [ctx.plan.spec["cell_class"], ctx.plan.spec["layer_class"]]
    traced = [run.calls for group in (data.values.cells, data.values.layers) for runs in group.values()
              for run in runs if run.output_kind]
    return from_scratch_outcome(ctx, names, forbidden_names, traced, forbidden_call_substrings, "LSTM")
