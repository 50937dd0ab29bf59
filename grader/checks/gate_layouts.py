"""Grader side, shared by the recurrent exercises (gru, lstm, rnn_lm): reading a cell's recorded parameter tensors
as gate blocks in any layout, where each block lives (for the report), and the recorded parameters themselves.

A layout is read from shapes alone: any rank and axis order, fused or separate, transposed or not, `[x, h]`
concatenations, any number of bias vectors; which block plays which gate is for the exercise's own search to decide.
The primitives for reading a cell by its behaviour run in the kernel too: they are in grader.kernel.recurrent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Literal

import torch

from grader.checks.analysis import plural, shape_text
from grader.probe import ParamInfo, ProbeData

Gate = str
Side = Literal["x", "h"]
BlockRef = tuple[int, int]   # (unit, chunk): one H-row block of one parameter tensor

MAX_LAYOUTS = 64   # readings of the whole parameter set tried, in order, before giving up


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

    def bearing(self, side: Side) -> list[BlockRef]:
        kinds = ("x", "xh") if side == "x" else ("h", "xh")
        return [(u, c) for u, unit in enumerate(self.units) if unit.kind in kinds for c in range(unit.chunks)]

    @property
    def bias_chunks(self) -> int:
        return sum(unit.chunks for unit in self.units if unit.kind == "bias")

    def bias_refs(self) -> list[BlockRef]:
        return [(u, c) for u, unit in enumerate(self.units) if unit.kind == "bias" for c in range(unit.chunks)]

    def flags(self) -> Iterator[tuple[bool, bool]]:
        """(square matrices transposed, concatenated weights ordered [h, x]) options worth trying."""
        squares = [False, True] if any(unit.square for unit in self.units) else [False]
        orders = [False, True] if any(unit.kind == "xh" for unit in self.units) else [False]
        return itertools.product(squares, orders)

    def describe(self) -> str:
        return "; ".join(unit.describe() for unit in self.units)


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


def tensor_readings(name: str, value: torch.Tensor, size_in: int, hidden: int, max_chunks: int) -> list[Unit]:
    """Every way to read one parameter tensor as gate blocks, by its shape alone: any rank and axis order.

    A weight needs an axis of the input width (I, H or I + H) and an axis of k·H outputs; any other axes index
    the gate blocks. A bias needs an axis of k·H; the others index its vectors. Size-1 axes are ignored.
    Readings whose gate index is an outer axis come first ([3, I, H], [H, 3, I]), then [k·H, in] before [in, k·H].
    A reading with more than `max_chunks` blocks (the cell's gates × input and hidden side) is dropped.
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
        if unit.chunks <= max_chunks and not any(
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


def parse_layouts(params: list[tuple[str, torch.Tensor]], size_in: int, hidden: int, what: str, max_chunks: int,
                  fits: Callable[[Layout], bool] = lambda layout: True) -> list[Layout]:
    """The readings of the whole parameter set that `fits` accepts, plain readings first (at most MAX_LAYOUTS);
    a single Layout with a problem when some tensor has no reading at all."""
    per_tensor = []
    for name, value in params:
        readings = tensor_readings(name, value, size_in, hidden, max_chunks) if value.numel() else []
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


def parse_layout(params: list[tuple[str, torch.Tensor]], size_in: int, hidden: int, what: str,
                 max_chunks: int) -> Layout:
    """The plain reading of the parameters (each tensor's first reading)."""
    layouts = parse_layouts(params, size_in, hidden, what, max_chunks)
    return layouts[0] if layouts else Layout([], f"the {what} has no parameters")


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


def block_source(unit: Unit, chunk: int, hidden: int, part: str = "", transposed: bool = False) -> str:
    """Where a gate's block lives, for the report: 'i2h.weight rows [6:12]', 'W [1, :, :]', 'W_xz (transposed)'."""
    text = unit.name
    if unit.labels:
        text += unit.labels[chunk]
    elif unit.chunks > 1:
        axis = "" if unit.kind == "bias" else ("columns " if unit.transposed else "rows ")
        text += f" {axis}[{chunk * hidden}:{(chunk + 1) * hidden}]"
    text += f" {part}" if part else ""
    return text + (" (transposed)" if unit.transposed or transposed else "")


def weight_blocks(layout: Layout, hidden: int, size_in: int, square_t: bool, hx: bool,
                  ) -> tuple[dict[BlockRef, torch.Tensor], dict[BlockRef, torch.Tensor]]:
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


def weight_source(layout: Layout, ref: BlockRef, side: Side, hidden: int, flags: tuple[bool, bool]) -> str:
    """Where the input-side or hidden-side weight block `ref` lives, for the report."""
    unit = layout.units[ref[0]]
    part = "" if unit.kind == side else (f"[h, x] {side}-part" if flags[1] else f"{side}-part")
    return block_source(unit, ref[1], hidden, part, transposed=side == "h" and unit.square and flags[0])


def bias_vector(layout: Layout, ref: BlockRef, hidden: int) -> torch.Tensor:
    return layout.units[ref[0]].matrix[ref[1] * hidden:(ref[1] + 1) * hidden]


def recorded_params(data: ProbeData, key: str, infos: list[ParamInfo]) -> list[tuple[str, torch.Tensor]] | None:
    """The parameter tensors the probe recorded under `key`, with their names; None when one is missing."""
    values = [data.tensors.get(f"{key}/param/{i}") for i in range(len(infos))]
    if any(value is None for value in values):
        return None
    return [(info.name, value) for info, value in zip(infos, values)]


def element_labels(infos: list[ParamInfo]) -> list[str]:
    """'W[2, 1]' for every parameter element, in the order the probe set them."""
    return [f"{info.name}{list(index)}" if info.shape else info.name for info in infos
            for index in itertools.product(*[range(size) for size in info.shape])]


def flat_params(data: ProbeData, prefix: str, count: int) -> torch.Tensor | None:
    """Every recorded parameter element under `prefix`, in the probe's order, as one float64 vector."""
    values = [data.tensors.get(f"{prefix}/param/{i}") for i in range(count)]
    if any(value is None for value in values):
        return None
    return torch.cat([value.double().reshape(-1) for value in values]) if values else torch.zeros(0)
