"""Grader side, shared by the recurrent exercises (gru, rnn_lm): their inputs, reading parameter tensors as gate
blocks in any layout, tolerances, and the from-scratch verdict over a cell and its layer."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Literal

import torch

from grader.check import CheckContext, Outcome
from grader.checks.analysis import forbidden_references, plural, shape_text
from grader.checks.analysis import from_scratch_outcome as scratch_verdict
from grader.probe import ParamInfo, ProbeData


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


Side = Literal["x", "h"]
MAX_CHUNKS = 6           # a GRU tensor holds at most 6 gate blocks (3 gates × input and hidden side)
MAX_LAYOUTS = 64         # readings of the whole parameter set tried, in order, before giving up


@dataclass
class Unit:
    """One parameter tensor read as gate blocks, normalised to [k·H, in] rows (or [k·H] for a bias)."""

    name: str
    kind: Literal["x", "h", "xh", "bias"]
    matrix: torch.Tensor
    chunks: int
    square: bool = False       # [H, H]: the shape cannot tell whether it is stored [out, in] or [in, out]
    transposed: bool = False   # stored [in, k·H]
    tied_to: int | None = None  # a bias that belongs with this weight unit, chunk for chunk
    labels: tuple[str, ...] = ()  # where each chunk sits in the stored tensor, when it is not just rows [a:b]
    shape: tuple[int, ...] = ()   # the stored shape

    def describe(self) -> str:
        what = {"x": "input", "h": "hidden", "xh": "[x, h]", "bias": "bias"}[self.kind]
        blocks = plural(self.chunks, f"{what} block" if self.kind != "bias" else "bias vector")
        return f"{self.name} {shape_text(self.shape)} as {blocks}" + (" (transposed)" if self.transposed else "")


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


def _chunk_labels(dims: list[int], rest: list[int], block_axis: int, hidden: int) -> tuple[str, ...]:
    """'[1, :, :]'-style indices of each H-block of a tensor read with `rest` axes outermost, then `block_axis`."""
    blocks = dims[block_axis] // hidden
    labels = []
    for index in itertools.product(*[range(dims[axis]) for axis in rest], range(blocks)):
        parts = [":"] * len(dims)
        for axis, value in zip(rest, index):
            parts[axis] = str(value)
        block = index[-1]
        parts[block_axis] = f"{block * hidden}:{(block + 1) * hidden}" if blocks > 1 else ":"
        labels.append("[" + ", ".join(parts) + "]")
    return tuple(labels)


def tensor_readings(name: str, value: torch.Tensor, size_in: int, hidden: int) -> list[Unit]:
    """Every way to read one parameter tensor as gate blocks, by its shape alone: any rank and axis order.

    A weight needs an axis of the input width (I, H or I + H) and an axis of k·H outputs; any other axes index
    the gate blocks. A bias needs an axis of k·H; the others index its vectors. Size-1 axes are ignored.
    Readings whose gate index is an outer axis come first ([3, I, H], [H, 3, I]), then [k·H, in] before [in, k·H].
    """
    value = value.double()
    dims = [size for size in value.shape if size != 1]
    value = value.reshape(dims)
    widths = {size_in: "x", hidden: "h", size_in + hidden: "xh"}
    simple = len(dims) <= 2
    units: list[tuple[tuple[int, int], Unit]] = []   # (gate axes stored inside the block axes, reading)
    for out_axis, in_axis in itertools.permutations(range(len(dims)), 2):
        square = dims[in_axis] == hidden == dims[out_axis]
        if dims[in_axis] not in widths or dims[out_axis] % hidden or (square and out_axis > in_axis):
            continue
        rest = [axis for axis in range(len(dims)) if axis not in (out_axis, in_axis)]
        matrix = value.permute(*rest, out_axis, in_axis).reshape(-1, dims[in_axis])
        labels = () if simple else _chunk_labels(dims, rest, out_axis, hidden)
        inner = (sum(axis > max(out_axis, in_axis) for axis in rest),
                 sum(axis > min(out_axis, in_axis) for axis in rest))
        units.append((inner, Unit(name, widths[dims[in_axis]], matrix, matrix.shape[0] // hidden, square=square,
                                  transposed=in_axis < out_axis, labels=labels, shape=tuple(value.shape))))
    for axis in range(len(dims)):
        if dims[axis] % hidden:
            continue
        rest = [other for other in range(len(dims)) if other != axis]
        vector = value.permute(*rest, axis).reshape(-1)
        labels = () if len(dims) == 1 else _chunk_labels(dims, rest, axis, hidden)
        units.append(((sum(other > axis for other in rest), 0), Unit(name, "bias", vector, vector.numel() // hidden,
                                                                labels=labels, shape=tuple(value.shape))))
    distinct: list[Unit] = []
    for _, unit in sorted(units, key=lambda item: item[0]):
        if unit.chunks <= MAX_CHUNKS and not any(
                other.kind == unit.kind and torch.equal(other.matrix, unit.matrix) for other in distinct):
            distinct.append(unit)
    return distinct


def _tie_biases(units: list[Unit]) -> list[Unit]:
    """Copies of the units, each bias named like exactly one weight (x2h.bias, x2h.weight) tied to it."""
    units = [replace(unit, tied_to=None) for unit in units]
    stems = [_stem(unit.name) for unit in units if unit.kind != "bias"]
    weights = {_stem(unit.name): u for u, unit in enumerate(units) if unit.kind != "bias"}
    for unit in units:
        target = weights.get(_stem(unit.name))
        if unit.kind == "bias" and target is not None and stems.count(_stem(unit.name)) == 1 \
                and units[target].chunks == unit.chunks:
            unit.tied_to = target
    return units


def parse_layouts(params: list[tuple[str, torch.Tensor]], size_in: int, hidden: int, what: str = "GRU",
                  fits: Callable[[Layout], bool] = lambda layout: True) -> list[Layout]:
    """The readings of the whole parameter set that `fits` accepts, plain readings first (at most MAX_LAYOUTS);
    a single Layout with a problem when some tensor has no reading at all."""
    per_tensor = []
    for name, value in params:
        readings = tensor_readings(name, value, size_in, hidden) if value.numel() else []
        if not readings:
            return [Layout([], f"parameter '{name}' {shape_text(value.shape)} has no place in a {what} with"
                               f" input size {size_in} and hidden size {hidden}")]
        per_tensor.append(readings)
    layouts = []
    for choice in itertools.product(*per_tensor):
        layout = Layout(_tie_biases(list(choice)))
        if fits(layout):
            layouts.append(layout)
            if len(layouts) == MAX_LAYOUTS:
                break
    return layouts


def parse_layout(params: list[tuple[str, torch.Tensor]], size_in: int, hidden: int, what: str = "GRU") -> Layout:
    """The plain reading of the parameters (each tensor's first reading)."""
    layouts = parse_layouts(params, size_in, hidden, what)
    return layouts[0] if layouts else Layout([], f"the {what} has no parameters")


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


def tolerance_gap(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """How far outside the tolerance the worst element is (≤ 0: equal)."""
    return float(((actual - expected).abs() - (ATOL + RTOL * expected.abs())).max())


def sentence(text: str) -> str:
    """Capitalised, and ending in a full stop unless it already ends a sentence."""
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def recorded_params(data: ProbeData, key: str, infos: list[ParamInfo]) -> list[tuple[str, torch.Tensor]] | None:
    values = [data.tensors.get(f"{key}/param/{i}") for i in range(len(infos))]
    if any(value is None for value in values):
        return None
    return [(info.name, value) for info, value in zip(infos, values)]


def from_scratch_outcome(ctx: CheckContext, class_names: list[str], forbidden_names: list[str],
                         traced: list[list[str]], substrings: list[str], what: str) -> Outcome:
    """Shared by the GRU and RNN exercises: no built-in recurrent layer called at run time (the source says where)."""
    static = forbidden_references(ctx.notebook, class_names, set(forbidden_names))
    return scratch_verdict(" and ".join(class_names), what, static, traced, substrings)
