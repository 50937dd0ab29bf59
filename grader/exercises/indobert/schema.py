"""Fine-tuning IndoBERT on SmSA: what crosses from the kernel into the grader, validated before any check reads it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Found(BaseModel):
    name: str
    kind: str
    num_labels: int = 0


class ModelConfig(BaseModel):
    num_labels: int
    id2label: dict[str, str] = {}
    vocab_size: int = 0
    hidden_size: int = 0


class ProbeValues(BaseModel):
    transformers_ok: bool = False
    models: list[Found] = []
    tokenizers: list[Found] = []
    model_name: str = ""
    tokenizer_name: str = ""
    config: ModelConfig | None = None
    weight_count: int = 0
    frozen: list[str] = []
    encoder_parameters: int = 0
    tokenizer_json: dict[str, Any] | None = None
