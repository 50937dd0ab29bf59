"""Conv1D from scratch: what crosses from the kernel into the grader, validated before any check reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from grader.probe import ParamInfo


class Construction(BaseModel):
    args: list[int]
    ok: bool
    params: list[ParamInfo] = []


class ConfigRun(BaseModel):
    config: list[int]
    constructed: bool = False
    output_shape: list[int] | None = None
    calls: list[str] = []


class ProbeValues(BaseModel):
    class_status: Literal["missing", "not_a_class", "not_a_module", "ok"] = "missing"
    class_kind: str = ""
    constructions: list[Construction] = []
    configs: list[ConfigRun] = []
    edge: list[ConfigRun] = []
    gradient_params: list[ParamInfo] = []
