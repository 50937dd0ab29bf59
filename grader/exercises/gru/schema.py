"""GRU from scratch: what crosses from the kernel into the grader, validated before any check reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from grader.probe import ParamInfo


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
