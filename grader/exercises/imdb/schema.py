"""IMDb sentiment: what crosses from the kernel into the grader, validated before any check reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ParamInfo(BaseModel):
    name: str
    shape: list[int]
    trainable: bool


class LayerInfo(BaseModel):
    path: str
    type: str
    input_size: int = 0
    hidden_size: int = 0
    num_layers: int = 1
    bidirectional: bool = False


class ModelRecord(BaseModel):
    names: list[str]
    class_name: str
    kind: Literal["rnn", "bilstm", "lstm", "gru"]
    module_types: dict[str, str] = {}
    recurrent: list[LayerInfo] = []
    params: list[ParamInfo] = []
    probabilities: list[float | None] = []
    failures: int = 0
    first_error: str = ""
    stopped_early: str = ""
    call: str = ""      # how the predict function was called for this model
    adapted: str = ""   # what the grader changed so that the call reaches the model, if anything


class ProbeValues(BaseModel):
    function_status: Literal["missing", "not_callable", "ok"] = "missing"
    models: list[ModelRecord] = []
